//! Timesheet connectors (Toggl, Tempo, Kimai, Zammad): the Connections screen, the conflict
//! inbox and the timesheet's sync badges. Connections live on the relay, so listing and
//! steering them needs the network and a session; links and conflicts arrive by sync and are
//! read from the local database, so badges and the inbox work offline. Adding a connection
//! takes the service's token: a CLI or dashboard task, not the app's.

use std::time::Duration;

use crate::api::error::ApiError;
use crate::api::session::TachoCore;
use crate::api::types::{
    ConflictInfo, ConnectionView, ConnectorLinkInfo, ConnectorRunInfo, ConnectorStatusInfo,
    EntrySyncInfo, Resolution,
};
use crate::mapping;

impl TachoCore {
    /// The account's timesheet connections with their state and counts, oldest first.
    pub async fn connectors(&self) -> Result<Vec<ConnectionView>, ApiError> {
        Ok(self
            .core
            .connectors()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The queue and state of the connection named `key` (its name or id).
    pub async fn connector_status(&self, key: String) -> Result<ConnectorStatusInfo, ApiError> {
        Ok(self.core.connector_status(&key).await?.into())
    }

    /// Pauses a connection: nothing is sent until it is resumed; work keeps queueing.
    pub async fn connector_pause(&self, key: String) -> Result<ConnectionView, ApiError> {
        Ok(self.core.connector_pause(&key).await?.into())
    }

    /// Resumes a paused connection, or a disabled one after its token was rotated.
    pub async fn connector_resume(&self, key: String) -> Result<ConnectionView, ApiError> {
        Ok(self.core.connector_resume(&key).await?.into())
    }

    /// "Run now": pushes this phone's changes, has the relay push and pull the connection,
    /// waits up to `wait_s` seconds for its queue to drain (or get stuck) and syncs what it
    /// wrote back (statuses, conflicts).
    pub async fn connector_run(
        &self,
        key: String,
        wait_s: u32,
    ) -> Result<ConnectorRunInfo, ApiError> {
        let wait = Duration::from_secs(u64::from(wait_s));
        Ok(self.core.connector_run(&key, wait, |_| {}).await?.into())
    }

    /// The conflict inbox as last synced, oldest first; resolved ones too with
    /// `include_resolved`. Local: works offline.
    pub async fn conflicts(&self, include_resolved: bool) -> Result<Vec<ConflictInfo>, ApiError> {
        Ok(self
            .core
            .conflicts(include_resolved)
            .await?
            .into_iter()
            .map(|(id, c)| mapping::conflict(id, c))
            .collect())
    }

    /// How many conflicts are open, as last synced (a badge on the Connections tab). Local.
    pub async fn conflict_count(&self) -> Result<i64, ApiError> {
        let open = self.core.conflicts(false).await?.len();
        Ok(i64::try_from(open).unwrap_or(i64::MAX))
    }

    /// Settles conflict `id` on the relay (keep-local pushes Tacho's values, keep-remote
    /// writes the service's into the entry, dismiss changes nothing), then syncs so this
    /// phone shows the outcome. Needs the network and a session.
    pub async fn resolve_conflict(
        &self,
        id: String,
        resolution: Resolution,
    ) -> Result<(), ApiError> {
        Ok(self.core.resolve_conflict(&id, resolution.into()).await?)
    }

    /// Every entry's state on every connection, as last synced. Local.
    pub async fn connector_links(&self) -> Result<Vec<ConnectorLinkInfo>, ApiError> {
        Ok(self
            .core
            .connector_links()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// One sync badge per entry that has links (entries without any have no badge), as last
    /// synced. Local.
    pub async fn entry_sync_states(&self) -> Result<Vec<EntrySyncInfo>, ApiError> {
        Ok(mapping::entry_sync_states(
            self.core.connector_links().await?,
        ))
    }
}
