//! The op log of a space: idempotent, gap-checked pushes that hand out gap-free cursors, pulls
//! (optionally long-polling), snapshots, and the combined sync call.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sqlx::Row as _;
use tacho_model::api::code;
use tacho_model::merge::{EntityState, InvalidOp};
use tacho_model::op::{EntityKind, Op, OpKind};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::feed::Hub;
use crate::openapi::ErrorBody;
use crate::period_locks::{BatchLocks, LockRefusal};
use crate::storage::{Backend, WriteTx, is_unique_violation, now_ms};
use crate::tokens::{Auth, Claims};

/// PostgreSQL channel on which instances announce pushes (`<space>:<head>`).
pub const PG_CHANNEL: &str = "tacho_push";
/// Most ops one push may carry.
pub const MAX_PUSH_OPS: usize = 1000;
/// Most ops one pull returns (also the default).
pub const MAX_PULL_OPS: i64 = 1000;
/// Longest long-poll, in seconds.
pub const LONG_POLL_MAX_S: u64 = 30;
/// How far ahead of the relay's clock an op may be dated.
pub const MAX_FUTURE_MS: i64 = 10 * 60 * 1000;

pub use tacho_model::wire::IncomingOp;

/// Body of `POST /v1/push`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PushRequest {
    /// Ops of the token's device, in `device_seq` order.
    #[schema(value_type = Vec<crate::openapi::OpDoc>)]
    pub ops: Vec<IncomingOp>,
}

pub use tacho_model::api::PushResult;

/// Query of `GET /v1/pull`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PullQuery {
    /// Last cursor seen (0 at first).
    #[serde(default)]
    pub cursor: i64,
    /// Most ops to return (default and maximum 1000).
    pub limit: Option<i64>,
    /// Seconds to wait for new ops when there are none (maximum 30).
    #[serde(default)]
    pub wait: u64,
}

/// Answer of a pull.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PullResult {
    /// Ops after the cursor, each the op as pushed plus its `cursor`: a JSON array, assembled
    /// by the database from the stored bodies without parsing them.
    #[schema(value_type = Vec<crate::openapi::RelayOpDoc>)]
    pub ops: Box<RawValue>,
    /// Cursor to pass next time.
    pub cursor: i64,
    /// Whether more ops follow right away.
    pub has_more: bool,
    /// How many ops `ops` holds.
    #[serde(skip)]
    pub count: usize,
}

/// Answer of `GET /v1/snapshot`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SnapshotResult {
    /// Head of the space; pull from here on.
    pub cursor: i64,
    /// Every op up to `cursor`, as a JSON array.
    #[schema(value_type = Vec<crate::openapi::RelayOpDoc>)]
    pub ops: Box<RawValue>,
}

/// Body of `POST /v1/sync`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SyncRequest {
    /// Ops to push first (may be empty).
    #[serde(default)]
    #[schema(value_type = Vec<crate::openapi::OpDoc>)]
    pub ops: Vec<IncomingOp>,
    /// Last cursor seen.
    #[serde(default)]
    pub cursor: i64,
    /// Most ops to pull.
    pub limit: Option<i64>,
    /// Long-poll seconds.
    #[serde(default)]
    pub wait: u64,
}

/// Answer of `POST /v1/sync`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncResult {
    /// What the push did.
    pub push: PushResult,
    /// What the pull found.
    pub pull: PullResult,
}

fn invalid_op(index: usize, op: &Op, why: &str) -> ApiError {
    refused(index, op, code::INVALID_OP, why)
}

/// Adds the entity's merged state to a `period_locked` refusal (see `ErrorBody::entity_state`).
fn with_state(error: ApiError, locks: &BatchLocks, op: &Op) -> ApiError {
    match locks.state_for_refused(op) {
        Some(state) if error.code == code::PERIOD_LOCKED => error.with("entity_state", state),
        _ => error,
    }
}

/// 422 for an op refused by a rule (`invalid_op`, `period_locked`), naming the op.
fn refused(index: usize, op: &Op, code: &'static str, why: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        code,
        format!("op {index}: {why}"),
    )
    .with("op_id", op.op_id.to_string())
    .with("index", index)
}

/// Adds the refused field (`field`) to an `invalid_op` answer when the refusal names one.
fn naming(err: ApiError, field: Option<&str>) -> ApiError {
    match field {
        Some(field) => err.with("field", field),
        None => err,
    }
}

