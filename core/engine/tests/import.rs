#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Imports through the core: every fixture format into trips, all-or-nothing
//! on malformed files, idempotent on re-import.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use tacho_core::{Core, CoreConfig, CoreError, ImportOptions, NewCar};
use tacho_model::clock::ManualClock;
use tacho_store::TripFilter;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

async fn core(dir: &Path) -> Core {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
    ));
    Core::open_with_clock(CoreConfig::new(dir.join("t.db")), clock)
        .await
        .unwrap()
}

#[tokio::test]
async fn enviro_car_drives_import_as_trips_with_reference_distances_and_progress() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path()).await;
    core.add_car(NewCar {
        name: "Caliber".into(),
        plate: "HB-DC 2007".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let seen = Mutex::new(Vec::new());
    let summary = core
        .import_file(
            &data("gps/trackData2.json"),
            ImportOptions {
                car: Some("Caliber".into()),
                ..Default::default()
            },
            |p| seen.lock().unwrap().push(p),
        )
        .await
        .unwrap();
    assert_eq!(summary.trips.len(), 1);
    assert_eq!(summary.points_in_file, 334);
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.first().unwrap().done, 0);
    assert_eq!(seen.last().unwrap().done, 334);
    let trip = core.trip(&summary.trips[0].to_string()).await.unwrap().trip;
    assert!(
        (trip.distance_m - 37_594.3).abs() / 37_594.3 < 0.01,
        "{}",
        trip.distance_m
    );
    assert_eq!(
        trip.started_at,
        Utc.with_ymd_and_hms(2020, 3, 5, 13, 22, 6).unwrap()
    );
    assert!(trip.car_id.is_some());

    // Importing the same file again changes nothing.
    let again = core
        .import_file(
            &data("gps/trackData2.json"),
            ImportOptions::default(),
            |_| {},
        )
        .await
        .unwrap();
    assert!(again.trips.is_empty());
    assert_eq!(again.segments_already_imported, 1);
    assert_eq!(core.trips(TripFilter::default()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn every_sample_format_imports() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path()).await;
    let mut total = 0;
    for entry in std::fs::read_dir(data("import")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let valid = !(name.contains("bad")
            || name.contains("without")
            || name.contains("missing")
            || name.contains("malformed")
            || name.ends_with(".md"));
        if !valid {
            continue;
        }
        let r = core
            .import_file(
                &path,
                ImportOptions {
                    allow_overlap: true,
                    ..Default::default()
                },
                |_| {},
            )
            .await;
        let summary = r.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!summary.trips.is_empty(), "{name}");
        total += 1;
    }
    assert!(total >= 4, "gpx, nmea, geojson and csv samples");
}

#[tokio::test]
async fn a_malformed_file_imports_nothing_and_names_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path()).await;
    let before = core.outbox_len().await.unwrap();
    // Valid points first, then a broken one: nothing of it may be stored.
    let csv = "lat,lon,time\n48.1,11.5,2020-01-01T10:00:00Z\n48.2,11.6,2020-01-01T10:05:00Z\n48.3,north,2020-01-01T10:06:00Z\n";
    let err = core
        .import_str(Some("csv"), csv, ImportOptions::default(), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Import(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("line 4"), "{msg}");
    assert!(msg.contains("nothing was imported"), "{msg}");
    assert!(core.trips(TripFilter::default()).await.unwrap().is_empty());
    assert_eq!(core.outbox_len().await.unwrap(), before);

    let gpx = std::fs::read_to_string(data("import/gpx_trkpt_without_time.gpx")).unwrap();
    let err = core
        .import_str(Some("gpx"), &gpx, ImportOptions::default(), |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("trkpt"), "{err}");
}

#[tokio::test]
async fn an_import_into_a_locked_month_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path()).await;
    core.lock_period("2020-03").await.unwrap();
    let err = core
        .import_file(
            &data("gps/trackData9.json"),
            ImportOptions::default(),
            |_| {},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoreError::LockedPeriod { ref month } if month == "2020-03"),
        "{err:?}"
    );
    assert!(core.trips(TripFilter::default()).await.unwrap().is_empty());
}
