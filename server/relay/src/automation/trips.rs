//! Hook trips: the trip a person's hook events start, ping and end, written as ops of the
//! account's automation device (`sync::writer`) in exactly the shapes the core writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row as _;
use tacho_model::api::{check_text, code, limits};
use tacho_model::car::find_by_key;
use tacho_model::gps::Ping;
use tacho_model::gps::filter::{FilterConfig, path_stats};
use tacho_model::id::{CarId, TripId};
use tacho_model::op::{EntityKind, Op, OpKind};
use tacho_model::trip::{Trip, TripSource, TripState};
use tacho_model::wire::TripPoint;
use uuid::Uuid;

use super::{EVENT_WINDOW_MS, EventKind, HookAnswer, HookCaller, HookEvent, cars_of, clean};
use crate::db::{Db, now_ms, rfc3339};
use crate::error::{Kind, ServiceError, ServiceResult};
use crate::sync::SyncService;
use crate::sync::writer::{Role, ServerDevice};

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

fn refuse(kind: Kind, code: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::new(kind, code, message)
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

async fn open_trips(db: &Db, account: Uuid) -> ServiceResult<Vec<HookTrip>> {
    let rows = sqlx::query(
        "SELECT trip_id, car_id, next_point, first_seq, header FROM hook_trips \
         WHERE account_id = $1 AND ended_at IS NULL ORDER BY started_at DESC",
    )
    .bind(account.to_string())
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("trip_id")?;
            let car: Option<String> = row.try_get("car_id")?;
            let header: String = row.try_get("header")?;
            Ok(HookTrip {
                id: Uuid::parse_str(&id).map_err(ServiceError::internal)?,
                car: car.as_deref().and_then(|c| Uuid::parse_str(c).ok()),
                next_point: row.try_get("next_point")?,
                first_seq: row.try_get("first_seq")?,
                header: serde_json::from_str(&header).map_err(ServiceError::internal)?,
            })
        })
        .collect()
}

/// Reads the stored positions of a trip's point chunks (the core's wire arrays).
async fn trip_pings(
    db: &Db,
    space: Uuid,
    trip: Uuid,
    first_seq: i64,
) -> ServiceResult<Vec<TripPoint>> {
    // The log has no index by entity (it would tax every insert): read the space's log written
    // since the trip started, by its primary key. Points are sorted by their own seq below.
    let rows = sqlx::query(
        "SELECT body FROM ops WHERE space_id = $1 AND seq > $2 \
         AND entity = 'trip_points' AND entity_id = $3",
    )
    .bind(space.to_string())
    .bind(first_seq)
    .bind(trip.to_string())
    .fetch_all(&db.pool)
    .await?;
    let mut points = Vec::new();
    for row in rows {
        let body: String = row.try_get("body")?;
        let op: Op = serde_json::from_str(&body).map_err(ServiceError::internal)?;
        if let OpKind::Append { items } = op.kind {
            points.extend(items.iter().filter_map(TripPoint::from_wire));
        }
    }
    points.sort_by_key(|p| p.seq);
    points.dedup_by_key(|p| p.seq);
    Ok(points)
}

fn event_ping(ev: &HookEvent, at: DateTime<Utc>) -> ServiceResult<Option<Ping>> {
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
            Kind::Invalid,
            "bad_position",
            "lat and lon must come together, within -90..90 and -180..180; accuracy must be ≥ 0",
        )),
    }
}

pub(super) async fn handle(
    db: &Db,
    sync: &SyncService,
    auth: &HookCaller,
    kind: EventKind,
    ev: HookEvent,
) -> ServiceResult<HookAnswer> {
    let event_id = check_text("event_id", &ev.event_id, limits::ID)?.to_owned();
    let car_hint = clean("car", ev.car.as_deref(), limits::NAME)?;
    let time_zone = clean("time_zone", ev.time_zone.as_deref(), limits::NAME)?;
    if event_id.is_empty() {
        return Err(refuse(
            Kind::Invalid,
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
            Kind::Invalid,
            "event_time_out_of_window",
            "`at` must be within 10 minutes of the relay's clock (check the phone's time)",
        )
        .with("relay_time", rfc3339(now)));
    }
    let ping = event_ping(&ev, at)?;
    if kind == EventKind::Ping && ping.is_none() {
        return Err(refuse(
            Kind::Invalid,
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
            .fetch_optional(&db.pool)
            .await?;
    if let Some(row) = seen {
        let raw: String = row.try_get("answer")?;
        let mut answer: HookAnswer = serde_json::from_str(&raw).map_err(ServiceError::internal)?;
        answer.duplicate = true;
        return Ok(answer);
    }
    let hint_car = match car_hint.clone() {
        Some(key) => {
            let cars = cars_of(db, auth.space).await?;
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
    let open = open_trips(db, auth.account).await?;
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
        let device = ServerDevice::open(sync, Role::Automation, auth.account, auth.space).await?;
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
                    Kind::Conflict,
                    "no_active_trip",
                    "no trip started by a hook is running; call /v1/hooks/trip/start first",
                ));
            }
            (EventKind::Ping | EventKind::End, Some(t)) => {
                if at < t.header.started_at {
                    return Err(refuse(
                        Kind::Invalid,
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
                    let mut pings: Vec<Ping> = trip_pings(db, auth.space, t.id, t.first_seq)
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
            match device.push(&maker).await {
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
                    .fetch_one(&db.pool)
                    .await?;
            *first_seq = Some(seq - 1);
        }
        let mut tx = db.begin_write().await?;
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
            .bind(serde_json::to_string(trip).map_err(ServiceError::internal)?)
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
        .bind(serde_json::to_string(&answer).map_err(ServiceError::internal)?)
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
    Err(ServiceError::internal("hook event lost three push races"))
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

fn car_out_of_scope() -> ServiceError {
    refuse(
        Kind::Forbidden,
        "car_out_of_scope",
        "this hook token is limited to another car",
    )
}
