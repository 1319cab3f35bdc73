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

#[test]
fn sigkill_during_sync_never_duplicates_or_loses_ops_and_never_corrupts() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let relay_db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("relay.db").display()
    );
    let (url, stop) = rt.block_on(async {
        let state = tacho_relay::AppState::new(tacho_relay::Config::new(&relay_db))
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(tacho_relay::serve(listener, state, async {
            let _ = stopped.await;
        }));
        (url, stop)
    });
    let db = dir.path().join("phone.db");
    let run = |args: &[&str]| {
        let out = tacho(&db, args)
            .env("TACHO_PASSWORD", "correct horse battery")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["signup", "--relay", &url, "--email", "kim@example.org"]);
    let mut rng = Lcg(0x5eed_0002);
    let mut killed = 0;
    let mut trial = 0u32;
    while killed < 20 && trial < 300 {
        trial += 1;
        // New local changes, then a sync killed at a random moment.
        run(&["project", "add", &format!("p{trial}")]);
        let mut child = tacho(&db, &["sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_micros(rng.next(60_000));
        let mut done = false;
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                done = true;
                break;
            }
            std::thread::sleep(Duration::from_micros(300));
        }
        if !done {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        let check = tacho(&db, &["--json", "db", "check"]).output().unwrap();
        assert!(
            check.status.success(),
            "trial {trial}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    assert!(
        killed >= 20,
        "only {killed} syncs were interrupted in {trial} trials"
    );
    // A clean sync afterwards delivers everything exactly once.
    run(&["sync"]);
    let status: serde_json::Value = serde_json::from_slice(
        &tacho(&db, &["--json", "sync", "--status"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(status["status"]["pending_ops"], 0, "{status}");
    let info: serde_json::Value = serde_json::from_slice(
        &tacho(&db, &["--json", "db", "info"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let local_ops = info["outbox_ops"].as_u64().unwrap();
    let snapshot: serde_json::Value = rt.block_on(async {
        let http = reqwest::Client::new();
        let login: serde_json::Value = http
            .post(format!("{url}/v1/auth/login"))
            .json(
                &serde_json::json!({"email": "kim@example.org", "password": "correct horse battery",
                "device_id": uuid_like(), "device_name": "checker"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["access_token"].as_str().unwrap().to_owned();
        http.get(format!("{url}/v1/snapshot"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let ops = snapshot["ops"].as_array().unwrap();
    let mut ids: Vec<&str> = ops.iter().map(|o| o["op_id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), ops.len(), "no op stored twice");
    assert_eq!(
        ops.len() as u64,
        local_ops,
        "every committed op reached the relay"
    );
    let _ = stop.send(());
}

/// A fresh UUIDv7 string for a checker device.
fn uuid_like() -> String {
    let ms = chrono::Utc::now().timestamp_millis() as u64;
    format!(
        "{:08x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
        ms >> 16,
        ms & 0xffff,
        std::process::id() & 0xfff,
        0x123,
        0xabcdef012345u64
    )
}
