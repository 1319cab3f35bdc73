//! Editing, archiving, deleting and restoring on the core: time entries (with their edit
//! history), projects, cars and places (issue 12). The rules live in the store
//! (`tacho_store` `edit.rs`); this layer finds entities the way people name them and
//! announces changes.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tacho_model::car::Car;
use tacho_model::place::Place;
use tacho_model::work::{Project, TimeEntry, TimeEntryEdit};
use tacho_store::{CarChange, EntryChange, PlaceChange, ProjectChange};

use crate::{Core, CoreError, CoreEvent, Inner, Result};

/// A change to a time entry as people give it: `None` leaves a field as it is; projects
/// and trips are named like everywhere else (project id or name, trip id or prefix), and
/// `Some(None)` clears them.
#[derive(Debug, Clone, Default)]
pub struct EntryEdit {
    /// Project id or name; `Some(None)` books it on no project.
    pub project: Option<Option<String>>,
    /// What was done.
    pub description: Option<String>,
    /// Start instant.
    pub start: Option<DateTime<Utc>>,
    /// Stop instant (setting it on the running timer stops it).
    pub stop: Option<DateTime<Utc>>,
    /// The whole set of tags (replaces the old set).
    pub tags: Option<Vec<String>>,
    /// Billable flag.
    pub billable: Option<bool>,
    /// Trip id or prefix; `Some(None)` unlinks it.
    pub trip: Option<Option<String>>,
}

/// One time entry for a detail view: the entry, whether it is deleted, its project and
/// its whole edit history.
#[derive(Debug, Clone, Serialize)]
pub struct EntryDetail {
    /// The entry.
    pub entry: TimeEntry,
    /// Deleted (a restore brings it back).
    pub deleted: bool,
    /// Its project (also an archived or deleted one), if any.
    pub project: Option<Project>,
    /// Every edit, delete and restore, oldest first.
    pub history: Vec<TimeEntryEdit>,
}

/// An entry with its project and history, read in the caller's lock.
fn detail(inner: &Inner, entry: TimeEntry, deleted: bool) -> Result<EntryDetail> {
    let project = match entry.project_id {
        Some(id) => inner
            .store
            .find_project_any(&id.to_string())
            .map(|(p, _)| Some(p))
            .or_else(|e| match e {
                tacho_store::StoreError::NotFound { .. } => Ok(None),
                other => Err(other),
            })?,
        None => None,
    };
    Ok(EntryDetail {
        history: inner.store.entry_edits(entry.id)?,
        entry,
        deleted,
        project,
    })
}

impl Core {
    // ---- time entries --------------------------------------------------------

    /// One time entry (id, or the 8-character tail the lists show), deleted ones too.
    pub async fn entry(&self, key: &str) -> Result<EntryDetail> {
        self.with_store(|inner| {
            let (entry, deleted) = inner.store.find_entry(key)?;
            detail(inner, entry, deleted)
        })
    }

