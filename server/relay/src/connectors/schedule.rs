//! The connectors' periodic tick (`connector.tick`): wakes the push job of every connection with
//! due work it may send (work deferred by a rate limit, a spent quota or budget, a retry, or an
//! edit that arrived as its drain finished), and prunes the audit log.

use sqlx::Row as _;

use super::Ctx;
use super::push::wake_push;
use crate::db::now_ms;
use crate::jobs::JobError;

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
    let keep_ms = i64::from(ctx.config.audit_days) * 86_400_000;
    sqlx::query("DELETE FROM connector_audit WHERE at < $1")
        .bind(now - keep_ms)
        .execute(&ctx.db.pool)
        .await?;
    Ok(())
}
