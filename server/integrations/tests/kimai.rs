//! The Kimai connector against the strict fake Kimai (user zone Europe/Berlin), over real
//! loopback HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use tacho_fakes::kimai::{
    ACTIVITY_ID, API_PASSWORD, CUSTOMER_ID, OTHER_ACTIVITY_ID, PROJECT_ID, TOKEN, USERNAME,
};
use tacho_fakes::{Chaos, ChaosRule, FakeKimai};
use tacho_integrations::timesheets::{
    Connector, Entry, KimaiAuth, Lookup, PullCursor, Settings, Target,
};
use tacho_integrations::{Failure, Http, HttpConfig, Secret};

const BERLIN: Tz = chrono_tz::Europe::Berlin;

fn n(id: u64) -> i64 {
    i64::try_from(id).unwrap()
}

fn connector(fake: &FakeKimai, auth: KimaiAuth, token: &str) -> Connector {
    Connector::new(
        Http::new(HttpConfig::default()).unwrap(),
        Some(&fake.base_url()),
        Settings::Kimai {
            auth,
            time_zone: BERLIN,
        },
        Secret::new(token),
    )
    .unwrap()
}

fn bearer(fake: &FakeKimai) -> Connector {
    connector(fake, KimaiAuth::Bearer, TOKEN)
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

fn entry(start: &str, seconds: Option<i64>, description: &str) -> Entry {
    let start = at(start);
    Entry {
        start,
        stop: seconds.map(|s| start + TimeDelta::seconds(s)),
        description: description.into(),
        tags: vec!["car".into(), "summer tyres".into()],
        billable: true,
        target: Target::Kimai {
            project_id: n(PROJECT_ID),
            activity_id: n(ACTIVITY_ID),
        },
    }
}

#[tokio::test]
async fn both_auth_modes_verify() {
    let fake = FakeKimai::start().await.unwrap();
    let token = bearer(&fake).verify().await.unwrap();
    assert!(token.account.contains("2.26.0"), "{token:?}");
    let legacy = connector(
        &fake,
        KimaiAuth::Legacy {
            user: USERNAME.into(),
        },
        API_PASSWORD,
    );
    assert!(legacy.verify().await.unwrap().account.starts_with(USERNAME));
    let wrong = connector(&fake, KimaiAuth::Bearer, "nope");
    assert!(matches!(
        wrong.verify().await,
        Err(Failure::Auth { status: 401, .. })
    ));
}

#[tokio::test]
async fn create_get_update_changes_delete_round_trip() {
    let fake = FakeKimai::start().await.unwrap();
    let kimai = bearer(&fake);
    let pull_from = Utc::now() - TimeDelta::minutes(1);
    let e = entry("2026-06-01T06:00:00Z", Some(5400), "Tyres");
    let written = kimai.create(&e).await.unwrap();
    let body = fake.requests().last().unwrap().body.clone();
    assert!(body.contains("\"begin\":\"2026-06-01T08:00:00\""), "{body}");
    assert!(body.contains("\"tags\":\"car,summer tyres\""), "{body}");
    let id: u64 = written.remote_id.parse().unwrap();
    let stored = fake.timesheet(id).unwrap();
    assert_eq!(stored.begin, e.start);
    assert_eq!(stored.end, e.stop);
    assert_eq!(
        stored.tags,
        vec!["car".to_owned(), "summer tyres".to_owned()]
    );
    assert_eq!((stored.fixed_rate, stored.hourly_rate), (None, None));
    assert_eq!(written.entry.start, e.start);
    assert_eq!(written.entry.seconds, 5400);

    let got = kimai
        .get(&written.remote_id, &e.target)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.stop, e.stop);
    assert_eq!(got.tags, e.tags);

    let changed = entry("2026-06-01T06:30:00Z", Some(3600), "Tyres, done");
    let updated = kimai
        .update(&written.remote_id, &e.target, &changed)
        .await
        .unwrap();
    assert_eq!(updated.remote_id, written.remote_id);
    assert_eq!(fake.requests().last().unwrap().method, "PATCH");
    let stored = fake.timesheet(id).unwrap();
    assert_eq!(stored.begin, changed.start);
    assert_eq!(stored.duration, 3600);
    assert_eq!(stored.description.as_deref(), Some("Tyres, done"));

    let changes = kimai
        .changes(&PullCursor::default(), pull_from, &[])
        .await
        .unwrap();
    assert_eq!(changes.changed.len(), 1);
    assert_eq!(changes.changed[0].start, changed.start);

    kimai.delete(&written.remote_id, &e.target).await.unwrap();
    assert_eq!(
        kimai.get(&written.remote_id, &e.target).await.unwrap(),
        None
    );
    kimai.delete(&written.remote_id, &e.target).await.unwrap();
}

