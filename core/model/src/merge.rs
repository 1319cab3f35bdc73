//! The merge rules every replica (clients and the relay) applies to ops, so
//! that any two replicas that have seen the same set of ops hold the same
//! state, whatever order the ops arrived in and however often.
//!
//! - Upserts are field-level last-writer-wins by [`Stamp`] (clock, then device).
//! - Delete and restore are stamped too; the greater of the two wins.
//! - Appends (GPS point chunks, edit history) are deduplicated by op id and
//!   kept in **stamp order** (`hlc`, then device, then `device_seq`, then
//!   op id), so a collection reads the same on every replica and an edit
//!   history written by several devices reads chronologically.
//! - "At most one running timer per space" is `work::running_timer_stops`, a
//!   pure rule over the merged entries: [`SpaceState::effective_timer_stops`]
//!   reads it, and a client store that pulls a second running timer writes
//!   the resulting stops as ordinary ops (every replica derives the same
//!   values, so those ops agree and converge).
//!
//! Everything here is pure: callers pass `now` in where it matters.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::hlc::Stamp;
use crate::id::{DeviceId, OpId};
use crate::op::{EntityKind, Op, OpKind};
use crate::schema;
use crate::wire::{PointShapeError, check_point};

/// How far ahead of the receiver's clock an op may be dated. Beyond this a
/// skewed device would win every LWW race for as long as its clock runs fast.
pub const MAX_CLOCK_AHEAD_MS: u64 = 10 * 60 * 1000;

pub use crate::wire::TRIP_POINT_ARITY;

