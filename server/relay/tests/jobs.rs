//! The relay's job queue and runner (server/relay/src/jobs, ADR 0010) against real databases.
//!
//! Every scenario runs on a temporary SQLite file and on a fresh PostgreSQL database (harness as
//! in relay.rs). "Two instances" are two `AppState`s, each with its own pool and runner, on one
//! database; they share only the database (and, to count executions, the test's memory).

// Test helpers may panic on broken fixtures; that is a test failure, not a bug in the relay.
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row as _;
use tacho_relay::db::now_ms;
use tacho_relay::jobs::queue::{self, JobRow};
use tacho_relay::jobs::{Backoff, Job, JobError, NewJob, Outcome, RunnerConfig, retention};
use tacho_relay::{AppState, Config, Db};
use uuid::Uuid;

#[path = "support/harness.rs"]
#[macro_use]
mod harness;
use harness::*;
#[path = "support/api.rs"]
mod api;
use api::*;

on_both_databases!(
    enqueue_claim_complete,
    claims_only_kinds_the_instance_handles,
    retry_with_backoff_then_failed_after_max_attempts,
    permanent_error_fails_at_once,
    expired_lease_on_the_last_attempt_fails_the_job,
    dedupe_key_enqueues_once,
    concurrent_claims_take_each_job_once,
    two_instances_never_run_a_job_twice,
    killed_instance_job_is_taken_over_after_the_lease,
    job_running_past_its_lease_is_aborted_and_retried,
    graceful_shutdown_lets_the_job_finish_and_stops_claiming,
    shutdown_bounds_a_stuck_job_and_puts_it_back,
    retention_runs_as_an_hourly_job,
    without_retention_days_no_retention_job,
);

const KIND: &str = "test.count";

fn kinds(k: &[&str]) -> Vec<String> {
    k.iter().map(|s| (*s).to_owned()).collect()
}

async fn instance(db: &TestDb) -> AppState {
    AppState::new(Config::new(db.url.clone()))
        .await
        .expect("relay state")
}

async fn row(db: &Db, id: &str) -> JobRow {
    queue::get(db, id)
        .await
        .expect("read job")
        .expect("job row")
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(&db.pool)
        .await
        .expect("count")
        .try_get::<i64, _>(0)
        .expect("count value")
}

async fn enqueue(db: &Db, job: NewJob) -> String {
    queue::enqueue(db, &job, now_ms())
        .await
        .expect("enqueue")
        .expect("not a duplicate")
}

