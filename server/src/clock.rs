//! The one source of "now": the system clock in production, a controllable one in tests.
//! Session expiry, login throttling (and later deadlines, escalation, retention) read it, so a
//! test moves time instead of sleeping.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: a manual clock that only moves when told to.
    manual: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.manual {
            None => f.write_str("Clock(system)"),
            Some(_) => write!(f, "Clock(manual at {})", self.now()),
        }
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands at `at` until [`Clock::advance`] or [`Clock::set`] moves it.
    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock {
            manual: Some(Arc::new(Mutex::new(at))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
            Some(at) => *at.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Moves a manual clock forward (the system clock ignores this).
    pub fn advance(&self, by: Duration) {
        if let Some(at) = &self.manual {
            let mut at = at.lock().unwrap_or_else(|p| p.into_inner());
            *at += by;
        }
    }

    /// Sets a manual clock (the system clock ignores this).
    pub fn set(&self, to: DateTime<Utc>) {
        if let Some(at) = &self.manual {
            *at.lock().unwrap_or_else(|p| p.into_inner()) = to;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = Utc::now() - Duration::days(3);
        let clock = Clock::manual(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::hours(8));
        assert_eq!(clock.now(), start + Duration::hours(8));
        let copy = clock.clone();
        copy.set(start);
        assert_eq!(clock.now(), start, "clones share the time");
        assert!(Clock::system().now() > start + Duration::days(2));
    }
}