/// Merged states of a space, by entity.
type States = HashMap<(EntityKind, Uuid), EntityState>;

/// The merged state of every entity a batch's order rules need (`tacho_model::schema`): the
/// entities of upserts that set an ordered field (a stop, a start), read at once; absent ones
/// start empty.
async fn order_states(
    tx: &mut WriteTx,
    backend: Backend,
    space: &str,
    ops: &[IncomingOp],
) -> ApiResult<States> {
    let mut states = States::new();
    for IncomingOp { op, .. } in ops {
        if let OpKind::Upsert { fields } = &op.kind
            && tacho_model::schema::touches_order(op.entity, fields)
        {
            states.insert((op.entity, op.entity_id), EntityState::default());
        }
    }
    let ids: Vec<String> = states.keys().map(|(_, id)| id.to_string()).collect();
    for chunk in ids.chunks(INSERT_ROWS) {
        let sql = format!(
            "SELECT entity, entity_id, state FROM entity_state WHERE space_id = {} AND entity_id IN ({})",
            placeholders(backend, 0, 1),
            placeholders(backend, 1, chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(space);
        for id in chunk {
            query = query.bind(id.as_str());
        }
        for row in query.fetch_all(&mut **tx).await? {
            let kind: EntityKind =
                serde_json::from_value(serde_json::Value::String(row.try_get("entity")?))
                    .map_err(ApiError::internal)?;
            let id = Uuid::parse_str(&row.try_get::<String, _>("entity_id")?)
                .map_err(ApiError::internal)?;
            if let Some(slot) = states.get_mut(&(kind, id)) {
                let raw: String = row.try_get("state")?;
                *slot = serde_json::from_str(&raw).map_err(ApiError::internal)?;
            }
        }
    }
    Ok(states)
}

/// The order rules in log order: `op` is judged on its entity's merged state (earlier ops of
/// the batch included) and, when admitted, folded into it.
fn admit(states: &mut States, op: &Op) -> Result<(), InvalidOp> {
    let Some(state) = states.get_mut(&(op.entity, op.entity_id)) else {
        return Ok(());
    };
    state.admit(op)?;
    state.apply(op).map(|_| ())
}

/// Checks what can be checked without the database, so bad batches never take the lock.
fn validate(claims: &Claims, ops: &[IncomingOp]) -> ApiResult<()> {
    if ops.len() > MAX_PUSH_OPS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_ops",
            format!("at most {MAX_PUSH_OPS} ops per push"),
        ));
    }
    if let Some(op) = ops.iter().find(|o| o.op.device.0 != claims.device) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_device",
            format!(
                "op {} was made by another device than this token's",
                op.op.op_id
            ),
        ));
    }
    Ok(())
}

