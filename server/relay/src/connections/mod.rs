//! Connections to third-party services (timesheets, helpdesks): a registry of each person's
//! connections with their credentials sealed at rest ([`registry`]), and a webhook intake keyed
//! by provider ([`intake`]). Zammad is the first provider ([`zammad`]); Toggl Track, Tempo and
//! Kimai join with the connectors (`contracts/timesheets.md`).
//!
//! Handlers here only extract, call a service and answer. The services take what they need
//! (the [`Db`](crate::Db), the [`MasterKeys`]) and fail with [`ConnectionError`], which maps onto
//! the API's error answers in one place (`impl From<ConnectionError> for ApiError`).

pub mod intake;
pub mod registry;
pub mod zammad;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::secrets::SecretError;
use crate::tokens::{Auth, rfc3339};

pub use intake::HookAccepted;
pub use registry::{Connection, ConnectionPatch, NewConnection, Registry};

/// A service a connection talks to. Only providers the relay can fully serve are listed: each
/// brings its settings, its sealed fields and (if it sends webhooks) its verifier, so a provider
/// is added together with its connector rather than listed ahead as a name nothing handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Zammad (helpdesk time accounting, webhooks signed with HMAC-SHA1).
    Zammad,
}

impl Provider {
    /// Every provider, in the order documented.
    pub const ALL: [Self; 1] = [Self::Zammad];

    /// The name used in paths, bodies and the `provider` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zammad => "zammad",
        }
    }

    /// The provider named `name`, if the relay knows it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// Why a connection operation failed. Mapped to the API's answers by `From` below only.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// No such connection of the caller's (also: another account's; existence is not told).
    #[error("no such connection")]
    NotFound,
    /// No such webhook provider.
    #[error("no such webhook provider")]
    UnknownProvider,
    /// A field of the request is invalid; `code` is specific to the kind of field.
    #[error("{message}")]
    Invalid {
        /// `invalid_base_url`, `invalid_label`, `invalid_settings` or `invalid_secret`.
        code: &'static str,
        /// The offending field.
        field: String,
        /// Explanation.
        message: String,
    },
    /// The relay has no master key, so it cannot store or read credentials.
    #[error("no master key configured")]
    SecretsUnavailable,
    /// A webhook delivery without its signature header.
    #[error("{0}")]
    MissingSignature(String),
    /// A webhook delivery whose signature does not verify, or for an unknown connection.
    #[error("{0}")]
    BadSignature(String),
    /// A verified delivery without a usable delivery id.
    #[error("{0}")]
    MissingDelivery(String),
    /// A verified delivery whose body is not JSON.
    #[error("{0}")]
    MalformedPayload(String),
    /// A verified delivery whose JSON is not what the provider sends.
    #[error("{0}")]
    InvalidPayload(String),
    /// Sealing or opening a secret failed (not a missing key: see `SecretsUnavailable`).
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl ConnectionError {
    pub(crate) fn invalid(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            code,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<ConnectionError> for ApiError {
    fn from(err: ConnectionError) -> Self {
        use ConnectionError as E;
        match err {
            E::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such connection"),
            E::UnknownProvider => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such webhook provider",
            ),
            E::Invalid {
                code,
                field,
                message,
            } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with("field", field)
            }
            E::SecretsUnavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "secrets_unavailable",
                "this relay has no master key configured (TACHO_MASTER_KEYS or --master-key-file), \
                 so it cannot store third-party credentials",
            ),
            E::MissingSignature(m) => ApiError::unauthorized("missing_signature", m),
            E::BadSignature(m) => ApiError::unauthorized("bad_signature", m),
            E::MissingDelivery(m) => ApiError::new(StatusCode::BAD_REQUEST, "missing_delivery", m),
            E::MalformedPayload(m) => ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", m),
            E::InvalidPayload(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", m),
            E::Secret(e) => ApiError::internal(e),
            E::Db(e) => e.into(),
        }
    }
}

