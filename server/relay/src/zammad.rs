//! Zammad connections and their webhooks (`contracts/timesheets.md` §1.4).
//!
//! A person registers their Zammad instance (base URL, API token, webhook secret; both secrets
//! sealed, see [`crate::secrets`]) and points a Zammad trigger's webhook at
//! `/v1/hooks/zammad/{connection}` with the same secret as its signature token. Each delivery is
//! verified (`X-Hub-Signature: sha1=<hex HMAC-SHA1(secret, raw body)>`, constant-time, over the raw
//! bytes before any parsing), deduplicated on `X-Zammad-Delivery` (the job id, stable across
//! Zammad's retries) and stored before the relay answers 2xx, so a lost event is retried by Zammad.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sqlx::Row as _;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::secrets::{self, MasterKeys, SecretError};
use crate::storage::{is_unique_violation, now_ms};
use crate::tokens::{Auth, rfc3339};

/// Longest accepted API token or webhook secret.
const MAX_SECRET_LEN: usize = 4096;
/// Longest accepted `X-Zammad-Delivery`.
const MAX_DELIVERY_LEN: usize = 200;
/// Sealed-secret fields of a connection.
const API_TOKEN: &str = "api_token";
const WEBHOOK_SECRET: &str = "webhook_secret";

fn provider(connection: Uuid) -> String {
    format!("zammad/{connection}")
}

/// Body of `POST /v1/connections/zammad`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewZammadConnection {
    /// The instance, e.g. `https://helpdesk.example.org` (`/api/v1` is appended by connectors).
    pub base_url: String,
    /// A Zammad access token (`Authorization: Token token=…`); stored sealed, never returned.
    pub api_token: String,
    /// The token set on the Zammad webhook, used to check `X-Hub-Signature`; stored sealed,
    /// never returned.
    pub webhook_secret: String,
    /// What Zammad's `time_unit` counts (`minute` by default, as Zammad's own default).
    #[serde(default)]
    pub time_unit: Option<String>,
}

/// A Zammad connection as shown to its owner (secrets are never shown).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ZammadConnection {
    /// Connection id.
    pub id: Uuid,
    /// The instance.
    pub base_url: String,
    /// Unit of `time_unit`.
    pub time_unit: String,
    /// Path to set as the Zammad webhook's endpoint (on this relay's public address).
    pub webhook_path: String,
    /// RFC 3339.
    pub created_at: String,
}

fn keys(state: &AppState) -> ApiResult<&MasterKeys> {
    state.config.master_keys.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "secrets_unavailable",
            "this relay has no master key configured (TACHO_MASTER_KEYS or --master-key-file), \
             so it cannot store third-party credentials",
        )
    })
}

fn secret_error(err: SecretError) -> ApiError {
    ApiError::internal(err)
}

fn check_secret(name: &str, value: &str) -> ApiResult<()> {
    if value.trim().is_empty() || value.len() > MAX_SECRET_LEN {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!("{name} must be 1 to {MAX_SECRET_LEN} bytes"),
        ));
    }
    Ok(())
}

