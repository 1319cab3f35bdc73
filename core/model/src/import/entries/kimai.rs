//! Kimai's timesheet export (Times → Export, CSV or Excel):
//!
//! `Date,Begin,End,Duration,…,Customer,Project,Activity,Description,Billable,…,Tags,…`
//!
//! (older versions name the times `From` and `To`). Kimai writes wall times in the user's
//! time zone: the date of the start, begin and end as `HH:MM`, so an end before the begin is
//! past midnight; the duration as `h:mm` (used when the end is empty). In XLSX files the
//! cells are real dates and times. The activity becomes a tag, the customer the project's
//! client; rates, user and the other columns are not imported.

use super::SplitLayout;

/// Kimai's columns.
pub(crate) const LAYOUT: SplitLayout = SplitLayout {
    start_date: &["Date"],
    start_time: &["Begin", "From", "Start"],
    end_date: &[],
    end_time: &["End", "To"],
    duration: &["Duration"],
    project: &["Project"],
    client: &["Customer"],
    description: &["Description"],
    tags: &["Tags"],
    billable: &["Billable"],
    tag_column: &["Activity"],
};
