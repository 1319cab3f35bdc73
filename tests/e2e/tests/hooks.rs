#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Automation hooks end to end: a Shortcut's start / ping / end calls reach the real relay on
//! loopback, and a phone and a watch that sync afterwards show the trip with its points and
//! distance, on SQLite and on PostgreSQL.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use tacho_core::{CoreError, NewCar};
use tacho_e2e::{BACKENDS, Backend, Relay, TestDb, core};
use tacho_model::clock::SystemClock;
use tacho_model::trip::{TripSource, TripState};

const PASSWORD: &str = "correct horse battery";

async fn hook(relay: &Relay, what: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/hooks/trip/{what}", relay.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn hooks_make_trips(backend: Backend) {
    let db = TestDb::new(backend).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SystemClock);
    let phone = core(dir.path(), "phone", clock.clone()).await;
    let watch = core(dir.path(), "watch", clock.clone()).await;
    let golf = phone
        .add_car(NewCar {
            name: "Golf".into(),
            plate: "AB-123-C".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    phone
        .signup(&relay.url, "kim@example.org", PASSWORD)
        .await
        .unwrap();
    watch
        .login(&relay.url, "kim@example.org", PASSWORD)
        .await
        .unwrap();
    phone.sync_once().await.unwrap();

    let made = phone.create_hook_token(Some("golf"), None).await.unwrap();
    assert!(made.token.starts_with("tho_"));
    let listed = phone.hook_tokens().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, made.id);
    assert_eq!(listed[0].car_id, Some(golf.id.to_string()));

    // CarPlay connects, the Shortcut pings along a meridian, CarPlay disconnects.
    let t0 = Utc::now() - Duration::seconds(60);
    let at = |s: i64| (t0 + Duration::seconds(s)).to_rfc3339();
    let (s, start) = hook(
        &relay,
        "start",
        &made.token,
        json!({"event_id": "carplay-on-1", "at": at(0), "lat": 52.0, "lon": 5.0, "accuracy": 5.0}),
    )
    .await;
    assert_eq!(s, 200, "{start}");
    let trip_id = start["trip_id"].as_str().unwrap().to_owned();
    for i in 1..=5_i64 {
        let (s, b) = hook(
            &relay,
            "ping",
            &made.token,
            json!({"event_id": format!("ping-{i}"), "at": at(i * 5),
                   "lat": 52.0 + 0.001 * i as f64, "lon": 5.0, "accuracy": 8.0}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, end) = hook(
        &relay,
        "end",
        &made.token,
        json!({"event_id": "carplay-off-1", "at": at(40)}),
    )
    .await;
    assert_eq!(s, 200, "{end}");
    let relay_distance = end["distance_m"].as_f64().unwrap();
    assert!((relay_distance - 556.0).abs() < 3.0, "{relay_distance}");

    // Both devices see a real, ended trip after syncing.
    for device in [&phone, &watch] {
        device.sync_once().await.unwrap();
        let detail = device.trip(&trip_id).await.unwrap();
        let trip = &detail.trip;
        assert_eq!(trip.source, TripSource::Hook);
        assert_eq!(trip.state, TripState::Ended);
        assert_eq!(trip.car_id, Some(golf.id));
        assert_eq!(trip.started_at.timestamp(), t0.timestamp());
        assert_eq!(
            trip.ended_at.map(|t| t.timestamp()),
            Some((t0 + Duration::seconds(40)).timestamp())
        );
        assert_eq!(trip.point_count, 6);
        assert_eq!(detail.point_count, 6);
        assert!((trip.distance_m - relay_distance).abs() < 1e-6);
        let points = device.trip_points(&trip_id).await.unwrap();
        assert_eq!(points.len(), 6);
        assert_eq!(points[5].ping.lat, 52.005);
        assert!(points.iter().all(|p| p.counted));
        // The core's own filter over the stored points agrees with the relay.
        let pings: Vec<_> = points.iter().map(|p| p.ping).collect();
        let stats = tacho_model::gps::filter::path_stats(&pings, Default::default());
        assert!((stats.distance_m - relay_distance).abs() < 1e-6);
    }

    // Revoked: the next call fails at once.
    phone.revoke_hook_token(&made.id).await.unwrap();
    let (s, b) = hook(
        &relay,
        "start",
        &made.token,
        json!({"event_id": "carplay-on-2"}),
    )
    .await;
    assert_eq!(s, 401, "{b}");
    assert!(phone.hook_tokens().await.unwrap().is_empty());
    assert!(matches!(
        phone.revoke_hook_token(&made.id).await,
        Err(CoreError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_trips_reach_phone_and_watch_on_sqlite_and_postgres() {
    for backend in BACKENDS {
        hooks_make_trips(backend).await;
    }
}
