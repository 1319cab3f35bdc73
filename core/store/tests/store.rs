#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use tacho_model::car::{Car, TripEnd};
use tacho_model::clock::ManualClock;
use tacho_model::id::{CarId, EntryId, ProjectId, TripId};
use tacho_model::op::{EntityKind, OpKind};
use tacho_model::trip::{Trip, TripField, TripSource, TripState};
use tacho_model::work::{EntrySource, Project, Rounding, TimeEntry};
use tacho_store::{Store, StoreError, TripFilter, schema_fingerprint};

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap(),
    ))
}

fn car(name: &str, plate: &str) -> Car {
    Car {
        id: CarId::new(),
        name: name.into(),
        make: Some("Skoda".into()),
        model: Some("Octavia".into()),
        plate: plate.into(),
        available_from: None,
        available_to: None,
        connect_hint: None,
        retired: false,
    }
}

fn trip(state: TripState, car: Option<CarId>) -> Trip {
    Trip {
        id: TripId::new(),
        car_id: car,
        state,
        source: TripSource::Manual,
        car_hint: None,
        started_at: Utc.with_ymd_and_hms(2026, 3, 9, 8, 0, 0).unwrap(),
        ended_at: (state == TripState::Ended)
            .then(|| Utc.with_ymd_and_hms(2026, 3, 9, 8, 30, 0).unwrap()),
        time_zone: "Europe/Amsterdam".into(),
        start: None,
        end: None,
        start_address: None,
        end_address: None,
        start_place: None,
        end_place: None,
        distance_m: 12_345.0,
        point_count: 0,
        purpose: None,
        purpose_by: None,
        business_partner: None,
        note: None,
        recovered: false,
    }
}

#[test]
fn a_database_migrated_from_the_first_schema_equals_a_fresh_one() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&old).unwrap();
        tacho_store::migrate_partially(&conn, 1).unwrap();
        conn.execute(
            "INSERT INTO car (id, name, plate) VALUES (?1, 'Golf', 'AB-123-C')",
            [CarId::new().to_string()],
        )
        .unwrap();
    }
    let migrated = Store::open(&old, clock()).unwrap();
    let fresh = Store::open(dir.path().join("fresh.db"), clock()).unwrap();
    let a = schema_fingerprint(&rusqlite::Connection::open(&old).unwrap()).unwrap();
    let b = schema_fingerprint(&rusqlite::Connection::open(fresh.path()).unwrap()).unwrap();
    assert!(a.len() > 20, "fingerprint covers the schema: {a:?}");
    assert_eq!(a, b);
    assert_eq!(
        migrated.cars().unwrap()[0].name,
        "Golf",
        "data survives the migration"
    );
}

#[test]
fn the_fingerprint_notices_a_schema_difference() {
    let a = rusqlite::Connection::open_in_memory().unwrap();
    tacho_store::migrate_partially(&a, 1).unwrap();
    let b = rusqlite::Connection::open_in_memory().unwrap();
    tacho_store::migrate_partially(&b, 2).unwrap();
    assert_ne!(
        schema_fingerprint(&a).unwrap(),
        schema_fingerprint(&b).unwrap()
    );
}

#[test]
fn a_corrupt_file_is_quarantined_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tacho.db");
    let garbage =
        b"this is not an sqlite database, just some bytes that used to be one".repeat(100);
    std::fs::write(&path, &garbage).unwrap();
    let err = Store::open(&path, clock()).unwrap_err();
    let StoreError::Corrupt { quarantined, .. } = &err else {
        panic!("expected Corrupt, got {err:?}");
    };
    assert!(err.to_string().contains("moved aside"));
    assert!(!path.exists());
    assert_eq!(
        std::fs::read(quarantined).unwrap(),
        garbage,
        "kept byte for byte"
    );
    let store = Store::open(&path, clock()).unwrap();
    assert!(store.cars().unwrap().is_empty());
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tacho.db");
    drop(Store::open(&path, clock()).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Store::open(&path, clock()).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 99, .. }),
        "{err:?}"
    );
    assert!(path.exists());
}

