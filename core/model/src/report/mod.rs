//! Report maths: the odometer chain, the mileage log with its tax totals,
//! and the timesheet with rounding and the hour criterion.
//!
//! Everything here is pure: callers pass the entities and `now`; the
//! writers in `tacho-core` turn the results into CSV, XLSX and JSON.
//! Distances are whole metres (`i64`) and durations whole seconds, so sums
//! are exact; formatting to km / hours happens at the edge.

mod chain;
mod mileage;
mod period;
mod timesheet;
pub mod tz;

pub use chain::{
    ChainOptions, ChainRow, DEFAULT_GAP_TOLERANCE_M, DEFAULT_GPS_SLACK_PER_MILLE, Gap,
    OdometerBasis, OdometerChain, OdometerValue, TripOdometer, odometer_chain,
};
pub use mileage::{
    CarInfo, EditRow, GapRow, LogRow, MileageInput, MileageLog, MileageTotals, PRIVATE_LIMIT_M,
    PrivateLimit, ReportPurpose, TripRow, VatPrivateUse, mileage_log, mileage_log_with,
};
pub use period::{Period, PeriodError};
pub use timesheet::{
    HOUR_CRITERION_HOURS, HourCriterion, Hours, ProjectTotal, TimeRow, Timesheet, TimesheetInput,
    timesheet,
};

/// Metres as kilometres with one decimal, rounded half away from zero, in
/// integer arithmetic so "12.0" never prints as "11.9".
pub fn format_km(m: i64) -> String {
    let tenths = (i128::from(m).abs() + 50) / 100;
    let sign = if m < 0 && tenths != 0 { "-" } else { "" };
    format!("{sign}{}.{}", tenths / 10, tenths % 10)
}

/// Metres as kilometres for spreadsheet cells, which need a number; the
/// value is exact to the metre well past any odometer's range.
pub fn km(m: i64) -> f64 {
    // Exact for |m| < 2^53.
    m as f64 / 1000.0
}
