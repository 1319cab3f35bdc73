#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! A period lock holds for the whole space: a phone locks March and syncs;
//! a watch that has not pulled the lock yet changes March trips. The change
//! it made after the lock is refused by the relay (422 `period_locked`) and
//! parked on the watch; the one it made before the lock, offline, arrives
//! after it, is applied everywhere and marked in the history and the report.
//! On SQLite and on PostgreSQL, through a real relay.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tacho_core::report::ReportFormat;
use tacho_core::{Core, NewCar, NewEntry};
use tacho_e2e::{BACKENDS, Backend, Relay, TestDb, core};
use tacho_model::api::code;
use tacho_model::clock::ManualClock;
use tacho_model::gps::Ping;
use tacho_model::trip::{Purpose, TripField, TripSource};

const PASSWORD: &str = "correct horse battery";

fn at(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap()
}

async fn drive(core: &Core, clock: &ManualClock, start: DateTime<Utc>) -> String {
    clock.set(start);
    let started = core
        .connect(TripSource::Carplay, Some("Golf".into()))
        .await
        .unwrap();
    let id = started.started[0];
    let pings: Vec<Ping> = (0..250)
        .map(|i| {
            let mut p = Ping::at(
                start + Duration::milliseconds(i * 200),
                52.0 + i as f64 * 0.00002,
                5.0,
            );
            p.accuracy_m = Some(5.0);
            p
        })
        .collect();
    core.ping_batch(pings).await.unwrap();
    clock.set(start + Duration::minutes(5));
    core.end_trip().await.unwrap();
    id.to_string()
}

