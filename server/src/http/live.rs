//! `GET /ws`: upgrades and hands the socket to the live protocol.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::response::Response;
use futures_util::StreamExt;
use serde::Deserialize;

use super::auth::{resolve, Caller};
use super::error::{Error, Query};
use crate::live::ws::{session, LiveOptions};
use crate::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveParams {
    /// Last `seq` the client has seen; events after it are replayed.
    #[param(minimum = 0, example = 0)]
    since: Option<i64>,
}

/// The largest message a client may send on the live feed.
const MAX_CLIENT_MESSAGE_BYTES: usize = 64 * 1024;

/// The live feed: a WebSocket speaking `onegrid.live.v1`.
///
/// Every message is a JSON text frame, a `ServerMessage` tagged by `type`. The first is `hello`
/// (`protocol`: `onegrid.live.v1`, `seq`: the newest committed event). With `since`, the events
/// after it are replayed first (`incident`, each with its `seq`), then live ones follow, in `seq`
/// order with none skipped or repeated. `heartbeat` (with the newest `seq`) comes when nothing
/// else did for a while, so a quiet feed can be told from a dead one. `resync` tells a client
/// that fell behind (or asked for more than the server replays) to reload its state over HTTP
/// and reconnect with the `seq` it is current to. `district_changed` (with its `generation`)
/// says imported layers are now served: tiles and map layers fetched before may be stale. The
/// client sends nothing but pings and a close.
#[utoipa::path(
    get,
    path = "/ws",
    tag = "live",
    params(LiveParams),
    responses(
        (status = 101, description = "Switching protocols: the WebSocket is open; every message is a `ServerMessage`.", body = onegrid_app::wire::ServerMessage),
        (status = 400, description = "`bad_query` (`since` negative or not an integer, or an unknown parameter), or a request that is not a WebSocket upgrade (plain text).", body = onegrid_app::wire::ErrorBody),
        (status = 426, description = "Upgrade required: the connection cannot be upgraded (plain text)."),
    ),
)]
pub async fn upgrade(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<LiveParams>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, Error> {
    let ws = ws.map_err(|r| {
        Error::bad_request(
            "not_a_websocket",
            format!("/ws takes a WebSocket upgrade: {}", r.body_text()),
        )
    })?;
    if caller.actor.must_change_password {
        return Err(Error::forbidden(
            "password_change_required",
            "set a new password first: POST /api/v1/session/password",
        ));
    }
    if params.since.is_some_and(|s| s < 0) {
        return Err(Error::bad_request("bad_query", "since must be a seq ≥ 0"));
    }
    let options = LiveOptions {
        replay_limit: state.config.ws_replay_limit,
        ..LiveOptions::default()
    };
    let visible_to = caller.actor.scope.key();
    // The feed sends; a client sends only pings, pongs and a close.
    let ws = ws
        .max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .max_frame_size(MAX_CLIENT_MESSAGE_BYTES);
    Ok(ws.on_upgrade(move |socket| async move {
        let (sink, stream) = socket.split();
        let address = caller.actor.address.clone();
        let credential = caller.credential.clone();
        let check_state = state.clone();
        // At every heartbeat: is the credential still valid (not logged out, disabled, revoked)?
        let still_allowed = move || {
            let state = check_state.clone();
            let credential = credential.clone();
            let address = address.clone();
            async move { matches!(resolve(&state, &credential, &address).await, Ok(Some(_))) }
        };
        let end = session(
            sink,
            stream,
            state.hub.clone(),
            state.store.clone(),
            params.since,
            visible_to,
            still_allowed,
            options,
        )
        .await;
        tracing::debug!(?end, "live session ended");
    }))
}
