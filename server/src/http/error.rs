//! HTTP errors: every failure becomes a status and `{"error":{"code","message"}}`. A 500 logs
//! the detail and tells the client only that something failed. Extractor rejections (bad JSON,
//! oversized bodies, bad paths and queries) are mapped here too, so none escapes as plain text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::FromRequest;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onegrid_app::wire::{ErrorBody, ErrorDetail};

use crate::incidents::ReportError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Refused whoever asks: a cross-site request, or one a browser sent without its `Origin`.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
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

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Error {
        Error::Forbidden {
            code,
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Error::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Error::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Error::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            Error::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Error::UriTooLong(_) => (StatusCode::URI_TOO_LONG, "uri_too_long"),
            Error::Store(_) | Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// Largest request body accepted, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
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
        (status, axum::Json(body)).into_response()
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
