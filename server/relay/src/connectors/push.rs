//! The `connector.push` job: drains one connection's work, one entry and one request at a time.
//!
//! Exactly once without idempotency keys (ADR 0015): before a write is sent its intent is stored
//! and committed in the entry's link; the outcome (remote id, hash of what was written, work
//! done, audit row) is recorded in one transaction. An uncertain outcome keeps the intent, and
//! the next attempt (or the next worker, if this one died) first asks the service whether the
//! write landed (`Connector::find`, matching on the natural key, never on an id linked to another
//! entry) and only sends it again when it did not.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row as _;
use tacho_integrations::http::Failure;
use tacho_integrations::timesheets::{Connector, Entry, RemoteEntry, Service, Target};
use tacho_model::merge::EntityState;
use tacho_model::op::EntityKind;
use tacho_model::work::{Project, TimeEntry};
use uuid::Uuid;

use super::Ctx;
use super::publish::{self, local_snapshot};
use super::store::{self, Audit, Intent, Link, NewConflict, Work};
use crate::connections::ConnectionError;
use crate::connections::registry::Connection;
use crate::connections::timesheets::{push_rounded, requests_per_hour};
use crate::db::now_ms;
use crate::jobs::{Job, JobError};
use crate::sync::connector_work::{PUSH_KIND, request_pull, wake};

pub use crate::sync::connector_work::PULL_KIND;
/// Retries of an uncertain or unreachable write before the entry is in error.
const RETRIES: i64 = 3;
/// Longest a drain runs before handing over (the scheduler wakes it again), well inside the
/// job lease.
const DRAIN_BUDGET: Duration = Duration::from_secs(5 * 60);

/// The connection a connector job is for, from its payload.
pub fn payload_connection(job: &Job) -> Result<String, JobError> {
    job.payload
        .get("connection")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| JobError::Permanent("payload without a connection".into()))
}

/// The job handler.
pub fn handler(ctx: Ctx) -> impl Fn(Job) -> crate::jobs::JobFuture + Send + Sync + 'static {
    move |job: Job| {
        let ctx = ctx.clone();
        Box::pin(async move {
            let connection = payload_connection(&job)?;
            drain(&ctx, &connection).await
        })
    }
}

/// Whether a connection may send now.
pub(crate) fn may_send(conn: &Connection, now: i64) -> bool {
    conn.state == "active" && conn.quota_until.is_none_or(|t| t <= now)
}

/// Drains `connection`'s due work. Paused, disabled and quota-paused connections keep theirs.
pub async fn drain(ctx: &Ctx, connection: &str) -> Result<(), JobError> {
    let started = Instant::now();
    let mut pushed = false;
    loop {
        let now = now_ms();
        let Some(conn) = ctx.connection(connection).await? else {
            return Ok(()); // removed
        };
        if !may_send(&conn, now) {
            return Ok(());
        }
        if let Some(budget) = requests_per_hour(&conn) {
            let (sent, oldest) = store::requests_in_hour(&ctx.db, connection, now).await?;
            // A write may take two requests (reconcile, then send): keep one spare.
            if sent + 2 > budget {
                let until = oldest.map_or(now + 60_000, |t| t + 3_600_000 + 1);
                store::defer_all(&ctx.db, connection, until).await?;
                return Ok(());
            }
        }
        let Some(work) = store::next_work(&ctx.db, connection, now).await? else {
            if pushed {
                let mut c = ctx.db.pool.acquire().await?;
                sqlx::query("UPDATE connections SET last_push_at = $1 WHERE id = $2")
                    .bind(now_ms())
                    .bind(connection)
                    .execute(&mut *c)
                    .await?;
                request_pull(&mut c, connection).await?;
            }
            return Ok(());
        };
        let client = match ctx.client(&conn).await {
            Ok(client) => client,
            // The relay's own trouble (no master key, a key that does not open the token, the
            // database): the operator's to fix, retried, never blamed on the connection.
            Err(
                e @ (ConnectionError::SecretsUnavailable
                | ConnectionError::Secret(_)
                | ConnectionError::Db(_)),
            ) => {
                tracing::warn!(connection, error = %e, "connector token unavailable");
                return Err(JobError::Retryable(
                    "the connection's token cannot be opened on this relay".into(),
                ));
            }
            Err(e) => {
                disable(ctx, &conn, &format!("the connection cannot be used: {e}")).await?;
                return Ok(());
            }
        };
        pushed = true;
        match push_entry(ctx, &conn, &client, &work).await? {
            Next::Continue => {}
            Next::Stop => return Ok(()),
        }
        if started.elapsed() > DRAIN_BUDGET {
            return Ok(());
        }
    }
}

