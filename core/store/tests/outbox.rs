#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `outbox_len` counts the ops still waiting to be pushed, not every op ever
//! written: it falls to zero once the relay confirmed them and grows again
//! with new writes.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use tacho_model::clock::ManualClock;
use tacho_model::id::ProjectId;
use tacho_model::work::{Project, Rounding};
use tacho_store::{Store, SyncSession};

fn add_projects(store: &mut Store, names: impl IntoIterator<Item = String>) {
    store
        .write(|w| {
            for name in names {
                w.add_project(&Project {
                    id: ProjectId::new(),
                    name,
                    client: None,
                    billable: false,
                    rounding: Rounding::None,
                    archived: false,
                })?;
            }
            Ok::<_, tacho_store::StoreError>(())
        })
        .unwrap();
}

fn session() -> SyncSession {
    SyncSession {
        relay_url: "http://127.0.0.1:1".into(),
        account_id: "a".into(),
        space_id: "s".into(),
        access_token: "t".into(),
        access_expires_at: Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
        refresh_token: "r".into(),
        pull_cursor: 0,
        pushed_seq: 0,
        last_sync_at: None,
        last_error: None,
    }
}

#[test]
fn outbox_len_counts_only_ops_the_relay_has_not_confirmed() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap(),
    ));
    let mut store = Store::open_in_memory(clock).unwrap();
    assert_eq!(store.outbox_len().unwrap(), 0);

    // Before any sign-in every op waits.
    add_projects(&mut store, (0..3).map(|i| format!("P{i}")));
    assert_eq!(store.outbox_len().unwrap(), 3);
    store.write(|w| w.save_session(&session())).unwrap();
    assert_eq!(store.outbox_len().unwrap(), 3);

    // The relay confirms them: nothing waits, though the outbox keeps them.
    store.write(|w| w.set_pushed_seq(3)).unwrap();
    assert_eq!(store.outbox_len().unwrap(), 0);
    assert_eq!(store.outbox(0, 100).unwrap().len(), 3);

    // New writes wait again, and only they count.
    add_projects(&mut store, (3..5).map(|i| format!("P{i}")));
    assert_eq!(store.outbox_len().unwrap(), 2);

    // An op parked as invalid is skipped by sync, so it does not wait.
    let parked = store.outbox(3, 1).unwrap().remove(0).op;
    store
        .write(|w| w.park_op(&parked, "invalid_op", "test"))
        .unwrap();
    assert_eq!(store.outbox_len().unwrap(), 1);
    store.write(|w| w.set_pushed_seq(5)).unwrap();
    assert_eq!(store.outbox_len().unwrap(), 0);
    assert_eq!(
        store.outbox_total().unwrap(),
        5,
        "the outbox keeps every op"
    );
}
