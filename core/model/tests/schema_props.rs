//! Property: whatever the field schema accepts, the readers decode. A whole upsert of a kind
//! (every field of its schema set) built from valid and invalid candidate values either is
//! refused by `check_shape`, naming one of its fields, or its merged state decodes into the
//! kind's type: nothing passes the relay that a client then drops as undecodable (issue 11
//! item 6, "clients then drop some of them silently"). Cases: `PROPTEST_CASES` (default 256).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tacho_model::car::{Car, OdometerReading};
use tacho_model::hlc::Hlc;
use tacho_model::id::{DeviceId, OpId};
use tacho_model::merge::{EntityState, check_shape};
use tacho_model::op::{EntityKind, Op, OpKind, SCHEMA_VERSION};
use tacho_model::place::Place;
use tacho_model::schema::{Type, fields_of};
use tacho_model::trip::Trip;
use tacho_model::work::{Project, TimeEntry};
use uuid::Uuid;

/// 2026-03-15T12:00:00Z.
const NOW: u64 = 1_773_576_000_000;

/// Candidate values for a field of type `ty`: some valid, most not.
fn candidates(ty: Type) -> Vec<Value> {
    let mut common = vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(""),
        json!("x"),
        json!([]),
        json!({}),
    ];
    let own = match ty {
        Type::Line { .. } | Type::Text { .. } => vec![
            json!("Golf"),
            json!("two\nlines"),
            json!("nul\u{0}"),
            json!("  "),
            json!("x".repeat(300)),
        ],
        Type::OneOf(names) => {
            let mut v: Vec<Value> = names.iter().map(|n| json!(n)).collect();
            v.push(json!("Business"));
            v
        }
        Type::Id => vec![json!(Uuid::from_u128(7)), json!("not-a-uuid")],
        Type::Instant => vec![
            json!("2026-03-15T09:00:00Z"),
            json!("2026-03-15T09:00:00.123+01:00"),
            json!("1970-01-01T00:00:00Z"),
            json!("2099-01-01T00:00:00Z"),
            json!("2026-03-15"),
            json!("2026-03-15 09:00:00Z"),
        ],
        Type::Date => vec![json!("2026-03-15"), json!("2026-02-30"), json!("2026-3-1")],
        Type::Month => vec![json!("2026-03"), json!("2026-13"), json!("2026-3")],
        Type::LatLon => vec![
            json!({"lat": 52.0, "lon": 5.0}),
            json!({"lat": 91, "lon": 5}),
            json!({"lat": "52", "lon": 5}),
            json!({"lat": 1, "lon": 2, "alt": 3}),
        ],
        Type::Number { min, max } => vec![json!(min), json!(max), json!(max * 2.0 + 1.0)],
        Type::Integer { min, max } => {
            vec![
                json!(min),
                json!(max),
                json!(max.saturating_add(1)),
                json!(2.0),
            ]
        }
        Type::Bool => vec![json!(false)],
        Type::Tags => vec![json!(["a", "b"]), json!(["a", ""]), json!("a")],
        Type::Rounding => vec![
            json!({"mode": "none"}),
            json!({"mode": "up", "minutes": 15}),
            json!({"mode": "up"}),
            json!({"mode": "none", "minutes": null}),
            json!({"mode": "down", "minutes": 15, "extra": 1}),
        ],
        Type::TripEnd => vec![
            json!([Uuid::from_u128(9), "start"]),
            json!([Uuid::from_u128(9), "end", 1]),
            json!([Uuid::from_u128(9)]),
        ],
        Type::TimeZone => vec![json!("Europe/Amsterdam"), json!("UTC"), json!("Mars/Base")],
        Type::Ids { .. } => vec![
            json!([Uuid::from_u128(7), Uuid::from_u128(8)]),
            json!([Uuid::from_u128(7), Uuid::from_u128(7)]),
            json!(["not-a-uuid"]),
            json!(Uuid::from_u128(7)),
        ],
        Type::Snapshot => vec![
            json!({"description": "review", "seconds": 3600}),
            json!({}),
            json!({"description": "x".repeat(20_000)}),
            json!([1, 2]),
        ],
    };
    common.extend(own);
    common
}

