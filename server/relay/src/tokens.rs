//! Access and refresh tokens.
//!
//! Access tokens are signed, so every instance can check them without the database; one cached
//! lookup (see [`LiveDevices`]) makes them die with their device or account. Format: `v1.<base64url(claims JSON)>.<base64url(HMAC-SHA256)>`. Refresh tokens are random,
//! stored only as SHA-256 hashes, and rotate: each use spends the token and returns a new one of
//! the same family; presenting a spent one revokes the family, since it means the token leaked.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row as _;
use tacho_model::api::code;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::storage::now_ms;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "v1.";

/// What an access token asserts: who, which space, which device, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Account id.
    #[serde(rename = "a")]
    pub account: Uuid,
    /// The account's space.
    #[serde(rename = "s")]
    pub space: Uuid,
    /// The device the token was issued to; pushes must come from it.
    #[serde(rename = "d")]
    pub device: Uuid,
    /// Expiry, Unix milliseconds.
    #[serde(rename = "e")]
    pub exp_ms: i64,
}

fn mac(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
}

/// Signs `claims` into a compact access token.
pub fn sign(key: &[u8], claims: &Claims) -> String {
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signed = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(payload));
    let mut m = mac(key);
    m.update(signed.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{signed}.{sig}")
}

/// Checks a token's signature in constant time, then its expiry.
pub fn verify(key: &[u8], token: &str, now_ms: i64) -> ApiResult<Claims> {
    let bad = || ApiError::unauthorized("bad_token", "access token is not valid");
    let (signed, sig) = token.rsplit_once('.').ok_or_else(bad)?;
    let payload = signed.strip_prefix(PREFIX).ok_or_else(bad)?;
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| bad())?;
    let mut m = mac(key);
    m.update(signed.as_bytes());
    m.verify_slice(&sig).map_err(|_| bad())?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| bad())?;
    if claims.exp_ms <= now_ms {
        return Err(ApiError::unauthorized(
            code::TOKEN_EXPIRED,
            "access token expired; refresh it",
        ));
    }
    Ok(claims)
}

/// A fresh refresh token: 32 random bytes, base64url.
pub fn new_refresh_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a refresh token; the token itself is never kept.
pub fn hash_refresh_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What sign-up, login, refresh and device sessions answer (shared with clients).
pub use tacho_model::api::Session;

/// Identifies a device binding for which a session is issued.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    /// Account id.
    pub account: Uuid,
    /// Its space.
    pub space: Uuid,
    /// The device.
    pub device: Uuid,
}

/// Issues an access token and stores a refresh token in `family` (a new family when `None`).
pub async fn issue_session(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    subject: Subject,
    family: Option<&str>,
) -> ApiResult<Session> {
    let now = now_ms();
    let ttl = i64::try_from(state.config.access_ttl.as_millis()).unwrap_or(i64::MAX);
    let exp_ms = now.saturating_add(ttl);
    let claims = Claims {
        account: subject.account,
        space: subject.space,
        device: subject.device,
        exp_ms,
    };
    let access_token = sign(&state.token_key, &claims);
    let refresh_token = new_refresh_token();
    let family = family.map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
    let refresh_ttl = i64::try_from(state.config.refresh_ttl.as_millis()).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO refresh_tokens (hash, family, device_id, account_id, spent, revoked, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, 0, 0, $5, $6)",
    )
    .bind(hash_refresh_token(&refresh_token))
    .bind(family)
    .bind(subject.device.to_string())
    .bind(subject.account.to_string())
    .bind(now)
    .bind(now.saturating_add(refresh_ttl))
    .execute(conn)
    .await?;
    Ok(Session {
        account_id: subject.account,
        space_id: subject.space,
        device_id: subject.device,
        access_token,
        access_expires_at: rfc3339(exp_ms),
        refresh_token,
    })
}

/// Formats Unix milliseconds as RFC 3339 UTC.
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A refresh token that was live and is now spent.
pub struct Spent {
    /// Who the token was issued to.
    pub subject: Subject,
    /// Its family, inherited by the replacement.
    pub family: String,
}

