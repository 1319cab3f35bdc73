//! Parsing instants as people type them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::args::InputError;

/// Accepts RFC 3339 (`2026-03-10T09:00:00+01:00`), `YYYY-MM-DD HH:MM[:SS]`
/// and `YYYY-MM-DDTHH:MM[:SS]` (taken as UTC), or `now`.
pub fn parse_instant(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, InputError> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t.and_utc());
        }
    }
    Err(InputError(format!(
        "`{s}` is not a time; use e.g. 2026-03-10T09:00:00Z or \"2026-03-10 09:00\" (UTC)"
    )))
}

/// `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, InputError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| InputError(format!("`{s}` is not a date; use YYYY-MM-DD")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_in_several_spellings() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let want = Utc.with_ymd_and_hms(2026, 3, 10, 8, 0, 0).unwrap();
        assert_eq!(
            parse_instant("2026-03-10T09:00:00+01:00", now).unwrap(),
            want
        );
        assert_eq!(parse_instant("2026-03-10 08:00", now).unwrap(), want);
        assert_eq!(parse_instant("now", now).unwrap(), now);
        assert!(parse_instant("yesterday-ish", now).is_err());
    }
}