/// Stores the new ops of a batch in one transaction under the space's lock and wakes pulls.
pub async fn push_ops(
    state: &AppState,
    claims: &Claims,
    ops: &[IncomingOp],
) -> ApiResult<PushResult> {
    validate(claims, ops)?;
    let space = claims.space.to_string();
    let device = claims.device.to_string();
    let backend = state.db.backend;
    let (mut tx, head) = state.db.begin_space_write(&space).await?;
    let last_seq: i64 = sqlx::query("SELECT last_seq FROM devices WHERE id = $1 AND space_id = $2")
        .bind(&device)
        .bind(&space)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_device",
                "this device is not bound to the space",
            )
        })?
        .try_get("last_seq")?;
    let (mut expected, mut next) = (last_seq + 1, head);
    let (mut accepted, mut duplicates) = (0_u64, 0_u64);
    let mut seen = HashSet::new();
    let received_at = now_ms();
    let known = known_ops(&mut tx, backend, &space, ops).await?;
    let mut locks = BatchLocks::load(&mut tx, backend, &space, ops).await?;
    let mut ordered = order_states(&mut tx, backend, &space, ops).await?;
    let mut owners: HashMap<Uuid, String> = HashMap::new();
    let mut rows: Vec<NewRow> = Vec::with_capacity(ops.len());
    // Accepted ops that change merged state, folded in once per batch.
    let mut merged: Vec<&Op> = Vec::new();
    // Accepted ops as pulled, for long-polls waiting on this space (if any).
    let listened = state.hub.is_listened(claims.space);
    let mut published: Vec<(i64, String)> = Vec::new();
    for (index, IncomingOp { op, body }) in ops.iter().enumerate() {
        let op_id = op.op_id.to_string();
        if !seen.insert(op_id.clone()) {
            duplicates += 1;
            continue;
        }
        if let Some(row) = known.get(&op_id) {
            if row.device != device {
                return Err(invalid_op(
                    index,
                    op,
                    "op_id already used by another device",
                ));
            }
            if row.refused {
                // Refused before and the answer may have been lost: refuse it
                // again (its sequence number stays consumed) so the device
                // parks it instead of taking it for delivered.
                let (why, refusal_code) = (row.reason.clone(), row.code);
                insert_rows(&mut tx, backend, &space, &device, &mut rows, received_at).await?;
                materialise(&mut tx, backend, &space, &mut merged).await?;
                finish_push(
                    state,
                    &mut tx,
                    &space,
                    &device,
                    next,
                    expected - 1,
                    accepted,
                )
                .await?;
                tx.commit().await?;
                if accepted > 0 {
                    state.hub.publish(claims.space, published, next);
                }
                let field = tacho_model::merge::check_shape(op).err();
                return Err(naming(
                    with_state(refused(index, op, refusal_code, &why), &locks, op)
                        .with("accepted", accepted),
                    field.as_ref().and_then(InvalidOp::field),
                ));
            }
            // Stored before: a replayed request.
            duplicates += 1;
            continue;
        }
        let device_seq = i64::try_from(op.device_seq).unwrap_or(i64::MAX);
        // The shared merge code decides what is invalid. An invalid op is
        // recorded as refused and consumes its device_seq, the ops before it
        // stay stored, and the device parks it and carries on after it.
        let mut field = None;
        let refusal =
            match tacho_model::merge::validate(op, u64::try_from(received_at).unwrap_or(0))
                .and_then(|()| admit(&mut ordered, op))
            {
                Err(e) => {
                    field = e.field().map(str::to_owned);
                    Some((code::INVALID_OP, e.to_string()))
                }
                Ok(()) if device_seq == expected => {
                    match check_points_owner(&mut tx, &mut owners, &space, &device, op).await? {
                        Some(why) => Some((code::INVALID_OP, why)),
                        None => locks
                            .refusal(op)
                            .map(|LockRefusal(why)| (code::PERIOD_LOCKED, why)),
                    }
                }
                Ok(()) => None,
            };
        if let Some((refusal_code, why)) = &refusal
            && device_seq != expected
        {
            // Refused and out of sequence: nothing of the batch is kept.
            return Err(naming(
                with_state(refused(index, op, refusal_code, why), &locks, op),
                field.as_deref(),
            ));
        }
        if let Some((refusal_code, why)) = refusal {
            sqlx::query(
                "INSERT INTO rejected_ops (op_id, space_id, device_id, device_seq, reason, received_at, code, entity_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&op_id)
            .bind(&space)
            .bind(&device)
            .bind(device_seq)
            .bind(&why)
            .bind(received_at)
            .bind(refusal_code)
            .bind(tacho_model::lock::dated_entity(op).map(|(_, id)| id.to_string()))
            .execute(&mut *tx)
            .await?;
            insert_rows(&mut tx, backend, &space, &device, &mut rows, received_at).await?;
            materialise(&mut tx, backend, &space, &mut merged).await?;
            finish_push(state, &mut tx, &space, &device, next, device_seq, accepted).await?;
            tx.commit().await?;
            if accepted > 0 {
                state.hub.publish(claims.space, published, next);
            }
            return Err(naming(
                with_state(refused(index, op, refusal_code, &why), &locks, op)
                    .with("accepted", accepted),
                field.as_deref(),
            ));
        }
        if device_seq != expected {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                code::SEQ_GAP,
                format!(
                    "op {index} has device_seq {device_seq} where {expected} was due; nothing of the batch was stored"
                ),
            )
            // Nothing was stored, so the device must resume right after what the relay has.
            .with("expected_seq", last_seq + 1));
        }
        next += 1;
        if listened && let Some(rest) = body.strip_prefix('{') {
            published.push((next, format!("{{\"cursor\":{next},{rest}")));
        }
        rows.push(NewRow {
            seq: next,
            op_id,
            device_seq,
            hlc: i64::try_from(op.hlc.0).unwrap_or(i64::MAX),
            entity: op.entity.as_str(),
            entity_id: op.entity_id.to_string(),
            body: body.clone(),
            index,
        });
        if rows.len() >= INSERT_ROWS {
            insert_rows(&mut tx, backend, &space, &device, &mut rows, received_at).await?;
        }
        if !tacho_model::merge::is_append_only(op.entity) {
            merged.push(op);
        }
        locks.accepted(op);
        expected += 1;
        accepted += 1;
    }
    insert_rows(&mut tx, backend, &space, &device, &mut rows, received_at).await?;
    materialise(&mut tx, backend, &space, &mut merged).await?;
    finish_push(
        state,
        &mut tx,
        &space,
        &device,
        next,
        expected - 1,
        accepted,
    )
    .await?;
    tx.commit().await?;
    if accepted > 0 {
        state.hub.publish(claims.space, published, next);
    }
    Ok(PushResult {
        accepted,
        duplicates,
        head: next,
    })
}

