//! The Zammad connector against the strict fake Zammad, over real loopback HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use tacho_fakes::zammad::{ADMIN_TOKEN, AGENT_TOKEN, TICKET_ID, TYPE_ID};
use tacho_fakes::{Chaos, ChaosRule, FakeZammad};
use tacho_integrations::timesheets::{
    Connector, Entry, Lookup, PullCursor, Settings, Target, ZammadUnit,
};
use tacho_integrations::{Failure, Http, HttpConfig, Secret};

fn connector(fake: &FakeZammad, token: &str, unit: ZammadUnit) -> Connector {
    Connector::new(
        Http::new(HttpConfig::default()).unwrap(),
        Some(&fake.base_url()),
        Settings::Zammad {
            unit,
            default_type_id: Some(i64::try_from(TYPE_ID).unwrap()),
        },
        Secret::new(token),
    )
    .unwrap()
}

fn ticket() -> i64 {
    i64::try_from(TICKET_ID).unwrap()
}

fn entry(seconds: Option<i64>, type_id: Option<i64>) -> Entry {
    let start = DateTime::parse_from_rfc3339("2026-02-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    Entry {
        start,
        stop: seconds.map(|s| start + TimeDelta::seconds(s)),
        description: "kept nowhere".into(),
        tags: Vec::new(),
        billable: false,
        target: Target::Zammad {
            ticket_id: ticket(),
            type_id,
        },
    }
}

fn records_path() -> String {
    format!("/api/v1/tickets/{TICKET_ID}/time_accountings")
}

#[tokio::test]
async fn verify_create_get_update_changes_delete_round_trip() {
    let fake = FakeZammad::start().await.unwrap();
    let zammad = connector(&fake, ADMIN_TOKEN, ZammadUnit::Minute);
    assert_eq!(
        zammad.verify().await.unwrap().account,
        "user3@example.invalid"
    );

    let e = entry(Some(5400), None);
    let before = Utc::now();
    let written = zammad.create(&e).await.unwrap();
    let id: u64 = written.remote_id.parse().unwrap();
    let stored = fake.record(id).unwrap();
    assert_eq!(stored.time_unit, "90.0");
    assert_eq!(stored.type_id, Some(TYPE_ID));
    // No start on Zammad: the record's creation stands in for it.
    assert!(written.entry.start >= before - TimeDelta::seconds(1));
    assert_eq!(written.entry.seconds, 5400);
    assert_eq!(
        written.entry.stop,
        Some(written.entry.start + TimeDelta::seconds(5400))
    );

    let got = zammad
        .get(&written.remote_id, &e.target)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.seconds, 5400);
    assert_eq!(
        got.target,
        Target::Zammad {
            ticket_id: ticket(),
            type_id: Some(i64::try_from(TYPE_ID).unwrap())
        }
    );

    let longer = entry(Some(7200), Some(1));
    zammad
        .update(&written.remote_id, &e.target, &longer)
        .await
        .unwrap();
    let stored = fake.record(id).unwrap();
    assert_eq!(stored.time_unit, "120.0");
    assert_eq!(stored.type_id, Some(1));

    // An unknown ticket contributes nothing; the known one lists its record.
    let changes = zammad
        .changes(&PullCursor::default(), Utc::now(), &[ticket(), 9999])
        .await
        .unwrap();
    assert_eq!(changes.changed.len(), 1);
    assert_eq!(changes.changed[0].seconds, 7200);

    zammad.delete(&written.remote_id, &e.target).await.unwrap();
    assert!(fake.records().is_empty());
    assert_eq!(
        zammad.get(&written.remote_id, &e.target).await.unwrap(),
        None
    );
    zammad.delete(&written.remote_id, &e.target).await.unwrap();
}

#[tokio::test]
async fn hours_are_sent_as_decimal_hours() {
    let fake = FakeZammad::start().await.unwrap();
    let zammad = connector(&fake, ADMIN_TOKEN, ZammadUnit::Hour);
    let written = zammad.create(&entry(Some(5400), None)).await.unwrap();
    let body = fake.requests().last().unwrap().body.clone();
    assert!(body.contains("\"time_unit\":\"1.5\""), "{body}");
    assert_eq!(
        fake.record(written.remote_id.parse().unwrap())
            .unwrap()
            .time_unit,
        "1.5"
    );
    assert_eq!(written.entry.seconds, 5400);
}

