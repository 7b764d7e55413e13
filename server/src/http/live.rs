//! `GET /ws`: upgrades and hands the socket to the live protocol.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::response::Response;
use futures_util::StreamExt;
use serde::Deserialize;

use super::error::{Error, Query};
use crate::live::ws::{session, LiveOptions};
use crate::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveParams {
    /// Last `seq` the client has seen; events after it are replayed.
    since: Option<i64>,
}

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Query(params): Query<LiveParams>,
) -> Result<Response, Error> {
    if params.since.is_some_and(|s| s < 0) {
        return Err(Error::bad_request("bad_query", "since must be a seq ≥ 0"));
    }
    let options = LiveOptions {
        replay_limit: state.config.ws_replay_limit,
        ..LiveOptions::default()
    };
    Ok(ws.on_upgrade(move |socket| async move {
        let (sink, stream) = socket.split();
        let end = session(
            sink,
            stream,
            state.hub.clone(),
            state.store.clone(),
            params.since,
            options,
        )
        .await;
        tracing::debug!(?end, "live session ended");
    }))
}
