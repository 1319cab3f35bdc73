//! The Toggl connector against the strict fake Toggl, over real loopback HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use tacho_fakes::toggl::{TOKEN, WORKSPACE_ID};
use tacho_fakes::{Chaos, ChaosRule, FakeToggl};
use tacho_integrations::timesheets::{Connector, Entry, Lookup, PullCursor, Settings, Target};
use tacho_integrations::{Failure, Http, HttpConfig, Secret};

fn connector(fake: &FakeToggl, token: &str, workspace: u64) -> Connector {
    Connector::new(
        Http::new(HttpConfig::default()).unwrap(),
        Some(&fake.base_url()),
        Settings::Toggl {
            workspace_id: i64::try_from(workspace).unwrap(),
        },
        Secret::new(token),
    )
    .unwrap()
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).single().unwrap()
}

fn entry(description: &str, seconds: Option<i64>) -> Entry {
    Entry {
        start: start(),
        stop: seconds.map(|s| start() + TimeDelta::seconds(s)),
        description: description.into(),
        tags: vec!["car".into()],
        billable: true,
        target: Target::Toggl {
            project_id: Some(42),
            task_id: None,
        },
    }
}

fn entries_path() -> String {
    format!("/api/v9/workspaces/{WORKSPACE_ID}/time_entries")
}

#[tokio::test]
async fn verify_create_get_update_changes_delete_round_trip() {
    let fake = FakeToggl::start().await.unwrap();
    let toggl = connector(&fake, TOKEN, WORKSPACE_ID);

    let verified = toggl.verify().await.unwrap();
    assert!(
        verified.account.contains("person@example.invalid"),
        "{verified:?}"
    );

    let pull_from = Utc::now() - TimeDelta::minutes(1);
    let written = toggl
        .create(&entry("Client visit", Some(5400)))
        .await
        .unwrap();
    let id: u64 = written.remote_id.parse().unwrap();
    let stored = fake.entry(id).unwrap();
    assert_eq!(stored.created_with, "tacho");
    assert_eq!(stored.duration, 5400);
    assert_eq!(stored.start, start());
    assert_eq!(stored.project_id, Some(42));
    assert_eq!(stored.tags, vec!["car".to_owned()]);
    assert!(stored.billable);
    assert_eq!(written.entry.stop, Some(start() + TimeDelta::seconds(5400)));

    let target = written.entry.target.clone();
    let got = toggl
        .get(&written.remote_id, &target)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.description, "Client visit");
    assert_eq!(got.seconds, 5400);

    let changed = entry("Client visit, longer", Some(7200));
    let updated = toggl
        .update(&written.remote_id, &target, &changed)
        .await
        .unwrap();
    assert_eq!(updated.remote_id, written.remote_id);
    let stored = fake.entry(id).unwrap();
    assert_eq!(stored.duration, 7200);
    assert_eq!(stored.description.as_deref(), Some("Client visit, longer"));

    let first = toggl
        .changes(&PullCursor::default(), pull_from, &[])
        .await
        .unwrap();
    assert_eq!(first.changed.len(), 1);
    assert_eq!(first.changed[0].remote_id, written.remote_id);
    assert_eq!(first.changed[0].seconds, 7200);
    assert!(first.deleted.is_empty());
    let cursor = first.next.clone();
    assert!(cursor.since.is_some());

    toggl.delete(&written.remote_id, &target).await.unwrap();
    assert!(fake.entries().is_empty());
    assert_eq!(toggl.get(&written.remote_id, &target).await.unwrap(), None);
    // Gone already: still success.
    toggl.delete(&written.remote_id, &target).await.unwrap();

    let second = toggl.changes(&cursor, pull_from, &[]).await.unwrap();
    assert_eq!(second.deleted, vec![written.remote_id.clone()]);
    assert!(second.changed.is_empty());

    // The quota headers of the last answer were recorded.
    let quota = toggl.quota().unwrap();
    assert!(quota.remaining < 30, "{quota:?}");
}

#[tokio::test]
async fn a_running_entry_is_sent_with_duration_minus_one() {
    let fake = FakeToggl::start().await.unwrap();
    let toggl = connector(&fake, TOKEN, WORKSPACE_ID);
    let written = toggl.create(&entry("Driving", None)).await.unwrap();
    let stored = fake.entry(written.remote_id.parse().unwrap()).unwrap();
    assert!(stored.is_running());
    assert_eq!(stored.duration, -1);
    assert_eq!(written.entry.stop, None);
    let body = fake.requests().last().unwrap().body.clone();
    assert!(body.contains("\"duration\":-1"), "{body}");
}

