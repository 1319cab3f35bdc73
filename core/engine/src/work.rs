//! Work time on the core: projects, the timer and manual entries.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tacho_model::id::{EntryId, ProjectId, TripId};
use tacho_model::work::{EntrySource, Project, Rounding, TimeEntry};

use crate::{Core, CoreError, CoreEvent, Result};

/// A manual entry as people enter it.
#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    /// Project name or id.
    pub project: Option<String>,
    /// What was done.
    pub description: String,
    /// Start instant.
    pub start: Option<DateTime<Utc>>,
    /// Stop instant (required for manual entries).
    pub stop: Option<DateTime<Utc>>,
    /// Tags.
    pub tags: Vec<String>,
    /// Billable; defaults to the project's setting.
    pub billable: Option<bool>,
    /// Travel time for this trip (id or prefix); start/stop default to the trip's.
    pub trip: Option<String>,
}

/// The timer as a watch face shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TimerStatus {
    /// The running entry, if any.
    pub running: Option<TimeEntry>,
    /// Its project.
    pub project: Option<Project>,
    /// Raw elapsed seconds.
    pub elapsed_s: i64,
    /// Raw seconds worked today (the local day in the core's time zone) including the running
    /// entry.
    pub today_s: i64,
    /// Rounded seconds worked today, per the projects' rounding rules.
    pub today_rounded_s: i64,
}

impl Core {
    /// Adds a project.
    pub async fn add_project(
        &self,
        name: &str,
        client: Option<String>,
        billable: bool,
        rounding: Rounding,
    ) -> Result<Project> {
        let project = Project {
            id: ProjectId::new(),
            name: name.trim().to_owned(),
            client,
            billable,
            rounding,
            archived: false,
        };
        self.with_store(|inner| Ok(inner.store.write(|w| w.add_project(&project))?))?;
        self.emit(CoreEvent::DataChanged);
        Ok(project)
    }

    /// Starts a timer; a running one is stopped at the same instant first
    /// (switching projects), so at most one ever runs.
    pub async fn start_timer(
        &self,
        project: Option<&str>,
        description: &str,
        tags: Vec<String>,
    ) -> Result<TimeEntry> {
        let now = self.now();
        let entry = self.with_store(|inner| {
            let project = project.map(|p| inner.store.find_project(p)).transpose()?;
            let entry = TimeEntry {
                id: EntryId::new(),
                project_id: project.as_ref().map(|p| p.id),
                description: description.trim().to_owned(),
                start: now,
                stop: None,
                tags: clean_tags(tags),
                billable: project.as_ref().is_some_and(|p| p.billable),
                source: EntrySource::Timer,
                trip_id: None,
            };
            inner.store.write(|w| {
                w.stop_timer(now)?;
                w.add_entry(&entry)
            })?;
            Ok(entry)
        })?;
        self.emit(CoreEvent::TimerChanged);
        Ok(entry)
    }

    /// Stops the running timer.
    pub async fn stop_timer(&self) -> Result<TimeEntry> {
        let now = self.now();
        let stopped = self.with_store(|inner| Ok(inner.store.write(|w| w.stop_timer(now))?))?;
        let stopped = stopped.ok_or_else(|| CoreError::Conflict {
            reason: "no timer is running".into(),
        })?;
        self.emit(CoreEvent::TimerChanged);
        Ok(stopped)
    }

    /// The running timer and today's totals.
    pub async fn timer_status(&self) -> Result<TimerStatus> {
        let now = self.now();
        let (running, projects, today) = self.with_store(|inner| {
            let running = inner.store.running_entry()?;
            let projects = inner.store.projects()?;
            let day_start = tacho_model::report::tz::local_day_start(now, &inner.config.time_zone);
            let today = inner.store.entries(&crate::EntryFilter {
                from: Some(day_start),
                ..Default::default()
            })?;
            Ok((running, projects, today))
        })?;
        let rounding_of = |e: &TimeEntry| {
            e.project_id
                .and_then(|id| projects.iter().find(|p| p.id == id))
                .map_or(Rounding::None, |p| p.rounding)
        };
        let today_s = today.iter().map(|e| e.duration(now).num_seconds()).sum();
        let today_rounded_s = today
            .iter()
            .map(|e| rounding_of(e).apply(e.duration(now)).num_seconds())
            .sum();
        let project = running
            .as_ref()
            .and_then(|e| e.project_id)
            .and_then(|id| projects.iter().find(|p| p.id == id).cloned());
        Ok(TimerStatus {
            elapsed_s: running
                .as_ref()
                .map_or(0, |e| e.duration(now).num_seconds()),
            running,
            project,
            today_s,
            today_rounded_s,
        })
    }

    /// Adds a finished entry typed in afterwards, or travel time for a trip.
    pub async fn add_entry(&self, new: NewEntry) -> Result<TimeEntry> {
        let entry = self.with_store(|inner| {
            let project = new
                .project
                .as_deref()
                .map(|p| inner.store.find_project(p))
                .transpose()?;
            let trip = new
                .trip
                .as_deref()
                .map(|t| inner.store.find_trip(t))
                .transpose()?;
            let start = new
                .start
                .or(trip.as_ref().map(|t| t.started_at))
                .ok_or_else(|| CoreError::bad_input("an entry needs a start time"))?;
            let stop = new
                .stop
                .or(trip.as_ref().and_then(|t| t.ended_at))
                .ok_or_else(|| {
                    CoreError::bad_input(
                        "an entry needs a stop time (use the timer for running entries)",
                    )
                })?;
            if stop - start > Duration::hours(24) {
                return Err(CoreError::bad_input(
                    "an entry can't be longer than 24 hours",
                ));
            }
            let entry = TimeEntry {
                id: EntryId::new(),
                project_id: project.as_ref().map(|p| p.id),
                description: new.description.trim().to_owned(),
                start,
                stop: Some(stop),
                tags: clean_tags(new.tags),
                billable: new
                    .billable
                    .unwrap_or(project.as_ref().is_some_and(|p| p.billable)),
                source: if trip.is_some() {
                    EntrySource::Trip
                } else {
                    EntrySource::Manual
                },
                trip_id: trip.map(|t: tacho_model::trip::Trip| -> TripId { t.id }),
            };
            inner.store.write(|w| w.add_entry(&entry))?;
            Ok(entry)
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(entry)
    }
}

fn clean_tags(tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = tags
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}
