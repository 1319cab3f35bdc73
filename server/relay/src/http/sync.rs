//! Sync routes: push, pull (long-poll), snapshot and the combined sync call.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};

use super::error::ApiResult;
use super::extract::Auth;
use crate::state::AppState;
use crate::sync::{
    PullQuery, PullResult, PushRequest, PushResult, SnapshotResult, SyncRequest, SyncResult,
};
use tacho_model::api::ErrorBody;

/// `POST /v1/push`: appends the calling device's ops to its space.
#[utoipa::path(post, path = "/v1/push", tag = "sync",
    request_body = PushRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = PushResult),
        (status = 403, description = "wrong_device", body = ErrorBody),
        (status = 409, description = "seq_gap, with expected_seq", body = ErrorBody),
        (status = 422, description = "invalid_op (with op_id, index and, when the refusal is about one field by the field schema, field) or period_locked (a change to a locked month made after the lock; with op_id, index and entity_state)", body = ErrorBody),
    ))]
pub async fn push(
    State(state): State<AppState>,
    Auth(claims): Auth,
    body: Result<Json<PushRequest>, JsonRejection>,
) -> ApiResult<Json<PushResult>> {
    let Json(req) = body?;
    Ok(Json(state.sync().push(&claims, &req.ops).await?))
}

/// `GET /v1/pull`: ops after a cursor, optionally long-polling.
#[utoipa::path(get, path = "/v1/pull", tag = "sync",
    params(PullQuery),
    security(("bearer" = [])),
    responses((status = 200, body = PullResult), (status = 401, body = ErrorBody)))]
pub async fn pull(
    State(state): State<AppState>,
    Auth(claims): Auth,
    query: Result<Query<PullQuery>, QueryRejection>,
) -> ApiResult<Json<PullResult>> {
    let Query(q) = query?;
    let page = state
        .sync()
        .pull(claims.space, q.cursor, q.limit, q.wait)
        .await?;
    Ok(Json(page))
}

/// `GET /v1/snapshot`: every op of the space up to its head.
#[utoipa::path(get, path = "/v1/snapshot", tag = "sync",
    security(("bearer" = [])),
    responses((status = 200, body = SnapshotResult), (status = 401, body = ErrorBody)))]
pub async fn snapshot(
    State(state): State<AppState>,
    Auth(claims): Auth,
) -> ApiResult<Json<SnapshotResult>> {
    Ok(Json(state.sync().snapshot(claims.space).await?))
}

/// `POST /v1/sync`: a push followed by a pull, in one round trip.
#[utoipa::path(post, path = "/v1/sync", tag = "sync",
    request_body = SyncRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = SyncResult),
        (status = 403, description = "wrong_device", body = ErrorBody),
        (status = 409, description = "seq_gap", body = ErrorBody),
        (status = 422, description = "invalid_op, with op_id, index and field (see push)", body = ErrorBody),
    ))]
pub async fn sync(
    State(state): State<AppState>,
    Auth(claims): Auth,
    body: Result<Json<SyncRequest>, JsonRejection>,
) -> ApiResult<Json<SyncResult>> {
    let Json(req) = body?;
    Ok(Json(state.sync().sync(&claims, &req).await?))
}
