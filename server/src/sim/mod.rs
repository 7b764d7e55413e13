//! The demo district and the live simulator: a deterministic generator of a Chancheng-like
//! district (same seed, same district) and a task that reports incidents at a lifelike pace and
//! moves them through their statuses. The simulator goes through the incident service like any
//! client; it knows nothing about SQL or HTTP.

pub mod district_gen;
mod simulator;

pub use simulator::{spawn_simulator, SimOptions};
