//! The relay's push body decoder on arbitrary bytes.
//!
//! This replicates `tacho_relay::log::{PushRequest, IncomingOp}` with tacho-model types (the
//! fuzz workspace does not build the relay: sqlx/axum/tokio under sanitizer flags would make the
//! cold build several times longer for no extra decoder coverage). Keep it in step with
//! `server/relay/src/log.rs`: each op is kept as raw JSON text, decoded as `Op`, probed
//! (`OpProbe`: unknown fields must be JSON values, a `cursor` is removed), validated with the
//! shared merge code, and stored verbatim; a pull splices `{"cursor":N,` in front of the stored
//! text minus its `{`.
#![no_main]

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tacho_model::merge::{EntityState, SpaceState, check_shape, validate};
use tacho_model::op::Op;

/// `tacho_relay::log::PushRequest`.
#[derive(Deserialize)]
struct PushRequest {
    ops: Vec<IncomingOp>,
}

/// `tacho_relay::log::IncomingOp`.
struct IncomingOp {
    op: Op,
    body: String,
}

/// Reads a pushed op object a second time: finds out whether it carries a `cursor` of its own,
/// and decodes every field `Op` does not know as a JSON value. `Op` skips unknown fields without
/// checking them, so a lone surrogate escape (`"\ud800"`) or an out-of-range number (`1e400`)
/// there would be stored verbatim and then break every client's pull, since clients read pages as
/// JSON values (found by fuzz/push_decode). Known fields were already decoded by `Op` and are only
/// skipped here.
struct OpProbe {
    has_cursor: bool,
}

/// The top-level fields `Op` decodes (its wire form).
const OP_FIELDS: [&str; 10] = [
    "op_id",
    "device",
    "device_seq",
    "hlc",
    "entity",
    "entity_id",
    "kind",
    "fields",
    "items",
    "schema",
];

impl<'de> Deserialize<'de> for OpProbe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OpProbe;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an op object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OpProbe, A::Error> {
                let mut has_cursor = false;
                while let Some(key) = map.next_key::<String>()? {
                    if OP_FIELDS.contains(&key.as_str()) {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    } else {
                        has_cursor |= key == "cursor";
                        map.next_value::<Value>()?;
                    }
                }
                Ok(OpProbe { has_cursor })
            }
        }
        d.deserialize_map(Visitor)
    }
}

impl<'de> Deserialize<'de> for IncomingOp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let text = raw.get();
        let op: Op = serde_json::from_str(text).map_err(serde::de::Error::custom)?;
        let probe: OpProbe = serde_json::from_str(text).map_err(serde::de::Error::custom)?;
        let body = if probe.has_cursor {
            let mut map: Map<String, Value> =
                serde_json::from_str(text).map_err(serde::de::Error::custom)?;
            map.remove("cursor");
            serde_json::to_string(&map).map_err(serde::de::Error::custom)?
        } else {
            text.to_owned()
        };
        Ok(Self { op, body })
    }
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
