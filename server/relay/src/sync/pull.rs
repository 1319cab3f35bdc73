//! Pulls and snapshots: pages of a space's log assembled in SQL, long-polling on the hub.

use std::time::Duration;

use serde_json::value::RawValue;
use sqlx::Row as _;
use uuid::Uuid;

use super::feed::Hub;
use super::{LONG_POLL_MAX_S, MAX_PULL_OPS, PullResult, SnapshotResult};
use crate::db::Db;
use crate::error::{ServiceError, ServiceResult};

/// Ops as pulled, as one JSON array assembled in SQL: each stored body (the JSON object the relay
/// accepted, which never is `{}` since an op has required fields) with the relay's `cursor`
/// spliced in as its first key. One row per page instead of one per op (sqlx's SQLite driver
/// hands each row over a channel to the async side) and no parse or re-serialisation of bodies.
/// `string_agg … ORDER BY` is understood by PostgreSQL and by SQLite ≥ 3.44.
const PAGE_AGGREGATE: &str = "count(*) AS n, max(seq) AS last, \
     string_agg('{\"cursor\":' || seq || ',' || substr(body, 2), ',' ORDER BY seq) AS page";

/// Ops of `space` after `cursor`, at most `limit`.
async fn read_page(
    db: &Db,
    space: &str,
    cursor: i64,
    limit: i64,
) -> ServiceResult<(PullResult, Option<i64>)> {
    let sql = format!(
        "SELECT {PAGE_AGGREGATE}, (SELECT head FROM spaces WHERE id = $1) AS head \
         FROM (SELECT seq, body FROM ops WHERE space_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) AS p"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(space)
        .bind(cursor)
        .bind(limit)
        .fetch_one(&db.pool)
        .await?;
    let (count, last, ops) = page_of(&row)?;
    let head: Option<i64> = row.try_get("head")?;
    let cursor = last.unwrap_or(cursor);
    let page = PullResult {
        ops,
        cursor,
        has_more: head.is_some_and(|head| head > cursor),
        count,
    };
    Ok((page, head))
}

/// Reads the aggregate of [`PAGE_AGGREGATE`]: how many ops, the last cursor, the array.
fn page_of(row: &sqlx::any::AnyRow) -> ServiceResult<(usize, Option<i64>, Box<RawValue>)> {
    let count: i64 = row.try_get("n")?;
    let last: Option<i64> = row.try_get("last")?;
    let page: Option<String> = row.try_get("page")?;
    let ops = RawValue::from_string(format!("[{}]", page.unwrap_or_default()))
        .map_err(ServiceError::internal)?;
    Ok((usize::try_from(count).unwrap_or(0), last, ops))
}

/// Reads ops after `cursor`; with `wait` > 0 and nothing new, waits for a push to the space.
pub(super) async fn pull_ops(
    db: &Db,
    hub: &Hub,
    space: Uuid,
    cursor: i64,
    limit: Option<i64>,
    wait: u64,
) -> ServiceResult<PullResult> {
    let limit = limit.unwrap_or(MAX_PULL_OPS).clamp(1, MAX_PULL_OPS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait.min(LONG_POLL_MAX_S));
    let space_id = space.to_string();
    let mut feed = hub.subscribe(space);
    let mut closing = hub.closing.subscribe();
    loop {
        let known = feed.known_head();
        if let Some(page) = hub.recent_page(space, cursor, limit) {
            return Ok(page);
        }
        // Caught up with the newest head this instance knows of: every newer commit is
        // announced to the feed, so there is nothing to read until it changes.
        let caught_up = known == Some(cursor);
        if !caught_up {
            let (page, head) = read_page(db, &space_id, cursor, limit).await?;
            if let Some(head) = head {
                hub.observe(space, &feed, head);
            }
            if page.count > 0 || *closing.borrow_and_update() {
                return Ok(page);
            }
        }
        let nothing = || empty_page(cursor);
        if *closing.borrow_and_update() {
            return nothing();
        }
        tokio::select! {
            changed = feed.head.changed() => if changed.is_err() { return nothing() },
            _ = closing.changed() => return nothing(),
            () = tokio::time::sleep_until(deadline) => return nothing(),
        }
    }
}

/// No ops after `cursor`.
fn empty_page(cursor: i64) -> ServiceResult<PullResult> {
    Ok(PullResult {
        ops: RawValue::from_string("[]".to_owned()).map_err(ServiceError::internal)?,
        cursor,
        has_more: false,
        count: 0,
    })
}

/// The space's head cursor.
pub(super) async fn head(db: &Db, space: Uuid) -> ServiceResult<i64> {
    Ok(sqlx::query("SELECT head FROM spaces WHERE id = $1")
        .bind(space.to_string())
        .fetch_one(&db.pool)
        .await?
        .try_get("head")?)
}

/// Every op of the space up to its head.
pub(super) async fn snapshot(db: &Db, space: Uuid) -> ServiceResult<SnapshotResult> {
    let head = head(db, space).await?;
    let sql = format!(
        "SELECT {PAGE_AGGREGATE} FROM (SELECT seq, body FROM ops WHERE space_id = $1 AND seq <= $2) AS p"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(space.to_string())
        .bind(head)
        .fetch_one(&db.pool)
        .await?;
    let (_, _, ops) = page_of(&row)?;
    Ok(SnapshotResult { cursor: head, ops })
}
