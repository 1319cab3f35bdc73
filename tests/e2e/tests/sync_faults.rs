#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Sync under a hostile network: dropped, delayed, duplicated and truncated
//! responses, a relay that restarts mid-sync, and replayed pushes and pulls.

mod common;

use std::sync::Arc;

use chrono::Duration;
use common::*;
use serde_json::json;
use tacho_core::{Core, NewCar, NewEntry};
use tacho_e2e::proxy::{FaultPlan, FaultProxy, http_json};
use tacho_e2e::{BACKENDS, Backend, Relay, TestDb, core};
use tacho_model::clock::SystemClock;
use tacho_model::trip::{Purpose, TripField};
use tacho_model::work::Rounding;

/// Phone: a car, a 300-point trip, classification, edits, a project, a timer.
async fn phone_part_one(phone: &Core) -> String {
    phone
        .add_car(NewCar {
            name: "Golf".into(),
            plate: "AB-123-C".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let trip = drive(phone, 300, 52.0).await;
    phone
        .classify_trip(&trip, Purpose::Business, Some("ACME".into()))
        .await
        .unwrap();
    phone
        .edit_trip(&trip, TripField::Note, Some("detour: road works".into()))
        .await
        .unwrap();
    phone
        .add_project("Support", None, true, Rounding::Up(15))
        .await
        .unwrap();
    phone
        .start_timer(Some("Support"), "on site", vec!["acme".into()])
        .await
        .unwrap();
    trip
}

/// Watch: its own short trip, a project and a timer started offline.
async fn watch_part_one(watch: &Core) -> String {
    let trip = drive(watch, 60, 48.0).await;
    watch
        .add_project("Admin", Some("Internal".into()), false, Rounding::None)
        .await
        .unwrap();
    watch
        .start_timer(Some("Admin"), "mail", vec![])
        .await
        .unwrap();
    trip
}

async fn sync_both(phone: &Core, watch: &Core) -> usize {
    let ((_, a), (_, b)) = tokio::join!(sync_until_ok(phone, 200), sync_until_ok(watch, 200));
    a + b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_and_watch_converge_through_a_faulty_network() {
    let started = std::time::Instant::now();
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&db.url).await;
    let proxy = FaultProxy::start(&relay.url, FaultPlan::clean(), 0x7ac0_0001)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    let watch = core(dir.path(), "watch", Arc::new(SystemClock)).await;
    let email = email("faulty");
    phone.signup(&proxy.url, &email, PASSWORD).await.unwrap();
    watch.login(&proxy.url, &email, PASSWORD).await.unwrap();
    proxy.set_plan(FaultPlan::thirty_percent());

    // Round 1: both make changes offline, then sync at the same time.
    let phone_trip = phone_part_one(&phone).await;
    let watch_trip = watch_part_one(&watch).await;
    let mut failures = sync_both(&phone, &watch).await;
    failures += sync_both(&phone, &watch).await;

    // Round 2: concurrent edits of the same trip, entries, a timer switch.
    watch
        .classify_trip(&phone_trip, Purpose::Private, None)
        .await
        .unwrap();
    phone
        .edit_trip(&phone_trip, TripField::Note, Some("second thoughts".into()))
        .await
        .unwrap();
    watch
        .edit_trip(&watch_trip, TripField::EndAddress, Some("Depot".into()))
        .await
        .unwrap();
    phone
        .edit_trip(&watch_trip, TripField::Note, Some("phone's note".into()))
        .await
        .unwrap();
    let now = phone.now();
    for i in 0..10 {
        let c = if i % 2 == 0 { &phone } else { &watch };
        c.add_entry(NewEntry {
            project: Some(if i % 2 == 0 { "Support" } else { "Admin" }.into()),
            description: format!("entry {i}"),
            start: Some(now - Duration::hours(30 - i)),
            stop: Some(now - Duration::hours(30 - i) + Duration::minutes(45)),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    phone
        .start_timer(Some("Admin"), "switch", vec![])
        .await
        .unwrap();
    watch.stop_timer().await.ok();
    for _ in 0..3 {
        failures += sync_both(&phone, &watch).await;
    }
    // Round 3: many small changes, each followed by a faulty sync.
    for i in 0..12 {
        let (a, b) = if i % 2 == 0 {
            (&phone, &watch)
        } else {
            (&watch, &phone)
        };
        a.edit_trip(&watch_trip, TripField::Note, Some(format!("note {i}")))
            .await
            .unwrap();
        b.add_entry(NewEntry {
            description: format!("small {i}"),
            start: Some(now - Duration::hours(5) + Duration::minutes(i * 10)),
            stop: Some(now - Duration::hours(5) + Duration::minutes(i * 10 + 5)),
            ..Default::default()
        })
        .await
        .unwrap();
        if i % 4 == 3 {
            a.start_timer(Some("Support"), &format!("timer {i}"), vec![])
                .await
                .unwrap();
        }
        failures += sync_both(&phone, &watch).await;
    }

    // A clean path to finish.
    proxy.set_plan(FaultPlan::clean());
    settle(&[&phone, &watch]).await;

    let counts = proxy.counts();
    eprintln!(
        "fault mix {counts:?}; {failures} failed sync attempts; {:?}",
        started.elapsed()
    );
    for fault in ["drop_response", "duplicate", "truncate", "delay"] {
        assert!(
            counts.get(fault).copied().unwrap_or(0) > 0,
            "no {fault} injected: {counts:?}"
        );
    }
    assert!(failures > 0, "the faults never made a sync fail");

    let p = state(&phone).await;
    let w = state(&watch).await;
    assert_well_formed("phone", &p);
    assert_well_formed("watch", &w);
    assert_same("phone", &p, "watch", &w);
    assert_eq!(p.trips.len(), 2);
    assert!(
        p.points[&phone_trip].len() >= 299,
        "{}",
        p.points[&phone_trip].len()
    );
    assert!(
        p.points[&watch_trip].len() >= 59,
        "{}",
        p.points[&watch_trip].len()
    );
    assert_eq!(p.projects.len(), 2);
    assert!(p.entries.iter().filter(|e| e.stop.is_some()).count() >= 10);
    let trip = p
        .trips
        .iter()
        .find(|t| t.id.to_string() == phone_trip)
        .unwrap();
    assert_eq!(
        trip.purpose,
        Some(Purpose::Private),
        "the later classification wins"
    );
    for c in [&phone, &watch] {
        let s = c.sync_status().await.unwrap();
        assert_eq!((s.pending_ops, s.parked_ops), (0, 0), "{s:?}");
    }
    let token = inspector_token(&relay.url, &email).await;
    let ops = snapshot(&relay.url, &token).await;
    assert_snapshot_exact(&ops, &[&phone, &watch]).await;
    relay.stop().await;
}

async fn restart_mid_sync(backend: Backend) {
    let db = TestDb::new(backend).await;
    let relay = Relay::start(&db.url).await;
    let proxy = FaultProxy::start(&relay.url, FaultPlan::clean(), 1)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    let watch = core(dir.path(), "watch", Arc::new(SystemClock)).await;
    let email = email("restart");
    phone.signup(&proxy.url, &email, PASSWORD).await.unwrap();
    watch.login(&proxy.url, &email, PASSWORD).await.unwrap();

    // More than one push batch (500 ops) of changes.
    let trip = phone_part_one(&phone).await;
    for i in 0..560 {
        phone
            .add_project(&format!("P{i:03}"), None, i % 2 == 0, Rounding::None)
            .await
            .unwrap();
    }
    watch_part_one(&watch).await;
    watch.sync_once().await.unwrap();
    let total = phone.sync_status().await.unwrap().pending_ops;
    assert!(total > 560, "{total}");

    // The relay dies after the first batch was stored and confirmed.
    proxy.block_after("/v1/push", 1);
    let err = phone.sync_once().await.unwrap_err();
    assert!(
        matches!(err, tacho_core::CoreError::Network { .. }),
        "{err:?}"
    );
    let pending = phone.sync_status().await.unwrap().pending_ops;
    assert!(
        pending > 0 && pending < total,
        "half pushed: {pending} of {total}"
    );
    relay.stop().await;

    // A new relay process on the same database.
    let relay = Relay::start(&db.url).await;
    proxy.set_upstream(&relay.url).unwrap();
    proxy.block(false);
    let (report, _) = sync_until_ok(&phone, 3).await;
    assert_eq!(report.pushed as u64, pending, "{report:?}");

    // Now the relay stores a push and dies before answering it.
    phone
        .edit_trip(&trip, TripField::Note, Some("after the restart".into()))
        .await
        .unwrap();
    watch
        .classify_trip(&trip, Purpose::Commute, None)
        .await
        .ok();
    phone
        .add_project("Late", None, false, Rounding::None)
        .await
        .unwrap();
    proxy.set_plan(FaultPlan {
        drop_response: 1.0,
        paths: vec!["/v1/push".into()],
        ..FaultPlan::clean()
    });
    assert!(phone.sync_once().await.is_err());
    relay.stop().await;
    let relay = Relay::start(&db.url).await;
    proxy.set_upstream(&relay.url).unwrap();
    proxy.set_plan(FaultPlan::clean());
    settle(&[&phone, &watch]).await;

    let p = state(&phone).await;
    let w = state(&watch).await;
    assert_well_formed("phone", &p);
    assert_well_formed("watch", &w);
    assert_same("phone", &p, "watch", &w);
    assert_eq!(p.projects.len(), 2 + 560 + 1);
    for c in [&phone, &watch] {
        let s = c.sync_status().await.unwrap();
        assert_eq!((s.pending_ops, s.parked_ops), (0, 0), "{s:?}");
    }
    let token = inspector_token(&relay.url, &email).await;
    let ops = snapshot(&relay.url, &token).await;
    assert_snapshot_exact(&ops, &[&phone, &watch]).await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_restart_mid_sync_loses_and_duplicates_nothing() {
    for backend in BACKENDS {
        let started = std::time::Instant::now();
        restart_mid_sync(backend).await;
        eprintln!("{backend:?}: {:?}", started.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_pushes_and_pulls_change_nothing() {
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    let watch = core(dir.path(), "watch", Arc::new(SystemClock)).await;
    let email = email("replay");
    phone.signup(&relay.url, &email, PASSWORD).await.unwrap();
    watch.login(&relay.url, &email, PASSWORD).await.unwrap();
    let trip = phone_part_one(&phone).await;
    watch_part_one(&watch).await;
    settle(&[&phone, &watch]).await;
    watch
        .edit_trip(&trip, TripField::Note, Some("watch note".into()))
        .await
        .unwrap();
    settle(&[&phone, &watch]).await;
    let before_p = state(&phone).await;
    let before_w = state(&watch).await;
    assert_same("phone", &before_p, "watch", &before_w);
    let inspector = inspector_token(&relay.url, &email).await;
    let snap_before = snapshot(&relay.url, &inspector).await;

    // Re-push the phone's whole outbox, a middle slice, and a batch with an
    // op repeated inside it, as the phone.
    let token = device_token(&relay.url, &email, &phone.device().unwrap().to_string()).await;
    let outbox = phone.outbox(0, usize::MAX).await.unwrap();
    assert!(outbox.len() > 5);
    let mid = &outbox[2..outbox.len() - 1];
    let repeated = vec![outbox[1].clone(), outbox[1].clone(), outbox[0].clone()];
    for (what, batch) in [
        ("all", outbox.clone()),
        ("slice", mid.to_vec()),
        ("repeated", repeated),
    ] {
        let (status, body) = http_json(
            &relay.url,
            "POST",
            "/v1/push",
            Some(&token),
            Some(&json!({ "ops": batch })),
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(body["accepted"], 0, "{what}: {body}");
        assert_eq!(
            body["duplicates"].as_u64(),
            Some(batch.len() as u64),
            "{what}: {body}"
        );
    }
    // The same through the combined sync call.
    let (status, body) = http_json(
        &relay.url,
        "POST",
        "/v1/sync",
        Some(&token),
        Some(&json!({ "ops": outbox, "cursor": 0 })),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["push"]["accepted"], 0, "{body}");
    let snap_after = snapshot(&relay.url, &inspector).await;
    assert_eq!(snap_before, snap_after, "a replayed push changed the log");

    // Pull everything again on the watch (cursor back to 0) and apply it a
    // second time: nothing may change.
    drop(watch);
    {
        let conn = rusqlite::Connection::open(dir.path().join("watch.db")).unwrap();
        conn.execute("UPDATE sync_state SET pull_cursor = 0", [])
            .unwrap();
    }
    let watch = core(dir.path(), "watch", Arc::new(SystemClock)).await;
    let report = watch.sync_once().await.unwrap();
    assert_eq!(report.pulled, snap_before.len(), "{report:?}");
    assert_eq!(
        report.changed, 0,
        "re-applied pages changed data: {report:?}"
    );
    let again_w = state(&watch).await;
    assert_same("watch before", &before_w, "watch after re-pull", &again_w);
    // A third device built from the log is identical, and syncing it twice
    // more changes nothing.
    let tablet = core(dir.path(), "tablet", Arc::new(SystemClock)).await;
    tablet.login(&relay.url, &email, PASSWORD).await.unwrap();
    tablet.sync_once().await.unwrap();
    let t1 = state(&tablet).await;
    let r = tablet.sync_once().await.unwrap();
    assert_eq!((r.pushed, r.changed), (0, 0), "{r:?}");
    assert_same("phone", &before_p, "tablet", &t1);
    let r = phone.sync_once().await.unwrap();
    assert_eq!((r.pushed, r.changed), (0, 0), "{r:?}");
    assert_same(
        "phone before",
        &before_p,
        "phone after",
        &state(&phone).await,
    );
    assert_eq!(
        snapshot(&relay.url, &inspector).await.len(),
        snap_before.len()
    );
    relay.stop().await;
}

/// Offline edits of one trip on two devices: every device must show the
/// trip's history in the same order (the protocol orders appends by stamp).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_history_order_is_the_same_on_every_device() {
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    let watch = core(dir.path(), "watch", Arc::new(SystemClock)).await;
    let email = email("history");
    phone.signup(&relay.url, &email, PASSWORD).await.unwrap();
    watch.login(&relay.url, &email, PASSWORD).await.unwrap();
    let trip = drive(&phone, 20, 50.0).await;
    settle(&[&phone, &watch]).await;
    // Offline: the watch edits first, the phone a little later.
    watch
        .edit_trip(&trip, TripField::Note, Some("watch".into()))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    phone
        .edit_trip(&trip, TripField::EndAddress, Some("phone".into()))
        .await
        .unwrap();
    settle(&[&phone, &watch]).await;
    let on_phone = phone.trip(&trip).await.unwrap().history;
    let on_watch = watch.trip(&trip).await.unwrap().history;
    assert_eq!(on_phone.len(), 2);
    assert_eq!(on_phone, on_watch, "history order differs between devices");
    relay.stop().await;
}

/// Two devices each add a project called "Beta" while offline. After sync
/// both devices must list the projects identically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_named_projects_list_in_the_same_order_everywhere() {
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    let watch = core(dir.path(), "watch", Arc::new(SystemClock)).await;
    let email = email("projects");
    phone.signup(&relay.url, &email, PASSWORD).await.unwrap();
    watch.login(&relay.url, &email, PASSWORD).await.unwrap();
    phone
        .add_project("Beta", None, false, Rounding::None)
        .await
        .unwrap();
    watch
        .add_project("Beta", None, true, Rounding::Up(15))
        .await
        .unwrap();
    settle(&[&phone, &watch]).await;
    let on_phone = phone.projects().await.unwrap();
    let on_watch = watch.projects().await.unwrap();
    assert_eq!(on_phone.len(), on_watch.len());
    assert_eq!(on_phone, on_watch, "project lists differ between devices");
    // And a timer started by name books on the same project everywhere.
    let a = phone.find_project("Beta").await.unwrap();
    let b = watch.find_project("Beta").await.unwrap();
    assert_eq!(
        a.id, b.id,
        "`Beta` means a different project on each device"
    );
    relay.stop().await;
}

/// Two quick edits of the same field (a typo fixed at once, an import,
/// a double tap) land in the same millisecond. Both are real edits and both
/// belong in the history; instead the second write fails on the
/// `trip_edit_once (trip_id, field, at, device)` index, and a replica that
/// received both would keep only the first (ON CONFLICT DO NOTHING).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_edits_of_a_field_in_one_millisecond_both_count() {
    let dir = tempfile::tempdir().unwrap();
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    let trip = drive(&phone, 20, 51.0).await;
    drop(phone);
    // The same database, now with a clock that stands still (as any clock
    // does between two calls less than a millisecond apart).
    let clock = Arc::new(tacho_model::clock::ManualClock::new(
        chrono::Utc::now() + Duration::seconds(10),
    ));
    let phone = core(dir.path(), "phone", clock).await;
    phone
        .edit_trip(&trip, TripField::Note, Some("typo".into()))
        .await
        .unwrap();
    phone
        .edit_trip(&trip, TripField::Note, Some("fixed".into()))
        .await
        .expect("the second edit in the same millisecond");
    let history = phone.trip(&trip).await.unwrap().history;
    assert_eq!(history.len(), 2, "{history:?}");
}

/// Two devices start a trip in the same millisecond (their clocks agree to
/// the millisecond; the same happens with imports of one source). Both
/// devices must list the trips in the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_with_ties_are_ordered_the_same_everywhere() {
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let t0 = chrono::Utc::now();
    let clock = Arc::new(tacho_model::clock::ManualClock::new(t0));
    let phone = core(dir.path(), "phone", clock.clone()).await;
    let watch = core(dir.path(), "watch", clock.clone()).await;
    let email = email("ties");
    phone.signup(&relay.url, &email, PASSWORD).await.unwrap();
    watch.login(&relay.url, &email, PASSWORD).await.unwrap();
    for (c, lat) in [(&phone, 50.0), (&watch, 51.0)] {
        c.connect(tacho_model::trip::TripSource::Carplay, None)
            .await
            .unwrap();
        let pings = (0..10)
            .map(|i| {
                let mut p = tacho_model::gps::Ping::at(
                    t0 + Duration::milliseconds(i * 200),
                    lat + i as f64 * 0.00002,
                    5.0,
                );
                p.accuracy_m = Some(5.0);
                p
            })
            .collect();
        c.ping_batch(pings).await.unwrap();
    }
    clock.set(t0 + Duration::seconds(3));
    phone.end_trip().await.unwrap();
    watch.end_trip().await.unwrap();
    settle(&[&phone, &watch]).await;
    let on_phone = phone.trips(Default::default()).await.unwrap();
    let on_watch = watch.trips(Default::default()).await.unwrap();
    assert_eq!(on_phone.len(), 2);
    let ids = |v: &[tacho_model::trip::Trip]| v.iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(ids(&on_phone), ids(&on_watch), "trip order differs");
    relay.stop().await;
}