fn kinds() -> [EntityKind; 6] {
    [
        EntityKind::Car,
        EntityKind::Place,
        EntityKind::Trip,
        EntityKind::OdometerReading,
        EntityKind::Project,
        EntityKind::TimeEntry,
    ]
}

fn decodes(kind: EntityKind, state: &EntityState, id: Uuid) -> Result<(), String> {
    let r = match kind {
        EntityKind::Car => state.decode::<Car>(id).map(drop),
        EntityKind::Place => state.decode::<Place>(id).map(drop),
        EntityKind::Trip => state
            .decode::<Trip>(id)
            .and_then(|_| state.decode::<tacho_model::lineage::TripLineage>(id))
            .map(drop),
        EntityKind::OdometerReading => state.decode::<OdometerReading>(id).map(drop),
        EntityKind::Project => state.decode::<Project>(id).map(drop),
        EntityKind::TimeEntry => state.decode::<TimeEntry>(id).map(drop),
        _ => Ok(()),
    };
    r.map_err(|e| e.to_string())
}

proptest! {
    #[test]
    fn what_the_schema_accepts_the_readers_decode(
        kind in 0..6usize,
        picks in prop::collection::vec(any::<prop::sample::Index>(), 32),
    ) {
        let kind = kinds()[kind];
        let mut fields = Map::new();
        for (field, pick) in fields_of(kind).iter().zip(&picks) {
            let pool = candidates(field.ty);
            fields.insert(field.name.to_owned(), pick.get(&pool).clone());
        }
        let op = Op {
            op_id: OpId(Uuid::from_u128(1)),
            device: DeviceId(Uuid::from_u128(2)),
            device_seq: 1,
            hlc: Hlc::new(NOW, 0),
            entity: kind,
            entity_id: Uuid::from_u128(3),
            kind: OpKind::Upsert { fields: fields.clone() },
            schema: SCHEMA_VERSION,
        };
        match check_shape(&op) {
            Err(e) => {
                let field = e.field().unwrap_or_default();
                let named = field.split(['[', '.']).next().unwrap_or_default();
                prop_assert!(fields.contains_key(named), "{e} names no field of {fields:?}");
            }
            Ok(()) => {
                let mut state = EntityState::default();
                state.apply(&op).unwrap();
                let decoded = decodes(kind, &state, op.entity_id);
                prop_assert!(decoded.is_ok(), "accepted {} {:?} but: {:?}", kind.as_str(), fields, decoded);
            }
        }
    }
}

/// The same, one field at a time on a whole valid entity: changing any field to any candidate
/// either is refused or still decodes (covers every candidate of every field exhaustively).
#[test]
fn every_candidate_of_every_field_is_refused_or_decodes() {
    let valid = |kind: EntityKind| -> Map<String, Value> {
        fields_of(kind)
            .iter()
            .map(|f| {
                let v = candidates(f.ty)
                    .into_iter()
                    .find(|v| {
                        let mut m = Map::new();
                        m.insert(f.name.to_owned(), v.clone());
                        !v.is_null()
                            && tacho_model::schema::check_fields(kind, SCHEMA_VERSION, NOW, &m)
                                .is_ok()
                    })
                    .unwrap_or(Value::Null);
                (f.name.to_owned(), v)
            })
            .collect()
    };
    let mut accepted = 0;
    for kind in kinds() {
        let base = valid(kind);
        for field in fields_of(kind) {
            for value in candidates(field.ty) {
                let mut fields = base.clone();
                fields.insert(field.name.to_owned(), value.clone());
                let op = Op {
                    op_id: OpId(Uuid::from_u128(1)),
                    device: DeviceId(Uuid::from_u128(2)),
                    device_seq: 1,
                    hlc: Hlc::new(NOW, 0),
                    entity: kind,
                    entity_id: Uuid::from_u128(3),
                    kind: OpKind::Upsert { fields },
                    schema: SCHEMA_VERSION,
                };
                if check_shape(&op).is_ok() {
                    let mut state = EntityState::default();
                    state.apply(&op).unwrap();
                    if let Err(e) = decodes(kind, &state, op.entity_id) {
                        panic!(
                            "{} `{}` = {value}: accepted but {e}",
                            kind.as_str(),
                            field.name
                        );
                    }
                    accepted += 1;
                }
            }
        }
    }
    assert!(
        accepted > 50,
        "only {accepted} accepted: the base entities are not valid"
    );
}