/// Why an op is refused: the relay answers 422 `invalid_op` (naming the field, see
/// [`InvalidOp::field`]), clients park it. Refusal is decided from the op alone (plus `now`,
/// plus the trip_points writer), so every replica refuses the same ops; the one exception is
/// [`InvalidOp::OutOfOrder`], decided on merged state where an op enters the log (see
/// [`EntityState::admit`] and `crate::schema`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidOp {
    /// A fast clock would otherwise win every LWW race until real time catches up.
    #[error(
        "op is dated {op_ms} ms since the epoch, more than 10 minutes ahead of now ({now_ms} ms)"
    )]
    FromTheFuture {
        /// The op's HLC wall-clock part.
        op_ms: u64,
        /// The receiver's clock.
        now_ms: u64,
    },
    /// A clock before 2000 is a device whose clock was reset; its op would lose every race.
    #[error(
        "op `hlc` is dated {op_ms} ms since the epoch, before 2000-01-01: the device's clock is wrong"
    )]
    TooOld {
        /// The op's HLC wall-clock part.
        op_ms: u64,
    },
    /// Sequences start at 1, so 0 means a broken writer.
    #[error("device_seq 0 is invalid: per-device sequences start at 1")]
    ZeroDeviceSeq,
    /// An upsert that sets nothing is a writer bug, not a change.
    #[error("upsert of a {} has no fields", .entity.as_str())]
    EmptyUpsert {
        /// The entity kind of the op.
        entity: EntityKind,
    },
    /// The id is the op's `entity_id`; a field could contradict it.
    #[error("upsert of a {} sets a field named `id`; the id is the op's entity_id", .entity.as_str())]
    IdField {
        /// The entity kind of the op.
        entity: EntityKind,
    },
    /// An empty chunk would still claim a trip's points for its device.
    #[error("append to {} has no items", .entity.as_str())]
    EmptyAppend {
        /// The entity kind of the op.
        entity: EntityKind,
    },
    /// A coordinate outside the globe would break distances and maps.
    #[error("{} field `{field}` has lat {lat}, lon {lon}: out of range", .entity.as_str())]
    CoordinateOutOfRange {
        /// The entity kind of the op.
        entity: EntityKind,
        /// Which field (for points: `items[i]`).
        field: String,
        /// The latitude found.
        lat: f64,
        /// The longitude found.
        lon: f64,
    },
    /// A value that readers could not decode.
    #[error("{} field `{field}` is malformed: {reason}", .entity.as_str())]
    BadShape {
        /// The entity kind of the op.
        entity: EntityKind,
        /// Which field (for points: `items[i]`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value of the right type outside its range (`crate::schema`): a negative distance, a
    /// time in 1970, month 13, an unknown enum name, a control character, a text too long.
    #[error("{} field `{field}` is out of range: {reason}", .entity.as_str())]
    OutOfRange {
        /// The entity kind of the op.
        entity: EntityKind,
        /// Which field (`items[i].name` in an append, `tags[i]` in a list).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two fields of the merged entity out of order (`crate::schema::orders_of`): a time
    /// entry that stops before it starts.
    #[error("{} field `{field}`: `{later}` would be before `{earlier}`", .entity.as_str())]
    OutOfOrder {
        /// The entity kind of the op.
        entity: EntityKind,
        /// The field the op changed.
        field: String,
        /// The field that comes first.
        earlier: &'static str,
        /// The field that must not be before it.
        later: &'static str,
    },
    /// Only append-only kinds keep a collection; elsewhere items would be lost.
    #[error("append is only for trip_points, trip_edit and time_entry_edit, not {}", .entity.as_str())]
    AppendToMutable {
        /// The entity kind of the op.
        entity: EntityKind,
    },
    /// Append-only kinds never change or vanish once written.
    #[error("{op} is not allowed on append-only {}", .entity.as_str())]
    MutateAppendOnly {
        /// The entity kind of the op.
        entity: EntityKind,
        /// `upsert`, `delete` or `restore`.
        op: &'static str,
    },
    /// Only the recording device has a trip's points; another writer is a bug.
    #[error("trip points are written by device {writer}; refused a chunk from device {device}")]
    ForeignTripPoints {
        /// The device that wrote the first chunk.
        writer: DeviceId,
        /// The device of the refused chunk.
        device: DeviceId,
    },
}

impl InvalidOp {
    /// The field the refusal is about, for answers and messages that name it (`None` when
    /// the op as a whole is refused).
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::CoordinateOutOfRange { field, .. }
            | Self::BadShape { field, .. }
            | Self::OutOfRange { field, .. }
            | Self::OutOfOrder { field, .. } => Some(field),
            Self::IdField { .. } => Some("id"),
            Self::FromTheFuture { .. } | Self::TooOld { .. } => Some("hlc"),
            Self::ZeroDeviceSeq => Some("device_seq"),
            Self::EmptyUpsert { .. } => Some("fields"),
            Self::EmptyAppend { .. } => Some("items"),
            Self::AppendToMutable { .. }
            | Self::MutateAppendOnly { .. }
            | Self::ForeignTripPoints { .. } => None,
        }
    }
}

/// Whether a kind holds an append-only collection instead of fields.
pub fn is_append_only(kind: EntityKind) -> bool {
    matches!(
        kind,
        EntityKind::TripPoints | EntityKind::TripEdit | EntityKind::TimeEntryEdit
    )
}

/// Full check an op must pass before it is stored or forwarded: the shape
/// rules of [`check_shape`] plus the clock-ahead rule, which needs `now_ms`.
pub fn validate(op: &Op, now_ms: u64) -> Result<(), InvalidOp> {
    let op_ms = op.hlc.millis();
    if op_ms > now_ms.saturating_add(MAX_CLOCK_AHEAD_MS) {
        return Err(InvalidOp::FromTheFuture { op_ms, now_ms });
    }
    check_shape(op)
}

/// The `now`-independent part of [`validate`], which merging also enforces so
/// a replica never folds in an op the relay would refuse.
pub fn check_shape(op: &Op) -> Result<(), InvalidOp> {
    let entity = op.entity;
    if op.device_seq == 0 {
        return Err(InvalidOp::ZeroDeviceSeq);
    }
    let op_ms = op.hlc.millis();
    if i64::try_from(op_ms).is_ok_and(|ms| ms < schema::EARLIEST_MS) {
        return Err(InvalidOp::TooOld { op_ms });
    }
    match (&op.kind, is_append_only(entity)) {
        (OpKind::Upsert { .. }, true) => Err(InvalidOp::MutateAppendOnly {
            entity,
            op: "upsert",
        }),
        (OpKind::Delete, true) => Err(InvalidOp::MutateAppendOnly {
            entity,
            op: "delete",
        }),
        (OpKind::Restore, true) => Err(InvalidOp::MutateAppendOnly {
            entity,
            op: "restore",
        }),
        (OpKind::Append { .. }, false) => Err(InvalidOp::AppendToMutable { entity }),
        (OpKind::Delete | OpKind::Restore, false) => Ok(()),
        (OpKind::Upsert { fields }, false) => check_upsert(op, fields),
        (OpKind::Append { items }, true) => check_append(op, items),
    }
}

