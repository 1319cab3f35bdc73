//! What the relay's timesheet connectors tell every device: per time entry and connection, where
//! the entry stands on the service ([`ConnectorLink`]), and disagreements a person resolves
//! ([`ConnectorConflict`]). Both are ordinary synced entities written only by the relay's
//! connector devices ([`crate::op::EntityKind::relay_only`]), so phone, watch and CLI show the
//! same status offline; resolving a conflict is a call to the relay, which writes the outcome.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Namespace of link ids: a link's entity id is the v5 UUID of `"<connection id>/<entry id>"`,
/// so every relay instance names the same link alike.
pub const LINK_NAMESPACE: Uuid = Uuid::from_u128(0x6c1e_7a5b_1d2f_4c0a_9e8b_3f4d_5a6b_7c8d);

/// The entity id of the link between `connection` and `entry`.
pub fn link_id(connection: Uuid, entry: Uuid) -> Uuid {
    Uuid::new_v5(&LINK_NAMESPACE, format!("{connection}/{entry}").as_bytes())
}

/// A timesheet service, by its name on the wire (`toggl`, `tempo`, `kimai`, `zammad`).
pub type ServiceName = String;

/// Where one entry stands on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Waiting to be pushed (paused connection, quota, retry after a failure).
    Pending,
    /// The service holds what Tacho holds (as of `synced_at`).
    Synced,
    /// A conflict is open for it.
    Conflict,
    /// Pushing failed for good; `message` says why.
    Error,
}

impl LinkState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Synced => "synced",
            Self::Conflict => "conflict",
            Self::Error => "error",
        }
    }

    /// The one state to show for an entry with several links (a badge on a timesheet row):
    /// the one a person must act on first. A conflict needs a decision, an error a fix, pending
    /// only patience; an entry is synced only when every link is. `None` without links.
    pub fn most_urgent(states: impl IntoIterator<Item = Self>) -> Option<Self> {
        states.into_iter().max_by_key(|s| match s {
            Self::Synced => 0,
            Self::Pending => 1,
            Self::Error => 2,
            Self::Conflict => 3,
        })
    }
}

/// One entry on one connection (entity kind `connector_link`, id [`link_id`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorLink {
    /// The relay's connection id.
    pub connection_id: Uuid,
    /// The person's name for the connection.
    pub connection_name: String,
    /// The service.
    pub service: ServiceName,
    /// The Tacho time entry.
    pub entry_id: Uuid,
    /// The service's id for it, once it has one.
    #[serde(default)]
    pub remote_id: Option<String>,
    /// Where it stands.
    pub state: LinkState,
    /// When it was last in step.
    #[serde(default)]
    pub synced_at: Option<DateTime<Utc>>,
    /// The service's or the relay's explanation, for `error` and `conflict`.
    #[serde(default)]
    pub message: Option<String>,
}

/// Open or settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictState {
    /// Waiting for the person.
    Open,
    /// Resolved (see `resolution`).
    Resolved,
}

/// How a person settles a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Tacho's values win: they are pushed over the service's.
    KeepLocal,
    /// The service's values win: they are written into the Tacho entry.
    KeepRemote,
    /// Close it and change nothing on either side.
    Dismiss,
}

impl Resolution {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeepLocal => "keep_local",
            Self::KeepRemote => "keep_remote",
            Self::Dismiss => "dismiss",
        }
    }

    /// The resolution named `name` (`keep-local` is accepted for `keep_local`, as typed in a CLI).
    pub fn parse(name: &str) -> Option<Self> {
        match name.replace('-', "_").as_str() {
            "keep_local" => Some(Self::KeepLocal),
            "keep_remote" => Some(Self::KeepRemote),
            "dismiss" => Some(Self::Dismiss),
            _ => None,
        }
    }
}

