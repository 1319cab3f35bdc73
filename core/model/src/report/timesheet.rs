//! The timesheet: worked time per entry and per project, rounded per
//! project rule for display, and the year's hours against the Dutch hour
//! criterion.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::period::Period;
use super::tz::local_datetime;
use crate::id::{EntryId, ProjectId, TripId};
use crate::work::{Project, Rounding, TimeEntry, TimeEntryEdit, overlapping};

/// The Dutch entrepreneur hour criterion (*urencriterium*): 1 225 hours a year.
pub const HOUR_CRITERION_HOURS: i64 = 1_225;

/// Everything a timesheet is built from.
#[derive(Debug, Clone, Copy)]
pub struct TimesheetInput<'a> {
    /// Local dates covered.
    pub period: Period,
    /// IANA zone the local dates are taken in.
    pub time_zone: &'a str,
    /// Projects, for names, clients and rounding.
    pub projects: &'a [Project],
    /// Entries; may include the whole year for the year total.
    pub entries: &'a [TimeEntry],
    /// Running entries are counted up to here.
    pub now: DateTime<Utc>,
    /// Entries changed in a locked month by a change made before the lock
    /// that reached the log after it (`tacho_model::lock`).
    pub arrived_after_lock: &'a [EntryId],
    /// The edit histories of the entries (any order; each row gets its entry's, by time).
    pub edits: &'a [TimeEntryEdit],
}

/// A duration in whole seconds plus its hours shown with 2 decimals, so
/// sums stay exact and readers need not convert.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Hours {
    /// Whole seconds.
    pub seconds: i64,
    /// Hours, 2 decimals, rounded half up (e.g. "1.02").
    pub hours: String,
}

impl Hours {
    /// From whole seconds (negative counts as zero).
    pub fn from_seconds(seconds: i64) -> Self {
        let seconds = seconds.max(0);
        let hundredths = (i128::from(seconds) * 100 + 1_800) / 3_600;
        Self {
            seconds,
            hours: format!("{}.{:02}", hundredths / 100, hundredths % 100),
        }
    }
}

/// One time entry in the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeRow {
    /// Entry identity.
    pub entry_id: EntryId,
    /// Local date of the start.
    pub date: NaiveDate,
    /// Project, if any.
    pub project_id: Option<ProjectId>,
    /// Project name.
    pub project: Option<String>,
    /// Client of the project.
    pub client: Option<String>,
    /// What was done.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Local start.
    pub start_local: NaiveDateTime,
    /// Local stop; `now` for a running entry.
    pub stop_local: NaiveDateTime,
    /// The entry is still running; its duration is counted up to `now`.
    pub running: bool,
    /// Stored duration.
    pub raw: Hours,
    /// Duration after the project's rounding rule (stored times untouched).
    pub rounded: Hours,
    /// Rounding rule applied.
    pub rounding: Rounding,
    /// Billable flag.
    pub billable: bool,
    /// Overlaps another entry (allowed, but shown).
    pub overlaps: bool,
    /// Trip this entry records travel time for.
    pub trip_id: Option<TripId>,
    /// A change to this entry made before its month was locked reached the
    /// log after the lock (kept, and shown).
    pub arrived_after_lock: bool,
    /// Every edit of the entry, oldest first (empty when it was never edited): the
    /// "edited" marker and the history a reviewer asks for.
    #[serde(default)]
    pub history: Vec<TimeEntryEdit>,
}

/// Totals of one project in the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectTotal {
    /// Project, `None` for entries without one.
    pub project_id: Option<ProjectId>,
    /// Project name.
    pub project: Option<String>,
    /// Client.
    pub client: Option<String>,
    /// Number of entries.
    pub entries: usize,
    /// Stored durations summed.
    pub raw: Hours,
    /// Rounded durations summed (each entry rounded, then summed).
    pub rounded: Hours,
    /// Billable part, raw.
    pub billable_raw: Hours,
    /// Billable part, rounded.
    pub billable_rounded: Hours,
}

/// The year's hours against the 1 225-hour criterion; raw hours, since the
/// criterion counts time actually worked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourCriterion {
    /// 1 January to the period's end.
    pub span: Period,
    /// Hours worked in the span.
    pub worked: Hours,
    /// The criterion, 1 225 h.
    pub required_hours: i64,
    /// `worked >= required`.
    pub met: bool,
}

/// The timesheet over one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timesheet {
    /// Local dates covered.
    pub period: Period,
    /// Zone of the local dates.
    pub time_zone: String,
    /// `false` when the zone was unknown and UTC was used instead.
    pub time_zone_known: bool,
    /// Running entries were counted up to this instant.
    pub now: DateTime<Utc>,
    /// Entries in the period, by start.
    pub rows: Vec<TimeRow>,
    /// Per project, by name.
    pub projects: Vec<ProjectTotal>,
    /// All entries in the period, raw.
    pub total_raw: Hours,
    /// All entries in the period, rounded.
    pub total_rounded: Hours,
    /// Year to date against 1 225 hours.
    pub hour_criterion: HourCriterion,
}

