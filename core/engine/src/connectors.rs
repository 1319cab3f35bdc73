//! Timesheet connectors as a person drives them: connections, mappings and runs live on the
//! relay (which talks to Toggl, Tempo, Kimai and Zammad), so these are calls to it; each
//! entry's status and the conflict inbox arrive by sync and are read from the local store, so
//! they show offline too.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};
use tacho_model::api::connectors::{
    AuditEntry, AuditLog, ConnectionInfo, ConnectionInfoList, ConnectorStatus, LookupEntry,
    LookupList, Mapping, MappingList, MappingRequest, NewConnection, ResolveRequest,
};
use tacho_model::connector::{ConnectorConflict, ConnectorLink, Resolution};
use uuid::Uuid;

use crate::sync::{network, relay_answer, url};
use crate::{Core, CoreError, Result};

/// The services a connection can be made to.
pub const SERVICES: [&str; 4] = ["toggl", "tempo", "kimai", "zammad"];

/// How long [`Core::connector_run`] waits for the relay to drain a connection's work.
pub const RUN_WAIT: Duration = Duration::from_secs(300);

/// What [`Core::connector_run`] saw when the work was drained (or given up on).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunReport {
    /// The connection's status at the end.
    pub status: ConnectorStatus,
    /// Whether everything queued was pushed and a pull finished after the run was asked for
    /// (nothing pending or running, no error, not paused, disabled or waiting for a quota).
    pub drained: bool,
}

impl Core {
    /// Adds a connection on the relay. The relay checks the token and URL with one call to the
    /// service and refuses with the service's reason; the token is sealed there, never kept here.
    pub async fn connector_add(
        &self,
        provider: &str,
        name: &str,
        base_url: Option<&str>,
        settings: Map<String, Value>,
        token: &str,
    ) -> Result<ConnectionInfo> {
        if !SERVICES.contains(&provider) {
            return Err(CoreError::bad_input(format!(
                "unknown connector kind `{provider}` (use one of {})",
                SERVICES.join(", ")
            )));
        }
        let name = name.trim();
        if name.is_empty() {
            return Err(CoreError::bad_input("a connection needs a name (--name)"));
        }
        if token.trim().is_empty() {
            return Err(CoreError::bad_input("the API token is empty"));
        }
        let body = NewConnection {
            provider: provider.to_owned(),
            label: Some(name.to_owned()),
            base_url: base_url.map(str::to_owned),
            settings,
            secrets: BTreeMap::from([("api_token".to_owned(), token.trim().to_owned())]),
        };
        let session = self.access_token(false).await?;
        let resp = relay_answer(
            self.http()
                .post(url(&session.relay_url, "/v1/connections"))
                .bearer_auth(&session.access_token)
                .json(&body),
        )
        .await?;
        resp.json().await.map_err(network)
    }

    /// The account's connections, oldest first.
    pub async fn connectors(&self) -> Result<Vec<ConnectionInfo>> {
        let list: ConnectionInfoList = self.relay_get("/v1/connections").await?;
        Ok(list.connections)
    }

    /// The connection named `key` (its name, or its id).
    pub async fn connector(&self, key: &str) -> Result<ConnectionInfo> {
        let key = key.trim();
        let all = self.connectors().await?;
        let by_id = Uuid::parse_str(key).ok();
        all.into_iter()
            .find(|c| Some(c.id) == by_id || c.label.as_deref() == Some(key))
            .ok_or_else(|| CoreError::NotFound {
                kind: "connection".to_owned(),
                id: key.to_owned(),
            })
    }

    /// Pauses a connection: nothing is sent until it is resumed; work keeps queueing.
    pub async fn connector_pause(&self, key: &str) -> Result<ConnectionInfo> {
        let id = self.connector(key).await?.id;
        self.relay_post(&format!("/v1/connections/{id}/pause"), &Value::Null)
            .await
    }

    /// Resumes a paused or disabled connection (after a refused token was rotated).
    pub async fn connector_resume(&self, key: &str) -> Result<ConnectionInfo> {
        let id = self.connector(key).await?.id;
        self.relay_post(&format!("/v1/connections/{id}/resume"), &Value::Null)
            .await
    }

    /// Removes a connection and its sealed token; entries already pushed stay on the service.
    pub async fn connector_remove(&self, key: &str) -> Result<()> {
        let id = self.connector(key).await?.id;
        let session = self.access_token(false).await?;
        relay_answer(
            self.http()
                .delete(url(&session.relay_url, &format!("/v1/connections/{id}")))
                .bearer_auth(&session.access_token),
        )
        .await?;
        Ok(())
    }

    /// Maps a Tacho project (name or id) to a target on a connection (`project=1,activity=2`…);
    /// the relay parses the spec and answers a clear error for a malformed one.
    pub async fn connector_map(&self, key: &str, project: &str, target: &str) -> Result<Mapping> {
        let project = self.find_project(project).await?;
        let id = self.connector(key).await?.id;
        let session = self.access_token(false).await?;
        let resp = relay_answer(
            self.http()
                .put(url(
                    &session.relay_url,
                    &format!("/v1/connections/{id}/mappings/{}", project.id.0),
                ))
                .bearer_auth(&session.access_token)
                .json(&MappingRequest {
                    target: target.trim().to_owned(),
                }),
        )
        .await?;
        resp.json().await.map_err(network)
    }

