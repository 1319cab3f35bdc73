//! Property test: random input sequences (garbage floats, random and extreme
//! times, every input kind, force_end) never panic, keep the output contract,
//! and survive a serde_json snapshot/restore after every step unchanged.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use tacho_model::detector::{Detector, DetectorConfig, DetectorInput, DetectorOutput};
use tacho_model::gps::Ping;
use tacho_model::gps::filter::{FilterConfig, path_stats};
use tacho_model::trip::TripSource;

const BASE: i64 = 1_700_000_000;

#[derive(Debug, Clone)]
enum Step {
    Input(DetectorInput, DateTime<Utc>),
    ForceEnd(DateTime<Utc>),
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    let secs = prop_oneof![
        8 => 0i64..4_000,
        1 => -100_000i64..100_000,
        1 => -8_000_000_000_000i64..8_000_000_000_000,
    ];
    secs.prop_map(|s| {
        DateTime::from_timestamp(BASE.saturating_add(s), 0)
            .or_else(|| DateTime::from_timestamp(s, 0))
            .unwrap_or_default()
    })
}

fn float(near: f64, spread: f64) -> impl Strategy<Value = f64> {
    prop_oneof![
        12 => (near - spread)..(near + spread),
        1 => any::<f64>(),
        1 => prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-1.0),
            Just(181.0),
            Just(-91.0),
            Just(0.0)
        ],
    ]
}

fn opt_float(near: f64, spread: f64) -> impl Strategy<Value = Option<f64>> {
    prop_oneof![2 => Just(None), 3 => float(near, spread).prop_map(Some)]
}

fn ping() -> impl Strategy<Value = Ping> {
    (
        time(),
        float(52.0, 0.05),
        float(13.0, 0.05),
        opt_float(20.0, 150.0),
        opt_float(10.0, 40.0),
        opt_float(180.0, 180.0),
        opt_float(50.0, 100.0),
    )
        .prop_map(|(at, lat, lon, acc, spd, hdg, alt)| Ping {
            at,
            lat,
            lon,
            accuracy_m: acc,
            speed_mps: spd,
            heading_deg: hdg,
            altitude_m: alt,
        })
}

fn source() -> impl Strategy<Value = TripSource> {
    prop_oneof![
        Just(TripSource::Carplay),
        Just(TripSource::Bluetooth),
        Just(TripSource::Manual),
        Just(TripSource::Hook),
        Just(TripSource::CarApi),
        Just(TripSource::Import),
        Just(TripSource::Auto),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let input = prop_oneof![
        2 => (time(), source(), proptest::option::of("[a-z]{0,6}")).prop_map(|(at, source, car_hint)| {
            DetectorInput::Connect { at, source, car_hint }
        }),
        12 => ping().prop_map(DetectorInput::Ping),
        2 => time().prop_map(|at| DetectorInput::Disconnect { at }),
        2 => time().prop_map(|now| DetectorInput::Tick { now }),
    ];
    prop_oneof![
        20 => (input, time()).prop_map(|(i, now)| Step::Input(i, now)),
        1 => time().prop_map(Step::ForceEnd),
    ]
}

/// A drive-like sequence too: mostly ordered pings moving along, so trips
/// actually start, run and end often.
fn drive_steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        (0i64..40, -0.002f64..0.004, -0.002f64..0.004, 0u8..20),
        0..60,
    )
    .prop_map(|legs| {
        let (mut t, mut lat, mut lon) = (BASE, 52.0, 13.0);
        let mut steps = Vec::new();
        for (dt, dlat, dlon, kind) in legs {
            t += dt * 10;
            lat += dlat;
            lon += dlon;
            let at = DateTime::from_timestamp(t, 0).unwrap_or_default();
            let input = match kind {
                0 => DetectorInput::Connect {
                    at,
                    source: TripSource::Bluetooth,
                    car_hint: None,
                },
                1 => DetectorInput::Disconnect { at },
                2 => DetectorInput::Tick {
                    now: at + Duration::minutes(10),
                },
                3 => {
                    steps.push(Step::ForceEnd(at));
                    continue;
                }
                _ => DetectorInput::Ping(Ping::at(at, lat, lon)),
            };
            steps.push(Step::Input(input, at));
        }
        steps
    })
}

