#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Time entry edits through a real relay (issue 12), on SQLite and PostgreSQL:
//!
//! - a phone and a watch edit, delete and restore one entry, partly offline and
//!   interleaved: after sync every edit appears exactly once, in the order it was made,
//!   in the same history on both devices, and both hold the same entry;
//! - a watch that has not pulled a lock edits, deletes and restores entries of the
//!   locked month: the relay refuses each (422 `period_locked`), the watch parks the ops
//!   and takes the changes back, and no device's data changes.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tacho_core::{Core, EntryEdit, NewEntry};
use tacho_e2e::{BACKENDS, Backend, Relay, TestDb, core};
use tacho_model::api::code;
use tacho_model::clock::ManualClock;
use tacho_model::op::EntityKind;
use tacho_model::work::{EntryField, Rounding};

const PASSWORD: &str = "correct horse battery";

fn at(month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, hour, minute, 0)
        .unwrap()
}

fn describe(text: &str) -> EntryEdit {
    EntryEdit {
        description: Some(text.into()),
        ..Default::default()
    }
}

async fn pair(
    relay: &Relay,
    dir: &std::path::Path,
    start: DateTime<Utc>,
) -> (Core, Arc<ManualClock>, Core, Arc<ManualClock>) {
    let phone_clock = Arc::new(ManualClock::new(start));
    let watch_clock = Arc::new(ManualClock::new(start));
    let phone = core(dir, "phone", phone_clock.clone()).await;
    let watch = core(dir, "watch", watch_clock.clone()).await;
    phone
        .signup(&relay.url, "ann@example.org", PASSWORD)
        .await
        .unwrap();
    watch
        .login(&relay.url, "ann@example.org", PASSWORD)
        .await
        .unwrap();
    (phone, phone_clock, watch, watch_clock)
}

