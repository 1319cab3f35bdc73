//! Period locks hold for the whole space, not only on the device that locked.
//!
//! A lock freezes a month as its device saw it. Whether another device's op
//! may still change that month is decided from the op and the lock alone, in
//! the one order every replica shares, the relay's log order:
//!
//! - an op that changes data in a locked month and is **stamped after** the
//!   lock was made without knowledge of it: refused (the relay answers 422
//!   `period_locked`, the device parks it like any refused op);
//! - an op **stamped before** the lock that reaches the log **after** it (an
//!   edit made offline before the month was locked): applied, and marked
//!   "arrived after the lock" in the history and the report;
//! - an op ahead of the lock in the log is what the lock froze: applied.
//!
//! Only locks that precede the op in log order count. The relay's log is that
//! order; clients walk the pulled pages in it, so a lock made locally but not
//! yet echoed back by the relay does not count against pulled ops (they were
//! in the log before it and are part of what it froze).
//!
//! A trip still being recorded is not frozen: the locker can't lock a month
//! with an active trip it knows of, and one it did not know of (another
//! device was driving) is recorded to its end, points and all; edits after
//! that are held to the lock like any other.
//!
//! Which month an op touches: a trip's local month of `started_at` in the
//! trip's own time zone (for its points and edit history too); a time
//! entry's month of `start` in the time zone the lock names (the locker's
//! zone, UTC for locks that name none). An op that moves an entity from one
//! month to another touches both.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::hlc::Stamp;
use crate::merge::EntityState;
use crate::op::{EntityKind, Op, OpKind};
use crate::report::tz::local_month;

/// The field of a period-lock entity holding its month, `YYYY-MM`.
pub const MONTH_FIELD: &str = "month";
/// The field of a period-lock entity naming the locker's time zone.
pub const TIME_ZONE_FIELD: &str = "time_zone";

/// The entity id of the lock of `month`: the same on every device, so two
/// devices locking one month write one entity.
pub fn lock_id(month: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("tacho-period-{month}").as_bytes(),
    )
}

/// One lock as the rule needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodLock {
    /// The locked month, `YYYY-MM`.
    pub month: String,
    /// When it was locked: ops stamped after this were made without it.
    pub stamp: Stamp,
    /// The locker's time zone, for time entries (`UTC` if it named none).
    pub time_zone: String,
}

impl PeriodLock {
    /// Reads a lock from its merged state; `None` while its month is unknown.
    /// Two devices locking one month concurrently merge into one entity whose
    /// `month` clock is the last of them; every replica reads the same.
    pub fn from_state(state: &EntityState) -> Option<Self> {
        let month = state.fields.get(MONTH_FIELD)?.as_str()?.to_owned();
        let stamp = *state.clocks.get(MONTH_FIELD)?;
        let time_zone = state
            .fields
            .get(TIME_ZONE_FIELD)
            .and_then(Value::as_str)
            .unwrap_or("UTC")
            .to_owned();
        Some(Self {
            month,
            stamp,
            time_zone,
        })
    }
}

/// What the lock rule says about one op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No lock concerns it.
    Open,
    /// Stamped before the lock of `month` but behind it in the log: applied,
    /// and marked as having arrived after the lock.
    ArrivedAfterLock {
        /// The locked month it changes.
        month: String,
    },
    /// Made after the lock of `month` without knowing it: refused.
    Refused {
        /// The locked month it would change.
        month: String,
        /// When the month was locked.
        locked: Stamp,
    },
}

/// The entity whose date places an op in a month, or `None` when the op's
/// kind is not dated (cars, places, projects, locks themselves). Trip points
/// and trip edits share their trip's id and are placed by the trip; time
/// entry edits share their entry's id and are placed by the entry.
pub fn dated_entity(op: &Op) -> Option<(EntityKind, Uuid)> {
    match op.entity {
        EntityKind::Trip | EntityKind::TripPoints | EntityKind::TripEdit => {
            Some((EntityKind::Trip, op.entity_id))
        }
        // An entry's edit history is placed by its entry, like a trip's.
        EntityKind::TimeEntry | EntityKind::TimeEntryEdit => {
            Some((EntityKind::TimeEntry, op.entity_id))
        }
        _ => None,
    }
}

