//! The HTTP edge's defences against hostile requests, applied around every route (pages, API,
//! static files, tiles, the WebSocket upgrade, 404s): a request whose path or query string is
//! longer than any route needs, or whose declared body is over [`MAX_BODY_BYTES`], is refused
//! before it reaches a handler; a state-changing request (POST, PUT, PATCH, DELETE) or a
//! WebSocket upgrade sent by a page of another origin is refused (CSRF and cross-site WebSocket
//! hijacking), and so is a state-changing request that carries one of our browser cookies but no
//! `Origin`; a handler that panics answers a plain 500. Every answer carries the security headers
//! and a Content-Security-Policy whose script nonce is made here, per request, and handed to the
//! page renderer ([`provide_nonce`]) so the hydration script Leptos inlines runs and nothing else
//! inline does.
//!
//! Knows nothing about routes, incidents or the map: it sees only methods, headers and lengths.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;

use super::error::{Error, MAX_BODY_BYTES};

/// Longest request path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest query string accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 2048;

/// The cookies a browser of ours carries; a state-changing request with one of them must say
/// where it comes from.
const BROWSER_COOKIES: [&str; 2] = ["onegrid_session", "onegrid_screen"];

/// The nonce of this request's Content-Security-Policy, in the request's extensions for the
/// page renderer.
#[derive(Debug, Clone)]
pub struct CspNonce(pub Arc<str>);

impl CspNonce {
    /// 128 random bits from the thread's CSPRNG, as hex (valid in a CSP `'nonce-…'` source).
    fn new() -> CspNonce {
        let bytes: [u8; 16] = rand::random();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        CspNonce(hex.into())
    }
}

/// Which origins, besides the server's own, may send state-changing requests.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    allowed_origins: Vec<String>,
}

impl Edge {
    /// `allowed_origins` as configured (`scheme://host[:port]`); entries that are not origins
    /// are logged and left out.
    pub fn new(allowed_origins: &[String]) -> Edge {
        let allowed_origins = allowed_origins
            .iter()
            .filter_map(|o| {
                let normal = normalize_origin(o);
                if normal.is_none() {
                    tracing::warn!(
                        origin = %o,
                        "allowed_origins: not an origin (scheme://host[:port]); ignored"
                    );
                }
                normal
            })
            .collect();
        Edge { allowed_origins }
    }

