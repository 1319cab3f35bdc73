//! The timesheet connectors (issue 13) against real databases (a SQLite file and a fresh
//! PostgreSQL database), the relay on a loopback port, real HTTP, and the strict fake Toggl of
//! tacho-fakes on 127.0.0.1 (the fakes of Tempo, Kimai and Zammad were not built when this was
//! written; their clients are untested here).
//!
//! Exactly once is checked by counting the fake's live entries by natural key (description),
//! never by trusting the relay's own bookkeeping.

// Test helpers may panic on broken fixtures; that is a test failure, not a bug in the relay.
#![allow(clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row as _;
use tacho_fakes::toggl::{TOKEN, WORKSPACE_ID};
use tacho_fakes::{Chaos, ChaosRule, FakeToggl};
use tacho_relay::jobs::{Backoff, RunnerConfig, RunnerHandle};
use tacho_relay::secrets::MasterKeys;
use uuid::Uuid;

#[path = "support/harness.rs"]
#[macro_use]
mod harness;
use harness::*;
#[path = "support/api.rs"]
mod api;
use api::*;

on_both_databases!(
    connection_add_checks_the_service_and_stores_nothing_on_failure,
    mappings_refuse_bad_specs_and_unknown_projects,
    push_enqueues_coalesced_work_in_the_same_transaction,
    entries_from_two_devices_reach_toggl_exactly_once,
    chaos_never_duplicates,
    quota_pauses_and_resumes_without_losing_work,
    revoked_token_disables_with_a_reason_until_rotated,
    remote_changes_reach_the_op_log,
    conflicts_appear_and_each_resolution_works,
    two_runners_never_push_an_entry_twice,
    a_worker_killed_mid_write_neither_loses_nor_duplicates,
    connector_kinds_are_written_by_the_relay_only,
    lookups_are_cached_and_pause_holds_work,
);

/// Toggl project the tests map to.
const TOGGL_PROJECT: u64 = 900_001;

/// One master key for every relay instance of a test run (two instances share a database).
fn key_line() -> &'static str {
    static LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LINE.get_or_init(|| MasterKeys::generate_line(1))
}

fn fast(c: &mut tacho_relay::Config) {
    c.master_keys = Some(MasterKeys::parse(key_line()).expect("keys"));
    c.connectors.tick = Duration::from_millis(100);
    c.connectors.retry_base = Duration::from_millis(100);
    c.connectors.http_timeout = Duration::from_millis(800);
    c.connectors.pull_every = Duration::from_secs(3600);
}

fn runner(relay: &Relay) -> RunnerHandle {
    runner_with_lease(relay, Duration::from_secs(60))
}

fn runner_with_lease(relay: &Relay, lease: Duration) -> RunnerHandle {
    relay
        .state
        .job_runner(RunnerConfig {
            poll: Duration::from_millis(30),
            lease,
            grace: Duration::from_secs(2),
            backoff: Backoff {
                base: Duration::from_millis(50),
                cap: Duration::from_millis(200),
            },
            ..RunnerConfig::default()
        })
        .spawn()
}

/// Polls `check` until it holds (20 s at most).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

impl Relay {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(body);
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
            .expect("count value")
    }
}

/// A person with a device pushing ops in sequence.
struct Device {
    id: Uuid,
    token: String,
    seq: u64,
}