/// Polls `cond` every 20 ms until it holds; panics after `limit`.
async fn wait_until<F, Fut>(limit: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn fast(instance: &str) -> RunnerConfig {
    RunnerConfig {
        instance: instance.to_owned(),
        poll: Duration::from_millis(10),
        lease: Duration::from_secs(30),
        grace: Duration::from_secs(5),
        backoff: Backoff::default(),
    }
}

/// Executions per job id, with the instance that ran each, shared by every runner of a test.
#[derive(Clone, Default)]
struct Runs(Arc<Mutex<HashMap<String, Vec<String>>>>);

impl Runs {
    fn record(&self, id: &str, instance: &str) {
        self.0
            .lock()
            .expect("runs")
            .entry(id.to_owned())
            .or_default()
            .push(instance.to_owned());
    }
    fn of(&self, id: &str) -> Vec<String> {
        self.0
            .lock()
            .expect("runs")
            .get(id)
            .cloned()
            .unwrap_or_default()
    }
    fn all(&self) -> HashMap<String, Vec<String>> {
        self.0.lock().expect("runs").clone()
    }
}

/// Sets its flag when dropped: shows that an aborted job's future really went away.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

async fn enqueue_claim_complete(db: TestDb) {
    let state = instance(&db).await;
    let db = state.db();
    let now = now_ms();
    let id = queue::enqueue(db, &NewJob::new(KIND, json!({"n": 7}), now), now)
        .await
        .expect("enqueue")
        .expect("id");
    let queued = row(db, &id).await;
    assert_eq!((queued.state.as_str(), queued.attempts), ("queued", 0));

    let lease = Duration::from_secs(60);
    let job = queue::claim(db, &kinds(&[KIND]), "w1", lease, now)
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(job.id, id);
    assert_eq!(job.kind, KIND);
    assert_eq!(job.payload, json!({"n": 7}));
    assert_eq!((job.attempt, job.max_attempts), (1, 5));
    let running = row(db, &id).await;
    assert_eq!(running.state, "running");
    assert_eq!(running.locked_by.as_deref(), Some("w1"));
    assert_eq!(running.lease_until, Some(now + 60_000));

    // Held under its lease: nobody else gets it.
    let other = queue::claim(db, &kinds(&[KIND]), "w2", lease, now + 59_999)
        .await
        .expect("claim");
    assert!(other.is_none(), "{other:?}");

    let done = queue::finish(db, &job, "w1", &Ok(()), Backoff::default(), now + 10)
        .await
        .expect("finish");
    assert_eq!(done, Outcome::Done);
    let finished = row(db, &id).await;
    assert_eq!(finished.state, "done");
    assert_eq!(finished.finished_at, Some(now + 10));
    assert_eq!(finished.lease_until, None);
    // Done is done: not claimable, even long after the lease, and not recorded twice.
    let later = queue::claim(db, &kinds(&[KIND]), "w2", lease, now + 3_600_000)
        .await
        .expect("claim");
    assert!(later.is_none(), "{later:?}");
    let again = queue::finish(db, &job, "w1", &Ok(()), Backoff::default(), now + 20)
        .await
        .expect("finish");
    assert_eq!(again, Outcome::LostLease);
    assert_eq!(row(db, &id).await.finished_at, Some(now + 10));
}

async fn claims_only_kinds_the_instance_handles(db: TestDb) {
    let state = instance(&db).await;
    let db = state.db();
    let now = now_ms();
    let future = enqueue(db, NewJob::new("test.newer", json!(null), now)).await;
    let later = NewJob {
        run_at: now + 5_000,
        ..NewJob::new(KIND, json!(null), now)
    };
    let later = enqueue(db, later).await;
    let lease = Duration::from_secs(60);
    let none = queue::claim(db, &kinds(&[KIND]), "old", lease, now)
        .await
        .expect("claim");
    assert!(none.is_none(), "unknown kind or not yet due: {none:?}");
    assert_eq!(row(db, &future).await.state, "queued");
    let due = queue::claim(db, &kinds(&[KIND]), "old", lease, now + 5_000)
        .await
        .expect("claim")
        .expect("due now");
    assert_eq!(due.id, later);
}

async fn retry_with_backoff_then_failed_after_max_attempts(db: TestDb) {
    let state = instance(&db).await;
    let db = state.db();
    let t0 = now_ms();
    let id = enqueue(
        db,
        NewJob {
            max_attempts: 3,
            ..NewJob::new(KIND, json!(null), t0)
        },
    )
    .await;
    let backoff = Backoff {
        base: Duration::from_secs(1),
        cap: Duration::from_millis(1_500),
    };
    let lease = Duration::from_secs(60);
    let k = kinds(&[KIND]);
    let boom = Err(JobError::Retryable("provider timed out".into()));

    let first = queue::claim(db, &k, "w", lease, t0)
        .await
        .expect("claim")
        .expect("job");
    let outcome = queue::finish(db, &first, "w", &boom, backoff, t0)
        .await
        .expect("finish");
    assert_eq!(outcome, Outcome::Retry(t0 + 1_000), "base delay");
    let r = row(db, &id).await;
    assert_eq!(r.state, "queued");
    assert_eq!(r.last_error.as_deref(), Some("provider timed out"));
    assert_eq!(r.locked_by, None);
    let early = queue::claim(db, &k, "w", lease, t0 + 999)
        .await
        .expect("claim");
    assert!(early.is_none(), "not before the backoff: {early:?}");

    let t1 = t0 + 1_000;
    let second = queue::claim(db, &k, "w", lease, t1)
        .await
        .expect("claim")
        .expect("job");
    assert_eq!(second.attempt, 2);
    let outcome = queue::finish(db, &second, "w", &boom, backoff, t1)
        .await
        .expect("finish");
    assert_eq!(outcome, Outcome::Retry(t1 + 1_500), "doubled, then capped");
    assert!(
        queue::claim(db, &k, "w", lease, t1 + 1_499)
            .await
            .expect("claim")
            .is_none()
    );

    let t2 = t1 + 1_500;
    let third = queue::claim(db, &k, "w", lease, t2)
        .await
        .expect("claim")
        .expect("job");
    assert_eq!(third.attempt, 3);
    let outcome = queue::finish(db, &third, "w", &boom, backoff, t2)
        .await
        .expect("finish");
    assert_eq!(outcome, Outcome::Failed);
    let r = row(db, &id).await;
    assert_eq!(r.state, "failed");
    assert_eq!(r.attempts, 3);
    assert_eq!(r.finished_at, Some(t2));
    assert_eq!(r.last_error.as_deref(), Some("provider timed out"));
    assert!(
        queue::claim(db, &k, "w", lease, t2 + 86_400_000)
            .await
            .expect("claim")
            .is_none(),
        "failed jobs stay failed"
    );
}

async fn permanent_error_fails_at_once(db: TestDb) {
    let state = instance(&db).await;
    let db = state.db();
    let now = now_ms();
    let id = enqueue(db, NewJob::new(KIND, json!(null), now)).await;
    let job = queue::claim(db, &kinds(&[KIND]), "w", Duration::from_secs(60), now)
        .await
        .expect("claim")
        .expect("job");
    let bad = Err(JobError::Permanent("payload has no \"days\"".into()));
    let outcome = queue::finish(db, &job, "w", &bad, Backoff::default(), now)
        .await
        .expect("finish");
    assert_eq!(outcome, Outcome::Failed);
    let r = row(db, &id).await;
    assert_eq!((r.state.as_str(), r.attempts), ("failed", 1));
    assert_eq!(r.last_error.as_deref(), Some("payload has no \"days\""));
}

/// A job whose instances keep dying under it (a job that crashes the process) is not taken over
/// forever: once its attempts are used up, an expired lease fails it.
async fn expired_lease_on_the_last_attempt_fails_the_job(db: TestDb) {
    let state = instance(&db).await;
    let db = state.db();
    let now = now_ms();
    let id = enqueue(
        db,
        NewJob {
            max_attempts: 2,
            ..NewJob::new(KIND, json!(null), now)
        },
    )
    .await;
    let k = kinds(&[KIND]);
    let lease = Duration::from_secs(1);
    let first = queue::claim(db, &k, "dies", lease, now)
        .await
        .expect("claim");
    assert_eq!(first.map(|j| j.attempt), Some(1));
    // The lease passed: another instance takes it over for the second and last attempt.
    let second = queue::claim(db, &k, "dies too", lease, now + 1_001)
        .await
        .expect("claim");
    assert_eq!(second.map(|j| j.attempt), Some(2));
    let r = row(db, &id).await;
    assert_eq!(
        (r.state.as_str(), r.locked_by.as_deref()),
        ("running", Some("dies too"))
    );
    let third = queue::claim(db, &k, "next", lease, now + 2_002)
        .await
        .expect("claim");
    assert!(third.is_none(), "{third:?}");
    let r = row(db, &id).await;
    assert_eq!(r.state, "failed");
    assert_eq!(r.attempts, 2);
    assert_eq!(r.finished_at, Some(now + 2_002));
    assert_eq!(
        r.last_error.as_deref(),
        Some("lease expired on the last attempt")
    );
}

async fn dedupe_key_enqueues_once(db: TestDb) {
    let state = instance(&db).await;
    let db = state.db();
    let now = now_ms();
    // Eight instances try the same slot at once: one row.
    let tries = (0..8).map(|_| {
        let db = db.clone();
        tokio::spawn(async move {
            let job = NewJob::new(KIND, json!(null), now).dedupe("slot:1");
            queue::enqueue(&db, &job, now).await.expect("enqueue")
        })
    });
    let mut ids = Vec::new();
    for t in tries {
        ids.extend(t.await.expect("task"));
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    // Still deduplicated once the job is done (the row is kept).
    let job = queue::claim(db, &kinds(&[KIND]), "w", Duration::from_secs(60), now)
        .await
        .expect("claim")
        .expect("job");
    queue::finish(db, &job, "w", &Ok(()), Backoff::default(), now)
        .await
        .expect("finish");
    let again = NewJob::new(KIND, json!(null), now).dedupe("slot:1");
    assert_eq!(
        queue::enqueue(db, &again, now).await.expect("enqueue"),
        None
    );
    let next = NewJob::new(KIND, json!(null), now).dedupe("slot:2");
    assert!(
        queue::enqueue(db, &next, now)
            .await
            .expect("enqueue")
            .is_some()
    );
    // Jobs without a key never collide.
    enqueue(db, NewJob::new(KIND, json!(null), now)).await;
    enqueue(db, NewJob::new(KIND, json!(null), now)).await;
    assert_eq!(count(db, "SELECT count(*) FROM jobs").await, 4);
}

async fn concurrent_claims_take_each_job_once(db: TestDb) {
    let state = instance(&db).await;
    let db = state.db();
    let now = now_ms();
    for _ in 0..100 {
        enqueue(db, NewJob::new(KIND, json!(null), now)).await;
    }
    let claimers = (0..8).map(|w| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            let worker = format!("w{w}");
            let k = kinds(&[KIND]);
            while let Some(job) = queue::claim(&db, &k, &worker, Duration::from_secs(60), now)
                .await
                .expect("claim")
            {
                got.push(job.id);
            }
            got
        })
    });
    let mut seen: HashMap<String, usize> = HashMap::new();
    for c in claimers {
        for id in c.await.expect("task") {
            *seen.entry(id).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), 100);
    assert!(seen.values().all(|n| *n == 1), "claimed twice: {seen:?}");
}

