//! Issue 11 item 6: the relay refuses nonsense in a person's own data with 422 `invalid_op`
//! naming the field, by the field schema every replica shares (`tacho_model::schema`), on
//! SQLite and on PostgreSQL. Same set-up as `relay.rs`, kept in its own file so parallel work
//! on `relay.rs` merges cleanly.

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
    the_issues_nonsense_is_refused_naming_the_field,
    a_stop_before_the_start_is_judged_on_the_merged_entry,
    valid_entities_of_every_kind_are_accepted,
);

/// An upsert of `entity` from `device` with the relay's clock.
fn upsert(device: Uuid, seq: u64, entity: &str, id: Uuid, fields: Value) -> Value {
    json!({
        "op_id": Uuid::now_v7(), "device": device, "device_seq": seq, "hlc": now_hlc() + seq,
        "entity": entity, "entity_id": id, "kind": "upsert", "fields": fields, "schema": 1,
    })
}

fn now_rfc3339(offset_s: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_s)).to_rfc3339()
}

fn place(lat: Value) -> Value {
    json!({"name": "Somewhere", "kind": "other", "center": {"lat": lat, "lon": 5.0},
           "radius_m": 100.0, "address": null})
}

fn entry(start: &str, stop: Option<&str>) -> Value {
    json!({"project_id": null, "description": "work", "start": start, "stop": stop,
           "tags": [], "billable": false, "source": "manual", "trip_id": null})
}

/// Pushes `op` as the device's next op: 422 `invalid_op` naming `field`, and the sequence
/// number consumed (the device parks it and carries on).
async fn refused(relay: &Relay, token: &str, op: &Value, field: &str) {
    let (s, b) = relay.push(token, std::slice::from_ref(op)).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_op");
    assert_eq!(b["field"], field, "{b}");
    assert_eq!(b["op_id"], op["op_id"], "{b}");
    assert!(
        b["message"].as_str().is_some_and(|m| m.contains(field)),
        "{b}"
    );
}

async fn the_issues_nonsense_is_refused_naming_the_field(db: TestDb) {
    let relay = start(&db).await;
    let device = Uuid::now_v7();
    let t = token(&relay.signup("nonsense@example.org", device).await);
    let new = Uuid::now_v7;
    let mut trip = json!({"distance_m": -1.0, "note": "x"});
    let cases = [
        ("place", place(json!(91.0)), "center"),
        ("place", place(json!("52.1")), "center"),
        ("period_lock", json!({"month": "2026-13"}), "month"),
        ("trip", trip.take(), "distance_m"),
        (
            "time_entry",
            entry("1970-01-01T00:00:00Z", Some("1970-01-01T01:00:00Z")),
            "start",
        ),
        (
            "time_entry",
            entry(&now_rfc3339(-3600), Some(&now_rfc3339(-7200))),
            "stop",
        ),
        (
            "odometer_reading",
            json!({"car_id": new(), "at": "1970-01-01T00:00:00Z", "odometer_m": 1000,
                   "source": "manual", "trip": null}),
            "at",
        ),
        (
            "car",
            json!({"name": "Golf\u{0}", "plate": "AB-12"}),
            "name",
        ),
        (
            "project",
            json!({"name": "x", "rounding": "up:15"}),
            "rounding",
        ),
    ];
    let mut seq = 0;
    let mut sent = Vec::new();
    for (entity, fields, field) in &cases {
        seq += 1;
        let op = upsert(device, seq, entity, new(), fields.clone());
        refused(&relay, &t, &op, field).await;
        sent.push(op);
    }
    // An op whose own clock is in 1970 (a device whose clock was reset).
    seq += 1;
    let mut stale = upsert(device, seq, "project", new(), json!({"name": "x"}));
    stale["hlc"] = json!(5_u64 << 16);
    refused(&relay, &t, &stale, "hlc").await;
    // An edit-history item that is not a trip edit.
    seq += 1;
    let edit = json!({
        "op_id": new(), "device": device, "device_seq": seq, "hlc": now_hlc() + seq,
        "entity": "trip_edit", "entity_id": new(), "kind": "append",
        "items": [{"field": "note", "new_value": "x"}], "schema": 1,
    });
    refused(&relay, &t, &edit, "items[0].trip_id").await;

    // A refused op sent again (its answer lost) is refused again, still naming the field.
    let (s, b) = relay.push(&t, &sent[..1]).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_op");
    assert_eq!(
        (b["field"].clone(), b["accepted"].clone()),
        (json!("center"), json!(0)),
        "{b}"
    );

    // The queue moved on: the next op is taken, and the log holds nothing refused.
    seq += 1;
    let fine = upsert(device, seq, "place", new(), place(json!(52.1)));
    let (s, b) = relay.push(&t, std::slice::from_ref(&fine)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["accepted"], 1, "{b}");
    let snap = relay.snapshot(&t).await;
    let ops = snap["ops"].as_array().expect("ops");
    assert_eq!(ops.len(), 1, "{snap}");
    assert_eq!(ops[0]["op_id"], fine["op_id"]);
}

