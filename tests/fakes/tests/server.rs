//! The shared machinery: stopping on drop, the request log and the chaos queue's matching rules.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use reqwest::{Client, StatusCode};
use tacho_fakes::zammad::{ADMIN_TOKEN, TICKET_ID};
use tacho_fakes::{Chaos, ChaosRule, FakeZammad};

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let fake = FakeZammad::start().await.unwrap();
    let url = format!("{}/api/v1/users/me", fake.base_url());
    let client = Client::new();
    let auth = format!("Token token={ADMIN_TOKEN}");
    assert_eq!(
        client
            .get(&url)
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert!(fake.base_url().starts_with("http://127.0.0.1:"));
    drop(fake);
    tokio::task::yield_now().await;
    let error = client
        .get(&url)
        .header("Authorization", &auth)
        .send()
        .await
        .expect_err("stopped");
    assert!(!error.is_status());
}

#[tokio::test]
async fn the_log_records_requests_and_chaos_rules_match_method_and_prefix() {
    let fake = FakeZammad::start().await.unwrap();
    let client = Client::new();
    let auth = format!("Token token={ADMIN_TOKEN}");
    let list = format!(
        "{}/api/v1/tickets/{TICKET_ID}/time_accountings",
        fake.base_url()
    );
    // A POST rule does not touch GETs; an `always` rule keeps applying until cleared.
    fake.chaos(ChaosRule::once(
        "POST",
        "/api/v1/tickets",
        Chaos::FailBeforeCommit(500),
    ));
    fake.chaos(ChaosRule::always(
        "*",
        "/api/v1/time_accounting",
        Chaos::status(429, "{}").with_header("Retry-After", "1"),
    ));
    let r = client
        .get(format!("{list}?page=1"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let types = format!("{}/api/v1/time_accounting/types", fake.base_url());
    for _ in 0..2 {
        let r = client
            .get(&types)
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["Retry-After"], "1");
    }
    assert_eq!(
        fake.pending_chaos().len(),
        2,
        "the once rule is still waiting for a POST"
    );
    fake.clear_chaos();
    let r = client
        .get(&types)
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let log = fake.requests();
    assert_eq!(log.len(), 4);
    assert_eq!(log[0].method, "GET");
    assert_eq!(
        log[0].path,
        format!("/api/v1/tickets/{TICKET_ID}/time_accountings")
    );
    assert_eq!(log[0].query.as_deref(), Some("page=1"));
    assert_eq!(log[0].status, Some(200));
    assert_eq!(log[1].status, Some(429));
    assert_eq!(fake.count_requests("GET", "/api/v1/time_accounting/"), 3);
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
    fake.clear_requests();
    assert_eq!(fake.request_count(), 0);
}
