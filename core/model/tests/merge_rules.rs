//! One test per merge rule: LWW, tombstones, appends, the TripPoints writer,
//! unknown fields and the running-timer view.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};
use tacho_model::hlc::Hlc;
use tacho_model::id::{DeviceId, OpId};
use tacho_model::merge::{EntityState, InvalidOp, SpaceState};
use tacho_model::op::{EntityKind, Op, OpKind, SCHEMA_VERSION};
use uuid::Uuid;

const MS: u64 = 1_700_000_000_000;

fn dev(n: u128) -> DeviceId {
    DeviceId(Uuid::from_u128(n))
}

fn op(device: DeviceId, seq: u64, hlc: Hlc, entity: EntityKind, id: Uuid, kind: OpKind) -> Op {
    Op {
        op_id: OpId(Uuid::from_u128(
            (u128::from(seq) << 64) | device.0.as_u128() & 0xffff_ffff,
        )),
        device,
        device_seq: seq,
        hlc,
        entity,
        entity_id: id,
        kind,
        schema: SCHEMA_VERSION,
    }
}

fn upsert(device: DeviceId, seq: u64, hlc: Hlc, id: Uuid, fields: Value) -> Op {
    let Value::Object(fields) = fields else {
        panic!("fields must be an object")
    };
    op(
        device,
        seq,
        hlc,
        EntityKind::Project,
        id,
        OpKind::Upsert { fields },
    )
}

fn at(ms: u64) -> Hlc {
    Hlc::new(MS + ms, 0)
}

fn entity_id() -> Uuid {
    Uuid::from_u128(0xe1)
}

#[test]
fn later_upsert_wins_whichever_arrives_first() {
    let (a, b) = (dev(1), dev(2));
    let older = upsert(a, 1, at(1_000), entity_id(), json!({"name": "old"}));
    let newer = upsert(b, 1, at(2_000), entity_id(), json!({"name": "new"}));
    for order in [[&older, &newer], [&newer, &older]] {
        let mut e = EntityState::default();
        for o in order {
            e.apply(o).unwrap();
        }
        assert_eq!(e.fields["name"], "new");
        assert_eq!(e.clocks["name"].device, b);
    }
    // The older op arriving second reports no change.
    let mut e = EntityState::default();
    assert!(e.apply(&newer).unwrap());
    assert!(!e.apply(&older).unwrap());
}

#[test]
fn lww_is_per_field() {
    let (a, b) = (dev(1), dev(2));
    let mut e = EntityState::default();
    e.apply(&upsert(
        a,
        1,
        at(2_000),
        entity_id(),
        json!({"name": "a", "client": "a"}),
    ))
    .unwrap();
    e.apply(&upsert(
        b,
        1,
        at(1_000),
        entity_id(),
        json!({"client": "b"}),
    ))
    .unwrap();
    e.apply(&upsert(b, 2, at(3_000), entity_id(), json!({"name": "b"})))
        .unwrap();
    assert_eq!(e.fields["name"], "b");
    assert_eq!(e.fields["client"], "a");
}

#[test]
fn equal_clocks_are_decided_by_device_id() {
    let (low, high) = (dev(1), dev(2));
    let x = upsert(low, 1, at(1_000), entity_id(), json!({"name": "low"}));
    let y = upsert(high, 1, at(1_000), entity_id(), json!({"name": "high"}));
    for order in [[&x, &y], [&y, &x]] {
        let mut e = EntityState::default();
        for o in order {
            e.apply(o).unwrap();
        }
        assert_eq!(e.fields["name"], "high");
    }
}

#[test]
fn reapplying_an_op_changes_nothing() {
    let a = dev(1);
    let first = upsert(a, 1, at(1_000), entity_id(), json!({"name": "x"}));
    let mut e = EntityState::default();
    assert!(e.apply(&first).unwrap());
    let snapshot = e.clone();
    assert!(!e.apply(&first).unwrap());
    assert_eq!(e, snapshot);
    let del = op(
        a,
        2,
        at(2_000),
        EntityKind::Project,
        entity_id(),
        OpKind::Delete,
    );
    assert!(e.apply(&del).unwrap());
    assert!(!e.apply(&del).unwrap());
}