async fn a_stop_before_the_start_is_judged_on_the_merged_entry(db: TestDb) {
    let relay = start(&db).await;
    let device = Uuid::now_v7();
    let t = token(&relay.signup("order@example.org", device).await);
    let id = Uuid::now_v7();
    let (start, before) = (now_rfc3339(-3600), now_rfc3339(-3660));
    // The running entry is stored in one push …
    let (s, b) = relay
        .push(
            &t,
            &[upsert(device, 1, "time_entry", id, entry(&start, None))],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // … its stop, alone in a later push, is judged on the stored merged entry.
    let stop = upsert(device, 2, "time_entry", id, json!({ "stop": before }));
    refused(&relay, &t, &stop, "stop").await;
    // Moving the start past a stop in the same batch as the stop: the earlier op of the
    // batch counts, the later one is refused, the one before it kept.
    let good_stop = upsert(
        device,
        3,
        "time_entry",
        id,
        json!({"stop": now_rfc3339(-60)}),
    );
    let late_start = upsert(
        device,
        4,
        "time_entry",
        id,
        json!({"start": now_rfc3339(-30)}),
    );
    let (s, b) = relay.push(&t, &[good_stop.clone(), late_start]).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_op");
    assert_eq!(
        (b["index"].clone(), b["accepted"].clone()),
        (json!(1), json!(1)),
        "{b}"
    );
    assert_eq!(b["field"], "start", "{b}");
    // A stop equal to the start is in order.
    let equal = upsert(device, 5, "time_entry", id, json!({ "stop": start }));
    let (s, b) = relay.push(&t, &[equal]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let snap = relay.snapshot(&t).await;
    assert_eq!(snap["ops"].as_array().map(Vec::len), Some(3), "{snap}");
}

/// No false alarm: a whole entity of every kind, as the clients write them, is accepted.
async fn valid_entities_of_every_kind_are_accepted(db: TestDb) {
    let relay = start(&db).await;
    let device = Uuid::now_v7();
    let t = token(&relay.signup("valid@example.org", device).await);
    let (car, trip) = (Uuid::now_v7(), Uuid::now_v7());
    let now_ms = chrono::Utc::now().timestamp_millis();
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let mut ops = vec![
        upsert(
            device,
            1,
            "car",
            car,
            json!({"name": "Golf", "make": "VW", "model": null, "plate": "AB-12-CD",
                   "available_from": "2024-01-01", "available_to": null, "connect_hint": "VW BT"}),
        ),
        upsert(device, 2, "place", Uuid::now_v7(), place(json!(-90.0))),
        upsert(
            device,
            3,
            "trip",
            trip,
            json!({"car_id": car, "state": "ended", "source": "bluetooth", "car_hint": null,
                   "started_at": now_rfc3339(-3600), "ended_at": now_rfc3339(-60),
                   "time_zone": "Europe/Amsterdam", "start": {"lat": 52.0, "lon": 5.0}, "end": null,
                   "start_address": "Main St 1\nUtrecht", "end_address": null, "start_place": null,
                   "end_place": null, "distance_m": 37600.5, "point_count": 2, "purpose": "business",
                   "purpose_by": "user", "business_partner": "ACME", "note": "via A2", "recovered": false,
                   "x_from_v2": {"anything": true}}),
        ),
        upsert(
            device,
            4,
            "odometer_reading",
            Uuid::now_v7(),
            json!({"car_id": car, "at": now_rfc3339(-60), "odometer_m": 52_400_000,
                   "source": "manual", "trip": [trip, "end"]}),
        ),
        upsert(
            device,
            5,
            "project",
            Uuid::now_v7(),
            json!({"name": "Alpha", "client": null, "billable": true,
                   "rounding": {"mode": "up", "minutes": 15}}),
        ),
        upsert(
            device,
            6,
            "time_entry",
            Uuid::now_v7(),
            entry(&now_rfc3339(-600), Some(&now_rfc3339(-60))),
        ),
        upsert(
            device,
            7,
            "period_lock",
            Uuid::now_v7(),
            json!({ "month": month }),
        ),
    ];
    ops.push(json!({
        "op_id": Uuid::now_v7(), "device": device, "device_seq": 8, "hlc": now_hlc() + 8,
        "entity": "trip_points", "entity_id": trip, "kind": "append",
        "items": [[0, now_ms - 3_600_000, 52.0, 5.0, 4.0, null, null, null, 1]], "schema": 1,
    }));
    ops.push(json!({
        "op_id": Uuid::now_v7(), "device": device, "device_seq": 9, "hlc": now_hlc() + 9,
        "entity": "trip_edit", "entity_id": trip, "kind": "append",
        "items": [{"trip_id": trip, "field": "note", "old_value": null, "new_value": "via A2",
                   "at": now_rfc3339(0), "device": device}], "schema": 1,
    }));
    let (s, b) = relay.push(&t, &ops).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["accepted"], ops.len(), "{b}");
}
