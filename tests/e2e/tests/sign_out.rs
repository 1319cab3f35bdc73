#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Signing out and managing devices against a real relay, on SQLite and PostgreSQL: a sign-out
//! or a revoke takes effect at once (the next call and the refresh token are refused), local
//! data stays unless forgotten, forgetting never loses a change, and a device that forgot its
//! data and signs in again continues its op numbering where the relay expects it.

use std::sync::Arc;

use tacho_core::{Core, CoreError};
use tacho_e2e::{BACKENDS, Backend, Relay, TestDb, core};
use tacho_model::clock::SystemClock;
use tacho_model::work::Rounding;

const PASSWORD: &str = "correct horse battery";

/// The stored session's tokens, read straight from the database file.
fn tokens(db: &std::path::Path) -> (String, String) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT access_token, refresh_token FROM sync_state WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

async fn status_with(relay: &str, access: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{relay}/v1/pull?cursor=0"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn refresh_status(relay: &str, refresh: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{relay}/v1/auth/refresh"))
        .json(&serde_json::json!({ "refresh_token": refresh }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn projects(core: &Core) -> Vec<String> {
    core.projects()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

async fn sign_out(backend: Backend) {
    let db = TestDb::new(backend).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let phone_db = dir.path().join("phone.db");
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    phone
        .signup(&relay.url, "out@example.org", PASSWORD)
        .await
        .unwrap();
    phone
        .add_project("Acme", None, true, Rounding::None)
        .await
        .unwrap();
    phone.sync_once().await.unwrap();
    let (access, refresh) = tokens(&phone_db);
    assert_eq!(status_with(&relay.url, &access).await, 200);

    // Forgetting the data is refused while a change waits for the relay; nothing is lost.
    phone
        .add_project("Unsynced", None, false, Rounding::None)
        .await
        .unwrap();
    let err = phone.logout(true).await.unwrap_err();
    assert!(matches!(err, CoreError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("1 change"), "{err}");
    assert_eq!(projects(&phone).await.len(), 2);
    assert_eq!(
        status_with(&relay.url, &access).await,
        200,
        "still signed in"
    );

    // A plain sign-out: at once, the access token and the refresh token stop working.
    let report = phone.logout(false).await.unwrap();
    assert!(report.revoked_on_relay, "{report:?}");
    assert!(!report.forgot_data);
    assert_eq!(report.unsynced_ops, 1);
    assert_eq!(status_with(&relay.url, &access).await, 401);
    assert_eq!(refresh_status(&relay.url, &refresh).await, 401);
    assert!(phone.sync_status().await.unwrap().relay_url.is_none());
    let err = phone.sync_once().await.unwrap_err();
    assert!(matches!(err, CoreError::Auth { .. }), "{err}");
    // Local data stays, the unsynced change too.
    assert_eq!(projects(&phone).await.len(), 2);
    let conn = rusqlite::Connection::open(&phone_db).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM sync_state", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0, "no token left in the file");
    drop(conn);

    // Signing in again pushes the change that waited, then forgetting is allowed.
    phone
        .login(&relay.url, "out@example.org", PASSWORD)
        .await
        .unwrap();
    let pushed = phone.sync_once().await.unwrap();
    assert_eq!(pushed.parked, 0);
    assert_eq!(phone.outbox_len().await.unwrap(), 0);
    let report = phone.logout(true).await.unwrap();
    assert!(report.forgot_data && report.revoked_on_relay);
    assert!(projects(&phone).await.is_empty(), "local records deleted");
    let text = std::fs::read(&phone_db).unwrap();
    assert!(
        !text.windows(b"Unsynced".len()).any(|w| w == b"Unsynced"),
        "a forgotten record can't be read back from the file"
    );

    // The same device signs in again: its data comes back and new changes continue its
    // numbering (a seq gap would be refused by the relay).
    phone
        .login(&relay.url, "out@example.org", PASSWORD)
        .await
        .unwrap();
    phone.sync_once().await.unwrap();
    let mut names = projects(&phone).await;
    names.sort();
    assert_eq!(names, ["Acme", "Unsynced"]);
    phone
        .add_project("After", None, false, Rounding::None)
        .await
        .unwrap();
    let report = phone.sync_once().await.unwrap();
    assert_eq!((report.pushed, report.parked), (1, 0));
    drop(phone);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_takes_effect_at_once_and_loses_nothing() {
    for backend in BACKENDS {
        sign_out(backend).await;
    }
}

async fn devices(backend: Backend) {
    let db = TestDb::new(backend).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    let watch = core(dir.path(), "watch", Arc::new(SystemClock)).await;
    phone
        .signup(&relay.url, "dev@example.org", PASSWORD)
        .await
        .unwrap();
    watch
        .login(&relay.url, "dev@example.org", PASSWORD)
        .await
        .unwrap();
    let listed = phone.devices().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].current && !listed[1].current, "{listed:?}");
    let watch_id = watch.device().unwrap().to_string();
    assert_eq!(listed[1].device_id.to_string(), watch_id);

    let renamed = phone.rename_device(&watch_id, "Apple Watch").await.unwrap();
    assert_eq!(renamed.name, "Apple Watch");
    let err = phone
        .rename_device(&watch_id, "bad\u{1b}name")
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::BadInput { .. }), "{err}");
    let err = phone
        .revoke_device(&phone.device().unwrap().to_string())
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::BadInput { .. }), "{err}");

    // The lost watch is cut off at once: its next call and its refresh are refused.
    let (watch_access, watch_refresh) = tokens(&dir.path().join("watch.db"));
    assert_eq!(status_with(&relay.url, &watch_access).await, 200);
    phone.revoke_device(&watch_id).await.unwrap();
    assert_eq!(status_with(&relay.url, &watch_access).await, 401);
    assert_eq!(refresh_status(&relay.url, &watch_refresh).await, 401);
    let err = watch.sync_once().await.unwrap_err();
    assert!(matches!(err, CoreError::Auth { .. }), "{err}");
    assert!(err.to_string().contains("device_revoked"), "{err}");
    // …and can't sign in again under the same device id.
    let err = watch
        .login(&relay.url, "dev@example.org", PASSWORD)
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Auth { .. }), "{err}");
    let listed = phone.devices().await.unwrap();
    assert!(listed[1].revoked_at.is_some(), "{listed:?}");
    assert_eq!(listed[1].name, "Apple Watch");
    drop((phone, watch));
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_is_cut_off_at_once() {
    for backend in BACKENDS {
        devices(backend).await;
    }
}

/// The account export carries every kind the log holds, the time entries' edit history too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_carries_time_entry_history() {
    use std::io::Read as _;
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let phone = core(dir.path(), "phone", Arc::new(SystemClock)).await;
    phone
        .signup(&relay.url, "export@example.org", PASSWORD)
        .await
        .unwrap();
    let now = phone.now();
    let entry = phone
        .add_entry(tacho_core::NewEntry {
            description: "first words".into(),
            start: Some(now - chrono::Duration::hours(2)),
            stop: Some(now - chrono::Duration::hours(1)),
            ..Default::default()
        })
        .await
        .unwrap();
    phone
        .edit_entry(
            &entry.id.to_string(),
            tacho_core::EntryEdit {
                description: Some("better words".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    phone.sync_once().await.unwrap();
    let (access, _) = tokens(&dir.path().join("phone.db"));
    let bytes = reqwest::Client::new()
        .get(format!("{}/v1/account/export", relay.url))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut history = String::new();
    zip.by_name("time_entry_edit.json")
        .expect("the export has the entries' edit history")
        .read_to_string(&mut history)
        .unwrap();
    assert!(
        history.contains("first words") && history.contains("better words"),
        "{history}"
    );
    drop(phone);
    relay.stop().await;
}
