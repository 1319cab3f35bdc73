#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The `tacho` binary end to end on a temporary database.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Tacho {
    db: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tacho {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            db: dir.path().join("tacho.db"),
            _dir: dir,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tacho"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("TACHO_DB")
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
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/gps")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn import_list_classify_edit_lock_and_report() {
    let t = Tacho::new();
    t.ok(&[
        "car",
        "add",
        "--name",
        "Skoda",
        "--plate",
        "C-EV 2020",
        "--make",
        "Skoda",
        "--model",
        "Citigo",
    ]);
    t.ok(&[
        "place",
        "add",
        "--name",
        "Depot",
        "--kind",
        "office",
        "--lat",
        "50.834655",
        "--lon",
        "12.914731",
    ]);
    let summary = t.json(&["import", &fixture("trackData9.json"), "--car", "Skoda"]);
    assert_eq!(summary["trips"].as_array().unwrap().len(), 1);

    let trips = t.json(&["trip", "list"]);
    let trip = &trips[0];
    for key in [
        "id",
        "started_at",
        "ended_at",
        "distance_m",
        "purpose",
        "point_count",
    ] {
        assert!(
            trip.get(key).is_some(),
            "trip list item lacks {key}: {trip}"
        );
    }
    assert_eq!(trip["point_count"], 177);
    let d = trip["distance_m"].as_f64().unwrap();
    assert!((d - 5_213.0).abs() / 5_213.0 < 0.01, "{d}");
    let id = trip["id"].as_str().unwrap().to_owned();
    let tail = &id[id.len() - 8..];

    t.ok(&[
        "trip",
        "classify",
        tail,
        "business",
        "--partner",
        "Stadtwerke",
    ]);
    t.ok(&[
        "trip",
        "edit",
        tail,
        "--field",
        "note",
        "--value",
        "Umleitung B95",
    ]);
    t.ok(&[
        "trip", "odometer", tail, "--start", "10000", "--end", "10005.2",
    ]);
    let shown = t.ok(&["trip", "show", tail]);
    assert!(shown.contains("history:"), "{shown}");
    assert!(shown.contains("Umleitung B95"), "{shown}");
    let detail = t.json(&["trip", "show", tail]);
    assert_eq!(
        detail["detail"]["history"].as_array().unwrap().len(),
        5,
        "{detail}"
    );

    t.ok(&["period", "lock", "2020-03"]);
    let refused = t.run(&[
        "trip", "edit", tail, "--field", "note", "--value", "too late",
    ]);
    assert_eq!(refused.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("2020-03 is locked"));
    let json_err = t.run(&["--json", "trip", "classify", tail, "private"]);
    let body: serde_json::Value = serde_json::from_slice(&json_err.stderr).unwrap();
    assert_eq!(body["error"]["code"], "locked_period");

    let csv = t.ok(&[
        "report", "mileage", "--car", "Skoda", "--period", "2020-03", "--format", "csv",
    ]);
    assert!(csv.contains("C-EV 2020"), "{csv}");
    assert!(csv.contains("Stadtwerke"), "{csv}");
    let json = t.json(&[
        "report", "mileage", "--car", "Skoda", "--period", "2020-03", "--format", "json",
    ]);
    assert!(json.is_object());
    let out = t.db.with_file_name("log.xlsx");
    t.ok(&[
        "report",
        "mileage",
        "--car",
        "Skoda",
        "--period",
        "2020-03",
        "--format",
        "xlsx",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(&std::fs::read(&out).unwrap()[..4], b"PK\x03\x04");
}

#[test]
fn live_recording_and_the_timer_from_the_command_line() {
    let t = Tacho::new();
    let now = chrono::Utc::now();
    t.ok(&["trip", "start", "--source", "carplay"]);
    for i in 0..20 {
        let at = (now + chrono::Duration::seconds(1 + i * 2)).to_rfc3339();
        t.ok(&[
            "trip",
            "ping",
            "--lat",
            &format!("{}", 52.0 + i as f64 * 0.0004),
            "--lon",
            "5.0",
            "--time",
            &at,
        ]);
    }
    let ended = t.json(&["trip", "end"]);
    assert_eq!(ended["ended"].as_array().unwrap().len(), 1);
    let trips = t.json(&["trip", "list"]);
    assert_eq!(trips[0]["point_count"], 20);
    assert_eq!(trips[0]["source"], "carplay");

    t.ok(&[
        "project",
        "add",
        "Support",
        "--billable",
        "--rounding",
        "up:15",
    ]);
    t.ok(&["timer", "start", "Support", "-d", "ticket 1"]);
    t.ok(&["timer", "start", "Support", "-d", "ticket 2"]);
    let status = t.json(&["timer", "status"]);
    assert_eq!(status["running"]["description"], "ticket 2");
    t.ok(&["timer", "stop"]);
    let entries = t.json(&["entry", "list"]);
    assert_eq!(
        entries.as_array().unwrap().len(),
        2,
        "the switch stopped the first timer"
    );
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["stop"].is_null())
    );
    let hours = t.ok(&[
        "report",
        "hours",
        "--period",
        &now.format("%Y").to_string(),
        "--format",
        "csv",
    ]);
    assert!(hours.contains("Support"), "{hours}");
}

