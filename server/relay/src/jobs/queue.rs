//! The `jobs` table: enqueue (deduplicated by key), claim under a lease, record the outcome.
//!
//! Claiming is one `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING`. On PostgreSQL the inner
//! select takes the row with `FOR UPDATE SKIP LOCKED`, so concurrent claimers on other instances
//! pass over it instead of queueing behind it; on SQLite the statement runs in a write
//! transaction on the one writer connection ([`Db::begin_write`]), which serialises claims.
//! Every outcome is recorded only by the claim that holds the job (same `locked_by` and
//! `attempts`): a job whose lease ran out and was taken over is not marked by its old holder.
//! Times are the instances' wall clocks in Unix milliseconds; keep them synchronised (NTP) far
//! below the lease.

use std::time::Duration;

use serde_json::Value;
use sqlx::Row as _;

use super::{Backoff, Job, JobError};
use crate::db::{Backend, Db};

/// Longest `last_error` stored, in characters.
const MAX_ERROR_CHARS: usize = 500;

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Selects the handler.
    pub kind: String,
    /// The handler's input.
    pub payload: Value,
    /// At most one job per key is ever enqueued (while its row is kept); `None` never collides.
    pub dedupe_key: Option<String>,
    /// Not before this time (Unix ms).
    pub run_at: i64,
    /// Attempts before a failing job is given up.
    pub max_attempts: u32,
}

impl NewJob {
    /// A job of `kind` due now (given as `now`), 5 attempts, no dedupe key.
    pub fn new(kind: impl Into<String>, payload: Value, now: i64) -> Self {
        Self {
            kind: kind.into(),
            payload,
            dedupe_key: None,
            run_at: now,
            max_attempts: 5,
        }
    }

    /// Sets the dedupe key.
    pub fn dedupe(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }
}

/// What became of a job after its handler returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Marked done.
    Done,
    /// Queued again for another attempt at this time (Unix ms).
    Retry(i64),
    /// Given up: `failed`, with `last_error`.
    Failed,
    /// The claim no longer held the job (its lease ran out and another instance took it);
    /// nothing was recorded.
    LostLease,
}

