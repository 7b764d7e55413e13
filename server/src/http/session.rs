//! `/api/v1/session`: log in, who am I, log out, set a new password.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use onegrid_app::wire::{LoginRequest, PasswordChange, ScopeInfo, SessionInfo};

use super::auth::{
    build_cookie, client_address, Caller, Credential, SCREEN_COOKIE, SESSION_COOKIE,
};
use super::error::{Error, Json};
use crate::accounts::{Actor, Scope};
use crate::AppState;

/// The request's parts that the login reads (its address and headers), taken before the body.
pub struct Origin {
    address: String,
    headers: HeaderMap,
}

impl FromRequestParts<AppState> for Origin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Origin, Error> {
        Ok(Origin {
            address: client_address(parts),
            headers: parts.headers.clone(),
        })
    }
}

/// Logs in: checks the username and password (every attempt is audited) and sets the session
/// cookie (`onegrid_session`: HttpOnly, SameSite=Strict, Secure behind TLS).
#[utoipa::path(
    post,
    path = "/session",
    tag = "accounts",
    security(),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in: who, and the session cookie.", body = SessionInfo),
        (status = 401, description = "`bad_credentials`: wrong username or password.", body = onegrid_app::wire::ErrorBody),
        (status = 422, description = "`invalid_login` or `invalid_body`.", body = onegrid_app::wire::ErrorBody),
        (status = 429, description = "`too_many_attempts`: 5 failures for this user or address within 15 minutes; see `Retry-After`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    origin: Origin,
    Json(body): Json<LoginRequest>,
) -> Result<Response, Error> {
    let (actor, token) = state
        .accounts
        .login(&body.username, &body.password, &origin.address)
        .await?;
    let info = session_info(&state, &actor).await?;
    let max_age = state.accounts.policy().absolute.num_seconds();
    let cookie = build_cookie(&state, &origin.headers, SESSION_COOKIE, &token, max_age);
    let mut response = Json(info).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Who is logged in: the kind of caller, its name, role and scope.
#[utoipa::path(
    get,
    path = "/session",
    tag = "accounts",
    responses(
        (status = 200, description = "The caller.", body = SessionInfo),
        (status = 401, description = "`unauthenticated`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn current(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SessionInfo>, Error> {
    Ok(Json(session_info(&state, &caller.actor).await?))
}

/// Logs out: the session ends and its cookie is cleared (a screen forgets its cookie).
#[utoipa::path(
    delete,
    path = "/session",
    tag = "accounts",
    responses(
        (status = 204, description = "Logged out."),
        (status = 400, description = "`not_a_session`: an API key has no session.", body = onegrid_app::wire::ErrorBody),
        (status = 401, description = "`unauthenticated`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn logout(
    State(state): State<AppState>,
    origin: Origin,
    caller: Caller,
) -> Result<Response, Error> {
    let name = match &caller.credential {
        Credential::Session(token) => {
            state.accounts.logout(&caller.actor, token).await?;
            SESSION_COOKIE
        }
        // A screen forgets its link here; the token itself stays valid until revoked.
        Credential::Screen(_) => SCREEN_COOKIE,
        Credential::ApiKey(_) => {
            return Err(Error::bad_request(
                "not_a_session",
                "an API key has no session to end; revoke it with `onegrid apikey revoke`",
            ))
        }
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        build_cookie(&state, &origin.headers, name, "", 0),
    );
    Ok(response)
}

/// The logged-in user sets a new password: every session of the user ends, and a fresh one is
/// set for the caller.
#[utoipa::path(
    post,
    path = "/session/password",
    tag = "accounts",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; a fresh session cookie is set."),
        (status = 401, description = "`bad_credentials`: the current password is wrong, or `unauthenticated`.", body = onegrid_app::wire::ErrorBody),
        (status = 403, description = "`not_a_user`: screens and API keys have no password.", body = onegrid_app::wire::ErrorBody),
        (status = 422, description = "`weak_password` (at least 10 characters, not the username) or `invalid`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn change_password(
    State(state): State<AppState>,
    origin: Origin,
    caller: Caller,
    Json(body): Json<PasswordChange>,
) -> Result<Response, Error> {
    if !matches!(caller.credential, Credential::Session(_)) {
        return Err(Error::forbidden(
            "not_a_user",
            "only a logged-in user can change a password",
        ));
    }
    let token = state
        .accounts
        .change_own_password(&caller.actor, &body.current_password, &body.new_password)
        .await?;
    let max_age = state.accounts.policy().absolute.num_seconds();
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        build_cookie(&state, &origin.headers, SESSION_COOKIE, &token, max_age),
    );
    Ok(response)
}

/// The actor as the page shows it, with the names of its scope.
pub async fn session_info(state: &AppState, actor: &Actor) -> Result<SessionInfo, Error> {
    let scope = match &actor.scope {
        Scope::District => ScopeInfo::District,
        Scope::Jurisdiction(code) => {
            let district = state.district.current();
            let j = district.spatial.jurisdictions.by_code(code);
            ScopeInfo::Jurisdiction {
                code: code.clone(),
                name: j.map(|j| j.name.clone()).unwrap_or_default(),
                level: j.map(|j| j.level),
            }
        }
        Scope::Department(code) => {
            let name = state
                .store
                .load_departments()
                .await?
                .into_iter()
                .find(|d| d.code == *code)
                .map(|d| d.name_zh)
                .unwrap_or_default();
            ScopeInfo::Department {
                code: code.clone(),
                name,
            }
        }
    };
    Ok(SessionInfo {
        kind: actor.caller_kind(),
        name: actor.name.clone(),
        role: actor.role,
        scope,
        must_change_password: actor.must_change_password,
        expires_at: actor.expires_at,
    })
}
