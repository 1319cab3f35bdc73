#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Issue 11 item 6 in the store: local writes that break the shared field schema are refused
//! with a typed error naming the field, before anything is written (the store never records
//! an op the relay refuses), and pulled ops that break it are refused by the same rules.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value, json};
use tacho_model::clock::ManualClock;
use tacho_model::gps::LatLon;
use tacho_model::hlc::Hlc;
use tacho_model::id::{DeviceId, EntryId, OpId, PlaceId, ProjectId, TripId};
use tacho_model::merge::InvalidOp;
use tacho_model::op::{EntityKind, Op, OpKind, SCHEMA_VERSION};
use tacho_model::place::{Place, PlaceKind};
use tacho_model::trip::{Trip, TripField, TripSource, TripState};
use tacho_model::work::{EntrySource, Project, Rounding, TimeEntry};
use tacho_store::{Store, StoreError};
use uuid::Uuid;

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

fn store() -> Store {
    Store::open_in_memory(Arc::new(ManualClock::new(now()))).unwrap()
}

fn entry(start: chrono::DateTime<Utc>, stop: chrono::DateTime<Utc>) -> TimeEntry {
    TimeEntry {
        id: EntryId::new(),
        project_id: None,
        description: "review".into(),
        start,
        stop: Some(stop),
        tags: vec![],
        billable: false,
        source: EntrySource::Manual,
        trip_id: None,
    }
}

fn trip() -> Trip {
    Trip {
        id: TripId::new(),
        car_id: None,
        state: TripState::Active,
        source: TripSource::Manual,
        car_hint: None,
        started_at: now() - Duration::hours(1),
        ended_at: None,
        time_zone: "Europe/Amsterdam".into(),
        start: None,
        end: None,
        start_address: None,
        end_address: None,
        start_place: None,
        end_place: None,
        distance_m: 0.0,
        point_count: 0,
        purpose: None,
        purpose_by: None,
        business_partner: None,
        note: None,
        recovered: false,
    }
}

/// The refusal is the typed schema error naming `field`, and nothing was written.
fn refused<T: std::fmt::Debug>(store: &Store, before: u64, r: Result<T, StoreError>, field: &str) {
    match r {
        Err(StoreError::InvalidOp(e)) => {
            assert_eq!(e.field(), Some(field), "{e}");
            assert!(e.to_string().contains(field), "{e}");
        }
        other => panic!("expected a schema refusal of `{field}`, got {other:?}"),
    }
    assert_eq!(store.outbox_total().unwrap(), before, "an op was recorded");
}

#[test]
fn local_writes_breaking_the_schema_are_refused_naming_the_field() {
    let mut s = store();
    let n = s.outbox_total().unwrap();
    let r = s.write(|w| {
        w.add_entry(&entry(
            Utc.with_ymd_and_hms(1970, 1, 1, 9, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(1970, 1, 1, 10, 0, 0).unwrap(),
        ))
    });
    refused(&s, n, r, "start");
    assert!(s.entries(&Default::default()).unwrap().is_empty());

    let r = s.write(|w| {
        w.add_entry(&entry(
            now() + Duration::days(400),
            now() + Duration::days(400) + Duration::hours(1),
        ))
    });
    refused(&s, n, r, "start");

    let r = s.write(|w| {
        w.add_place(&Place {
            id: PlaceId::new(),
            name: "Office\nsecond line".into(),
            kind: PlaceKind::Office,
            center: LatLon {
                lat: 52.0,
                lon: 5.0,
            },
            radius_m: 100.0,
            address: None,
        })
    });
    refused(&s, n, r, "name");
    assert!(s.places().unwrap().is_empty());

    let r = s.write(|w| {
        w.add_project(&Project {
            id: ProjectId::new(),
            name: "x".repeat(201),
            client: None,
            billable: false,
            rounding: Rounding::None,
            archived: false,
        })
    });
    refused(&s, n, r, "name");

    let t = trip();
    s.write(|w| w.insert_trip(&t)).unwrap();
    let n = s.outbox_total().unwrap();
    let r = s.write(|w| w.edit_trip(t.id, TripField::Note, Some("ring\u{7}".into())));
    refused(&s, n, r, "note");
    assert_eq!(s.trip(t.id).unwrap().note, None, "the row was rolled back");

    // An order rule on the merged state: a trip that ends before it starts.
    let mut ended = t.clone();
    ended.state = TripState::Ended;
    ended.ended_at = Some(t.started_at - Duration::minutes(1));
    let r = s.write(|w| w.finish_trip(&ended));
    refused(&s, n, r, "ended_at");
    assert_eq!(s.trip(t.id).unwrap().state, TripState::Active);
}

fn remote(device: DeviceId, seq: u64, entity: EntityKind, fields: Value) -> Op {
    let Value::Object(fields) = fields else {
        panic!("object")
    };
    Op {
        op_id: OpId::new(),
        device,
        device_seq: seq,
        hlc: Hlc::new(u64::try_from(now().timestamp_millis()).unwrap(), 0),
        entity,
        entity_id: Uuid::now_v7(),
        kind: OpKind::Upsert { fields },
        schema: SCHEMA_VERSION,
    }
}

/// Ops an older relay let into the log are refused by the same rules when pulled: counted as
/// invalid, no merged state and no row for them.
#[test]
fn pulled_ops_breaking_the_schema_are_refused_by_the_same_rules() {
    let mut s = store();
    let other = DeviceId::new();
    let place = json!({"name": "P", "kind": "other", "center": {"lat": 52.0, "lon": 5.0},
                       "radius_m": 100.0, "address": null});
    let with = |k: &str, v: Value| {
        let mut p = place.clone();
        p[k] = v;
        p
    };
    let bad = [
        remote(
            other,
            1,
            EntityKind::Place,
            with("center", json!({"lat": 91.0, "lon": 5.0})),
        ),
        remote(
            other,
            2,
            EntityKind::Place,
            with("center", json!({"lat": "52", "lon": 5.0})),
        ),
        remote(other, 3, EntityKind::Place, with("radius_m", json!(-1))),
        remote(
            other,
            4,
            EntityKind::PeriodLock,
            json!({"month": "2026-13"}),
        ),
        remote(
            other,
            5,
            EntityKind::TimeEntry,
            json!({"description": "", "start": "1970-01-01T00:00:00Z", "stop": null, "tags": [],
                   "billable": false, "source": "manual", "project_id": null, "trip_id": null}),
        ),
    ];
    let good = remote(other, 6, EntityKind::Place, place.clone());
    let mut ops = bad.to_vec();
    ops.push(good.clone());
    let applied = s.write(|w| w.apply_remote(&ops, 6)).unwrap();
    assert_eq!(
        (applied.invalid, applied.changed),
        (bad.len(), 1),
        "{applied:?}"
    );
    for op in &bad {
        assert_eq!(s.entity_state(op.entity, op.entity_id).unwrap(), None);
        let err: InvalidOp = tacho_model::merge::check_shape(op).unwrap_err();
        assert!(err.field().is_some(), "{err}");
    }
    assert_eq!(s.places().unwrap().len(), 1);
    assert!(s.entries(&Default::default()).unwrap().is_empty());
}
