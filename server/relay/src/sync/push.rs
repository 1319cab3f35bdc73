//! Pushes: a batch of one device's ops stored under the space's lock, checked with the shared
//! merge code, folded into the materialised state, and announced to long-polls.

use std::collections::{HashMap, HashSet};

use sqlx::Row as _;
use tacho_model::api::code;
use tacho_model::merge::{EntityState, InvalidOp};
use tacho_model::op::{EntityKind, Op, OpKind};
use uuid::Uuid;

use super::connector_work::enqueue_batch;
use super::feed::Hub;
use super::locks::{BatchLocks, LockRefusal};
use super::{IncomingOp, MAX_PUSH_OPS, PushResult};
use crate::accounts::devices::device_revoked;
use crate::accounts::tokens::Claims;
use crate::db::{Backend, Db, WriteTx, is_unique_violation, now_ms};
use crate::error::{Kind, ServiceError, ServiceResult};

fn invalid_op(index: usize, op: &Op, why: &str) -> ServiceError {
    refused(index, op, code::INVALID_OP, why)
}

/// Adds the entity's merged state to a `period_locked` refusal (see `ErrorBody::entity_state`).
fn with_state(error: ServiceError, locks: &BatchLocks, op: &Op) -> ServiceError {
    match locks.state_for_refused(op) {
        Some(state) if error.code == code::PERIOD_LOCKED => error.with("entity_state", state),
        _ => error,
    }
}

/// 422 for an op refused by a rule (`invalid_op`, `period_locked`), naming the op.
fn refused(index: usize, op: &Op, code: &'static str, why: &str) -> ServiceError {
    ServiceError::new(Kind::Invalid, code, format!("op {index}: {why}"))
        .with("op_id", op.op_id.to_string())
        .with("index", index)
}

