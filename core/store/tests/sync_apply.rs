#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Two local stores exchanging ops directly (no relay): the store applies
//! pulled ops through the shared merge rules and both sides converge.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use tacho_model::car::Car;
use tacho_model::clock::ManualClock;
use tacho_model::id::{CarId, EntryId, TripId};
use tacho_model::op::Op;
use tacho_model::trip::{Trip, TripField, TripSource, TripState};
use tacho_model::work::{EntrySource, TimeEntry};
use tacho_store::{Store, TripPoint};

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

fn store(clock: Arc<ManualClock>) -> Store {
    Store::open_in_memory(clock).unwrap()
}

/// Everything `from` has that `to` has not seen, applied to `to`.
fn exchange(from: &Store, to: &mut Store) -> usize {
    let ops: Vec<Op> = from
        .outbox(0, 100_000)
        .unwrap()
        .into_iter()
        .map(|e| e.op)
        .collect();
    let n = ops.len();
    let applied = to.write(|w| w.apply_remote(&ops, n as u64)).unwrap();
    applied.changed
}

fn trip(car: CarId) -> Trip {
    Trip {
        id: TripId::new(),
        car_id: Some(car),
        state: TripState::Ended,
        source: TripSource::Manual,
        car_hint: None,
        started_at: t0() - Duration::hours(2),
        ended_at: Some(t0() - Duration::hours(1)),
        time_zone: "Europe/Amsterdam".into(),
        start: None,
        end: None,
        start_address: None,
        end_address: None,
        start_place: None,
        end_place: None,
        distance_m: 1_000.0,
        point_count: 2,
        purpose: None,
        purpose_by: None,
        business_partner: None,
        note: None,
        recovered: false,
    }
}

#[test]
fn entities_points_and_history_cross_over_and_concurrent_edits_converge() {
    let clock_a = Arc::new(ManualClock::new(t0()));
    let clock_b = Arc::new(ManualClock::new(t0()));
    let mut a = store(clock_a.clone());
    let mut b = store(clock_b.clone());
    let car = Car {
        id: CarId::new(),
        name: "Golf".into(),
        make: None,
        model: None,
        plate: "AB-1".into(),
        available_from: None,
        available_to: None,
        connect_hint: None,
        retired: false,
    };
    let trip = trip(car.id);
    a.write(|w| {
        w.add_car(&car)?;
        w.insert_trip(&trip)?;
        for seq in 0..2 {
            let mut ping = tacho_model::gps::Ping::at(
                trip.started_at + Duration::seconds(i64::from(seq)),
                52.0,
                5.0 + f64::from(seq) * 0.001,
            );
            ping.accuracy_m = Some(4.0);
            w.insert_point(
                trip.id,
                &TripPoint {
                    seq,
                    ping,
                    counted: true,
                },
            )?;
        }
        w.record_point_chunk(trip.id, 0, 1)
    })
    .unwrap();
    assert!(exchange(&a, &mut b) > 0);
    assert_eq!(b.cars().unwrap()[0].plate, "AB-1");
    assert_eq!(b.trip(trip.id).unwrap().distance_m, 1_000.0);
    assert_eq!(b.trip_points(trip.id).unwrap().len(), 2);

    // Both edit the note offline; B's edit is later and must win everywhere.
    a.write(|w| w.edit_trip(trip.id, TripField::Note, Some("from A".into())))
        .unwrap();
    clock_b.set(t0() + Duration::seconds(5));
    b.write(|w| w.edit_trip(trip.id, TripField::Note, Some("from B".into())))
        .unwrap();
    exchange(&a, &mut b);
    exchange(&b, &mut a);
    assert_eq!(a.trip(trip.id).unwrap().note.as_deref(), Some("from B"));
    assert_eq!(b.trip(trip.id).unwrap().note.as_deref(), Some("from B"));
    // Both devices' edits are in both histories.
    assert_eq!(a.trip_edits(trip.id).unwrap().len(), 2);
    assert_eq!(b.trip_edits(trip.id).unwrap().len(), 2);

    // Re-applying everything changes nothing (idempotent replay).
    assert_eq!(exchange(&a, &mut b), 0);
    assert_eq!(exchange(&b, &mut a), 0);
    assert_eq!(b.trip_points(trip.id).unwrap().len(), 2);

    // A discard (tombstone) is not undone by a later ordinary edit.
    a.write(|w| w.discard_trip(trip.id)).unwrap();
    clock_b.set(t0() + Duration::seconds(30));
    b.write(|w| w.edit_trip(trip.id, TripField::BusinessPartner, Some("ACME".into())))
        .unwrap();
    exchange(&a, &mut b);
    exchange(&b, &mut a);
    assert_eq!(a.trip(trip.id).unwrap().state, TripState::Discarded);
    assert_eq!(b.trip(trip.id).unwrap().state, TripState::Discarded);
}

