#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Timesheet connectors end to end (issue 13), on SQLite and PostgreSQL: two cores (phone and
//! watch) sync through a real relay, which pushes to and pulls from strict local fakes of Kimai
//! and Toggl on 127.0.0.1 — through the chaos the contracts warn of.
//!
//! - entries created, edited, stopped and deleted on two devices end up on the service exactly
//!   once with the right values, though the service drops an answer after committing, fails
//!   before committing and stalls past the client's timeout;
//! - every device shows each entry's state on the connection;
//! - remote creations, edits and deletions reach both devices; an entry changed on both sides
//!   becomes a conflict on both devices, and each resolution does what it says;
//! - a random schedule of edits on two devices under random chaos keeps "exactly once" true
//!   (a property test, `TACHO_PROP_CASES` cases, default 6).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, json};
use tacho_core::{Core, EntryEdit, EntryFilter, NewEntry};
use tacho_e2e::{Backend, Relay, TestDb, core};
use tacho_fakes::kimai::{self, FakeKimai};
use tacho_fakes::{Chaos, ChaosRule};
use tacho_model::clock::ManualClock;
use tacho_model::connector::{LinkState, Resolution};
use tacho_model::work::{EntrySource, Rounding, TimeEntry};

const PASSWORD: &str = "correct horse battery";

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0)
        .unwrap()
}

/// A relay with a master key and connector timings short enough for tests: a 1 s client
/// timeout (the stall chaos waits past it), 50 ms retries and ticks.
async fn relay(db: &TestDb) -> Relay {
    let key = tacho_relay::secrets::MasterKeys::generate_line(1);
    Relay::start_with_jobs(&db.url, move |config| {
        config.master_keys = Some(tacho_relay::secrets::MasterKeys::parse(&key).unwrap());
        config.connectors.http_timeout = Duration::from_secs(1);
        config.connectors.retry_base = Duration::from_millis(50);
        config.connectors.tick = Duration::from_millis(50);
        config.connectors.pull_every = Duration::from_millis(200);
    })
    .await
}

struct Pair {
    phone: Core,
    watch: Core,
    _dir: tempfile::TempDir,
}

async fn pair(relay: &Relay) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let clock = || Arc::new(ManualClock::new(at(30, 18, 0)));
    let phone = core(dir.path(), "phone", clock()).await;
    let watch = core(dir.path(), "watch", clock()).await;
    let email = format!("ann-{}@example.org", uuid::Uuid::now_v7().simple());
    phone.signup(&relay.url, &email, PASSWORD).await.unwrap();
    watch.login(&relay.url, &email, PASSWORD).await.unwrap();
    Pair {
        phone,
        watch,
        _dir: dir,
    }
}

/// Connects the phone's account to `fake` and maps project "Client" to its project/activity.
async fn connect_kimai(pair: &Pair, fake: &FakeKimai) {
    pair.phone
        .add_project("Client", None, true, Rounding::None)
        .await
        .unwrap();
    pair.phone.sync_once().await.unwrap();
    let settings: Map<String, serde_json::Value> = json!({
        "auth": "bearer",
        "time_zone": "Europe/Berlin",
    })
    .as_object()
    .cloned()
    .unwrap();
    pair.phone
        .connector_add(
            "kimai",
            "kimai",
            Some(&fake.base_url()),
            settings,
            kimai::TOKEN,
        )
        .await
        .unwrap();
    pair.phone
        .connector_map(
            "kimai",
            "Client",
            &format!(
                "project={},activity={}",
                kimai::PROJECT_ID,
                kimai::ACTIVITY_ID
            ),
        )
        .await
        .unwrap();
}

async fn entry(core: &Core, description: &str, start: DateTime<Utc>, minutes: i64) -> String {
    core.add_entry(NewEntry {
        project: Some("Client".into()),
        description: description.into(),
        start: Some(start),
        stop: Some(start + chrono::Duration::minutes(minutes)),
        ..Default::default()
    })
    .await
    .unwrap()
    .id
    .to_string()
}

/// Runs the connection until drained, syncing both devices around it.
async fn settle(pair: &Pair) {
    pair.watch.sync_once().await.unwrap();
    pair.phone.sync_once().await.unwrap();
    let report = pair
        .phone
        .connector_run("kimai", Duration::from_secs(60), |_| {})
        .await
        .unwrap();
    assert!(report.drained, "not drained: {:?}", report.status);
    pair.watch.sync_once().await.unwrap();
}

