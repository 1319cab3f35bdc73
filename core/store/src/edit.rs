//! Editing, archiving, deleting and restoring the entities people manage: time entries,
//! projects, cars and places (issue 12).
//!
//! Every change is an ordinary op, so it converges like the rest: edits are upserts of the
//! changed fields only (field-level LWW), deletes and restores are stamped tombstones, and
//! archive/retire are boolean fields. Time entry edits are also kept in the entry's
//! append-only history (`time_entry_edit`, one `Append` op per edit), like trip edits.
//! Time entries in a locked month refuse every kind of change (edit, delete, restore) with
//! [`StoreError::Locked`] before anything is written; a project or car still used by
//! entries or trips can't be deleted ([`StoreError::InUse`], with counts).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use tacho_model::car::Car;
use tacho_model::gps::LatLon;
use tacho_model::id::{CarId, EntryId, PlaceId, ProjectId, TripId};
use tacho_model::op::{EntityKind, OpKind};
use tacho_model::place::{Place, PlaceKind};
use tacho_model::work::{EntryField, Project, Rounding, TimeEntry, TimeEntryEdit};

use crate::cars::{CAR_COLUMNS, car_from_row};
use crate::row::{from_ms, ms, parse};
use crate::tables::{Put, put_car, put_entry, put_entry_edit, put_place, put_project};
use crate::work::{
    ENTRY_COLUMNS, PROJECT_COLUMNS, entry_from_row, project_from_row, running, validate_entry,
};
use crate::{Result, Store, StoreError, Writer};

/// A change to a time entry: `None` leaves a field as it is. The project and the trip link
/// take `Some(None)` to clear them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntryChange {
    /// The project booked on.
    pub project: Option<Option<ProjectId>>,
    /// What was done.
    pub description: Option<String>,
    /// Start instant.
    pub start: Option<DateTime<Utc>>,
    /// Stop instant (setting it on the running entry stops it).
    pub stop: Option<DateTime<Utc>>,
    /// The whole set of tags.
    pub tags: Option<Vec<String>>,
    /// Billable flag.
    pub billable: Option<bool>,
    /// The trip this entry records travel time for.
    pub trip: Option<Option<TripId>>,
}

/// A change to a project: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectChange {
    /// Display name (unique among live projects, ignoring case).
    pub name: Option<String>,
    /// Client; `Some(None)` clears it.
    pub client: Option<Option<String>>,
    /// Whether new entries are billable by default.
    pub billable: Option<bool>,
    /// Rounding in views and reports.
    pub rounding: Option<Rounding>,
}

/// A change to a car: `None` leaves a field as it is; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CarChange {
    /// Short name (unique among live cars).
    pub name: Option<String>,
    /// Licence plate (unique among live cars).
    pub plate: Option<String>,
    /// Manufacturer.
    pub make: Option<Option<String>>,
    /// Model.
    pub model: Option<Option<String>>,
    /// First day available.
    pub available_from: Option<Option<NaiveDate>>,
    /// Last day available.
    pub available_to: Option<Option<NaiveDate>>,
    /// Bluetooth / CarPlay name.
    pub connect_hint: Option<Option<String>>,
}

/// A change to a place: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlaceChange {
    /// Display name.
    pub name: Option<String>,
    /// Role in classification.
    pub kind: Option<PlaceKind>,
    /// Centre.
    pub center: Option<LatLon>,
    /// Radius in metres.
    pub radius_m: Option<f64>,
    /// Street address; `Some(None)` clears it.
    pub address: Option<Option<String>>,
}

/// The fields an upsert sets, each only when it changed.
#[derive(Default)]
struct Changed(Map<String, Value>);

impl Changed {
    fn set<T: PartialEq + serde::Serialize>(&mut self, name: &str, old: &T, new: &T) -> Result<()> {
        if old != new {
            self.0.insert(name.to_owned(), serde_json::to_value(new)?);
        }
        Ok(())
    }
}

fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn tags_text(tags: &[String]) -> Option<String> {
    (!tags.is_empty()).then(|| tags.join(", "))
}