async fn two_instances_never_run_a_job_twice(db: TestDb) {
    let (a, b) = (instance(&db).await, instance(&db).await);
    let runs = Runs::default();
    let runner = |state: &AppState, name: &'static str| {
        let record = runs.clone();
        tacho_relay::jobs::Runner::new(state.db().clone(), fast(name))
            .handler(KIND, move |job: Job| {
                let record = record.clone();
                async move {
                    record.record(&job.id, name);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    Ok(())
                }
            })
            .every(KIND, Duration::from_secs(3600), json!({"periodic": true}))
            .spawn()
    };
    let now = now_ms();
    let mut ids = Vec::new();
    for n in 0..60 {
        ids.push(enqueue(a.db(), NewJob::new(KIND, json!({"n": n}), now)).await);
    }
    let (ra, rb) = (runner(&a, "a"), runner(&b, "b"));
    wait_until(Duration::from_secs(60), "all jobs done", || async {
        count(a.db(), "SELECT count(*) FROM jobs WHERE state <> 'done'").await == 0
            && count(a.db(), "SELECT count(*) FROM jobs").await >= 61
    })
    .await;
    ra.shutdown().await;
    rb.shutdown().await;

    let all = runs.all();
    let rows = count(a.db(), "SELECT count(*) FROM jobs").await;
    // 60 jobs and one periodic job per hour slot: one, unless an hour began meanwhile.
    assert!(rows >= 61, "{rows}");
    assert_eq!(
        i64::try_from(all.len()).expect("len"),
        rows,
        "every job ran"
    );
    let twice: Vec<_> = all.iter().filter(|(_, by)| by.len() != 1).collect();
    assert!(twice.is_empty(), "ran more than once: {twice:?}");
    let by_a = all.values().filter(|by| by[0] == "a").count();
    assert!(
        by_a > 0 && by_a < all.len(),
        "both instances took jobs (a: {by_a} of {})",
        all.len()
    );
    for id in &ids {
        let r = row(a.db(), id).await;
        assert_eq!(r.attempts, 1, "{r:?}");
        assert_eq!(r.locked_by.as_deref(), Some(runs.of(id)[0].as_str()));
    }
}

