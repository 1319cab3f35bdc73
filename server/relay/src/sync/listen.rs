//! PostgreSQL only: pushes made by other instances on the same database wake this instance's
//! long-polls (`LISTEN` on [`PG_CHANNEL`]; the push side is `Db::notify_push`).

use std::time::Duration;

use uuid::Uuid;

use super::feed::Hub;
use crate::db::PG_CHANNEL;

/// Subscribes to pushes announced by other instances on the same PostgreSQL database and feeds
/// them to `hub`. Returns once `LISTEN` is in effect, so pushes after it are never missed.
pub async fn spawn_pg_listener(
    url: &str,
    hub: Hub,
) -> Result<tokio::task::AbortHandle, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(PG_CHANNEL).await?;
    let task = tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    let parsed = n.payload().split_once(':').and_then(|(space, head)| {
                        Some((Uuid::parse_str(space).ok()?, head.parse::<i64>().ok()?))
                    });
                    if let Some((space, head)) = parsed {
                        hub.wake(space, head);
                    }
                }
                // The connection dropped and was re-established; anything sent meanwhile is lost.
                Ok(None) => hub.wake_all(),
                Err(err) => {
                    tracing::warn!(%err, "push listener failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(task.abort_handle())
}
