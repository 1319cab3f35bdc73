//! End-to-end tests of the hardening work: sealed secrets at rest and their rotation, Zammad
//! connections and signed webhooks, rate limits per class, the request time limit, CORS and
//! security headers. Same set-up as `relay.rs` (a temporary SQLite file and a fresh PostgreSQL
//! database per scenario), kept in its own file so parallel work on `relay.rs` merges cleanly.

// Test helpers may panic on broken fixtures; that is a test failure, not a bug in the relay.
#![allow(clippy::expect_used, clippy::panic)]

use std::io::{Read as _, Write as _};
use std::time::Duration;

use hmac::{Hmac, Mac as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row as _;
use tacho_relay::Db;
use tacho_relay::limits::{ClassLimit, RateLimits};
use tacho_relay::secrets::{self, MasterKeys, SecretError};
use uuid::Uuid;

#[path = "support/harness.rs"]
#[macro_use]
mod harness;
use harness::*;

impl Relay {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.expect("send")).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.expect("send")).await
    }

    async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        answer(
            self.http
                .delete(self.url(path))
                .bearer_auth(token)
                .send()
                .await
                .expect("send"),
        )
        .await
    }

    /// Signs up a fresh account; returns its access token.
    async fn signup(&self, email: &str) -> String {
        let (status, session) = self
            .post(
                "/v1/auth/signup",
                None,
                &json!({"email": email, "password": "correct horse battery",
                    "device_id": Uuid::now_v7(), "device_name": "test"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        session["access_token"].as_str().expect("token").to_owned()
    }

    /// Sends a Zammad delivery with the given raw body and headers.
    async fn hook(
        &self,
        connection: &str,
        body: &[u8],
        signature: Option<&str>,
        delivery: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(self.url(&format!("/v1/hooks/zammad/{connection}")))
            .header("content-type", "application/json")
            .header("x-zammad-trigger", "time accounted")
            .body(body.to_vec());
        if let Some(s) = signature {
            req = req.header("x-hub-signature", s);
        }
        if let Some(d) = delivery {
            req = req.header("x-zammad-delivery", d);
        }
        answer(req.send().await.expect("send")).await
    }
}

fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], want_code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

fn sign(secret: &str, body: &[u8]) -> String {
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

fn keys(text: &str) -> MasterKeys {
    MasterKeys::parse(text).expect("keys")
}

on_both_databases!(
    sealed_secrets_bind_their_row_and_rotate,
    zammad_connections_and_signed_webhooks,
    rate_limits_per_class_and_key,
    headers_cors_and_time_limit,
    migrations_accept_a_gap_filled_later,
);

async fn sealed_secrets_bind_their_row_and_rotate(db: TestDb) {
    let store = Db::connect(&db.url).await.expect("db");
    let v1 = MasterKeys::generate_line(1);
    let old = keys(&v1);
    let mut conn = store.pool.acquire().await.expect("conn");
    for owner in ["acct-a", "acct-b"] {
        secrets::put(
            &mut conn,
            &old,
            owner,
            "tempo",
            "api_token",
            &format!("{owner}-token"),
        )
        .await
        .expect("put");
    }
    secrets::put(
        &mut conn,
        &old,
        "acct-a",
        "tesla",
        "refresh_token",
        "tesla-refresh",
    )
    .await
    .expect("put");
    drop(conn);
    let got = secrets::get(&store.pool, &old, "acct-a", "tempo", "api_token").await;
    assert_eq!(got.expect("get"), Some("acct-a-token".to_owned()));

    // Copy A's sealed value into B's row (and into A's other provider's row): neither opens.
    let a_sealed: String = sqlx::query(
        "SELECT sealed FROM sealed_secrets WHERE owner = 'acct-a' AND provider = 'tempo'",
    )
    .fetch_one(&store.pool)
    .await
    .expect("row")
    .try_get("sealed")
    .expect("sealed");
    assert!(a_sealed.starts_with("tk1.v1."), "{a_sealed}");
    for (owner, provider, field) in [
        ("acct-b", "tempo", "api_token"),
        ("acct-a", "tesla", "refresh_token"),
    ] {
        sqlx::query(
            "UPDATE sealed_secrets SET sealed = $1 WHERE owner = $2 AND provider = $3 AND field = $4",
        )
        .bind(&a_sealed)
        .bind(owner)
        .bind(provider)
        .bind(field)
        .execute(&store.pool)
        .await
        .expect("copy");
        let res = secrets::get(&store.pool, &old, owner, provider, field).await;
        assert!(matches!(res, Err(SecretError::Open)), "{res:?}");
        let mut conn = store.pool.acquire().await.expect("conn");
        secrets::put(&mut conn, &old, owner, provider, field, "restored")
            .await
            .expect("restore");
    }

    // Rotation: v2 becomes the newest; everything is re-sealed; v1 can then go.
    let v2 = MasterKeys::generate_line(2);
    let both = keys(&format!("{v2},{v1}"));
    let report = secrets::rotate(&store, &both).await.expect("rotate");
    assert_eq!((report.total, report.resealed, report.current), (3, 3, 0));
    let v2_only = keys(&v2);
    for (owner, provider, field, want) in [
        ("acct-a", "tempo", "api_token", "acct-a-token"),
        ("acct-b", "tempo", "api_token", "restored"),
        ("acct-a", "tesla", "refresh_token", "restored"),
    ] {
        let got = secrets::get(&store.pool, &v2_only, owner, provider, field).await;
        assert_eq!(got.expect("opens under v2 alone"), Some(want.to_owned()));
    }
    let versions: Vec<i64> = sqlx::query("SELECT key_version FROM sealed_secrets")
        .fetch_all(&store.pool)
        .await
        .expect("rows")
        .iter()
        .map(|r| r.try_get("key_version").expect("version"))
        .collect();
    assert_eq!(versions, vec![2, 2, 2]);
    let again = secrets::rotate(&store, &v2_only)
        .await
        .expect("rotate again");
    assert_eq!((again.total, again.resealed, again.current), (3, 0, 3));
    // A rotation that meets a value under a key it lacks changes nothing.
    let v3_only = keys(&MasterKeys::generate_line(3));
    let mut conn = store.pool.acquire().await.expect("conn");
    secrets::put(&mut conn, &v3_only, "acct-c", "tempo", "api_token", "c")
        .await
        .expect("put");
    drop(conn);
    let res = secrets::rotate(&store, &v2_only).await;
    assert!(matches!(res, Err(SecretError::UnknownKey(3))), "{res:?}");
}

async fn zammad_connections_and_signed_webhooks(db: TestDb) {
    // Without a master key the relay refuses to take credentials.
    let keyless = start(&db).await;
    let ann = keyless.signup("ann@example.org").await;
    let new_conn = json!({
        "base_url": "https://helpdesk.example.org/",
        "api_token": "zammad-api-token-PLAINTEXT-1",
        "webhook_secret": "zammad-hook-secret-PLAINTEXT-2",
    });
    let (s, b) = keyless
        .post("/v1/connections/zammad", Some(&ann), &new_conn)
        .await;
    assert_error(
        s,
        &b,
        StatusCode::SERVICE_UNAVAILABLE,
        "secrets_unavailable",
    );

    let relay = start_with(&db, |c| {
        c.master_keys = Some(keys(&MasterKeys::generate_line(1)));
    })
    .await;
    let bob = relay.signup("bob@example.org").await;
    let (s, b) = relay.post("/v1/connections/zammad", None, &new_conn).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "missing_token");
    let (s, b) = relay
        .post(
            "/v1/connections/zammad",
            Some(&ann),
            &json!({"base_url": "ftp://x", "api_token": "a", "webhook_secret": "b"}),
        )
        .await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let (s, conn) = relay
        .post("/v1/connections/zammad", Some(&ann), &new_conn)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    let id = conn["id"].as_str().expect("id").to_owned();
    assert_eq!(conn["base_url"], "https://helpdesk.example.org");
    assert_eq!(conn["webhook_path"], format!("/v1/hooks/zammad/{id}"));
    assert!(!conn.to_string().contains("PLAINTEXT"), "{conn}");

    // Object-level authorization: the owner sees it, anyone else gets 404.
    let path = format!("/v1/connections/zammad/{id}");
    let (s, shown) = relay.get(&path, Some(&ann)).await;
    assert_eq!(s, StatusCode::OK, "{shown}");
    assert_eq!(shown["id"], id.as_str());
    assert!(!shown.to_string().contains("PLAINTEXT"), "{shown}");
    let (s, b) = relay.get(&path, Some(&bob)).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = relay.delete(&path, &bob).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = relay
        .get("/v1/connections/zammad/not-a-uuid", Some(&ann))
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");

    // A delivery signed over the raw bytes (odd spacing on purpose: no re-serialisation).
    let secret = "zammad-hook-secret-PLAINTEXT-2";
    let body = br#"{ "ticket" : {"id": 42, "title":"Printer"},  "article": {"id": 7} }"#;
    let good = sign(secret, body);
    let (s, b) = relay.hook(&id, body, Some(&good), Some("job-1")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b, json!({"delivery": "job-1", "duplicate": false}));
    // Zammad's retry of the same delivery: 2xx, stored once.
    let (s, b) = relay.hook(&id, body, Some(&good), Some("job-1")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["duplicate"], true);
    let count = || async {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MAX(ticket_id) AS t FROM zammad_events WHERE connection_id = $1",
        )
        .bind(&id)
        .fetch_one(&relay.state.db().pool)
        .await
        .expect("count");
        (
            row.try_get::<i64, _>("n").expect("n"),
            row.try_get::<Option<i64>, _>("t").expect("t"),
        )
    };
    assert_eq!(count().await, (1, Some(42)));
    let stored: String = sqlx::query("SELECT body FROM zammad_events WHERE connection_id = $1")
        .bind(&id)
        .fetch_one(&relay.state.db().pool)
        .await
        .expect("row")
        .try_get("body")
        .expect("body");
    assert_eq!(stored.as_bytes(), body);

    // Missing, wrong, or for other bytes: 401 JSON, nothing stored.
    let (s, b) = relay.hook(&id, body, None, Some("job-2")).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "missing_signature");
    let (s, b) = relay
        .hook(&id, body, Some(&sign("other secret", body)), Some("job-2"))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_signature");
    let (s, b) = relay
        .hook(&id, br#"{"ticket":{"id":43}}"#, Some(&good), Some("job-2"))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_signature");
    let (s, b) = relay
        .hook(&id, body, Some("sha1=nothex"), Some("job-2"))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_signature");
    // Unknown connection: the same answer as a wrong signature (no probing of ids).
    let (s, b) = relay
        .hook(
            &Uuid::now_v7().to_string(),
            body,
            Some(&good),
            Some("job-2"),
        )
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_signature");
    // Bodies over the 4 MiB limit are refused before anything else.
    let huge = vec![b' '; tacho_relay::MAX_BODY_BYTES + 1];
    let (s, b) = relay
        .hook(&id, &huge, Some(&sign(secret, &huge)), Some("job-big"))
        .await;
    assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    // Signed, but no delivery id, or not JSON: 400, nothing stored.
    let (s, b) = relay.hook(&id, body, Some(&good), None).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "missing_delivery");
    let junk = b"not json";
    let (s, b) = relay
        .hook(&id, junk, Some(&sign(secret, junk)), Some("job-3"))
        .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "malformed_json");
    assert_eq!(count().await, (1, Some(42)));
    // A second delivery is stored.
    let other = br#"{"ticket":{"id":43}}"#;
    let (s, b) = relay
        .hook(&id, other, Some(&sign(secret, other)), Some("job-4"))
        .await;
    assert_eq!((s, &b["duplicate"]), (StatusCode::OK, &json!(false)), "{b}");
    assert_eq!(count().await.0, 2);

    // Deleting removes the connection, its events and its sealed secrets; hooks then fail.
    let (s, _) = relay.delete(&path, &ann).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = relay.get(&path, Some(&ann)).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = relay.hook(&id, body, Some(&good), Some("job-5")).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_signature");
    assert_eq!(count().await.0, 0);
    let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sealed_secrets")
        .fetch_one(&relay.state.db().pool)
        .await
        .expect("count")
        .try_get("n")
        .expect("n");
    assert_eq!(left, 0);
}