async fn lock_holds_for_the_space(backend: Backend) {
    let db = TestDb::new(backend).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let phone_clock = Arc::new(ManualClock::new(at(3, 1, 8)));
    let watch_clock = Arc::new(ManualClock::new(at(3, 1, 8)));
    let phone = core(dir.path(), "phone", phone_clock.clone()).await;
    let watch = core(dir.path(), "watch", watch_clock.clone()).await;
    phone
        .signup(&relay.url, "ann@example.org", PASSWORD)
        .await
        .unwrap();
    watch
        .login(&relay.url, "ann@example.org", PASSWORD)
        .await
        .unwrap();
    phone
        .add_car(NewCar {
            name: "Golf".into(),
            plate: "AB-123-C".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let early = drive(&phone, &phone_clock, at(3, 10, 8)).await;
    let later = drive(&phone, &phone_clock, at(3, 20, 8)).await;
    phone.sync_once().await.unwrap();
    watch.sync_once().await.unwrap();

    // April 2: the watch, offline, classifies one March trip at 10:00.
    watch_clock.set(at(4, 2, 10));
    watch
        .classify_trip(&early, Purpose::Private, None)
        .await
        .unwrap();
    let hours = |start: DateTime<Utc>, what: &str| NewEntry {
        description: what.into(),
        start: Some(start),
        stop: Some(start + Duration::hours(1)),
        ..Default::default()
    };
    let early_entry = watch
        .add_entry(hours(at(3, 30, 9), "made before the lock"))
        .await
        .unwrap();
    // At 11:00 the phone locks March and syncs.
    phone_clock.set(at(4, 2, 11));
    assert!(phone.lock_period("2026-03").await.unwrap());
    phone.sync_once().await.unwrap();
    // At 12:00 the watch, still without the lock, reclassifies the other.
    watch_clock.set(at(4, 2, 12));
    watch
        .classify_trip(&later, Purpose::Private, None)
        .await
        .unwrap();
    let later_entry = watch
        .add_entry(hours(at(3, 30, 14), "made after the lock"))
        .await
        .unwrap();

    let report = watch.sync_once().await.unwrap();
    // One classification is a few ops (the purpose, who decided, the history entry): all refused.
    assert!(
        report.parked >= 2,
        "the change made after the lock: {report:?}"
    );
    let parked = watch.parked_ops().await.unwrap();
    assert_eq!(parked.len(), report.parked, "{parked:?}");
    for p in &parked {
        assert_eq!(p.code, code::PERIOD_LOCKED, "{p:?}");
        let on = p.op.entity_id;
        assert!(on.to_string() == later || on == later_entry.id.0, "{p:?}");
        assert!(p.message.contains("2026-03"), "{}", p.message);
    }
    // The entry made after the lock is taken back: it exists on no device.
    let entries_on_watch = watch.entries(Default::default()).await.unwrap();
    assert!(entries_on_watch.iter().all(|e| e.id != later_entry.id));
    // The watch took its refused change back: it shows what the phone shows.
    let later_on_watch = watch.trip(&later).await.unwrap();
    assert_ne!(later_on_watch.trip.purpose, Some(Purpose::Private));
    assert!(
        later_on_watch.history.is_empty(),
        "{:?}",
        later_on_watch.history
    );
    assert_eq!(
        watch.locked_periods().await.unwrap(),
        vec!["2026-03".to_owned()]
    );

    phone.sync_once().await.unwrap();
    // The edit made before the lock is applied, and marked, on the phone.
    let early_on_phone = phone.trip(&early).await.unwrap();
    assert_eq!(early_on_phone.trip.purpose, Some(Purpose::Private));
    let marked: Vec<_> = early_on_phone
        .history
        .iter()
        .filter(|e| e.field == TripField::Purpose)
        .collect();
    assert!(!marked.is_empty(), "{:?}", early_on_phone.history);
    assert!(
        marked
            .iter()
            .all(|e| e.arrived_after_lock.as_deref() == Some("2026-03")),
        "{marked:?}"
    );
    // ... and on the watch that made it, which learnt the order from the log.
    let early_on_watch = watch.trip(&early).await.unwrap();
    assert!(
        early_on_watch
            .history
            .iter()
            .any(|e| e.arrived_after_lock.as_deref() == Some("2026-03")),
        "{:?}",
        early_on_watch.history
    );
    // The change made after the lock never reached the phone.
    let later_on_phone = phone.trip(&later).await.unwrap();
    assert_ne!(later_on_phone.trip.purpose, Some(Purpose::Private));
    assert!(
        later_on_phone.history.is_empty(),
        "{:?}",
        later_on_phone.history
    );

    // The mileage log says the month is locked and which change came late.
    let json = phone
        .mileage_report("Golf", "2026-03", ReportFormat::Json)
        .await
        .unwrap();
    let log: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(log["locked"], serde_json::json!(true), "{log}");
    let late: Vec<_> = log["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "trip")
        .flat_map(|r| r["edits"].as_array().unwrap().iter())
        .filter(|e| e["arrived_after_lock"] == serde_json::json!(true))
        .collect();
    assert!(!late.is_empty(), "{log}");
    let csv = phone
        .mileage_report("Golf", "2026-03", ReportFormat::Csv)
        .await
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains("arrived after the lock"), "{csv}");

    // The timesheet keeps the entry made before the lock and marks it.
    let entries_on_phone = phone.entries(Default::default()).await.unwrap();
    assert!(entries_on_phone.iter().any(|e| e.id == early_entry.id));
    assert!(entries_on_phone.iter().all(|e| e.id != later_entry.id));
    let sheet = phone
        .hours_report("2026-03", ReportFormat::Csv)
        .await
        .unwrap();
    let sheet = String::from_utf8(sheet).unwrap();
    let marked: Vec<&str> = sheet
        .lines()
        .filter(|l| l.contains("arrived after the lock"))
        .collect();
    assert_eq!(marked.len(), 1, "{sheet}");
    assert!(marked[0].contains("made before the lock"), "{sheet}");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_holds_for_a_device_that_has_not_pulled_it_on_sqlite_and_postgres() {
    for backend in BACKENDS {
        lock_holds_for_the_space(backend).await;
    }
}
