//! Devices: the client's own ids, bound to one account on first use, plus sessions minted for
//! another device of the same account (the phone signs in its watch).

use sqlx::Row as _;
use tacho_model::api::{DeviceInfo, DeviceList, DeviceRename, check_text, code, limits};
use uuid::Uuid;

use super::tokens::{Claims, Subject};
use crate::db::{Db, is_unique_violation, now_ms, rfc3339};
use crate::error::{Kind, ServiceError, ServiceResult};

/// The error for a device id bound to someone else.
pub fn device_taken() -> ServiceError {
    ServiceError::new(
        Kind::Conflict,
        code::DEVICE_TAKEN,
        "this device id belongs to another account",
    )
}

/// The error for a revoked device's id or tokens.
pub fn device_revoked() -> ServiceError {
    ServiceError::unauthorized(
        code::DEVICE_REVOKED,
        "this device was revoked; sign in on it under a new device id",
    )
}

/// Binds `device` to the account on first use (or renames it); refuses ids of other accounts,
/// and names with control characters or longer than [`limits::NAME`] (422, every caller: sign-up,
/// login, device sessions, OpenID).
pub async fn bind_device(
    conn: &mut sqlx::AnyConnection,
    subject: Subject,
    name: &str,
) -> ServiceResult<()> {
    let name = check_text("device_name", name, limits::NAME)?;
    let row = sqlx::query("SELECT account_id, revoked_at FROM devices WHERE id = $1")
        .bind(subject.device.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => {
            let owner: String = row.try_get("account_id")?;
            if owner != subject.account.to_string() {
                return Err(device_taken());
            }
            if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
                return Err(device_revoked());
            }
            if !name.is_empty() {
                sqlx::query("UPDATE devices SET name = $1 WHERE id = $2")
                    .bind(name)
                    .bind(subject.device.to_string())
                    .execute(&mut *conn)
                    .await?;
            }
        }
        None => {
            sqlx::query(
                "INSERT INTO devices (id, account_id, space_id, name, last_seq, created_at) \
                 VALUES ($1, $2, $3, $4, 0, $5)",
            )
            .bind(subject.device.to_string())
            .bind(subject.account.to_string())
            .bind(subject.space.to_string())
            .bind(name)
            .bind(now_ms())
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    device_taken()
                } else {
                    e.into()
                }
            })?;
        }
    }
    Ok(())
}

fn info_of(row: &sqlx::any::AnyRow, caller: Uuid) -> ServiceResult<DeviceInfo> {
    let id: String = row.try_get("id")?;
    let device_id = Uuid::parse_str(&id).map_err(ServiceError::internal)?;
    let revoked: Option<i64> = row.try_get("revoked_at")?;
    let pushed: Option<i64> = row.try_get("last_push_at")?;
    Ok(DeviceInfo {
        device_id,
        name: row.try_get("name")?,
        created_at: rfc3339(row.try_get("created_at")?),
        last_push_at: pushed.map(rfc3339),
        current: device_id == caller,
        revoked_at: revoked.map(rfc3339),
    })
}

fn no_such_device() -> ServiceError {
    ServiceError::new(Kind::NotFound, "not_found", "no such device")
}

/// The caller's account's devices, oldest first; `current` marks the caller.
pub(super) async fn list(db: &Db, claims: &Claims) -> ServiceResult<DeviceList> {
    let rows = sqlx::query(
        "SELECT id, name, created_at, revoked_at, last_push_at FROM devices WHERE account_id = $1 \
         ORDER BY created_at, id",
    )
    .bind(claims.account.to_string())
    .fetch_all(&db.pool)
    .await?;
    let devices = rows
        .iter()
        .map(|r| info_of(r, claims.device))
        .collect::<ServiceResult<_>>()?;
    Ok(DeviceList { devices })
}

/// Renames a device of the caller's account; another account's id, or a revoked device, is
/// `not_found`.
pub(super) async fn rename(
    db: &Db,
    claims: &Claims,
    device: &str,
    req: &DeviceRename,
) -> ServiceResult<DeviceInfo> {
    let name = check_text("name", &req.name, limits::NAME)?;
    if name.is_empty() {
        return Err(
            ServiceError::invalid("invalid_body", "name must not be empty").with("field", "name"),
        );
    }
    let Ok(device) = Uuid::parse_str(device.trim()) else {
        return Err(no_such_device());
    };
    // A revoked device is gone as a resource (it stays listed, with `revoked_at`).
    let changed = sqlx::query(
        "UPDATE devices SET name = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL",
    )
    .bind(name)
    .bind(device.to_string())
    .bind(claims.account.to_string())
    .execute(&db.pool)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(no_such_device());
    }
    let row = sqlx::query(
        "SELECT id, name, created_at, revoked_at, last_push_at FROM devices WHERE id = $1",
    )
    .bind(device.to_string())
    .fetch_one(&db.pool)
    .await?;
    info_of(&row, claims.device)
}

/// Revokes another device of the caller's account: its refresh tokens are revoked and its access
/// tokens refused from now on (every instance reads `revoked_at` when it checks a token); its
/// ops stay in the log. A revoked device is gone as a resource: revoking or renaming it again is
/// `not_found` (it stays listed, with `revoked_at`); the calling device can't revoke itself
/// (`current_device`).
pub(super) async fn revoke(db: &Db, claims: &Claims, device: &str) -> ServiceResult<Uuid> {
    let Ok(device) = Uuid::parse_str(device.trim()) else {
        return Err(no_such_device());
    };
    if device == claims.device {
        // Its id is its local store's: revoked, that store could never sync again.
        return Err(ServiceError::new(
            Kind::Conflict,
            "current_device",
            "a device can't revoke itself; sign out on it (POST /v1/auth/logout) or revoke it \
             from another device",
        ));
    }
    let mut tx = db.begin_write().await?;
    let found = sqlx::query("SELECT revoked_at FROM devices WHERE id = $1 AND account_id = $2")
        .bind(device.to_string())
        .bind(claims.account.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(no_such_device)?;
    if found.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        // Revoked before: gone as a resource, like any deleted one.
        return Err(no_such_device());
    }
    sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(device.to_string())
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE device_id = $1")
        .bind(device.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(account = %claims.account, %device, "device revoked");
    Ok(device)
}
