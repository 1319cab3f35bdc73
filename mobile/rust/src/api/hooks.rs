//! Automation hook tokens on the relay (docs/hooks.md): one per iPhone Shortcut or Android
//! automation, made, listed and revoked with this phone's session.

use crate::api::error::ApiError;
use crate::api::session::TachoCore;
use crate::api::types::{HookTokenView, NewHookToken};

impl TachoCore {
    /// Makes a hook token, optionally limited to one car (id, name or connect hint as synced:
    /// sync first so the relay knows the car). The secret in the answer is shown only this
    /// once; the relay keeps only its hash.
    pub async fn create_hook_token(
        &self,
        car: Option<String>,
        label: Option<String>,
    ) -> Result<NewHookToken, ApiError> {
        let made = self
            .core
            .create_hook_token(car.as_deref(), label.as_deref())
            .await?;
        Ok(NewHookToken {
            id: made.id,
            token: made.token,
        })
    }

    /// The account's hook tokens, oldest first, never their secrets.
    pub async fn hook_tokens(&self) -> Result<Vec<HookTokenView>, ApiError> {
        Ok(self
            .core
            .hook_tokens()
            .await?
            .into_iter()
            .map(|t| HookTokenView {
                id: t.id,
                label: t.label,
                car_id: t.car_id,
                car_name: t.car_name,
                created_at: t.created_at,
                last_used_at: t.last_used_at,
            })
            .collect())
    }

    /// Revokes a hook token: it stops working at once. An unknown id is `notFound`.
    pub async fn revoke_hook_token(&self, id: String) -> Result<(), ApiError> {
        Ok(self.core.revoke_hook_token(&id).await?)
    }
}
