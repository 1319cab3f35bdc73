//! Property test: 2–4 devices write random ops offline (with wall clocks that
//! may go backwards), then several replicas receive all of them in different
//! orders, some twice. Every replica must end in the same state and the same
//! running-timer view, and the state must match a plain LWW oracle.
//!
//! Some ops are nonsense (issue 11 item 6): a value the field schema refuses, or a
//! timer stopped before it started. A relay takes the ops in one interleaving of the
//! devices (each device's own order kept), refusing what `validate` or `admit` refuses;
//! replicas then get the log plus the field-invalid ops (as a relay without the schema
//! would have forwarded them): each replica refuses exactly those, with the same error,
//! whatever the order, and ends in the relay's state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;

use chrono::DateTime;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tacho_model::hlc::{HlcClock, Stamp};
use tacho_model::id::{DeviceId, OpId, TripId};
use tacho_model::lineage::{self, LineageNode, TripLineage, TripStatus};
use tacho_model::merge::{InvalidOp, SpaceState, validate};
use tacho_model::op::{EntityKind, Op, OpKind, SCHEMA_VERSION};
use uuid::Uuid;

const BASE_MS: u64 = 1_700_000_000_000;
const PROJECTS: u128 = 3;
const FIELDS: [&str; 3] = ["name", "client", "x_from_v2"];

#[derive(Debug, Clone)]
enum Action {
    Set {
        project: u128,
        field: usize,
        value: u8,
    },
    Delete {
        project: u128,
    },
    Restore {
        project: u128,
    },
    StartTimer,
    StopTimer,
    DeleteTimer,
    EditOthersTimer {
        nth: usize,
    },
    Points {
        n: u8,
    },
    Edit {
        value: u8,
    },
    /// A value the field schema refuses (which one: `NONSENSE`).
    Nonsense {
        which: usize,
    },
    /// Stops the running timer a minute before it started.
    StopBeforeStart,
    /// Archives or unarchives a project (a boolean field, LWW like the others).
    Archive {
        project: u128,
        archived: bool,
    },
    /// Appends to a time entry's edit history (issue 12).
    EntryEdit {
        value: u8,
    },
}

/// Field-invalid upserts (kind, fields, the field the refusal names), the examples
/// first. Each goes to an entity of its own, so the valid state is not touched.
fn nonsense(which: usize) -> (EntityKind, Value, &'static str) {
    match which {
        0 => (
            EntityKind::Place,
            json!({"name": "Pole", "center": {"lat": 91.0, "lon": 5.0}}),
            "center",
        ),
        1 => (
            EntityKind::Place,
            json!({"center": {"lat": "52.1", "lon": 5.0}}),
            "center",
        ),
        2 => (EntityKind::PeriodLock, json!({"month": "2023-13"}), "month"),
        3 => (
            EntityKind::Trip,
            json!({"distance_m": -12.5, "note": "x"}),
            "distance_m",
        ),
        4 => (
            EntityKind::TimeEntry,
            json!({"start": "1970-01-01T00:00:00Z", "stop": null}),
            "start",
        ),
        5 => (EntityKind::Project, json!({"name": "bell\u{7}"}), "name"),
        6 => (
            EntityKind::OdometerReading,
            json!({"odometer_m": 12.5}),
            "odometer_m",
        ),
        _ => (
            EntityKind::TimeEntry,
            json!({"stop": "2099-01-01T00:00:00Z"}),
            "stop",
        ),
    }
}

const NONSENSE: usize = 8;

/// What the shared rules must decide about an op.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Valid,
    /// Refused by every replica's field rules, naming this field.
    BadField(&'static str),
    /// Refused where it enters the log (the order rule), naming this field.
    OutOfOrder(&'static str),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0..PROJECTS, 0..FIELDS.len(), any::<u8>())
            .prop_map(|(project, field, value)| Action::Set { project, field, value }),
        1 => (0..PROJECTS).prop_map(|project| Action::Delete { project }),
        1 => (0..PROJECTS).prop_map(|project| Action::Restore { project }),
        2 => Just(Action::StartTimer),
        2 => Just(Action::StopTimer),
        1 => Just(Action::DeleteTimer),
        1 => (0..8usize).prop_map(|nth| Action::EditOthersTimer { nth }),
        2 => (1..4u8).prop_map(|n| Action::Points { n }),
        1 => any::<u8>().prop_map(|value| Action::Edit { value }),
        1 => (0..NONSENSE).prop_map(|which| Action::Nonsense { which }),
        1 => Just(Action::StopBeforeStart),
        1 => (0..PROJECTS, any::<bool>())
            .prop_map(|(project, archived)| Action::Archive { project, archived }),
        1 => any::<u8>().prop_map(|value| Action::EntryEdit { value }),
    ]
}

