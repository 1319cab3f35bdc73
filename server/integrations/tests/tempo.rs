//! The Tempo connector against the strict fake Tempo, over real loopback HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use tacho_fakes::tempo::{ACCOUNT_ID, ISSUE_ID, PROJECT_ID, TOKEN};
use tacho_fakes::{Chaos, ChaosRule, FakeTempo};
use tacho_integrations::timesheets::{Connector, Entry, Lookup, PullCursor, Settings, Target};
use tacho_integrations::{Failure, Http, HttpConfig, Secret};

const BERLIN: Tz = chrono_tz::Europe::Berlin;

fn connector(fake: &FakeTempo, token: &str) -> Connector {
    Connector::new(
        Http::new(HttpConfig::default()).unwrap(),
        Some(&fake.base_url()),
        Settings::Tempo {
            account_id: ACCOUNT_ID.to_owned(),
            time_zone: BERLIN,
        },
        Secret::new(token),
    )
    .unwrap()
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

/// 01:30 UTC on the night Berlin moves to summer time: 03:30 local.
fn entry(issue: i64, seconds: Option<i64>, description: &str) -> Entry {
    let start = at("2026-03-29T01:30:00Z");
    Entry {
        start,
        stop: seconds.map(|s| start + TimeDelta::seconds(s)),
        description: description.into(),
        tags: Vec::new(),
        billable: true,
        target: Target::Tempo { issue_id: issue },
    }
}

async fn fake() -> FakeTempo {
    let fake = FakeTempo::start().await.unwrap();
    fake.set_worker_zone(BERLIN);
    fake
}

#[tokio::test]
async fn verify_create_get_update_move_changes_delete_round_trip() {
    let fake = fake().await;
    fake.add_issue(ISSUE_ID + 1, PROJECT_ID);
    let tempo = connector(&fake, TOKEN);
    assert_eq!(tempo.verify().await.unwrap().account, ACCOUNT_ID);

    let pull_from = Utc::now() - TimeDelta::minutes(1);
    let e = entry(ISSUE_ID, Some(5400), "Sprint review");
    let written = tempo.create(&e).await.unwrap();
    let id: u64 = written.remote_id.parse().unwrap();
    let stored = fake.worklog(id).unwrap();
    assert_eq!(
        stored.start_date,
        NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()
    );
    assert_eq!(
        stored.start_time,
        NaiveTime::from_hms_opt(3, 30, 0).unwrap()
    );
    assert_eq!(stored.time_spent_seconds, 5400);
    assert_eq!(stored.billable_seconds, 5400);
    assert_eq!(stored.author_account_id, ACCOUNT_ID);
    assert_eq!(written.entry.start, e.start);
    assert_eq!(written.entry.stop, e.stop);

    let got = tempo
        .get(&written.remote_id, &e.target)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.description, "Sprint review");
    assert_eq!(got.start, e.start);

    // Someone set a work attribute in Tempo: a PUT that left it out would erase it.
    fake.edit_worklog(id, |w| {
        w.attributes = vec![("_Account_".to_owned(), "ACME".to_owned())];
    });
    let mut longer = entry(ISSUE_ID, Some(7200), "Sprint review and retro");
    longer.billable = false;
    let updated = tempo
        .update(&written.remote_id, &e.target, &longer)
        .await
        .unwrap();
    assert_eq!(updated.remote_id, written.remote_id);
    let stored = fake.worklog(id).unwrap();
    assert_eq!(stored.time_spent_seconds, 7200);
    assert_eq!(stored.billable_seconds, 0);
    assert_eq!(stored.description, "Sprint review and retro");
    assert_eq!(
        stored.attributes,
        vec![("_Account_".to_owned(), "ACME".to_owned())]
    );

    // Another issue: delete + create, with the new id in the answer.
    let moved = entry(ISSUE_ID + 1, Some(7200), "Sprint review and retro");
    let rewritten = tempo
        .update(&written.remote_id, &longer.target, &moved)
        .await
        .unwrap();
    assert_ne!(rewritten.remote_id, written.remote_id);
    assert!(fake.worklog(id).is_none());
    let new_id: u64 = rewritten.remote_id.parse().unwrap();
    assert_eq!(fake.worklog(new_id).unwrap().issue_id, ISSUE_ID + 1);
    assert_eq!(fake.worklogs().len(), 1);

    // A colleague's worklog is not pulled as ours.
    fake.create_worklog(
        ISSUE_ID,
        "someone-else",
        NaiveDate::from_ymd_opt(2026, 3, 30).unwrap(),
        NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        600,
    );
    let changes = tempo
        .changes(&PullCursor::default(), pull_from, &[])
        .await
        .unwrap();
    assert_eq!(changes.changed.len(), 1);
    assert_eq!(changes.changed[0].remote_id, rewritten.remote_id);
    assert_eq!(
        changes.changed[0].target,
        Target::Tempo {
            issue_id: ISSUE_ID + 1
        }
    );
    assert!(changes.next.since.is_some());

    tempo
        .delete(&rewritten.remote_id, &moved.target)
        .await
        .unwrap();
    assert_eq!(
        tempo
            .get(&rewritten.remote_id, &moved.target)
            .await
            .unwrap(),
        None
    );
    tempo
        .delete(&rewritten.remote_id, &moved.target)
        .await
        .unwrap();
}

