//! Access and refresh tokens.
//!
//! Access tokens are signed, so every instance can check them without the database; one lookup
//! (cached on SQLite, see [`LiveDevices`]) makes them die with their device or account. Format: `v1.<base64url(claims JSON)>.<base64url(HMAC-SHA256)>`. Refresh tokens are random,
//! stored only as SHA-256 hashes, and rotate: each use spends the token and returns a new one of
//! the same family; presenting a spent one revokes the family, since it means the token leaked.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row as _;
use tacho_model::api::code;
use uuid::Uuid;

use crate::config::Config;
use crate::db::now_ms;
pub use crate::db::rfc3339;
use crate::error::{ServiceError, ServiceResult};

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
    /// Issue time, Unix milliseconds: a sign-out refuses the device's tokens issued up to then.
    /// Tokens from before this field read as issued at 0.
    #[serde(rename = "i", default)]
    pub iat_ms: i64,
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
pub fn verify(key: &[u8], token: &str, now_ms: i64) -> ServiceResult<Claims> {
    let bad = || ServiceError::unauthorized("bad_token", "access token is not valid");
    let (signed, sig) = token.rsplit_once('.').ok_or_else(bad)?;
    let payload = signed.strip_prefix(PREFIX).ok_or_else(bad)?;
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| bad())?;
    let mut m = mac(key);
    m.update(signed.as_bytes());
    m.verify_slice(&sig).map_err(|_| bad())?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| bad())?;
    if claims.exp_ms <= now_ms {
        return Err(ServiceError::unauthorized(
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

/// The token side of the accounts service: the signing key and the lifetimes, so issuing and
/// checking tokens needs nothing else.
#[derive(Debug, Clone)]
pub struct Tokens {
    key: Vec<u8>,
    access_ttl_ms: i64,
    refresh_ttl_ms: i64,
    reuse_grace_ms: i64,
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Tokens {
    /// Tokens signed with `key` (shared through the database) and `config`'s lifetimes.
    pub fn new(key: Vec<u8>, config: &Config) -> Self {
        Self {
            key,
            access_ttl_ms: millis(config.access_ttl),
            refresh_ttl_ms: millis(config.refresh_ttl),
            reuse_grace_ms: millis(config.refresh_reuse_grace),
        }
    }

    /// The key access tokens are signed with (tests forge tokens with it).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// How long a spent refresh token may be presented again as a retry.
    pub fn reuse_grace_ms(&self) -> i64 {
        self.reuse_grace_ms
    }

    /// Checks an access token's signature and expiry (no database).
    pub fn verify(&self, token: &str) -> ServiceResult<Claims> {
        verify(&self.key, token, now_ms())
    }

    /// Issues an access token and stores a refresh token in `family` (a new family when `None`).
    pub async fn issue(
        &self,
        conn: &mut sqlx::AnyConnection,
        subject: Subject,
        family: Option<&str>,
    ) -> ServiceResult<Session> {
        let now = now_ms();
        let exp_ms = now.saturating_add(self.access_ttl_ms);
        let claims = Claims {
            account: subject.account,
            space: subject.space,
            device: subject.device,
            exp_ms,
            iat_ms: now,
        };
        let access_token = sign(&self.key, &claims);
        let refresh_token = new_refresh_token();
        let family = family.map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, family, device_id, account_id, spent, revoked, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, 0, 0, $5, $6)",
        )
        .bind(hash_refresh_token(&refresh_token))
        .bind(family)
        .bind(subject.device.to_string())
        .bind(subject.account.to_string())
        .bind(now)
        .bind(now.saturating_add(self.refresh_ttl_ms))
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
) -> ServiceResult<Spent> {
    let bad = || ServiceError::unauthorized("bad_token", "refresh token is not valid");
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
    // Strictly less: a grace of zero means none, even for a replay within the same millisecond.
    let retry = spent != 0 && revoked == 0 && now.saturating_sub(spent) < grace_ms;
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
    let parse = |s: String| Uuid::parse_str(&s).map_err(ServiceError::internal);
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
pub fn reused() -> ServiceError {
    ServiceError::unauthorized(
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

/// Devices recently found to exist and not revoked, so authenticating a request rarely needs a
/// query. Used on SQLite only, where one instance serves the file: it forgets a device it revokes
/// and every device when it deletes an account. On PostgreSQL another instance may revoke a
/// device, so `Accounts::authenticate` reads the row every time.
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

    /// Forgets `device` (after it was revoked).
    pub fn forget(&self, device: Uuid) {
        self.seen().remove(&device);
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
            iat_ms: 0,
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