/// Rows per multi-row `INSERT` (10 parameters each, well under both
/// databases' limits).
const INSERT_ROWS: usize = 200;

/// An accepted op waiting for the batch insert.
struct NewRow {
    seq: i64,
    op_id: String,
    device_seq: i64,
    hlc: i64,
    entity: &'static str,
    entity_id: String,
    body: String,
    index: usize,
}

/// An op id already in the log (or refused before).
struct Known {
    device: String,
    refused: bool,
    reason: String,
    /// The code it was refused with.
    code: &'static str,
}

/// The stored refusal code as the `&'static` the error wants.
fn refusal_code(stored: &str) -> &'static str {
    if stored == code::PERIOD_LOCKED {
        code::PERIOD_LOCKED
    } else {
        code::INVALID_OP
    }
}

/// Looks up every op id of a batch at once (stored or refused before), so a
/// push costs a few round trips rather than one per op. Op ids are unique per space (schema v9):
/// another space's ops are not looked at, so an id used elsewhere is new here and the answer
/// tells nothing about other accounts.
async fn known_ops(
    tx: &mut WriteTx,
    backend: Backend,
    space: &str,
    ops: &[IncomingOp],
) -> ApiResult<HashMap<String, Known>> {
    let mut known = HashMap::new();
    for chunk in ops.chunks(INSERT_ROWS) {
        let sp = placeholders(backend, 0, 1);
        let list = placeholders(backend, 1, chunk.len());
        let sql = format!(
            "SELECT op_id, device_id, '' AS reason, '' AS code, 0 AS refused FROM ops WHERE space_id = {sp} AND op_id IN ({list}) \
             UNION ALL SELECT op_id, device_id, reason, code, 1 AS refused FROM rejected_ops WHERE space_id = {sp} AND op_id IN ({list})"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        // `$n` parameters are numbered and serve both lists; SQLite's `?` are positional, so
        // they are bound once per list.
        let lists = if backend == Backend::Sqlite { 2 } else { 1 };
        for _ in 0..lists {
            query = query.bind(space.to_owned());
            for incoming in chunk {
                query = query.bind(incoming.op.op_id.to_string());
            }
        }
        for row in query.fetch_all(&mut **tx).await? {
            let refused: i64 = row.try_get("refused")?;
            known.insert(
                row.try_get("op_id")?,
                Known {
                    device: row.try_get("device_id")?,
                    refused: refused == 1,
                    reason: row.try_get("reason")?,
                    code: refusal_code(&row.try_get::<String, _>("code")?),
                },
            );
        }
    }
    Ok(known)
}

/// `count` parameter placeholders after the first `before`: numbered `$n` on PostgreSQL,
/// positional `?` on SQLite, where sqlx looks up every named parameter's name in a list
/// (quadratic in the parameter count, a seventh of the relay's CPU time with `$n`).
fn placeholders(backend: Backend, before: usize, count: usize) -> String {
    match backend {
        Backend::Sqlite => vec!["?"; count].join(", "),
        Backend::Postgres => (before + 1..=before + count)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Writes the buffered accepted ops with one multi-row `INSERT`.
async fn insert_rows(
    tx: &mut WriteTx,
    backend: Backend,
    space: &str,
    device: &str,
    rows: &mut Vec<NewRow>,
    received_at: i64,
) -> ApiResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let values = (0..rows.len())
        .map(|r| format!("({})", placeholders(backend, r * 10, 10)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO ops (space_id, seq, op_id, device_id, device_seq, hlc, entity, entity_id, body, received_at) \
         VALUES {values}"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for row in rows.iter() {
        query = query
            .bind(space.to_owned())
            .bind(row.seq)
            .bind(row.op_id.clone())
            .bind(device.to_owned())
            .bind(row.device_seq)
            .bind(row.hlc)
            .bind(row.entity)
            .bind(row.entity_id.clone())
            .bind(row.body.clone())
            .bind(received_at);
    }
    let first = rows.first().map_or(0, |r| r.index);
    query.execute(&mut **tx).await.map_err(|e| {
        // Lost a race with another space storing the same op_id (the space
        // lock doesn't cover other spaces).
        let on_op_id = matches!(&e, sqlx::Error::Database(d) if d.message().contains("op_id"));
        if is_unique_violation(&e) && on_op_id {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code::INVALID_OP,
                format!("an op id of this batch (from index {first} on) is already used by another device"),
            )
            .with("index", first)
        } else {
            e.into()
        }
    })?;
    rows.clear();
    Ok(())
}

/// Moves the space's head and the device's sequence after a push, and tells
/// other instances.
async fn finish_push(
    state: &AppState,
    tx: &mut WriteTx,
    space: &str,
    device: &str,
    head: i64,
    last_seq: i64,
    accepted: u64,
) -> ApiResult<()> {
    if accepted > 0 {
        sqlx::query("UPDATE spaces SET head = $1 WHERE id = $2")
            .bind(head)
            .bind(space)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("UPDATE devices SET last_seq = $1 WHERE id = $2 AND last_seq < $1")
        .bind(last_seq)
        .bind(device)
        .execute(&mut **tx)
        .await?;
    if accepted > 0 {
        state.db.notify_push(tx, space, head).await?;
    }
    Ok(())
}

/// GPS points of a trip are written only by the device that recorded its
/// first chunk; `Some(reason)` refuses a chunk from any other device.
async fn check_points_owner(
    tx: &mut WriteTx,
    owners: &mut HashMap<Uuid, String>,
    space: &str,
    device: &str,
    op: &Op,
) -> ApiResult<Option<String>> {
    if op.entity != tacho_model::op::EntityKind::TripPoints {
        return Ok(None);
    }
    if let Some(owner) = owners.get(&op.entity_id) {
        return Ok((owner != device).then(|| {
            format!(
                "the points of trip {} are recorded by device {owner}; only it may append them",
                op.entity_id
            )
        }));
    }
    let trip = op.entity_id.to_string();
    let row = sqlx::query(
        "SELECT device_id, points_purged_at FROM point_writers WHERE space_id = $1 AND trip_id = $2",
    )
    .bind(space)
    .bind(&trip)
    .fetch_optional(&mut **tx)
    .await?;
    let owner = row
        .map(|r| -> Result<_, sqlx::Error> {
            Ok((
                r.try_get::<String, _>("device_id")?,
                r.try_get::<Option<i64>, _>("points_purged_at")?,
            ))
        })
        .transpose()?;
    owners.insert(
        op.entity_id,
        owner
            .as_ref()
            .map_or_else(|| device.to_owned(), |(o, _)| o.clone()),
    );
    match owner {
        Some((owner, _)) if owner != device => Ok(Some(format!(
            "the points of trip {trip} are recorded by device {owner}; only it may append them"
        ))),
        Some((_, None)) => Ok(None),
        Some((_, Some(_))) => {
            // A chunk arriving after the retention purge emptied this trip: the purge must look
            // at the trip again (rare: a device offline for longer than the retention period).
            sqlx::query(
                "UPDATE point_writers SET points_purged_at = NULL WHERE space_id = $1 AND trip_id = $2",
            )
            .bind(space)
            .bind(&trip)
            .execute(&mut **tx)
            .await?;
            Ok(None)
        }
        None => {
            sqlx::query(
                "INSERT INTO point_writers (space_id, trip_id, device_id) VALUES ($1, $2, $3)",
            )
            .bind(space)
            .bind(&trip)
            .bind(device)
            .execute(&mut **tx)
            .await?;
            Ok(None)
        }
    }
}

/// Folds a batch's accepted ops into the space's merged state with the same merge code the
/// devices run: one read of the touched entities, the merge in memory, one multi-row upsert of
/// what changed. GPS point chunks stay in the log only: their merged form is the log itself, and
/// re-writing a growing list per chunk would be quadratic.
async fn materialise(
    tx: &mut WriteTx,
    backend: Backend,
    space: &str,
    ops: &mut Vec<&Op>,
) -> ApiResult<()> {
    if ops.is_empty() {
        return Ok(());
    }
    let mut states: HashMap<(String, String), (tacho_model::merge::EntityState, bool)> =
        HashMap::new();
    let ids: Vec<String> = ops
        .iter()
        .map(|op| op.entity_id.to_string())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    for chunk in ids.chunks(INSERT_ROWS) {
        let sql = format!(
            "SELECT entity, entity_id, state FROM entity_state WHERE space_id = {} AND entity_id IN ({})",
            placeholders(backend, 0, 1),
            placeholders(backend, 1, chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(space);
        for id in chunk {
            query = query.bind(id.as_str());
        }
        for row in query.fetch_all(&mut **tx).await? {
            let raw: String = row.try_get("state")?;
            let state = serde_json::from_str(&raw).map_err(ApiError::internal)?;
            states.insert(
                (row.try_get("entity")?, row.try_get("entity_id")?),
                (state, false),
            );
        }
    }
    for op in ops.iter() {
        let (state, changed) = states
            .entry((op.entity.as_str().to_owned(), op.entity_id.to_string()))
            .or_insert_with(|| (tacho_model::merge::EntityState::default(), true));
        *changed |= state.apply(op).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code::INVALID_OP,
                e.to_string(),
            )
        })?;
    }
    ops.clear();
    let changed: Vec<(String, String, String)> = states
        .into_iter()
        .filter(|(_, (_, changed))| *changed)
        .map(|((kind, id), (state, _))| {
            serde_json::to_string(&state)
                .map(|raw| (kind, id, raw))
                .map_err(ApiError::internal)
        })
        .collect::<ApiResult<_>>()?;
    for chunk in changed.chunks(INSERT_ROWS) {
        let values = (0..chunk.len())
            .map(|r| format!("({})", placeholders(backend, r * 4, 4)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO entity_state (space_id, entity, entity_id, state) VALUES {values} \
             ON CONFLICT (space_id, entity, entity_id) DO UPDATE SET state = excluded.state"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (kind, id, raw) in chunk {
            query = query
                .bind(space.to_owned())
                .bind(kind.clone())
                .bind(id.clone())
                .bind(raw.clone());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Ops as pulled, as one JSON array assembled in SQL: each stored body (the JSON object the relay
/// accepted, which never is `{}` since an op has required fields) with the relay's `cursor`
/// spliced in as its first key. One row per page instead of one per op (sqlx's SQLite driver
/// hands each row over a channel to the async side) and no parse or re-serialisation of bodies.
/// `string_agg … ORDER BY` is understood by PostgreSQL and by SQLite ≥ 3.44.
const PAGE_AGGREGATE: &str = "count(*) AS n, max(seq) AS last, \
     string_agg('{\"cursor\":' || seq || ',' || substr(body, 2), ',' ORDER BY seq) AS page";

/// Ops of `space` after `cursor`, at most `limit`.
async fn read_page(
    state: &AppState,
    space: &str,
    cursor: i64,
    limit: i64,
) -> ApiResult<(PullResult, Option<i64>)> {
    let sql = format!(
        "SELECT {PAGE_AGGREGATE}, (SELECT head FROM spaces WHERE id = $1) AS head \
         FROM (SELECT seq, body FROM ops WHERE space_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) AS p"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(space)
        .bind(cursor)
        .bind(limit)
        .fetch_one(&state.db.pool)
        .await?;
    let (count, last, ops) = page_of(&row)?;
    let head: Option<i64> = row.try_get("head")?;
    let cursor = last.unwrap_or(cursor);
    let page = PullResult {
        ops,
        cursor,
        has_more: head.is_some_and(|head| head > cursor),
        count,
    };
    Ok((page, head))
}

/// Reads the aggregate of [`PAGE_AGGREGATE`]: how many ops, the last cursor, the array.
fn page_of(row: &sqlx::any::AnyRow) -> ApiResult<(usize, Option<i64>, Box<RawValue>)> {
    let count: i64 = row.try_get("n")?;
    let last: Option<i64> = row.try_get("last")?;
    let page: Option<String> = row.try_get("page")?;
    let ops = RawValue::from_string(format!("[{}]", page.unwrap_or_default()))
        .map_err(ApiError::internal)?;
    Ok((usize::try_from(count).unwrap_or(0), last, ops))
}

/// Reads ops after `cursor`; with `wait` > 0 and nothing new, waits for a push to the space.
pub async fn pull_ops(
    state: &AppState,
    space: Uuid,
    cursor: i64,
    limit: Option<i64>,
    wait: u64,
) -> ApiResult<PullResult> {
    let limit = limit.unwrap_or(MAX_PULL_OPS).clamp(1, MAX_PULL_OPS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait.min(LONG_POLL_MAX_S));
    let space_id = space.to_string();
    let mut feed = state.hub.subscribe(space);
    let mut closing = state.hub.closing.subscribe();
    loop {
        let known = feed.known_head();
        if let Some(page) = state.hub.recent_page(space, cursor, limit) {
            return Ok(page);
        }
        // Caught up with the newest head this instance knows of: every newer commit is
        // announced to the feed, so there is nothing to read until it changes.
        let caught_up = known == Some(cursor);
        if !caught_up {
            let (page, head) = read_page(state, &space_id, cursor, limit).await?;
            if let Some(head) = head {
                state.hub.observe(space, &feed, head);
            }
            if page.count > 0 || *closing.borrow_and_update() {
                return Ok(page);
            }
        }
        let nothing = || empty_page(cursor);
        if *closing.borrow_and_update() {
            return nothing();
        }
        tokio::select! {
            changed = feed.head.changed() => if changed.is_err() { return nothing() },
            _ = closing.changed() => return nothing(),
            () = tokio::time::sleep_until(deadline) => return nothing(),
        }
    }
}

/// No ops after `cursor`.
fn empty_page(cursor: i64) -> ApiResult<PullResult> {
    Ok(PullResult {
        ops: RawValue::from_string("[]".to_owned()).map_err(ApiError::internal)?,
        cursor,
        has_more: false,
        count: 0,
    })
}

/// `POST /v1/push`: appends the calling device's ops to its space.
#[utoipa::path(post, path = "/v1/push", tag = "sync",
    request_body = PushRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = PushResult),
        (status = 403, description = "wrong_device", body = ErrorBody),
        (status = 409, description = "seq_gap, with expected_seq", body = ErrorBody),
        (status = 422, description = "invalid_op (with op_id, index and, when the refusal is about one field by the field schema, field) or period_locked (a change to a locked month made after the lock; with op_id, index and entity_state)", body = ErrorBody),
    ))]
pub async fn push(
    State(state): State<AppState>,
    Auth(claims): Auth,
    body: Result<Json<PushRequest>, JsonRejection>,
) -> ApiResult<Json<PushResult>> {
    let Json(req) = body?;
    push_ops(&state, &claims, &req.ops).await.map(Json)
}

/// `GET /v1/pull`: ops after a cursor, optionally long-polling.
#[utoipa::path(get, path = "/v1/pull", tag = "sync",
    params(PullQuery),
    security(("bearer" = [])),
    responses((status = 200, body = PullResult), (status = 401, body = ErrorBody)))]
pub async fn pull(
    State(state): State<AppState>,
    Auth(claims): Auth,
    query: Result<Query<PullQuery>, QueryRejection>,
) -> ApiResult<Json<PullResult>> {
    let Query(q) = query?;
    pull_ops(&state, claims.space, q.cursor, q.limit, q.wait)
        .await
        .map(Json)
}

/// `GET /v1/snapshot`: every op of the space up to its head.
#[utoipa::path(get, path = "/v1/snapshot", tag = "sync",
    security(("bearer" = [])),
    responses((status = 200, body = SnapshotResult), (status = 401, body = ErrorBody)))]