async fn killed_instance_job_is_taken_over_after_the_lease(db: TestDb) {
    let (a, b) = (instance(&db).await, instance(&db).await);
    let runs = Runs::default();
    let dropped = Arc::new(AtomicBool::new(false));
    let lease = Duration::from_secs(1);
    let id = enqueue(a.db(), NewJob::new(KIND, json!(null), now_ms())).await;

    // Instance a takes the job and hangs in it.
    let (record, flag) = (runs.clone(), dropped.clone());
    let hung = tacho_relay::jobs::Runner::new(a.db().clone(), RunnerConfig { lease, ..fast("a") })
        .handler(KIND, move |job: Job| {
            let (record, flag) = (record.clone(), flag.clone());
            async move {
                let _guard = DropFlag(flag);
                record.record(&job.id, "a");
                std::future::pending::<()>().await;
                Ok(())
            }
        })
        .spawn();
    wait_until(Duration::from_secs(10), "a runs the job", || async {
        runs.of(&id).len() == 1
    })
    .await;
    let held = row(a.db(), &id).await;
    assert_eq!(held.locked_by.as_deref(), Some("a"));
    let lease_until = held.lease_until.expect("lease");

    // a dies; b is up at once but must wait for the lease.
    hung.abort();
    let started_at = Arc::new(AtomicUsize::new(0));
    let (record, started) = (runs.clone(), started_at.clone());
    let taker = tacho_relay::jobs::Runner::new(b.db().clone(), fast("b"))
        .handler(KIND, move |job: Job| {
            let (record, started) = (record.clone(), started.clone());
            async move {
                started.store(usize::try_from(now_ms()).expect("ms"), Ordering::SeqCst);
                record.record(&job.id, "b");
                Ok(())
            }
        })
        .spawn();
    wait_until(Duration::from_secs(10), "b completes the job", || async {
        row(b.db(), &id).await.state == "done"
    })
    .await;
    taker.shutdown().await;

    assert!(dropped.load(Ordering::SeqCst), "a's job future was dropped");
    assert_eq!(
        runs.of(&id),
        ["a", "b"],
        "once by a (killed), once more by b"
    );
    let took_over = i64::try_from(started_at.load(Ordering::SeqCst)).expect("ms");
    assert!(
        took_over >= lease_until,
        "b started at {took_over}, before the lease ended at {lease_until}"
    );
    let r = row(b.db(), &id).await;
    assert_eq!(r.attempts, 2);
    assert_eq!(r.locked_by.as_deref(), Some("b"));
}

