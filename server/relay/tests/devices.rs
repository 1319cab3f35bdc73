//! Device management (`GET /v1/devices`, `PATCH`/`DELETE /v1/devices/{device_id}`), on SQLite
//! and PostgreSQL, including two relay instances on one PostgreSQL database: a revoke on one is
//! in effect on the other at once.

// Test helpers may panic on broken fixtures; that is a test failure, not a bug in the relay.
#![allow(clippy::expect_used, clippy::panic)]

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

#[path = "support/harness.rs"]
#[macro_use]
mod harness;
use harness::*;
#[path = "support/api.rs"]
mod api;
use api::*;

on_both_databases!(
    devices_are_listed_oldest_first_with_the_caller_marked,
    a_device_is_renamed_only_by_its_account,
    a_revoked_device_is_refused_everywhere_and_its_ops_stay,
    last_push_at_is_when_the_device_last_pushed_new_ops,
    the_migration_fills_last_push_at_from_the_log,
);

async fn send(
    relay: &Relay,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = relay
        .http
        .request(method, format!("{}{path}", relay.base))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    answer(req.send().await.expect("send")).await
}

/// The `last_push_at` of each listed device, oldest device first.
async fn last_pushes(relay: &Relay, token: &str) -> Vec<Option<String>> {
    let (s, list) = relay.get("/v1/devices", Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    list["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| {
            d.get("last_push_at")
                .map(|t| t.as_str().expect("text").to_owned())
        })
        .collect()
}

/// Seconds since the epoch of an RFC 3339 answer.
fn secs(at: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(at)
        .unwrap_or_else(|e| panic!("{at} is not RFC 3339: {e}"))
        .timestamp()
}

/// An op the relay refuses (dated an hour ahead) but records, consuming its sequence number.
fn refused_op(device: Uuid, seq: u64) -> Value {
    let mut future = op(device, seq);
    future["hlc"] = json!(now_hlc() + (3_600_000 << 16));
    future
}

