//! Account routes: sign-up, login, refresh, logout, device sessions, export and deletion.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tacho_model::api::{
    Credentials, DeviceInfo, DeviceList, DeviceRename, DeviceSessionRequest, ErrorBody,
    RefreshRequest, Session,
};

use super::error::ApiResult;
use super::extract::Auth;
use crate::accounts::export::DeleteAccount;
use crate::state::AppState;

/// `POST /v1/auth/signup`: creates an account with its space and binds the device.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth",
    request_body = Credentials,
    responses(
        (status = 201, body = Session),
        (status = 403, description = "registration_closed", body = ErrorBody),
        (status = 409, description = "email_taken / device_taken", body = ErrorBody),
        (status = 422, description = "weak_password / bad_email / invalid_text / text_too_long (with `field`)", body = ErrorBody),
    ))]
pub async fn signup(
    State(state): State<AppState>,
    body: Result<Json<Credentials>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let Json(req) = body?;
    let session = state.accounts().signup(req).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// `POST /v1/auth/login`: a new session (and refresh family) for a device of the account.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, body = Session),
        (status = 401, description = "bad_credentials", body = ErrorBody),
        (status = 409, description = "device_taken", body = ErrorBody),
        (status = 422, description = "invalid_text / text_too_long (with `field`)", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    body: Result<Json<Credentials>, JsonRejection>,
) -> ApiResult<Json<Session>> {
    let Json(req) = body?;
    Ok(Json(state.accounts().login(req).await?))
}

/// `POST /v1/auth/refresh`: spends the refresh token and returns the next session of its family.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = Session),
        (status = 401, description = "refresh_reused (family revoked) / bad_token", body = ErrorBody),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> ApiResult<Json<Session>> {
    let Json(req) = body?;
    Ok(Json(state.accounts().refresh(req).await?))
}

/// `POST /v1/auth/logout`: ends the calling device's session at once — its refresh tokens and
/// every access token issued to it so far are refused from now on (401 `signed_out`).
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(State(state): State<AppState>, Auth(claims): Auth) -> ApiResult<StatusCode> {
    state.accounts().logout(&claims).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/devices/session`: a session for another device of the caller's account.
#[utoipa::path(post, path = "/v1/devices/session", tag = "devices",
    request_body = DeviceSessionRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = Session),
        (status = 401, body = ErrorBody),
        (status = 409, description = "device_taken", body = ErrorBody),
        (status = 422, description = "invalid_text / text_too_long (with `field`)", body = ErrorBody),
    ))]
pub async fn device_session(
    State(state): State<AppState>,
    Auth(claims): Auth,
    body: Result<Json<DeviceSessionRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let Json(req) = body?;
    let session = state.accounts().device_session(&claims, req).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// `GET /v1/account/export`: a zip archive with `account.json`, `devices.json`, one
/// `<entity>.json` per entity kind (the merged state: `[{id, deleted, fields}]`) and
/// `gpx/<trip id>.gpx` per trip with points in the log.
#[utoipa::path(get, path = "/v1/account/export", tag = "privacy",
    security(("bearer" = [])),
    responses(
        (status = 200, content_type = "application/zip", description = "the archive"),
        (status = 401, body = ErrorBody),
    ))]
pub async fn export(State(state): State<AppState>, Auth(claims): Auth) -> ApiResult<Response> {
    let archive = state.accounts().export(&claims).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"tacho-export-{}.zip\"",
                    archive.account
                ),
            ),
        ],
        archive.bytes,
    )
        .into_response())
}

/// `DELETE /v1/account`: deletes the account and everything in it, in one transaction, after
/// checking the password again (or, for an account without one, a fresh OpenID sign-in on the
/// calling device). Its access tokens fail from then on.
#[utoipa::path(delete, path = "/v1/account", tag = "privacy",
    request_body = DeleteAccount,
    security(("bearer" = [])),
    responses(
        (status = 204),
        (status = 401, description = "bad_credentials (wrong password) / reauth_required (no password and no OpenID sign-in on this device in the last 10 minutes) / bad_token", body = ErrorBody),
    ))]
pub async fn delete_account(
    State(state): State<AppState>,
    Auth(claims): Auth,
    body: Result<Json<DeleteAccount>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let Json(req) = body?;
    state.accounts().delete_account(&claims, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/devices`: the devices of the caller's account, oldest first (`current` marks the
/// caller; revoked ones carry `revoked_at`).
#[utoipa::path(get, path = "/v1/devices", tag = "devices",
    security(("bearer" = [])),
    responses((status = 200, body = DeviceList), (status = 401, body = ErrorBody)))]
pub async fn list_devices(
    State(state): State<AppState>,
    Auth(claims): Auth,
) -> ApiResult<Json<DeviceList>> {
    Ok(Json(state.accounts().devices(&claims).await?))
}

/// `PATCH /v1/devices/{device_id}`: renames a device of the caller's account.
#[utoipa::path(patch, path = "/v1/devices/{device_id}", tag = "devices",
    params(("device_id" = String, Path, description = "the device's id")),
    request_body = DeviceRename,
    security(("bearer" = [])),
    responses(
        (status = 200, body = DeviceInfo),
        (status = 401, body = ErrorBody),
        (status = 404, description = "not_found (also for other accounts' devices)", body = ErrorBody),
        (status = 422, description = "invalid_body (empty name) / invalid_text / text_too_long (with `field`)", body = ErrorBody),
    ))]
pub async fn rename_device(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(device_id): Path<String>,
    body: Result<Json<DeviceRename>, JsonRejection>,
) -> ApiResult<Json<DeviceInfo>> {
    let Json(req) = body?;
    Ok(Json(
        state
            .accounts()
            .rename_device(&claims, &device_id, &req)
            .await?,
    ))
}

/// `DELETE /v1/devices/{device_id}`: revokes another device of the caller's account: its refresh
/// tokens are revoked, its access tokens answered 401 `device_revoked` from now on (on every instance),
/// and its id can't sign in again; its ops stay in the log.
#[utoipa::path(delete, path = "/v1/devices/{device_id}", tag = "devices",
    params(("device_id" = String, Path, description = "the device's id")),
    security(("bearer" = [])),
    responses(
        (status = 204),
        (status = 401, description = "bad_token / device_revoked", body = ErrorBody),
        (status = 404, description = "not_found (also for other accounts' devices)", body = ErrorBody),
        (status = 409, description = "current_device (a device can't revoke itself; log out instead)", body = ErrorBody),
    ))]
pub async fn revoke_device(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(device_id): Path<String>,
) -> ApiResult<StatusCode> {
    state.accounts().revoke_device(&claims, &device_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
