//! The queue: `GET /api/v1/incidents` (filtered, ordered, paged in the store, within the
//! caller's scope) and `GET /api/v1/incidents/counts` (the count beside each filter).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::IntoResponse;
use onegrid_app::wire::{Category, Incident, IncidentStatus, QueueCountsInfo};
use serde::Deserialize;

use super::error::{Error, Json, Query};
use crate::accounts::Actor;
use crate::store::{IncidentQuery, QueueSort};
use crate::AppState;

/// Default and largest page of `GET /api/v1/incidents`.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
/// Deepest `offset` (a queue is paged, not dumped; the export streams everything).
const MAX_OFFSET: u32 = 1_000_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueParams {
    /// How many incidents to answer.
    #[param(minimum = 1, maximum = 1000, default = json!(DEFAULT_LIMIT))]
    limit: Option<u32>,
    /// How many to skip first (the page).
    #[param(minimum = 0, maximum = 1000000, default = 0)]
    offset: Option<u32>,
    /// Only incidents in this status; empty or absent: every status.
    #[param(value_type = Option<IncidentStatus>)]
    status: Option<String>,
    /// Only incidents of this category.
    #[param(value_type = Option<Category>)]
    category: Option<String>,
    /// Only incidents in (or at a seam touching) this street, community or grid (its code).
    within: Option<String>,
    /// Only incidents dispatched to this department (its code).
    department: Option<String>,
    /// `true`: only incidents past the deadline of their phase now.
    overdue: Option<bool>,
    /// `true`: only incidents at a seam; `false`: only those not at one.
    seam: Option<bool>,
    /// Text in the description or the reporter, or an incident id.
    q: Option<String>,
    /// `newest` (default), `oldest` or `deadline` (nearest deadline first).
    sort: Option<String>,
}

fn bad(message: String) -> Error {
    Error::bad_request("bad_query", message)
}

/// The query the parameters ask for, in the caller's scope.
fn query_of(state: &AppState, actor: &Actor, p: QueueParams) -> Result<IncidentQuery, Error> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let offset = p.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(bad(format!("offset must be at most {MAX_OFFSET}")));
    }
    let empty = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let status = match empty(p.status) {
        None => None,
        Some(s) => Some(IncidentStatus::parse(&s).ok_or_else(|| {
            bad(format!(
                "unknown status {s:?}; use one of {}",
                IncidentStatus::ALL.map(|s| s.as_str()).join(", ")
            ))
        })?),
    };
    let category = match empty(p.category) {
        None => None,
        Some(c) => Some(Category::parse(&c).ok_or_else(|| {
            bad(format!(
                "unknown category {c:?}; GET /api/v1/categories lists the codes"
            ))
        })?),
    };
    let sort = match empty(p.sort).as_deref() {
        None | Some("newest") => QueueSort::Newest,
        Some("oldest") => QueueSort::Oldest,
        Some("deadline") => QueueSort::Deadline,
        Some(other) => {
            return Err(bad(format!(
                "unknown sort {other:?}; use newest, oldest or deadline"
            )))
        }
    };
    let text = empty(p.q);
    if text
        .as_ref()
        .is_some_and(|t| t.chars().count() > 200 || t.contains('\0'))
    {
        return Err(bad(
            "q must be at most 200 characters, without U+0000".into()
        ));
    }
    Ok(IncidentQuery {
        limit,
        offset,
        status,
        category,
        within: empty(p.within),
        department: empty(p.department),
        overdue_at: p.overdue.filter(|o| *o).map(|_| state.clock.now()),
        seam: p.seam,
        text,
        sort,
        after_id: None,
        visible_to: actor.scope.key(),
    })
}

/// The queue: incidents the caller may see, filtered, ordered and paged.
#[utoipa::path(
    get,
    path = "/incidents",
    tag = "incidents",
    params(QueueParams),
    responses(
        (status = 200, description = "The page of the queue, in its order.", body = Vec<Incident>),
        (status = 400, description = "`bad_query`: `limit` or `offset` out of range, an unknown `status`, `category` or `sort`, or a malformed query.", body = onegrid_app::wire::ErrorBody),
        (status = 500, description = "`internal`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Query(params): Query<QueueParams>,
) -> Result<Json<Vec<Incident>>, Error> {
    let query = query_of(&state, &actor, params)?;
    Ok(Json(state.store.list_incidents(&query).await?))
}

/// How many incidents of the queue fall under each status, category, street and department
/// (every other filter applied), and how many are overdue or at a seam.
#[utoipa::path(
    get,
    path = "/incidents/counts",
    tag = "incidents",
    params(QueueParams),
    responses(
        (status = 200, description = "The counts.", body = QueueCountsInfo),
        (status = 400, description = "`bad_query`: as `GET /api/v1/incidents`.", body = onegrid_app::wire::ErrorBody),
        (status = 500, description = "`internal`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn counts(
    State(state): State<AppState>,
    actor: Actor,
    Query(params): Query<QueueParams>,
) -> Result<Json<QueueCountsInfo>, Error> {
    let query = query_of(&state, &actor, params)?;
    let c = state.store.queue_counts(&query, state.clock.now()).await?;
    let map = |v: Vec<(String, i64)>| v.into_iter().collect::<BTreeMap<_, _>>();
    Ok(Json(QueueCountsInfo {
        total: c.total,
        statuses: map(c.statuses),
        categories: map(c.categories),
        streets: map(c.streets),
        departments: map(c.departments),
        overdue: c.overdue,
        seam: c.seam,
    }))
}

/// Incidents read per page of an export.
const EXPORT_PAGE: u32 = 1000;

/// The whole queue `query` asks for, page by page in id order, each page turned into bytes
/// by `encode`: an export never holds more than one page.
fn export_stream(
    store: crate::store::Store,
    mut query: IncidentQuery,
    head: &'static str,
    encode: fn(&[Incident], bool) -> Result<String, String>,
    tail: &'static str,
) -> axum::body::Body {
    query.limit = EXPORT_PAGE;
    query.offset = 0;
    query.sort = QueueSort::Id;
    // (after this id, first page?) → None once the last page and the tail are out.
    let pages = futures_util::stream::unfold(Some((0_i64, true)), move |at| {
        let store = store.clone();
        let mut query = query.clone();
        async move {
            let (after, first) = at?;
            query.after_id = Some(after);
            let page = match store.list_incidents(&query).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(error = %e, "export failed part way; the answer is cut short");
                    return Some((Err(std::io::Error::other(e.to_string())), None));
                }
            };
            let mut out = if first {
                head.to_string()
            } else {
                String::new()
            };
            let next = page.last().map(|i| (i.id, false));
            match encode(&page, first) {
                Ok(text) => out.push_str(&text),
                Err(e) => return Some((Err(std::io::Error::other(e)), None)),
            }
            if page.len() < EXPORT_PAGE as usize {
                out.push_str(tail);
                return Some((Ok(bytes::Bytes::from(out)), None));
            }
            Some((Ok(bytes::Bytes::from(out)), next))
        }
    });
    axum::body::Body::from_stream(pages)
}