fn config() -> impl Strategy<Value = DetectorConfig> {
    prop_oneof![
        Just(DetectorConfig::default()),
        Just(DetectorConfig {
            grace: Duration::seconds(30),
            recovery_after: Duration::seconds(200),
            future_tolerance: Duration::seconds(60),
            auto_start_distance_m: 50.0,
            filter: FilterConfig::default(),
        }),
    ]
}

/// What the outputs so far say about the trip, checked against each new one.
#[derive(Default)]
struct Contract {
    open: Option<(DateTime<Utc>, u32, Option<DateTime<Utc>>)>,
}

impl Contract {
    fn check(&mut self, out: &[DetectorOutput]) -> Result<(), TestCaseError> {
        for o in out {
            match o {
                DetectorOutput::TripStarted { at, .. } => {
                    prop_assert!(self.open.is_none(), "started while open: {out:?}");
                    self.open = Some((*at, 0, None));
                }
                DetectorOutput::TripResumed { .. } => {
                    prop_assert!(self.open.is_some(), "resumed while closed: {out:?}");
                }
                DetectorOutput::Point { ping, .. } | DetectorOutput::OutlierDropped { ping } => {
                    let Some((start, points, last)) = self.open.as_mut() else {
                        return Err(TestCaseError::fail(format!("point with no trip: {out:?}")));
                    };
                    prop_assert!(ping.at >= *start, "point before start: {out:?}");
                    prop_assert!(
                        last.is_none_or(|l| ping.at > l),
                        "points out of order: {out:?}"
                    );
                    prop_assert!(ping.lat.is_finite() && ping.lon.is_finite());
                    *last = Some(ping.at);
                    if matches!(o, DetectorOutput::Point { .. }) {
                        *points += 1;
                    }
                }
                DetectorOutput::TripEnded { summary } => {
                    let Some((start, points, last)) = self.open.take() else {
                        return Err(TestCaseError::fail(format!("ended with no trip: {out:?}")));
                    };
                    prop_assert_eq!(summary.started_at, start);
                    prop_assert!(summary.ended_at >= summary.started_at);
                    prop_assert!(
                        last.is_none_or(|l| l <= summary.ended_at),
                        "point after end: {out:?}"
                    );
                    prop_assert!(summary.distance_m.is_finite() && summary.distance_m >= 0.0);
                    prop_assert_eq!(summary.point_count, points);
                }
                DetectorOutput::PingRejected { .. } | DetectorOutput::PingDropped { .. } => {}
            }
        }
        Ok(())
    }
}

fn run_steps(config: DetectorConfig, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut det = Detector::new(config);
    let mut contract = Contract::default();
    for step in steps {
        let out = match step {
            Step::Input(input, now) => det.handle(input, now),
            Step::ForceEnd(at) => det.force_end(at),
        };
        contract.check(&out)?;
        prop_assert_eq!(det.is_trip_open(), contract.open.is_some());
        if let Some(d) = det.open_trip_distance_m() {
            prop_assert!(d.is_finite() && d >= 0.0);
        }
        prop_assert_eq!(det.open_trip_started_at(), contract.open.map(|o| o.0));
        // Snapshot and carry on from the restored copy.
        let json = serde_json::to_string(&det).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: Detector =
            serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
        prop_assert_eq!(&back, &det, "{}", json);
        det = back;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn random_inputs_keep_the_contract(config in config(), steps in proptest::collection::vec(step(), 0..40)) {
        run_steps(config, steps)?;
    }

    #[test]
    fn drive_like_inputs_keep_the_contract(config in config(), steps in drive_steps()) {
        run_steps(config, steps)?;
    }

    #[test]
    fn path_stats_is_finite_on_garbage(pings in proptest::collection::vec(ping(), 0..60)) {
        let s = path_stats(&pings, FilterConfig::default());
        prop_assert!(s.distance_m.is_finite() && s.distance_m >= 0.0);
        prop_assert_eq!(s.counted + s.poor_accuracy + s.outliers + s.skipped, pings.len());
    }
}