/// The raw SQLite files (database and WAL) hold no plaintext secret, only sealed values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_holds_no_plaintext_secret() {
    let db = TestDb::sqlite();
    let relay = start_with(&db, |c| {
        c.master_keys = Some(keys(&MasterKeys::generate_line(1)));
    })
    .await;
    let ann = relay.signup("ann@example.org").await;
    let (s, b) = relay
        .post(
            "/v1/connections/zammad",
            Some(&ann),
            &json!({
                "base_url": "https://visible-helpdesk.example.org",
                "api_token": "API-TOKEN-MUST-NOT-LEAK-9f3a",
                "webhook_secret": "HOOK-SECRET-MUST-NOT-LEAK-51c2",
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let path = db.url.trim_start_matches("sqlite://");
    let path = path.split('?').next().expect("path").to_owned();
    let mut bytes = Vec::new();
    for file in [path.clone(), format!("{path}-wal")] {
        if let Ok(mut f) = std::fs::File::open(&file) {
            f.read_to_end(&mut bytes).expect("read");
        }
    }
    let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    // The reading works: the non-secret base URL and the sealed form are there.
    assert!(has("visible-helpdesk.example.org"));
    assert!(has("tk1.v1."));
    for secret in [
        "API-TOKEN-MUST-NOT-LEAK-9f3a",
        "HOOK-SECRET-MUST-NOT-LEAK-51c2",
    ] {
        assert!(!has(secret), "{secret} found in the database files");
    }
}

async fn rate_limits_per_class_and_key(db: TestDb) {
    let relay = start_with(&db, |c| {
        c.rate_limits = RateLimits {
            anonymous: ClassLimit::per_hour(5),
            authenticated: ClassLimit::per_hour(3),
            approvals: ClassLimit::per_hour(2),
            exports: ClassLimit::per_hour(2),
            sync: ClassLimit {
                per_hour: 4,
                burst: 4,
            },
        };
    })
    .await;
    // Two sign-ups are two anonymous requests from 127.0.0.1.
    let ann = relay.signup("ann@example.org").await;
    let bob = relay.signup("bob@example.org").await;
    let limited = |res: reqwest::Response| async move {
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After seconds");
        assert!(retry >= 1, "{retry}");
        assert_eq!(
            res.headers()
                .get("x-content-type-options")
                .map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );
        let (s, b) = answer(res).await;
        assert_error(s, &b, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        assert_eq!(b["retry_after_s"], retry);
    };

    // Anonymous: 3 more, then 429; a forged X-Forwarded-For does not make a new key.
    for _ in 0..3 {
        let (s, _) = relay.get("/v1/capabilities", None).await;
        assert_eq!(s, StatusCode::OK);
    }
    limited(
        relay
            .http
            .get(relay.url("/v1/capabilities"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    let forged = relay
        .http
        .get(relay.url("/v1/capabilities"))
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-real-ip", "203.0.113.8")
        .header("forwarded", "for=203.0.113.9")
        .send()
        .await
        .expect("send");
    limited(forged).await;
    // Health checks are not limited.
    assert_eq!(relay.get("/healthz", None).await.0, StatusCode::OK);

    // Authenticated (per account): Ann's exhaustion leaves Bob alone.
    let some = format!("/v1/connections/zammad/{}", Uuid::now_v7());
    for _ in 0..3 {
        assert_eq!(relay.get(&some, Some(&ann)).await.0, StatusCode::NOT_FOUND);
    }
    limited(
        relay
            .http
            .get(relay.url(&some))
            .bearer_auth(&ann)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(relay.get(&some, Some(&bob)).await.0, StatusCode::NOT_FOUND);

    // Exports and approvals have budgets of their own (routes may not exist yet: 404 until
    // the budget is spent, then 429).
    for (path, n) in [("/v1/account/export", 2), ("/v1/approvals/x/approve", 2)] {
        for _ in 0..n {
            let (s, b) = relay.post(path, Some(&bob), &json!({})).await;
            assert_ne!(s, StatusCode::TOO_MANY_REQUESTS, "{path}: {b}");
        }
        limited(
            relay
                .http
                .post(relay.url(path))
                .bearer_auth(&bob)
                .json(&json!({}))
                .send()
                .await
                .expect("send"),
        )
        .await;
    }

    // Sync (per device): Ann's device gets 4, Bob's is unaffected; sync is not Ann's
    // authenticated budget, which is spent.
    for _ in 0..4 {
        assert_eq!(
            relay.get("/v1/pull?cursor=0", Some(&ann)).await.0,
            StatusCode::OK
        );
    }
    limited(
        relay
            .http
            .get(relay.url("/v1/pull?cursor=0"))
            .bearer_auth(&ann)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        relay.get("/v1/pull?cursor=0", Some(&bob)).await.0,
        StatusCode::OK
    );
}

async fn headers_cors_and_time_limit(db: TestDb) {
    let relay = start_with(&db, |c| {
        c.cors_origins = vec!["https://app.example.org".to_owned()];
        c.hsts = true;
        c.request_timeout = Duration::from_secs(1);
    })
    .await;
    let res = relay
        .http
        .get(relay.url("/v1/capabilities"))
        .header("origin", "https://app.example.org")
        .send()
        .await
        .expect("send");
    let h = res.headers();
    for (name, want) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("access-control-allow-origin", "https://app.example.org"),
    ] {
        assert_eq!(
            h.get(name).and_then(|v| v.to_str().ok()),
            Some(want),
            "{name}"
        );
    }
    assert!(h.get("strict-transport-security").is_some());
    let res = relay
        .http
        .get(relay.url("/v1/capabilities"))
        .header("origin", "https://evil.example.net")
        .send()
        .await
        .expect("send");
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let preflight = relay
        .http
        .request(reqwest::Method::OPTIONS, relay.url("/v1/push"))
        .header("origin", "https://app.example.org")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("send");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.example.org")
    );
    // PATCH routes (rename a device, rotate a connection's secret) pass the preflight too.
    let preflight = relay
        .http
        .request(reqwest::Method::OPTIONS, relay.url("/v1/devices/x"))
        .header("origin", "https://app.example.org")
        .header("access-control-request-method", "PATCH")
        .send()
        .await
        .expect("send");
    let methods = preflight
        .headers()
        .get("access-control-allow-methods")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(methods.contains("PATCH"), "allowed methods: {methods}");
    // Auth answers are not cached; errors carry the headers too.
    let res = relay
        .http
        .post(relay.url("/v1/auth/login"))
        .json(&json!({"email": "nobody@example.org", "password": "x", "device_id": Uuid::now_v7(), "device_name": "t"}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert_eq!(
        res.headers()
            .get("x-frame-options")
            .and_then(|v| v.to_str().ok()),
        Some("DENY")
    );

    // A body that never finishes arriving: 408 JSON after the time limit.
    let addr = relay.base.trim_start_matches("http://").to_owned();
    let raw = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        s.write_all(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
        )
        .expect("write");
        let mut buf = [0_u8; 4096];
        let n = s.read(&mut buf).expect("read an answer before the client gives up");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .expect("join");
    assert!(raw.starts_with("HTTP/1.1 408"), "{raw}");
    assert!(raw.contains("request_timeout"), "{raw}");
    assert!(
        raw.to_lowercase()
            .contains("x-content-type-options: nosniff"),
        "{raw}"
    );

    // Without configuration: no CORS headers, no HSTS.
    let plain = start(&db).await;
    let res = plain
        .http
        .get(plain.url("/healthz"))
        .header("origin", "https://app.example.org")
        .send()
        .await
        .expect("send");
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert!(res.headers().get("strict-transport-security").is_none());
    assert_eq!(
        res.headers()
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
}

/// The OpenAPI document lists the new routes and schemas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_connections_and_hooks() {
    let db = TestDb::sqlite();
    let relay = start(&db).await;
    let (s, doc) = relay.get("/v1/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    for path in [
        "/v1/connections/zammad",
        "/v1/connections/zammad/{id}",
        "/v1/hooks/zammad/{connection}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    for schema in ["NewZammadConnection", "ZammadConnection", "HookAccepted"] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
}

/// `tacho-relay secrets rotate` re-seals under the newest key and reports counts; a key file
/// readable by others is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_subcommand_and_key_file_mode() {
    let db = TestDb::sqlite();
    let v1 = MasterKeys::generate_line(1);
    let v2 = MasterKeys::generate_line(2);
    {
        let store = Db::connect(&db.url).await.expect("db");
        let mut conn = store.pool.acquire().await.expect("conn");
        for owner in ["a", "b"] {
            secrets::put(&mut conn, &keys(&v1), owner, "toggl", "api_token", "t")
                .await
                .expect("put");
        }
    }
    let dir = tempfile::tempdir().expect("dir");
    let key_file = dir.path().join("keys");
    std::fs::write(&key_file, format!("{v2}\n{v1}\n")).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            MasterKeys::from_file(&key_file),
            Err(SecretError::KeyFile(_))
        ));
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tacho-relay"))
        .args([
            "secrets",
            "rotate",
            "--database-url",
            &db.url,
            "--master-key-file",
        ])
        .arg(&key_file)
        .env_remove("TACHO_MASTER_KEYS")
        .output()
        .expect("run tacho-relay");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("rotated to key v2: 2 secrets, 2 re-sealed, 0 already current"),
        "{stdout}"
    );
    let store = Db::connect(&db.url).await.expect("db");
    let got = secrets::get(&store.pool, &keys(&v2), "b", "toggl", "api_token").await;
    assert_eq!(got.expect("opens with v2 alone"), Some("t".to_owned()));
}

/// The relay registers migration 4 while version 3 lives on another branch: sqlx applies a gapped
/// list, and a version 3 that arrives later is applied on a database already at 4. Checked on
/// both engines with stand-in migrations.
async fn migrations_accept_a_gap_filled_later(db: TestDb) {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    use std::borrow::Cow;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("pool");
    let migration = |version: i64, sql: &'static str| {
        Migration::new(
            version,
            Cow::Owned(format!("m{version}")),
            MigrationType::Simple,
            sqlx::SqlStr::from_static(sql),
            false,
        )
    };
    let gapped = vec![
        migration(1, "CREATE TABLE m1 (x BIGINT)"),
        migration(2, "CREATE TABLE m2 (x BIGINT)"),
        migration(4, "CREATE TABLE m4 (x BIGINT)"),
    ];
    Migrator::with_migrations(gapped)
        .run(&pool)
        .await
        .expect("a gapped list migrates");
    let filled = vec![
        migration(1, "CREATE TABLE m1 (x BIGINT)"),
        migration(2, "CREATE TABLE m2 (x BIGINT)"),
        migration(3, "CREATE TABLE m3 (x BIGINT)"),
        migration(4, "CREATE TABLE m4 (x BIGINT)"),
    ];
    Migrator::with_migrations(filled)
        .run(&pool)
        .await
        .expect("the late version 3 is applied");
    sqlx::query("SELECT COUNT(*) FROM m3")
        .fetch_one(&pool)
        .await
        .expect("m3 exists");
}

// ---------------------------------------------------------------------------------------------
// Input hardening (issue 11): control characters and lengths of names, labels and ids, refused
// alike on SQLite and PostgreSQL (which can't store U+0000); bounded header reads and
// connections per peer; no op-id oracle across accounts; keyless webhooks.

on_both_databases!(
    control_characters_in_names_labels_and_ids_are_refused_alike,
    names_labels_and_ids_have_documented_length_limits,
    control_characters_in_free_text_are_one_rule_for_ops_and_kept_in_webhooks,
    text_the_database_refuses_is_a_client_error,
    an_op_id_of_another_account_is_unknown_to_the_pusher,
    a_webhook_to_a_relay_without_master_key_is_unauthorized,
    a_trickled_request_head_is_cut_off,
    connections_per_peer_address_are_bounded,
);

/// A session for a fresh account: (access token, device id).
async fn account(relay: &Relay, email: &str) -> (String, Uuid) {
    let device = Uuid::now_v7();
    let (s, session) = relay
        .post(
            "/v1/auth/signup",
            None,
            &json!({"email": email, "password": "correct horse battery",
                "device_id": device, "device_name": "phone"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    let token = session["access_token"].as_str().expect("token").to_owned();
    (token, device)
}

/// A hook token of the account behind `bearer`.
async fn hook_token(relay: &Relay, bearer: &str) -> String {
    let (s, made) = relay
        .post(
            "/v1/hooks/tokens",
            Some(bearer),
            &json!({"label": "CarPlay"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    made["token"].as_str().expect("hook token").to_owned()
}

/// An upsert op of `device` at `seq`.
fn upsert_op(device: Uuid, seq: u64, entity: &str, fields: Value) -> Value {
    let hlc = u64::try_from(chrono::Utc::now().timestamp_millis()).expect("ms") << 16;
    json!({"op_id": Uuid::now_v7(), "device": device, "device_seq": seq, "hlc": hlc + seq,
        "entity": entity, "entity_id": Uuid::now_v7(), "kind": "upsert", "fields": fields,
        "schema": 1})
}

/// Asserts a 4xx `code` naming `field`.
fn assert_field_error(s: StatusCode, b: &Value, status: StatusCode, code: &str, field: &str) {
    assert_error(s, b, status, code);
    assert_eq!(b["field"], field, "{b}");
}

async fn control_characters_in_names_labels_and_ids_are_refused_alike(db: TestDb) {
    let relay = start_with(&db, |c| {
        c.rate_limits = RateLimits::unlimited();
        c.master_keys = Some(keys(&MasterKeys::generate_line(1)));
    })
    .await;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let creds = |email: &str, name: &str| {
        json!({"email": email, "password": "correct horse battery",
            "device_id": Uuid::now_v7(), "device_name": name})
    };
    // Anonymous routes: sign-up and login, e-mail and device name.
    for (email, name, field) in [
        ("nul\u{0}@example.org", "phone", "email"),
        ("esc\u{1b}[2J@example.org", "phone", "email"),
        ("ok@example.org", "ph\u{0}one", "device_name"),
        ("ok@example.org", "bell\u{7}", "device_name"),
        ("ok@example.org", "c1\u{85}x", "device_name"),
    ] {
        for route in ["/v1/auth/signup", "/v1/auth/login"] {
            let (s, b) = relay.post(route, None, &creds(email, name)).await;
            assert_field_error(s, &b, unprocessable, "invalid_text", field);
        }
    }
    // Surrounding whitespace is trimmed as before, not refused.
    let (s, b) = relay
        .post(
            "/v1/auth/signup",
            None,
            &creds(" ok@example.org\n", " phone\t"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (token, _) = account(&relay, "cora@example.org").await;
    // Device sessions.
    let (s, b) = relay
        .post(
            "/v1/devices/session",
            Some(&token),
            &json!({"device_id": Uuid::now_v7(), "device_name": "watch\u{0}"}),
        )
        .await;
    assert_field_error(s, &b, unprocessable, "invalid_text", "device_name");
    // Hook token labels and car hints.
    for (body, field) in [
        (json!({"label": "Car\u{0}Play"}), "label"),
        (json!({"label": "ok", "car": "Golf\u{0}"}), "car"),
    ] {
        let (s, b) = relay.post("/v1/hooks/tokens", Some(&token), &body).await;
        assert_field_error(s, &b, unprocessable, "invalid_text", field);
    }
    // Hook events: event id, car hint, time zone.
    let hook = hook_token(&relay, &token).await;
    for (body, field) in [
        (json!({"event_id": "start\u{0}1"}), "event_id"),
        (json!({"event_id": "start-2", "car": "Golf\u{0}"}), "car"),
        (
            json!({"event_id": "start-3", "time_zone": "Europe/\u{0}Berlin"}),
            "time_zone",
        ),
    ] {
        for route in [
            "/v1/hooks/trip/start",
            "/v1/hooks/trip/ping",
            "/v1/hooks/trip/end",
        ] {
            let (s, b) = relay.post(route, Some(&hook), &body).await;
            assert_field_error(s, &b, unprocessable, "invalid_text", field);
        }
    }
    // Connection labels keep their own code.
    let (s, b) = relay
        .post(
            "/v1/connections",
            Some(&token),
            &json!({"provider": "zammad", "label": "Help\u{0}desk",
                "base_url": "https://helpdesk.example.org",
                "secrets": {"api_token": "a", "webhook_secret": "b"}}),
        )
        .await;
    assert_field_error(s, &b, unprocessable, "invalid_label", "label");
    // Ids in paths, with and without a token (400: the path itself is malformed).
    for (method, path, bearer) in [
        ("DELETE", "/v1/hooks/tokens/%00", Some(token.as_str())),
        ("DELETE", "/v1/hooks/tokens/a%1Fb", Some(token.as_str())),
        ("GET", "/v1/connections/%00", Some(token.as_str())),
        ("PATCH", "/v1/connections/x%00", Some(token.as_str())),
        ("GET", "/v1/connections/zammad/%00", Some(token.as_str())),
        ("POST", "/v1/hooks/zammad/%00", None),
        ("POST", "/v1/hooks/zammad/%FF%FE", None),
        ("POST", "/v1/auth/oidc/%00/start", None),
        ("GET", "/v1/pull?cursor=%00", Some(token.as_str())),
    ] {
        let mut req = relay
            .http
            .request(method.parse().expect("method"), relay.url(path));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let req = req.header("content-type", "application/json").body("{}");
        let (s, b) = answer(req.send().await.expect("send")).await;
        let field = if path.contains('?') { "query" } else { "path" };
        assert_field_error(s, &b, StatusCode::BAD_REQUEST, "invalid_text", field);
    }
    // Nothing above reached the database: the account has one hook token and no connection.
    let (s, listed) = relay.get("/v1/hooks/tokens", Some(&token)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        listed["tokens"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
}

async fn names_labels_and_ids_have_documented_length_limits(db: TestDb) {
    use tacho_model::api::limits;
    let relay = start_with(&db, |c| c.rate_limits = RateLimits::unlimited()).await;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let long = |n: usize| "é".repeat(n);
    let creds = |email: &str, name: &str| {
        json!({"email": email, "password": "correct horse battery",
            "device_id": Uuid::now_v7(), "device_name": name})
    };
    // At the limit: taken; one over: 422 naming the field and the limit.
    let at_limit = format!("{}@example.org", "a".repeat(limits::EMAIL - 12));
    let over = format!("{}@example.org", "a".repeat(limits::EMAIL - 11));
    let (s, b) = relay
        .post(
            "/v1/auth/signup",
            None,
            &creds(&at_limit, &long(limits::NAME)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = relay
        .post("/v1/auth/signup", None, &creds(&over, "x"))
        .await;
    assert_field_error(s, &b, unprocessable, "text_too_long", "email");
    assert_eq!(b["max_length"], limits::EMAIL, "{b}");
    let (s, b) = relay
        .post(
            "/v1/auth/signup",
            None,
            &creds("dev@example.org", &long(limits::NAME + 1)),
        )
        .await;
    assert_field_error(s, &b, unprocessable, "text_too_long", "device_name");
    assert_eq!(b["max_length"], limits::NAME, "{b}");
    let (token, _) = account(&relay, "dora@example.org").await;
    // A 1 MB device name and a 1 MB hook label (under the 4 MiB body limit): refused, not cut.
    let mega = "x".repeat(1 << 20);
    let (s, b) = relay
        .post(
            "/v1/devices/session",
            Some(&token),
            &json!({"device_id": Uuid::now_v7(), "device_name": mega}),
        )
        .await;
    assert_field_error(s, &b, unprocessable, "text_too_long", "device_name");
    let (s, b) = relay
        .post("/v1/hooks/tokens", Some(&token), &json!({"label": mega}))
        .await;
    assert_field_error(s, &b, unprocessable, "text_too_long", "label");
    assert_eq!(b["max_length"], limits::LABEL, "{b}");
    let (s, b) = relay
        .post(
            "/v1/hooks/tokens",
            Some(&token),
            &json!({"label": long(limits::LABEL)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["info"]["label"], long(limits::LABEL), "{b}");
    let hook = b["token"].as_str().expect("token").to_owned();
    let (s, b) = relay
        .post(
            "/v1/hooks/trip/start",
            Some(&hook),
            &json!({"event_id": long(limits::ID + 1)}),
        )
        .await;
    assert_field_error(s, &b, unprocessable, "text_too_long", "event_id");
    let (s, b) = relay
        .post(
            "/v1/hooks/trip/start",
            Some(&hook),
            &json!({"event_id": "e", "car": long(limits::NAME + 1)}),
        )
        .await;
    assert_field_error(s, &b, unprocessable, "text_too_long", "car");
    // A path segment longer than an id.
    let (s, b) = answer(
        relay
            .http
            .delete(relay.url(&format!("/v1/hooks/tokens/{}", "a".repeat(limits::ID + 1))))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_field_error(s, &b, StatusCode::BAD_REQUEST, "text_too_long", "path");
    // The OpenAPI document states the same limits.
    let (s, doc) = relay.get("/v1/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    let schemas = &doc["components"]["schemas"];
    for (schema, field, max) in [
        ("Credentials", "email", limits::EMAIL),
        ("Credentials", "device_name", limits::NAME),
        ("DeviceSessionRequest", "device_name", limits::NAME),
        ("CreateHookToken", "label", limits::LABEL),
        ("CreateHookToken", "car", limits::NAME),
        ("HookEvent", "event_id", limits::ID),
        ("HookEvent", "car", limits::NAME),
        ("HookEvent", "time_zone", limits::NAME),
        ("NewConnection", "label", limits::LABEL),
        ("ConnectionPatch", "label", limits::LABEL),
        ("FinishRequest", "device_name", limits::NAME),
        ("FinishRequest", "state", limits::ID),
        ("IdTokenRequest", "device_name", limits::NAME),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["maxLength"], max,
            "{schema}.{field}: {}",
            schemas[schema]["properties"][field]
        );
    }
}

/// Free text inside ops and webhook bodies travels as JSON text: a `\u0000` escape stays an
/// escape in the stored text (PostgreSQL's TEXT takes it), so such text is stored and pulled
/// as sent, on both databases, never a 500. (Whether a field may hold it is the merge rules'
/// business, not the transport's.)
async fn control_characters_in_free_text_are_one_rule_for_ops_and_kept_in_webhooks(db: TestDb) {
    let relay = start_with(&db, |c| {
        c.master_keys = Some(keys(&MasterKeys::generate_line(1)));
    })
    .await;
    let (token, device) = account(&relay, "eve@example.org").await;
    let text = "left\u{0}right \u{1b}[31m\u{7f}";
    // In an op, the field schema (tacho_model::schema) refuses them alike on both databases,
    // naming the field (never a 500); line feeds and tabs are free text's own.
    let op = upsert_op(device, 1, "time_entry", json!({"description": text}));
    let (s, b) = relay
        .post("/v1/push", Some(&token), &json!({"ops": [op]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        (b["code"].as_str(), b["field"].as_str()),
        (Some("invalid_op"), Some("description")),
        "{b}"
    );
    let fine = "two\nlines\tand a tab";
    let op = upsert_op(device, 2, "time_entry", json!({"description": fine}));
    let (s, b) = relay
        .post("/v1/push", Some(&token), &json!({"ops": [op]}))
        .await;
    assert_eq!(
        (s, b["accepted"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{b}"
    );
    let (s, page) = relay.get("/v1/pull?cursor=0", Some(&token)).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["ops"][0]["fields"]["description"], fine, "{page}");
    // A Zammad delivery whose JSON carries the same text.
    let secret = "zammad-hook-secret";
    let (s, conn) = relay
        .post(
            "/v1/connections/zammad",
            Some(&token),
            &json!({"base_url": "https://helpdesk.example.org", "api_token": "t",
                "webhook_secret": secret}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    let id = conn["id"].as_str().expect("id");
    let body = serde_json::to_vec(&json!({"ticket": {"id": 7, "title": text}})).expect("json");
    let (s, b) = relay
        .hook(id, &body, Some(&sign(secret, &body)), Some("delivery-1"))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["duplicate"], false, "{b}");
}

async fn an_op_id_of_another_account_is_unknown_to_the_pusher(db: TestDb) {
    let relay = start(&db).await;
    let (ann, ann_device) = account(&relay, "ann@example.org").await;
    let (bob, bob_device) = account(&relay, "bob@example.org").await;
    let ann_op = upsert_op(ann_device, 1, "car", json!({"name": "Golf"}));
    let (s, b) = relay
        .post("/v1/push", Some(&ann), &json!({"ops": [ann_op.clone()]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Bob pushes an op with Ann's op id: the same answer as for any new id.
    let mut reuse = upsert_op(bob_device, 1, "car", json!({"name": "Polo"}));
    reuse["op_id"] = ann_op["op_id"].clone();
    let fresh = upsert_op(bob_device, 2, "car", json!({"name": "Up"}));
    for (op, cursor) in [(&reuse, 1), (&fresh, 2)] {
        let (s, b) = relay
            .post("/v1/push", Some(&bob), &json!({"ops": [op]}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            b,
            json!({"accepted": 1, "duplicates": 0, "head": cursor}),
            "{b}"
        );
    }
    // Replays stay idempotent in each space; each space holds its own op.
    let (s, b) = relay
        .post("/v1/push", Some(&bob), &json!({"ops": [reuse.clone()]}))
        .await;
    assert_eq!((s, &b["duplicates"]), (StatusCode::OK, &json!(1)), "{b}");
    let (s, b) = relay
        .post("/v1/push", Some(&ann), &json!({"ops": [ann_op.clone()]}))
        .await;
    assert_eq!((s, &b["duplicates"]), (StatusCode::OK, &json!(1)), "{b}");
    let (_, ann_log) = relay.get("/v1/snapshot", Some(&ann)).await;
    let (_, bob_log) = relay.get("/v1/snapshot", Some(&bob)).await;
    assert_eq!(
        ann_log["ops"].as_array().map(Vec::len),
        Some(1),
        "{ann_log}"
    );
    assert_eq!(ann_log["ops"][0]["fields"]["name"], "Golf", "{ann_log}");
    assert_eq!(bob_log["ops"][0]["fields"]["name"], "Polo", "{bob_log}");
    assert_eq!(bob_log["ops"][0]["op_id"], ann_op["op_id"], "{bob_log}");
}

async fn a_webhook_to_a_relay_without_master_key_is_unauthorized(db: TestDb) {
    let secret = "zammad-hook-secret";
    let id = {
        let relay = start_with(&db, |c| {
            c.master_keys = Some(keys(&MasterKeys::generate_line(1)));
        })
        .await;
        let (token, _) = account(&relay, "fay@example.org").await;
        let (s, conn) = relay
            .post(
                "/v1/connections/zammad",
                Some(&token),
                &json!({"base_url": "https://helpdesk.example.org", "api_token": "t",
                    "webhook_secret": secret}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{conn}");
        conn["id"].as_str().expect("id").to_owned()
    };
    // The same database served without a master key: a signed delivery is 401, like a wrong
    // signature or an unknown connection (docs/security.md), on both webhook routes.
    let keyless = start(&db).await;
    let body = br#"{"ticket":{"id":1}}"#;
    for connection in [id.as_str(), "00000000-0000-0000-0000-000000000000"] {
        let (s, b) = keyless
            .hook(connection, body, Some(&sign(secret, body)), Some("d-1"))
            .await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_signature");
    }
    let (s, b) = keyless.hook(&id, body, None, Some("d-1")).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "missing_signature");
}

/// Reads from `stream` until it is closed (EOF or reset) or `limit` passes; returns what was
/// read and whether it was closed.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    use tokio::io::AsyncReadExt as _;
    let deadline = tokio::time::Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (got, false),
            Ok(Ok(0) | Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// One request on a kept-alive connection; the status line of its answer.
async fn raw_get(stream: &mut tokio::net::TcpStream, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: relay\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut buf = [0_u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("an answer within 10 s")
        .expect("read");
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn a_trickled_request_head_is_cut_off(db: TestDb) {
    use tokio::io::AsyncWriteExt as _;
    let relay = start_with(&db, |c| c.header_read_timeout = Duration::from_secs(1)).await;
    let addr = relay.base.trim_start_matches("http://").to_owned();
    // Half a request line, then nothing.
    let started = std::time::Instant::now();
    let mut stalled = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    stalled.write_all(b"GET /heal").await.expect("write");
    let (got, closed) = read_until_closed(&mut stalled, Duration::from_secs(10)).await;
    assert!(
        closed,
        "a stalled request head kept its connection for 10 s"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed only after {:?}",
        started.elapsed()
    );
    assert!(
        !String::from_utf8_lossy(&got).contains(" 200 "),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // Bytes trickling in don't extend the bound: the whole head must come within it.
    let started = std::time::Instant::now();
    let mut trickle = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let writer = async {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if trickle.write_all(&[*byte]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    let cut = tokio::time::timeout(Duration::from_secs(10), writer)
        .await
        .unwrap_or(false);
    let (_, closed) = read_until_closed(&mut trickle, Duration::from_secs(2)).await;
    assert!(cut || closed, "a trickled head was not cut off");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "cut off only after {:?}",
        started.elapsed()
    );
    // A prompt request on a fresh connection is served.
    let mut prompt = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    assert!(raw_get(&mut prompt, "/healthz").await.contains(" 200 "));
}

async fn connections_per_peer_address_are_bounded(db: TestDb) {
    let relay = start_with(&db, |c| c.max_connections_per_ip = 3).await;
    let addr = relay.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut conn = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        // Served: the connection is open and counted.
        assert!(raw_get(&mut conn, "/healthz").await.contains(" 200 "));
        held.push(conn);
    }
    // The fourth at once from the same address is closed without an answer.
    let mut fourth = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    {
        use tokio::io::AsyncWriteExt as _;
        let _ = fourth
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
            .await;
    }
    let (got, closed) = read_until_closed(&mut fourth, Duration::from_secs(5)).await;
    assert!(
        closed && got.is_empty(),
        "fourth connection got: {}",
        String::from_utf8_lossy(&got)
    );
    // The three held are still served.
    for conn in &mut held {
        assert!(raw_get(conn, "/healthz").await.contains(" 200 "));
    }
    // Closing one frees its place.
    drop(held.pop());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        {
            use tokio::io::AsyncWriteExt as _;
            let _ = again
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
                .await;
        }
        let (got, _) = read_until_closed(&mut again, Duration::from_millis(500)).await;
        if String::from_utf8_lossy(&got).contains(" 200 ") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a freed place was not given back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The safety net behind the text rule: should text with U+0000 reach PostgreSQL unchecked (a
/// route added later), its refusal (SQLSTATE 22021) is answered 422 `invalid_text`, not 500.
/// SQLite stores it, which is why the rule itself runs before the database on both.
async fn text_the_database_refuses_is_a_client_error(db: TestDb) {
    let relay = start(&db).await;
    let stored = sqlx::query("SELECT CAST($1 AS TEXT) AS t")
        .bind("a\u{0}b")
        .fetch_one(&relay.state.db().pool)
        .await;
    match stored {
        Ok(row) => {
            assert!(!db.is_postgres(), "PostgreSQL took U+0000");
            assert_eq!(row.try_get::<String, _>("t").expect("t"), "a\u{0}b");
        }
        Err(err) => {
            assert!(db.is_postgres(), "SQLite refused U+0000: {err}");
            let answer = tacho_relay::http::error::ApiError::from(err);
            assert_eq!(
                answer.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{answer:?}"
            );
            assert_eq!(answer.code, "invalid_text");
        }
    }
}