async fn job_running_past_its_lease_is_aborted_and_retried(db: TestDb) {
    let state = instance(&db).await;
    let attempts = Arc::new(AtomicUsize::new(0));
    let seen = attempts.clone();
    let id = enqueue(
        state.db(),
        NewJob {
            max_attempts: 2,
            ..NewJob::new(KIND, json!(null), now_ms())
        },
    )
    .await;
    let runner = tacho_relay::jobs::Runner::new(
        state.db().clone(),
        RunnerConfig {
            lease: Duration::from_millis(300),
            backoff: Backoff {
                base: Duration::from_millis(50),
                cap: Duration::from_millis(50),
            },
            ..fast("solo")
        },
    )
    .handler(KIND, move |_job: Job| {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
            Ok(())
        }
    })
    .spawn();
    wait_until(Duration::from_secs(10), "the job to fail", || async {
        row(state.db(), &id).await.state == "failed"
    })
    .await;
    runner.shutdown().await;
    let r = row(state.db(), &id).await;
    assert_eq!(r.attempts, 2);
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(
        r.last_error.as_deref(),
        Some("ran past its lease of 300 ms")
    );
}

async fn graceful_shutdown_lets_the_job_finish_and_stops_claiming(db: TestDb) {
    let state = instance(&db).await;
    let runs = Runs::default();
    let finished = Arc::new(AtomicBool::new(false));
    let (record, done) = (runs.clone(), finished.clone());
    let jobs = tacho_relay::jobs::Runner::new(state.db().clone(), fast("solo"))
        .handler(KIND, move |job: Job| {
            let (record, done) = (record.clone(), done.clone());
            async move {
                record.record(&job.id, "solo");
                tokio::time::sleep(Duration::from_millis(300)).await;
                done.store(true, Ordering::SeqCst);
                Ok(())
            }
        })
        .spawn();
    // Wired as main does: the server's shutdown signal stops the runner's claiming.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (signal, signalled) = tokio::sync::oneshot::channel::<()>();
    let stopper = jobs.stopper();
    let server = tokio::spawn(tacho_relay::serve(listener, state.clone(), async move {
        let _ = signalled.await;
        stopper.stop();
    }));

    let first = enqueue(state.db(), NewJob::new(KIND, json!(null), now_ms())).await;
    wait_until(Duration::from_secs(10), "the job to start", || async {
        !runs.of(&first).is_empty()
    })
    .await;
    signal.send(()).expect("signal");
    server.await.expect("server task").expect("serve");
    let stopping = Instant::now();
    jobs.shutdown().await;
    assert!(stopping.elapsed() < Duration::from_secs(30));
    assert!(
        finished.load(Ordering::SeqCst),
        "the job in flight finished"
    );
    assert_eq!(row(state.db(), &first).await.state, "done");

    let second = enqueue(state.db(), NewJob::new(KIND, json!(null), now_ms())).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(row(state.db(), &second).await.state, "queued");
    assert!(
        runs.of(&second).is_empty(),
        "a stopped runner claims nothing"
    );
}