/// A session for another device of the account (the phone signs in its watch).
async fn second_device(relay: &Relay, token: &str, name: &str) -> (Uuid, Value) {
    let device = Uuid::now_v7();
    let (s, session) = relay
        .post(
            "/v1/devices/session",
            Some(token),
            &json!({"device_id": device, "device_name": name}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    (device, session)
}

async fn devices_are_listed_oldest_first_with_the_caller_marked(db: TestDb) {
    let relay = start(&db).await;
    let phone = Uuid::now_v7();
    let session = relay.signup("list@example.org", phone).await;
    let phone_token = token(&session);
    let (watch, watch_session) = second_device(&relay, &phone_token, "watch").await;
    let other = relay.signup("other@example.org", Uuid::now_v7()).await;

    let (s, list) = relay.get("/v1/devices", Some(&phone_token)).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let devices = list["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 2, "{list}");
    assert_eq!(devices[0]["device_id"], phone.to_string());
    assert_eq!(devices[0]["name"], "test");
    assert_eq!(devices[0]["current"], true);
    assert_eq!(devices[1]["device_id"], watch.to_string());
    assert_eq!(devices[1]["name"], "watch");
    assert_eq!(devices[1]["current"], false);
    assert!(devices[0].get("revoked_at").is_none(), "{list}");

    let (_, from_watch) = relay.get("/v1/devices", Some(&token(&watch_session))).await;
    assert_eq!(from_watch["devices"][0]["current"], false);
    assert_eq!(from_watch["devices"][1]["current"], true);
    let (_, theirs) = relay.get("/v1/devices", Some(&token(&other))).await;
    assert_eq!(
        theirs["devices"].as_array().map(Vec::len),
        Some(1),
        "{theirs}"
    );
    let (s, _) = relay.get("/v1/devices", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn a_device_is_renamed_only_by_its_account(db: TestDb) {
    let relay = start(&db).await;
    let phone = Uuid::now_v7();
    let t = token(&relay.signup("rename@example.org", phone).await);
    let other = token(&relay.signup("stranger@example.org", Uuid::now_v7()).await);
    let path = format!("/v1/devices/{phone}");
    let (s, info) = send(
        &relay,
        reqwest::Method::PATCH,
        &path,
        &t,
        Some(json!({"name": " Pixel "})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{info}");
    assert_eq!(info["name"], "Pixel");
    assert_eq!(info["current"], true);
    let (_, list) = relay.get("/v1/devices", Some(&t)).await;
    assert_eq!(list["devices"][0]["name"], "Pixel");

    let (s, b) = send(
        &relay,
        reqwest::Method::PATCH,
        &path,
        &t,
        Some(json!({"name": "a\u{1b}b"})),
    )
    .await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_text");
    assert_eq!(b["field"], "name");
    let (s, b) = send(
        &relay,
        reqwest::Method::PATCH,
        &path,
        &t,
        Some(json!({"name": "  "})),
    )
    .await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    // Another account's device, and no device at all, are the same 404.
    let (s, b) = send(
        &relay,
        reqwest::Method::PATCH,
        &path,
        &other,
        Some(json!({"name": "mine"})),
    )
    .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let nobody = format!("/v1/devices/{}", Uuid::now_v7());
    let (s, b) = send(
        &relay,
        reqwest::Method::PATCH,
        &nobody,
        &t,
        Some(json!({"name": "x"})),
    )
    .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (_, list) = relay.get("/v1/devices", Some(&t)).await;
    assert_eq!(
        list["devices"][0]["name"], "Pixel",
        "unchanged by the stranger"
    );
}

async fn a_revoked_device_is_refused_everywhere_and_its_ops_stay(db: TestDb) {
    let relay = start(&db).await;
    // A second instance on the same database (PostgreSQL serves several; on SQLite it is the
    // same file, as after a restart).
    let other_instance = if db.is_postgres() {
        start(&db).await
    } else {
        relay.clone()
    };
    let phone = Uuid::now_v7();
    let phone_session = relay.signup("revoke@example.org", phone).await;
    let phone_token = token(&phone_session);
    let (watch, watch_session) = second_device(&relay, &phone_token, "watch").await;
    let watch_token = token(&watch_session);
    // The watch pushes an op, and both instances have seen its token alive.
    let (s, b) = relay.push(&watch_token, &[op(watch, 1)]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for r in [&relay, &other_instance] {
        let (s, b) = r.get("/v1/pull?cursor=0", Some(&watch_token)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    // Another account can't revoke it.
    let stranger = token(&relay.signup("stranger2@example.org", Uuid::now_v7()).await);
    let path = format!("/v1/devices/{watch}");
    let (s, b) = send(&relay, reqwest::Method::DELETE, &path, &stranger, None).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");

    // A device can't revoke itself (its local store could never sync again).
    let own = format!("/v1/devices/{watch}");
    let (s, b) = send(&relay, reqwest::Method::DELETE, &own, &watch_token, None).await;
    assert_error(s, &b, StatusCode::CONFLICT, "current_device");

    let (s, b) = send(&relay, reqwest::Method::DELETE, &path, &phone_token, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    // At once, on both instances: its access token is refused …
    for r in [&relay, &other_instance] {
        let (s, b) = r.get("/v1/pull?cursor=0", Some(&watch_token)).await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "device_revoked");
        let (s, b) = r.push(&watch_token, &[op(watch, 2)]).await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "device_revoked");
    }
    // … its refresh token too …
    let (s, _) = other_instance
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": watch_session["refresh_token"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // … and its id can't sign in, sign up or get a device session again.
    let (s, b) = other_instance
        .post("/v1/auth/login", None, &creds("revoke@example.org", watch))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "device_revoked");
    let (s, b) = other_instance
        .post("/v1/auth/signup", None, &creds("new@example.org", watch))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "device_revoked");
    let (s, b) = other_instance
        .post(
            "/v1/devices/session",
            Some(&phone_token),
            &json!({"device_id": watch, "device_name": "again"}),
        )
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "device_revoked");
    // The phone carries on; the watch is listed as revoked and its op stays in the log.
    let (s, list) = other_instance.get("/v1/devices", Some(&phone_token)).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert!(list["devices"][1]["revoked_at"].is_string(), "{list}");
    assert!(list["devices"][0].get("revoked_at").is_none(), "{list}");
    let snap = other_instance.snapshot(&phone_token).await;
    assert_eq!(snap["cursor"], 1, "{snap}");
    assert_eq!(snap["ops"][0]["device"], watch.to_string());
    // Revoked, it is gone as a resource: revoking or renaming it again is 404.
    let (s, b) = send(&relay, reqwest::Method::DELETE, &path, &phone_token, None).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = send(
        &relay,
        reqwest::Method::PATCH,
        &path,
        &phone_token,
        Some(json!({"name": "x"})),
    )
    .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
}

async fn last_push_at_is_when_the_device_last_pushed_new_ops(db: TestDb) {
    let relay = start(&db).await;
    let phone = Uuid::now_v7();
    let phone_token = token(&relay.signup("pushes@example.org", phone).await);
    let (watch, watch_session) = second_device(&relay, &phone_token, "watch").await;
    let watch_token = token(&watch_session);
    // Signed in but silent: never pushed.
    assert_eq!(last_pushes(&relay, &phone_token).await, [None, None]);

    let before = chrono::Utc::now().timestamp();
    let first = op(watch, 1);
    let (s, b) = relay.push(&watch_token, std::slice::from_ref(&first)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let after = chrono::Utc::now().timestamp();
    let pushes = last_pushes(&relay, &phone_token).await;
    assert_eq!(pushes[0], None, "only the watch pushed: {pushes:?}");
    let first_at = pushes[1].clone().expect("the watch pushed");
    assert!(
        (before..=after).contains(&secs(&first_at)),
        "{first_at} outside {before}..={after}"
    );

    // Answers are in whole seconds: let one pass so a wrongly moved time would show.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    // A replay stores nothing new: the time stays.
    let (s, b) = relay.push(&watch_token, &[first]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["duplicates"], 1, "{b}");
    assert_eq!(
        last_pushes(&relay, &phone_token).await[1],
        Some(first_at.clone())
    );
    // A refused op reached the relay too (it consumed a sequence number): it counts.
    let (s, b) = relay.push(&phone_token, &[refused_op(phone, 1)]).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_op");
    let pushes = last_pushes(&relay, &phone_token).await;
    let phone_at = pushes[0].clone().expect("the phone's refused op arrived");
    assert!(secs(&phone_at) > secs(&first_at), "{pushes:?}");
    assert_eq!(pushes[1], Some(first_at.clone()), "the watch's time stays");
    // A new op moves the watch's time; a rename answers it too.
    let (s, b) = relay.push(&watch_token, &[op(watch, 2)]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, info) = send(
        &relay,
        reqwest::Method::PATCH,
        &format!("/v1/devices/{watch}"),
        &phone_token,
        Some(json!({"name": "wrist"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{info}");
    let moved = info["last_push_at"].as_str().expect("last_push_at");
    assert!(secs(moved) > secs(&first_at), "{moved} after {first_at}");
}

/// A relay upgraded from schema 12: migration 13 fills `last_push_at` from the ops and refusals
/// already in the log, the same time the push path writes.
async fn the_migration_fills_last_push_at_from_the_log(db: TestDb) {
    let relay = start(&db).await;
    let phone = Uuid::now_v7();
    let phone_token = token(&relay.signup("upgrade@example.org", phone).await);
    let (watch, watch_session) = second_device(&relay, &phone_token, "watch").await;
    second_device(&relay, &phone_token, "idle").await;
    let watch_token = token(&watch_session);
    for seq in 1..=2 {
        let (s, b) = relay.push(&watch_token, &[op(watch, seq)]).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, b) = relay.push(&phone_token, &[refused_op(phone, 1)]).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_op");
    let written = last_pushes(&relay, &phone_token).await;
    assert!(written[0].is_some() && written[1].is_some(), "{written:?}");
    assert_eq!(written[2], None, "{written:?}");

    // Back to schema 12: the column gone and migration 13 not applied.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("pool");
    for sql in [
        "ALTER TABLE devices DROP COLUMN last_push_at",
        "DELETE FROM _sqlx_migrations WHERE version = 13",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    pool.close().await;
    db.make_private();

    let upgraded = start(&db).await;
    assert_eq!(last_pushes(&upgraded, &phone_token).await, written);
}