/// Decides one op against the locks that precede it in log order.
///
/// `dated` is the merged state of [`dated_entity`] before the op (`None` if
/// the replica has not seen it yet); `lock_of` finds the lock of a month.
pub fn verdict(
    op: &Op,
    dated: Option<&EntityState>,
    lock_of: impl Fn(&str) -> Option<PeriodLock>,
) -> Verdict {
    let Some((kind, _)) = dated_entity(op) else {
        return Verdict::Open;
    };
    let stamp = Stamp {
        hlc: op.hlc,
        device: op.device,
    };
    let before = dated.map(|s| &s.fields);
    let recording = before
        .and_then(|f| f.get("state"))
        .is_some_and(|s| s.as_str() == Some("active"));
    if kind == EntityKind::Trip && recording {
        return Verdict::Open;
    }
    let change = match &op.kind {
        OpKind::Upsert { fields } if op.entity == kind => Some(fields),
        _ => None,
    };
    // The month before the op and the month after it (the same unless the op moves the entity).
    let mut months = Vec::with_capacity(2);
    for overlay in [None, change] {
        if let Some(instant) = field(kind, DATE, before, overlay) {
            let zone = field(kind, ZONE, before, overlay);
            months.push((instant, zone));
        }
    }
    let mut late = None;
    for (instant, zone) in months {
        let Some(at) = parse_instant(&instant) else {
            continue;
        };
        let month_in = |zone: &str| local_month(at, zone);
        let lock = match kind {
            // A trip's month is its own local month.
            EntityKind::Trip => lock_of(&month_in(zone.as_deref().unwrap_or("UTC"))),
            // An entry has no zone: it is placed in the zone of the lock that would cover it.
            _ => [
                month_in("UTC"),
                month_in("Pacific/Kiritimati"),
                month_in("Etc/GMT+12"),
            ]
            .into_iter()
            .filter_map(|m| lock_of(&m))
            .find(|lock| month_in(&lock.time_zone) == lock.month),
        };
        let Some(lock) = lock else { continue };
        if stamp > lock.stamp {
            return Verdict::Refused {
                month: lock.month,
                locked: lock.stamp,
            };
        }
        late.get_or_insert(lock.month);
    }
    match late {
        Some(month) => Verdict::ArrivedAfterLock { month },
        None => Verdict::Open,
    }
}

const DATE: usize = 0;
const ZONE: usize = 1;

