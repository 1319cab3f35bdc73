//! Property test: 2–4 devices write random ops offline (with wall clocks that
//! may go backwards), then several replicas receive all of them in different
//! orders, some twice. Every replica must end in the same state and the same
//! running-timer view, and the state must match a plain LWW oracle.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;

use chrono::DateTime;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tacho_model::hlc::{HlcClock, Stamp};
use tacho_model::id::{DeviceId, OpId};
use tacho_model::merge::{SpaceState, validate};
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
fn ops_of(scripts: &[Vec<(i64, Action)>]) -> Vec<Op> {
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
            let (entity, entity_id, kind) = match action {
                Action::Set {
                    project,
                    field,
                    value,
                } => (
                    EntityKind::Project,
                    project_id(*project),
                    upsert_fields(&[(FIELDS[*field], json!(value))]),
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
                        items: vec![json!({"by": d, "value": value})],
                    },
                ),
            };
            seq += 1;
            ops.push(Op {
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
            });
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
        let ops = ops_of(&scripts);
        let last_ms = ops.iter().map(|o| o.hlc.millis()).max().unwrap_or(BASE_MS);
        for op in &ops {
            prop_assert_eq!(validate(op, last_ms), Ok(()));
        }

        // The reference replica gets the ops in writing order, once.
        let mut reference = SpaceState::default();
        for op in &ops {
            reference.apply(op).unwrap();
        }
        let canonical = reference.canonical();
        let stops = reference.effective_timer_stops();
        prop_assert!(stops.values().filter(|s| s.is_none()).count() <= 1);

        for &seed in &seeds {
            let mut replica = SpaceState::default();
            for op in shuffled(&ops, seed, duplicates) {
                replica.apply(&op).unwrap();
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
        // Every op's points arrive, each trip's in writing order.
        for (_, trip) in reference.entities(EntityKind::TripPoints) {
            let seqs: Vec<u64> = trip.items.iter().map(|p| p[0].as_u64().unwrap()).collect();
            let expected: Vec<u64> = (0..seqs.len() as u64).collect();
            prop_assert_eq!(seqs, expected);
        }
    }
}
