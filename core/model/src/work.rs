//! Work time: projects, time entries and rounding.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{DeviceId, EntryId, ProjectId, TripId};

/// How a project's entries are rounded in views and reports; stored times
/// are never rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "mode", content = "minutes", rename_all = "snake_case")]
pub enum Rounding {
    /// Exact durations.
    None,
    /// Up to the next multiple of N minutes.
    Up(u32),
    /// Down to the previous multiple of N minutes.
    Down(u32),
    /// To the nearest multiple of N minutes (halves round up).
    Nearest(u32),
}

impl Rounding {
    /// Rounds a duration according to the rule.
    pub fn apply(self, d: Duration) -> Duration {
        let step = match self {
            Self::None => return d,
            Self::Up(m) | Self::Down(m) | Self::Nearest(m) => i64::from(m.max(1)) * 60,
        };
        let secs = d.num_seconds().max(0);
        let rounded = match self {
            Self::None => secs,
            Self::Up(_) => (secs + step - 1) / step * step,
            Self::Down(_) => secs / step * step,
            Self::Nearest(_) => (secs + step / 2) / step * step,
        };
        Duration::seconds(rounded)
    }
}

impl std::fmt::Display for Rounding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => write!(f, "none"),
            Self::Up(m) => write!(f, "up:{m}"),
            Self::Down(m) => write!(f, "down:{m}"),
            Self::Nearest(m) => write!(f, "nearest:{m}"),
        }
    }
}

impl std::str::FromStr for Rounding {
    type Err = String;
    /// Parses `none`, `up:15`, `down:6`, `nearest:15`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        if s == "none" {
            return Ok(Self::None);
        }
        let (mode, minutes) = s.split_once(':').ok_or_else(|| {
            format!("bad rounding `{s}` (expected none, up:N, down:N or nearest:N)")
        })?;
        let minutes: u32 = minutes
            .parse()
            .ok()
            .filter(|m| (1..=1440).contains(m))
            .ok_or_else(|| format!("bad rounding minutes `{minutes}` (expected 1..=1440)"))?;
        match mode {
            "up" => Ok(Self::Up(minutes)),
            "down" => Ok(Self::Down(minutes)),
            "nearest" => Ok(Self::Nearest(minutes)),
            _ => Err(format!(
                "bad rounding mode `{mode}` (expected up, down or nearest)"
            )),
        }
    }
}

/// Something time is booked on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// Identity.
    pub id: ProjectId,
    /// Display name.
    pub name: String,
    /// Client billed.
    pub client: Option<String>,
    /// Whether entries are billable by default.
    pub billable: bool,
    /// Rounding applied in views and reports.
    pub rounding: Rounding,
    /// Archived: kept for its entries and reports, hidden from default lists, and no new
    /// time can be booked on it. Absent in ops of older builds (= not archived).
    #[serde(default)]
    pub archived: bool,
}

/// How a time entry came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntrySource {
    /// Started and stopped with the timer.
    Timer,
    /// Typed in afterwards.
    Manual,
    /// Travel time taken from a trip.
    Trip,
    /// Pulled from a connected timesheet service; its link (`crate::connector::ConnectorLink`)
    /// names the service and the remote id.
    Connector,
}

/// A span of worked time. At most one entry is running (no stop) at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeEntry {
    /// Identity.
    pub id: EntryId,
    /// Project booked on.
    pub project_id: Option<ProjectId>,
    /// What was done.
    pub description: String,
    /// Start instant, never rounded.
    pub start: DateTime<Utc>,
    /// Stop instant; `None` while the timer runs.
    pub stop: Option<DateTime<Utc>>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Billable flag.
    pub billable: bool,
    /// Origin.
    pub source: EntrySource,
    /// The trip this entry records travel time for.
    pub trip_id: Option<TripId>,
}

/// The fields of a time entry a person may edit; each edit is kept in the entry's history
/// (`EntityKind::TimeEntryEdit`), like [`crate::trip::TripField`] for trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryField {
    /// [`TimeEntry::project_id`] (history values are project names).
    Project,
    /// [`TimeEntry::description`].
    Description,
    /// [`TimeEntry::start`] (RFC 3339).
    Start,
    /// [`TimeEntry::stop`] (RFC 3339).
    Stop,
    /// [`TimeEntry::tags`] (joined with `, `).
    Tags,
    /// [`TimeEntry::billable`] (`yes` / `no`).
    Billable,
    /// [`TimeEntry::trip_id`].
    Trip,
    /// Deleted (`yes`) or restored (`no`): a delete and a restore are history too.
    Deleted,
}

impl EntryField {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::Description => "description",
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Tags => "tags",
            Self::Billable => "billable",
            Self::Trip => "trip",
            Self::Deleted => "deleted",
        }
    }
}

