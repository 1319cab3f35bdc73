#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `tacho trip discard|restore|merge|split` end to end: their JSON, their exit codes, and
//! `trip list --all`/`trip show` flags. The drives are trackData9 and trackData8, two
//! consecutive enviroCar drives of one car (Source: enviroCar contributors, ODbL 1.0; see
//! testdata/gps/NOTICE).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

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
            .arg("--json")
            .args(args)
            .env_remove("TACHO_DB")
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tacho {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The exit code and the JSON error code of a command that must fail.
    fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = self.run(args);
        assert!(!out.status.success(), "tacho {args:?} succeeded");
        let err: Value = serde_json::from_slice(&out.stderr).unwrap();
        (
            out.status.code().unwrap(),
            err["error"]["code"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/gps")
        .join(name)
        .display()
        .to_string()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn discard_restore_merge_split_and_their_exit_codes() {
    let t = Tacho::new();
    t.json(&["car", "add", "--name", "Skoda", "--plate", "C-EC 9"]);
    for file in ["trackData9.json", "trackData8.json"] {
        t.json(&["import", &fixture(file), "--car", "Skoda"]);
    }
    let trips = t.json(&["trip", "list"]);
    let [a, b] = <[String; 2]>::try_from(ids(&trips)).unwrap();
    let distance = |v: &Value| v["distance_m"].as_f64().unwrap();
    let (da, db) = (distance(&trips[0]), distance(&trips[1]));

    // Discard: out of the list, flagged with --all, in the history; restore brings it back.
    let out = t.json(&["trip", "discard", &a]);
    assert_eq!(out["changed"], true);
    assert_eq!(out["trip"]["status"], "discarded");
    assert_eq!(ids(&t.json(&["trip", "list"])), vec![b.clone()]);
    let all = t.json(&["trip", "list", "--all"]);
    assert_eq!(all[0]["status"], "discarded");
    assert_eq!(all[0]["counted"], false);
    let out = t.json(&["trip", "discard", &a]);
    assert_eq!(out["changed"], false, "discarding twice changes nothing");
    let out = t.json(&["trip", "restore", &a]);
    assert_eq!(out["changed"], true);
    let history = &out["trip"]["history"];
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    assert_eq!(history[0]["field"], "discarded");

    // Merge, then split at the longest stop: the drives come back.
    let merged = t.json(&["trip", "merge", &a, &b])["merged"].clone();
    assert_eq!(merged["status"], "current");
    assert_eq!(distance(&merged["trip"]), da + db);
    let m = merged["trip"]["id"].as_str().unwrap().to_owned();
    assert_eq!(ids(&t.json(&["trip", "list"])), vec![m.clone()]);
    let shown = t.json(&["trip", "show", &a]);
    assert_eq!(shown["detail"]["status"], "replaced");
    assert_eq!(shown["detail"]["lineage"]["replaced_by"][0], m.as_str());
    let parts = t.json(&["trip", "split", &m, "--at-longest-stop"])["parts"].clone();
    for (part, want) in [(&parts[0], da), (&parts[1], db)] {
        let got = distance(&part["trip"]);
        assert!((got - want).abs() / want < 0.001, "{got} vs {want}");
        assert_eq!(part["lineage"]["split_from"], m.as_str());
    }

    // Exit codes: 4 unknown trip, 3 a split time that is no time or not in the trip,
    // 5 a conflict (already split) or a locked month.
    assert_eq!(t.fails(&["trip", "discard", "0123456789ab"]).0, 4);
    let p1 = parts[0]["trip"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        t.fails(&["trip", "split", &p1, "--at", "yesterday-ish"]).0,
        3
    );
    assert_eq!(
        t.fails(&["trip", "split", &p1, "--at", "2030-01-01 00:00"])
            .0,
        3
    );
    assert_eq!(t.fails(&["trip", "split", &m, "--at-longest-stop"]).0, 5);
    assert_eq!(t.fails(&["trip", "merge", &a, &b]).0, 5);
    t.json(&["period", "lock", "2020-03"]);
    let before = t.json(&["trip", "list", "--all"]);
    for args in [
        vec!["trip", "discard", p1.as_str()],
        vec!["trip", "restore", p1.as_str()],
        vec!["trip", "split", p1.as_str(), "--at-longest-stop"],
        vec![
            "trip",
            "merge",
            p1.as_str(),
            parts[1]["trip"]["id"].as_str().unwrap(),
        ],
    ] {
        let (code, _) = t.fails(&args);
        assert_eq!(code, 5, "{args:?}");
    }
    assert_eq!(
        t.json(&["trip", "list", "--all"]),
        before,
        "nothing changed"
    );
    // Usage: split needs --at or --at-longest-stop.
    assert_eq!(t.fails(&["trip", "split", &p1]).0, 2);
}
