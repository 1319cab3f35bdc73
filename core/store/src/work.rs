//! Projects, time entries and the timer.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use tacho_model::id::{EntryId, ProjectId};
use tacho_model::op::EntityKind;
use tacho_model::work::{Project, TimeEntry};

use crate::row::{enum_from, from_ms, ms, opt_from_ms, parse};
use crate::tables::{Put, put_entry, put_project, set_entry_stop};
use crate::{Result, Store, StoreError, Writer};

pub(crate) const PROJECT_COLUMNS: &str = "id, name, client, billable, rounding, archived";
pub(crate) const ENTRY_COLUMNS: &str =
    "id, project_id, description, start, stop, tags, billable, source, trip_id";

pub(crate) fn project_from_row(r: &Row<'_>) -> rusqlite::Result<Project> {
    Ok(Project {
        id: parse(&r.get::<_, String>(0)?)?,
        name: r.get(1)?,
        client: r.get(2)?,
        billable: r.get(3)?,
        rounding: parse(&r.get::<_, String>(4)?)?,
        archived: r.get(5)?,
    })
}

pub(crate) fn entry_from_row(r: &Row<'_>) -> rusqlite::Result<TimeEntry> {
    let tags: String = r.get(5)?;
    Ok(TimeEntry {
        id: parse(&r.get::<_, String>(0)?)?,
        project_id: r
            .get::<_, Option<String>>(1)?
            .as_deref()
            .map(parse)
            .transpose()?,
        description: r.get(2)?,
        start: from_ms(r.get(3)?)?,
        stop: opt_from_ms(r.get(4)?)?,
        tags: serde_json::from_str(&tags)
            .map_err(|e| crate::row::conversion(format!("bad tags {tags}: {e}")))?,
        billable: r.get(6)?,
        source: enum_from(&r.get::<_, String>(7)?)?,
        trip_id: r
            .get::<_, Option<String>>(8)?
            .as_deref()
            .map(parse)
            .transpose()?,
    })
}

/// Which entries to list.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    /// Entries starting at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Entries starting before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only this project's entries.
    pub project: Option<ProjectId>,
}

impl Writer<'_> {
    /// Adds a project; names are unique (case-insensitive).
    pub fn add_project(&mut self, project: &Project) -> Result<()> {
        if project.name.trim().is_empty() {
            return Err(StoreError::invalid("a project needs a name"));
        }
        let exists: Option<i64> = self
            .conn()
            .query_row(
                "SELECT 1 FROM project WHERE deleted = 0 AND lower(name) = lower(?1)",
                [&project.name],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::Conflict {
                message: format!("a project named `{}` already exists", project.name),
            });
        }
        put_project(self.conn(), project, false, Put::New)?;
        self.record_upsert(EntityKind::Project, project.id.0, project)
    }

    /// Adds a time entry. A stop before its start is refused; overlaps with
    /// other entries are allowed (and flagged in views); a running entry
    /// (no stop) is only allowed when no other entry runs.
    pub fn add_entry(&mut self, entry: &TimeEntry) -> Result<()> {
        validate_entry(entry)?;
        self.ensure_unlocked(entry.start, None)?;
        if let Some(p) = entry.project_id {
            let archived: Option<(String, bool)> = self
                .conn()
                .prepare_cached("SELECT name, archived FROM project WHERE id = ?1")?
                .query_row([p.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((name, true)) = archived {
                return Err(StoreError::Conflict {
                    message: format!(
                        "project `{name}` is archived; unarchive it to book time on it"
                    ),
                });
            }
        }
        if entry.stop.is_none() && running(self.conn())?.is_some() {
            return Err(StoreError::Conflict {
                message: "a timer is already running; stop it first".into(),
            });
        }
        put_entry(self.conn(), entry, false, Put::New)?;
        self.record_upsert(EntityKind::TimeEntry, entry.id.0, entry)
    }

    /// Whether a time entry with this id was ever stored here, deleted ones included: an
    /// import skips such ids so a re-import changes nothing and a deleted imported entry
    /// stays deleted.
    pub fn entry_known(&self, id: EntryId) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM time_entry WHERE id = ?1")?
            .query_row([id.to_string()], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The live project named `name` (ignoring case and surrounding spaces), archived or not.
    pub fn project_named(&self, name: &str) -> Result<Option<Project>> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {PROJECT_COLUMNS} FROM project
                 WHERE deleted = 0 AND lower(name) = lower(?1) ORDER BY id LIMIT 1"
            ))?
            .query_row([name.trim()], project_from_row)
            .optional()?)
    }

    /// Stops the running entry at `at`; returns it, or `None` when nothing ran.
    pub fn stop_timer(&mut self, at: DateTime<Utc>) -> Result<Option<TimeEntry>> {
        let Some(mut entry) = running(self.conn())? else {
            return Ok(None);
        };
        if at < entry.start {
            return Err(StoreError::invalid(format!(
                "stop time {at} is before the running timer's start {}",
                entry.start
            )));
        }
        self.ensure_unlocked(entry.start, None)?;
        set_entry_stop(self.conn(), &entry.id.to_string(), at)?;
        entry.stop = Some(at);
        self.record_field(
            EntityKind::TimeEntry,
            entry.id.0,
            "stop",
            serde_json::to_value(at)?,
        )?;
        Ok(Some(entry))
    }
}

