//! The HTTP bodies and error codes that clients (tacho-core) and the relay both speak, in one
//! place (atuin-common style): the relay answers with these types and derives its OpenAPI
//! schemas from them (feature `openapi`), the client decodes the same types, so a renamed field
//! or code breaks the build instead of a phone. See `docs/sync-protocol.md`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::wire::IncomingOp;

pub mod connectors;

/// Stable error codes clients branch on (the relay's `{code, message}` answers). Other codes
/// are for people and logs; a client treats them by HTTP status.
pub mod code {
    /// 409 on push: the device's ops must continue at `expected_seq`.
    pub const SEQ_GAP: &str = "seq_gap";
    /// 422 on push: op `index` (`op_id`) is refused by the merge rules; it consumed its number.
    pub const INVALID_OP: &str = "invalid_op";
    /// An op changes a month locked before it was made; the device parks it.
    pub const PERIOD_LOCKED: &str = "period_locked";
    /// 401: the access token expired; refresh and retry.
    pub const TOKEN_EXPIRED: &str = "token_expired";
    /// 401: a refresh token was used twice; the session family is revoked.
    pub const REFRESH_REUSED: &str = "refresh_reused";
    /// 409: the device id belongs to another account.
    pub const DEVICE_TAKEN: &str = "device_taken";
    /// 401: this device signed out (`POST /v1/auth/logout`); tokens issued before are refused.
    pub const SIGNED_OUT: &str = "signed_out";
    /// 401: this device was revoked (`DELETE /v1/devices/{id}`); its tokens no longer work and
    /// it can't sign in again under the same device id.
    pub const DEVICE_REVOKED: &str = "device_revoked";
    /// 429: slow down (see `Retry-After`).
    pub const RATE_LIMITED: &str = "rate_limited";
    /// 422 (400 for a path or query): a name, label or id holds a control character (U+0000 to
    /// U+001F, U+007F to U+009F); `field` names it.
    pub const INVALID_TEXT: &str = "invalid_text";
    /// 422: a name, label or id is longer than its limit ([`super::limits`]); `field` names it,
    /// `max_length` gives the limit in characters.
    pub const TEXT_TOO_LONG: &str = "text_too_long";
}

/// Longest accepted names, labels and ids, in characters (Unicode scalar values), after
/// surrounding whitespace is trimmed. The relay refuses longer ones with 422
/// [`code::TEXT_TOO_LONG`], and control characters in any of them with 422 [`code::INVALID_TEXT`]
/// (see [`check_text`]); the OpenAPI document carries the same numbers. Free text inside ops
/// (a trip note, a time entry's description) is not limited here: it travels as JSON text and
/// its fields are the merge rules' business.
pub mod limits {
    /// An e-mail address (RFC 5321's 254).
    pub const EMAIL: usize = 254;
    /// A device name, a car hint, a time zone name.
    pub const NAME: usize = 100;
    /// A label people give a hook token or a connection.
    pub const LABEL: usize = 200;
    /// An id chosen by a client or another service: a hook `event_id`, a webhook delivery id,
    /// an OpenID `state`, a path segment.
    pub const ID: usize = 200;
}

/// Why a name, label or id was refused ([`check_text`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// It holds a control character, which PostgreSQL (U+0000) or a person's screen can't take.
    #[error("{field} must not contain control characters (found U+{code:04X})")]
    Control {
        /// The request field.
        field: String,
        /// The first control character found.
        code: u32,
    },
    /// It is longer than its limit.
    #[error("{field} must be at most {max} characters (got {len})")]
    TooLong {
        /// The request field.
        field: String,
        /// The limit ([`limits`]).
        max: usize,
        /// Its length in characters.
        len: usize,
    },
}

impl TextError {
    /// The request field it is about.
    pub fn field(&self) -> &str {
        match self {
            Self::Control { field, .. } | Self::TooLong { field, .. } => field,
        }
    }
}