pub async fn snapshot(
    State(state): State<AppState>,
    Auth(claims): Auth,
) -> ApiResult<Json<SnapshotResult>> {
    let space = claims.space.to_string();
    let head: i64 = sqlx::query("SELECT head FROM spaces WHERE id = $1")
        .bind(&space)
        .fetch_one(&state.db.pool)
        .await?
        .try_get("head")?;
    let sql = format!(
        "SELECT {PAGE_AGGREGATE} FROM (SELECT seq, body FROM ops WHERE space_id = $1 AND seq <= $2) AS p"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&space)
        .bind(head)
        .fetch_one(&state.db.pool)
        .await?;
    let (_, _, ops) = page_of(&row)?;
    Ok(Json(SnapshotResult { cursor: head, ops }))
}

/// `POST /v1/sync`: a push followed by a pull, in one round trip.
#[utoipa::path(post, path = "/v1/sync", tag = "sync",
    request_body = SyncRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = SyncResult),
        (status = 403, description = "wrong_device", body = ErrorBody),
        (status = 409, description = "seq_gap", body = ErrorBody),
        (status = 422, description = "invalid_op, with op_id, index and field (see push)", body = ErrorBody),
    ))]
pub async fn sync(
    State(state): State<AppState>,
    Auth(claims): Auth,
    body: Result<Json<SyncRequest>, JsonRejection>,
) -> ApiResult<Json<SyncResult>> {
    let Json(req) = body?;
    let push = if req.ops.is_empty() {
        let head: i64 = sqlx::query("SELECT head FROM spaces WHERE id = $1")
            .bind(claims.space.to_string())
            .fetch_one(&state.db.pool)
            .await?
            .try_get("head")?;
        PushResult {
            accepted: 0,
            duplicates: 0,
            head,
        }
    } else {
        push_ops(&state, &claims, &req.ops).await?
    };
    let pull = pull_ops(&state, claims.space, req.cursor, req.limit, req.wait).await?;
    Ok(Json(SyncResult { push, pull }))
}

