//! The timesheet connectors (issue 13): each person's hours pushed to Toggl Track, Tempo, Kimai
//! and Zammad exactly once, the scheduler that drives them, and the API behind
//! `/v1/connections/{id}/…` and `/v1/conflicts`.
//!
//! - Work is enqueued by the sync push path (`sync::connector_work`), one coalesced row per
//!   (connection, entry), in the push's transaction.
//! - [`push`] drains a connection's work, one request at a time (its `connector.push` job's
//!   lease makes it one worker per connection), with the intent protocol of ADR 0015:
//!   persist the intent, send, record the outcome in one transaction; after an uncertain outcome
//!   (or a leftover intent of a worker that died) reconcile with `Connector::find` before ever
//!   sending the write again.
//! - [`schedule`] is the periodic tick: wakes connections with due work, prunes the audit log.
//! - [`api`] is the service the HTTP handlers call.

pub mod api;
pub mod publish;
pub mod pull;
pub mod push;
pub mod schedule;
pub mod store;

use std::sync::Arc;

use sqlx::Row as _;
use tacho_integrations::http::{Http, Secret};
use tacho_integrations::timesheets::Connector;
use uuid::Uuid;

use crate::config::ConnectorConfig;
use crate::connections::registry::{COLUMNS, Connection, decode, sealed_name};
use crate::connections::timesheets::{API_TOKEN, client};
use crate::connections::{ConnectionError, Connections};
use crate::db::Db;
use crate::error::{Kind, ServiceError};
use crate::jobs::JobError;
use crate::secrets;
use crate::sync::SyncService;

pub use api::Connectors;

/// What the connector jobs and the API share. Cheap to clone.
#[derive(Clone)]
pub struct Ctx {
    db: Db,
    connections: Connections,
    sync: SyncService,
    config: Arc<ConnectorConfig>,
}

impl Ctx {
    /// The connectors over `db`, with the registry's keys and client, writing ops through `sync`.
    pub fn new(
        db: Db,
        connections: Connections,
        sync: SyncService,
        config: ConnectorConfig,
    ) -> Self {
        Self {
            db,
            connections,
            sync,
            config: Arc::new(config),
        }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    fn http(&self) -> &Http {
        self.connections.http()
    }

    /// The connection `id` as stored (any account), or `None` once removed.
    pub(crate) async fn connection(&self, id: &str) -> Result<Option<Connection>, sqlx::Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM connections WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(|r| decode(&r).map_err(connection_db)).transpose()
    }

    /// A client for `conn` with its token opened.
    pub(crate) async fn client(&self, conn: &Connection) -> Result<Connector, ConnectionError> {
        let keys = self
            .connections
            .keys()
            .ok_or(ConnectionError::SecretsUnavailable)?;
        let token = secrets::get(
            &self.db.pool,
            keys,
            &conn.account.to_string(),
            &sealed_name(conn.provider, conn.id),
            API_TOKEN,
        )
        .await?
        .ok_or_else(|| {
            ConnectionError::invalid("invalid_secret", "secrets.api_token", "no api_token is set")
        })?;
        client(
            self.http(),
            conn.provider,
            conn.base_url.as_deref(),
            &conn.settings,
            Secret::new(token),
        )
    }

    /// The space of `account`.
    pub(crate) async fn space(&self, account: Uuid) -> Result<Uuid, sqlx::Error> {
        let space: String = sqlx::query("SELECT space_id FROM accounts WHERE id = $1")
            .bind(account.to_string())
            .fetch_one(&self.db.pool)
            .await?
            .try_get("space_id")?;
        Uuid::parse_str(&space).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }
}

fn connection_db(e: ConnectionError) -> sqlx::Error {
    match e {
        ConnectionError::Db(e) => e,
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

impl From<ConnectionError> for JobError {
    fn from(e: ConnectionError) -> Self {
        match e {
            ConnectionError::Db(e) => e.into(),
            ConnectionError::SecretsUnavailable => {
                Self::Retryable("no master key: the connection's token cannot be opened".into())
            }
            other => Self::Permanent(other.to_string()),
        }
    }
}

/// A connector operation that failed for a reason of the person's to fix.
pub(crate) fn invalid(code: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::new(Kind::Invalid, code, message)
}
