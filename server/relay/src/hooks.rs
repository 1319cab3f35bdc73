//! Automation hooks: per-person random tokens that iPhone Shortcuts (CarPlay / Bluetooth
//! automations) use to start, ping and end trips without the app.
//!
//! A hook token is `tho_` + 32 random bytes in base64url, shown once and stored only as its
//! SHA-256 hash. It is scoped to trip events and optionally to one car. Each event becomes ops of
//! the account's "automation" device (registered like any device), pushed through the ordinary
//! push path ([`crate::log::push_ops`]) with a gap-free `device_seq` and an HLC, in exactly the
//! shapes the core writes: a `trip` upsert of the whole header at start and at end, and one
//! `trip_points` append chunk (the core's 9-element point arrays) per position. Phones and
//! watches see the trip after their next sync. See `docs/hooks.md`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row as _;
use tacho_model::api::{check_text, code, limits};
use tacho_model::car::{Car, find_by_key};
use tacho_model::gps::Ping;
use tacho_model::gps::filter::{FilterConfig, path_stats};
use tacho_model::id::{CarId, TripId};
use tacho_model::op::{EntityKind, Op, OpKind};
use tacho_model::trip::{Trip, TripSource, TripState};
use tacho_model::wire::TripPoint;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::log::MAX_FUTURE_MS;
use crate::openapi::ErrorBody;
use crate::server_device::{Role, ServerDevice};
use crate::storage::now_ms;
use crate::tokens::{Auth, hash_refresh_token};

/// Prefix that makes hook tokens recognisable (secret scanners, people).
pub const TOKEN_PREFIX: &str = "tho_";
/// How far an event's `at` may be from the relay's clock, either way.
pub const EVENT_WINDOW_MS: i64 = MAX_FUTURE_MS;

/// Body of `POST /v1/hooks/tokens`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CreateHookToken {
    /// A label for people ("CarPlay Golf"); no control characters.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub label: Option<String>,
    /// Restrict the token to one car: its id, name or connect hint as synced from the devices.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub car: Option<String>,
}

/// A hook token as listed (never the token itself).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookTokenInfo {
    /// Token id (for revoking).
    pub id: Uuid,
    /// Label.
    pub label: String,
    /// The car the token is limited to, if any.
    pub car_id: Option<Uuid>,
    /// That car's name when the token was made.
    pub car_name: Option<String>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it was last used (RFC 3339).
    pub last_used_at: Option<String>,
}

/// Answer of `POST /v1/hooks/tokens`: the token, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedHookToken {
    /// Token id.
    pub id: Uuid,
    /// The secret, `tho_…`; only its hash is stored.
    pub token: String,
    /// What was stored.
    pub info: HookTokenInfo,
}

/// Answer of `GET /v1/hooks/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookTokenList {
    /// The caller's live tokens, oldest first.
    pub tokens: Vec<HookTokenInfo>,
}

/// Body of the hook event routes.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct HookEvent {
    /// The caller's id of this event; a repeated id is answered `duplicate: true` and changes
    /// nothing. Shortcuts can use its "Current Date" formatted with seconds plus a word.
    /// No control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub event_id: String,
    /// When it happened (RFC 3339); defaults to now; must be within 10 minutes of the relay clock.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// Car hint (id, name or connect hint), e.g. the Bluetooth device name.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub car: Option<String>,
    /// Latitude, decimal degrees (required for pings).
    #[serde(default)]
    pub lat: Option<f64>,
    /// Longitude, decimal degrees (required for pings).
    #[serde(default)]
    pub lon: Option<f64>,
    /// Horizontal accuracy in metres.
    #[serde(default)]
    pub accuracy: Option<f64>,
    /// IANA time zone for a start (default `UTC`).
    #[serde(default)]
    #[schema(max_length = 100)]
    pub time_zone: Option<String>,
}

/// Answer of a hook event.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookAnswer {
    /// The event id.
    pub event_id: String,
    /// The trip the event belongs to.
    pub trip_id: Uuid,
    /// `true` when this event id was seen before; nothing was changed.
    pub duplicate: bool,
    /// `active` or `ended`.
    pub state: String,
    /// Points recorded so far.
    pub points: u32,
    /// Filtered GPS distance in metres (set at the end).
    pub distance_m: f64,
    /// A start while a trip of the same scope was open continues it (CarPlay and Bluetooth both
    /// firing, or a quick reconnect).
    #[serde(default)]
    pub already_active: bool,
}

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
fn clean(field: &str, s: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    Ok(s.map(|s| check_text(field, s, max))
        .transpose()?
        .filter(|s| !s.is_empty())
        .map(str::to_owned))
}

