//! Importing time entries from other trackers' exports (Toggl, Kimai, Clockify, generic CSV):
//! parsed whole by `tacho_model::import::entries`, then written through the same store path
//! as `entry add` in ONE transaction, so a file imports completely or not at all.
//!
//! Re-importing changes nothing: each row's entry id is derived from the row
//! (`EntryRow::entry_id`), and ids already stored, deleted ones included, are skipped (a
//! deleted imported entry does not come back).

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use tacho_model::id::ProjectId;
use tacho_model::import::entries::{self, EntryFormat, EntryRow};
use tacho_model::work::{EntrySource, Project, Rounding, TimeEntry};
use tacho_store::StoreError;

use crate::{Core, CoreError, CoreEvent, ImportProgress, Result};

/// How to import entries.
#[derive(Debug, Clone, Default)]
pub struct EntryImportOptions {
    /// Force a format instead of detecting it from the header.
    pub format: Option<EntryFormat>,
    /// IANA zone the file's wall times are read in; `None`: the core's zone.
    pub time_zone: Option<String>,
    /// Check everything (including the store's rules) and report, but store nothing.
    pub dry_run: bool,
}

/// What an entry import stored (or, on a dry run, would store).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryImportSummary {
    /// The format read.
    pub format: EntryFormat,
    /// Whether the format was detected from the header rather than given.
    pub detected: bool,
    /// The zone wall times were read in.
    pub time_zone: String,
    /// Data rows in the file.
    pub rows: usize,
    /// Entries created.
    pub created: usize,
    /// Rows whose entry was already stored (imported before, possibly deleted since), or
    /// that repeat an earlier row of the file.
    pub already_present: usize,
    /// Names of the projects created, in file order.
    pub projects_created: Vec<String>,
    /// Nothing was stored.
    pub dry_run: bool,
}

/// How often progress is reported, in rows.
const PROGRESS_EVERY: usize = 100;

/// Why the import transaction ends without committing.
enum Abort {
    /// A dry run got to the end: roll back, report the summary.
    DryRun(EntryImportSummary),
    Failed(CoreError),
}

impl From<StoreError> for Abort {
    fn from(e: StoreError) -> Self {
        Self::Failed(e.into())
    }
}

impl From<CoreError> for Abort {
    fn from(e: CoreError) -> Self {
        Self::Failed(e)
    }
}

/// A store refusal while writing a row, saying which row (the store's own message lacks it).
fn at_row(format: EntryFormat, row: &EntryRow, e: StoreError) -> CoreError {
    let at = format!("{format} row {}", row.row);
    match CoreError::from(e) {
        CoreError::BadInput { reason } => CoreError::BadInput {
            reason: format!("{at}: {reason}; nothing was imported"),
        },
        CoreError::Conflict { reason } => CoreError::Conflict {
            reason: format!("{at}: {reason}; nothing was imported"),
        },
        CoreError::LockedPeriod { month } => CoreError::Conflict {
            reason: format!(
                "{at}: the period {month} is locked; changes to it are refused; nothing was imported"
            ),
        },
        other => other,
    }
}

impl Core {
    /// Imports the time entries of an export file; see [`Core::import_entries`].
    pub async fn import_entries_file(
        &self,
        path: &Path,
        options: EntryImportOptions,
        progress: impl FnMut(ImportProgress) + Send,
    ) -> Result<EntryImportSummary> {
        let bytes = crate::db::blocking(|| std::fs::read(path))
            .map_err(|e| CoreError::bad_input(format!("can't read {}: {e}", path.display())))?;
        self.import_entries(&bytes, options, progress).await
    }

    /// Imports the time entries of an export held in memory (CSV text or XLSX bytes): every
    /// row or none. Projects are matched by name ignoring case, or created (with the row's
    /// client); an archived project is refused, as for `entry add`.
    pub async fn import_entries(
        &self,
        bytes: &[u8],
        options: EntryImportOptions,
        mut progress: impl FnMut(ImportProgress) + Send,
    ) -> Result<EntryImportSummary> {
        let zone_name = match options.time_zone.clone() {
            Some(zone) => zone,
            None => self.with_store(|inner| Ok(inner.config.time_zone.clone()))?,
        };
        let zone: chrono_tz::Tz = zone_name.trim().parse().map_err(|_| {
            CoreError::bad_input(format!(
                "unknown time zone {zone_name:?}: expected an IANA name like Europe/Berlin"
            ))
        })?;
        let parsed = entries::parse_file(options.format, bytes, zone)
            .map_err(|e| CoreError::bad_input(format!("{e}; nothing was imported")))?;
        let format = parsed.format;
        let total = parsed.rows.len();
        let summary = self.with_store_long(|inner| {
            let outcome = inner.store.write(|w| {
                let mut summary = EntryImportSummary {
                    format,
                    detected: parsed.detected,
                    time_zone: zone.name().to_owned(),
                    rows: total,
                    created: 0,
                    already_present: 0,
                    projects_created: Vec::new(),
                    dry_run: options.dry_run,
                };
                let mut projects: HashMap<String, Project> = HashMap::new();
                progress(ImportProgress { done: 0, total });
                for (done, row) in parsed.rows.iter().enumerate() {
                    if done % PROGRESS_EVERY == 0 && done > 0 {
                        progress(ImportProgress { done, total });
                    }
                    let id = row.entry_id(format);
                    if w.entry_known(id)? {
                        summary.already_present += 1;
                        continue;
                    }
                    let project = match row.project.as_deref() {
                        None => None,
                        Some(name) => {
                            let key = name.trim().to_lowercase();
                            let project = match projects.get(&key) {
                                Some(p) => p.clone(),
                                None => {
                                    let p = match w.project_named(name)? {
                                        Some(p) => p,
                                        None => {
                                            let p = Project {
                                                id: ProjectId::new(),
                                                name: name.trim().to_owned(),
                                                client: row.client.clone(),
                                                billable: false,
                                                rounding: Rounding::None,
                                                archived: false,
                                            };
                                            w.add_project(&p)
                                                .map_err(|e| at_row(format, row, e))?;
                                            summary.projects_created.push(p.name.clone());
                                            p
                                        }
                                    };
                                    projects.insert(key, p.clone());
                                    p
                                }
                            };
                            Some(project)
                        }
                    };
                    let entry = TimeEntry {
                        id,
                        project_id: project.as_ref().map(|p| p.id),
                        description: row.description.trim().to_owned(),
                        start: row.start,
                        stop: Some(row.stop),
                        tags: row.tags.clone(),
                        billable: row
                            .billable
                            .unwrap_or(project.as_ref().is_some_and(|p| p.billable)),
                        source: EntrySource::Manual,
                        trip_id: None,
                    };
                    w.add_entry(&entry).map_err(|e| at_row(format, row, e))?;
                    summary.created += 1;
                }
                progress(ImportProgress { done: total, total });
                if options.dry_run {
                    return Err(Abort::DryRun(summary));
                }
                Ok(summary)
            });
            match outcome {
                Ok(summary) | Err(Abort::DryRun(summary)) => Ok(summary),
                Err(Abort::Failed(e)) => Err(e),
            }
        })?;
        if summary.created > 0 && !summary.dry_run {
            self.emit(CoreEvent::DataChanged);
        }
        Ok(summary)
    }
}
