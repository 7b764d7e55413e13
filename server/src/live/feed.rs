//! The one way committed events reach the [`Hub`]: in `seq` order, none skipped, none twice.
//!
//! Events arrive here from several places at once — the request that committed one on this
//! replica, the bus that carries other replicas' commits, the periodic look at the store — and
//! in any order (two requests committed 11 then 12 can call in as 12 then 11). The feed keeps
//! the last `seq` it handed on. An event at or below it is a repeat and is dropped. An event
//! further ahead than the next one means a gap: because every backend gives out `seq` in commit
//! order (see the store), every smaller `seq` is then either committed or never will be, so the
//! gap is read from the store and handed on first. Events of the log that are not incident
//! events (an import, a district load) only move the mark: they have no frame.

use std::sync::Arc;
use std::time::Duration;

use onegrid_app::wire::{Incident, ServerMessage};
use tokio::sync::Mutex;

use super::ws::encode;
use super::{Bus, Frame, Hub};
use crate::store::{Store, StoreError};

/// Events read from the store per query when a gap is filled.
const FILL_BATCH: i64 = 1000;

/// Hands committed events to the hub in `seq` order.
#[derive(Clone)]
pub struct Feed {
    hub: Hub,
    store: Store,
    /// Where this replica's commits are also published for the others, if several run.
    bus: Option<Bus>,
    /// The last `seq` handed on (or known to have no frame).
    last: Arc<Mutex<i64>>,
}

/// The frame of an incident event: its bytes serialised once, with its scope keys.
pub fn incident_frame(seq: i64, incident: &Incident, scope: Vec<String>) -> Frame {
    let msg = ServerMessage::Incident {
        seq,
        incident: Box::new(incident.clone()),
    };
    Frame::event(seq, encode(&msg), scope)
}

impl Feed {
    /// A feed that starts after the newest event already committed.
    pub async fn start(hub: Hub, store: Store, bus: Option<Bus>) -> Result<Feed, StoreError> {
        let last = store.last_seq().await?;
        Ok(Feed {
            hub,
            store,
            bus,
            last: Arc::new(Mutex::new(last)),
        })
    }