#[tokio::test]
async fn lookups_list_projects_and_tasks_and_refuse_the_rest() {
    let fake = FakeToggl::start().await.unwrap();
    fake.add_project(WORKSPACE_ID, 42, "Garage", Some(5));
    fake.add_project(WORKSPACE_ID + 1, 43, "Elsewhere", None);
    fake.add_task(WORKSPACE_ID, 42, 900, "Brakes");
    let toggl = connector(&fake, TOKEN, WORKSPACE_ID);

    let projects = toggl.lookup(Lookup::Projects).await.unwrap();
    assert_eq!(projects.len(), 1);
    assert_eq!((projects[0].id, projects[0].name.as_str()), (42, "Garage"));
    assert_eq!(projects[0].parent, Some(5));
    let tasks = toggl.lookup(Lookup::Tasks).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!((tasks[0].id, tasks[0].parent), (900, Some(42)));
    assert!(matches!(
        toggl.lookup(Lookup::Types).await,
        Err(Failure::Refused { status: 400, .. })
    ));
}

#[tokio::test]
async fn a_wrong_token_is_auth_and_a_foreign_workspace_is_refused() {
    let fake = FakeToggl::start().await.unwrap();
    let wrong = connector(&fake, "not-the-token", WORKSPACE_ID);
    assert!(matches!(
        wrong.verify().await,
        Err(Failure::Auth { status: 403, .. })
    ));
    assert!(matches!(
        wrong.create(&entry("x", Some(60))).await,
        Err(Failure::Auth { status: 403, .. })
    ));
    let elsewhere = connector(&fake, TOKEN, WORKSPACE_ID + 9);
    assert!(matches!(
        elsewhere.verify().await,
        Err(Failure::Refused { status: 403, .. })
    ));
    assert!(fake.entries().is_empty());
}

#[tokio::test]
async fn the_hourly_quota_is_a_quota_failure_with_its_reset() {
    let fake = FakeToggl::start().await.unwrap();
    fake.set_quota(2, Duration::from_secs(600));
    let toggl = connector(&fake, TOKEN, WORKSPACE_ID);
    toggl.create(&entry("one", Some(60))).await.unwrap();
    toggl.create(&entry("two", Some(60))).await.unwrap();
    assert_eq!(toggl.quota().unwrap().remaining, 0);
    match toggl.create(&entry("three", Some(60))).await {
        Err(Failure::Quota { resets_in }) => {
            assert!(resets_in > Duration::ZERO && resets_in <= Duration::from_secs(600));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.entries().len(), 2);

    fake.chaos(ChaosRule::once(
        "POST",
        &entries_path(),
        Chaos::status(429, "\"Too Many Requests\"").with_header("Retry-After", "3"),
    ));
    fake.set_quota(10, Duration::from_secs(600));
    assert_eq!(
        toggl.create(&entry("four", Some(60))).await,
        Err(Failure::RateLimited {
            retry_after: Some(Duration::from_secs(3))
        })
    );
}

#[tokio::test]
async fn a_lost_answer_is_uncertain_and_find_recovers_the_record() {
    let fake = FakeToggl::start().await.unwrap();
    let toggl = connector(&fake, TOKEN, WORKSPACE_ID);
    let e = entry("Lost answer", Some(1800));
    let sent_at = Utc::now();
    fake.chaos(ChaosRule::once(
        "POST",
        &entries_path(),
        Chaos::DropAfterCommit,
    ));
    let failure = toggl.create(&e).await.unwrap_err();
    assert!(failure.is_uncertain(), "{failure:?}");
    let stored = fake.entries();
    assert_eq!(stored.len(), 1);

    let found = toggl
        .find(&e, sent_at, &HashSet::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.remote_id, stored[0].id.to_string());
    // Already linked to another Tacho entry: not ours.
    let linked: HashSet<String> = [found.remote_id.clone()].into();
    assert_eq!(toggl.find(&e, sent_at, &linked).await.unwrap(), None);
    // A different description is a different entry.
    assert_eq!(
        toggl
            .find(&entry("Other", Some(1800)), sent_at, &HashSet::new())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_failure_before_commit_is_uncertain_and_find_returns_none() {
    let fake = FakeToggl::start().await.unwrap();
    let toggl = connector(&fake, TOKEN, WORKSPACE_ID);
    let e = entry("Never landed", Some(1800));
    let sent_at = Utc::now();
    fake.chaos(ChaosRule::once(
        "POST",
        &entries_path(),
        Chaos::FailBeforeCommit(503),
    ));
    let failure = toggl.create(&e).await.unwrap_err();
    assert!(failure.is_uncertain(), "{failure:?}");
    assert!(fake.entries().is_empty());
    assert_eq!(
        toggl.find(&e, sent_at, &HashSet::new()).await.unwrap(),
        None
    );
    // So sending again is safe, and makes exactly one.
    toggl.create(&e).await.unwrap();
    assert_eq!(fake.entries().len(), 1);
}

#[tokio::test]
async fn a_validation_error_is_refused_with_toggls_message() {
    let fake = FakeToggl::start().await.unwrap();
    let toggl = connector(&fake, TOKEN, WORKSPACE_ID);
    let mut e = entry("Too early", Some(60));
    e.start = Utc.with_ymd_and_hms(2001, 1, 1, 0, 0, 0).single().unwrap();
    e.stop = Some(e.start + TimeDelta::seconds(60));
    assert_eq!(
        toggl.create(&e).await,
        Err(Failure::Refused {
            status: 400,
            message: "Start time year must be between 2006 and 2030".into()
        })
    );
}
