#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Editing, archiving and deleting through the core (issue 12): names resolve like
//! everywhere else, errors are typed (`InUse` with its count, `LockedPeriod`, `Conflict`),
//! archived projects and retired cars take no new time or trips, and the timesheet carries
//! every entry's edit history.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tacho_core::report::ReportFormat;
use tacho_core::{
    CarChange, Core, CoreConfig, CoreError, EntryEdit, ImportOptions, NewCar, NewEntry,
    ProjectChange,
};
use tacho_model::clock::ManualClock;
use tacho_model::trip::TripSource;
use tacho_model::work::{EntryField, Rounding};

fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap()
}

async fn core(dir: &Path) -> (Core, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 4, 10, 12, 0, 0).unwrap(),
    ));
    let core = Core::open_with_clock(CoreConfig::new(dir.join("t.db")), clock.clone())
        .await
        .unwrap();
    (core, clock)
}

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

async fn entry(core: &Core, project: Option<&str>, start: DateTime<Utc>) -> String {
    core.add_entry(NewEntry {
        project: project.map(Into::into),
        description: "typo".into(),
        start: Some(start),
        stop: Some(start + Duration::hours(1)),
        ..Default::default()
    })
    .await
    .unwrap()
    .id
    .to_string()
}

#[tokio::test]
async fn an_entry_is_corrected_by_name_and_its_history_reaches_the_timesheet() {
    let dir = tempfile::tempdir().unwrap();
    let (core, clock) = core(dir.path()).await;
    core.add_project("Alpha", None, true, Rounding::None)
        .await
        .unwrap();
    core.add_project("Beta", Some("ACME".into()), false, Rounding::Up(15))
        .await
        .unwrap();
    let id = entry(&core, Some("Alpha"), at(10, 9, 0)).await;
    let tail = &id[id.len() - 8..];
    let d = core
        .edit_entry(
            tail,
            EntryEdit {
                project: Some(Some("beta".into())),
                description: Some("fixed".into()),
                stop: Some(at(10, 10, 30)),
                tags: Some(vec!["urgent".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(d.project.as_ref().unwrap().name, "Beta");
    assert_eq!(d.entry.description, "fixed");
    let fields: Vec<EntryField> = d.history.iter().map(|h| h.field).collect();
    assert_eq!(
        fields,
        [
            EntryField::Description,
            EntryField::Project,
            EntryField::Stop,
            EntryField::Tags
        ]
    );
    assert!(d.history.iter().all(|h| h.device == core.device().unwrap()));
    clock.set(Utc.with_ymd_and_hms(2026, 4, 10, 12, 5, 0).unwrap());
    let d = core
        .edit_entry(
            &id,
            EntryEdit {
                description: Some("fixed twice".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(d.history.len(), 5);
    assert_eq!(d.history[4].old_value.as_deref(), Some("fixed"));

    // Longer than a day: refused, nothing written.
    let long = core
        .edit_entry(
            &id,
            EntryEdit {
                stop: Some(at(12, 9, 0)),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(long, Err(CoreError::BadInput { .. })), "{long:?}");
    assert_eq!(core.entry(&id).await.unwrap().history.len(), 5);

    let json: serde_json::Value = serde_json::from_slice(
        &core
            .hours_report("2026-03", ReportFormat::Json)
            .await
            .unwrap(),
    )
    .unwrap();
    let row = &json["rows"][0];
    assert_eq!(row["description"], "fixed twice");
    assert_eq!(row["history"].as_array().unwrap().len(), 5);
    assert_eq!(row["history"][4]["new_value"], "fixed twice");
    let csv = String::from_utf8(
        core.hours_report("2026-03", ReportFormat::Csv)
            .await
            .unwrap(),
    )
    .unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.as_bytes());
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let header = rows.iter().find(|r| r[0] == "header").unwrap();
    let edits_col = header.iter().position(|h| h == "edits").unwrap();
    let entry_row = rows.iter().find(|r| r[0] == "entry").unwrap();
    assert_eq!(entry_row[edits_col], "5");
    let changes: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == "change").collect();
    assert_eq!(changes.len(), 5);
    assert_eq!(changes[4][3], "description");
    assert_eq!(changes[4][5], "fixed twice");
    let xlsx = core
        .hours_report("2026-03", ReportFormat::Xlsx)
        .await
        .unwrap();
    assert!(xlsx.starts_with(b"PK"));
}

#[tokio::test]
async fn a_locked_month_refuses_edit_delete_and_restore_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _) = core(dir.path()).await;
    let kept = entry(&core, None, at(10, 9, 0)).await;
    let gone = entry(&core, None, at(11, 9, 0)).await;
    assert!(core.delete_entry(&gone).await.unwrap());
    core.lock_period("2026-03").await.unwrap();
    let before = core.outbox_total().await.unwrap();
    let results = [
        core.edit_entry(
            &kept,
            EntryEdit {
                billable: Some(true),
                ..Default::default()
            },
        )
        .await
        .map(|_| ()),
        core.delete_entry(&kept).await.map(|_| ()),
        core.restore_entry(&gone).await.map(|_| ()),
    ];
    for r in results {
        assert!(
            matches!(&r, Err(CoreError::LockedPeriod { month }) if month == "2026-03"),
            "{r:?}"
        );
    }
    assert_eq!(core.outbox_total().await.unwrap(), before);
    let kept = core.entry(&kept).await.unwrap();
    assert!(!kept.deleted && !kept.entry.billable && kept.history.is_empty());
    assert!(core.entry(&gone).await.unwrap().deleted);
}

#[tokio::test]
async fn a_used_project_is_archived_not_deleted_and_takes_no_new_time() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _) = core(dir.path()).await;
    core.add_project("Alpha", None, true, Rounding::None)
        .await
        .unwrap();
    for h in [9, 11, 14] {
        entry(&core, Some("Alpha"), at(10, h, 0)).await;
    }
    let refused = core.delete_project("alpha").await;
    match &refused {
        Err(CoreError::InUse {
            kind,
            name,
            count,
            reason,
        }) => {
            assert_eq!(
                (kind.as_str(), name.as_str(), *count),
                ("project", "Alpha", 3)
            );
            assert!(reason.contains("3 time entries") && reason.contains("archive"));
        }
        other => panic!("{other:?}"),
    }
    let p = core.archive_project("Alpha", true).await.unwrap();
    assert!(p.archived);
    assert!(core.project_list(false).await.unwrap().is_empty());
    assert_eq!(core.project_list(true).await.unwrap().len(), 1);
    let timer = core.start_timer(Some("Alpha"), "more", vec![]).await;
    assert!(
        matches!(timer, Err(CoreError::Conflict { .. })),
        "{timer:?}"
    );
    let renamed = core
        .edit_project(
            "Alpha",
            ProjectChange {
                name: Some("Alpha (old)".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(renamed.archived);
    core.archive_project("Alpha (old)", false).await.unwrap();
    core.start_timer(Some("Alpha (old)"), "more", vec![])
        .await
        .unwrap();
    // An unused project goes, and comes back.
    core.add_project("Scratch", None, false, Rounding::None)
        .await
        .unwrap();
    assert!(core.delete_project("Scratch").await.unwrap());
    assert!(matches!(
        core.find_project("Scratch").await,
        Err(CoreError::NotFound { .. })
    ));
    core.restore_project("Scratch").await.unwrap();
    core.find_project("Scratch").await.unwrap();
}

#[tokio::test]
async fn a_retired_car_records_no_new_trips_and_a_used_one_is_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _) = core(dir.path()).await;
    core.add_car(NewCar {
        name: "Caliber".into(),
        plate: "HB-DC 2007".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let summary = core
        .import_file(
            &data("gps/trackData2.json"),
            ImportOptions {
                car: Some("Caliber".into()),
                ..Default::default()
            },
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(summary.trips.len(), 1);
    let refused = core.delete_car("HB DC 2007").await;
    assert!(
        matches!(&refused, Err(CoreError::InUse { count: 1, reason, .. }) if reason.contains("1 trip")),
        "{refused:?}"
    );
    let car = core.retire_car("Caliber", true).await.unwrap();
    assert!(car.retired);
    assert!(core.car_list(false).await.unwrap().is_empty());
    assert_eq!(core.car_list(true).await.unwrap().len(), 1);
    let import = core
        .import_file(
            &data("gps/trackData9.json"),
            ImportOptions {
                car: Some("Caliber".into()),
                ..Default::default()
            },
            |_| {},
        )
        .await;
    assert!(
        matches!(&import, Err(CoreError::Conflict { reason }) if reason.contains("retired")),
        "{import:?}"
    );
    // The only car, but retired: a new live trip is not put in it.
    core.connect(TripSource::Manual, None).await.unwrap();
    let (trip, _) = core.active_trip().await.unwrap().unwrap();
    assert_eq!(trip.car_id, None);
    core.end_trip().await.unwrap();
    // Edits still work on a retired car, and taking it back into use works.
    let edited = core
        .edit_car(
            "Caliber",
            CarChange {
                make: Some(Some("Dodge".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.make.as_deref(), Some("Dodge"));
    assert!(!core.retire_car("Caliber", false).await.unwrap().retired);
}
