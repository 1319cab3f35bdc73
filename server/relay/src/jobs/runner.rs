//! One runner per instance: polls the queue, runs one job at a time, records the outcome, and
//! enqueues periodic jobs once per time slot (the dedupe key makes that once across instances).
//!
//! There is no lease renewal: the lease is the longest a job may run. A job still running when
//! its lease ends is aborted and retried, so no instance keeps working on a job another one may
//! have taken over. On shutdown the runner stops claiming, gives the job in flight up to
//! `grace` to finish and otherwise aborts it and puts it back in the queue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle};

use super::queue::{self, NewJob, Outcome};
use super::{Backoff, Handler, Job, JobError};
use crate::db::{Db, now_ms};

/// Attempts of a periodic job; the next slot comes anyway.
const PERIODIC_ATTEMPTS: u32 = 3;
/// How long [`RunnerHandle::shutdown`] waits beyond `grace` for the runner to record the outcome.
const RECORD_MARGIN: Duration = Duration::from_secs(5);

/// How a runner claims and retries.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// This instance's name in `jobs.locked_by`; unique per runner start.
    pub instance: String,
    /// Wait between looks at the queue while it is idle.
    pub poll: Duration,
    /// How long a claim holds a job: the longest a job may run (no renewal), and how long a job
    /// of a dead instance waits before another instance takes it over.
    pub lease: Duration,
    /// How long shutdown lets the job in flight finish before aborting it.
    pub grace: Duration,
    /// Waits between attempts of a failing job.
    pub backoff: Backoff,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            instance: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple()),
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(15 * 60),
            grace: Duration::from_secs(5),
            backoff: Backoff::default(),
        }
    }
}

/// A job enqueued every `every` (one per time slot `now / every`).
struct Periodic {
    kind: String,
    every_ms: i64,
    payload: Value,
    last_slot: Option<i64>,
}

/// A job runner being set up; [`Runner::spawn`] starts it.
pub struct Runner {
    db: Db,
    config: RunnerConfig,
    handlers: BTreeMap<String, Arc<dyn Handler>>,
    periodic: Vec<Periodic>,
}

impl Runner {
    /// A runner with no handlers on `db`.
    pub fn new(db: Db, config: RunnerConfig) -> Self {
        Self {
            db,
            config,
            handlers: BTreeMap::new(),
            periodic: Vec::new(),
        }
    }

    /// Runs jobs of `kind` with `handler`. Only kinds with a handler are claimed.
    pub fn handler(mut self, kind: &str, handler: impl Handler) -> Self {
        self.handlers.insert(kind.to_owned(), Arc::new(handler));
        self
    }