async fn shutdown_bounds_a_stuck_job_and_puts_it_back(db: TestDb) {
    let state = instance(&db).await;
    let started = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicBool::new(false));
    let (go, flag) = (started.clone(), dropped.clone());
    let jobs = tacho_relay::jobs::Runner::new(
        state.db().clone(),
        RunnerConfig {
            grace: Duration::from_millis(200),
            ..fast("solo")
        },
    )
    .handler(KIND, move |_job: Job| {
        let (go, flag) = (go.clone(), flag.clone());
        async move {
            let _guard = DropFlag(flag);
            go.store(true, Ordering::SeqCst);
            std::future::pending::<()>().await;
            Ok(())
        }
    })
    .spawn();
    let id = enqueue(state.db(), NewJob::new(KIND, json!(null), now_ms())).await;
    wait_until(Duration::from_secs(10), "the job to start", || async {
        started.load(Ordering::SeqCst)
    })
    .await;
    let stopping = Instant::now();
    // Bounded, not fast: without the grace limit shutdown would wait on the job forever. The
    // generous limit keeps a loaded CI machine from failing it on timing alone.
    let stopped = tokio::time::timeout(Duration::from_secs(30), jobs.shutdown()).await;
    let took = stopping.elapsed();
    assert!(
        stopped.is_ok(),
        "shutdown still waits on the stuck job after {took:?}"
    );
    assert!(
        took >= Duration::from_millis(200),
        "waited the grace period: {took:?}"
    );
    assert!(dropped.load(Ordering::SeqCst), "the stuck job was aborted");
    let r = row(state.db(), &id).await;
    assert_eq!(r.state, "queued", "given back for another instance: {r:?}");
    assert_eq!(r.attempts, 1);
    assert_eq!(r.locked_by, None);
    assert_eq!(r.last_error.as_deref(), Some("interrupted by shutdown"));
}

