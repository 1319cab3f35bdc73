//! OpenID routes: start/finish (system browser) and nonce/id-token (platform SDK). The flows are
//! the oidc service's; these only extract and answer.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tacho_model::api::{ErrorBody, Session};

use super::error::ApiResult;
use super::extract::Auth;
use crate::oidc::{FinishRequest, IdTokenRequest, NonceAnswer, SignIn, StartAnswer, StartRequest};
use crate::state::AppState;

/// 201 when the sign-in made a new account, else 200.
fn answer(signed_in: SignIn) -> (StatusCode, Json<Session>) {
    let status = if signed_in.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(signed_in.session))
}

/// `POST /v1/auth/oidc/{provider}/start`: begins a system-browser sign-in.
#[utoipa::path(post, path = "/v1/auth/oidc/{provider}/start", tag = "auth",
    params(("provider" = String, Path, description = "a provider id from GET /v1/capabilities")),
    request_body = StartRequest,
    responses(
        (status = 200, body = StartAnswer),
        (status = 400, description = "redirect_uri_mismatch / invalid_code_challenge / malformed_json", body = ErrorBody),
        (status = 404, description = "unknown_provider", body = ErrorBody),
        (status = 502, description = "provider_unavailable (discovery failed)", body = ErrorBody),
    ))]
pub async fn start(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    body: Result<Json<StartRequest>, JsonRejection>,
) -> ApiResult<Json<StartAnswer>> {
    let provider = state.oidc().provider(&provider)?;
    let Json(req) = body?;
    Ok(Json(state.oidc().start(&provider, req).await?))
}

/// `POST /v1/auth/oidc/{provider}/finish`: redeems the code of a started login and signs in (or,
/// with a bearer token, links the identity to the caller's account).
#[utoipa::path(post, path = "/v1/auth/oidc/{provider}/finish", tag = "auth",
    params(("provider" = String, Path, description = "the provider the login was started at")),
    request_body = FinishRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "signed in (or linked)", body = Session),
        (status = 201, description = "signed up: a new account was created", body = Session),
        (status = 400, description = "invalid_state (unknown, expired or used) / invalid_grant (verifier does not match the challenge)", body = ErrorBody),
        (status = 401, description = "code_rejected (the provider refused the code) / invalid_id_token / bad_token", body = ErrorBody),
        (status = 403, description = "email_unverified / registration_closed / domain_not_allowed", body = ErrorBody),
        (status = 404, description = "unknown_provider", body = ErrorBody),
        (status = 409, description = "link_required / identity_taken / device_taken", body = ErrorBody),
        (status = 422, description = "invalid_text / text_too_long (with `field`)", body = ErrorBody),
        (status = 502, description = "provider_unavailable", body = ErrorBody),
    ))]
pub async fn finish(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    caller: Option<Auth>,
    body: Result<Json<FinishRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let provider = state.oidc().provider(&provider)?;
    let Json(req) = body?;
    let signed_in = state
        .oidc()
        .finish(&provider, caller.map(|Auth(c)| c), req)
        .await?;
    Ok(answer(signed_in))
}

/// `POST /v1/auth/oidc/{provider}/nonce`: a single-use nonce for the ID-token exchange.
#[utoipa::path(post, path = "/v1/auth/oidc/{provider}/nonce", tag = "auth",
    params(("provider" = String, Path, description = "a provider id from GET /v1/capabilities")),
    responses(
        (status = 200, body = NonceAnswer),
        (status = 404, description = "unknown_provider", body = ErrorBody),
    ))]
pub async fn nonce(
    State(state): State<AppState>,
    Path(provider): Path<String>,
) -> ApiResult<Json<NonceAnswer>> {
    let provider = state.oidc().provider(&provider)?;
    Ok(Json(state.oidc().nonce(&provider).await?))
}

/// `POST /v1/auth/oidc/{provider}/id-token`: signs in with an ID token the app got from the
/// platform SDK (or links it, with a bearer token).
#[utoipa::path(post, path = "/v1/auth/oidc/{provider}/id-token", tag = "auth",
    params(("provider" = String, Path, description = "the provider that issued the token")),
    request_body = IdTokenRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "signed in (or linked)", body = Session),
        (status = 201, description = "signed up: a new account was created", body = Session),
        (status = 400, description = "invalid_nonce (unknown, expired or used) / malformed_json", body = ErrorBody),
        (status = 401, description = "invalid_id_token (signature / issuer / audience / expired / nonce) / bad_token", body = ErrorBody),
        (status = 403, description = "email_unverified / registration_closed / domain_not_allowed", body = ErrorBody),
        (status = 404, description = "unknown_provider", body = ErrorBody),
        (status = 409, description = "link_required / identity_taken / device_taken", body = ErrorBody),
        (status = 422, description = "invalid_text / text_too_long (with `field`)", body = ErrorBody),
        (status = 502, description = "provider_unavailable", body = ErrorBody),
    ))]
pub async fn id_token(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    caller: Option<Auth>,
    body: Result<Json<IdTokenRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let provider = state.oidc().provider(&provider)?;
    let Json(req) = body?;
    let signed_in = state
        .oidc()
        .id_token(&provider, caller.map(|Auth(c)| c), req)
        .await?;
    Ok(answer(signed_in))
}
