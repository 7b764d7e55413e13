//! `/api/v1/incidents`, `/api/v1/categories`, `/api/v1/stats`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{TimeZone, Utc};
use onegrid_app::wire::{Category, CategoryInfo, Incident, IncidentStatus, NewIncident, Stats};
use serde::Deserialize;

use super::error::{Error, Json, Path, Query};
use crate::accounts::Actor;
use crate::store::IncidentQuery;
use crate::AppState;

/// Default and largest page of `GET /api/v1/incidents`.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

pub async fn categories(_actor: Actor) -> Json<Vec<CategoryInfo>> {
    Json(Category::ALL.into_iter().map(CategoryInfo::from).collect())
}

pub async fn report(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<NewIncident>,
) -> Result<impl IntoResponse, Error> {
    let incident = state.incidents.report(&actor, input).await?;
    Ok((StatusCode::CREATED, Json(incident)))
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    limit: Option<u32>,
    status: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Incident>>, Error> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::bad_request(
            "bad_query",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let status = match params.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(IncidentStatus::parse(s).ok_or_else(|| {
            Error::bad_request(
                "bad_query",
                format!("unknown status {s:?}; use reported, dispatched or resolved"),
            )
        })?),
    };
    let incidents = state
        .store
        .list_incidents(&IncidentQuery {
            limit,
            status,
            visible_to: actor.scope.key(),
        })
        .await?;
    Ok(Json(incidents))
}

pub async fn one(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Incident>, Error> {
    // Out of scope is "no such incident": never confirm that it exists.
    state
        .store
        .incident(id, actor.scope.key().as_deref())
        .await?
        .map(Json)
        .ok_or_else(|| Error::NotFound(format!("no incident {id}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: String,
}

pub async fn change_status(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    Json(body): Json<StatusBody>,
) -> Result<Json<Incident>, Error> {
    let status = IncidentStatus::parse(&body.status).ok_or_else(|| Error::Unprocessable {
        code: "unknown_status",
        message: format!(
            "unknown status {:?}; use reported, dispatched or resolved",
            body.status
        ),
    })?;
    state
        .incidents
        .change_status(&actor, id, status)
        .await?
        .map(Json)
        .ok_or_else(|| Error::NotFound(format!("no incident {id}")))
}

pub async fn stats(State(state): State<AppState>, actor: Actor) -> Result<Json<Stats>, Error> {
    let offset = state.config.utc_offset();
    let now = state.clock.now();
    let local_midnight = now
        .with_timezone(&offset)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|m| offset.from_local_datetime(&m).single())
        .map(|m| m.with_timezone(&Utc))
        .unwrap_or(now);
    let c = state
        .store
        .counts(local_midnight, actor.scope.key().as_deref())
        .await?;
    Ok(Json(Stats {
        today: c.reported_since,
        open: c.open,
        resolved_today: c.resolved_since,
        seq: c.seq,
    }))
}