/// The one rule for names, labels and ids the relay stores or looks up: `value` with surrounding
/// whitespace trimmed must hold no control character (`char::is_control`: U+0000–U+001F,
/// U+007F–U+009F) and at most `max` characters. Returns the trimmed text.
pub fn check_text<'a>(field: &str, value: &'a str, max: usize) -> Result<&'a str, TextError> {
    let text = value.trim();
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(TextError::Control {
            field: field.to_owned(),
            code: u32::from(c),
        });
    }
    let len = text.chars().count();
    if len > max {
        return Err(TextError::TooLong {
            field: field.to_owned(),
            max,
            len,
        });
    }
    Ok(text)
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
    /// With [`code::INVALID_TEXT`], [`code::TEXT_TOO_LONG`] and other refusals of one field:
    /// the request field; with [`code::INVALID_OP`], when the refusal is about one field of the
    /// op (its field schema, `tacho_model::schema`): the field, e.g. `center`, `stop`,
    /// `items[3].at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// With [`code::TEXT_TOO_LONG`]: the field's limit in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// With [`code::PERIOD_LOCKED`] for a trip or time-entry op: the relay's
    /// merged state of that entity (a [`crate::merge::EntityState`]; empty if
    /// the relay has none), so the device can take its refused change back
    /// and show what every other device shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub entity_state: Option<crate::merge::EntityState>,
}

/// Body of sign-up and login.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Credentials {
    /// Login name; compared case-insensitively; no control characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 254))]
    pub email: String,
    /// At least 10 characters.
    pub password: String,
    /// The signing-in device's own id.
    pub device_id: Uuid,
    /// A label for people; no control characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub device_name: String,
}

impl Credentials {
    /// [`check_text`] on the e-mail and the device name.
    pub fn check_text(&self) -> Result<(), TextError> {
        check_text("email", &self.email, limits::EMAIL)?;
        check_text("device_name", &self.device_name, limits::NAME)?;
        Ok(())
    }
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
    /// A label for people; no control characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub device_name: String,
}

impl DeviceSessionRequest {
    /// [`check_text`] on the device name.
    pub fn check_text(&self) -> Result<(), TextError> {
        check_text("device_name", &self.device_name, limits::NAME).map(|_| ())
    }
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

/// One device of the caller's account, as `GET /v1/devices` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceInfo {
    /// The device's own id.
    pub device_id: Uuid,
    /// Its label for people.
    pub name: String,
    /// When it first signed in (RFC 3339 UTC).
    pub created_at: String,
    /// When it last pushed ops, if ever (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_push_at: Option<String>,
    /// Whether this is the device making the request.
    pub current: bool,
    /// When it was revoked, if it was (RFC 3339 UTC); a revoked device's ops stay in the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// Answer of `GET /v1/devices`: every device of the account, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceList {
    /// The devices.
    pub devices: Vec<DeviceInfo>,
}

/// Body of `PATCH /v1/devices/{device_id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceRename {
    /// The new label; no control characters, not empty.
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub name: String,
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

// ---------------------------------------------------------------------------------------------
// Automation hooks (`/v1/hooks/…`, docs/hooks.md).

/// Body of `POST /v1/hooks/tokens`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateHookToken {
    /// A label for people ("CarPlay Golf"); no control characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub label: Option<String>,
    /// Restrict the token to one car: its id, name or connect hint as synced from the devices.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub car: Option<String>,
}

/// A hook token as listed (never the token itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HookTokenInfo {
    /// Token id (for revoking).
    pub id: Uuid,
    /// Label.
    pub label: String,
    /// The car the token is limited to, if any.
    pub car_id: Option<Uuid>,
    /// That car's name when the token was made.
    pub car_name: Option<String>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it was last used (RFC 3339).
    pub last_used_at: Option<String>,
}

/// Answer of `POST /v1/hooks/tokens`: the token, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedHookToken {
    /// Token id.
    pub id: Uuid,
    /// The secret, `tho_…`; only its hash is stored.
    pub token: String,
    /// What was stored.
    pub info: HookTokenInfo,
}

/// Answer of `GET /v1/hooks/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HookTokenList {
    /// The caller's live tokens, oldest first.
    pub tokens: Vec<HookTokenInfo>,
}

