//! The trip-point array: `[seq, at_ms, lat, lon, accuracy_m, speed_mps, heading_deg,
//! altitude_m, counted]`, with `null` for unknown values. Arrays keep chunks of 100 points
//! small; see `docs/sync-protocol.md`.

use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::gps::Ping;
use crate::op::SCHEMA_VERSION;

/// Number of elements of a `trip_points` item in schema 1:
/// `[seq, at_ms, lat, lon, accuracy|null, speed|null, heading|null, altitude|null, counted]`.
pub const TRIP_POINT_ARITY: usize = 9;

/// One GPS point of a trip, as stored on a device and carried in `trip_points` appends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TripPoint {
    /// Position within the trip, from 0, gap-free.
    pub seq: u32,
    /// The fix.
    pub ping: Ping,
    /// Whether it counted toward the distance (false = poor accuracy).
    pub counted: bool,
}

impl TripPoint {
    /// The compact wire form used in `trip_points` append ops.
    pub fn to_wire(&self) -> Value {
        let p = &self.ping;
        let opt = |v: Option<f64>| v.map_or(Value::Null, Value::from);
        Value::Array(vec![
            Value::from(self.seq),
            Value::from(p.at.timestamp_millis()),
            Value::from(p.lat),
            Value::from(p.lon),
            opt(p.accuracy_m),
            opt(p.speed_mps),
            opt(p.heading_deg),
            opt(p.altitude_m),
            Value::from(u8::from(self.counted)),
        ])
    }

    /// Reads the wire form back; `None` when the shape or a value is wrong.
    pub fn from_wire(v: &Value) -> Option<Self> {
        let a = v.as_array()?;
        if a.len() != TRIP_POINT_ARITY {
            return None;
        }
        let opt = |i: usize| -> Option<Option<f64>> {
            match a.get(i)? {
                Value::Null => Some(None),
                other => other.as_f64().filter(|x| x.is_finite()).map(Some),
            }
        };
        let lat = a.get(2)?.as_f64().filter(|x| (-90.0..=90.0).contains(x))?;
        let lon = a
            .get(3)?
            .as_f64()
            .filter(|x| (-180.0..=180.0).contains(x))?;
        Some(Self {
            seq: u32::try_from(a.first()?.as_u64()?).ok()?,
            ping: Ping {
                at: DateTime::from_timestamp_millis(a.get(1)?.as_i64()?)?,
                lat,
                lon,
                accuracy_m: opt(4)?,
                speed_mps: opt(5)?,
                heading_deg: opt(6)?,
                altitude_m: opt(7)?,
            },
            counted: match a.get(8)?.as_u64()? {
                0 => false,
                1 => true,
                _ => return None,
            },
        })
    }
}

/// Why a pushed trip-point item is refused (the merge code turns it into an `InvalidOp`).
#[derive(Debug, Clone, PartialEq)]
pub enum PointShapeError {
    /// Wrong arity or a wrongly typed element.
    Shape(String),
    /// `lat`/`lon` outside the globe.
    OutOfRange {
        /// Latitude sent.
        lat: f64,
        /// Longitude sent.
        lon: f64,
    },
}

/// Checks one pushed item of an op of `schema`. A newer schema may add trailing elements,
/// which are kept like unknown fields.
pub fn check_point(schema: u32, item: &Value) -> Result<(), PointShapeError> {
    let bad = |reason: &str| PointShapeError::Shape(reason.to_owned());
    let parts = item.as_array().ok_or_else(|| bad("expected an array"))?;
    let arity_ok = if schema > SCHEMA_VERSION {
        parts.len() >= TRIP_POINT_ARITY
    } else {
        parts.len() == TRIP_POINT_ARITY
    };
    if !arity_ok {
        return Err(PointShapeError::Shape(format!(
            "expected {TRIP_POINT_ARITY} elements [seq, at_ms, lat, lon, accuracy, speed, heading, altitude, counted], got {}",
            parts.len()
        )));
    }
    let at = |i: usize| parts.get(i).unwrap_or(&Value::Null);
    if at(0).as_u64().is_none_or(|seq| seq > u64::from(u32::MAX)) {
        return Err(bad("seq must be an integer 0..=4294967295"));
    }
    if at(1).as_i64().is_none() {
        return Err(bad("at_ms must be an integer"));
    }
    let (Some(lat), Some(lon)) = (at(2).as_f64(), at(3).as_f64()) else {
        return Err(bad("lat and lon must be numbers"));
    };
    if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
        return Err(PointShapeError::OutOfRange { lat, lon });
    }
    for (i, name) in [
        (4, "accuracy"),
        (5, "speed"),
        (6, "heading"),
        (7, "altitude"),
    ] {
        if !(at(i).is_null() || at(i).is_number()) {
            return Err(PointShapeError::Shape(format!(
                "{name} must be a number or null"
            )));
        }
    }
    if !matches!(at(8).as_u64(), Some(0 | 1)) {
        return Err(bad("counted must be 0 or 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn point(seq: u32, accuracy: Option<f64>) -> TripPoint {
        TripPoint {
            seq,
            ping: Ping {
                at: chrono::Utc
                    .timestamp_millis_opt(1_767_225_600_123)
                    .single()
                    .unwrap(),
                lat: 52.37,
                lon: 4.89,
                accuracy_m: accuracy,
                speed_mps: Some(13.5),
                heading_deg: None,
                altitude_m: Some(-2.0),
            },
            counted: accuracy.is_none_or(|a| a <= 100.0),
        }
    }

    #[test]
    fn wire_round_trip_keeps_every_field_and_passes_the_check() {
        for p in [
            point(0, None),
            point(7, Some(250.0)),
            point(u32::MAX, Some(5.0)),
        ] {
            let wire = p.to_wire();
            assert_eq!(wire.as_array().map(Vec::len), Some(TRIP_POINT_ARITY));
            assert_eq!(TripPoint::from_wire(&wire), Some(p));
            assert_eq!(check_point(SCHEMA_VERSION, &wire), Ok(()));
        }
    }

    #[test]
    fn decoder_and_check_refuse_the_same_bad_shapes() {
        let good = point(1, Some(3.0)).to_wire();
        let with = |i: usize, v: Value| {
            let mut a = good.as_array().unwrap().clone();
            a[i] = v;
            Value::Array(a)
        };
        for bad in [
            Value::Null,
            Value::from("x"),
            Value::Array(vec![]),
            with(0, Value::from(-1)),
            with(1, Value::from(1.5)),
            with(2, Value::from(91.0)),
            with(3, Value::from("4.8")),
            with(4, Value::from("far")),
            with(8, Value::from(2)),
        ] {
            assert_eq!(TripPoint::from_wire(&bad), None, "decoded {bad}");
            assert!(check_point(SCHEMA_VERSION, &bad).is_err(), "accepted {bad}");
        }
        assert_eq!(
            check_point(SCHEMA_VERSION, &with(2, Value::from(91.0))),
            Err(PointShapeError::OutOfRange {
                lat: 91.0,
                lon: 4.89
            })
        );
    }

    #[test]
    fn a_newer_schema_may_add_trailing_elements() {
        let mut a = point(1, None).to_wire().as_array().unwrap().clone();
        a.push(Value::from("future"));
        let longer = Value::Array(a);
        assert!(check_point(SCHEMA_VERSION, &longer).is_err());
        assert_eq!(check_point(SCHEMA_VERSION + 1, &longer), Ok(()));
    }
}