/// Builds the timesheet. Entries belong to the period by the local date of
/// their start; negative durations (stop before start) count as zero.
pub fn timesheet(input: &TimesheetInput) -> Timesheet {
    let projects: HashMap<ProjectId, &Project> = input.projects.iter().map(|p| (p.id, p)).collect();
    let overlaps: HashSet<EntryId> = overlapping(input.entries, input.now).into_iter().collect();
    let ytd = input.period.year_to_date();
    let (_, zone_known) = local_datetime(input.now, input.time_zone);

    let mut entries: Vec<&TimeEntry> = input.entries.iter().collect();
    entries.sort_by_key(|e| (e.start, e.id));

    let mut rows = Vec::new();
    let mut year_s = 0_i64;
    for e in entries {
        let (start_local, _) = local_datetime(e.start, input.time_zone);
        let date = start_local.date();
        let raw = e.duration(input.now).num_seconds().max(0);
        if ytd.contains(date) {
            year_s += raw;
        }
        if !input.period.contains(date) {
            continue;
        }
        let project = e.project_id.and_then(|id| projects.get(&id).copied());
        let rounding = project.map_or(Rounding::None, |p| p.rounding);
        let rounded = rounding.apply(chrono::Duration::seconds(raw)).num_seconds();
        let (stop_local, _) = local_datetime(e.stop.unwrap_or(input.now), input.time_zone);
        rows.push(TimeRow {
            entry_id: e.id,
            date,
            project_id: e.project_id,
            project: project.map(|p| p.name.clone()),
            client: project.and_then(|p| p.client.clone()),
            description: e.description.clone(),
            tags: e.tags.clone(),
            start_local,
            stop_local,
            running: e.stop.is_none(),
            raw: Hours::from_seconds(raw),
            rounded: Hours::from_seconds(rounded),
            rounding,
            billable: e.billable,
            overlaps: overlaps.contains(&e.id),
            trip_id: e.trip_id,
            arrived_after_lock: input.arrived_after_lock.contains(&e.id),
            history: history_of(input.edits, e.id),
        });
    }

    // Group by (name, id) so the listing is alphabetical and stable.
    let mut groups: BTreeMap<(Option<String>, Option<ProjectId>), Vec<&TimeRow>> = BTreeMap::new();
    for r in &rows {
        groups
            .entry((r.project.clone(), r.project_id))
            .or_default()
            .push(r);
    }
    let sum = |rows: &[&TimeRow], f: &dyn Fn(&TimeRow) -> Option<i64>| -> i64 {
        rows.iter().filter_map(|r| f(r)).sum()
    };
    let project_totals: Vec<ProjectTotal> = groups
        .into_iter()
        .map(|((name, id), rs)| ProjectTotal {
            project_id: id,
            project: name,
            client: rs.first().and_then(|r| r.client.clone()),
            entries: rs.len(),
            raw: Hours::from_seconds(sum(&rs, &|r| Some(r.raw.seconds))),
            rounded: Hours::from_seconds(sum(&rs, &|r| Some(r.rounded.seconds))),
            billable_raw: Hours::from_seconds(sum(&rs, &|r| r.billable.then_some(r.raw.seconds))),
            billable_rounded: Hours::from_seconds(sum(&rs, &|r| {
                r.billable.then_some(r.rounded.seconds)
            })),
        })
        .collect();

    let total_raw = rows.iter().map(|r| r.raw.seconds).sum();
    let total_rounded = rows.iter().map(|r| r.rounded.seconds).sum();
    let required_s = HOUR_CRITERION_HOURS * 3_600;
    Timesheet {
        period: input.period,
        time_zone: input.time_zone.to_owned(),
        time_zone_known: zone_known,
        now: input.now,
        rows,
        projects: project_totals,
        total_raw: Hours::from_seconds(total_raw),
        total_rounded: Hours::from_seconds(total_rounded),
        hour_criterion: HourCriterion {
            span: ytd,
            worked: Hours::from_seconds(year_s),
            required_hours: HOUR_CRITERION_HOURS,
            met: year_s >= required_s,
        },
    }
}

/// One entry's edits in the order every replica shows them (time, device, field name), the
/// order of `Store::entry_edits`.
fn history_of(edits: &[TimeEntryEdit], id: EntryId) -> Vec<TimeEntryEdit> {
    let mut own: Vec<TimeEntryEdit> = edits.iter().filter(|e| e.entry_id == id).cloned().collect();
    own.sort_by(|a, b| {
        (a.at, a.device, a.field.as_str(), &a.new_value).cmp(&(
            b.at,
            b.device,
            b.field.as_str(),
            &b.new_value,
        ))
    });
    own
}
