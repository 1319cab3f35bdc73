//! Every `InvalidOp` case, and that valid ops of each kind pass.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use serde_json::{Value, json};
use tacho_model::hlc::Hlc;
use tacho_model::id::{DeviceId, OpId};
use tacho_model::merge::{EntityState, InvalidOp, SpaceState, validate};
use tacho_model::op::{EntityKind, Op, OpKind, SCHEMA_VERSION};
use uuid::Uuid;

const NOW: u64 = 1_700_000_000_000;
const MINUTE: u64 = 60_000;

fn op(entity: EntityKind, kind: OpKind) -> Op {
    Op {
        op_id: OpId(Uuid::from_u128(7)),
        device: DeviceId(Uuid::from_u128(1)),
        device_seq: 1,
        hlc: Hlc::new(NOW, 0),
        entity,
        entity_id: Uuid::from_u128(0xe),
        kind,
        schema: SCHEMA_VERSION,
    }
}

fn upsert(entity: EntityKind, fields: Value) -> Op {
    let Value::Object(fields) = fields else {
        panic!("object")
    };
    op(entity, OpKind::Upsert { fields })
}

fn points(items: Vec<Value>) -> Op {
    op(EntityKind::TripPoints, OpKind::Append { items })
}

fn good_point() -> Value {
    json!([0, NOW, 52.5, 13.4, 4.0, 12.5, 90.0, 34.0, 1])
}

/// Validation and merging agree on everything but the clock rule.
fn refused(o: &Op) -> InvalidOp {
    let err = validate(o, NOW).unwrap_err();
    assert_eq!(EntityState::default().apply(o).unwrap_err(), err);
    let mut s = SpaceState::default();
    assert_eq!(s.apply(o).unwrap_err(), err);
    assert_eq!(s, SpaceState::default(), "nothing was created");
    assert!(!err.to_string().is_empty());
    err
}

#[test]
fn valid_ops_of_every_kind_pass() {
    let ok = [
        upsert(EntityKind::Project, json!({"name": "x"})),
        upsert(
            EntityKind::Place,
            json!({"center": {"lat": -90.0, "lon": 180.0}, "radius_m": 100.0}),
        ),
        upsert(
            EntityKind::Trip,
            json!({"start": {"lat": 1, "lon": -180}, "end": null}),
        ),
        op(EntityKind::Car, OpKind::Delete),
        op(EntityKind::Car, OpKind::Restore),
        points(vec![
            good_point(),
            json!([1, NOW, 0, 0, null, null, null, null, 0]),
        ]),
        op(
            EntityKind::TripEdit,
            OpKind::Append {
                items: vec![json!({"field": "note"})],
            },
        ),
    ];
    for o in &ok {
        validate(o, NOW).unwrap();
        SpaceState::default().apply(o).unwrap();
    }
}

#[test]
fn ops_more_than_ten_minutes_ahead_are_refused() {
    let mut o = upsert(EntityKind::Project, json!({"name": "x"}));
    o.hlc = Hlc::new(NOW + 10 * MINUTE, 65_535);
    validate(&o, NOW).unwrap();
    o.hlc = Hlc::new(NOW + 10 * MINUTE + 1, 0);
    assert_eq!(
        validate(&o, NOW).unwrap_err(),
        InvalidOp::FromTheFuture {
            op_ms: NOW + 10 * MINUTE + 1,
            now_ms: NOW
        }
    );
    // Merging does not need `now` and accepts it (the relay already vetted it).
    SpaceState::default().apply(&o).unwrap();
    // Old ops are fine.
    o.hlc = Hlc::new(NOW - 1_000 * MINUTE, 0);
    validate(&o, NOW).unwrap();
}

#[test]
fn device_seq_zero_is_refused() {
    let mut o = upsert(EntityKind::Project, json!({"name": "x"}));
    o.device_seq = 0;
    assert_eq!(refused(&o), InvalidOp::ZeroDeviceSeq);
}

#[test]
fn empty_upserts_and_id_fields_are_refused() {
    assert_eq!(
        refused(&upsert(EntityKind::Project, json!({}))),
        InvalidOp::EmptyUpsert {
            entity: EntityKind::Project
        }
    );
    assert_eq!(
        refused(&upsert(EntityKind::Car, json!({"id": "x", "name": "y"}))),
        InvalidOp::IdField {
            entity: EntityKind::Car
        }
    );
}