#[test]
fn wal_mode_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("t.db"), clock()).unwrap();
    let mode: String = rusqlite::Connection::open(store.path())
        .unwrap()
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn every_write_leaves_one_gap_free_op_and_failed_writes_leave_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut store = Store::open(&path, clock()).unwrap();
    let golf = car("Golf", "AB-123-C");
    store.write(|w| w.add_car(&golf)).unwrap();
    let dup = store.write(|w| w.add_car(&car("golf", "XX-1")));
    assert!(matches!(dup, Err(StoreError::Conflict { .. })));
    // A write that fails half-way rolls back its first half too.
    let half = store.write(|w| {
        w.add_car(&car("Polo", "PO-1"))?;
        w.add_car(&car("", ""))
    });
    assert!(matches!(half, Err(StoreError::Invalid { .. })));
    assert_eq!(store.cars().unwrap().len(), 1);
    drop(store);
    let mut store = Store::open(&path, clock()).unwrap();
    store.write(|w| w.add_car(&car("Polo", "PO-1"))).unwrap();
    let ops = store.outbox(0, 100).unwrap();
    let seqs: Vec<u64> = ops.iter().map(|e| e.op.device_seq).collect();
    assert_eq!(
        seqs,
        vec![1, 2],
        "gap-free across a failed write and a reopen"
    );
    assert!(ops[0].op.hlc < ops[1].op.hlc);
    assert_eq!(ops[0].op.entity, EntityKind::Car);
    assert_eq!(ops[0].op.entity_id, golf.id.0);
    let OpKind::Upsert { fields } = &ops[0].op.kind else {
        panic!()
    };
    assert_eq!(fields["plate"], "AB-123-C");
    assert_eq!(ops[0].op.device, store.device());
}

#[test]
fn edits_to_ended_trips_are_kept_as_history_and_locked_months_refuse_edits() {
    let clock = clock();
    let mut store = Store::open_in_memory(clock.clone()).unwrap();
    let tick = {
        let clock = clock.clone();
        let mut at = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        move || {
            at += chrono::Duration::seconds(1);
            clock.set(at);
        }
    };
    let mut tick = tick;
    let golf = car("Golf", "AB-123-C");
    let ended = trip(TripState::Ended, Some(golf.id));
    let active = trip(TripState::Active, Some(golf.id));
    store
        .write(|w| {
            w.add_car(&golf)?;
            w.insert_trip(&ended)?;
            w.insert_trip(&active)
        })
        .unwrap();
    tick();
    assert!(
        store
            .write(|w| w.edit_trip(ended.id, TripField::Purpose, Some("business".into())))
            .unwrap()
    );
    tick();
    store
        .write(|w| w.edit_trip(ended.id, TripField::BusinessPartner, Some("ACME".into())))
        .unwrap();
    store
        .write(|w| w.edit_trip(active.id, TripField::Note, Some("hi".into())))
        .unwrap();
    tick();
    store
        .write(|w| w.set_trip_odometer(ended.id, TripEnd::End, 100_500))
        .unwrap();
    let bad = store.write(|w| w.edit_trip(ended.id, TripField::Purpose, Some("holiday".into())));
    assert!(matches!(bad, Err(StoreError::Invalid { .. })));

    let history = store.trip_edits(ended.id).unwrap();
    let fields: Vec<_> = history.iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        [
            TripField::Purpose,
            TripField::BusinessPartner,
            TripField::OdometerEnd
        ]
    );
    assert_eq!(history[0].old_value, None);
    assert_eq!(history[0].new_value.as_deref(), Some("business"));
    assert_eq!(history[2].new_value.as_deref(), Some("100.5 km"));
    assert!(
        store.trip_edits(active.id).unwrap().is_empty(),
        "active trips have no history yet"
    );
    let t = store.trip(ended.id).unwrap();
    assert_eq!(t.purpose, Some(tacho_model::trip::Purpose::Business));
    assert_eq!(t.purpose_by, Some(tacho_model::trip::Decider::User));

    // Active trip must be ended before its month can be locked.
    let refused = store.write(|w| w.lock_period("2026-03"));
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );
    store.write(|w| w.discard_trip(active.id)).unwrap();
    assert!(store.write(|w| w.lock_period("2026-03")).unwrap());
    assert!(
        !store.write(|w| w.lock_period("2026-03")).unwrap(),
        "idempotent"
    );
    assert!(matches!(
        store.write(|w| w.lock_period("2026-13")),
        Err(StoreError::Invalid { .. })
    ));
    let err = store
        .write(|w| w.edit_trip(ended.id, TripField::Note, Some("late change".into())))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Locked { month } if month == "2026-03"),
        "{err:?}"
    );
    assert!(err.to_string().contains("2026-03 is locked"));
    assert_eq!(store.trip(ended.id).unwrap().note, None, "nothing changed");
    assert_eq!(store.trip_edits(ended.id).unwrap().len(), 3);
}

