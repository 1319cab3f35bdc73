//! Abuse limits around every route: per-class rate limits keyed by the verified token's account or
//! device (anonymous requests by the peer's socket address, never by a forwarded-for header),
//! a time limit per request (body upload included), CORS by explicit allowlist, and security
//! headers on every answer. The body size limit is `DefaultBodyLimit` in [`crate::router`].

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tacho_model::api::code;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::AppState;
use crate::error::ApiError;

/// One class's budget: `per_hour` requests per hour, refilled evenly, of which up to `burst` may
/// come at once. `per_hour == 0` switches the class's limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassLimit {
    /// Sustained requests per hour.
    pub per_hour: u32,
    /// Requests allowed back to back before the hourly rate applies.
    pub burst: u32,
}

impl ClassLimit {
    /// `per_hour` per hour, all of it usable at once.
    pub const fn per_hour(per_hour: u32) -> Self {
        Self {
            per_hour,
            burst: per_hour,
        }
    }

    /// No limit.
    pub const OFF: Self = Self {
        per_hour: 0,
        burst: 0,
    };

    fn quota(self) -> Option<Quota> {
        let burst = NonZeroU32::new(self.burst.max(1))?;
        let per_hour = u64::from(self.per_hour);
        if per_hour == 0 {
            return None;
        }
        let period = Duration::from_nanos(3_600_000_000_000 / per_hour);
        Quota::with_period(period).map(|q| q.allow_burst(burst))
    }
}

/// Budgets of every class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests without a valid access token, per peer IP address (sign-up, login, refresh,
    /// webhooks, …).
    pub anonymous: ClassLimit,
    /// Other authenticated requests, per account.
    pub authenticated: ClassLimit,
    /// Approval actions (`/v1/approvals…`, `…/approve`, `…/reject`), per account.
    pub approvals: ClassLimit,
    /// Data exports (`/v1/account/export…`), per account.
    pub exports: ClassLimit,
    /// Sync traffic (`/v1/push`, `/v1/pull`, `/v1/sync`, `/v1/snapshot`), per device.
    pub sync: ClassLimit,
}

impl Default for RateLimits {
    /// anonymous 100/h, authenticated 1000/h, approvals 10/h, exports 20/h, sync 36 000/h per
    /// device with bursts of 1 200.
    fn default() -> Self {
        Self {
            anonymous: ClassLimit::per_hour(100),
            authenticated: ClassLimit::per_hour(1000),
            approvals: ClassLimit::per_hour(10),
            exports: ClassLimit::per_hour(20),
            sync: ClassLimit {
                per_hour: 36_000,
                burst: 1_200,
            },
        }
    }
}

impl RateLimits {
    /// Every class off (load tests).
    pub const fn unlimited() -> Self {
        Self {
            anonymous: ClassLimit::OFF,
            authenticated: ClassLimit::OFF,
            approvals: ClassLimit::OFF,
            exports: ClassLimit::OFF,
            sync: ClassLimit::OFF,
        }
    }
}

/// The class a request is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// No valid access token.
    Anonymous,
    /// Valid token, no more specific class.
    Authenticated,
    /// Approving or rejecting.
    Approvals,
    /// Exports.
    Exports,
    /// Sync.
    Sync,
    /// Not limited: health checks and preflights.
    Exempt,
}

/// Classifies by method and path; `authenticated` says whether a valid access token came along.
pub fn classify(method: &Method, path: &str, authenticated: bool) -> Class {
    if method == Method::OPTIONS || matches!(path, "/healthz" | "/readyz") {
        return Class::Exempt;
    }
    if !authenticated {
        return Class::Anonymous;
    }
    let path = path.trim_end_matches('/');
    if matches!(path, "/v1/push" | "/v1/pull" | "/v1/sync" | "/v1/snapshot") {
        Class::Sync
    } else if path.starts_with("/v1/account/export") {
        Class::Exports
    } else if path.starts_with("/v1/approvals")
        || path.ends_with("/approve")
        || path.ends_with("/reject")
    {
        Class::Approvals
    } else {
        Class::Authenticated
    }
}