/// A connection as shown to its owner. Secrets are never shown, only which are set.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    /// Connection id.
    pub id: Uuid,
    /// The service.
    pub provider: Provider,
    /// The owner's name for it, if any.
    pub label: Option<String>,
    /// The instance (for self-hosted or regional services).
    pub base_url: Option<String>,
    /// Provider-specific options (Zammad: `time_unit`).
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// Names of the sealed fields that are set (e.g. `api_token`); never their values.
    pub secrets: Vec<String>,
    /// Path to give the provider as its webhook endpoint, for providers that send webhooks.
    pub webhook_path: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<Connection> for ConnectionView {
    fn from(c: Connection) -> Self {
        Self {
            webhook_path: c.webhook_path(),
            id: c.id,
            provider: c.provider,
            label: c.label,
            base_url: c.base_url,
            settings: c.settings,
            secrets: c.secrets,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

/// Answer of `GET /v1/connections`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionList {
    /// The caller's connections, oldest first.
    pub connections: Vec<ConnectionView>,
}

fn registry(state: &AppState) -> Registry<'_> {
    Registry::new(&state.db, state.config.master_keys.as_ref())
}

/// `POST /v1/connections`: registers a connection for the caller.
#[utoipa::path(post, path = "/v1/connections", operation_id = "create_connection", tag = "connections",
    security(("bearer" = [])), request_body = NewConnection,
    responses((status = 201, body = ConnectionView),
        (status = 401, body = crate::openapi::ErrorBody),
        (status = 422, description = "invalid_body, invalid_base_url, invalid_label, invalid_settings or invalid_secret", body = crate::openapi::ErrorBody),
        (status = 503, description = "no master key configured", body = crate::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(claims): Auth,
    body: Result<Json<NewConnection>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let Json(body) = body?;
    let conn = registry(&state).create(claims.account, body).await?;
    Ok((StatusCode::CREATED, Json(conn.into())))
}

/// `GET /v1/connections`: the caller's connections, without secrets.
#[utoipa::path(get, path = "/v1/connections", operation_id = "list_connections", tag = "connections",
    security(("bearer" = [])),
    responses((status = 200, body = ConnectionList),
        (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(claims): Auth,
) -> ApiResult<Json<ConnectionList>> {
    let connections = registry(&state).list(claims.account).await?;
    Ok(Json(ConnectionList {
        connections: connections.into_iter().map(Into::into).collect(),
    }))
}

/// `GET /v1/connections/{id}`: one of the caller's connections, without secrets.
#[utoipa::path(get, path = "/v1/connections/{id}", operation_id = "show_connection", tag = "connections",
    security(("bearer" = [])), params(("id" = String, Path, description = "connection id")),
    responses((status = 200, body = ConnectionView),
        (status = 401, body = crate::openapi::ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = crate::openapi::ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let conn = registry(&state).get(claims.account, &id, None).await?;
    Ok(Json(conn.into()))
}

/// `PATCH /v1/connections/{id}`: changes the label, base URL or settings, or replaces (rotates)
/// sealed fields. Fields left out stay as they are.
#[utoipa::path(patch, path = "/v1/connections/{id}", operation_id = "update_connection", tag = "connections",
    security(("bearer" = [])), params(("id" = String, Path, description = "connection id")),
    request_body = ConnectionPatch,
    responses((status = 200, body = ConnectionView),
        (status = 401, body = crate::openapi::ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = crate::openapi::ErrorBody),
        (status = 422, description = "invalid_body, invalid_base_url, invalid_label, invalid_settings or invalid_secret", body = crate::openapi::ErrorBody),
        (status = 503, description = "no master key configured", body = crate::openapi::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
    body: Result<Json<ConnectionPatch>, JsonRejection>,
) -> ApiResult<Json<ConnectionView>> {
    let Json(body) = body?;
    let conn = registry(&state).update(claims.account, &id, body).await?;
    Ok(Json(conn.into()))
}

/// `DELETE /v1/connections/{id}`: removes a connection, its sealed secrets and its events.
#[utoipa::path(delete, path = "/v1/connections/{id}", operation_id = "delete_connection", tag = "connections",
    security(("bearer" = [])), params(("id" = String, Path, description = "connection id")),
    responses((status = 204),
        (status = 401, body = crate::openapi::ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = crate::openapi::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    registry(&state).delete(claims.account, &id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The body of a webhook delivery, or the API error for a body that could not be read.
fn hook_body(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|rej| {
        let status = rej.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "bad_request"
        };
        ApiError::new(status, code, rej.body_text())
    })
}

/// `POST /v1/hooks/{provider}/{connection}`: a provider's webhook delivery, verified as that
/// provider signs them (Zammad: `X-Hub-Signature`, see `/v1/hooks/zammad/{connection}`), stored
/// once per delivery id before the answer.
///
/// An unknown connection answers exactly like a wrong signature (401 `bad_signature`), so the
/// endpoint does not tell which connection ids exist.
#[utoipa::path(post, path = "/v1/hooks/{provider}/{connection}", operation_id = "connection_hook", tag = "connections",
    params(("provider" = Provider, Path, description = "the connection's provider"),
        ("connection" = String, Path, description = "connection id"),
        ("X-Hub-Signature" = Option<String>, Header, description = "Zammad: sha1=<hex HMAC-SHA1(webhook secret, raw body)>"),
        ("X-Zammad-Delivery" = Option<String>, Header, description = "Zammad: delivery id, stable across retries"),
        ("X-Zammad-Trigger" = Option<String>, Header, description = "Zammad: trigger name")),
    request_body(content = Object, description = "the provider's payload, signed over its raw bytes"),
    responses((status = 200, body = HookAccepted),
        (status = 400, body = crate::openapi::ErrorBody),
        (status = 401, description = "missing or wrong signature, or unknown connection (also on a relay without a master key, which can open no webhook secret)", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such provider", body = crate::openapi::ErrorBody)))]
pub async fn hook(
    State(state): State<AppState>,
    Path((provider, connection)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<HookAccepted>> {
    let body = hook_body(body)?;
    let provider = Provider::parse(&provider).ok_or(ConnectionError::UnknownProvider)?;
    let accepted = intake::receive(
        &state.db,
        state.config.master_keys.as_ref(),
        provider,
        &connection,
        &headers,
        &body,
    )
    .await?;
    Ok(Json(accepted))
}
