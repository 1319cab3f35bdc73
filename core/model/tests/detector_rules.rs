//! Rule-by-rule tests of the trip detector: rejections, drops, recovery,
//! grace, auto-start and force_end.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use tacho_model::detector::{
    Detector, DetectorConfig, DetectorInput, DetectorOutput, DropReason, PingRejection,
};
use tacho_model::gps::Ping;
use tacho_model::trip::TripSource;

fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 7, 0, 0).unwrap() + Duration::seconds(s)
}

/// A fix `s` seconds in, driving north at ~11 m/s.
fn fix(s: i64) -> Ping {
    Ping::at(t(s), 52.0 + s as f64 * 0.0001, 13.0)
}

fn connect(s: i64) -> DetectorInput {
    DetectorInput::Connect {
        at: t(s),
        source: TripSource::Carplay,
        car_hint: Some("Golf".into()),
    }
}

fn connected(det: &mut Detector) {
    det.handle(connect(0), t(0));
}

#[test]
fn broken_pings_are_rejected_with_their_reason() {
    let mut det = Detector::new(DetectorConfig::default());
    connected(&mut det);
    let now = t(10);
    let mut accuracy = fix(5);
    accuracy.accuracy_m = Some(-1.0);
    let mut nan_acc = fix(5);
    nan_acc.accuracy_m = Some(f64::NAN);
    let mut inf_speed = fix(5);
    inf_speed.speed_mps = Some(f64::INFINITY);
    let cases = [
        (Ping::at(t(5), f64::NAN, 13.0), PingRejection::NotFinite),
        (
            Ping::at(t(5), 52.0, f64::NEG_INFINITY),
            PingRejection::NotFinite,
        ),
        (
            Ping::at(t(5), 52.0, 181.0),
            PingRejection::LongitudeOutOfRange,
        ),
        (
            Ping::at(t(5), -91.0, 13.0),
            PingRejection::LatitudeOutOfRange,
        ),
        (accuracy, PingRejection::NegativeAccuracy),
        (nan_acc, PingRejection::AccuracyNotFinite),
        (inf_speed, PingRejection::MeasurementNotFinite),
        (
            Ping::at(now + Duration::hours(1), 52.0, 13.0),
            PingRejection::InTheFuture,
        ),
    ];
    for (ping, reason) in cases {
        let out = det.handle(DetectorInput::Ping(ping), now);
        // (Compared field by field: NaN never equals itself.)
        assert_eq!(out.len(), 1, "{out:?}");
        match &out[0] {
            DetectorOutput::PingRejected { ping: p, reason: r } => {
                assert_eq!(*r, reason, "{ping:?}");
                assert_eq!(p.at, ping.at);
            }
            other => panic!("{ping:?} gave {other:?}"),
        }
        assert!(!reason.to_string().is_empty());
    }
    // Within the tolerance is fine (a phone clock a few minutes fast).
    let out = det.handle(DetectorInput::Ping(fix(300)), now);
    assert!(
        !out.iter()
            .any(|o| matches!(o, DetectorOutput::PingRejected { .. }))
    );
    assert!(det.is_trip_open());
}

#[test]
fn duplicate_and_out_of_order_pings_are_dropped() {
    let mut det = Detector::new(DetectorConfig::default());
    connected(&mut det);
    for s in 1..=5 {
        det.handle(DetectorInput::Ping(fix(s)), t(s));
    }
    let dup = fix(5);
    let out = det.handle(DetectorInput::Ping(dup), t(6));
    assert_eq!(
        out,
        vec![DetectorOutput::PingDropped {
            ping: dup,
            reason: DropReason::Duplicate
        }]
    );
    for late in [fix(3), Ping::at(t(5), 52.1, 13.0)] {
        let out = det.handle(DetectorInput::Ping(late), t(6));
        assert_eq!(
            out,
            vec![DetectorOutput::PingDropped {
                ping: late,
                reason: DropReason::OutOfOrder
            }]
        );
    }
    // Dated before the connect that opened the trip.
    let mut det = Detector::new(DetectorConfig::default());
    det.handle(connect(100), t(100));
    let early = fix(50);
    let out = det.handle(DetectorInput::Ping(early), t(100));
    assert_eq!(
        out,
        vec![DetectorOutput::PingDropped {
            ping: early,
            reason: DropReason::OutOfOrder
        }]
    );
}

