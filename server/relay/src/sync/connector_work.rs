//! Connector work enqueued with the ops that cause it (issue 13): when a pushed batch touches
//! time entries, each of the account's timesheet connections gets one `connector_work` row per
//! entry (coalesced: many edits of an entry are one row) and one `connector.push` job, in the
//! push's own transaction, so work is never lost between the log and the queue. No network, no
//! per-op query: one indexed lookup of the account's connections, one multi-row upsert, one job
//! upsert per connection; a batch without time entries costs nothing.
//!
//! The connectors module drains the work; they call [`wake`] and [`enqueue`] too
//! (mapping changes, conflict resolutions, the scheduler's tick).

use std::collections::HashSet;

use sqlx::Row as _;
use uuid::Uuid;

use crate::db::{Backend, now_ms};

/// Kind of the job that drains one connection's work.
pub const PUSH_KIND: &str = "connector.push";
/// Kind of the job that pulls one connection.
pub const PULL_KIND: &str = "connector.pull";

/// Rows per multi-row upsert (4 parameters each).
const ROWS: usize = 200;

/// The dedupe key of a connection's push job: one queued job per connection at a time.
pub fn push_key(connection: &str) -> String {
    format!("{PUSH_KIND}:{connection}")
}

/// Makes sure a `kind` job for `connection` is queued, due `run_at`: inserts it, or re-queues the
/// finished row holding its dedupe key. A running job is left alone (it drains until no work is
/// due; the scheduler's tick covers work that arrives as it finishes).
pub async fn wake(
    conn: &mut sqlx::AnyConnection,
    kind: &str,
    connection: &str,
    run_at: i64,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::json!({ "connection": connection }).to_string();
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, dedupe_key, state, run_at, attempts, max_attempts, \
         created_at) VALUES ($1, $2, $3, $4, 'queued', $5, 0, 5, $6) \
         ON CONFLICT (dedupe_key) DO UPDATE SET state = 'queued', run_at = excluded.run_at, \
         attempts = 0, lease_until = NULL, locked_by = NULL, last_error = NULL, \
         finished_at = NULL WHERE jobs.state IN ('done', 'failed')",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(kind)
    .bind(payload)
    .bind(format!("{kind}:{connection}"))
    .bind(run_at)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// Asks for a pull of `connection` now (see `connections.pull_requested_at`).
pub async fn request_pull(
    conn: &mut sqlx::AnyConnection,
    connection: &str,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query("UPDATE connections SET pull_requested_at = $1 WHERE id = $2")
        .bind(now)
        .bind(connection)
        .execute(&mut *conn)
        .await?;
    wake(conn, PULL_KIND, connection, now).await
}

/// Queues `entries` for `connection` (due now, attempts reset) and wakes its push job.
pub async fn enqueue(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    connection: &str,
    entries: &[String],
) -> Result<(), sqlx::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    for chunk in entries.chunks(ROWS) {
        let values = (0..chunk.len())
            .map(|r| {
                format!(
                    "({}, 'queued', 0)",
                    super::push::placeholders(backend, r * 4, 4)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO connector_work (connection_id, entry_id, due_at, changed_at, state, attempts) \
             VALUES {values} ON CONFLICT (connection_id, entry_id) DO UPDATE SET state = 'queued', \
             attempts = 0, due_at = excluded.due_at, changed_at = excluded.changed_at, last_error = NULL"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for entry in chunk {
            query = query
                .bind(connection.to_owned())
                .bind(entry.clone())
                .bind(now)
                .bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    wake(conn, PUSH_KIND, connection, now).await
}

/// Enqueues the time entries `entries` of a batch pushed by `device` of `account` for each of
/// the account's connections, except a connection's own device (entries it pulled).
pub(super) async fn enqueue_batch(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    account: Uuid,
    device: &str,
    entries: &HashSet<Uuid>,
) -> Result<(), sqlx::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    // Served by the connections_account index (account_id, provider).
    let connections = sqlx::query(
        "SELECT c.id, d.device_id FROM connections c \
         LEFT JOIN connector_devices d ON d.connection_id = c.id \
         WHERE c.account_id = $1 AND c.provider IN ('toggl', 'tempo', 'kimai', 'zammad')",
    )
    .bind(account.to_string())
    .fetch_all(&mut *conn)
    .await?;
    if connections.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = entries.iter().map(Uuid::to_string).collect();
    for row in connections {
        let id: String = row.try_get("id")?;
        let own: Option<String> = row.try_get("device_id")?;
        if own.as_deref() == Some(device) {
            continue;
        }
        enqueue(conn, backend, &id, &ids).await?;
    }
    Ok(())
}
