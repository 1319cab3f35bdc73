//! A foreign clock, for replays and tests: connect, disconnect and timers are
//! stamped with the core's "now", so replaying a recorded drive (or testing a
//! day in a few seconds) needs a clock the caller moves.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Implemented by foreign code that controls time (tests, replays). Apps
/// normally use the system clock by opening `Core` with its main constructor.
#[uniffi::export(foreign)]
pub trait ClockSource: Send + Sync {
    /// Now, in Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// Adapts a [`ClockSource`] to the core's clock seam.
pub(crate) struct ForeignClock(pub(crate) Arc<dyn ClockSource>);

impl std::fmt::Debug for ForeignClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForeignClock")
    }
}

impl tacho_model::clock::Clock for ForeignClock {
    /// The foreign time; an unrepresentable value falls back to the system
    /// clock (with a warning) because the core's clock can't fail.
    fn now(&self) -> DateTime<Utc> {
        let ms = self.0.now_ms();
        match crate::types::instant(ms, "clock time") {
            Ok(at) => at,
            Err(e) => {
                tracing::warn!(error = %e, "the foreign clock returned a bad time; using the system clock");
                Utc::now()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tacho_model::clock::Clock;

    struct Fixed(i64);
    impl ClockSource for Fixed {
        fn now_ms(&self) -> i64 {
            self.0
        }
    }

    #[test]
    fn foreign_time_is_used_and_garbage_falls_back() {
        let at = ForeignClock(Arc::new(Fixed(1_410_324_847_000))).now();
        assert_eq!(at.timestamp_millis(), 1_410_324_847_000);
        let fallback = ForeignClock(Arc::new(Fixed(i64::MIN))).now();
        assert!((fallback - Utc::now()).num_seconds().abs() < 60);
    }
}