/// Adds the refused field (`field`) to an `invalid_op` answer when the refusal names one.
fn naming(err: ServiceError, field: Option<&str>) -> ServiceError {
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
) -> ServiceResult<States> {
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
                    .map_err(ServiceError::internal)?;
            let id = Uuid::parse_str(&row.try_get::<String, _>("entity_id")?)
                .map_err(ServiceError::internal)?;
            if let Some(slot) = states.get_mut(&(kind, id)) {
                let raw: String = row.try_get("state")?;
                *slot = serde_json::from_str(&raw).map_err(ServiceError::internal)?;
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
fn validate(claims: &Claims, ops: &[IncomingOp]) -> ServiceResult<()> {
    if ops.len() > MAX_PUSH_OPS {
        return Err(ServiceError::new(
            Kind::TooLarge,
            "too_many_ops",
            format!("at most {MAX_PUSH_OPS} ops per push"),
        ));
    }
    if let Some(op) = ops.iter().find(|o| o.op.device.0 != claims.device) {
        return Err(ServiceError::new(
            Kind::Forbidden,
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
pub(super) async fn push_ops(
    db: &Db,
    hub: &Hub,
    claims: &Claims,
    ops: &[IncomingOp],
) -> ServiceResult<PushResult> {
    validate(claims, ops)?;
    let space = claims.space.to_string();
    let device = claims.device.to_string();
    let backend = db.backend;
    let (mut tx, head) = db.begin_space_write(&space).await?;
    let bound =
        sqlx::query("SELECT last_seq, revoked_at FROM devices WHERE id = $1 AND space_id = $2")
            .bind(&device)
            .bind(&space)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                ServiceError::new(
                    Kind::Forbidden,
                    "wrong_device",
                    "this device is not bound to the space",
                )
            })?;
    if bound.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Err(device_revoked());
    }
    let last_seq: i64 = bound.try_get("last_seq")?;
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
    // Time entries of accepted ops: connector work, enqueued in this transaction.
    let mut entries: HashSet<Uuid> = HashSet::new();
    // Whether the pushing device is a connector's (the only writer of relay-only kinds); looked
    // up once, when the batch has such an op.
    let mut relay_device: Option<bool> = None;
    // Accepted ops as pulled, for long-polls waiting on this space (if any).
    let listened = hub.is_listened(claims.space);
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
                enqueue_batch(&mut tx, backend, claims.account, &device, &entries).await?;
                finish_push(
                    db,
                    &mut tx,
                    &space,
                    &device,
                    next,
                    Progress {
                        last_seq: expected - 1,
                        at: received_at,
                    },
                    accepted,
                )
                .await?;
                tx.commit().await?;
                if accepted > 0 {
                    hub.publish(claims.space, published, next);
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
        if op.entity.relay_only() && relay_device.is_none() {
            relay_device = Some(
                sqlx::query("SELECT device_id FROM connector_devices WHERE device_id = $1")
                    .bind(&device)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some(),
            );
        }
        let forged = op.entity.relay_only() && relay_device != Some(true);
        let refusal =
            match tacho_model::merge::validate(op, u64::try_from(received_at).unwrap_or(0))
                .and_then(|()| admit(&mut ordered, op))
            {
                Err(e) => {
                    field = e.field().map(str::to_owned);
                    Some((code::INVALID_OP, e.to_string()))
                }
                Ok(()) if device_seq == expected && forged => Some((
                    code::INVALID_OP,
                    format!("{} ops are written by the relay only", op.entity.as_str()),
                )),
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
            enqueue_batch(&mut tx, backend, claims.account, &device, &entries).await?;
            finish_push(
                db,
                &mut tx,
                &space,
                &device,
                next,
                Progress {
                    last_seq: device_seq,
                    at: received_at,
                },
                accepted,
            )
            .await?;
            tx.commit().await?;
            if accepted > 0 {
                hub.publish(claims.space, published, next);
            }
            return Err(naming(
                with_state(refused(index, op, refusal_code, &why), &locks, op)
                    .with("accepted", accepted),
                field.as_deref(),
            ));
        }
        if device_seq != expected {
            return Err(ServiceError::new(
                Kind::Conflict,
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
        if op.entity == EntityKind::TimeEntry {
            entries.insert(op.entity_id);
        }
        locks.accepted(op);
        expected += 1;
        accepted += 1;
    }
    insert_rows(&mut tx, backend, &space, &device, &mut rows, received_at).await?;
    materialise(&mut tx, backend, &space, &mut merged).await?;
    enqueue_batch(&mut tx, backend, claims.account, &device, &entries).await?;
    finish_push(
        db,
        &mut tx,
        &space,
        &device,
        next,
        Progress {
            last_seq: expected - 1,
            at: received_at,
        },
        accepted,
    )
    .await?;
    tx.commit().await?;
    if accepted > 0 {
        hub.publish(claims.space, published, next);
    }
    Ok(PushResult {
        accepted,
        duplicates,
        head: next,
    })
}

/// Rows per multi-row `INSERT` (10 parameters each, well under both
/// databases' limits).
pub(super) const INSERT_ROWS: usize = 200;

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
) -> ServiceResult<HashMap<String, Known>> {
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
pub(super) fn placeholders(backend: Backend, before: usize, count: usize) -> String {
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
) -> ServiceResult<()> {
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
            ServiceError::new(
                Kind::Invalid,
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

/// How far a push took its device: the last sequence number it consumed and
/// when the batch arrived.
struct Progress {
    last_seq: i64,
    at: i64,
}

/// Moves the space's head and the device's sequence after a push, and tells
/// other instances.
async fn finish_push(
    db: &Db,
    tx: &mut WriteTx,
    space: &str,
    device: &str,
    head: i64,
    Progress { last_seq, at }: Progress,
    accepted: u64,
) -> ServiceResult<()> {
    if accepted > 0 {
        sqlx::query("UPDATE spaces SET head = $1 WHERE id = $2")
            .bind(head)
            .bind(space)
            .execute(&mut **tx)
            .await?;
    }
    // `last_push_at` rides on the statement that moves `last_seq` (no extra round trip): it
    // changes when a batch stored or refused a new op, not on a replay.
    sqlx::query(
        "UPDATE devices SET last_seq = $1, last_push_at = $3 WHERE id = $2 AND last_seq < $1",
    )
    .bind(last_seq)
    .bind(device)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    if accepted > 0 {
        db.notify_push(tx, space, head).await?;
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
) -> ServiceResult<Option<String>> {
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
) -> ServiceResult<()> {
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
            let state = serde_json::from_str(&raw).map_err(ServiceError::internal)?;
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
        *changed |= state
            .apply(op)
            .map_err(|e| ServiceError::new(Kind::Invalid, code::INVALID_OP, e.to_string()))?;
    }
    ops.clear();
    let changed: Vec<(String, String, String)> = states
        .into_iter()
        .filter(|(_, (_, changed))| *changed)
        .map(|((kind, id), (state, _))| {
            serde_json::to_string(&state)
                .map(|raw| (kind, id, raw))
                .map_err(ServiceError::internal)
        })
        .collect::<ServiceResult<_>>()?;
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
