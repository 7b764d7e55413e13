//! The browser's HTTP calls to the server, JSON in and out, and the answers a page must tell
//! apart (`ApiError`): not logged in or no longer (401), a password to set first (403
//! `password_change_required`), any other refusal with its code, and no answer at all — a
//! network failure says nothing about the session. Also the session routes
//! (`/api/v1/session`) and leaving for the login page, so every page does them the same way.
//!
//! Every call is a same-origin fetch from the page, which is what the server's `Origin` check
//! expects of a state-changing request. The calls exist in the browser build only; `ApiError`
//! is plain data and is in both.

use std::fmt;

use crate::wire::ErrorBody;

/// Why an API call did not give what was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 401 (other than wrong credentials): no session, or it expired or was revoked.
    Unauthenticated,
    /// 403 `password_change_required`: the first login's one-time password must be replaced
    /// before anything else.
    PasswordChangeRequired,
    /// Any other error answer.
    Refused {
        status: u16,
        code: String,
        message: String,
        /// The `Retry-After` header, if sent (429).
        retry_after: Option<String>,
    },
    /// No answer: the server is down or the network is. Says nothing about the session.
    Network(String),
    /// An answer whose body is not what was asked for.
    Unreadable(String),
}

impl ApiError {
    /// Sorts an error answer by status and the body's `error.code`.
    pub fn from_answer(
        status: u16,
        body: Option<ErrorBody>,
        retry_after: Option<String>,
    ) -> ApiError {
        let (code, message) = match body {
            Some(b) => (b.error.code, b.error.message),
            None => (String::new(), format!("HTTP {status}")),
        };
        match (status, code.as_str()) {
            // A login or password change with a wrong password: the session, if any, is fine.
            (401, "bad_credentials") => ApiError::Refused {
                status,
                code,
                message,
                retry_after,
            },
            (401, _) => ApiError::Unauthenticated,
            (403, "password_change_required") => ApiError::PasswordChangeRequired,
            _ => ApiError::Refused {
                status,
                code,
                message,
                retry_after,
            },
        }
    }

    /// The session cannot be used as it is: the page belongs on the login page.
    pub fn means_logged_out(&self) -> bool {
        matches!(
            self,
            ApiError::Unauthenticated | ApiError::PasswordChangeRequired
        )
    }

    /// The `error.code` of a refusal, e.g. `bad_credentials`, `too_many_attempts`.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unauthenticated => f.write_str("not logged in"),
            ApiError::PasswordChangeRequired => f.write_str("a new password must be set first"),
            ApiError::Refused { message, .. } => f.write_str(message),
            ApiError::Network(e) => write!(f, "network: {e}"),
            ApiError::Unreadable(e) => write!(f, "unreadable answer: {e}"),
        }
    }
}

/// Where the dashboard sends a browser whose session is gone.
pub const LOGIN_PAGE: &str = "/login?next=/";

#[cfg(feature = "hydrate")]
pub use browser::*;

#[cfg(feature = "hydrate")]
mod browser {
    use gloo_net::http::{Request, RequestBuilder, Response};
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    use super::ApiError;
    use crate::wire::{ErrorBody, LoginRequest, PasswordChange, SessionInfo};

    const SESSION: &str = "/api/v1/session";

    pub async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, ApiError> {
        read_json(send(Request::get(url)).await?).await
    }

    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        url: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        read_json(send_json(Request::post(url), body).await?).await
    }

    /// Who is logged in (`GET /api/v1/session`).
    pub async fn session() -> Result<SessionInfo, ApiError> {
        get_json(SESSION).await
    }

    /// Logs in; the answer sets the session cookie.
    pub async fn log_in(request: &LoginRequest) -> Result<SessionInfo, ApiError> {
        post_json(SESSION, request).await
    }

    /// Replaces the logged-in user's password.
    pub async fn change_password(change: &PasswordChange) -> Result<(), ApiError> {
        let resp = send_json(Request::post(&format!("{SESSION}/password")), change).await?;
        expect_success(resp).await
    }

    /// Ends the session.
    pub async fn log_out() -> Result<(), ApiError> {
        expect_success(send(Request::delete(SESSION)).await?).await
    }

    /// Loads `path` in place of this page (it does not stay in the history).
    pub fn go_to(path: &str) {
        if let Err(e) = leptos::prelude::window().location().replace(path) {
            leptos::logging::error!("cannot go to {path}: {e:?}");
        }
    }

    async fn send(request: RequestBuilder) -> Result<Response, ApiError> {
        request
            .send()
            .await
            .map_err(|e| ApiError::Network(e.to_string()))
    }

    async fn send_json<B: Serialize>(
        request: RequestBuilder,
        body: &B,
    ) -> Result<Response, ApiError> {
        request
            .json(body)
            .map_err(|e| ApiError::Unreadable(e.to_string()))?
            .send()
            .await
            .map_err(|e| ApiError::Network(e.to_string()))
    }

    async fn read_json<T: DeserializeOwned>(resp: Response) -> Result<T, ApiError> {
        if resp.ok() {
            return resp
                .json::<T>()
                .await
                .map_err(|e| ApiError::Unreadable(e.to_string()));
        }
        Err(error_of(resp).await)
    }

    async fn expect_success(resp: Response) -> Result<(), ApiError> {
        if resp.ok() {
            Ok(())
        } else {
            Err(error_of(resp).await)
        }
    }

    async fn error_of(resp: Response) -> ApiError {
        let status = resp.status();
        let retry_after = resp.headers().get("Retry-After");
        let body = resp.json::<ErrorBody>().await.ok();
        ApiError::from_answer(status, body, retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ErrorDetail;

    fn body(code: &str) -> Option<ErrorBody> {
        Some(ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: format!("{code}!"),
            },
        })
    }

    #[test]
    fn only_a_lost_session_sends_the_page_to_the_login_page() {
        assert_eq!(
            ApiError::from_answer(401, body("unauthenticated"), None),
            ApiError::Unauthenticated
        );
        assert!(ApiError::from_answer(401, None, None).means_logged_out());
        assert!(
            ApiError::from_answer(403, body("password_change_required"), None).means_logged_out()
        );

        let wrong = ApiError::from_answer(401, body("bad_credentials"), None);
        assert!(!wrong.means_logged_out());
        assert_eq!(wrong.code(), Some("bad_credentials"));
        assert!(!ApiError::from_answer(403, body("forbidden"), None).means_logged_out());
        assert!(!ApiError::Network("offline".into()).means_logged_out());
        assert!(!ApiError::from_answer(502, None, None).means_logged_out());
    }

    #[test]
    fn a_refusal_keeps_its_code_message_and_wait() {
        let e = ApiError::from_answer(429, body("too_many_attempts"), Some("120".into()));
        assert_eq!(
            e,
            ApiError::Refused {
                status: 429,
                code: "too_many_attempts".into(),
                message: "too_many_attempts!".into(),
                retry_after: Some("120".into()),
            }
        );
        assert_eq!(
            ApiError::from_answer(500, None, None).to_string(),
            "HTTP 500"
        );
    }
}
