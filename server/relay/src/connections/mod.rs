//! Connections to third-party services (timesheets, helpdesks): a registry of each person's
//! connections with their credentials sealed at rest ([`registry`]), and a webhook intake keyed
//! by provider ([`intake`]). Zammad is the first provider ([`zammad`]); Toggl Track, Tempo and
//! Kimai join with the connectors (`contracts/timesheets.md`).
//!
//! [`Connections`] is the service: it holds what it needs (the [`Db`], the [`MasterKeys`]) and
//! fails with [`ConnectionError`], which maps onto [`ServiceError`] in one place here.

pub mod intake;
pub mod registry;
pub mod timesheets;
pub mod zammad;

use std::sync::Arc;

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::db::{Db, rfc3339};
use crate::error::{Kind, ServiceError};
use crate::secrets::{MasterKeys, SecretError};

pub use intake::HookAccepted;
pub use registry::{Connection, ConnectionPatch, NewConnection, Registry};

/// A service a connection talks to. Only providers the relay can fully serve are listed: each
/// brings its settings, its sealed fields and (if it sends webhooks) its verifier, so a provider
/// is added together with its connector rather than listed ahead as a name nothing handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Toggl Track v9.
    Toggl,
    /// Tempo Cloud v4 (Jira worklogs).
    Tempo,
    /// Kimai 2.x (self-hosted).
    Kimai,
    /// Zammad (helpdesk time accounting, webhooks signed with HMAC-SHA1).
    Zammad,
}

impl Provider {
    /// Every provider, in the order documented.
    pub const ALL: [Self; 4] = [Self::Toggl, Self::Tempo, Self::Kimai, Self::Zammad];

    /// The name used in paths, bodies and the `provider` column.
    pub fn as_str(self) -> &'static str {
        self.service().as_str()
    }

    /// The timesheet service of tacho-integrations this provider is.
    pub fn service(self) -> tacho_integrations::timesheets::Service {
        use tacho_integrations::timesheets::Service;
        match self {
            Self::Toggl => Service::Toggl,
            Self::Tempo => Service::Tempo,
            Self::Kimai => Service::Kimai,
            Self::Zammad => Service::Zammad,
        }
    }

    /// The service's name as people know it, for messages.
    pub fn title(self) -> &'static str {
        match self {
            Self::Toggl => "Toggl Track",
            Self::Tempo => "Tempo",
            Self::Kimai => "Kimai",
            Self::Zammad => "Zammad",
        }
    }

    /// The provider named `name`, if the relay knows it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// Why a connection operation failed. Mapped to the API's answers by `From` below only.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// No such connection of the caller's (also: another account's; existence is not told).
    #[error("no such connection")]
    NotFound,
    /// No such webhook provider.
    #[error("no such webhook provider")]
    UnknownProvider,
    /// A connection of a kind the relay does not know.
    #[error("{0}")]
    UnknownKind(String),
    /// Another of the person's connections has this label.
    #[error("{0}")]
    NameTaken(String),
    /// The service refused the one authenticated call made when a connection is added (or its
    /// token rotated); nothing was stored.
    #[error("{0}")]
    CheckFailed(String),
    /// A field of the request is invalid; `code` is specific to the kind of field.
    #[error("{message}")]
    Invalid {
        /// `invalid_base_url`, `invalid_label`, `invalid_settings` or `invalid_secret`.
        code: &'static str,
        /// The offending field.
        field: String,
        /// Explanation.
        message: String,
    },
    /// The relay has no master key, so it cannot store or read credentials.
    #[error("no master key configured")]
    SecretsUnavailable,
    /// A webhook delivery without its signature header.
    #[error("{0}")]
    MissingSignature(String),
    /// A webhook delivery whose signature does not verify, or for an unknown connection.
    #[error("{0}")]
    BadSignature(String),
    /// A verified delivery without a usable delivery id.
    #[error("{0}")]
    MissingDelivery(String),
    /// A verified delivery whose body is not JSON.
    #[error("{0}")]
    MalformedPayload(String),
    /// A verified delivery whose JSON is not what the provider sends.
    #[error("{0}")]
    InvalidPayload(String),
    /// Sealing or opening a secret failed (not a missing key: see `SecretsUnavailable`).
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl ConnectionError {
    pub(crate) fn invalid(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            code,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<ConnectionError> for ServiceError {
    fn from(err: ConnectionError) -> Self {
        use ConnectionError as E;
        match err {
            E::NotFound => Self::new(Kind::NotFound, "not_found", "no such connection"),
            E::UnknownProvider => {
                Self::new(Kind::NotFound, "not_found", "no such webhook provider")
            }
            E::UnknownKind(m) => Self::invalid("unknown_provider", m),
            E::NameTaken(m) => Self::new(Kind::Conflict, "name_taken", m),
            E::CheckFailed(m) => Self::invalid("connection_check_failed", m),
            E::Invalid {
                code,
                field,
                message,
            } => Self::invalid(code, message).with("field", field),
            E::SecretsUnavailable => Self::new(
                Kind::Unavailable,
                "secrets_unavailable",
                "this relay has no master key configured (TACHO_MASTER_KEYS or --master-key-file), \
                 so it cannot store third-party credentials",
            ),
            E::MissingSignature(m) => Self::unauthorized("missing_signature", m),
            E::BadSignature(m) => Self::unauthorized("bad_signature", m),
            E::MissingDelivery(m) => Self::new(Kind::BadRequest, "missing_delivery", m),
            E::MalformedPayload(m) => Self::new(Kind::BadRequest, "malformed_json", m),
            E::InvalidPayload(m) => Self::new(Kind::BadRequest, "invalid_body", m),
            E::Secret(e) => Self::internal(e),
            E::Db(e) => e.into(),
        }
    }
}

/// A connection as shown to its owner. Secrets are never shown, only which are set.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    /// Connection id.
    pub id: Uuid,
    /// The service.
    pub provider: Provider,
    /// The owner's name for it, if any.
    pub label: Option<String>,
    /// The instance (for self-hosted or regional services).
    pub base_url: Option<String>,
    /// Provider-specific options (Zammad: `time_unit`).
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// Names of the sealed fields that are set (e.g. `api_token`); never their values.
    pub secrets: Vec<String>,
    /// Path to give the provider as its webhook endpoint, for providers that send webhooks.
    pub webhook_path: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// `active`, `paused` (by its owner), `disabled` (the service refused its credentials) or
    /// `quota` (Toggl's hourly quota is spent until `quota_until`).
    pub state: String,
    /// Why it is disabled (the service's words), when it is.
    pub disabled_reason: Option<String>,
    /// Toggl's quota is spent: nothing is sent before this time (RFC 3339).
    pub quota_until: Option<String>,
    /// Work and inbox counts.
    pub counts: ConnectionCounts,
    /// Last time the push queue was drained (RFC 3339).
    pub last_push_at: Option<String>,
    /// Last completed pull (RFC 3339).
    pub last_pull_at: Option<String>,
}

/// How much a connection has waiting, in conflict and in error.
#[derive(Debug, Default, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct ConnectionCounts {
    /// Entries waiting to be pushed.
    pub pending: i64,
    /// Open conflicts.
    pub conflicts: i64,
    /// Entries whose push failed after its retries.
    pub errors: i64,
}

