//! The `connector.pull` job: remote entries become Tacho time entries, written as ops of the
//! connection's device (source `connector`), so every device sees them; remote edits and
//! deletions of linked entries reach Tacho; an entry changed on both sides since the last sync is
//! a conflict, never overwritten either way.
//!
//! The echo of Tacho's own write is recognised by the remote record's hash (`remote_hash`, kept
//! from the write's answer). Only the fields the service keeps are taken over (Zammad keeps an
//! amount of time, so only the stop moves; Tempo keeps no tags or billable flag).

use std::collections::HashSet;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::Row as _;
use tacho_integrations::http::Failure;
use tacho_integrations::timesheets::{Entry, PullCursor, RemoteEntry, Service, Target};
use tacho_model::op::{EntityKind, OpKind};
use uuid::Uuid;

use super::Ctx;
use super::publish::{self, local_snapshot, remote_snapshot};
use super::push::{Desired, desired, failure_class, may_send};
use super::store::{self, Audit, Link, NewConflict};
use crate::connections::registry::Connection;
use crate::connections::timesheets::requests_per_hour;
use crate::db::now_ms;
use crate::jobs::{Job, JobError};

/// Linked remote records probed for deletion per pull (services without tombstones).
const PROBES: i64 = 20;
/// Requests a pull leaves in the hourly budget for pushes.
const PUSH_RESERVE: i64 = 5;

/// The job handler.
pub fn handler(ctx: Ctx) -> impl Fn(Job) -> crate::jobs::JobFuture + Send + Sync + 'static {
    move |job: Job| {
        let ctx = ctx.clone();
        Box::pin(async move {
            let connection = super::push::payload_connection(&job)?;
            pull(&ctx, &connection).await
        })
    }
}

/// The Tacho entry id a pulled record gets: derived, so a pull repeated after a crash names the
/// same entry.
fn pulled_entry_id(connection: Uuid, remote_id: &str) -> Uuid {
    Uuid::new_v5(&connection, format!("pulled/{remote_id}").as_bytes())
}

/// The remote record as an [`Entry`] (what Tacho would push to produce it).
fn as_entry(remote: &RemoteEntry) -> Entry {
    Entry {
        start: remote.start,
        stop: remote.stop,
        description: remote.description.clone(),
        tags: remote.tags.clone(),
        billable: remote.billable,
        target: remote.target.clone(),
    }
}

/// Whether a mapping target covers a remote record's target (Toggl's task and Zammad's type
/// are details of the same booking).
fn covers(mapping: &Target, remote: &Target) -> bool {
    match (mapping, remote) {
        (Target::Toggl { project_id: a, .. }, Target::Toggl { project_id: b, .. }) => a == b,
        (Target::Tempo { issue_id: a }, Target::Tempo { issue_id: b }) => a == b,
        (
            Target::Kimai {
                project_id: a,
                activity_id: x,
            },
            Target::Kimai {
                project_id: b,
                activity_id: y,
            },
        ) => a == b && x == y,
        (Target::Zammad { ticket_id: a, .. }, Target::Zammad { ticket_id: b, .. }) => a == b,
        _ => false,
    }
}