#[tokio::test]
async fn running_entries_and_lookups_are_refused_without_a_request() {
    let fake = fake().await;
    let tempo = connector(&fake, TOKEN);
    assert!(matches!(
        tempo.create(&entry(ISSUE_ID, None, "still going")).await,
        Err(Failure::Refused { status: 400, .. })
    ));
    assert!(matches!(
        tempo.lookup(Lookup::Projects).await,
        Err(Failure::Refused { status: 400, .. })
    ));
    assert_eq!(fake.request_count(), 0);
}

#[tokio::test]
async fn a_wrong_token_is_auth_and_a_bad_issue_is_refused_with_tempos_message() {
    let fake = fake().await;
    let wrong = connector(&fake, "nope");
    assert!(matches!(
        wrong.verify().await,
        Err(Failure::Auth { status: 401, .. })
    ));
    let tempo = connector(&fake, TOKEN);
    match tempo.create(&entry(999, Some(60), "x")).await {
        Err(Failure::Refused {
            status: 400,
            message,
        }) => assert!(message.contains("Issue does not exist"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_lost_answer_is_uncertain_and_find_recovers_the_record() {
    let fake = fake().await;
    let tempo = connector(&fake, TOKEN);
    let e = entry(ISSUE_ID, Some(1800), "lost");
    let sent_at = Utc::now();
    fake.chaos(ChaosRule::once(
        "POST",
        "/4/worklogs",
        Chaos::DropAfterCommit,
    ));
    let failure = tempo.create(&e).await.unwrap_err();
    assert!(failure.is_uncertain(), "{failure:?}");
    let stored = fake.worklogs();
    assert_eq!(stored.len(), 1);
    let found = tempo
        .find(&e, sent_at, &HashSet::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.remote_id, stored[0].id.to_string());
    let linked: HashSet<String> = [found.remote_id].into();
    assert_eq!(tempo.find(&e, sent_at, &linked).await.unwrap(), None);
    // Another duration on the same issue and minute is another worklog.
    assert_eq!(
        tempo
            .find(
                &entry(ISSUE_ID, Some(1860), "lost"),
                sent_at,
                &HashSet::new()
            )
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_failure_before_commit_is_uncertain_and_find_returns_none() {
    let fake = fake().await;
    let tempo = connector(&fake, TOKEN);
    let e = entry(ISSUE_ID, Some(1800), "never landed");
    let sent_at = Utc::now();
    fake.chaos(ChaosRule::once(
        "POST",
        "/4/worklogs",
        Chaos::FailBeforeCommit(502),
    ));
    assert!(tempo.create(&e).await.unwrap_err().is_uncertain());
    assert!(fake.worklogs().is_empty());
    assert_eq!(
        tempo.find(&e, sent_at, &HashSet::new()).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn pulls_follow_metadata_next_across_pages() {
    let fake = fake().await;
    let tempo = connector(&fake, TOKEN);
    let pull_from = Utc::now() - TimeDelta::minutes(1);
    let day = NaiveDate::from_ymd_opt(2026, 5, 4).unwrap();
    // One more than the connector's page size (1000).
    for i in 0..1001 {
        let time = NaiveTime::from_num_seconds_from_midnight_opt(i * 60, 0).unwrap();
        fake.create_worklog(ISSUE_ID, ACCOUNT_ID, day, time, 60);
    }
    let changes = tempo
        .changes(&PullCursor::default(), pull_from, &[])
        .await
        .unwrap();
    assert_eq!(changes.changed.len(), 1001);
    let ids: HashSet<&str> = changes
        .changed
        .iter()
        .map(|c| c.remote_id.as_str())
        .collect();
    assert_eq!(ids.len(), 1001);
    assert_eq!(fake.count_requests("GET", "/4/worklogs"), 2);
}
