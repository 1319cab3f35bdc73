//! Local wall-clock time for report dates, without a time-zone database.
//!
//! Tax logs are kept by *local* date: a drive at 23:30 UTC on 31 March in
//! Amsterdam happened on 1 April. The workspace has no tz database crate
//! available (offline builds), so this module carries the one rule that
//! matters for Tacho's users: the EU summer-time rule, in force unchanged
//! since 1996 (last Sunday of March 01:00 UTC to last Sunday of October
//! 01:00 UTC), for the European zones on WET, CET and EET. `UTC`-like names
//! and fixed offsets (`+01:00`) are understood too. Any other name is
//! reported as unknown and the caller falls back to UTC, visibly.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc, Weekday};

/// A time zone this module can convert to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// A constant offset from UTC, in seconds east.
    Fixed(i32),
    /// An EU member-state style zone: a standard offset (seconds east) plus
    /// one hour between the EU switch dates.
    EuSummerTime(i32),
}

const HOUR: i32 = 3600;

/// IANA names on Western European Time (standard UTC+0, EU summer time).
const WET: &[&str] = &[
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Guernsey",
    "Europe/Isle_of_Man",
    "Europe/Jersey",
    "Atlantic/Canary",
    "Atlantic/Faroe",
    "Atlantic/Madeira",
    "WET",
];

/// IANA names on Central European Time (standard UTC+1, EU summer time).
const CET: &[&str] = &[
    "Europe/Amsterdam",
    "Europe/Andorra",
    "Europe/Belgrade",
    "Europe/Berlin",
    "Europe/Bratislava",
    "Europe/Brussels",
    "Europe/Budapest",
    "Europe/Busingen",
    "Europe/Copenhagen",
    "Europe/Gibraltar",
    "Europe/Ljubljana",
    "Europe/Luxembourg",
    "Europe/Madrid",
    "Europe/Malta",
    "Europe/Monaco",
    "Europe/Oslo",
    "Europe/Paris",
    "Europe/Podgorica",
    "Europe/Prague",
    "Europe/Rome",
    "Europe/San_Marino",
    "Europe/Sarajevo",
    "Europe/Skopje",
    "Europe/Stockholm",
    "Europe/Tirane",
    "Europe/Vaduz",
    "Europe/Vatican",
    "Europe/Vienna",
    "Europe/Warsaw",
    "Europe/Zagreb",
    "Europe/Zurich",
    "Arctic/Longyearbyen",
    "CET",
    "MET",
];

/// IANA names on Eastern European Time (standard UTC+2, EU summer time).
const EET: &[&str] = &[
    "Europe/Athens",
    "Europe/Bucharest",
    "Europe/Helsinki",
    "Europe/Kiev",
    "Europe/Kyiv",
    "Europe/Mariehamn",
    "Europe/Riga",
    "Europe/Sofia",
    "Europe/Tallinn",
    "Europe/Vilnius",
    "Asia/Nicosia",
    "Asia/Famagusta",
    "Europe/Nicosia",
    "EET",
];

/// Names that mean UTC.
const UTC_NAMES: &[&str] = &[
    "UTC",
    "Etc/UTC",
    "Etc/Universal",
    "Etc/Zulu",
    "Universal",
    "Zulu",
    "Z",
    "GMT",
    "Etc/GMT",
    "Etc/GMT0",
    "Etc/Greenwich",
];

impl Zone {
    /// Looks up an IANA name or a fixed offset (`+01:00`, `-0530`, `UTC+2`).
    /// `None` for names this module does not know.
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        if UTC_NAMES.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            return Some(Self::Fixed(0));
        }
        for (names, std_offset) in [(WET, 0), (CET, HOUR), (EET, 2 * HOUR)] {
            if names.contains(&name) {
                return Some(Self::EuSummerTime(std_offset));
            }
        }
        let offset = name
            .strip_prefix("UTC")
            .or_else(|| name.strip_prefix("GMT"))
            .unwrap_or(name);
        parse_offset(offset).map(Self::Fixed)
    }

    /// Offset east of UTC, in seconds, at `at`.
    pub fn offset_seconds(self, at: DateTime<Utc>) -> i32 {
        match self {
            Self::Fixed(offset) => offset,
            Self::EuSummerTime(std_offset) => {
                if eu_summer_time(at) {
                    std_offset + HOUR
                } else {
                    std_offset
                }
            }
        }
    }

    /// Wall-clock time in this zone at `at`.
    pub fn local(self, at: DateTime<Utc>) -> NaiveDateTime {
        at.naive_utc() + Duration::seconds(i64::from(self.offset_seconds(at)))
    }
}

