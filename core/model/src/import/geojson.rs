//! GeoJSON track import: enviroCar track exports and generic GeoJSON.
//!
//! Accepts a `FeatureCollection`, a bare array of features, or a single
//! `Feature`. `Point` features need `properties.time` (RFC 3339);
//! `LineString` features need `properties.coordTimes`, one time per vertex
//! (as written by togeojson and several GPX-to-GeoJSON converters). Other
//! geometry types (and features without geometry) are skipped. All fixes go
//! into one segment, in file order.
//!
//! enviroCar `properties.phenomenons` map as: "GPS Accuracy" → accuracy in
//! metres (enviroCar labels its unit "%", but the values are the phone's
//! accuracy radius in metres), else "GPS HDOP" × [`HDOP_TO_ACCURACY_M`](super::HDOP_TO_ACCURACY_M);
//! "GPS Speed" (km/h, or m/s when so labelled), else OBD "Speed"; "GPS
//! Bearing" → heading; "GPS Altitude" → altitude (a third coordinate wins).

use serde_json::{Map, Value};

use crate::gps::Ping;

use super::{
    ImportError, Location, Track, TrackFormat, accuracy_from_hdop, check_lat, check_lon,
    parse_timestamp, snippet, strip_bom,
};

/// Parses GeoJSON into one segment of fixes.
pub fn parse(input: &str) -> Result<Track, ImportError> {
    let input = strip_bom(input);
    let root: Value = serde_json::from_str(input).map_err(|e| {
        ImportError::new(
            TrackFormat::GeoJson,
            Location::LineColumn {
                line: e.line().max(1),
                column: e.column().max(1),
            },
            format!("malformed JSON: {e}"),
        )
    })?;

    let mut track = Track::default();
    let single;
    let features: &[Value] = match &root {
        Value::Array(items) => {
            not_features(items)?;
            items
        }
        Value::Object(obj) => {
            track.name = name_of(obj);
            match obj.get("type").and_then(Value::as_str) {
                Some("FeatureCollection") => match obj.get("features") {
                    Some(Value::Array(items)) => items,
                    _ => return Err(top("a FeatureCollection needs a \"features\" array")),
                },
                Some("Feature") => {
                    single = [root.clone()];
                    &single
                }
                other => {
                    return Err(top(format!(
                        "expected a FeatureCollection, a Feature or an array of features, found type {}",
                        other.map_or_else(|| "(none)".to_owned(), snippet)
                    )));
                }
            }
        }
        _ => return Err(top("expected a JSON object or array of features")),
    };

    let mut pings = Vec::new();
    for (index, feature) in features.iter().enumerate() {
        read_feature(feature, index, &mut pings)?;
    }
    if pings.is_empty() {
        return Err(top(
            "no track points: no Point or LineString feature with a time",
        ));
    }
    track.segments.push(pings);
    Ok(track)
}

/// What Tacho reads, for messages about files it doesn't.
const FORMATS: &str = "Tacho imports GPX 1.0/1.1, NMEA 0183 (RMC, GGA), GeoJSON (enviroCar \
                       track exports included) and CSV with a header row";

/// A JSON array none of whose items looks like a GeoJSON feature (no `"type":"Feature"`, no
/// `geometry`) is some other JSON format; say so instead of "no track points".
fn not_features(items: &[Value]) -> Result<(), ImportError> {
    let feature_like = |v: &Value| {
        v.as_object().is_some_and(|o| {
            o.get("type").and_then(Value::as_str) == Some("Feature") || o.contains_key("geometry")
        })
    };
    if items.is_empty() || items.iter().any(feature_like) {
        return Ok(());
    }
    let first = items.first().and_then(Value::as_object);
    let wkt_point = first
        .and_then(|o| o.get("point"))
        .and_then(Value::as_str)
        .is_some_and(|p| p.trim_start().starts_with("POINT"));
    if wkt_point {
        return Err(top(format!(
            "this is not GeoJSON but a JSON array of map-matcher samples \
             ({{\"point\":\"POINT(lon lat)\",\"time\":…}}, the barefoot test-fixture format), \
             which Tacho does not import; {FORMATS}"
        )));
    }
    let keys = first.map_or_else(
        || "is not an object".to_owned(),
        |o| {
            let keys: Vec<&str> = o.keys().map(String::as_str).take(6).collect();
            format!("has keys {}", snippet(&keys.join(", ")))
        },
    );
    Err(top(format!(
        "this JSON array holds no GeoJSON features (its first item {keys}); {FORMATS}"
    )))
}

fn top(message: impl Into<String>) -> ImportError {
    ImportError::new(
        TrackFormat::GeoJson,
        Location::LineColumn { line: 1, column: 1 },
        message,
    )
}