async fn live_entries(core: &Core) -> Vec<TimeEntry> {
    core.entries(EntryFilter::default()).await.unwrap()
}

/// Every live Tacho entry of the mapped project is on Kimai exactly once with its values, and
/// Kimai holds nothing else.
fn assert_exactly_once(fake: &FakeKimai, entries: &[TimeEntry]) {
    let remote = fake.timesheets();
    type Key = (DateTime<Utc>, Option<DateTime<Utc>>, String);
    let mut by_key: BTreeMap<Key, usize> = BTreeMap::new();
    for t in &remote {
        *by_key
            .entry((t.begin, t.end, t.description.clone().unwrap_or_default()))
            .or_default() += 1;
    }
    for e in entries {
        let key = (e.start, e.stop, e.description.clone());
        assert_eq!(
            by_key.get(&key).copied(),
            Some(1),
            "entry {key:?} should be on Kimai once; Kimai holds {remote:#?}"
        );
    }
    assert_eq!(
        remote.len(),
        entries.len(),
        "Kimai holds more than Tacho: {remote:#?}"
    );
}

async fn two_devices_exactly_once_through_chaos(backend: Backend) {
    let db = TestDb::new(backend).await;
    let relay = relay(&db).await;
    let fake = FakeKimai::start().await.unwrap();
    let pair = pair(&relay).await;
    connect_kimai(&pair, &fake).await;

    // The first create is committed on Kimai but its answer never arrives.
    fake.chaos(ChaosRule::once(
        "POST",
        "/api/timesheets",
        Chaos::DropAfterCommit,
    ));
    let a = entry(&pair.phone, "review", at(2, 9, 0), 90).await;
    settle(&pair).await;
    assert_exactly_once(&fake, &live_entries(&pair.phone).await);

    // An edit on the watch; Kimai fails the first PATCH before committing, then stalls the
    // next one past the relay's timeout and commits afterwards.
    fake.chaos(ChaosRule::once(
        "PATCH",
        "/api/timesheets/",
        Chaos::FailBeforeCommit(503),
    ));
    fake.chaos(ChaosRule::once(
        "PATCH",
        "/api/timesheets/",
        Chaos::StallThenCommit(Duration::from_millis(1500)),
    ));
    pair.watch.sync_once().await.unwrap();
    pair.watch
        .edit_entry(
            &a,
            EntryEdit {
                description: Some("code review".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // A second entry from the phone, a third stalled on create, then deleted on the watch.
    fake.chaos(ChaosRule::once(
        "POST",
        "/api/timesheets",
        Chaos::CommitThenStall(Duration::from_millis(1500)),
    ));
    let b = entry(&pair.phone, "planning", at(3, 14, 0), 45).await;
    let c = entry(&pair.phone, "typo", at(4, 8, 0), 15).await;
    settle(&pair).await;
    assert_exactly_once(&fake, &live_entries(&pair.phone).await);
    pair.watch.delete_entry(&c).await.unwrap();
    settle(&pair).await;

    let phone = live_entries(&pair.phone).await;
    let watch = live_entries(&pair.watch).await;
    assert_eq!(phone, watch, "both devices hold the same entries");
    assert_eq!(phone.len(), 2);
    assert!(phone.iter().any(|e| e.description == "code review"));
    assert_exactly_once(&fake, &phone);

    // Every device shows both entries as synced on the connection.
    for device in [&pair.phone, &pair.watch] {
        let links = device.connector_links().await.unwrap();
        for id in [&a, &b] {
            let link = links
                .iter()
                .find(|l| l.entry_id.to_string() == *id)
                .unwrap_or_else(|| panic!("no link for {id}: {links:#?}"));
            assert_eq!(link.state, LinkState::Synced, "{link:?}");
            assert!(link.remote_id.is_some());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_exactly_once_through_chaos_sqlite() {
    two_devices_exactly_once_through_chaos(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_exactly_once_through_chaos_postgres() {
    two_devices_exactly_once_through_chaos(Backend::Postgres).await;
}

async fn remote_changes_and_conflicts(backend: Backend) {
    let db = TestDb::new(backend).await;
    let relay = relay(&db).await;
    let fake = FakeKimai::start().await.unwrap();
    let pair = pair(&relay).await;
    connect_kimai(&pair, &fake).await;
    let a = entry(&pair.phone, "pushed", at(5, 9, 0), 60).await;
    settle(&pair).await;

    // Someone books an hour on Kimai directly: it reaches both devices.
    let remote = fake.create_timesheet(
        kimai::PROJECT_ID,
        kimai::ACTIVITY_ID,
        at(6, 10, 0),
        Some(at(6, 11, 0)),
        Some("booked in kimai"),
    );
    settle(&pair).await;
    for device in [&pair.phone, &pair.watch] {
        let entries = live_entries(device).await;
        let pulled = entries
            .iter()
            .find(|e| e.description == "booked in kimai")
            .unwrap_or_else(|| panic!("remote entry not pulled: {entries:#?}"));
        assert_eq!(pulled.source, EntrySource::Connector);
        assert_eq!(pulled.start, at(6, 10, 0));
    }
    // ...and is never pushed back as a second record.
    assert_eq!(fake.timesheets().len(), 2);

    // Changed on both sides since the last sync: a conflict on both devices, nothing overwritten.
    let pushed_id = pair
        .phone
        .connector_links()
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.entry_id.to_string() == a)
        .and_then(|l| l.remote_id)
        .unwrap();
    fake.edit_timesheet(pushed_id.parse().unwrap(), |t| {
        t.description = Some("changed in kimai".into());
    });
    pair.phone
        .edit_entry(
            &a,
            EntryEdit {
                description: Some("changed in tacho".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    pair.phone.sync_once().await.unwrap();
    let _ = pair
        .phone
        .connector_run("kimai", Duration::from_secs(30), |_| {})
        .await
        .unwrap();
    pair.watch.sync_once().await.unwrap();
    let conflicts = pair.watch.conflicts(false).await.unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:#?}");
    let (conflict_id, conflict) = &conflicts[0];
    assert_eq!(conflict.entry_id.map(|id| id.to_string()), Some(a.clone()));
    assert_eq!(
        fake.timesheet(pushed_id.parse().unwrap())
            .unwrap()
            .description
            .as_deref(),
        Some("changed in kimai"),
        "the remote side was not overwritten"
    );
    // Keep the remote values: the Tacho entry takes them on every device.
    pair.watch
        .resolve_conflict(&conflict_id.to_string(), Resolution::KeepRemote)
        .await
        .unwrap();
    settle(&pair).await;
    for device in [&pair.phone, &pair.watch] {
        let entries = live_entries(device).await;
        assert!(
            entries.iter().any(|e| e.description == "changed in kimai"),
            "{entries:#?}"
        );
        assert!(device.conflicts(false).await.unwrap().is_empty());
    }

    // Deleted on Kimai: gone from both devices.
    fake.delete_timesheet(remote.id);
    settle(&pair).await;
    for device in [&pair.phone, &pair.watch] {
        assert!(
            !live_entries(device)
                .await
                .iter()
                .any(|e| e.description == "booked in kimai")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_changes_and_conflicts_sqlite() {
    remote_changes_and_conflicts(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_changes_and_conflicts_postgres() {
    remote_changes_and_conflicts(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_changes_nothing() {
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = relay(&db).await;
    let fake = FakeKimai::start().await.unwrap();
    let pair = pair(&relay).await;
    connect_kimai(&pair, &fake).await;
    let before = pair.phone.connectors().await.unwrap();
    let err = pair
        .phone
        .connector_add("harvest", "h", None, Map::new(), "t")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown connector kind"), "{err}");
    let err = pair
        .phone
        .connector_add(
            "kimai",
            "plain",
            Some("http://kimai.example.com"),
            json!({"time_zone": "UTC"}).as_object().cloned().unwrap(),
            kimai::TOKEN,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");
    let err = pair
        .phone
        .connector_add(
            "kimai",
            "wrong token",
            Some(&fake.base_url()),
            json!({"time_zone": "UTC"}).as_object().cloned().unwrap(),
            "not-the-token",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("token"), "{err}");
    for spec in ["project=1", "project=x,activity=2", "ticket=4"] {
        let err = pair
            .phone
            .connector_map("kimai", "Client", spec)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("target"), "{spec}: {err}");
    }
    // What a person configured, not the times the background pull keeps moving.
    let configured = |list: Vec<tacho_model::api::connectors::ConnectionInfo>| {
        list.into_iter()
            .map(|c| {
                (
                    c.id, c.provider, c.label, c.base_url, c.settings, c.secrets, c.state,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        configured(pair.phone.connectors().await.unwrap()),
        configured(before)
    );
    assert_eq!(
        pair.phone.connector_mappings("kimai").await.unwrap().len(),
        1
    );
}

/// One step of a random schedule.
#[derive(Debug, Clone)]
enum Step {
    Create { on_watch: bool, minutes: i64 },
    Edit { on_watch: bool, which: usize },
    Delete { on_watch: bool, which: usize },
    Chaos(u8),
    Sync,
    Run,
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        3 => (any::<bool>(), 5_i64..240).prop_map(|(on_watch, minutes)| Step::Create { on_watch, minutes }),
        2 => (any::<bool>(), 0_usize..8).prop_map(|(on_watch, which)| Step::Edit { on_watch, which }),
        1 => (any::<bool>(), 0_usize..8).prop_map(|(on_watch, which)| Step::Delete { on_watch, which }),
        2 => (0_u8..4).prop_map(Step::Chaos),
        2 => Just(Step::Sync),
        1 => Just(Step::Run),
    ]
}

async fn schedule(steps: Vec<Step>) {
    let db = TestDb::new(Backend::Sqlite).await;
    let relay = relay(&db).await;
    let fake = FakeKimai::start().await.unwrap();
    let pair = pair(&relay).await;
    connect_kimai(&pair, &fake).await;
    pair.watch.sync_once().await.unwrap();
    let mut day = 1;
    for s in steps {
        let device = |on_watch: bool| if on_watch { &pair.watch } else { &pair.phone };
        match s {
            Step::Create { on_watch, minutes } => {
                day += 1;
                let start = Utc.with_ymd_and_hms(2026, 10, 1, 8, 0, 0).unwrap()
                    + chrono::Duration::hours(day * 5);
                entry(device(on_watch), &format!("task {day}"), start, minutes).await;
            }
            Step::Edit { on_watch, which } => {
                let entries = live_entries(device(on_watch)).await;
                if let Some(e) = entries.get(which % entries.len().max(1)) {
                    let _ = device(on_watch)
                        .edit_entry(
                            &e.id.to_string(),
                            EntryEdit {
                                description: Some(format!("{} (edited)", e.description)),
                                ..Default::default()
                            },
                        )
                        .await;
                }
            }
            Step::Delete { on_watch, which } => {
                let entries = live_entries(device(on_watch)).await;
                if let Some(e) = entries.get(which % entries.len().max(1)) {
                    let _ = device(on_watch).delete_entry(&e.id.to_string()).await;
                }
            }
            Step::Chaos(kind) => {
                let chaos = match kind {
                    0 => Chaos::DropAfterCommit,
                    1 => Chaos::FailBeforeCommit(502),
                    2 => Chaos::StallThenCommit(Duration::from_millis(1200)),
                    _ => Chaos::CommitThenStall(Duration::from_millis(1200)),
                };
                fake.chaos(ChaosRule::once("*", "/api/timesheets", chaos));
            }
            Step::Sync => {
                pair.phone.sync_once().await.unwrap();
                pair.watch.sync_once().await.unwrap();
            }
            Step::Run => {
                pair.phone.sync_once().await.unwrap();
                let _ = pair
                    .phone
                    .connector_run("kimai", Duration::from_secs(30), |_| {})
                    .await;
            }
        }
    }
    fake.clear_chaos();
    // Two rounds: the first may raise conflicts for entries edited on both devices before
    // either synced (none here: edits are Tacho-only, so none may appear).
    settle(&pair).await;
    settle(&pair).await;
    let phone = live_entries(&pair.phone).await;
    assert_eq!(phone, live_entries(&pair.watch).await);
    assert!(pair.phone.conflicts(false).await.unwrap().is_empty());
    assert_exactly_once(&fake, &phone);
}

#[test]
fn random_edit_schedules_under_chaos_stay_exactly_once() {
    use proptest::prelude::*;
    let cases = std::env::var("TACHO_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runner
        .run(&proptest::collection::vec(step(), 4..14), |steps| {
            rt.block_on(schedule(steps));
            Ok(())
        })
        .unwrap();
}
