//! Rate limits: the per-class budgets ([`RateLimits`], configured) and the keyed limiters that
//! count them. The middleware that classifies and keys each request (by the verified token's
//! account or device; anonymous requests by the peer's socket address, never by a forwarded-for
//! header) is `http::middleware`, with the time limit, CORS and the security headers.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::Method;
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

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
