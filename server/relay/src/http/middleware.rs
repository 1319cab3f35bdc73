//! Abuse limits around every route: per-class rate limits (budgets and limiters in
//! `crate::limits`), a time limit per request (body upload included), the path rule, CORS by
//! explicit allowlist, and security headers on every answer. The body size limit is
//! `DefaultBodyLimit` in [`super::router`].

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tacho_model::api::code;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::error::ApiError;
use crate::limits::{Class, classify};
use crate::state::AppState;

/// Middleware: classifies, keys and counts the request; 429 `rate_limited` with `Retry-After`
/// when the budget is spent.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let claims = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .and_then(|t| state.accounts().tokens().verify(t.trim()).ok());
    let class = classify(req.method(), req.uri().path(), claims.is_some());
    let key = match (&claims, class) {
        (Some(c), Class::Sync) => format!("device:{}", c.device),
        (Some(c), _) => format!("account:{}", c.account),
        (None, _) => {
            // The socket peer, not X-Forwarded-For: a header is whatever the client says.
            let peer = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
            format!("ip:{peer}")
        }
    };
    match state.limiters().check(class, &key) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let secs = secs.max(1);
            let mut res = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                code::RATE_LIMITED,
                format!("too many requests; retry in {secs} s"),
            )
            .with("retry_after_s", secs)
            .into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            res
        }
    }
}

/// Middleware: the path and query, percent-decoded, must be UTF-8 without control characters
/// (400 `invalid_text`, `field` `path` or `query`), and no path segment may be longer than
/// [`tacho_model::api::limits::ID`] (400 `text_too_long`). Every id taken from a path (hook
/// tokens, connections, webhook deliveries, OpenID providers) is thereby checked in one place,
/// before a handler or the database sees it (PostgreSQL refuses U+0000 where SQLite takes it).
pub async fn path_text(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let parts = [("path", uri.path()), ("query", uri.query().unwrap_or(""))];
    for (field, raw) in parts {
        let decoded = percent_encoding::percent_decode_str(raw).decode_utf8();
        let Ok(text) = decoded else {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_TEXT,
                format!("the {field} is not UTF-8 once percent-decoded"),
            )
            .with("field", field)
            .into_response();
        };
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_TEXT,
                format!(
                    "the {field} must not contain control characters (found U+{:04X})",
                    u32::from(c)
                ),
            )
            .with("field", field)
            .into_response();
        }
        let max = tacho_model::api::limits::ID;
        if field == "path" && text.split('/').any(|s| s.chars().count() > max) {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                code::TEXT_TOO_LONG,
                format!("path segments must be at most {max} characters"),
            )
            .with("field", field)
            .with("max_length", max)
            .into_response();
        }
    }
    next.run(req).await
}

/// Middleware: a request (reading its body included) that takes longer than the configured
/// time limit gets 408 `request_timeout`.
pub async fn time_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config().request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("request took longer than {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

/// Middleware: security headers on every answer; `Cache-Control: no-store` on everything that
/// carries tokens or connection details.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    if state.config().hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if path.starts_with("/v1/auth/")
        || path == "/v1/devices"
        || path.starts_with("/v1/devices/")
        || path == "/v1/connections"
        || path.starts_with("/v1/connections/")
        || path.starts_with("/v1/account/")
    {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// CORS for the configured origins; `None` (no CORS headers) when the list is empty.
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim().trim_end_matches('/')).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}
