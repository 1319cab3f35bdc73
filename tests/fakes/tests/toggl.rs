//! The fake Toggl enforces the sheet's contract, its quota and chaos, seen through real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use base64::Engine;
use chrono::{TimeDelta, Utc};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tacho_fakes::toggl::{TOKEN, WORKSPACE_ID};
use tacho_fakes::{Chaos, ChaosRule, FakeToggl};

fn basic(token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{token}:api_token"))
    )
}

fn create_url(fake: &FakeToggl, wid: u64) -> String {
    format!("{}/api/v9/workspaces/{wid}/time_entries", fake.base_url())
}

fn valid_body() -> Value {
    json!({
        "workspace_id": WORKSPACE_ID,
        "created_with": "tacho",
        "start": "2026-03-02T08:00:00Z",
        "duration": 3600,
        "description": "Client visit",
    })
}

async fn post(client: &Client, fake: &FakeToggl, body: &Value) -> (StatusCode, Value) {
    let r = client
        .post(create_url(fake, WORKSPACE_ID))
        .header("Authorization", basic(TOKEN))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_correct_create_works_and_each_violation_gets_a_bare_string_400() {
    let fake = FakeToggl::start().await.unwrap();
    let client = Client::new();

    let (status, created) = post(&client, &fake, &valid_body()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(created["start"], "2026-03-02T08:00:00Z");
    assert_eq!(created["stop"], "2026-03-02T09:00:00Z");
    assert_eq!(created["duration"], 3600);
    assert_eq!(created["workspace_id"], WORKSPACE_ID);
    assert!(created["id"].as_u64().unwrap() > u64::from(u32::MAX));
    assert!(created.get("data").is_none(), "bare object, not wrapped");
    assert_eq!(fake.entries().len(), 1);

    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut without = |key: &str, expect: &'static str| {
        let mut b = valid_body();
        b.as_object_mut().unwrap().remove(key);
        cases.push((b, expect));
    };
    without("workspace_id", "workspace_id");
    without("created_with", "created_with");
    without("start", "start");
    without("duration", "duration");
    let mut wrong_ws = valid_body();
    wrong_ws["workspace_id"] = json!(WORKSPACE_ID + 1);
    cases.push((wrong_ws, "does not match"));
    let mut bad_stop = valid_body();
    bad_stop["stop"] = json!("2026-03-02T09:00:01Z");
    cases.push((bad_stop, "start + duration"));
    let mut old = valid_body();
    old["start"] = json!("2005-03-02T08:00:00Z");
    cases.push((old, "between 2006 and 2030"));
    let mut string_id = valid_body();
    string_id["workspace_id"] = json!(WORKSPACE_ID.to_string());
    cases.push((string_id, "integer"));
    for (body, expect) in cases {
        let (status, answer) = post(&client, &fake, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = answer
            .as_str()
            .unwrap_or_else(|| panic!("bare string error, got {answer}"));
        assert!(
            message.contains(expect),
            "{message:?} should mention {expect:?}"
        );
    }
    assert_eq!(fake.entries().len(), 1, "no violation was stored");

    // Matching stop + duration is fine; the answer's stop is what was sent.
    let mut both = valid_body();
    both["stop"] = json!("2026-03-02T09:00:00Z");
    assert_eq!(post(&client, &fake, &both).await.0, StatusCode::OK);

    // A body that is not declared JSON is refused.
    let r = client
        .post(create_url(&fake, WORKSPACE_ID))
        .header("Authorization", basic(TOKEN))
        .body(valid_body().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn auth_is_401_without_a_header_and_403_with_a_wrong_or_revoked_token() {
    let fake = FakeToggl::start().await.unwrap();
    let client = Client::new();
    let me = format!("{}/api/v9/me", fake.base_url());
    let r = client.get(&me).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["X-Authorization-Missing"], "true");
    let r = client
        .get(&me)
        .header("Authorization", basic("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.json::<Value>().await.unwrap().is_string());
    let r = client
        .get(&me)
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.json::<Value>().await.unwrap()["id"].is_u64());
    fake.revoke_token(TOKEN);
    let r = client
        .get(&me)
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn running_timer_current_stop_and_409() {
    let fake = FakeToggl::start().await.unwrap();
    let client = Client::new();
    let current = format!("{}/api/v9/me/time_entries/current", fake.base_url());
    let none: Value = client
        .get(&current)
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none, Value::Null);

    let mut running = valid_body();
    running["start"] = json!((Utc::now() - TimeDelta::minutes(5)).to_rfc3339());
    running["duration"] = json!(-1);
    let (status, created) = post(&client, &fake, &running).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(created["stop"], Value::Null);
    let id = created["id"].as_u64().unwrap();
    let now_running: Value = client
        .get(&current)
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now_running["id"], id);

    let stop = format!("{}/{id}/stop", create_url(&fake, WORKSPACE_ID));
    let r = client
        .patch(&stop)
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let stopped: Value = r.json().await.unwrap();
    assert!(stopped["duration"].as_i64().unwrap() >= 300);
    let r = client
        .patch(&stop)
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn since_returns_tombstones_and_rejects_since_with_before() {
    let fake = FakeToggl::start().await.unwrap();
    let client = Client::new();
    let before_all = Utc::now().timestamp() - 1;
    let (_, kept) = post(&client, &fake, &valid_body()).await;
    let (_, gone) = post(&client, &fake, &valid_body()).await;
    let gone_id = gone["id"].as_u64().unwrap();
    let r = client
        .delete(format!("{}/{gone_id}", create_url(&fake, WORKSPACE_ID)))
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A person deletes another one in Toggl's UI.
    let remote = fake.create_entry(
        WORKSPACE_ID,
        Utc::now() - TimeDelta::hours(2),
        60,
        Some("ui"),
    );
    assert!(fake.delete_entry(remote.id));

    let list = format!("{}/api/v9/me/time_entries", fake.base_url());
    let pulled: Vec<Value> = client
        .get(format!("{list}?since={before_all}"))
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pulled.len(), 3);
    let deleted: Vec<u64> = pulled
        .iter()
        .filter(|e| !e["server_deleted_at"].is_null())
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(deleted.len(), 2);
    assert!(deleted.contains(&gone_id) && deleted.contains(&remote.id));
    assert!(
        pulled[0]["start"].as_str().unwrap().ends_with("+00:00"),
        "lists render +00:00"
    );

    // Without since, deleted entries are not listed.
    let plain: Vec<Value> = client
        .get(&list)
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0]["id"], kept["id"]);

    let r = client
        .get(format!("{list}?since={before_all}&before=2026-12-01"))
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!("'since' and 'before' can not be present simultaneously")
    );

    let ranged: Vec<Value> = client
        .get(format!("{list}?start_date=2026-03-02&end_date=2026-03-03"))
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ranged.len(), 1);
    let empty: Vec<Value> = client
        .get(format!("{list}?start_date=2026-03-03&end_date=2026-03-04"))
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(empty.is_empty());
}

