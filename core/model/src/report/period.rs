//! Report periods: inclusive ranges of local calendar dates.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Inclusive range of local dates a report covers; local because tax
/// periods follow the calendar the person lives in, not UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
}

/// Why a period could not be made or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// Nothing was given.
    #[error("empty period (expected YYYY, YYYY-MM or YYYY-MM-DD..YYYY-MM-DD)")]
    Empty,
    /// The text matches none of the accepted shapes.
    #[error("bad period `{0}` (expected YYYY, YYYY-MM or YYYY-MM-DD..YYYY-MM-DD)")]
    Format(String),
    /// Month outside 1..=12.
    #[error("bad month {0} (expected 1..=12)")]
    Month(u32),
    /// Year outside what dates can represent.
    #[error("year {0} is out of range")]
    Year(i32),
    /// A date that does not exist, e.g. `2026-02-30`.
    #[error("bad date `{0}` (expected an existing YYYY-MM-DD)")]
    Date(String),
    /// The end lies before the start.
    #[error("period ends ({to}) before it starts ({from})")]
    Reversed {
        /// Given start.
        from: NaiveDate,
        /// Given end.
        to: NaiveDate,
    },
}

impl Period {
    /// A period from `from` to `to`, both inclusive; refuses reversed ranges
    /// so an empty report is never silently produced.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, PeriodError> {
        if to < from {
            return Err(PeriodError::Reversed { from, to });
        }
        Ok(Self { from, to })
    }

    /// One calendar month.
    pub fn month(year: i32, month: u32) -> Result<Self, PeriodError> {
        if !(1..=12).contains(&month) {
            return Err(PeriodError::Month(month));
        }
        let from = NaiveDate::from_ymd_opt(year, month, 1).ok_or(PeriodError::Year(year))?;
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        };
        let to = next
            .and_then(|n| n.pred_opt())
            .ok_or(PeriodError::Year(year))?;
        Ok(Self { from, to })
    }

    /// One calendar year.
    pub fn year(year: i32) -> Result<Self, PeriodError> {
        let from = NaiveDate::from_ymd_opt(year, 1, 1).ok_or(PeriodError::Year(year))?;
        let to = NaiveDate::from_ymd_opt(year, 12, 31).ok_or(PeriodError::Year(year))?;
        Ok(Self { from, to })
    }

    /// Whether `day` lies in the period.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }

    /// The months (`YYYY-MM`) the period touches, in order.
    pub fn months(&self) -> Vec<String> {
        let mut months = Vec::new();
        let mut day = self.from.with_day(1).unwrap_or(self.from);
        while day <= self.to {
            months.push(day.format("%Y-%m").to_string());
            match day.checked_add_months(chrono::Months::new(1)) {
                Some(next) => day = next,
                None => break,
            }
        }
        months
    }

    /// 1 January of the period's last year to the period's end: the span
    /// yearly limits (500 km, 1 225 h) are measured over.
    pub fn year_to_date(&self) -> Self {
        let from = NaiveDate::from_ymd_opt(self.to.year(), 1, 1).unwrap_or(self.from);
        Self {
            from: from.min(self.to),
            to: self.to,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.from, self.to)
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    /// Parses `2026`, `2026-03` or `2026-03-01..2026-03-31`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(PeriodError::Empty);
        }
        let bad = || PeriodError::Format(s.chars().take(64).collect());
        if let Some((from, to)) = s.split_once("..") {
            return Self::new(parse_date(from.trim())?, parse_date(to.trim())?);
        }
        let parts: Vec<&str> = s.split('-').collect();
        match parts.as_slice() {
            [y] if y.len() == 4 => Self::year(parse_number(y).ok_or_else(bad)?),
            [y, m] if y.len() == 4 && (1..=2).contains(&m.len()) => {
                let year = parse_number(y).ok_or_else(bad)?;
                let month = parse_number(m).ok_or_else(bad)?;
                Self::month(year, u32::try_from(month).map_err(|_| bad())?)
            }
            _ => Err(bad()),
        }
    }
}

fn parse_number(s: &str) -> Option<i32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_date(s: &str) -> Result<NaiveDate, PeriodError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| PeriodError::Date(s.chars().take(64).collect()))
}