/// Body of the hook event routes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HookEvent {
    /// The caller's id of this event; a repeated id is answered `duplicate: true` and changes
    /// nothing. Shortcuts can use its "Current Date" formatted with seconds plus a word.
    /// No control characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub event_id: String,
    /// When it happened (RFC 3339); defaults to now; must be within 10 minutes of the relay clock.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// Car hint (id, name or connect hint), e.g. the Bluetooth device name.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub car: Option<String>,
    /// Latitude, decimal degrees (required for pings).
    #[serde(default)]
    pub lat: Option<f64>,
    /// Longitude, decimal degrees (required for pings).
    #[serde(default)]
    pub lon: Option<f64>,
    /// Horizontal accuracy in metres.
    #[serde(default)]
    pub accuracy: Option<f64>,
    /// IANA time zone for a start (default `UTC`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub time_zone: Option<String>,
}

/// Answer of a hook event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HookAnswer {
    /// The event id.
    pub event_id: String,
    /// The trip the event belongs to.
    pub trip_id: Uuid,
    /// `true` when this event id was seen before; nothing was changed.
    pub duplicate: bool,
    /// `active` or `ended`.
    pub state: String,
    /// Points recorded so far.
    pub points: u32,
    /// Filtered GPS distance in metres (set at the end).
    pub distance_m: f64,
    /// A start while a trip of the same scope was open continues it (CarPlay and Bluetooth both
    /// firing, or a quick reconnect).
    #[serde(default)]
    pub already_active: bool,
}

// ---------------------------------------------------------------------------------------------
// OpenID sign-in (`/v1/auth/oidc/{provider}/…`, docs/oidc.md).

/// Which kind of provider an entry is; presets the issuer and a few of Apple's quirks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Google (issuer `https://accounts.google.com`).
    Google,
    /// Sign in with Apple (issuer `https://appleid.apple.com`).
    Apple,
    /// Any OpenID Connect issuer, found by discovery.
    Generic,
}

/// A provider as `GET /v1/capabilities` lists it, so apps know which buttons to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderInfo {
    /// The id in `/v1/auth/oidc/{provider}/…`.
    pub id: String,
    /// `google`, `apple` or `generic`.
    pub kind: ProviderKind,
}

/// Body of `POST /v1/auth/oidc/{provider}/start`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartRequest {
    /// Where the provider sends the browser back: one of the provider's configured redirect
    /// URIs, exactly (a loopback IP literal `http://127.0.0.1:PORT/…` may use any port).
    #[cfg_attr(
        feature = "openapi",
        schema(example = "http://127.0.0.1:53123/callback")
    )]
    pub redirect_uri: String,
    /// BASE64URL(SHA-256(code_verifier)), 43 characters; the app keeps the verifier.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = "^[A-Za-z0-9_-]{43}$",
            example = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        )
    )]
    pub code_challenge: String,
    /// Must be `S256`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^S256$", example = "S256"))]
    pub code_challenge_method: String,
}

/// Answer of `POST /v1/auth/oidc/{provider}/start`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartAnswer {
    /// Open this in the system browser.
    pub authorization_url: String,
    /// Comes back on the redirect; send it to `finish` (check it matches first).
    pub state: String,
    /// When the pending login lapses (RFC 3339 UTC, 10 minutes).
    pub expires_at: String,
}

/// Body of `POST /v1/auth/oidc/{provider}/finish`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FinishRequest {
    /// The `state` from the redirect (as `start` answered it).
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub state: String,
    /// The `code` from the redirect.
    pub code: String,
    /// The PKCE verifier whose S256 challenge was sent to `start` (RFC 7636: 43–128 characters).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9._~-]{43,128}$"))]
    pub code_verifier: String,
    /// The signing-in device's own id.
    pub device_id: Uuid,
    /// A label for people; no control characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub device_name: String,
}

/// Answer of `POST /v1/auth/oidc/{provider}/nonce`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NonceAnswer {
    /// Pass this to the platform SDK's sign-in request, verbatim; single use.
    pub nonce: String,
    /// When it lapses (RFC 3339 UTC, 10 minutes).
    pub expires_at: String,
}

