//! HTTP errors: every failure becomes a status and `{"error":{"code","message"}}`. A 500 logs
//! the detail and tells the client only that something failed. Extractor rejections (bad JSON,
//! oversized bodies, bad paths and queries) are mapped here too, so none escapes as plain text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::FromRequest;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onegrid_app::wire::{ConflictBody, ConflictDetail, ErrorBody, ErrorDetail};

use crate::accounts::{AccountsError, LoginError};
use crate::cases::{ActError, Refusal};
use crate::incidents::ReportError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// The caller may not do this (its role or scope), or a browser's request came from another
    /// site or without its `Origin`.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 409 on an incident: the action is not legal in its state, or it changed since the
    /// caller's `seq`. The body carries the incident as it is and the actions allowed now.
    #[error("{message}")]
    CaseConflict {
        code: &'static str,
        message: String,
        incident: Box<onegrid_app::wire::Incident>,
    },
    #[error("{message}")]
    TooManyRequests {
        code: &'static str,
        message: String,
        retry_after_s: u64,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The path or the query string is longer than any route of ours needs.
    #[error("{0}")]
    UriTooLong(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Error {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Error {
        Error::Unauthorized {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Error {
        Error::Forbidden {
            code,
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            Error::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            Error::Conflict { code, .. } | Error::CaseConflict { code, .. } => {
                (StatusCode::CONFLICT, code)
            }
            Error::TooManyRequests { code, .. } => (StatusCode::TOO_MANY_REQUESTS, code),
            Error::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Error::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Error::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Error::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Error::UriTooLong(_) => (StatusCode::URI_TOO_LONG, "uri_too_long"),
            Error::Store(StoreError::Invalid(_)) => (StatusCode::BAD_REQUEST, "invalid_text"),
            Error::Store(_) | Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// Largest request body accepted, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Error::CaseConflict {
            code,
            message,
            incident,
        } = self
        {
            let allowed = onegrid_app::wire::CaseAction::allowed_for(&incident);
            let body = ConflictBody {
                error: ConflictDetail {
                    code: code.to_string(),
                    message,
                    incident,
                    allowed,
                },
            };
            return (status, axum::Json(body)).into_response();
        }
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            "something went wrong on the server; the request was not applied".to_string()
        } else {
            self.to_string()
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Error::TooManyRequests { retry_after_s, .. } = &self {
            if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after_s.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        response
    }
}

impl From<LoginError> for Error {
    fn from(e: LoginError) -> Error {
        match e {
            LoginError::BadCredentials => Error::unauthorized("bad_credentials", e.to_string()),
            LoginError::Throttled { retry_after_s } => Error::TooManyRequests {
                code: "too_many_attempts",
                message: e.to_string(),
                retry_after_s,
            },
            LoginError::Invalid(m) => Error::Unprocessable {
                code: "invalid_login",
                message: m,
            },
            LoginError::Store(s) => Error::Store(s),
        }
    }
}

impl From<AccountsError> for Error {
    fn from(e: AccountsError) -> Error {
        let message = e.to_string();
        match e {
            AccountsError::Password(_) => Error::Unprocessable {
                code: "weak_password",
                message,
            },
            AccountsError::Invalid(_) => Error::Unprocessable {
                code: "invalid",
                message,
            },
            AccountsError::Scope(_) => Error::Unprocessable {
                code: "unknown_scope",
                message,
            },
            AccountsError::NoSuchUser(_) | AccountsError::NoSuchToken { .. } => {
                Error::NotFound(message)
            }
            AccountsError::Conflict(_) => Error::Conflict {
                code: "conflict",
                message,
            },
            AccountsError::BadCredentials => Error::unauthorized("bad_credentials", message),
            AccountsError::Store(s) => Error::Store(s),
        }
    }
}

impl From<ActError> for Error {
    fn from(e: ActError) -> Error {
        match e {
            ActError::NotFound(id) => Error::NotFound(format!("no incident {id}")),
            ActError::Refused(Refusal::Invalid { code, message }) => {
                Error::Unprocessable { code, message }
            }
            ActError::Refused(Refusal::Forbidden(m)) => Error::forbidden("forbidden", m),
            ActError::Refused(r @ Refusal::Illegal { .. }) => Error::Conflict {
                code: "illegal_transition",
                message: r.to_string(),
            },
            ActError::Conflict {
                code,
                message,
                incident,
            } => Error::CaseConflict {
                code,
                message,
                incident,
            },
            ActError::Store(s) => Error::Store(s),
        }
    }
}

impl From<ReportError> for Error {
    fn from(e: ReportError) -> Error {
        let unprocessable = |code| Error::Unprocessable {
            code,
            message: e.to_string(),
        };
        match e {
            ReportError::UnknownCategory(_) => unprocessable("unknown_category"),
            ReportError::Coordinates(_) => unprocessable("invalid_coordinates"),
            ReportError::OutsideDistrict { .. } => unprocessable("outside_district"),
            ReportError::NotInAGrid { .. } => unprocessable("not_in_a_grid"),
            ReportError::DescriptionTooLong(_) => unprocessable("description_too_long"),
            ReportError::ReporterTooLong(_) => unprocessable("reporter_too_long"),
            ReportError::NulCharacter(_) => unprocessable("nul_character"),
            ReportError::Forbidden(m) => Error::forbidden("forbidden", m),
            ReportError::Store(s) => Error::Store(s),
        }
    }
}

impl From<JsonRejection> for Error {
    fn from(r: JsonRejection) -> Error {
        match r {
            JsonRejection::JsonDataError(e) => Error::Unprocessable {
                code: "invalid_body",
                message: e.body_text(),
            },
            JsonRejection::JsonSyntaxError(e) => {
                Error::bad_request("malformed_json", e.body_text())
            }
            JsonRejection::MissingJsonContentType(e) => Error::UnsupportedMediaType(e.body_text()),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Error::PayloadTooLarge(MAX_BODY_BYTES)
            }
            other => Error::bad_request("bad_body", other.body_text()),
        }
    }
}

impl From<PathRejection> for Error {
    fn from(r: PathRejection) -> Error {
        Error::bad_request("bad_path", r.body_text())
    }
}

impl From<QueryRejection> for Error {
    fn from(r: QueryRejection) -> Error {
        Error::bad_request("bad_query", r.body_text())
    }
}

/// `axum::Json` whose rejections are [`Error`]s.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` whose rejections are [`Error`]s.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

/// `axum::extract::Query` whose rejections are [`Error`]s.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);
