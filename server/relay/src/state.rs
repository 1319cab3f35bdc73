//! The shared state of one relay instance: the services, each holding its own dependencies, plus
//! what only the HTTP edge needs (the configuration, the rate limiters). Handlers reach a
//! service through its accessor; no service takes the whole state.

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::automation::Automation;
use crate::config::Config;
use crate::connections::Connections;
use crate::connectors::{Connectors, Ctx};
use crate::db::{Backend, Db, StorageError};
use crate::jobs::{Runner, RunnerConfig};
use crate::limits::Limiters;
use crate::oidc::{OidcService, Providers};
use crate::sync::SyncService;
use crate::sync::feed::Hub;

/// Shared state of one relay instance. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    db: Db,
    accounts: Accounts,
    sync: SyncService,
    oidc: OidcService,
    automation: Automation,
    connections: Connections,
    connectors: Connectors,
    limiters: Limiters,
    listener: Option<tokio::task::AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = &self.listener {
            task.abort();
        }
    }
}

/// Why a relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage could not be opened or migrated.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Hashing the dummy password failed.
    #[error("password hashing: {0}")]
    Hash(String),
    /// The HTTP client for OpenID providers could not be built.
    #[error("OpenID HTTP client: {0}")]
    Http(String),
}

impl AppState {
    /// Opens and migrates storage, loads (or makes) the signing key, builds the services and, on
    /// PostgreSQL, starts listening for pushes made by other instances.
    pub async fn new(config: Config) -> Result<Self, StartError> {
        let db = Db::connect(&config.database_url).await?;
        let token_key = db.token_key().await.map_err(StorageError::from)?;
        let hub = Hub::default();
        let listener = match db.backend {
            Backend::Postgres => Some(
                crate::sync::listen::spawn_pg_listener(&db.url, hub.clone())
                    .await
                    .map_err(StorageError::from)?,
            ),
            Backend::Sqlite => None,
        };
        let accounts = Accounts::new(db.clone(), token_key, &config)
            .await
            .map_err(|e| StartError::Hash(e.to_string()))?;
        let providers = Providers::new(&config.oidc_providers, config.oidc_jwks_refetch_interval)
            .map_err(|e| StartError::Http(e.to_string()))?;
        let sync = SyncService::new(db.clone(), hub);
        let http = tacho_integrations::http::Http::new(tacho_integrations::http::HttpConfig {
            timeout: config.connectors.http_timeout,
            ..Default::default()
        })
        .map_err(|e| StartError::Http(e.to_string()))?;
        let connections = Connections::new(db.clone(), config.master_keys.clone(), http);
        Ok(Self(Arc::new(Inner {
            limiters: Limiters::new(&config.rate_limits),
            oidc: OidcService::new(db.clone(), providers, accounts.clone()),
            automation: Automation::new(db.clone(), sync.clone()),
            connectors: Connectors::new(Ctx::new(
                db.clone(),
                connections.clone(),
                sync.clone(),
                config.connectors.clone(),
            )),
            connections,
            accounts,
            sync,
            config,
            db,
            listener,
        })))
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// Storage (health checks, jobs and tests reach it directly).
    pub fn db(&self) -> &Db {
        &self.0.db
    }

    /// Accounts, tokens and devices.
    pub fn accounts(&self) -> &Accounts {
        &self.0.accounts
    }

    /// The op log: push, pull, snapshot.
    pub fn sync(&self) -> &SyncService {
        &self.0.sync
    }

    /// OpenID sign-in.
    pub fn oidc(&self) -> &OidcService {
        &self.0.oidc
    }

    /// Hook tokens and hook trips.
    pub fn automation(&self) -> &Automation {
        &self.0.automation
    }

    /// Connections to third-party services and their webhooks.
    pub fn connections(&self) -> &Connections {
        &self.0.connections
    }

    /// The timesheet connectors: mappings, status, conflicts.
    pub fn connectors(&self) -> &Connectors {
        &self.0.connectors
    }

    /// Rate limiters per class (see [`crate::limits`]).
    pub fn limiters(&self) -> &Limiters {
        &self.0.limiters
    }

    /// The relay's job runner over this instance's storage, as configured (see
    /// [`crate::jobs::relay_runner`]).
    pub fn job_runner(&self, config: RunnerConfig) -> Runner {
        let ctx = self.0.connectors.ctx().clone();
        let tick = ctx.clone();
        let pull = ctx.clone();
        crate::jobs::relay_runner(&self.0.db, self.0.config.gps_retention_days, config)
            .handler(
                crate::sync::connector_work::PUSH_KIND,
                crate::connectors::push::handler(ctx),
            )
            .handler(
                crate::connectors::push::PULL_KIND,
                crate::connectors::pull::handler(pull),
            )
            .handler(crate::connectors::schedule::TICK_KIND, move |_job| {
                let ctx = tick.clone();
                async move { crate::connectors::schedule::tick(&ctx).await }
            })
            .every(
                crate::connectors::schedule::TICK_KIND,
                self.0.config.connectors.tick,
                serde_json::Value::Null,
            )
    }
}
