//! The report calls on [`Core`]: gather the rows, run the pure report maths,
//! render the chosen format.

use tacho_model::report::{MileageInput, Period, TimesheetInput, mileage_log, timesheet};
use tacho_model::trip::TripState;
use tacho_store::TripFilter;

use crate::report::{ReportFormat, render_mileage, render_timesheet};
use crate::{Core, CoreError, Result};

fn parse_period(period: &str) -> Result<Period> {
    period
        .parse::<Period>()
        .map_err(|e| CoreError::bad_input(e.to_string()))
}

/// A day of margin around a local-date period so trips near midnight in any
/// zone are loaded; the report maths then filters by local date.
fn utc_bounds(
    period: &Period,
    from_year_start: bool,
) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let from = if from_year_start {
        period.year_to_date().from
    } else {
        period.from
    };
    let start = from
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc() - chrono::Duration::days(1))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    let end = period
        .to
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc() + chrono::Duration::days(2))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
    (start, end)
}

impl Core {
    /// The mileage log of one car (id, name or plate) for a period (`2026-03`,
    /// `2026`, or `2026-03-01..2026-03-31`), rendered as CSV, XLSX or JSON.
    pub async fn mileage_report(
        &self,
        car: &str,
        period: &str,
        format: ReportFormat,
    ) -> Result<Vec<u8>> {
        let period = parse_period(period)?;
        let (car, trips, readings, edits, places, cars, locked) =
            self.with_store_long(|inner| {
                let car = inner.store.find_car(car)?;
                let (_, until) = utc_bounds(&period, false);
                // Every earlier trip of the car feeds the odometer chain and the
                // year-to-date private total.
                let trips: Vec<_> = inner
                    .store
                    .trips(&TripFilter {
                        until: Some(until),
                        car: Some(car.id),
                        ..Default::default()
                    })?
                    .into_iter()
                    .filter(|t| t.state == TripState::Ended)
                    .collect();
                let readings = inner.store.readings(car.id)?;
                let mut edits = Vec::new();
                for t in &trips {
                    edits.extend(inner.store.trip_edits(t.id)?);
                }
                let places = inner.store.places()?;
                let cars = inner.store.cars()?;
                let locked = inner.store.locked_periods()?;
                Ok((car, trips, readings, edits, places, cars, locked))
            })?;
        let log = mileage_log(&MileageInput {
            car: &car,
            period,
            trips: &trips,
            readings: &readings,
            edits: &edits,
            places: &places,
            cars: &cars,
            locked_months: &locked,
        });
        render_mileage(&log, format).map_err(|e| CoreError::Report {
            reason: e.to_string(),
        })
    }

    /// The timesheet for a period with raw and rounded hours per entry and
    /// project, and the year's total against the 1 225-hour criterion.
    pub async fn hours_report(&self, period: &str, format: ReportFormat) -> Result<Vec<u8>> {
        let period = parse_period(period)?;
        let now = self.now();
        let (entries, projects, time_zone, late, edits) = self.with_store_long(|inner| {
            let (from, until) = utc_bounds(&period, true);
            let entries = inner.store.entries(&crate::EntryFilter {
                from: Some(from),
                until: Some(until),
                project: None,
            })?;
            // Archived and deleted projects still name the entries booked on them.
            let projects = inner.store.projects_with(true, true)?;
            let time_zone = inner.config.time_zone.clone();
            let late = inner.store.entries_arrived_after_lock()?;
            let edits = inner.store.entry_edits_between(from, until)?;
            Ok((entries, projects, time_zone, late, edits))
        })?;
        let sheet = timesheet(&TimesheetInput {
            period,
            time_zone: &time_zone,
            projects: &projects,
            entries: &entries,
            now,
            arrived_after_lock: &late,
            edits: &edits,
        });
        render_timesheet(&sheet, format).map_err(|e| CoreError::Report {
            reason: e.to_string(),
        })
    }
}