/// A project's name for the history (a deleted project still has one).
fn project_name(conn: &Connection, id: Option<ProjectId>) -> Result<Option<String>> {
    let Some(id) = id else { return Ok(None) };
    Ok(conn
        .prepare_cached("SELECT name FROM project WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?
        .or_else(|| Some(id.to_string())))
}

/// One entry with its tombstone.
fn entry_row(conn: &Connection, id: EntryId) -> Result<(TimeEntry, bool)> {
    conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS}, deleted FROM time_entry WHERE id = ?1"
    ))?
    .query_row([id.to_string()], |r| Ok((entry_from_row(r)?, r.get(9)?)))
    .optional()?
    .ok_or_else(|| StoreError::not_found("time entry", id))
}

fn project_row(conn: &Connection, id: ProjectId) -> Result<(Project, bool)> {
    conn.prepare_cached(&format!(
        "SELECT {PROJECT_COLUMNS}, deleted FROM project WHERE id = ?1"
    ))?
    .query_row([id.to_string()], |r| Ok((project_from_row(r)?, r.get(6)?)))
    .optional()?
    .ok_or_else(|| StoreError::not_found("project", id))
}

fn car_row(conn: &Connection, id: CarId) -> Result<(Car, bool)> {
    conn.prepare_cached(&format!(
        "SELECT {CAR_COLUMNS}, deleted FROM car WHERE id = ?1"
    ))?
    .query_row([id.to_string()], |r| Ok((car_from_row(r)?, r.get(9)?)))
    .optional()?
    .ok_or_else(|| StoreError::not_found("car", id))
}

const PLACE_COLUMNS: &str = "id, name, kind, lat, lon, radius_m, address";

fn place_row(conn: &Connection, id: PlaceId) -> Result<(Place, bool)> {
    conn.prepare_cached(&format!(
        "SELECT {PLACE_COLUMNS}, deleted FROM place WHERE id = ?1"
    ))?
    .query_row([id.to_string()], |r| {
        Ok((crate::places::place_from_row(r)?, r.get(7)?))
    })
    .optional()?
    .ok_or_else(|| StoreError::not_found("place", id))
}