/// One keyed limiter per class, made from [`RateLimits`].
pub struct Limiters {
    anonymous: Option<DefaultKeyedRateLimiter<String>>,
    authenticated: Option<DefaultKeyedRateLimiter<String>>,
    approvals: Option<DefaultKeyedRateLimiter<String>>,
    exports: Option<DefaultKeyedRateLimiter<String>>,
    sync: Option<DefaultKeyedRateLimiter<String>>,
    checks: AtomicU64,
}

impl Limiters {
    /// Limiters for `limits`.
    pub fn new(limits: &RateLimits) -> Self {
        let make = |l: ClassLimit| l.quota().map(RateLimiter::keyed);
        Self {
            anonymous: make(limits.anonymous),
            authenticated: make(limits.authenticated),
            approvals: make(limits.approvals),
            exports: make(limits.exports),
            sync: make(limits.sync),
            checks: AtomicU64::new(0),
        }
    }

    fn all(&self) -> [&Option<DefaultKeyedRateLimiter<String>>; 5] {
        [
            &self.anonymous,
            &self.authenticated,
            &self.approvals,
            &self.exports,
            &self.sync,
        ]
    }

    /// Counts one request of `class` for `key`; `Err(wait)` when over budget.
    pub fn check(&self, class: Class, key: &str) -> Result<(), Duration> {
        let limiter = match class {
            Class::Anonymous => &self.anonymous,
            Class::Authenticated => &self.authenticated,
            Class::Approvals => &self.approvals,
            Class::Exports => &self.exports,
            Class::Sync => &self.sync,
            Class::Exempt => &None,
        };
        // Forget keys whose budget is full again now and then, so memory stays bounded.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            for l in self.all().into_iter().flatten() {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }
}

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
        .and_then(|t| {
            crate::tokens::verify(&state.token_key, t.trim(), crate::storage::now_ms()).ok()
        });
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
    match state.limiters.check(class, &key) {
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
    let limit = state.config.request_timeout;
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
    if state.config.hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if path.starts_with("/v1/auth/")
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
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_by_path() {
        let get = Method::GET;
        assert_eq!(classify(&get, "/healthz", false), Class::Exempt);
        assert_eq!(classify(&Method::OPTIONS, "/v1/push", false), Class::Exempt);
        assert_eq!(classify(&get, "/v1/push", false), Class::Anonymous);
        assert_eq!(classify(&get, "/v1/pull", true), Class::Sync);
        assert_eq!(classify(&get, "/v1/account/export", true), Class::Exports);
        assert_eq!(
            classify(&Method::POST, "/v1/approvals/x/approve", true),
            Class::Approvals
        );
        assert_eq!(
            classify(&get, "/v1/connections/zammad/x", true),
            Class::Authenticated
        );
        // OpenID sign-in counts like sign-up and login (anonymous), or as the caller when a
        // bearer links an identity.
        for step in ["start", "finish", "nonce", "id-token"] {
            let path = format!("/v1/auth/oidc/google/{step}");
            assert_eq!(classify(&Method::POST, &path, false), Class::Anonymous);
            assert_eq!(classify(&Method::POST, &path, true), Class::Authenticated);
        }
    }

    #[test]
    fn a_class_limits_at_its_number_per_key() {
        let limits = Limiters::new(&RateLimits {
            exports: ClassLimit::per_hour(3),
            ..RateLimits::default()
        });
        for _ in 0..3 {
            assert!(limits.check(Class::Exports, "a").is_ok());
        }
        let wait = limits.check(Class::Exports, "a").err();
        assert!(
            wait.is_some_and(|w| w > Duration::from_secs(60)),
            "{wait:?}"
        );
        assert!(limits.check(Class::Exports, "b").is_ok());
        assert!(limits.check(Class::Exempt, "a").is_ok());
        let off = Limiters::new(&RateLimits::unlimited());
        for _ in 0..10_000 {
            assert!(off.check(Class::Anonymous, "a").is_ok());
        }
    }
}
