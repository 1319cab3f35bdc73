//! The fake Kimai enforces the sheet's contract, paging and chaos, seen through real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{TimeZone, Utc};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tacho_fakes::kimai::{
    ACTIVITY_ID, API_PASSWORD, GLOBAL_ACTIVITY_ID, OTHER_ACTIVITY_ID, OTHER_PROJECT_ID, PROJECT_ID,
    TOKEN, USERNAME,
};
use tacho_fakes::{Chaos, ChaosRule, FakeKimai};

fn valid() -> Value {
    json!({
        "begin": "2026-06-01T09:00:00",
        "end": "2026-06-01T10:30:00",
        "project": PROJECT_ID,
        "activity": ACTIVITY_ID,
        "description": "Design review",
        "tags": "tacho, review",
    })
}

async fn send(req: RequestBuilder) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let r = req.bearer_auth(TOKEN).send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    )
}

#[tokio::test]
async fn create_reads_wall_time_in_the_users_zone_and_renders_plus_0200() {
    let fake = FakeKimai::start().await.unwrap();
    let client = Client::new();
    let url = format!("{}/api/timesheets", fake.base_url());
    let (status, t, _) = send(client.post(&url).json(&valid())).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["begin"], "2026-06-01T09:00:00+0200");
    assert_eq!(t["end"], "2026-06-01T10:30:00+0200");
    assert_eq!(t["duration"], 5400);
    assert_eq!(t["tags"], json!(["tacho", "review"]));
    let stored = fake.timesheet(t["id"].as_u64().unwrap()).unwrap();
    assert_eq!(
        stored.begin,
        Utc.with_ymd_and_hms(2026, 6, 1, 7, 0, 0).unwrap()
    );
    assert_eq!(
        stored.fixed_rate, None,
        "rates not sent are recorded as not sent"
    );
    assert_eq!(stored.hourly_rate, None);

    // The legacy headers work as well; rates that are sent are recorded.
    let mut with_rates = valid();
    with_rates["fixedRate"] = json!(0);
    with_rates["hourlyRate"] = json!(0);
    let r = client
        .post(&url)
        .header("X-AUTH-USER", USERNAME)
        .header("X-AUTH-TOKEN", API_PASSWORD)
        .json(&with_rates)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        fake.count(|t| t.fixed_rate == Some(0.0) && t.hourly_rate == Some(0.0)),
        1
    );

    // No end: a running timer, which (hard limit 1) stops when the next one starts.
    let mut running = valid();
    running.as_object_mut().unwrap().remove("end");
    running["begin"] = json!("2026-06-02T08:00:00");
    let (status, first, _) = send(client.post(&url).json(&running)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["end"], Value::Null);
    running["begin"] = json!("2026-06-02T09:00:00");
    send(client.post(&url).json(&running)).await;
    assert_eq!(fake.count(|t| t.end.is_none()), 1);
    assert!(
        fake.timesheet(first["id"].as_u64().unwrap())
            .unwrap()
            .end
            .is_some()
    );
}