    /// Changes a time entry; every changed field is kept in its history (who, when, old
    /// and new value). Refused in a locked month ([`CoreError::LockedPeriod`], nothing
    /// written), on a deleted entry, and onto an archived project.
    pub async fn edit_entry(&self, key: &str, edit: EntryEdit) -> Result<EntryDetail> {
        let detail = self.with_store(|inner| {
            let (entry, _) = inner.store.find_entry(key)?;
            let project = match edit.project {
                Some(Some(p)) => Some(Some(inner.store.find_project_any(&p)?.0.id)),
                Some(None) => Some(None),
                None => None,
            };
            let trip = match edit.trip {
                Some(Some(t)) => Some(Some(inner.store.find_trip(&t)?.id)),
                Some(None) => Some(None),
                None => None,
            };
            if edit.start.is_some() || edit.stop.is_some() {
                let start = edit.start.unwrap_or(entry.start);
                if let Some(stop) = edit.stop.or(entry.stop)
                    && stop - start > Duration::hours(24)
                {
                    return Err(CoreError::bad_input(
                        "an entry can't be longer than 24 hours",
                    ));
                }
            }
            let change = EntryChange {
                project,
                description: edit.description,
                start: edit.start,
                stop: edit.stop,
                tags: edit.tags,
                billable: edit.billable,
                trip,
            };
            inner.store.write(|w| w.edit_entry(entry.id, &change))?;
            let (entry, deleted) = inner.store.find_entry(&entry.id.to_string())?;
            detail(inner, entry, deleted)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(detail)
    }

    /// Deletes a time entry (a tombstone; [`Core::restore_entry`] brings it back); returns
    /// false when it already was. Refused in a locked month.
    pub async fn delete_entry(&self, key: &str) -> Result<bool> {
        let done = self.with_store(|inner| {
            let (entry, _) = inner.store.find_entry(key)?;
            Ok(inner.store.write(|w| w.delete_entry(entry.id))?)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(done)
    }

    /// Brings a deleted time entry back. Refused in a locked month and while its project
    /// is deleted.
    pub async fn restore_entry(&self, key: &str) -> Result<EntryDetail> {
        let detail = self.with_store(|inner| {
            let (entry, _) = inner.store.find_entry(key)?;
            inner.store.write(|w| w.restore_entry(entry.id))?;
            let (entry, deleted) = inner.store.find_entry(&entry.id.to_string())?;
            detail(inner, entry, deleted)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(detail)
    }

    // ---- projects --------------------------------------------------------------

    /// Projects by name: archived ones only with `include_archived` (the default lists
    /// hide them).
    pub async fn project_list(&self, include_archived: bool) -> Result<Vec<Project>> {
        self.with_store(|inner| Ok(inner.store.projects_with(include_archived, false)?))
    }

    /// Changes a project (id or name).
    pub async fn edit_project(&self, key: &str, change: ProjectChange) -> Result<Project> {
        let project = self.with_store(|inner| {
            let (project, _) = inner.store.find_project_any(key)?;
            Ok(inner.store.write(|w| w.edit_project(project.id, &change))?)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(project)
    }

    /// Archives a project (`archived = false` takes it back): its entries and reports
    /// stay, it leaves the default lists, and no new time can be booked on it.
    pub async fn archive_project(&self, key: &str, archived: bool) -> Result<Project> {
        let project = self.with_store(|inner| {
            let (project, _) = inner.store.find_project_any(key)?;
            inner
                .store
                .write(|w| w.set_project_archived(project.id, archived))?;
            Ok(inner.store.find_project_any(&project.id.to_string())?.0)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(project)
    }

    /// Deletes a project no live entry uses ([`CoreError::InUse`] with the count
    /// otherwise: archive it instead); returns false when it already was.
    pub async fn delete_project(&self, key: &str) -> Result<bool> {
        let done = self.with_store(|inner| {
            let (project, _) = inner.store.find_project_any(key)?;
            Ok(inner.store.write(|w| w.delete_project(project.id))?)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(done)
    }

    /// Brings a deleted project back.
    pub async fn restore_project(&self, key: &str) -> Result<Project> {
        let project = self.with_store(|inner| {
            let (project, _) = inner.store.find_project_any(key)?;
            inner.store.write(|w| w.restore_project(project.id))?;
            Ok(inner.store.find_project_any(&project.id.to_string())?.0)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(project)
    }

    // ---- cars ------------------------------------------------------------------

    /// Cars by name: retired ones only with `include_retired` (the default lists hide
    /// them).
    pub async fn car_list(&self, include_retired: bool) -> Result<Vec<Car>> {
        self.with_store(|inner| Ok(inner.store.cars_with(include_retired, false)?))
    }

    /// Changes a car (id, name or plate).
    pub async fn edit_car(&self, key: &str, change: CarChange) -> Result<Car> {
        let car = self.with_store(|inner| {
            let (car, _) = inner.store.find_car_any(key)?;
            let car = inner.store.write(|w| w.edit_car(car.id, &change))?;
            inner.refresh_reference()?;
            Ok(car)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(car)
    }

    /// Retires a car (`retired = false` takes it back into use): its trips and mileage
    /// logs stay, it leaves the default lists, and no new trip is recorded in it.
    pub async fn retire_car(&self, key: &str, retired: bool) -> Result<Car> {
        let car = self.with_store(|inner| {
            let (car, _) = inner.store.find_car_any(key)?;
            inner.store.write(|w| w.set_car_retired(car.id, retired))?;
            inner.refresh_reference()?;
            Ok(inner.store.car(car.id)?)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(car)
    }

    /// Deletes a car no trip or reading refers to ([`CoreError::InUse`] with the counts
    /// otherwise: retire it instead); returns false when it already was.
    pub async fn delete_car(&self, key: &str) -> Result<bool> {
        let done = self.with_store(|inner| {
            let (car, _) = inner.store.find_car_any(key)?;
            let done = inner.store.write(|w| w.delete_car(car.id))?;
            inner.refresh_reference()?;
            Ok(done)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(done)
    }

    /// Brings a deleted car back.
    pub async fn restore_car(&self, key: &str) -> Result<Car> {
        let car = self.with_store(|inner| {
            let (car, _) = inner.store.find_car_any(key)?;
            inner.store.write(|w| w.restore_car(car.id))?;
            inner.refresh_reference()?;
            Ok(inner.store.car(car.id)?)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(car)
    }

    // ---- places ----------------------------------------------------------------

    /// Places by name, deleted ones only with `include_deleted`.
    pub async fn place_list(&self, include_deleted: bool) -> Result<Vec<Place>> {
        self.with_store(|inner| Ok(inner.store.places_with(include_deleted)?))
    }

    /// Changes a place (id or name). Trips already classified keep their purpose.
    pub async fn edit_place(&self, key: &str, change: PlaceChange) -> Result<Place> {
        let place = self.with_store(|inner| {
            let (place, _) = inner.store.find_place(key)?;
            let place = inner.store.write(|w| w.edit_place(place.id, &change))?;
            inner.refresh_reference()?;
            Ok(place)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(place)
    }

    /// Deletes a place (a tombstone); returns false when it already was.
    pub async fn delete_place(&self, key: &str) -> Result<bool> {
        let done = self.with_store(|inner| {
            let (place, _) = inner.store.find_place(key)?;
            let done = inner.store.write(|w| w.delete_place(place.id))?;
            inner.refresh_reference()?;
            Ok(done)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(done)
    }

    /// Brings a deleted place back.
    pub async fn restore_place(&self, key: &str) -> Result<Place> {
        let place = self.with_store(|inner| {
            let (place, _) = inner.store.find_place(key)?;
            inner.store.write(|w| w.restore_place(place.id))?;
            inner.refresh_reference()?;
            Ok(inner.store.find_place(&place.id.to_string())?.0)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(place)
    }
}
