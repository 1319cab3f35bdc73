#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Editing, archiving, deleting and restoring entries, projects, cars and places in the
//! store (issue 12): each path writes its row and its ops together, refuses what it must
//! with a typed error and leaves the data untouched then, and converges on a second store.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tacho_model::car::{Car, OdometerReading, ReadingSource};
use tacho_model::clock::ManualClock;
use tacho_model::gps::LatLon;
use tacho_model::id::{CarId, EntryId, PlaceId, ProjectId, ReadingId, TripId};
use tacho_model::op::{EntityKind, Op, OpKind};
use tacho_model::place::{Place, PlaceKind};
use tacho_model::trip::{Trip, TripSource, TripState};
use tacho_model::work::{EntryField, EntrySource, Project, Rounding, TimeEntry};
use tacho_store::{
    CarChange, EntryChange, EntryFilter, PlaceChange, ProjectChange, Store, StoreError,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 10, 12, 0, 0).unwrap()
}

fn at(d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap()
}

fn store() -> (Store, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(t0()));
    (Store::open_in_memory(clock.clone()).unwrap(), clock)
}

fn project(name: &str) -> Project {
    Project {
        id: ProjectId::new(),
        name: name.into(),
        client: Some("ACME".into()),
        billable: true,
        rounding: Rounding::None,
        archived: false,
    }
}

fn entry(project: Option<ProjectId>, start: DateTime<Utc>) -> TimeEntry {
    TimeEntry {
        id: EntryId::new(),
        project_id: project,
        description: "review".into(),
        start,
        stop: Some(start + Duration::hours(1)),
        tags: vec!["a".into()],
        billable: true,
        source: EntrySource::Manual,
        trip_id: None,
    }
}

fn car(name: &str, plate: &str) -> Car {
    Car {
        id: CarId::new(),
        name: name.into(),
        make: None,
        model: None,
        plate: plate.into(),
        available_from: None,
        available_to: None,
        connect_hint: None,
        retired: false,
    }
}

fn trip(car: Option<CarId>) -> Trip {
    Trip {
        id: TripId::new(),
        car_id: car,
        state: TripState::Ended,
        source: TripSource::Manual,
        car_hint: None,
        started_at: at(9, 8),
        ended_at: Some(at(9, 9)),
        time_zone: "UTC".into(),
        start: None,
        end: None,
        start_address: None,
        end_address: None,
        start_place: None,
        end_place: None,
        distance_m: 1_000.0,
        point_count: 0,
        purpose: None,
        purpose_by: None,
        business_partner: None,
        note: None,
        recovered: false,
    }
}

fn ops(store: &Store) -> Vec<Op> {
    store
        .outbox(0, 100_000)
        .unwrap()
        .into_iter()
        .map(|e| e.op)
        .collect()
}

fn live_entries(store: &Store) -> Vec<TimeEntry> {
    store.entries(&EntryFilter::default()).unwrap()
}

