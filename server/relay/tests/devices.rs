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
