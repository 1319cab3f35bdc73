//! Hook routes: hook token management (with the person's access token) and the trip events
//! Shortcuts send (with a hook token).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tacho_model::api::ErrorBody;

use super::error::{ApiError, ApiResult};
use super::extract::{Auth, HookAuth};
use crate::automation::{
    CreateHookToken, CreatedHookToken, EventKind, HookAnswer, HookEvent, HookTokenList,
};
use crate::state::AppState;

/// `POST /v1/hooks/tokens`: makes a hook token; the answer is the only time it is shown.
#[utoipa::path(post, path = "/v1/hooks/tokens", tag = "hooks",
    request_body = CreateHookToken,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CreatedHookToken),
        (status = 401, body = ErrorBody),
        (status = 422, description = "unknown_car / invalid_text / text_too_long (with `field`)", body = ErrorBody),
    ))]
pub async fn create_token(
    State(state): State<AppState>,
    Auth(claims): Auth,
    body: Result<Json<serde_json::Map<String, serde_json::Value>>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CreatedHookToken>)> {
    // Read as an object first: serde would also take a JSON array for this all-optional struct
    // (`[null, null]`), which the schema does not allow (found by schemathesis).
    let Json(object) = body?;
    let req: CreateHookToken =
        serde_json::from_value(serde_json::Value::Object(object)).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("bad hook token request: {e}"),
            )
        })?;
    let created = state.automation().create_token(&claims, req).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /v1/hooks/tokens`: the caller's hook tokens (never the secrets).
#[utoipa::path(get, path = "/v1/hooks/tokens", tag = "hooks",
    security(("bearer" = [])),
    responses((status = 200, body = HookTokenList), (status = 401, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Auth(claims): Auth,
) -> ApiResult<Json<HookTokenList>> {
    Ok(Json(state.automation().list_tokens(&claims).await?))
}

/// `DELETE /v1/hooks/tokens/{id}`: revokes a hook token at once. Another account's id is 404.
#[utoipa::path(delete, path = "/v1/hooks/tokens/{id}", tag = "hooks",
    params(("id" = Uuid, Path, description = "token id")),
    security(("bearer" = [])),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 404, description = "not_found (also for other accounts' ids)", body = ErrorBody),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.automation().revoke_token(&claims, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/hooks/trip/start`.
#[utoipa::path(post, path = "/v1/hooks/trip/start", tag = "hooks",
    request_body = HookEvent,
    security(("hook" = [])),
    responses(
        (status = 200, body = HookAnswer),
        (status = 400, description = "token_in_query", body = ErrorBody),
        (status = 401, description = "missing_token / bad_token", body = ErrorBody),
        (status = 403, description = "car_out_of_scope", body = ErrorBody),
        (status = 422, description = "event_time_out_of_window / bad_position / bad_event_id / invalid_text / text_too_long (with `field`)", body = ErrorBody),
    ))]
pub async fn trip_start(
    State(state): State<AppState>,
    HookAuth(caller): HookAuth,
    body: Result<Json<HookEvent>, JsonRejection>,
) -> ApiResult<Json<HookAnswer>> {
    let Json(ev) = body?;
    Ok(Json(
        state
            .automation()
            .event(&caller, EventKind::Start, ev)
            .await?,
    ))
}

/// `POST /v1/hooks/trip/ping`.
#[utoipa::path(post, path = "/v1/hooks/trip/ping", tag = "hooks",
    request_body = HookEvent,
    security(("hook" = [])),
    responses(
        (status = 200, body = HookAnswer),
        (status = 401, body = ErrorBody),
        (status = 403, description = "car_out_of_scope", body = ErrorBody),
        (status = 409, description = "no_active_trip", body = ErrorBody),
        (status = 422, description = "missing_position / bad_position / event_time_out_of_window / invalid_text / text_too_long (with `field`)", body = ErrorBody),
    ))]
pub async fn trip_ping(
    State(state): State<AppState>,
    HookAuth(caller): HookAuth,
    body: Result<Json<HookEvent>, JsonRejection>,
) -> ApiResult<Json<HookAnswer>> {
    let Json(ev) = body?;
    Ok(Json(
        state
            .automation()
            .event(&caller, EventKind::Ping, ev)
            .await?,
    ))
}

/// `POST /v1/hooks/trip/end`.
#[utoipa::path(post, path = "/v1/hooks/trip/end", tag = "hooks",
    request_body = HookEvent,
    security(("hook" = [])),
    responses(
        (status = 200, body = HookAnswer),
        (status = 401, body = ErrorBody),
        (status = 403, description = "car_out_of_scope", body = ErrorBody),
        (status = 409, description = "no_active_trip", body = ErrorBody),
        (status = 422, description = "event_time_out_of_window / bad_position / invalid_text / text_too_long (with `field`)", body = ErrorBody),
    ))]
pub async fn trip_end(
    State(state): State<AppState>,
    HookAuth(caller): HookAuth,
    body: Result<Json<HookEvent>, JsonRejection>,
) -> ApiResult<Json<HookAnswer>> {
    let Json(ev) = body?;
    Ok(Json(
        state
            .automation()
            .event(&caller, EventKind::End, ev)
            .await?,
    ))
}
