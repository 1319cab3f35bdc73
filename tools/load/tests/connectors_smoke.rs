//! One untimed iteration of each connector benchmark of `tacho-load` (issue 13), at a tiny size,
//! so `cargo test` (and `scripts/test-all`) exercises them: the binary must finish, report every
//! entry drained exactly once, and find connector work only where a connection was added. The
//! figures themselves are not checked (timing belongs to the benchmark runs).

// A failed run is a test failure, not a bug in the tool.
#![allow(clippy::expect_used, clippy::panic)]

use std::process::Command;

/// Runs tacho-load with `args`; its standard output, after checking it exited with success.
fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tacho-load"))
        .args(args)
        .output()
        .expect("running tacho-load");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "tacho-load {args:?} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn connector_drain_sends_every_entry_once() {
    let out = run(&[
        "--scenario",
        "connector-drain",
        "--entries",
        "20",
        "--batch",
        "7",
    ]);
    assert!(out.contains("drain: 20 of 20 entries"), "{out}");
    assert!(out.contains("(0 held before the resume;"), "{out}");
    assert!(
        out.contains("push alone (no connection): 20 entries"),
        "{out}"
    );
}

#[test]
fn throughput_with_connection_enqueues_only_with_the_connection() {
    let out = run(&[
        "--scenario",
        "throughput",
        "--with-connection",
        "--seconds",
        "1",
        "--pushers",
        "1",
        "--batch",
        "50",
    ]);
    assert!(out.contains("WITHOUT a connection"), "{out}");
    assert!(
        out.contains("WITH a mapped, paused Kimai connection"),
        "{out}"
    );
    assert!(
        out.contains("connector_work rows after the run: without 0, with "),
        "{out}"
    );
    assert!(out.contains("end to end: "), "{out}");
}

#[test]
fn connector_quota_sends_to_toggl_and_reports_the_hour() {
    let out = run(&[
        "--scenario",
        "connector-quota",
        "--entries",
        "40",
        "--seconds",
        "3",
    ]);
    assert!(
        out.contains("set-up (connection check, lookups): "),
        "{out}"
    );
    assert!(out.contains(" of 40 entries created"), "{out}");
    assert!(out.contains("target <= 30 requests per hour"), "{out}");
}