fn csv_rows(page: &[Incident], first: bool) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if first {
        w.write_record([
            "id",
            "status",
            "category",
            "created_at",
            "street_code",
            "street_name",
            "grid_code",
            "grid_name",
            "lon",
            "lat",
            "department",
            "proposed_department",
            "at_seam",
            "dispatch_due_at",
            "resolve_due_at",
            "escalation",
            "duplicate_of",
            "merged_into",
            "reporter",
            "description",
        ])
        .map_err(|e| e.to_string())?;
    }
    let time =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    let id = |i: Option<i64>| i.map(|i| i.to_string()).unwrap_or_default();
    for i in page {
        let r = i.analysis.responsibility.as_ref();
        w.write_record([
            i.id.to_string(),
            i.status.as_str().to_string(),
            i.category.code().to_string(),
            i.created_at.to_rfc3339(),
            i.street_code.clone(),
            i.street_name.clone(),
            i.grid_code.clone(),
            i.grid_name.clone(),
            i.lon.to_string(),
            i.lat.to_string(),
            i.department.clone().unwrap_or_default(),
            r.and_then(|r| r.department.as_ref())
                .map(|d| d.code.clone())
                .unwrap_or_default(),
            r.is_some_and(|r| r.review_required).to_string(),
            time(i.dispatch_due_at),
            time(i.resolve_due_at),
            i.escalation.to_string(),
            id(i.duplicate_of),
            id(i.merged_into),
            i.reporter.clone().unwrap_or_default(),
            i.description.clone(),
        ])
        .map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

fn geojson_features(page: &[Incident], first: bool) -> Result<String, String> {
    let mut out = String::new();
    for (n, i) in page.iter().enumerate() {
        if !(first && n == 0) {
            out.push(',');
        }
        let feature = serde_json::json!({
            "type": "Feature",
            "id": i.id,
            "geometry": {"type": "Point", "coordinates": [i.lon, i.lat]},
            "properties": {
                "id": i.id,
                "status": i.status.as_str(),
                "category": i.category.code(),
                "created_at": i.created_at,
                "street_code": i.street_code,
                "street_name": i.street_name,
                "grid_code": i.grid_code,
                "grid_name": i.grid_name,
                "department": i.department,
                "dispatch_due_at": i.dispatch_due_at,
                "resolve_due_at": i.resolve_due_at,
                "escalation": i.escalation,
                "duplicate_of": i.duplicate_of,
                "merged_into": i.merged_into,
                "reporter": i.reporter,
                "description": i.description,
            }
        });
        out.push('\n');
        out.push_str(&feature.to_string());
    }
    Ok(out)
}

/// The whole queue (every filter of `GET /api/v1/incidents`; no page) as CSV: UTF-8 with a
/// byte-order mark so that spreadsheets read the Chinese right; streamed, in id order.
#[utoipa::path(
    get,
    path = "/incidents/export.csv",
    tag = "incidents",
    params(QueueParams),
    responses(
        (status = 200, description = "CSV, one incident per row after the header.", content_type = "text/csv"),
        (status = 400, description = "`bad_query`: as `GET /api/v1/incidents`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn export_csv(
    State(state): State<AppState>,
    actor: Actor,
    Query(params): Query<QueueParams>,
) -> Result<axum::response::Response, Error> {
    use axum::http::header;
    let query = query_of(&state, &actor, params)?;
    let body = export_stream(state.store.clone(), query, "\u{feff}", csv_rows, "");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"onegrid-incidents.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// The whole queue as a GeoJSON FeatureCollection of points (WGS84), streamed, in id order.
#[utoipa::path(
    get,
    path = "/incidents/export.geojson",
    tag = "incidents",
    params(QueueParams),
    responses(
        (status = 200, description = "A FeatureCollection, one Point feature per incident.", content_type = "application/geo+json"),
        (status = 400, description = "`bad_query`: as `GET /api/v1/incidents`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn export_geojson(
    State(state): State<AppState>,
    actor: Actor,
    Query(params): Query<QueueParams>,
) -> Result<axum::response::Response, Error> {
    use axum::http::header;
    let query = query_of(&state, &actor, params)?;
    let body = export_stream(
        state.store.clone(),
        query,
        "{\"type\":\"FeatureCollection\",\"features\":[",
        geojson_features,
        "\n]}\n",
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/geo+json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"onegrid-incidents.geojson\"",
            ),
        ],
        body,
    )
        .into_response())
}
