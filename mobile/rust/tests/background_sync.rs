//! Background sync through the Flutter API, against a real relay on 127.0.0.1: one core per
//! database in the process, one sync at a time, and each outcome the platforms' schedulers
//! act on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use tacho_e2e::{Backend, Relay, TestDb};
use tacho_flutter::api::session::TachoCore;
use tacho_flutter::api::types::{
    BackgroundSyncOutcome, NewProjectInput, RoundingMode, RoundingRule,
};

async fn open(db: &str) -> TachoCore {
    TachoCore::open(db.into(), "Europe/Amsterdam".into(), Some("phone".into()))
        .await
        .unwrap()
}

fn project(name: &str) -> NewProjectInput {
    NewProjectInput {
        name: name.into(),
        client: None,
        billable: true,
        rounding: RoundingRule {
            mode: RoundingMode::None,
            minutes: 1,
        },
    }
}

/// Background syncs until the foreground loop's task has let go of the guard (a stopped
/// loop's task ends at its next await point, on another thread).
async fn once_the_loop_has_stopped(core: &TachoCore) -> BackgroundSyncOutcome {
    for _ in 0..500 {
        let outcome = core.background_sync(25).await.unwrap().outcome;
        if outcome != BackgroundSyncOutcome::Busy {
            return outcome;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the stopped loop never released the sync guard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_open_shares_the_core_and_syncs_never_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tacho.db").to_string_lossy().into_owned();
    let ui = open(&db).await;
    // The background isolate opens the same file, spelt another way.
    let spelt = dir.path().join(".").join("tacho.db");
    let background = open(&spelt.to_string_lossy()).await;

    // Not signed in: nothing to do.
    assert_eq!(
        background.background_sync(25).await.unwrap().outcome,
        BackgroundSyncOutcome::NotSignedIn
    );
    // The UI's loop holds the guard of the one core (it retries "not signed in" with backoff),
    // so the background isolate's handle finds it busy at once.
    let running = ui.start_sync_loop(25).await;
    let busy = background.background_sync(25).await.unwrap();
    assert_eq!(busy.outcome, BackgroundSyncOutcome::Busy);
    assert_eq!((busy.report, busy.error), (None, None));
    running.stop();
    assert_eq!(
        once_the_loop_has_stopped(&background).await,
        BackgroundSyncOutcome::NotSignedIn
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_sync_pushes_and_reports_failures_and_time_outs() {
    let relay_db = TestDb::new(Backend::Sqlite).await;
    let relay = Relay::start(&relay_db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tacho.db").to_string_lossy().into_owned();
    let phone = open(&db).await;
    phone
        .signup(
            relay.url.clone(),
            "bg@example.org".into(),
            "a long passphrase".into(),
        )
        .await
        .unwrap();
    phone.add_project(project("Acme")).await.unwrap();
    phone.add_project(project("Globex")).await.unwrap();

    let synced = phone.background_sync(25).await.unwrap();
    assert_eq!(synced.outcome, BackgroundSyncOutcome::Synced, "{synced:?}");
    assert_eq!(
        synced.report.as_ref().map(|r| r.pushed),
        Some(2),
        "{synced:?}"
    );
    assert_eq!(phone.sync_status().await.unwrap().pending_ops, 0);

    // The relay gone: a failure, kept for the status too.
    let address = relay.url.trim_start_matches("http://").to_owned();
    relay.stop().await;
    phone.add_project(project("Initech")).await.unwrap();
    let failed = phone.background_sync(25).await.unwrap();
    assert_eq!(failed.outcome, BackgroundSyncOutcome::Failed, "{failed:?}");
    let why = failed.error.expect("a reason");
    assert_eq!(phone.sync_status().await.unwrap().last_error, Some(why));

    // Something on the relay's port that never answers: the budget ends the run.
    let silent = tokio::net::TcpListener::bind(&address).await.unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            open.push(conn);
        }
    });
    let late = phone.background_sync(1).await.unwrap();
    assert_eq!(late.outcome, BackgroundSyncOutcome::OutOfTime, "{late:?}");
    assert_eq!(phone.sync_status().await.unwrap().pending_ops, 1);
    held.abort();
}
