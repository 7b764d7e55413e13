//! HTTP: routes, extractors and errors. Handlers parse at the edge and call the incident
//! service, the store or the prepared map layers; they hold no SQL and no spatial logic.
//! `security` wraps every route: security headers and the page's script nonce, origin checks on
//! state-changing requests, length limits, and a 500 for a handler that panics.

mod audit;
pub mod auth;
mod district;
mod error;
mod incidents;
mod live;
mod map;
mod rate_limit;
mod security;
mod session;
mod spatial;
mod tiles;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef, OriginalUri};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use onegrid_app::{shell, App};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

pub use audit::to_csv as audit_csv;
pub use error::{Error, MAX_BODY_BYTES};
pub use rate_limit::RateLimiter;
pub use security::{CspNonce, MAX_PATH_BYTES, MAX_QUERY_BYTES};

use crate::AppState;

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos.clone()
    }
}

/// The whole application as a router, so tests can drive it without a socket.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/session",
            get(session::current)
                .post(session::login)
                .delete(session::logout),
        )
        .route("/session/password", post(session::change_password))
        .route("/audit", get(audit::list))
        .route("/categories", get(incidents::categories))
        .route("/incidents", get(incidents::list).post(incidents::report))
        .route("/incidents/{id}", get(incidents::one))
        .route("/incidents/{id}/status", post(incidents::change_status))
        .route("/stats", get(incidents::stats))
        .route("/spatial/nearby", get(spatial::nearby))
        .route("/spatial/nearby.geojson", get(spatial::nearby_geojson))
        .route("/spatial/locate", get(spatial::locate))
        .route("/departments", get(district::departments))
        .route("/rules", get(district::rules))
        .route("/map/info", get(map::info))
        .route("/map/boundaries/{level}", get(map::boundaries))
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));

    let site = state.config.site_dir.clone();
    let routes = generate_route_list(App);
    let leptos = state.leptos.clone();
    let edge = Arc::new(security::Edge::new(&state.config.allowed_origins));
    let cache_static = SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    Router::new()
        .route("/healthz", get(healthz))
        .route("/screen", get(auth::open_screen))
        .route("/ws", get(live::upgrade))
        .route("/tiles/{layer}/{z}/{x}/{y}", get(tiles::tile))
        .nest("/api/v1", api)
        .nest_service(
            "/pkg",
            tower::ServiceBuilder::new()
                .layer(cache_static.clone())
                .service(ServeDir::new(site.join("pkg"))),
        )
        .nest_service(
            "/assets",
            tower::ServiceBuilder::new()
                .layer(cache_static)
                .service(ServeDir::new(site.join("assets"))),
        )
        .leptos_routes_with_context(&state, routes, security::provide_nonce, move || {
            shell(leptos.clone())
        })
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_login_for_pages,
        ))
        // Bodies read outside the API (none yet) are held to the same limit.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(edge, security::edge))
        .with_state(state)
}

/// A weak `ETag` naming the generation of the loaded district an answer was built from (weak:
/// the compression layer may change the bytes, not what they mean).
fn generation_etag(generation: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("W/\"g{generation}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("W/\"g0\""))
}

/// True when the request's `If-None-Match` names `etag` (weak comparison) or is `*`.
fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    let Ok(ours) = etag.to_str().map(opaque) else {
        return false;
    };
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || opaque(tag) == ours)
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn api_not_found(uri: Uri) -> Error {
    Error::NotFound(format!("no API route {}", uri.path()))
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> Error {
    Error::MethodNotAllowed(format!("{method} is not accepted at {}", uri.path()))
}

async fn not_found(uri: Uri) -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        format!("404 未找到 / not found: {}", uri.path()),
    )
}
