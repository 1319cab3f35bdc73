//! Toggl Track's detailed report export (Reports → Detailed → Export → CSV):
//!
//! `User,Email,Client,Project,Task,Description,Billable,Start date,Start time,End date,End time,Duration,Tags,Amount (…)`
//!
//! Dates `YYYY-MM-DD`, times `HH:MM:SS` in the exporting account's time zone, durations
//! `hh:mm:ss`, billable `Yes`/`No`, tags comma-separated in one cell. User, email, task and
//! amount are not imported.

use super::SplitLayout;

/// Toggl's columns.
pub(crate) const LAYOUT: SplitLayout = SplitLayout {
    start_date: &["Start date"],
    start_time: &["Start time"],
    end_date: &["End date"],
    end_time: &["End time"],
    duration: &["Duration"],
    project: &["Project"],
    client: &["Client"],
    description: &["Description"],
    tags: &["Tags"],
    billable: &["Billable"],
    tag_column: &[],
};
