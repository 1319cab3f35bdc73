#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Discard, restore, merge and split of trips through the core, on a real SQLite file and
//! a real GPS drive: trackData9 then trackData8, two consecutive enviroCar drives of one car
//! with a 4 min 13 s stop between them (Source: enviroCar contributors, ODbL 1.0; see
//! testdata/gps/NOTICE and SOURCES.md).

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tacho_core::report::ReportFormat;
use tacho_core::{Core, CoreConfig, CoreError, NewCar, SplitAt, TripDetail};
use tacho_model::car::TripEnd;
use tacho_model::clock::ManualClock;
use tacho_model::gps::Ping;
use tacho_model::lineage::TripStatus;
use tacho_model::trip::{TripField, TripSource};
use tacho_store::TripFilter;

fn envirocar(name: &str) -> Vec<Ping> {
    let raw = std::fs::read_to_string(format!(
        "{}/../../testdata/gps/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let c = &f["geometry"]["coordinates"];
            let at = DateTime::parse_from_rfc3339(f["properties"]["time"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc);
            let mut p = Ping::at(at, c[1].as_f64().unwrap(), c[0].as_f64().unwrap());
            p.accuracy_m = f["properties"]["phenomenons"]["GPS Accuracy"]["value"].as_f64();
            p
        })
        .collect()
}

async fn open(dir: &std::path::Path, clock: Arc<ManualClock>) -> Core {
    let mut config = CoreConfig::new(dir.join("tacho.db"));
    config.time_zone = "Europe/Berlin".into();
    Core::open_with_clock(config, clock).await.unwrap()
}

/// Records one drive from its fixes; returns the trip id.
async fn record(core: &Core, clock: &ManualClock, pings: &[Ping]) -> String {
    clock.set(pings[0].at);
    let started = core.connect(TripSource::Carplay, None).await.unwrap();
    for chunk in pings.chunks(50) {
        clock.set(chunk.last().unwrap().at);
        core.ping_batch(chunk.to_vec()).await.unwrap();
    }
    clock.set(pings.last().unwrap().at + Duration::seconds(2));
    core.end_trip().await.unwrap();
    started.started[0].to_string()
}

/// The fixes of a trip as recorded (seq aside).
async fn fixes(core: &Core, key: &str) -> Vec<Ping> {
    core.trip_points(key)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.ping)
        .collect()
}

fn fields(d: &TripDetail) -> Vec<TripField> {
    d.history.iter().map(|e| e.field).collect()
}

async fn counted(core: &Core) -> Vec<String> {
    core.trips(TripFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|t| t.id.to_string())
        .collect()
}

struct Drives {
    _dir: tempfile::TempDir,
    core: Core,
    clock: Arc<ManualClock>,
    a: String,
    b: String,
}

