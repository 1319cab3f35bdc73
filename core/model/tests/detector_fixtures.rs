//! Acceptance tests of the trip detector and GPS filter on the real drives in
//! `testdata/gps/` (reference figures from `testdata/gps/SOURCES.md`).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::*;
use tacho_model::detector::{Detector, DetectorConfig, DetectorInput, DetectorOutput};
use tacho_model::gps::filter::{FilterConfig, PointKind, path_stats};
use tacho_model::gps::{LatLon, Ping};
use tacho_model::trip::TripSource;

/// Unfiltered haversine path lengths from SOURCES.md.
const MUNICH_M: f64 = 13_647.1;
const TRACK2_M: f64 = 37_594.3;
const TRACK9_M: f64 = 5_213.0;
const TRACK8_M: f64 = 1_636.0;
/// The hop from the last fix of trackData9 to the first of trackData8.
const CHEMNITZ_HOP_M: f64 = 6.8;

fn load(name: &str) -> Vec<Ping> {
    if name.starts_with("x0001") {
        barefoot(name)
    } else {
        envirocar(name)
    }
}

/// Connect + every fix + Disconnect + a tick a day later: exactly one trip,
/// within 1 % of the reference, equal to the batch path_stats figure.
fn one_trip_matches_reference(name: &str, reference_m: f64) {
    let pings = load(name);
    let mut det = Detector::new(DetectorConfig::default());
    let mut inputs = connected_drive(&pings, TripSource::Carplay);
    inputs.push(tick_after(&pings, 24));
    let out = run(&mut det, inputs);

    let trips = trips(&out);
    assert_eq!(trips.len(), 1, "{name}: {trips:?}");
    let trip = &trips[0];
    assert!(!trip.recovered);
    assert_eq!(trip.started_at, pings[0].at);
    assert_eq!(trip.ended_at, pings[pings.len() - 1].at);
    assert_within(trip.distance_m, reference_m, 1.0, name);

    let points = count(&out, |o| matches!(o, DetectorOutput::Point { .. }));
    let outliers = count(&out, |o| matches!(o, DetectorOutput::OutlierDropped { .. }));
    assert_eq!(points, trip.point_count as usize);
    assert_eq!(
        points + outliers,
        pings.len(),
        "{name}: every fix accounted for"
    );
    assert!(!det.is_trip_open());

    let stats = path_stats(&pings, FilterConfig::default());
    assert!(
        (stats.distance_m - trip.distance_m).abs() < 1e-6,
        "{name}: path_stats {} vs detector {}",
        stats.distance_m,
        trip.distance_m
    );
    assert_eq!(stats.counted + stats.poor_accuracy, points);
    assert_eq!(stats.outliers, outliers);
    assert_eq!(stats.first, trip.start);
    assert_eq!(stats.last, trip.end);
}

#[test]
fn munich_x0001_one_trip_within_1_percent() {
    one_trip_matches_reference("x0001-001.json", MUNICH_M);
}

#[test]
fn envirocar_track2_one_trip_within_1_percent() {
    one_trip_matches_reference("trackData2.json", TRACK2_M);
}

#[test]
fn envirocar_track9_one_trip_within_1_percent() {
    one_trip_matches_reference("trackData9.json", TRACK9_M);
}

#[test]
fn envirocar_track8_one_trip_within_1_percent() {
    one_trip_matches_reference("trackData8.json", TRACK8_M);
}

#[test]
fn munich_tunnel_jump_is_bridged_not_dropped() {
    let pings = barefoot("x0001-001.json");
    let exit = LatLon {
        lat: 48.133125,
        lon: 11.533456,
    };
    let jump_at = Utc.with_ymd_and_hms(2014, 9, 10, 5, 4, 27).unwrap();
    let mut det = Detector::new(DetectorConfig::default());
    let mut inputs = connected_drive(&pings, TripSource::Carplay);
    inputs.push(tick_after(&pings, 1));
    let out = run(&mut det, inputs);

    let near_exit = |p: &Ping| p.position().distance_m(exit) < 100.0;
    for o in &out {
        if let DetectorOutput::OutlierDropped { ping } = o {
            assert!(!near_exit(ping), "tunnel exit dropped: {ping:?}");
        }
    }
    let jump = out.iter().find_map(|o| match o {
        DetectorOutput::Point { ping, kind } if ping.at == jump_at => Some((*ping, *kind)),
        _ => None,
    });
    let (ping, kind) = jump.expect("the fix after the freeze is a point");
    assert_eq!(kind, PointKind::Counted);
    assert!(near_exit(&ping));

    // The 470 m line is in the distance: without it the total would be 3.4 %
    // short. Compare with the track cut at the jump, summed in two halves.
    let trips = trips(&out);
    assert_eq!(trips.len(), 1);
    let cut = pings.iter().position(|p| p.at == jump_at).unwrap();
    let before = path_stats(&pings[..cut], FilterConfig::default()).distance_m;
    let after = path_stats(&pings[cut..], FilterConfig::default()).distance_m;
    let bridge = pings[cut - 1].position().distance_m(pings[cut].position());
    assert!(bridge > 460.0, "{bridge}");
    assert!(
        (trips[0].distance_m - (before + bridge + after)).abs() < 1e-6,
        "{} vs {before} + {bridge} + {after}",
        trips[0].distance_m
    );
}

