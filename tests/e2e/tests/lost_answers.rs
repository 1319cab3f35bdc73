#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Answers that never arrive at moments where the client has to remember
//! something: a refused op, a rotated refresh token; and a core syncing with
//! itself concurrently.

mod common;

use std::sync::Arc;

use chrono::Duration;
use common::*;
use tacho_core::{CoreError, NewCar};
use tacho_e2e::proxy::{FaultPlan, FaultProxy};
use tacho_e2e::{Backend, Relay, TestDb, core, plant_invalid_place};
use tacho_model::clock::{ManualClock, SystemClock};
use tacho_model::trip::TripField;
use tacho_model::work::Rounding;

/// The relay refuses an op (422 `invalid_op`), records the refusal and
/// consumes its sequence number, but the answer is lost. The retry must be
/// refused again (not taken for a duplicate), so the device parks the op
/// instead of marking it pushed and reporting everything synced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_whose_answer_was_lost_is_still_parked() {
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&db.url).await;
    let proxy = FaultProxy::start(&relay.url, FaultPlan::clean(), 3)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    phone
        .signup(&proxy.url, &email("refusal"), PASSWORD)
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
    let device = phone.device().unwrap().to_string();
    drop(phone);
    plant_invalid_place(&dir.path().join("phone.db"), &device);
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    phone
        .add_project("After", None, false, Rounding::None)
        .await
        .unwrap();
    // The push that gets the 422 is processed, its answer lost.
    proxy.set_plan(FaultPlan {
        drop_response: 1.0,
        paths: vec!["/v1/push".into()],
        ..FaultPlan::clean()
    });
    assert!(phone.sync_once().await.is_err());
    proxy.set_plan(FaultPlan::clean());
    settle(&[&phone]).await;
    let status = phone.sync_status().await.unwrap();
    assert_eq!(
        (status.pending_ops, status.parked_ops),
        (0, 1),
        "the refused op must be parked, not reported as synced: {status:?}"
    );
}

/// The access token is about to expire, the device refreshes it, the relay
/// rotates the refresh token and the answer is lost. The device still holds
/// the spent token; presenting it again within the relay's retry grace must
/// not revoke the family (one lost answer must not sign the device out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_refresh_answer_does_not_sign_the_device_out() {
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&db.url).await;
    let proxy = FaultProxy::start(&relay.url, FaultPlan::clean(), 4)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let phone = core(dir.path(), "phone", clock.clone()).await;
    phone
        .signup(&proxy.url, &email("refresh"), PASSWORD)
        .await
        .unwrap();
    phone
        .add_project("Before", None, false, Rounding::None)
        .await
        .unwrap();
    phone.sync_once().await.unwrap();
    // 14.5 minutes later (as the core sees it) the 15-minute access token
    // needs refreshing; nothing new is written, so no op is dated ahead.
    clock.set(chrono::Utc::now() + Duration::seconds(14 * 60 + 30));
    proxy.set_plan(FaultPlan {
        drop_response: 1.0,
        paths: vec!["/v1/auth/refresh".into()],
        ..FaultPlan::clean()
    });
    let err = phone.sync_once().await.unwrap_err();
    assert!(matches!(err, CoreError::Network { .. }), "{err:?}");
    proxy.set_plan(FaultPlan::clean());
    let again = phone.sync_once().await;
    assert!(
        again.is_ok(),
        "one lost refresh answer signed the device out: {again:?}"
    );
}

/// Two syncs of one core at once (a background `sync_forever` and a pull to
/// refresh), through a faulty network: nothing is lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_syncs_of_one_core_lose_and_double_nothing() {
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&db.url).await;
    let proxy = FaultProxy::start(&relay.url, FaultPlan::clean(), 5)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    let watch = core(dir.path(), "watch", Arc::new(SystemClock)).await;
    let email = email("concurrent");
    phone.signup(&proxy.url, &email, PASSWORD).await.unwrap();
    watch.login(&proxy.url, &email, PASSWORD).await.unwrap();
    proxy.set_plan(FaultPlan::thirty_percent());
    let trip = drive(&phone, 120, 49.0).await;
    for i in 0..15 {
        phone
            .add_project(&format!("P{i}"), None, false, Rounding::None)
            .await
            .unwrap();
        phone
            .edit_trip(&trip, TripField::Note, Some(format!("n{i}")))
            .await
            .unwrap();
        watch
            .add_project(&format!("W{i}"), None, true, Rounding::None)
            .await
            .unwrap();
        let (a, b, c) = tokio::join!(phone.sync_once(), phone.sync_once(), watch.sync_once());
        for r in [a, b, c] {
            if let Err(e) = r {
                assert!(matches!(e, CoreError::Network { .. }), "{e:?}");
            }
        }
    }
    proxy.set_plan(FaultPlan::clean());
    settle(&[&phone, &watch]).await;
    let p = state(&phone).await;
    let w = state(&watch).await;
    assert_well_formed("phone", &p);
    assert_well_formed("watch", &w);
    assert_same("phone", &p, "watch", &w);
    assert_eq!(p.projects.len(), 30);
    assert_eq!(p.history[&trip].len(), 15);
    let token = inspector_token(&relay.url, &email).await;
    let ops = snapshot(&relay.url, &token).await;
    assert_snapshot_exact(&ops, &[&phone, &watch]).await;
    eprintln!("fault mix {:?}", proxy.counts());
    relay.stop().await;
}
