//! Privacy: a person's data as one archive (`GET /v1/account/export`) and deleting an account and
//! everything in it (`DELETE /v1/account`). The raw GPS retention purge is a job:
//! [`crate::jobs::retention`].

use std::collections::BTreeMap;
use std::io::Write as _;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row as _;
use tacho_model::op::{EntityKind, Op, OpKind};
use tacho_model::wire::TripPoint;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::openapi::ErrorBody;
use crate::storage::now_ms;
use crate::tokens::{Auth, rfc3339};

/// Body of `DELETE /v1/account`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DeleteAccount {
    /// The account's password, asked again so a stolen access token can't delete the account.
    /// Accounts made by OpenID sign-in have none: leave it out, and sign in with the provider
    /// again on this device first (at most 10 minutes before; see docs/oidc.md).
    #[serde(default)]
    pub password: String,
}

fn zip_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("building the export archive: {e}"))
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

/// `GET /v1/account/export`: a zip archive with `account.json`, `devices.json`, one
/// `<entity>.json` per entity kind (the merged state: `[{id, deleted, fields}]`) and
/// `gpx/<trip id>.gpx` per trip with points in the log.
#[utoipa::path(get, path = "/v1/account/export", tag = "privacy",
    security(("bearer" = [])),
    responses(
        (status = 200, content_type = "application/zip", description = "the archive"),
        (status = 401, body = ErrorBody),
    ))]
pub async fn export(State(state): State<AppState>, Auth(claims): Auth) -> ApiResult<Response> {
    let account = claims.account.to_string();
    let space = claims.space.to_string();
    let pool = &state.db.pool;
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
    .map(|r| -> ApiResult<Value> {
        Ok(json!({
            "provider": r.try_get::<String, _>("provider")?,
            "issuer": r.try_get::<String, _>("issuer")?,
            "subject": r.try_get::<String, _>("subject")?,
            "email": r.try_get::<Option<String>, _>("email")?,
            "created_at": rfc3339(r.try_get("created_at")?),
            "last_login_at": rfc3339(r.try_get("last_login_at")?),
        }))
    })
    .collect::<ApiResult<_>>()?;
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
    .map(|r| -> ApiResult<Value> {
        Ok(json!({
            "id": r.try_get::<String, _>("id")?,
            "name": r.try_get::<String, _>("name")?,
            "last_seq": r.try_get::<i64, _>("last_seq")?,
            "created_at": rfc3339(r.try_get("created_at")?),
        }))
    })
    .collect::<ApiResult<_>>()?;
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
            serde_json::from_str(&raw).map_err(ApiError::internal)?;
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
        "SELECT entity, entity_id, body FROM ops WHERE space_id = $1 AND entity IN ($2, $3) ORDER BY seq",
    )
    .bind(&space)
    .bind(EntityKind::TripPoints.as_str())
    .bind(EntityKind::TripEdit.as_str())
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
    let mut add = |name: &str, bytes: &[u8]| -> ApiResult<()> {
        zip.start_file(name, options).map_err(zip_error)?;
        zip.write_all(bytes).map_err(zip_error)
    };
    let pretty = |v: &Value| serde_json::to_vec_pretty(v).map_err(ApiError::internal);
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
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"tacho-export-{account}.zip\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `DELETE /v1/account`: deletes the account and everything in it, in one transaction, after
/// checking the password again (or, for an account without one, a fresh OpenID sign-in on the
/// calling device). Its access tokens fail from then on.
#[utoipa::path(delete, path = "/v1/account", tag = "privacy",
    request_body = DeleteAccount,
    security(("bearer" = [])),
    responses(
        (status = 204),
        (status = 401, description = "bad_credentials (wrong password) / reauth_required (no password and no OpenID sign-in on this device in the last 10 minutes) / bad_token", body = ErrorBody),
    ))]
pub async fn delete_account(
    State(state): State<AppState>,
    Auth(claims): Auth,
    body: Result<Json<DeleteAccount>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let Json(req) = body?;
    let account = claims.account.to_string();
    let space = claims.space.to_string();
    let hash: String = sqlx::query("SELECT password_hash FROM accounts WHERE id = $1")
        .bind(&account)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(|| ApiError::unauthorized("bad_token", "no such account"))?
        .try_get("password_hash")?;
    if hash.is_empty() {
        // No password (made by OpenID sign-in): a stolen access token alone must not delete the
        // account, so the provider must have been asked again, from this device, just now.
        let mut conn = state.db.pool.acquire().await?;
        let fresh =
            crate::oidc::recently_signed_in(&mut conn, claims.account, claims.device, now_ms())
                .await?;
        if !fresh {
            return Err(ApiError::unauthorized(
                "reauth_required",
                "this account has no password: sign in with its provider again on this device, \
                 then delete it within 10 minutes",
            ));
        }
    } else {
        let ok = tokio::task::spawn_blocking(move || {
            crate::accounts::verify_password(&req.password, &hash)
        })
        .await
        .map_err(ApiError::internal)?;
        if !ok {
            return Err(ApiError::unauthorized(
                "bad_credentials",
                "wrong password; the account was not deleted",
            ));
        }
    }
    // The space's write lock keeps pushes out while the log goes.
    let (mut tx, _) = state.db.begin_space_write(&space).await?;
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
    state.live_devices.forget_all();
    tracing::info!(%account, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}
