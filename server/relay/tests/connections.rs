//! The connection registry (`/v1/connections…`), the webhook intake keyed by provider
//! (`/v1/hooks/{provider}/{connection}`), the Zammad aliases that predate them, and schema v8's
//! move of v4's Zammad rows into the registry. Every scenario runs on a temporary SQLite file and
//! on a fresh PostgreSQL database (127.0.0.1:5432, or `TACHO_TEST_PG_URL`).

// Test helpers may panic on broken fixtures; that is a test failure, not a bug in the relay.
#![allow(clippy::expect_used, clippy::panic)]

use hmac::{Hmac, Mac as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row as _;
use tacho_relay::accounts::tokens::{Claims, sign};
use tacho_relay::secrets::MasterKeys;
use uuid::Uuid;

#[path = "support/harness.rs"]
#[macro_use]
mod harness;
use harness::*;

const API_TOKEN: &str = "api-token-PLAINTEXT-1";
const HOOK_SECRET: &str = "hook-secret-PLAINTEXT-2";

impl Relay {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        answer(req.send().await.expect("send")).await
    }

    async fn signup(&self, email: &str) -> String {
        let (s, session) = self
            .call(
                "POST",
                "/v1/auth/signup",
                None,
                Some(&json!({"email": email, "password": "correct horse battery",
                    "device_id": Uuid::now_v7(), "device_name": "test"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{session}");
        session["access_token"].as_str().expect("token").to_owned()
    }

    /// A Zammad-style delivery to `path`.
    async fn deliver(
        &self,
        path: &str,
        body: &[u8],
        secret: &str,
        delivery: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("x-zammad-trigger", "time accounted")
            .header("x-hub-signature", zammad_signature(secret, body))
            .body(body.to_vec());
        if let Some(d) = delivery {
            req = req.header("x-zammad-delivery", d);
        }
        answer(req.send().await.expect("send")).await
    }

    async fn count(&self, sql: &str, bind: &str) -> i64 {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(bind.to_owned())
            .fetch_one(&self.state.db().pool)
            .await
            .expect("count")
            .try_get::<i64, _>(0)
            .expect("n")
    }
}

fn zammad_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha1={hex}")
}

fn refused(s: StatusCode, body: &Value, status: StatusCode, code: &str) {
    assert_eq!((s, body["code"].as_str()), (status, Some(code)), "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

fn no_secrets(answer: &Value) {
    assert!(!answer.to_string().contains("PLAINTEXT"), "{answer}");
}

fn new_zammad() -> Value {
    json!({
        "provider": "zammad",
        "label": "  Helpdesk  ",
        "base_url": "https://helpdesk.example.org/",
        "settings": {"time_unit": "hour"},
        "secrets": {"api_token": API_TOKEN, "webhook_secret": HOOK_SECRET},
    })
}

async fn keyed(db: &TestDb, line: &str) -> Relay {
    let keys = MasterKeys::parse(line).expect("keys");
    start_with(db, |c| c.master_keys = Some(keys)).await
}

on_both_databases!(
    registry_crud_and_errors,
    another_account_gets_not_found,
    zammad_routes_are_aliases_of_the_registry,
    intake_verifies_and_dedupes_per_provider,
    migration_carries_zammad_rows_over,
    deleting_the_account_removes_its_connections,
    routes_are_in_the_openapi_document,
    secrets_stay_out_of_the_logs,
);

/// Everything logged in this test process, at every level, once [`capture_logs`] ran.
static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
    std::sync::OnceLock::new();

#[derive(Clone)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Capture(buf.clone());
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .init();
        buf
    })
    .clone()
}

async fn registry_crud_and_errors(db: TestDb) {
    // No master key: nothing is stored.
    let keyless = start(&db).await;
    let t = keyless.signup("keyless@example.org").await;
    let (s, b) = keyless
        .call("POST", "/v1/connections", Some(&t), Some(&new_zammad()))
        .await;
    refused(
        s,
        &b,
        StatusCode::SERVICE_UNAVAILABLE,
        "secrets_unavailable",
    );
    let (s, b) = keyless.call("GET", "/v1/connections", Some(&t), None).await;
    assert_eq!((s, &b), (StatusCode::OK, &json!({"connections": []})));
    drop(keyless);

    let relay = keyed(&db, &MasterKeys::generate_line(1)).await;
    let ann = relay.signup("ann@example.org").await;
    let (s, b) = relay
        .call("POST", "/v1/connections", None, Some(&new_zammad()))
        .await;
    refused(s, &b, StatusCode::UNAUTHORIZED, "missing_token");

    // Bad input: a specific 422 code per kind of field, naming the field.
    let bad = |patch: Value| {
        let mut body = new_zammad();
        for (k, v) in patch.as_object().expect("object") {
            if v.is_null() {
                body.as_object_mut().expect("object").remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    for (body, code, field) in [
        (
            bad(json!({"provider": "harvest"})),
            "unknown_provider",
            None,
        ),
        (bad(json!({"colour": "red"})), "invalid_body", None),
        (
            bad(json!({"base_url": "ftp://x"})),
            "invalid_base_url",
            Some("base_url"),
        ),
        (
            bad(json!({"base_url": "https://u:p@x.org"})),
            "invalid_base_url",
            Some("base_url"),
        ),
        (
            bad(json!({"base_url": null})),
            "invalid_base_url",
            Some("base_url"),
        ),
        (
            bad(json!({"label": "x".repeat(201)})),
            "invalid_label",
            Some("label"),
        ),
        (
            bad(json!({"settings": {"time_unit": "week"}})),
            "invalid_settings",
            Some("settings.time_unit"),
        ),
        (
            bad(json!({"settings": {"colour": "red"}})),
            "invalid_settings",
            Some("settings.colour"),
        ),
        (
            bad(json!({"secrets": {"api_token": API_TOKEN}})),
            "invalid_secret",
            Some("secrets.webhook_secret"),
        ),
        (
            bad(json!({"secrets": {"api_token": API_TOKEN, "webhook_secret": " "}})),
            "invalid_secret",
            Some("secrets.webhook_secret"),
        ),
        (
            bad(
                json!({"secrets": {"api_token": API_TOKEN, "webhook_secret": HOOK_SECRET, "password": "x"}}),
            ),
            "invalid_secret",
            Some("secrets.password"),
        ),
    ] {
        let (s, b) = relay
            .call("POST", "/v1/connections", Some(&ann), Some(&body))
            .await;
        refused(s, &b, StatusCode::UNPROCESSABLE_ENTITY, code);
        assert_eq!(b["field"].as_str(), field, "{body} -> {b}");
        no_secrets(&b);
    }
    assert_eq!(
        relay
            .count(
                "SELECT COUNT(*) FROM connections WHERE provider = $1",
                "zammad"
            )
            .await,
        0
    );
    assert_eq!(
        relay
            .count("SELECT COUNT(*) FROM sealed_secrets WHERE field <> $1", "")
            .await,
        0
    );

    // Create: trimmed label and URL, settings kept, secrets named but never shown.
    let (s, conn) = relay
        .call("POST", "/v1/connections", Some(&ann), Some(&new_zammad()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    no_secrets(&conn);
    let id = conn["id"].as_str().expect("id").to_owned();
    assert_eq!(conn["provider"], "zammad");
    assert_eq!(conn["label"], "Helpdesk");
    assert_eq!(conn["base_url"], "https://helpdesk.example.org");
    assert_eq!(conn["settings"], json!({"time_unit": "hour"}));
    assert_eq!(conn["secrets"], json!(["api_token", "webhook_secret"]));
    assert_eq!(conn["webhook_path"], format!("/v1/hooks/zammad/{id}"));
    // Stored sealed, under the connection's own name.
    let sealed: Vec<String> = sqlx::query("SELECT sealed FROM sealed_secrets WHERE provider = $1")
        .bind(format!("zammad/{id}"))
        .fetch_all(&relay.state.db().pool)
        .await
        .expect("sealed")
        .iter()
        .map(|r| r.try_get("sealed").expect("sealed"))
        .collect();
    assert_eq!(sealed.len(), 2);
    assert!(
        sealed
            .iter()
            .all(|v| v.starts_with("tk1.v1.") && !v.contains("PLAINTEXT"))
    );

    // Read: the list and the item show the same.
    let path = format!("/v1/connections/{id}");
    let (s, shown) = relay.call("GET", &path, Some(&ann), None).await;
    assert_eq!((s, &shown), (StatusCode::OK, &conn));
    let (s, list) = relay.call("GET", "/v1/connections", Some(&ann), None).await;
    assert_eq!(
        (s, &list),
        (StatusCode::OK, &json!({"connections": [conn]}))
    );

    // Update: label, a setting, and a rotated webhook secret (the old one stops verifying).
    let body = br#"{"ticket":{"id":7}}"#;
    let hook = format!("/v1/hooks/zammad/{id}");
    let (s, b) = relay.deliver(&hook, body, HOOK_SECRET, Some("d-1")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = relay
        .call(
            "PATCH",
            &path,
            Some(&ann),
            Some(&json!({"settings": {"time_unit": "week"}})),
        )
        .await;
    refused(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_settings");
    let (s, b) = relay
        .call(
            "PATCH",
            &path,
            Some(&ann),
            Some(&json!({"secrets": {"nope": "x"}})),
        )
        .await;
    refused(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_secret");
    let (s, patched) = relay
        .call(
            "PATCH",
            &path,
            Some(&ann),
            Some(
                &json!({"label": "Support", "settings": {"time_unit": "minute"},
                "secrets": {"webhook_secret": "rotated-PLAINTEXT-3"}}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{patched}");
    no_secrets(&patched);
    assert_eq!(patched["label"], "Support");
    assert_eq!(patched["settings"], json!({"time_unit": "minute"}));
    assert_eq!(patched["base_url"], "https://helpdesk.example.org");
    assert_eq!(patched["secrets"], json!(["api_token", "webhook_secret"]));
    assert_eq!(patched["created_at"], conn["created_at"]);
    let (s, b) = relay.deliver(&hook, body, HOOK_SECRET, Some("d-2")).await;
    refused(s, &b, StatusCode::UNAUTHORIZED, "bad_signature");
    let (s, b) = relay
        .deliver(&hook, body, "rotated-PLAINTEXT-3", Some("d-2"))
        .await;
    assert_eq!(
        (s, &b),
        (
            StatusCode::OK,
            &json!({"delivery": "d-2", "duplicate": false})
        )
    );
    let (s, shown) = relay.call("GET", &path, Some(&ann), None).await;
    assert_eq!((s, &shown), (StatusCode::OK, &patched));
    // An empty label removes it.
    let (s, b) = relay
        .call("PATCH", &path, Some(&ann), Some(&json!({"label": ""})))
        .await;
    assert_eq!((s, &b["label"]), (StatusCode::OK, &Value::Null), "{b}");

    // Delete: the row, its secrets and its events go; then 404.
    assert_eq!(
        relay
            .count(
                "SELECT COUNT(*) FROM connection_events WHERE connection_id = $1",
                &id
            )
            .await,
        2
    );
    let (s, _) = relay.call("DELETE", &path, Some(&ann), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = relay.call("GET", &path, Some(&ann), None).await;
    refused(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = relay.call("DELETE", &path, Some(&ann), None).await;
    refused(s, &b, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        relay
            .count(
                "SELECT COUNT(*) FROM connection_events WHERE connection_id = $1",
                &id
            )
            .await,
        0
    );
    assert_eq!(
        relay
            .count(
                "SELECT COUNT(*) FROM sealed_secrets WHERE provider = $1",
                &format!("zammad/{id}")
            )
            .await,
        0
    );
    let (s, list) = relay.call("GET", "/v1/connections", Some(&ann), None).await;
    assert_eq!((s, &list), (StatusCode::OK, &json!({"connections": []})));
    let (s, b) = relay
        .deliver(&hook, body, "rotated-PLAINTEXT-3", Some("d-3"))
        .await;
    refused(s, &b, StatusCode::UNAUTHORIZED, "bad_signature");
}

async fn another_account_gets_not_found(db: TestDb) {
    let relay = keyed(&db, &MasterKeys::generate_line(1)).await;
    let ann = relay.signup("ann@example.org").await;
    let bob = relay.signup("bob@example.org").await;
    let (s, conn) = relay
        .call("POST", "/v1/connections", Some(&ann), Some(&new_zammad()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    let id = conn["id"].as_str().expect("id");
    for path in [
        format!("/v1/connections/{id}"),
        format!("/v1/connections/zammad/{id}"),
    ] {
        for method in ["GET", "DELETE"] {
            let (s, b) = relay.call(method, &path, Some(&bob), None).await;
            refused(s, &b, StatusCode::NOT_FOUND, "not_found");
        }
    }
    let (s, b) = relay
        .call(
            "PATCH",
            &format!("/v1/connections/{id}"),
            Some(&bob),
            Some(&json!({"label": "mine", "secrets": {"webhook_secret": "bob-chose"}})),
        )
        .await;
    refused(s, &b, StatusCode::NOT_FOUND, "not_found");
    // The same answer as for an id that exists nowhere, or is no id at all.
    for path in [
        format!("/v1/connections/{}", Uuid::now_v7()),
        "/v1/connections/not-a-uuid".to_owned(),
    ] {
        let (s, b) = relay.call("GET", &path, Some(&ann), None).await;
        refused(s, &b, StatusCode::NOT_FOUND, "not_found");
    }
    let (s, list) = relay.call("GET", "/v1/connections", Some(&bob), None).await;
    assert_eq!((s, &list), (StatusCode::OK, &json!({"connections": []})));
    // Ann's connection and its secret are untouched.
    let (s, shown) = relay
        .call("GET", &format!("/v1/connections/{id}"), Some(&ann), None)
        .await;
    assert_eq!((s, &shown), (StatusCode::OK, &conn));
    let (s, b) = relay
        .deliver(
            &format!("/v1/hooks/zammad/{id}"),
            b"{}",
            HOOK_SECRET,
            Some("x"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn zammad_routes_are_aliases_of_the_registry(db: TestDb) {
    let relay = keyed(&db, &MasterKeys::generate_line(1)).await;
    let ann = relay.signup("ann@example.org").await;
    // Old route in, generic route out.
    let (s, old) = relay
        .call(
            "POST",
            "/v1/connections/zammad",
            Some(&ann),
            Some(
                &json!({"base_url": "https://z.example.org", "api_token": API_TOKEN,
                "webhook_secret": HOOK_SECRET, "time_unit": "quarter_hour"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{old}");
    no_secrets(&old);
    let old_id = old["id"].as_str().expect("id").to_owned();
    let (s, generic) = relay
        .call(
            "GET",
            &format!("/v1/connections/{old_id}"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{generic}");
    assert_eq!(generic["provider"], "zammad");
    assert_eq!(generic["label"], Value::Null);
    assert_eq!(generic["base_url"], old["base_url"]);
    assert_eq!(generic["settings"], json!({"time_unit": "quarter_hour"}));
    assert_eq!(generic["secrets"], json!(["api_token", "webhook_secret"]));
    assert_eq!(generic["webhook_path"], old["webhook_path"]);
    assert_eq!(generic["created_at"], old["created_at"]);
    // Generic route in, old route out, in the old shape.
    let (s, new) = relay
        .call("POST", "/v1/connections", Some(&ann), Some(&new_zammad()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{new}");
    let new_id = new["id"].as_str().expect("id").to_owned();
    let (s, shown) = relay
        .call(
            "GET",
            &format!("/v1/connections/zammad/{new_id}"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{shown}");
    assert_eq!(
        shown,
        json!({"id": new_id, "base_url": "https://helpdesk.example.org", "time_unit": "hour",
            "webhook_path": format!("/v1/hooks/zammad/{new_id}"), "created_at": new["created_at"]})
    );
    // The old route keeps its one 422 code.
    let (s, b) = relay
        .call(
            "POST",
            "/v1/connections/zammad",
            Some(&ann),
            Some(
                &json!({"base_url": "https://z.example.org", "api_token": API_TOKEN,
                "webhook_secret": HOOK_SECRET, "time_unit": "week"}),
            ),
        )
        .await;
    refused(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    // Deleting through the old route removes a generic-made connection.
    let (s, _) = relay
        .call(
            "DELETE",
            &format!("/v1/connections/zammad/{new_id}"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, list) = relay.call("GET", "/v1/connections", Some(&ann), None).await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<&str> = list["connections"]
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec![old_id.as_str()]);
    // `GET /v1/connections/zammad` is still no route of its own.
    let (s, b) = relay
        .call("GET", "/v1/connections/zammad", Some(&ann), None)
        .await;
    refused(s, &b, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

async fn intake_verifies_and_dedupes_per_provider(db: TestDb) {
    let relay = keyed(&db, &MasterKeys::generate_line(1)).await;
    let ann = relay.signup("ann@example.org").await;
    let (s, conn) = relay
        .call("POST", "/v1/connections", Some(&ann), Some(&new_zammad()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    let id = conn["id"].as_str().expect("id").to_owned();
    // The webhook path the registry hands out is served by the generic intake.
    let hook = conn["webhook_path"].as_str().expect("path").to_owned();
    let body = br#"{"ticket": {"id": 42}, "article": {}}"#;
    let (s, b) = relay.deliver(&hook, body, HOOK_SECRET, Some("job-1")).await;
    assert_eq!(
        (s, &b),
        (
            StatusCode::OK,
            &json!({"delivery": "job-1", "duplicate": false})
        )
    );
    let (s, b) = relay.deliver(&hook, body, HOOK_SECRET, Some("job-1")).await;
    assert_eq!(
        (s, &b),
        (
            StatusCode::OK,
            &json!({"delivery": "job-1", "duplicate": true})
        )
    );
    let row = sqlx::query(
        "SELECT delivery_id, event, subject, body FROM connection_events WHERE connection_id = $1",
    )
    .bind(&id)
    .fetch_all(&relay.state.db().pool)
    .await
    .expect("events");
    assert_eq!(row.len(), 1);
    assert_eq!(
        row[0].try_get::<String, _>("delivery_id").expect("d"),
        "job-1"
    );
    assert_eq!(
        row[0]
            .try_get::<Option<String>, _>("event")
            .expect("e")
            .as_deref(),
        Some("time accounted")
    );
    assert_eq!(
        row[0]
            .try_get::<Option<String>, _>("subject")
            .expect("s")
            .as_deref(),
        Some("42")
    );
    assert_eq!(
        row[0].try_get::<String, _>("body").expect("b").as_bytes(),
        body
    );
    // The same delivery id on another connection is another event.
    let (s, other) = relay
        .call("POST", "/v1/connections", Some(&ann), Some(&new_zammad()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{other}");
    let other_hook = other["webhook_path"].as_str().expect("path");
    let (s, b) = relay
        .deliver(other_hook, body, HOOK_SECRET, Some("job-1"))
        .await;
    assert_eq!((s, &b["duplicate"]), (StatusCode::OK, &json!(false)), "{b}");

    // Refusals: wrong secret, unknown connection (the same answer), no delivery id, not JSON.
    let (s, b) = relay.deliver(&hook, body, "wrong", Some("job-2")).await;
    refused(s, &b, StatusCode::UNAUTHORIZED, "bad_signature");
    let (s, b) = relay
        .deliver(
            &format!("/v1/hooks/zammad/{}", Uuid::now_v7()),
            body,
            HOOK_SECRET,
            Some("job-2"),
        )
        .await;
    refused(s, &b, StatusCode::UNAUTHORIZED, "bad_signature");
    let (s, b) = relay.deliver(&hook, body, HOOK_SECRET, None).await;
    refused(s, &b, StatusCode::BAD_REQUEST, "missing_delivery");
    let (s, b) = relay
        .deliver(&hook, b"[1, 2", HOOK_SECRET, Some("job-3"))
        .await;
    refused(s, &b, StatusCode::BAD_REQUEST, "malformed_json");
    let (s, b) = relay
        .deliver(&hook, b"[1, 2]", HOOK_SECRET, Some("job-3"))
        .await;
    refused(s, &b, StatusCode::BAD_REQUEST, "invalid_body");
    // A provider the relay doesn't know: 404, whatever the signature.
    let (s, b) = relay
        .deliver(
            &format!("/v1/hooks/toggl/{id}"),
            body,
            HOOK_SECRET,
            Some("job-4"),
        )
        .await;
    refused(s, &b, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        relay
            .count(
                "SELECT COUNT(*) FROM connection_events WHERE connection_id = $1",
                &id
            )
            .await,
        1
    );
    // The static hook routes still win over `/v1/hooks/{provider}/{connection}`.
    let (s, b) = relay
        .call("POST", "/v1/hooks/tokens/x", Some(&ann), Some(&json!({})))
        .await;
    refused(s, &b, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

/// Schema v4's rows, inserted into a database migrated only up to v7, come through v8 with their
/// ids, settings, sealed secrets (same associated data) and events.
async fn migration_carries_zammad_rows_over(db: TestDb) {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    use std::borrow::Cow;
    let up_to_v7: [(i64, &'static str); 7] = [
        (1, include_str!("../migrations/0001_init.sql")),
        (2, include_str!("../migrations/0002_materialised_state.sql")),
        (3, include_str!("../migrations/0003_hooks_privacy.sql")),
        (4, include_str!("../migrations/0004_secrets_zammad.sql")),
        (
            5,
            include_str!("../migrations/0005_point_purge_without_index.sql"),
        ),
        (6, include_str!("../migrations/0006_oidc.sql")),
        (7, include_str!("../migrations/0007_jobs.sql")),
    ];
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("pool");
    Migrator::with_migrations(
        up_to_v7
            .iter()
            .map(|(v, sql)| {
                Migration::new(
                    *v,
                    Cow::Owned(format!("v{v}")),
                    MigrationType::Simple,
                    sqlx::SqlStr::from_static(sql),
                    false,
                )
            })
            .collect(),
    )
    .run(&pool)
    .await
    .expect("migrate to v7");

    let key_line = MasterKeys::generate_line(1);
    let keys = MasterKeys::parse(&key_line).expect("keys");
    let (space, account, device, conn) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let owner = account.to_string();
    let sealed_as = format!("zammad/{conn}");
    let created = 1_700_000_000_000_i64;
    let statements: Vec<(&str, Vec<String>)> = vec![
        (
            "INSERT INTO spaces (id, created_at) VALUES ($1, 1)",
            vec![space.to_string()],
        ),
        (
            "INSERT INTO accounts (id, email, password_hash, space_id, created_at) VALUES ($1, 'old@example.org', '', $2, 1)",
            vec![owner.clone(), space.to_string()],
        ),
        (
            "INSERT INTO devices (id, account_id, space_id, name, created_at) VALUES ($1, $2, $3, 'old', 1)",
            vec![device.to_string(), owner.clone(), space.to_string()],
        ),
        (
            "INSERT INTO zammad_connections (id, account_id, base_url, time_unit, created_at) VALUES ($1, $2, 'https://old.example.org', 'quarter_hour', 1700000000000)",
            vec![conn.to_string(), owner.clone()],
        ),
        (
            "INSERT INTO zammad_events (id, connection_id, delivery_id, trigger_name, ticket_id, received_at, body) VALUES ($1, $2, 'old-job', 'time accounted', 99, 1, '{\"ticket\":{\"id\":99}}')",
            vec![Uuid::now_v7().to_string(), conn.to_string()],
        ),
    ];
    for (sql, binds) in statements {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
        for b in binds {
            q = q.bind(b);
        }
        q.execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    for (field, value) in [("api_token", API_TOKEN), ("webhook_secret", HOOK_SECRET)] {
        sqlx::query(
            "INSERT INTO sealed_secrets (owner, provider, field, key_version, sealed, updated_at) VALUES ($1, $2, $3, 1, $4, 1)",
        )
        .bind(&owner)
        .bind(&sealed_as)
        .bind(field)
        .bind(keys.seal(&owner, &sealed_as, field, value))
        .execute(&pool)
        .await
        .expect("sealed");
    }
    pool.close().await;
    db.make_private();

    // Starting the relay applies v8.
    let relay = keyed(&db, &key_line).await;
    let token = sign(
        relay.state.accounts().tokens().key(),
        &Claims {
            account,
            space,
            device,
            exp_ms: chrono::Utc::now().timestamp_millis() + 3_600_000,
            iat_ms: 0,
        },
    );
    let (s, old) = relay
        .call(
            "GET",
            &format!("/v1/connections/zammad/{conn}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{old}");
    assert_eq!(
        old,
        json!({"id": conn, "base_url": "https://old.example.org", "time_unit": "quarter_hour",
            "webhook_path": format!("/v1/hooks/zammad/{conn}"),
            "created_at": tacho_relay::accounts::tokens::rfc3339(created)})
    );
    let (s, list) = relay
        .call("GET", "/v1/connections", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(
        list["connections"][0]["settings"],
        json!({"time_unit": "quarter_hour"})
    );
    assert_eq!(
        list["connections"][0]["secrets"],
        json!(["api_token", "webhook_secret"])
    );
    // The webhook URL set in Zammad before still works: the secret opens, the old delivery is
    // known (a retry of it is a duplicate), a new one is stored.
    let hook = format!("/v1/hooks/zammad/{conn}");
    let body = br#"{"ticket":{"id":99}}"#;
    let (s, b) = relay
        .deliver(&hook, body, HOOK_SECRET, Some("old-job"))
        .await;
    assert_eq!(
        (s, &b),
        (
            StatusCode::OK,
            &json!({"delivery": "old-job", "duplicate": true})
        )
    );
    let (s, b) = relay
        .deliver(&hook, body, HOOK_SECRET, Some("new-job"))
        .await;
    assert_eq!(
        (s, &b),
        (
            StatusCode::OK,
            &json!({"delivery": "new-job", "duplicate": false})
        )
    );
    let subject: Option<String> = sqlx::query(
        "SELECT subject FROM connection_events WHERE connection_id = $1 AND delivery_id = 'old-job'",
    )
    .bind(conn.to_string())
    .fetch_one(&relay.state.db().pool)
    .await
    .expect("old event")
    .try_get("subject")
    .expect("subject");
    assert_eq!(subject.as_deref(), Some("99"));
    // The compatibility view shows both in v4's shape.
    let n = relay
        .count(
            "SELECT COUNT(*) FROM zammad_events WHERE connection_id = $1 AND ticket_id = 99",
            &conn.to_string(),
        )
        .await;
    assert_eq!(n, 2);
    // v4's tables are gone.
    assert!(
        sqlx::query("SELECT COUNT(*) FROM zammad_connections")
            .fetch_one(&relay.state.db().pool)
            .await
            .is_err()
    );
}

async fn deleting_the_account_removes_its_connections(db: TestDb) {
    let relay = keyed(&db, &MasterKeys::generate_line(1)).await;
    let ann = relay.signup("ann@example.org").await;
    let (s, conn) = relay
        .call("POST", "/v1/connections", Some(&ann), Some(&new_zammad()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    let id = conn["id"].as_str().expect("id").to_owned();
    let hook = format!("/v1/hooks/zammad/{id}");
    let (s, b) = relay.deliver(&hook, b"{}", HOOK_SECRET, Some("d-1")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = relay
        .call(
            "DELETE",
            "/v1/account",
            Some(&ann),
            Some(&json!({"password": "correct horse battery"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    for sql in [
        "SELECT COUNT(*) FROM connections WHERE id = $1",
        "SELECT COUNT(*) FROM connection_events WHERE connection_id = $1",
    ] {
        assert_eq!(relay.count(sql, &id).await, 0, "{sql}");
    }
    let sealed = format!("zammad/{id}");
    assert_eq!(
        relay
            .count(
                "SELECT COUNT(*) FROM sealed_secrets WHERE provider = $1",
                &sealed
            )
            .await,
        0
    );
    let (s, b) = relay.deliver(&hook, b"{}", HOOK_SECRET, Some("d-2")).await;
    refused(s, &b, StatusCode::UNAUTHORIZED, "bad_signature");
}

async fn routes_are_in_the_openapi_document(db: TestDb) {
    let relay = start(&db).await;
    let (s, doc) = relay.call("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    for (path, method) in [
        ("/v1/connections", "post"),
        ("/v1/connections", "get"),
        ("/v1/connections/{id}", "get"),
        ("/v1/connections/{id}", "patch"),
        ("/v1/connections/{id}", "delete"),
        ("/v1/hooks/{provider}/{connection}", "post"),
        ("/v1/connections/zammad", "post"),
        ("/v1/connections/zammad/{id}", "get"),
        ("/v1/connections/zammad/{id}", "delete"),
        ("/v1/hooks/zammad/{connection}", "post"),
        ("/v1/connections/{id}/mappings", "get"),
        ("/v1/connections/{id}/mappings/{project_id}", "put"),
        ("/v1/connections/{id}/mappings/{project_id}", "delete"),
        ("/v1/connections/{id}/pause", "post"),
        ("/v1/connections/{id}/resume", "post"),
        ("/v1/connections/{id}/run", "post"),
        ("/v1/connections/{id}/status", "get"),
        ("/v1/connections/{id}/log", "get"),
        ("/v1/connections/{id}/lookups/{what}", "get"),
        ("/v1/conflicts", "get"),
        ("/v1/conflicts/{id}/resolve", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    // Operation ids stay unique (the Zammad aliases keep their old ones).
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|ops| ops.as_object().expect("ops").values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate operationId");
    let provider = &doc["components"]["schemas"]["Provider"];
    assert_eq!(
        provider["enum"],
        json!(["toggl", "tempo", "kimai", "zammad"]),
        "{provider}"
    );
}

async fn secrets_stay_out_of_the_logs(db: TestDb) {
    let logs = capture_logs();
    let relay = keyed(&db, &MasterKeys::generate_line(1)).await;
    let ann = relay.signup("ann@example.org").await;
    let (s, conn) = relay
        .call("POST", "/v1/connections", Some(&ann), Some(&new_zammad()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    let id = conn["id"].as_str().expect("id");
    let mut refused_secret = new_zammad();
    refused_secret["secrets"]["webhook_secret"] = json!(format!("{}-PLAINTEXT", "x".repeat(5000)));
    let (s, _) = relay
        .call("POST", "/v1/connections", Some(&ann), Some(&refused_secret))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = relay
        .call(
            "PATCH",
            &format!("/v1/connections/{id}"),
            Some(&ann),
            Some(&json!({"secrets": {"api_token": "rotated-PLAINTEXT-4"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let hook = format!("/v1/hooks/zammad/{id}");
    let (s, _) = relay.deliver(&hook, b"{}", HOOK_SECRET, Some("d-1")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = relay
        .deliver(&hook, b"{}", "wrong-PLAINTEXT-5", Some("d-2"))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let text = String::from_utf8_lossy(&logs.lock().expect("log buffer")).into_owned();
    // The capture works (the requests above were logged) and holds no secret.
    assert!(text.contains("/v1/connections"), "nothing captured");
    assert!(!text.contains("PLAINTEXT"), "a secret was logged");
}