#[test]
fn delete_beats_older_and_newer_upserts_until_a_later_restore() {
    let (a, b) = (dev(1), dev(2));
    let id = entity_id();
    let before = upsert(a, 1, at(1_000), id, json!({"name": "before"}));
    let delete = op(b, 1, at(2_000), EntityKind::Project, id, OpKind::Delete);
    let after = upsert(a, 2, at(3_000), id, json!({"name": "after"}));
    let restore = op(b, 2, at(4_000), EntityKind::Project, id, OpKind::Restore);

    let mut e = EntityState::default();
    e.apply(&before).unwrap();
    e.apply(&delete).unwrap();
    assert!(e.is_deleted());
    e.apply(&after).unwrap();
    assert!(e.is_deleted(), "an upsert never clears a tombstone");
    assert_eq!(e.fields["name"], "after", "but it still updates fields");
    e.apply(&restore).unwrap();
    assert!(!e.is_deleted());
    assert_eq!(e.fields["name"], "after");

    // Same ops, restore first: the result is the same.
    let mut f = EntityState::default();
    for o in [&restore, &after, &delete, &before] {
        f.apply(o).unwrap();
    }
    assert_eq!(e, f);
}

#[test]
fn a_restore_older_than_the_delete_does_nothing() {
    let (a, b) = (dev(1), dev(2));
    let id = entity_id();
    let restore = op(a, 1, at(1_000), EntityKind::Project, id, OpKind::Restore);
    let delete = op(b, 1, at(2_000), EntityKind::Project, id, OpKind::Delete);
    let mut e = EntityState::default();
    e.apply(&delete).unwrap();
    e.apply(&restore).unwrap();
    assert!(e.is_deleted());
    let mut f = EntityState::default();
    f.apply(&restore).unwrap();
    f.apply(&delete).unwrap();
    assert!(f.is_deleted());
    // A second, later delete after a later restore deletes again.
    let restore2 = op(a, 2, at(3_000), EntityKind::Project, id, OpKind::Restore);
    let delete2 = op(b, 2, at(4_000), EntityKind::Project, id, OpKind::Delete);
    e.apply(&restore2).unwrap();
    assert!(!e.is_deleted());
    e.apply(&delete2).unwrap();
    assert!(e.is_deleted());
}

fn append(device: DeviceId, seq: u64, hlc: Hlc, kind: EntityKind, items: Vec<Value>) -> Op {
    op(
        device,
        seq,
        hlc,
        kind,
        entity_id(),
        OpKind::Append { items },
    )
}

fn point(seq: u32) -> Value {
    json!([
        seq,
        MS + u64::from(seq) * 1000,
        52.5,
        13.4,
        5.0,
        null,
        null,
        null,
        1
    ])
}

#[test]
fn appends_are_deduplicated_and_kept_in_stamp_order() {
    let (a, b) = (dev(1), dev(2));
    let edit = |n: u32| {
        json!({"trip_id": entity_id(), "field": "note", "old_value": null,
               "new_value": format!("note {n}"), "at": "2023-11-14T22:13:20Z", "device": dev(1)})
    };
    let e1 = append(a, 1, at(1_000), EntityKind::TripEdit, vec![edit(1)]);
    let e2 = append(
        b,
        1,
        at(2_000),
        EntityKind::TripEdit,
        vec![edit(2), edit(3)],
    );
    let e3 = append(a, 2, at(3_000), EntityKind::TripEdit, vec![edit(4)]);
    let expected: Vec<Value> = (1..=4).map(edit).collect();
    for order in [
        [&e1, &e2, &e3],
        [&e3, &e2, &e1],
        [&e2, &e3, &e1],
        [&e3, &e1, &e2],
    ] {
        let mut e = EntityState::default();
        for o in order {
            assert!(e.apply(o).unwrap());
        }
        for o in order {
            assert!(!e.apply(o).unwrap(), "re-delivery is a no-op");
        }
        assert_eq!(e.items, expected);
    }
}

#[test]
fn trip_points_from_another_device_are_refused() {
    let (owner, other) = (dev(1), dev(2));
    let first = append(
        owner,
        1,
        at(1_000),
        EntityKind::TripPoints,
        vec![point(0), point(1)],
    );
    let second = append(owner, 2, at(2_000), EntityKind::TripPoints, vec![point(2)]);
    let foreign = append(other, 1, at(1_500), EntityKind::TripPoints, vec![point(9)]);
    let mut s = SpaceState::default();
    s.apply(&second).unwrap();
    s.apply(&first).unwrap();
    let before = s.clone();
    let err = s.apply(&foreign).unwrap_err();
    assert_eq!(
        err,
        InvalidOp::ForeignTripPoints {
            writer: owner,
            device: other
        }
    );
    assert_eq!(s, before, "a refused op leaves no trace");
    let e = s.entity(EntityKind::TripPoints, entity_id()).unwrap();
    assert_eq!(e.items, vec![point(0), point(1), point(2)]);
}

