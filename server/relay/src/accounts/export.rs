//! Privacy: a person's data as one archive (`GET /v1/account/export`) and deleting an account and
//! everything in it (`DELETE /v1/account`). The raw GPS retention purge is a job
//! (`jobs::retention`).

use std::collections::BTreeMap;
use std::io::Write as _;

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row as _;
use tacho_model::op::{EntityKind, Op, OpKind};
use tacho_model::wire::TripPoint;

use uuid::Uuid;

use super::Accounts;
use super::tokens::Claims;
use crate::db::{now_ms, rfc3339};
use crate::error::{ServiceError, ServiceResult};

/// How recent an OpenID sign-in on the calling device must be for an account without a password
/// to be deleted (`DELETE /v1/account`).
pub const REAUTH_WINDOW_MS: i64 = 10 * 60 * 1000;

/// A person's data as one zip archive.
#[derive(Debug)]
pub struct Archive {
    /// The account it is of (names the file).
    pub account: Uuid,
    /// The zip bytes.
    pub bytes: Vec<u8>,
}

/// Body of `DELETE /v1/account`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DeleteAccount {
    /// The account's password, asked again so a stolen access token can't delete the account.
    /// Accounts made by OpenID sign-in have none: leave it out, and sign in with the provider
    /// again on this device first (at most 10 minutes before; see docs/oidc.md).
    #[serde(default)]
    pub password: String,
}

fn zip_error(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::internal(format!("building the export archive: {e}"))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A GPX 1.1 track of one trip's points (`[seq, at_ms, lat, lon, …]` wire arrays).
pub fn gpx(trip: &str, points: &[TripPoint]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gpx version=\"1.1\" creator=\"tacho-relay\" \
         xmlns=\"http://www.topografix.com/GPX/1/1\">\n",
    );
    out.push_str(&format!(
        "  <trk><name>{}</name><trkseg>\n",
        xml_escape(trip)
    ));
    for p in points.iter().map(|p| &p.ping) {
        out.push_str(&format!(
            "    <trkpt lat=\"{}\" lon=\"{}\">{}<time>{}</time></trkpt>\n",
            p.lat,
            p.lon,
            p.altitude_m
                .map(|e| format!("<ele>{e}</ele>"))
                .unwrap_or_default(),
            p.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ));
    }
    out.push_str("  </trkseg></trk>\n</gpx>\n");
    out
}

