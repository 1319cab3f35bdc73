//! Hybrid logical clock: 48-bit wall-clock milliseconds plus a 16-bit counter,
//! ties broken by device id. It orders edits made offline on several devices
//! so that every replica picks the same last writer.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::DeviceId;

/// A hybrid logical timestamp packed as `ms << 16 | counter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Hlc(pub u64);

impl Hlc {
    /// Largest wall-clock value that fits in 48 bits.
    pub const MAX_MS: u64 = (1 << 48) - 1;

    /// Builds a timestamp from its parts; `ms` is clamped to 48 bits.
    pub fn new(ms: u64, counter: u16) -> Self {
        Self((ms.min(Self::MAX_MS) << 16) | u64::from(counter))
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> u64 {
        self.0 >> 16
    }

    /// Logical counter within one millisecond.
    pub fn counter(self) -> u16 {
        (self.0 & 0xffff) as u16
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.millis(), self.counter())
    }
}

/// Total order used by last-writer-wins: the clock first, then the device id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// When the write happened.
    pub hlc: Hlc,
    /// Who wrote it; breaks ties between equal clocks.
    pub device: DeviceId,
}

/// The clock state one device keeps between writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HlcClock {
    last: u64,
}

impl HlcClock {
    /// Resumes a clock from the last timestamp it issued or saw.
    pub fn resume(last: Hlc) -> Self {
        Self { last: last.0 }
    }

    /// The most recent timestamp issued or observed.
    pub fn last(&self) -> Hlc {
        Hlc(self.last)
    }

    /// Issues a timestamp for a local write at wall-clock `now_ms`, strictly
    /// greater than everything issued or observed before.
    pub fn tick(&mut self, now_ms: u64) -> Hlc {
        let wall = Hlc::new(now_ms, 0).0;
        self.last = if wall > self.last {
            wall
        } else {
            self.last.saturating_add(1)
        };
        Hlc(self.last)
    }

    /// Folds in a timestamp received from another device so later local
    /// writes sort after it.
    pub fn observe(&mut self, remote: Hlc) {
        if remote.0 > self.last {
            self.last = remote.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_is_strictly_monotonic_even_when_the_wall_clock_goes_back() {
        let mut clock = HlcClock::default();
        let a = clock.tick(1_000);
        let b = clock.tick(1_000);
        let c = clock.tick(900);
        assert!(a < b && b < c);
        assert_eq!(c.millis(), 1_000);
        assert_eq!(c.counter(), 2);
    }

    #[test]
    fn observing_a_remote_clock_moves_local_writes_after_it() {
        let mut clock = HlcClock::default();
        clock.observe(Hlc::new(5_000, 7));
        let next = clock.tick(1_000);
        assert!(next > Hlc::new(5_000, 7));
    }
}