/// `POST /v1/connections/zammad`: registers a Zammad instance for the caller.
#[utoipa::path(post, path = "/v1/connections/zammad", tag = "connections",
    security(("bearer" = [])), request_body = NewZammadConnection,
    responses((status = 201, body = ZammadConnection),
        (status = 401, body = crate::openapi::ErrorBody),
        (status = 422, body = crate::openapi::ErrorBody),
        (status = 503, description = "no master key configured", body = crate::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(claims): Auth,
    body: Result<Json<NewZammadConnection>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<ZammadConnection>)> {
    let Json(body) = body?;
    let keys = keys(&state)?;
    let base_url = body.base_url.trim().trim_end_matches('/').to_owned();
    let parsed = reqwest::Url::parse(&base_url).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "base_url must be an absolute http(s) URL",
        )
    })?;
    if !matches!(parsed.scheme(), "https" | "http")
        || parsed.host_str().is_none()
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || base_url.len() > 2048
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "base_url must be an absolute http(s) URL without credentials",
        ));
    }
    check_secret("api_token", &body.api_token)?;
    check_secret("webhook_secret", &body.webhook_secret)?;
    let time_unit = body.time_unit.unwrap_or_else(|| "minute".to_owned());
    if !matches!(
        time_unit.as_str(),
        "minute" | "hour" | "quarter_hour" | "day"
    ) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "time_unit must be minute, quarter_hour, hour or day",
        ));
    }
    let id = Uuid::now_v7();
    let owner = claims.account.to_string();
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO zammad_connections (id, account_id, base_url, time_unit, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.to_string())
    .bind(&owner)
    .bind(&base_url)
    .bind(&time_unit)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let provider = provider(id);
    secrets::put(&mut tx, keys, &owner, &provider, API_TOKEN, &body.api_token)
        .await
        .map_err(secret_error)?;
    secrets::put(
        &mut tx,
        keys,
        &owner,
        &provider,
        WEBHOOK_SECRET,
        &body.webhook_secret,
    )
    .await
    .map_err(secret_error)?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(ZammadConnection {
            id,
            base_url,
            time_unit,
            webhook_path: format!("/v1/hooks/zammad/{id}"),
            created_at: rfc3339(now),
        }),
    ))
}

/// The caller's connection `id`, or 404 (also for another account's connection).
async fn owned(state: &AppState, account: Uuid, id: &str) -> ApiResult<ZammadConnection> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such connection");
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    let row = sqlx::query(
        "SELECT base_url, time_unit, created_at FROM zammad_connections \
         WHERE id = $1 AND account_id = $2",
    )
    .bind(id.to_string())
    .bind(account.to_string())
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(not_found)?;
    Ok(ZammadConnection {
        id,
        base_url: row.try_get("base_url")?,
        time_unit: row.try_get("time_unit")?,
        webhook_path: format!("/v1/hooks/zammad/{id}"),
        created_at: rfc3339(row.try_get("created_at")?),
    })
}

