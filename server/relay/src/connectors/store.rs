//! The connectors' rows: links (the exactly-once bookkeeping), work, audit, conflicts.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;
use tacho_integrations::timesheets::{Entry, RemoteEntry, Target};
use uuid::Uuid;

use crate::db::{Db, now_ms};

/// A write being sent, persisted before the request leaves and cleared with its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Intent {
    /// Creating `entry`.
    Create {
        /// What is written.
        entry: Entry,
    },
    /// Making `remote_id` (at `before`) equal `entry`.
    Update {
        /// The record.
        remote_id: String,
        /// Where it sat.
        before: Target,
        /// What is written.
        entry: Entry,
    },
    /// Deleting `remote_id` at `target`.
    Delete {
        /// The record.
        remote_id: String,
        /// Where it sits.
        target: Target,
    },
}

/// A `connector_links` row.
#[derive(Debug, Clone, Default)]
pub struct Link {
    /// The remote record, once written.
    pub remote_id: Option<String>,
    /// Where it sits.
    pub remote_target: Option<Target>,
    /// Hash of the [`Entry`] last written (or pulled).
    pub pushed_hash: Option<String>,
    /// Hash of the remote record as last answered or pulled ([`remote_hash`]).
    pub remote_hash: Option<String>,
    /// `local` or `remote`.
    pub origin: String,
    /// pending | synced | conflict | error.
    pub state: String,
    /// The write in flight, if a worker stopped before recording its outcome.
    pub intent: Option<Intent>,
    /// When the intent was persisted (Unix ms).
    pub intent_at: Option<i64>,
}

/// Hash of a remote record as the service holds it (its last-modified time left out), so a
/// pulled record equal to what the service answered to Tacho's write is recognised as its echo.
pub fn remote_hash(remote: &RemoteEntry) -> String {
    // What a person can change; not the id, the service's clock, or a running entry's growing
    // duration (stop and start say it).
    let text = serde_json::to_string(&(
        &remote.start,
        &remote.stop,
        &remote.description,
        &remote.tags,
        remote.billable,
        &remote.target,
        remote.stop.map(|_| remote.seconds),
    ))
    .unwrap_or_default();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hash of what is written remotely: equal hashes mean nothing to send.
pub fn entry_hash(entry: &Entry) -> String {
    let text = serde_json::to_string(entry).unwrap_or_default();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn json<T: Serialize>(value: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

fn parse<T: for<'de> Deserialize<'de>>(text: Option<String>) -> Result<Option<T>, sqlx::Error> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .transpose()
}

/// The link of `entry` on `connection`, if any.
pub async fn link(
    conn: &mut sqlx::AnyConnection,
    connection: &str,
    entry: &str,
) -> Result<Option<Link>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT remote_id, remote_target, pushed_hash, remote_hash, origin, state, intent, intent_at \
         FROM connector_links WHERE connection_id = $1 AND entry_id = $2",
    )
    .bind(connection)
    .bind(entry)
    .fetch_optional(conn)
    .await?;
    row.map(|r| -> Result<Link, sqlx::Error> {
        Ok(Link {
            remote_id: r.try_get("remote_id")?,
            remote_target: parse(r.try_get("remote_target")?)?,
            pushed_hash: r.try_get("pushed_hash")?,
            remote_hash: r.try_get("remote_hash")?,
            origin: r.try_get("origin")?,
            state: r.try_get("state")?,
            intent: parse(r.try_get("intent")?)?,
            intent_at: r.try_get("intent_at")?,
        })
    })
    .transpose()
}