#[test]
fn an_entry_edit_changes_only_the_given_fields_and_keeps_each_in_the_history() {
    let (mut s, clock) = store();
    let alpha = project("Alpha");
    let beta = project("Beta");
    let e = entry(Some(alpha.id), at(10, 9));
    s.write(|w| {
        w.add_project(&alpha)?;
        w.add_project(&beta)?;
        w.add_entry(&e)
    })
    .unwrap();
    let before = ops(&s).len();
    let edits = s
        .write(|w| {
            w.edit_entry(
                e.id,
                &EntryChange {
                    project: Some(Some(beta.id)),
                    description: Some("code review".into()),
                    tags: Some(vec!["b".into(), " a ".into(), "b".into()]),
                    // Unchanged values are no change.
                    billable: Some(true),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    let fields: Vec<EntryField> = edits.iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        [
            EntryField::Project,
            EntryField::Description,
            EntryField::Tags
        ]
    );
    assert_eq!(edits[0].old_value.as_deref(), Some("Alpha"));
    assert_eq!(edits[0].new_value.as_deref(), Some("Beta"));
    assert_eq!(edits[2].old_value.as_deref(), Some("a"));
    assert_eq!(edits[2].new_value.as_deref(), Some("a, b"));
    let stored = s.entry(e.id).unwrap();
    assert_eq!(stored.project_id, Some(beta.id));
    assert_eq!(stored.description, "code review");
    assert_eq!(stored.tags, ["a", "b"]);
    assert_eq!(stored.start, e.start);
    // One upsert of the three changed fields and one history append.
    let new_ops = &ops(&s)[before..];
    assert_eq!(new_ops.len(), 2);
    match &new_ops[0].kind {
        OpKind::Upsert { fields } => {
            let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
            names.sort_unstable();
            assert_eq!(names, ["description", "project_id", "tags"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(new_ops[1].entity, EntityKind::TimeEntryEdit);
    assert_eq!(new_ops[1].entity_id, e.id.0);
    // The same values again: nothing changes, no op.
    let again = s
        .write(|w| {
            w.edit_entry(
                e.id,
                &EntryChange {
                    description: Some("code review".into()),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(ops(&s).len(), before + 2);
    // A second edit of the same field in the same millisecond is a second history item.
    clock.set(t0());
    s.write(|w| {
        w.edit_entry(
            e.id,
            &EntryChange {
                description: Some("review".into()),
                ..Default::default()
            },
        )
    })
    .unwrap();
    let history = s.entry_edits(e.id).unwrap();
    assert_eq!(history.len(), 4);
    assert!(history.windows(2).all(|p| p[0].at <= p[1].at));
    assert_eq!(history[3].new_value.as_deref(), Some("review"));
}

#[test]
fn entry_edits_are_checked_before_anything_is_written() {
    let (mut s, _) = store();
    let alpha = project("Alpha");
    let mut archived = project("Old");
    archived.archived = true;
    let e = entry(Some(alpha.id), at(10, 9));
    s.write(|w| {
        w.add_project(&alpha)?;
        w.add_project(&archived)?;
        w.add_entry(&e)
    })
    .unwrap();
    let before = ops(&s).len();
    let stop_before_start = s.write(|w| {
        w.edit_entry(
            e.id,
            &EntryChange {
                stop: Some(e.start - Duration::minutes(1)),
                ..Default::default()
            },
        )
    });
    assert!(
        matches!(stop_before_start, Err(StoreError::Invalid { .. })),
        "{stop_before_start:?}"
    );
    let onto_archived = s.write(|w| {
        w.edit_entry(
            e.id,
            &EntryChange {
                project: Some(Some(archived.id)),
                ..Default::default()
            },
        )
    });
    assert!(
        matches!(&onto_archived, Err(StoreError::Conflict { message }) if message.contains("archived")),
        "{onto_archived:?}"
    );
    let unknown_trip = s.write(|w| {
        w.edit_entry(
            e.id,
            &EntryChange {
                trip: Some(Some(TripId::new())),
                ..Default::default()
            },
        )
    });
    assert!(matches!(unknown_trip, Err(StoreError::NotFound { .. })));
    let long_tag = s.write(|w| {
        w.edit_entry(
            e.id,
            &EntryChange {
                tags: Some(vec!["x".repeat(101)]),
                ..Default::default()
            },
        )
    });
    assert!(
        matches!(long_tag, Err(StoreError::InvalidOp(_))),
        "{long_tag:?}"
    );
    assert_eq!(s.entry(e.id).unwrap(), e);
    assert!(s.entry_edits(e.id).unwrap().is_empty());
    assert_eq!(ops(&s).len(), before);
}

#[test]
fn a_deleted_entry_leaves_the_lists_and_a_restore_brings_it_back_both_in_the_history() {
    let (mut s, _) = store();
    let e = entry(None, at(10, 9));
    s.write(|w| w.add_entry(&e)).unwrap();
    assert!(s.write(|w| w.delete_entry(e.id)).unwrap());
    assert!(
        !s.write(|w| w.delete_entry(e.id)).unwrap(),
        "already deleted"
    );
    assert!(live_entries(&s).is_empty());
    let (found, deleted) = s.find_entry(&e.id.to_string()[30..]).unwrap();
    assert_eq!(found.id, e.id);
    assert!(deleted);
    assert!(
        s.entity_state(EntityKind::TimeEntry, e.id.0)
            .unwrap()
            .unwrap()
            .is_deleted()
    );
    let edit = s.write(|w| {
        w.edit_entry(
            e.id,
            &EntryChange {
                description: Some("x".into()),
                ..Default::default()
            },
        )
    });
    assert!(matches!(edit, Err(StoreError::Conflict { .. })), "{edit:?}");
    assert!(s.write(|w| w.restore_entry(e.id)).unwrap());
    assert!(!s.write(|w| w.restore_entry(e.id)).unwrap());
    assert_eq!(live_entries(&s), vec![e.clone()]);
    let history = s.entry_edits(e.id).unwrap();
    let marks: Vec<(EntryField, Option<&str>)> = history
        .iter()
        .map(|h| (h.field, h.new_value.as_deref()))
        .collect();
    assert_eq!(
        marks,
        [
            (EntryField::Deleted, Some("yes")),
            (EntryField::Deleted, Some("no"))
        ]
    );
    let kinds: Vec<OpKind> = ops(&s)
        .into_iter()
        .filter(|o| o.entity == EntityKind::TimeEntry)
        .map(|o| o.kind)
        .skip(1)
        .collect();
    assert_eq!(kinds, [OpKind::Delete, OpKind::Restore]);
}

#[test]
fn a_locked_month_refuses_every_kind_of_entry_change_and_leaves_the_data_untouched() {
    let (mut s, _) = store();
    let march = entry(None, at(10, 9));
    let mut gone = entry(None, at(11, 9));
    gone.description = "deleted before the lock".into();
    let april = entry(None, Utc.with_ymd_and_hms(2026, 4, 2, 9, 0, 0).unwrap());
    s.write(|w| {
        w.add_entry(&march)?;
        w.add_entry(&gone)?;
        w.add_entry(&april)?;
        w.delete_entry(gone.id)
    })
    .unwrap();
    s.write(|w| w.lock_period("2026-03")).unwrap();
    let before_ops = ops(&s).len();
    let before_rows = live_entries(&s);
    let before_states: Vec<_> = [march.id, gone.id, april.id]
        .iter()
        .map(|id| s.entity_state(EntityKind::TimeEntry, id.0).unwrap())
        .collect();
    let before_history = s.entry_edits(gone.id).unwrap();
    let describe = EntryChange {
        description: Some("changed".into()),
        ..Default::default()
    };
    let into_march = EntryChange {
        start: Some(at(31, 9)),
        stop: Some(at(31, 10)),
        ..Default::default()
    };
    let refusals = [
        s.write(|w| w.edit_entry(march.id, &describe).map(|_| ())),
        s.write(|w| w.delete_entry(march.id).map(|_| ())),
        s.write(|w| w.restore_entry(gone.id).map(|_| ())),
        // Moving an April entry into March touches March too.
        s.write(|w| w.edit_entry(april.id, &into_march).map(|_| ())),
    ];
    for r in refusals {
        assert!(
            matches!(&r, Err(StoreError::Locked { month }) if month == "2026-03"),
            "{r:?}"
        );
    }
    assert_eq!(ops(&s).len(), before_ops);
    assert_eq!(live_entries(&s), before_rows);
    let after_states: Vec<_> = [march.id, gone.id, april.id]
        .iter()
        .map(|id| s.entity_state(EntityKind::TimeEntry, id.0).unwrap())
        .collect();
    assert_eq!(after_states, before_states);
    assert_eq!(s.entry_edits(gone.id).unwrap(), before_history);
    assert!(s.entry_edits(march.id).unwrap().is_empty());
    assert!(
        s.find_entry(&gone.id.to_string()).unwrap().1,
        "still deleted"
    );
    // April itself stays open.
    s.write(|w| w.edit_entry(april.id, &describe)).unwrap();
}

#[test]
fn projects_are_edited_archived_and_deleted_only_when_unused() {
    let (mut s, _) = store();
    let alpha = project("Alpha");
    let other = project("Other");
    let a = entry(Some(alpha.id), at(10, 9));
    let b = entry(Some(alpha.id), at(10, 11));
    s.write(|w| {
        w.add_project(&alpha)?;
        w.add_project(&other)?;
        w.add_entry(&a)?;
        w.add_entry(&b)
    })
    .unwrap();
    let renamed = s
        .write(|w| {
            w.edit_project(
                alpha.id,
                &ProjectChange {
                    name: Some("Alpha 2".into()),
                    client: Some(None),
                    rounding: Some(Rounding::Up(15)),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(renamed.name, "Alpha 2");
    assert_eq!(renamed.client, None);
    assert_eq!(s.find_project("alpha 2").unwrap(), renamed);
    let clash = s.write(|w| {
        w.edit_project(
            alpha.id,
            &ProjectChange {
                name: Some("OTHER".into()),
                ..Default::default()
            },
        )
    });
    assert!(matches!(clash, Err(StoreError::Conflict { .. })));

    // Still used by two entries: refused, with the count and what to do instead.
    let refused = s.write(|w| w.delete_project(alpha.id));
    match &refused {
        Err(e @ StoreError::InUse { uses, .. }) => {
            assert_eq!(uses[0].0, 2);
            assert_eq!(
                e.to_string(),
                "project `Alpha 2` is used by 2 time entries; archive it instead"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.projects().unwrap().len(), 2);

    // Archived: hidden from the default list, kept for its entries, takes no new time.
    assert!(s.write(|w| w.set_project_archived(alpha.id, true)).unwrap());
    assert!(!s.write(|w| w.set_project_archived(alpha.id, true)).unwrap());
    let listed: Vec<String> = s
        .projects_with(false, false)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(listed, ["Other"]);
    assert_eq!(s.projects_with(true, false).unwrap().len(), 2);
    let new_time = s.write(|w| w.add_entry(&entry(Some(alpha.id), at(12, 9))));
    assert!(
        matches!(&new_time, Err(StoreError::Conflict { message }) if message.contains("archived")),
        "{new_time:?}"
    );
    assert_eq!(live_entries(&s).len(), 2);

    // Once its entries are gone it can be deleted, and restored.
    s.write(|w| {
        w.delete_entry(a.id)?;
        w.delete_entry(b.id)
    })
    .unwrap();
    assert!(s.write(|w| w.delete_project(alpha.id)).unwrap());
    assert!(s.find_project("Alpha 2").is_err());
    assert!(s.find_project_any("Alpha 2").unwrap().1);
    let restore_entry = s.write(|w| w.restore_entry(a.id));
    assert!(
        matches!(&restore_entry, Err(StoreError::Conflict { message }) if message.contains("restore the project")),
        "{restore_entry:?}"
    );
    assert!(s.write(|w| w.restore_project(alpha.id)).unwrap());
    assert!(s.find_project("Alpha 2").unwrap().archived);
    s.write(|w| w.restore_entry(a.id)).unwrap();
}

#[test]
fn cars_are_edited_retired_and_deleted_only_when_no_trip_or_reading_uses_them() {
    let (mut s, _) = store();
    let golf = car("Golf", "AB-12-CD");
    let polo = car("Polo", "XY-99-ZZ");
    let spare = car("Spare", "SP-01");
    let t1 = trip(Some(golf.id));
    let t2 = trip(Some(golf.id));
    let mut discarded = trip(Some(spare.id));
    discarded.state = TripState::Discarded;
    s.write(|w| {
        w.add_car(&golf)?;
        w.add_car(&polo)?;
        w.add_car(&spare)?;
        w.insert_trip(&t1)?;
        w.insert_trip(&t2)?;
        w.add_reading(&OdometerReading {
            id: ReadingId::new(),
            car_id: golf.id,
            at: at(1, 8),
            odometer_m: 1_000_000,
            source: ReadingSource::Manual,
            trip: None,
        })
    })
    .unwrap();
    let edited = s
        .write(|w| {
            w.edit_car(
                golf.id,
                &CarChange {
                    plate: Some("AB-12-CE".into()),
                    make: Some(Some("VW".into())),
                    available_from: Some(Some(
                        chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                    )),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(edited.plate, "AB-12-CE");
    assert_eq!(s.find_car("ab 12 ce").unwrap(), edited);
    let clash = s.write(|w| {
        w.edit_car(
            golf.id,
            &CarChange {
                plate: Some("xy-99-zz".into()),
                ..Default::default()
            },
        )
    });
    assert!(matches!(clash, Err(StoreError::Conflict { .. })));
    let backwards = s.write(|w| {
        w.edit_car(
            golf.id,
            &CarChange {
                available_to: Some(Some(chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap())),
                ..Default::default()
            },
        )
    });
    assert!(matches!(backwards, Err(StoreError::Invalid { .. })));

    let refused = s.write(|w| w.delete_car(golf.id));
    match &refused {
        Err(e @ StoreError::InUse { .. }) => assert_eq!(
            e.to_string(),
            "car `Golf` is used by 2 trips and 1 odometer reading; retire it instead"
        ),
        other => panic!("{other:?}"),
    }
    assert!(s.write(|w| w.set_car_retired(golf.id, true)).unwrap());
    let listed: Vec<String> = s
        .cars_with(false, false)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(listed, ["Polo", "Spare"]);
    assert!(s.find_car("Golf").unwrap().retired, "still found by name");
    // A car with only a discarded trip is free to go; deleted cars come back by name.
    assert!(s.write(|w| w.delete_car(spare.id)).unwrap());
    assert!(s.find_car("Spare").is_err());
    let (found, deleted) = s.find_car_any("Spare").unwrap();
    assert!(deleted && found.id == spare.id);
    assert!(s.write(|w| w.restore_car(spare.id)).unwrap());
    assert_eq!(s.find_car("Spare").unwrap().id, spare.id);
}

#[test]
fn places_are_edited_deleted_and_restored() {
    let (mut s, _) = store();
    let office = Place {
        id: PlaceId::new(),
        name: "Office".into(),
        kind: PlaceKind::Office,
        center: LatLon {
            lat: 52.0,
            lon: 5.0,
        },
        radius_m: 150.0,
        address: None,
    };
    s.write(|w| w.add_place(&office)).unwrap();
    let moved = s
        .write(|w| {
            w.edit_place(
                office.id,
                &PlaceChange {
                    kind: Some(PlaceKind::Client),
                    center: Some(LatLon {
                        lat: 52.1,
                        lon: 5.1,
                    }),
                    address: Some(Some("Main St 1".into())),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(s.places().unwrap(), vec![moved.clone()]);
    let bad = s.write(|w| {
        w.edit_place(
            office.id,
            &PlaceChange {
                radius_m: Some(5.0),
                ..Default::default()
            },
        )
    });
    assert!(matches!(bad, Err(StoreError::Invalid { .. })));
    assert!(s.write(|w| w.delete_place(office.id)).unwrap());
    assert!(s.places().unwrap().is_empty());
    assert_eq!(s.places_with(true).unwrap().len(), 1);
    assert!(s.write(|w| w.restore_place(office.id)).unwrap());
    assert_eq!(s.places().unwrap(), vec![moved]);
}

/// Every change above travels as ops: a second store applying them holds the same rows,
/// tombstones and history.
#[test]
fn edits_deletes_and_history_converge_on_another_store() {
    let (mut a, _) = store();
    let (mut b, _) = store();
    let alpha = project("Alpha");
    let golf = car("Golf", "G-1");
    let e1 = entry(Some(alpha.id), at(10, 9));
    let e2 = entry(None, at(10, 11));
    a.write(|w| {
        w.add_project(&alpha)?;
        w.add_car(&golf)?;
        w.add_entry(&e1)?;
        w.add_entry(&e2)?;
        w.edit_entry(
            e1.id,
            &EntryChange {
                stop: Some(at(10, 10) + Duration::minutes(30)),
                billable: Some(false),
                ..Default::default()
            },
        )?;
        w.delete_entry(e2.id)?;
        w.set_project_archived(alpha.id, true)?;
        w.set_car_retired(golf.id, true)?;
        w.delete_car(golf.id)
    })
    .unwrap();
    let all = ops(&a);
    let n = all.len() as u64;
    b.write(|w| w.apply_remote(&all, n)).unwrap();
    assert_eq!(live_entries(&b), live_entries(&a));
    assert!(!b.entry(e1.id).unwrap().billable);
    assert_eq!(b.entry_edits(e1.id).unwrap(), a.entry_edits(e1.id).unwrap());
    assert_eq!(b.entry_edits(e2.id).unwrap(), a.entry_edits(e2.id).unwrap());
    assert_eq!(b.entry_edits(e1.id).unwrap().len(), 2);
    assert!(b.find_entry(&e2.id.to_string()).unwrap().1);
    assert!(b.find_project("Alpha").unwrap().archived);
    assert!(b.find_car_any("Golf").unwrap().1);
    assert!(b.find_car_any("Golf").unwrap().0.retired);
    // Re-delivery changes nothing.
    let again = b.write(|w| w.apply_remote(&all, n)).unwrap();
    assert_eq!(again.changed, 0);
    assert_eq!(b.entry_edits(e1.id).unwrap().len(), 2);
}