/// A trip that ended 40 days ago with two point chunks, pushed by a phone.
async fn old_trip_with_points(relay: &Relay) -> String {
    let phone = Uuid::now_v7();
    let access = token(&relay.signup("lee@example.com", phone).await);
    let trip = Uuid::now_v7();
    let ended = chrono::Utc::now() - chrono::Duration::days(40);
    let chunk = |seq: u64, point: u64| {
        json!({
            "op_id": Uuid::now_v7(), "device": phone, "device_seq": seq, "hlc": now_hlc() + seq,
            "entity": "trip_points", "entity_id": trip, "kind": "append",
            "items": [[point, ended.timestamp_millis(), 52.0, 4.0, null, null, null, null, 1]],
            "schema": 1,
        })
    };
    let header = json!({
        "op_id": Uuid::now_v7(), "device": phone, "device_seq": 1, "hlc": now_hlc(),
        "entity": "trip", "entity_id": trip, "kind": "upsert",
        "fields": {"state": "ended", "started_at": (ended - chrono::Duration::hours(1)).to_rfc3339(),
                   "ended_at": ended.to_rfc3339()},
        "schema": 1,
    });
    let (s, b) = relay
        .push(&access, &[header, chunk(2, 0), chunk(3, 1)])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    trip.to_string()
}

async fn points_of(db: &Db, trip: &str) -> i64 {
    sqlx::query("SELECT count(*) FROM ops WHERE entity = 'trip_points' AND entity_id = $1")
        .bind(trip)
        .fetch_one(&db.pool)
        .await
        .expect("count")
        .try_get::<i64, _>(0)
        .expect("count value")
}

async fn retention_runs_as_an_hourly_job(db: TestDb) {
    let relay = start_with(&db, |c| c.gps_retention_days = Some(30)).await;
    let trip = old_trip_with_points(&relay).await;
    assert_eq!(points_of(relay.state.db(), &trip).await, 2);
    let before = now_ms();
    let jobs = relay.state.job_runner(fast("solo")).spawn();
    wait_until(Duration::from_secs(20), "the retention job", || async {
        count(
            relay.state.db(),
            "SELECT count(*) FROM jobs WHERE kind = 'gps_retention' AND state = 'done'",
        )
        .await
            == 1
    })
    .await;
    jobs.shutdown().await;
    let after = now_ms();
    assert_eq!(points_of(relay.state.db(), &trip).await, 0, "points purged");
    let key: String = sqlx::query("SELECT dedupe_key FROM jobs WHERE kind = $1")
        .bind(retention::KIND)
        .fetch_one(&relay.state.db().pool)
        .await
        .expect("job")
        .try_get("dedupe_key")
        .expect("key");
    let slots = [before / 3_600_000, after / 3_600_000];
    assert!(
        slots.iter().any(|s| key == format!("gps_retention:{s}")),
        "{key}"
    );
    let payload: String = sqlx::query("SELECT payload FROM jobs WHERE kind = $1")
        .bind(retention::KIND)
        .fetch_one(&relay.state.db().pool)
        .await
        .expect("job")
        .try_get("payload")
        .expect("payload");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&payload).expect("json"),
        json!({"days": 30})
    );
}

async fn without_retention_days_no_retention_job(db: TestDb) {
    let relay = start(&db).await;
    let trip = old_trip_with_points(&relay).await;
    let jobs = relay.state.job_runner(fast("solo")).spawn();
    wait_until(Duration::from_secs(20), "the prune job", || async {
        count(
            relay.state.db(),
            "SELECT count(*) FROM jobs WHERE kind = 'jobs.prune' AND state = 'done'",
        )
        .await
            == 1
    })
    .await;
    jobs.shutdown().await;
    assert_eq!(
        count(
            relay.state.db(),
            "SELECT count(*) FROM jobs WHERE kind = 'gps_retention'"
        )
        .await,
        0
    );
    assert_eq!(points_of(relay.state.db(), &trip).await, 2, "points kept");
}
