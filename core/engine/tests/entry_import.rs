#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Time-entry imports through the core: one transaction, projects matched or created,
//! re-imports changing nothing (a property over generated files), progress, store refusals
//! naming the row.

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use tacho_core::{Core, CoreConfig, CoreError, EntryFilter, EntryImportOptions};
use tacho_model::clock::ManualClock;
use tacho_model::work::Rounding;

async fn core(dir: &Path) -> Core {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
    ));
    Core::open_with_clock(CoreConfig::new(dir.join("t.db")), clock)
        .await
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A generic CSV from (minutes after a base, length in minutes, project index, text).
fn generic_file(rows: &[(i64, i64, usize, String)]) -> String {
    let names = ["Alpha", "alpha", "BETA", ""];
    let base = Utc.with_ymd_and_hms(2025, 1, 6, 8, 0, 0).unwrap();
    let mut csv = String::from("start,stop,project,description\n");
    for (at, len, project, text) in rows {
        let start = base + TimeDelta::minutes(*at);
        let stop = start + TimeDelta::minutes(*len);
        csv.push_str(&format!(
            "{},{},{},{text}\n",
            start.to_rfc3339(),
            stop.to_rfc3339(),
            names[project % names.len()]
        ));
    }
    csv
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Whatever the file, importing it a second time creates nothing and changes no entry or
    /// project; the first import stores one entry per distinct row.
    #[test]
    fn a_reimport_is_a_no_op(
        rows in prop::collection::vec((0i64..50_000, 1i64..600, 0usize..4, "[a-z]{0,6}"), 1..25)
    ) {
        let csv = generic_file(&rows);
        runtime().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let core = core(dir.path()).await;
            let first = core
                .import_entries(csv.as_bytes(), EntryImportOptions::default(), |_| {})
                .await
                .unwrap();
            prop_assert_eq!(first.rows, rows.len());
            prop_assert_eq!(first.created + first.already_present, rows.len());
            let entries = core.entries(EntryFilter::default()).await.unwrap();
            prop_assert_eq!(entries.len(), first.created);
            let projects = core.projects().await.unwrap();
            // "Alpha" and "alpha" are one project.
            prop_assert!(projects.len() <= 2);

            let second = core
                .import_entries(csv.as_bytes(), EntryImportOptions::default(), |_| {})
                .await
                .unwrap();
            prop_assert_eq!(second.created, 0);
            prop_assert_eq!(second.already_present, rows.len());
            prop_assert!(second.projects_created.is_empty());
            prop_assert_eq!(core.entries(EntryFilter::default()).await.unwrap(), entries);
            prop_assert_eq!(core.projects().await.unwrap(), projects);
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn progress_reaches_the_end_and_an_archived_project_names_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path()).await;
    let rows: Vec<_> = (0..250)
        .map(|i| (i * 30, 20, 0, format!("task{i}")))
        .collect();
    let seen = Mutex::new(Vec::new());
    let summary = core
        .import_entries(
            generic_file(&rows).as_bytes(),
            EntryImportOptions::default(),
            |p| seen.lock().unwrap().push((p.done, p.total)),
        )
        .await
        .unwrap();
    assert_eq!(summary.created, 250);
    assert_eq!(summary.projects_created, ["Alpha"]);
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.first(), Some(&(0, 250)));
    assert_eq!(seen.last(), Some(&(250, 250)));
    assert!(seen.contains(&(100, 250)), "{seen:?}");

    core.add_project("Gamma", None, true, Rounding::None)
        .await
        .unwrap();
    core.archive_project("Gamma", true).await.unwrap();
    let csv = "start,stop,project\n2025-02-03 09:00,2025-02-03 10:00,Fresh\n2025-02-03 10:00,2025-02-03 11:00,gamma\n";
    let e = core
        .import_entries(csv.as_bytes(), EntryImportOptions::default(), |_| {})
        .await
        .unwrap_err();
    let CoreError::Conflict { reason } = &e else {
        panic!("{e:?}");
    };
    assert!(reason.starts_with("generic CSV row 3: "), "{reason}");
    assert!(reason.contains("archived"), "{reason}");
    // The first row's project was not created: one transaction.
    let names: Vec<String> = core
        .projects()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(!names.iter().any(|n| n == "Fresh"), "{names:?}");
}