/// Wall-clock step before each action: mostly forward, sometimes backwards.
fn step() -> impl Strategy<Value = i64> {
    prop_oneof![4 => 0..120_000i64, 1 => -60_000..0i64]
}

fn device_script() -> impl Strategy<Value = Vec<(i64, Action)>> {
    prop::collection::vec((step(), action()), 1..24)
}

fn project_id(n: u128) -> Uuid {
    Uuid::from_u128(0x1000 + n)
}

fn upsert_fields(pairs: &[(&str, Value)]) -> OpKind {
    let fields: Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    OpKind::Upsert { fields }
}

fn rfc3339(ms: u64) -> Value {
    let t = DateTime::from_timestamp_millis(i64::try_from(ms).unwrap()).unwrap();
    serde_json::to_value(t).unwrap()
}

/// Turns each device's script into its ops. Timers started by any device are
/// visible to the others' `EditOthersTimer` only by id (nothing is synced
/// while offline), which is enough to make concurrent edits of one entry.
fn ops_of(scripts: &[Vec<(i64, Action)>]) -> Vec<(Op, Expect)> {
    let mut ops = Vec::new();
    let timer_id = |d: usize, n: u64| Uuid::from_u128(0x2000 + ((d as u128) << 32) + n as u128);
    for (d, script) in scripts.iter().enumerate() {
        let device = DeviceId(Uuid::from_u128(0x100 + d as u128));
        let trip = Uuid::from_u128(0x3000 + d as u128);
        let mut clock = HlcClock::default();
        let mut wall = BASE_MS + d as u64 * 7_000;
        let mut seq = 0u64;
        let mut timers = 0u64;
        let mut running: Option<(Uuid, u64)> = None;
        let mut point_seq = 0u64;
        for (delta, action) in script {
            wall = wall.saturating_add_signed(*delta);
            let mut expect = Expect::Valid;
            let (entity, entity_id, kind) = match action {
                Action::Set {
                    project,
                    field,
                    value,
                } => (
                    EntityKind::Project,
                    project_id(*project),
                    upsert_fields(&[(FIELDS[*field], json!(format!("v{value}")))]),
                ),
                Action::Delete { project } => {
                    (EntityKind::Project, project_id(*project), OpKind::Delete)
                }
                Action::Restore { project } => {
                    (EntityKind::Project, project_id(*project), OpKind::Restore)
                }
                Action::StartTimer => {
                    timers += 1;
                    let id = timer_id(d, timers);
                    running = Some((id, wall));
                    (
                        EntityKind::TimeEntry,
                        id,
                        upsert_fields(&[
                            ("start", rfc3339(wall)),
                            ("stop", Value::Null),
                            ("description", json!("")),
                        ]),
                    )
                }
                Action::StopTimer => {
                    let Some((id, start)) = running.take() else {
                        continue;
                    };
                    (
                        EntityKind::TimeEntry,
                        id,
                        upsert_fields(&[("stop", rfc3339(wall.max(start)))]),
                    )
                }
                Action::DeleteTimer => {
                    if timers == 0 {
                        continue;
                    }
                    if running.is_some_and(|(id, _)| id == timer_id(d, timers)) {
                        running = None;
                    }
                    (EntityKind::TimeEntry, timer_id(d, timers), OpKind::Delete)
                }
                Action::EditOthersTimer { nth } => {
                    let other = (d + 1 + nth % 3) % scripts.len();
                    let id = timer_id(other, 1 + (*nth as u64) / 3);
                    (
                        EntityKind::TimeEntry,
                        id,
                        upsert_fields(&[("description", json!(format!("by {d}")))]),
                    )
                }
                Action::Points { n } => {
                    let items = (0..*n)
                        .map(|i| {
                            let s = point_seq + u64::from(i);
                            let lat = -90.0 + (s as f64 * 7.3) % 180.0;
                            let lon = -180.0 + (s as f64 * 13.1) % 360.0;
                            json!([s, wall, lat, lon, null, 1.5, null, null, s % 2])
                        })
                        .collect();
                    point_seq += u64::from(*n);
                    (EntityKind::TripPoints, trip, OpKind::Append { items })
                }
                Action::Edit { value } => (
                    EntityKind::TripEdit,
                    Uuid::from_u128(0x4000),
                    OpKind::Append {
                        items: vec![json!({
                            "trip_id": Uuid::from_u128(0x4000), "field": "note",
                            "old_value": null, "new_value": format!("{value} by {d}"),
                            "at": rfc3339(wall), "device": device,
                        })],
                    },
                ),
                Action::Archive { project, archived } => (
                    EntityKind::Project,
                    project_id(*project),
                    upsert_fields(&[("archived", json!(archived))]),
                ),
                Action::EntryEdit { value } => (
                    EntityKind::TimeEntryEdit,
                    Uuid::from_u128(0x7000),
                    OpKind::Append {
                        items: vec![json!({
                            "entry_id": Uuid::from_u128(0x7000), "field": "description",
                            "old_value": null, "new_value": format!("{value} by {d}"),
                            "at": rfc3339(wall), "device": device,
                        })],
                    },
                ),
                Action::Nonsense { which } => {
                    let (entity, fields, field) = nonsense(*which);
                    let Value::Object(fields) = fields else {
                        unreachable!()
                    };
                    expect = Expect::BadField(field);
                    (
                        entity,
                        Uuid::from_u128(0x6000 + ((d as u128) << 32) + u128::from(seq)),
                        OpKind::Upsert { fields },
                    )
                }
                Action::StopBeforeStart => {
                    let Some((id, start)) = running else {
                        continue;
                    };
                    expect = Expect::OutOfOrder("stop");
                    (
                        EntityKind::TimeEntry,
                        id,
                        upsert_fields(&[("stop", rfc3339(start - 60_000))]),
                    )
                }
            };
            seq += 1;
            ops.push((
                Op {
                    op_id: OpId(Uuid::from_u128(
                        0x5000_0000 + ((d as u128) << 40) + u128::from(seq),
                    )),
                    device,
                    device_seq: seq,
                    hlc: clock.tick(wall),
                    entity,
                    entity_id,
                    kind,
                    schema: SCHEMA_VERSION,
                },
                expect,
            ));
        }
    }
    ops
}

