#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The README's `tacho` examples work as written: the command block of "Using `tacho`" is run
//! line by line on a new database, in a scratch directory that sees the checkout's `testdata/`.
//! Only the README's stand-in trip id `9f3c2a1b` is replaced, by the tail of the trip its
//! import line made. And what the README's commands write in the checkout stays out of git.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The lines of the first ```sh block after `heading`.
fn block_after(readme: &str, heading: &str) -> Vec<String> {
    let at = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README has no {heading:?}"));
    let rest = &readme[at..];
    let start = rest.find("```sh\n").expect("an sh block") + "```sh\n".len();
    let end = rest[start..].find("```").expect("the block's end");
    rest[start..start + end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Shell words of one line: double quotes group, a `#` starting a word begins a comment.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '#' if !quoted && !in_word => break,
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quotes in {line:?}");
    if in_word {
        out.push(word);
    }
    out
}

fn trip_ids(db: &Path, cwd: &Path) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_tacho"))
        .arg("--db")
        .arg(db)
        .args(["--json", "trip", "list"])
        .env_remove("TACHO_DB")
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(out.status.success());
    let trips: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    trips
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_readme_using_tacho_block_runs_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let lines = block_after(&readme, "## Using `tacho`");
    assert!(lines.len() > 10, "{lines:?}");
    let scratch = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo().join("testdata"), scratch.path().join("testdata")).unwrap();
    let db = scratch.path().join("tacho.db");
    let mut trip_tail: Option<String> = None;
    for line in &lines {
        let mut args = words(line);
        assert_eq!(args.first().map(String::as_str), Some("tacho"), "{line}");
        args.remove(0);
        if args.iter().any(|a| a == "9f3c2a1b") {
            let tail = trip_tail
                .clone()
                .unwrap_or_else(|| panic!("{line}: no trip imported before it"));
            for a in &mut args {
                if a == "9f3c2a1b" {
                    a.clone_from(&tail);
                }
            }
        }
        let before = trip_ids(&db, scratch.path());
        let out = Command::new(env!("CARGO_BIN_EXE_tacho"))
            .arg("--db")
            .arg(&db)
            .args(&args)
            .env_remove("TACHO_DB")
            .current_dir(scratch.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README line failed: {line}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if args.first().map(String::as_str) == Some("import") {
            let new: Vec<String> = trip_ids(&db, scratch.path())
                .into_iter()
                .filter(|id| !before.contains(id))
                .collect();
            assert_eq!(new.len(), 1, "{line}: {new:?}");
            trip_tail = Some(new[0][new[0].len() - 8..].to_owned());
        }
    }
    assert!(trip_tail.is_some(), "the block imports a trip");
}

/// `s.json` (a device session: a live refresh token), the databases and the report the README
/// writes in the checkout are ignored by git.
#[test]
fn what_the_readme_writes_in_the_checkout_is_git_ignored() {
    for file in [
        "s.json",
        "phone.db",
        "watch.db",
        "phone.db-wal",
        "march.xlsx",
    ] {
        let out = Command::new("git")
            .args(["check-ignore", "-q", "--no-index", file])
            .current_dir(repo())
            .output()
            .expect("git is needed for this test");
        assert_eq!(out.status.code(), Some(0), "{file} is not ignored by git");
    }
}