/// A time entry as one side holds it, for showing a conflict side by side. Every field is
/// optional: services keep different subsets (Zammad has no description or start time).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntrySnapshot {
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// Stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<DateTime<Utc>>,
    /// Duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<i64>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Billable flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billable: Option<bool>,
    /// Project (Tacho's name) or remote target (the service's words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// A disagreement between Tacho and a service (entity kind `connector_conflict`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorConflict {
    /// The relay's connection id.
    pub connection_id: Uuid,
    /// The person's name for the connection.
    pub connection_name: String,
    /// The service.
    pub service: ServiceName,
    /// The Tacho entry concerned (none for a connection-wide alert such as a refused token).
    #[serde(default)]
    pub entry_id: Option<Uuid>,
    /// The service's id of the record concerned.
    #[serde(default)]
    pub remote_id: Option<String>,
    /// Tacho's values (`None`: deleted in Tacho, or not about an entry).
    #[serde(default)]
    pub local: Option<EntrySnapshot>,
    /// The service's values (`None`: deleted there, or never written).
    #[serde(default)]
    pub remote: Option<EntrySnapshot>,
    /// What happened, in the service's words where it gave some.
    pub message: String,
    /// When the relay raised it.
    pub raised_at: DateTime<Utc>,
    /// Open or resolved.
    pub state: ConflictState,
    /// How it was resolved.
    #[serde(default)]
    pub resolution: Option<Resolution>,
    /// When it was resolved.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::EntityState;
    use crate::op::EntityKind;
    use crate::schema;
    use serde_json::{Map, Value, json};

    #[test]
    fn link_ids_are_stable_and_distinct() {
        let c = Uuid::from_u128(1);
        let e = Uuid::from_u128(2);
        assert_eq!(link_id(c, e), link_id(c, e));
        assert_ne!(link_id(c, e), link_id(e, c));
    }

    #[test]
    fn the_most_urgent_link_state_wins_the_badge() {
        use LinkState::*;
        assert_eq!(LinkState::most_urgent([]), None);
        assert_eq!(LinkState::most_urgent([Synced, Synced]), Some(Synced));
        assert_eq!(LinkState::most_urgent([Synced, Pending]), Some(Pending));
        assert_eq!(
            LinkState::most_urgent([Pending, Error, Synced]),
            Some(Error)
        );
        assert_eq!(LinkState::most_urgent([Conflict, Error]), Some(Conflict));
        assert_eq!(LinkState::most_urgent([Error, Conflict]), Some(Conflict));
    }

    #[test]
    fn resolutions_parse_as_typed() {
        assert_eq!(Resolution::parse("keep-local"), Some(Resolution::KeepLocal));
        assert_eq!(
            Resolution::parse("keep_remote"),
            Some(Resolution::KeepRemote)
        );
        assert_eq!(Resolution::parse("dismiss"), Some(Resolution::Dismiss));
        assert_eq!(Resolution::parse("merge"), None);
    }

    fn fields(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn typed_values_pass_the_schema_and_decode_back() {
        let conflict = ConnectorConflict {
            connection_id: Uuid::from_u128(1),
            connection_name: "work kimai".into(),
            service: "kimai".into(),
            entry_id: Some(Uuid::from_u128(2)),
            remote_id: Some("17".into()),
            local: Some(EntrySnapshot {
                description: Some("review".into()),
                ..EntrySnapshot::default()
            }),
            remote: None,
            message: "deleted on Kimai, edited in Tacho".into(),
            raised_at: "2026-12-07T10:00:00Z".parse().expect("instant"),
            state: ConflictState::Open,
            resolution: None,
            resolved_at: None,
        };
        let map = fields(serde_json::to_value(&conflict).expect("json"));
        let now = 1_797_000_000_000; // 2026-12-12
        schema::check_fields(
            EntityKind::ConnectorConflict,
            crate::op::SCHEMA_VERSION,
            now,
            &map,
        )
        .expect("valid conflict");
        let mut bad = map.clone();
        bad.insert("resolution".into(), json!("merge"));
        assert!(
            schema::check_fields(
                EntityKind::ConnectorConflict,
                crate::op::SCHEMA_VERSION,
                now,
                &bad
            )
            .is_err()
        );
        let state = EntityState {
            fields: map,
            ..EntityState::default()
        };
        let back: ConnectorConflict = state.decode(Uuid::from_u128(9)).expect("decodes");
        assert_eq!(back, conflict);
    }
}
