//! Local wall-clock time for report dates and period locks.
//!
//! Tax logs are kept by *local* date: a drive at 23:30 UTC on 31 March in
//! Amsterdam happened on 1 April. Zones come from the IANA database compiled
//! into `chrono-tz`, so every zone a phone reports works, DST included.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

/// Whether `name` is an IANA zone this build knows.
pub fn is_known(name: &str) -> bool {
    name.trim().parse::<Tz>().is_ok()
}

/// Local wall-clock time of `at` in the IANA zone `time_zone`, and whether
/// the zone was known; unknown zones fall back to UTC so a report is still
/// produced, and the flag lets it say so.
pub fn local_datetime(at: DateTime<Utc>, time_zone: &str) -> (NaiveDateTime, bool) {
    match time_zone.trim().parse::<Tz>() {
        Ok(tz) => (at.with_timezone(&tz).naive_local(), true),
        Err(_) => (at.naive_utc(), false),
    }
}

/// The local month (`YYYY-MM`) of `at` in `time_zone` (UTC if unknown).
pub fn local_month(at: DateTime<Utc>, time_zone: &str) -> String {
    local_datetime(at, time_zone).0.format("%Y-%m").to_string()
}

/// The instant the local day of `at` began in `time_zone` (UTC if unknown): "today" for a
/// person's hours is their calendar day, not UTC's. Where DST skips midnight, the day starts at
/// the first local time that exists.
pub fn local_day_start(at: DateTime<Utc>, time_zone: &str) -> DateTime<Utc> {
    let Ok(tz) = time_zone.trim().parse::<Tz>() else {
        return at
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map_or(at, |midnight| midnight.and_utc());
    };
    let day = at.with_timezone(&tz).date_naive();
    (0..=3)
        .filter_map(|hour| day.and_hms_opt(hour, 0, 0))
        .find_map(|local| local.and_local_timezone(tz).earliest())
        .map_or(at, |start| start.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_local_day_starts_at_local_midnight() {
        // 23:30 UTC on 9 March is 00:30 on 10 March in Amsterdam (UTC+1).
        let at = Utc.with_ymd_and_hms(2026, 3, 9, 23, 30, 0).unwrap();
        assert_eq!(
            local_day_start(at, "Europe/Amsterdam"),
            Utc.with_ymd_and_hms(2026, 3, 9, 23, 0, 0).unwrap()
        );
        assert_eq!(
            local_day_start(at, "UTC"),
            Utc.with_ymd_and_hms(2026, 3, 9, 0, 0, 0).unwrap()
        );
        assert_eq!(
            local_day_start(at, "Not/AZone"),
            Utc.with_ymd_and_hms(2026, 3, 9, 0, 0, 0).unwrap()
        );
        // Santiago skips 00:00–01:00 local on 6 Sep 2026 (DST starts at midnight).
        let at = Utc.with_ymd_and_hms(2026, 9, 6, 12, 0, 0).unwrap();
        assert_eq!(
            local_day_start(at, "America/Santiago"),
            Utc.with_ymd_and_hms(2026, 9, 6, 4, 0, 0).unwrap()
        );
    }

    #[test]
    fn amsterdam_switches_to_summer_time_on_the_last_sunday_of_march() {
        let before = Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap();
        let (b, known) = local_datetime(before, "Europe/Amsterdam");
        assert!(known);
        assert_eq!(b.format("%H:%M").to_string(), "01:59");
        assert_eq!(
            local_datetime(after, "Europe/Amsterdam")
                .0
                .format("%H:%M")
                .to_string(),
            "03:00"
        );
    }

    #[test]
    fn zones_outside_europe_and_unknown_names() {
        let at = Utc.with_ymd_and_hms(2026, 7, 1, 3, 0, 0).unwrap();
        assert_eq!(
            local_datetime(at, "America/New_York")
                .0
                .format("%d %H")
                .to_string(),
            "30 23"
        );
        let (t, known) = local_datetime(at, "Mars/Olympus_Mons");
        assert!(!known);
        assert_eq!(t, at.naive_utc());
        assert_eq!(
            local_month(
                Utc.with_ymd_and_hms(2026, 3, 31, 22, 30, 0).unwrap(),
                "Europe/Amsterdam"
            ),
            "2026-04"
        );
    }
}