fn name_of(obj: &Map<String, Value>) -> Option<String> {
    let props = obj.get("properties")?.as_object()?;
    ["name", "id"].iter().find_map(|k| match props.get(*k)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn read_feature(feature: &Value, index: usize, out: &mut Vec<Ping>) -> Result<(), ImportError> {
    let fail = |message: String| {
        ImportError::new(TrackFormat::GeoJson, Location::Feature { index }, message)
    };
    let Some(feature) = feature.as_object() else {
        return Err(fail("a feature must be a JSON object".into()));
    };
    let Some(geometry) = feature.get("geometry").and_then(Value::as_object) else {
        return Ok(());
    };
    let empty = Map::new();
    let props = feature
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    match geometry.get("type").and_then(Value::as_str) {
        Some("Point") => {
            let coords = geometry
                .get("coordinates")
                .ok_or_else(|| fail("Point without coordinates".into()))?;
            let (lat, lon, alt) = position(coords).map_err(fail)?;
            let time = props
                .get("time")
                .ok_or_else(|| fail("Point without properties.time".into()))?;
            let at = time_of(time).map_err(fail)?;
            let mut ping = Ping::at(at, lat, lon);
            apply_phenomenons(&mut ping, props).map_err(fail)?;
            if alt.is_some() {
                ping.altitude_m = alt;
            }
            out.push(ping);
        }
        Some("LineString") => {
            let Some(coords) = geometry.get("coordinates").and_then(Value::as_array) else {
                return Err(fail("LineString without a coordinates array".into()));
            };
            let Some(times) = props.get("coordTimes").and_then(Value::as_array) else {
                return Err(fail(
                    "LineString without a properties.coordTimes array".into(),
                ));
            };
            if times.len() != coords.len() {
                return Err(fail(format!(
                    "LineString has {} coordinates but {} coordTimes",
                    coords.len(),
                    times.len()
                )));
            }
            for (i, (c, t)) in coords.iter().zip(times).enumerate() {
                let (lat, lon, alt) = position(c).map_err(|m| fail(format!("vertex {i}: {m}")))?;
                let at = time_of(t).map_err(|m| fail(format!("coordTimes[{i}]: {m}")))?;
                out.push(Ping {
                    altitude_m: alt,
                    ..Ping::at(at, lat, lon)
                });
            }
        }
        _ => {}
    }
    Ok(())
}

/// `[lon, lat]` or `[lon, lat, altitude]`.
fn position(coords: &Value) -> Result<(f64, f64, Option<f64>), String> {
    let Some(c) = coords.as_array() else {
        return Err("coordinates must be an array [lon, lat]".into());
    };
    let number = |i: usize, name: &str| -> Result<Option<f64>, String> {
        match c.get(i) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| format!("{name} is not a number: {}", snippet(&v.to_string()))),
        }
    };
    let lon = number(0, "longitude")?.ok_or("coordinates need [lon, lat]")?;
    let lat = number(1, "latitude")?.ok_or("coordinates need [lon, lat]")?;
    let alt = number(2, "altitude")?;
    Ok((check_lat(lat)?, check_lon(lon)?, alt))
}

fn time_of(v: &Value) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let s = v.as_str().ok_or_else(|| {
        format!(
            "time must be an RFC 3339 string, found {}",
            snippet(&v.to_string())
        )
    })?;
    parse_timestamp(s).ok_or_else(|| format!("bad time {}: expected RFC 3339", snippet(s)))
}

/// enviroCar measurements; a missing one is fine, a non-numeric one is not.
fn apply_phenomenons(ping: &mut Ping, props: &Map<String, Value>) -> Result<(), String> {
    let Some(ph) = props.get("phenomenons").and_then(Value::as_object) else {
        return Ok(());
    };
    let value = |name: &str| -> Result<Option<(f64, Option<&str>)>, String> {
        let Some(entry) = ph.get(name) else {
            return Ok(None);
        };
        let (v, unit) = match entry {
            Value::Object(o) => (o.get("value"), o.get("unit").and_then(Value::as_str)),
            other => (Some(other), None),
        };
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .map(|x| Some((x, unit)))
                .ok_or_else(|| {
                    format!(
                        "phenomenon {name:?} is not a number: {}",
                        snippet(&v.to_string())
                    )
                }),
        }
    };
    let speed = |name: &str| -> Result<Option<f64>, String> {
        Ok(value(name)?.map(|(v, unit)| match unit {
            Some(u) if u.eq_ignore_ascii_case("m/s") => v,
            _ => v / 3.6,
        }))
    };
    ping.accuracy_m = match value("GPS Accuracy")? {
        Some((v, _)) => Some(v),
        None => value("GPS HDOP")?.map(|(h, _)| accuracy_from_hdop(h)),
    };
    ping.speed_mps = match speed("GPS Speed")? {
        Some(v) => Some(v),
        None => speed("Speed")?,
    };
    ping.heading_deg = value("GPS Bearing")?.map(|(v, _)| v);
    ping.altitude_m = value("GPS Altitude")?.map(|(v, _)| v);
    Ok(())
}