#[tokio::test]
async fn update_bumps_at_and_remote_edits_show_up_in_since() {
    let fake = FakeToggl::start().await.unwrap();
    let client = Client::new();
    let (_, created) = post(&client, &fake, &valid_body()).await;
    let id = created["id"].as_u64().unwrap();
    let r = client
        .put(format!("{}/{id}", create_url(&fake, WORKSPACE_ID)))
        .header("Authorization", basic(TOKEN))
        .json(&json!({"duration": 1800}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["stop"], "2026-03-02T08:30:00Z");
    assert_eq!(
        updated["description"], "Client visit",
        "PUT keeps fields not sent"
    );
    let edited = fake
        .edit_entry(id, |e| e.description = Some("renamed".into()))
        .unwrap();
    assert!(edited.at >= fake.entry(id).unwrap().start);
    assert_eq!(
        fake.count(|e| e.description.as_deref() == Some("renamed")),
        1
    );
}

#[tokio::test]
async fn quota_answers_402_with_headers_and_recovers_after_the_window() {
    let fake = FakeToggl::start().await.unwrap();
    fake.set_quota(3, Duration::from_millis(1500));
    let client = Client::new();
    let me = format!("{}/api/v9/me", fake.base_url());
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = client
            .get(&me)
            .header("Authorization", basic(TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        remaining.push(
            r.headers()["X-Toggl-Quota-Remaining"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
        assert!(r.headers().contains_key("X-Toggl-Quota-Resets-In"));
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let r = client
        .get(&me)
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(r.headers()["X-Toggl-Quota-Remaining"], "0");
    let resets: u64 = r.headers()["X-Toggl-Quota-Resets-In"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&resets), "{resets}");
    assert!(r.json::<Value>().await.unwrap().is_string());
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let r = client
        .get(&me)
        .header("Authorization", basic(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["X-Toggl-Quota-Remaining"], "2");
    assert_eq!(fake.count_requests("GET", "/api/v9/me"), 5);
}

#[tokio::test]
async fn leaky_bucket_answers_429_with_retry_after() {
    let fake = FakeToggl::start().await.unwrap();
    fake.set_leaky_bucket(Some((2, Duration::from_secs(1))));
    let client = Client::new();
    let me = format!("{}/api/v9/me", fake.base_url());
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = client
            .get(&me)
            .header("Authorization", basic(TOKEN))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.headers()["Retry-After"], "1");
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
}

#[tokio::test]
async fn drop_after_commit_is_a_transport_error_with_the_entry_stored() {
    let fake = FakeToggl::start().await.unwrap();
    let path = format!("/api/v9/workspaces/{WORKSPACE_ID}/time_entries");
    fake.chaos(ChaosRule::once("POST", &path, Chaos::DropAfterCommit));
    let client = Client::new();
    let result = client
        .post(create_url(&fake, WORKSPACE_ID))
        .header("Authorization", basic(TOKEN))
        .json(&valid_body())
        .send()
        .await;
    let error = result.expect_err("no status may reach the client");
    assert!(!error.is_status());
    assert_eq!(fake.entries().len(), 1, "the write landed");
    assert_eq!(fake.requests().last().unwrap().status, None);
    // The rule was used up: the next create answers normally.
    assert_eq!(post(&client, &fake, &valid_body()).await.0, StatusCode::OK);
    assert_eq!(fake.entries().len(), 2);
}

#[tokio::test]
async fn fail_before_commit_and_injected_status_store_nothing() {
    let fake = FakeToggl::start().await.unwrap();
    let path = format!("/api/v9/workspaces/{WORKSPACE_ID}/time_entries");
    fake.chaos(ChaosRule::once("POST", &path, Chaos::FailBeforeCommit(503)));
    fake.chaos(ChaosRule::once(
        "POST",
        &path,
        Chaos::status(402, "\"quota\"").with_header("X-Toggl-Quota-Resets-In", "60"),
    ));
    let client = Client::new();
    assert_eq!(
        post(&client, &fake, &valid_body()).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let r = client
        .post(create_url(&fake, WORKSPACE_ID))
        .header("Authorization", basic(TOKEN))
        .json(&valid_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(r.headers()["X-Toggl-Quota-Resets-In"], "60");
    assert!(fake.entries().is_empty());
    assert!(fake.pending_chaos().is_empty());
}

#[tokio::test]
async fn stall_then_commit_times_the_client_out_and_lands_later() {
    let fake = FakeToggl::start().await.unwrap();
    let path = format!("/api/v9/workspaces/{WORKSPACE_ID}/time_entries");
    fake.chaos(ChaosRule::once(
        "POST",
        &path,
        Chaos::StallThenCommit(Duration::from_millis(600)),
    ));
    fake.chaos(ChaosRule::once(
        "POST",
        &path,
        Chaos::CommitThenStall(Duration::from_millis(600)),
    ));
    let client = Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();

    let error = client
        .post(create_url(&fake, WORKSPACE_ID))
        .header("Authorization", basic(TOKEN))
        .json(&valid_body())
        .send()
        .await
        .expect_err("times out");
    assert!(error.is_timeout());
    assert!(
        fake.entries().is_empty(),
        "not yet committed when the client gives up"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        fake.entries().len(),
        1,
        "committed after the client hung up"
    );

    let error = client
        .post(create_url(&fake, WORKSPACE_ID))
        .header("Authorization", basic(TOKEN))
        .json(&valid_body())
        .send()
        .await
        .expect_err("times out");
    assert!(error.is_timeout());
    assert_eq!(fake.entries().len(), 2, "committed before the stall");
}
