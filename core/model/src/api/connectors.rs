//! Bodies of the relay's connector routes (`/v1/connections/…`, `/v1/conflicts/…`), shared by
//! the relay (which answers with them) and the clients (which read them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Body of `POST /v1/connections`. Its `Debug` names the secrets, never their values.
#[derive(Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    /// The service: `toggl`, `tempo`, `kimai` or `zammad`.
    pub provider: String,
    /// The person's name for it; required and unique per account for the timesheet services.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub label: Option<String>,
    /// The origin a person knows (a Kimai or Zammad instance; Toggl's or Tempo's API host,
    /// defaulting to the public one). https, or plain http on loopback only.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Service settings (see docs/connectors.md): toggl `workspace_id`; tempo `account_id`,
    /// `time_zone`; kimai `auth` (`bearer`|`legacy`), `user`, `time_zone`; zammad `time_unit`,
    /// `type_id`; any: `push_rounded`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: Map<String, Value>,
    /// Credentials by field name (`api_token`; Zammad webhooks also `webhook_secret`); sealed
    /// at rest, never returned.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

impl std::fmt::Debug for NewConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConnection")
            .field("provider", &self.provider)
            .field("label", &self.label)
            .field("base_url", &self.base_url)
            .field("settings", &self.settings)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Counts shown with a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectorCounts {
    /// Entries waiting to be pushed.
    #[serde(default)]
    pub pending: u64,
    /// Open conflicts.
    #[serde(default)]
    pub conflicts: u64,
    /// Entries whose push failed for good.
    #[serde(default)]
    pub errors: u64,
}

/// A connection as shown to its owner; secrets never, only the names of those set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionInfo {
    /// Connection id.
    pub id: Uuid,
    /// The service.
    pub provider: String,
    /// The person's name for it.
    #[serde(default)]
    pub label: Option<String>,
    /// The origin configured.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Service settings.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: Map<String, Value>,
    /// Names of the sealed fields that are set.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Path to give the service for webhooks, when it sends any.
    #[serde(default)]
    pub webhook_path: Option<String>,
    /// `active`, `paused` (by the person), `disabled` (credentials refused: see
    /// `disabled_reason`) or `quota` (Toggl's hourly quota spent: see `quota_until`).
    #[serde(default = "active")]
    pub state: String,
    /// Why it was disabled.
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// Until when it waits for the service's quota (RFC 3339).
    #[serde(default)]
    pub quota_until: Option<String>,
    /// Work and conflict counts.
    #[serde(default)]
    pub counts: ConnectorCounts,
    /// Last successful push (RFC 3339).
    #[serde(default)]
    pub last_push_at: Option<String>,
    /// Last successful pull (RFC 3339).
    #[serde(default)]
    pub last_pull_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

fn active() -> String {
    "active".to_owned()
}

/// Answer of `GET /v1/connections`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionInfoList {
    /// The caller's connections, oldest first.
    pub connections: Vec<ConnectionInfo>,
}

/// Body of `PUT /v1/connections/{id}/mappings/{project_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MappingRequest {
    /// The target spec: Toggl `project=ID[,task=ID]`, Tempo `issue=ID`, Kimai
    /// `project=ID,activity=ID`, Zammad `ticket=ID[,type=ID]`.
    pub target: String,
}

/// One mapping of a Tacho project to a target on a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mapping {
    /// The Tacho project.
    pub project_id: Uuid,
    /// The target, as the service's ids (`{"service":"kimai","project_id":1,"activity_id":2}`).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub target: Value,
}

/// Answer of `GET /v1/connections/{id}/mappings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MappingList {
    /// The mappings.
    pub mappings: Vec<Mapping>,
}

/// One picker item (`GET /v1/connections/{id}/lookups/{what}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LookupEntry {
    /// The service's id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The parent's id (a task's project, a project's customer).
    #[serde(default)]
    pub parent: Option<i64>,
}

/// Answer of `GET /v1/connections/{id}/lookups/{what}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LookupList {
    /// The items.
    pub items: Vec<LookupEntry>,
}

/// Answer of `GET /v1/connections/{id}/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectorStatus {
    /// As [`ConnectionInfo::state`].
    #[serde(default = "active")]
    pub state: String,
    /// Entries waiting to be pushed.
    #[serde(default)]
    pub pending: u64,
    /// Work being done right now.
    #[serde(default)]
    pub running: u64,
    /// Open conflicts.
    #[serde(default)]
    pub conflicts: u64,
    /// Entries whose push failed for good.
    #[serde(default)]
    pub errors: u64,
    /// The last failure's message.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Last successful push (RFC 3339).
    #[serde(default)]
    pub last_push_at: Option<String>,
    /// Last successful pull (RFC 3339).
    #[serde(default)]
    pub last_pull_at: Option<String>,
}

/// One outbound call or pull result (`GET /v1/connections/{id}/log`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// When (RFC 3339).
    pub at: String,
    /// What (`create`, `update`, `delete`, `find`, `pull`, `verify`, …).
    pub operation: String,
    /// The remote record concerned.
    #[serde(default)]
    pub remote_id: Option<String>,
    /// HTTP status or outcome (`ok`, `timeout`, `409`, …).
    pub status: String,
    /// How long the call took.
    #[serde(default)]
    pub latency_ms: Option<i64>,
    /// The service's message, if any.
    #[serde(default)]
    pub message: Option<String>,
}

/// Answer of `GET /v1/connections/{id}/log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditLog {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
}

/// Body of `POST /v1/conflicts/{id}/resolve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `keep_local`, `keep_remote` or `dismiss`.
    pub action: String,
}
