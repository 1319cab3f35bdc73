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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