fn check_upsert(op: &Op, fields: &Map<String, Value>) -> Result<(), InvalidOp> {
    let entity = op.entity;
    if fields.is_empty() {
        return Err(InvalidOp::EmptyUpsert { entity });
    }
    if fields.contains_key("id") {
        return Err(InvalidOp::IdField { entity });
    }
    schema::check_fields(entity, op.schema, op.hlc.millis(), fields)
}

fn check_append(op: &Op, items: &[Value]) -> Result<(), InvalidOp> {
    let entity = op.entity;
    if items.is_empty() {
        return Err(InvalidOp::EmptyAppend { entity });
    }
    match entity {
        EntityKind::TripPoints => {
            for (index, item) in items.iter().enumerate() {
                check_trip_point(op, index, item)?;
            }
        }
        EntityKind::TripEdit => {
            for (index, item) in items.iter().enumerate() {
                schema::check_edit_item(op.schema, op.hlc.millis(), index, item)?;
            }
        }
        EntityKind::TimeEntryEdit => {
            for (index, item) in items.iter().enumerate() {
                schema::check_entry_edit_item(op.schema, op.hlc.millis(), index, item)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The shape rule lives with the wire format (`wire::check_point`); the point's time follows
/// the schema's time rule. This names the item.
fn check_trip_point(op: &Op, index: usize, item: &Value) -> Result<(), InvalidOp> {
    let entity = EntityKind::TripPoints;
    let field = format!("items[{index}]");
    check_point(op.schema, item).map_err(|e| match e {
        PointShapeError::Shape(reason) => InvalidOp::BadShape {
            entity,
            field: field.clone(),
            reason,
        },
        PointShapeError::OutOfRange { lat, lon } => InvalidOp::CoordinateOutOfRange {
            entity,
            field: field.clone(),
            lat,
            lon,
        },
    })?;
    match item.get(1).and_then(Value::as_i64) {
        Some(at_ms) => schema::check_point_time(op.hlc.millis(), &field, at_ms),
        None => Ok(()),
    }
}

/// One applied append op, kept so re-deliveries are recognised and late
/// arrivals are spliced into the right place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendRecord {
    /// The op, for dedupe.
    pub op_id: OpId,
    /// The op's stamp, the primary sort key.
    pub stamp: Stamp,
    /// Tie-break for a device that reused a clock value.
    pub device_seq: u64,
    /// How many of `items` this op contributed.
    pub len: usize,
}

impl AppendRecord {
    fn sort_key(&self) -> (Stamp, u64, OpId) {
        (self.stamp, self.device_seq, self.op_id)
    }
}

/// The merged state of one entity. It is self-contained so a client can
/// store it as one JSON row and apply ops to it without the rest of the space.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EntityState {
    /// Current value of every field ever set, known to this schema or not.
    pub fields: Map<String, Value>,
    /// Stamp of the op that set each field, for last-writer-wins.
    pub clocks: BTreeMap<String, Stamp>,
    /// Greatest delete stamp seen.
    pub deleted_at: Option<Stamp>,
    /// Greatest restore stamp seen.
    pub restored_at: Option<Stamp>,
    /// Append-only collection, in stamp order (see [`AppendRecord`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Value>,
    /// One record per applied append, sorted like `items`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub appends: Vec<AppendRecord>,
    /// For `trip_points`: the device whose chunk this state applied first;
    /// only it may append. First *applied*, not lowest stamp: the relay
    /// refuses foreign chunks in its log order, so every replica that pulls
    /// sees the same writer first (a client holding a foreign chunk of its
    /// own is already a bug, which the relay's 422 surfaces).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writer: Option<DeviceId>,
}

impl EntityState {
    /// Tombstones are stamped so delete and restore race fairly by LWW.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at > self.restored_at
    }

    /// The entity the merged fields describe (`id` added), for replicas that keep only the
    /// merged state, like the relay. Fails when a field the type needs is missing or malformed.
    pub fn decode<T: serde::de::DeserializeOwned>(&self, id: Uuid) -> serde_json::Result<T> {
        let mut fields = self.fields.clone();
        fields.insert("id".to_owned(), Value::from(id.to_string()));
        serde_json::from_value(Value::Object(fields))
    }

    /// Applies one op (already routed to this entity); returns whether
    /// anything changed, so callers can skip writing an unchanged row.
    /// Checks the op's shape but not its clock (see [`validate`]).
    pub fn apply(&mut self, op: &Op) -> Result<bool, InvalidOp> {
        check_shape(op)?;
        let stamp = stamp_of(op);
        Ok(match &op.kind {
            OpKind::Upsert { fields } => self.upsert(stamp, fields),
            OpKind::Delete => raise(&mut self.deleted_at, stamp),
            OpKind::Restore => raise(&mut self.restored_at, stamp),
            OpKind::Append { items } => self.append(op, stamp, items)?,
        })
    }

    /// Whether `op` may enter the shared log on top of this state: [`check_shape`] plus the
    /// order rules of `crate::schema` on the merged fields the op would leave. Decided by
    /// whoever puts an op into the log (the relay, in log order, for every pushed op; a
    /// store for its own writes), never by a replica merging pulled ops, which the relay
    /// has already judged in the one order every replica shares.
    pub fn admit(&self, op: &Op) -> Result<(), InvalidOp> {
        check_shape(op)?;
        let OpKind::Upsert { fields } = &op.kind else {
            return Ok(());
        };
        if !schema::touches_order(op.entity, fields) {
            return Ok(());
        }
        let mut after = self.clone();
        after.upsert(stamp_of(op), fields);
        schema::check_order(op.entity, &self.fields, &after.fields)
    }

    fn upsert(&mut self, stamp: Stamp, fields: &Map<String, Value>) -> bool {
        let mut changed = false;
        for (name, value) in fields {
            let wins = match self.clocks.get(name) {
                None => true,
                Some(current) => match stamp.cmp(current) {
                    Ordering::Greater => true,
                    Ordering::Less => false,
                    // Only a device that reused a clock value gets here; pick
                    // the same value everywhere.
                    Ordering::Equal => self
                        .fields
                        .get(name)
                        .is_none_or(|old| value_order(value, old) == Ordering::Greater),
                },
            };
            if wins {
                self.clocks.insert(name.clone(), stamp);
                self.fields.insert(name.clone(), value.clone());
                changed = true;
            }
        }
        changed
    }

    fn append(&mut self, op: &Op, stamp: Stamp, items: &[Value]) -> Result<bool, InvalidOp> {
        if self.appends.iter().any(|r| r.op_id == op.op_id) {
            return Ok(false);
        }
        if op.entity == EntityKind::TripPoints {
            match self.writer {
                Some(writer) if writer != op.device => {
                    return Err(InvalidOp::ForeignTripPoints {
                        writer,
                        device: op.device,
                    });
                }
                Some(_) => {}
                None => self.writer = Some(op.device),
            }
        }
        let record = AppendRecord {
            op_id: op.op_id,
            stamp,
            device_seq: op.device_seq,
            len: items.len(),
        };
        let key = record.sort_key();
        let at = self.appends.partition_point(|r| r.sort_key() < key);
        let offset: usize = self.appends.iter().take(at).map(|r| r.len).sum();
        self.items.splice(offset..offset, items.iter().cloned());
        self.appends.insert(at, record);
        Ok(true)
    }
}

fn raise(slot: &mut Option<Stamp>, stamp: Stamp) -> bool {
    if Some(stamp) > *slot {
        *slot = Some(stamp);
        true
    } else {
        false
    }
}

/// Arbitrary but fixed total order on JSON values, for the equal-stamp tie-break.
fn value_order(a: &Value, b: &Value) -> Ordering {
    a.to_string().cmp(&b.to_string())
}

/// The merged state of one space: what every replica converges to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpaceState {
    entities: BTreeMap<EntityKind, BTreeMap<Uuid, EntityState>>,
}

