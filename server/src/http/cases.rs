//! `/api/v1/incidents/{id}/actions` and `/api/v1/incidents/{id}/history`: case work.

use axum::extract::State;
use onegrid_app::wire::{ActionRequest, HistoryEntry, Incident};

use super::error::{Error, Json, Path};
use crate::accounts::Actor;
use crate::AppState;

/// Takes one action on an incident (triage, dispatch, accept, resolve, close, reopen, reject,
/// merge): committed with its event only if the incident is still at the request's `seq`,
/// then announced on `/ws`.
#[utoipa::path(
    post,
    path = "/incidents/{id}/actions",
    tag = "incidents",
    params(("id", Path, description = "The incident's id.", example = 1)),
    request_body = ActionRequest,
    responses(
        (status = 200, description = "Done: the incident in its new state.", body = Incident),
        (status = 400, description = "`bad_path` (the id is not an integer) or `malformed_json`.", body = onegrid_app::wire::ErrorBody),
        (status = 401, description = "`unauthenticated`: no session or token.", body = onegrid_app::wire::ErrorBody),
        (status = 403, description = "`forbidden`: this role may not take this action, or this department operator's department is not the one the incident is dispatched to.", body = onegrid_app::wire::ErrorBody),
        (status = 404, description = "`not_found`: no incident with this id in the caller's scope.", body = onegrid_app::wire::ErrorBody),
        (status = 409, description = "`stale`: the incident changed since `seq`; `illegal_transition`: the action is not possible from its state. Both carry the incident as it is now and the actions allowed.", body = onegrid_app::wire::ConflictBody),
        (status = 413, description = "`payload_too_large`: the body is over 1 MiB.", body = onegrid_app::wire::ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`.", body = onegrid_app::wire::ErrorBody),
        (status = 422, description = "`invalid_body`, `unknown_action`, `unexpected_field`, `unknown_category`, `unknown_department`, `reason_required`, `note_required`, `into_required`, `merge_target`, `no_duplicate_suggested`, `department_required`, `decision_required` (a seam: department and reason), `too_long` or `nul_character`.", body = onegrid_app::wire::ErrorBody),
        (status = 500, description = "`internal`: nothing was committed.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn act(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    Json(body): Json<ActionRequest>,
) -> Result<Json<Incident>, Error> {
    Ok(Json(state.cases.act(&actor, id, &body).await?))
}

/// The incident's events from the log, oldest first: who did what, when, from which state to
/// which, and why.
#[utoipa::path(
    get,
    path = "/incidents/{id}/history",
    tag = "incidents",
    params(("id", Path, description = "The incident's id.", example = 1)),
    responses(
        (status = 200, description = "Its events, oldest first.", body = Vec<HistoryEntry>),
        (status = 400, description = "`bad_path`: the id is not an integer.", body = onegrid_app::wire::ErrorBody),
        (status = 401, description = "`unauthenticated`: no session or token.", body = onegrid_app::wire::ErrorBody),
        (status = 404, description = "`not_found`: no incident with this id in the caller's scope.", body = onegrid_app::wire::ErrorBody),
        (status = 500, description = "`internal`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn history(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Vec<HistoryEntry>>, Error> {
    state
        .cases
        .history(&actor, id)
        .await?
        .map(Json)
        .ok_or_else(|| Error::NotFound(format!("no incident {id}")))
}