impl Accounts {
    /// The caller's data: a zip archive with `account.json`, `devices.json`, one
    /// `<entity>.json` per entity kind (the merged state: `[{id, deleted, fields}]`) and
    /// `gpx/<trip id>.gpx` per trip with points in the log.
    pub async fn export(&self, claims: &Claims) -> ServiceResult<Archive> {
        let account = claims.account.to_string();
        let space = claims.space.to_string();
        let pool = &self.0.db.pool;
        let acc = sqlx::query("SELECT id, email, created_at FROM accounts WHERE id = $1")
            .bind(&account)
            .fetch_one(pool)
            .await?;
        let identities: Vec<Value> = sqlx::query(
        "SELECT provider, issuer, subject, email, created_at, last_login_at FROM oidc_identities \
         WHERE account_id = $1 ORDER BY created_at, issuer, subject",
    )
    .bind(&account)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| -> ServiceResult<Value> {
        Ok(json!({
            "provider": r.try_get::<String, _>("provider")?,
            "issuer": r.try_get::<String, _>("issuer")?,
            "subject": r.try_get::<String, _>("subject")?,
            "email": r.try_get::<Option<String>, _>("email")?,
            "created_at": rfc3339(r.try_get("created_at")?),
            "last_login_at": rfc3339(r.try_get("last_login_at")?),
        }))
    })
    .collect::<ServiceResult<_>>()?;
        let account_json = json!({
            "id": acc.try_get::<String, _>("id")?,
            "email": acc.try_get::<String, _>("email")?,
            "created_at": rfc3339(acc.try_get("created_at")?),
            "space_id": space,
            "oidc_identities": identities,
        });
        let devices: Vec<Value> = sqlx::query(
        "SELECT id, name, last_seq, created_at FROM devices WHERE account_id = $1 ORDER BY created_at, id",
    )
    .bind(&account)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| -> ServiceResult<Value> {
        Ok(json!({
            "id": r.try_get::<String, _>("id")?,
            "name": r.try_get::<String, _>("name")?,
            "last_seq": r.try_get::<i64, _>("last_seq")?,
            "created_at": rfc3339(r.try_get("created_at")?),
        }))
    })
    .collect::<ServiceResult<_>>()?;
        let mut kinds: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for r in sqlx::query(
        "SELECT entity, entity_id, state FROM entity_state WHERE space_id = $1 ORDER BY entity, entity_id",
    )
    .bind(&space)
    .fetch_all(pool)
    .await?
    {
        let raw: String = r.try_get("state")?;
        let st: tacho_model::merge::EntityState =
            serde_json::from_str(&raw).map_err(ServiceError::internal)?;
        kinds.entry(r.try_get("entity")?).or_default().push(json!({
            "id": r.try_get::<String, _>("entity_id")?,
            "deleted": st.is_deleted(),
            "fields": st.fields,
            "items": st.items,
        }));
    }
        // Append-only kinds live in the log only: their items, in log order.
        let mut tracks: BTreeMap<String, Vec<TripPoint>> = BTreeMap::new();
        for r in sqlx::query(
        "SELECT entity, entity_id, body FROM ops WHERE space_id = $1 AND entity IN ($2, $3, $4) ORDER BY seq",
    )
    .bind(&space)
    .bind(EntityKind::TripPoints.as_str())
    .bind(EntityKind::TripEdit.as_str())
    .bind(EntityKind::TimeEntryEdit.as_str())
    .fetch_all(pool)
    .await?
    {
        let entity: String = r.try_get("entity")?;
        let id: String = r.try_get("entity_id")?;
        let body: String = r.try_get("body")?;
        let Ok(op) = serde_json::from_str::<Op>(&body) else {
            continue;
        };
        let OpKind::Append { items } = op.kind else {
            continue;
        };
        if entity == EntityKind::TripPoints.as_str() {
            tracks
                .entry(id)
                .or_default()
                .extend(items.iter().filter_map(TripPoint::from_wire));
        } else {
            kinds
                .entry(entity)
                .or_default()
                .push(json!({"id": id, "items": items}));
        }
    }
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let mut add = |name: &str, bytes: &[u8]| -> ServiceResult<()> {
            zip.start_file(name, options).map_err(zip_error)?;
            zip.write_all(bytes).map_err(zip_error)
        };
        let pretty = |v: &Value| serde_json::to_vec_pretty(v).map_err(ServiceError::internal);
        add("account.json", &pretty(&account_json)?)?;
        add("devices.json", &pretty(&Value::from(devices))?)?;
        for (kind, rows) in kinds {
            add(&format!("{kind}.json"), &pretty(&Value::from(rows))?)?;
        }
        for (trip, mut points) in tracks {
            points.sort_by_key(|p| p.seq);
            points.dedup_by_key(|p| p.seq);
            add(&format!("gpx/{trip}.gpx"), gpx(&trip, &points).as_bytes())?;
        }
        let bytes = zip.finish().map_err(zip_error)?.into_inner();
        Ok(Archive {
            account: claims.account,
            bytes,
        })
    }

    /// Deletes the account and everything in it, in one transaction, after checking the password
    /// again (or, for an account without one, a fresh OpenID sign-in on the calling device). Its
    /// access tokens fail from then on.
    pub async fn delete_account(&self, claims: &Claims, req: DeleteAccount) -> ServiceResult<()> {
        let account = claims.account.to_string();
        let space = claims.space.to_string();
        let hash: String = sqlx::query("SELECT password_hash FROM accounts WHERE id = $1")
            .bind(&account)
            .fetch_optional(&self.0.db.pool)
            .await?
            .ok_or_else(|| ServiceError::unauthorized("bad_token", "no such account"))?
            .try_get("password_hash")?;
        if hash.is_empty() {
            // No password (made by OpenID sign-in): a stolen access token alone must not delete the
            // account, so the provider must have been asked again, from this device, just now.
            let mut conn = self.0.db.pool.acquire().await?;
            let fresh =
                recently_signed_in(&mut conn, claims.account, claims.device, now_ms()).await?;
            if !fresh {
                return Err(ServiceError::unauthorized(
                    "reauth_required",
                    "this account has no password: sign in with its provider again on this device, \
                 then delete it within 10 minutes",
                ));
            }
        } else {
            let ok =
                tokio::task::spawn_blocking(move || super::verify_password(&req.password, &hash))
                    .await
                    .map_err(ServiceError::internal)?;
            if !ok {
                return Err(ServiceError::unauthorized(
                    "bad_credentials",
                    "wrong password; the account was not deleted",
                ));
            }
        }
        // The space's write lock keeps pushes out while the log goes.
        let (mut tx, _) = self.0.db.begin_space_write(&space).await?;
        let by_space = [
            "DELETE FROM ops WHERE space_id = $1",
            "DELETE FROM rejected_ops WHERE space_id = $1",
            "DELETE FROM point_writers WHERE space_id = $1",
            "DELETE FROM entity_state WHERE space_id = $1",
        ];
        for sql in by_space {
            sqlx::query(sql).bind(&space).execute(&mut *tx).await?;
        }
        // Connections and every sealed secret of the account (they reference the account row).
        crate::connections::registry::delete_account(&mut tx, &account).await?;
        let by_account = [
            "DELETE FROM hook_events WHERE account_id = $1",
            "DELETE FROM hook_trips WHERE account_id = $1",
            "DELETE FROM automation_devices WHERE account_id = $1",
            "DELETE FROM hook_tokens WHERE account_id = $1",
            "DELETE FROM refresh_tokens WHERE account_id = $1",
            "DELETE FROM oidc_identities WHERE account_id = $1",
            "DELETE FROM devices WHERE account_id = $1",
            "DELETE FROM accounts WHERE id = $1",
        ];
        for sql in by_account {
            sqlx::query(sql).bind(&account).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM spaces WHERE id = $1")
            .bind(&space)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.0.live.forget_all();
        tracing::info!(%account, "account deleted");
        Ok(())
    }
}

/// Whether `device` signed in through an OpenID provider into `account` within
/// [`REAUTH_WINDOW_MS`]: the re-authentication an account without a password gives before it is
/// deleted.
async fn recently_signed_in(
    conn: &mut sqlx::AnyConnection,
    account: Uuid,
    device: Uuid,
    now: i64,
) -> ServiceResult<bool> {
    Ok(sqlx::query(
        "SELECT 1 AS one FROM oidc_identities WHERE account_id = $1 AND last_login_device = $2 \
         AND last_login_at > $3",
    )
    .bind(account.to_string())
    .bind(device.to_string())
    .bind(now - REAUTH_WINDOW_MS)
    .fetch_optional(conn)
    .await?
    .is_some())
}
