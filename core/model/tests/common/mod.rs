//! Test-only helpers shared by the detector integration tests: tiny parsers
//! for the two fixture formats and a driver that feeds inputs in order.
//! (The real importers are written elsewhere; these read just enough.)
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tacho_model::detector::{Detector, DetectorInput, DetectorOutput, TripSummary};
use tacho_model::gps::Ping;
use tacho_model::trip::TripSource;

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/gps")
        .join(name)
}

fn read_json(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_path(name)).expect("fixture readable");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// barefoot format: `[{"point":"POINT(lon lat)","time":"YYYY-MM-DD HH:MM:SS+0200"}]`.
pub fn barefoot(name: &str) -> Vec<Ping> {
    let v = read_json(name);
    v.as_array()
        .expect("array")
        .iter()
        .map(|e| {
            let point = e["point"].as_str().expect("point");
            let inner = point.trim_start_matches("POINT(").trim_end_matches(')');
            let mut it = inner
                .split_whitespace()
                .map(|s| s.parse::<f64>().expect("float"));
            let lon = it.next().expect("lon");
            let lat = it.next().expect("lat");
            let at =
                DateTime::parse_from_str(e["time"].as_str().expect("time"), "%Y-%m-%d %H:%M:%S%z")
                    .expect("time parses")
                    .with_timezone(&Utc);
            Ping::at(at, lat, lon)
        })
        .collect()
}

/// enviroCar track GeoJSON: Point features with `properties.time` and
/// `properties.phenomenons` ("GPS Accuracy", "GPS Speed" in km/h, ...).
pub fn envirocar(name: &str) -> Vec<Ping> {
    let v = read_json(name);
    v["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            let c = &f["geometry"]["coordinates"];
            let lon = c[0].as_f64().expect("lon");
            let lat = c[1].as_f64().expect("lat");
            let props = &f["properties"];
            let at = DateTime::parse_from_rfc3339(props["time"].as_str().expect("time"))
                .expect("time parses")
                .with_timezone(&Utc);
            let ph = &props["phenomenons"];
            let value = |k: &str| ph[k]["value"].as_f64();
            let mut p = Ping::at(at, lat, lon);
            p.accuracy_m = value("GPS Accuracy");
            p.speed_mps = value("GPS Speed").map(|kmh| kmh / 3.6);
            p.heading_deg = value("GPS Bearing");
            p.altitude_m = value("GPS Altitude");
            p
        })
        .collect()
}

/// Inputs for one recorded drive: Connect at the first fix, every fix,
/// Disconnect at the last fix.
pub fn connected_drive(pings: &[Ping], source: TripSource) -> Vec<DetectorInput> {
    let mut v = Vec::with_capacity(pings.len() + 2);
    if let (Some(first), Some(last)) = (pings.first(), pings.last()) {
        v.push(DetectorInput::Connect {
            at: first.at,
            source,
            car_hint: None,
        });
        v.extend(pings.iter().copied().map(DetectorInput::Ping));
        v.push(DetectorInput::Disconnect { at: last.at });
    }
    v
}

pub fn input_time(i: &DetectorInput) -> DateTime<Utc> {
    match i {
        DetectorInput::Connect { at, .. } | DetectorInput::Disconnect { at } => *at,
        DetectorInput::Ping(p) => p.at,
        DetectorInput::Tick { now } => *now,
    }
}

/// Feeds inputs as if live (the caller's clock equals each input's time).
pub fn run(
    det: &mut Detector,
    inputs: impl IntoIterator<Item = DetectorInput>,
) -> Vec<DetectorOutput> {
    let mut out = Vec::new();
    for i in inputs {
        let now = input_time(&i);
        out.extend(det.handle(i, now));
    }
    out
}

pub fn tick_after(pings: &[Ping], hours: i64) -> DetectorInput {
    let last = pings.last().map(|p| p.at).unwrap_or_default();
    DetectorInput::Tick {
        now: last + chrono::Duration::hours(hours),
    }
}

pub fn trips(out: &[DetectorOutput]) -> Vec<TripSummary> {
    out.iter()
        .filter_map(|o| match o {
            DetectorOutput::TripEnded { summary } => Some(summary.clone()),
            _ => None,
        })
        .collect()
}

pub fn count(out: &[DetectorOutput], pred: impl Fn(&DetectorOutput) -> bool) -> usize {
    out.iter().filter(|o| pred(o)).count()
}

pub fn assert_within(actual: f64, reference: f64, pct: f64, what: &str) {
    let dev = (actual - reference) / reference * 100.0;
    eprintln!("{what}: {actual:.1} m vs {reference:.1} m reference ({dev:+.3} %)");
    assert!(
        dev.abs() <= pct,
        "{what}: {actual} m is {dev:+.3} % off {reference} m"
    );
}