    /// An event this replica has just committed: handed on here, and published on the bus
    /// for the other replicas.
    pub async fn committed(&self, frame: Frame) {
        let Some(seq) = frame.seq else {
            self.hub.publish(frame);
            return;
        };
        if let Some(bus) = &self.bus {
            bus.publish(&frame);
        }
        self.deliver(seq, frame).await;
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// The last `seq` handed on.
    pub async fn last(&self) -> i64 {
        *self.last.lock().await
    }

    /// Hands on a committed event with `seq`, after every earlier one it has not had. If the
    /// store cannot be read to fill a gap, the event is held back too (never jumped): the next
    /// delivery or [`Feed::catch_up`] hands both on.
    pub async fn deliver(&self, seq: i64, frame: Frame) {
        let mut last = self.last.lock().await;
        if seq <= *last {
            return;
        }
        if seq > *last + 1 {
            if let Err(e) = self.fill(&mut last, seq - 1).await {
                tracing::warn!(seq, last = *last, "live feed: filling a gap failed: {e}");
                return;
            }
        }
        self.hub.publish(frame);
        *last = seq;
    }

    /// Hands on every event committed since the last one handed on (what another replica, the
    /// command line or a request that ended before it published has committed).
    pub async fn catch_up(&self) -> Result<(), StoreError> {
        let head = self.store.last_seq().await?;
        let mut last = self.last.lock().await;
        if head > *last {
            self.fill(&mut last, head).await?;
        }
        Ok(())
    }

    /// Looks at the store every `interval` and catches up; the safety net under the bus.
    pub fn spawn_catch_up(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let feed = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = feed.catch_up().await {
                    tracing::warn!("live feed: reading the log failed: {e}");
                }
            }
        })
    }

    /// Publishes the incident events in `(*last, upto]` from the store, moving `*last` along.
    async fn fill(&self, last: &mut i64, upto: i64) -> Result<(), StoreError> {
        while *last < upto {
            let events = self
                .store
                .log_after(*last, FILL_BATCH.min(upto - *last))
                .await?;
            let Some(newest) = events.last().map(|e| e.seq) else {
                // Nothing committed in the range (numbers given back by rolled-back writes
                // on a backend that reuses them are never seen as committed here).
                return Ok(());
            };
            for e in events {
                if e.seq > upto {
                    break;
                }
                if let Some(incident) = &e.incident {
                    self.hub.publish(incident_frame(e.seq, incident, e.scope));
                }
                *last = e.seq;
            }
            if newest >= upto {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::TestStore;
    use crate::store::{IncidentDraft, IncidentEvent, Who};
    use onegrid_app::wire::{Analysis, Category};

    async fn report(store: &Store, n: usize) -> IncidentEvent {
        let draft = IncidentDraft {
            category: Category::ALL[0],
            lon: 113.0,
            lat: 23.0,
            description: format!("{n}"),
            reporter: None,
            street_code: "S".into(),
            street_name: "S".into(),
            grid_code: "G".into(),
            grid_name: "G".into(),
            analysis: Analysis::default(),
            scope_keys: vec!["j:G".into()],
            duplicate_of: None,
            dispatch_due_at: None,
            resolve_due_at: None,
        };
        store
            .report_incident(&draft, &Who::system(), chrono::Utc::now())
            .await
            .expect("report")
    }

    fn frame(e: &IncidentEvent) -> Frame {
        incident_frame(e.seq, &e.incident, e.scope.clone())
    }

    async fn seqs(sub: &mut crate::live::Subscription, n: usize) -> Vec<i64> {
        let mut out = Vec::new();
        for _ in 0..n {
            let f = tokio::time::timeout(Duration::from_secs(5), sub.recv())
                .await
                .expect("a frame")
                .expect("subscribed");
            out.push(f.seq.unwrap_or(-1));
        }
        assert!(sub.try_recv().is_none(), "nothing more after {out:?}");
        out
    }

    /// Committed 1, 2, 3, 4 but delivered as 3, 1, 4, 2 (with 2 also arriving twice): the hub
    /// gets 1, 2, 3, 4, each once, the gap filled from the store with the same bytes.
    #[tokio::test]
    async fn events_reach_the_hub_in_seq_order_whatever_order_they_arrive_in() {
        let t = TestStore::new().await.expect("store");
        let hub = Hub::new(64);
        let feed = Feed::start(hub.clone(), t.store.clone(), None)
            .await
            .expect("feed");
        let mut sub = hub.subscribe(Some("j:G".into()));
        let mut events = Vec::new();
        for n in 0..4 {
            events.push(report(&t.store, n).await);
        }
        feed.deliver(events[2].seq, frame(&events[2])).await;
        for i in [0, 3, 1, 1] {
            feed.deliver(events[i].seq, frame(&events[i])).await;
        }
        assert_eq!(seqs(&mut sub, 4).await, [1, 2, 3, 4]);
        // A frame filled from the store is the frame the committer would have sent.
        assert_eq!(feed.last().await, 4);
        let mut all = hub.subscribe(None);
        let e5 = report(&t.store, 5).await;
        let e6 = report(&t.store, 6).await;
        feed.deliver(e6.seq, frame(&e6)).await;
        let got = all.recv().await.expect("frame");
        assert_eq!(got.text, frame(&e5).text);
        t.finish().await;
    }

    /// Events committed elsewhere (another replica, the command line) with no delivery here
    /// reach the hub on the next catch-up; non-incident events only move the mark.
    #[tokio::test]
    async fn catch_up_hands_on_what_others_committed() {
        let t = TestStore::new().await.expect("store");
        let hub = Hub::new(64);
        let feed = Feed::start(hub.clone(), t.store.clone(), None)
            .await
            .expect("feed");
        let mut sub = hub.subscribe(None);
        let other = t.reopen().await.expect("other store");
        report(&other, 1).await;
        other
            .replace_departments(&[], "none", &Who::system())
            .await
            .expect("a non-incident event");
        report(&other, 2).await;
        feed.catch_up().await.expect("catch up");
        assert_eq!(seqs(&mut sub, 2).await, [1, 3]);
        assert_eq!(feed.last().await, 3);
        other.close().await;
        t.finish().await;
    }
}