/// The space's cars as synced (not deleted), for [`find_by_key`].
async fn cars_of(state: &AppState, space: Uuid) -> ApiResult<Vec<Car>> {
    Ok(crate::materialised::cars(&state.db, space).await?)
}

fn info_of(row: &sqlx::any::AnyRow) -> ApiResult<HookTokenInfo> {
    let id: String = row.try_get("id")?;
    let car: Option<String> = row.try_get("car_id")?;
    let last: Option<i64> = row.try_get("last_used_at")?;
    Ok(HookTokenInfo {
        id: Uuid::parse_str(&id).map_err(ApiError::internal)?,
        label: row.try_get("label")?,
        car_id: car.as_deref().and_then(|c| Uuid::parse_str(c).ok()),
        car_name: row.try_get("car_name")?,
        created_at: crate::tokens::rfc3339(row.try_get("created_at")?),
        last_used_at: last.map(crate::tokens::rfc3339),
    })
}

/// `POST /v1/hooks/tokens`: makes a hook token; the answer is the only time it is shown.
#[utoipa::path(post, path = "/v1/hooks/tokens", tag = "hooks",
    request_body = CreateHookToken,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CreatedHookToken),
        (status = 401, body = ErrorBody),
        (status = 422, description = "unknown_car / invalid_text / text_too_long (with `field`)", body = ErrorBody),
    ))]
pub async fn create_token(
    State(state): State<AppState>,
    Auth(claims): Auth,
    body: Result<Json<serde_json::Map<String, serde_json::Value>>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CreatedHookToken>)> {
    // Read as an object first: serde would also take a JSON array for this all-optional struct
    // (`[null, null]`), which the schema does not allow (found by schemathesis).
    let Json(object) = body?;
    let req: CreateHookToken =
        serde_json::from_value(serde_json::Value::Object(object)).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("bad hook token request: {e}"),
            )
        })?;
    let label = clean("label", req.label.as_deref(), limits::LABEL)?;
    let (car_id, car_name) = match clean("car", req.car.as_deref(), limits::NAME)? {
        None => (None, None),
        Some(key) => {
            let cars = cars_of(&state, claims.space).await?;
            let car = find_by_key(&cars, &key).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
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
    .execute(&state.db.pool)
    .await?;
    let info = HookTokenInfo {
        id,
        label,
        car_id,
        car_name,
        created_at: crate::tokens::rfc3339(now),
        last_used_at: None,
    };
    Ok((
        StatusCode::CREATED,
        Json(CreatedHookToken { id, token, info }),
    ))
}

/// `GET /v1/hooks/tokens`: the caller's hook tokens (never the secrets).
#[utoipa::path(get, path = "/v1/hooks/tokens", tag = "hooks",
    security(("bearer" = [])),
    responses((status = 200, body = HookTokenList), (status = 401, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Auth(claims): Auth,
) -> ApiResult<Json<HookTokenList>> {
    let rows = sqlx::query(
        "SELECT id, label, car_id, car_name, created_at, last_used_at FROM hook_tokens \
         WHERE account_id = $1 ORDER BY created_at, id",
    )
    .bind(claims.account.to_string())
    .fetch_all(&state.db.pool)
    .await?;
    let tokens = rows.iter().map(info_of).collect::<ApiResult<_>>()?;
    Ok(Json(HookTokenList { tokens }))
}

/// `DELETE /v1/hooks/tokens/{id}`: revokes a hook token at once. Another account's id is 404.
#[utoipa::path(delete, path = "/v1/hooks/tokens/{id}", tag = "hooks",
    params(("id" = Uuid, Path, description = "token id")),
    security(("bearer" = [])),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 404, description = "not_found (also for other accounts' ids)", body = ErrorBody),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let gone = sqlx::query("DELETE FROM hook_tokens WHERE id = $1 AND account_id = $2")
        .bind(id.trim())
        .bind(claims.account.to_string())
        .execute(&state.db.pool)
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such hook token",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Events (authenticated with a hook token).

/// The caller of a hook event route: a live hook token from `Authorization: Bearer`. Tokens in
/// the query string are refused (they end up in logs and browser histories).
#[derive(Debug, Clone)]
pub struct HookAuth {
    /// Token id.
    pub token_id: String,
    /// Owner.
    pub account: Uuid,
    /// Owner's space.
    pub space: Uuid,
    /// The car the token is limited to.
    pub car: Option<Uuid>,
}

impl FromRequestParts<AppState> for HookAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        if let Some(q) = parts.uri.query().filter(|q| !q.is_empty()) {
            let looks_like_token = q.contains(TOKEN_PREFIX) || q.to_lowercase().contains("token");
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                if looks_like_token {
                    "token_in_query"
                } else {
                    "unexpected_query"
                },
                "hook routes take no query string; send the token as Authorization: Bearer and the event as a JSON body",
            ));
        }
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("missing_token", "Authorization: Bearer tho_… required")
            })?;
        let bad = || ApiError::unauthorized("bad_token", "hook token is not valid (revoked?)");
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(bad());
        }
        let row = sqlx::query(
            "SELECT t.id, t.account_id, t.car_id, a.space_id FROM hook_tokens t \
             JOIN accounts a ON a.id = t.account_id WHERE t.hash = $1",
        )
        .bind(hash_hook_token(token))
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(bad)?;
        let parse = |s: String| Uuid::parse_str(&s).map_err(ApiError::internal);
        let car: Option<String> = row.try_get("car_id")?;
        Ok(Self {
            token_id: row.try_get("id")?,
            account: parse(row.try_get("account_id")?)?,
            space: parse(row.try_get("space_id")?)?,
            car: car.map(parse).transpose()?,
        })
    }
}

