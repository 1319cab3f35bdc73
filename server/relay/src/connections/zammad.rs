//! Zammad, the first provider (`contracts/timesheets.md` §1.4): its settings, its sealed fields,
//! its webhook verifier, and the bodies of the provider-specific routes `/v1/connections/zammad…`
//! (served by `http::connections` as thin aliases of the generic ones for existing clients).
//!
//! A person registers their Zammad instance (base URL, API token, webhook secret) and points a
//! Zammad trigger's webhook at `/v1/hooks/zammad/{connection}` with the same secret as its
//! signature token. Each delivery is verified (`X-Hub-Signature: sha1=<hex HMAC-SHA1(secret, raw
//! body)>`, constant-time, over the raw bytes before any parsing), deduplicated on
//! `X-Zammad-Delivery` (the job id, stable across Zammad's retries) and stored before the relay
//! answers 2xx (see [`super::intake`]).

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha1::Sha1;
use uuid::Uuid;

use super::intake::{Delivery, Webhook};
use super::registry::{Connection, NewConnection, Spec};
use super::{ConnectionError, Provider};
use crate::db::rfc3339;
use crate::error::ServiceError;

/// Longest accepted `X-Zammad-Delivery`.
const MAX_DELIVERY_LEN: usize = 200;
/// Sealed field: the API token (`Authorization: Token token=…`).
pub const API_TOKEN: &str = "api_token";
/// Sealed field: the token set on the Zammad webhook, which signs deliveries.
pub const WEBHOOK_SECRET: &str = "webhook_secret";
/// What Zammad's `time_unit` may count.
const TIME_UNITS: [&str; 4] = ["minute", "quarter_hour", "hour", "day"];

/// What Zammad needs of a connection.
pub(crate) const SPEC: Spec = Spec {
    base_url: super::registry::UrlRule::Required,
    secrets: &[(API_TOKEN, true), (WEBHOOK_SECRET, true)],
    settings,
    webhook: Some(Webhook {
        secret_field: WEBHOOK_SECRET,
        signature,
        verify: |secret, body, signature, _| signature_matches(secret, body, signature),
        bad_signature,
        read,
    }),
};

/// Settings: `time_unit` (default `minute`, as Zammad's own default), and for the connector
/// `type_id` (the default activity type) and `push_rounded`, both kept only when given.
fn settings(mut given: Map<String, Value>) -> Result<Map<String, Value>, ConnectionError> {
    let time_unit = match given.remove("time_unit") {
        None | Some(Value::Null) => "minute".to_owned(),
        Some(Value::String(unit)) if TIME_UNITS.contains(&unit.as_str()) => unit,
        Some(_) => {
            return Err(ConnectionError::invalid(
                "invalid_settings",
                "settings.time_unit",
                "time_unit must be minute, quarter_hour, hour or day",
            ));
        }
    };
    let mut out = Map::from_iter([("time_unit".to_owned(), Value::from(time_unit))]);
    match given.remove("type_id") {
        None | Some(Value::Null) => {}
        Some(v) => {
            let id = v.as_i64().filter(|id| *id > 0).ok_or_else(|| {
                ConnectionError::invalid(
                    "invalid_settings",
                    "settings.type_id",
                    "type_id must be a positive integer",
                )
            })?;
            out.insert("type_id".into(), id.into());
        }
    }
    super::timesheets::common(&mut given, &mut out)?;
    super::timesheets::no_others(&given, "time_unit, type_id, push_rounded")?;
    Ok(out)
}

fn signature(headers: &HeaderMap) -> Result<String, ConnectionError> {
    headers
        .get("x-hub-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| {
            ConnectionError::MissingSignature("X-Hub-Signature: sha1=<hex> required".into())
        })
}

