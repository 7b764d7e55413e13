//! `GET /api/v1/audit` (admin): the audit trail, newest first, as JSON or CSV. Read-only:
//! nothing in the product can change or delete it.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use onegrid_app::wire::AuditEntry;
use serde::Deserialize;

use super::error::{Error, Json, Query};
use crate::accounts::Actor;
use crate::store::AuditQuery;
use crate::AppState;

const DEFAULT_LIMIT: u32 = 200;
const MAX_LIMIT: u32 = 10_000;
const MAX_FILTER_CHARS: usize = 200;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// RFC 3339; rows at or after it.
    from: Option<String>,
    /// RFC 3339; rows before it.
    to: Option<String>,
    /// Exact actor, e.g. `user:admin`.
    actor: Option<String>,
    /// Exact action, or a prefix ending in `.` (e.g. `incident.`).
    action: Option<String>,
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u32>,
    /// Rows with an id below this: the next page.
    before: Option<i64>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

fn time(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, Error> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                Error::bad_request(
                    "bad_query",
                    format!("{name} must be an RFC 3339 time such as 2026-12-01T00:00:00+08:00"),
                )
            }),
    }
}

fn filter(name: &str, value: Option<String>) -> Result<Option<String>, Error> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > MAX_FILTER_CHARS => Err(Error::bad_request(
            "bad_query",
            format!("{name} must be at most {MAX_FILTER_CHARS} characters"),
        )),
        other => Ok(other),
    }
}

/// The audit trail, newest first: who did what, when, from where, with the event `seq`.
#[utoipa::path(
    get,
    path = "/audit",
    tag = "accounts",
    params(AuditParams),
    responses(
        (status = 200, description = "The rows (or CSV with `format=csv`).", body = Vec<AuditEntry>),
        (status = 400, description = "`bad_query`.", body = onegrid_app::wire::ErrorBody),
        (status = 401, description = "`unauthenticated`.", body = onegrid_app::wire::ErrorBody),
        (status = 403, description = "`forbidden`: administrators only.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Query(params): Query<AuditParams>,
) -> Result<Response, Error> {
    if !actor.is_admin() {
        return Err(Error::forbidden(
            "forbidden",
            "only an administrator may read the audit trail",
        ));
    }
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::bad_request(
            "bad_query",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let csv = match params.format.as_deref() {
        None | Some("") | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(Error::bad_request(
                "bad_query",
                format!("unknown format {other:?}; use json or csv"),
            ))
        }
    };
    let query = AuditQuery {
        from: time("from", params.from.as_deref())?,
        to: time("to", params.to.as_deref())?,
        actor: filter("actor", params.actor)?,
        action: filter("action", params.action)?,
        limit,
        before_id: params.before,
    };
    let entries = state.store.audit_entries(&query).await?;
    if csv {
        let body = to_csv(&entries)?;
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"onegrid-audit.csv\"",
                ),
            ],
            body,
        )
            .into_response())
    } else {
        Ok(Json(entries).into_response())
    }
}

/// The rows as CSV (UTF-8 with a byte-order mark, so spreadsheets read the Chinese right).
pub fn to_csv(entries: &[AuditEntry]) -> Result<String, Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| Error::Internal(format!("writing CSV: {e}"));
    out.write_record([
        "id", "at", "actor", "role", "address", "action", "target", "detail", "seq",
    ])
    .map_err(internal)?;
    for e in entries {
        out.write_record([
            e.id.to_string(),
            e.at.to_rfc3339(),
            e.actor.clone(),
            e.role.map(|r| r.as_str().to_string()).unwrap_or_default(),
            e.address.clone(),
            e.action.clone(),
            e.target.clone(),
            e.detail.clone(),
            e.seq.map(|s| s.to_string()).unwrap_or_default(),
        ])
        .map_err(internal)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| Error::Internal(format!("writing CSV: {e}")))?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}
