//! Signing out and managing the account's devices: what a person does when a phone is replaced
//! or a watch is lost.

use serde::Serialize;
use tacho_model::api::{DeviceInfo, DeviceList, DeviceRename, check_text, limits};
use tacho_model::id::DeviceId;

use crate::sync::{relay_answer, url};
use crate::{Core, CoreError, CoreEvent, Result};

/// What [`Core::logout`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogoutReport {
    /// Whether the relay revoked the session. `false` when it could not be reached: the tokens
    /// are forgotten here anyway, and the relay lets them lapse (the refresh token stays valid
    /// there until it expires or the device is revoked from another device).
    pub revoked_on_relay: bool,
    /// Why the relay did not revoke it, when it did not.
    pub relay_error: Option<String>,
    /// Whether the local records were deleted too.
    pub forgot_data: bool,
    /// Own changes still waiting for the relay when signing out; they stay in the outbox and
    /// are pushed after the next sign-in to the same account.
    pub unsynced_ops: u64,
}

impl Core {
    /// Signs this device out: the relay revokes its session (its next call is refused), the
    /// tokens are forgotten here and in the secret store. Local records stay unless
    /// `forget_data`, which deletes them from the file — refused while own changes have not
    /// reached the relay (sync first), so signing out never loses a change.
    pub async fn logout(&self, forget_data: bool) -> Result<LogoutReport> {
        let unsynced = self.outbox_len().await?;
        if forget_data && unsynced > 0 {
            return Err(CoreError::Conflict {
                reason: format!(
                    "{unsynced} change(s) of this device have not reached the relay yet; \
                     sync first, or sign out without forgetting the data to keep them"
                ),
            });
        }
        let revoke = match self.access_token(false).await {
            Ok(session) => {
                relay_answer(
                    self.http()
                        .post(url(&session.relay_url, "/v1/auth/logout"))
                        .bearer_auth(&session.access_token),
                )
                .await
            }
            Err(e) => Err(e),
        };
        let (revoked_on_relay, relay_error) = match revoke {
            Ok(_) => (true, None),
            // Not signed in at all: nothing to sign out of.
            Err(CoreError::Auth { reason }) if self.load_session()?.is_none() => {
                return Err(CoreError::Auth { reason });
            }
            Err(e) => (false, Some(e.to_string())),
        };
        self.forget_session()?;
        if forget_data {
            self.with_store_long(|inner| {
                inner.store.forget_everything()?;
                inner.recorder =
                    crate::recording::Recorder::load(&inner.store, inner.config.detector)?;
                inner.refresh_reference()
            })?;
            self.emit(CoreEvent::DataChanged);
        }
        Ok(LogoutReport {
            revoked_on_relay,
            relay_error,
            forgot_data: forget_data,
            unsynced_ops: unsynced,
        })
    }

    /// The account's devices, oldest first (`current` marks this one).
    pub async fn devices(&self) -> Result<Vec<DeviceInfo>> {
        let session = self.access_token(false).await?;
        let resp = relay_answer(
            self.http()
                .get(url(&session.relay_url, "/v1/devices"))
                .bearer_auth(&session.access_token),
        )
        .await?;
        let list: DeviceList = resp.json().await.map_err(crate::sync::network)?;
        Ok(list.devices)
    }

    /// Renames a device of the account (this one or another).
    pub async fn rename_device(&self, device: &str, name: &str) -> Result<DeviceInfo> {
        let device = parse_device(device)?;
        let name = check_text("name", name, limits::NAME)
            .map_err(|e| CoreError::bad_input(e.to_string()))?;
        if name.is_empty() {
            return Err(CoreError::bad_input("a device name must not be empty"));
        }
        let session = self.access_token(false).await?;
        let resp = relay_answer(
            self.http()
                .patch(url(&session.relay_url, &format!("/v1/devices/{device}")))
                .bearer_auth(&session.access_token)
                .json(&DeviceRename { name: name.into() }),
        )
        .await?;
        resp.json().await.map_err(crate::sync::network)
    }

    /// Revokes another device of the account (a lost watch): the relay refuses its next call
    /// and its refresh token at once; what it pushed before stays. To sign this device out,
    /// use [`Core::logout`].
    pub async fn revoke_device(&self, device: &str) -> Result<()> {
        let device = parse_device(device)?;
        if device == self.device()? {
            return Err(CoreError::bad_input(
                "that is this device; sign it out with `logout` instead",
            ));
        }
        let session = self.access_token(false).await?;
        relay_answer(
            self.http()
                .delete(url(&session.relay_url, &format!("/v1/devices/{device}")))
                .bearer_auth(&session.access_token),
        )
        .await?;
        Ok(())
    }
}

fn parse_device(text: &str) -> Result<DeviceId> {
    text.trim()
        .parse()
        .map_err(|e: tacho_model::id::ParseIdError| {
            CoreError::bad_input(format!("device id `{}`: {e}", text.trim()))
        })
}
