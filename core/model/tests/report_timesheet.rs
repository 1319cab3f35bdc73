//! Timesheet: rounding, running entries, overlaps, the 1 225-hour criterion.
#![allow(clippy::unwrap_used, clippy::panic)] // test helpers may panic: a failed fixture is a failed test

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use tacho_model::id::{EntryId, ProjectId, TripId};
use tacho_model::report::{Hours, Period, TimeRow, Timesheet, TimesheetInput, timesheet};
use tacho_model::work::{EntrySource, Project, Rounding, TimeEntry};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn project(name: &str, rounding: Rounding) -> Project {
    Project {
        id: ProjectId::new(),
        name: name.into(),
        client: Some(format!("{name} client")),
        billable: true,
        rounding,
        archived: false,
    }
}

fn entry(project: Option<&Project>, start: DateTime<Utc>, minutes: Option<i64>) -> TimeEntry {
    TimeEntry {
        id: EntryId::new(),
        project_id: project.map(|p| p.id),
        description: "work".into(),
        start,
        stop: minutes.map(|m| start + Duration::minutes(m)),
        tags: vec!["dev".into()],
        billable: true,
        source: EntrySource::Timer,
        trip_id: None,
    }
}

fn sheet(
    period: &str,
    projects: &[Project],
    entries: &[TimeEntry],
    now: DateTime<Utc>,
) -> Timesheet {
    timesheet(&TimesheetInput {
        period: period.parse().unwrap(),
        time_zone: "Europe/Amsterdam",
        projects,
        entries,
        now,
        arrived_after_lock: &[],
        edits: &[],
    })
}

fn row(s: &Timesheet, id: EntryId) -> &TimeRow {
    s.rows.iter().find(|r| r.entry_id == id).unwrap()
}

#[test]
fn rounding_shows_up_in_reports_but_raw_time_stays() {
    let quarter = project("Quarter", Rounding::Up(15));
    let exact = project("Exact", Rounding::None);
    let a = entry(Some(&quarter), utc(2026, 3, 2, 8, 0), Some(61));
    let b = entry(Some(&exact), utc(2026, 3, 3, 8, 0), Some(61));
    let entries = [a.clone(), b.clone()];
    let s = sheet(
        "2026-03",
        &[quarter.clone(), exact.clone()],
        &entries,
        utc(2026, 4, 1, 0, 0),
    );
    let ra = row(&s, a.id);
    assert_eq!(ra.raw.seconds, 61 * 60);
    assert_eq!(ra.rounded.seconds, 75 * 60);
    assert_eq!(
        (ra.raw.hours.as_str(), ra.rounded.hours.as_str()),
        ("1.02", "1.25")
    );
    assert_eq!(ra.project.as_deref(), Some("Quarter"));
    assert_eq!(ra.client.as_deref(), Some("Quarter client"));
    assert_eq!(ra.start_local.to_string(), "2026-03-02 09:00:00");
    assert_eq!(row(&s, b.id).rounded.seconds, 61 * 60);
    assert_eq!(
        entries[0].stop,
        Some(a.start + Duration::minutes(61)),
        "stored times untouched"
    );

    assert_eq!(s.total_raw.seconds, 122 * 60);
    assert_eq!(s.total_rounded.seconds, 136 * 60);
    let names: Vec<Option<&str>> = s.projects.iter().map(|p| p.project.as_deref()).collect();
    assert_eq!(names, [Some("Exact"), Some("Quarter")]);
    let q = &s.projects[1];
    assert_eq!(
        (q.entries, q.raw.seconds, q.rounded.seconds),
        (1, 61 * 60, 75 * 60)
    );
}

