//! Extractors: who is calling. They read the headers and hand the credential to the service that
//! checks it (accounts for access tokens, automation for hook tokens).

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

use super::error::{ApiError, ApiResult};
use crate::accounts::tokens::Claims;
use crate::automation::{HookCaller, TOKEN_PREFIX};
use crate::state::AppState;

/// The caller of an authenticated route, taken from a valid `Authorization: Bearer` header.
#[derive(Debug, Clone)]
pub struct Auth(pub Claims);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthorized("missing_token", "Authorization: Bearer <token> required")
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "bad_token",
                    "expected a Bearer token",
                )
            })?;
        Ok(Self(state.accounts().authenticate(token.trim()).await?))
    }
}

/// The caller's access token when a request carries one: OpenID calls with a valid bearer link
/// the identity to the caller's account. A bearer that is present but invalid is refused, never
/// ignored (the caller meant to link).
impl OptionalFromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            <Self as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}

/// The caller of a hook event route: a live hook token from `Authorization: Bearer`. Tokens in
/// the query string are refused (they end up in logs and browser histories).
#[derive(Debug, Clone)]
pub struct HookAuth(pub HookCaller);

impl FromRequestParts<AppState> for HookAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        if let Some(q) = parts.uri.query().filter(|q| !q.is_empty()) {
            let looks_like_token = q.contains(TOKEN_PREFIX) || q.to_lowercase().contains("token");
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                if looks_like_token {
                    "token_in_query"
                } else {
                    "unexpected_query"
                },
                "hook routes take no query string; send the token as Authorization: Bearer and the event as a JSON body",
            ));
        }
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("missing_token", "Authorization: Bearer tho_… required")
            })?;
        Ok(Self(state.automation().authenticate(token).await?))
    }
}