    /// Refuses a request a hostile page could have made a browser send.
    fn check_origin(
        &self,
        method: &Method,
        headers: &HeaderMap,
        uri_authority: Option<&str>,
    ) -> Result<(), Error> {
        let changes_state = matches!(
            *method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        );
        // An HTTP/1.1 upgrade, or HTTP/2's extended CONNECT.
        let upgrade = *method == Method::CONNECT
            || headers
                .get(header::UPGRADE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        if !changes_state && !upgrade {
            return Ok(());
        }
        let origins: Vec<&HeaderValue> = headers.get_all(header::ORIGIN).iter().collect();
        if origins.is_empty() {
            if changes_state && has_browser_cookie(headers) {
                return Err(Error::forbidden(
                    "origin_required",
                    "a request carrying onegrid's browser cookies must carry an Origin header; \
                     send it from onegrid's own page, or as an API client with an \
                     Authorization header and no cookies",
                ));
            }
            return Ok(());
        }
        let own = own_origin(headers, uri_authority);
        for origin in origins {
            let normal = origin.to_str().ok().and_then(normalize_origin);
            let allowed = normal.as_deref().is_some_and(|o| {
                own.as_deref() == Some(o) || self.allowed_origins.iter().any(|a| a == o)
            });
            if !allowed {
                let shown: String = String::from_utf8_lossy(origin.as_bytes())
                    .chars()
                    .take(100)
                    .collect();
                return Err(Error::forbidden(
                    "cross_origin",
                    format!(
                        "requests from {shown:?} are not accepted: only onegrid's own pages and \
                         the configured allowed_origins may change data or open the live feed"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The middleware: checks the request, runs the routes (a panic becomes a 500 that says only
/// that something failed), and adds the security headers to whatever comes back.
pub async fn edge(State(edge): State<Arc<Edge>>, mut request: Request, next: Next) -> Response {
    let nonce = CspNonce::new();
    let mut response = match check(&edge, &request) {
        Err(refused) => refused.into_response(),
        Ok(()) => {
            request.extensions_mut().insert(nonce.clone());
            match AssertUnwindSafe(next.run(request)).catch_unwind().await {
                Ok(response) => response,
                Err(_) => Error::Internal("a handler panicked".into()).into_response(),
            }
        }
    };
    add_security_headers(response.headers_mut(), &nonce);
    response
}

fn check(edge: &Edge, request: &Request) -> Result<(), Error> {
    let uri = request.uri();
    if uri.path().len() > MAX_PATH_BYTES {
        return Err(Error::UriTooLong(format!(
            "the path is longer than {MAX_PATH_BYTES} bytes"
        )));
    }
    if uri.query().is_some_and(|q| q.len() > MAX_QUERY_BYTES) {
        return Err(Error::UriTooLong(format!(
            "the query string is longer than {MAX_QUERY_BYTES} bytes"
        )));
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(Error::PayloadTooLarge(MAX_BODY_BYTES));
    }
    edge.check_origin(
        request.method(),
        request.headers(),
        uri.authority().map(|a| a.as_str()),
    )
}

/// Puts this request's nonce where the page renderer looks for it, so the scripts Leptos
/// inlines (the hydration script, resolved resources) carry the nonce of this response's
/// policy. Called by leptos_axum after its own context (which holds a nonce of its own making)
/// and replaces that one.
pub fn provide_nonce() {
    use leptos::prelude::{provide_context, use_context};
    let parts = use_context::<axum::http::request::Parts>();
    if let Some(CspNonce(nonce)) = parts.and_then(|p| p.extensions.get::<CspNonce>().cloned()) {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}

/// The policy every answer carries. Only our own origin, for everything:
/// - scripts: our files (the wasm-bindgen glue, `map.js`, the vendored MapLibre) and the one
///   inline module script with this response's nonce; `'wasm-unsafe-eval'` compiles our wasm;
/// - workers: MapLibre's worker is `maplibre-gl-worker.mjs` beside `maplibre-gl.mjs`, started
///   from its same-origin URL (it turns to `blob:` or `data:` only for cross-origin or
///   sandboxed pages, which we are not), so `'self'`;
/// - styles: our stylesheets, and `'unsafe-inline'` because the page sets `style` attributes
///   (the status colours in the list and details, in the server's HTML and from Leptos on the
///   client); `style-src-elem 'self'` still keeps out inline `<style>` elements where browsers
///   know it;
/// - images: ours, plus `data:` (MapLibre's CSS draws its controls as data-URL SVGs) and
///   `blob:` (MapLibre decodes images through blob URLs);
/// - connections: the API, tiles, wasm and the live WebSocket, all same-origin (`'self'`
///   covers `ws:`/`wss:` to our own host);
/// - nothing may frame us, no plugins, no `<base>` elsewhere, forms post only to us.
fn content_security_policy(nonce: &str) -> String {
    [
        "default-src 'self'".to_string(),
        format!("script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        "worker-src 'self'".into(),
        "style-src 'self' 'unsafe-inline'".into(),
        "style-src-elem 'self'".into(),
        "img-src 'self' data: blob:".into(),
        "font-src 'self'".into(),
        "connect-src 'self'".into(),
        "object-src 'none'".into(),
        "base-uri 'self'".into(),
        "form-action 'self'".into(),
        "frame-ancestors 'none'".into(),
    ]
    .join("; ")
}

fn add_security_headers(headers: &mut HeaderMap, nonce: &CspNonce) {
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&nonce.0)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    let fixed: [(HeaderName, &'static str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// True when a `Cookie` header names one of [`BROWSER_COOKIES`].
fn has_browser_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.split_once('=').map(|(name, _)| name.trim()))
        .any(|name| BROWSER_COOKIES.contains(&name))
}

/// The origin this request was sent to: the scheme (`http`, or the one a proxy names in
/// `X-Forwarded-Proto`) and the `Host` (or, in HTTP/2, the URI's authority). A page of another
/// site cannot set either on a cross-site request without a preflight we never grant.
fn own_origin(headers: &HeaderMap, uri_authority: Option<&str>) -> Option<String> {
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| v == "http" || v == "https")
        .unwrap_or_else(|| "http".into());
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or(uri_authority)?;
    normalize_origin(&format!("{scheme}://{host}"))
}

/// `scheme://host[:port]` in lower case without a default port (80 for http, 443 for https)
/// or a trailing slash; `None` for anything else (`null`, a path, user info, another scheme).
fn normalize_origin(origin: &str) -> Option<String> {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, authority) = origin.split_once("://")?;
    if !matches!(scheme, "http" | "https") || authority.is_empty() {
        return None;
    }
    let valid = authority
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !valid {
        return None;
    }
    let default_port = if scheme == "http" { ":80" } else { ":443" };
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn code(r: Result<(), Error>) -> Option<&'static str> {
        match r {
            Ok(()) => None,
            Err(Error::Forbidden { code, .. }) => Some(code),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    #[test]
    fn origins_are_compared_normalised() {
        assert_eq!(
            normalize_origin("HTTPS://Ops.Example.cn:443/").as_deref(),
            Some("https://ops.example.cn")
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:3000").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        for bad in [
            "null",
            "ftp://x",
            "http://",
            "http://a/b",
            "http://u@h",
            "x",
        ] {
            assert_eq!(normalize_origin(bad), None, "{bad}");
        }
        let edge = Edge::new(&["https://ops.example.cn".into(), "not an origin".into()]);
        assert_eq!(edge.allowed_origins, ["https://ops.example.cn"]);
    }

    #[test]
    fn state_changing_requests_from_elsewhere_are_refused() {
        let edge = Edge::new(&["https://ops.example.cn".into()]);
        let post = Method::POST;
        let host = ("host", "127.0.0.1:3000");
        let check = |m: &Method, h: &[(&str, &str)]| code(edge.check_origin(m, &headers(h), None));
        assert_eq!(
            check(&post, &[host, ("origin", "http://127.0.0.1:3000")]),
            None
        );
        assert_eq!(
            check(&post, &[host, ("origin", "https://ops.example.cn")]),
            None
        );
        assert_eq!(
            check(&post, &[host, ("origin", "https://evil.example")]),
            Some("cross_origin")
        );
        assert_eq!(
            check(&post, &[host, ("origin", "null")]),
            Some("cross_origin")
        );
        // Same host, other scheme: a downgraded page is not ours.
        assert_eq!(
            check(&post, &[host, ("origin", "https://127.0.0.1:3000")]),
            Some("cross_origin")
        );
        // Behind a TLS proxy that says so.
        assert_eq!(
            check(
                &post,
                &[
                    ("host", "ops.internal"),
                    ("x-forwarded-proto", "https"),
                    ("origin", "https://ops.internal")
                ]
            ),
            None
        );
        assert_eq!(check(&Method::DELETE, &[host]), None);
        assert_eq!(
            check(&Method::PUT, &[host, ("cookie", "a=1; onegrid_session=x")]),
            Some("origin_required")
        );
        assert_eq!(
            check(&Method::PATCH, &[host, ("cookie", "onegrid_screen=wall")]),
            Some("origin_required")
        );
        assert_eq!(check(&post, &[host, ("cookie", "other=1")]), None);
        // Reads are not checked, but a WebSocket upgrade from elsewhere is.
        assert_eq!(
            check(&Method::GET, &[host, ("origin", "https://evil.example")]),
            None
        );
        assert_eq!(
            check(
                &Method::GET,
                &[
                    host,
                    ("upgrade", "websocket"),
                    ("origin", "https://evil.example")
                ]
            ),
            Some("cross_origin")
        );
        // HTTP/2 has no Host header; the URI's authority stands in.
        assert_eq!(
            code(edge.check_origin(
                &post,
                &headers(&[("origin", "http://h2.example")]),
                Some("h2.example")
            )),
            None
        );
    }

    #[test]
    fn the_policy_allows_only_our_own_origin() {
        let csp = content_security_policy("abc");
        assert!(csp.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("http"), "no remote source: {csp}");
        let script = csp
            .split("; ")
            .find(|d| d.starts_with("script-src"))
            .unwrap();
        assert!(!script.contains("'unsafe-inline'") && !script.contains(" 'unsafe-eval'"));
        let a = CspNonce::new();
        let b = CspNonce::new();
        assert_eq!(a.0.len(), 32);
        assert_ne!(a.0, b.0);
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_a_plain_500_with_the_headers() {
        async fn boom() -> &'static str {
            panic!("secret detail at /srv/onegrid/src/x.rs")
        }
        let app = axum::Router::new().route("/boom", get(boom)).layer(
            axum::middleware::from_fn_with_state(Arc::new(Edge::default()), edge),
        );
        let r = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("\"code\":\"internal\""), "{text}");
        assert!(!text.contains("secret") && !text.contains(".rs"), "{text}");
    }
}
