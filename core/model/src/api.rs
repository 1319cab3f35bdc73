//! The HTTP bodies and error codes that clients (tacho-core) and the relay both speak, in one
//! place (atuin-common style): the relay answers with these types and derives its OpenAPI
//! schemas from them (feature `openapi`), the client decodes the same types, so a renamed field
//! or code breaks the build instead of a phone. See `docs/sync-protocol.md`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Stable error codes clients branch on (the relay's `{code, message}` answers). Other codes
/// are for people and logs; a client treats them by HTTP status.
pub mod code {
    /// 409 on push: the device's ops must continue at `expected_seq`.
    pub const SEQ_GAP: &str = "seq_gap";
    /// 422 on push: op `index` (`op_id`) is refused by the merge rules; it consumed its number.
    pub const INVALID_OP: &str = "invalid_op";
    /// 401: the access token expired; refresh and retry.
    pub const TOKEN_EXPIRED: &str = "token_expired";
    /// 401: a refresh token was used twice; the session family is revoked.
    pub const REFRESH_REUSED: &str = "refresh_reused";
    /// 409: the device id belongs to another account.
    pub const DEVICE_TAKEN: &str = "device_taken";
    /// 429: slow down (see `Retry-After`).
    pub const RATE_LIMITED: &str = "rate_limited";
}

/// Shape of every error answer: `{code, message}` plus the fields some codes carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable snake_case code ([`code`]).
    #[serde(default)]
    pub code: String,
    /// Explanation for people.
    #[serde(default)]
    pub message: String,
    /// With [`code::SEQ_GAP`]: the `device_seq` the relay expects next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_seq: Option<u64>,
    /// With [`code::INVALID_OP`]: the refused op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_id: Option<String>,
    /// With [`code::INVALID_OP`]: the refused op's position in the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// With [`code::INVALID_OP`], when the refusal is about one field of the op (its field
    /// schema, `tacho_model::schema`): the field, e.g. `center`, `stop`, `items[3].at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Body of sign-up and login.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Credentials {
    /// Login name; compared case-insensitively.
    pub email: String,
    /// At least 10 characters.
    pub password: String,
    /// The signing-in device's own id.
    pub device_id: Uuid,
    /// A label for people.
    #[serde(default)]
    pub device_name: String,
}

/// Body of `POST /v1/auth/refresh`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    /// The refresh token of the current session.
    pub refresh_token: String,
}

/// Body of `POST /v1/devices/session`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceSessionRequest {
    /// The other device's own id.
    pub device_id: Uuid,
    /// A label for people.
    #[serde(default)]
    pub device_name: String,
}

/// What sign-up, login, refresh, OpenID sign-in and device sessions answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    /// The account.
    pub account_id: Uuid,
    /// The account's op log.
    pub space_id: Uuid,
    /// The device this session belongs to.
    pub device_id: Uuid,
    /// Bearer token for API calls.
    pub access_token: String,
    /// When `access_token` stops working (RFC 3339 UTC).
    pub access_expires_at: String,
    /// One-shot token that buys the next session.
    pub refresh_token: String,
}

/// Answer of a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResult {
    /// Ops stored by this call.
    pub accepted: u64,
    /// Ops already stored before (same `op_id`), skipped.
    pub duplicates: u64,
    /// The space's head cursor after the push.
    pub head: i64,
}

/// A page of pulled ops as a client reads it (the relay writes the page as one JSON text it
/// assembles in SQL; same field names).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PullPage {
    /// Ops after the cursor, each the op as pushed plus its `cursor`.
    pub ops: Vec<serde_json::Value>,
    /// Cursor to pass next time.
    pub cursor: u64,
    /// Whether more ops follow right away.
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_reads_any_relay_error_and_writes_only_what_it_has() {
        let b: ErrorBody =
            serde_json::from_str(r#"{"code":"seq_gap","message":"m","expected_seq":7,"other":1}"#)
                .unwrap();
        assert_eq!(b.code, code::SEQ_GAP);
        assert_eq!(b.expected_seq, Some(7));
        let plain = ErrorBody {
            code: "x".into(),
            message: "y".into(),
            ..ErrorBody::default()
        };
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            serde_json::json!({"code": "x", "message": "y"})
        );
        // A body that is not ours (a proxy's HTML page) still reads as empty, not as an error.
        assert!(serde_json::from_str::<ErrorBody>("{}").is_ok());
    }
}
