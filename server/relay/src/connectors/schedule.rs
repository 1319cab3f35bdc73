//! The connectors' periodic tick (`connector.tick`): wakes the push job of every connection with
//! due work it may send (work deferred by a rate limit, a spent quota or budget, a retry, or an
//! edit that arrived as its drain finished), and prunes the audit log.

use sqlx::Row as _;

use super::Ctx;
use super::push::{PULL_KIND, wake_push};
use crate::db::now_ms;
use crate::jobs::JobError;
use crate::sync::connector_work::wake;

/// Kind of the tick job.
pub const TICK_KIND: &str = "connector.tick";

/// One tick.
pub async fn tick(ctx: &Ctx) -> Result<(), JobError> {
    let now = now_ms();
    let due = sqlx::query(
        "SELECT DISTINCT w.connection_id AS id FROM connector_work w \
         JOIN connections c ON c.id = w.connection_id \
         WHERE w.state = 'queued' AND w.due_at <= $1 AND c.state = 'active' \
         AND (c.quota_until IS NULL OR c.quota_until <= $1)",
    )
    .bind(now)
    .fetch_all(&ctx.db.pool)
    .await?;
    for row in due {
        let id: String = row.try_get("id")?;
        wake_push(ctx, &id).await?;
    }
    // Pulls: every connection with a mapping, once per `pull_every`.
    let every = i64::try_from(ctx.config.pull_every.as_millis()).unwrap_or(i64::MAX);
    let pulls = sqlx::query(
        "SELECT c.id FROM connections c WHERE c.state = 'active' \
         AND (c.quota_until IS NULL OR c.quota_until <= $1) \
         AND (c.last_pull_at IS NULL OR c.last_pull_at <= $2 \
              OR c.pull_requested_at > c.last_pull_at) \
         AND EXISTS (SELECT 1 FROM connector_mappings m WHERE m.connection_id = c.id)",
    )
    .bind(now)
    .bind(now.saturating_sub(every))
    .fetch_all(&ctx.db.pool)
    .await?;
    let mut c = ctx.db.pool.acquire().await?;
    for row in pulls {
        let id: String = row.try_get("id")?;
        wake(&mut c, PULL_KIND, &id, now).await?;
    }
    drop(c);
    let keep_ms = i64::from(ctx.config.audit_days) * 86_400_000;
    sqlx::query("DELETE FROM connector_audit WHERE at < $1")
        .bind(now - keep_ms)
        .execute(&ctx.db.pool)
        .await?;
    Ok(())
}