/// Body of `POST /v1/auth/oidc/{provider}/id-token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdTokenRequest {
    /// The ID token (a JWT) the platform SDK returned.
    pub id_token: String,
    /// The nonce from `nonce` that the SDK request carried.
    pub nonce: String,
    /// The signing-in device's own id.
    pub device_id: Uuid,
    /// A label for people; no control characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub device_name: String,
}

// ---------------------------------------------------------------------------------------------
// Operations.

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anyone may sign up.
    #[default]
    Open,
    /// Nobody may sign up; existing accounts keep working.
    Closed,
    /// Only the configured e-mail addresses may sign up.
    Allowlist,
}

/// Answer of `GET /v1/capabilities`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Capabilities {
    /// Wire API version.
    pub api: u32,
    /// Op schema version this relay was built with.
    pub schema: u32,
    /// Sign-up policy.
    pub registration: Registration,
    /// Most ops per push.
    pub max_push_ops: usize,
    /// Most ops per pull.
    pub max_pull_ops: i64,
    /// Longest long-poll in seconds.
    pub long_poll_max_s: u64,
    /// OpenID providers to offer as sign-in buttons (docs/oidc.md); empty when none is configured.
    pub oidc_providers: Vec<ProviderInfo>,
}

// ---------------------------------------------------------------------------------------------
// Sync (`/v1/push`, `/v1/pull`, `/v1/snapshot`, `/v1/sync`).

/// Body of `POST /v1/push`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    /// Ops of the token's device, in `device_seq` order.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<doc::OpDoc>))]
    pub ops: Vec<IncomingOp>,
}

/// Query of `GET /v1/pull`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct PullQuery {
    /// Last cursor seen (0 at first).
    #[serde(default)]
    pub cursor: i64,
    /// Most ops to return (default and maximum 1000).
    pub limit: Option<i64>,
    /// Seconds to wait for new ops when there are none (maximum 30).
    #[serde(default)]
    pub wait: u64,
}

/// Answer of a pull.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResult {
    /// Ops after the cursor, each the op as pushed plus its `cursor`: a JSON array, assembled
    /// by the database from the stored bodies without parsing them.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<doc::RelayOpDoc>))]
    pub ops: Box<RawValue>,
    /// Cursor to pass next time.
    pub cursor: i64,
    /// Whether more ops follow right away.
    pub has_more: bool,
    /// How many ops `ops` holds.
    #[serde(skip)]
    pub count: usize,
}

/// Answer of `GET /v1/snapshot`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotResult {
    /// Head of the space; pull from here on.
    pub cursor: i64,
    /// Every op up to `cursor`, as a JSON array.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<doc::RelayOpDoc>))]
    pub ops: Box<RawValue>,
}

/// Body of `POST /v1/sync`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncRequest {
    /// Ops to push first (may be empty).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<doc::OpDoc>))]
    pub ops: Vec<IncomingOp>,
    /// Last cursor seen.
    #[serde(default)]
    pub cursor: i64,
    /// Most ops to pull.
    pub limit: Option<i64>,
    /// Long-poll seconds.
    #[serde(default)]
    pub wait: u64,
}

/// Answer of `POST /v1/sync`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncResult {
    /// What the push did.
    pub push: PushResult,
    /// What the pull found.
    pub pull: PullResult,
}

/// Documentation-only schemas of ops on the wire (feature `openapi`): the relay decodes ops with
/// `crate::wire::IncomingOp` and keeps unknown fields, so these only describe the shape.
#[cfg(feature = "openapi")]
pub mod doc {
    use serde::Serialize;

