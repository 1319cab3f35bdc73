//! Connection routes: the registry (CRUD, secrets sealed), the webhook intake keyed by provider,
//! and Zammad's older provider-specific aliases.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use tacho_model::api::ErrorBody;

use super::error::{ApiError, ApiResult};
use super::extract::Auth;
use crate::connections::zammad::{self, NewZammadConnection, ZammadConnection};
use crate::connections::{
    ConnectionList, ConnectionPatch, ConnectionView, HookAccepted, NewConnection, Provider,
};
use crate::state::AppState;

/// `POST /v1/connections`: registers a connection for the caller.
#[utoipa::path(post, path = "/v1/connections", operation_id = "create_connection", tag = "connections",
    security(("bearer" = [])), request_body = NewConnection,
    responses((status = 201, body = ConnectionView),
        (status = 401, body = ErrorBody),
        (status = 422, description = "invalid_body, invalid_base_url, invalid_label, invalid_settings or invalid_secret", body = ErrorBody),
        (status = 503, description = "no master key configured", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(claims): Auth,
    body: Result<Json<NewConnection>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let Json(body) = body?;
    let conn = state
        .connections()
        .registry()
        .create(claims.account, body)
        .await?;
    Ok((StatusCode::CREATED, Json(conn.into())))
}

/// `GET /v1/connections`: the caller's connections, without secrets.
#[utoipa::path(get, path = "/v1/connections", operation_id = "list_connections", tag = "connections",
    security(("bearer" = [])),
    responses((status = 200, body = ConnectionList),
        (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(claims): Auth,
) -> ApiResult<Json<ConnectionList>> {
    let connections = state.connections().registry().list(claims.account).await?;
    Ok(Json(ConnectionList {
        connections: connections.into_iter().map(Into::into).collect(),
    }))
}

/// `GET /v1/connections/{id}`: one of the caller's connections, without secrets.
#[utoipa::path(get, path = "/v1/connections/{id}", operation_id = "show_connection", tag = "connections",
    security(("bearer" = [])), params(("id" = String, Path, description = "connection id")),
    responses((status = 200, body = ConnectionView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let conn = state
        .connections()
        .registry()
        .get(claims.account, &id, None)
        .await?;
    Ok(Json(conn.into()))
}

/// `PATCH /v1/connections/{id}`: changes the label, base URL or settings, or replaces (rotates)
/// sealed fields. Fields left out stay as they are.
#[utoipa::path(patch, path = "/v1/connections/{id}", operation_id = "update_connection", tag = "connections",
    security(("bearer" = [])), params(("id" = String, Path, description = "connection id")),
    request_body = ConnectionPatch,
    responses((status = 200, body = ConnectionView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = ErrorBody),
        (status = 422, description = "invalid_body, invalid_base_url, invalid_label, invalid_settings or invalid_secret", body = ErrorBody),
        (status = 503, description = "no master key configured", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
    body: Result<Json<ConnectionPatch>, JsonRejection>,
) -> ApiResult<Json<ConnectionView>> {
    let Json(body) = body?;
    let conn = state
        .connections()
        .registry()
        .update(claims.account, &id, body)
        .await?;
    Ok(Json(conn.into()))
}

/// `DELETE /v1/connections/{id}`: removes a connection, its sealed secrets and its events.
#[utoipa::path(delete, path = "/v1/connections/{id}", operation_id = "delete_connection", tag = "connections",
    security(("bearer" = [])), params(("id" = String, Path, description = "connection id")),
    responses((status = 204),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .connections()
        .registry()
        .delete(claims.account, &id, None)
        .await?;
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
        (status = 400, body = ErrorBody),
        (status = 401, description = "missing or wrong signature, or unknown connection (also on a relay without a master key, which can open no webhook secret)", body = ErrorBody),
        (status = 404, description = "no such provider", body = ErrorBody)))]
pub async fn hook(
    State(state): State<AppState>,
    Path((provider, connection)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<HookAccepted>> {
    let body = hook_body(body)?;
    let accepted = state
        .connections()
        .receive(&provider, &connection, &headers, &body)
        .await?;
    if !accepted.duplicate {
        // A change on the provider's side (Zammad: a ticket's time accounting): pull it now.
        state.connectors().request_pull(&connection).await?;
    }
    Ok(Json(accepted))
}

/// `POST /v1/connections/zammad`: registers a Zammad instance for the caller (the same as
/// `POST /v1/connections` with `provider: zammad`).
#[utoipa::path(post, path = "/v1/connections/zammad", operation_id = "create", tag = "connections",
    security(("bearer" = [])), request_body = NewZammadConnection,
    responses((status = 201, body = ZammadConnection),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 503, description = "no master key configured", body = ErrorBody)))]
pub async fn zammad_create(
    State(state): State<AppState>,
    Auth(claims): Auth,
    body: Result<Json<NewZammadConnection>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ZammadConnection>)> {
    let Json(body) = body?;
    let conn = state
        .connections()
        .registry()
        .create(claims.account, body.into())
        .await
        .map_err(zammad::legacy)?;
    Ok((StatusCode::CREATED, Json(conn.into())))
}

/// `GET /v1/connections/zammad/{id}`: one of the caller's connections, without its secrets.
#[utoipa::path(get, path = "/v1/connections/zammad/{id}", operation_id = "show", tag = "connections",
    security(("bearer" = [])), params(("id" = String, Path, description = "connection id")),
    responses((status = 200, body = ZammadConnection),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = ErrorBody)))]
pub async fn zammad_show(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ZammadConnection>> {
    let conn = state
        .connections()
        .registry()
        .get(claims.account, &id, Some(Provider::Zammad))
        .await?;
    Ok(Json(conn.into()))
}

/// `DELETE /v1/connections/zammad/{id}`: removes a connection, its sealed secrets and its events.
#[utoipa::path(delete, path = "/v1/connections/zammad/{id}", operation_id = "delete", tag = "connections",
    security(("bearer" = [])), params(("id" = String, Path, description = "connection id")),
    responses((status = 204),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = ErrorBody)))]
pub async fn zammad_delete(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .connections()
        .registry()
        .delete(claims.account, &id, Some(Provider::Zammad))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/hooks/zammad/{connection}`: a Zammad trigger's webhook delivery.
///
/// Served by the generic route `POST /v1/hooks/{provider}/{connection}` (the router has no entry
/// of its own for it); this item only keeps the operation, with Zammad's headers spelled out, in
/// the OpenAPI document under its old operation id.
///
/// An unknown connection answers exactly like a wrong signature (401 `bad_signature`), so the
/// endpoint does not tell which connection ids exist.
#[utoipa::path(post, path = "/v1/hooks/zammad/{connection}", tag = "connections",
    operation_id = "hook",
    params(("connection" = String, Path, description = "connection id"),
        ("X-Hub-Signature" = String, Header, description = "sha1=<hex HMAC-SHA1(webhook secret, raw body)>"),
        ("X-Zammad-Delivery" = String, Header, description = "delivery id, stable across retries"),
        ("X-Zammad-Trigger" = Option<String>, Header, description = "trigger name")),
    request_body(content = Object, description = "Zammad's trigger payload (`ticket`, `article`, …)"),
    responses((status = 200, body = HookAccepted),
        (status = 400, body = ErrorBody),
        (status = 401, description = "missing or wrong signature, or unknown connection (also on a relay without a master key, which can open no webhook secret)", body = ErrorBody)))]
#[allow(
    dead_code,
    reason = "documentation only: the generic hook route serves this path"
)]
pub(crate) fn zammad_hook() {}