#[test]
fn orphaned_trip_is_recovered_at_its_last_ping() {
    let mut det = Detector::new(DetectorConfig::default());
    connected(&mut det);
    for s in 1..=60 {
        det.handle(DetectorInput::Ping(fix(s)), t(s));
    }
    // Just under 3 h: still open.
    let out = det.handle(
        DetectorInput::Tick {
            now: t(60) + Duration::hours(3),
        },
        t(60) + Duration::hours(3),
    );
    assert!(
        !out.iter()
            .any(|o| matches!(o, DetectorOutput::TripEnded { .. })),
        "{out:?}"
    );
    let later = t(61) + Duration::hours(3);
    let out = det.handle(DetectorInput::Tick { now: later }, later);
    let trips = trips(&out);
    assert_eq!(trips.len(), 1, "{out:?}");
    assert!(trips[0].recovered);
    assert_eq!(trips[0].ended_at, t(60));
    assert_eq!(trips[0].started_at, t(0));
    assert_eq!(trips[0].car_hint.as_deref(), Some("Golf"));
    assert_eq!(trips[0].point_count, 60);
    assert!(!det.is_trip_open());
}

#[test]
fn connect_without_pings_is_recovered_at_its_start() {
    let mut det = Detector::new(DetectorConfig::default());
    connected(&mut det);
    let later = t(0) + Duration::hours(4);
    let out = det.handle(DetectorInput::Tick { now: later }, later);
    let trips = trips(&out);
    assert_eq!(trips.len(), 1);
    assert!(trips[0].recovered);
    assert_eq!(trips[0].ended_at, t(0));
    assert_eq!(trips[0].distance_m, 0.0);
}

#[test]
fn reconnect_within_grace_resumes_and_after_it_starts_anew() {
    for (gap, resumed) in [(240, true), (301, false)] {
        let mut det = Detector::new(DetectorConfig::default());
        connected(&mut det);
        for s in 1..=30 {
            det.handle(DetectorInput::Ping(fix(s)), t(s));
        }
        det.handle(DetectorInput::Disconnect { at: t(30) }, t(30));
        assert!(det.is_trip_open() && det.is_in_grace());
        let out = det.handle(connect(30 + gap), t(30 + gap));
        if resumed {
            assert_eq!(out, vec![DetectorOutput::TripResumed { at: t(30 + gap) }]);
        } else {
            assert_eq!(out.len(), 2, "{out:?}");
            let DetectorOutput::TripEnded { summary } = &out[0] else {
                panic!("old trip ends first: {out:?}");
            };
            assert_eq!(summary.ended_at, t(30));
            assert!(!summary.recovered);
            assert!(matches!(out[1], DetectorOutput::TripStarted { at, .. } if at == t(30 + gap)));
        }
        assert!(det.is_trip_open() && !det.is_in_grace());
    }
}

#[test]
fn grace_expires_on_a_tick_at_the_disconnect_time() {
    let mut det = Detector::new(DetectorConfig::default());
    connected(&mut det);
    for s in 1..=30 {
        det.handle(DetectorInput::Ping(fix(s)), t(s));
    }
    det.handle(DetectorInput::Disconnect { at: t(40) }, t(40));
    assert!(
        det.handle(DetectorInput::Tick { now: t(340) }, t(340))
            .is_empty()
    );
    let out = det.handle(DetectorInput::Tick { now: t(341) }, t(341));
    let trips = trips(&out);
    assert_eq!(trips.len(), 1);
    assert_eq!(trips[0].ended_at, t(40));
    assert!(!det.is_trip_open());
}

#[test]
fn pings_during_grace_join_a_resumed_trip() {
    let mut det = Detector::new(DetectorConfig::default());
    connected(&mut det);
    for s in 1..=30 {
        det.handle(DetectorInput::Ping(fix(s)), t(s));
    }
    det.handle(DetectorInput::Disconnect { at: t(30) }, t(30));
    // Rolling to the pump: 100 m in 60 s, not enough to start anything.
    for s in [60, 90] {
        assert!(det.handle(DetectorInput::Ping(fix(s)), t(s)).is_empty());
    }
    let out = det.handle(connect(200), t(200));
    assert_eq!(out[0], DetectorOutput::TripResumed { at: t(200) });
    let points: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            DetectorOutput::Point { ping, .. } => Some(ping.at),
            _ => None,
        })
        .collect();
    // The pings buffered in grace, after TripResumed, in order.
    assert_eq!(points, vec![t(60), t(90)]);
    let out = det.force_end(t(200));
    let trips = trips(&out);
    assert_eq!(trips.len(), 1);
    assert_eq!(trips[0].point_count, 32);
    assert!((trips[0].distance_m - fix(1).position().distance_m(fix(90).position())).abs() < 15.0);
}

