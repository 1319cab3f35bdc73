//! Work time: the timer, entries and projects.

use crate::api::error::ApiError;
use crate::api::session::TachoCore;
use crate::api::types::{
    EntryDetailInfo, EntryEditInput, EntryQuery, NewEntryInput, NewProjectInput,
    ProjectChangeInput, ProjectInfo, TimeEntryInfo, TimerStatusInfo,
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

    /// One entry (deleted ones too) with its project and history.
    pub async fn entry(&self, key: String) -> Result<EntryDetailInfo, ApiError> {
        Ok(self.core.entry(&key).await?.into())
    }

    /// Changes an entry (also the running one; a stop stops it); every
    /// changed field is kept in its history. Refused in a locked month.
    pub async fn edit_entry(
        &self,
        key: String,
        edit: EntryEditInput,
    ) -> Result<EntryDetailInfo, ApiError> {
        let edit = mapping::entry_edit(edit)?;
        Ok(self.core.edit_entry(&key, edit).await?.into())
    }

    /// Deletes an entry (a restore brings it back); false when it already was.
    pub async fn delete_entry(&self, key: String) -> Result<bool, ApiError> {
        Ok(self.core.delete_entry(&key).await?)
    }

    /// Brings a deleted entry back.
    pub async fn restore_entry(&self, key: String) -> Result<EntryDetailInfo, ApiError> {
        Ok(self.core.restore_entry(&key).await?.into())
    }

    /// Projects by name; archived ones only with `include_archived`.
    pub async fn project_list(&self, include_archived: bool) -> Result<Vec<ProjectInfo>, ApiError> {
        Ok(self
            .core
            .project_list(include_archived)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Changes a project (id or name).
    pub async fn edit_project(
        &self,
        key: String,
        change: ProjectChangeInput,
    ) -> Result<ProjectInfo, ApiError> {
        let change = mapping::project_change(change)?;
        Ok(self.core.edit_project(&key, change).await?.into())
    }

    /// Archives a project (`archived = false` takes it back).
    pub async fn archive_project(
        &self,
        key: String,
        archived: bool,
    ) -> Result<ProjectInfo, ApiError> {
        Ok(self.core.archive_project(&key, archived).await?.into())
    }

    /// Deletes a project no entry uses (an `InUse` error otherwise: archive
    /// it); false when it already was.
    pub async fn delete_project(&self, key: String) -> Result<bool, ApiError> {
        Ok(self.core.delete_project(&key).await?)
    }

    /// Brings a deleted project back.
    pub async fn restore_project(&self, key: String) -> Result<ProjectInfo, ApiError> {
        Ok(self.core.restore_project(&key).await?.into())
    }
}