fn bad_signature() -> ConnectionError {
    ConnectionError::BadSignature(
        "X-Hub-Signature does not match this connection's webhook secret".into(),
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

/// Reads a verified delivery: `X-Zammad-Delivery`, `X-Zammad-Trigger`, the ticket id.
fn read(headers: &HeaderMap, body: &[u8]) -> Result<Delivery, ConnectionError> {
    let id = headers
        .get("x-zammad-delivery")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|d| !d.is_empty() && d.len() <= MAX_DELIVERY_LEN)
        .ok_or_else(|| {
            ConnectionError::MissingDelivery(format!(
                "X-Zammad-Delivery (1 to {MAX_DELIVERY_LEN} characters) required"
            ))
        })?
        .to_owned();
    let event = headers
        .get("x-zammad-trigger")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.chars().take(200).collect::<String>());
    let text = std::str::from_utf8(body)
        .map_err(|_| ConnectionError::MalformedPayload("body is not UTF-8".into()))?;
    let payload: Value =
        serde_json::from_str(text).map_err(|e| ConnectionError::MalformedPayload(e.to_string()))?;
    if !payload.is_object() {
        return Err(ConnectionError::InvalidPayload(
            "expected Zammad's JSON object payload".into(),
        ));
    }
    let subject = payload
        .get("ticket")
        .and_then(|t| t.get("id"))
        .and_then(Value::as_i64)
        .map(|id| id.to_string());
    Ok(Delivery {
        id,
        event,
        subject,
        body: text.to_owned(),
    })
}

/// Body of `POST /v1/connections/zammad`. Its `Debug` shows no secret.
#[derive(Deserialize, utoipa::ToSchema)]
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

impl std::fmt::Debug for NewZammadConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewZammadConnection")
            .field("base_url", &self.base_url)
            .field("api_token", &"<sealed>")
            .field("webhook_secret", &"<sealed>")
            .field("time_unit", &self.time_unit)
            .finish()
    }
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

impl From<Connection> for ZammadConnection {
    fn from(c: Connection) -> Self {
        Self {
            webhook_path: format!("/v1/hooks/zammad/{}", c.id),
            id: c.id,
            base_url: c.base_url.unwrap_or_default(),
            time_unit: c
                .settings
                .get("time_unit")
                .and_then(Value::as_str)
                .unwrap_or("minute")
                .to_owned(),
            created_at: rfc3339(c.created_at),
        }
    }
}

/// This route's answers predate the specific 422 codes: every invalid field is `invalid_body`.
pub fn legacy(err: ConnectionError) -> ServiceError {
    match err {
        ConnectionError::Invalid { message, .. } => ServiceError::invalid("invalid_body", message),
        other => other.into(),
    }
}

impl From<NewZammadConnection> for NewConnection {
    /// The generic registration `POST /v1/connections/zammad` stands for.
    fn from(body: NewZammadConnection) -> Self {
        let mut settings = Map::new();
        if let Some(unit) = body.time_unit {
            settings.insert("time_unit".to_owned(), Value::from(unit));
        }
        NewConnection {
            provider: Provider::Zammad.as_str().to_owned(),
            label: None,
            base_url: Some(body.base_url),
            settings,
            secrets: BTreeMap::from([
                (API_TOKEN.to_owned(), body.api_token),
                (WEBHOOK_SECRET.to_owned(), body.webhook_secret),
            ]),
        }
    }
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

    #[test]
    fn settings_default_and_refuse() {
        let filled = settings(Map::new()).expect("default");
        assert_eq!(filled.get("time_unit"), Some(&Value::from("minute")));
        let hour = Map::from_iter([("time_unit".to_owned(), Value::from("hour"))]);
        assert_eq!(settings(hour.clone()).expect("hour"), hour);
        let bad = Map::from_iter([("time_unit".to_owned(), Value::from("week"))]);
        assert!(matches!(
            settings(bad),
            Err(ConnectionError::Invalid { .. })
        ));
        let extra = Map::from_iter([("colour".to_owned(), Value::from("red"))]);
        assert!(matches!(
            settings(extra),
            Err(ConnectionError::Invalid { .. })
        ));
    }
}
