//! What every device learns of the connectors: each entry's state per connection
//! (`connector_link`) and the conflict inbox (`connector_conflict`), written as ops of the
//! connection's own server-side device after the state changed (never inside the sync push's
//! transaction). A failure to write is logged and healed by the next change: the relay's tables
//! stay the source of truth and the API reads them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row as _;
use tacho_integrations::timesheets::{Entry, RemoteEntry, Target};
use tacho_model::connector::{
    ConflictState, ConnectorConflict, ConnectorLink, EntrySnapshot, LinkState, Resolution, link_id,
};
use tacho_model::op::EntityKind;
use uuid::Uuid;

use super::Ctx;
use super::store::Link;
use crate::connections::registry::Connection;
use crate::error::{ServiceError, ServiceResult};
use crate::sync::writer::{OpBatch, Role, ServerDevice};

/// How a target reads in a conflict (the service's ids).
pub fn target_text(target: &Target) -> String {
    match target {
        Target::Toggl {
            project_id,
            task_id,
        } => match (project_id, task_id) {
            (Some(p), Some(t)) => format!("project {p}, task {t}"),
            (Some(p), None) => format!("project {p}"),
            _ => "no project".to_owned(),
        },
        Target::Tempo { issue_id } => format!("issue {issue_id}"),
        Target::Kimai {
            project_id,
            activity_id,
        } => format!("project {project_id}, activity {activity_id}"),
        Target::Zammad { ticket_id, type_id } => match type_id {
            Some(t) => format!("ticket {ticket_id}, type {t}"),
            None => format!("ticket {ticket_id}"),
        },
    }
}

/// Tacho's side of a conflict.
pub fn local_snapshot(entry: &Entry) -> EntrySnapshot {
    EntrySnapshot {
        description: Some(entry.description.clone()),
        start: Some(entry.start),
        stop: entry.stop,
        seconds: entry.stop.map(|s| (s - entry.start).num_seconds()),
        tags: Some(entry.tags.clone()),
        billable: Some(entry.billable),
        project: Some(target_text(&entry.target)),
    }
}

/// The service's side of a conflict.
pub fn remote_snapshot(remote: &RemoteEntry) -> EntrySnapshot {
    EntrySnapshot {
        description: Some(remote.description.clone()),
        start: Some(remote.start),
        stop: remote.stop,
        seconds: Some(remote.seconds),
        tags: Some(remote.tags.clone()),
        billable: Some(remote.billable),
        project: Some(target_text(&remote.target)),
    }
}

fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn label(conn: &Connection) -> String {
    conn.label
        .clone()
        .unwrap_or_else(|| conn.provider.as_str().to_owned())
}

/// Pushes ops built by `build` as the connection's device, rebuilding on a sequence race with
/// another writer of the same device (a pull and a push of one connection on two instances).
async fn write(
    ctx: &Ctx,
    conn: &Connection,
    build: impl Fn(&mut OpBatch) -> ServiceResult<()>,
) -> ServiceResult<()> {
    let space = ctx.space(conn.account).await?;
    let role = Role::Connector {
        connection: conn.id,
        label: label(conn),
    };
    let mut last = None;
    for _ in 0..3 {
        let device = ServerDevice::open(&ctx.sync, role.clone(), conn.account, space).await?;
        let mut batch = device.batch(&format!("connector/{}", Uuid::now_v7()));
        build(&mut batch)?;
        match device.push(&batch).await {
            Ok(_) => {
                let mut tx = ctx.db.begin_write().await?;
                device.save_clock(&mut tx, &batch).await?;
                tx.commit().await?;
                return Ok(());
            }
            Err(e) if e.code == tacho_model::api::code::SEQ_GAP => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| ServiceError::internal("connector device write failed")))
}

/// Writes one op of `kind` on `id` as the connection's device (pulled entries, their edits and
/// deletions).
pub async fn write_op(
    ctx: &Ctx,
    conn: &Connection,
    kind: EntityKind,
    id: Uuid,
    op: tacho_model::op::OpKind,
) -> ServiceResult<()> {
    write(ctx, conn, |b| b.push(kind, id, op.clone())).await
}

/// Writes the state of `entry` on `conn`.
pub async fn link(ctx: &Ctx, conn: &Connection, entry: &str, link: &Link, message: Option<&str>) {
    let Ok(entry_id) = Uuid::parse_str(entry) else {
        return;
    };
    let state = match link.state.as_str() {
        "synced" => LinkState::Synced,
        "conflict" => LinkState::Conflict,
        "error" => LinkState::Error,
        _ => LinkState::Pending,
    };
    let value = ConnectorLink {
        connection_id: conn.id,
        connection_name: label(conn),
        service: conn.provider.as_str().to_owned(),
        entry_id,
        remote_id: link.remote_id.clone(),
        state,
        synced_at: (state == LinkState::Synced).then(Utc::now),
        message: message.map(str::to_owned),
    };
    let id = link_id(conn.id, entry_id);
    if let Err(e) = write(ctx, conn, |b| {
        b.upsert(EntityKind::ConnectorLink, id, &value)
    })
    .await
    {
        tracing::warn!(connection = %conn.id, error = %e, "writing a connector_link op");
    }
}

/// Writes conflict `id` as it is stored.
pub async fn conflict(ctx: &Ctx, conn: &Connection, id: &str) {
    if let Err(e) = conflict_op(ctx, conn, id).await {
        tracing::warn!(connection = %conn.id, error = %e, "writing a connector_conflict op");
    }
}

async fn conflict_op(ctx: &Ctx, conn: &Connection, id: &str) -> ServiceResult<()> {
    let row = sqlx::query(
        "SELECT entry_id, remote_id, local_values, remote_values, message, raised_at, state, \
         resolution, resolved_at FROM connector_conflicts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&ctx.db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let snapshot = |text: Option<String>| -> Option<EntrySnapshot> {
        text.and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| serde_json::from_value(v).ok())
    };
    let entry: Option<String> = row.try_get("entry_id")?;
    let state: String = row.try_get("state")?;
    let resolution: Option<String> = row.try_get("resolution")?;
    let resolved_at: Option<i64> = row.try_get("resolved_at")?;
    let value = ConnectorConflict {
        connection_id: conn.id,
        connection_name: label(conn),
        service: conn.provider.as_str().to_owned(),
        entry_id: entry.and_then(|e| Uuid::parse_str(&e).ok()),
        remote_id: row.try_get("remote_id")?,
        local: snapshot(row.try_get("local_values")?),
        remote: snapshot(row.try_get("remote_values")?),
        message: row.try_get("message")?,
        raised_at: utc(row.try_get("raised_at")?),
        state: if state == "open" {
            ConflictState::Open
        } else {
            ConflictState::Resolved
        },
        resolution: resolution.as_deref().and_then(Resolution::parse),
        resolved_at: resolved_at.map(utc),
    };
    let id = Uuid::parse_str(id).map_err(ServiceError::internal)?;
    write(ctx, conn, |b| {
        b.upsert(EntityKind::ConnectorConflict, id, &value)
    })
    .await
}