#[test]
fn single_wild_outlier_is_dropped_and_later_fixes_kept() {
    let t0 = Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0).unwrap();
    // 1 Hz, ~15 m/s east along a parallel, with a little curve.
    let clean: Vec<Ping> = (0..300)
        .map(|i| {
            let f = i as f64;
            Ping::at(
                t0 + Duration::seconds(i),
                48.1 + 0.00002 * (f / 30.0).sin(),
                11.5 + f * 0.0002,
            )
        })
        .collect();
    let mut noisy = clean.clone();
    noisy[150].lat += 0.045; // 5 km north for one second

    let drive = |pings: &[Ping]| {
        let mut det = Detector::new(DetectorConfig::default());
        let mut inputs = connected_drive(pings, TripSource::Bluetooth);
        inputs.push(tick_after(pings, 1));
        run(&mut det, inputs)
    };
    let clean_out = drive(&clean);
    let noisy_out = drive(&noisy);

    let dropped: Vec<&Ping> = noisy_out
        .iter()
        .filter_map(|o| match o {
            DetectorOutput::OutlierDropped { ping } => Some(ping),
            _ => None,
        })
        .collect();
    assert_eq!(dropped, vec![&noisy[150]]);
    let kept: Vec<Ping> = noisy_out
        .iter()
        .filter_map(|o| match o {
            DetectorOutput::Point { ping, kind } => {
                assert_eq!(*kind, PointKind::Counted);
                Some(*ping)
            }
            _ => None,
        })
        .collect();
    let expected: Vec<Ping> = clean
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 150)
        .map(|(_, p)| *p)
        .collect();
    assert_eq!(
        kept, expected,
        "every fix but the outlier is kept, in order"
    );

    let (a, b) = (&trips(&clean_out)[0], &trips(&noisy_out)[0]);
    assert!(
        (a.distance_m - b.distance_m).abs() < 1.0,
        "{} vs {}",
        a.distance_m,
        b.distance_m
    );
    assert!(a.distance_m > 4_000.0);
}

/// trackData9 then trackData8 (4 min 13 s apart, 6.8 m apart).
fn chemnitz() -> (Vec<Ping>, Vec<Ping>) {
    (envirocar("trackData9.json"), envirocar("trackData8.json"))
}

fn config_with_grace(minutes: i64) -> DetectorConfig {
    DetectorConfig {
        grace: Duration::minutes(minutes),
        ..DetectorConfig::default()
    }
}

fn chemnitz_inputs(with_connect: bool) -> Vec<DetectorInput> {
    let (nine, eight) = chemnitz();
    let mut inputs = Vec::new();
    for part in [&nine, &eight] {
        if with_connect {
            inputs.extend(connected_drive(part, TripSource::Bluetooth));
        } else {
            inputs.extend(part.iter().copied().map(DetectorInput::Ping));
        }
    }
    inputs.push(tick_after(&eight, 24));
    inputs
}

fn assert_chemnitz_one_trip(out: &[DetectorOutput]) {
    let trips = trips(out);
    assert_eq!(trips.len(), 1, "{trips:?}");
    let (nine, eight) = chemnitz();
    assert_eq!(trips[0].ended_at, eight[eight.len() - 1].at);
    assert!(trips[0].started_at <= nine[0].at + Duration::minutes(2));
    assert_within(
        trips[0].distance_m,
        TRACK9_M + CHEMNITZ_HOP_M + TRACK8_M,
        1.0,
        "chemnitz 9+8 as one trip",
    );
}

fn assert_chemnitz_two_trips(out: &[DetectorOutput]) {
    let trips = trips(out);
    assert_eq!(trips.len(), 2, "{trips:?}");
    let (nine, eight) = chemnitz();
    assert_eq!(trips[0].ended_at, nine[nine.len() - 1].at);
    assert!(trips[1].started_at >= eight[0].at);
    assert_within(trips[0].distance_m, TRACK9_M, 1.0, "chemnitz 9 alone");
    assert_within(trips[1].distance_m, TRACK8_M, 1.0, "chemnitz 8 alone");
    let started = count(out, |o| matches!(o, DetectorOutput::TripStarted { .. }));
    assert_eq!(started, 2);
}

