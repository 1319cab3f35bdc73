//! The client side of sync in the store: the relay session, cursors, parked
//! ops, and applying ops pulled from the relay through the shared merge code
//! into the typed tables.
//!
//! Every synced entity has an `entity_state` row holding its merged state
//! ([`EntityState`]: field values with their clocks, tombstones). Local writes
//! update it as they record their op; remote ops are merged into it and the
//! typed row is rewritten from the merged fields, so local and remote changes
//! go through the same last-writer-wins rules.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;
use tacho_model::car::{Car, OdometerReading};
use tacho_model::lock::{self, PeriodLock, Verdict};
use tacho_model::merge::EntityState;
use tacho_model::op::{EntityKind, Op, OpKind};
use tacho_model::place::Place;
use tacho_model::trip::{Trip, TripEdit, TripState};
use tacho_model::work::{Project, TimeEntry};
use uuid::Uuid;

use crate::row::{from_ms, ms};
use crate::tables::{
    Put, delete_reading, put_car, put_edit, put_entry, put_period_lock, put_place, put_point,
    put_project, put_reading, set_entry_stop,
};
use crate::{Result, Store, StoreError, TripPoint, Writer};
use tacho_model::work::running_timer_stops;

/// The relay session and sync progress of this database.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncSession {
    /// Base URL of the relay, e.g. `http://127.0.0.1:8787`.
    pub relay_url: String,
    /// Account signed in.
    pub account_id: String,
    /// The account's space.
    pub space_id: String,
    /// Short-lived access token.
    pub access_token: String,
    /// When the access token expires.
    pub access_expires_at: DateTime<Utc>,
    /// Rotating refresh token.
    pub refresh_token: String,
    /// Last relay cursor applied locally.
    pub pull_cursor: u64,
    /// Highest own `device_seq` the relay has confirmed.
    pub pushed_seq: u64,
    /// When the last full sync succeeded.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// The last sync error, for the UI.
    pub last_error: Option<String>,
}

/// An op the relay refused as invalid, kept aside so the queue moves on.
#[derive(Debug, Clone, PartialEq)]
pub struct ParkedOp {
    /// The op.
    pub op: Op,
    /// The relay's error code.
    pub code: String,
    /// The relay's message.
    pub message: String,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
}

fn u(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn load_state(
    conn: &rusqlite::Connection,
    kind: EntityKind,
    id: Uuid,
) -> Result<EntityState> {
    let raw: Option<String> = conn
        .prepare_cached("SELECT state FROM entity_state WHERE entity = ?1 AND entity_id = ?2")?
        .query_row(params![kind.as_str(), id.to_string()], |r| r.get(0))
        .optional()?;
    Ok(match raw {
        Some(raw) => serde_json::from_str(&raw)?,
        None => EntityState::default(),
    })
}

fn save_state(
    conn: &rusqlite::Connection,
    kind: EntityKind,
    id: Uuid,
    state: &EntityState,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO entity_state (entity, entity_id, state) VALUES (?1, ?2, ?3)
         ON CONFLICT (entity, entity_id) DO UPDATE SET state = excluded.state",
    )?
    .execute(params![
        kind.as_str(),
        id.to_string(),
        serde_json::to_string(state)?
    ])?;
    Ok(())
}

fn is_append_only(kind: EntityKind) -> bool {
    tacho_model::merge::is_append_only(kind)
}

/// What applying a page of remote ops changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Ops that changed something.
    pub changed: usize,
    /// Ops already known (own echoes, re-deliveries, older values).
    pub unchanged: usize,
    /// Ops that could not be merged (kept out; logged).
    pub invalid: usize,
}

