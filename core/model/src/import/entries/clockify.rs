//! Clockify's detailed report export (Reports → Detailed → Export → CSV):
//!
//! `Project,Client,Description,Task,User,Group,Email,Tags,Billable,Start Date,Start Time,End Date,End Time,Duration (h),Duration (decimal),Billable Rate (…),Billable Amount (…)`
//!
//! Dates follow the account's date setting (`MM/DD/YYYY` by default, `DD/MM/YYYY`,
//! `YYYY-MM-DD`, `DD.MM.YYYY`, …; a slash date is read month-first unless some row of the file
//! only makes sense day-first), times 24-hour or `hh:mm:ss AM/PM`, `Duration (h)` as
//! `hh:mm:ss`. Task, user, group, email and the amounts are not imported.

use super::SplitLayout;

/// Clockify's columns.
pub(crate) const LAYOUT: SplitLayout = SplitLayout {
    start_date: &["Start Date"],
    start_time: &["Start Time"],
    end_date: &["End Date"],
    end_time: &["End Time"],
    duration: &["Duration (h)"],
    project: &["Project"],
    client: &["Client"],
    description: &["Description"],
    tags: &["Tags"],
    billable: &["Billable"],
    tag_column: &[],
};