/// A date or zone field of the dated entity: the op's value if it sets one,
/// else the merged state's.
fn field(
    kind: EntityKind,
    which: usize,
    state: Option<&Map<String, Value>>,
    change: Option<&Map<String, Value>>,
) -> Option<String> {
    let name = match (kind, which) {
        (EntityKind::Trip, DATE) => "started_at",
        (EntityKind::Trip, _) => "time_zone",
        (_, DATE) => "start",
        _ => return None,
    };
    change
        .and_then(|c| c.get(name))
        .or_else(|| state.and_then(|s| s.get(name)))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use crate::id::{DeviceId, OpId};
    use crate::op::SCHEMA_VERSION;
    use serde_json::json;

    const LOCKED_AT: u64 = 1_775_000_000_000; // 2026-03-31/04-01

    fn op(entity: EntityKind, id: Uuid, ms: u64, kind: OpKind) -> Op {
        Op {
            op_id: OpId::new(),
            device: DeviceId::new(),
            device_seq: 1,
            hlc: Hlc::new(ms, 0),
            entity,
            entity_id: id,
            kind,
            schema: SCHEMA_VERSION,
        }
    }

    fn upsert(fields: serde_json::Value) -> OpKind {
        OpKind::Upsert {
            fields: fields.as_object().cloned().unwrap_or_default(),
        }
    }

    fn state(fields: serde_json::Value) -> EntityState {
        let mut s = EntityState::default();
        s.apply(&op(
            EntityKind::Trip,
            Uuid::nil(),
            LOCKED_AT + 40 * 86_400_000,
            upsert(fields),
        ))
        .expect("valid");
        s
    }

    fn march_lock(zone: &str) -> impl Fn(&str) -> Option<PeriodLock> {
        let zone = zone.to_owned();
        move |month: &str| {
            (month == "2026-03").then(|| PeriodLock {
                month: month.to_owned(),
                stamp: Stamp {
                    hlc: Hlc::new(LOCKED_AT, 0),
                    device: DeviceId(Uuid::nil()),
                },
                time_zone: zone.clone(),
            })
        }
    }

    fn march_trip() -> EntityState {
        state(json!({"started_at": "2026-03-10T08:00:00Z", "time_zone": "Europe/Berlin"}))
    }

    #[test]
    fn a_change_made_after_the_lock_is_refused_one_made_before_arrives_late() {
        let trip = Uuid::now_v7();
        let after = op(
            EntityKind::Trip,
            trip,
            LOCKED_AT + 1_000,
            upsert(json!({"purpose": "private"})),
        );
        assert!(matches!(
            verdict(&after, Some(&march_trip()), march_lock("UTC")),
            Verdict::Refused { month, .. } if month == "2026-03"
        ));
        let before = op(
            EntityKind::Trip,
            trip,
            LOCKED_AT - 1_000,
            upsert(json!({"purpose": "private"})),
        );
        assert_eq!(
            verdict(&before, Some(&march_trip()), march_lock("UTC")),
            Verdict::ArrivedAfterLock {
                month: "2026-03".into()
            }
        );
    }

    #[test]
    fn points_and_edits_and_deletes_are_placed_by_their_trip() {
        let trip = Uuid::now_v7();
        for kind in [
            (
                EntityKind::TripEdit,
                OpKind::Append {
                    items: vec![json!({})],
                },
            ),
            (
                EntityKind::TripPoints,
                OpKind::Append {
                    items: vec![json!([])],
                },
            ),
            (EntityKind::Trip, OpKind::Delete),
        ] {
            let o = op(kind.0, trip, LOCKED_AT + 1, kind.1);
            assert!(
                matches!(
                    verdict(&o, Some(&march_trip()), march_lock("UTC")),
                    Verdict::Refused { .. }
                ),
                "{:?}",
                o.entity
            );
        }
    }

    #[test]
    fn a_trip_still_being_recorded_is_recorded_to_its_end() {
        let trip = Uuid::now_v7();
        let active = state(
            json!({"started_at": "2026-03-31T20:00:00Z", "time_zone": "UTC", "state": "active"}),
        );
        let end = op(
            EntityKind::Trip,
            trip,
            LOCKED_AT + 1,
            upsert(json!({"state": "ended"})),
        );
        assert_eq!(
            verdict(&end, Some(&active), march_lock("UTC")),
            Verdict::Open
        );
        let points = op(
            EntityKind::TripPoints,
            trip,
            LOCKED_AT + 1,
            OpKind::Append {
                items: vec![json!([])],
            },
        );
        assert_eq!(
            verdict(&points, Some(&active), march_lock("UTC")),
            Verdict::Open
        );
        let ended = state(
            json!({"started_at": "2026-03-31T20:00:00Z", "time_zone": "UTC", "state": "ended"}),
        );
        assert!(matches!(
            verdict(&end, Some(&ended), march_lock("UTC")),
            Verdict::Refused { .. }
        ));
    }

    #[test]
    fn moving_a_trip_into_or_out_of_a_locked_month_touches_it() {
        let trip = Uuid::now_v7();
        let april = state(json!({"started_at": "2026-04-10T08:00:00Z", "time_zone": "UTC"}));
        let into = op(
            EntityKind::Trip,
            trip,
            LOCKED_AT + 1,
            upsert(json!({"started_at": "2026-03-30T08:00:00Z"})),
        );
        assert!(matches!(
            verdict(&into, Some(&april), march_lock("UTC")),
            Verdict::Refused { .. }
        ));
        let out = op(
            EntityKind::Trip,
            trip,
            LOCKED_AT + 1,
            upsert(json!({"started_at": "2026-04-02T08:00:00Z"})),
        );
        assert!(matches!(
            verdict(&out, Some(&march_trip()), march_lock("UTC")),
            Verdict::Refused { .. }
        ));
        let elsewhere = op(
            EntityKind::Trip,
            trip,
            LOCKED_AT + 1,
            upsert(json!({"purpose": "business"})),
        );
        assert_eq!(
            verdict(&elsewhere, Some(&april), march_lock("UTC")),
            Verdict::Open
        );
    }

    #[test]
    fn a_trip_is_placed_in_its_own_time_zone() {
        // 2026-03-31 23:30 UTC is already April in Berlin.
        let trip = Uuid::now_v7();
        let berlin =
            state(json!({"started_at": "2026-03-31T23:30:00Z", "time_zone": "Europe/Berlin"}));
        let edit = op(
            EntityKind::Trip,
            trip,
            LOCKED_AT + 1,
            upsert(json!({"note": "x"})),
        );
        assert_eq!(
            verdict(&edit, Some(&berlin), march_lock("UTC")),
            Verdict::Open
        );
        let utc = state(json!({"started_at": "2026-03-31T23:30:00Z", "time_zone": "UTC"}));
        assert!(matches!(
            verdict(&edit, Some(&utc), march_lock("UTC")),
            Verdict::Refused { .. }
        ));
    }

    #[test]
    fn a_time_entry_is_placed_in_the_lockers_time_zone() {
        let entry = Uuid::now_v7();
        // 2026-04-01 03:00 UTC is still March 31 in New York.
        let create = op(
            EntityKind::TimeEntry,
            entry,
            LOCKED_AT + 1,
            upsert(json!({"start": "2026-04-01T03:00:00Z", "description": "late"})),
        );
        assert!(matches!(
            verdict(&create, None, march_lock("America/New_York")),
            Verdict::Refused { .. }
        ));
        assert_eq!(verdict(&create, None, march_lock("UTC")), Verdict::Open);
        assert_eq!(
            verdict(&create, None, march_lock("Asia/Tokyo")),
            Verdict::Open
        );
    }

    #[test]
    fn an_entrys_edit_history_is_placed_by_its_entry() {
        let entry = Uuid::now_v7();
        let entry_state = |start: &str| {
            let mut s = EntityState::default();
            s.apply(&op(
                EntityKind::TimeEntry,
                entry,
                LOCKED_AT + 40 * 86_400_000,
                upsert(json!({ "start": start })),
            ))
            .expect("valid");
            s
        };
        let march = entry_state("2026-03-10T08:00:00Z");
        let april = entry_state("2026-04-10T08:00:00Z");
        for kind in [
            (
                EntityKind::TimeEntryEdit,
                OpKind::Append {
                    items: vec![json!({})],
                },
            ),
            (EntityKind::TimeEntry, OpKind::Delete),
            (EntityKind::TimeEntry, OpKind::Restore),
        ] {
            let o = op(kind.0, entry, LOCKED_AT + 1, kind.1);
            assert!(
                matches!(
                    verdict(&o, Some(&march), march_lock("UTC")),
                    Verdict::Refused { .. }
                ),
                "{:?}",
                o.kind
            );
            assert_eq!(verdict(&o, Some(&april), march_lock("UTC")), Verdict::Open);
        }
        assert_eq!(
            dated_entity(&op(
                EntityKind::TimeEntryEdit,
                entry,
                LOCKED_AT,
                OpKind::Append { items: vec![] }
            )),
            Some((EntityKind::TimeEntry, entry))
        );
    }

    #[test]
    fn undated_kinds_and_unseen_trips_are_open() {
        let car = op(
            EntityKind::Car,
            Uuid::now_v7(),
            LOCKED_AT + 1,
            upsert(json!({"name": "Golf"})),
        );
        assert_eq!(verdict(&car, None, march_lock("UTC")), Verdict::Open);
        let note = op(
            EntityKind::Trip,
            Uuid::now_v7(),
            LOCKED_AT + 1,
            upsert(json!({"note": "x"})),
        );
        assert_eq!(verdict(&note, None, march_lock("UTC")), Verdict::Open);
    }

    #[test]
    fn a_lock_is_read_from_its_merged_state() {
        let mut s = EntityState::default();
        let lock = op(
            EntityKind::PeriodLock,
            lock_id("2026-03"),
            LOCKED_AT,
            upsert(json!({"month": "2026-03", "time_zone": "Europe/Berlin"})),
        );
        s.apply(&lock).expect("valid");
        let read = PeriodLock::from_state(&s).expect("complete");
        assert_eq!(read.month, "2026-03");
        assert_eq!(read.time_zone, "Europe/Berlin");
        assert_eq!(
            read.stamp,
            Stamp {
                hlc: lock.hlc,
                device: lock.device
            }
        );
        assert_eq!(lock_id("2026-03"), lock_id("2026-03"));
        assert_ne!(lock_id("2026-03"), lock_id("2026-04"));
    }
}