pub(crate) fn validate_entry(entry: &TimeEntry) -> Result<()> {
    if let Some(stop) = entry.stop
        && stop < entry.start
    {
        return Err(StoreError::invalid(format!(
            "the entry stops ({stop}) before it starts ({})",
            entry.start
        )));
    }
    if entry.tags.iter().any(|t| t.trim().is_empty()) {
        return Err(StoreError::invalid("tags can't be empty"));
    }
    Ok(())
}

pub(crate) fn running(conn: &rusqlite::Connection) -> Result<Option<TimeEntry>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM time_entry WHERE stop IS NULL AND deleted = 0"
        ))?
        .query_row([], entry_from_row)
        .optional()?)
}

impl Store {
    /// All projects, by name.
    pub fn projects(&self) -> Result<Vec<Project>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {PROJECT_COLUMNS} FROM project WHERE deleted = 0 ORDER BY name, id"
        ))?;
        Ok(stmt
            .query_map([], project_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// A project by id or name (case-insensitive).
    pub fn find_project(&self, key: &str) -> Result<Project> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {PROJECT_COLUMNS} FROM project
                 WHERE deleted = 0 AND (id = ?1 OR lower(name) = lower(?1)) ORDER BY id LIMIT 1"
            ))?
            .query_row([key.trim()], project_from_row)
            .optional()?
            .ok_or_else(|| StoreError::not_found("project", key))
    }

    /// The running entry, if any.
    pub fn running_entry(&self) -> Result<Option<TimeEntry>> {
        running(self.conn())
    }

    /// One entry.
    pub fn entry(&self, id: EntryId) -> Result<TimeEntry> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM time_entry WHERE id = ?1"
            ))?
            .query_row([id.to_string()], entry_from_row)
            .optional()?
            .ok_or_else(|| StoreError::not_found("time entry", id))
    }

    /// Entries by start time.
    pub fn entries(&self, filter: &EntryFilter) -> Result<Vec<TimeEntry>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM time_entry
             WHERE deleted = 0 AND (?1 IS NULL OR start >= ?1) AND (?2 IS NULL OR start < ?2)
               AND (?3 IS NULL OR project_id = ?3)
             ORDER BY start, id"
        ))?;
        Ok(stmt
            .query_map(
                params![
                    filter.from.map(ms),
                    filter.until.map(ms),
                    filter.project.map(|p| p.to_string())
                ],
                entry_from_row,
            )?
            .collect::<rusqlite::Result<_>>()?)
    }
}