/// Local wall-clock time of `at` in the IANA zone `time_zone`, and whether
/// the zone was known; unknown zones fall back to UTC so a report is still
/// produced, and the flag lets it say so.
pub fn local_datetime(at: DateTime<Utc>, time_zone: &str) -> (NaiveDateTime, bool) {
    match Zone::from_name(time_zone) {
        Some(zone) => (zone.local(at), true),
        None => (at.naive_utc(), false),
    }
}

/// `+HH:MM`, `+HHMM`, `+HH` (or `-`), within ±18 h.
fn parse_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if h > 18 || m > 59 {
        return None;
    }
    Some(sign * (h * HOUR + m * 60))
}

/// Whether EU summer time is in force at `at`.
fn eu_summer_time(at: DateTime<Utc>) -> bool {
    let year = at.year();
    let (Some(start), Some(end)) = (last_sunday(year, 3), last_sunday(year, 10)) else {
        return false;
    };
    let (Some(start), Some(end)) = (start.and_hms_opt(1, 0, 0), end.and_hms_opt(1, 0, 0)) else {
        return false;
    };
    let t = at.naive_utc();
    t >= start && t < end
}

/// The last Sunday of `month` (March or October here).
fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let last = NaiveDate::from_ymd_opt(year, month, 31)?;
    let back = last.weekday().num_days_from_sunday();
    let day = last - Duration::days(i64::from(back));
    debug_assert_eq!(day.weekday(), Weekday::Sun);
    Some(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn amsterdam_switches_on_the_eu_dates() {
        let ams = Zone::from_name("Europe/Amsterdam").unwrap();
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(ams.offset_seconds(utc(2026, 3, 29, 0, 59)), 3600);
        assert_eq!(ams.offset_seconds(utc(2026, 3, 29, 1, 0)), 7200);
        assert_eq!(ams.offset_seconds(utc(2026, 10, 25, 0, 59)), 7200);
        assert_eq!(ams.offset_seconds(utc(2026, 10, 25, 1, 0)), 3600);
        assert_eq!(
            ams.local(utc(2026, 3, 31, 23, 30)).to_string(),
            "2026-04-01 01:30:00"
        );
    }

    #[test]
    fn london_and_helsinki_and_fixed_offsets() {
        let t = utc(2026, 7, 1, 12, 0);
        assert_eq!(
            Zone::from_name("Europe/London").unwrap().offset_seconds(t),
            3600
        );
        assert_eq!(
            Zone::from_name("Europe/Helsinki")
                .unwrap()
                .offset_seconds(t),
            3 * 3600
        );
        assert_eq!(Zone::from_name("+05:30"), Some(Zone::Fixed(19800)));
        assert_eq!(Zone::from_name("UTC-3"), Some(Zone::Fixed(-10800)));
        assert_eq!(Zone::from_name("Etc/UTC"), Some(Zone::Fixed(0)));
        assert_eq!(Zone::from_name("America/New_York"), None);
        assert_eq!(Zone::from_name("+25:00"), None);
    }

    #[test]
    fn unknown_zones_fall_back_to_utc_visibly() {
        let t = utc(2026, 7, 1, 23, 0);
        assert_eq!(local_datetime(t, "Mars/Olympus"), (t.naive_utc(), false));
        let (local, known) = local_datetime(t, "Europe/Berlin");
        assert!(known);
        assert_eq!(local.date(), NaiveDate::from_ymd_opt(2026, 7, 2).unwrap());
    }
}