/// One change to a time entry, kept forever: who (device), when, which field, the value
/// before and after, as people read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeEntryEdit {
    /// The entry changed.
    pub entry_id: EntryId,
    /// Which field.
    pub field: EntryField,
    /// Value before, as shown to people (`None` = empty).
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
    /// When the edit was made.
    pub at: DateTime<Utc>,
    /// Device that made it.
    pub device: DeviceId,
    /// The locked month this edit changed although it reached the log after the lock
    /// (see `crate::lock`); decided by each replica, never taken from an op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_after_lock: Option<String>,
}

impl TimeEntry {
    /// Raw duration up to `now` for a running entry.
    pub fn duration(&self, now: DateTime<Utc>) -> Duration {
        self.stop.unwrap_or(now) - self.start
    }
}

/// Ids of entries overlapping another entry, for flagging (overlaps are allowed).
pub fn overlapping(entries: &[TimeEntry], now: DateTime<Utc>) -> Vec<EntryId> {
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>, EntryId)> = entries
        .iter()
        .map(|e| (e.start, e.stop.unwrap_or(now), e.id))
        .collect();
    spans.sort_by_key(|s| (s.0, s.1));
    let mut flagged = std::collections::BTreeSet::new();
    let mut reach: Option<(DateTime<Utc>, EntryId)> = None;
    for (start, stop, id) in spans {
        if let Some((end, owner)) = reach {
            if start < end {
                flagged.insert(owner);
                flagged.insert(id);
            }
            if stop > end {
                reach = Some((stop, id));
            }
        } else {
            reach = Some((stop, id));
        }
    }
    flagged.into_iter().collect()
}

/// The running-timer rule: at most one timer runs per space. Given the entries that run (no
/// stop), each but the latest stops where the next one starts, ordered by (start, id), as if all
/// starts had happened on one device. Returns the (entry, stop) pairs to write; the latest entry
/// keeps running. Every replica derives the same pairs from the same merged entries, and the
/// store writes them as ordinary `stop` ops, so the relay and connectors see real stops.
pub fn running_timer_stops<Id: Ord + Copy>(
    running: &[(DateTime<Utc>, Id)],
) -> Vec<(Id, DateTime<Utc>)> {
    let mut sorted = running.to_vec();
    sorted.sort();
    sorted
        .windows(2)
        .filter_map(|pair| match pair {
            [(start, id), (next_start, _)] => Some((*id, (*next_start).max(*start))),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn rounding_rules() {
        let d = Duration::minutes(61);
        assert_eq!(Rounding::Up(15).apply(d), Duration::minutes(75));
        assert_eq!(Rounding::Down(15).apply(d), Duration::minutes(60));
        assert_eq!(Rounding::Nearest(15).apply(d), Duration::minutes(60));
        assert_eq!(
            Rounding::Nearest(15).apply(Duration::minutes(68)),
            Duration::minutes(75)
        );
        assert_eq!(Rounding::None.apply(d), d);
        assert_eq!("up:15".parse::<Rounding>().unwrap(), Rounding::Up(15));
        assert!("up:0".parse::<Rounding>().is_err());
        assert!("sideways:5".parse::<Rounding>().is_err());
    }

    #[test]
    fn overlaps_are_flagged_not_refused() {
        let t = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap();
        let entry = |start, stop| TimeEntry {
            id: EntryId::new(),
            project_id: None,
            description: String::new(),
            start,
            stop: Some(stop),
            tags: vec![],
            billable: false,
            source: EntrySource::Manual,
            trip_id: None,
        };
        let a = entry(t(9, 0), t(10, 0));
        let b = entry(t(9, 30), t(11, 0));
        let c = entry(t(11, 0), t(12, 0));
        let flagged = overlapping(&[a.clone(), b.clone(), c.clone()], t(13, 0));
        assert!(flagged.contains(&a.id) && flagged.contains(&b.id));
        assert!(!flagged.contains(&c.id), "touching is not overlapping");
    }

    #[test]
    fn all_running_timers_but_the_latest_stop_where_the_next_starts() {
        let t = |m: i64| DateTime::from_timestamp(1_767_225_600 + m * 60, 0).unwrap();
        // Given out of order, as devices would report them.
        let running = [(t(30), 3u8), (t(0), 1), (t(10), 2), (t(10), 0)];
        assert_eq!(
            running_timer_stops(&running),
            vec![(1, t(10)), (0, t(10)), (2, t(30))]
        );
        assert!(running_timer_stops(&[(t(0), 1u8)]).is_empty());
        assert!(running_timer_stops::<u8>(&[]).is_empty());
    }
}
