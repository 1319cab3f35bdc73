#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Discard, restore, merge and split of trips between a phone and a watch through a real
//! relay, on SQLite and on PostgreSQL: the phone records one drive and the watch the next
//! (two recording devices); the watch merges them, the phone splits the merged trip, the
//! watch discards a part and the phone restores it. Every device shows the same trips,
//! points and history, each change in the history exactly once; no device ever writes the
//! other's points. Then the watch locks the month: the phone's later changes, made before
//! it pulled the lock, are refused by the relay and taken back, and refused on the device
//! once it knows.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use tacho_core::{Core, CoreError, SplitAt};
use tacho_e2e::{BACKENDS, Backend, Relay, TestDb, core};
use tacho_model::clock::ManualClock;
use tacho_model::gps::Ping;
use tacho_model::lineage::TripStatus;
use tacho_model::op::EntityKind;
use tacho_model::trip::{TripField, TripSource};

fn at(day: u32, hour: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, min, 0).unwrap()
}

/// 250 fixes, 200 ms apart, heading north from `lat0`.
async fn drive(core: &Core, clock: &ManualClock, start: DateTime<Utc>, lat0: f64) -> String {
    clock.set(start);
    let id = core
        .connect(TripSource::Carplay, None)
        .await
        .unwrap()
        .started[0];
    let pings: Vec<Ping> = (0..250)
        .map(|i| {
            let mut p = Ping::at(
                start + Duration::milliseconds(i * 200),
                lat0 + i as f64 * 0.00002,
                5.0,
            );
            p.accuracy_m = Some(5.0);
            p
        })
        .collect();
    clock.set(start + Duration::minutes(1));
    core.ping_batch(pings).await.unwrap();
    clock.set(start + Duration::minutes(2));
    core.end_trip().await.unwrap();
    id.to_string()
}

fn fields(s: &DeviceState, key: &str) -> Vec<TripField> {
    s.history[key].iter().map(|e| e.field).collect()
}

async fn status(c: &Core, key: &str) -> TripStatus {
    c.trip(key).await.unwrap().status
}