/// Stores `link` for `entry` on `connection` (insert or replace).
pub async fn put_link(
    conn: &mut sqlx::AnyConnection,
    connection: &str,
    entry: &str,
    link: &Link,
    message: Option<&str>,
) -> Result<(), sqlx::Error> {
    let synced_at = (link.state == "synced").then(now_ms);
    sqlx::query(
        "INSERT INTO connector_links (connection_id, entry_id, remote_id, remote_target, \
         pushed_hash, origin, state, intent, intent_at, synced_at, message, remote_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (connection_id, entry_id) DO UPDATE SET remote_id = excluded.remote_id, \
         remote_target = excluded.remote_target, pushed_hash = excluded.pushed_hash, \
         origin = excluded.origin, state = excluded.state, intent = excluded.intent, \
         intent_at = excluded.intent_at, \
         synced_at = COALESCE(excluded.synced_at, connector_links.synced_at), \
         message = excluded.message, remote_hash = excluded.remote_hash",
    )
    .bind(connection)
    .bind(entry)
    .bind(link.remote_id.clone())
    .bind(link.remote_target.as_ref().map(json).transpose()?)
    .bind(link.pushed_hash.clone())
    .bind(if link.origin.is_empty() {
        "local".to_owned()
    } else {
        link.origin.clone()
    })
    .bind(link.state.clone())
    .bind(link.intent.as_ref().map(json).transpose()?)
    .bind(link.intent_at)
    .bind(synced_at)
    .bind(message.map(str::to_owned))
    .bind(link.remote_hash.clone())
    .execute(conn)
    .await?;
    Ok(())
}

/// The entry linked to `remote_id` on `connection`, with its link.
pub async fn link_by_remote(
    db: &Db,
    connection: &str,
    remote_id: &str,
) -> Result<Option<(String, Link)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT entry_id FROM connector_links WHERE connection_id = $1 AND remote_id = $2",
    )
    .bind(connection)
    .bind(remote_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let entry: String = row.try_get("entry_id")?;
    let mut c = db.pool.acquire().await?;
    Ok(link(&mut c, connection, &entry).await?.map(|l| (entry, l)))
}

/// Remote ids linked to entries of `connection` other than `entry`: never a match for it.
pub async fn other_remote_ids(
    db: &Db,
    connection: &str,
    entry: &str,
) -> Result<HashSet<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT remote_id FROM connector_links WHERE connection_id = $1 AND entry_id <> $2 \
         AND remote_id IS NOT NULL",
    )
    .bind(connection)
    .bind(entry)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|r| r.try_get("remote_id")).collect()
}

/// A due work row.
#[derive(Debug, Clone)]
pub struct Work {
    /// The entry.
    pub entry: String,
    /// Failed attempts so far.
    pub attempts: i64,
    /// When it was last enqueued (an edit arriving mid-call moves it, keeping the row).
    pub changed_at: i64,
}

/// The next due work of `connection`.
pub async fn next_work(db: &Db, connection: &str, now: i64) -> Result<Option<Work>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT entry_id, attempts, changed_at FROM connector_work WHERE connection_id = $1 \
         AND state = 'queued' AND due_at <= $2 ORDER BY due_at, entry_id LIMIT 1",
    )
    .bind(connection)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| -> Result<Work, sqlx::Error> {
        Ok(Work {
            entry: r.try_get("entry_id")?,
            attempts: r.try_get("attempts")?,
            changed_at: r.try_get("changed_at")?,
        })
    })
    .transpose()
}

