#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `tacho` processes killed with SIGKILL at random moments while writing
//! never lose a change they reported as done and never corrupt the file.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tacho(db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tacho"));
    c.arg("--db").arg(db).args(args).env_remove("TACHO_DB");
    c
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn sigkill_during_writes_loses_nothing_committed_and_never_corrupts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    assert!(
        tacho(&db, &["project", "add", "Support"])
            .status()
            .unwrap()
            .success()
    );
    assert!(tacho(&db, &["trip", "start"]).status().unwrap().success());
    let start = chrono::Utc::now();
    let mut rng = Lcg(0x7ac4_0001);
    let mut confirmed_pings = 0u32;
    let mut confirmed_timers = 0u32;
    let mut killed = 0;
    // How long one write takes here, so kills land before, during and after it.
    let runtime = {
        let t = Instant::now();
        assert!(
            tacho(&db, &["db", "info"])
                .stdout(Stdio::null())
                .status()
                .unwrap()
                .success()
        );
        t.elapsed().as_micros().max(1_000) as u64
    };
    let mut trial = 0u32;
    while (killed < 30 || confirmed_pings + confirmed_timers < 10) && trial < 500 {
        trial += 1;
        let at = (start + chrono::Duration::seconds(i64::from(trial) + 1)).to_rfc3339();
        let lat = format!("{}", 52.0 + f64::from(trial) * 0.0002);
        let is_timer = trial.is_multiple_of(3);
        let mut cmd = if is_timer {
            tacho(
                &db,
                &["timer", "start", "Support", "-d", &format!("task {trial}")],
            )
        } else {
            tacho(
                &db,
                &["trip", "ping", "--lat", &lat, "--lon", "5.0", "--time", &at],
            )
        };
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill somewhere between process start and well after it finished.
        let delay = Duration::from_micros(rng.next(runtime * 3 / 2));
        let deadline = Instant::now() + delay;
        let mut status = None;
        while Instant::now() < deadline {
            if let Some(s) = child.try_wait().unwrap() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let finished_ok = match status {
            Some(s) => s.success(),
            None => {
                child.kill().unwrap();
                let s = child.wait().unwrap();
                killed += 1;
                s.success()
            }
        };
        if finished_ok {
            if is_timer {
                confirmed_timers += 1;
            } else {
                confirmed_pings += 1;
            }
        }
        // The file must be readable and intact after every kill.
        let check = tacho(&db, &["--json", "db", "check"]).output().unwrap();
        assert!(
            check.status.success(),
            "trial {trial}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    assert!(
        killed >= 30,
        "the delays must actually interrupt writes (killed {killed} in {trial} trials)"
    );
    assert!(
        confirmed_pings + confirmed_timers > 5,
        "some writes must finish"
    );
    let trips: serde_json::Value = serde_json::from_slice(
        &tacho(&db, &["--json", "trip", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let active = trips
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["state"] == "active")
        .unwrap();
    let stored = u32::try_from(
        active["id"]
            .as_str()
            .map(|id| {
                let detail: serde_json::Value = serde_json::from_slice(
                    &tacho(&db, &["--json", "trip", "show", id])
                        .output()
                        .unwrap()
                        .stdout,
                )
                .unwrap();
                detail["detail"]["point_count"].as_u64().unwrap()
            })
            .unwrap(),
    )
    .unwrap();
    assert!(
        stored >= confirmed_pings,
        "{stored} points stored, {confirmed_pings} confirmed"
    );
    let entries: serde_json::Value = serde_json::from_slice(
        &tacho(&db, &["--json", "entry", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let n_entries = u32::try_from(entries.as_array().unwrap().len()).unwrap();
    assert!(
        n_entries >= confirmed_timers,
        "{n_entries} entries, {confirmed_timers} confirmed"
    );
    // The outbox is gap-free whatever was interrupted.
    let info: serde_json::Value = serde_json::from_slice(
        &tacho(&db, &["--json", "db", "info"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(info["outbox_ops"].as_u64().unwrap() > 0);
}
