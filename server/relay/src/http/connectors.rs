//! Connector routes: mappings, pause/resume, run now, status, the audit log and lookups of a
//! connection (`/v1/connections/{id}/…`), and the conflict inbox (`/v1/conflicts`). Thin: each
//! handler calls the connectors service for the caller's account.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tacho_model::api::ErrorBody;

use super::error::ApiResult;
use super::extract::Auth;
use crate::connections::ConnectionView;
use crate::connectors::api::{
    AuditLog, ConflictList, ConnectorStatus, LookupList, MappingBody, MappingList, MappingView,
    ResolveBody,
};
use crate::state::AppState;

/// `PUT /v1/connections/{id}/mappings/{project_id}`: where a project's hours go.
#[utoipa::path(put, path = "/v1/connections/{id}/mappings/{project_id}", operation_id = "put_mapping",
    tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "connection id"),
        ("project_id" = String, Path, description = "Tacho project id")),
    request_body = MappingBody,
    responses((status = 200, body = MappingView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = ErrorBody),
        (status = 422, description = "invalid_target (with the parse message) or unknown_project", body = ErrorBody)))]
pub async fn put_mapping(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path((id, project)): Path<(String, String)>,
    body: Result<Json<MappingBody>, JsonRejection>,
) -> ApiResult<Json<MappingView>> {
    let Json(body) = body?;
    let view = state
        .connectors()
        .put_mapping(claims.account, &id, &project, body)
        .await?;
    Ok(Json(view))
}

/// `GET /v1/connections/{id}/mappings`.
#[utoipa::path(get, path = "/v1/connections/{id}/mappings", operation_id = "list_mappings",
    tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "connection id")),
    responses((status = 200, body = MappingList),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = ErrorBody)))]
pub async fn list_mappings(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<MappingList>> {
    Ok(Json(
        state.connectors().mappings(claims.account, &id).await?,
    ))
}

/// `DELETE /v1/connections/{id}/mappings/{project_id}`: the project's pushed entries are
/// deleted remotely.
#[utoipa::path(delete, path = "/v1/connections/{id}/mappings/{project_id}", operation_id = "delete_mapping",
    tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "connection id"),
        ("project_id" = String, Path, description = "Tacho project id")),
    responses((status = 204),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection or mapping", body = ErrorBody)))]
pub async fn delete_mapping(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path((id, project)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .connectors()
        .delete_mapping(claims.account, &id, &project)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/connections/{id}/pause`: nothing is sent until resumed; work is kept.
#[utoipa::path(post, path = "/v1/connections/{id}/pause", operation_id = "pause_connection",
    tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "connection id")),
    responses((status = 200, body = ConnectionView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = ErrorBody)))]
pub async fn pause(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let conn = state
        .connectors()
        .set_paused(claims.account, &id, true)
        .await?;
    Ok(Json(conn.into()))
}

/// `POST /v1/connections/{id}/resume`: active again (also after a disabled state or a spent
/// quota); its kept work is pushed.
#[utoipa::path(post, path = "/v1/connections/{id}/resume", operation_id = "resume_connection",
    tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "connection id")),
    responses((status = 200, body = ConnectionView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = ErrorBody)))]
pub async fn resume(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let conn = state
        .connectors()
        .set_paused(claims.account, &id, false)
        .await?;
    Ok(Json(conn.into()))
}

/// `POST /v1/connections/{id}/run`: push and pull now (entries in error are retried).
#[utoipa::path(post, path = "/v1/connections/{id}/run", operation_id = "run_connection",
    tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "connection id")),
    responses((status = 202, description = "push and pull enqueued"),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = ErrorBody)))]
pub async fn run(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.connectors().run(claims.account, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /v1/connections/{id}/status`.
#[utoipa::path(get, path = "/v1/connections/{id}/status", operation_id = "connection_status",
    tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "connection id")),
    responses((status = 200, body = ConnectorStatus),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectorStatus>> {
    Ok(Json(state.connectors().status(claims.account, &id).await?))
}

/// Query of `GET /v1/connections/{id}/log`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Most rows (1 to 1000; 100).
    pub limit: Option<i64>,
}

/// `GET /v1/connections/{id}/log?limit=N`: the audit log, newest first.
#[utoipa::path(get, path = "/v1/connections/{id}/log", operation_id = "connection_log",
    tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "connection id"), LogQuery),
    responses((status = 200, body = AuditLog),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = ErrorBody),
        (status = 422, description = "invalid_limit", body = ErrorBody)))]
pub async fn log(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> ApiResult<Json<AuditLog>> {
    let Query(query) = query?;
    Ok(Json(
        state
            .connectors()
            .log(claims.account, &id, query.limit)
            .await?,
    ))
}

/// Query of the lookups.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LookupQuery {
    /// Fetch now instead of answering from the 10-minute cache.
    #[serde(default)]
    pub refresh: bool,
}

/// `GET /v1/connections/{id}/lookups/{what}`: projects, tasks, customers, activities or types
/// of the service, for pickers.
#[utoipa::path(get, path = "/v1/connections/{id}/lookups/{what}", operation_id = "connection_lookup",
    tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "connection id"),
        ("what" = String, Path, description = "projects, tasks, customers, activities or types"),
        LookupQuery),
    responses((status = 200, body = LookupList),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such connection of the caller's", body = ErrorBody),
        (status = 422, description = "invalid_lookup", body = ErrorBody),
        (status = 502, description = "lookup_failed: the service's answer", body = ErrorBody)))]
pub async fn lookup(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path((id, what)): Path<(String, String)>,
    query: Result<Query<LookupQuery>, QueryRejection>,
) -> ApiResult<Json<LookupList>> {
    let Query(query) = query?;
    Ok(Json(
        state
            .connectors()
            .lookup(claims.account, &id, &what, query.refresh)
            .await?,
    ))
}

/// `GET /v1/conflicts`: the caller's open conflicts.
#[utoipa::path(get, path = "/v1/conflicts", operation_id = "list_conflicts",
    tag = "connectors", security(("bearer" = [])),
    responses((status = 200, body = ConflictList),
        (status = 401, body = ErrorBody)))]
pub async fn conflicts(
    State(state): State<AppState>,
    Auth(claims): Auth,
) -> ApiResult<Json<ConflictList>> {
    Ok(Json(state.connectors().conflicts(claims.account).await?))
}

/// `POST /v1/conflicts/{id}/resolve`.
#[utoipa::path(post, path = "/v1/conflicts/{id}/resolve", operation_id = "resolve_conflict",
    tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "conflict id")),
    request_body = ResolveBody,
    responses((status = 204),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such conflict of the caller's", body = ErrorBody),
        (status = 409, description = "already_resolved", body = ErrorBody),
        (status = 422, description = "invalid_action or unsupported_action", body = ErrorBody)))]
pub async fn resolve(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
    body: Result<Json<ResolveBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let Json(body) = body?;
    state
        .connectors()
        .resolve(claims.account, &id, body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
