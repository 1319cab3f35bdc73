//! The raw GPS retention purge, run hourly as the `gps_retention` job when the relay is started
//! with `--gps-retention-days N`.
//!
//! The `trip_points` ops of trips that ended more than N days ago are deleted from the log; the
//! trips keep their summary (distance, ends, times) in their `trip` upserts and the materialised
//! state. Devices that already pulled the points keep their copy (the relay cannot reach into
//! them); a device that starts from a snapshot or cursor 0 later gets the trips without points.
//! Cursors stay valid: a pull simply skips the gaps.

use serde_json::{Value, json};
use sqlx::Row as _;

use super::{Handler, Job, JobError};
use crate::db::{Db, now_ms};

/// The job's kind (and the prefix of its hourly dedupe keys).
pub const KIND: &str = "gps_retention";

/// Why a purge stopped. Ops deleted before the failure stay deleted; the next run goes on.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The database failed.
    #[error("GPS retention: {0}")]
    Storage(#[from] sqlx::Error),
}

impl From<RetentionError> for JobError {
    fn from(err: RetentionError) -> Self {
        match err {
            RetentionError::Storage(e) => e.into(),
        }
    }
}

/// The job's payload: the retention period in days.
pub fn payload(days: u32) -> Value {
    json!({ "days": days })
}

/// The job's handler: purges with the payload's period at the time it runs.
pub fn handler(db: Db) -> impl Handler {
    move |job: Job| {
        let db = db.clone();
        async move {
            let days = job
                .payload
                .get("days")
                .and_then(Value::as_u64)
                .and_then(|d| u32::try_from(d).ok())
                .ok_or_else(|| JobError::Permanent("payload has no \"days\"".to_owned()))?;
            purge_old_points(&db, days, now_ms()).await?;
            Ok(())
        }
    }
}

/// Deletes the `trip_points` ops of trips that ended before `now_ms - days`; returns how many
/// ops went. Trips keep their summary. Idempotent; safe to run on several instances.
///
/// The op log has no index by entity (it would tax every insert), so candidates come from
/// `point_writers` (one row per trip with points, marked once emptied) and each space's chunks
/// are deleted in one pass over that space's log.
pub async fn purge_old_points(db: &Db, days: u32, now_ms: i64) -> Result<u64, RetentionError> {
    let cutoff = now_ms.saturating_sub(i64::from(days).saturating_mul(24 * 3600 * 1000));
    // Trips whose points are still in the log, with their merged header.
    let rows = sqlx::query(
        "SELECT p.space_id, p.trip_id, e.state FROM point_writers p \
         JOIN entity_state e ON e.space_id = p.space_id AND e.entity = 'trip' \
         AND e.entity_id = p.trip_id \
         WHERE p.points_purged_at IS NULL",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut expired: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in rows {
        let raw: String = r.try_get("state")?;
        let Ok(st) = serde_json::from_str::<tacho_model::merge::EntityState>(&raw) else {
            continue;
        };
        let ended = st
            .fields
            .get("ended_at")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis());
        if ended.is_some_and(|t| t < cutoff) {
            expired
                .entry(r.try_get::<String, _>("space_id")?)
                .or_default()
                .push(r.try_get::<String, _>("trip_id")?);
        }
    }
    let (mut gone, mut trips) = (0, 0);
    for (space, space_trips) in &expired {
        // Bounded statements (and write transactions) however many trips a space has.
        for chunk in space_trips.chunks(200) {
            let list = (1..=chunk.len())
                .map(|i| format!("${}", i + 1))
                .collect::<Vec<_>>()
                .join(", ");
            let mut tx = db.begin_write().await?;
            let sql = format!(
                "DELETE FROM ops WHERE space_id = $1 AND entity = 'trip_points' AND entity_id IN ({list})"
            );
            // Audited: only numbered placeholders are spliced in; every value is bound.
            let mut delete = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(space);
            for trip in chunk {
                delete = delete.bind(trip);
            }
            gone += delete.execute(&mut *tx).await?.rows_affected();
            let sql = format!(
                "UPDATE point_writers SET points_purged_at = ${} WHERE space_id = $1 AND trip_id IN ({list})",
                chunk.len() + 2
            );
            let mut mark = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(space);
            for trip in chunk {
                mark = mark.bind(trip);
            }
            mark.bind(now_ms).execute(&mut *tx).await?;
            tx.commit().await?;
            trips += chunk.len();
        }
    }
    if gone > 0 {
        tracing::info!(ops = gone, trips, "raw GPS points past retention deleted");
    }
    Ok(gone)
}
