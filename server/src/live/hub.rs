//! In-process fan-out. Each subscriber has its own bounded queue; publishing never waits on a
//! subscriber. A subscriber whose queue is full is dropped from the hub and marked as lagged,
//! so its connection can tell the client to resync instead of losing events silently.
//!
//! When several replicas share a bus, the bus feeds [`Hub::publish`] on each replica; nothing
//! else changes.
//!
//! Each frame carries its scope keys beside its bytes, and each subscriber its own key: a
//! frame reaches a subscriber only when the subscriber sees everything (no key) or the frame
//! carries its key. The bytes are still serialised once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;

/// One committed event, or a notice, serialised once; cloning shares the bytes.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The event's `seq` in the log, by which connections drop what they already replayed;
    /// `None` for a notice that is not an event of the log (always passed on, never replayed).
    pub seq: Option<i64>,
    pub text: Utf8Bytes,
    /// Scope keys of the event; `None` for a notice that every subscriber may see.
    pub scope: Option<Arc<[String]>>,
}

impl Frame {
    /// A committed event of the log, visible to subscribers whose key is among `scope`.
    pub fn event(seq: i64, text: Utf8Bytes, scope: Vec<String>) -> Frame {
        Frame {
            seq: Some(seq),
            text,
            scope: Some(scope.into()),
        }
    }

    /// A notice that is not an event of the log (e.g. `district_changed`), visible to all.
    pub fn notice(text: Utf8Bytes) -> Frame {
        Frame {
            seq: None,
            text,
            scope: None,
        }
    }

    /// True when a subscriber with scope key `key` (`None`: sees everything) may have it.
    pub fn visible_to(&self, key: Option<&str>) -> bool {
        match (key, &self.scope) {
            (None, _) | (_, None) => true,
            (Some(key), Some(keys)) => keys.iter().any(|k| k == key),
        }
    }
}

struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Frame>,
    lagged: Arc<AtomicBool>,
    /// Scope key of the subscriber; `None` sees every frame.
    key: Option<String>,
}

/// Fan-out of committed events to live connections.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    subscribers: Mutex<Vec<Subscriber>>,
    next_id: AtomicU64,
    queue: usize,
}

/// A subscriber's end: frames in publish order until [`Subscription::recv`] returns `None`,
/// which means the hub dropped it ([`Subscription::lagged`] tells whether for falling behind).
pub struct Subscription {
    id: u64,
    rx: mpsc::Receiver<Frame>,
    lagged: Arc<AtomicBool>,
    hub: Hub,
}

impl Hub {
    /// A hub whose subscribers may each have up to `queue` frames waiting.
    pub fn new(queue: usize) -> Hub {
        Hub {
            inner: Arc::new(HubInner {
                subscribers: Mutex::new(Vec::new()),
                next_id: AtomicU64::new(1),
                queue: queue.max(1),
            }),
        }
    }

    /// Subscribes to the frames visible with scope key `key` (`None`: every frame).
    pub fn subscribe(&self, key: Option<String>) -> Subscription {
        let (tx, rx) = mpsc::channel(self.inner.queue);
        let lagged = Arc::new(AtomicBool::new(false));
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().push(Subscriber {
            id,
            tx,
            lagged: lagged.clone(),
            key,
        });
        Subscription {
            id,
            rx,
            lagged,
            hub: self.clone(),
        }
    }

    /// Hands a committed event to every subscriber that may see it, without waiting on any.
    pub fn publish(&self, frame: Frame) {
        let mut subscribers = self.lock();
        subscribers.retain(|s| {
            if !frame.visible_to(s.key.as_deref()) {
                return !s.tx.is_closed();
            }
            match s.tx.try_send(frame.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    s.lagged.store(true, Ordering::Release);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    pub fn subscriber_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber>> {
        // A panic while holding this lock cannot leave the Vec inconsistent; carry on.
        self.inner
            .subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Subscription {
    /// The next frame, or `None` once the hub has dropped this subscriber.
    pub async fn recv(&mut self) -> Option<Frame> {
        self.rx.recv().await
    }

    /// A frame already waiting, if any.
    pub fn try_recv(&mut self) -> Option<Frame> {
        self.rx.try_recv().ok()
    }

    /// True once the hub dropped this subscriber because its queue was full.
    pub fn lagged(&self) -> bool {
        self.lagged.load(Ordering::Acquire)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let id = self.id;
        self.hub.lock().retain(|s| s.id != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: i64) -> Frame {
        Frame::event(
            seq,
            Utf8Bytes::from(format!("{{\"seq\":{seq}}}")),
            vec!["j:a".to_string()],
        )
    }

    #[tokio::test]
    async fn a_scoped_subscriber_gets_only_frames_carrying_its_key_and_every_notice() {
        let hub = Hub::new(8);
        let mut a = hub.subscribe(Some("j:a".into()));
        let mut b = hub.subscribe(Some("j:b".into()));
        let mut all = hub.subscribe(None);
        hub.publish(frame(1));
        hub.publish(Frame::event(
            2,
            Utf8Bytes::from_static("{}"),
            vec!["j:b".into(), "d:water".into()],
        ));
        hub.publish(Frame::notice(Utf8Bytes::from_static("{}")));
        assert_eq!(a.recv().await.and_then(|f| f.seq), Some(1));
        assert_eq!(a.recv().await.map(|f| f.seq), Some(None), "the notice");
        assert_eq!(b.recv().await.and_then(|f| f.seq), Some(2));
        assert_eq!(b.recv().await.map(|f| f.seq), Some(None));
        for seq in [Some(1), Some(2), None] {
            assert_eq!(all.recv().await.map(|f| f.seq), Some(seq));
        }
        assert!(a.try_recv().is_none() && b.try_recv().is_none());
    }

    #[tokio::test]
    async fn a_full_queue_drops_only_that_subscriber_and_marks_it_lagged() {
        let hub = Hub::new(2);
        let mut slow = hub.subscribe(None);
        let mut fast = hub.subscribe(None);
        for seq in 1..=3 {
            hub.publish(frame(seq));
            assert_eq!(fast.recv().await.and_then(|f| f.seq), Some(seq));
        }
        // `slow` took 1 and 2, then overflowed on 3: it is dropped, told, and the rest go on.
        assert_eq!(slow.recv().await.and_then(|f| f.seq), Some(1));
        assert_eq!(slow.recv().await.and_then(|f| f.seq), Some(2));
        assert!(slow.recv().await.is_none(), "dropped after overflowing");
        assert!(slow.lagged());
        assert!(!fast.lagged());
        assert_eq!(hub.subscriber_count(), 1);
        hub.publish(frame(4));
        assert_eq!(fast.recv().await.and_then(|f| f.seq), Some(4));
    }

    #[tokio::test]
    async fn dropping_a_subscription_unsubscribes() {
        let hub = Hub::new(4);
        let s = hub.subscribe(None);
        assert_eq!(hub.subscriber_count(), 1);
        drop(s);
        assert_eq!(hub.subscriber_count(), 0);
    }
}
