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
    /// Append-only edit history of one time entry (entity id = the entry's id), like
    /// [`EntityKind::TripEdit`] for trips.
    TimeEntryEdit,
    /// The state of one time entry on one connection (`crate::connector::ConnectorLink`);
    /// written by the relay's connector devices only.
    ConnectorLink,
    /// A disagreement between Tacho and a connected service for a person to resolve
    /// (`crate::connector::ConnectorConflict`); written by the relay's connector devices only.
    ConnectorConflict,
}

impl EntityKind {
    /// Whether only the relay's own (server-side) devices may write this kind: a person's device
    /// pushing one is refused, so connector state cannot be forged from a client.
    pub fn relay_only(self) -> bool {
        matches!(self, Self::ConnectorLink | Self::ConnectorConflict)
    }

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
            Self::TimeEntryEdit => "time_entry_edit",
            Self::ConnectorLink => "connector_link",
            Self::ConnectorConflict => "connector_conflict",
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
#[serde(try_from = "OpWire")]
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

/// The flat wire form an [`Op`] is read from. Reading `Op` itself would go through serde's
/// buffered `flatten` path (every op copied into an intermediate tree first), which was a
/// tenth of the relay's push time; this reads each field once. Unknown fields are ignored here
/// and kept by whoever stores the op's original text.
#[derive(Deserialize)]
struct OpWire {
    op_id: OpId,
    device: DeviceId,
    device_seq: u64,
    hlc: Hlc,
    entity: EntityKind,
    entity_id: Uuid,
    kind: KindTag,
    #[serde(default)]
    fields: Option<Map<String, Value>>,
    #[serde(default)]
    items: Option<Vec<Value>>,
    schema: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindTag {
    Upsert,
    Delete,
    Restore,
    Append,
}

impl TryFrom<OpWire> for Op {
    type Error = String;

    fn try_from(wire: OpWire) -> Result<Self, String> {
        let kind = match (wire.kind, wire.fields, wire.items) {
            (KindTag::Upsert, Some(fields), _) => OpKind::Upsert { fields },
            (KindTag::Upsert, None, _) => return Err("missing field `fields`".into()),
            (KindTag::Append, _, Some(items)) => OpKind::Append { items },
            (KindTag::Append, _, None) => return Err("missing field `items`".into()),
            (KindTag::Delete, ..) => OpKind::Delete,
            (KindTag::Restore, ..) => OpKind::Restore,
        };
        Ok(Self {
            op_id: wire.op_id,
            device: wire.device,
            device_seq: wire.device_seq,
            hlc: wire.hlc,
            entity: wire.entity,
            entity_id: wire.entity_id,
            kind,
            schema: wire.schema,
        })
    }
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

    fn wire(kind: &str, extra: &str) -> String {
        format!(
            r#"{{"op_id":"{}","device":"{}","device_seq":3,"hlc":{},"entity":"trip_points","entity_id":"{}","kind":"{kind}","schema":1{extra}}}"#,
            Uuid::now_v7(),
            Uuid::now_v7(),
            Hlc::new(1_700_000_000_000, 2).0,
            Uuid::now_v7(),
        )
    }

    #[test]
    fn every_kind_reads_back_and_unknown_fields_are_ignored() {
        let op: Op =
            serde_json::from_str(&wire("append", r#","items":[[1,2]],"x_new":true"#)).unwrap();
        assert_eq!(
            op.kind,
            OpKind::Append {
                items: vec![serde_json::json!([1, 2])]
            }
        );
        assert_eq!(op.device_seq, 3);
        let op: Op = serde_json::from_str(&wire("delete", "")).unwrap();
        assert_eq!(op.kind, OpKind::Delete);
        let op: Op = serde_json::from_str(&wire("restore", "")).unwrap();
        assert_eq!(op.kind, OpKind::Restore);
        let op: Op = serde_json::from_str(&wire("upsert", r#","fields":{"a":1}"#)).unwrap();
        assert!(matches!(op.kind, OpKind::Upsert { fields } if fields["a"] == 1));
    }

    #[test]
    fn a_kind_without_its_payload_or_an_unknown_kind_is_refused() {
        let err = serde_json::from_str::<Op>(&wire("upsert", "")).unwrap_err();
        assert!(err.to_string().contains("missing field `fields`"), "{err}");
        let err = serde_json::from_str::<Op>(&wire("append", "")).unwrap_err();
        assert!(err.to_string().contains("missing field `items`"), "{err}");
        let err = serde_json::from_str::<Op>(&wire("merge", "")).unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
    }
}
