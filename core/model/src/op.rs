//! The unit of change that devices exchange. Every local write produces one
//! [`Op`] in the same transaction, so the op log is a faithful, replayable
//! record of what happened on a device (see docs/sync-protocol.md).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::hlc::Hlc;
use crate::id::{DeviceId, OpId};

/// Version of the op payload schema written by this build. Readers keep
/// fields they do not know so a newer schema survives a round trip.
pub const SCHEMA_VERSION: u32 = 1;

/// The synced entity kinds. Adding one is a schema change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A [`crate::car::Car`].
    Car,
    /// A [`crate::place::Place`].
    Place,
    /// A [`crate::trip::Trip`] header.
    Trip,
    /// Append-only chunks of GPS points of one trip, written only by the recording device.
    TripPoints,
    /// Append-only edit history of one trip.
    TripEdit,
    /// A [`crate::car::OdometerReading`].
    OdometerReading,
    /// A [`crate::work::Project`].
    Project,
    /// A [`crate::work::TimeEntry`].
    TimeEntry,
    /// A locked accounting period.
    PeriodLock,
}

impl EntityKind {
    /// Stable snake_case name, as stored and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Car => "car",
            Self::Place => "place",
            Self::Trip => "trip",
            Self::TripPoints => "trip_points",
            Self::TripEdit => "trip_edit",
            Self::OdometerReading => "odometer_reading",
            Self::Project => "project",
            Self::TimeEntry => "time_entry",
            Self::PeriodLock => "period_lock",
        }
    }
}

/// What an op does to its entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpKind {
    /// Sets the listed fields; fields not listed are untouched (field-level LWW).
    Upsert {
        /// Field name to new value.
        fields: Map<String, Value>,
    },
    /// Tombstones the entity; ordinary upserts never clear it.
    Delete,
    /// Clears a tombstone.
    Restore,
    /// Adds items to an append-only collection (GPS point chunks, edit history).
    Append {
        /// The appended items, in order.
        items: Vec<Value>,
    },
}

/// One change made by one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Unique id, the dedupe key everywhere.
    pub op_id: OpId,
    /// The device that made the change.
    pub device: DeviceId,
    /// Gap-free per-device sequence number, starting at 1.
    pub device_seq: u64,
    /// Hybrid logical clock of the change; ties are broken by `device`.
    pub hlc: Hlc,
    /// Which kind of entity changed.
    pub entity: EntityKind,
    /// Which entity changed.
    pub entity_id: Uuid,
    /// What happened to it.
    #[serde(flatten)]
    pub kind: OpKind,
    /// Payload schema version the writer used.
    pub schema: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_serialise_with_a_flat_kind_tag() {
        let mut fields = Map::new();
        fields.insert("purpose".into(), Value::from("business"));
        let op = Op {
            op_id: OpId::new(),
            device: DeviceId::new(),
            device_seq: 1,
            hlc: Hlc::new(1_700_000_000_000, 0),
            entity: EntityKind::Trip,
            entity_id: Uuid::now_v7(),
            kind: OpKind::Upsert { fields },
            schema: SCHEMA_VERSION,
        };
        let json = serde_json::to_value(&op).unwrap();
        assert_eq!(json["kind"], "upsert");
        assert_eq!(json["fields"]["purpose"], "business");
        assert_eq!(json["entity"], "trip");
        let back: Op = serde_json::from_value(json).unwrap();
        assert_eq!(back, op);
    }
}
