//! The period-lock rule at the relay: a pushed op that changes a locked month
//! and was made after the lock (without knowing it) is refused with 422
//! `period_locked`. The rule itself is `tacho_model::lock`, which every
//! client applies alike to what it pulls; the relay's log order is the order
//! it is decided in, so the locks that count are those already in the space's
//! merged state, plus those earlier in the same batch.

use std::collections::{HashMap, HashSet};

use sqlx::Row as _;
use tacho_model::lock::{self, PeriodLock, Verdict};
use tacho_model::merge::EntityState;
use tacho_model::op::{EntityKind, Op};
use tacho_model::wire::IncomingOp;
use uuid::Uuid;

use crate::db::{Backend, WriteTx};
use crate::error::{ServiceError, ServiceResult};

/// The locks and dated entities one push batch is checked against.
#[derive(Default)]
pub(crate) struct BatchLocks {
    /// Lock entities by id, as merged so far (stored state plus this batch).
    locks: HashMap<Uuid, EntityState>,
    /// Trips and time entries the batch touches, as merged so far.
    dated: HashMap<(EntityKind, Uuid), EntityState>,
    /// Trips and time entries the relay never took because their creation
    /// changed a locked month: later ops on them can't be placed by a date.
    refused: HashSet<Uuid>,
}

/// Why the lock rule refuses an op, for the 422 message.
pub(crate) struct LockRefusal(pub String);

impl BatchLocks {
    /// Reads the space's locks and, when there is any (or the batch brings
    /// one), the merged state of every trip and time entry the batch touches.
    /// A space without locks costs one indexed read.
    pub(crate) async fn load(
        tx: &mut WriteTx,
        backend: Backend,
        space: &str,
        ops: &[IncomingOp],
    ) -> ServiceResult<Self> {
        let mut batch = Self::default();
        let rows = sqlx::query(
            "SELECT entity_id, state FROM entity_state WHERE space_id = $1 AND entity = 'period_lock'",
        )
        .bind(space)
        .fetch_all(&mut **tx)
        .await?;
        for row in rows {
            let id: String = row.try_get("entity_id")?;
            let raw: String = row.try_get("state")?;
            let id = id.parse::<Uuid>().map_err(ServiceError::internal)?;
            batch.locks.insert(
                id,
                serde_json::from_str(&raw).map_err(ServiceError::internal)?,
            );
        }
        let brings_lock = ops.iter().any(|o| o.op.entity == EntityKind::PeriodLock);
        if batch.locks.is_empty() && !brings_lock {
            return Ok(batch);
        }
        let mut wanted: Vec<(EntityKind, Uuid)> = ops
            .iter()
            .filter_map(|o| lock::dated_entity(&o.op))
            .collect();
        wanted.sort();
        wanted.dedup();
        for chunk in wanted.chunks(200) {
            // Positional `?` on SQLite, numbered `$n` on PostgreSQL (as log.rs does).
            let (first, list) = match backend {
                Backend::Sqlite => ("?".to_owned(), vec!["?"; chunk.len()].join(", ")),
                Backend::Postgres => (
                    "$1".to_owned(),
                    (2..chunk.len() + 2)
                        .map(|i| format!("${i}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            };
            let sql = format!(
                "SELECT entity, entity_id, state FROM entity_state \
                 WHERE space_id = {first} AND entity IN ('trip', 'time_entry') AND entity_id IN ({list})"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(space);
            for (_, id) in chunk {
                query = query.bind(id.to_string());
            }
            for row in query.fetch_all(&mut **tx).await? {
                let entity: String = row.try_get("entity")?;
                let kind = match entity.as_str() {
                    "trip" => EntityKind::Trip,
                    _ => EntityKind::TimeEntry,
                };
                let id: String = row.try_get("entity_id")?;
                let raw: String = row.try_get("state")?;
                batch.dated.insert(
                    (kind, id.parse().map_err(ServiceError::internal)?),
                    serde_json::from_str(&raw).map_err(ServiceError::internal)?,
                );
            }
        }
        // Of the touched entities the relay has no state for: those refused before for a lock.
        let unknown: Vec<String> = wanted
            .iter()
            .filter(|key| !batch.dated.contains_key(key))
            .map(|(_, id)| id.to_string())
            .collect();
        for chunk in unknown.chunks(200) {
            let (first, list) = match backend {
                Backend::Sqlite => ("?".to_owned(), vec!["?"; chunk.len()].join(", ")),
                Backend::Postgres => (
                    "$1".to_owned(),
                    (2..chunk.len() + 2)
                        .map(|i| format!("${i}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            };
            let sql = format!(
                "SELECT DISTINCT entity_id FROM rejected_ops WHERE space_id = {first} \
                 AND code = 'period_locked' AND entity_id IN ({list})"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(space);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&mut **tx).await? {
                let id: String = row.try_get("entity_id")?;
                batch
                    .refused
                    .insert(id.parse().map_err(ServiceError::internal)?);
            }
        }
        Ok(batch)
    }

    /// The lock rule for the next op of the batch: `Some` when it is refused.
    pub(crate) fn refusal(&self, op: &Op) -> Option<LockRefusal> {
        let key = lock::dated_entity(op)?;
        if !self.dated.contains_key(&key) && self.refused.contains(&key.1) {
            return Some(LockRefusal(format!(
                "this change belongs to a {} whose creation was refused because its period is \
                 locked; it is not applied",
                key.0.as_str()
            )));
        }
        match self.verdict(op) {
            Verdict::Refused { month, .. } => Some(LockRefusal(format!(
                "the period {month} is locked and this change to it was made after the lock; \
                 it is not applied"
            ))),
            Verdict::Open | Verdict::ArrivedAfterLock { .. } => None,
        }
    }

    fn verdict(&self, op: &Op) -> Verdict {
        if self.locks.is_empty() {
            return Verdict::Open;
        }
        let dated = lock::dated_entity(op).and_then(|key| self.dated.get(&key));
        lock::verdict(op, dated, |month| {
            self.locks
                .get(&lock::lock_id(month))
                .and_then(PeriodLock::from_state)
        })
    }

    /// For a refused trip or time-entry op: that entity's merged state (empty
    /// if the relay has none), which the device takes its change back to.
    pub(crate) fn state_for_refused(&self, op: &Op) -> Option<serde_json::Value> {
        if !matches!(op.entity, EntityKind::Trip | EntityKind::TimeEntry) {
            return None;
        }
        let state = self
            .dated
            .get(&(op.entity, op.entity_id))
            .cloned()
            .unwrap_or_default();
        serde_json::to_value(state).ok()
    }

    /// Folds an accepted op in, so later ops of the batch see it.
    pub(crate) fn accepted(&mut self, op: &Op) {
        let state = match op.entity {
            EntityKind::PeriodLock => self.locks.entry(op.entity_id).or_default(),
            EntityKind::Trip | EntityKind::TimeEntry => {
                self.dated.entry((op.entity, op.entity_id)).or_default()
            }
            _ => return,
        };
        // An op that does not merge is refused later by `materialise`.
        let _ = state.apply(op);
    }
}