/// Issue 11 item 6: values the shared field schema refuses are a usage error (exit 3) whose
/// message names the field, and nothing is recorded.
#[test]
fn nonsense_values_are_refused_naming_the_field() {
    let t = Tacho::new();
    let refused = |args: &[&str], says: &[&str]| {
        let out = t.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        for s in says {
            assert!(err.contains(s), "{args:?}: `{s}` not in {err}");
        }
    };
    refused(
        &[
            "entry",
            "add",
            "--start",
            "1970-01-01 09:00",
            "--stop",
            "1970-01-01 10:00",
        ],
        &["`start`", "before 2000-01-01"],
    );
    refused(
        &["car", "add", "--name", "Golf\u{7}", "--plate", "AB-12"],
        &["`name`", "control character"],
    );
    let long = "x".repeat(201);
    refused(&["project", "add", &long], &["`name`", "at most 200"]);
    refused(&["period", "lock", "2026-13"], &["2026-13"]);
    let cars = t.ok(&["car", "list"]);
    assert!(!cars.contains("Golf"), "{cars}");
}

#[test]
fn bad_input_is_a_clear_error_with_a_non_zero_exit() {
    let t = Tacho::new();
    let out = t.run(&["trip", "start"]);
    assert!(out.status.success());
    let out = t.run(&["trip", "ping", "--lat", "95", "--lon", "5"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("latitude"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = t.run(&[
        "entry",
        "add",
        "--start",
        "2026-03-10 10:00",
        "--stop",
        "2026-03-10 09:00",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("before it starts"));
    let out = t.run(&["trip", "show", "deadbeef"]);
    assert_eq!(out.status.code(), Some(4));
    let out = t.run(&["import", "/nonexistent/file.gpx"]);
    assert_eq!(out.status.code(), Some(3));
    let out = t.run(&["project", "add", "X", "--rounding", "sideways"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn a_corrupt_database_is_moved_aside_with_a_clear_error() {
    let t = Tacho::new();
    std::fs::write(&t.db, b"garbage garbage garbage garbage".repeat(200)).unwrap();
    let out = t.run(&["trip", "list"]);
    assert_eq!(out.status.code(), Some(6));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("moved aside"), "{err}");
    let moved: Vec<_> = std::fs::read_dir(t.db.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(moved.len(), 1);
    t.ok(&["trip", "list"]);
}

/// `tacho … | head -1`: the reader is gone before tacho writes (the read end of the pipe is
/// closed before the process starts, so this does not depend on timing).
#[test]
fn a_closed_stdout_ends_the_command_quietly_without_a_panic() {
    let t = Tacho::new();
    t.ok(&["import", &fixture("trackData9.json")]);
    for args in [
        &["trip", "list"][..],
        &["--json", "trip", "list"],
        &["db", "info"],
        &["report", "hours", "--period", "2020", "--format", "csv"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_tacho"))
            .arg("--db")
            .arg(&t.db)
            .args(args)
            .env_remove("TACHO_DB")
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
    }
}

#[test]
fn usage_errors_under_json_are_json_with_the_same_exit_code() {
    let t = Tacho::new();
    let plain = t.run(&["trip", "list", "--bogus"]);
    assert_eq!(plain.status.code(), Some(2));
    let text = String::from_utf8_lossy(&plain.stderr);
    assert!(text.contains("--bogus"), "{text}");

    for args in [
        &["--json", "trip", "list", "--bogus"][..],
        &["trip", "list", "--bogus", "--json"],
        &["--json", "trip", "frobnicate"],
        &["--json", "trip", "classify"],
    ] {
        let out = t.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let body: serde_json::Value = serde_json::from_str(stderr.trim())
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stderr}"));
        assert_eq!(body["error"]["code"], "usage", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty() && !message.contains('\n'), "{body}");
        assert!(!message.starts_with("error:"), "{body}");
    }
    let body: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&t.run(&["--json", "trip", "list", "--bogus"]).stderr).trim(),
    )
    .unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--bogus"),
        "{body}"
    );
    // --help stays help, on stdout, exit 0.
    let help = t.run(&["--json", "trip", "--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage"));
}

#[test]
fn log_lines_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let t = Tacho::new();
    let out = Command::new(env!("CARGO_BIN_EXE_tacho"))
        .arg("--db")
        .arg(&t.db)
        .args(["import", &fixture("trackData9.json")])
        .env_remove("TACHO_DB")
        .env_remove("NO_COLOR")
        .env("TACHO_LOG", "debug")
        .output()
        .unwrap();
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("DEBUG") || log.contains("INFO"),
        "no log: {log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a piped log: {log:?}"
    );
}

/// Without `--db`, the database is `tacho.db` in `TACHO_DATA_DIR` (or `--data-dir`), never in
/// the machine's own data directory.
#[test]
fn the_default_database_lives_in_tacho_data_dir() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str], data_dir: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tacho"));
        cmd.args(args)
            .env_remove("TACHO_DB")
            .env_remove("TACHO_DATA_DIR")
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("xdg"));
        if let Some(dir) = data_dir {
            cmd.env("TACHO_DATA_DIR", dir);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let by_env = home.path().join("phone");
    run(
        &["car", "add", "--name", "Golf", "--plate", "AB-1"],
        Some(&by_env),
    );
    assert!(by_env.join("tacho.db").is_file());
    assert!(run(&["car", "list"], Some(&by_env)).contains("Golf"));
    let by_flag = home.path().join("watch");
    let listed = run(
        &["car", "list", "--data-dir", by_flag.to_str().unwrap()],
        None,
    );
    assert!(!listed.contains("Golf"), "{listed}");
    assert!(by_flag.join("tacho.db").is_file());
    assert!(!home.path().join("xdg").exists());
}

/// The CLI's database under `umask 000`: still 0600 in a new 0700 directory.
#[test]
fn database_files_are_private_under_umask_000() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new").join("tacho.db");
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_tacho"))
        .arg("--db")
        .arg(&db)
        .args(["car", "add", "--name", "Golf", "--plate", "AB-1"])
        .env_remove("TACHO_DB")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&dir.path().join("new")), 0o700);
}