#[test]
fn unknown_fields_and_newer_schemas_are_kept() {
    let a = dev(1);
    let mut o = upsert(
        a,
        1,
        at(1_000),
        entity_id(),
        json!({"name": "x", "colour_v2": {"r": 1, "g": 2}}),
    );
    o.schema = SCHEMA_VERSION + 1;
    let mut s = SpaceState::default();
    assert!(s.apply(&o).unwrap());
    let e = s.entity(EntityKind::Project, entity_id()).unwrap();
    assert_eq!(e.fields["colour_v2"], json!({"r": 1, "g": 2}));
    let back: SpaceState = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
    assert_eq!(back, s, "survives a storage round trip");
    assert_eq!(back.canonical(), s.canonical());

    // Newer trip point items may carry more elements.
    let mut p = append(
        a,
        2,
        at(2_000),
        EntityKind::TripPoints,
        vec![json!([0, MS, 1.0, 2.0, null, null, null, null, 0, "extra"])],
    );
    p.schema = SCHEMA_VERSION + 1;
    assert!(s.apply(&p).unwrap());
}

#[test]
fn entity_state_round_trips_as_one_json_row() {
    let a = dev(1);
    let mut e = EntityState::default();
    e.apply(&append(
        a,
        1,
        at(1_000),
        EntityKind::TripPoints,
        vec![point(0)],
    ))
    .unwrap();
    let row = serde_json::to_string(&e).unwrap();
    let mut back: EntityState = serde_json::from_str(&row).unwrap();
    assert_eq!(back, e);
    // The writer and dedupe records survive storage.
    let foreign = append(dev(2), 1, at(500), EntityKind::TripPoints, vec![point(1)]);
    assert!(back.apply(&foreign).is_err());
    let again = append(a, 1, at(1_000), EntityKind::TripPoints, vec![point(0)]);
    assert!(!back.apply(&again).unwrap());
}

// ---- running timer ----

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 11, 14, h, m, 0).unwrap()
}

fn timer(device: DeviceId, seq: u64, hlc: Hlc, id: Uuid, start: DateTime<Utc>) -> Op {
    let mut fields = Map::new();
    fields.insert("start".into(), serde_json::to_value(start).unwrap());
    fields.insert("stop".into(), Value::Null);
    fields.insert("description".into(), json!(""));
    op(
        device,
        seq,
        hlc,
        EntityKind::TimeEntry,
        id,
        OpKind::Upsert { fields },
    )
}

fn stop(device: DeviceId, seq: u64, hlc: Hlc, id: Uuid, at: DateTime<Utc>) -> Op {
    let mut fields = Map::new();
    fields.insert("stop".into(), serde_json::to_value(at).unwrap());
    op(
        device,
        seq,
        hlc,
        EntityKind::TimeEntry,
        id,
        OpKind::Upsert { fields },
    )
}

#[test]
fn the_later_start_wins_and_the_loser_stops_at_its_start() {
    let (a, b) = (dev(1), dev(2));
    let (ea, eb) = (Uuid::from_u128(0xa), Uuid::from_u128(0xb));
    // b's op has the smaller clock but the later start: the start decides.
    let oa = timer(a, 1, at(5_000), ea, t(9, 0));
    let ob = timer(b, 1, at(1_000), eb, t(9, 30));
    for order in [[&oa, &ob], [&ob, &oa]] {
        let mut s = SpaceState::default();
        for o in order {
            s.apply(o).unwrap();
        }
        let stops = s.effective_timer_stops();
        assert_eq!(stops[&ea], Some(t(9, 30)));
        assert_eq!(stops[&eb], None);
        // The view does not rewrite the stored entry.
        let stored = s.entity(EntityKind::TimeEntry, ea).unwrap();
        assert_eq!(stored.fields["stop"], Value::Null);
    }
}