/// splitmix64, so a replica's delivery order is a pure function of its seed.
fn shuffled(ops: &[Op], seed: u64, duplicates: usize) -> Vec<Op> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut out: Vec<Op> = ops.to_vec();
    for _ in 0..duplicates.min(ops.len()) {
        let i = (next() % ops.len() as u64) as usize;
        out.push(ops[i].clone());
    }
    for i in (1..out.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    out
}

/// One interleaving of the devices' ops, each device's own order kept (a relay's log order).
fn interleaved(ops: &[(Op, Expect)], seed: u64) -> Vec<(Op, Expect)> {
    let mut queues: BTreeMap<DeviceId, std::collections::VecDeque<(Op, Expect)>> = BTreeMap::new();
    for (op, expect) in ops {
        queues
            .entry(op.device)
            .or_default()
            .push_back((op.clone(), *expect));
    }
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(ops.len());
    while !queues.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let devices: Vec<DeviceId> = queues.keys().copied().collect();
        let device = devices[(state % devices.len() as u64) as usize];
        let queue = queues.get_mut(&device).unwrap();
        out.extend(queue.pop_front());
        if queue.is_empty() {
            queues.remove(&device);
        }
    }
    out
}

/// What field-level LWW must produce: per project field, the value of the
/// upsert with the greatest stamp.
fn lww_oracle(ops: &[Op]) -> BTreeMap<(Uuid, String), (Stamp, Value)> {
    let mut best: BTreeMap<(Uuid, String), (Stamp, Value)> = BTreeMap::new();
    for op in ops.iter().filter(|o| o.entity == EntityKind::Project) {
        if let OpKind::Upsert { fields } = &op.kind {
            let stamp = Stamp {
                hlc: op.hlc,
                device: op.device,
            };
            for (k, v) in fields {
                let slot = best.entry((op.entity_id, k.clone()));
                let entry = slot.or_insert((stamp, v.clone()));
                if stamp > entry.0 {
                    *entry = (stamp, v.clone());
                }
            }
        }
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_500))]

    #[test]
    fn replicas_converge_whatever_the_delivery_order(
        scripts in prop::collection::vec(device_script(), 2..=4),
        seeds in prop::collection::vec(any::<u64>(), 3),
        duplicates in 0..6usize,
    ) {
        let written = ops_of(&scripts);
        let last_ms = written.iter().map(|(o, _)| o.hlc.millis()).max().unwrap_or(BASE_MS);
        for (op, expect) in &written {
            match (validate(op, last_ms), expect) {
                (Ok(()), Expect::Valid | Expect::OutOfOrder(_)) => {}
                (Err(e), Expect::BadField(field)) => prop_assert_eq!(e.field(), Some(*field)),
                (got, _) => prop_assert!(false, "{:?} for {:?}: {:?}", expect, op, got),
            }
        }

        // The relay: one interleaving, each op validated and admitted on its state in
        // log order; what it refuses never enters the log.
        let mut relay = SpaceState::default();
        let mut log: Vec<Op> = Vec::new();
        let mut bad_fields: Vec<(Op, InvalidOp)> = Vec::new();
        for (op, expect) in interleaved(&written, seeds[0]) {
            match validate(&op, last_ms).and_then(|()| relay.admit(&op)) {
                Ok(()) => {
                    prop_assert_eq!(expect, Expect::Valid, "admitted {:?}", op);
                    relay.apply(&op).unwrap();
                    log.push(op);
                }
                Err(e) => {
                    match expect {
                        Expect::BadField(f) | Expect::OutOfOrder(f) => {
                            prop_assert_eq!(e.field(), Some(f));
                        }
                        Expect::Valid => prop_assert!(false, "refused a valid op: {e}"),
                    }
                    if matches!(e, InvalidOp::OutOfOrder { .. }) {
                        prop_assert!(matches!(expect, Expect::OutOfOrder(_)));
                    } else {
                        bad_fields.push((op, e));
                    }
                }
            }
        }
        let ops = log;

        // The reference replica gets the log in its order, once.
        let mut reference = SpaceState::default();
        for op in &ops {
            reference.apply(op).unwrap();
        }
        prop_assert_eq!(&reference, &relay);
        let canonical = reference.canonical();
        let stops = reference.effective_timer_stops();
        prop_assert!(stops.values().filter(|s| s.is_none()).count() <= 1);

        // Other replicas also get the field-invalid ops (as an old relay forwarded them),
        // in any order, some twice: each refuses exactly those, with the same error.
        let mut delivered: Vec<Op> = ops.clone();
        delivered.extend(bad_fields.iter().map(|(op, _)| op.clone()));
        for &seed in &seeds {
            let mut replica = SpaceState::default();
            for op in shuffled(&delivered, seed, duplicates) {
                let refusal = bad_fields.iter().find(|(b, _)| b.op_id == op.op_id);
                match (replica.apply(&op), refusal) {
                    (Ok(_), None) => {}
                    (Err(e), Some((_, expected))) => prop_assert_eq!(&e, expected),
                    (got, expected) => {
                        prop_assert!(false, "{:?}: got {:?}, expected {:?}", op, got, expected)
                    }
                }
            }
            prop_assert_eq!(&replica.canonical(), &canonical);
            prop_assert_eq!(&replica.effective_timer_stops(), &stops);
            prop_assert_eq!(&replica, &reference);
        }

        // The converged values are the LWW winners, not merely equal.
        for ((id, field), (stamp, value)) in lww_oracle(&ops) {
            let entity = reference.entity(EntityKind::Project, id).unwrap();
            prop_assert_eq!(&entity.fields[&field], &value);
            prop_assert_eq!(entity.clocks[&field], stamp);
        }
        // Every entry edit appears exactly once, in stamp order.
        let made = ops.iter().filter(|o| o.entity == EntityKind::TimeEntryEdit).count();
        let history = reference.entity(EntityKind::TimeEntryEdit, Uuid::from_u128(0x7000));
        prop_assert_eq!(history.map_or(0, |h| h.items.len()), made);
        if let Some(h) = history {
            prop_assert!(h.appends.windows(2).all(|p| p[0].stamp <= p[1].stamp));
        }
        // Every op's points arrive, each trip's in writing order.
        for (_, trip) in reference.entities(EntityKind::TripPoints) {
            let seqs: Vec<u64> = trip.items.iter().map(|p| p[0].as_u64().unwrap()).collect();
            let expected: Vec<u64> = (0..seqs.len() as u64).collect();
            prop_assert_eq!(seqs, expected);
        }
    }
}

