//! Sync with the relay: sign-in, "sync now", status, parked changes, and the
//! session handed to the watch.

use crate::api::error::ApiError;
use crate::api::session::TachoCore;
use crate::api::types::{ParkedOpInfo, SyncReportInfo, SyncStatusInfo, WatchHandoff};
use crate::mapping;

impl TachoCore {
    /// Creates an account on the relay at `relay_url` and signs this device in.
    pub async fn signup(
        &self,
        relay_url: String,
        email: String,
        password: String,
    ) -> Result<SyncStatusInfo, ApiError> {
        Ok(self
            .core
            .signup(&relay_url, &email, &password)
            .await?
            .into())
    }

    /// Signs this device in to an existing account on the relay.
    pub async fn login(
        &self,
        relay_url: String,
        email: String,
        password: String,
    ) -> Result<SyncStatusInfo, ApiError> {
        Ok(self.core.login(&relay_url, &email, &password).await?.into())
    }

    /// One full sync: push pending changes, pull until caught up. Safe to
    /// repeat after any failure; the error is also kept for the status.
    pub async fn sync_now(&self) -> Result<SyncReportInfo, ApiError> {
        Ok(self.core.sync_once().await?.into())
    }

    /// Sign-in state, pending and parked counts, last sync and last error.
    pub async fn sync_status(&self) -> Result<SyncStatusInfo, ApiError> {
        Ok(self.core.sync_status().await?.into())
    }

    /// Changes the relay refused as invalid, with its reasons.
    pub async fn parked_ops(&self) -> Result<Vec<ParkedOpInfo>, ApiError> {
        Ok(self
            .core
            .parked_ops()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Mints a session for the paired watch (its own device id, sent by the
    /// watch) so the watch syncs without the password. Send
    /// [`WatchHandoff::json`] over WatchConnectivity.
    pub async fn mint_watch_session(
        &self,
        watch_device_id: String,
        watch_name: String,
    ) -> Result<WatchHandoff, ApiError> {
        // Checked here so a garbled id from the watch is a clear input error
        // before any network call.
        let _: tacho_model::id::DeviceId = mapping::parse_id(&watch_device_id)?;
        let handoff = self
            .core
            .mint_device_session(&watch_device_id, &watch_name)
            .await?;
        mapping::watch_handoff(&handoff)
    }
}
