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
                items: vec![json!({
                    "trip_id": Uuid::from_u128(0xe), "field": "note", "old_value": null,
                    "new_value": "via A2", "at": "2023-11-14T22:00:00Z", "device": Uuid::from_u128(1)
                })],
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

/// Issue 11 item 6: the nonsense the relay used to take is refused by the shared rules, the
/// same way by the relay's `validate` and by every replica's merge, naming the field.
#[test]
fn nonsense_in_a_persons_own_data_is_refused_naming_the_field() {
    let cases = [
        (
            upsert(
                EntityKind::Place,
                json!({"center": {"lat": 91.0, "lon": 5.0}}),
            ),
            "center",
        ),
        (
            upsert(
                EntityKind::Place,
                json!({"center": {"lat": "52.1", "lon": 5.0}}),
            ),
            "center",
        ),
        (
            upsert(EntityKind::PeriodLock, json!({"month": "2023-13"})),
            "month",
        ),
        (
            upsert(EntityKind::Trip, json!({"distance_m": -3.5})),
            "distance_m",
        ),
        (
            upsert(
                EntityKind::TimeEntry,
                json!({"start": "1970-01-01T00:00:00Z"}),
            ),
            "start",
        ),
        (
            upsert(
                EntityKind::OdometerReading,
                json!({"at": "1970-01-01T00:00:00Z", "odometer_m": 5}),
            ),
            "at",
        ),
        (
            upsert(EntityKind::Car, json!({"name": "Golf\u{0}"})),
            "name",
        ),
        (
            points(vec![json!([0, 0, 52.0, 5.0, null, null, null, null, 1])]),
            "items[0]",
        ),
        (
            points(vec![json!([
                4_294_967_296_u64,
                NOW,
                52.0,
                5.0,
                null,
                null,
                null,
                null,
                1
            ])]),
            "items[0]",
        ),
        (
            op(
                EntityKind::TripEdit,
                OpKind::Append {
                    items: vec![json!({"field": "note"})],
                },
            ),
            "items[0].trip_id",
        ),
    ];
    for (o, field) in cases {
        let err = refused(&o);
        assert_eq!(err.field(), Some(field), "{err}");
        assert!(err.to_string().contains(field), "{err}");
    }
}

#[test]
fn ops_dated_before_2000_are_refused() {
    let mut o = upsert(EntityKind::Project, json!({"name": "x"}));
    o.hlc = Hlc::new(1_000, 0);
    assert_eq!(refused(&o), InvalidOp::TooOld { op_ms: 1_000 });
    o.hlc = Hlc::new(946_684_800_000, 0);
    validate(&o, NOW).unwrap();
}

/// A stop before the start takes two partial upserts; it is judged on the merged state by
/// `admit` (where an op enters the log), not by merging, which stays order-independent.
#[test]
fn a_stop_before_the_start_is_not_admitted_on_the_merged_state() {
    let entry = |fields: Value, hlc: u64| {
        let mut o = upsert(EntityKind::TimeEntry, fields);
        o.hlc = Hlc::new(hlc, 0);
        o
    };
    let start = entry(json!({"start": "2023-11-14T20:00:00Z", "stop": null}), NOW);
    let early = entry(json!({"stop": "2023-11-14T19:59:59Z"}), NOW + 1);
    let fine = entry(json!({"stop": "2023-11-14T20:00:00Z"}), NOW + 1);
    let both = entry(
        json!({"start": "2023-11-14T21:00:00Z", "stop": "2023-11-14T20:30:00Z"}),
        NOW,
    );
    let mut state = EntityState::default();
    state.admit(&start).unwrap();
    state.apply(&start).unwrap();
    let err = state.admit(&early).unwrap_err();
    assert_eq!(err.field(), Some("stop"));
    assert!(err.to_string().contains("before"), "{err}");
    state.admit(&fine).unwrap();
    assert_eq!(
        EntityState::default().admit(&both).unwrap_err().field(),
        Some("stop")
    );
    // Field rules come first: admit refuses what check_shape refuses.
    let old = entry(json!({"stop": "1970-01-01T00:00:00Z"}), NOW);
    assert_eq!(
        state.admit(&old).unwrap_err(),
        validate(&old, NOW).unwrap_err()
    );
    // Merging itself takes the op (the relay already judged it in log order).
    state.apply(&early).unwrap();
}
