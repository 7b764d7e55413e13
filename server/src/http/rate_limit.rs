//! A per-API-key rate limit: a token bucket of `per_minute` requests that refills evenly.
//! Held in memory: a restart forgets spent requests, which only ever lets a client through.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<i64, (f64, DateTime<Utc>)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket; `Err(seconds)` until one is available again.
    pub fn check(&self, key: i64, now: DateTime<Utc>) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets.entry(key).or_insert((self.per_minute, now));
        let elapsed_s = (now - *last).num_milliseconds().max(0) as f64 / 1000.0;
        *tokens = (*tokens + elapsed_s * self.per_minute / 60.0).min(self.per_minute);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) * 60.0 / self.per_minute;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_allowance_then_waits_and_others_are_unaffected() {
        let limiter = RateLimiter::new(3);
        let t = Utc::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(1, t), Ok(()));
        }
        assert_eq!(limiter.check(1, t), Err(20));
        assert_eq!(
            limiter.check(2, t),
            Ok(()),
            "another key has its own bucket"
        );
        assert_eq!(limiter.check(1, t + chrono::Duration::seconds(20)), Ok(()));
        assert!(limiter.check(1, t + chrono::Duration::seconds(20)).is_err());
    }
}