#[test]
fn three_devices_chain_their_timers() {
    let (a, b, c) = (dev(1), dev(2), dev(3));
    let ids = [0xa, 0xb, 0xc].map(Uuid::from_u128);
    let ops = [
        timer(a, 1, at(1_000), ids[0], t(9, 0)),
        timer(b, 1, at(2_000), ids[1], t(9, 10)),
        timer(c, 1, at(3_000), ids[2], t(9, 20)),
    ];
    let mut results = Vec::new();
    for perm in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
        let mut s = SpaceState::default();
        for i in perm {
            s.apply(&ops[i]).unwrap();
        }
        results.push(s.effective_timer_stops());
    }
    let stops = &results[0];
    assert!(results.iter().all(|r| r == stops));
    assert_eq!(stops[&ids[0]], Some(t(9, 10)));
    assert_eq!(stops[&ids[1]], Some(t(9, 20)));
    assert_eq!(stops[&ids[2]], None);
}

#[test]
fn stopped_and_deleted_entries_do_not_take_part() {
    let (a, b) = (dev(1), dev(2));
    let (ea, eb) = (Uuid::from_u128(0xa), Uuid::from_u128(0xb));
    let mut s = SpaceState::default();
    s.apply(&timer(a, 1, at(1_000), ea, t(9, 0))).unwrap();
    s.apply(&timer(b, 1, at(2_000), eb, t(9, 30))).unwrap();
    // The winner stops itself: the loser now stops at the winner's start still.
    s.apply(&stop(b, 2, at(3_000), eb, t(10, 0))).unwrap();
    let stops = s.effective_timer_stops();
    assert_eq!(stops[&eb], Some(t(10, 0)));
    assert_eq!(stops[&ea], None, "the only running entry runs on");
    // Deleting the running entry leaves nothing running and drops it from the view.
    s.apply(&op(
        a,
        2,
        at(4_000),
        EntityKind::TimeEntry,
        ea,
        OpKind::Delete,
    ))
    .unwrap();
    let stops = s.effective_timer_stops();
    assert!(!stops.contains_key(&ea));
    assert_eq!(stops.len(), 1);
}

#[test]
fn equal_starts_are_decided_by_entry_id() {
    let (a, b) = (dev(1), dev(2));
    let (low, high) = (Uuid::from_u128(0x1), Uuid::from_u128(0x2));
    let mut s = SpaceState::default();
    s.apply(&timer(b, 1, at(1_000), low, t(9, 0))).unwrap();
    s.apply(&timer(a, 1, at(1_000), high, t(9, 0))).unwrap();
    let stops = s.effective_timer_stops();
    assert_eq!(stops[&high], None);
    assert_eq!(stops[&low], Some(t(9, 0)));
}

#[test]
fn a_reused_clock_value_still_converges() {
    // One device writing twice with the same HLC is a bug, but replicas must
    // still agree on a value.
    let a = dev(1);
    let x = upsert(a, 1, at(1_000), entity_id(), json!({"name": "x"}));
    let y = upsert(a, 2, at(1_000), entity_id(), json!({"name": "y"}));
    let mut e = EntityState::default();
    e.apply(&x).unwrap();
    e.apply(&y).unwrap();
    let mut f = EntityState::default();
    f.apply(&y).unwrap();
    f.apply(&x).unwrap();
    assert_eq!(e, f);
}

/// The relay reads cars, places and trips from merged state: `decode` gives the entity the
/// merged fields describe, with its id, and refuses a state missing a field the type needs.
#[test]
fn merged_state_decodes_into_its_entity() {
    use tacho_model::car::Car;
    let mut s = EntityState::default();
    let fields = json!({"name": "Golf", "make": null, "model": null, "plate": "AB-12",
                        "available_from": "2026-01-01", "available_to": null,
                        "connect_hint": "VW BT"});
    let a = upsert(dev(1), 1, at(1_000), entity_id(), fields);
    assert_eq!(s.apply(&a), Ok(true));
    let b = upsert(
        dev(2),
        1,
        at(2_000),
        entity_id(),
        json!({"name": "Golf GTI"}),
    );
    assert_eq!(s.apply(&b), Ok(true));
    let car: Car = s.decode(entity_id()).unwrap();
    assert_eq!(car.id.0, entity_id());
    assert_eq!(car.name, "Golf GTI");
    assert_eq!(car.plate, "AB-12");
    assert_eq!(car.connect_hint.as_deref(), Some("VW BT"));
    assert_eq!(
        car.available_from.map(|d| d.to_string()).as_deref(),
        Some("2026-01-01")
    );

    let mut partial = EntityState::default();
    let only_name = upsert(dev(1), 1, at(1_000), entity_id(), json!({"name": "Polo"}));
    assert_eq!(partial.apply(&only_name), Ok(true));
    assert!(partial.decode::<Car>(entity_id()).is_err());
}
