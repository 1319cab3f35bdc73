#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `tacho entry import` and the track importers' error standard, end to end on the binary with
//! a temporary database: import then list, re-import is a no-op, a bad row stores nothing,
//! and files cut short or not in UTF-8 are named by line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Tacho {
    db: PathBuf,
    dir: tempfile::TempDir,
}

impl Tacho {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            db: dir.path().join("tacho.db"),
            dir,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tacho"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("TACHO_DB")
            .env_remove("TACHO_TZ")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tacho {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }

    fn entries(&self) -> Vec<serde_json::Value> {
        self.json(&["entry", "list"]).as_array().unwrap().clone()
    }
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/entries")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn import_then_list_and_a_reimport_changes_nothing() {
    let t = Tacho::new();
    t.ok(&["project", "add", "WEBSITE", "--billable"]);
    let out = t.ok(&[
        "entry",
        "import",
        &fixture("toggl.csv"),
        "--timezone",
        "Europe/Berlin",
    ]);
    assert!(
        out.contains("as Toggl export (detected from the header)"),
        "{out}"
    );
    assert!(out.contains("wall times in Europe/Berlin"), "{out}");
    assert!(
        out.contains("created 3, already present 0, projects created 1 (Internal)"),
        "{out}"
    );

    let entries = t.entries();
    assert_eq!(entries.len(), 3);
    let first = entries
        .iter()
        .find(|e| e["description"] == "Header, footer")
        .unwrap();
    assert_eq!(first["start"], "2024-03-05T08:00:00Z");
    assert_eq!(first["stop"], "2024-03-05T09:30:00Z");
    assert_eq!(first["tags"], serde_json::json!(["design", "web"]));
    // "Website" and "website" both matched the existing project WEBSITE.
    let projects = t.json(&["project", "list"]);
    let names: Vec<&str> = projects
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Internal", "WEBSITE"]);
    // The row without a billable flag took the project's (billable) default.
    let review = entries
        .iter()
        .find(|e| e["description"] == "Review")
        .unwrap();
    assert_eq!(review["billable"], true);

    let again = t.ok(&[
        "entry",
        "import",
        &fixture("toggl.csv"),
        "--timezone",
        "Europe/Berlin",
    ]);
    assert!(
        again.contains("created 0, already present 3, projects created 0"),
        "{again}"
    );
    assert_eq!(t.entries().len(), 3);

    // A deleted imported entry stays deleted on re-import.
    let id = first["id"].as_str().unwrap().to_owned();
    t.ok(&["entry", "delete", &id]);
    let summary = t.json(&[
        "entry",
        "import",
        &fixture("toggl.csv"),
        "--timezone",
        "Europe/Berlin",
    ]);
    assert_eq!(summary["created"], 0);
    assert_eq!(summary["already_present"], 3);
    assert_eq!(summary["format"], "toggl");
    assert_eq!(t.entries().len(), 2);
}

