//! The WebSocket protocol (`/ws?since=SEQ`), generic over any `Sink`/`Stream` of messages so it
//! can be tested without a socket.
//!
//! 1. Subscribe to the hub first, then say `hello` with the newest committed `seq`.
//! 2. With `since`, replay the incident events after it from the store; if that is more than
//!    the store keeps for replay, send `resync` instead (the client reloads over HTTP).
//! 3. Pass on live frames, dropping any the replay already sent (compare `seq`).
//! 4. A connection whose queue overflowed is re-subscribed and told `resync`. Sends that stall
//!    longer than [`LiveOptions::send_timeout`] end the connection; the others never wait on it.
//!
//! A connection sees only what its caller's scope key allows, in the replay (filtered by the
//! store) and live (filtered by the hub). At every heartbeat the caller's credential is checked
//! again, so a logout, a disabled user or a revoked screen ends the feed within a heartbeat.

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
    #[error("the caller's session ended")]
    Unauthorized,
}

/// Serialises a message that is not shared between connections.
pub fn encode(msg: &ServerMessage) -> Utf8Bytes {
    // Serialising these plain data types cannot fail.
    Utf8Bytes::from(serde_json::to_string(msg).unwrap_or_default())
}

/// Runs one client's session until it closes or stalls. `visible_to` is the caller's scope key
/// (`None`: the whole district); `still_allowed` is asked at every heartbeat whether the
/// caller's credential still holds.
#[allow(clippy::too_many_arguments)]
pub async fn session<S, R, E, A, F>(
    mut sink: S,
    mut stream: R,
    hub: Hub,
    store: Store,
    since: Option<i64>,
    visible_to: Option<String>,
    mut still_allowed: A,
    options: LiveOptions,
) -> Result<(), SessionEnd>
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
    A: FnMut() -> F,
    F: std::future::Future<Output = bool>,
{
    let mut subscription = hub.subscribe(visible_to.clone());
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
                .incident_events_after(since, options.replay_limit + 1, visible_to.as_deref())
                .await?;
            if events.len() as i64 > options.replay_limit {
                send(&mut sink, encode(&ServerMessage::Resync), timeout).await?;
            } else {
                for e in events {
                    floor = floor.max(e.seq);
                    let msg = ServerMessage::Incident {
                        seq: e.seq,
                        incident: Box::new(e.incident),
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
                    subscription = hub.subscribe(visible_to.clone());
                    send(&mut sink, encode(&ServerMessage::Resync), timeout).await?;
                }
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Err(SessionEnd::Closed),
                Some(Ok(_)) => {}
            },
            _ = heartbeat.tick() => {
                if !still_allowed().await {
                    let _ = sink.send(Message::Close(None)).await;
                    return Err(SessionEnd::Unauthorized);
                }
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
        if let Some(seq) = frame.seq {
            if seq <= *floor {
                continue;
            }
            *floor = seq;
        }
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

async fn flush<S: Sink<Message> + Unpin>(
    sink: &mut S,
    timeout: Duration,
) -> Result<(), SessionEnd> {
    match tokio::time::timeout(timeout, sink.flush()).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(SessionEnd::SendFailed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::mpsc;
    use futures::StreamExt;

    fn frame(seq: i64) -> Frame {
        let text = format!("{{\"type\":\"incident\",\"seq\":{seq}}}");
        Frame::event(seq, Utf8Bytes::from(text), vec!["j:a".to_string()])
    }

    fn kind_and_seq(msg: &Message) -> (String, i64) {
        let Message::Text(t) = msg else {
            panic!("text message expected, got {msg:?}")
        };
        let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("json");
        (
            v["type"].as_str().unwrap_or_default().to_string(),
            v["seq"].as_i64().unwrap_or(-1),
        )
    }

    fn quiet() -> LiveOptions {
        LiveOptions {
            replay_limit: 100,
            heartbeat: Duration::from_secs(3600),
            send_timeout: Duration::from_secs(30),
        }
    }

    #[tokio::test]
    async fn notices_pass_whatever_seq_the_client_is_at_and_events_are_not_repeated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_sqlite(dir.path()).await.expect("store");
        let hub = Hub::new(16);
        let (tx, mut rx) = mpsc::channel::<Message>(16);
        let never = futures::stream::pending::<Result<Message, std::convert::Infallible>>();
        tokio::spawn(session(
            tx,
            never,
            hub.clone(),
            store,
            None,
            None,
            || async { true },
            quiet(),
        ));
        assert_eq!(kind_and_seq(&rx.next().await.expect("hello")).0, "hello");
        while hub.subscriber_count() < 1 {
            tokio::task::yield_now().await;
        }
        hub.publish(frame(5));
        hub.publish(Frame::notice(Utf8Bytes::from_static(
            r#"{"type":"district_changed","generation":3}"#,
        )));
        hub.publish(frame(4));
        hub.publish(frame(6));
        let mut got = Vec::new();
        for _ in 0..3 {
            let msg = tokio::time::timeout(Duration::from_secs(5), rx.next())
                .await
                .expect("a message")
                .expect("open");
            got.push(kind_and_seq(&msg));
        }
        assert_eq!(
            got,
            [
                ("incident".to_string(), 5),
                ("district_changed".to_string(), -1),
                ("incident".to_string(), 6),
            ],
            "the notice passes although 3 < 5; event 4 is dropped as already past"
        );
    }

    #[tokio::test]
    async fn a_stalled_client_is_told_to_resync_and_holds_up_no_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_sqlite(dir.path()).await.expect("store");
        let hub = Hub::new(2);

        // A client that stops reading: a sink with room for one message.
        let (stalled_tx, mut stalled_rx) = mpsc::channel::<Message>(0);
        let never = futures::stream::pending::<Result<Message, std::convert::Infallible>>();
        tokio::spawn(session(
            stalled_tx,
            never,
            hub.clone(),
            store.clone(),
            None,
            None,
            || async { true },
            quiet(),
        ));
        // A client that keeps up.
        let (healthy_tx, mut healthy_rx) = mpsc::channel::<Message>(64);
        let never = futures::stream::pending::<Result<Message, std::convert::Infallible>>();
        tokio::spawn(session(
            healthy_tx,
            never,
            hub.clone(),
            store.clone(),
            None,
            None,
            || async { true },
            quiet(),
        ));

        assert_eq!(
            kind_and_seq(&stalled_rx.next().await.expect("hello")).0,
            "hello"
        );
        assert_eq!(
            kind_and_seq(&healthy_rx.next().await.expect("hello")).0,
            "hello"
        );
        while hub.subscriber_count() < 2 {
            tokio::task::yield_now().await;
        }

        for seq in 1..=10 {
            hub.publish(frame(seq));
            // The healthy client gets every event at once, whatever the stalled one does.
            let got = tokio::time::timeout(Duration::from_secs(5), healthy_rx.next())
                .await
                .expect("not held up")
                .expect("open");
            assert_eq!(kind_and_seq(&got), ("incident".to_string(), seq));
        }

        // The stalled client now reads: a gap-free prefix of the events, then `resync`.
        let mut seen = Vec::new();
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(5), stalled_rx.next())
                .await
                .expect("a message")
                .expect("open");
            let (kind, seq) = kind_and_seq(&msg);
            if kind == "resync" {
                break;
            }
            assert_eq!(kind, "incident");
            seen.push(seq);
        }
        assert!(
            !seen.is_empty() && seen.len() < 10,
            "fell behind after {seen:?}"
        );
        assert_eq!(seen, (1..=seen.len() as i64).collect::<Vec<_>>());

        // Re-subscribed: live events flow again.
        while hub.subscriber_count() < 2 {
            tokio::task::yield_now().await;
        }
        hub.publish(frame(11));
        let next = tokio::time::timeout(Duration::from_secs(5), stalled_rx.next())
            .await
            .expect("live again")
            .expect("open");
        assert_eq!(kind_and_seq(&next), ("incident".to_string(), 11));
    }
}
