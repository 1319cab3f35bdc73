//! The fake Tempo enforces the sheet's contract and chaos, seen through real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{NaiveDate, NaiveTime};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tacho_fakes::tempo::{ACCOUNT_ID, ISSUE_ID, TOKEN};
use tacho_fakes::{Chaos, ChaosRule, FakeTempo};

fn valid() -> Value {
    json!({
        "authorAccountId": ACCOUNT_ID,
        "issueId": ISSUE_ID,
        "startDate": "2026-03-02",
        "startTime": "08:30:00",
        "timeSpentSeconds": 5400,
        "description": "Workshop",
    })
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value, String) {
    let r = req.bearer_auth(TOKEN).send().await.unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        ct,
    )
}

#[tokio::test]
async fn create_replace_delete_follow_the_contract() {
    let fake = FakeTempo::start().await.unwrap();
    let client = Client::new();
    let url = format!("{}/4/worklogs", fake.base_url());

    let (status, w, _) = send(client.post(&url).json(&valid())).await;
    assert_eq!(status, StatusCode::OK);
    let id = w["tempoWorklogId"].as_u64().unwrap();
    assert_eq!(w["issue"]["id"], ISSUE_ID);
    assert_eq!(w["author"]["accountId"], ACCOUNT_ID);
    assert_eq!(w["startTime"], "08:30:00");
    assert_eq!(w["billableSeconds"], 5400);
    assert!(w["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(w["updatedAt"].is_string());

    // PUT replaces: the description and start time not sent again are cleared to defaults.
    let put =
        json!({"authorAccountId": ACCOUNT_ID, "startDate": "2026-03-03", "timeSpentSeconds": 600});
    let (status, w, _) = send(client.put(format!("{url}/{id}")).json(&put)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(w["description"], "");
    assert_eq!(w["startTime"], "00:00:00");
    assert_eq!(w["issue"]["id"], ISSUE_ID, "the issue is kept");
    let stored = fake.worklog(id).unwrap();
    assert_eq!(stored.time_spent_seconds, 600);
    assert_eq!(
        stored.start_date,
        NaiveDate::from_ymd_opt(2026, 3, 3).unwrap()
    );

    // A PUT carrying issueId is refused.
    let mut moved = put.clone();
    moved["issueId"] = json!(ISSUE_ID);
    let (status, e, _) = send(client.put(format!("{url}/{id}")).json(&moved)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(e["errors"]["message"].as_str().unwrap().contains("issueId"));

    let (status, _, _) = send(client.delete(format!("{url}/{id}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, e, _) = send(client.get(format!("{url}/{id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(e["errors"]["message"].is_string());
    assert!(fake.worklogs().is_empty());
}

#[tokio::test]
async fn each_violation_is_a_400_in_tempos_error_shape() {
    let fake = FakeTempo::start().await.unwrap();
    let client = Client::new();
    let url = format!("{}/4/worklogs", fake.base_url());
    let mut cases: Vec<(Value, &str)> = Vec::new();
    for key in [
        "authorAccountId",
        "issueId",
        "startDate",
        "timeSpentSeconds",
    ] {
        let mut b = valid();
        b.as_object_mut().unwrap().remove(key);
        cases.push((b, key));
    }
    let mut patch = |key: &str, value: Value, expect: &'static str| {
        let mut b = valid();
        b[key] = value;
        cases.push((b, expect));
    };
    patch("issueId", json!("10001"), "issueId");
    patch("issueId", json!(99), "Issue does not exist");
    patch("startDate", json!("02.03.2026"), "yyyy-MM-dd");
    patch("startDate", json!("2026-03-02T08:00:00Z"), "yyyy-MM-dd");
    patch("startTime", json!("08:30"), "HH:mm:ss");
    patch("timeSpentSeconds", json!(-1), "timeSpentSeconds");
    patch("timeSpentSeconds", json!(90.5), "timeSpentSeconds");
    for (body, expect) in cases {
        let (status, e, _) = send(client.post(&url).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = e["errors"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("shape: {e}"));
        assert!(
            message.contains(expect),
            "{message:?} should mention {expect:?}"
        );
    }
    assert!(fake.worklogs().is_empty());
}

#[tokio::test]
async fn auth_failures_are_401_html() {
    let fake = FakeTempo::start().await.unwrap();
    let client = Client::new();
    let url = format!("{}/4/worklogs", fake.base_url());
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let r = client.get(&url).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    fake.revoke_token(TOKEN);
    let (status, _, ct) = send(client.get(&url)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(ct.starts_with("text/html"));
}

#[tokio::test]
async fn list_pages_with_next_and_updated_from_omits_deletions() {
    let fake = FakeTempo::start().await.unwrap();
    let client = Client::new();
    let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let ids: Vec<u64> = (0..5)
        .map(|i| {
            fake.create_worklog(ISSUE_ID, ACCOUNT_ID, day, NaiveTime::MIN, 60 * (i + 1))
                .id
        })
        .collect();
    assert!(fake.delete_worklog(ids[4]));

    let mut url = format!(
        "{}/4/worklogs?issueId={ISSUE_ID}&limit=2&updatedFrom=2020-01-01",
        fake.base_url()
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, page, _) = send(client.get(&url)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        assert_eq!(page["metadata"]["limit"], 2);
        assert!(page["self"].as_str().unwrap().starts_with(&fake.base_url()));
        for w in page["results"].as_array().unwrap() {
            seen.push(w["tempoWorklogId"].as_u64().unwrap());
        }
        match page["metadata"]["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(seen, ids[..4], "the deleted worklog never shows up");

    let (_, default, _) = send(client.get(format!("{}/4/worklogs", fake.base_url()))).await;
    assert_eq!(default["metadata"]["limit"], 50);
    let (status, _, _) =
        send(client.get(format!("{}/4/worklogs?limit=5001", fake.base_url()))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, none, _) = send(client.get(format!(
        "{}/4/worklogs?from=2026-03-03&to=2026-03-04",
        fake.base_url()
    )))
    .await;
    assert_eq!(none["metadata"]["count"], 0);
}

#[tokio::test]
async fn drop_after_commit_and_fail_before_commit() {
    let fake = FakeTempo::start().await.unwrap();
    let client = Client::new();
    let url = format!("{}/4/worklogs", fake.base_url());
    fake.chaos(ChaosRule::once(
        "POST",
        "/4/worklogs",
        Chaos::FailBeforeCommit(502),
    ));
    fake.chaos(ChaosRule::once(
        "POST",
        "/4/worklogs",
        Chaos::DropAfterCommit,
    ));
    let (status, _, _) = send(client.post(&url).json(&valid())).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        fake.worklogs().is_empty(),
        "nothing applied before the failure"
    );
    let error = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&valid())
        .send()
        .await
        .expect_err("transport error");
    assert!(!error.is_status());
    assert_eq!(
        fake.count(|w| w.description == "Workshop"),
        1,
        "the write landed"
    );
}