#[test]
fn pings_alone_start_an_auto_trip_only_when_moving() {
    let mut det = Detector::new(DetectorConfig::default());
    // Parked: jitter of a few metres for ten minutes starts nothing.
    for s in 0..600 {
        let wobble = ((s % 7) as f64 - 3.0) * 0.00002;
        let p = Ping::at(t(s), 52.0 + wobble, 13.0 - wobble);
        let out = det.handle(DetectorInput::Ping(p), t(s));
        assert!(out.is_empty(), "{s}: {out:?}");
    }
    assert!(!det.is_trip_open());
    let parked = serde_json::to_string(&det).unwrap();
    assert!(
        parked.len() < 2048,
        "idle buffer is bounded: {}",
        parked.len()
    );

    // Then driving off: the trip starts at the first buffered fix.
    let mut out = Vec::new();
    for s in 600..660 {
        let p = Ping::at(t(s), 52.0 + (s - 600) as f64 * 0.0001, 13.0);
        out.extend(det.handle(DetectorInput::Ping(p), t(s)));
    }
    let started = out.iter().find_map(|o| match o {
        DetectorOutput::TripStarted { at, source, .. } => Some((*at, *source)),
        _ => None,
    });
    let (at, source) = started.expect("auto trip started");
    assert_eq!(source, TripSource::Auto);
    assert!(at >= t(300) && at <= t(600), "{at}");
    assert!(matches!(out[0], DetectorOutput::TripStarted { .. }));

    // Silence longer than grace ends it at its last ping.
    let out = det.handle(DetectorInput::Tick { now: t(1000) }, t(1000));
    let trips = trips(&out);
    assert_eq!(trips.len(), 1);
    assert_eq!(trips[0].ended_at, t(659));
    // 59 s of driving (~656 m) plus the jitter between the at most 8 parked
    // fixes kept in the bounded buffer (each leg at most ~16 m).
    let d = trips[0].distance_m;
    assert!((640.0..=656.0 + 7.0 * 16.0).contains(&d), "{d}");
}

#[test]
fn a_lone_outlier_cannot_start_an_auto_trip() {
    let mut det = Detector::new(DetectorConfig::default());
    for s in 0..60 {
        let mut p = Ping::at(t(s), 52.0, 13.0);
        if s == 30 {
            p.lat += 0.05;
        }
        assert!(det.handle(DetectorInput::Ping(p), t(s)).is_empty());
    }
    assert!(!det.is_trip_open());
}

#[test]
fn force_end_flushes_the_held_point_and_ends_now() {
    let mut det = Detector::new(DetectorConfig::default());
    connected(&mut det);
    for s in 1..=10 {
        det.handle(DetectorInput::Ping(fix(s)), t(s));
    }
    // A jump at the very end is held back for a verdict.
    let jump = Ping::at(t(11), 52.05, 13.0);
    assert!(det.handle(DetectorInput::Ping(jump), t(11)).is_empty());
    let out = det.force_end(t(20));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0], DetectorOutput::OutlierDropped { ping: jump });
    let DetectorOutput::TripEnded { summary } = &out[1] else {
        panic!("{out:?}");
    };
    assert_eq!(summary.ended_at, t(20));
    assert_eq!(summary.point_count, 10);
    // Never before the last ping.
    let mut det = Detector::new(DetectorConfig::default());
    connected(&mut det);
    det.handle(DetectorInput::Ping(fix(30)), t(30));
    assert_eq!(trips(&det.force_end(t(10)))[0].ended_at, t(30));
    assert!(det.force_end(t(40)).is_empty());
}

#[test]
fn config_round_trips_and_defaults_are_sane() {
    let cfg = DetectorConfig::default();
    assert_eq!(cfg.grace, Duration::minutes(5));
    assert_eq!(cfg.recovery_after, Duration::hours(3));
    assert_eq!(cfg.future_tolerance, Duration::minutes(10));
    let json = serde_json::to_string(&cfg).unwrap();
    assert!(json.contains("\"grace_ms\":300000"), "{json}");
    assert_eq!(serde_json::from_str::<DetectorConfig>(&json).unwrap(), cfg);
    assert!(
        serde_json::from_str::<DetectorConfig>(&json.replace("300000", "-9223372036854775808"))
            .is_err()
    );
}