impl Device {
    async fn op(&mut self, relay: &Relay, entity: &str, id: Uuid, kind: &str, fields: Value) {
        self.seq += 1;
        let mut op = json!({
            "op_id": Uuid::now_v7(), "device": self.id, "device_seq": self.seq,
            "hlc": now_hlc() + self.seq, "entity": entity, "entity_id": id, "kind": kind,
            "schema": 1,
        });
        if kind == "upsert" {
            op["fields"] = fields;
        }
        let (s, b) = relay.push(&self.token, &[op]).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
}

async fn person(relay: &Relay, email: &str) -> (Device, Device) {
    let a = Uuid::now_v7();
    let session = relay.signup(email, a).await;
    let b = Uuid::now_v7();
    let (s, second) = relay.post("/v1/auth/login", None, &creds(email, b)).await;
    assert_eq!(s, StatusCode::OK, "{second}");
    (
        Device {
            id: a,
            token: token(&session),
            seq: 0,
        },
        Device {
            id: b,
            token: token(&second),
            seq: 0,
        },
    )
}

/// A time `offset_min` minutes after a base fixed for the test run (so durations are exact).
fn at(offset_min: i64) -> String {
    static BASE: std::sync::OnceLock<chrono::DateTime<chrono::Utc>> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| chrono::Utc::now() - chrono::Duration::hours(3));
    (base + chrono::Duration::minutes(offset_min))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn entry(project: Uuid, description: &str, start: &str, stop: Option<&str>) -> Value {
    json!({"project_id": project, "description": description, "start": start, "stop": stop,
           "tags": ["relay"], "billable": true, "source": "manual", "trip_id": null})
}

fn new_toggl(fake: &FakeToggl, label: &str, token: &str, workspace: u64) -> Value {
    json!({
        "provider": "toggl", "label": label, "base_url": fake.base_url(),
        "settings": {"workspace_id": workspace},
        "secrets": {"api_token": token},
    })
}

/// A relay, a person with two devices, a project, and a Toggl connection mapping it.
struct Setup {
    relay: Relay,
    fake: FakeToggl,
    a: Device,
    b: Device,
    project: Uuid,
    conn: String,
}

async fn setup(db: &TestDb, email: &str) -> Setup {
    let relay = start_with(db, fast).await;
    let fake = FakeToggl::start().await.expect("fake toggl");
    fake.add_project(WORKSPACE_ID, TOGGL_PROJECT, "Client work", None);
    let (mut a, b) = person(&relay, email).await;
    let project = Uuid::now_v7();
    a.op(
        &relay,
        "project",
        project,
        "upsert",
        json!({"name": "Client", "client": null, "billable": true,
               "rounding": {"mode": "none"}, "archived": false}),
    )
    .await;
    let (s, conn) = relay
        .call(
            "POST",
            "/v1/connections",
            &a.token,
            Some(&new_toggl(&fake, "Work Toggl", TOKEN, WORKSPACE_ID)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    let conn = conn["id"].as_str().expect("id").to_owned();
    let (s, m) = relay
        .call(
            "PUT",
            &format!("/v1/connections/{conn}/mappings/{project}"),
            &a.token,
            Some(&json!({"target": format!("project={TOGGL_PROJECT}")})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    Setup {
        relay,
        fake,
        a,
        b,
        project,
        conn,
    }
}

/// A snapshot's ops folded per entity, in log order: `[{entity, entity_id, fields, deleted}]`.
fn entities(snap: &Value) -> Value {
    let mut out: Vec<Value> = Vec::new();
    for op in snap["ops"].as_array().into_iter().flatten() {
        let at = out
            .iter()
            .position(|e| e["entity_id"] == op["entity_id"] && e["entity"] == op["entity"]);
        let at = at.unwrap_or_else(|| {
            out.push(json!({"entity": op["entity"], "entity_id": op["entity_id"],
                            "fields": {}, "deleted": false}));
            out.len() - 1
        });
        match op["kind"].as_str() {
            Some("upsert") => {
                for (k, v) in op["fields"].as_object().into_iter().flatten() {
                    out[at]["fields"][k] = v.clone();
                }
            }
            Some("delete") => out[at]["deleted"] = json!(true),
            Some("restore") => out[at]["deleted"] = json!(false),
            _ => {}
        }
    }
    Value::Array(out)
}

fn live(fake: &FakeToggl, description: &str) -> usize {
    fake.count(|e| e.description.as_deref() == Some(description))
}

async fn connection_add_checks_the_service_and_stores_nothing_on_failure(db: TestDb) {
    let relay = start_with(&db, fast).await;
    let fake = FakeToggl::start().await.expect("fake toggl");
    let (a, _) = person(&relay, "add@example.org").await;
    let t = &a.token;
    let count = || {
        relay.count(
            "SELECT COUNT(*) FROM connections WHERE provider = $1",
            "toggl",
        )
    };
    // Wrong token: refused with the service's verdict, nothing stored.
    let (s, b) = relay
        .call(
            "POST",
            "/v1/connections",
            t,
            Some(&new_toggl(
                &fake,
                "T",
                "wrong-token-PLAINTEXT",
                WORKSPACE_ID,
            )),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "connection_check_failed",
    );
    assert!(
        b["message"]
            .as_str()
            .is_some_and(|m| m.contains("token was refused")),
        "{b}"
    );
    assert!(!b.to_string().contains("PLAINTEXT"), "{b}");
    // A workspace the token can't see.
    let (s, b) = relay
        .call(
            "POST",
            "/v1/connections",
            t,
            Some(&new_toggl(&fake, "T", TOKEN, 42)),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "connection_check_failed",
    );
    assert!(
        b["message"]
            .as_str()
            .is_some_and(|m| m.contains("workspace 42")),
        "{b}"
    );
    // Nothing listening at the URL.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let mut body = new_toggl(&fake, "T", TOKEN, WORKSPACE_ID);
    body["base_url"] = json!(url);
    let (s, b) = relay.call("POST", "/v1/connections", t, Some(&body)).await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "connection_check_failed",
    );
    assert!(
        b["message"]
            .as_str()
            .is_some_and(|m| m.contains("no Toggl Track API at")),
        "{b}"
    );
    // Plain http off loopback: refused before any request.
    body["base_url"] = json!("http://toggl.example.org");
    let (s, b) = relay.call("POST", "/v1/connections", t, Some(&body)).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_base_url");
    // Unknown kind, missing settings, missing label.
    let (s, b) = relay
        .call(
            "POST",
            "/v1/connections",
            t,
            Some(&json!({"provider": "harvest", "label": "H"})),
        )
        .await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "unknown_provider");
    let mut body = new_toggl(&fake, "T", TOKEN, WORKSPACE_ID);
    body["settings"] = json!({});
    let (s, b) = relay.call("POST", "/v1/connections", t, Some(&body)).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_settings");
    let mut body = new_toggl(&fake, "T", TOKEN, WORKSPACE_ID);
    body.as_object_mut().expect("object").remove("label");
    let (s, b) = relay.call("POST", "/v1/connections", t, Some(&body)).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_label");
    let mut body = new_toggl(&fake, "T", TOKEN, WORKSPACE_ID);
    body["settings"]["time_zone"] = json!("Mars/Olympus");
    let (s, b) = relay.call("POST", "/v1/connections", t, Some(&body)).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_settings");
    assert_eq!(count().await, 0);
    // The good one: stored, token sealed and never shown.
    let (s, conn) = relay
        .call(
            "POST",
            "/v1/connections",
            t,
            Some(&new_toggl(&fake, "Work", TOKEN, WORKSPACE_ID)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    assert_eq!(conn["state"], "active", "{conn}");
    assert_eq!(
        conn["counts"],
        json!({"pending": 0, "conflicts": 0, "errors": 0})
    );
    assert!(!conn.to_string().contains(TOKEN), "{conn}");
    assert_eq!(count().await, 1);
    // The label is unique among the person's connectors.
    let (s, b) = relay
        .call(
            "POST",
            "/v1/connections",
            t,
            Some(&new_toggl(&fake, "Work", TOKEN, WORKSPACE_ID)),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "name_taken");
    assert_eq!(count().await, 1);
    let (s, list) = relay.call("GET", "/v1/connections", t, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!list.to_string().contains(TOKEN), "{list}");
    // The token is nowhere in the database in clear.
    let sealed: Vec<String> = sqlx::query("SELECT sealed FROM sealed_secrets")
        .fetch_all(&relay.state.db().pool)
        .await
        .expect("sealed")
        .iter()
        .map(|r| r.try_get("sealed").expect("sealed"))
        .collect();
    assert!(!sealed.is_empty() && sealed.iter().all(|s| !s.contains(TOKEN)));
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        let path = path.split('?').next().expect("path");
        for file in [path.to_owned(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                let hit = bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes());
                assert!(!hit, "token in clear in {file}");
            }
        }
    }
}

async fn mappings_refuse_bad_specs_and_unknown_projects(db: TestDb) {
    let s = setup(&db, "map@example.org").await;
    let (relay, t) = (&s.relay, &s.a.token);
    let path = format!("/v1/connections/{}/mappings/{}", s.conn, s.project);
    for (spec, why) in [
        ("issue=4", "not a toggl target key"),
        ("project=abc", "not a positive id"),
        ("task=3", "needs `project=ID`"),
    ] {
        let (st, b) = relay
            .call("PUT", &path, t, Some(&json!({"target": spec})))
            .await;
        assert_error(st, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_target");
        assert!(
            b["message"].as_str().is_some_and(|m| m.contains(why)),
            "{spec}: {b}"
        );
    }
    let unknown = format!("/v1/connections/{}/mappings/{}", s.conn, Uuid::now_v7());
    let (st, b) = relay
        .call("PUT", &unknown, t, Some(&json!({"target": "project=1"})))
        .await;
    assert_error(st, &b, StatusCode::UNPROCESSABLE_ENTITY, "unknown_project");
    let (st, list) = relay
        .call(
            "GET",
            &format!("/v1/connections/{}/mappings", s.conn),
            t,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list["mappings"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["mappings"][0]["target"]["project_id"], TOGGL_PROJECT);
    // Another person sees neither the connection nor its mappings.
    let (other, _) = person(relay, "other@example.org").await;
    let (st, b) = relay
        .call(
            "GET",
            &format!("/v1/connections/{}/mappings", s.conn),
            &other.token,
            None,
        )
        .await;
    assert_error(st, &b, StatusCode::NOT_FOUND, "not_found");
    let (st, _) = relay.call("DELETE", &path, t, None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, b) = relay.call("DELETE", &path, t, None).await;
    assert_error(st, &b, StatusCode::NOT_FOUND, "not_found");
}

async fn push_enqueues_coalesced_work_in_the_same_transaction(db: TestDb) {
    // No runner: the queue is only looked at.
    let mut s = setup(&db, "queue@example.org").await;
    let relay = &s.relay;
    let work = |entry: String| async move {
        relay
            .count(
                "SELECT COUNT(*) FROM connector_work WHERE entry_id = $1 AND state = 'queued'",
                &entry,
            )
            .await
    };
    let jobs = || relay.count("SELECT COUNT(*) FROM jobs WHERE dedupe_key = $1", "");
    let entry_id = Uuid::now_v7();
    s.a.op(
        relay,
        "time_entry",
        entry_id,
        "upsert",
        entry(s.project, "one", &at(0), Some(&at(30))),
    )
    .await;
    s.a.op(
        relay,
        "time_entry",
        entry_id,
        "upsert",
        json!({"description": "two"}),
    )
    .await;
    s.b.op(
        relay,
        "time_entry",
        entry_id,
        "upsert",
        json!({"description": "three"}),
    )
    .await;
    // Three pushes, one work row, one push job for the connection.
    assert_eq!(work(entry_id.to_string()).await, 1);
    let key = format!("connector.push:{}", s.conn);
    assert_eq!(
        relay
            .count("SELECT COUNT(*) FROM jobs WHERE dedupe_key = $1", &key)
            .await,
        1
    );
    assert_eq!(jobs().await, 0);
    // A batch without time entries enqueues nothing.
    let before = relay
        .count(
            "SELECT COUNT(*) FROM connector_work WHERE connection_id = $1",
            &s.conn,
        )
        .await;
    s.a.op(
        relay,
        "project",
        s.project,
        "upsert",
        json!({"name": "Renamed"}),
    )
    .await;
    let after = relay
        .count(
            "SELECT COUNT(*) FROM connector_work WHERE connection_id = $1",
            &s.conn,
        )
        .await;
    assert_eq!(before, after);
    // A refused op rolls its batch's work back with it: nothing half-enqueued.
    let other = Uuid::now_v7();
    s.a.seq += 1;
    let bad = json!({
        "op_id": Uuid::now_v7(), "device": s.a.id, "device_seq": s.a.seq + 5,
        "hlc": now_hlc(), "entity": "time_entry", "entity_id": other, "kind": "upsert",
        "fields": entry(s.project, "gap", &at(0), None), "schema": 1,
    });
    let (st, b) = relay.push(&s.a.token, &[bad]).await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
    assert_eq!(work(other.to_string()).await, 0);
}

async fn entries_from_two_devices_reach_toggl_exactly_once(db: TestDb) {
    let mut s = setup(&db, "push@example.org").await;
    let jobs = runner(&s.relay);
    let relay = &s.relay;
    let fake = &s.fake;
    // A stopped entry from device A, a running one from device B.
    let done = Uuid::now_v7();
    s.a.op(
        relay,
        "time_entry",
        done,
        "upsert",
        entry(s.project, "design review", &at(0), Some(&at(45))),
    )
    .await;
    let running = Uuid::now_v7();
    s.b.op(
        relay,
        "time_entry",
        running,
        "upsert",
        entry(s.project, "coding", &at(60), None),
    )
    .await;
    // An entry of an unmapped project goes nowhere.
    s.a.op(
        relay,
        "time_entry",
        Uuid::now_v7(),
        "upsert",
        entry(Uuid::now_v7(), "private", &at(0), Some(&at(5))),
    )
    .await;
    eventually("both entries are in Toggl", || async {
        live(fake, "design review") == 1 && live(fake, "coding") == 1
    })
    .await;
    let review = fake
        .entries()
        .into_iter()
        .find(|e| e.description.as_deref() == Some("design review"))
        .expect("review");
    assert_eq!(review.project_id, Some(TOGGL_PROJECT));
    assert_eq!(review.duration, 45 * 60);
    assert!(review.billable);
    assert_eq!(review.tags, vec!["relay".to_owned()]);
    let coding = fake
        .entries()
        .into_iter()
        .find(|e| e.description.as_deref() == Some("coding"))
        .expect("coding");
    assert!(coding.is_running(), "{coding:?}");
    assert_eq!(live(fake, "private"), 0);
    // Edit on B, stop on A, delete on B.
    s.b.op(
        relay,
        "time_entry",
        done,
        "upsert",
        json!({"description": "design review v2"}),
    )
    .await;
    s.a.op(
        relay,
        "time_entry",
        running,
        "upsert",
        json!({"stop": at(90)}),
    )
    .await;
    eventually("the edit and the stop are in Toggl", || async {
        live(fake, "design review v2") == 1
            && fake
                .entries()
                .iter()
                .any(|e| e.description.as_deref() == Some("coding") && e.duration == 30 * 60)
    })
    .await;
    assert_eq!(live(fake, "design review"), 0);
    assert_eq!(fake.entries().len(), 2);
    s.b.op(relay, "time_entry", done, "delete", Value::Null)
        .await;
    eventually("the deletion is in Toggl", || async {
        live(fake, "design review v2") == 0
    })
    .await;
    assert_eq!(fake.entries().len(), 1);
    // Status and audit log tell what happened; links are synced on every device.
    let status_path = format!("/v1/connections/{}/status", s.conn);
    eventually("the queue is drained", || async {
        let (_, st) = relay.call("GET", &status_path, &s.a.token, None).await;
        st["pending"] == 0 && st["running"] == 0
    })
    .await;
    let (st, status) = relay.call("GET", &status_path, &s.a.token, None).await;
    assert_eq!(st, StatusCode::OK, "{status}");
    assert_eq!(status["state"], "active");
    assert_eq!(status["errors"], 0, "{status}");
    assert!(status["last_push_at"].is_string(), "{status}");
    let (st, log) = relay
        .call(
            "GET",
            &format!("/v1/connections/{}/log?limit=50", s.conn),
            &s.a.token,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{log}");
    let ops: Vec<&str> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["operation"].as_str())
        .collect();
    for op in ["create", "update", "delete"] {
        assert!(ops.contains(&op), "{op} not in {ops:?}");
    }
    let snap = relay.snapshot(&s.b.token).await;
    let folded = entities(&snap);
    let links: Vec<&Value> = folded
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|x| x["entity"] == "connector_link")
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !links.is_empty(),
        "no connector_link in the snapshot: {snap}"
    );
    jobs.shutdown().await;
}

async fn chaos_never_duplicates(db: TestDb) {
    let mut s = setup(&db, "chaos@example.org").await;
    let jobs = runner(&s.relay);
    let path = format!("/api/v9/workspaces/{WORKSPACE_ID}/time_entries");
    let cases = [
        ("dropped", Chaos::DropAfterCommit),
        ("failed", Chaos::FailBeforeCommit(503)),
        (
            "stalled",
            Chaos::CommitThenStall(Duration::from_millis(1500)),
        ),
        ("late", Chaos::StallThenCommit(Duration::from_millis(1200))),
    ];
    for (i, (name, chaos)) in cases.into_iter().enumerate() {
        s.fake.chaos(ChaosRule::once("POST", &path, chaos));
        let id = Uuid::now_v7();
        let start = at(i64::try_from(i).expect("i") * 10);
        s.a.op(
            &s.relay,
            "time_entry",
            id,
            "upsert",
            entry(s.project, name, &start, Some(&at(100))),
        )
        .await;
        let fake = &s.fake;
        eventually(name, || async { live(fake, name) == 1 }).await;
        // Give a late commit time to land, then look again.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(live(&s.fake, name), 1, "{name} duplicated");
        // An edit after the chaos goes to the same remote entry.
        s.b.op(
            &s.relay,
            "time_entry",
            id,
            "upsert",
            json!({"description": format!("{name}!")}),
        )
        .await;
        let edited = format!("{name}!");
        eventually("edit after chaos", || async { live(fake, &edited) == 1 }).await;
        assert_eq!(live(&s.fake, name), 0, "{name}: old record left");
    }
    assert_eq!(s.fake.entries().len(), 4);
    jobs.shutdown().await;
}

async fn quota_pauses_and_resumes_without_losing_work(db: TestDb) {
    let mut s = setup(&db, "quota@example.org").await;
    let jobs = runner(&s.relay);
    let path = format!("/api/v9/workspaces/{WORKSPACE_ID}/time_entries");
    s.fake.chaos(ChaosRule::once(
        "POST",
        &path,
        Chaos::status(402, r#""quota exceeded""#).with_header("X-Toggl-Quota-Resets-In", "2"),
    ));
    let id = Uuid::now_v7();
    s.a.op(
        &s.relay,
        "time_entry",
        id,
        "upsert",
        entry(s.project, "after quota", &at(0), Some(&at(20))),
    )
    .await;
    let relay = &s.relay;
    let status_path = format!("/v1/connections/{}/status", s.conn);
    eventually("the connection is quota-paused", || async {
        let (_, st) = relay.call("GET", &status_path, &s.a.token, None).await;
        st["state"] == "quota" && st["quota_until"].is_string()
    })
    .await;
    assert_eq!(live(&s.fake, "after quota"), 0);
    let fake = &s.fake;
    eventually("the entry arrives after the reset", || async {
        live(fake, "after quota") == 1
    })
    .await;
    let (_, st) = relay.call("GET", &status_path, &s.a.token, None).await;
    assert_eq!(st["state"], "active", "{st}");
    jobs.shutdown().await;
}

async fn revoked_token_disables_with_a_reason_until_rotated(db: TestDb) {
    let mut s = setup(&db, "revoke@example.org").await;
    let jobs = runner(&s.relay);
    s.fake.revoke_token(TOKEN);
    let id = Uuid::now_v7();
    s.a.op(
        &s.relay,
        "time_entry",
        id,
        "upsert",
        entry(s.project, "blocked", &at(0), Some(&at(20))),
    )
    .await;
    let relay = &s.relay;
    let conn_path = format!("/v1/connections/{}", s.conn);
    eventually("the connection is disabled", || async {
        let (_, c) = relay.call("GET", &conn_path, &s.a.token, None).await;
        c["state"] == "disabled"
    })
    .await;
    let (_, c) = relay.call("GET", &conn_path, &s.a.token, None).await;
    assert!(
        c["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("refused the token")),
        "{c}"
    );
    assert_eq!(c["counts"]["pending"], 1, "{c}");
    let (_, inbox) = relay.call("GET", "/v1/conflicts", &s.a.token, None).await;
    assert!(
        inbox["conflicts"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x["kind"] == "auth")),
        "{inbox}"
    );
    // A new token: checked, the connection resumes, the kept work is pushed.
    s.fake
        .add_token("rotated-token-PLAINTEXT", tacho_fakes::toggl::USER_ID);
    let (st, c) = relay
        .call(
            "PATCH",
            &conn_path,
            &s.a.token,
            Some(&json!({"secrets": {"api_token": "rotated-token-PLAINTEXT"}})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert_eq!(c["state"], "active", "{c}");
    assert!(!c.to_string().contains("PLAINTEXT"));
    let (st, _) = relay
        .call("POST", &format!("{conn_path}/run"), &s.a.token, None)
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let fake = &s.fake;
    eventually("the kept entry arrives", || async {
        live(fake, "blocked") == 1
    })
    .await;
    jobs.shutdown().await;
}

async fn remote_changes_reach_the_op_log(db: TestDb) {
    let s = setup(&db, "pull@example.org").await;
    let jobs = runner(&s.relay);
    let relay = &s.relay;
    let start = chrono::Utc::now() - chrono::Duration::hours(1);
    let made = s
        .fake
        .create_entry(WORKSPACE_ID, start, 1800, Some("made in toggl"));
    s.fake
        .edit_entry(made.id, |e| e.project_id = Some(TOGGL_PROJECT));
    // Not mapped: ignored.
    s.fake
        .create_entry(WORKSPACE_ID, start, 600, Some("other project"));
    let run = format!("/v1/connections/{}/run", s.conn);
    let described = |snap: &Value, text: &str| -> Option<Value> {
        entities(snap).as_array().and_then(|all| {
            all.iter()
                .find(|e| e["entity"] == "time_entry" && e["fields"]["description"] == text)
                .cloned()
        })
    };
    let (st, _) = relay.call("POST", &run, &s.a.token, None).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let b = &s.b.token;
    eventually("the remote entry is in the op log", || async {
        described(&relay.snapshot(b).await, "made in toggl").is_some()
    })
    .await;
    let snap = relay.snapshot(b).await;
    let pulled = described(&snap, "made in toggl").expect("pulled");
    assert_eq!(pulled["fields"]["source"], "connector", "{pulled}");
    assert_eq!(pulled["fields"]["project_id"], s.project.to_string());
    assert!(described(&snap, "other project").is_none());
    // A remote edit and a remote deletion follow.
    s.fake
        .edit_entry(made.id, |e| e.description = Some("edited in toggl".into()));
    relay.call("POST", &run, &s.a.token, None).await;
    eventually("the remote edit is in the op log", || async {
        described(&relay.snapshot(b).await, "edited in toggl").is_some()
    })
    .await;
    // Pulled entries are never pushed back.
    assert_eq!(
        s.fake
            .count(|e| e.description.as_deref() == Some("edited in toggl")),
        1
    );
    s.fake.delete_entry(made.id);
    relay.call("POST", &run, &s.a.token, None).await;
    eventually("the remote deletion is in the op log", || async {
        described(&relay.snapshot(b).await, "edited in toggl").is_some_and(|e| e["deleted"] == true)
    })
    .await;
    jobs.shutdown().await;
}

async fn conflicts_appear_and_each_resolution_works(db: TestDb) {
    let mut s = setup(&db, "conflict@example.org").await;
    let jobs = runner(&s.relay);
    let relay = &s.relay;
    let fake = &s.fake;
    // Toggl refuses a write: a conflict with its message; keep_local pushes again.
    let path = format!("/api/v9/workspaces/{WORKSPACE_ID}/time_entries");
    fake.chaos(ChaosRule::once(
        "POST",
        &path,
        Chaos::status(400, r#""Project is archived""#),
    ));
    let id = Uuid::now_v7();
    s.a.op(
        relay,
        "time_entry",
        id,
        "upsert",
        entry(s.project, "refused once", &at(0), Some(&at(10))),
    )
    .await;
    let t = s.a.token.clone();
    let open = |kind: &'static str| {
        let t = t.clone();
        async move {
            let (_, inbox) = relay.call("GET", "/v1/conflicts", &t, None).await;
            inbox["conflicts"]
                .as_array()
                .and_then(|c| c.iter().find(|x| x["kind"] == kind).cloned())
        }
    };
    eventually("a refused conflict opens", || async {
        open("refused").await.is_some()
    })
    .await;
    let conflict = open("refused").await.expect("conflict");
    assert!(
        conflict["message"]
            .as_str()
            .is_some_and(|m| m.contains("archived")),
        "{conflict}"
    );
    assert_eq!(
        conflict["local"]["description"], "refused once",
        "{conflict}"
    );
    let resolve = |id: &str, action: &str| {
        let path = format!("/v1/conflicts/{id}/resolve");
        let body = json!({ "action": action });
        let t = t.clone();
        async move { relay.call("POST", &path, &t, Some(&body)).await }
    };
    let (st, b) = resolve(conflict["id"].as_str().expect("id"), "keep_everything").await;
    assert_error(st, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_action");
    let (st, b) = resolve(conflict["id"].as_str().expect("id"), "keep_local").await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{b}");
    eventually("keep_local pushes", || async {
        live(fake, "refused once") == 1
    })
    .await;
    let (st, b) = resolve(conflict["id"].as_str().expect("id"), "dismiss").await;
    assert_error(st, &b, StatusCode::CONFLICT, "already_resolved");
    jobs.shutdown().await;
    // Changed on both sides (no worker running, so neither side is pushed over the other): the
    // pull finds a conflict and overwrites nothing; keep_remote takes Toggl's words into Tacho.
    let remote = fake
        .entries()
        .into_iter()
        .find(|e| e.description.as_deref() == Some("refused once"))
        .expect("remote");
    let b_token = s.b.token.clone();
    let device = s.b.id;
    let both_changed = |remote_words: &'static str, local_words: &'static str, seq: u64| {
        let b_token = b_token.clone();
        let conn = s.conn.clone();
        async move {
            fake.edit_entry(remote.id, |e| e.description = Some(remote_words.into()));
            let op = json!({
                "op_id": Uuid::now_v7(), "device": device, "device_seq": seq,
                "hlc": now_hlc() + seq, "entity": "time_entry", "entity_id": id,
                "kind": "upsert", "fields": {"description": local_words}, "schema": 1,
            });
            let (st, b) = relay.push(&b_token, &[op]).await;
            assert_eq!(st, StatusCode::OK, "{b}");
            tacho_relay::connectors::pull::pull(relay.state.connectors().ctx(), &conn)
                .await
                .expect("pull");
        }
    };
    s.b.seq += 1;
    both_changed("remote words", "local words", s.b.seq).await;
    let conflict = open("both_changed").await.expect("both_changed conflict");
    assert_eq!(
        conflict["local"]["description"], "local words",
        "{conflict}"
    );
    assert_eq!(
        conflict["remote"]["description"], "remote words",
        "{conflict}"
    );
    assert_eq!(live(fake, "remote words"), 1);
    let tacho_words = |snap: &Value| -> Value {
        entities(snap)
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|e| e["entity_id"] == id.to_string())
                    .cloned()
            })
            .map_or(Value::Null, |e| e["fields"]["description"].clone())
    };
    assert_eq!(tacho_words(&relay.snapshot(&t).await), "local words");
    let snap = relay.snapshot(&t).await;
    assert!(
        entities(&snap).as_array().is_some_and(|all| all
            .iter()
            .any(|e| e["entity"] == "connector_conflict" && e["fields"]["state"] == "open")),
        "no open connector_conflict in the snapshot"
    );
    let (st, b) = resolve(conflict["id"].as_str().expect("id"), "keep_remote").await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{b}");
    assert_eq!(tacho_words(&relay.snapshot(&t).await), "remote words");
    assert!(open("both_changed").await.is_none());
    // Dismiss closes and leaves both sides as they are.
    s.b.seq += 1;
    both_changed("remote again", "local again", s.b.seq).await;
    let conflict = open("both_changed").await.expect("second conflict");
    let (st, b) = resolve(conflict["id"].as_str().expect("id"), "dismiss").await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{b}");
    assert!(open("both_changed").await.is_none());
    assert_eq!(tacho_words(&relay.snapshot(&t).await), "local again");
    assert_eq!(live(fake, "remote again"), 1);
}

async fn two_runners_never_push_an_entry_twice(db: TestDb) {
    let mut s = setup(&db, "twice@example.org").await;
    // Budget and quota out of the way: this is about claiming, not Toggl's limits.
    s.fake.set_quota(10_000, Duration::from_secs(3600));
    let (st, c) = s
        .relay
        .call(
            "PATCH",
            &format!("/v1/connections/{}", s.conn),
            &s.a.token,
            Some(&json!({"settings": {"requests_per_hour": 10_000}})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    let other = start_with(&db, fast).await;
    let one = runner(&s.relay);
    let two = runner(&other);
    for i in 0..12 {
        let id = Uuid::now_v7();
        let text = format!("parallel {i}");
        s.a.op(
            &s.relay,
            "time_entry",
            id,
            "upsert",
            entry(s.project, &text, &at(i), Some(&at(i + 1))),
        )
        .await;
    }
    let fake = &s.fake;
    eventually("all twelve arrive", || async { fake.entries().len() >= 12 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..12 {
        assert_eq!(live(fake, &format!("parallel {i}")), 1, "entry {i}");
    }
    assert_eq!(fake.entries().len(), 12);
    one.shutdown().await;
    two.shutdown().await;
}

async fn a_worker_killed_mid_write_neither_loses_nor_duplicates(db: TestDb) {
    let mut s = setup(&db, "killed@example.org").await;
    let path = format!("/api/v9/workspaces/{WORKSPACE_ID}/time_entries");
    // The create reaches Toggl, which commits it only after the worker is gone.
    s.fake.chaos(ChaosRule::once(
        "POST",
        &path,
        Chaos::StallThenCommit(Duration::from_millis(1500)),
    ));
    let first = runner_with_lease(&s.relay, Duration::from_secs(2));
    let id = Uuid::now_v7();
    s.a.op(
        &s.relay,
        "time_entry",
        id,
        "upsert",
        entry(s.project, "survivor", &at(0), Some(&at(25))),
    )
    .await;
    let fake = &s.fake;
    eventually("the create is on the wire", || async {
        fake.count_requests("POST", &path) >= 1
    })
    .await;
    first.abort();
    // The intent was committed before the request left.
    let intents = s
        .relay
        .count(
            "SELECT COUNT(*) FROM connector_links WHERE entry_id = $1 AND intent IS NOT NULL",
            &id.to_string(),
        )
        .await;
    assert_eq!(intents, 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(live(fake, "survivor"), 1, "the stalled create committed");
    // Another instance takes the job over after the lease and reconciles instead of resending.
    let second = runner(&s.relay);
    eventually("the link is recorded", || async {
        s.relay
            .count(
                "SELECT COUNT(*) FROM connector_links WHERE entry_id = $1 AND intent IS NULL \
                 AND remote_id IS NOT NULL",
                &id.to_string(),
            )
            .await
            == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(live(fake, "survivor"), 1, "duplicated after the takeover");
    assert_eq!(fake.count_requests("POST", &path), 1, "sent twice");
    second.shutdown().await;
}

async fn connector_kinds_are_written_by_the_relay_only(db: TestDb) {
    let relay = start_with(&db, fast).await;
    let (a, _) = person(&relay, "forge@example.org").await;
    let op = json!({
        "op_id": Uuid::now_v7(), "device": a.id, "device_seq": 1, "hlc": now_hlc(),
        "entity": "connector_conflict", "entity_id": Uuid::now_v7(), "kind": "upsert",
        "fields": {"state": "resolved"}, "schema": 1,
    });
    let (st, b) = relay.push(&a.token, &[op]).await;
    assert_error(st, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_op");
    assert!(
        b["message"]
            .as_str()
            .is_some_and(|m| m.contains("relay only")),
        "{b}"
    );
}

async fn lookups_are_cached_and_pause_holds_work(db: TestDb) {
    let mut s = setup(&db, "lookups@example.org").await;
    let relay = &s.relay;
    let t = s.a.token.clone();
    let base = format!("/v1/connections/{}", s.conn);
    let projects = format!("/api/v9/workspaces/{WORKSPACE_ID}/projects");
    let (st, list) = relay
        .call("GET", &format!("{base}/lookups/projects"), &t, None)
        .await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert!(
        list["items"].as_array().is_some_and(|i| i
            .iter()
            .any(|p| p["id"] == TOGGL_PROJECT && p["name"] == "Client work")),
        "{list}"
    );
    let asked = s.fake.count_requests("GET", &projects);
    assert_eq!(asked, 1);
    // Cached for 10 minutes unless refreshed.
    relay
        .call("GET", &format!("{base}/lookups/projects"), &t, None)
        .await;
    assert_eq!(s.fake.count_requests("GET", &projects), 1);
    let (st, _) = relay
        .call(
            "GET",
            &format!("{base}/lookups/projects?refresh=true"),
            &t,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(s.fake.count_requests("GET", &projects), 2);
    let (st, b) = relay
        .call("GET", &format!("{base}/lookups/planets"), &t, None)
        .await;
    assert_error(st, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lookup");
    let (st, b) = relay
        .call("GET", &format!("{base}/log?limit=0"), &t, None)
        .await;
    assert_error(st, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_limit");
    // Paused: work waits, nothing is sent; resumed: it goes.
    let (st, c) = relay.call("POST", &format!("{base}/pause"), &t, None).await;
    assert_eq!((st, &c["state"]), (StatusCode::OK, &json!("paused")), "{c}");
    let jobs = runner(relay);
    s.a.op(
        relay,
        "time_entry",
        Uuid::now_v7(),
        "upsert",
        entry(s.project, "held", &at(0), Some(&at(5))),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(live(&s.fake, "held"), 0);
    let (_, st) = relay.call("GET", &format!("{base}/status"), &t, None).await;
    assert_eq!(
        (&st["state"], &st["pending"]),
        (&json!("paused"), &json!(1)),
        "{st}"
    );
    let (st, c) = relay
        .call("POST", &format!("{base}/resume"), &t, None)
        .await;
    assert_eq!((st, &c["state"]), (StatusCode::OK, &json!("active")), "{c}");
    let fake = &s.fake;
    eventually("the held entry goes after resume", || async {
        live(fake, "held") == 1
    })
    .await;
    jobs.shutdown().await;
}
