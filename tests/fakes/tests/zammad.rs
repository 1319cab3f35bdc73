//! The fake Zammad enforces the sheet's contract, roles and chaos, seen through real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tacho_fakes::zammad::{ADMIN_TOKEN, AGENT_TOKEN, AGENT_USER_ID, TICKET_ID, TYPE_ID};
use tacho_fakes::{Chaos, ChaosRule, FakeZammad};

async fn send(req: RequestBuilder, token: &str) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let r = req
        .header("Authorization", format!("Token token={token}"))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    )
}

fn accountings(fake: &FakeZammad, ticket: u64) -> String {
    format!(
        "{}/api/v1/tickets/{ticket}/time_accountings",
        fake.base_url()
    )
}

#[tokio::test]
async fn create_show_list_and_the_string_time_unit_rule() {
    let fake = FakeZammad::start().await.unwrap();
    let client = Client::new();
    let url = accountings(&fake, TICKET_ID);
    let (status, r, _) = send(
        client
            .post(&url)
            .json(&json!({"time_unit": "15", "type_id": TYPE_ID})),
        AGENT_TOKEN,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(r["time_unit"], "15.0");
    assert_eq!(r["ticket_id"], TICKET_ID);
    assert_eq!(r["ticket_article_id"], Value::Null);
    assert_eq!(r["type_id"], TYPE_ID);
    assert_eq!(r["created_by_id"], AGENT_USER_ID);
    assert!(r["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(r["updated_at"].is_string());

    let (status, e, _) = send(
        client
            .post(&url)
            .json(&json!({"time_unit": 15, "type_id": TYPE_ID})),
        AGENT_TOKEN,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"].is_string() && e["error_human"].is_string());
    for bad in [
        json!({"time_unit": "a quarter"}),
        json!({"type_id": TYPE_ID}),
        json!({"time_unit": "1.0", "type_id": 999}),
    ] {
        let (status, _, _) = send(client.post(&url).json(&bad), AGENT_TOKEN).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(fake.records().len(), 1);

    let (status, e, _) = send(
        client
            .post(accountings(&fake, 999))
            .json(&json!({"time_unit": "1.0"})),
        AGENT_TOKEN,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(e["error"].as_str().unwrap().contains("Ticket"));

    let (status, shown, _) = send(client.get(format!("{url}/{}", r["id"])), AGENT_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, r);
    let (status, types, _) = send(
        client.get(format!("{}/api/v1/time_accounting/types", fake.base_url())),
        AGENT_TOKEN,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(types.as_array().unwrap().iter().any(|t| t["id"] == TYPE_ID));
    let (status, me, _) = send(
        client.get(format!("{}/api/v1/users/me", fake.base_url())),
        AGENT_TOKEN,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], AGENT_USER_ID);
}

#[tokio::test]
async fn agents_get_403_on_put_and_delete_admins_do_not() {
    let fake = FakeZammad::start().await.unwrap();
    let client = Client::new();
    let record = fake
        .create_time_accounting(TICKET_ID, "30", Some(TYPE_ID))
        .unwrap();
    let one = format!("{}/{}", accountings(&fake, TICKET_ID), record.id);

    let (status, e, headers) = send(
        client
            .put(&one)
            .json(&json!({"time_unit": "45.0", "type_id": TYPE_ID})),
        AGENT_TOKEN,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(e["error"].is_string() && e["error_human"].is_string());
    assert!(headers.contains_key("X-Failure"));
    let (status, _, headers) = send(client.delete(&one), AGENT_TOKEN).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.contains_key("X-Failure"));
    assert_eq!(
        fake.record(record.id).unwrap().time_unit,
        "30.0",
        "untouched"
    );

    let (status, updated, _) = send(
        client
            .put(&one)
            .json(&json!({"time_unit": "45.0", "type_id": TYPE_ID})),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["time_unit"], "45.0");
    let (status, _, _) = send(
        client.put(&one).json(&json!({"time_unit": 45})),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = send(client.delete(&one), ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    assert!(fake.records().is_empty());
    assert_eq!(
        send(client.get(&one), ADMIN_TOKEN).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn auth_without_credentials_is_403_with_x_failure() {
    let fake = FakeZammad::start().await.unwrap();
    let client = Client::new();
    let me = format!("{}/api/v1/users/me", fake.base_url());
    let r = client.get(&me).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().contains_key("X-Failure"));
    let r = client
        .get(&me)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "Bearer is for OAuth only"
    );
    assert!(r.headers().contains_key("X-Failure"));
    fake.revoke_token(ADMIN_TOKEN);
    assert_eq!(
        send(client.get(&me), ADMIN_TOKEN).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn paging_runs_until_an_empty_page() {
    let fake = FakeZammad::start().await.unwrap();
    let client = Client::new();
    for minutes in 1..=5 {
        fake.create_time_accounting(TICKET_ID, &minutes.to_string(), None)
            .unwrap();
    }
    let mut units = Vec::new();
    for page in 1.. {
        let url = format!("{}?page={page}&per_page=2", accountings(&fake, TICKET_ID));
        let (status, list, _) = send(client.get(url), AGENT_TOKEN).await;
        assert_eq!(status, StatusCode::OK);
        let list = list.as_array().unwrap().clone();
        if list.is_empty() {
            assert_eq!(page, 4);
            break;
        }
        units.extend(
            list.iter()
                .map(|r| r["time_unit"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(units, ["1.0", "2.0", "3.0", "4.0", "5.0"]);
}

#[tokio::test]
async fn drop_after_commit_and_fail_before_commit() {
    let fake = FakeZammad::start().await.unwrap();
    let client = Client::new();
    let url = accountings(&fake, TICKET_ID);
    fake.chaos(ChaosRule::once(
        "POST",
        "/api/v1/tickets/",
        Chaos::FailBeforeCommit(503),
    ));
    fake.chaos(ChaosRule::once(
        "POST",
        "/api/v1/tickets/",
        Chaos::DropAfterCommit,
    ));
    let body = json!({"time_unit": "60.0", "type_id": TYPE_ID});
    assert_eq!(
        send(client.post(&url).json(&body), AGENT_TOKEN).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(fake.records().is_empty());
    let error = client
        .post(&url)
        .header("Authorization", format!("Token token={AGENT_TOKEN}"))
        .json(&body)
        .send()
        .await
        .expect_err("transport error");
    assert!(!error.is_status());
    assert_eq!(fake.count(|r| r.time_unit == "60.0"), 1);
}
