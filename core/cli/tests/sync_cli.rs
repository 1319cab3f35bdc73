#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `tacho db info`, `sync` and their messages against a real relay on loopback.

use std::path::Path;
use std::process::{Command, Output};

fn tacho(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tacho"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("TACHO_DB")
        .env("TACHO_PASSWORD", "correct horse battery")
        .output()
        .unwrap()
}

fn ok(db: &Path, args: &[&str]) -> String {
    let out = tacho(db, args);
    assert!(
        out.status.success(),
        "tacho {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(db: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(db, &all)).unwrap()
}

/// A relay on a loopback port in its own runtime; dropping the runtime stops it.
fn relay(dir: &Path) -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let relay_db = format!("sqlite://{}?mode=rwc", dir.join("relay.db").display());
    let url = rt.block_on(async {
        let state = tacho_relay::AppState::new(tacho_relay::Config::new(&relay_db))
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(tacho_relay::serve(listener, state, std::future::pending()));
        url
    });
    (rt, url)
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/gps")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn db_info_shows_the_database_path_and_the_same_waiting_count_as_sync_status() {
    let dir = tempfile::tempdir().unwrap();
    let (_rt, url) = relay(dir.path());
    let db = dir.path().join("phone.db");
    ok(&db, &["import", &fixture("trackData9.json")]);
    ok(&db, &["car", "add", "--name", "Golf", "--plate", "AB-1"]);
    ok(
        &db,
        &["signup", "--relay", &url, "--email", "ann@example.org"],
    );
    let before = json(&db, &["db", "info"]);
    assert!(before["pending_ops"].as_u64().unwrap() > 0, "{before}");
    ok(&db, &["sync"]);

    let status = json(&db, &["sync", "--status"]);
    let info = json(&db, &["db", "info"]);
    assert_eq!(status["status"]["pending_ops"], 0, "{status}");
    assert_eq!(
        info["pending_ops"], status["status"]["pending_ops"],
        "{info}"
    );
    assert!(info["outbox_ops"].as_u64().unwrap() > 0, "{info}");
    let path = std::fs::canonicalize(&db).unwrap().display().to_string();
    assert_eq!(info["database"], path.as_str(), "{info}");

    let text = ok(&db, &["db", "info"]);
    assert!(text.contains(&path), "{text}");
    let waiting = text
        .lines()
        .find(|l| l.contains("to sync"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(waiting.contains(" 0 "), "{waiting}");
    let status_text = ok(&db, &["sync", "--status"]);
    assert!(
        status_text.contains("waiting    0 change(s)"),
        "{status_text}"
    );
}

#[test]
fn a_failed_sync_says_why_the_relay_could_not_be_reached() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, url) = relay(dir.path());
    let db = dir.path().join("phone.db");
    ok(&db, &["car", "add", "--name", "Golf", "--plate", "AB-1"]);
    ok(
        &db,
        &["signup", "--relay", &url, "--email", "ann@example.org"],
    );
    // The relay goes away; its port refuses connections.
    rt.shutdown_timeout(std::time::Duration::from_secs(10));

    let out = tacho(&db, &["sync"]);
    assert_eq!(out.status.code(), Some(8));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.to_lowercase().contains("connection refused"),
        "the cause is missing: {stderr}"
    );
    let out = tacho(&db, &["--json", "sync"]);
    let body: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stderr).trim()).unwrap();
    assert_eq!(body["error"]["code"], "network");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("connection refused"),
        "{body}"
    );
}
