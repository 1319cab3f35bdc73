//! Automation hook tokens on the relay (`/v1/hooks/tokens`, docs/hooks.md), managed with this
//! database's signed-in session: make one for an iPhone Shortcut, list them, revoke one.

use serde::{Deserialize, Serialize};
use tacho_model::api::{CreateHookToken, CreatedHookToken, HookTokenList};

use crate::sync::{error_of, network, relay_answer, relay_error, url};
use crate::{Core, CoreError, Result};

/// A freshly made hook token; `token` is shown only this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookToken {
    /// Id, for revoking.
    pub id: String,
    /// The secret (`tho_…`) for the Shortcut's `Authorization: Bearer` header.
    pub token: String,
}

/// A hook token as listed (without the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookTokenInfo {
    /// Id.
    pub id: String,
    /// Label.
    pub label: String,
    /// The car it is limited to.
    pub car_id: Option<String>,
    /// That car's name.
    pub car_name: Option<String>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it was last used (RFC 3339).
    pub last_used_at: Option<String>,
}

impl From<tacho_model::api::HookTokenInfo> for HookTokenInfo {
    fn from(t: tacho_model::api::HookTokenInfo) -> Self {
        Self {
            id: t.id.to_string(),
            label: t.label,
            car_id: t.car_id.map(|c| c.to_string()),
            car_name: t.car_name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        }
    }
}

impl Core {
    /// Makes a hook token on the relay, optionally limited to one car (id, name or connect hint
    /// as synced; sync first so the relay knows the car).
    pub async fn create_hook_token(
        &self,
        car: Option<&str>,
        label: Option<&str>,
    ) -> Result<HookToken> {
        let session = self.access_token(false).await?;
        let resp = relay_answer(
            self.http()
                .post(url(&session.relay_url, "/v1/hooks/tokens"))
                .bearer_auth(&session.access_token)
                .json(&CreateHookToken {
                    car: car.map(str::to_owned),
                    label: label.map(str::to_owned),
                }),
        )
        .await?;
        let created: CreatedHookToken = resp.json().await.map_err(network)?;
        Ok(HookToken {
            id: created.id.to_string(),
            token: created.token,
        })
    }

    /// The account's hook tokens (never the secrets).
    pub async fn hook_tokens(&self) -> Result<Vec<HookTokenInfo>> {
        let session = self.access_token(false).await?;
        let resp = relay_answer(
            self.http()
                .get(url(&session.relay_url, "/v1/hooks/tokens"))
                .bearer_auth(&session.access_token),
        )
        .await?;
        let list: HookTokenList = resp.json().await.map_err(network)?;
        Ok(list.tokens.into_iter().map(Into::into).collect())
    }

    /// Revokes a hook token; it stops working at once.
    pub async fn revoke_hook_token(&self, id: &str) -> Result<()> {
        let session = self.access_token(false).await?;
        let resp = self
            .http()
            .delete(url(
                &session.relay_url,
                &format!("/v1/hooks/tokens/{}", id.trim()),
            ))
            .bearer_auth(&session.access_token)
            .send()
            .await
            .map_err(network)?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(CoreError::NotFound {
                kind: "hook token".into(),
                id: id.trim().to_owned(),
            });
        }
        if !resp.status().is_success() {
            let (status, body) = error_of(resp).await;
            return Err(relay_error(status, &body));
        }
        Ok(())
    }
}
