//! The clock seam: the model never reads the system clock, callers inject one
//! so tests (and replays) are deterministic.

use chrono::{DateTime, Utc};

/// A source of "now".
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A settable clock for tests and imports.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::Mutex<Option<DateTime<Utc>>>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(Some(at)))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some(at);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().ok().and_then(|g| *g).unwrap_or_else(Utc::now)
    }
}
