//! The edge where a request becomes an [`Actor`]: the session cookie, a wall screen's cookie,
//! or an API key (`Authorization: Bearer`). Nothing below this module reads cookies or
//! headers. Pages without a login are sent to `/login`; API routes and the socket answer 401.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::error::Error;
use crate::accounts::Actor;
use crate::store::TokenKind;
use crate::AppState;

/// Cookie holding a user's session token.
pub const SESSION_COOKIE: &str = "onegrid_session";
/// Cookie holding a wall screen's token.
pub const SCREEN_COOKIE: &str = "onegrid_screen";

/// What the caller presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Session(String),
    Screen(String),
    ApiKey(String),
}

/// A caller with a valid credential, whatever its state: also one that must still set a new
/// password (the session routes take this one).
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub credential: Credential,
}

/// The caller's address as the audit trail records it.
pub fn client_address(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn credentials(headers: &HeaderMap) -> Vec<Credential> {
    let mut found = Vec::new();
    if let Some(key) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").map(str::trim))
        .filter(|k| !k.is_empty())
    {
        found.push(Credential::ApiKey(key.to_string()));
    }
    if let Some(token) = cookie(headers, SESSION_COOKIE) {
        found.push(Credential::Session(token));
    }
    if let Some(token) = cookie(headers, SCREEN_COOKIE) {
        found.push(Credential::Screen(token));
    }
    found
}

/// Resolves a credential to its actor, if it is still valid.
pub async fn resolve(
    state: &AppState,
    credential: &Credential,
    address: &str,
) -> Result<Option<Actor>, Error> {
    Ok(match credential {
        Credential::Session(t) => state.accounts.session_actor(t, address).await?,
        Credential::Screen(t) => {
            state
                .accounts
                .token_actor(TokenKind::Screen, t, address)
                .await?
        }
        Credential::ApiKey(t) => {
            state
                .accounts
                .token_actor(TokenKind::ApiClient, t, address)
                .await?
        }
    })
}

/// The first valid credential of the request, if any.
async fn authenticate(state: &AppState, parts: &Parts) -> Result<Option<Caller>, Error> {
    let address = client_address(parts);
    for credential in credentials(&parts.headers) {
        if let Some(actor) = resolve(state, &credential, &address).await? {
            return Ok(Some(Caller { actor, credential }));
        }
    }
    Ok(None)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, Error> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let caller = authenticate(state, parts).await?.ok_or_else(|| {
            Error::unauthorized(
                "unauthenticated",
                "log in first: POST /api/v1/session, a screen link, or an API key \
                 (Authorization: Bearer) (请先登录)",
            )
        })?;
        if let (Credential::ApiKey(_), crate::accounts::ActorKind::ApiClient { id }) =
            (&caller.credential, caller.actor.kind)
        {
            if let Err(retry_after_s) = state.api_limiter.check(id, state.clock.now()) {
                return Err(Error::TooManyRequests {
                    code: "rate_limited",
                    message: format!(
                        "this API key made more than {} requests in a minute; retry in {retry_after_s} s",
                        state.config.api_rate_per_minute
                    ),
                    retry_after_s,
                });
            }
        }
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Actor, Error> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.actor.must_change_password {
            return Err(Error::forbidden(
                "password_change_required",
                "set a new password first: POST /api/v1/session/password (请先修改初始密码)",
            ));
        }
        Ok(caller.actor)
    }
}

/// Paths anyone may fetch without a login.
fn is_open(path: &str) -> bool {
    const OPEN_PREFIXES: [&str; 4] = ["/pkg/", "/assets/", "/api/", "/tiles/"];
    path == "/healthz"
        || path == "/login"
        || path == "/screen"
        || path == "/ws"
        || path == "/favicon.ico"
        || OPEN_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// Sends a page request without a valid login to `/login?next=…`. API routes, tiles and the
/// socket are not pages: their own extractors answer 401 in JSON.
pub async fn require_login_for_pages(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    if is_open(&path) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    match authenticate(&state, &parts).await {
        Ok(Some(caller)) => {
            if caller.actor.must_change_password {
                return Redirect::to("/login?change=1").into_response();
            }
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Ok(None) => {
            let target = parts
                .uri
                .path_and_query()
                .map_or("/".to_string(), |p| p.as_str().to_string());
            let next = percent_encode(&target);
            Redirect::to(&format!("/login?next={next}")).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /screen?token=…`: a wall screen's link. A live token is kept in an HttpOnly cookie and
/// the screen goes on to the wall view, so the token does not stay in the address bar.
#[utoipa::path(
    get,
    path = "/screen",
    tag = "accounts",
    security(),
    params(("token" = String, Query, description = "The screen's token, as `onegrid screen add` prints it.", example = "sJ3k9aQm0w2xVtR8nYc1fLp5uZb7eHdGqKiOxTy4AvE")),
    responses(
        (status = 303, description = "The token is kept in the `onegrid_screen` cookie; on to `/`."),
        (status = 401, description = "The link is invalid or revoked (a plain-text page)."),
    ),
)]
pub async fn open_screen(State(state): State<AppState>, parts: Parts) -> Result<Response, Error> {
    let token = parts
        .uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    let address = client_address(&parts);
    let actor = if token.is_empty() || token.len() > 256 {
        None
    } else {
        state
            .accounts
            .token_actor(TokenKind::Screen, &token, &address)
            .await?
    };
    let Some(_actor) = actor else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "401 屏幕链接无效或已撤销 / this screen link is invalid or was revoked",
        )
            .into_response());
    };
    // A wall runs for months: the longest lifetime browsers keep a cookie (400 days).
    let cookie = build_cookie(
        &state,
        &parts.headers,
        SCREEN_COOKIE,
        &token,
        400 * 24 * 3600,
    );
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure when served over TLS.
pub fn build_cookie(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age_s: i64,
) -> HeaderValue {
    let tls = state
        .config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_s}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("onegrid_invalid=1; Max-Age=0"))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; onegrid_session_x=2; onegrid_session=abc ; z=3"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, SCREEN_COOKIE), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k1"));
        assert_eq!(
            credentials(&h),
            [
                Credential::ApiKey("k1".into()),
                Credential::Session("abc".into())
            ]
        );
    }

    #[test]
    fn only_the_open_paths_skip_the_login() {
        for open in [
            "/healthz",
            "/login",
            "/screen",
            "/pkg/onegrid.js",
            "/api/v1/stats",
        ] {
            assert!(is_open(open), "{open}");
        }
        for page in ["/", "/desk", "/loginx", "/screens"] {
            assert!(!is_open(page), "{page}");
        }
        assert_eq!(percent_encode("/a b?c=1&d"), "/a%20b%3Fc%3D1%26d");
    }
}