impl SpaceState {
    /// Routes an op to its entity (creating it on first sight); returns
    /// whether anything changed. A refused op leaves the state untouched.
    /// The clock-ahead rule is not checked here: it needs `now` (see [`validate`]).
    pub fn apply(&mut self, op: &Op) -> Result<bool, InvalidOp> {
        if let Some(entity) = self
            .entities
            .get_mut(&op.entity)
            .and_then(|of_kind| of_kind.get_mut(&op.entity_id))
        {
            return entity.apply(op);
        }
        // Build the entity aside so a refused op leaves no empty entry behind.
        let mut entity = EntityState::default();
        let changed = entity.apply(op)?;
        self.entities
            .entry(op.entity)
            .or_default()
            .insert(op.entity_id, entity);
        Ok(changed)
    }

    /// Whether `op` may enter the log on top of this state ([`EntityState::admit`] on its
    /// entity, or on an empty one for a first op).
    pub fn admit(&self, op: &Op) -> Result<(), InvalidOp> {
        match self.entity(op.entity, op.entity_id) {
            Some(entity) => entity.admit(op),
            None => EntityState::default().admit(op),
        }
    }

    /// Read access for views; deleted entities are included (check
    /// [`EntityState::is_deleted`]) so a restore can show them again.
    pub fn entity(&self, kind: EntityKind, id: Uuid) -> Option<&EntityState> {
        self.entities.get(&kind)?.get(&id)
    }