#[tokio::test]
async fn a_running_entry_has_no_end() {
    let fake = FakeKimai::start().await.unwrap();
    let kimai = bearer(&fake);
    let written = kimai
        .create(&entry("2026-06-01T06:00:00Z", None, "Driving"))
        .await
        .unwrap();
    assert_eq!(written.entry.stop, None);
    let stored = fake.timesheet(written.remote_id.parse().unwrap()).unwrap();
    assert_eq!(stored.end, None);
    assert!(!fake.requests().last().unwrap().body.contains("\"end\""));
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let fake = FakeKimai::start().await.unwrap();
    let kimai = bearer(&fake);
    let mut e = entry("2026-06-01T06:00:00Z", Some(60), "wrong activity");
    e.target = Target::Kimai {
        project_id: n(PROJECT_ID),
        activity_id: n(OTHER_ACTIVITY_ID),
    };
    match kimai.create(&e).await {
        Err(Failure::Refused {
            status: 400,
            message,
        }) => assert!(
            message.starts_with("Validation Failed: activity: "),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(fake.timesheets().is_empty());
}

#[tokio::test]
async fn lookups_list_projects_activities_customers() {
    let fake = FakeKimai::start().await.unwrap();
    let kimai = bearer(&fake);
    let projects = kimai.lookup(Lookup::Projects).await.unwrap();
    assert_eq!(projects.len(), 2);
    assert!(projects.iter().all(|p| p.parent == Some(n(CUSTOMER_ID))));
    let activities = kimai.lookup(Lookup::Activities).await.unwrap();
    let design = activities.iter().find(|a| a.id == n(ACTIVITY_ID)).unwrap();
    assert_eq!(design.parent, Some(n(PROJECT_ID)));
    assert!(activities.iter().any(|a| a.parent.is_none()));
    let customers = kimai.lookup(Lookup::Customers).await.unwrap();
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0].name, "Acme");
    assert!(matches!(
        kimai.lookup(Lookup::Tasks).await,
        Err(Failure::Refused { status: 400, .. })
    ));
}

#[tokio::test]
async fn pulls_and_finds_read_every_page() {
    let fake = FakeKimai::start().await.unwrap();
    let kimai = bearer(&fake);
    let pull_from = Utc::now() - TimeDelta::minutes(1);
    let base = at("2026-06-01T06:00:00Z");
    for i in 0..130 {
        let begin = base + TimeDelta::seconds(i * 10);
        fake.create_timesheet(
            PROJECT_ID,
            ACTIVITY_ID,
            begin,
            Some(begin + TimeDelta::seconds(5)),
            Some("filler"),
        );
    }
    let changes = kimai
        .changes(&PullCursor::default(), pull_from, &[])
        .await
        .unwrap();
    assert_eq!(changes.changed.len(), 130);
    let ids: HashSet<String> = changes
        .changed
        .iter()
        .map(|c| c.remote_id.clone())
        .collect();
    assert_eq!(ids.len(), 130);
    // The earliest comes last in Kimai's default order (begin, descending): on page two.
    let last = entry("2026-06-01T06:00:00Z", Some(5), "filler");
    let found = kimai
        .find(&last, Utc::now(), &HashSet::new())
        .await
        .unwrap();
    assert_eq!(found.unwrap().start, last.start);
}

#[tokio::test]
async fn a_lost_answer_is_uncertain_and_find_recovers_the_record() {
    let fake = FakeKimai::start().await.unwrap();
    let kimai = bearer(&fake);
    let e = entry("2026-06-01T06:00:00Z", Some(1800), "lost");
    let sent_at = Utc::now();
    fake.chaos(ChaosRule::once(
        "POST",
        "/api/timesheets",
        Chaos::DropAfterCommit,
    ));
    assert!(kimai.create(&e).await.unwrap_err().is_uncertain());
    let stored = fake.timesheets();
    assert_eq!(stored.len(), 1);
    let found = kimai
        .find(&e, sent_at, &HashSet::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.remote_id, stored[0].id.to_string());
    let linked: HashSet<String> = [found.remote_id].into();
    assert_eq!(kimai.find(&e, sent_at, &linked).await.unwrap(), None);
}

#[tokio::test]
async fn a_failure_before_commit_is_uncertain_and_find_returns_none() {
    let fake = FakeKimai::start().await.unwrap();
    let kimai = bearer(&fake);
    let e = entry("2026-06-01T06:00:00Z", Some(1800), "never landed");
    let sent_at = Utc::now();
    fake.chaos(ChaosRule::once(
        "POST",
        "/api/timesheets",
        Chaos::FailBeforeCommit(500),
    ));
    assert!(kimai.create(&e).await.unwrap_err().is_uncertain());
    assert!(fake.timesheets().is_empty());
    assert_eq!(
        kimai.find(&e, sent_at, &HashSet::new()).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_wrong_base_path_is_refused_not_read_as_empty() {
    let fake = FakeKimai::start().await.unwrap();
    let lost = Connector::new(
        Http::new(HttpConfig::default()).unwrap(),
        Some(&format!("{}/kimai", fake.base_url())),
        Settings::Kimai {
            auth: KimaiAuth::Bearer,
            time_zone: BERLIN,
        },
        Secret::new(TOKEN),
    )
    .unwrap();
    assert!(matches!(
        lost.verify().await,
        Err(Failure::Refused { status: 404, .. })
    ));
    assert!(matches!(
        lost.changes(&PullCursor::default(), Utc::now(), &[]).await,
        Err(Failure::Refused { status: 404, .. })
    ));
    assert!(matches!(
        lost.lookup(Lookup::Projects).await,
        Err(Failure::Refused { status: 404, .. })
    ));
}