/// Which hook route was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Start,
    Ping,
    End,
}

/// Hook events of one account are handled one at a time in this process (they read and then
/// write the hooks' trip state); across instances the push's `device_seq` check catches a race
/// and the event is retried.
fn account_lock(account: Uuid) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    locks.retain(|_, l| Arc::strong_count(l) > 1);
    locks.entry(account).or_default().clone()
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(status, code, message)
}

/// `POST /v1/hooks/trip/start`.
#[utoipa::path(post, path = "/v1/hooks/trip/start", tag = "hooks",
    request_body = HookEvent,
    security(("hook" = [])),
    responses(
        (status = 200, body = HookAnswer),
        (status = 400, description = "token_in_query", body = ErrorBody),
        (status = 401, description = "missing_token / bad_token", body = ErrorBody),
        (status = 403, description = "car_out_of_scope", body = ErrorBody),
        (status = 422, description = "event_time_out_of_window / bad_position / bad_event_id / invalid_text / text_too_long (with `field`)", body = ErrorBody),
    ))]
pub async fn trip_start(
    State(state): State<AppState>,
    auth: HookAuth,
    body: Result<Json<HookEvent>, JsonRejection>,
) -> ApiResult<Json<HookAnswer>> {
    let Json(ev) = body?;
    handle(&state, &auth, EventKind::Start, ev).await.map(Json)
}

/// `POST /v1/hooks/trip/ping`.
#[utoipa::path(post, path = "/v1/hooks/trip/ping", tag = "hooks",
    request_body = HookEvent,
    security(("hook" = [])),
    responses(
        (status = 200, body = HookAnswer),
        (status = 401, body = ErrorBody),
        (status = 403, description = "car_out_of_scope", body = ErrorBody),
        (status = 409, description = "no_active_trip", body = ErrorBody),
        (status = 422, description = "missing_position / bad_position / event_time_out_of_window / invalid_text / text_too_long (with `field`)", body = ErrorBody),
    ))]
pub async fn trip_ping(
    State(state): State<AppState>,
    auth: HookAuth,
    body: Result<Json<HookEvent>, JsonRejection>,
) -> ApiResult<Json<HookAnswer>> {
    let Json(ev) = body?;
    handle(&state, &auth, EventKind::Ping, ev).await.map(Json)
}

/// `POST /v1/hooks/trip/end`.
#[utoipa::path(post, path = "/v1/hooks/trip/end", tag = "hooks",
    request_body = HookEvent,
    security(("hook" = [])),
    responses(
        (status = 200, body = HookAnswer),
        (status = 401, body = ErrorBody),
        (status = 403, description = "car_out_of_scope", body = ErrorBody),
        (status = 409, description = "no_active_trip", body = ErrorBody),
        (status = 422, description = "event_time_out_of_window / bad_position / invalid_text / text_too_long (with `field`)", body = ErrorBody),
    ))]