#[test]
fn chemnitz_with_connects_is_one_trip_with_5_min_grace() {
    let mut det = Detector::new(config_with_grace(5));
    let out = run(&mut det, chemnitz_inputs(true));
    assert_eq!(
        count(&out, |o| matches!(o, DetectorOutput::TripResumed { .. })),
        1
    );
    assert_chemnitz_one_trip(&out);
    let trips = trips(&out);
    assert_eq!(trips[0].source, TripSource::Bluetooth);
    assert_eq!(trips[0].started_at, chemnitz().0[0].at);
}

#[test]
fn chemnitz_with_connects_is_two_trips_with_3_min_grace() {
    let mut det = Detector::new(config_with_grace(3));
    let out = run(&mut det, chemnitz_inputs(true));
    assert_eq!(
        count(&out, |o| matches!(o, DetectorOutput::TripResumed { .. })),
        0
    );
    assert_chemnitz_two_trips(&out);
    // The first trip ended at the disconnect, before the second started.
    let (nine, eight) = chemnitz();
    let trips = trips(&out);
    assert_eq!(trips[1].started_at, eight[0].at);
    assert_eq!(trips[0].started_at, nine[0].at);
}

#[test]
fn chemnitz_pings_only_is_one_trip_with_5_min_grace() {
    let mut det = Detector::new(config_with_grace(5));
    let out = run(&mut det, chemnitz_inputs(false));
    assert_chemnitz_one_trip(&out);
    assert_eq!(trips(&out)[0].source, TripSource::Auto);
}

#[test]
fn chemnitz_pings_only_is_two_trips_with_3_min_grace() {
    let mut det = Detector::new(config_with_grace(3));
    let out = run(&mut det, chemnitz_inputs(false));
    assert_chemnitz_two_trips(&out);
    assert!(trips(&out).iter().all(|t| t.source == TripSource::Auto));
}

#[test]
fn auto_trip_starts_at_first_buffered_fix() {
    let (nine, _) = chemnitz();
    let mut det = Detector::new(DetectorConfig::default());
    let out = run(&mut det, nine.iter().copied().map(DetectorInput::Ping));
    match out.first() {
        Some(DetectorOutput::TripStarted { at, source, .. }) => {
            assert_eq!(*at, nine[0].at);
            assert_eq!(*source, TripSource::Auto);
        }
        other => panic!("expected TripStarted first, got {other:?}"),
    }
    assert!(det.is_trip_open());
}

#[test]
fn snapshot_stays_under_1_kib_on_every_fixture() {
    // enviroCar fixes carry accuracy, speed and altitude too.
    for name in [
        "x0001-001.json",
        "trackData2.json",
        "trackData9.json",
        "trackData8.json",
    ] {
        let pings = load(name);
        let mut det = Detector::new(DetectorConfig::default());
        let mut largest = String::new();
        for input in connected_drive(&pings, TripSource::Carplay) {
            let now = input_time(&input);
            det.handle(input, now);
            let json = serde_json::to_string(&det).unwrap();
            if det.is_trip_open() && json.len() > largest.len() {
                largest = json;
            }
        }
        eprintln!(
            "{name}: largest snapshot {} bytes: {largest}",
            largest.len()
        );
        assert!(
            !largest.is_empty() && largest.len() < 1024,
            "{name}: {largest}"
        );
    }
}

#[test]
fn snapshot_stays_under_1_kib_during_the_munich_drive() {
    let pings = barefoot("x0001-001.json");
    let mut det = Detector::new(DetectorConfig::default());
    let mut largest = 0;
    for input in connected_drive(&pings, TripSource::Carplay) {
        let now = input_time(&input);
        det.handle(input, now);
        if det.is_trip_open() {
            let json = serde_json::to_string(&det).unwrap();
            largest = largest.max(json.len());
        }
    }
    eprintln!("largest snapshot while active: {largest} bytes");
    assert!(largest > 0 && largest < 1024, "{largest}");

    // And explicitly at the midpoint, around the tunnel.
    let mut det = Detector::new(DetectorConfig::default());
    let half = pings.len() / 2;
    run(
        &mut det,
        connected_drive(&pings, TripSource::Carplay)
            .into_iter()
            .take(half),
    );
    assert!(det.is_trip_open());
    let json = serde_json::to_string(&det).unwrap();
    assert!(json.len() < 1024, "{} bytes: {json}", json.len());
    let back: Detector = serde_json::from_str(&json).unwrap();
    assert_eq!(back, det);
}