    /// A connection's mappings.
    pub async fn connector_mappings(&self, key: &str) -> Result<Vec<Mapping>> {
        let id = self.connector(key).await?.id;
        let list: MappingList = self
            .relay_get(&format!("/v1/connections/{id}/mappings"))
            .await?;
        Ok(list.mappings)
    }

    /// A picker list from the service (`projects`, `tasks`, `customers`, `activities`,
    /// `types`), cached 10 minutes on the relay unless `refresh`.
    pub async fn connector_lookup(
        &self,
        key: &str,
        what: &str,
        refresh: bool,
    ) -> Result<Vec<LookupEntry>> {
        let id = self.connector(key).await?.id;
        let query = if refresh { "?refresh=true" } else { "" };
        let list: LookupList = self
            .relay_get(&format!("/v1/connections/{id}/lookups/{what}{query}"))
            .await?;
        Ok(list.items)
    }

    /// A connection's queue and state.
    pub async fn connector_status(&self, key: &str) -> Result<ConnectorStatus> {
        let id = self.connector(key).await?.id;
        self.relay_get(&format!("/v1/connections/{id}/status"))
            .await
    }

    /// The connection's audit log, newest first.
    pub async fn connector_log(&self, key: &str, limit: u32) -> Result<Vec<AuditEntry>> {
        let id = self.connector(key).await?.id;
        let log: AuditLog = self
            .relay_get(&format!("/v1/connections/{id}/log?limit={limit}"))
            .await?;
        Ok(log.entries)
    }

    /// Pushes this device's changes, asks the relay to push and pull the connection now, waits
    /// until its queue is drained (or stuck: paused, disabled, waiting for a quota, failed) and
    /// pulls what it wrote (entry statuses, conflicts, remote entries). `progress` sees each
    /// status polled.
    pub async fn connector_run(
        &self,
        key: &str,
        wait: Duration,
        mut progress: impl FnMut(&ConnectorStatus),
    ) -> Result<RunReport> {
        self.sync_once().await?;
        let id = self.connector(key).await?.id;
        // The run is over when the queue is empty AND a pull finished after it was asked for.
        let before: ConnectorStatus = self
            .relay_get(&format!("/v1/connections/{id}/status"))
            .await?;
        let _: Value = self
            .relay_post(&format!("/v1/connections/{id}/run"), &Value::Null)
            .await?;
        let started = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        let status = loop {
            let status: ConnectorStatus = self
                .relay_get(&format!("/v1/connections/{id}/status"))
                .await?;
            progress(&status);
            let pulled =
                status.last_pull_at.is_some() && status.last_pull_at != before.last_pull_at;
            let idle = status.pending == 0 && status.running == 0 && pulled;
            let stuck = status.state != "active";
            if idle || stuck || started.elapsed() >= wait {
                break status;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        };
        self.sync_once().await?;
        let drained = status.pending == 0
            && status.running == 0
            && status.last_pull_at.is_some()
            && status.last_pull_at != before.last_pull_at
            && status.errors == 0
            && status.state == "active";
        Ok(RunReport { status, drained })
    }

    /// Conflicts as last synced, oldest first; resolved ones only with `all`.
    pub async fn conflicts(&self, all: bool) -> Result<Vec<(Uuid, ConnectorConflict)>> {
        let list = self.with_store(|inner| Ok(inner.store.connector_conflicts()?))?;
        Ok(list
            .into_iter()
            .filter(|(_, c)| all || c.state == tacho_model::connector::ConflictState::Open)
            .collect())
    }

    /// Resolves a conflict on the relay (it writes the outcome and, for keep-local or
    /// keep-remote, the change), then syncs so this device shows it.
    pub async fn resolve_conflict(&self, id: &str, resolution: Resolution) -> Result<()> {
        let id = Uuid::parse_str(id.trim())
            .map_err(|e| CoreError::bad_input(format!("conflict id `{}`: {e}", id.trim())))?;
        let _: Value = self
            .relay_post(
                &format!("/v1/conflicts/{id}/resolve"),
                &ResolveRequest {
                    action: resolution.as_str().to_owned(),
                },
            )
            .await?;
        self.sync_once().await?;
        Ok(())
    }

    /// Each entry's links (its state per connection), as last synced.
    pub async fn connector_links(&self) -> Result<Vec<ConnectorLink>> {
        self.with_store(|inner| Ok(inner.store.connector_links()?))
    }

    async fn relay_get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        let session = self.access_token(false).await?;
        let resp = relay_answer(
            self.http()
                .get(url(&session.relay_url, path))
                .bearer_auth(&session.access_token),
        )
        .await?;
        resp.json().await.map_err(network)
    }

    async fn relay_post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T> {
        let session = self.access_token(false).await?;
        let resp = relay_answer(
            self.http()
                .post(url(&session.relay_url, path))
                .bearer_auth(&session.access_token)
                .json(body),
        )
        .await?;
        // 202/204 answers may carry no body.
        let bytes = resp.bytes().await.map_err(network)?;
        let text = if bytes.is_empty() {
            b"null".as_slice()
        } else {
            &bytes
        };
        serde_json::from_slice(text).map_err(|e| CoreError::Network {
            reason: format!("the relay's answer did not parse: {e}"),
        })
    }
}
