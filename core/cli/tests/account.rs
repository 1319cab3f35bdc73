#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `tacho logout` and `tacho device …` against a real relay on loopback: JSON answers and the
//! documented exit codes.

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

fn ok_json(db: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = tacho(db, &all);
    assert!(
        out.status.success(),
        "tacho {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn fails(db: &Path, args: &[&str], code: i32) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = tacho(db, &all);
    assert_eq!(
        out.status.code(),
        Some(code),
        "tacho {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stderr).unwrap()
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

#[test]
fn devices_are_listed_renamed_and_revoked_and_logout_keeps_or_forgets_data() {
    let dir = tempfile::tempdir().unwrap();
    let (_rt, url) = relay(dir.path());
    let phone = dir.path().join("phone.db");
    let watch = dir.path().join("watch.db");
    let signup = ["signup", "--relay", &url, "--email", "cli@example.org"];
    ok_json(&phone, &signup);
    let login = ["login", "--relay", &url, "--email", "cli@example.org"];
    ok_json(
        &watch,
        &[
            "--device-name",
            "Watch",
            login[0],
            login[1],
            login[2],
            login[3],
            login[4],
        ],
    );

    let listed = ok_json(&phone, &["device", "list"]);
    let devices = listed.as_array().unwrap();
    assert_eq!(devices.len(), 2, "{listed}");
    assert_eq!(devices[0]["current"], true);
    assert_eq!(devices[1]["name"], "Watch");
    let watch_id = devices[1]["device_id"].as_str().unwrap().to_owned();
    let phone_id = devices[0]["device_id"].as_str().unwrap().to_owned();

    let renamed = ok_json(&phone, &["device", "rename", &watch_id, "Apple Watch"]);
    assert_eq!(renamed["name"], "Apple Watch");
    let err = fails(&phone, &["device", "revoke", &phone_id], 3);
    assert!(
        err["error"]["message"].as_str().unwrap().contains("logout"),
        "{err}"
    );
    let err = fails(&phone, &["device", "revoke", "not-an-id"], 3);
    assert_eq!(err["error"]["code"], "bad_input", "{err}");

    let revoked = ok_json(&phone, &["device", "revoke", &watch_id]);
    assert_eq!(revoked["revoked"], watch_id.as_str());
    let err = fails(&watch, &["sync"], 7);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("device_revoked"),
        "{err}"
    );

    // Forgetting is refused while a change waits (exit 5); a plain logout keeps the data.
    let out = tacho(&phone, &["project", "add", "Waiting"]);
    assert!(out.status.success());
    fails(&phone, &["logout", "--forget-data"], 5);
    let report = ok_json(&phone, &["logout"]);
    assert_eq!(report["revoked_on_relay"], true, "{report}");
    assert_eq!(report["unsynced_ops"], 1, "{report}");
    let projects = ok_json(&phone, &["project", "list"]);
    assert_eq!(projects.as_array().unwrap().len(), 1, "{projects}");
    // Signed out: the next relay command says so (exit 7).
    fails(&phone, &["device", "list"], 7);
    fails(&phone, &["logout"], 7);
}
