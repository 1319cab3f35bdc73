//! Background jobs: a queue persisted in the relay's own database (ADR 0010), a [`Runner`] per
//! instance that claims and runs them, and the relay's jobs (GPS retention, pruning the queue).
//!
//! Delivery is at least once: a job runs again if its instance dies or overruns its lease before
//! recording the outcome, so handlers must be idempotent. Within its lease a job runs on one
//! instance only. Handlers return [`JobError`], never the HTTP edge's `ApiError`.

pub mod queue;
pub mod retention;
pub mod runner;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

pub use queue::{NewJob, Outcome};
pub use runner::{Runner, RunnerConfig, RunnerHandle, Stopper};

use crate::db::Db;

/// Kind of the built-in job that deletes old finished rows from `jobs`.
pub const PRUNE_KIND: &str = "jobs.prune";
/// Done jobs are kept this long: their dedupe keys must outlive the time slot they were for.
pub const KEEP_DONE: Duration = Duration::from_secs(24 * 3600);
/// Failed jobs are kept this long, for operators to read `last_error`.
pub const KEEP_FAILED: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why a job did not succeed. The runner retries [`JobError::Retryable`] with backoff until the
/// job's `max_attempts`, and gives up on [`JobError::Permanent`] at once. The text is stored in
/// `jobs.last_error`: put no secrets or personal data in it.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A failure that may pass (the database was busy or unreachable, a provider timed out).
    #[error("{0}")]
    Retryable(String),
    /// A failure that running again will not fix (bad payload, unknown kind).
    #[error("{0}")]
    Permanent(String),
}

impl From<sqlx::Error> for JobError {
    /// Database failures are retried (most are transient; `max_attempts` bounds the rest). Only
    /// the kind of failure is kept: a driver message may quote row data.
    fn from(err: sqlx::Error) -> Self {
        tracing::warn!(error = %err, "database error in a job");
        let what = match &err {
            sqlx::Error::Database(e) => match e.code() {
                Some(code) => format!("database error (code {code})"),
                None => "database error".to_owned(),
            },
            sqlx::Error::PoolTimedOut => "database pool timed out".to_owned(),
            sqlx::Error::PoolClosed => "database pool closed".to_owned(),
            sqlx::Error::Io(_) => "database connection I/O error".to_owned(),
            sqlx::Error::RowNotFound => "database row not found".to_owned(),
            _ => "database error".to_owned(),
        };
        Self::Retryable(what)
    }
}

/// A claimed job as its handler sees it.
#[derive(Debug, Clone)]
pub struct Job {
    /// The row's id (a UUID).
    pub id: String,
    /// What to run; selects the handler.
    pub kind: String,
    /// The handler's input, as enqueued.
    pub payload: Value,
    /// 1 on the first run.
    pub attempt: u32,
    /// After this many attempts a failing job is `failed`.
    pub max_attempts: u32,
}

/// What a handler's future is.
pub type JobFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;

/// Runs jobs of one kind. Any `Fn(Job) -> impl Future<Output = Result<(), JobError>>` is one.
pub trait Handler: Send + Sync + 'static {
    /// Runs `job`; must be idempotent (see the module docs).
    fn run(&self, job: Job) -> JobFuture;
}

impl<F, Fut> Handler for F
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    fn run(&self, job: Job) -> JobFuture {
        Box::pin(self(job))
    }
}

/// Exponential backoff between attempts: `base · 2^(attempt − 1)`, at most `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failed attempt.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// No wait at all (a job given back on shutdown is due again at once).
    pub const fn none() -> Self {
        Self {
            base: Duration::ZERO,
            cap: Duration::ZERO,
        }
    }

    /// The wait after attempt number `attempt` (1-based) failed.
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.base
            .checked_mul(1_u32 << doublings)
            .map_or(self.cap, |d| d.min(self.cap))
    }
}

/// The relay's runner over `db`: pruning the queue always, and the GPS retention purge hourly
/// when `gps_retention_days` is set (`--gps-retention-days`). The caller owns the handle and
/// stops it on shutdown.
pub fn relay_runner(db: &Db, gps_retention_days: Option<u32>, config: RunnerConfig) -> Runner {
    let hour = Duration::from_secs(3600);
    let pool = db.clone();
    let mut runner = Runner::new(db.clone(), config).handler(PRUNE_KIND, move |_job: Job| {
        let db = pool.clone();
        async move {
            let now = crate::db::now_ms();
            queue::prune(&db, now, KEEP_DONE, KEEP_FAILED).await?;
            Ok(())
        }
    });
    runner = runner.every(PRUNE_KIND, hour, Value::Null);
    if let Some(days) = gps_retention_days {
        runner = runner
            .handler(retention::KIND, retention::handler(db.clone()))
            .every(retention::KIND, hour, retention::payload(days));
    }
    runner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(600),
        };
        assert_eq!(b.delay(1), Duration::from_secs(30));
        assert_eq!(b.delay(2), Duration::from_secs(60));
        assert_eq!(b.delay(3), Duration::from_secs(120));
        assert_eq!(b.delay(5), Duration::from_secs(480));
        assert_eq!(b.delay(6), Duration::from_secs(600));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(600));
        assert_eq!(b.delay(0), Duration::from_secs(30));
    }

    #[test]
    fn database_errors_keep_no_driver_text() {
        let err = JobError::from(sqlx::Error::Protocol("secret row data".into()));
        assert!(matches!(&err, JobError::Retryable(m) if !m.contains("secret")));
    }
}
