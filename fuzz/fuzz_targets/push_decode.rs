//! The relay's push body decoder on arbitrary bytes.
//!
//! `tacho_model::wire::IncomingOp` is the decoder the relay uses for every pushed op (its
//! `PushRequest` is `{"ops": [IncomingOp]}`): each op is kept as raw JSON text, decoded as `Op`,
//! probed (unknown fields must be JSON values, a `cursor` is removed), validated with the
//! shared merge code, and stored verbatim; a pull splices `{"cursor":N,` in front of the stored
//! text minus its `{`. Field values are judged by the shared field schema
//! (`tacho_model::schema`): whatever it accepts, the readers must decode (a value the schema
//! let through and a client then dropped is issue 11's "dropped silently"), and `admit`, the
//! relay's check, refuses everything merging refuses. The corpus holds a whole valid entity of
//! every kind and the nonsense (`entities_valid.json`, `issue11_nonsense.json`), so
//! mutations explore both sides of every rule. The fuzz workspace builds tacho-model only (sqlx/axum/tokio under
//! sanitizer flags would make the cold build several times longer for no extra decoder coverage).
#![no_main]

use serde::Deserialize;
use serde_json::{Map, Value};
use tacho_model::connector::{ConnectorConflict, ConnectorLink};
use tacho_model::car::{Car, OdometerReading};
use tacho_model::merge::{EntityState, SpaceState, check_shape, validate};
use tacho_model::op::{EntityKind, Op, OpKind};
use tacho_model::place::Place;
use tacho_model::schema;
use tacho_model::trip::{Trip, TripEdit};
use tacho_model::wire::{IncomingOp, TripPoint};
use tacho_model::work::{Project, TimeEntry};

/// The body of `POST /v1/push` (`tacho_relay::sync::PushRequest`, minus its OpenAPI derive).
#[derive(Deserialize)]
struct PushRequest {
    ops: Vec<IncomingOp>,
}

/// A fixed "now" (2026-01-01), so a run is reproducible.
const NOW_MS: u64 = 1_767_225_600_000;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The relay's Json extractor: serde_json::from_slice over the body bytes.
    let Ok(req) = serde_json::from_slice::<PushRequest>(data) else {
        return;
    };
    let mut space = SpaceState::default();
    for IncomingOp { op, body } in &req.ops {
        // A decoded op re-serialises and decodes to the same op.
        let text = serde_json::to_string(op).expect("an op serialises");
        let back: Op = serde_json::from_str(&text).expect("a serialised op decodes");
        assert_eq!(&back, op, "round trip changed the op: {text}");

        // The relay stores the body in a TEXT column and PostgreSQL refuses U+0000 in text
        // (issue 11): control characters in an op's strings must stay JSON escapes, never
        // raw characters, whatever the op says (scripts/fuzz-smoke feeds dicts/text.dict).
        assert!(!body.contains('\0'), "raw NUL in a stored body: {body:?}");

        // The stored body decodes to the same op and has no cursor of its own.
        let stored: Op = serde_json::from_str(body).expect("stored body decodes");
        assert_eq!(&stored, op, "stored body differs from the op: {body}");
        let map: Map<String, Value> = serde_json::from_str(body).expect("stored body is an object");
        assert!(
            !map.contains_key("cursor"),
            "cursor kept in stored body: {body}"
        );

        // A pull splices the cursor in as text (see PAGE_AGGREGATE); that must still be
        // one valid op object carrying the cursor.
        assert!(
            body.starts_with('{') && body.ends_with('}'),
            "body not an object text: {body}"
        );
        let pulled = format!("{{\"cursor\":42,{}", &body[1..]);
        let pulled_op: Op = serde_json::from_str(&pulled).expect("pulled op decodes");
        assert_eq!(&pulled_op, op);
        let pulled_map: Map<String, Value> =
            serde_json::from_str(&pulled).expect("pulled op is an object");
        assert_eq!(pulled_map.get("cursor"), Some(&Value::from(42)), "{pulled}");
        // Clients read a pulled page as `Vec<Value>` (tacho-core's sync client): a stored body
        // that does not decode as JSON values would stall every other device's pull.
        let page = format!("[{pulled},{pulled}]");
        let values: Vec<Value> =
            serde_json::from_str(&page).expect("a pulled page decodes as values");
        assert_eq!(values.len(), 2);

        // The shared merge code: validate is check_shape plus the clock rule, and merging
        // refuses exactly what check_shape refuses.
        let shape = check_shape(op);
        let full = validate(op, NOW_MS);
        if shape.is_err() {
            assert!(full.is_err(), "validate accepted what check_shape refused");
        }
        if let Err(e) = &full {
            assert!(!e.to_string().is_empty());
        }
        // The relay's admission check refuses at least what merging refuses, with the same error.
        if let Err(e) = &shape {
            assert_eq!(EntityState::default().admit(op).as_ref(), Err(e));
        }
        if shape.is_ok() {
            schema_accepts_only_what_readers_decode(op);
        }
        let mut entity = EntityState::default();
        let applied = entity.apply(op);
        assert_eq!(
            applied.is_ok(),
            shape.is_ok(),
            "apply vs check_shape: {applied:?} {shape:?}"
        );
        if applied.is_ok() {
            // Applying the same op again changes nothing (idempotence).
            assert_eq!(entity.apply(op), Ok(false), "re-applying changed the state");
            // The merged state survives the JSON row clients and the relay keep.
            let row = serde_json::to_string(&entity).expect("state serialises");
            let back: EntityState = serde_json::from_str(&row).expect("state decodes");
            assert_eq!(back, entity, "state row round trip: {row}");
        }
        let _ = space.apply(op);
    }
    let _ = space.canonical();
});