// ---- trips: discard, restore, merge and split (ADR 0013) ---------------------------------

/// Each base trip covers `[k * SPAN, (k + 1) * SPAN)` ms after `BASE_MS`.
const SPAN: u64 = 10_000;
const BASE_TRIPS: usize = 4;

#[derive(Debug, Clone)]
enum TripAction {
    Discard {
        merged: bool,
        k: usize,
    },
    Restore {
        merged: bool,
        k: usize,
    },
    /// Merges base trips `k` and `k + 1`.
    Merge {
        k: usize,
    },
    /// Splits base trip `k` (or the merge of `k` and `k + 1`) at `cut` quarters of a span.
    Split {
        merged: bool,
        k: usize,
        cut: u64,
    },
}

fn base_trip(k: usize) -> TripId {
    TripId(Uuid::from_u128(0x7000 + k as u128))
}

fn merged_trip(k: usize) -> TripId {
    lineage::merged_id(&[base_trip(k), base_trip(k + 1)])
}

fn trip_action() -> impl Strategy<Value = TripAction> {
    let k = 0..BASE_TRIPS - 1;
    prop_oneof![
        1 => (any::<bool>(), k.clone()).prop_map(|(merged, k)| TripAction::Discard { merged, k }),
        1 => (any::<bool>(), k.clone()).prop_map(|(merged, k)| TripAction::Restore { merged, k }),
        2 => k.clone().prop_map(|k| TripAction::Merge { k }),
        2 => (any::<bool>(), k, 1..8u64).prop_map(|(merged, k, cut)| TripAction::Split { merged, k, cut }),
    ]
}

