//! Reading one cell: dates, times of day, durations, yes/no and tag lists in the forms the
//! exporters write them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// How a file writes `a/b/yyyy` dates: Clockify follows the account's setting, US
/// month-first by default. One file uses one order, so it is decided once per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum SlashOrder {
    /// `MM/DD/YYYY`.
    #[default]
    MonthFirst,
    /// `DD/MM/YYYY`.
    DayFirst,
}

impl SlashOrder {
    /// Day-first when any slash date in `cells` only makes sense that way (a first part above
    /// 12), else month-first.
    pub(crate) fn of<'a>(cells: impl IntoIterator<Item = &'a str>) -> Self {
        let day_first = cells.into_iter().any(|c| {
            let mut parts = c.trim().split('/');
            let first = parts.next().and_then(|p| p.trim().parse::<u32>().ok());
            let second = parts.next().and_then(|p| p.trim().parse::<u32>().ok());
            matches!((first, second), (Some(a), Some(b)) if a > 12 && b <= 12)
        });
        if day_first {
            Self::DayFirst
        } else {
            Self::MonthFirst
        }
    }
}

/// A calendar date: `YYYY-MM-DD`, `YYYY/MM/DD`, `DD.MM.YYYY`, `DD-MM-YYYY` or a slash date in
/// the file's [`SlashOrder`].
pub(crate) fn date(text: &str, order: SlashOrder) -> Option<NaiveDate> {
    let text = text.trim();
    let slash = match order {
        SlashOrder::MonthFirst => "%m/%d/%Y",
        SlashOrder::DayFirst => "%d/%m/%Y",
    };
    ["%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%d-%m-%Y", slash]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
}

/// A time of day: `HH:MM`, `HH:MM:SS` (24-hour) or `h:MM[:SS] AM/PM` (Clockify's 12-hour
/// setting).
pub(crate) fn time(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    let upper = text.to_ascii_uppercase();
    if upper.ends_with("AM") || upper.ends_with("PM") {
        return ["%I:%M:%S %p", "%I:%M %p", "%I:%M:%S%p", "%I:%M%p"]
            .iter()
            .find_map(|f| NaiveTime::parse_from_str(&upper, f).ok());
    }
    ["%H:%M:%S", "%H:%M", "%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(text, f).ok())
}

/// A wall-clock date and time in one cell: `YYYY-MM-DD HH:MM[:SS]` or with a `T`.
pub(crate) fn wall_datetime(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

/// An instant: RFC 3339 (its offset says the zone), or a wall time read in `zone`.
pub(crate) fn instant(text: &str, zone: Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let wall = wall_datetime(text).ok_or_else(|| {
        format!(
            "{} is not a time: expected RFC 3339 (2024-03-05T09:00:00+01:00) or YYYY-MM-DD HH:MM[:SS]",
            quoted(text)
        )
    })?;
    in_zone(wall, zone)
}

/// The instant a wall time names in `zone`. In the hour a DST change repeats, the earlier
/// of the two; a time the change skips does not exist and is refused.
pub(crate) fn in_zone(wall: NaiveDateTime, zone: Tz) -> Result<DateTime<Utc>, String> {
    wall.and_local_timezone(zone)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            format!(
                "{wall} does not exist in {zone} (the clocks skip it at the daylight-saving change)"
            )
        })
}

/// A duration: `h:mm:ss` or `h:mm` (Kimai), hours of any length.
pub(crate) fn duration(text: &str) -> Option<TimeDelta> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let hours: i64 = parts[0].parse().ok()?;
    let minutes: i64 = parts[1].parse().ok()?;
    let seconds: i64 = match parts.get(2) {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    if minutes > 59 || seconds > 59 {
        return None;
    }
    TimeDelta::try_seconds(hours.checked_mul(3600)? + minutes * 60 + seconds)
}

/// Yes/no in the spellings exporters and people use; empty is "not said".
pub(crate) fn yes_no(text: &str) -> Result<Option<bool>, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "yes" | "y" | "true" | "1" | "x" | "ja" => Ok(Some(true)),
        "no" | "n" | "false" | "0" | "nein" => Ok(Some(false)),
        _ => Err(format!(
            "{} is not yes or no (expected yes/no, true/false or 1/0)",
            quoted(text)
        )),
    }
}

/// Tags separated by commas, trimmed, empties dropped, sorted and unique like every other
/// tag list in Tacho.
pub(crate) fn tags(text: &str) -> Vec<String> {
    let mut tags: Vec<String> = text
        .split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

/// A cell's text quoted for a message, shortened.
pub(crate) fn quoted(text: &str) -> String {
    crate::import::snippet(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_every_export_form() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 5);
        let m = SlashOrder::MonthFirst;
        assert_eq!(date("2024-03-05", m), d);
        assert_eq!(date("05.03.2024", m), d);
        assert_eq!(date("03/05/2024", m), d);
        assert_eq!(date("05/03/2024", SlashOrder::DayFirst), d);
        assert_eq!(date("2024-13-05", m), None);
        assert_eq!(SlashOrder::of(["03/05/2024", "12/01/2024"]), m);
        assert_eq!(
            SlashOrder::of(["03/05/2024", "25/01/2024"]),
            SlashOrder::DayFirst
        );
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(time("09:05"), NaiveTime::from_hms_opt(9, 5, 0));
        assert_eq!(time("14:30:15"), NaiveTime::from_hms_opt(14, 30, 15));
        assert_eq!(time("02:00 PM"), NaiveTime::from_hms_opt(14, 0, 0));
        assert_eq!(time("12:10:00 am"), NaiveTime::from_hms_opt(0, 10, 0));
        assert_eq!(time("25:00"), None);
        assert_eq!(duration("01:30:00"), TimeDelta::try_minutes(90));
        assert_eq!(duration("1:30"), TimeDelta::try_minutes(90));
        assert_eq!(duration("27:00:01"), TimeDelta::try_seconds(27 * 3600 + 1));
        assert_eq!(duration("1:60"), None);
        assert_eq!(duration("1.5"), None);
        assert_eq!(duration(""), None);
    }

    #[test]
    fn yes_no_and_tags() {
        assert_eq!(yes_no("Yes"), Ok(Some(true)));
        assert_eq!(yes_no(" FALSE "), Ok(Some(false)));
        assert_eq!(yes_no(""), Ok(None));
        assert!(yes_no("maybe").is_err());
        assert_eq!(tags("b, a,, b "), ["a", "b"]);
    }

    #[test]
    fn wall_times_read_in_the_zone() {
        let zone: Tz = "Europe/Amsterdam".parse().unwrap();
        let t = instant("2024-07-01 09:00", zone).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-07-01T07:00:00+00:00");
        let t = instant("2024-07-01T09:00:00-04:00", zone).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-07-01T13:00:00+00:00");
        // 02:30 on 31 March 2024 is skipped in Amsterdam.
        let e = instant("2024-03-31 02:30", zone).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        assert!(instant("soon", zone).is_err());
    }
}
