//! Automation hooks: per-person random tokens that iPhone Shortcuts (CarPlay / Bluetooth
//! automations) use to start, ping and end trips without the app.
//!
//! A hook token is `tho_` + 32 random bytes in base64url, shown once and stored only as its
//! SHA-256 hash. It is scoped to trip events and optionally to one car. Each event becomes ops of
//! the account's "automation" device (registered like any device), pushed through the ordinary
//! push path (`sync::writer`) with a gap-free `device_seq` and an HLC, in exactly the
//! shapes the core writes: a `trip` upsert of the whole header at start and at end, and one
//! `trip_points` append chunk (the core's 9-element point arrays) per position. Phones and
//! watches see the trip after their next sync. See `docs/hooks.md`.

mod trips;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sqlx::Row as _;
use tacho_model::api::{check_text, limits};
use tacho_model::car::{Car, find_by_key};
use uuid::Uuid;

use crate::accounts::tokens::{Claims, hash_refresh_token};
use crate::db::{Db, now_ms, rfc3339};
use crate::error::{Kind, ServiceError, ServiceResult};
use crate::sync::{MAX_FUTURE_MS, SyncService};

pub use tacho_model::api::{
    CreateHookToken, CreatedHookToken, HookAnswer, HookEvent, HookTokenInfo, HookTokenList,
};

/// Prefix that makes hook tokens recognisable (secret scanners, people).
pub const TOKEN_PREFIX: &str = "tho_";
/// How far an event's `at` may be from the relay's clock, either way.
pub const EVENT_WINDOW_MS: i64 = MAX_FUTURE_MS;

// ---------------------------------------------------------------------------------------------
// Token management (authenticated with the person's access token).

fn new_hook_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a hook token (hex SHA-256; the token has 256 random bits).
pub fn hash_hook_token(token: &str) -> String {
    hash_refresh_token(token)
}

/// `s` trimmed, `None` when empty; 422 for control characters or more than `max` characters.
fn clean(field: &str, s: Option<&str>, max: usize) -> ServiceResult<Option<String>> {
    Ok(s.map(|s| check_text(field, s, max))
        .transpose()?
        .filter(|s| !s.is_empty())
        .map(str::to_owned))
}

/// The automation service: hook tokens and the trips their events record, written through a
/// server-side device of the account. Cheap to clone.
#[derive(Clone)]
pub struct Automation {
    db: Db,
    sync: SyncService,
}

/// The caller of a hook event route: a live hook token's owner and scope.
#[derive(Debug, Clone)]
pub struct HookCaller {
    /// Token id.
    pub token_id: String,
    /// Owner.
    pub account: Uuid,
    /// Owner's space.
    pub space: Uuid,
    /// The car the token is limited to.
    pub car: Option<Uuid>,
}

/// The space's cars as synced (not deleted), for [`find_by_key`].
async fn cars_of(db: &Db, space: Uuid) -> ServiceResult<Vec<Car>> {
    Ok(crate::db::materialised::cars(db, space).await?)
}

fn info_of(row: &sqlx::any::AnyRow) -> ServiceResult<HookTokenInfo> {
    let id: String = row.try_get("id")?;
    let car: Option<String> = row.try_get("car_id")?;
    let last: Option<i64> = row.try_get("last_used_at")?;
    Ok(HookTokenInfo {
        id: Uuid::parse_str(&id).map_err(ServiceError::internal)?,
        label: row.try_get("label")?,
        car_id: car.as_deref().and_then(|c| Uuid::parse_str(c).ok()),
        car_name: row.try_get("car_name")?,
        created_at: rfc3339(row.try_get("created_at")?),
        last_used_at: last.map(rfc3339),
    })
}

impl Automation {
    /// The service over `db`, writing trips through `sync`.
    pub fn new(db: Db, sync: SyncService) -> Self {
        Self { db, sync }
    }