fn trip_ops(scripts: &[Vec<TripAction>]) -> Vec<Op> {
    let mut ops = Vec::new();
    for (d, script) in scripts.iter().enumerate() {
        let device = DeviceId(Uuid::from_u128(0x100 + d as u128));
        let mut clock = HlcClock::default();
        let mut seq = 0u64;
        let mut push = |entity_id: Uuid, kind: OpKind, wall: u64| {
            seq += 1;
            ops.push(Op {
                op_id: OpId(Uuid::from_u128(
                    0x9000_0000 + ((d as u128) << 40) + u128::from(seq),
                )),
                device,
                device_seq: seq,
                hlc: clock.tick(wall),
                entity: EntityKind::Trip,
                entity_id,
                kind,
                schema: SCHEMA_VERSION,
            });
        };
        for (i, action) in script.iter().enumerate() {
            // Devices' clocks interleave, so concurrent changes race both ways.
            let wall = BASE_MS + 100_000 + (i as u64) * 1_000 + (d as u64) * 300;
            let target =
                |merged: bool, k: usize| if merged { merged_trip(k) } else { base_trip(k) };
            let ids =
                |ids: &[TripId]| json!(ids.iter().map(ToString::to_string).collect::<Vec<_>>());
            match action {
                TripAction::Discard { merged, k } => {
                    push(target(*merged, *k).0, OpKind::Delete, wall)
                }
                TripAction::Restore { merged, k } => {
                    push(target(*merged, *k).0, OpKind::Restore, wall)
                }
                TripAction::Merge { k } => {
                    let m = merged_trip(*k);
                    let from = [base_trip(*k), base_trip(k + 1)];
                    push(m.0, upsert_fields(&[("merged_from", ids(&from))]), wall);
                    for source in from {
                        push(source.0, upsert_fields(&[("replaced_by", ids(&[m]))]), wall);
                    }
                }
                TripAction::Split { merged, k, cut } => {
                    let source = target(*merged, *k);
                    let quarter = SPAN / 4;
                    let at_ms = BASE_MS + *k as u64 * SPAN + cut * quarter;
                    let at =
                        DateTime::from_timestamp_millis(i64::try_from(at_ms).unwrap()).unwrap();
                    let (p1, p2) = (
                        lineage::split_id(source, None, Some(at)),
                        lineage::split_id(source, Some(at), None),
                    );
                    let from = json!(source.to_string());
                    push(
                        p1.0,
                        upsert_fields(&[
                            ("split_from", from.clone()),
                            ("window_until", rfc3339(at_ms)),
                        ]),
                        wall,
                    );
                    push(
                        p2.0,
                        upsert_fields(&[("split_from", from), ("window_from", rfc3339(at_ms))]),
                        wall,
                    );
                    push(
                        source.0,
                        upsert_fields(&[("replaced_by", ids(&[p1, p2]))]),
                        wall,
                    );
                }
            }
        }
    }
    ops
}