fn count(conn: &Connection, sql: &str, id: &str) -> Result<u64> {
    let n: i64 = conn.prepare_cached(sql)?.query_row([id], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn deleted_conflict(kind: &str, name: &str) -> StoreError {
    StoreError::Conflict {
        message: format!("{kind} `{name}` is deleted; restore it first"),
    }
}

impl Writer<'_> {
    /// Changes the given fields of a time entry; returns the history items recorded (one
    /// per changed field, empty when nothing changed). Refused with
    /// [`StoreError::Locked`] when the entry's month, or the month its new start moves it
    /// to, is locked; with a conflict when it is deleted or the new project is archived or
    /// deleted.
    pub fn edit_entry(&mut self, id: EntryId, change: &EntryChange) -> Result<Vec<TimeEntryEdit>> {
        let (old, deleted) = entry_row(self.conn(), id)?;
        if deleted {
            return Err(deleted_conflict("time entry", &id.to_string()));
        }
        let mut new = old.clone();
        if let Some(p) = change.project {
            new.project_id = p;
        }
        if let Some(d) = &change.description {
            new.description = d.trim().to_owned();
        }
        if let Some(s) = change.start {
            new.start = s;
        }
        if let Some(s) = change.stop {
            new.stop = Some(s);
        }
        if let Some(t) = &change.tags {
            new.tags = clean_tags(t);
        }
        if let Some(b) = change.billable {
            new.billable = b;
        }
        if let Some(t) = change.trip {
            new.trip_id = t;
        }
        if new == old {
            return Ok(Vec::new());
        }
        self.ensure_unlocked(old.start, None)?;
        self.ensure_unlocked(new.start, None)?;
        validate_entry(&new)?;
        if new.project_id != old.project_id
            && let Some(p) = new.project_id
        {
            let (project, gone) = project_row(self.conn(), p)?;
            if gone {
                return Err(deleted_conflict("project", &project.name));
            }
            if project.archived {
                return Err(StoreError::Conflict {
                    message: format!(
                        "project `{}` is archived; unarchive it to book time on it",
                        project.name
                    ),
                });
            }
        }
        if new.trip_id != old.trip_id
            && let Some(t) = new.trip_id
        {
            let known: Option<i64> = self
                .conn()
                .prepare_cached("SELECT 1 FROM trip WHERE id = ?1")?
                .query_row([t.to_string()], |r| r.get(0))
                .optional()?;
            if known.is_none() {
                return Err(StoreError::not_found("trip", t));
            }
        }
        let mut fields = Changed::default();
        fields.set("project_id", &old.project_id, &new.project_id)?;
        fields.set("description", &old.description, &new.description)?;
        fields.set("start", &old.start, &new.start)?;
        fields.set("stop", &old.stop, &new.stop)?;
        fields.set("tags", &old.tags, &new.tags)?;
        fields.set("billable", &old.billable, &new.billable)?;
        fields.set("trip_id", &old.trip_id, &new.trip_id)?;
        let mut history = Vec::new();
        if old.project_id != new.project_id {
            history.push((
                EntryField::Project,
                project_name(self.conn(), old.project_id)?,
                project_name(self.conn(), new.project_id)?,
            ));
        }
        let pairs = [
            (
                EntryField::Description,
                Some(old.description.clone()).filter(|d| !d.is_empty()),
                Some(new.description.clone()).filter(|d| !d.is_empty()),
            ),
            (
                EntryField::Start,
                Some(text(old.start)),
                Some(text(new.start)),
            ),
            (EntryField::Stop, old.stop.map(text), new.stop.map(text)),
            (EntryField::Tags, tags_text(&old.tags), tags_text(&new.tags)),
            (
                EntryField::Billable,
                Some(yes_no(old.billable)),
                Some(yes_no(new.billable)),
            ),
            (
                EntryField::Trip,
                old.trip_id.map(|t| t.to_string()),
                new.trip_id.map(|t| t.to_string()),
            ),
        ];
        history.extend(pairs.into_iter().filter(|(_, a, b)| a != b));
        put_entry(self.conn(), &new, false, Put::Merge)?;
        self.record_op(
            EntityKind::TimeEntry,
            id.0,
            OpKind::Upsert { fields: fields.0 },
        )?;
        self.record_entry_history(id, history)
    }

    /// Deletes a time entry (a tombstone: a restore brings it back); returns false when it
    /// already was. Refused in a locked month.
    pub fn delete_entry(&mut self, id: EntryId) -> Result<bool> {
        let (entry, deleted) = entry_row(self.conn(), id)?;
        if deleted {
            return Ok(false);
        }
        self.ensure_unlocked(entry.start, None)?;
        put_entry(self.conn(), &entry, true, Put::Merge)?;
        self.record_op(EntityKind::TimeEntry, id.0, OpKind::Delete)?;
        self.record_entry_history(
            id,
            vec![(EntryField::Deleted, Some(yes_no(false)), Some(yes_no(true)))],
        )?;
        Ok(true)
    }

    /// Brings a deleted time entry back; returns false when it was not deleted. Refused in a
    /// locked month, while its project is deleted, and for a running entry while another
    /// timer runs.
    pub fn restore_entry(&mut self, id: EntryId) -> Result<bool> {
        let (entry, deleted) = entry_row(self.conn(), id)?;
        if !deleted {
            return Ok(false);
        }
        self.ensure_unlocked(entry.start, None)?;
        if let Some(p) = entry.project_id {
            let (project, gone) = project_row(self.conn(), p)?;
            if gone {
                return Err(StoreError::Conflict {
                    message: format!(
                        "the entry's project `{}` is deleted; restore the project first",
                        project.name
                    ),
                });
            }
        }
        if entry.stop.is_none() && running(self.conn())?.is_some() {
            return Err(StoreError::Conflict {
                message: "the entry is a running timer and another timer runs; stop it first"
                    .into(),
            });
        }
        put_entry(self.conn(), &entry, false, Put::Merge)?;
        self.record_op(EntityKind::TimeEntry, id.0, OpKind::Restore)?;
        self.record_entry_history(
            id,
            vec![(EntryField::Deleted, Some(yes_no(true)), Some(yes_no(false)))],
        )?;
        Ok(true)
    }

    /// Appends history items of one entry, in one `Append` op.
    fn record_entry_history(
        &mut self,
        id: EntryId,
        changes: Vec<(EntryField, Option<String>, Option<String>)>,
    ) -> Result<Vec<TimeEntryEdit>> {
        let mut edits = Vec::with_capacity(changes.len());
        for (field, old_value, new_value) in changes {
            // As for trip edits: a device's edits of one field get strictly increasing
            // times, so two edits within a millisecond never share an identity.
            let last: Option<i64> = self.conn().query_row(
                "SELECT max(at) FROM time_entry_edit WHERE entry_id = ?1 AND field = ?2 AND device = ?3",
                params![id.to_string(), field.as_str(), self.device().to_string()],
                |row| row.get(0),
            )?;
            let mut at = self.now();
            if let Some(last) = last
                && ms(at) <= last
                && let Some(after) = DateTime::from_timestamp_millis(last + 1)
            {
                at = after;
            }
            let edit = TimeEntryEdit {
                entry_id: id,
                field,
                old_value,
                new_value,
                at,
                device: self.device(),
                arrived_after_lock: None,
            };
            put_entry_edit(self.conn(), &edit, Put::New)?;
            edits.push(edit);
        }
        if !edits.is_empty() {
            let items = edits
                .iter()
                .map(serde_json::to_value)
                .collect::<serde_json::Result<Vec<_>>>()?;
            self.record_op(EntityKind::TimeEntryEdit, id.0, OpKind::Append { items })?;
        }
        Ok(edits)
    }

    /// Changes the given fields of a project; returns it as stored. A deleted project must be
    /// restored first; names stay unique among live projects.
    pub fn edit_project(&mut self, id: ProjectId, change: &ProjectChange) -> Result<Project> {
        let (old, deleted) = project_row(self.conn(), id)?;
        if deleted {
            return Err(deleted_conflict("project", &old.name));
        }
        let mut new = old.clone();
        if let Some(name) = &change.name {
            new.name = name.trim().to_owned();
            if new.name.is_empty() {
                return Err(StoreError::invalid("a project needs a name"));
            }
        }
        if let Some(client) = &change.client {
            new.client = client.clone();
        }
        if let Some(b) = change.billable {
            new.billable = b;
        }
        if let Some(r) = change.rounding {
            new.rounding = r;
        }
        if new.name != old.name {
            self.ensure_project_name_free(&new.name, id)?;
        }
        let mut fields = Changed::default();
        fields.set("name", &old.name, &new.name)?;
        fields.set("client", &old.client, &new.client)?;
        fields.set("billable", &old.billable, &new.billable)?;
        fields.set("rounding", &old.rounding, &new.rounding)?;
        if !fields.0.is_empty() {
            put_project(self.conn(), &new, false, Put::Merge)?;
            self.record_op(
                EntityKind::Project,
                id.0,
                OpKind::Upsert { fields: fields.0 },
            )?;
        }
        Ok(new)
    }

    fn ensure_project_name_free(&self, name: &str, id: ProjectId) -> Result<()> {
        let clash: Option<i64> = self
            .conn()
            .prepare_cached(
                "SELECT 1 FROM project WHERE deleted = 0 AND lower(name) = lower(?1) AND id <> ?2",
            )?
            .query_row(params![name, id.to_string()], |r| r.get(0))
            .optional()?;
        match clash {
            Some(_) => Err(StoreError::Conflict {
                message: format!("a project named `{name}` already exists"),
            }),
            None => Ok(()),
        }
    }

    /// Archives or unarchives a project; returns whether that changed anything.
    pub fn set_project_archived(&mut self, id: ProjectId, archived: bool) -> Result<bool> {
        let (mut project, deleted) = project_row(self.conn(), id)?;
        if deleted {
            return Err(deleted_conflict("project", &project.name));
        }
        if project.archived == archived {
            return Ok(false);
        }
        project.archived = archived;
        put_project(self.conn(), &project, false, Put::Merge)?;
        self.record_field(EntityKind::Project, id.0, "archived", Value::from(archived))?;
        Ok(true)
    }

    /// Deletes a project no live time entry uses; one still used is refused with
    /// [`StoreError::InUse`] (archive it instead). Returns false when it already was.
    pub fn delete_project(&mut self, id: ProjectId) -> Result<bool> {
        let (project, deleted) = project_row(self.conn(), id)?;
        if deleted {
            return Ok(false);
        }
        let entries = count(
            self.conn(),
            "SELECT count(*) FROM time_entry WHERE project_id = ?1 AND deleted = 0",
            &id.to_string(),
        )?;
        if entries > 0 {
            return Err(StoreError::InUse {
                kind: "project",
                name: project.name,
                uses: vec![(entries, "time entry", "time entries")],
                instead: "archive",
            });
        }
        put_project(self.conn(), &project, true, Put::Merge)?;
        self.record_op(EntityKind::Project, id.0, OpKind::Delete)?;
        Ok(true)
    }

    /// Brings a deleted project back; returns false when it was not deleted. Refused while
    /// a live project has its name.
    pub fn restore_project(&mut self, id: ProjectId) -> Result<bool> {
        let (project, deleted) = project_row(self.conn(), id)?;
        if !deleted {
            return Ok(false);
        }
        self.ensure_project_name_free(&project.name, id)?;
        put_project(self.conn(), &project, false, Put::Merge)?;
        self.record_op(EntityKind::Project, id.0, OpKind::Restore)?;
        Ok(true)
    }

    /// Changes the given fields of a car; returns it as stored. Names and plates stay
    /// unique among live cars; availability may not end before it starts.
    pub fn edit_car(&mut self, id: CarId, change: &CarChange) -> Result<Car> {
        let (old, deleted) = car_row(self.conn(), id)?;
        if deleted {
            return Err(deleted_conflict("car", &old.name));
        }
        let mut new = old.clone();
        if let Some(v) = &change.name {
            new.name = v.trim().to_owned();
        }
        if let Some(v) = &change.plate {
            new.plate = v.trim().to_owned();
        }
        if let Some(v) = &change.make {
            new.make = v.clone();
        }
        if let Some(v) = &change.model {
            new.model = v.clone();
        }
        if let Some(v) = change.available_from {
            new.available_from = v;
        }
        if let Some(v) = change.available_to {
            new.available_to = v;
        }
        if let Some(v) = &change.connect_hint {
            new.connect_hint = v.clone();
        }
        check_car(&new)?;
        if new.name != old.name || new.plate != old.plate {
            self.ensure_car_unique(&new)?;
        }
        let mut fields = Changed::default();
        fields.set("name", &old.name, &new.name)?;
        fields.set("plate", &old.plate, &new.plate)?;
        fields.set("make", &old.make, &new.make)?;
        fields.set("model", &old.model, &new.model)?;
        fields.set("available_from", &old.available_from, &new.available_from)?;
        fields.set("available_to", &old.available_to, &new.available_to)?;
        fields.set("connect_hint", &old.connect_hint, &new.connect_hint)?;
        if !fields.0.is_empty() {
            put_car(self.conn(), &new, false, Put::Merge)?;
            self.record_op(EntityKind::Car, id.0, OpKind::Upsert { fields: fields.0 })?;
        }
        Ok(new)
    }

    fn ensure_car_unique(&self, car: &Car) -> Result<()> {
        let clash: Option<String> = self
            .conn()
            .prepare_cached(
                "SELECT name FROM car WHERE deleted = 0 AND id <> ?3
                 AND (lower(name) = lower(?1) OR lower(plate) = lower(?2))",
            )?
            .query_row(params![car.name, car.plate, car.id.to_string()], |r| {
                r.get(0)
            })
            .optional()?;
        match clash {
            Some(existing) => Err(StoreError::Conflict {
                message: format!("a car with that name or plate already exists ({existing})"),
            }),
            None => Ok(()),
        }
    }

    /// Retires a car (or takes it back into use); returns whether that changed anything.
    pub fn set_car_retired(&mut self, id: CarId, retired: bool) -> Result<bool> {
        let (mut car, deleted) = car_row(self.conn(), id)?;
        if deleted {
            return Err(deleted_conflict("car", &car.name));
        }
        if car.retired == retired {
            return Ok(false);
        }
        car.retired = retired;
        put_car(self.conn(), &car, false, Put::Merge)?;
        self.record_field(EntityKind::Car, id.0, "retired", Value::from(retired))?;
        Ok(true)
    }

    /// Deletes a car no trip (not discarded) or odometer reading refers to; one still used
    /// is refused with [`StoreError::InUse`] (retire it instead). Returns false when it
    /// already was.
    pub fn delete_car(&mut self, id: CarId) -> Result<bool> {
        let (car, deleted) = car_row(self.conn(), id)?;
        if deleted {
            return Ok(false);
        }
        let key = id.to_string();
        let trips = count(
            self.conn(),
            "SELECT count(*) FROM trip WHERE car_id = ?1 AND state <> 'discarded'",
            &key,
        )?;
        let readings = count(
            self.conn(),
            "SELECT count(*) FROM odometer_reading WHERE car_id = ?1",
            &key,
        )?;
        if trips > 0 || readings > 0 {
            let mut uses = Vec::new();
            if trips > 0 {
                uses.push((trips, "trip", "trips"));
            }
            if readings > 0 {
                uses.push((readings, "odometer reading", "odometer readings"));
            }
            return Err(StoreError::InUse {
                kind: "car",
                name: car.name,
                uses,
                instead: "retire",
            });
        }
        put_car(self.conn(), &car, true, Put::Merge)?;
        self.record_op(EntityKind::Car, id.0, OpKind::Delete)?;
        Ok(true)
    }

    /// Brings a deleted car back; returns false when it was not deleted. Refused while a
    /// live car has its name or plate.
    pub fn restore_car(&mut self, id: CarId) -> Result<bool> {
        let (car, deleted) = car_row(self.conn(), id)?;
        if !deleted {
            return Ok(false);
        }
        self.ensure_car_unique(&car)?;
        put_car(self.conn(), &car, false, Put::Merge)?;
        self.record_op(EntityKind::Car, id.0, OpKind::Restore)?;
        Ok(true)
    }

    /// Changes the given fields of a place; returns it as stored. Trips already classified
    /// keep their places and purposes (only new trips see the change).
    pub fn edit_place(&mut self, id: PlaceId, change: &PlaceChange) -> Result<Place> {
        let (old, deleted) = place_row(self.conn(), id)?;
        if deleted {
            return Err(deleted_conflict("place", &old.name));
        }
        let mut new = old.clone();
        if let Some(v) = &change.name {
            new.name = v.trim().to_owned();
        }
        if let Some(v) = change.kind {
            new.kind = v;
        }
        if let Some(v) = change.center {
            new.center = v;
        }
        if let Some(v) = change.radius_m {
            new.radius_m = v;
        }
        if let Some(v) = &change.address {
            new.address = v.clone();
        }
        crate::places::check_place(&new)?;
        let mut fields = Changed::default();
        fields.set("name", &old.name, &new.name)?;
        fields.set("kind", &old.kind, &new.kind)?;
        fields.set("center", &old.center, &new.center)?;
        fields.set("radius_m", &old.radius_m, &new.radius_m)?;
        fields.set("address", &old.address, &new.address)?;
        if !fields.0.is_empty() {
            put_place(self.conn(), &new, false, Put::Merge)?;
            self.record_op(EntityKind::Place, id.0, OpKind::Upsert { fields: fields.0 })?;
        }
        Ok(new)
    }

    /// Deletes a place (trips already classified keep their purpose); returns false when
    /// it already was.
    pub fn delete_place(&mut self, id: PlaceId) -> Result<bool> {
        let (place, deleted) = place_row(self.conn(), id)?;
        if deleted {
            return Ok(false);
        }
        put_place(self.conn(), &place, true, Put::Merge)?;
        self.record_op(EntityKind::Place, id.0, OpKind::Delete)?;
        Ok(true)
    }

    /// Brings a deleted place back; returns false when it was not deleted.
    pub fn restore_place(&mut self, id: PlaceId) -> Result<bool> {
        let (place, deleted) = place_row(self.conn(), id)?;
        if !deleted {
            return Ok(false);
        }
        put_place(self.conn(), &place, false, Put::Merge)?;
        self.record_op(EntityKind::Place, id.0, OpKind::Restore)?;
        Ok(true)
    }
}

fn check_car(car: &Car) -> Result<()> {
    if car.name.is_empty() || car.plate.is_empty() {
        return Err(StoreError::invalid("a car needs a name and a plate"));
    }
    if let (Some(from), Some(to)) = (car.available_from, car.available_to)
        && to < from
    {
        return Err(StoreError::invalid(format!(
            "car availability ends ({to}) before it starts ({from})"
        )));
    }
    Ok(())
}

/// Tags as stored: trimmed, no empty ones, sorted, no duplicates.
fn clean_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = tags
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Appends pulled time entry edits, marked when they reached the log after the lock of
/// their month (`late`); returns whether any was new.
pub(crate) fn apply_entry_edits(
    conn: &Connection,
    items: &[Value],
    late: Option<&str>,
) -> Result<bool> {
    let mut changed = false;
    for item in items {
        let mut edit: TimeEntryEdit = serde_json::from_value(item.clone())
            .map_err(|e| StoreError::invalid(format!("malformed time entry edit: {e}")))?;
        edit.arrived_after_lock = late.map(str::to_owned);
        changed |= put_entry_edit(conn, &edit, Put::Merge)?;
    }
    Ok(changed)
}

/// Marks this device's own entry edits that the relay's log shows arrived after a lock.
pub(crate) fn mark_own_entry_edits_late(
    conn: &Connection,
    items: &[Value],
    month: &str,
) -> Result<()> {
    for item in items {
        let Ok(edit) = serde_json::from_value::<TimeEntryEdit>(item.clone()) else {
            continue;
        };
        conn.execute(
            "UPDATE time_entry_edit SET arrived_after_lock = ?1
             WHERE entry_id = ?2 AND field = ?3 AND at = ?4 AND device = ?5",
            params![
                month,
                edit.entry_id.to_string(),
                edit.field.as_str(),
                ms(edit.at),
                edit.device.to_string()
            ],
        )?;
    }
    Ok(())
}

/// Removes entry edits the relay refused (their change is taken back with them).
pub(crate) fn remove_entry_edits(conn: &Connection, items: &[Value]) -> Result<()> {
    for item in items {
        let Ok(edit) = serde_json::from_value::<TimeEntryEdit>(item.clone()) else {
            continue;
        };
        conn.execute(
            "DELETE FROM time_entry_edit WHERE entry_id = ?1 AND field = ?2 AND at = ?3 AND device = ?4",
            params![
                edit.entry_id.to_string(),
                edit.field.as_str(),
                ms(edit.at),
                edit.device.to_string()
            ],
        )?;
    }
    Ok(())
}

fn entry_edit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TimeEntryEdit> {
    Ok(TimeEntryEdit {
        entry_id: parse(&r.get::<_, String>(0)?)?,
        field: crate::row::enum_from(&r.get::<_, String>(1)?)?,
        old_value: r.get(2)?,
        new_value: r.get(3)?,
        at: from_ms(r.get(4)?)?,
        device: parse(&r.get::<_, String>(5)?)?,
        arrived_after_lock: r.get(6)?,
    })
}

/// The order every replica shows a history in: time, then device, then field.
const EDIT_ORDER: &str = "at, device, field, ifnull(new_value, ''), id";

impl Store {
    /// A time entry by full id, or by a unique prefix or suffix of it (the CLI shows the
    /// 8-character tail); deleted entries too, with their tombstone.
    pub fn find_entry(&self, key: &str) -> Result<(TimeEntry, bool)> {
        if let Ok(id) = key.trim().parse::<EntryId>() {
            return entry_row(self.conn(), id);
        }
        let part = key.trim().to_ascii_lowercase();
        if part.len() < 6 || !part.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(StoreError::not_found("time entry", key));
        }
        let mut stmt = self.conn().prepare_cached(
            "SELECT id FROM time_entry WHERE id LIKE ?1 || '%' OR id LIKE '%' || ?1 LIMIT 2",
        )?;
        let found: Vec<String> = stmt
            .query_map([&part], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        match found.as_slice() {
            [one] => entry_row(self.conn(), parse(one)?),
            [] => Err(StoreError::not_found("time entry", key)),
            _ => Err(StoreError::invalid(format!(
                "entry id `{key}` matches several entries; give more characters"
            ))),
        }
    }

    /// A time entry's edit history, oldest first (the same order on every replica).
    pub fn entry_edits(&self, id: EntryId) -> Result<Vec<TimeEntryEdit>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT entry_id, field, old_value, new_value, at, device, arrived_after_lock
             FROM time_entry_edit WHERE entry_id = ?1 ORDER BY {EDIT_ORDER}"
        ))?;
        Ok(stmt
            .query_map([id.to_string()], entry_edit_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The edit histories of the live entries starting in `[from, until)` (reports).
    pub fn entry_edits_between(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<TimeEntryEdit>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT entry_id, field, old_value, new_value, at, device, arrived_after_lock
             FROM time_entry_edit WHERE entry_id IN
               (SELECT id FROM time_entry WHERE deleted = 0 AND start >= ?1 AND start < ?2)
             ORDER BY entry_id, {EDIT_ORDER}"
        ))?;
        Ok(stmt
            .query_map(params![ms(from), ms(until)], entry_edit_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Projects by name: archived ones only with `archived`, deleted ones only with
    /// `deleted`.
    pub fn projects_with(&self, archived: bool, deleted: bool) -> Result<Vec<Project>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {PROJECT_COLUMNS} FROM project
             WHERE (?1 OR archived = 0) AND (?2 OR deleted = 0) ORDER BY name, id"
        ))?;
        Ok(stmt
            .query_map(params![archived, deleted], project_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// A project by id or name (ignoring case), deleted ones too (a live one wins a name
    /// clash), with its tombstone.
    pub fn find_project_any(&self, key: &str) -> Result<(Project, bool)> {
        let found: Option<String> = self
            .conn()
            .prepare_cached(
                "SELECT id FROM project WHERE id = ?1 OR lower(name) = lower(?1)
                 ORDER BY deleted, id DESC LIMIT 1",
            )?
            .query_row([key.trim()], |r| r.get(0))
            .optional()?;
        match found {
            Some(id) => project_row(self.conn(), parse(&id)?),
            None => Err(StoreError::not_found("project", key)),
        }
    }

    /// Cars by name: retired ones only with `retired`, deleted ones only with `deleted`.
    pub fn cars_with(&self, retired: bool, deleted: bool) -> Result<Vec<Car>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {CAR_COLUMNS} FROM car
             WHERE (?1 OR retired = 0) AND (?2 OR deleted = 0) ORDER BY name, id"
        ))?;
        Ok(stmt
            .query_map(params![retired, deleted], car_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// A car by id, or as `tacho_model::car::find_by_key` names it among live cars, else
    /// among deleted ones; with its tombstone.
    pub fn find_car_any(&self, key: &str) -> Result<(Car, bool)> {
        if let Ok(id) = key.trim().parse::<CarId>() {
            return car_row(self.conn(), id);
        }
        let live = self.cars_with(true, false)?;
        if let Some(car) = tacho_model::car::find_by_key(&live, key) {
            return car_row(self.conn(), car.id);
        }
        let gone: Vec<Car> = self
            .cars_with(true, true)?
            .into_iter()
            .filter(|c| !live.iter().any(|l| l.id == c.id))
            .collect();
        match tacho_model::car::find_by_key(&gone, key) {
            Some(car) => car_row(self.conn(), car.id),
            None => Err(StoreError::not_found("car", key)),
        }
    }

    /// Places by name, deleted ones only with `deleted`.
    pub fn places_with(&self, deleted: bool) -> Result<Vec<Place>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {PLACE_COLUMNS} FROM place WHERE (?1 OR deleted = 0) ORDER BY name, id"
        ))?;
        Ok(stmt
            .query_map([deleted], crate::places::place_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// A place by id or name (ignoring case), deleted ones too (a live one wins a name
    /// clash), with its tombstone.
    pub fn find_place(&self, key: &str) -> Result<(Place, bool)> {
        let found: Option<String> = self
            .conn()
            .prepare_cached(
                "SELECT id FROM place WHERE id = ?1 OR lower(name) = lower(?1)
                 ORDER BY deleted, id DESC LIMIT 1",
            )?
            .query_row([key.trim()], |r| r.get(0))
            .optional()?;
        match found {
            Some(id) => place_row(self.conn(), parse(&id)?),
            None => Err(StoreError::not_found("place", key)),
        }
    }
}