async fn phone_and_watch(backend: Backend) {
    let db = TestDb::new(backend).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let phone_clock = Arc::new(ManualClock::new(at(2, 8, 0)));
    let watch_clock = Arc::new(ManualClock::new(at(2, 8, 0)));
    let phone = core(dir.path(), "phone", phone_clock.clone()).await;
    let watch = core(dir.path(), "watch", watch_clock.clone()).await;
    let email = email("trips");
    phone.signup(&relay.url, &email, PASSWORD).await.unwrap();
    watch.login(&relay.url, &email, PASSWORD).await.unwrap();

    let a = drive(&phone, &phone_clock, at(2, 8, 0), 52.0).await;
    let b = drive(&watch, &watch_clock, at(2, 8, 30), 52.005).await;
    settle(&[&phone, &watch]).await;
    let (pa, pb) = (
        phone.trip_points(&a).await.unwrap(),
        phone.trip_points(&b).await.unwrap(),
    );
    let (da, db_) = (
        phone.trip(&a).await.unwrap().trip.distance_m,
        phone.trip(&b).await.unwrap().trip.distance_m,
    );

    // The watch merges the phone's drive with its own.
    watch_clock.set(at(2, 9, 0));
    let m = watch.merge_trips(&a, &b).await.unwrap().trip.id.to_string();
    settle(&[&watch, &phone]).await;
    let fixes = |pts: &[tacho_store::TripPoint]| pts.iter().map(|p| p.ping).collect::<Vec<_>>();
    for c in [&phone, &watch] {
        assert_eq!(status(c, &a).await, TripStatus::Replaced);
        assert_eq!(status(c, &b).await, TripStatus::Replaced);
        assert_eq!(status(c, &m).await, TripStatus::Current);
        let merged = c.trip_points(&m).await.unwrap();
        assert_eq!(fixes(&merged), [fixes(&pa), fixes(&pb)].concat());
    }

    // The phone splits it where the watch's drive began.
    phone_clock.set(at(2, 9, 10));
    let (p1, p2) = phone
        .split_trip(&m, SplitAt::Time(pb[0].ping.at))
        .await
        .unwrap();
    let (p1, p2) = (p1.trip.id.to_string(), p2.trip.id.to_string());
    settle(&[&phone, &watch]).await;
    // The watch discards the first part; the phone brings it back.
    watch_clock.set(at(2, 9, 20));
    watch.discard_trip(&p1).await.unwrap();
    settle(&[&watch, &phone]).await;
    assert_eq!(status(&phone, &p1).await, TripStatus::Discarded);
    phone_clock.set(at(2, 9, 30));
    phone.restore_trip(&p1).await.unwrap();
    settle(&[&phone, &watch]).await;

    let (s_phone, s_watch) = (state(&phone).await, state(&watch).await);
    assert_well_formed("phone", &s_phone);
    assert_well_formed("watch", &s_watch);
    assert_same("phone", &s_phone, "watch", &s_watch);
    for s in [&s_phone, &s_watch] {
        use TripField::*;
        assert_eq!(fields(s, &a), vec![MergedInto]);
        assert_eq!(fields(s, &b), vec![MergedInto]);
        assert_eq!(fields(s, &m), vec![MergedFrom, SplitInto]);
        assert_eq!(fields(s, &p1), vec![SplitFrom, Discarded, Discarded]);
        assert_eq!(fields(s, &p2), vec![SplitFrom]);
        assert_eq!(fixes(&s.points[&p1]), fixes(&pa));
        assert_eq!(fixes(&s.points[&p2]), fixes(&pb));
        let distance = |key: &str| {
            s.trips
                .iter()
                .find(|t| t.id.to_string() == key)
                .unwrap()
                .distance_m
        };
        assert!(
            (distance(&p1) - da).abs() / da < 0.001,
            "{} vs {da}",
            distance(&p1)
        );
        assert!(
            (distance(&p2) - db_).abs() / db_ < 0.001,
            "{} vs {db_}",
            distance(&p2)
        );
    }
    // Points travel only from the device that recorded them: nobody wrote points for the
    // merged trip or the parts.
    for c in [&phone, &watch] {
        let own = c.outbox(0, usize::MAX).await.unwrap();
        assert!(
            own.iter()
                .filter(|o| o.entity == EntityKind::TripPoints)
                .all(|o| o.entity_id.to_string()
                    == if c.device().unwrap() == phone.device().unwrap() {
                        a.clone()
                    } else {
                        b.clone()
                    }),
            "a device wrote points of a trip it did not record"
        );
    }

    // The watch locks November; the phone, not having pulled it, discards and splits.
    watch_clock.set(at(3, 10, 0));
    watch.lock_period("2026-11").await.unwrap();
    watch.sync_once().await.unwrap();
    phone_clock.set(at(3, 10, 5));
    phone.discard_trip(&p2).await.unwrap();
    phone
        .split_trip(&p1, SplitAt::Time(pa[100].ping.at))
        .await
        .unwrap();
    settle(&[&phone, &watch]).await;
    let parked = phone.parked_ops().await.unwrap();
    assert!(!parked.is_empty());
    assert!(
        parked.iter().all(|p| p.code == "period_locked"),
        "{parked:?}"
    );
    let (after_phone, after_watch) = (state(&phone).await, state(&watch).await);
    assert_same("phone", &after_phone, "watch", &after_watch);
    assert_eq!(after_phone, s_phone, "taken back: nothing changed");
    // Now the phone knows the lock: refused on the device, with a typed error.
    for r in [
        phone.discard_trip(&p2).await.map(drop),
        phone.restore_trip(&p1).await.map(drop),
        phone.split_trip(&p1, SplitAt::LongestStop).await.map(drop),
        phone.merge_trips(&p1, &p2).await.map(drop),
    ] {
        assert!(
            matches!(&r, Err(CoreError::LockedPeriod { month }) if month == "2026-11"),
            "{r:?}"
        );
    }
    relay.stop().await;
}