/// Whether the drain goes on after an entry.
enum Next {
    Continue,
    Stop,
}

/// What Tacho wants remotely for an entry.
pub(crate) enum Desired {
    /// Nothing: deleted, unmapped, or running where running entries are not pushed.
    Absent,
    /// This entry.
    Present(Entry),
    /// The merged state does not decode (yet): leave the remote as it is.
    Unreadable,
}

/// The desired remote state of `entry` on `conn`, from the current merged state.
pub(crate) async fn desired(
    ctx: &Ctx,
    conn: &Connection,
    space: Uuid,
    entry: &str,
) -> Result<Desired, JobError> {
    let Some(state) = entity_state(ctx, space, EntityKind::TimeEntry, entry).await? else {
        return Ok(Desired::Absent);
    };
    if state.is_deleted() {
        return Ok(Desired::Absent);
    }
    let Ok(id) = Uuid::parse_str(entry) else {
        return Ok(Desired::Unreadable);
    };
    let Ok(time) = state.decode::<TimeEntry>(id) else {
        return Ok(Desired::Unreadable);
    };
    let service = conn.provider.service();
    if time.stop.is_none() && !service.accepts_running() {
        return Ok(Desired::Absent);
    }
    let Some(project) = time.project_id else {
        return Ok(Desired::Absent);
    };
    let project_id = project.0.to_string();
    let mapped = sqlx::query(
        "SELECT target FROM connector_mappings WHERE connection_id = $1 AND project_id = $2",
    )
    .bind(conn.id.to_string())
    .bind(&project_id)
    .fetch_optional(&ctx.db.pool)
    .await?;
    let Some(row) = mapped else {
        return Ok(Desired::Absent);
    };
    let target: String = row.try_get("target")?;
    let Ok(mut target) = serde_json::from_str::<Target>(&target) else {
        return Ok(Desired::Unreadable);
    };
    let mut tags = Vec::new();
    for tag in time.tags {
        match override_id(&tag, service) {
            Some(id) => match &mut target {
                Target::Zammad { ticket_id, .. } => *ticket_id = id,
                Target::Tempo { issue_id } => *issue_id = id,
                _ => tags.push(tag),
            },
            None => tags.push(tag),
        }
    }
    let mut stop = time.stop;
    if push_rounded(&conn.settings)
        && let Some(s) = stop
        && let Some(pstate) = entity_state(ctx, space, EntityKind::Project, &project_id).await?
        && let Ok(p) = pstate.decode::<Project>(project.0)
    {
        stop = Some(time.start + p.rounding.apply(s - time.start));
    }
    Ok(Desired::Present(Entry {
        start: time.start,
        stop,
        description: time.description,
        tags,
        billable: time.billable,
        target,
    }))
}

/// The id of a `zammad:4711` / `tempo:10001` tag for `service`.
fn override_id(tag: &str, service: Service) -> Option<i64> {
    let (name, id) = tag.split_once(':')?;
    if !name.trim().eq_ignore_ascii_case(service.as_str())
        || !matches!(service, Service::Zammad | Service::Tempo)
    {
        return None;
    }
    id.trim().parse().ok().filter(|id: &i64| *id > 0)
}

/// An entity's merged state in a space.
pub(crate) async fn entity_state(
    ctx: &Ctx,
    space: Uuid,
    kind: EntityKind,
    id: &str,
) -> Result<Option<EntityState>, JobError> {
    let row = sqlx::query(
        "SELECT state FROM entity_state WHERE space_id = $1 AND entity = $2 AND entity_id = $3",
    )
    .bind(space.to_string())
    .bind(kind.as_str())
    .bind(id)
    .fetch_optional(&ctx.db.pool)
    .await?;
    row.map(|r| -> Result<EntityState, JobError> {
        let raw: String = r.try_get("state")?;
        serde_json::from_str(&raw).map_err(|e| JobError::Permanent(format!("entity_state: {e}")))
    })
    .transpose()
}