impl From<Connection> for ConnectionView {
    fn from(c: Connection) -> Self {
        Self {
            webhook_path: c.webhook_path(),
            state: if c.state == "active" && c.quota_until.is_some_and(|t| t > crate::db::now_ms())
            {
                "quota".to_owned()
            } else {
                c.state.clone()
            },
            disabled_reason: c.state_reason.clone(),
            quota_until: c
                .quota_until
                .filter(|t| *t > crate::db::now_ms())
                .map(rfc3339),
            counts: c.counts,
            last_push_at: c.last_push_at.map(rfc3339),
            last_pull_at: c.last_pull_at.map(rfc3339),
            id: c.id,
            provider: c.provider,
            label: c.label,
            base_url: c.base_url,
            settings: c.settings,
            secrets: c.secrets,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

/// Answer of `GET /v1/connections`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionList {
    /// The caller's connections, oldest first.
    pub connections: Vec<ConnectionView>,
}

/// The connections service: the registry and the webhook intake over the database, sealing with
/// the master keys when configured. Cheap to clone.
#[derive(Clone)]
pub struct Connections {
    db: Db,
    keys: Option<Arc<MasterKeys>>,
    http: tacho_integrations::http::Http,
}

impl Connections {
    /// The service over `db`, sealing with `keys` (none: credentials can't be stored), checking
    /// new connections with `http`.
    pub fn new(db: Db, keys: Option<MasterKeys>, http: tacho_integrations::http::Http) -> Self {
        Self {
            db,
            keys: keys.map(Arc::new),
            http,
        }
    }

    /// The registry of connections.
    pub fn registry(&self) -> Registry<'_> {
        Registry::new(&self.db, self.keys.as_deref(), Some(&self.http))
    }

    /// The master keys, if configured.
    pub fn keys(&self) -> Option<&MasterKeys> {
        self.keys.as_deref()
    }

    /// The connectors' HTTP client.
    pub fn http(&self) -> &tacho_integrations::http::Http {
        &self.http
    }

    /// Verifies and stores one webhook delivery to `provider`'s connection `connection`.
    pub async fn receive(
        &self,
        provider: &str,
        connection: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<HookAccepted, ConnectionError> {
        let provider = Provider::parse(provider).ok_or(ConnectionError::UnknownProvider)?;
        intake::receive(
            &self.db,
            self.keys.as_deref(),
            provider,
            connection,
            headers,
            body,
        )
        .await
    }
}
