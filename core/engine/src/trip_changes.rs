//! Restore, merge and split of trips (discard is in `lib.rs`): each a store transaction of
//! ordinary ops that converge on every device (docs/adr/0013-trip-merge-split-as-ops.md),
//! refused with [`CoreError::LockedPeriod`] for a trip in a locked month.

use std::collections::BTreeMap;

use tacho_model::id::TripId;
use tacho_model::lineage::TripStatus;
use tacho_store::SplitAt;

use crate::{Core, CoreError, CoreEvent, Result, TripDetail};

impl Core {
    /// Brings a discarded trip back into totals; the restore is kept in its history.
    /// Returns the trip, and whether it was discarded at all.
    pub async fn restore_trip(&self, key: &str) -> Result<(TripDetail, bool)> {
        let (id, changed) = self.with_store(|inner| {
            let id = inner.store.find_trip(key)?.id;
            let changed = inner.store.write(|w| w.restore_trip(id))?;
            Ok((id, changed))
        })?;
        self.emit(CoreEvent::TripChanged { trip: id });
        Ok((self.trip(&id.to_string()).await?, changed))
    }

    /// Merges two consecutive ended trips of the same car into one (points by reference,
    /// distance added up, odometer start of the first and end of the second); the originals
    /// stay as merged-into, out of totals. Returns the merged trip.
    pub async fn merge_trips(&self, first: &str, second: &str) -> Result<TripDetail> {
        let id = self.with_store(|inner| {
            let a = inner.store.find_trip(first)?.id;
            let b = inner.store.find_trip(second)?.id;
            self.ensure_not_recording(inner, &[a, b])?;
            Ok(inner.store.write(|w| w.merge_trips(a, b))?)
        })?;
        self.emit(CoreEvent::TripChanged { trip: id });
        self.trip(&id.to_string()).await
    }

    /// Splits an ended trip in two at an instant or at its longest stop; the trip stays as
    /// split-into, out of totals. Returns the two parts, in time order.
    pub async fn split_trip(&self, key: &str, at: SplitAt) -> Result<(TripDetail, TripDetail)> {
        let (first, second) = self.with_store(|inner| {
            let id = inner.store.find_trip(key)?.id;
            self.ensure_not_recording(inner, &[id])?;
            Ok(inner.store.write(|w| w.split_trip(id, at))?)
        })?;
        self.emit(CoreEvent::TripChanged { trip: first });
        self.emit(CoreEvent::TripChanged { trip: second });
        Ok((
            self.trip(&first.to_string()).await?,
            self.trip(&second.to_string()).await?,
        ))
    }

    /// Whether each trip counts in totals, by id (for `trip list --all`).
    pub async fn trip_statuses(&self) -> Result<BTreeMap<TripId, TripStatus>> {
        self.with_store(|inner| Ok(inner.store.trip_statuses()?))
    }

    fn ensure_not_recording(&self, inner: &crate::Inner, ids: &[TripId]) -> Result<()> {
        match inner.recorder.open_trip() {
            Some(open) if ids.contains(&open) => Err(CoreError::Conflict {
                reason: format!("trip {open} is still being recorded; end it first"),
            }),
            _ => Ok(()),
        }
    }
}