impl Writer<'_> {
    /// Folds a locally made op into the entity's merged state so later remote
    /// ops are compared against it.
    pub(crate) fn merge_local(&mut self, op: &Op) -> Result<()> {
        if is_append_only(op.entity) {
            return Ok(());
        }
        let mut state = load_state(self.conn(), op.entity, op.entity_id)?;
        // The order rules (a stop before its start) on the merged state, as the relay judges them.
        state.admit(op)?;
        state
            .apply(op)
            .map_err(|e| StoreError::invalid(format!("local op can't be merged: {e}")))?;
        save_state(self.conn(), op.entity, op.entity_id, &state)
    }

    /// Applies ops pulled from the relay and moves the pull cursor to
    /// `cursor`, in this one transaction. `ops` are in the relay's log order,
    /// own echoes included: the period-lock rule is decided in that order.
    pub fn apply_remote(&mut self, ops: &[Op], cursor: u64) -> Result<Applied> {
        let mut applied = Applied::default();
        let mut locks = self.locks_in_log()?;
        // Own ops from before a `forget_everything` are no echoes: their rows are gone here.
        let forgotten: u64 = crate::meta_get(self.conn(), crate::FORGOTTEN_SEQ)?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        for op in ops {
            self.observe_remote_clock(op);
            let own = op.device == self.device() && op.device_seq > forgotten;
            let late = match self.lock_verdict(&locks, op)? {
                Verdict::Open => None,
                Verdict::ArrivedAfterLock { month } => {
                    self.record_late(op, &month)?;
                    Some(month)
                }
                Verdict::Refused { month, .. } => {
                    // The relay refuses these; one in the log means another
                    // replica's rule differed. Every replica that follows the
                    // rule keeps it out alike.
                    tracing::warn!(op_id = %op.op_id, %month, "pulled op changes a locked period; not applied");
                    applied.invalid += 1;
                    continue;
                }
            };
            if own {
                if let (Some(month), OpKind::Append { items }) = (&late, &op.kind) {
                    match op.entity {
                        EntityKind::TripEdit => self.mark_own_edits_late(items, month)?,
                        EntityKind::TimeEntryEdit => {
                            crate::edit::mark_own_entry_edits_late(self.conn(), items, month)?;
                        }
                        _ => {}
                    }
                }
                if op.entity == EntityKind::PeriodLock {
                    self.lock_reached_log(&mut locks, op.entity_id)?;
                }
                applied.unchanged += 1;
                continue;
            }
            let result = match (&op.kind, op.entity) {
                (OpKind::Append { items }, EntityKind::TripEdit) => {
                    self.apply_edits(items, late.as_deref())
                }
                (OpKind::Append { items }, EntityKind::TimeEntryEdit) => {
                    crate::edit::apply_entry_edits(self.conn(), items, late.as_deref())
                }
                _ => self.apply_one(op),
            };
            if op.entity == EntityKind::PeriodLock && result.is_ok() {
                self.lock_reached_log(&mut locks, op.entity_id)?;
            }
            match result {
                Ok(true) => applied.changed += 1,
                Ok(false) => applied.unchanged += 1,
                Err(StoreError::Invalid { message }) => {
                    tracing::warn!(op_id = %op.op_id, %message, "remote op could not be merged");
                    applied.invalid += 1;
                }
                Err(other) => return Err(other),
            }
        }
        if ops
            .iter()
            .any(|op| op.entity == EntityKind::TimeEntry && op.device != self.device())
        {
            self.resolve_running_timers()?;
        }
        self.conn().execute(
            "UPDATE sync_state SET pull_cursor = max(pull_cursor, ?1) WHERE id = 1",
            [u(cursor)],
        )?;
        Ok(applied)
    }

    fn apply_one(&mut self, op: &Op) -> Result<bool> {
        if let OpKind::Append { items } = &op.kind {
            return self.apply_append(op, items);
        }
        let mut state = load_state(self.conn(), op.entity, op.entity_id)?;
        let changed = state
            .apply(op)
            .map_err(|e| StoreError::invalid(e.to_string()))?;
        save_state(self.conn(), op.entity, op.entity_id, &state)?;
        if changed {
            self.project(op.entity, op.entity_id, &state)?;
        }
        Ok(changed)
    }

    fn apply_append(&mut self, op: &Op, items: &[Value]) -> Result<bool> {
        let trip = tacho_model::id::TripId(op.entity_id);
        let mut changed = false;
        match op.entity {
            EntityKind::TripPoints => {
                for item in items {
                    let point = TripPoint::from_wire(item)
                        .ok_or_else(|| StoreError::invalid("malformed trip point in a chunk"))?;
                    changed |= put_point(self.conn(), trip, &point, Put::Merge)?;
                }
            }
            EntityKind::TripEdit => changed = self.apply_edits(items, None)?,
            EntityKind::TimeEntryEdit => {
                changed = crate::edit::apply_entry_edits(self.conn(), items, None)?;
            }
            other => {
                return Err(StoreError::invalid(format!(
                    "append on {} which is not append-only",
                    other.as_str()
                )));
            }
        }
        Ok(changed)
    }

    /// Appends pulled trip edits, marked when they reached the log after the
    /// lock of their month.
    fn apply_edits(&mut self, items: &[Value], late: Option<&str>) -> Result<bool> {
        let mut changed = false;
        for item in items {
            let mut edit: TripEdit = serde_json::from_value(item.clone())
                .map_err(|e| StoreError::invalid(format!("malformed trip edit: {e}")))?;
            edit.arrived_after_lock = late.map(str::to_owned);
            changed |= put_edit(self.conn(), &edit, Put::Merge)?;
        }
        Ok(changed)
    }

    /// Marks this device's own edits that the relay's log shows arrived after
    /// a lock (they were written locally before this device learned of it).
    fn mark_own_edits_late(&mut self, items: &[Value], month: &str) -> Result<()> {
        for item in items {
            let Ok(edit) = serde_json::from_value::<TripEdit>(item.clone()) else {
                continue;
            };
            self.conn().execute(
                "UPDATE trip_edit SET arrived_after_lock = ?1
                 WHERE trip_id = ?2 AND field = ?3 AND at = ?4 AND device = ?5",
                params![
                    month,
                    edit.trip_id.to_string(),
                    edit.field.as_str(),
                    ms(edit.at),
                    edit.device.to_string()
                ],
            )?;
        }
        Ok(())
    }

    /// Locks whose op has been read from the relay's log, by month.
    fn locks_in_log(&self) -> Result<HashMap<String, PeriodLock>> {
        let months: Vec<String> = {
            let mut stmt = self
                .conn()
                .prepare_cached("SELECT month FROM period_lock WHERE in_log = 1")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut locks = HashMap::new();
        for month in months {
            let state = load_state(self.conn(), EntityKind::PeriodLock, lock::lock_id(&month))?;
            if let Some(lock) = PeriodLock::from_state(&state) {
                locks.insert(month, lock);
            }
        }
        Ok(locks)
    }

    /// A lock op was read from the log: from here on it counts against pulled ops.
    fn lock_reached_log(
        &mut self,
        locks: &mut HashMap<String, PeriodLock>,
        id: Uuid,
    ) -> Result<()> {
        let state = load_state(self.conn(), EntityKind::PeriodLock, id)?;
        if let Some(lock) = PeriodLock::from_state(&state) {
            self.conn().execute(
                "UPDATE period_lock SET in_log = 1 WHERE month = ?1",
                [&lock.month],
            )?;
            locks.insert(lock.month.clone(), lock);
        }
        Ok(())
    }

    /// The lock rule for one pulled op, against the locks before it in the log.
    fn lock_verdict(&self, locks: &HashMap<String, PeriodLock>, op: &Op) -> Result<Verdict> {
        if locks.is_empty() {
            return Ok(Verdict::Open);
        }
        let Some((kind, id)) = lock::dated_entity(op) else {
            return Ok(Verdict::Open);
        };
        let dated = load_state(self.conn(), kind, id)?;
        Ok(lock::verdict(op, Some(&dated), |month| {
            locks.get(month).cloned()
        }))
    }

    /// Keeps the mark of an op that changed a locked month after the lock.
    fn record_late(&mut self, op: &Op, month: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO late_op (op_id, entity, entity_id, month, device, stamped_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            params![
                op.op_id.to_string(),
                op.entity.as_str(),
                op.entity_id.to_string(),
                month,
                op.device.to_string(),
                i64::try_from(op.hlc.millis()).unwrap_or(i64::MAX)
            ],
        )?;
        Ok(())
    }

    /// Rewrites the typed row of an entity from its merged state.
    fn project(&mut self, kind: EntityKind, id: Uuid, state: &EntityState) -> Result<()> {
        let mut fields = state.fields.clone();
        fields.insert("id".into(), Value::from(id.to_string()));
        let value = Value::Object(fields);
        let deleted = state.is_deleted();
        // A first op of another device may arrive before the op that created
        // the entity only if the log was tampered with; keep the state and
        // wait for the rest rather than writing half a row.
        macro_rules! decode {
            ($t:ty) => {
                match serde_json::from_value::<$t>(value.clone()) {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!(entity = kind.as_str(), %id, error = %e, "merged fields incomplete; not projected yet");
                        return Ok(());
                    }
                }
            };
        }
        let conn = self.conn();
        match kind {
            EntityKind::Car => {
                let car = decode!(Car);
                put_car(conn, &car, deleted, Put::Merge)?;
            }
            EntityKind::Place => {
                let p = decode!(Place);
                put_place(conn, &p, deleted, Put::Merge)?;
            }
            EntityKind::Trip => {
                let mut trip = decode!(Trip);
                let lineage = decode!(tacho_model::lineage::TripLineage);
                if deleted {
                    trip.state = TripState::Discarded;
                }
                self.write_trip_row(&trip, &lineage, "INSERT OR REPLACE")?;
            }
            EntityKind::OdometerReading => {
                let r = decode!(OdometerReading);
                if deleted {
                    delete_reading(conn, r.id)?;
                } else {
                    put_reading(conn, &r, Put::Merge)?;
                }
            }
            EntityKind::Project => {
                let p = decode!(Project);
                put_project(conn, &p, deleted, Put::Merge)?;
            }
            EntityKind::TimeEntry => {
                let e = decode!(TimeEntry);
                self.project_entry(&e, deleted)?;
            }
            EntityKind::PeriodLock => {
                if let Some(month) = state.fields.get("month").and_then(Value::as_str) {
                    put_period_lock(conn, month, self.now(), self.device())?;
                }
            }
            // Connector state is read from `entity_state` itself (`crate::connector`).
            EntityKind::TripPoints
            | EntityKind::TripEdit
            | EntityKind::TimeEntryEdit
            | EntityKind::ConnectorLink
            | EntityKind::ConnectorConflict => {}
        }
        Ok(())
    }

    /// Writes a time entry from its merged fields (the running-timer rule is
    /// applied after the whole page, see `resolve_running_timers`).
    fn project_entry(&mut self, e: &TimeEntry, deleted: bool) -> Result<()> {
        put_entry(self.conn(), e, deleted, Put::Merge)
    }

    /// The running-timer rule, applied once after a pulled page: when
    /// several entries still run (timers started offline on different
    /// devices), the latest start keeps running and each other one is
    /// stopped where the next one started. The stops are recorded as ops of
    /// this device so they reach every replica and merge like any edit;
    /// checking after the whole page (not per op) means a stop already in
    /// the log is seen first and no redundant op is made.
    fn resolve_running_timers(&mut self) -> Result<()> {
        let running: Vec<(String, i64)> = {
            let mut stmt = self
                .conn()
                .prepare("SELECT id, start FROM time_entry WHERE stop IS NULL AND deleted = 0")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let running = running
            .into_iter()
            .map(|(id, start)| {
                let id: Uuid = id
                    .parse()
                    .map_err(|_| StoreError::Decode(format!("bad entry id {id}")))?;
                Ok((from_ms(start)?, id))
            })
            .collect::<Result<Vec<_>>>()?;
        let starts: HashMap<Uuid, DateTime<Utc>> =
            running.iter().map(|(start, id)| (*id, *start)).collect();
        for (id, stop) in running_timer_stops(&running) {
            set_entry_stop(self.conn(), &id.to_string(), stop)?;
            // In a locked month the relay would refuse the op (and the next pull would
            // start the loop over); every replica derives the same stop, so it stays local.
            let locked = starts
                .get(&id)
                .is_some_and(|start| self.ensure_unlocked(*start, None).is_err());
            if locked {
                continue;
            }
            self.record_field(
                EntityKind::TimeEntry,
                id,
                "stop",
                serde_json::to_value(stop)?,
            )?;
        }
        Ok(())
    }

    /// Stores (or replaces) the relay session after sign-in or a refresh.
    pub fn save_session(&mut self, s: &SyncSession) -> Result<()> {
        self.conn().execute(
            "INSERT INTO sync_state (id, relay_url, account_id, space_id, access_token, access_expires_at, refresh_token, pull_cursor, pushed_seq)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET relay_url = excluded.relay_url, account_id = excluded.account_id,
               space_id = excluded.space_id, access_token = excluded.access_token,
               access_expires_at = excluded.access_expires_at, refresh_token = excluded.refresh_token",
            params![s.relay_url, s.account_id, s.space_id, s.access_token, ms(s.access_expires_at), s.refresh_token,
                u(s.pull_cursor), u(s.pushed_seq)],
        )?;
        Ok(())
    }

    /// Stores a session after sign-in; `reset` also rewinds the cursors
    /// (a different account or relay starts from the beginning).
    pub fn save_session_reset(&mut self, s: &SyncSession, reset: bool) -> Result<()> {
        self.save_session(s)?;
        if reset {
            self.conn().execute(
                "UPDATE sync_state SET pull_cursor = 0, pushed_seq = 0 WHERE id = 1",
                [],
            )?;
        }
        Ok(())
    }

    /// Forgets the relay session (sign-out): tokens, account and sync progress. The next
    /// sign-in starts its cursors from the beginning.
    pub fn clear_session(&mut self) -> Result<()> {
        self.conn()
            .execute("DELETE FROM sync_state WHERE id = 1", [])?;
        Ok(())
    }

    /// Records the highest own op the relay confirmed.
    pub fn set_pushed_seq(&mut self, seq: u64) -> Result<()> {
        self.conn().execute(
            "UPDATE sync_state SET pushed_seq = ?1 WHERE id = 1",
            [u(seq)],
        )?;
        Ok(())
    }

    /// Records the outcome of a sync run for the UI.
    pub fn record_sync_result(&mut self, error: Option<&str>) -> Result<()> {
        let now = self.now();
        match error {
            None => self.conn().execute(
                "UPDATE sync_state SET last_sync_at = ?1, last_error = NULL WHERE id = 1",
                [ms(now)],
            )?,
            Some(e) => self
                .conn()
                .execute("UPDATE sync_state SET last_error = ?1 WHERE id = 1", [e])?,
        };
        Ok(())
    }

    /// Takes back a change of this device that the relay refused because its
    /// month was locked before it was made (the op stays parked and visible).
    /// A trip or time entry returns to `relay_state`, the relay's merged state,
    /// so this device shows what every other device shows (its later changes
    /// to the same entity are refused alike: they are later still, and touch
    /// the same month); the refused history entry or points are removed.
    pub fn take_back(&mut self, op: &Op, relay_state: Option<&EntityState>) -> Result<()> {
        match (&op.kind, op.entity) {
            (OpKind::Append { items }, EntityKind::TripEdit) => {
                for item in items {
                    let Ok(edit) = serde_json::from_value::<TripEdit>(item.clone()) else {
                        continue;
                    };
                    self.conn().execute(
                        "DELETE FROM trip_edit WHERE trip_id = ?1 AND field = ?2 AND at = ?3 AND device = ?4",
                        params![
                            edit.trip_id.to_string(),
                            edit.field.as_str(),
                            ms(edit.at),
                            edit.device.to_string()
                        ],
                    )?;
                }
            }
            (OpKind::Append { items }, EntityKind::TimeEntryEdit) => {
                crate::edit::remove_entry_edits(self.conn(), items)?;
            }
            (OpKind::Append { items }, EntityKind::TripPoints) => {
                for item in items {
                    if let Some(point) = TripPoint::from_wire(item) {
                        self.conn().execute(
                            "DELETE FROM trip_point WHERE trip_id = ?1 AND seq = ?2",
                            params![op.entity_id.to_string(), point.seq],
                        )?;
                    }
                }
            }
            (_, EntityKind::Trip | EntityKind::TimeEntry) => {
                let Some(relay_state) = relay_state else {
                    return Ok(());
                };
                let state = relay_state.clone();
                if state.fields.is_empty() {
                    // The relay never took the entity: it exists on no other device.
                    self.conn().execute(
                        "DELETE FROM entity_state WHERE entity = ?1 AND entity_id = ?2",
                        params![op.entity.as_str(), op.entity_id.to_string()],
                    )?;
                    let id = op.entity_id.to_string();
                    if op.entity == EntityKind::Trip {
                        for table in ["trip_point", "trip_edit"] {
                            self.conn().execute(
                                &format!("DELETE FROM {table} WHERE trip_id = ?1"),
                                [&id],
                            )?;
                        }
                        self.conn()
                            .execute("DELETE FROM trip WHERE id = ?1", [&id])?;
                    } else {
                        self.conn()
                            .execute("DELETE FROM time_entry_edit WHERE entry_id = ?1", [&id])?;
                        self.conn()
                            .execute("DELETE FROM time_entry WHERE id = ?1", [&id])?;
                    }
                } else {
                    save_state(self.conn(), op.entity, op.entity_id, &state)?;
                    self.project(op.entity, op.entity_id, &state)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Parks an op the relay refused as invalid so the queue moves on; it
    /// stays visible (and in the outbox) for the person to see.
    pub fn park_op(&mut self, op: &Op, code: &str, message: &str) -> Result<()> {
        let now = self.now();
        self.conn().execute(
            "INSERT INTO parked_op (op_id, device_seq, body, code, message, parked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT DO NOTHING",
            params![op.op_id.to_string(), u(op.device_seq), serde_json::to_string(op)?, code, message, ms(now)],
        )?;
        Ok(())
    }
}

impl Writer<'_> {
    fn observe_remote_clock(&mut self, op: &Op) {
        self.hlc.observe(op.hlc);
    }
}

impl Store {
    /// The relay session, if this database is signed in.
    pub fn session(&self) -> Result<Option<SyncSession>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT relay_url, account_id, space_id, access_token, access_expires_at, refresh_token,
                        pull_cursor, pushed_seq, last_sync_at, last_error FROM sync_state WHERE id = 1",
                [],
                |r| {
                    Ok(SyncSession {
                        relay_url: r.get(0)?,
                        account_id: r.get(1)?,
                        space_id: r.get(2)?,
                        access_token: r.get(3)?,
                        access_expires_at: from_ms(r.get(4)?)?,
                        refresh_token: r.get(5)?,
                        pull_cursor: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
                        pushed_seq: u64::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                        last_sync_at: r.get::<_, Option<i64>>(8)?.map(from_ms).transpose()?,
                        last_error: r.get(9)?,
                    })
                },
            )
            .optional()?)
    }

    /// Time entries changed by an op that reached the log after the lock of
    /// its month (made before the lock; kept and shown in the timesheet).
    pub fn entries_arrived_after_lock(&self) -> Result<Vec<tacho_model::id::EntryId>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT DISTINCT entity_id FROM late_op WHERE entity = 'time_entry' ORDER BY entity_id",
        )?;
        let ids: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids.iter()
            .map(|id| {
                id.parse()
                    .map_err(|_| StoreError::Decode(format!("bad entry id {id}")))
            })
            .collect()
    }

    /// Ops the relay refused, oldest first.
    pub fn parked_ops(&self) -> Result<Vec<ParkedOp>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT body, code, message, parked_at FROM parked_op ORDER BY device_seq")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(body, code, message, at)| {
                Ok(ParkedOp {
                    op: serde_json::from_str(&body)?,
                    code,
                    message,
                    parked_at: from_ms(at)?,
                })
            })
            .collect()
    }

    /// The merged state of one entity (tests, debugging, convergence checks).
    pub fn entity_state(&self, kind: EntityKind, id: Uuid) -> Result<Option<EntityState>> {
        let raw: Option<String> = self
            .conn()
            .query_row(
                "SELECT state FROM entity_state WHERE entity = ?1 AND entity_id = ?2",
                params![kind.as_str(), id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        raw.map(|r| serde_json::from_str(&r).map_err(StoreError::from))
            .transpose()
    }
}
