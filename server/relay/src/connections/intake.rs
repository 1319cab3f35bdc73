//! Webhook intake keyed by provider: `POST /v1/hooks/{provider}/{connection}`.
//!
//! Each delivery is verified the way its provider signs (over the raw bytes, before any parsing,
//! with the connection's sealed webhook secret), then read for its delivery id and stored in
//! `connection_events` before the relay answers 2xx, deduplicated per connection on that id, so a
//! provider's retry of a lost answer is stored once and a lost event is retried by the provider.

use axum::http::HeaderMap;
use serde::Serialize;
use sqlx::Row as _;
use uuid::Uuid;

use super::registry::sealed_name;
use super::{ConnectionError, Provider};
use crate::db::{Db, is_unique_violation, now_ms};
use crate::secrets::{self, MasterKeys};

/// Answer of an accepted webhook delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HookAccepted {
    /// The provider's delivery id as received (Zammad: `X-Zammad-Delivery`).
    pub delivery: String,
    /// True when this delivery was stored before (a retry); nothing was stored again.
    pub duplicate: bool,
}

/// A verified delivery, read.
#[derive(Debug)]
pub struct Delivery {
    /// The provider's delivery id, stable across its retries.
    pub id: String,
    /// The provider's event or trigger name.
    pub event: Option<String>,
    /// The id of the object the event is about (Zammad: the ticket id).
    pub subject: Option<String>,
    /// The raw body (UTF-8 JSON), stored as received.
    pub body: String,
}

/// How one provider's webhooks are verified and read.
#[derive(Debug, Clone, Copy)]
pub struct Webhook {
    /// The sealed field holding the shared secret.
    pub secret_field: &'static str,
    /// The signature carried by the request, or the error for its absence.
    pub signature: fn(&HeaderMap) -> Result<String, ConnectionError>,
    /// Whether `signature` signs `body` with `secret` (constant-time in the MAC). The headers
    /// are there for providers that sign more than the body (Tempo adds `Tempo-Timestamp`).
    pub verify: fn(secret: &[u8], body: &[u8], signature: &str, headers: &HeaderMap) -> bool,
    /// The answer for a wrong signature, also given for an unknown connection.
    pub bad_signature: fn() -> ConnectionError,
    /// Reads a verified delivery.
    pub read: fn(&HeaderMap, &[u8]) -> Result<Delivery, ConnectionError>,
}

/// Verifies and stores one delivery to `provider`'s connection `connection`.
pub async fn receive(
    db: &Db,
    keys: Option<&MasterKeys>,
    provider: Provider,
    connection: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<HookAccepted, ConnectionError> {
    let hook = provider
        .spec()
        .webhook
        .ok_or(ConnectionError::UnknownProvider)?;
    let signature = (hook.signature)(headers)?;
    // Without a master key no webhook secret opens, so no signature can be verified: answered
    // like a wrong signature (401), as documented, not as a server fault.
    let keys = keys.ok_or_else(|| {
        tracing::warn!(
            provider = provider.as_str(),
            "webhook refused: this relay has no master key"
        );
        (hook.bad_signature)()
    })?;
    let connection = Uuid::parse_str(connection).map_err(|_| (hook.bad_signature)())?;
    let row = sqlx::query("SELECT account_id FROM connections WHERE id = $1 AND provider = $2")
        .bind(connection.to_string())
        .bind(provider.as_str())
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(hook.bad_signature)?;
    let owner: String = row.try_get("account_id")?;
    let secret = secrets::get(
        &db.pool,
        keys,
        &owner,
        &sealed_name(provider, connection),
        hook.secret_field,
    )
    .await?
    .ok_or_else(hook.bad_signature)?;
    if !(hook.verify)(secret.as_bytes(), body, &signature, headers) {
        return Err((hook.bad_signature)());
    }
    // Only now, with the sender authenticated, is the body looked at.
    let delivery = (hook.read)(headers, body)?;
    let inserted = sqlx::query(
        "INSERT INTO connection_events \
         (id, connection_id, delivery_id, event, subject, received_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (connection_id, delivery_id) DO NOTHING",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(connection.to_string())
    .bind(&delivery.id)
    .bind(delivery.event)
    .bind(delivery.subject)
    .bind(now_ms())
    .bind(delivery.body)
    .execute(&db.pool)
    .await;
    let duplicate = match inserted {
        Ok(done) => done.rows_affected() == 0,
        Err(e) if is_unique_violation(&e) => true,
        Err(e) => return Err(e.into()),
    };
    Ok(HookAccepted {
        delivery: delivery.id,
        duplicate,
    })
}
