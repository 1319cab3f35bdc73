//! Devices: the client's own ids, bound to one account on first use, plus sessions minted for
//! another device of the same account (the phone signs in its watch).

use sqlx::Row as _;
use tacho_model::api::{check_text, code, limits};

use super::tokens::Subject;
use crate::db::{is_unique_violation, now_ms};
use crate::error::{Kind, ServiceError, ServiceResult};

/// The error for a device id bound to someone else.
pub fn device_taken() -> ServiceError {
    ServiceError::new(
        Kind::Conflict,
        code::DEVICE_TAKEN,
        "this device id belongs to another account",
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
    let row = sqlx::query("SELECT account_id FROM devices WHERE id = $1")
        .bind(subject.device.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => {
            let owner: String = row.try_get("account_id")?;
            if owner != subject.account.to_string() {
                return Err(device_taken());
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