#[test]
fn at_most_one_timer_runs_and_stop_before_start_is_refused() {
    let mut store = Store::open_in_memory(clock()).unwrap();
    let project = Project {
        id: ProjectId::new(),
        name: "Support".into(),
        client: Some("ACME".into()),
        billable: true,
        rounding: Rounding::Up(15),
        archived: false,
    };
    store.write(|w| w.add_project(&project)).unwrap();
    let t = |h| Utc.with_ymd_and_hms(2026, 3, 10, h, 0, 0).unwrap();
    let entry = |start, stop| TimeEntry {
        id: EntryId::new(),
        project_id: Some(project.id),
        description: "work".into(),
        start,
        stop,
        tags: vec!["onsite".into()],
        billable: true,
        source: EntrySource::Manual,
        trip_id: None,
    };
    store.write(|w| w.add_entry(&entry(t(9), None))).unwrap();
    let second = store.write(|w| w.add_entry(&entry(t(10), None)));
    assert!(matches!(second, Err(StoreError::Conflict { .. })));
    let backwards = store.write(|w| w.add_entry(&entry(t(11), Some(t(10)))));
    assert!(matches!(backwards, Err(StoreError::Invalid { .. })));
    let stopped = store.write(|w| w.stop_timer(t(11))).unwrap().unwrap();
    assert_eq!(stopped.stop, Some(t(11)));
    assert!(store.running_entry().unwrap().is_none());
    let all = store.entries(&Default::default()).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].tags, ["onsite"]);
}

#[test]
fn trips_list_by_filter_and_resolve_by_prefix() {
    let mut store = Store::open_in_memory(clock()).unwrap();
    let a = trip(TripState::Ended, None);
    let mut b = trip(TripState::Ended, None);
    b.started_at += chrono::Duration::hours(2);
    b.ended_at = b.ended_at.map(|t| t + chrono::Duration::hours(2));
    store
        .write(|w| {
            w.insert_trip(&a)?;
            w.insert_trip(&b)
        })
        .unwrap();
    let all = store.trips(&TripFilter::default()).unwrap();
    assert_eq!(all.iter().map(|t| t.id).collect::<Vec<_>>(), [a.id, b.id]);
    let newest = store
        .trips(&TripFilter {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(newest[0].id, b.id);
    let full = b.id.to_string();
    assert_eq!(store.find_trip(&full).unwrap().id, b.id);
    assert!(matches!(
        store.find_trip("zz"),
        Err(StoreError::NotFound { .. })
    ));
}

/// Found by the convergence property: a note set, cleared, set and cleared
/// again within one millisecond gave two edits the same identity and the
/// fourth write failed on the `trip_edit_once` index.
#[test]
fn the_same_value_twice_within_a_millisecond_is_two_edits() {
    let clock = clock();
    let mut store = Store::open_in_memory(clock.clone()).unwrap();
    let ended = trip(TripState::Ended, None);
    store.write(|w| w.insert_trip(&ended)).unwrap();
    for value in [Some("a"), None, Some("b"), None] {
        assert!(
            store
                .write(|w| w.edit_trip(ended.id, TripField::Note, value.map(String::from)))
                .unwrap()
        );
    }
    let history = store.trip_edits(ended.id).unwrap();
    let values: Vec<_> = history.iter().map(|e| e.new_value.as_deref()).collect();
    assert_eq!(values, [Some("a"), None, Some("b"), None]);
    let times: Vec<_> = history.iter().map(|e| e.at).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    assert_eq!(
        times[0],
        Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
    );
    assert_eq!(
        store.trip(ended.id).unwrap().note,
        None,
        "the last edit wins"
    );
}
