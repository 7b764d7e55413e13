//! The bus between replicas: NATS JetStream. After commit, a replica publishes each incident
//! event to the stream (deduplicated by its `seq`); every replica consumes the stream and hands
//! what arrives to its own [`Feed`], which puts it in `seq` order and fills any gap from the
//! store. The bus only makes other replicas' events arrive sooner: when it is gone (NATS
//! restarted), each feed's periodic look at the store still delivers everything, and the
//! consumer is made again when the bus returns.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::{Feed, Frame};

/// How long a replica waits for the bus at start before it refuses to run.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a publish waits for the stream's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
#[error("cannot reach the bus at {url}: {reason}")]
pub struct BusError {
    url: String,
    reason: String,
}

/// What travels on the bus for one event: its `seq`, scope keys and frame text.
#[derive(Serialize, Deserialize)]
struct Envelope {
    seq: i64,
    scope: Vec<String>,
    text: String,
}

/// A replica's connection to the stream.
#[derive(Clone)]
pub struct Bus {
    js: jetstream::Context,
    stream: String,
    subject: String,
}

impl Bus {
    /// Connects to NATS at `url` and makes sure the stream `stream` exists. The client
    /// reconnects by itself whenever the server goes away later.
    pub async fn connect(url: &str, stream: &str) -> Result<Bus, BusError> {
        let err = |reason: String| BusError {
            url: url.to_string(),
            reason,
        };
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(CONNECT_TIMEOUT)
            .max_reconnects(None)
            .connect(url)
            .await
            .map_err(|e| err(e.to_string()))?;
        let bus = Bus {
            js: jetstream::new(client),
            stream: stream.to_string(),
            subject: format!("{stream}.events"),
        };
        tokio::time::timeout(CONNECT_TIMEOUT, bus.ensure_stream())
            .await
            .map_err(|_| err("JetStream did not answer".into()))?
            .map_err(|e| err(format!("creating stream {stream}: {e}")))?;
        Ok(bus)
    }

    async fn ensure_stream(&self) -> Result<stream::Stream, jetstream::context::CreateStreamError> {
        self.js
            .get_or_create_stream(stream::Config {
                name: self.stream.clone(),
                subjects: vec![self.subject.clone()],
                // A replica that republishes an event within this window (a retried publish)
                // is deduplicated by the event's seq.
                duplicate_window: Duration::from_secs(120),
                // The store is the truth and fills gaps: the stream holds only the recent past.
                max_age: Duration::from_secs(3600),
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
    }

    /// Publishes a committed event; waits for the stream's acknowledgement in the background
    /// and only logs a failure (the other replicas find the event in the store).
    pub fn publish(&self, frame: &Frame) {
        let Some(seq) = frame.seq else { return };
        let envelope = Envelope {
            seq,
            scope: frame
                .scope
                .as_deref()
                .map(<[String]>::to_vec)
                .unwrap_or_default(),
            text: frame.text.as_str().to_string(),
        };
        let Ok(payload) = serde_json::to_vec(&envelope) else {
            return;
        };
        let bus = self.clone();
        tokio::spawn(async move {
            let publish = jetstream::message::PublishMessage::build()
                .payload(payload.into())
                .message_id(seq.to_string());
            let sent = tokio::time::timeout(ACK_TIMEOUT, async {
                bus.js
                    .send_publish(bus.subject.clone(), publish)
                    .await?
                    .await
            })
            .await;
            match sent {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(seq, "bus: publishing failed: {e}"),
                Err(_) => tracing::warn!(seq, "bus: no acknowledgement in time"),
            }
        });
    }

    /// Consumes the stream for as long as the replica runs, handing every event to `feed`.
    /// Whenever the consumer is (re)made, the feed first catches up from the store, so what
    /// went by while the bus was away is not missed.
    pub fn spawn_consumer(&self, feed: Feed) -> tokio::task::JoinHandle<()> {
        let bus = self.clone();
        tokio::spawn(async move {
            loop {
                match bus.consume(&feed).await {
                    Ok(()) => tracing::warn!("bus: the stream ended; consuming again"),
                    Err(e) => tracing::warn!("bus: {e}; trying again in 1 s"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    async fn consume(&self, feed: &Feed) -> Result<(), async_nats::Error> {
        let stream = self.ensure_stream().await?;
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::New,
                filter_subject: self.subject.clone(),
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        if let Err(e) = feed.catch_up().await {
            tracing::warn!("bus: catching up from the store failed: {e}");
        }
        while let Some(message) = messages.next().await {
            let message = message?;
            match serde_json::from_slice::<Envelope>(&message.payload) {
                Ok(e) => {
                    let frame = Frame::event(e.seq, Utf8Bytes::from(e.text), e.scope);
                    feed.deliver(e.seq, frame).await;
                }
                Err(e) => tracing::warn!("bus: a message that is not an event: {e}"),
            }
        }
        Ok(())
    }

    /// Deletes the stream (for tests that made their own).
    pub async fn delete_stream(&self) -> Result<(), async_nats::Error> {
        self.js.delete_stream(&self.stream).await?;
        Ok(())
    }
}