/// Spends a refresh token inside `conn`'s transaction, or explains why it can't be.
pub async fn spend_refresh_token(
    conn: &mut sqlx::AnyConnection,
    token: &str,
    grace_ms: i64,
) -> ApiResult<Spent> {
    let bad = || ApiError::unauthorized("bad_token", "refresh token is not valid");
    let hash = hash_refresh_token(token);
    let row = sqlx::query(
        "SELECT r.family, r.device_id, r.account_id, r.spent, r.revoked, r.expires_at, a.space_id \
         FROM refresh_tokens r JOIN accounts a ON a.id = r.account_id WHERE r.hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(bad)?;
    let family: String = row.try_get("family")?;
    let spent: i64 = row.try_get("spent")?;
    let revoked: i64 = row.try_get("revoked")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let now = now_ms();
    // `spent` holds when the token was used (0 = unused). Presenting it again
    // within the grace period is a client retrying after a lost answer or a
    // duplicated request, not theft: it gets a fresh session in the same
    // family. Later, a spent token is evidence of theft (even if its family
    // is already revoked): say so, and the caller revokes the family.
    let retry = spent != 0 && revoked == 0 && now.saturating_sub(spent) <= grace_ms;
    if spent != 0 && !retry {
        return Err(reused());
    }
    if revoked != 0 || expires_at <= now {
        return Err(bad());
    }
    if !retry {
        // A concurrent duplicate may have spent it a moment ago: that is a
        // retry too, within the grace period by construction.
        sqlx::query("UPDATE refresh_tokens SET spent = $2 WHERE hash = $1 AND spent = 0")
            .bind(&hash)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    let parse = |s: String| Uuid::parse_str(&s).map_err(ApiError::internal);
    Ok(Spent {
        subject: Subject {
            account: parse(row.try_get("account_id")?)?,
            space: parse(row.try_get("space_id")?)?,
            device: parse(row.try_get("device_id")?)?,
        },
        family,
    })
}

/// The error for a replayed refresh token.
pub fn reused() -> ApiError {
    ApiError::unauthorized(
        code::REFRESH_REUSED,
        "this refresh token was already used; its session family is revoked, log in again",
    )
}

/// Revokes a whole family (after reuse was detected). Runs outside the failed transaction.
pub async fn revoke_family_of(pool: &sqlx::AnyPool, token: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked = 1 WHERE family = \
         (SELECT family FROM refresh_tokens WHERE hash = $1)",
    )
    .bind(hash_refresh_token(token))
    .execute(pool)
    .await?;
    Ok(())
}

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
        let claims = verify(&state.token_key, token.trim(), now_ms())?;
        // Access tokens are stateless; this lookup makes them die with their device or account
        // (`DELETE /v1/account`) instead of living out their 15 minutes. A device seen alive is
        // remembered briefly: hundreds of long-polls re-polling after every push must not each
        // cost a query.
        let live = state.live_devices.recently_seen(claims.device)
            || sqlx::query("SELECT 1 AS one FROM devices WHERE id = $1 AND account_id = $2")
                .bind(claims.device.to_string())
                .bind(claims.account.to_string())
                .fetch_optional(&state.db.pool)
                .await?
                .is_some();
        if live {
            state.live_devices.saw(claims.device);
        } else {
            return Err(ApiError::unauthorized(
                "bad_token",
                "the account or device of this token no longer exists",
            ));
        }
        Ok(Auth(claims))
    }
}

/// Devices recently found to exist, so authenticating a request rarely needs a query. This
/// instance forgets them all when it deletes an account; another instance sharing the database
/// may accept a deleted account's access tokens for up to [`LiveDevices::TTL`] more.
#[derive(Debug, Default)]
pub struct LiveDevices {
    seen: std::sync::Mutex<HashMap<Uuid, std::time::Instant>>,
}

impl LiveDevices {
    /// How long a positive check is trusted.
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(5);
    /// Most devices remembered; beyond that the memory starts afresh.
    const MAX: usize = 100_000;

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, std::time::Instant>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `device` was found to exist less than [`Self::TTL`] ago.
    pub fn recently_seen(&self, device: Uuid) -> bool {
        self.seen()
            .get(&device)
            .is_some_and(|at| at.elapsed() < Self::TTL)
    }

    /// Remembers that `device` exists now.
    pub fn saw(&self, device: Uuid) {
        let mut seen = self.seen();
        if seen.len() >= Self::MAX {
            seen.clear();
        }
        seen.insert(device, std::time::Instant::now());
    }

    /// Forgets every device (after devices were deleted).
    pub fn forget_all(&self) {
        self.seen().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_ms: i64) -> Claims {
        Claims {
            account: Uuid::now_v7(),
            space: Uuid::now_v7(),
            device: Uuid::now_v7(),
            exp_ms,
        }
    }

    #[test]
    fn tokens_round_trip_and_reject_tampering_and_expiry() {
        let key = [7_u8; 32];
        let c = claims(2_000);
        let t = sign(&key, &c);
        assert_eq!(verify(&key, &t, 1_000).unwrap(), c);
        assert_eq!(verify(&key, &t, 2_000).unwrap_err().code, "token_expired");
        assert_eq!(
            verify(&[8_u8; 32], &t, 1_000).unwrap_err().code,
            "bad_token"
        );
        let mut forged = t.clone();
        forged.pop();
        forged.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(verify(&key, &forged, 1_000).unwrap_err().code, "bad_token");
    }

    #[test]
    fn live_devices_are_remembered_until_forgotten() {
        let live = LiveDevices::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(!live.recently_seen(a));
        live.saw(a);
        assert!(live.recently_seen(a));
        assert!(!live.recently_seen(b));
        live.forget_all();
        assert!(!live.recently_seen(a));
    }
}