/// Runs one call, timing it and auditing it.
async fn call<T>(
    ctx: &Ctx,
    conn: &Connection,
    operation: &str,
    entry: &str,
    remote_id: Option<&str>,
    fut: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<Result<T, Failure>, JobError> {
    let t = Instant::now();
    let result = fut.await;
    let latency_ms = i64::try_from(t.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (status, message) = match &result {
        Ok(_) => ("ok".to_owned(), None),
        Err(f) => (failure_class(f), Some(f.to_string())),
    };
    let mut c = ctx.db.pool.acquire().await?;
    store::audit(
        &mut c,
        &conn.id.to_string(),
        &Audit {
            operation,
            entry: Some(entry),
            remote_id,
            status: &status,
            latency_ms,
            request: true,
            message: message.as_deref(),
        },
    )
    .await?;
    Ok(result)
}

/// The audit status of a failure.
pub(crate) fn failure_class(f: &Failure) -> String {
    match f {
        Failure::Uncertain { .. } => "uncertain".into(),
        Failure::Unreachable { .. } => "unreachable".into(),
        Failure::RateLimited { .. } => "rate_limited".into(),
        Failure::Quota { .. } => "quota".into(),
        Failure::Auth { status, .. } => format!("auth_{status}"),
        Failure::Refused { status, .. } => format!("refused_{status}"),
        Failure::NotFound => "not_found".into(),
        Failure::Protocol { .. } => "protocol".into(),
    }
}

fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Pushes one entry.
async fn push_entry(
    ctx: &Ctx,
    conn: &Connection,
    client: &Connector,
    work: &Work,
) -> Result<Next, JobError> {
    let id = conn.id.to_string();
    let space = ctx.space(conn.account).await?;
    let mut db = ctx.db.pool.acquire().await?;
    let mut link = store::link(&mut db, &id, &work.entry)
        .await?
        .unwrap_or_else(|| Link {
            origin: "local".into(),
            state: "pending".into(),
            ..Link::default()
        });
    drop(db);
    // A leftover intent: a worker died (or an answer was lost) mid-write. Ask first.
    if let Some(intent) = link.intent.clone() {
        let sent_at = utc(link.intent_at.unwrap_or(0) - 1_000);
        match intent {
            Intent::Create { entry } | Intent::Update { entry, .. } => {
                let exclude = store::other_remote_ids(&ctx.db, &id, &work.entry).await?;
                match call(
                    ctx,
                    conn,
                    "find",
                    &work.entry,
                    None,
                    client.find(&entry, sent_at, &exclude),
                )
                .await?
                {
                    Ok(Some(found)) => {
                        record_written(ctx, conn, work, &mut link, &entry, &found, false).await?;
                    }
                    Ok(None) => {
                        // A request that timed out may still be applied late (a stalled
                        // server): "not found" counts only once twice the client timeout has
                        // passed since it was sent. Until then the intent stays.
                        let settle = i64::try_from(ctx.config.http_timeout.as_millis())
                            .unwrap_or(30_000)
                            * 2;
                        let settled_at = link.intent_at.unwrap_or(0) + settle;
                        if now_ms() < settled_at {
                            let mut tx = ctx.db.begin_write().await?;
                            sqlx::query(
                                "UPDATE connector_work SET due_at = $1 \
                                 WHERE connection_id = $2 AND entry_id = $3",
                            )
                            .bind(settled_at)
                            .bind(&id)
                            .bind(&work.entry)
                            .execute(&mut *tx)
                            .await?;
                            tx.commit().await?;
                            return Ok(Next::Continue);
                        }
                        link.intent = None;
                        link.intent_at = None;
                    }
                    Err(f) => return failed(ctx, conn, work, &mut link, f, true).await,
                }
            }
            Intent::Delete { .. } => {
                // Deleting again is harmless (already gone answers as success).
                link.intent = None;
                link.intent_at = None;
            }
        }
    }
    let desired = desired(ctx, conn, space, &work.entry).await?;
    let action = match (desired, &link.remote_id) {
        (Desired::Unreadable, _) | (Desired::Absent, None) => None,
        (Desired::Absent, Some(remote_id)) => {
            link.remote_target.clone().map(|target| Intent::Delete {
                remote_id: remote_id.clone(),
                target,
            })
        }
        (Desired::Present(entry), None) => Some(Intent::Create { entry }),
        (Desired::Present(entry), Some(remote_id)) => {
            if link.pushed_hash.as_deref() == Some(store::entry_hash(&entry).as_str()) {
                None
            } else {
                Some(Intent::Update {
                    remote_id: remote_id.clone(),
                    before: link
                        .remote_target
                        .clone()
                        .unwrap_or_else(|| entry.target.clone()),
                    entry,
                })
            }
        }
    };
    // Changed in Tacho since the last sync: changed remotely too? Then it is a conflict for the
    // person, never an overwrite (the pull would see the same, but a push may come first).
    if let Some(Intent::Update {
        remote_id, before, ..
    }) = &action
        && link.state == "synced"
        && link.remote_hash.is_some()
    {
        let read = call(
            ctx,
            conn,
            "get",
            &work.entry,
            Some(remote_id),
            client.get(remote_id, before),
        )
        .await?;
        if let Ok(Some(remote)) = read
            && link.remote_hash.as_deref() != Some(store::remote_hash(&remote).as_str())
        {
            let mappings = super::pull::mappings(ctx, &id).await?;
            super::pull::apply_changed(ctx, conn, space, &mappings, &remote).await?;
            return Ok(Next::Continue);
        }
    }
    let Some(intent) = action else {
        let mut tx = ctx.db.begin_write().await?;
        let now_synced =
            link.state != "synced" && (link.remote_id.is_some() || link.pushed_hash.is_some());
        if now_synced {
            link.state = "synced".into();
            store::put_link(&mut tx, &id, &work.entry, &link, None).await?;
        } else if link.intent.is_none() {
            // Nothing was ever written and nothing is wanted: no link row needed.
            sqlx::query(
                "UPDATE connector_links SET intent = NULL, intent_at = NULL \
                 WHERE connection_id = $1 AND entry_id = $2",
            )
            .bind(&id)
            .bind(&work.entry)
            .execute(&mut *tx)
            .await?;
        }
        store::work_done(&mut tx, &id, work).await?;
        tx.commit().await?;
        if now_synced {
            publish::link(ctx, conn, &work.entry, &link, None).await;
        }
        return Ok(Next::Continue);
    };
    // Persist the intent before anything is sent.
    link.intent = Some(intent.clone());
    link.intent_at = Some(now_ms());
    if link.state != "conflict" {
        link.state = "pending".into();
    }
    {
        let mut tx = ctx.db.begin_write().await?;
        store::put_link(&mut tx, &id, &work.entry, &link, None).await?;
        tx.commit().await?;
    }
    match intent {
        Intent::Create { entry } => {
            match call(
                ctx,
                conn,
                "create",
                &work.entry,
                None,
                client.create(&entry),
            )
            .await?
            {
                Ok(written) => {
                    record_written(
                        ctx,
                        conn,
                        work,
                        &mut link,
                        &entry,
                        &written.entry_with(&written.remote_id),
                        true,
                    )
                    .await?;
                    Ok(Next::Continue)
                }
                Err(f) => failed(ctx, conn, work, &mut link, f, true).await,
            }
        }
        Intent::Update {
            remote_id,
            before,
            entry,
        } => {
            match call(
                ctx,
                conn,
                "update",
                &work.entry,
                Some(&remote_id),
                client.update(&remote_id, &before, &entry),
            )
            .await?
            {
                Ok(written) => {
                    record_written(
                        ctx,
                        conn,
                        work,
                        &mut link,
                        &entry,
                        &written.entry_with(&written.remote_id),
                        true,
                    )
                    .await?;
                    Ok(Next::Continue)
                }
                Err(Failure::NotFound) => {
                    gone(ctx, conn, work, &mut link, &entry).await?;
                    Ok(Next::Continue)
                }
                Err(f) => failed(ctx, conn, work, &mut link, f, true).await,
            }
        }
        Intent::Delete { remote_id, target } => {
            match call(
                ctx,
                conn,
                "delete",
                &work.entry,
                Some(&remote_id),
                client.delete(&remote_id, &target),
            )
            .await?
            {
                Ok(()) | Err(Failure::NotFound) => {
                    link.remote_id = None;
                    link.remote_target = None;
                    link.pushed_hash = None;
                    link.intent = None;
                    link.intent_at = None;
                    link.state = "synced".into();
                    let mut tx = ctx.db.begin_write().await?;
                    store::put_link(&mut tx, &id, &work.entry, &link, None).await?;
                    store::work_done(&mut tx, &id, work).await?;
                    tx.commit().await?;
                    publish::link(ctx, conn, &work.entry, &link, None).await;
                    Ok(Next::Continue)
                }
                Err(f) => failed(ctx, conn, work, &mut link, f, false).await,
            }
        }
    }
}

trait WithId {
    fn entry_with(&self, remote_id: &str) -> RemoteEntry;
}

impl WithId for tacho_integrations::timesheets::Written {
    fn entry_with(&self, remote_id: &str) -> RemoteEntry {
        let mut e = self.entry.clone();
        e.remote_id = remote_id.to_owned();
        e
    }
}

/// Records a write that landed (answered, or found by reconciliation), in one transaction with
/// the work row and the link. `finish`: the work is done (else the caller goes on with it).
async fn record_written(
    ctx: &Ctx,
    conn: &Connection,
    work: &Work,
    link: &mut Link,
    entry: &Entry,
    remote: &RemoteEntry,
    finish: bool,
) -> Result<(), JobError> {
    let id = conn.id.to_string();
    link.remote_id = Some(remote.remote_id.clone());
    link.remote_target = Some(entry.target.clone());
    link.pushed_hash = Some(store::entry_hash(entry));
    link.remote_hash = Some(store::remote_hash(remote));
    link.intent = None;
    link.intent_at = None;
    link.state = "synced".into();
    let mut tx = ctx.db.begin_write().await?;
    store::put_link(&mut tx, &id, &work.entry, link, None).await?;
    if finish {
        store::work_done(&mut tx, &id, work).await?;
    }
    tx.commit().await?;
    publish::link(ctx, conn, &work.entry, link, None).await;
    Ok(())
}

/// The remote record of an entry edited in Tacho is gone: a conflict, never a silent re-create.
async fn gone(
    ctx: &Ctx,
    conn: &Connection,
    work: &Work,
    link: &mut Link,
    entry: &Entry,
) -> Result<(), JobError> {
    let id = conn.id.to_string();
    link.intent = None;
    link.intent_at = None;
    link.state = "conflict".into();
    let mut tx = ctx.db.begin_write().await?;
    let conflict = store::raise_conflict(
        &mut tx,
        &NewConflict {
            connection: &id,
            account: &conn.account.to_string(),
            entry: Some(&work.entry),
            remote_id: link.remote_id.as_deref(),
            kind: "gone",
            local: serde_json::to_value(local_snapshot(entry)).ok(),
            remote: None,
            message: "the entry was deleted remotely but changed in Tacho",
        },
    )
    .await?;
    store::put_link(&mut tx, &id, &work.entry, link, Some("deleted remotely")).await?;
    store::work_done(&mut tx, &id, work).await?;
    tx.commit().await?;
    publish::conflict(ctx, conn, &conflict).await;
    publish::link(ctx, conn, &work.entry, link, Some("deleted remotely")).await;
    Ok(())
}

/// Disables a connection whose credentials the service refused (work is kept) and raises the
/// alert the person sees: the connection's state and an `auth` item in the conflict inbox.
pub(crate) async fn disable(ctx: &Ctx, conn: &Connection, reason: &str) -> Result<(), JobError> {
    let id = conn.id.to_string();
    let mut tx = ctx.db.begin_write().await?;
    sqlx::query("UPDATE connections SET state = 'disabled', state_reason = $1 WHERE id = $2")
        .bind(reason)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    let conflict = store::raise_conflict(
        &mut tx,
        &NewConflict {
            connection: &id,
            account: &conn.account.to_string(),
            entry: None,
            remote_id: None,
            kind: "auth",
            local: None,
            remote: None,
            message: reason,
        },
    )
    .await?;
    tx.commit().await?;
    publish::conflict(ctx, conn, &conflict).await;
    Ok(())
}

/// Applies the retry policy to a failed call. `write`: the failed call may have written
/// (create/update/find of one), so an uncertain outcome keeps the intent for reconciliation.
async fn failed(
    ctx: &Ctx,
    conn: &Connection,
    work: &Work,
    link: &mut Link,
    failure: Failure,
    write: bool,
) -> Result<Next, JobError> {
    let id = conn.id.to_string();
    let now = now_ms();
    let local = match &link.intent {
        Some(Intent::Create { entry } | Intent::Update { entry, .. }) => {
            serde_json::to_value(local_snapshot(entry)).ok()
        }
        _ => None,
    };
    let mut raised = None;
    let keep_intent = write
        && matches!(
            failure,
            Failure::Uncertain { .. } | Failure::Protocol { .. }
        );
    if !keep_intent {
        link.intent = None;
        link.intent_at = None;
    }
    let message = failure.to_string();
    let mut tx = ctx.db.begin_write().await?;
    let next = match &failure {
        Failure::RateLimited { retry_after } => {
            let wait = retry_after
                .unwrap_or(Duration::from_secs(1))
                .max(Duration::from_secs(1));
            let until = now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
            sqlx::query(
                "UPDATE connector_work SET due_at = $1 WHERE connection_id = $2 AND state = 'queued' AND due_at < $1",
            )
            .bind(until)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            Next::Stop
        }
        Failure::Quota { resets_in } => {
            let until = now
                + i64::try_from(resets_in.as_millis())
                    .unwrap_or(i64::MAX / 2)
                    .max(1_000);
            sqlx::query("UPDATE connections SET quota_until = $1 WHERE id = $2")
                .bind(until)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            Next::Stop
        }
        Failure::Auth { status, message } => {
            let reason = format!(
                "{} refused the token ({status}: {message}); rotate the token or resume",
                conn.provider.title()
            );
            sqlx::query(
                "UPDATE connections SET state = 'disabled', state_reason = $1 WHERE id = $2",
            )
            .bind(&reason)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            raised = Some(
                store::raise_conflict(
                    &mut tx,
                    &NewConflict {
                        connection: &id,
                        account: &conn.account.to_string(),
                        entry: None,
                        remote_id: None,
                        kind: "auth",
                        local: None,
                        remote: None,
                        message: &reason,
                    },
                )
                .await?,
            );
            Next::Stop
        }
        Failure::Refused {
            status,
            message: said,
        } => {
            link.state = "conflict".into();
            raised = Some(
                store::raise_conflict(
                    &mut tx,
                    &NewConflict {
                        connection: &id,
                        account: &conn.account.to_string(),
                        entry: Some(&work.entry),
                        remote_id: link.remote_id.as_deref(),
                        kind: "refused",
                        local,
                        remote: None,
                        message: &format!(
                            "{} refused the entry ({status}): {said}",
                            conn.provider.title()
                        ),
                    },
                )
                .await?,
            );
            store::work_done(&mut tx, &id, work).await?;
            Next::Continue
        }
        Failure::Uncertain { .. }
        | Failure::Unreachable { .. }
        | Failure::Protocol { .. }
        | Failure::NotFound => {
            let attempts = work.attempts + 1;
            let give_up = attempts > RETRIES;
            let base = i64::try_from(ctx.config.retry_base.as_millis()).unwrap_or(5_000);
            if give_up {
                link.state = "error".into();
            }
            store::work_failed(&mut tx, &id, work, now + base * attempts, give_up, &message)
                .await?;
            Next::Continue
        }
    };
    let shown = (!matches!(link.state.as_str(), "synced")).then_some(message.as_str());
    store::put_link(&mut tx, &id, &work.entry, link, shown).await?;
    tx.commit().await?;
    if let Some(conflict) = raised {
        publish::conflict(ctx, conn, &conflict).await;
    }
    if matches!(link.state.as_str(), "conflict" | "error") {
        publish::link(ctx, conn, &work.entry, link, shown).await;
    }
    Ok(next)
}

/// Re-queues the push job of a connection (the scheduler, the API's run).
pub async fn wake_push(ctx: &Ctx, connection: &str) -> Result<(), sqlx::Error> {
    let mut c = ctx.db.pool.acquire().await?;
    wake(&mut c, PUSH_KIND, connection, now_ms()).await
}