/// Marks `work` done: its row goes unless the entry changed again since it was picked.
pub async fn work_done(
    conn: &mut sqlx::AnyConnection,
    connection: &str,
    work: &Work,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM connector_work WHERE connection_id = $1 AND entry_id = $2 AND changed_at = $3",
    )
    .bind(connection)
    .bind(&work.entry)
    .bind(work.changed_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts a failed attempt of `work`: due again at `due_at`, or `error` when `give_up`.
pub async fn work_failed(
    conn: &mut sqlx::AnyConnection,
    connection: &str,
    work: &Work,
    due_at: i64,
    give_up: bool,
    message: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE connector_work SET attempts = attempts + 1, due_at = $1, state = $2, \
         last_error = $3 WHERE connection_id = $4 AND entry_id = $5 AND changed_at = $6",
    )
    .bind(due_at)
    .bind(if give_up { "error" } else { "queued" })
    .bind(message)
    .bind(connection)
    .bind(&work.entry)
    .bind(work.changed_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Holds all of `connection`'s queued work until `until` (rate limit, request budget).
pub async fn defer_all(db: &Db, connection: &str, until: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE connector_work SET due_at = $1 WHERE connection_id = $2 AND state = 'queued' \
         AND due_at < $1",
    )
    .bind(until)
    .bind(connection)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// One audit row: an outbound call (`request`) or a pull result.
#[derive(Debug, Clone)]
pub struct Audit<'a> {
    /// verify, create, update, delete, find, get, changes, lookup, pull.
    pub operation: &'a str,
    /// The Tacho entry concerned.
    pub entry: Option<&'a str>,
    /// The remote record concerned.
    pub remote_id: Option<&'a str>,
    /// `ok` or the failure's class.
    pub status: &'a str,
    /// How long the call took.
    pub latency_ms: i64,
    /// Whether a request was sent (counts against the hourly budget).
    pub request: bool,
    /// The service's words, never a credential.
    pub message: Option<&'a str>,
}

/// Writes an audit row.
pub async fn audit(
    conn: &mut sqlx::AnyConnection,
    connection: &str,
    a: &Audit<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO connector_audit (id, connection_id, at, operation, entry_id, remote_id, \
         status, latency_ms, request, message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(connection)
    .bind(now_ms())
    .bind(a.operation)
    .bind(a.entry.map(str::to_owned))
    .bind(a.remote_id.map(str::to_owned))
    .bind(a.status)
    .bind(a.latency_ms)
    .bind(i64::from(a.request))
    .bind(a.message.map(|m| m.chars().take(500).collect::<String>()))
    .execute(conn)
    .await?;
    Ok(())
}

/// Requests sent by `connection` in the hour before `now`, and the oldest of them.
pub async fn requests_in_hour(
    db: &Db,
    connection: &str,
    now: i64,
) -> Result<(i64, Option<i64>), sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(at) AS oldest FROM connector_audit \
         WHERE connection_id = $1 AND at > $2 AND request = 1",
    )
    .bind(connection)
    .bind(now - 3_600_000)
    .fetch_one(&db.pool)
    .await?;
    Ok((row.try_get("n")?, row.try_get("oldest")?))
}

/// A new conflict; answers its id.
#[derive(Debug, Clone)]
pub struct NewConflict<'a> {
    /// The connection.
    pub connection: &'a str,
    /// Its owner.
    pub account: &'a str,
    /// The Tacho entry, if any.
    pub entry: Option<&'a str>,
    /// The remote record, if any.
    pub remote_id: Option<&'a str>,
    /// refused | both_changed | gone | auth.
    pub kind: &'a str,
    /// Local values (JSON).
    pub local: Option<serde_json::Value>,
    /// Remote values (JSON).
    pub remote: Option<serde_json::Value>,
    /// The service's message or the reason.
    pub message: &'a str,
}

/// Opens a conflict unless one of the same kind is open for the same entry (or, for `auth`,
/// the connection); answers the open conflict's id.
pub async fn raise_conflict(
    conn: &mut sqlx::AnyConnection,
    c: &NewConflict<'_>,
) -> Result<String, sqlx::Error> {
    let open = sqlx::query(
        "SELECT id FROM connector_conflicts WHERE connection_id = $1 AND kind = $2 \
         AND state = 'open' AND COALESCE(entry_id, '') = $3",
    )
    .bind(c.connection)
    .bind(c.kind)
    .bind(c.entry.unwrap_or(""))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = open {
        let id: String = row.try_get("id")?;
        sqlx::query(
            "UPDATE connector_conflicts SET message = $1, local_values = $2, remote_values = $3 \
             WHERE id = $4",
        )
        .bind(c.message)
        .bind(c.local.as_ref().map(ToString::to_string))
        .bind(c.remote.as_ref().map(ToString::to_string))
        .bind(&id)
        .execute(&mut *conn)
        .await?;
        return Ok(id);
    }
    let id = Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO connector_conflicts (id, connection_id, account_id, entry_id, remote_id, \
         kind, local_values, remote_values, message, raised_at, state) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open')",
    )
    .bind(&id)
    .bind(c.connection)
    .bind(c.account)
    .bind(c.entry.map(str::to_owned))
    .bind(c.remote_id.map(str::to_owned))
    .bind(c.kind)
    .bind(c.local.as_ref().map(ToString::to_string))
    .bind(c.remote.as_ref().map(ToString::to_string))
    .bind(c.message)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}