#[tokio::test]
async fn an_agent_may_book_but_its_edits_are_conflicts() {
    let fake = FakeZammad::start().await.unwrap();
    let agent = connector(&fake, AGENT_TOKEN, ZammadUnit::Minute);
    agent.verify().await.unwrap();
    let e = entry(Some(900), None);
    let written = agent.create(&e).await.unwrap();
    match agent
        .update(&written.remote_id, &e.target, &entry(Some(1800), None))
        .await
    {
        Err(Failure::Refused {
            status: 403,
            message,
        }) => assert!(message.contains("admin.time_accounting"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        agent.delete(&written.remote_id, &e.target).await,
        Err(Failure::Refused { status: 403, .. })
    ));
    assert_eq!(fake.records().len(), 1);
    assert_eq!(fake.records()[0].time_unit, "15.0");
}

#[tokio::test]
async fn a_wrong_token_is_auth() {
    let fake = FakeZammad::start().await.unwrap();
    let wrong = connector(&fake, "nope", ZammadUnit::Minute);
    assert!(matches!(
        wrong.verify().await,
        Err(Failure::Auth { status: 401, .. })
    ));
    assert!(matches!(
        wrong.create(&entry(Some(60), None)).await,
        Err(Failure::Auth { status: 401, .. })
    ));
}

#[tokio::test]
async fn types_are_the_only_lookup_and_running_entries_are_refused() {
    let fake = FakeZammad::start().await.unwrap();
    let zammad = connector(&fake, ADMIN_TOKEN, ZammadUnit::Minute);
    let types = zammad.lookup(Lookup::Types).await.unwrap();
    let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["Billable", "Remote support"]);
    assert!(matches!(
        zammad.lookup(Lookup::Projects).await,
        Err(Failure::Refused { status: 400, .. })
    ));
    assert!(matches!(
        zammad.create(&entry(None, None)).await,
        Err(Failure::Refused { status: 400, .. })
    ));
    assert!(fake.records().is_empty());
}

#[tokio::test]
async fn a_lost_answer_is_uncertain_and_find_recovers_the_record() {
    let fake = FakeZammad::start().await.unwrap();
    let zammad = connector(&fake, ADMIN_TOKEN, ZammadUnit::Minute);
    // A colleague booked the same amount an hour ago (by the fake's clock, now): only records
    // created after the send minus a minute are candidates, so shift it back.
    let old = fake
        .create_time_accounting(TICKET_ID, "30", Some(TYPE_ID))
        .unwrap();
    fake.edit_time_accounting(old.id, |r| r.created_at -= TimeDelta::hours(1));
    let e = entry(Some(1800), None);
    let sent_at = Utc::now();
    fake.chaos(ChaosRule::once(
        "POST",
        &records_path(),
        Chaos::DropAfterCommit,
    ));
    assert!(zammad.create(&e).await.unwrap_err().is_uncertain());
    let ours = fake.records().into_iter().find(|r| r.id != old.id).unwrap();
    let found = zammad
        .find(&e, sent_at, &HashSet::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.remote_id, ours.id.to_string());
    let linked: HashSet<String> = [found.remote_id].into();
    assert_eq!(zammad.find(&e, sent_at, &linked).await.unwrap(), None);
}

#[tokio::test]
async fn a_failure_before_commit_is_uncertain_and_find_returns_none() {
    let fake = FakeZammad::start().await.unwrap();
    let zammad = connector(&fake, ADMIN_TOKEN, ZammadUnit::Minute);
    let e = entry(Some(1800), None);
    let sent_at = Utc::now();
    fake.chaos(ChaosRule::once(
        "POST",
        &records_path(),
        Chaos::FailBeforeCommit(503),
    ));
    assert!(zammad.create(&e).await.unwrap_err().is_uncertain());
    assert!(fake.records().is_empty());
    assert_eq!(
        zammad.find(&e, sent_at, &HashSet::new()).await.unwrap(),
        None
    );
}