    /// Enqueues a `kind` job with `payload` once per `every` (dedupe key `<kind>:<slot>`).
    pub fn every(mut self, kind: &str, every: Duration, payload: Value) -> Self {
        self.periodic.push(Periodic {
            kind: kind.to_owned(),
            every_ms: i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1),
            payload,
            last_slot: None,
        });
        self
    }

    /// Starts the runner on the current Tokio runtime. Keep the handle and call
    /// [`RunnerHandle::shutdown`] when the relay stops.
    pub fn spawn(self) -> RunnerHandle {
        for p in &self.periodic {
            if !self.handlers.contains_key(&p.kind) {
                tracing::warn!(kind = %p.kind, "periodic job without a handler on this instance");
            }
        }
        let (tx, rx) = watch::channel(false);
        let instance = self.config.instance.clone();
        let grace = self.config.grace;
        let task = tokio::spawn(self.run(rx));
        RunnerHandle {
            stop: Stopper(Arc::new(tx)),
            task: Some(task),
            instance,
            grace,
        }
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let kinds: Vec<String> = self.handlers.keys().cloned().collect();
        tracing::info!(instance = %self.config.instance, ?kinds, "job runner started");
        while !*stop.borrow() {
            self.schedule().await;
            let ran = match self.step(&kinds, &mut stop).await {
                Ok(ran) => ran,
                Err(e) => {
                    tracing::warn!(error = %e, "job queue unavailable");
                    false
                }
            };
            if ran {
                continue; // look for the next job at once
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.poll) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::info!(instance = %self.config.instance, "job runner stopped");
    }

    /// Enqueues each periodic job's current slot, once per slot per instance.
    async fn schedule(&mut self) {
        let now = now_ms();
        for p in &mut self.periodic {
            let slot = now.div_euclid(p.every_ms);
            if p.last_slot == Some(slot) {
                continue;
            }
            let job = NewJob {
                kind: p.kind.clone(),
                payload: p.payload.clone(),
                dedupe_key: Some(format!("{}:{slot}", p.kind)),
                run_at: slot.saturating_mul(p.every_ms),
                max_attempts: PERIODIC_ATTEMPTS,
            };
            match queue::enqueue(&self.db, &job, now).await {
                Ok(_) => p.last_slot = Some(slot),
                Err(e) => tracing::warn!(kind = %p.kind, error = %e, "enqueueing a periodic job"),
            }
        }
    }

    /// Claims and runs one job; answers whether there was one.
    async fn step(
        &self,
        kinds: &[String],
        stop: &mut watch::Receiver<bool>,
    ) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        if !queue::any_due(&self.db, kinds, now).await? {
            return Ok(false);
        }
        let worker = self.config.instance.as_str();
        let Some(job) = queue::claim(&self.db, kinds, worker, self.config.lease, now).await? else {
            return Ok(false);
        };
        let result = match self.handlers.get(&job.kind) {
            Some(handler) => self.execute(Arc::clone(handler), job.clone(), stop).await,
            None => Ended::Returned(Err(JobError::Permanent("no handler for this kind".into()))),
        };
        let outcome = match result {
            Ended::Returned(result) => {
                if let Err(e) = &result {
                    tracing::warn!(id = %job.id, kind = %job.kind, attempt = job.attempt, error = %e, "job failed");
                }
                let backoff = self.config.backoff;
                queue::finish(&self.db, &job, worker, &result, backoff, now_ms()).await?
            }
            Ended::Interrupted => queue::release(&self.db, &job, worker, now_ms()).await?,
        };
        match outcome {
            Outcome::LostLease => tracing::warn!(
                id = %job.id, kind = %job.kind,
                "job outlived its lease and was taken over; outcome not recorded"
            ),
            other => tracing::debug!(id = %job.id, kind = %job.kind, ?other, "job recorded"),
        }
        Ok(true)
    }

    /// Runs `job` on a task of its own (a panic fails the attempt, not the runner), bounded by
    /// the lease, and on shutdown by the grace period.
    async fn execute(
        &self,
        handler: Arc<dyn Handler>,
        job: Job,
        stop: &mut watch::Receiver<bool>,
    ) -> Ended {
        let mut task = AbortOnDrop(tokio::spawn(handler.run(job)));
        let lease = tokio::time::sleep(self.config.lease);
        tokio::pin!(lease);
        tokio::select! {
            joined = &mut task.0 => return Ended::Returned(joined_result(joined)),
            () = &mut lease => return overran(self.config.lease),
            _ = stop.wait_for(|stopping| *stopping) => {}
        }
        // Shutting down: let the job finish within the grace period (and its lease).
        tokio::select! {
            joined = &mut task.0 => Ended::Returned(joined_result(joined)),
            () = &mut lease => overran(self.config.lease),
            () = tokio::time::sleep(self.config.grace) => Ended::Interrupted,
        }
    }
}

/// How an attempt ended.
enum Ended {
    /// The handler returned (or panicked, or overran its lease: a retryable error).
    Returned(Result<(), JobError>),
    /// Shutdown cut it short.
    Interrupted,
}

fn joined_result(joined: Result<Result<(), JobError>, JoinError>) -> Result<(), JobError> {
    joined.unwrap_or_else(|e| Err(JobError::Retryable(format!("handler {e}"))))
}

fn overran(lease: Duration) -> Ended {
    Ended::Returned(Err(JobError::Retryable(format!(
        "ran past its lease of {} ms",
        lease.as_millis()
    ))))
}

/// Aborts the job's task when the runner lets go of it, including when the runner itself is
/// aborted, so no job keeps running without an owner.
struct AbortOnDrop(JoinHandle<Result<(), JobError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Tells a runner to stop; cheap to clone, e.g. into the shutdown future given to `serve`.
#[derive(Clone)]
pub struct Stopper(Arc<watch::Sender<bool>>);

impl Stopper {
    /// Stops claiming; the job in flight gets the grace period.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// The owner's handle on a running runner. Dropping it without [`RunnerHandle::shutdown`] stops
/// the runner without waiting for it (and says so in the log).
#[must_use = "keep the handle and call shutdown() so the job in flight can finish"]
pub struct RunnerHandle {
    stop: Stopper,
    task: Option<JoinHandle<()>>,
    instance: String,
    grace: Duration,
}

impl RunnerHandle {
    /// Something that stops the runner, to hand to a shutdown path.
    pub fn stopper(&self) -> Stopper {
        self.stop.clone()
    }

    /// This runner's `locked_by` name.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Stops claiming, lets the job in flight finish for up to the grace period (else puts it
    /// back in the queue) and returns when the runner has ended.
    pub async fn shutdown(mut self) {
        self.stop.stop();
        let Some(mut task) = self.task.take() else {
            return;
        };
        match tokio::time::timeout(self.grace + RECORD_MARGIN, &mut task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "job runner ended abnormally"),
            Err(_) => {
                task.abort();
                tracing::warn!("job runner did not stop in time; aborted");
            }
        }
    }

    /// Ends the runner at once, as a crash would: the job in flight is dropped mid-way and its
    /// row stays `running` until the lease passes. For tests of the takeover.
    pub fn abort(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for RunnerHandle {
    fn drop(&mut self) {
        if self.task.is_some() {
            tracing::warn!(instance = %self.instance, "job runner handle dropped; stopping it");
            self.stop.stop();
        }
    }
}