#[test]
fn every_format_imports_and_a_dry_run_stores_nothing() {
    let t = Tacho::new();
    let dry = t.json(&["entry", "import", &fixture("kimai.csv"), "--dry-run"]);
    assert_eq!(
        (dry["created"].as_u64(), dry["dry_run"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(dry["time_zone"], "UTC");
    assert!(t.entries().is_empty());
    assert_eq!(t.json(&["project", "list"]).as_array().unwrap().len(), 0);

    for (file, format, rows) in [
        ("kimai.csv", "kimai", 2),
        ("clockify.csv", "clockify", 2),
        ("generic.csv", "generic", 2),
    ] {
        let s = t.json(&["entry", "import", &fixture(file)]);
        assert_eq!(s["format"], format, "{file}");
        assert_eq!(s["created"], rows, "{file}");
    }
    assert_eq!(t.entries().len(), 6);
    // --format overrides detection (and is named in the text summary without "detected").
    let out = t.ok(&[
        "entry",
        "import",
        &fixture("generic.csv"),
        "--format",
        "generic",
    ]);
    assert!(out.contains("as generic CSV, wall times"), "{out}");
    assert!(out.contains("created 0, already present 2"), "{out}");
}

#[test]
fn a_bad_row_exits_non_zero_and_stores_nothing() {
    let t = Tacho::new();
    let file = t.file(
        "bad.csv",
        b"start,stop,project,description\n\
          2024-03-05 09:00,2024-03-05 10:00,Alpha,fine\n\
          2024-03-05 11:00,2024-03-05 12:00,Beta,fine too\n\
          2024-03-05 13:00,2024-03-32 14:00,Gamma,broken\n",
    );
    let out = t.run(&["entry", "import", &file]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("generic CSV row 4, column \"stop\""), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(t.entries().is_empty());
    assert_eq!(t.json(&["project", "list"]).as_array().unwrap().len(), 0);

    // A row the store refuses (a locked month) also rolls back the rows before it.
    t.ok(&["period", "lock", "2024-04"]);
    let file = t.file(
        "locked.csv",
        b"start,stop,project\n2024-03-05 09:00,2024-03-05 10:00,Alpha\n2024-04-02 09:00,2024-04-02 10:00,Alpha\n",
    );
    let out = t.run(&["entry", "import", &file]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("row 3") && err.contains("2024-04"), "{err}");
    assert!(t.entries().is_empty());
    assert_eq!(t.json(&["project", "list"]).as_array().unwrap().len(), 0);

    // An unknown format name and an unknown zone are usage errors, not crashes.
    let out = t.run(&[
        "entry",
        "import",
        &fixture("toggl.csv"),
        "--format",
        "harvest",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("toggl, kimai, clockify, generic"));
    let out = t.run(&[
        "entry",
        "import",
        &fixture("toggl.csv"),
        "--timezone",
        "Mars/Olympus",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown time zone"));
}

#[test]
fn non_utf8_files_are_refused_with_line_and_byte_offset() {
    let t = Tacho::new();
    let mut bytes = b"start,stop,description\n2024-03-05 09:00,2024-03-05 10:00,caf".to_vec();
    bytes.extend_from_slice(b"\xe9\n");
    let file = t.file("latin1.csv", &bytes);
    let out = t.run(&["entry", "import", &file]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2, byte offset 60"), "{err}");
    assert!(t.entries().is_empty());

    let mut gpx = b"<?xml version=\"1.0\"?>\n<gpx><trk><name>Caf".to_vec();
    gpx.extend_from_slice(b"\xe9</name></trk></gpx>\n");
    let file = t.file("latin1.gpx", &gpx);
    let out = t.run(&["import", &file]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("GPX line 2, byte offset 41"), "{err}");
    assert!(err.contains("0xE9"), "{err}");
}

const NMEA: &str = "$GPRMC,120000.00,A,5304.5000,N,00848.4200,E,10.0,90.0,010124,,,A*56\n\
                    $GPRMC,120030.00,A,5304.6000,N,00848.5200,E,10.0,90.0,010124,,,A*57\n\
                    $GPRMC,120100.00,A,5304.7000,N,00848.6200,E,10.0,90.0,010124,,,A*57\n";

#[test]
fn an_nmea_log_cut_short_imports_the_rest_and_says_which_line_it_skipped() {
    for tail in [
        "$GPG",
        "$GPRMC,120130.00,A,5304.8000,N,00848.7200,E,10.0,90.0,010124,,,A",
    ] {
        let t = Tacho::new();
        let file = t.file("cut.nmea", format!("{NMEA}{tail}").as_bytes());
        let out = t.run(&["import", &file]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{tail}: {err}");
        assert!(
            err.contains("warning: NMEA line 4: skipped the last line"),
            "{tail}: {err}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("from 3 points"), "{stdout}");
        // Under --json the warning is part of the summary.
        let t = Tacho::new();
        let file = t.file("cut.nmea", format!("{NMEA}{tail}").as_bytes());
        let summary = t.json(&["import", &file]);
        let warnings = summary["warnings"].as_array().unwrap();
        assert_eq!(warnings.len(), 1, "{summary}");
        assert!(
            warnings[0].as_str().unwrap().starts_with("NMEA line 4: "),
            "{summary}"
        );
    }
}
