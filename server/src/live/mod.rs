//! Live events: the [`Feed`] puts committed events in `seq` order and hands them to the
//! [`Hub`], which fans them out to subscribers; the [`Bus`] carries them between replicas; and
//! [`ws`] speaks the WebSocket protocol (`hello`, `incident`, `resync`, `heartbeat`) to browsers.
//!
//! The hub is never the truth: it only carries what the store has committed, each event
//! serialised once and shared by every connection. It knows nothing about SQL or HTTP routing.

mod bus;
mod feed;
#[cfg(test)]
mod fuzz_tests;
mod hub;
pub mod ws;

pub use bus::{Bus, BusError};
pub use feed::{incident_frame, Feed};
pub use hub::{Frame, Hub, Subscription};
