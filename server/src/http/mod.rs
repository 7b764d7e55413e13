//! HTTP: routes, extractors and errors. Handlers parse at the edge and call the incident
//! service, the store or the prepared map layers; they hold no SQL and no spatial logic.
//! `security` wraps every route: security headers and the page's script nonce, origin checks on
//! state-changing requests, length limits, and a 500 for a handler that panics.

mod audit;
pub mod auth;
mod cases;
mod district;
mod error;
mod incidents;
mod live;
mod map;
mod openapi;
mod queue;
mod rate_limit;
mod security;
mod session;
mod spatial;
mod tiles;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef, OriginalUri};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::{Extension, Router};
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use onegrid_app::{shell, App};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

/// Every route outside the pages and the static files, each registered with `routes!` from a
/// handler that carries its `#[utoipa::path]`: the route table and the OpenAPI document have
/// one source. A route is added here and nowhere else: a unit test in `openapi` fails on any
/// plain axum route, route service or nested router whose path the document lacks.
fn documented() -> OpenApiRouter<AppState> {
    let api = OpenApiRouter::default()
        .routes(routes!(session::current, session::login, session::logout))
        .routes(routes!(session::change_password))
        .routes(routes!(audit::list))
        .routes(routes!(incidents::categories))
        .routes(routes!(queue::list, incidents::report))
        .routes(routes!(queue::counts))
        .routes(routes!(queue::export_csv))
        .routes(routes!(queue::export_geojson))
        .routes(routes!(incidents::one))
        .routes(routes!(cases::act))
        .routes(routes!(cases::history))
        .routes(routes!(incidents::stats))
        .routes(routes!(spatial::nearby))
        .routes(routes!(spatial::nearby_geojson))
        .routes(routes!(spatial::locate))
        .routes(routes!(district::departments))
        .routes(routes!(district::rules))
        .routes(routes!(map::info))
        .routes(routes!(map::boundaries))
        .routes(routes!(openapi::document))
        .fallback(api_not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));

    OpenApiRouter::with_openapi(openapi::Base::openapi())
        .routes(routes!(healthz))
        .routes(routes!(auth::open_screen))
        .routes(routes!(live::upgrade))
        .routes(routes!(tiles::tile))
        .nest("/api/v1", api)
}

/// The OpenAPI 3.1 document of every route `router` documents, as `GET /api/v1/openapi.json`
/// serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    documented().into_openapi()
}

/// The whole application as a router, so tests can drive it without a socket.
pub fn router(state: AppState) -> Router {
    let (documented, document) = documented().split_for_parts();
    let documented = documented.layer(Extension(openapi::Document::new(&document)));

    let site = state.config.site_dir.clone();
    let routes = generate_route_list(App);
    let leptos = state.leptos.clone();
    let edge = Arc::new(security::Edge::new(&state.config.allowed_origins));
    let cache_static = SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    documented
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

/// Liveness: the server answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "system",
    security(),
    responses((status = 200, description = "`{\"status\":\"ok\"}`.", body = Object, example = json!({"status": "ok"}))),
)]
async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn api_not_found(uri: Uri) -> Error {
    Error::NotFound(format!("no API route {}", uri.path()))
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> Error {
    Error::MethodNotAllowed(format!("{method} is not accepted at {}", uri.path()))
}

/// Paths no route takes. Under the machine-facing prefixes (tiles, the live feed, the API) the
/// answer is the usual JSON error; elsewhere a person reads it.
async fn not_found(uri: Uri) -> axum::response::Response {
    let path = uri.path();
    let machine = ["/tiles", "/ws", "/api", "/healthz", "/screen"]
        .iter()
        .any(|p| {
            path.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
    if machine {
        return Error::NotFound(format!("no route {path}")).into_response();
    }
    (
        StatusCode::NOT_FOUND,
        format!("404 未找到 / not found: {path}"),
    )
        .into_response()
}