#[test]
fn place_centres_must_be_on_the_globe() {
    for center in [
        json!({"lat": 90.5, "lon": 0}),
        json!({"lat": -91, "lon": 0}),
        json!({"lat": 0, "lon": 180.01}),
        json!({"lat": 0, "lon": -181}),
    ] {
        let err = refused(&upsert(EntityKind::Place, json!({ "center": center })));
        assert!(
            matches!(err, InvalidOp::CoordinateOutOfRange { ref field, .. } if field == "center"),
            "{err:?}"
        );
    }
    for center in [
        json!(null),
        json!([1, 2]),
        json!({"lat": "1", "lon": 2}),
        json!({"lat": 1}),
    ] {
        let err = refused(&upsert(EntityKind::Place, json!({ "center": center })));
        assert!(matches!(err, InvalidOp::BadShape { .. }), "{err:?}");
    }
}

#[test]
fn trip_ends_must_be_on_the_globe_or_null() {
    for field in ["start", "end"] {
        let err = refused(&upsert(
            EntityKind::Trip,
            json!({ field: {"lat": 100, "lon": 0} }),
        ));
        assert!(
            matches!(err, InvalidOp::CoordinateOutOfRange { field: ref f, lat, .. } if f == field && lat == 100.0),
            "{err:?}"
        );
        let err = refused(&upsert(EntityKind::Trip, json!({ field: "here" })));
        assert!(matches!(err, InvalidOp::BadShape { .. }), "{err:?}");
    }
}

#[test]
fn trip_points_must_have_the_wire_shape_and_range() {
    let out_of_range = [
        json!([0, NOW, 90.1, 0, null, null, null, null, 1]),
        json!([0, NOW, 0, -180.5, null, null, null, null, 1]),
    ];
    for item in out_of_range {
        let err = refused(&points(vec![good_point(), item]));
        assert!(
            matches!(err, InvalidOp::CoordinateOutOfRange { ref field, .. } if field == "items[1]"),
            "{err:?}"
        );
    }
    let malformed = [
        json!({"lat": 0, "lon": 0}),
        json!([0, NOW, 0, 0, null, null, null, null]),
        json!([0, NOW, 0, 0, null, null, null, null, 1, 1]),
        json!([-1, NOW, 0, 0, null, null, null, null, 1]),
        json!([0, "noon", 0, 0, null, null, null, null, 1]),
        json!([0, NOW, "0", 0, null, null, null, null, 1]),
        json!([0, NOW, 0, 0, "4", null, null, null, 1]),
        json!([0, NOW, 0, 0, null, null, null, null, 2]),
        json!([0, NOW, 0, 0, null, null, null, null, true]),
    ];
    for item in malformed {
        let err = refused(&points(vec![item.clone()]));
        assert!(
            matches!(err, InvalidOp::BadShape { ref field, .. } if field == "items[0]"),
            "{item}: {err:?}"
        );
    }
}

#[test]
fn appends_only_go_to_append_only_kinds_and_back() {
    for entity in [
        EntityKind::Car,
        EntityKind::Place,
        EntityKind::Trip,
        EntityKind::TimeEntry,
    ] {
        let o = op(
            entity,
            OpKind::Append {
                items: vec![json!(1)],
            },
        );
        assert_eq!(refused(&o), InvalidOp::AppendToMutable { entity });
    }
    for entity in [EntityKind::TripPoints, EntityKind::TripEdit] {
        let cases = [
            (upsert(entity, json!({"x": 1})), "upsert"),
            (op(entity, OpKind::Delete), "delete"),
            (op(entity, OpKind::Restore), "restore"),
        ];
        for (o, name) in cases {
            assert_eq!(
                refused(&o),
                InvalidOp::MutateAppendOnly { entity, op: name }
            );
        }
    }
}

#[test]
fn empty_appends_are_refused() {
    assert_eq!(
        refused(&points(vec![])),
        InvalidOp::EmptyAppend {
            entity: EntityKind::TripPoints
        }
    );
}

#[test]
fn messages_say_what_is_wrong() {
    let err = refused(&upsert(
        EntityKind::Place,
        json!({"center": {"lat": 95, "lon": 0}}),
    ));
    let text = err.to_string();
    assert!(
        text.contains("place") && text.contains("center") && text.contains("95"),
        "{text}"
    );
}