pub async fn trip_end(
    State(state): State<AppState>,
    auth: HookAuth,
    body: Result<Json<HookEvent>, JsonRejection>,
) -> ApiResult<Json<HookAnswer>> {
    let Json(ev) = body?;
    handle(&state, &auth, EventKind::End, ev).await.map(Json)
}

/// The hooks' open (or just ended) trip.
struct HookTrip {
    id: Uuid,
    car: Option<Uuid>,
    next_point: i64,
    /// The space's head before the trip's first op: its point chunks all come after it.
    first_seq: i64,
    header: Trip,
}

async fn open_trips(state: &AppState, account: Uuid) -> ApiResult<Vec<HookTrip>> {
    let rows = sqlx::query(
        "SELECT trip_id, car_id, next_point, first_seq, header FROM hook_trips \
         WHERE account_id = $1 AND ended_at IS NULL ORDER BY started_at DESC",
    )
    .bind(account.to_string())
    .fetch_all(&state.db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("trip_id")?;
            let car: Option<String> = row.try_get("car_id")?;
            let header: String = row.try_get("header")?;
            Ok(HookTrip {
                id: Uuid::parse_str(&id).map_err(ApiError::internal)?,
                car: car.as_deref().and_then(|c| Uuid::parse_str(c).ok()),
                next_point: row.try_get("next_point")?,
                first_seq: row.try_get("first_seq")?,
                header: serde_json::from_str(&header).map_err(ApiError::internal)?,
            })
        })
        .collect()
}

/// The account's automation device, registered on first use like any device.
/// Reads the stored positions of a trip's point chunks (the core's wire arrays).
async fn trip_pings(
    state: &AppState,
    space: Uuid,
    trip: Uuid,
    first_seq: i64,
) -> ApiResult<Vec<TripPoint>> {
    // The log has no index by entity (it would tax every insert): read the space's log written
    // since the trip started, by its primary key. Points are sorted by their own seq below.
    let rows = sqlx::query(
        "SELECT body FROM ops WHERE space_id = $1 AND seq > $2 \
         AND entity = 'trip_points' AND entity_id = $3",
    )
    .bind(space.to_string())
    .bind(first_seq)
    .bind(trip.to_string())
    .fetch_all(&state.db.pool)
    .await?;
    let mut points = Vec::new();
    for row in rows {
        let body: String = row.try_get("body")?;
        let op: Op = serde_json::from_str(&body).map_err(ApiError::internal)?;
        if let OpKind::Append { items } = op.kind {
            points.extend(items.iter().filter_map(TripPoint::from_wire));
        }
    }
    points.sort_by_key(|p| p.seq);
    points.dedup_by_key(|p| p.seq);
    Ok(points)
}

fn event_ping(ev: &HookEvent, at: DateTime<Utc>) -> ApiResult<Option<Ping>> {
    match (ev.lat, ev.lon) {
        (None, None) => Ok(None),
        (Some(lat), Some(lon))
            if lat.is_finite()
                && lon.is_finite()
                && (-90.0..=90.0).contains(&lat)
                && (-180.0..=180.0).contains(&lon)
                && ev.accuracy.is_none_or(|a| a.is_finite() && a >= 0.0) =>
        {
            let mut p = Ping::at(at, lat, lon);
            p.accuracy_m = ev.accuracy;
            Ok(Some(p))
        }
        _ => Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_position",
            "lat and lon must come together, within -90..90 and -180..180; accuracy must be ≥ 0",
        )),
    }
}

