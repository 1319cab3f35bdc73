//! Period constructors and parsing.
#![allow(clippy::unwrap_used, clippy::panic)] // test helpers may panic: a failed fixture is a failed test

use chrono::NaiveDate;
use tacho_model::report::{Period, PeriodError};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[test]
fn months_years_and_ranges_parse_to_inclusive_local_dates() {
    assert_eq!(
        "2026-03".parse::<Period>().unwrap(),
        Period {
            from: d(2026, 3, 1),
            to: d(2026, 3, 31)
        }
    );
    assert_eq!(
        "2028-02".parse::<Period>().unwrap().to,
        d(2028, 2, 29),
        "leap year"
    );
    assert_eq!("2026-12".parse::<Period>().unwrap().to, d(2026, 12, 31));
    assert_eq!(
        " 2026 ".parse::<Period>().unwrap(),
        Period {
            from: d(2026, 1, 1),
            to: d(2026, 12, 31)
        }
    );
    assert_eq!(
        "2026-03-10..2026-04-02".parse::<Period>().unwrap(),
        Period {
            from: d(2026, 3, 10),
            to: d(2026, 4, 2)
        }
    );
    let p = Period::month(2026, 4).unwrap();
    assert_eq!(
        p.to_string().parse::<Period>().unwrap(),
        p,
        "Display round-trips"
    );
    assert!(p.contains(d(2026, 4, 30)) && !p.contains(d(2026, 5, 1)));
    assert_eq!(
        p.year_to_date(),
        Period {
            from: d(2026, 1, 1),
            to: d(2026, 4, 30)
        }
    );
}

#[test]
fn bad_periods_say_what_is_wrong() {
    assert_eq!("".parse::<Period>(), Err(PeriodError::Empty));
    assert_eq!("2026-13".parse::<Period>(), Err(PeriodError::Month(13)));
    assert_eq!(Period::month(2026, 0), Err(PeriodError::Month(0)));
    assert!(matches!(
        "march".parse::<Period>(),
        Err(PeriodError::Format(_))
    ));
    assert!(matches!(
        "26-03".parse::<Period>(),
        Err(PeriodError::Format(_))
    ));
    assert!(matches!(
        "2026-03-01".parse::<Period>(),
        Err(PeriodError::Format(_))
    ));
    assert!(
        matches!("2026-02-30..2026-03-01".parse::<Period>(), Err(PeriodError::Date(s)) if s == "2026-02-30")
    );
    assert_eq!(
        "2026-03-31..2026-03-01".parse::<Period>(),
        Err(PeriodError::Reversed {
            from: d(2026, 3, 31),
            to: d(2026, 3, 1)
        })
    );
    let msg = "2026-13".parse::<Period>().unwrap_err().to_string();
    assert!(msg.contains("13") && msg.contains("1..=12"), "{msg}");
    let msg = "march".parse::<Period>().unwrap_err().to_string();
    assert!(msg.contains("march") && msg.contains("YYYY-MM"), "{msg}");
}
