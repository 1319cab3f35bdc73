//! Sync with the relay: sign-in, "sync now", status, parked changes, and the
//! session handed to the watch.

use crate::api::error::ApiError;
use crate::api::session::TachoCore;
use crate::api::types::{
    BackgroundSyncInfo, BackgroundSyncOutcome, DeviceInfoView, LogoutInfo, OidcNonceInfo,
    OidcPendingInfo, ParkedOpInfo, SyncReportInfo, SyncStatusInfo, WatchHandoff,
};
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

    /// Starts an OpenID Connect sign-in with `provider` (an id from the relay's capabilities)
    /// for `redirect_uri` (registered by the relay's operator, e.g. `tacho://oidc/callback`).
    pub async fn oidc_begin(
        &self,
        relay_url: String,
        provider: String,
        redirect_uri: String,
    ) -> Result<OidcPendingInfo, ApiError> {
        let p = self
            .core
            .oidc_begin(&relay_url, &provider, &redirect_uri)
            .await?;
        Ok(OidcPendingInfo {
            pending: p.to_opaque()?,
            authorization_url: p.authorization_url,
            state: p.state,
            redirect_uri: p.redirect_uri,
            expires_at_ms: mapping::millis(p.expires_at),
        })
    }

    /// Finishes an OpenID Connect sign-in with the URL the browser session came back with;
    /// `pending` is `OidcPendingInfo.pending`. A refusal by the provider (`error=access_denied`)
    /// or another sign-in's state is an `auth` error.
    pub async fn oidc_complete(
        &self,
        pending: String,
        redirect_url: String,
    ) -> Result<SyncStatusInfo, ApiError> {
        let pending = tacho_core::OidcPending::from_opaque(&pending)?;
        let callback = tacho_core::OidcCallback::from_url(&redirect_url)?;
        Ok(self.core.oidc_complete(&pending, &callback).await?.into())
    }

    /// A one-time nonce for a native ID-token sign-in (Sign in with Apple) with `provider`.
    pub async fn oidc_nonce(
        &self,
        relay_url: String,
        provider: String,
    ) -> Result<OidcNonceInfo, ApiError> {
        let (nonce, expires_at) = self.core.oidc_nonce(&relay_url, &provider).await?;
        Ok(OidcNonceInfo {
            nonce,
            expires_at_ms: mapping::millis(expires_at),
        })
    }

    /// Signs in with the ID token a native sign-in returned for a request made with `nonce`.
    pub async fn oidc_sign_in_with_id_token(
        &self,
        relay_url: String,
        provider: String,
        id_token: String,
        nonce: String,
    ) -> Result<SyncStatusInfo, ApiError> {
        Ok(self
            .core
            .oidc_sign_in_with_id_token(&relay_url, &provider, &id_token, &nonce)
            .await?
            .into())
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

    /// Signs this phone out: the relay revokes its session, the tokens are forgotten. Local
    /// records stay unless `forget_data`, which deletes them once every change has reached
    /// the relay (else a conflict error: sync first).
    pub async fn logout(&self, forget_data: bool) -> Result<LogoutInfo, ApiError> {
        Ok(self.core.logout(forget_data).await?.into())
    }

    /// The account's devices, oldest first (`current` marks this phone).
    pub async fn devices(&self) -> Result<Vec<DeviceInfoView>, ApiError> {
        Ok(self
            .core
            .devices()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Renames a device of the account.
    pub async fn rename_device(
        &self,
        device_id: String,
        name: String,
    ) -> Result<DeviceInfoView, ApiError> {
        Ok(self.core.rename_device(&device_id, &name).await?.into())
    }

    /// Cuts another device off (a lost watch): its next call to the relay is refused.
    pub async fn revoke_device(&self, device_id: String) -> Result<(), ApiError> {
        Ok(self.core.revoke_device(&device_id).await?)
    }

    /// Keeps syncing while the app is in the foreground (long-poll for others' changes, push
    /// new ones, back off on errors) until the returned loop is stopped or dropped. The app
    /// starts it on resume and stops it on pause; background refresh calls
    /// [`TachoCore::background_sync`]. The loop holds the database's sync guard for its whole
    /// life, from before this returns: called while a background sync runs, it returns when
    /// that one has ended (within its budget).
    pub async fn start_sync_loop(&self, wait_s: u32) -> SyncLoop {
        let core = self.core.clone();
        let held = self.sync_guard.clone().lock_owned().await;
        // Spawned on the bridge's async runtime (tokio), the one every async call runs on.
        let task = tokio::spawn(async move {
            let _held = held;
            // `sync_forever` retries every failure with backoff; it returns only when the
            // database itself fails, which the next foreground call reports.
            let _ = core.sync_forever(u64::from(wait_s)).await;
        });
        SyncLoop {
            task: task.abort_handle(),
        }
    }

    /// One sync for a background refresh (WorkManager, BGAppRefreshTask), within `budget_s`
    /// seconds (the platform gives about 30): never alongside another sync of this database
    /// (`Busy` then, at once), nothing sent when not signed in. Only a failed sync is an
    /// outcome worth a retry; the error is also kept for the sync status.
    pub async fn background_sync(&self, budget_s: u32) -> Result<BackgroundSyncInfo, ApiError> {
        let Ok(_held) = self.sync_guard.clone().try_lock_owned() else {
            return Ok(background(BackgroundSyncOutcome::Busy, None, None));
        };
        if self.core.sync_status().await?.account_id.is_none() {
            return Ok(background(BackgroundSyncOutcome::NotSignedIn, None, None));
        }
        let budget = std::time::Duration::from_secs(u64::from(budget_s.max(1)));
        Ok(
            match tokio::time::timeout(budget, self.core.sync_once()).await {
                Ok(Ok(report)) => {
                    background(BackgroundSyncOutcome::Synced, Some(report.into()), None)
                }
                Ok(Err(e)) => background(BackgroundSyncOutcome::Failed, None, Some(e.to_string())),
                Err(_) => background(BackgroundSyncOutcome::OutOfTime, None, None),
            },
        )
    }
}

fn background(
    outcome: BackgroundSyncOutcome,
    report: Option<SyncReportInfo>,
    error: Option<String>,
) -> BackgroundSyncInfo {
    BackgroundSyncInfo {
        outcome,
        report,
        error,
    }
}

/// A running foreground sync loop; stopping it (or dropping it) cancels the loop at its next
/// await point, never in the middle of a store write.
#[flutter_rust_bridge::frb(opaque)]
pub struct SyncLoop {
    task: tokio::task::AbortHandle,
}

impl SyncLoop {
    /// Stops the loop.
    #[flutter_rust_bridge::frb(sync)]
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for SyncLoop {
    fn drop(&mut self) {
        self.task.abort();
    }
}