async fn handle(
    state: &AppState,
    auth: &HookAuth,
    kind: EventKind,
    ev: HookEvent,
) -> ApiResult<HookAnswer> {
    let event_id = check_text("event_id", &ev.event_id, limits::ID)?.to_owned();
    let car_hint = clean("car", ev.car.as_deref(), limits::NAME)?;
    let time_zone = clean("time_zone", ev.time_zone.as_deref(), limits::NAME)?;
    if event_id.is_empty() {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_event_id",
            "event_id must be 1 to 200 characters",
        ));
    }
    let now = now_ms();
    let at = ev
        .at
        .unwrap_or_else(|| DateTime::from_timestamp_millis(now).unwrap_or_default());
    if (at.timestamp_millis() - now).abs() > EVENT_WINDOW_MS {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "event_time_out_of_window",
            "`at` must be within 10 minutes of the relay's clock (check the phone's time)",
        )
        .with("relay_time", crate::tokens::rfc3339(now)));
    }
    let ping = event_ping(&ev, at)?;
    if kind == EventKind::Ping && ping.is_none() {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_position",
            "a ping needs lat and lon",
        ));
    }
    let lock = account_lock(auth.account);
    let _guard = lock.lock().await;
    // Answered before? Then nothing changes.
    let seen =
        sqlx::query("SELECT answer FROM hook_events WHERE account_id = $1 AND event_id = $2")
            .bind(auth.account.to_string())
            .bind(&event_id)
            .fetch_optional(&state.db.pool)
            .await?;
    if let Some(row) = seen {
        let raw: String = row.try_get("answer")?;
        let mut answer: HookAnswer = serde_json::from_str(&raw).map_err(ApiError::internal)?;
        answer.duplicate = true;
        return Ok(answer);
    }
    let hint_car = match car_hint.clone() {
        Some(key) => {
            let cars = cars_of(state, auth.space).await?;
            find_by_key(&cars, &key)
                .map(|c| c.id.0)
                .ok_or(key)
                .map(Some)
        }
        None => Ok(None),
    };
    // A scoped token only acts on its car.
    if let (Some(scope), Ok(Some(car))) = (auth.car, &hint_car)
        && scope != *car
    {
        return Err(car_out_of_scope());
    }
    let open = open_trips(state, auth.account).await?;
    let current = match auth.car {
        Some(scope) => {
            let mine = open.iter().position(|t| t.car == Some(scope));
            if mine.is_none() && kind != EventKind::Start && !open.is_empty() {
                return Err(car_out_of_scope());
            }
            mine
        }
        None => (!open.is_empty()).then_some(0),
    };
    let mut open = open;
    let current = current.map(|i| open.swap_remove(i));
    let mut answer = HookAnswer {
        event_id: event_id.clone(),
        trip_id: Uuid::nil(),
        duplicate: false,
        state: "active".into(),
        points: 0,
        distance_m: 0.0,
        already_active: false,
    };
    for attempt in 0..3 {
        let device = ServerDevice::open(state, Role::Automation, auth.account, auth.space).await?;
        let mut maker = device.batch(&format!("hook-op/{event_id}"));
        // (trip, next point, ended at, first_seq once known)
        let mut trip_row: Option<(Trip, i64, Option<i64>, Option<i64>)> = None;
        match (kind, &current) {
            (EventKind::Start, Some(t)) => {
                answer.trip_id = t.id;
                answer.points = u32::try_from(t.next_point).unwrap_or(u32::MAX);
                answer.already_active = true;
            }
            (EventKind::Start, None) => {
                let id = Uuid::new_v5(&auth.account, format!("hook-trip/{event_id}").as_bytes());
                let car = auth.car.or(hint_car.clone().ok().flatten());
                let trip = Trip {
                    id: TripId(id),
                    car_id: car.map(CarId),
                    state: TripState::Active,
                    source: TripSource::Hook,
                    car_hint: car_hint.clone(),
                    started_at: at,
                    ended_at: None,
                    time_zone: time_zone.clone().unwrap_or_else(|| "UTC".into()),
                    start: ping.map(|p| p.position()),
                    end: None,
                    start_address: None,
                    end_address: None,
                    start_place: None,
                    end_place: None,
                    distance_m: 0.0,
                    point_count: u32::from(ping.is_some()),
                    purpose: None,
                    purpose_by: None,
                    business_partner: None,
                    note: None,
                    recovered: false,
                };
                maker.upsert(EntityKind::Trip, trip.id.0, &trip)?;
                let mut next = 0;
                if let Some(p) = &ping {
                    maker.push(
                        EntityKind::TripPoints,
                        id,
                        OpKind::Append {
                            items: vec![hook_point(0, p)],
                        },
                    )?;
                    next = 1;
                }
                answer.trip_id = id;
                answer.points = u32::from(ping.is_some());
                trip_row = Some((trip, next, None, None));
            }
            (_, None) => {
                return Err(refuse(
                    StatusCode::CONFLICT,
                    "no_active_trip",
                    "no trip started by a hook is running; call /v1/hooks/trip/start first",
                ));
            }
            (EventKind::Ping | EventKind::End, Some(t)) => {
                if at < t.header.started_at {
                    return Err(refuse(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "before_trip_start",
                        "`at` is before the trip started",
                    ));
                }
                let mut next = t.next_point;
                if let Some(p) = &ping {
                    maker.push(
                        EntityKind::TripPoints,
                        t.id,
                        OpKind::Append {
                            items: vec![hook_point(next, p)],
                        },
                    )?;
                    next += 1;
                }
                let mut trip = t.header.clone();
                trip.point_count = u32::try_from(next).unwrap_or(u32::MAX);
                let mut ended = None;
                if kind == EventKind::End {
                    let mut pings: Vec<Ping> = trip_pings(state, auth.space, t.id, t.first_seq)
                        .await?
                        .into_iter()
                        .map(|p| p.ping)
                        .collect();
                    pings.extend(ping);
                    let stats = path_stats(&pings, FilterConfig::default());
                    trip.state = TripState::Ended;
                    trip.ended_at = Some(at);
                    trip.distance_m = stats.distance_m;
                    trip.start = trip.start.or(stats.first);
                    trip.end = stats.last.or(trip.start);
                    maker.upsert(EntityKind::Trip, trip.id.0, &trip)?;
                    answer.state = "ended".into();
                    ended = Some(at.timestamp_millis());
                }
                answer.trip_id = t.id;
                answer.points = trip.point_count;
                answer.distance_m = trip.distance_m;
                trip_row = Some((trip, next, ended, Some(t.first_seq)));
            }
        }
        if !maker.is_empty() {
            match device.push(state, &maker).await {
                Ok(_) => {}
                Err(e) if e.code == code::SEQ_GAP && attempt < 2 => continue,
                Err(e) => return Err(e),
            }
        }
        if let (Some((_, _, _, first_seq @ None)), Some(first)) = (&mut trip_row, maker.first()) {
            // A new trip: its first op's place in the log (found by its deterministic id, so
            // also right when a retry finds the ops already stored) bounds the later reads.
            let seq: i64 =
                sqlx::query_scalar("SELECT seq FROM ops WHERE space_id = $1 AND op_id = $2")
                    .bind(auth.space.to_string())
                    .bind(first.op_id.to_string())
                    .fetch_one(&state.db.pool)
                    .await?;
            *first_seq = Some(seq - 1);
        }
        let mut tx = state.db.begin_write().await?;
        if let Some((trip, next, ended, first_seq)) = &trip_row {
            sqlx::query(
                "INSERT INTO hook_trips (trip_id, account_id, car_id, started_at, ended_at, next_point, header, first_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (trip_id) DO UPDATE SET ended_at = excluded.ended_at, \
                 next_point = excluded.next_point, header = excluded.header",
            )
            .bind(trip.id.to_string())
            .bind(auth.account.to_string())
            .bind(trip.car_id.map(|c| c.to_string()))
            .bind(trip.started_at.timestamp_millis())
            .bind(*ended)
            .bind(*next)
            .bind(serde_json::to_string(trip).map_err(ApiError::internal)?)
            .bind(first_seq.unwrap_or(0))
            .execute(&mut *tx)
            .await?;
        }
        device.save_clock(&mut tx, &maker).await?;
        sqlx::query(
            "INSERT INTO hook_events (account_id, event_id, answer, received_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, event_id) DO NOTHING",
        )
        .bind(auth.account.to_string())
        .bind(&event_id)
        .bind(serde_json::to_string(&answer).map_err(ApiError::internal)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE hook_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&auth.token_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(answer);
    }
    Err(ApiError::internal("hook event lost three push races"))
}

/// The wire item of a hook's fix at position `seq`; coarse fixes are kept but not counted,
/// as the core's filter does.
fn hook_point(seq: i64, p: &Ping) -> Value {
    TripPoint {
        seq: u32::try_from(seq).unwrap_or(u32::MAX),
        ping: *p,
        counted: p
            .accuracy_m
            .is_none_or(|a| a <= FilterConfig::default().max_accuracy_m),
    }
    .to_wire()
}

fn car_out_of_scope() -> ApiError {
    refuse(
        StatusCode::FORBIDDEN,
        "car_out_of_scope",
        "this hook token is limited to another car",
    )
}
