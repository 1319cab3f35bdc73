//! Work time: the timer, entries and projects.

use crate::api::error::ApiError;
use crate::api::session::TachoCore;
use crate::api::types::{
    EntryQuery, NewEntryInput, NewProjectInput, ProjectInfo, TimeEntryInfo, TimerStatusInfo,
};
use crate::mapping;

impl TachoCore {
    /// Starts the timer on a project (id or name, or none). A running timer
    /// is stopped at the same instant first, so at most one ever runs.
    pub async fn start_timer(
        &self,
        project: Option<String>,
        description: String,
        tags: Vec<String>,
    ) -> Result<TimeEntryInfo, ApiError> {
        Ok(self
            .core
            .start_timer(project.as_deref(), &description, tags)
            .await?
            .into())
    }

    /// Switches the running timer to another project. The same call as
    /// [`TachoCore::start_timer`] (the core stops the running entry at the
    /// new one's start); a separate name so the UI reads as it behaves.
    pub async fn switch_timer(
        &self,
        project: Option<String>,
        description: String,
        tags: Vec<String>,
    ) -> Result<TimeEntryInfo, ApiError> {
        self.start_timer(project, description, tags).await
    }

    /// Stops the running timer; a conflict error when none runs.
    pub async fn stop_timer(&self) -> Result<TimeEntryInfo, ApiError> {
        Ok(self.core.stop_timer().await?.into())
    }

    /// The running timer and today's totals.
    pub async fn timer_status(&self) -> Result<TimerStatusInfo, ApiError> {
        Ok(self.core.timer_status().await?.into())
    }

    /// Entries matching `query`, for the timesheet.
    pub async fn entries(&self, query: EntryQuery) -> Result<Vec<TimeEntryInfo>, ApiError> {
        let project = match query.project.as_deref() {
            Some(key) => Some(self.core.find_project(key).await?.id),
            None => None,
        };
        let filter = tacho_core::EntryFilter {
            from: mapping::instant_opt(query.from_ms, "from")?,
            until: mapping::instant_opt(query.until_ms, "until")?,
            project,
        };
        Ok(self
            .core
            .entries(filter)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Adds a finished entry typed in afterwards, or travel time for a trip.
    pub async fn add_entry(&self, entry: NewEntryInput) -> Result<TimeEntryInfo, ApiError> {
        Ok(self
            .core
            .add_entry(mapping::new_entry(entry)?)
            .await?
            .into())
    }

    /// All projects, for pickers.
    pub async fn projects(&self) -> Result<Vec<ProjectInfo>, ApiError> {
        Ok(self
            .core
            .projects()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Adds a project (names are unique).
    pub async fn add_project(&self, project: NewProjectInput) -> Result<ProjectInfo, ApiError> {
        let rounding = mapping::rounding(project.rounding)?;
        Ok(self
            .core
            .add_project(&project.name, project.client, project.billable, rounding)
            .await?
            .into())
    }
}