/// An op the schema accepts never holds a value a reader drops: a whole upsert (every field of
/// its kind's schema set) decodes into the kind's type, every trip edit item into a `TripEdit`,
/// every point into a `TripPoint`.
fn schema_accepts_only_what_readers_decode(op: &Op) {
    match &op.kind {
        OpKind::Upsert { fields } => {
            let whole = schema::fields_of(op.entity)
                .iter()
                .all(|f| fields.contains_key(f.name));
            if !whole || op.schema > tacho_model::op::SCHEMA_VERSION {
                return;
            }
            let mut state = EntityState::default();
            state.apply(op).expect("check_shape passed");
            let id = op.entity_id;
            let decoded = match op.entity {
                EntityKind::Car => state.decode::<Car>(id).map(drop),
                EntityKind::Place => state.decode::<Place>(id).map(drop),
                EntityKind::Trip => state.decode::<Trip>(id).map(drop),
                EntityKind::OdometerReading => state.decode::<OdometerReading>(id).map(drop),
                EntityKind::Project => state.decode::<Project>(id).map(drop),
                EntityKind::TimeEntry => state.decode::<TimeEntry>(id).map(drop),
                EntityKind::ConnectorLink => state.decode::<ConnectorLink>(id).map(drop),
                EntityKind::ConnectorConflict => state.decode::<ConnectorConflict>(id).map(drop),
                EntityKind::PeriodLock
                | EntityKind::TripPoints
                | EntityKind::TripEdit
                | EntityKind::TimeEntryEdit => Ok(()),
            };
            if let Err(e) = decoded {
                panic!("schema accepted a {} that does not decode: {e}", op.entity.as_str());
            }
        }
        OpKind::Append { items } if op.schema <= tacho_model::op::SCHEMA_VERSION => {
            for item in items {
                match op.entity {
                    EntityKind::TripEdit => {
                        if let Err(e) = serde_json::from_value::<TripEdit>(item.clone()) {
                            panic!("schema accepted a trip edit that does not decode: {e}");
                        }
                    }
                    EntityKind::TripPoints => assert!(
                        TripPoint::from_wire(item).is_some(),
                        "schema accepted a point that does not decode: {item}"
                    ),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}
