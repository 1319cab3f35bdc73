#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! A phone and a watch of one person converge through a real relay, on
//! SQLite and on PostgreSQL.

use std::sync::Arc;

use chrono::{Duration, Utc};
use tacho_core::{Core, NewCar};
use tacho_e2e::{BACKENDS, Backend, Relay, TestDb, core};
use tacho_model::clock::SystemClock;
use tacho_model::gps::Ping;
use tacho_model::trip::{Purpose, TripSource};
use tacho_store::TripFilter;

const PASSWORD: &str = "correct horse battery";

async fn drive(core: &Core) -> tacho_model::id::TripId {
    let start = core.now();
    let started = core.connect(TripSource::Carplay, None).await.unwrap();
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
    core.end_trip().await.unwrap();
    id
}

async fn converge(backend: Backend) {
    let db = TestDb::new(backend).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SystemClock);
    let phone = core(dir.path(), "phone", clock.clone()).await;
    let watch = core(dir.path(), "watch", clock.clone()).await;

    // Changes made before signing in sync too.
    phone
        .add_car(NewCar {
            name: "Golf".into(),
            plate: "AB-123-C".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    phone
        .signup(&relay.url, "ann@example.org", PASSWORD)
        .await
        .unwrap();
    watch
        .login(&relay.url, "ann@example.org", PASSWORD)
        .await
        .unwrap();
    let trip = drive(&phone).await;
    phone
        .add_project("Support", None, true, tacho_model::work::Rounding::Up(15))
        .await
        .unwrap();

    let pushed = phone.sync_once().await.unwrap();
    assert!(pushed.pushed > 5, "{pushed:?}");
    let pulled = watch.sync_once().await.unwrap();
    assert!(pulled.changed > 0, "{pulled:?}");
    let on_phone = phone.trip(&trip.to_string()).await.unwrap();
    let on_watch = watch.trip(&trip.to_string()).await.unwrap();
    assert!(on_phone.point_count >= 249, "{}", on_phone.point_count);
    assert_eq!(
        on_watch.point_count, on_phone.point_count,
        "every point crossed over once"
    );
    assert_eq!(
        watch.trip_points(&trip.to_string()).await.unwrap(),
        phone.trip_points(&trip.to_string()).await.unwrap()
    );
    assert_eq!(watch.cars().await.unwrap()[0].plate, "AB-123-C");

    // The watch classifies the trip and starts a timer; the phone sees both.
    watch
        .classify_trip(&trip.to_string(), Purpose::Business, Some("ACME".into()))
        .await
        .unwrap();
    watch
        .start_timer(Some("Support"), "on site", vec![])
        .await
        .unwrap();
    watch.sync_once().await.unwrap();
    phone.sync_once().await.unwrap();
    let on_phone = phone.trip(&trip.to_string()).await.unwrap();
    assert_eq!(on_phone.trip.purpose, Some(Purpose::Business));
    assert_eq!(on_phone.trip.business_partner.as_deref(), Some("ACME"));
    assert_eq!(
        on_phone.history.len(),
        2,
        "the watch's edits are in the phone's history"
    );
    assert!(phone.timer_status().await.unwrap().running.is_some());

    // Syncing again moves nothing and changes nothing.
    let again = phone.sync_once().await.unwrap();
    assert_eq!((again.pushed, again.changed), (0, 0), "{again:?}");
    let trips_phone = phone.trips(TripFilter::default()).await.unwrap();
    let trips_watch = watch.trips(TripFilter::default()).await.unwrap();
    assert_eq!(trips_phone, trips_watch);
    let status = phone.sync_status().await.unwrap();
    assert_eq!(status.pending_ops, 0);
    assert!(status.last_sync_at.is_some());
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_and_watch_converge_on_sqlite_and_postgres() {
    for backend in BACKENDS {
        converge(backend).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_and_a_missing_session_are_auth_errors() {
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    let err = phone.sync_once().await.unwrap_err();
    assert!(matches!(err, tacho_core::CoreError::Auth { .. }), "{err:?}");
    phone
        .signup(&relay.url, "bob@example.org", PASSWORD)
        .await
        .unwrap();
    let other = core(dir.path(), "other", Arc::new(SystemClock)).await;
    let err = other
        .login(&relay.url, "bob@example.org", "wrong password!")
        .await
        .unwrap_err();
    assert!(matches!(err, tacho_core::CoreError::Auth { .. }), "{err:?}");
    let _ = Utc::now();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_op_the_relay_refuses_is_parked_and_the_queue_moves_on() {
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    phone
        .signup(&relay.url, "cy@example.org", PASSWORD)
        .await
        .unwrap();
    phone
        .add_car(NewCar {
            name: "Polo".into(),
            plate: "P-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let device = phone.device().unwrap();
    drop(phone);
    // Plant an op no relay accepts (a place at latitude 95) as the device's
    // next op, the way an older or buggy build might have written it.
    tacho_e2e::plant_invalid_place(&dir.path().join("phone.db"), &device.to_string());
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    phone
        .add_project("After", None, false, tacho_model::work::Rounding::None)
        .await
        .unwrap();
    let report = phone.sync_once().await.unwrap();
    assert_eq!(report.parked, 1, "{report:?}");
    let parked = phone.parked_ops().await.unwrap();
    assert_eq!(parked.len(), 1);
    assert!(parked[0].message.contains("lat"), "{}", parked[0].message);
    let status = phone.sync_status().await.unwrap();
    assert_eq!((status.pending_ops, status.parked_ops), (0, 1));
    // The op after the parked one reached another device.
    let watch = core(dir.path(), "watch", Arc::new(SystemClock)).await;
    watch
        .login(&relay.url, "cy@example.org", PASSWORD)
        .await
        .unwrap();
    watch.sync_once().await.unwrap();
    let names: Vec<String> = watch
        .projects()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["After"]);
    assert!(watch.places().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_hands_the_watch_a_session_without_the_password() {
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    let watch = core(dir.path(), "watch", Arc::new(SystemClock)).await;
    phone
        .signup(&relay.url, "dee@example.org", PASSWORD)
        .await
        .unwrap();
    phone
        .add_project("Support", None, true, tacho_model::work::Rounding::None)
        .await
        .unwrap();
    phone.sync_once().await.unwrap();
    let watch_id = watch.device().unwrap().to_string();
    let handoff = phone
        .mint_device_session(&watch_id, "Apple Watch")
        .await
        .unwrap();
    // A session for another device is refused by the wrong device.
    let stranger = core(dir.path(), "stranger", Arc::new(SystemClock)).await;
    let err = stranger
        .adopt_device_session(handoff.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, tacho_core::CoreError::BadInput { .. }),
        "{err:?}"
    );
    watch.adopt_device_session(handoff).await.unwrap();
    watch.sync_once().await.unwrap();
    assert_eq!(watch.projects().await.unwrap()[0].name, "Support");
    watch
        .start_timer(Some("Support"), "from the wrist", vec![])
        .await
        .unwrap();
    watch.sync_once().await.unwrap();
    phone.sync_once().await.unwrap();
    let running = phone.timer_status().await.unwrap().running.unwrap();
    assert_eq!(running.description, "from the wrist");
}

/// The watch's "not yet synced" badge reads `outbox_len`: it must fall to 0
/// once the relay took the ops and count only what was written since, never
/// every op the device ever wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_len_drops_to_zero_after_a_push_and_grows_with_new_writes() {
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let watch = core(dir.path(), "watch", Arc::new(SystemClock)).await;
    drive(&watch).await;
    let written = watch.outbox_len().await.unwrap();
    assert!(written > 1, "a drive writes several ops: {written}");
    watch
        .signup(&relay.url, "dee@example.org", PASSWORD)
        .await
        .unwrap();
    assert_eq!(watch.outbox_len().await.unwrap(), written);

    let report = watch.sync_once().await.unwrap();
    assert_eq!(report.pushed as u64, written, "{report:?}");
    assert_eq!(watch.outbox_len().await.unwrap(), 0);

    watch
        .add_project("Later", None, false, tacho_model::work::Rounding::None)
        .await
        .unwrap();
    assert_eq!(watch.outbox_len().await.unwrap(), 1);
    assert_eq!(watch.sync_status().await.unwrap().pending_ops, 1);
    watch.sync_once().await.unwrap();
    assert_eq!(watch.outbox_len().await.unwrap(), 0);
    assert_eq!(
        watch.outbox(0, usize::MAX).await.unwrap().len() as u64,
        written + 1
    );
}
