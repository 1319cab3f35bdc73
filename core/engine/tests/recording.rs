#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! The core end to end on a real SQLite file: connect, pings from a real
//! drive, disconnect, grace period, classification, restart mid-trip.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tacho_core::{Core, CoreConfig, CoreError, CoreEvent, NewCar};
use tacho_model::clock::ManualClock;
use tacho_model::gps::{LatLon, Ping};
use tacho_model::id::PlaceId;
use tacho_model::place::{Place, PlaceKind};
use tacho_model::trip::{Purpose, TripSource, TripState};
use tacho_store::TripFilter;

/// The barefoot Munich drive (Apache-2.0, BMW Car IT; see testdata/gps/NOTICE).
fn munich() -> Vec<Ping> {
    let raw = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/gps/x0001-001.json"
    ))
    .unwrap();
    let items: Vec<serde_json::Value> = serde_json::from_str(&raw).unwrap();
    items
        .iter()
        .map(|v| {
            let point = v["point"].as_str().unwrap();
            let inner = point.trim_start_matches("POINT(").trim_end_matches(')');
            let (lon, lat) = inner.split_once(' ').unwrap();
            let at = DateTime::parse_from_str(v["time"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S%z")
                .unwrap()
                .with_timezone(&Utc);
            Ping::at(at, lat.parse().unwrap(), lon.parse().unwrap())
        })
        .collect()
}

async fn open(dir: &std::path::Path, clock: Arc<ManualClock>) -> Core {
    let mut config = CoreConfig::new(dir.join("tacho.db"));
    config.time_zone = "Europe/Berlin".into();
    Core::open_with_clock(config, clock).await.unwrap()
}

#[tokio::test]
async fn a_carplay_drive_is_recorded_classified_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let pings = munich();
    let first = pings[0];
    let last = *pings.last().unwrap();
    let clock = Arc::new(ManualClock::new(first.at));
    let core = open(dir.path(), clock.clone()).await;
    let mut events = core.subscribe();
    core.add_car(NewCar {
        name: "i3".into(),
        plate: "M-BW 1234".into(),
        make: Some("BMW".into()),
        model: Some("i3".into()),
        connect_hint: Some("BMW 12345".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    core.add_car(NewCar {
        name: "Polo".into(),
        plate: "M-XY 1".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let home = Place {
        id: PlaceId::new(),
        name: "Home".into(),
        kind: PlaceKind::Home,
        center: first.position(),
        radius_m: 150.0,
        address: Some("Leopoldstraße 1, München".into()),
    };
    let client = Place {
        id: PlaceId::new(),
        name: "ACME GmbH".into(),
        kind: PlaceKind::Client,
        center: LatLon {
            lat: last.lat,
            lon: last.lon,
        },
        radius_m: 200.0,
        address: None,
    };
    core.add_place(home).await.unwrap();
    core.add_place(client).await.unwrap();

    let started = core
        .connect(TripSource::Carplay, Some("BMW 12345".into()))
        .await
        .unwrap();
    assert_eq!(started.started.len(), 1);
    let trip_id = started.started[0];
    let (half_a, half_b) = pings.split_at(pings.len() / 2);
    for p in half_a {
        clock.set(p.at);
        core.ping(*p).await.unwrap();
    }
    // The app is killed mid-drive; a new Core on the same file carries on.
    drop(core);
    let core = open(dir.path(), clock.clone()).await;
    let (active, live_distance) = core.active_trip().await.unwrap().expect("still recording");
    assert_eq!(active.id, trip_id);
    assert!(live_distance > 4_000.0, "{live_distance}");
    for p in half_b {
        clock.set(p.at);
        core.ping(*p).await.unwrap();
    }
    clock.set(last.at + Duration::seconds(5));
    let out = core.disconnect().await.unwrap();
    assert!(out.ended.is_empty(), "grace period first");
    clock.set(last.at + Duration::minutes(10));
    let out = core.tick().await.unwrap();
    assert_eq!(out.ended, vec![trip_id]);

    let detail = core.trip(&trip_id.to_string()).await.unwrap();
    let t = &detail.trip;
    assert_eq!(t.state, TripState::Ended);
    assert!(
        (t.distance_m - 13_647.1).abs() / 13_647.1 < 0.01,
        "{}",
        t.distance_m
    );
    assert_eq!(t.purpose, Some(Purpose::Business), "ends at a client");
    assert_eq!(t.business_partner.as_deref(), Some("ACME GmbH"));
    assert_eq!(t.start_address.as_deref(), Some("Leopoldstraße 1, München"));
    let cars = core.cars().await.unwrap();
    let i3 = cars.iter().find(|c| c.name == "i3").unwrap();
    assert_eq!(t.car_id, Some(i3.id), "picked by the Bluetooth name");
    assert_eq!(detail.point_count as usize, pings.len());
    assert!(t.ended_at.unwrap() >= last.at);

    // The points travel as append chunks of at most 100, in order, each
    // point exactly once, across the restart.
    let ops = core.outbox(0, 10_000).await.unwrap();
    let chunks: Vec<&Vec<serde_json::Value>> = ops
        .iter()
        .filter(|op| op.entity == tacho_model::op::EntityKind::TripPoints)
        .map(|op| match &op.kind {
            tacho_model::op::OpKind::Append { items } => items,
            other => panic!("points must be appended, got {other:?}"),
        })
        .collect();
    assert_eq!(chunks.len(), pings.len().div_ceil(100));
    assert!(chunks.iter().all(|c| c.len() <= 100));
    let seqs: Vec<u64> = chunks
        .iter()
        .flat_map(|c| c.iter())
        .map(|p| p[0].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..pings.len() as u64).collect::<Vec<_>>());
    let first_wire = &chunks[0][0];
    assert_eq!(first_wire[1].as_i64().unwrap(), first.at.timestamp_millis());
    assert_eq!(first_wire[2].as_f64().unwrap(), first.lat);
    let device_seqs: Vec<u64> = ops.iter().map(|op| op.device_seq).collect();
    assert_eq!(
        device_seqs,
        (1..=ops.len() as u64).collect::<Vec<_>>(),
        "gap-free"
    );

    // The user's choice wins and is kept in the history.
    core.classify_trip(&trip_id.to_string(), Purpose::Private, None)
        .await
        .unwrap();
    let detail = core.trip(&trip_id.to_string()).await.unwrap();
    assert_eq!(detail.trip.purpose, Some(Purpose::Private));
    assert_eq!(detail.history.len(), 1);
    assert_eq!(detail.history[0].old_value.as_deref(), Some("business"));

    // A subscriber of the first Core saw the start, then live progress; a
    // slow subscriber is told it lagged instead of blocking the recorder.
    let mut seen = Vec::new();
    let mut lagged = false;
    loop {
        match events.try_recv() {
            Ok(e) => seen.push(e),
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => lagged = true,
            Err(_) => break,
        }
    }
    assert!(lagged, "more progress events than the channel holds");
    assert!(
        seen.iter()
            .any(|e| matches!(e, CoreEvent::TripProgress { trip, .. } if *trip == trip_id)),
        "{seen:?}"
    );
    let mut fresh = core.subscribe();
    core.edit_trip(
        &trip_id.to_string(),
        tacho_model::trip::TripField::Note,
        Some("x".into()),
    )
    .await
    .unwrap();
    assert_eq!(
        fresh.try_recv().unwrap(),
        CoreEvent::TripChanged { trip: trip_id }
    );
}

#[tokio::test]
async fn a_reconnect_within_the_grace_period_continues_the_trip() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let core = open(dir.path(), clock.clone()).await;
    let drive = |core: &Core, start: DateTime<Utc>, lat0: f64| {
        let core = core.clone();
        let clock = clock.clone();
        async move {
            for i in 0..60 {
                let at = start + Duration::seconds(i * 2);
                clock.set(at);
                core.ping(Ping::at(at, lat0 + i as f64 * 0.0003, 11.5))
                    .await
                    .unwrap();
            }
        }
    };
    core.connect(TripSource::Bluetooth, None).await.unwrap();
    drive(&core, t0, 48.0).await;
    clock.set(t0 + Duration::minutes(3));
    core.disconnect().await.unwrap();
    clock.set(t0 + Duration::minutes(5));
    let resumed = core.connect(TripSource::Bluetooth, None).await.unwrap();
    assert!(resumed.resumed && resumed.started.is_empty());
    drive(&core, t0 + Duration::minutes(5), 48.02).await;
    core.end_trip().await.unwrap();
    let trips = core.trips(TripFilter::default()).await.unwrap();
    assert_eq!(trips.len(), 1, "a fuel stop is not a new trip");

    // After the grace period a connect starts a new trip.
    let t1 = t0 + Duration::hours(1);
    clock.set(t1);
    core.connect(TripSource::Bluetooth, None).await.unwrap();
    drive(&core, t1, 48.1).await;
    clock.set(t1 + Duration::minutes(2));
    core.disconnect().await.unwrap();
    clock.set(t1 + Duration::minutes(30));
    let again = core.connect(TripSource::Bluetooth, None).await.unwrap();
    assert_eq!(again.ended.len(), 1);
    assert_eq!(again.started.len(), 1);
    assert_eq!(core.trips(TripFilter::default()).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_bad_fix_is_a_typed_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let core = open(dir.path(), clock.clone()).await;
    core.connect(TripSource::Manual, None).await.unwrap();
    let ops_before = core.outbox_len().await.unwrap();
    for bad in [
        Ping::at(t0, f64::NAN, 11.0),
        Ping::at(t0, 48.0, 181.0),
        Ping::at(t0 + Duration::hours(2), 48.0, 11.0),
    ] {
        let err = core.ping(bad).await.unwrap_err();
        assert!(matches!(err, CoreError::BadInput { .. }), "{err:?}");
    }
    assert_eq!(core.outbox_len().await.unwrap(), ops_before);
    let (trip, _) = core.active_trip().await.unwrap().unwrap();
    assert_eq!(
        core.trip(&trip.id.to_string()).await.unwrap().point_count,
        0
    );
}

#[tokio::test]
async fn a_trip_left_open_for_hours_is_recovered_when_the_app_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let core = open(dir.path(), clock.clone()).await;
    core.connect(TripSource::Hook, None).await.unwrap();
    let mut last = t0;
    for i in 0..30 {
        last = t0 + Duration::seconds(i * 5);
        clock.set(last);
        core.ping(Ping::at(last, 48.0 + i as f64 * 0.0005, 11.5))
            .await
            .unwrap();
    }
    drop(core);
    clock.set(t0 + Duration::hours(5));
    let core = open(dir.path(), clock.clone()).await;
    assert!(core.active_trip().await.unwrap().is_none());
    let trips = core.trips(TripFilter::default()).await.unwrap();
    assert_eq!(trips.len(), 1);
    assert!(trips[0].recovered);
    assert_eq!(trips[0].ended_at, Some(last));
}

/// Runs the Munich drive, reopening the Core before the listed ping indices,
/// and returns (distance, points stored, point items in the outbox).
async fn munich_with_restarts(restarts: &[usize]) -> (f64, u32, usize) {
    let dir = tempfile::tempdir().unwrap();
    let pings = munich();
    let clock = Arc::new(ManualClock::new(pings[0].at));
    let mut core = open(dir.path(), clock.clone()).await;
    core.connect(TripSource::Carplay, None).await.unwrap();
    for (i, p) in pings.iter().enumerate() {
        if restarts.contains(&i) {
            drop(core);
            core = open(dir.path(), clock.clone()).await;
        }
        clock.set(p.at);
        core.ping(*p).await.unwrap();
    }
    let out = core.end_trip().await.unwrap();
    let detail = core.trip(&out.ended[0].to_string()).await.unwrap();
    let items = core
        .outbox(0, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|op| match &op.kind {
            tacho_model::op::OpKind::Append { items }
                if op.entity == tacho_model::op::EntityKind::TripPoints =>
            {
                items.len()
            }
            _ => 0,
        })
        .sum();
    (detail.trip.distance_m, detail.point_count, items)
}

#[tokio::test]
async fn restarting_at_any_moment_records_the_same_trip_as_an_uninterrupted_run() {
    let baseline = munich_with_restarts(&[]).await;
    // Restarts right after the start, between snapshots, at chunk borders,
    // around the tunnel freeze (about 07:03:53, index ~586) and near the end.
    let restarts = [
        1, 2, 31, 33, 64, 99, 100, 101, 333, 580, 590, 600, 620, 777, 1000, 1193,
    ];
    let restarted = munich_with_restarts(&restarts).await;
    assert_eq!(restarted.1, baseline.1, "no point lost or stored twice");
    assert_eq!(restarted.2, baseline.2, "every point sent exactly once");
    assert!(
        (restarted.0 - baseline.0).abs() < 1e-6,
        "{} vs {}",
        restarted.0,
        baseline.0
    );
}