async fn two_drives() -> Drives {
    let dir = tempfile::tempdir().unwrap();
    let first = envirocar("trackData9.json");
    let clock = Arc::new(ManualClock::new(first[0].at));
    let core = open(dir.path(), clock.clone()).await;
    core.add_car(NewCar {
        name: "Skoda".into(),
        plate: "C-EC 9".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let a = record(&core, &clock, &first).await;
    let b = record(&core, &clock, &envirocar("trackData8.json")).await;
    for key in [&a, &b] {
        core.edit_trip(key, TripField::Car, Some("Skoda".into()))
            .await
            .unwrap();
    }
    Drives {
        _dir: dir,
        core,
        clock,
        a,
        b,
    }
}

#[tokio::test]
async fn merge_then_split_at_the_longest_stop_gives_back_the_drives() {
    let Drives { core, a, b, .. } = two_drives().await;
    core.set_trip_odometer(&a, TripEnd::Start, 52_000.0)
        .await
        .unwrap();
    core.set_trip_odometer(&b, TripEnd::End, 52_007.1)
        .await
        .unwrap();
    let (da, db) = (core.trip(&a).await.unwrap(), core.trip(&b).await.unwrap());
    let (pa, pb) = (fixes(&core, &a).await, fixes(&core, &b).await);
    assert!(da.trip.distance_m > 4_000.0 && db.trip.distance_m > 1_000.0);
    assert_eq!((pa.len(), pb.len()), (177, 74), "every fix recorded");

    // Merged in the "wrong" order: the order given does not matter.
    let m = core.merge_trips(&b, &a).await.unwrap();
    let key = m.trip.id.to_string();
    assert_eq!(m.trip.distance_m, da.trip.distance_m + db.trip.distance_m);
    assert_eq!(m.trip.started_at, da.trip.started_at);
    assert_eq!(m.trip.ended_at, db.trip.ended_at);
    assert_eq!(m.trip.car_id, da.trip.car_id);
    assert_eq!(m.point_count as usize, pa.len() + pb.len());
    assert_eq!(m.odometer_start.as_ref().unwrap().odometer_m, 52_000_000);
    assert_eq!(m.odometer_end.as_ref().unwrap().odometer_m, 52_007_100);
    assert_eq!(m.lineage.merged_from, Some(vec![da.trip.id, db.trip.id]));
    let merged_fixes = fixes(&core, &key).await;
    assert_eq!(merged_fixes, [pa.clone(), pb.clone()].concat());
    assert_eq!(counted(&core).await, vec![key.clone()]);
    for original in [&a, &b] {
        let d = core.trip(original).await.unwrap();
        assert_eq!(d.status, TripStatus::Replaced);
        assert_eq!(d.lineage.replaced_by, Some(vec![m.trip.id]));
        let merges = fields(&d)
            .into_iter()
            .filter(|f| *f == TripField::MergedInto)
            .count();
        assert_eq!(merges, 1, "the merge is in the original's history once");
    }
    // An original no longer counts on its own: it can't be edited or merged again.
    let err = core
        .edit_trip(&a, TripField::Note, Some("x".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Conflict { .. }), "{err:?}");

    let (p1, p2) = core.split_trip(&key, SplitAt::LongestStop).await.unwrap();
    for (part, original, pts) in [(&p1, &da, &pa), (&p2, &db, &pb)] {
        let want = original.trip.distance_m;
        let rel = (part.trip.distance_m - want).abs() / want;
        assert!(rel < 0.001, "{} vs {want}", part.trip.distance_m);
        assert_eq!(&fixes(&core, &part.trip.id.to_string()).await, pts);
        assert_eq!(part.point_count as usize, pts.len());
        assert_eq!(part.lineage.split_from, Some(m.trip.id));
        assert_eq!(fields(part), vec![TripField::SplitFrom]);
    }
    assert_eq!(p1.odometer_start.as_ref().unwrap().odometer_m, 52_000_000);
    assert_eq!(p2.odometer_end.as_ref().unwrap().odometer_m, 52_007_100);
    let m = core.trip(&key).await.unwrap();
    assert_eq!(m.status, TripStatus::Replaced);
    assert_eq!(
        fields(&m),
        vec![TripField::MergedFrom, TripField::SplitInto],
        "the merge and the split, once each, in order"
    );
    let mut now = counted(&core).await;
    now.sort();
    let mut parts = vec![p1.trip.id.to_string(), p2.trip.id.to_string()];
    parts.sort();
    assert_eq!(now, parts);
    // Everything is still listed with `--all`.
    let all = core
        .trips(TripFilter {
            include_discarded: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
}

#[tokio::test]
async fn split_at_a_time_and_bad_times() {
    let Drives { core, a, .. } = two_drives().await;
    let d = core.trip(&a).await.unwrap();
    let pts = fixes(&core, &a).await;
    let cut = pts[100].at;
    let (p1, p2) = core.split_trip(&a, SplitAt::Time(cut)).await.unwrap();
    assert_eq!(fixes(&core, &p1.trip.id.to_string()).await, pts[..100]);
    assert_eq!(fixes(&core, &p2.trip.id.to_string()).await, pts[100..]);
    let sum = p1.trip.distance_m + p2.trip.distance_m;
    assert!((sum - d.trip.distance_m).abs() < 1e-6, "{sum}");
    assert!(p1.trip.distance_m > 0.0 && p2.trip.distance_m > 0.0);
    assert_eq!(p2.trip.started_at, cut);
    // Outside the trip: bad input, nothing changed. A replaced trip: conflict.
    let before = core.outbox_total().await.unwrap();
    let outside = core
        .split_trip(
            &p1.trip.id.to_string(),
            SplitAt::Time(cut + Duration::hours(1)),
        )
        .await
        .unwrap_err();
    assert!(matches!(outside, CoreError::BadInput { .. }), "{outside:?}");
    let again = core
        .split_trip(&a, SplitAt::Time(pts[50].at))
        .await
        .unwrap_err();
    assert!(matches!(again, CoreError::Conflict { .. }), "{again:?}");
    // A steady drive has no stop of a minute.
    let no_stop = core
        .split_trip(&p2.trip.id.to_string(), SplitAt::LongestStop)
        .await;
    if let Err(e) = &no_stop {
        assert!(matches!(e, CoreError::Conflict { .. }), "{e:?}");
    }
    assert!(core.outbox_total().await.unwrap() >= before);
}

#[tokio::test]
async fn discard_and_restore_stay_in_the_history_and_leave_the_mileage_log() {
    let Drives { core, a, b, .. } = two_drives().await;
    let da = core.trip(&a).await.unwrap();
    let db = core.trip(&b).await.unwrap();
    let total = |log: &serde_json::Value| log["totals"]["total_m"].as_i64().unwrap();
    let report = || async {
        let raw = core
            .mileage_report("Skoda", "2020-03", ReportFormat::Json)
            .await
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&raw).unwrap()
    };
    let both = total(&report().await);
    let expect_both = (da.trip.distance_m.round() + db.trip.distance_m.round()) as i64;
    assert!((both - expect_both).abs() <= 2, "{both} vs {expect_both}");

    core.discard_trip(&a).await.unwrap();
    let d = core.trip(&a).await.unwrap();
    assert_eq!(d.status, TripStatus::Discarded);
    assert_eq!(fields(&d), vec![TripField::Discarded]);
    assert_eq!(counted(&core).await, vec![b.clone()]);
    let only_b = total(&report().await);
    assert!(
        (only_b - db.trip.distance_m.round() as i64).abs() <= 1,
        "{only_b}"
    );
    // A discarded trip can't be merged, and discarding again changes nothing.
    assert!(matches!(
        core.merge_trips(&a, &b).await,
        Err(CoreError::Conflict { .. })
    ));
    core.discard_trip(&a).await.unwrap();
    assert_eq!(fields(&core.trip(&a).await.unwrap()).len(), 1);

    let (restored, changed) = core.restore_trip(&a).await.unwrap();
    assert!(changed);
    assert_eq!(restored.status, TripStatus::Current);
    assert_eq!(
        fields(&restored),
        vec![TripField::Discarded, TripField::Discarded]
    );
    assert_eq!(restored.history[1].old_value.as_deref(), Some("discarded"));
    assert_eq!(total(&report().await), both);

    // Merged: the originals leave the log, the merged trip counts once.
    let m = core.merge_trips(&a, &b).await.unwrap();
    let log = report().await;
    assert_eq!(total(&log), both, "the same kilometres, counted once");
    assert_eq!(log["totals"]["trips"], 1, "{}", log["totals"]);
    let _ = m;
}

#[tokio::test]
async fn a_locked_month_refuses_every_trip_change_and_changes_nothing() {
    let Drives {
        core, clock, a, b, ..
    } = two_drives().await;
    let (p1, _) = core
        .split_trip(&b, SplitAt::Time(fixes(&core, &b).await[30].at))
        .await
        .unwrap();
    core.discard_trip(&p1.trip.id.to_string()).await.unwrap();
    clock.set(Utc.with_ymd_and_hms(2020, 4, 2, 9, 0, 0).unwrap());
    assert!(core.lock_period("2020-03").await.unwrap());
    let snapshot = || async {
        let trips = core
            .trips(TripFilter {
                include_discarded: true,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut details = Vec::new();
        for t in &trips {
            let d = core.trip(&t.id.to_string()).await.unwrap();
            details.push(format!("{:?}", (d.trip, d.history, d.status, d.lineage)));
        }
        (details, core.outbox_total().await.unwrap())
    };
    let before = snapshot().await;
    let p1 = p1.trip.id.to_string();
    let results = [
        core.discard_trip(&a).await.map(drop),
        core.restore_trip(&p1).await.map(drop),
        core.merge_trips(&a, &p1).await.map(drop),
        core.split_trip(&a, SplitAt::LongestStop).await.map(drop),
        core.split_trip(&a, SplitAt::Time(fixes(&core, &a).await[10].at))
            .await
            .map(drop),
    ];
    for r in results {
        assert!(
            matches!(&r, Err(CoreError::LockedPeriod { month }) if month == "2020-03"),
            "{r:?}"
        );
    }
    assert_eq!(snapshot().await, before, "nothing changed");
}