async fn history_on_both_devices(backend: Backend) {
    let db = TestDb::new(backend).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let (phone, phone_clock, watch, watch_clock) = pair(&relay, dir.path(), at(4, 1, 8, 0)).await;
    phone
        .add_project("Alpha", None, true, Rounding::None)
        .await
        .unwrap();
    phone
        .add_project("Beta", None, false, Rounding::None)
        .await
        .unwrap();
    let id = phone
        .add_entry(NewEntry {
            project: Some("Alpha".into()),
            description: "v0".into(),
            start: Some(at(3, 30, 9, 0)),
            stop: Some(at(3, 30, 10, 0)),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
        .to_string();
    phone.sync_once().await.unwrap();
    watch.sync_once().await.unwrap();

    // Both offline, interleaved in time: the order they were made in is the clock order.
    let mut made: Vec<(EntryField, Option<String>)> = Vec::new();
    phone_clock.set(at(4, 1, 9, 0));
    phone.edit_entry(&id, describe("v1")).await.unwrap();
    made.push((EntryField::Description, Some("v1".into())));
    watch_clock.set(at(4, 1, 9, 1));
    watch
        .edit_entry(
            &id,
            EntryEdit {
                tags: Some(vec!["site".into()]),
                project: Some(Some("Beta".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    made.push((EntryField::Project, Some("Beta".into())));
    made.push((EntryField::Tags, Some("site".into())));
    phone_clock.set(at(4, 1, 9, 2));
    phone.edit_entry(&id, describe("v2")).await.unwrap();
    made.push((EntryField::Description, Some("v2".into())));
    watch_clock.set(at(4, 1, 9, 3));
    watch.delete_entry(&id).await.unwrap();
    made.push((EntryField::Deleted, Some("yes".into())));
    // Sync in one order, then the other, then again (re-deliveries change nothing).
    watch.sync_once().await.unwrap();
    phone.sync_once().await.unwrap();
    watch.sync_once().await.unwrap();
    phone_clock.set(at(4, 1, 9, 4));
    phone.restore_entry(&id).await.unwrap();
    made.push((EntryField::Deleted, Some("no".into())));
    phone.sync_once().await.unwrap();
    watch.sync_once().await.unwrap();
    watch_clock.set(at(4, 1, 9, 5));
    watch
        .edit_entry(
            &id,
            EntryEdit {
                stop: Some(at(3, 30, 10, 30)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    made.push((EntryField::Stop, Some("2026-03-30T10:30:00Z".into())));
    for _ in 0..2 {
        phone.sync_once().await.unwrap();
        watch.sync_once().await.unwrap();
    }
    phone.sync_once().await.unwrap();

    let on_phone = phone.entry(&id).await.unwrap();
    let on_watch = watch.entry(&id).await.unwrap();
    assert_eq!(on_phone.history, on_watch.history);
    let seen: Vec<(EntryField, Option<String>)> = on_phone
        .history
        .iter()
        .map(|h| (h.field, h.new_value.clone()))
        .collect();
    assert_eq!(seen, made, "every edit once, in the order made");
    assert!(on_phone.history.windows(2).all(|p| p[0].at <= p[1].at));
    let phone_device = phone.device().unwrap();
    let watch_device = watch.device().unwrap();
    let who: Vec<bool> = on_phone
        .history
        .iter()
        .map(|h| h.device == phone_device)
        .collect();
    assert_eq!(who, [true, false, false, true, false, true, false]);
    assert!(
        on_phone
            .history
            .iter()
            .all(|h| h.device == phone_device || h.device == watch_device)
    );
    // The entry itself converged: the last word on each field, restored.
    assert_eq!(on_phone.entry, on_watch.entry);
    assert!(!on_phone.deleted && !on_watch.deleted);
    assert_eq!(on_phone.entry.description, "v2");
    assert_eq!(on_phone.entry.tags, ["site"]);
    assert_eq!(on_phone.project.as_ref().unwrap().name, "Beta");
    assert_eq!(on_phone.entry.stop, Some(at(3, 30, 10, 30)));
    assert!(phone.parked_ops().await.unwrap().is_empty());
    assert!(watch.parked_ops().await.unwrap().is_empty());
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_edit_appears_once_in_order_on_both_devices_on_sqlite_and_postgres() {
    for backend in BACKENDS {
        history_on_both_devices(backend).await;
    }
}

async fn lock_refuses_entry_changes_at_the_relay(backend: Backend) {
    let db = TestDb::new(backend).await;
    let relay = Relay::start(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let (phone, phone_clock, watch, watch_clock) = pair(&relay, dir.path(), at(4, 1, 8, 0)).await;
    let hour = |start: DateTime<Utc>, what: &str| NewEntry {
        description: what.into(),
        start: Some(start),
        stop: Some(start + Duration::hours(1)),
        ..Default::default()
    };
    let edited = phone
        .add_entry(hour(at(3, 10, 9, 0), "edited"))
        .await
        .unwrap();
    let deleted = phone
        .add_entry(hour(at(3, 11, 9, 0), "deleted"))
        .await
        .unwrap();
    let restored = phone
        .add_entry(hour(at(3, 12, 9, 0), "restored"))
        .await
        .unwrap();
    phone_clock.set(at(4, 1, 8, 30));
    phone.delete_entry(&restored.id.to_string()).await.unwrap();
    phone.sync_once().await.unwrap();
    watch.sync_once().await.unwrap();
    let before_phone: Vec<_> = phone.entries(Default::default()).await.unwrap();

    // 10:00 the phone locks March and syncs; 11:00 the watch, without the lock, changes
    // each entry in one way.
    phone_clock.set(at(4, 2, 10, 0));
    phone.lock_period("2026-03").await.unwrap();
    phone.sync_once().await.unwrap();
    watch_clock.set(at(4, 2, 11, 0));
    watch
        .edit_entry(&edited.id.to_string(), describe("after the lock"))
        .await
        .unwrap();
    watch.delete_entry(&deleted.id.to_string()).await.unwrap();
    watch.restore_entry(&restored.id.to_string()).await.unwrap();
    let report = watch.sync_once().await.unwrap();

    let parked = watch.parked_ops().await.unwrap();
    assert_eq!(parked.len(), report.parked, "{parked:?}");
    // The upsert, the delete, the restore and their three history appends.
    assert_eq!(parked.len(), 6, "{parked:?}");
    for p in &parked {
        assert_eq!(p.code, code::PERIOD_LOCKED, "{p:?}");
        assert!(
            matches!(
                p.op.entity,
                EntityKind::TimeEntry | EntityKind::TimeEntryEdit
            ),
            "{p:?}"
        );
    }
    // Taken back on the watch; never applied on the phone.
    for device in [&watch, &phone] {
        let e = device.entry(&edited.id.to_string()).await.unwrap();
        assert_eq!(e.entry.description, "edited");
        assert!(e.history.is_empty(), "{:?}", e.history);
        let d = device.entry(&deleted.id.to_string()).await.unwrap();
        assert!(!d.deleted);
        assert!(d.history.is_empty(), "{:?}", d.history);
        let r = device.entry(&restored.id.to_string()).await.unwrap();
        assert!(r.deleted);
        assert_eq!(r.history.len(), 1, "only the delete made before the lock");
    }
    phone.sync_once().await.unwrap();
    assert_eq!(
        phone.entries(Default::default()).await.unwrap(),
        before_phone
    );
    assert_eq!(
        watch.entries(Default::default()).await.unwrap(),
        before_phone
    );
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_refuses_entry_edits_deletes_and_restores_in_a_locked_month() {
    for backend in BACKENDS {
        lock_refuses_entry_changes_at_the_relay(backend).await;
    }
}