    /// Every entity of one kind, deleted ones included, in id order.
    pub fn entities(&self, kind: EntityKind) -> impl Iterator<Item = (Uuid, &EntityState)> {
        self.entities
            .get(&kind)
            .into_iter()
            .flat_map(|m| m.iter().map(|(id, e)| (*id, e)))
    }

    /// Effective stop of every live time entry under the running-timer rule:
    /// running entries (stop null or absent) are ordered by (start, id); each
    /// one but the last counts as stopped where the next running one starts,
    /// as if all starts had happened on one device. `None` = still running;
    /// there is at most one. Deleted entries and entries whose `start` (or
    /// non-null `stop`) is not an RFC 3339 time are left out: they cannot
    /// be placed in time.
    pub fn effective_timer_stops(&self) -> BTreeMap<Uuid, Option<DateTime<Utc>>> {
        let mut stops = BTreeMap::new();
        let mut running: Vec<(DateTime<Utc>, Uuid)> = Vec::new();
        for (id, entry) in self.entities(EntityKind::TimeEntry) {
            if entry.is_deleted() {
                continue;
            }
            let Some(start) = entry.fields.get("start").and_then(parse_time) else {
                continue;
            };
            match entry.fields.get("stop") {
                None | Some(Value::Null) => running.push((start, id)),
                Some(stop) => {
                    if let Some(stop) = parse_time(stop) {
                        stops.insert(id, Some(stop));
                    }
                }
            }
        }
        let stopped = crate::work::running_timer_stops(&running);
        for (_, id) in &running {
            stops.insert(*id, None);
        }
        for (id, stop) in stopped {
            stops.insert(id, Some(stop));
        }
        stops
    }

    /// The whole state as JSON with sorted object keys, so replicas can be
    /// compared (or hashed) byte for byte.
    pub fn canonical(&self) -> Value {
        serde_json::to_value(self).map_or(Value::Null, sort_keys)
    }
}

fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Rebuilds objects in key order, even if serde_json keeps insertion order.
fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// The stamp an op carries into LWW decisions.
pub fn stamp_of(op: &Op) -> Stamp {
    Stamp {
        hlc: op.hlc,
        device: op.device,
    }
}