    /// Entity kinds as sent on the wire (`tacho_model::op::EntityKind`).
    #[derive(Debug, Serialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum EntityDoc {
        /// A car.
        Car,
        /// A saved place.
        Place,
        /// A trip header.
        Trip,
        /// Chunks of a trip's GPS points.
        TripPoints,
        /// A trip's edit history.
        TripEdit,
        /// An odometer reading.
        OdometerReading,
        /// A work project.
        Project,
        /// A time entry.
        TimeEntry,
        /// A locked period.
        PeriodLock,
        /// A time entry's edit history.
        TimeEntryEdit,
    }

    /// What an op does (`tacho_model::op::OpKind`'s tag).
    #[derive(Debug, Serialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum OpKindDoc {
        /// Sets `fields`.
        Upsert,
        /// Tombstones the entity.
        Delete,
        /// Clears a tombstone.
        Restore,
        /// Adds `items`.
        Append,
    }

    /// An op as a device pushes it (`tacho_model::op::Op`); documentation only, the relay decodes
    /// the model type itself and keeps unknown fields.
    #[derive(Debug, Serialize, utoipa::ToSchema)]
    pub struct OpDoc {
        /// UUIDv7, the dedupe key.
        pub op_id: uuid::Uuid,
        /// The writing device; must be the token's device.
        pub device: uuid::Uuid,
        /// Gap-free per device, from 1.
        #[schema(minimum = 1)]
        pub device_seq: u64,
        /// `(unix ms << 16) | counter`; at most 10 minutes ahead of the relay's clock.
        pub hlc: u64,
        /// Entity kind.
        pub entity: EntityDoc,
        /// Entity id.
        pub entity_id: uuid::Uuid,
        /// What happened.
        pub kind: OpKindDoc,
        /// `upsert`: the changed fields (at least one).
        #[schema(value_type = Option<Object>)]
        pub fields: Option<serde_json::Value>,
        /// `append`: the appended items.
        #[schema(value_type = Option<Vec<Object>>)]
        pub items: Option<Vec<serde_json::Value>>,
        /// Payload schema version.
        pub schema: u32,
    }

    /// An op as pulled: the op as pushed plus its position in the space's log.
    #[derive(Debug, Serialize, utoipa::ToSchema)]
    pub struct RelayOpDoc {
        /// The op.
        #[serde(flatten)]
        pub op: OpDoc,
        /// Gap-free position in the space's log (1, 2, 3, …).
        pub cursor: i64,
    }
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

    #[test]
    fn text_is_trimmed_and_refused_for_control_characters_or_length() {
        assert_eq!(check_text("label", "  Golf ", limits::LABEL), Ok("Golf"));
        assert_eq!(check_text("label", "", limits::LABEL), Ok(""));
        for bad in [
            "a\u{0}b",
            "\u{0}",
            "a\u{1b}[31m",
            "tab\tin",
            "a\u{7f}",
            "a\u{85}b",
        ] {
            let err = check_text("device_name", bad, limits::NAME).unwrap_err();
            assert!(matches!(err, TextError::Control { .. }), "{bad:?}: {err}");
            assert_eq!(err.field(), "device_name");
        }
        // Surrounding whitespace (newlines included) is trimmed, not refused.
        assert_eq!(
            check_text("email", "\na@b.c\r\n", limits::EMAIL),
            Ok("a@b.c")
        );
        let long = "é".repeat(limits::NAME + 1);
        assert_eq!(
            check_text("device_name", &long, limits::NAME),
            Err(TextError::TooLong {
                field: "device_name".into(),
                max: limits::NAME,
                len: limits::NAME + 1
            })
        );
        assert!(check_text("device_name", &long[2..], limits::NAME).is_ok());
    }

    proptest::proptest! {
        /// Whatever it accepts is safe to store on PostgreSQL (no NUL) and within the limit.
        #[test]
        fn accepted_text_has_no_control_character(s in "\\PC*|[\\x00-\\x20a\\u{85}]{0,8}", max in 0_usize..12) {
            if let Ok(t) = check_text("f", &s, max) {
                proptest::prop_assert!(!t.contains('\0'));
                proptest::prop_assert!(!t.chars().any(char::is_control));
                proptest::prop_assert!(t.chars().count() <= max);
            } else {
                proptest::prop_assert!(s.trim().chars().any(char::is_control) || s.trim().chars().count() > max);
            }
        }
    }
}