fn trip_statuses(state: &SpaceState) -> BTreeMap<TripId, (TripStatus, TripLineage)> {
    let mut nodes = BTreeMap::new();
    for k in 0..BASE_TRIPS {
        nodes.insert(base_trip(k), LineageNode::default());
    }
    for (id, entity) in state.entities(EntityKind::Trip) {
        let lineage: TripLineage =
            serde_json::from_value(Value::Object(entity.fields.clone())).unwrap();
        nodes.insert(
            TripId(id),
            LineageNode {
                discarded: entity.is_deleted(),
                lineage,
            },
        );
    }
    lineage::statuses(&nodes)
        .into_iter()
        .map(|(id, status)| (id, (status, nodes[&id].lineage.clone())))
        .collect()
}

/// The stretches of base trips `id` covers inside `[lo, hi)`, as (base index, lo, hi).
fn coverage(
    nodes: &BTreeMap<TripId, (TripStatus, TripLineage)>,
    id: TripId,
    lo: u64,
    hi: u64,
    depth: usize,
) -> Vec<(usize, u64, u64)> {
    assert!(depth < 16, "lineage too deep");
    if let Some(k) = (0..BASE_TRIPS).find(|k| base_trip(*k) == id) {
        let (lo, hi) = (
            lo.max(BASE_MS + k as u64 * SPAN),
            hi.min(BASE_MS + (k as u64 + 1) * SPAN),
        );
        return if lo < hi {
            vec![(k, lo, hi)]
        } else {
            Vec::new()
        };
    }
    let Some((_, l)) = nodes.get(&id) else {
        return Vec::new();
    };
    if let Some(from) = &l.merged_from {
        return from
            .iter()
            .flat_map(|s| coverage(nodes, *s, lo, hi, depth + 1))
            .collect();
    }
    if let Some(source) = l.split_from {
        let ms = |t: Option<DateTime<chrono::Utc>>| {
            t.map(|t| u64::try_from(t.timestamp_millis()).unwrap())
        };
        let lo = ms(l.window_from).map_or(lo, |f| lo.max(f));
        let hi = ms(l.window_until).map_or(hi, |u| hi.min(u));
        return coverage(nodes, source, lo, hi, depth + 1);
    }
    Vec::new()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Several devices discard, restore, merge and split the same trips offline; every
    /// replica, whatever the delivery order, ends with the same trips counting, and no stretch
    /// of a drive counts twice (nor, without discards, goes missing).
    #[test]
    fn trip_changes_converge_and_count_each_stretch_once(
        scripts in prop::collection::vec(prop::collection::vec(trip_action(), 1..8), 2..=4),
        seeds in prop::collection::vec(any::<u64>(), 3),
        duplicates in 0..6usize,
    ) {
        let ops = trip_ops(&scripts);
        let last_ms = ops.iter().map(|o| o.hlc.millis()).max().unwrap_or(BASE_MS);
        for op in &ops {
            prop_assert!(validate(op, last_ms).is_ok(), "{:?}", validate(op, last_ms));
        }
        let mut reference = SpaceState::default();
        for op in &ops {
            reference.apply(op).unwrap();
        }
        let statuses = trip_statuses(&reference);
        for &seed in &seeds {
            let mut replica = SpaceState::default();
            for op in shuffled(&ops, seed, duplicates) {
                replica.apply(&op).unwrap();
            }
            prop_assert_eq!(&replica, &reference);
            prop_assert_eq!(&trip_statuses(&replica), &statuses);
        }
        let mut covered: BTreeMap<usize, Vec<(u64, u64)>> = BTreeMap::new();
        for (id, (status, _)) in &statuses {
            if *status == TripStatus::Current {
                for (k, lo, hi) in coverage(&statuses, *id, 0, u64::MAX, 0) {
                    covered.entry(k).or_default().push((lo, hi));
                }
            }
        }
        let discards = ops.iter().any(|o| o.kind == OpKind::Delete);
        for k in 0..BASE_TRIPS {
            let mut spans = covered.remove(&k).unwrap_or_default();
            spans.sort_unstable();
            for pair in spans.windows(2) {
                prop_assert!(pair[0].1 <= pair[1].0, "trip {} counted twice: {:?}", k, spans);
            }
            if !discards {
                let total: u64 = spans.iter().map(|(lo, hi)| hi - lo).sum();
                prop_assert_eq!(total, SPAN, "trip {} not counted once: {:?} {:?}", k, spans, statuses);
            }
        }
    }
}
