#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `tacho entry|project|car|place` edit, delete, restore, archive and retire on a temporary
//! database: JSON output, the documented exit codes (3 bad input, 4 not found, 5 conflict,
//! in use or locked period) and JSON error codes.

use std::path::PathBuf;
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

    /// Runs with `--json`, expects exit `code` and returns the JSON error's code and message.
    fn fails(&self, args: &[&str], code: i32) -> (String, String) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert_eq!(
            out.status.code(),
            Some(code),
            "tacho {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
        (
            err["error"]["code"].as_str().unwrap().to_owned(),
            err["error"]["message"].as_str().unwrap().to_owned(),
        )
    }
}

#[test]
fn an_entry_is_edited_shown_with_its_history_deleted_and_restored() {
    let t = Tacho::new();
    t.ok(&["project", "add", "Alpha"]);
    t.ok(&["project", "add", "Beta", "--billable"]);
    let e = t.json(&[
        "entry",
        "add",
        "--project",
        "Alpha",
        "--start",
        "2026-03-10 09:00",
        "--stop",
        "2026-03-10 10:00",
        "-d",
        "tpyo",
    ]);
    let id = e["id"].as_str().unwrap().to_owned();
    let tail = &id[id.len() - 8..];
    let d = t.json(&[
        "entry",
        "edit",
        tail,
        "-d",
        "typo fixed",
        "--project",
        "Beta",
        "--tag",
        "b",
        "--tag",
        "a",
        "--stop",
        "2026-03-10 10:30",
    ]);
    assert_eq!(d["entry"]["description"], "typo fixed");
    assert_eq!(d["entry"]["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(d["project"]["name"], "Beta");
    let fields: Vec<&str> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["description", "project", "stop", "tags"]);
    assert_eq!(d["history"][0]["old_value"], "tpyo");
    let shown = t.ok(&["entry", "show", tail]);
    assert!(shown.contains("history:"), "{shown}");
    assert!(shown.contains("tpyo → typo fixed"), "{shown}");
    assert!(shown.contains("Alpha → Beta"), "{shown}");

    // Nothing to change, a bad time, an unknown entry.
    assert_eq!(t.fails(&["entry", "edit", tail], 3).0, "bad_input");
    assert_eq!(
        t.fails(&["entry", "edit", tail, "--start", "yesterday-ish"], 3)
            .0,
        "bad_input"
    );
    assert_eq!(
        t.fails(&["entry", "edit", "0123456789ab", "-d", "x"], 4).0,
        "not_found"
    );

    let deleted = t.json(&["entry", "delete", tail]);
    assert_eq!(deleted["changed"], true);
    assert!(t.json(&["entry", "list"]).as_array().unwrap().is_empty());
    let d = t.json(&["entry", "show", tail]);
    assert_eq!(d["deleted"], true);
    let (code, message) = t.fails(&["entry", "edit", tail, "-d", "x"], 5);
    assert_eq!(code, "conflict");
    assert!(message.contains("restore"), "{message}");
    let restored = t.json(&["entry", "restore", tail]);
    assert_eq!(restored["deleted"], false);
    assert_eq!(restored["history"].as_array().unwrap().len(), 6);
    assert_eq!(t.json(&["entry", "list"]).as_array().unwrap().len(), 1);

    // The timesheet carries the count of edits and each edit.
    let csv = t.ok(&["report", "hours", "--period", "2026-03"]);
    assert!(
        csv.lines().any(|l| l.starts_with("change_header,")),
        "{csv}"
    );
    assert_eq!(csv.lines().filter(|l| l.starts_with("change,")).count(), 6);
}

#[test]
fn a_locked_month_refuses_entry_changes_with_exit_5() {
    let t = Tacho::new();
    let e = t.json(&[
        "entry",
        "add",
        "--start",
        "2026-03-10 09:00",
        "--stop",
        "2026-03-10 10:00",
    ]);
    let id = e["id"].as_str().unwrap().to_owned();
    t.ok(&["period", "lock", "2026-03"]);
    for args in [
        vec!["entry", "edit", id.as_str(), "-d", "late"],
        vec!["entry", "delete", id.as_str()],
    ] {
        let (code, message) = t.fails(&args, 5);
        assert_eq!(code, "locked_period");
        assert!(message.contains("2026-03"), "{message}");
    }
    let d = t.json(&["entry", "show", &id]);
    assert_eq!(d["deleted"], false);
    assert_eq!(d["entry"]["description"], "");
    assert!(d["history"].as_array().unwrap().is_empty());
}

#[test]
fn projects_cars_and_places_are_edited_archived_retired_and_deleted() {
    let t = Tacho::new();
    t.ok(&["project", "add", "Alpha", "--client", "ACME"]);
    t.ok(&["project", "add", "Scratch"]);
    t.ok(&[
        "entry",
        "add",
        "--project",
        "Alpha",
        "--start",
        "2026-03-10 09:00",
        "--stop",
        "2026-03-10 10:00",
    ]);
    let p = t.json(&[
        "project",
        "edit",
        "alpha",
        "--name",
        "Alpha Corp",
        "--client",
        "",
        "--rounding",
        "up:15",
        "--billable",
        "true",
    ]);
    assert_eq!(p["name"], "Alpha Corp");
    assert_eq!(p["client"], serde_json::Value::Null);
    assert_eq!(p["billable"], true);
    let (code, message) = t.fails(&["project", "delete", "Alpha Corp"], 5);
    assert_eq!(code, "in_use");
    assert_eq!(
        message,
        "project `Alpha Corp` is used by 1 time entry; archive it instead"
    );
    assert_eq!(
        t.json(&["project", "archive", "Alpha Corp"])["archived"],
        true
    );
    let names = |args: &[&str]| -> Vec<String> {
        t.json(args)
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&["project", "list"]), ["Scratch"]);
    assert_eq!(
        names(&["project", "list", "--all"]),
        ["Alpha Corp", "Scratch"]
    );
    let (code, _) = t.fails(&["timer", "start", "Alpha Corp"], 5);
    assert_eq!(code, "conflict");
    assert_eq!(
        t.json(&["project", "unarchive", "Alpha Corp"])["archived"],
        false
    );
    assert_eq!(t.json(&["project", "delete", "Scratch"])["changed"], true);
    assert_eq!(names(&["project", "list", "--all"]), ["Alpha Corp"]);
    assert_eq!(
        t.json(&["project", "restore", "Scratch"])["name"],
        "Scratch"
    );
    assert_eq!(
        t.fails(&["project", "edit", "Nope", "--name", "x"], 4).0,
        "not_found"
    );
    assert_eq!(
        t.fails(&["project", "edit", "Scratch", "--rounding", "sideways"], 3)
            .0,
        "bad_input"
    );

    t.ok(&["car", "add", "--name", "Golf", "--plate", "AB-12-CD"]);
    t.ok(&["car", "add", "--name", "Polo", "--plate", "XY-99"]);
    let c = t.json(&[
        "car",
        "edit",
        "ab 12 cd",
        "--make",
        "VW",
        "--model",
        "Golf 8",
        "--from",
        "2026-01-01",
    ]);
    assert_eq!(c["make"], "VW");
    assert_eq!(c["available_from"], "2026-01-01");
    assert_eq!(
        t.fails(&["car", "edit", "Golf", "--plate", "xy-99"], 5).0,
        "conflict"
    );
    assert_eq!(
        t.fails(&["car", "edit", "Golf", "--to", "2025-12-31"], 3).0,
        "bad_input"
    );
    assert_eq!(t.json(&["car", "retire", "Golf"])["retired"], true);
    assert_eq!(names(&["car", "list"]), ["Polo"]);
    assert_eq!(names(&["car", "list", "--all"]), ["Golf", "Polo"]);
    assert_eq!(
        t.json(&["car", "retire", "Golf", "--undo"])["retired"],
        false
    );
    assert_eq!(t.json(&["car", "delete", "Polo"])["changed"], true);
    assert_eq!(names(&["car", "list", "--all"]), ["Golf"]);
    assert_eq!(t.json(&["car", "restore", "Polo"])["name"], "Polo");

    t.ok(&[
        "place", "add", "--name", "Office", "--kind", "office", "--lat", "52.1", "--lon", "5.1",
    ]);
    let p = t.json(&[
        "place",
        "edit",
        "office",
        "--kind",
        "client",
        "--lat",
        "-33.9",
        "--lon",
        "18.4",
        "--address",
        "Cape Town",
    ]);
    assert_eq!(p["kind"], "client");
    assert_eq!(p["center"]["lat"], -33.9);
    assert_eq!(
        t.fails(&["place", "edit", "Office", "--radius", "1"], 3).0,
        "bad_input"
    );
    assert_eq!(t.json(&["place", "delete", "Office"])["changed"], true);
    assert!(names(&["place", "list"]).is_empty());
    assert_eq!(names(&["place", "list", "--all"]), ["Office"]);
    assert_eq!(t.json(&["place", "restore", "Office"])["name"], "Office");
    assert_eq!(names(&["place", "list"]), ["Office"]);
}
