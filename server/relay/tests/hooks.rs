//! Automation hooks and privacy routes, end to end over loopback HTTP (harness as in relay.rs).
//!
//! Every storage scenario runs twice: against a temporary SQLite file and against a fresh
//! PostgreSQL database `tacho_test_<random>` made through the `postgres` database on
//! 127.0.0.1:5432 (override with `TACHO_TEST_PG_URL`) and dropped afterwards. If PostgreSQL is
//! unreachable the PostgreSQL variants fail; they never skip.

// Test helpers may panic on broken fixtures; that is a test failure, not a bug in the relay.
#![allow(clippy::expect_used, clippy::panic)]

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

#[path = "support/harness.rs"]
#[macro_use]
mod harness;
use harness::*;
#[path = "support/api.rs"]
mod api;
use api::*;

impl Relay {
    async fn delete(
        &self,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.delete(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        answer(req.send().await.expect("send")).await
    }

    async fn hook(&self, what: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.post(&format!("/v1/hooks/trip/{what}"), Some(token), body)
            .await
    }

    async fn new_hook_token(&self, access: &str, body: &Value) -> (String, String) {
        let (s, b) = self.post("/v1/hooks/tokens", Some(access), body).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        (
            b["id"].as_str().expect("id").to_owned(),
            b["token"].as_str().expect("token").to_owned(),
        )
    }

    async fn count(&self, sql: &str, bind: &str) -> i64 {
        use sqlx::Row as _;
        sqlx::query(AssertSqlSafe(sql.to_owned()))
            .bind(bind.to_owned())
            .fetch_one(&self.state.db().pool)
            .await
            .expect("count")
            .try_get::<i64, _>(0)
            .expect("i64")
    }
}

fn car_op(device: Uuid, seq: u64, car: Uuid, name: &str) -> Value {
    json!({
        "op_id": Uuid::now_v7(), "device": device, "device_seq": seq, "hlc": now_hlc() + seq,
        "entity": "car", "entity_id": car, "kind": "upsert",
        "fields": {"name": name, "make": null, "model": null, "plate": "X-1",
                   "available_from": null, "available_to": null, "connect_hint": null},
        "schema": 1,
    })
}

fn ev(id: &str) -> Value {
    json!({ "event_id": id })
}

fn ev_at(id: &str, lat: f64, lon: f64, secs_ago: i64) -> Value {
    let at = chrono::Utc::now() - chrono::Duration::seconds(secs_ago);
    json!({ "event_id": id, "lat": lat, "lon": lon, "accuracy": 5.0, "at": at.to_rfc3339() })
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

on_both_databases!(
    hook_tokens_are_shown_once_stored_hashed_and_owned,
    hook_events_make_a_trip_in_the_space,
    hook_events_are_checked,
    car_scoped_tokens_stay_on_their_car,
    new_routes_are_in_the_openapi_document,
    concurrent_events_keep_the_automation_device_gap_free,
    cars_are_named_by_plate_or_connect_hint_as_on_the_phone,
);

/// The car rule is `tacho_model::car::find_by_key`, as on the phone: a plate (any spacing or
/// dashes) and a connect hint name a car, not only its name.
async fn cars_are_named_by_plate_or_connect_hint_as_on_the_phone(db: TestDb) {
    let relay = start(&db).await;
    let phone = Uuid::now_v7();
    let access = token(&relay.signup("pat@example.com", phone).await);
    let golf = Uuid::now_v7();
    let mut op = car_op(phone, 1, golf, "Golf");
    op["fields"]["plate"] = json!("AB-12-CD");
    op["fields"]["connect_hint"] = json!("VW Golf BT");
    let (s, b) = relay.push(&access, &[op]).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let (s, made) = relay
        .post(
            "/v1/hooks/tokens",
            Some(&access),
            &json!({"car": "ab 12 cd"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    assert_eq!(made["info"]["car_id"], json!(golf));

    let (_, any_hook) = relay.new_hook_token(&access, &json!({})).await;
    let (s, b) = relay
        .hook(
            "start",
            &any_hook,
            &json!({"event_id": "s1", "car": "vw golf bt"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let trip = b["trip_id"].clone();
    let snap = relay.snapshot(&access).await;
    let header = snap["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .find(|o| o["entity_id"] == trip)
        .expect("trip op")
        .clone();
    assert_eq!(header["fields"]["car_id"], json!(golf));
}

async fn concurrent_events_keep_the_automation_device_gap_free(db: TestDb) {
    let relay = start(&db).await;
    let access = token(&relay.signup("kai@example.com", Uuid::now_v7()).await);
    let (_, hook) = relay.new_hook_token(&access, &json!({})).await;
    let (s, b) = relay
        .hook("start", &hook, &ev_at("s", 52.0, 4.0, 100))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Twenty pings at once, each sent twice.
    let calls: Vec<_> = (0..40_i32)
        .map(|i| {
            let relay = relay.clone();
            let hook = hook.clone();
            let n = i % 20;
            tokio::spawn(async move {
                let body = ev_at(
                    &format!("p{n}"),
                    52.0 + 0.0001 * f64::from(n + 1),
                    4.0,
                    90 - i64::from(n),
                );
                relay.hook("ping", &hook, &body).await
            })
        })
        .collect();
    let mut duplicates = 0;
    for call in calls {
        let (s, b) = call.await.expect("task");
        assert_eq!(s, StatusCode::OK, "{b}");
        duplicates += usize::from(b["duplicate"] == true);
    }
    assert_eq!(duplicates, 20);
    let snap = relay.snapshot(&access).await;
    let ops: Vec<&Value> = snap["ops"].as_array().expect("ops").iter().collect();
    assert_eq!(ops.len(), 1 + 1 + 20, "{snap}");
    let mut point_seqs: Vec<u64> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        assert_eq!(op["device_seq"], i + 1, "gap-free device_seq");
        if op["entity"] == "trip_points" {
            point_seqs.push(op["items"][0][0].as_u64().expect("seq"));
        }
    }
    point_seqs.sort_unstable();
    assert_eq!(point_seqs, (0..21).collect::<Vec<u64>>());
}

async fn new_routes_are_in_the_openapi_document(db: TestDb) {
    let relay = start(&db).await;
    let (s, doc) = relay.get("/v1/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    for (method, path) in [
        ("post", "/v1/hooks/tokens"),
        ("get", "/v1/hooks/tokens"),
        ("delete", "/v1/hooks/tokens/{id}"),
        ("post", "/v1/hooks/trip/start"),
        ("post", "/v1/hooks/trip/ping"),
        ("post", "/v1/hooks/trip/end"),
        ("get", "/v1/account/export"),
        ("delete", "/v1/account"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    for schema in [
        "HookEvent",
        "HookAnswer",
        "CreatedHookToken",
        "HookTokenList",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
    assert!(doc["components"]["securitySchemes"]["hook"].is_object());
}

async fn hook_tokens_are_shown_once_stored_hashed_and_owned(db: TestDb) {
    let relay = start(&db).await;
    let alice = token(&relay.signup("alice@example.com", Uuid::now_v7()).await);
    let bob = token(&relay.signup("bob@example.com", Uuid::now_v7()).await);

    let (s, b) = relay.post("/v1/hooks/tokens", None, &json!({})).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "missing_token");
    // The body must be an object (serde alone would take `[null, null]`; found by schemathesis).
    let (s, b) = relay
        .post("/v1/hooks/tokens", Some(&alice), &json!([null, null]))
        .await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");

    let (id, secret) = relay
        .new_hook_token(&alice, &json!({"label": "CarPlay"}))
        .await;
    assert!(
        secret.starts_with("tho_") && secret.len() == 4 + 43,
        "{secret}"
    );

    // Only the hash is stored, nowhere the token itself.
    let hashed = relay
        .count(
            "SELECT count(*) FROM hook_tokens WHERE hash = $1",
            &sha256_hex(&secret),
        )
        .await;
    assert_eq!(hashed, 1);
    let plain = relay
        .count(
            "SELECT count(*) FROM hook_tokens WHERE hash = $1 OR label = $1 OR id = $1 \
             OR car_name = $1 OR car_id = $1",
            &secret,
        )
        .await;
    assert_eq!(plain, 0);

    // Listed without the secret; not visible to another account.
    let (s, list) = relay.get("/v1/hooks/tokens", Some(&alice)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["tokens"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["tokens"][0]["id"], id.as_str());
    assert_eq!(list["tokens"][0]["label"], "CarPlay");
    assert!(!list.to_string().contains(&secret));
    let (_, other) = relay.get("/v1/hooks/tokens", Some(&bob)).await;
    assert_eq!(other["tokens"], json!([]));

    // Another account's id is 404, and the token keeps working.
    let (s, b) = relay
        .delete(&format!("/v1/hooks/tokens/{id}"), Some(&bob), None)
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = relay.hook("start", &secret, &ev("e1")).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // An access token is no hook token, and a hook token is no access token.
    let (s, b) = relay.hook("ping", &alice, &ev_at("e2", 52.0, 4.0, 0)).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_token");
    let (s, b) = relay.get("/v1/hooks/tokens", Some(&secret)).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_token");

    // Revoked: fails at once.
    let (s, _) = relay
        .delete(&format!("/v1/hooks/tokens/{id}"), Some(&alice), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = relay
        .hook("ping", &secret, &ev_at("e3", 52.0, 4.0, 0))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_token");
    let (s, b) = relay
        .delete(&format!("/v1/hooks/tokens/{id}"), Some(&alice), None)
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
}

async fn hook_events_make_a_trip_in_the_space(db: TestDb) {
    let relay = start(&db).await;
    let phone = Uuid::now_v7();
    let access = token(&relay.signup("carol@example.com", phone).await);
    let (_, hook) = relay.new_hook_token(&access, &json!({})).await;

    // A drive along a meridian: 0.001° latitude ≈ 111 m.
    let (s, start) = relay
        .hook("start", &hook, &ev_at("start-1", 52.000, 4.0, 60))
        .await;
    assert_eq!(s, StatusCode::OK, "{start}");
    assert_eq!(start["duplicate"], false);
    assert_eq!(start["state"], "active");
    let trip = start["trip_id"].as_str().expect("trip").to_owned();
    for (i, lat) in [52.001, 52.002, 52.003].iter().enumerate() {
        let secs = 50 - 10 * i64::try_from(i).expect("i");
        let (s, b) = relay
            .hook("ping", &hook, &ev_at(&format!("ping-{i}"), *lat, 4.0, secs))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["trip_id"], trip.as_str());
    }
    // A repeated event id is acknowledged and changes nothing.
    let ops_before = relay
        .count("SELECT count(*) FROM ops WHERE entity_id = $1", &trip)
        .await;
    let (s, dup) = relay
        .hook("ping", &hook, &ev_at("ping-1", 52.5, 4.0, 5))
        .await;
    assert_eq!(s, StatusCode::OK, "{dup}");
    assert_eq!(dup["duplicate"], true);
    assert_eq!(
        relay
            .count("SELECT count(*) FROM ops WHERE entity_id = $1", &trip)
            .await,
        ops_before
    );
    let (s, end) = relay.hook("end", &hook, &ev("end-1")).await;
    assert_eq!(s, StatusCode::OK, "{end}");
    assert_eq!(end["state"], "ended");
    assert_eq!(end["points"], 4);
    let d = end["distance_m"].as_f64().expect("distance");
    assert!((d - 333.6).abs() < 2.0, "{d}");
    let (_, again) = relay.hook("end", &hook, &ev("end-1")).await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["distance_m"], end["distance_m"]);
    // A second end has no trip to end.
    let (s, b) = relay.hook("end", &hook, &ev("end-2")).await;
    assert_error(s, &b, StatusCode::CONFLICT, "no_active_trip");

    // The ops come from one automation device, gap-free, in the core's shapes.
    let snap = relay.snapshot(&access).await;
    let ops: Vec<&Value> = snap["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .filter(|o| o["entity_id"] == trip.as_str())
        .collect();
    assert_eq!(ops.len(), 1 + 4 + 1, "{snap}");
    let device = ops[0]["device"].clone();
    assert_ne!(device, json!(phone));
    for (i, op) in ops.iter().enumerate() {
        assert_eq!(op["device"], device);
        assert_eq!(op["device_seq"], i + 1);
    }
    assert_eq!(ops[0]["entity"], "trip");
    assert_eq!(ops[0]["fields"]["source"], "hook");
    assert_eq!(ops[0]["fields"]["state"], "active");
    assert!(ops[0]["fields"]["started_at"].is_string());
    assert_eq!(ops[1]["entity"], "trip_points");
    assert_eq!(ops[1]["kind"], "append");
    assert_eq!(ops[1]["items"][0][0], 0);
    assert_eq!(ops[1]["items"][0][2], 52.0);
    assert_eq!(ops[4]["items"][0][0], 3);
    assert_eq!(ops[5]["fields"]["state"], "ended");
    assert_eq!(ops[5]["fields"]["distance_m"], end["distance_m"]);
    assert_eq!(ops[5]["fields"]["point_count"], 4);
    let devices = relay
        .count(
            "SELECT count(*) FROM devices WHERE name = 'automation' AND id = $1",
            device.as_str().expect("device"),
        )
        .await;
    assert_eq!(devices, 1);

    // The merged state on the relay is the ended trip.
    let state = relay
        .count(
            "SELECT count(*) FROM entity_state WHERE entity = 'trip' AND entity_id = $1 \
             AND state LIKE '%\"ended\"%'",
            &trip,
        )
        .await;
    assert_eq!(state, 1);

    // The phone's own queue is untouched by the automation device's ops.
    let (s, b) = relay.push(&access, &[op(phone, 1)]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn hook_events_are_checked(db: TestDb) {
    let relay = start(&db).await;
    let access = token(&relay.signup("dave@example.com", Uuid::now_v7()).await);
    let (_, hook) = relay.new_hook_token(&access, &json!({})).await;

    // Tokens never in the URL.
    let res = relay
        .http
        .post(format!("{}/v1/hooks/trip/start?token={hook}", relay.base))
        .json(&ev("q1"))
        .send()
        .await
        .expect("send");
    let (s, b) = answer(res).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "token_in_query");
    let res = relay
        .http
        .post(format!("{}/v1/hooks/trip/start?x=1", relay.base))
        .bearer_auth(&hook)
        .json(&ev("q2"))
        .send()
        .await
        .expect("send");
    let (s, b) = answer(res).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "unexpected_query");
    let (s, b) = relay.hook("start", "", &ev("q3")).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "missing_token");
    let (s, b) = relay.hook("start", "tho_forged", &ev("q4")).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_token");

    // Nothing to ping or end yet.
    let (s, b) = relay.hook("ping", &hook, &ev_at("p0", 52.0, 4.0, 0)).await;
    assert_error(s, &b, StatusCode::CONFLICT, "no_active_trip");
    let (s, b) = relay.hook("end", &hook, &ev("e0")).await;
    assert_error(s, &b, StatusCode::CONFLICT, "no_active_trip");

    // Times outside ±10 minutes.
    let (s, b) = relay
        .hook("start", &hook, &ev_at("old", 52.0, 4.0, 11 * 60))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "event_time_out_of_window",
    );
    let (s, b) = relay
        .hook("start", &hook, &ev_at("future", 52.0, 4.0, -11 * 60))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "event_time_out_of_window",
    );
    let (s, _) = relay
        .hook("start", &hook, &ev_at("nine", 52.0, 4.0, 9 * 60))
        .await;
    assert_eq!(s, StatusCode::OK);

    // Positions.
    let (s, b) = relay.hook("ping", &hook, &ev("nopos")).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "missing_position");
    let (s, b) = relay
        .hook("ping", &hook, &ev_at("badpos", 91.0, 4.0, 0))
        .await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "bad_position");
    let (s, b) = relay
        .hook("ping", &hook, &json!({"event_id": "half", "lat": 52.0}))
        .await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "bad_position");
    let (s, b) = relay.hook("ping", &hook, &json!({"event_id": ""})).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "bad_event_id");
    let (s, b) = relay.hook("ping", &hook, &json!({"lat": 1})).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");

    // A second start while the trip runs continues it.
    let (s, b) = relay.hook("start", &hook, &ev("again")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["already_active"], true);
    assert_eq!(b["duplicate"], false);
}

async fn car_scoped_tokens_stay_on_their_car(db: TestDb) {
    let relay = start(&db).await;
    let phone = Uuid::now_v7();
    let access = token(&relay.signup("erin@example.com", phone).await);
    let (golf, polo) = (Uuid::now_v7(), Uuid::now_v7());
    let (s, b) = relay
        .push(
            &access,
            &[
                car_op(phone, 1, golf, "Golf"),
                car_op(phone, 2, polo, "Polo"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let (s, b) = relay
        .post("/v1/hooks/tokens", Some(&access), &json!({"car": "Beetle"}))
        .await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "unknown_car");
    let (s, made) = relay
        .post("/v1/hooks/tokens", Some(&access), &json!({"car": "golf"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    assert_eq!(made["info"]["car_id"], json!(golf));
    let golf_hook = made["token"].as_str().expect("token").to_owned();
    let (_, polo_hook) = relay
        .new_hook_token(&access, &json!({"car": polo.to_string()}))
        .await;
    let (_, any_hook) = relay.new_hook_token(&access, &json!({})).await;

    // A hint naming another car is refused.
    let (s, b) = relay
        .hook(
            "start",
            &golf_hook,
            &json!({"event_id": "s0", "car": "Polo"}),
        )
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "car_out_of_scope");

    // The Polo drives; the Golf token may not ping or end it.
    let (s, b) = relay.hook("start", &polo_hook, &ev("s1")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let polo_trip = b["trip_id"].clone();
    let (s, b) = relay
        .hook("ping", &golf_hook, &ev_at("p1", 52.0, 4.0, 0))
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "car_out_of_scope");
    let (s, b) = relay.hook("end", &golf_hook, &ev("e1")).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "car_out_of_scope");

    let snap = relay.snapshot(&access).await;
    let header = snap["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .find(|o| o["entity_id"] == polo_trip)
        .expect("trip op")
        .clone();
    assert_eq!(header["fields"]["car_id"], json!(polo));

    // An unscoped token acts on the running trip; a car hint picks the car.
    let (s, b) = relay.hook("end", &any_hook, &ev("e2")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["trip_id"], polo_trip);
    let (s, b) = relay
        .hook(
            "start",
            &any_hook,
            &json!({"event_id": "s2", "car": "GOLF"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = relay
        .hook("ping", &golf_hook, &ev_at("p2", 52.0, 4.0, 0))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["points"], 1);
}

on_both_databases!(
    export_is_one_zip_with_json_per_kind_and_gpx_per_trip,
    deleting_an_account_removes_everything_in_it,
    gps_retention_deletes_old_points_and_keeps_trip_summaries,
    gps_retention_purges_a_chunk_that_arrives_after_the_purge,
);

/// Signs up, records a hook trip of four points along a meridian and returns
/// (access token, hook token, trip id).
async fn account_with_a_trip(relay: &Relay, email: &str, end: bool) -> (String, String, String) {
    let phone = Uuid::now_v7();
    let access = token(&relay.signup(email, phone).await);
    let (s, b) = relay
        .push(&access, &[car_op(phone, 1, Uuid::now_v7(), "Golf")])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, hook) = relay.new_hook_token(&access, &json!({})).await;
    let (s, b) = relay.hook("start", &hook, &ev_at("s", 52.0, 4.0, 40)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let trip = b["trip_id"].as_str().expect("trip").to_owned();
    for (i, lat) in [52.001, 52.002, 52.003].iter().enumerate() {
        let secs = 30 - 10 * i64::try_from(i).expect("i");
        let (s, b) = relay
            .hook("ping", &hook, &ev_at(&format!("p{i}"), *lat, 4.0, secs))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    if end {
        let (s, b) = relay.hook("end", &hook, &ev("e")).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    (access, hook, trip)
}

async fn export_is_one_zip_with_json_per_kind_and_gpx_per_trip(db: TestDb) {
    use std::io::Read as _;
    let relay = start(&db).await;
    let (access, _, trip) = account_with_a_trip(&relay, "fay@example.com", true).await;
    let (other, _, other_trip) = account_with_a_trip(&relay, "gus@example.com", true).await;

    let res = relay
        .http
        .get(format!("{}/v1/account/export", relay.base))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = relay
        .http
        .get(format!("{}/v1/account/export", relay.base))
        .bearer_auth(&access)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"].to_str().expect("type"),
        "application/zip"
    );
    let bytes = res.bytes().await.expect("bytes");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    let mut names: Vec<String> = zip
        .file_names()
        .map(|n| n.expect("name").into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "account.json".to_owned(),
            "car.json".to_owned(),
            "devices.json".to_owned(),
            format!("gpx/{trip}.gpx"),
            "trip.json".to_owned(),
        ]
    );
    let mut read = |name: &str| {
        let mut s = String::new();
        zip.by_name(name)
            .expect("entry")
            .read_to_string(&mut s)
            .expect("utf-8");
        s
    };
    let account: Value = serde_json::from_str(&read("account.json")).expect("json");
    assert_eq!(account["email"], "fay@example.com");
    let devices: Value = serde_json::from_str(&read("devices.json")).expect("json");
    assert_eq!(devices.as_array().map(Vec::len), Some(2), "{devices}");
    let trips: Value = serde_json::from_str(&read("trip.json")).expect("json");
    assert_eq!(trips[0]["id"], trip.as_str());
    assert_eq!(trips[0]["fields"]["state"], "ended");
    assert_eq!(trips[0]["fields"]["source"], "hook");
    let cars: Value = serde_json::from_str(&read("car.json")).expect("json");
    assert_eq!(cars[0]["fields"]["name"], "Golf");
    let gpx = read(&format!("gpx/{trip}.gpx"));
    assert!(gpx.starts_with("<?xml"), "{gpx}");
    assert_eq!(gpx.matches("<trkpt ").count(), 4, "{gpx}");
    assert!(gpx.contains("lat=\"52.003\" lon=\"4\""), "{gpx}");
    let all = format!("{account}{devices}{trips}{cars}{gpx}");
    assert!(!all.contains(&other_trip) && !all.contains("gus@"));
    let _ = other;
}

async fn deleting_an_account_removes_everything_in_it(db: TestDb) {
    let relay = start(&db).await;
    let (access, hook, _) = account_with_a_trip(&relay, "hal@example.com", false).await;
    let (s, login) = relay
        .post(
            "/v1/auth/login",
            None,
            &creds("hal@example.com", Uuid::now_v7()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{login}");
    let refresh = login["refresh_token"].clone();
    let (other, other_hook, other_trip) =
        account_with_a_trip(&relay, "ida@example.com", false).await;
    let (_, session) = relay.get("/v1/snapshot", Some(&access)).await;
    assert!(session["cursor"].as_i64().is_some_and(|c| c > 0));
    let space = {
        use sqlx::Row as _;
        sqlx::query("SELECT space_id FROM accounts WHERE email = 'hal@example.com'")
            .fetch_one(&relay.state.db().pool)
            .await
            .expect("account")
            .try_get::<String, _>("space_id")
            .expect("space")
    };

    let (s, b) = relay
        .delete(
            "/v1/account",
            Some(&access),
            Some(&json!({"password": "wrong password!"})),
        )
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_credentials");
    let (s, b) = relay
        .delete("/v1/account", None, Some(&json!({"password": "x"})))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "missing_token");
    let (s, _) = relay.get("/v1/pull", Some(&access)).await;
    assert_eq!(s, StatusCode::OK);

    let (s, b) = relay
        .delete(
            "/v1/account",
            Some(&access),
            Some(&json!({"password": "correct horse battery"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");

    // Its tokens fail at once.
    let (s, b) = relay.get("/v1/pull", Some(&access)).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_token");
    let (s, b) = relay
        .hook("ping", &hook, &ev_at("late", 52.0, 4.0, 0))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_token");
    let (s, b) = relay
        .post(
            "/v1/auth/login",
            None,
            &creds("hal@example.com", Uuid::now_v7()),
        )
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_credentials");
    let (s, b) = relay
        .post(
            "/v1/auth/refresh",
            None,
            &json!({ "refresh_token": refresh }),
        )
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_token");
    let (s, b) = relay.get("/v1/pull", Some(&token(&login))).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_token");

    // Nothing of it is left.
    for table in ["ops", "rejected_ops", "point_writers", "entity_state"] {
        let n = relay
            .count(
                &format!("SELECT count(*) FROM {table} WHERE space_id = $1"),
                &space,
            )
            .await;
        assert_eq!(n, 0, "{table}");
    }
    assert_eq!(
        relay
            .count("SELECT count(*) FROM spaces WHERE id = $1", &space)
            .await,
        0
    );
    for table in [
        "devices",
        "refresh_tokens",
        "hook_tokens",
        "hook_events",
        "hook_trips",
        "automation_devices",
    ] {
        let n = relay
            .count(
                &format!(
                    "SELECT count(*) FROM {table} WHERE account_id NOT IN \
                     (SELECT id FROM accounts) OR account_id = $1"
                ),
                "none",
            )
            .await;
        assert_eq!(n, 0, "{table}");
    }

    // The other account is untouched.
    let (s, b) = relay
        .hook("ping", &other_hook, &ev_at("p9", 52.004, 4.0, 0))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["trip_id"], other_trip.as_str());
    let snap = relay.snapshot(&other).await;
    assert_eq!(snap["ops"].as_array().map(Vec::len), Some(1 + 1 + 4 + 1));
}

async fn gps_retention_deletes_old_points_and_keeps_trip_summaries(db: TestDb) {
    let relay = start(&db).await;
    let (access, hook, ended) = account_with_a_trip(&relay, "jo@example.com", true).await;
    let (s, b) = relay.hook("start", &hook, &ev_at("s2", 52.1, 4.0, 5)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let running = b["trip_id"].as_str().expect("trip").to_owned();
    let points = "SELECT count(*) FROM ops WHERE entity = 'trip_points' AND entity_id = $1";
    assert_eq!(relay.count(points, &ended).await, 4);
    assert_eq!(relay.count(points, &running).await, 1);
    let before = relay.snapshot(&access).await;

    // Within the retention period nothing goes.
    let now = chrono::Utc::now().timestamp_millis();
    let gone = tacho_relay::jobs::retention::purge_old_points(relay.state.db(), 30, now)
        .await
        .expect("purge");
    assert_eq!(gone, 0);
    assert_eq!(relay.count(points, &ended).await, 4);

    // 31 days later the ended trip's points go; the running trip's stay; the summary stays.
    let later = now + 31 * 24 * 3600 * 1000;
    let gone = tacho_relay::jobs::retention::purge_old_points(relay.state.db(), 30, later)
        .await
        .expect("purge");
    assert_eq!(gone, 4);
    assert_eq!(relay.count(points, &ended).await, 0);
    assert_eq!(relay.count(points, &running).await, 1);
    let again = tacho_relay::jobs::retention::purge_old_points(relay.state.db(), 30, later)
        .await
        .expect("purge");
    assert_eq!(again, 0);

    let after = relay.snapshot(&access).await;
    assert_eq!(after["cursor"], before["cursor"], "the head does not move");
    let ops = after["ops"].as_array().expect("ops");
    assert!(
        ops.iter()
            .all(|o| !(o["entity_id"] == ended.as_str() && o["entity"] == "trip_points"))
    );
    let header = ops
        .iter()
        .rfind(|o| o["entity_id"] == ended.as_str())
        .expect("trip header");
    assert_eq!(header["fields"]["state"], "ended");
    assert!(
        header["fields"]["distance_m"]
            .as_f64()
            .is_some_and(|d| d > 300.0)
    );
    // A pull from 0 skips the gaps and ends at the same head.
    let (s, pulled) = relay.get("/v1/pull?cursor=0", Some(&access)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(pulled["cursor"], before["cursor"]);
    assert_eq!(pulled["has_more"], false);
}

/// A phone's trip: header (ended), one point chunk; the purge empties it, then a chunk that was
/// stuck on the phone arrives — the next purge must take it too.
async fn gps_retention_purges_a_chunk_that_arrives_after_the_purge(db: TestDb) {
    let relay = start(&db).await;
    let phone = Uuid::now_v7();
    let access = token(&relay.signup("lee@example.com", phone).await);
    let trip = Uuid::now_v7();
    let ended = chrono::Utc::now() - chrono::Duration::days(40);
    let chunk = |seq: u64, point: u64| {
        json!({
            "op_id": Uuid::now_v7(), "device": phone, "device_seq": seq, "hlc": now_hlc() + seq,
            "entity": "trip_points", "entity_id": trip, "kind": "append",
            "items": [[point, ended.timestamp_millis(), 52.0, 4.0, null, null, null, null, 1]],
            "schema": 1,
        })
    };
    let header = json!({
        "op_id": Uuid::now_v7(), "device": phone, "device_seq": 1, "hlc": now_hlc(),
        "entity": "trip", "entity_id": trip, "kind": "upsert",
        "fields": {"state": "ended", "started_at": (ended - chrono::Duration::hours(1)).to_rfc3339(),
                   "ended_at": ended.to_rfc3339()},
        "schema": 1,
    });
    let (s, b) = relay
        .push(&access, &[header, chunk(2, 0), chunk(3, 1)])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let points = "SELECT count(*) FROM ops WHERE entity = 'trip_points' AND entity_id = $1";
    let trip = trip.to_string();
    assert_eq!(relay.count(points, &trip).await, 2);

    let now = chrono::Utc::now().timestamp_millis();
    let purge = || tacho_relay::jobs::retention::purge_old_points(relay.state.db(), 30, now);
    assert_eq!(purge().await.expect("purge"), 2);
    assert_eq!(relay.count(points, &trip).await, 0);
    assert_eq!(purge().await.expect("purge"), 0);

    let (s, b) = relay.push(&access, &[chunk(4, 2)]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(relay.count(points, &trip).await, 1);
    assert_eq!(
        purge().await.expect("purge"),
        1,
        "the late chunk is purged too"
    );
    assert_eq!(relay.count(points, &trip).await, 0);
}