/// Adds a job; returns its id, or `None` if a job with the same dedupe key exists.
pub async fn enqueue(db: &Db, job: &NewJob, now: i64) -> Result<Option<String>, sqlx::Error> {
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = db.begin_write().await?;
    let added = sqlx::query(
        "INSERT INTO jobs (id, kind, payload, dedupe_key, state, run_at, attempts, max_attempts, \
         created_at) VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, $7) \
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(&id)
    .bind(&job.kind)
    .bind(job.payload.to_string())
    .bind(job.dedupe_key.as_deref())
    .bind(job.run_at)
    .bind(i64::from(job.max_attempts.max(1)))
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok((added == 1).then_some(id))
}

/// `$first, $first+1, …` for `n` bound values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Answers whether a job of one of `kinds` is claimable at `now`: a read on the shared pool, so
/// an idle poll does not take SQLite's write lock.
pub async fn any_due(db: &Db, kinds: &[String], now: i64) -> Result<bool, sqlx::Error> {
    if kinds.is_empty() {
        return Ok(false);
    }
    let sql = format!(
        "SELECT id FROM jobs WHERE kind IN ({}) AND ((state = 'queued' AND run_at <= $1) \
         OR (state = 'running' AND lease_until < $1)) LIMIT 1",
        placeholders(2, kinds.len())
    );
    // Audited: only numbered placeholders are spliced in; every value is bound.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
    for k in kinds {
        q = q.bind(k);
    }
    Ok(q.fetch_optional(&db.pool).await?.is_some())
}

/// Claims the most overdue job of one of `kinds` for `worker` until `now + lease`: a queued job
/// that is due, or a running one whose lease has passed. A job found with an expired lease and
/// no attempts left is marked `failed` instead (it kept killing or stalling its instances).
/// Only `kinds` are claimed, so an instance never takes a job it has no handler for (an older
/// version during a rolling upgrade).
pub async fn claim(
    db: &Db,
    kinds: &[String],
    worker: &str,
    lease: Duration,
    now: i64,
) -> Result<Option<Job>, sqlx::Error> {
    if kinds.is_empty() {
        return Ok(None);
    }
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE jobs SET state = 'failed', finished_at = $1, lease_until = NULL, \
         last_error = 'lease expired on the last attempt' \
         WHERE state = 'running' AND lease_until < $1 AND attempts >= max_attempts",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let lock = match db.backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let due = "((state = 'queued' AND run_at <= $3) OR (state = 'running' AND lease_until < $3))";
    let sql = format!(
        "UPDATE jobs SET state = 'running', lease_until = $1, locked_by = $2, \
         attempts = attempts + 1 \
         WHERE id = (SELECT id FROM jobs WHERE kind IN ({kinds}) AND {due} \
         ORDER BY run_at, id LIMIT 1{lock}) AND {due} \
         RETURNING id, kind, payload, attempts, max_attempts",
        kinds = placeholders(4, kinds.len()),
    );
    // Audited: only numbered placeholders and fixed text are spliced in; every value is bound.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now.saturating_add(lease_ms))
        .bind(worker)
        .bind(now);
    for k in kinds {
        q = q.bind(k);
    }
    let row = q.fetch_optional(&mut *tx).await?;
    tx.commit().await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let payload: String = row.try_get("payload")?;
    Ok(Some(Job {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        // An unreadable payload is handed over as a string; the handler refuses it.
        payload: serde_json::from_str(&payload).unwrap_or(Value::String(payload)),
        attempt: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        max_attempts: u32::try_from(row.try_get::<i64, _>("max_attempts")?).unwrap_or(u32::MAX),
    }))
}

/// The claim's identity in `WHERE`: this job, held by `worker`, in this attempt.
const HELD: &str = "id = $1 AND locked_by = $2 AND attempts = $3 AND state = 'running'";

/// Records the outcome of `job`'s current attempt by `worker`: done, or (on error) queued again
/// after `backoff` or failed for good.
pub async fn finish(
    db: &Db,
    job: &Job,
    worker: &str,
    result: &Result<(), JobError>,
    backoff: Backoff,
    now: i64,
) -> Result<Outcome, sqlx::Error> {
    let (sql, outcome, run_at, error) = match result {
        Ok(()) => (
            format!(
                "UPDATE jobs SET state = 'done', finished_at = $4, lease_until = NULL, \
                 last_error = NULL WHERE {HELD}"
            ),
            Outcome::Done,
            now,
            None,
        ),
        Err(e @ JobError::Retryable(_)) if job.attempt < job.max_attempts => {
            let wait = i64::try_from(backoff.delay(job.attempt).as_millis()).unwrap_or(i64::MAX);
            let at = now.saturating_add(wait);
            (
                format!(
                    "UPDATE jobs SET state = 'queued', run_at = $4, lease_until = NULL, \
                     locked_by = NULL, last_error = $5 WHERE {HELD}"
                ),
                Outcome::Retry(at),
                at,
                Some(e),
            )
        }
        Err(e) => (
            format!(
                "UPDATE jobs SET state = 'failed', finished_at = $4, lease_until = NULL, \
                 last_error = $5 WHERE {HELD}"
            ),
            Outcome::Failed,
            now,
            Some(e),
        ),
    };
    let mut tx = db.begin_write().await?;
    // Audited: the statements are fixed text; every value is bound.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&job.id)
        .bind(worker)
        .bind(i64::from(job.attempt))
        .bind(run_at);
    if let Some(e) = error {
        q = q.bind(error_text(e));
    }
    let hit = q.execute(&mut *tx).await?.rows_affected();
    tx.commit().await?;
    Ok(if hit == 1 {
        outcome
    } else {
        Outcome::LostLease
    })
}

/// Gives a claimed job back at once (shutdown interrupted it): queued again due `now`, the
/// attempt counted, or failed if it was the last one.
pub async fn release(db: &Db, job: &Job, worker: &str, now: i64) -> Result<Outcome, sqlx::Error> {
    let interrupted = Err(JobError::Retryable("interrupted by shutdown".to_owned()));
    finish(db, job, worker, &interrupted, Backoff::none(), now).await
}

fn error_text(e: &JobError) -> String {
    let text = e.to_string();
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text,
    }
}

/// Deletes done jobs finished more than `keep_done` ago and failed ones older than
/// `keep_failed`; returns how many rows went.
pub async fn prune(
    db: &Db,
    now: i64,
    keep_done: Duration,
    keep_failed: Duration,
) -> Result<u64, sqlx::Error> {
    let before = |keep: Duration| now.saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(0));
    let mut tx = db.begin_write().await?;
    let gone = sqlx::query(
        "DELETE FROM jobs WHERE (state = 'done' AND finished_at < $1) \
         OR (state = 'failed' AND finished_at < $2)",
    )
    .bind(before(keep_done))
    .bind(before(keep_failed))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(gone)
}

/// A job row as stored, for tests and operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// See the table's columns (migration 0007).
    pub id: String,
    /// Kind.
    pub kind: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    /// Dedupe key.
    pub dedupe_key: Option<String>,
    /// Due time.
    pub run_at: i64,
    /// Attempts started.
    pub attempts: i64,
    /// Attempt limit.
    pub max_attempts: i64,
    /// End of the current lease.
    pub lease_until: Option<i64>,
    /// The instance holding or last holding it.
    pub locked_by: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it reached `done` or `failed`.
    pub finished_at: Option<i64>,
}

/// Reads one job.
pub async fn get(db: &Db, id: &str) -> Result<Option<JobRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, kind, state, dedupe_key, run_at, attempts, max_attempts, lease_until, \
         locked_by, last_error, finished_at FROM jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(JobRow {
            id: r.try_get("id")?,
            kind: r.try_get("kind")?,
            state: r.try_get("state")?,
            dedupe_key: r.try_get("dedupe_key")?,
            run_at: r.try_get("run_at")?,
            attempts: r.try_get("attempts")?,
            max_attempts: r.try_get("max_attempts")?,
            lease_until: r.try_get("lease_until")?,
            locked_by: r.try_get("locked_by")?,
            last_error: r.try_get("last_error")?,
            finished_at: r.try_get("finished_at")?,
        })
    })
    .transpose()
}
