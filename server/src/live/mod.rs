//! Live events: the [`Hub`] fans committed events out to subscribers, and [`ws`] speaks the
//! WebSocket protocol (`hello`, `incident`, `resync`, `heartbeat`) to browsers.
//!
//! The hub is never the truth: it only carries what the store has committed, each event
//! serialised once and shared by every connection. It knows nothing about SQL or HTTP routing.

#[cfg(test)]
mod fuzz_tests;
mod hub;
pub mod ws;

pub use hub::{Frame, Hub, Subscription};