/// Offline, the watch merges A+B while the phone merges B+C and edits A. The later claim on B
/// (the phone's) wins on every device: B+C counts, A+B is superseded and A counts again, with
/// the phone's edit, which arrived after the watch's merge, in its history.
async fn concurrent_merges(backend: Backend) {
    let db = TestDb::new(backend).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let phone_clock = Arc::new(ManualClock::new(at(2, 8, 0)));
    let watch_clock = Arc::new(ManualClock::new(at(2, 8, 0)));
    let phone = core(dir.path(), "phone", phone_clock.clone()).await;
    let watch = core(dir.path(), "watch", watch_clock.clone()).await;
    let email = email("merges");
    phone.signup(&relay.url, &email, PASSWORD).await.unwrap();
    watch.login(&relay.url, &email, PASSWORD).await.unwrap();
    let a = drive(&phone, &phone_clock, at(2, 8, 0), 52.0).await;
    let b = drive(&phone, &phone_clock, at(2, 8, 30), 52.01).await;
    let c = drive(&phone, &phone_clock, at(2, 9, 0), 52.02).await;
    settle(&[&phone, &watch]).await;

    watch_clock.set(at(2, 9, 30));
    let ab = watch.merge_trips(&a, &b).await.unwrap().trip.id.to_string();
    phone_clock.set(at(2, 9, 31));
    let bc = phone.merge_trips(&b, &c).await.unwrap().trip.id.to_string();
    phone
        .edit_trip(&a, TripField::Note, Some("fuel stop".into()))
        .await
        .unwrap();
    settle(&[&watch, &phone]).await;

    let (s_phone, s_watch) = (state(&phone).await, state(&watch).await);
    assert_well_formed("phone", &s_phone);
    assert_well_formed("watch", &s_watch);
    assert_same("phone", &s_phone, "watch", &s_watch);
    for (key, want) in [
        (&a, TripStatus::Current),
        (&b, TripStatus::Replaced),
        (&c, TripStatus::Replaced),
        (&ab, TripStatus::Superseded),
        (&bc, TripStatus::Current),
    ] {
        assert_eq!(s_watch.lineage[key.as_str()].0, want, "{key}");
    }
    let note = s_watch
        .trips
        .iter()
        .find(|t| t.id.to_string() == a)
        .unwrap()
        .note
        .clone();
    assert_eq!(note.as_deref(), Some("fuel stop"));
    use TripField::*;
    assert_eq!(fields(&s_watch, &a), vec![MergedInto, Note]);
    assert_eq!(fields(&s_watch, &b), vec![MergedInto, MergedInto]);
    // The loser no longer counts and can't be changed; A can be merged again.
    let r = watch.edit_trip(&ab, Note, Some("x".into())).await;
    assert!(matches!(r, Err(CoreError::Conflict { .. })), "{r:?}");
    let counted: Vec<String> = watch
        .trips(Default::default())
        .await
        .unwrap()
        .iter()
        .map(|t| t.id.to_string())
        .collect();
    assert_eq!(counted, vec![a.clone(), bc.clone()]);
    watch_clock.set(at(2, 10, 0));
    let abc = watch.merge_trips(&a, &bc).await.unwrap();
    settle(&[&watch, &phone]).await;
    let all = |pts: Vec<tacho_store::TripPoint>| pts.len();
    assert_eq!(
        all(phone.trip_points(&abc.trip.id.to_string()).await.unwrap()),
        750,
        "a merge of a merge reads every fix once"
    );
    assert_same("phone", &state(&phone).await, "watch", &state(&watch).await);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_merges_converge_on_sqlite_and_postgres() {
    for backend in BACKENDS {
        concurrent_merges(backend).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trip_changes_sync_once_each_and_hold_to_locks_on_sqlite_and_postgres() {
    for backend in BACKENDS {
        phone_and_watch(backend).await;
    }
}