#[tokio::test]
async fn violations_answer_400_in_kimais_form_error_shape() {
    let fake = FakeKimai::start().await.unwrap();
    let client = Client::new();
    let url = format!("{}/api/timesheets", fake.base_url());
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut patch = |key: &str, value: Value, field: &'static str| {
        let mut b = valid();
        b[key] = value;
        cases.push((b, field));
    };
    patch("begin", json!("2026-06-01T09:00:00+02:00"), "begin");
    patch("begin", json!("2026-06-01T07:00:00Z"), "begin");
    patch("end", json!("2026-06-01 10:30"), "end");
    patch("tags", json!(["tacho", "review"]), "tags");
    patch("project", json!(999), "project");
    patch("activity", json!(OTHER_ACTIVITY_ID), "activity");
    patch("end", json!("2026-06-01T08:00:00"), "end");
    patch("project", json!("1"), "project");
    for key in ["begin", "project", "activity"] {
        let mut b = valid();
        b.as_object_mut().unwrap().remove(key);
        cases.push((b, key));
    }
    for (body, field) in cases {
        let (status, e, _) = send(client.post(&url).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(e["code"], 400, "{e}");
        assert!(e["message"].is_string());
        let errors = &e["errors"]["children"][field]["errors"];
        assert!(
            errors.as_array().is_some_and(|a| !a.is_empty()),
            "{field} in {e}"
        );
    }
    let mut extra = valid();
    extra["source"] = json!("tacho");
    let (status, e, _) = send(client.post(&url).json(&extra)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        e["errors"]["errors"][0],
        "This form should not contain extra fields."
    );
    assert!(fake.timesheets().is_empty());

    // A global activity is fine with any project that allows them.
    let mut global = valid();
    global["project"] = json!(OTHER_PROJECT_ID);
    global["activity"] = json!(GLOBAL_ACTIVITY_ID);
    assert_eq!(
        send(client.post(&url).json(&global)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn patch_get_delete_and_auth() {
    let fake = FakeKimai::start().await.unwrap();
    let client = Client::new();
    let url = format!("{}/api/timesheets", fake.base_url());
    let (_, t, _) = send(client.post(&url).json(&valid())).await;
    let one = format!("{url}/{}", t["id"]);
    let (status, patched, _) =
        send(client.patch(&one).json(&json!({"description": "renamed"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["description"], "renamed");
    assert_eq!(patched["duration"], 5400, "partial: the rest is kept");
    let (status, _, _) = send(
        client
            .patch(&one)
            .json(&json!({"begin": "2026-06-01T09:00:00+0200"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(send(client.get(&one)).await.0, StatusCode::OK);
    assert_eq!(send(client.delete(&one)).await.0, StatusCode::NO_CONTENT);
    let (status, e, _) = send(client.get(&one)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(e["code"], 404);

    let r = client
        .get(format!("{}/api/ping", fake.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = client
        .get(format!("{}/api/version", fake.base_url()))
        .header("X-AUTH-USER", USERNAME)
        .header("X-AUTH-TOKEN", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (status, config, _) =
        send(client.get(format!("{}/api/config/timesheet", fake.base_url()))).await;
    assert_eq!(status, StatusCode::OK);
    for key in [
        "trackingMode",
        "defaultBeginTime",
        "activeEntriesHardLimit",
        "isAllowFutureTimes",
        "isAllowOverlapping",
    ] {
        assert!(config.get(key).is_some(), "{key}");
    }
    let (_, activities, _) = send(client.get(format!(
        "{}/api/activities?project={PROJECT_ID}",
        fake.base_url()
    )))
    .await;
    let names: Vec<&str> = activities
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Design", "Meeting"]);
    fake.revoke_token(TOKEN);
    assert_eq!(
        send(client.get(format!("{}/api/ping", fake.base_url())))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn list_pages_with_headers_and_404_past_the_last_page() {
    let fake = FakeKimai::start().await.unwrap();
    let client = Client::new();
    for day in 1..=5 {
        let begin = Utc.with_ymd_and_hms(2026, 6, day, 7, 0, 0).unwrap();
        fake.create_timesheet(
            PROJECT_ID,
            ACTIVITY_ID,
            begin,
            Some(begin + chrono::TimeDelta::hours(1)),
            None,
        );
    }
    let base = format!(
        "{}/api/timesheets?size=2&orderBy=begin&order=ASC",
        fake.base_url()
    );
    let (status, page, headers) = send(client.get(format!("{base}&page=3"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(headers["X-Page"], "3");
    assert_eq!(headers["X-Total-Count"], "5");
    assert_eq!(headers["X-Total-Pages"], "3");
    assert_eq!(headers["X-Per-Page"], "2");
    assert_eq!(page[0]["begin"], "2026-06-05T09:00:00+0200");
    let (status, e, _) = send(client.get(format!("{base}&page=4"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(e["code"], 404);

    let (_, filtered, _) = send(client.get(format!(
        "{}/api/timesheets?begin=2026-06-02T00:00:00&end=2026-06-03T23:59:59&projects[]={PROJECT_ID}",
        fake.base_url()
    )))
    .await;
    assert_eq!(filtered.as_array().unwrap().len(), 2);
    let (status, _, _) = send(client.get(format!(
        "{}/api/timesheets?begin=2026-06-02T00:00:00Z",
        fake.base_url()
    )))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, none, headers) = send(client.get(format!(
        "{}/api/timesheets?projects[]={OTHER_PROJECT_ID}",
        fake.base_url()
    )))
    .await;
    assert_eq!(none, json!([]));
    assert_eq!(headers["X-Total-Count"], "0");
}

#[tokio::test]
async fn modified_after_sees_remote_edits() {
    let fake = FakeKimai::start().await.unwrap();
    let client = Client::new();
    let begin = Utc.with_ymd_and_hms(2026, 6, 1, 7, 0, 0).unwrap();
    let sheet = fake.create_timesheet(
        PROJECT_ID,
        ACTIVITY_ID,
        begin,
        Some(begin + chrono::TimeDelta::hours(1)),
        None,
    );
    let count = |listed: Value| listed.as_array().unwrap().len();
    let past = format!(
        "{}/api/timesheets?modified_after=2020-01-01T00:00:00",
        fake.base_url()
    );
    let future = format!(
        "{}/api/timesheets?modified_after=2099-01-01T00:00:00",
        fake.base_url()
    );
    assert_eq!(count(send(client.get(&past)).await.1), 1);
    assert_eq!(count(send(client.get(&future)).await.1), 0);
    let edited = fake
        .edit_timesheet(sheet.id, |t| t.description = Some("remote".into()))
        .unwrap();
    assert!(edited.modified_at >= sheet.modified_at);
    assert_eq!(edited.duration, 3600);
    assert!(fake.delete_timesheet(sheet.id));
    assert_eq!(
        count(send(client.get(&past)).await.1),
        0,
        "no tombstones in Kimai"
    );
}

#[tokio::test]
async fn drop_after_commit_and_fail_before_commit() {
    let fake = FakeKimai::start().await.unwrap();
    let client = Client::new();
    let url = format!("{}/api/timesheets", fake.base_url());
    fake.chaos(ChaosRule::once(
        "POST",
        "/api/timesheets",
        Chaos::FailBeforeCommit(500),
    ));
    fake.chaos(ChaosRule::once(
        "POST",
        "/api/timesheets",
        Chaos::DropAfterCommit,
    ));
    assert_eq!(
        send(client.post(&url).json(&valid())).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert!(fake.timesheets().is_empty());
    let error = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&valid())
        .send()
        .await
        .expect_err("transport error");
    assert!(!error.is_status());
    assert_eq!(
        fake.count(|t| t.description.as_deref() == Some("Design review")),
        1
    );
}
