//! The outbox: every domain write leaves an op here in the same transaction,
//! with a gap-free per-device sequence, for the sync client to push.

use serde::Serialize;
use serde_json::{Map, Value};
use tacho_model::id::OpId;
use tacho_model::op::{EntityKind, Op, OpKind, SCHEMA_VERSION};
use uuid::Uuid;

use crate::{Result, Store, Writer};

/// One op waiting in (or sent from) the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// The op itself.
    pub op: Op,
}

impl Writer<'_> {
    /// Appends an op for a change made in this transaction.
    pub(crate) fn record_op(
        &mut self,
        entity: EntityKind,
        entity_id: Uuid,
        kind: OpKind,
    ) -> Result<()> {
        let hlc = self
            .hlc
            .tick(u64::try_from(self.now.timestamp_millis()).unwrap_or(0));
        let op = Op {
            op_id: OpId::new(),
            device: self.device,
            device_seq: self.next_seq,
            hlc,
            entity,
            entity_id,
            kind,
            schema: SCHEMA_VERSION,
        };
        // The shared field schema: an op the relay would refuse is never recorded.
        tacho_model::merge::check_shape(&op)?;
        let body = serde_json::to_string(&op)?;
        self.conn()
            .prepare_cached(
                "INSERT INTO outbox (device_seq, op_id, hlc, entity, entity_id, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(rusqlite::params![
                i64::try_from(op.device_seq).unwrap_or(i64::MAX),
                op.op_id.to_string(),
                i64::try_from(op.hlc.0).unwrap_or(i64::MAX),
                entity.as_str(),
                entity_id.to_string(),
                body
            ])?;
        self.next_seq += 1;
        self.ops_written += 1;
        self.merge_local(&op)
    }

    /// Records an upsert of `fields` (a serialisable struct; `id` is dropped).
    pub(crate) fn record_upsert<T: Serialize>(
        &mut self,
        entity: EntityKind,
        entity_id: Uuid,
        value: &T,
    ) -> Result<()> {
        let fields = match serde_json::to_value(value)? {
            Value::Object(mut map) => {
                map.remove("id");
                map
            }
            other => {
                let mut map = Map::new();
                map.insert("value".into(), other);
                map
            }
        };
        self.record_op(entity, entity_id, OpKind::Upsert { fields })
    }

    /// Records an upsert of one field.
    pub(crate) fn record_field(
        &mut self,
        entity: EntityKind,
        entity_id: Uuid,
        field: &str,
        value: Value,
    ) -> Result<()> {
        let mut fields = Map::new();
        fields.insert(field.to_owned(), value);
        self.record_op(entity, entity_id, OpKind::Upsert { fields })
    }
}

impl Store {
    /// Ops in device order starting after `after_seq`, at most `limit`.
    pub fn outbox(&self, after_seq: u64, limit: usize) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT body FROM outbox WHERE device_seq > ?1 ORDER BY device_seq LIMIT ?2",
        )?;
        let bodies = stmt
            .query_map(
                rusqlite::params![
                    i64::try_from(after_seq).unwrap_or(i64::MAX),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |r| r.get::<_, String>(0),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        bodies
            .into_iter()
            .map(|b| {
                Ok(OutboxEntry {
                    op: serde_json::from_str(&b)?,
                })
            })
            .collect()
    }

    /// Every op this database wrote (the outbox keeps them after the push),
    /// for diagnostics; see [`Store::outbox_len`] for what still waits.
    pub fn outbox_total(&self) -> Result<u64> {
        let n: i64 = self
            .conn()
            .prepare_cached("SELECT count(*) FROM outbox")?
            .query_row([], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Own ops waiting to be pushed: those after the `device_seq` the relay
    /// confirmed (every op before the first sign-in), less ops parked as
    /// invalid, which sync skips. This is the "not yet synced" count a UI
    /// shows, so it must drop to zero after a push, not grow with history.
    ///
    /// Cheap: `device_seq` is the outbox's integer primary key, so the count
    /// walks only the unpushed range, and `parked_op` holds a handful of rows.
    pub fn outbox_len(&self) -> Result<u64> {
        let n: i64 = self
            .conn()
            .prepare_cached(
                "WITH pushed (seq) AS (
                   SELECT coalesce((SELECT pushed_seq FROM sync_state WHERE id = 1), 0))
                 SELECT (SELECT count(*) FROM outbox, pushed WHERE device_seq > pushed.seq)
                      - (SELECT count(*) FROM parked_op, pushed WHERE device_seq > pushed.seq)",
            )?
            .query_row([], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