    /// Makes a hook token for the caller; the answer is the only time it is shown.
    pub async fn create_token(
        &self,
        claims: &Claims,
        req: CreateHookToken,
    ) -> ServiceResult<CreatedHookToken> {
        let label = clean("label", req.label.as_deref(), limits::LABEL)?;
        let (car_id, car_name) =
            match clean("car", req.car.as_deref(), limits::NAME)? {
                None => (None, None),
                Some(key) => {
                    let cars = cars_of(&self.db, claims.space).await?;
                    let car = find_by_key(&cars, &key).ok_or_else(|| {
                ServiceError::new(
                    Kind::Invalid,
                    "unknown_car",
                    format!("no car `{key}` in this account (sync the device that made it first)"),
                )
            })?;
                    (Some(car.id.0), Some(car.name.clone()))
                }
            };
        let label = label
            .or_else(|| car_name.as_ref().map(|n| format!("hook for {n}")))
            .unwrap_or_else(|| "hook".to_owned());
        let id = Uuid::now_v7();
        let token = new_hook_token();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO hook_tokens (id, account_id, hash, label, car_id, car_name, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.to_string())
        .bind(claims.account.to_string())
        .bind(hash_hook_token(&token))
        .bind(&label)
        .bind(car_id.map(|c| c.to_string()))
        .bind(car_name.clone())
        .bind(now)
        .execute(&self.db.pool)
        .await?;
        let info = HookTokenInfo {
            id,
            label,
            car_id,
            car_name,
            created_at: rfc3339(now),
            last_used_at: None,
        };
        Ok(CreatedHookToken { id, token, info })
    }

    /// The caller's hook tokens (never the secrets), oldest first.
    pub async fn list_tokens(&self, claims: &Claims) -> ServiceResult<HookTokenList> {
        let rows = sqlx::query(
            "SELECT id, label, car_id, car_name, created_at, last_used_at FROM hook_tokens \
         WHERE account_id = $1 ORDER BY created_at, id",
        )
        .bind(claims.account.to_string())
        .fetch_all(&self.db.pool)
        .await?;
        let tokens = rows.iter().map(info_of).collect::<ServiceResult<_>>()?;
        Ok(HookTokenList { tokens })
    }

    /// Revokes a hook token at once. Another account's id is `not_found`.
    pub async fn revoke_token(&self, claims: &Claims, id: &str) -> ServiceResult<()> {
        let gone = sqlx::query("DELETE FROM hook_tokens WHERE id = $1 AND account_id = $2")
            .bind(id.trim())
            .bind(claims.account.to_string())
            .execute(&self.db.pool)
            .await?
            .rows_affected();
        if gone == 0 {
            return Err(ServiceError::new(
                Kind::NotFound,
                "not_found",
                "no such hook token",
            ));
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------------------------
    // Events (authenticated with a hook token).

    /// The owner and scope of a live hook token (`tho_…`).
    pub async fn authenticate(&self, token: &str) -> ServiceResult<HookCaller> {
        let bad = || ServiceError::unauthorized("bad_token", "hook token is not valid (revoked?)");
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(bad());
        }
        let row = sqlx::query(
            "SELECT t.id, t.account_id, t.car_id, a.space_id FROM hook_tokens t \
             JOIN accounts a ON a.id = t.account_id WHERE t.hash = $1",
        )
        .bind(hash_hook_token(token))
        .fetch_optional(&self.db.pool)
        .await?
        .ok_or_else(bad)?;
        let parse = |s: String| Uuid::parse_str(&s).map_err(ServiceError::internal);
        let car: Option<String> = row.try_get("car_id")?;
        Ok(HookCaller {
            token_id: row.try_get("id")?,
            account: parse(row.try_get("account_id")?)?,
            space: parse(row.try_get("space_id")?)?,
            car: car.map(parse).transpose()?,
        })
    }

    /// Records a hook event: starts, pings or ends the caller's trip (see [`trips`]).
    pub async fn event(
        &self,
        caller: &HookCaller,
        kind: EventKind,
        ev: HookEvent,
    ) -> ServiceResult<HookAnswer> {
        trips::handle(&self.db, &self.sync, caller, kind, ev).await
    }
}

/// Which hook route was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A trip starts (or continues when one is open).
    Start,
    /// A position during the trip.
    Ping,
    /// The trip ends.
    End,
}
