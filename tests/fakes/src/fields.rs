//! Strict readers of JSON body fields: a value of the wrong JSON type is an error (a string `"12"`
//! where an integer is due, a float where an integer is due), so a client's type slip surfaces.
//! `null` reads as absent. Errors are short English messages each service wraps in its own shape.

use serde_json::{Map, Value};

/// A JSON object body.
pub(crate) type Obj = Map<String, Value>;

/// Parses a body as a JSON object.
pub(crate) fn object(body: &[u8]) -> Result<Obj, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("the body must be a JSON object".to_owned()),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

/// The JSON type name of a value, as error messages show it.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An optional integer field.
pub(crate) fn opt_i64(obj: &Obj, key: &str) -> Result<Option<i64>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{key} must be an integer, got {}", kind(v))),
    }
}

/// An optional string field.
pub(crate) fn opt_str(obj: &Obj, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(format!("{key} must be a string, got {}", kind(v))),
    }
}

/// An optional boolean field.
pub(crate) fn opt_bool(obj: &Obj, key: &str) -> Result<Option<bool>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(format!("{key} must be a boolean, got {}", kind(v))),
    }
}

/// An optional number field (integer or float).
pub(crate) fn opt_f64(obj: &Obj, key: &str) -> Result<Option<f64>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("{key} must be a number, got {}", kind(v))),
    }
}