#[test]
fn two_timers_started_offline_leave_the_later_one_running_on_both() {
    let clock_a = Arc::new(ManualClock::new(t0()));
    let clock_b = Arc::new(ManualClock::new(t0()));
    let mut a = store(clock_a);
    let mut b = store(clock_b);
    let entry = |start| TimeEntry {
        id: EntryId::new(),
        project_id: None,
        description: String::new(),
        start,
        stop: None,
        tags: vec![],
        billable: false,
        source: EntrySource::Timer,
        trip_id: None,
    };
    let early = entry(t0());
    let late = entry(t0() + Duration::minutes(10));
    a.write(|w| w.add_entry(&early)).unwrap();
    b.write(|w| w.add_entry(&late)).unwrap();
    exchange(&a, &mut b);
    exchange(&b, &mut a);
    for s in [&a, &b] {
        let running = s.running_entry().unwrap().unwrap();
        assert_eq!(running.id, late.id);
        let loser = s.entry(early.id).unwrap();
        assert_eq!(
            loser.stop,
            Some(late.start),
            "the loser stops at the winner's start"
        );
    }
}

fn ops_of(store: &Store) -> Vec<Op> {
    store
        .outbox(0, 100_000)
        .unwrap()
        .into_iter()
        .map(|e| e.op)
        .collect()
}

/// The period-lock rule as a replica applies the relay's log: a lock counts
/// from its place in the log on; a change stamped before it that comes after
/// it is kept and marked; one stamped after it is not applied. A lock made
/// locally and not yet in the log does not count against pulled ops.
#[test]
fn locks_count_from_their_place_in_the_log() {
    let clock_a = Arc::new(ManualClock::new(t0()));
    let clock_b = Arc::new(ManualClock::new(t0()));
    let mut a = store(clock_a.clone());
    let mut b = store(clock_b.clone());
    let car = Car {
        id: CarId::new(),
        name: "Golf".into(),
        make: None,
        model: None,
        plate: "AB-1".into(),
        available_from: None,
        available_to: None,
        connect_hint: None,
        retired: false,
    };
    let trip = trip(car.id);
    a.write(|w| {
        w.add_car(&car)?;
        w.insert_trip(&trip)
    })
    .unwrap();
    exchange(&a, &mut b);
    let april = |h| Utc.with_ymd_and_hms(2026, 4, 2, h, 0, 0).unwrap();
    clock_b.set(april(10));
    b.write(|w| w.edit_trip(trip.id, TripField::Note, Some("before the lock".into())))
        .unwrap();
    clock_a.set(april(11));
    assert!(a.write(|w| w.lock_period("2026-03")).unwrap());
    clock_b.set(april(12));
    b.write(|w| w.edit_trip(trip.id, TripField::Purpose, Some("private".into())))
        .unwrap();

    // A fresh replica reads the log: A's ops (the lock among them), then B's.
    let mut c = store(Arc::new(ManualClock::new(april(13))));
    let mut log = ops_of(&a);
    log.extend(ops_of(&b));
    let applied = c.write(|w| w.apply_remote(&log, log.len() as u64)).unwrap();
    let on_c = c.trip(trip.id).unwrap();
    assert_eq!(on_c.note.as_deref(), Some("before the lock"));
    assert_eq!(
        on_c.purpose, None,
        "the change made after the lock is not applied"
    );
    assert!(
        applied.invalid >= 2,
        "the purpose ops and their history entry: {applied:?}"
    );
    let history = c.trip_edits(trip.id).unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].field, TripField::Note);
    assert_eq!(history[0].arrived_after_lock.as_deref(), Some("2026-03"));

    // A's own lock is not in the log yet: B's ops came before it and count in full.
    let b_ops = ops_of(&b);
    a.write(|w| w.apply_remote(&b_ops, 99)).unwrap();
    let on_a = a.trip(trip.id).unwrap();
    assert_eq!(on_a.note.as_deref(), Some("before the lock"));
    assert_eq!(on_a.purpose.map(|p| p.as_str()), Some("private"));
    assert!(
        a.trip_edits(trip.id)
            .unwrap()
            .iter()
            .all(|e| e.arrived_after_lock.is_none())
    );
}