#[test]
fn running_entries_count_up_to_now_and_overlaps_are_flagged() {
    let p = project("P", Rounding::None);
    let now = utc(2026, 3, 10, 12, 0);
    let running = entry(Some(&p), utc(2026, 3, 10, 11, 30), None);
    let early = entry(Some(&p), utc(2026, 3, 10, 9, 0), Some(60));
    let overlapping = entry(None, utc(2026, 3, 10, 9, 30), Some(60));
    let alone = entry(None, utc(2026, 3, 9, 9, 0), Some(30));
    let mut with_trip = entry(None, utc(2026, 3, 8, 9, 0), Some(45));
    with_trip.trip_id = Some(TripId::new());
    let entries = [
        running.clone(),
        early.clone(),
        overlapping.clone(),
        alone.clone(),
        with_trip.clone(),
    ];
    let s = sheet("2026-03", std::slice::from_ref(&p), &entries, now);
    let r = row(&s, running.id);
    assert!(r.running);
    assert_eq!(r.raw.seconds, 30 * 60);
    assert_eq!(r.stop_local.to_string(), "2026-03-10 13:00:00");
    assert!(!row(&s, early.id).running);
    assert!(row(&s, early.id).overlaps && row(&s, overlapping.id).overlaps);
    assert!(!row(&s, alone.id).overlaps && !r.overlaps);
    assert_eq!(row(&s, with_trip.id).trip_id, with_trip.trip_id);
    let starts: Vec<_> = s.rows.iter().map(|r| r.start_local).collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "rows sorted by start"
    );
    let none = s.projects.iter().find(|t| t.project_id.is_none()).unwrap();
    assert_eq!(none.entries, 3);
    assert_eq!(none.raw.seconds, (60 + 30 + 45) * 60);
}

#[test]
fn entries_belong_to_the_period_by_local_date() {
    let late = entry(None, utc(2026, 3, 31, 23, 30), Some(20));
    let s_march = sheet(
        "2026-03",
        &[],
        std::slice::from_ref(&late),
        utc(2026, 5, 1, 0, 0),
    );
    let s_april = sheet(
        "2026-04",
        &[],
        std::slice::from_ref(&late),
        utc(2026, 5, 1, 0, 0),
    );
    assert!(s_march.rows.is_empty());
    assert_eq!(s_april.rows.len(), 1);
    assert_eq!(
        s_april.rows[0].date,
        NaiveDate::from_ymd_opt(2026, 4, 1).unwrap()
    );
}

#[test]
fn the_year_total_is_measured_against_1225_hours() {
    let p = project("P", Rounding::Up(60));
    let now = utc(2026, 12, 1, 0, 0);
    let mut entries = vec![
        entry(Some(&p), utc(2026, 1, 5, 8, 0), Some(1_200 * 60)), // January, in the year
        entry(Some(&p), utc(2025, 11, 3, 8, 0), Some(100 * 60)),  // last year: excluded
        entry(Some(&p), utc(2026, 5, 4, 8, 0), Some(100 * 60)),   // after the period: excluded
        entry(Some(&p), utc(2026, 3, 2, 8, 0), Some(24 * 60 + 59)), // in the period
    ];
    let s = sheet("2026-03", std::slice::from_ref(&p), &entries, now);
    let c = &s.hour_criterion;
    assert_eq!(
        c.span,
        Period {
            from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()
        }
    );
    assert_eq!(c.worked.seconds, (1_200 * 60 + 24 * 60 + 59) * 60);
    assert_eq!(c.worked.hours, "1224.98");
    assert_eq!(c.required_hours, 1_225);
    assert!(
        !c.met,
        "raw hours count, not rounded (rounded would be 1225)"
    );
    assert_eq!(s.rows.len(), 1);

    entries.push(entry(None, utc(2026, 2, 2, 8, 0), Some(1)));
    let s = sheet("2026-03", std::slice::from_ref(&p), &entries, now);
    assert_eq!(s.hour_criterion.worked.hours, "1225.00");
    assert!(s.hour_criterion.met);
}

#[test]
fn hours_are_whole_seconds_with_two_decimals() {
    assert_eq!(Hours::from_seconds(0).hours, "0.00");
    assert_eq!(Hours::from_seconds(17).hours, "0.00");
    assert_eq!(
        Hours::from_seconds(18).hours,
        "0.01",
        "half a hundredth rounds up"
    );
    assert_eq!(Hours::from_seconds(3_600 * 7 + 1_800).hours, "7.50");
    assert_eq!(Hours::from_seconds(-5).seconds, 0);
}
