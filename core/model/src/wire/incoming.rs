//! The decoder of a pushed op: typed to validate it, and its JSON text kept to store verbatim,
//! so fields a newer client adds survive the relay (and the relay need not re-serialise what it
//! stores). `fuzz/fuzz_targets/push_decode.rs` fuzzes exactly this type.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::op::Op;

/// An op as received.
#[derive(Debug, Clone)]
pub struct IncomingOp {
    /// The decoded op.
    pub op: Op,
    /// The JSON object as sent, minus any `cursor` (the relay assigns that).
    pub body: String,
}

impl IncomingOp {
    /// An op made on the relay itself (a server-side device): its body is its serialisation.
    pub fn from_op(op: Op) -> serde_json::Result<Self> {
        let body = serde_json::to_string(&op)?;
        Ok(Self { op, body })
    }
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

/// Writes the op as received (its kept text), so a client builds a push body from the same type
/// the relay decodes (`api::PushRequest`).
impl Serialize for IncomingOp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(&self.body).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

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
            // Rare: an op echoed back with the cursor it was pulled with.
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

#[cfg(test)]
mod tests {
    use super::*;

    const OP: &str = r#"{"op_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","device":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c","device_seq":1,"hlc":4096,"entity":"car","entity_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5d","kind":"upsert","fields":{"name":"Golf"},"schema":1"#;

    #[test]
    fn keeps_the_text_as_sent_including_unknown_fields() {
        let text = format!("{OP},\"future\":{{\"x\":[1,2]}}}}");
        let op: IncomingOp = serde_json::from_str(&text).unwrap();
        assert_eq!(op.body, text);
        assert_eq!(op.op.device_seq, 1);
    }

    #[test]
    fn drops_an_echoed_cursor_and_nothing_else() {
        let text = format!("{OP},\"cursor\":42,\"future\":true}}");
        let op: IncomingOp = serde_json::from_str(&text).unwrap();
        let map: Map<String, Value> = serde_json::from_str(&op.body).unwrap();
        assert!(!map.contains_key("cursor"));
        assert_eq!(map.get("future"), Some(&Value::Bool(true)));
        let back: Op = serde_json::from_str(&op.body).unwrap();
        assert_eq!(back, op.op);
    }

    #[test]
    fn refuses_unknown_fields_that_are_not_json_values() {
        for extra in [r#""bad":"\ud800""#, r#""big":1e400"#] {
            let text = format!("{OP},{extra}}}");
            assert!(
                serde_json::from_str::<IncomingOp>(&text).is_err(),
                "accepted {extra}"
            );
        }
    }

    #[test]
    fn from_op_round_trips() {
        let text = format!("{OP}}}");
        let parsed: IncomingOp = serde_json::from_str(&text).unwrap();
        let made = IncomingOp::from_op(parsed.op.clone()).unwrap();
        let again: Op = serde_json::from_str(&made.body).unwrap();
        assert_eq!(again, parsed.op);
    }
}
