//! The OpenAPI 3.1 document of every HTTP route, served at `GET /api/v1/openapi.json`.
//!
//! The document is not written by hand: `router` registers each route with
//! `utoipa_axum::routes!` from a handler that carries its own `#[utoipa::path]`, so the route
//! table and the document come from one source, and the parameters, bodies and answers are the
//! handlers' own types (the wire types derive `utoipa::ToSchema` under `ssr`). This module holds
//! only what belongs to no one route: the title and description, the security schemes and the
//! requirement that applies unless an operation says otherwise, the tags, and the handler that
//! serves the document. It knows nothing of what the handlers do.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::Modify;

use super::error::Error;

/// Name of the session cookie a logged-in person's browser sends.
const SESSION_COOKIE: &str = "onegrid_session";
/// Name of the cookie a wall screen sends (its token, also accepted as `?token=` on `/screen`).
const SCREEN_COOKIE: &str = "onegrid_screen";

/// What the document says before any route: the title, the description, the tags, the
/// security schemes and the requirement every operation has unless it says otherwise (one of
/// the three credentials). `router` adds the routes to it.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "onegrid",
        description = "The HTTP API of onegrid, a real-time city operations platform: incidents \
            reported, located in the district's jurisdictions (district › street/town › \
            community › grid) and routed to a department; spatial queries on the district's \
            assets; the map's layers and vector tiles; and the live feed over WebSocket.\n\n\
            Every answer is JSON unless an operation says otherwise; every failure of an API \
            route is `{\"error\":{\"code\",\"message\"}}` (`ErrorBody`), with a stable `code`. \
            Coordinates are WGS84 longitude/latitude in degrees, distances are metres, times \
            are RFC 3339. Every change is an event with a `seq`; a client keeps the newest \
            state of each incident by `seq`, whatever order HTTP and the live feed deliver it \
            in.\n\n\
            Each operation needs one of the credentials below (a person's session cookie, a \
            wall screen's token, or an API client's key) unless its `security` is empty. The \
            pages of the web app and its static files (`/`, `/pkg`, `/assets`) are not part of \
            this document.",
    ),
    modifiers(&SecuritySchemes),
    security(("session" = []), ("screen" = []), ("api_key" = [])),
    tags(
        (name = "accounts", description = "Logging in and out, who is logged in, the audit trail, wall screens."),
        (name = "incidents", description = "Reporting incidents and moving them through their life."),
        (name = "spatial", description = "What lies near a point, and which jurisdictions it is in."),
        (name = "district", description = "The district's departments and responsibility rules."),
        (name = "map", description = "The map's frame, boundary layers and vector tiles."),
        (name = "live", description = "The live feed (`onegrid.live.v1`)."),
        (name = "system", description = "Health and this document."),
    ),
)]
pub(super) struct Base;

/// Adds the three security schemes to the components.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, api: &mut OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "A person's session, set by logging in (`POST /api/v1/session`).",
            ))),
        );
        components.add_security_scheme(
            "screen",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SCREEN_COOKIE,
                "A wall screen's token. `/screen` also accepts it as the query parameter \
                 `token` (and then sets this cookie).",
            ))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API client's key: `Authorization: Bearer <key>`."))
                    .build(),
            ),
        );
    }
}

/// The document as served, serialised once when the router is built (`None` if it could not
/// be, which the handler reports as a 500).
#[derive(Clone)]
pub(super) struct Document(Option<Bytes>);

impl Document {
    pub(super) fn new(api: &OpenApi) -> Document {
        match serde_json::to_vec(api) {
            Ok(json) => Document(Some(Bytes::from(json))),
            Err(e) => {
                tracing::error!(error = %e, "serialising the OpenAPI document");
                Document(None)
            }
        }
    }
}

