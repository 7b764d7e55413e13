//! `POST /api/v1/incidents`, `/api/v1/incidents/{id}`, `/api/v1/categories`, `/api/v1/stats`
//! (the queue, `GET /api/v1/incidents`, is `queue`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{TimeZone, Utc};
use onegrid_app::wire::{Category, CategoryInfo, Incident, NewIncident, Stats};

use super::error::{Error, Json, Path};
use crate::accounts::Actor;
use crate::AppState;

/// The incident categories, with their labels in Chinese and English.
#[utoipa::path(
    get,
    path = "/categories",
    tag = "incidents",
    responses((status = 200, description = "Every category, in display order.", body = Vec<CategoryInfo>)),
)]
pub async fn categories(_actor: Actor) -> Json<Vec<CategoryInfo>> {
    Json(Category::ALL.into_iter().map(CategoryInfo::from).collect())
}

/// Reports an incident: it is located in the district's jurisdictions, analysed (seam, nearby
/// assets, proposed department), committed with its event and then announced on `/ws`.
#[utoipa::path(
    post,
    path = "/incidents",
    tag = "incidents",
    responses(
        (status = 201, description = "Reported: the incident as committed, with its analysis.", body = Incident),
        (status = 400, description = "`malformed_json`: the body is not JSON.", body = onegrid_app::wire::ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 1 MiB.", body = onegrid_app::wire::ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`.", body = onegrid_app::wire::ErrorBody),
        (status = 422, description = "`invalid_body` (missing or mistyped field), `unknown_category`, `invalid_coordinates`, `outside_district`, `not_in_a_grid`, `description_too_long` or `reporter_too_long`.", body = onegrid_app::wire::ErrorBody),
        (status = 500, description = "`internal`: the incident was not committed.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn report(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<NewIncident>,
) -> Result<impl IntoResponse, Error> {
    let incident = state.incidents.report(&actor, input).await?;
    Ok((StatusCode::CREATED, Json(incident)))
}

/// One incident in its current state.
#[utoipa::path(
    get,
    path = "/incidents/{id}",
    tag = "incidents",
    params(("id", Path, description = "The incident's id.", example = 1)),
    responses(
        (status = 200, description = "The incident.", body = Incident),
        (status = 400, description = "`bad_path`: the id is not an integer.", body = onegrid_app::wire::ErrorBody),
        (status = 404, description = "`not_found`: no incident with this id.", body = onegrid_app::wire::ErrorBody),
        (status = 500, description = "`internal`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
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

/// The header's counts: reported and resolved since local midnight, open, and the newest `seq`.
#[utoipa::path(
    get,
    path = "/stats",
    tag = "incidents",
    responses(
        (status = 200, description = "The counts.", body = Stats),
        (status = 500, description = "`internal`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
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