/// Subscribes to pushes announced by other instances on the same PostgreSQL database and feeds
/// them to `hub`. Returns once `LISTEN` is in effect, so pushes after it are never missed.
pub async fn spawn_pg_listener(
    url: &str,
    hub: Hub,
) -> Result<tokio::task::AbortHandle, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(PG_CHANNEL).await?;
    let task = tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    let parsed = n.payload().split_once(':').and_then(|(space, head)| {
                        Some((Uuid::parse_str(space).ok()?, head.parse::<i64>().ok()?))
                    });
                    if let Some((space, head)) = parsed {
                        hub.wake(space, head);
                    }
                }
                // The connection dropped and was re-established; anything sent meanwhile is lost.
                Ok(None) => hub.wake_all(),
                Err(err) => {
                    tracing::warn!(%err, "push listener failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(task.abort_handle())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op_text(extra: &str) -> String {
        format!(
            r#"{{"op_id":"{}","device":"{}","device_seq":1,"hlc":1,"entity":"car","entity_id":"{}","kind":"delete","schema":1{extra}}}"#,
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7()
        )
    }

    /// Found by fuzz/push_decode: a lone surrogate escape in an unknown field decoded as an `Op`
    /// and was stored verbatim, after which no client could decode a page holding it.
    #[test]
    fn an_op_whose_text_is_not_valid_json_values_is_refused() {
        let bad = format!(r#"{{"ops":[{}]}}"#, op_text(r#","x_new":"\ud800""#));
        let err = serde_json::from_str::<PushRequest>(&bad).expect_err("lone surrogate");
        assert!(err.to_string().contains("escape"), "{err}");
        let bad = format!(r#"{{"ops":[{}]}}"#, op_text(r#","x_new":[1e400]"#));
        let err = serde_json::from_str::<PushRequest>(&bad).expect_err("out of range");
        assert!(err.to_string().contains("out of range"), "{err}");
        // Valid escapes (a surrogate pair, a control character) still go through verbatim.
        let text = op_text(r#","x_new":"\ud83d\ude00 \u0001""#);
        let ok: PushRequest =
            serde_json::from_str(&format!(r#"{{"ops":[{text}]}}"#)).expect("valid escapes");
        assert_eq!(ok.ops[0].body, text);
        // An echoed cursor is still found and removed.
        let echoed = op_text(r#","cursor":7"#);
        let ok: PushRequest =
            serde_json::from_str(&format!(r#"{{"ops":[{echoed}]}}"#)).expect("cursor");
        assert!(!ok.ops[0].body.contains("cursor"), "{}", ok.ops[0].body);
    }
}