/// This document: OpenAPI 3.1, generated from the router's routes and the handlers' types.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "system",
    security(),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object),
        (status = 500, description = "`internal`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub(super) async fn document(Extension(document): Extension<Document>) -> Result<Response, Error> {
    let json = document
        .0
        .ok_or_else(|| Error::Internal("the OpenAPI document could not be serialised".into()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use onegrid_app::wire::Level;
    use serde_json::Value;

    use crate::http::{openapi_document, MAX_BODY_BYTES};
    use crate::incidents::{MAX_DESCRIPTION_CHARS, MAX_REPORTER_CHARS};
    use crate::spatial::MAX_RADIUS_M;
    use crate::tiles::{TileLayer, MAX_ZOOM};

    fn document() -> Value {
        serde_json::to_value(openapi_document()).expect("the document serialises")
    }

    /// The calls in `source` that add routes outside `routes!`: `(call, path)` for each
    /// `.route(`, `.route_service(` and `.nest(` (a path that is not a literal is `None`).
    fn route_calls(source: &str) -> Vec<(&'static str, Option<String>)> {
        let mut calls = Vec::new();
        for call in [".route(", ".route_service(", ".nest("] {
            for (at, _) in source.match_indices(call) {
                let rest = source[at + call.len()..].trim_start();
                let path = rest
                    .strip_prefix('"')
                    .and_then(|r| r.split_once('"'))
                    .map(|(path, _)| path.to_string());
                calls.push((call, path));
            }
        }
        calls
    }

    /// No route escapes the document: every `.route(`, `.route_service(` or `.nest(` in the
    /// HTTP layer's source (outside its tests) adds a path the document has, or a prefix of
    /// its paths. A route belongs in `documented()` with `routes!`.
    #[test]
    fn no_route_escapes_the_document() {
        let doc = document();
        let paths: Vec<&String> = doc["paths"].as_object().expect("paths").keys().collect();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
        let mut escaped = Vec::new();
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).expect("src/http") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            files += 1;
            let source = std::fs::read_to_string(&path).expect("source");
            // The code before the tests, without comments.
            let source: String = source
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
            for (call, route) in route_calls(&source) {
                let documented = route.as_deref().is_some_and(|route| match call {
                    ".nest(" => paths.iter().any(|p| p.starts_with(&format!("{route}/"))),
                    _ => paths.iter().any(|p| *p == route),
                });
                if !documented {
                    escaped.push(format!("{file:?}: {call}{route:?}"));
                }
            }
        }
        assert!(files >= 8, "read the HTTP layer's source in {dir:?}");
        assert!(
            escaped.is_empty(),
            "routes outside the OpenAPI document (register them with routes! in documented()): \
             {escaped:?}"
        );
    }

    #[test]
    fn the_route_scan_sees_every_kind_of_call() {
        let source = r#"Router::new().route("/a", get(a)).route_service("/b", s)
            .nest("/c", c).route(PATH, get(d)).nest_service("/pkg", s)"#;
        assert_eq!(
            route_calls(source),
            vec![
                (".route(", Some("/a".to_string())),
                (".route(", None),
                (".route_service(", Some("/b".to_string())),
                (".nest(", Some("/c".to_string())),
            ]
        );
    }

    fn parameter<'a>(doc: &'a Value, path: &str, name: &str) -> &'a Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .unwrap_or_else(|| panic!("parameter {name} of {path}"))
    }

    /// The limits the document states are the ones the server applies.
    #[test]
    fn the_documented_limits_are_the_servers() {
        let doc = document();
        for path in ["/api/v1/spatial/nearby", "/api/v1/spatial/nearby.geojson"] {
            let radius = &parameter(&doc, path, "radius_m")["schema"];
            assert_eq!(radius["maximum"].as_f64(), Some(MAX_RADIUS_M), "{path}");
            assert_eq!(radius["exclusiveMinimum"].as_f64(), Some(0.0), "{path}");
        }
        let tiles = "/tiles/{layer}/{z}/{x}/{y}";
        let z = &parameter(&doc, tiles, "z")["schema"];
        assert_eq!(z["maximum"].as_u64(), Some(u64::from(MAX_ZOOM)));
        let layers: Vec<&str> = TileLayer::ALL.iter().map(|l| l.as_str()).collect();
        assert_eq!(
            parameter(&doc, tiles, "layer")["schema"]["pattern"],
            format!("^({})$", layers.join("|"))
        );
        let levels: Vec<&str> = Level::ALL.iter().map(|l| l.as_str()).collect();
        assert_eq!(
            parameter(&doc, "/api/v1/map/boundaries/{level}", "level")["schema"]["pattern"],
            format!("^({})(\\.geojson)?$", levels.join("|"))
        );

        let new = &doc["components"]["schemas"]["NewIncident"]["properties"];
        assert_eq!(
            new["description"]["maxLength"].as_u64(),
            Some(MAX_DESCRIPTION_CHARS as u64)
        );
        assert_eq!(
            new["reporter"]["maxLength"].as_u64(),
            Some(MAX_REPORTER_CHARS as u64)
        );
        let too_large = &doc["paths"]["/api/v1/incidents"]["post"]["responses"]["413"];
        assert_eq!(MAX_BODY_BYTES, 1 << 20);
        assert!(too_large["description"]
            .as_str()
            .is_some_and(|d| d.contains("1 MiB")));
    }
}