/// `GET /v1/connections/zammad/{id}`: one of the caller's connections, without its secrets.
#[utoipa::path(get, path = "/v1/connections/zammad/{id}", tag = "connections",
    security(("bearer" = [])), params(("id" = String, Path, description = "connection id")),
    responses((status = 200, body = ZammadConnection),
        (status = 401, body = crate::openapi::ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = crate::openapi::ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ZammadConnection>> {
    owned(&state, claims.account, &id).await.map(Json)
}

/// `DELETE /v1/connections/zammad/{id}`: removes a connection, its sealed secrets and its events.
#[utoipa::path(delete, path = "/v1/connections/zammad/{id}", tag = "connections",
    security(("bearer" = [])), params(("id" = String, Path, description = "connection id")),
    responses((status = 204),
        (status = 401, body = crate::openapi::ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = crate::openapi::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let conn = owned(&state, claims.account, &id).await?;
    let id = conn.id.to_string();
    let mut tx = state.db.begin_write().await?;
    sqlx::query("DELETE FROM zammad_events WHERE connection_id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM zammad_connections WHERE id = $1 AND account_id = $2")
        .bind(&id)
        .bind(claims.account.to_string())
        .execute(&mut *tx)
        .await?;
    secrets::delete_provider(&mut tx, &claims.account.to_string(), &provider(conn.id)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Answer of an accepted webhook delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HookAccepted {
    /// `X-Zammad-Delivery` as received.
    pub delivery: String,
    /// True when this delivery was stored before (a Zammad retry); nothing was stored again.
    pub duplicate: bool,
}

fn bad_signature() -> ApiError {
    ApiError::unauthorized(
        "bad_signature",
        "X-Hub-Signature does not match this connection's webhook secret",
    )
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}

/// Whether `signature` (`sha1=<hex>`) is HMAC-SHA1(`secret`, `body`); constant-time in the MAC.
pub fn signature_matches(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(given) = signature.trim().strip_prefix("sha1=").and_then(decode_hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// `POST /v1/hooks/zammad/{connection}`: a Zammad trigger's webhook delivery.
///
/// An unknown connection answers exactly like a wrong signature (401 `bad_signature`), so the
/// endpoint does not tell which connection ids exist.
#[utoipa::path(post, path = "/v1/hooks/zammad/{connection}", tag = "connections",
    params(("connection" = String, Path, description = "connection id"),
        ("X-Hub-Signature" = String, Header, description = "sha1=<hex HMAC-SHA1(webhook secret, raw body)>"),
        ("X-Zammad-Delivery" = String, Header, description = "delivery id, stable across retries"),
        ("X-Zammad-Trigger" = Option<String>, Header, description = "trigger name")),
    request_body(content = Object, description = "Zammad's trigger payload (`ticket`, `article`, …)"),
    responses((status = 200, body = HookAccepted),
        (status = 400, body = crate::openapi::ErrorBody),
        (status = 401, description = "missing or wrong signature, or unknown connection", body = crate::openapi::ErrorBody),
        (status = 503, description = "no master key configured", body = crate::openapi::ErrorBody)))]
pub async fn hook(
    State(state): State<AppState>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<HookAccepted>> {
    let body = body.map_err(|rej| {
        let status = rej.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "bad_request"
        };
        ApiError::new(status, code, rej.body_text())
    })?;
    let signature = headers
        .get("x-hub-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized("missing_signature", "X-Hub-Signature: sha1=<hex> required")
        })?;
    let keys = keys(&state)?;
    let connection = Uuid::parse_str(&connection).map_err(|_| bad_signature())?;
    let row = sqlx::query("SELECT account_id FROM zammad_connections WHERE id = $1")
        .bind(connection.to_string())
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(bad_signature)?;
    let owner: String = row.try_get("account_id")?;
    let secret = secrets::get(
        &state.db.pool,
        keys,
        &owner,
        &provider(connection),
        WEBHOOK_SECRET,
    )
    .await
    .map_err(secret_error)?
    .ok_or_else(bad_signature)?;
    if !signature_matches(secret.as_bytes(), &body, signature) {
        return Err(bad_signature());
    }
    // Only now, with the sender authenticated, is the body looked at.
    let delivery = headers
        .get("x-zammad-delivery")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|d| !d.is_empty() && d.len() <= MAX_DELIVERY_LEN)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "missing_delivery",
                format!("X-Zammad-Delivery (1 to {MAX_DELIVERY_LEN} characters) required"),
            )
        })?
        .to_owned();
    let trigger = headers
        .get("x-zammad-trigger")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.chars().take(200).collect::<String>());
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "body is not UTF-8",
        )
    })?;
    let payload: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))?;
    if !payload.is_object() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "expected Zammad's JSON object payload",
        ));
    }
    let ticket_id = payload
        .get("ticket")
        .and_then(|t| t.get("id"))
        .and_then(serde_json::Value::as_i64);
    let inserted = sqlx::query(
        "INSERT INTO zammad_events \
         (id, connection_id, delivery_id, trigger_name, ticket_id, received_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (connection_id, delivery_id) DO NOTHING",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(connection.to_string())
    .bind(&delivery)
    .bind(trigger)
    .bind(ticket_id)
    .bind(now_ms())
    .bind(text)
    .execute(&state.db.pool)
    .await;
    let duplicate = match inserted {
        Ok(done) => done.rows_affected() == 0,
        Err(e) if is_unique_violation(&e) => true,
        Err(e) => return Err(e.into()),
    };
    Ok(Json(HookAccepted {
        delivery,
        duplicate,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_vector() {
        // HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog"), RFC 2104 example.
        let body = b"The quick brown fox jumps over the lazy dog";
        let good = "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9";
        assert!(signature_matches(b"key", body, good));
        assert!(!signature_matches(b"key2", body, good));
        assert!(!signature_matches(b"key", b"other", good));
        assert!(!signature_matches(
            b"key",
            body,
            "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
        ));
        assert!(!signature_matches(b"key", body, "sha1=zz"));
        assert!(!signature_matches(b"key", body, "sha1=de7c"));
    }
}