/// The fields of a Tacho time entry a pulled record sets.
fn fields(
    service: Service,
    remote: &RemoteEntry,
    project: Option<&str>,
    new: bool,
) -> Map<String, Value> {
    let mut f = Map::new();
    let stop = remote
        .stop
        .or_else(|| Some(remote.start + chrono::Duration::seconds(remote.seconds)));
    let time = |t: DateTime<Utc>| Value::from(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    match service {
        Service::Zammad => {
            if new {
                f.insert("start".into(), time(remote.start));
                f.insert("description".into(), Value::from(""));
                f.insert("tags".into(), Value::Array(Vec::new()));
                f.insert("billable".into(), Value::Bool(false));
            }
            f.insert("stop".into(), stop.map_or(Value::Null, time));
        }
        Service::Tempo => {
            f.insert("start".into(), time(remote.start));
            f.insert("stop".into(), stop.map_or(Value::Null, time));
            f.insert(
                "description".into(),
                Value::from(remote.description.clone()),
            );
            if new {
                f.insert("tags".into(), Value::Array(Vec::new()));
                f.insert("billable".into(), Value::Bool(remote.billable));
            }
        }
        Service::Toggl | Service::Kimai => {
            f.insert("start".into(), time(remote.start));
            f.insert("stop".into(), remote.stop.map_or(Value::Null, time));
            f.insert(
                "description".into(),
                Value::from(remote.description.clone()),
            );
            f.insert(
                "tags".into(),
                Value::Array(remote.tags.iter().cloned().map(Value::from).collect()),
            );
            f.insert("billable".into(), Value::Bool(remote.billable));
        }
    }
    if new {
        f.insert("source".into(), Value::from("connector"));
        f.insert("trip_id".into(), Value::Null);
        f.insert(
            "project_id".into(),
            project.map_or(Value::Null, |p| Value::from(p.to_owned())),
        );
    }
    f
}

/// Whether a pulled field's value differs from Tacho's (times compared as instants).
fn differs(key: &str, new: &Value, old: Option<&Value>) -> bool {
    let Some(old) = old else {
        return true;
    };
    if matches!(key, "start" | "stop")
        && let (Some(a), Some(b)) = (new.as_str(), old.as_str())
        && let (Ok(a), Ok(b)) = (
            DateTime::parse_from_rfc3339(a),
            DateTime::parse_from_rfc3339(b),
        )
    {
        return a != b;
    }
    new != old
}

/// Pulls `connection` once.
pub async fn pull(ctx: &Ctx, connection: &str) -> Result<(), JobError> {
    let now = now_ms();
    let Some(conn) = ctx.connection(connection).await? else {
        return Ok(());
    };
    if !may_send(&conn, now) {
        return Ok(());
    }
    if let Some(budget) = requests_per_hour(&conn) {
        let (sent, _) = store::requests_in_hour(&ctx.db, connection, now).await?;
        if sent + PUSH_RESERVE >= budget {
            return Ok(()); // the next scheduled pull tries again
        }
    }
    // A write in flight may have landed without its id recorded: reconcile it (push) first,
    // or its record would come back as a new entry.
    let in_flight = sqlx::query(
        "SELECT entry_id FROM connector_links WHERE connection_id = $1 AND intent IS NOT NULL LIMIT 1",
    )
    .bind(connection)
    .fetch_optional(&ctx.db.pool)
    .await?;
    if in_flight.is_some() {
        super::push::wake_push(ctx, connection).await?;
        return Ok(());
    }
    let client = match ctx.client(&conn).await {
        Ok(c) => c,
        Err(e) => return Err(e.into()),
    };
    let mappings = mappings(ctx, connection).await?;
    if mappings.is_empty() {
        sqlx::query("UPDATE connections SET last_pull_at = $1 WHERE id = $2")
            .bind(now)
            .bind(connection)
            .execute(&ctx.db.pool)
            .await?;
        return Ok(());
    }
    let cursor: PullCursor = sqlx::query("SELECT pull_cursor FROM connections WHERE id = $1")
        .bind(connection)
        .fetch_one(&ctx.db.pool)
        .await?
        .try_get::<Option<String>, _>("pull_cursor")?
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let first_pull = DateTime::from_timestamp_millis(conn.created_at).unwrap_or_default();
    let tickets: Vec<i64> = mappings
        .iter()
        .filter_map(|(_, t)| match t {
            Target::Zammad { ticket_id, .. } => Some(*ticket_id),
            _ => None,
        })
        .collect();
    let started = Instant::now();
    let changes = client.changes(&cursor, first_pull, &tickets).await;
    audit(
        ctx,
        &conn,
        "changes",
        None,
        &changes.as_ref().map(|c| c.changed.len()),
        started,
    )
    .await?;
    let changes = match changes {
        Ok(c) => c,
        Err(f) => return handle_failure(ctx, &conn, f).await,
    };
    let space = ctx.space(conn.account).await?;
    let mut seen = HashSet::new();
    for remote in &changes.changed {
        seen.insert(remote.remote_id.clone());
        apply_changed(ctx, &conn, space, &mappings, remote).await?;
    }
    let mut gone: Vec<String> = changes.deleted.clone();
    // Services without tombstones: probe linked records not seen in this pull.
    if conn.provider.service() != Service::Toggl {
        let rows = sqlx::query(
            "SELECT remote_id, remote_target FROM connector_links WHERE connection_id = $1 \
             AND remote_id IS NOT NULL AND intent IS NULL ORDER BY synced_at LIMIT $2",
        )
        .bind(connection)
        .bind(PROBES)
        .fetch_all(&ctx.db.pool)
        .await?;
        for row in rows {
            let remote_id: String = row.try_get("remote_id")?;
            if seen.contains(&remote_id) && conn.provider.service() != Service::Zammad {
                continue;
            }
            let Some(target) = row
                .try_get::<Option<String>, _>("remote_target")?
                .and_then(|t| serde_json::from_str::<Target>(&t).ok())
            else {
                continue;
            };
            let started = Instant::now();
            let got = client.get(&remote_id, &target).await;
            audit(
                ctx,
                &conn,
                "get",
                Some(&remote_id),
                &got.as_ref().map(|_| 1),
                started,
            )
            .await?;
            match got {
                Ok(None) | Err(Failure::NotFound) => gone.push(remote_id),
                Ok(Some(_)) => {}
                Err(f) => return handle_failure(ctx, &conn, f).await,
            }
        }
        // Touch the probed links so the next pull probes others.
    }
    for remote_id in gone {
        apply_deleted(ctx, &conn, space, &remote_id).await?;
    }
    // The pull's start: a pull asked for while this one ran is still due.
    sqlx::query("UPDATE connections SET pull_cursor = $1, last_pull_at = $2 WHERE id = $3")
        .bind(serde_json::to_string(&changes.next).map_err(|e| JobError::Permanent(e.to_string()))?)
        .bind(now)
        .bind(connection)
        .execute(&ctx.db.pool)
        .await?;
    Ok(())
}

pub(crate) async fn mappings(
    ctx: &Ctx,
    connection: &str,
) -> Result<Vec<(String, Target)>, JobError> {
    let rows =
        sqlx::query("SELECT project_id, target FROM connector_mappings WHERE connection_id = $1")
            .bind(connection)
            .fetch_all(&ctx.db.pool)
            .await?;
    let mut out = Vec::new();
    for r in rows {
        let target: String = r.try_get("target")?;
        if let Ok(t) = serde_json::from_str(&target) {
            out.push((r.try_get("project_id")?, t));
        }
    }
    Ok(out)
}

async fn audit<T>(
    ctx: &Ctx,
    conn: &Connection,
    operation: &str,
    remote_id: Option<&str>,
    result: &Result<T, &Failure>,
    started: Instant,
) -> Result<(), JobError>
where
    T: std::fmt::Debug,
{
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (status, message) = match result {
        Ok(n) => ("ok".to_owned(), Some(format!("{n:?}"))),
        Err(f) => (failure_class(f), Some(f.to_string())),
    };
    let mut c = ctx.db.pool.acquire().await?;
    store::audit(
        &mut c,
        &conn.id.to_string(),
        &Audit {
            operation,
            entry: None,
            remote_id,
            status: &status,
            latency_ms,
            request: true,
            message: message.as_deref(),
        },
    )
    .await?;
    Ok(())
}

/// A failed pull call: quota and auth act on the connection like a push's; the rest retries.
async fn handle_failure(ctx: &Ctx, conn: &Connection, f: Failure) -> Result<(), JobError> {
    let id = conn.id.to_string();
    match f {
        Failure::Quota { resets_in } => {
            let until = now_ms() + i64::try_from(resets_in.as_millis()).unwrap_or(0).max(1_000);
            sqlx::query("UPDATE connections SET quota_until = $1 WHERE id = $2")
                .bind(until)
                .bind(&id)
                .execute(&ctx.db.pool)
                .await?;
            Ok(())
        }
        Failure::Auth { status, message } => {
            let reason = format!(
                "{} refused the token ({status}: {message}); rotate the token or resume",
                conn.provider.title()
            );
            super::push::disable(ctx, conn, &reason).await
        }
        Failure::RateLimited { .. } => Ok(()),
        other => Err(JobError::Retryable(format!(
            "pull: {}",
            failure_class(&other)
        ))),
    }
}

/// A remote record created or changed (also called by the push worker when it finds the
/// remote side changed before an update).
pub(crate) async fn apply_changed(
    ctx: &Ctx,
    conn: &Connection,
    space: Uuid,
    mappings: &[(String, Target)],
    remote: &RemoteEntry,
) -> Result<(), JobError> {
    let id = conn.id.to_string();
    let hash = store::remote_hash(remote);
    let service = conn.provider.service();
    if let Some((entry, mut link)) = store::link_by_remote(&ctx.db, &id, &remote.remote_id).await? {
        if link.remote_hash.as_deref() == Some(hash.as_str()) {
            return Ok(()); // nothing new (or the echo of Tacho's own write)
        }
        // Changed remotely. Changed in Tacho too since the last sync?
        let local = match desired(ctx, conn, space, &entry).await? {
            Desired::Present(e) => Some(e),
            _ => None,
        };
        let local_changed = local
            .as_ref()
            .is_some_and(|e| link.pushed_hash.as_deref() != Some(store::entry_hash(e).as_str()));
        if local_changed {
            link.state = "conflict".into();
            link.remote_hash = Some(hash);
            let mut tx = ctx.db.begin_write().await?;
            let conflict = store::raise_conflict(
                &mut tx,
                &NewConflict {
                    connection: &id,
                    account: &conn.account.to_string(),
                    entry: Some(&entry),
                    remote_id: Some(&remote.remote_id),
                    kind: "both_changed",
                    local: local
                        .as_ref()
                        .and_then(|e| serde_json::to_value(local_snapshot(e)).ok()),
                    remote: serde_json::to_value(remote_snapshot(remote)).ok(),
                    message: "changed in Tacho and remotely since the last sync",
                },
            )
            .await?;
            store::put_link(&mut tx, &id, &entry, &link, Some("changed on both sides")).await?;
            // The local edit waits for the person's decision.
            sqlx::query("DELETE FROM connector_work WHERE connection_id = $1 AND entry_id = $2")
                .bind(&id)
                .bind(&entry)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            publish::conflict(ctx, conn, &conflict).await;
            publish::link(ctx, conn, &entry, &link, Some("changed on both sides")).await;
            return Ok(());
        }
        take_remote(ctx, conn, space, &entry, &mut link, remote).await?;
        return Ok(());
    }
    let Some((project, _)) = mappings.iter().find(|(_, t)| covers(t, &remote.target)) else {
        return Ok(()); // an unmapped target: not Tacho's business
    };
    let entry_id = pulled_entry_id(conn.id, &remote.remote_id);
    let fields = fields(service, remote, Some(project), true);
    write_entry(ctx, conn, entry_id, fields).await?;
    let entry = entry_id.to_string();
    let mut link = Link {
        remote_id: Some(remote.remote_id.clone()),
        remote_target: Some(remote.target.clone()),
        origin: "remote".into(),
        state: "synced".into(),
        remote_hash: Some(hash),
        ..Link::default()
    };
    link.pushed_hash = match desired(ctx, conn, space, &entry).await? {
        Desired::Present(e) => Some(store::entry_hash(&e)),
        _ => Some(store::entry_hash(&as_entry(remote))),
    };
    let mut tx = ctx.db.begin_write().await?;
    store::put_link(&mut tx, &id, &entry, &link, None).await?;
    tx.commit().await?;
    publish::link(ctx, conn, &entry, &link, None).await;
    Ok(())
}

/// Writes the service's values into Tacho entry `entry` and records them as in step.
pub(crate) async fn take_remote(
    ctx: &Ctx,
    conn: &Connection,
    space: Uuid,
    entry: &str,
    link: &mut Link,
    remote: &RemoteEntry,
) -> Result<(), JobError> {
    let id = conn.id.to_string();
    let entry_id = Uuid::parse_str(entry).map_err(|e| JobError::Permanent(e.to_string()))?;
    // Only what differs is written: re-stamping equal values would win last-writer-wins over a
    // person's edit made meanwhile on a device.
    let mut wanted = fields(conn.provider.service(), remote, None, false);
    if let Some(state) = super::push::entity_state(ctx, space, EntityKind::TimeEntry, entry).await?
    {
        wanted.retain(|k, v| differs(k, v, state.fields.get(k)));
    }
    if !wanted.is_empty() {
        write_entry(ctx, conn, entry_id, wanted).await?;
    }
    link.remote_hash = Some(store::remote_hash(remote));
    link.remote_id = Some(remote.remote_id.clone());
    link.remote_target = Some(remote.target.clone());
    // What Tacho now wants is what the service holds: nothing to push back.
    link.pushed_hash = match desired(ctx, conn, space, entry).await? {
        Desired::Present(e) => Some(store::entry_hash(&e)),
        _ => link.pushed_hash.clone(),
    };
    link.state = "synced".into();
    let mut tx = ctx.db.begin_write().await?;
    store::put_link(&mut tx, &id, entry, link, None).await?;
    tx.commit().await?;
    publish::link(ctx, conn, entry, link, None).await;
    Ok(())
}

/// A linked remote record is gone.
async fn apply_deleted(
    ctx: &Ctx,
    conn: &Connection,
    space: Uuid,
    remote_id: &str,
) -> Result<(), JobError> {
    let id = conn.id.to_string();
    let Some((entry, mut link)) = store::link_by_remote(&ctx.db, &id, remote_id).await? else {
        return Ok(());
    };
    let local = match desired(ctx, conn, space, &entry).await? {
        Desired::Present(e) => Some(e),
        _ => None,
    };
    let local_changed = local
        .as_ref()
        .is_some_and(|e| link.pushed_hash.as_deref() != Some(store::entry_hash(e).as_str()));
    link.remote_id = None;
    link.remote_hash = None;
    if local_changed {
        link.state = "conflict".into();
        let mut tx = ctx.db.begin_write().await?;
        let conflict = store::raise_conflict(
            &mut tx,
            &NewConflict {
                connection: &id,
                account: &conn.account.to_string(),
                entry: Some(&entry),
                remote_id: Some(remote_id),
                kind: "gone",
                local: local
                    .as_ref()
                    .and_then(|e| serde_json::to_value(local_snapshot(e)).ok()),
                remote: None,
                message: "deleted remotely but changed in Tacho since the last sync",
            },
        )
        .await?;
        store::put_link(&mut tx, &id, &entry, &link, Some("deleted remotely")).await?;
        tx.commit().await?;
        publish::conflict(ctx, conn, &conflict).await;
        return Ok(());
    }
    if local.is_some() {
        let entry_id = Uuid::parse_str(&entry).map_err(|e| JobError::Permanent(e.to_string()))?;
        super::publish::write_op(ctx, conn, EntityKind::TimeEntry, entry_id, OpKind::Delete)
            .await
            .map_err(|e| JobError::Retryable(format!("writing the deletion: {}", e.code)))?;
    }
    link.pushed_hash = None;
    link.state = "synced".into();
    let mut tx = ctx.db.begin_write().await?;
    store::put_link(&mut tx, &id, &entry, &link, None).await?;
    tx.commit().await?;
    publish::link(ctx, conn, &entry, &link, None).await;
    Ok(())
}

async fn write_entry(
    ctx: &Ctx,
    conn: &Connection,
    entry: Uuid,
    fields: Map<String, Value>,
) -> Result<(), JobError> {
    super::publish::write_op(
        ctx,
        conn,
        EntityKind::TimeEntry,
        entry,
        OpKind::Upsert { fields },
    )
    .await
    .map_err(|e| JobError::Retryable(format!("writing a pulled entry: {}", e.code)))
}
