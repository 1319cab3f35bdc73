#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! `tacho hook create|list|revoke` against a real relay on loopback, with the CLI database's
//! signed-in session.

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

#[test]
fn hook_tokens_are_made_listed_and_revoked() {
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
    let url = rt.block_on(async {
        let state = tacho_relay::AppState::new(tacho_relay::Config::new(&relay_db))
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(tacho_relay::serve(listener, state, std::future::pending()));
        url
    });
    let db = dir.path().join("phone.db");

    // Not signed in: an auth error, not a crash.
    assert!(!tacho(&db, &["hook", "list"]).status.success());

    ok(&db, &["car", "add", "--name", "Golf", "--plate", "AB-1"]);
    ok(
        &db,
        &["signup", "--relay", &url, "--email", "lee@example.org"],
    );
    ok(&db, &["sync"]);
    let made: serde_json::Value =
        serde_json::from_str(&ok(&db, &["--json", "hook", "create", "--car", "Golf"])).unwrap();
    let id = made["id"].as_str().unwrap().to_owned();
    let token = made["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tho_"), "{made}");
    assert_eq!(made.as_object().unwrap().len(), 2, "{made}");
    let plain = ok(&db, &["hook", "create"]);
    assert!(plain.trim().starts_with("tho_"), "{plain}");

    let listed: serde_json::Value =
        serde_json::from_str(&ok(&db, &["--json", "hook", "list"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["car_name"], "Golf");
    assert!(!listed.to_string().contains(&token));
    let text = ok(&db, &["hook", "list"]);
    assert!(text.contains(&id) && text.contains("Golf"), "{text}");

    // The token works until revoked.
    let start = |event: &str| {
        rt.block_on(async {
            reqwest::Client::new()
                .post(format!("{url}/v1/hooks/trip/start"))
                .bearer_auth(&token)
                .json(&serde_json::json!({ "event_id": event }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    assert_eq!(start("a"), 200);
    ok(&db, &["hook", "revoke", &id]);
    assert_eq!(start("b"), 401);
    let again = tacho(&db, &["hook", "revoke", &id]);
    assert!(!again.status.success());
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&db, &["--json", "hook", "list"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}
