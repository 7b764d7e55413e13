//! The WebSocket protocol (`/ws?since=SEQ`), generic over any `Sink`/`Stream` of messages so it
//! can be tested without a socket.
//!
//! 1. Subscribe to the hub first, then say `hello` with the newest committed `seq`.
//! 2. With `since`, replay the incident events after it from the store; if that is more than
//!    the store keeps for replay, send `resync` instead (the client reloads over HTTP).
//! 3. Pass on live frames, dropping any the replay already sent (compare `seq`).
//! 4. A connection whose queue overflowed is re-subscribed and told `resync`. Sends that stall
//!    longer than [`LiveOptions::send_timeout`] end the connection; the others never wait on it.

use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use onegrid_app::wire::{ServerMessage, WS_PROTOCOL};

use super::{Frame, Hub};
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub replay_limit: i64,
    pub heartbeat: Duration,
    pub send_timeout: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            replay_limit: 10_000,
            heartbeat: Duration::from_secs(15),
            send_timeout: Duration::from_secs(20),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionEnd {
    #[error("client closed")]
    Closed,
    #[error("send failed or stalled")]
    SendFailed,
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// Serialises a message that is not shared between connections.
pub fn encode(msg: &ServerMessage) -> Utf8Bytes {
    // Serialising these plain data types cannot fail.
    Utf8Bytes::from(serde_json::to_string(msg).unwrap_or_default())
}

/// Runs one client's session until it closes or stalls.
pub async fn session<S, R, E>(
    mut sink: S,
    mut stream: R,
    hub: Hub,
    store: Store,
    since: Option<i64>,
    options: LiveOptions,
) -> Result<(), SessionEnd>
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
{
    let mut subscription = hub.subscribe();
    let head = store.last_seq().await?;
    let timeout = options.send_timeout;
    let hello = ServerMessage::Hello {
        protocol: WS_PROTOCOL.to_string(),
        seq: head,
    };
    send(&mut sink, encode(&hello), timeout).await?;

    // Frames with seq <= floor were already sent (or predate what the client has).
    let mut floor = head;
    if let Some(since) = since {
        if since > head {
            // The client saw a log this store never had (e.g. a reset data dir).
            send(&mut sink, encode(&ServerMessage::Resync), timeout).await?;
        } else if since < head {
            let events = store
                .incident_events_after(since, options.replay_limit + 1)
                .await?;
            if events.len() as i64 > options.replay_limit {
                send(&mut sink, encode(&ServerMessage::Resync), timeout).await?;
            } else {
                for e in events {
                    floor = floor.max(e.seq);
                    let msg = ServerMessage::Incident {
                        seq: e.seq,
                        incident: e.incident,
                    };
                    feed(&mut sink, encode(&msg), options.send_timeout).await?;
                }
                flush(&mut sink, options.send_timeout).await?;
            }
        }
    }

    let mut heartbeat = tokio::time::interval(options.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    loop {
        tokio::select! {
            frame = subscription.recv() => match frame {
                Some(frame) => {
                    let mut pending = vec![frame];
                    while let Some(more) = subscription.try_recv() {
                        pending.push(more);
                    }
                    write_frames(&mut sink, pending, &mut floor, options.send_timeout).await?;
                }
                None => {
                    // Dropped by the hub for falling behind: take a fresh place and say so.
                    subscription = hub.subscribe();
                    send(&mut sink, encode(&ServerMessage::Resync), timeout).await?;
                }
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Err(SessionEnd::Closed),
                Some(Ok(_)) => {}
            },
            _ = heartbeat.tick() => {
                send(&mut sink, encode(&ServerMessage::Heartbeat { seq: floor }), timeout).await?;
            }
        }
    }
}

/// Sends every pending frame the client has not had, then flushes once.
async fn write_frames<S: Sink<Message> + Unpin>(
    sink: &mut S,
    frames: Vec<Frame>,
    floor: &mut i64,
    timeout: Duration,
) -> Result<(), SessionEnd> {
    let mut wrote = false;
    for frame in frames {
        if frame.seq <= *floor {
            continue;
        }
        *floor = frame.seq;
        feed(sink, frame.text, timeout).await?;
        wrote = true;
    }
    if wrote {
        flush(sink, timeout).await?;
    }
    Ok(())
}

async fn send<S: Sink<Message> + Unpin>(
    sink: &mut S,
    text: Utf8Bytes,
    timeout: Duration,
) -> Result<(), SessionEnd> {
    match tokio::time::timeout(timeout, sink.send(Message::Text(text))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(SessionEnd::SendFailed),
    }
}

async fn feed<S: Sink<Message> + Unpin>(
    sink: &mut S,
    text: Utf8Bytes,
    timeout: Duration,
) -> Result<(), SessionEnd> {
    match tokio::time::timeout(timeout, sink.feed(Message::Text(text))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(SessionEnd::SendFailed),
    }
}

async fn flush<S: Sink<Message> + Unpin>(sink: &mut S, timeout: Duration) -> Result<(), SessionEnd> {
    match tokio::time::timeout(timeout, sink.flush()).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(SessionEnd::SendFailed),
    }
}
