//! Report writers: CSV parses back, XLSX is a zip, JSON round-trips.
#![allow(clippy::unwrap_used, clippy::panic)] // test helpers may panic: a failed fixture is a failed test

use chrono::{DateTime, Duration, TimeZone, Utc};
use tacho_core::report::{ReportFormat, render_mileage, render_timesheet};
use tacho_model::car::{Car, OdometerReading, ReadingSource, TripEnd};
use tacho_model::gps::LatLon;
use tacho_model::id::{CarId, DeviceId, EntryId, ProjectId, ReadingId, TripId};
use tacho_model::report::{
    LogRow, MileageInput, MileageLog, Period, Timesheet, TimesheetInput, format_km, mileage_log,
    timesheet,
};
use tacho_model::trip::{Purpose, Trip, TripEdit, TripField, TripSource, TripState};
use tacho_model::work::{EntrySource, Project, Rounding, TimeEntry};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn trip(car: &Car, start: DateTime<Utc>, gps_m: f64, purpose: Option<Purpose>) -> Trip {
    Trip {
        id: TripId::new(),
        car_id: Some(car.id),
        state: TripState::Ended,
        source: TripSource::Bluetooth,
        car_hint: None,
        started_at: start,
        ended_at: Some(start + Duration::minutes(45)),
        time_zone: "Europe/Berlin".into(),
        start: Some(LatLon {
            lat: 50.110924,
            lon: 8.682127,
        }),
        end: Some(LatLon {
            lat: 50.937531,
            lon: 6.960279,
        }),
        start_address: Some("Zeil 1, Frankfurt".into()),
        end_address: None,
        start_place: None,
        end_place: None,
        distance_m: gps_m,
        point_count: 10,
        purpose,
        purpose_by: None,
        business_partner: None,
        note: None,
        recovered: false,
    }
}

fn reading(car: &Car, at: DateTime<Utc>, m: i64, trip: (TripId, TripEnd)) -> OdometerReading {
    OdometerReading {
        id: ReadingId::new(),
        car_id: car.id,
        at,
        odometer_m: m,
        source: ReadingSource::CarApi,
        trip: Some(trip),
    }
}

/// Four trips in May 2026, a 12 km hole between the 2nd and 3rd, three
/// edits, and a note that needs CSV quoting.
fn log() -> MileageLog {
    let car = Car {
        id: CarId::new(),
        name: "Firmenwagen".into(),
        make: Some("BMW".into()),
        model: Some("320d".into()),
        plate: "F-TC 123".into(),
        available_from: None,
        available_to: None,
        connect_hint: None,
        retired: false,
    };
    let mut a = trip(
        &car,
        utc(2026, 5, 4, 7, 0),
        180_000.0,
        Some(Purpose::Business),
    );
    a.business_partner = Some("Muster GmbH".into());
    a.note = Some("Umweg wegen Stau, \"A3\" gesperrt,\nüber B8".into());
    let b = trip(
        &car,
        utc(2026, 5, 4, 16, 0),
        181_000.0,
        Some(Purpose::Business),
    );
    let c = trip(
        &car,
        utc(2026, 5, 6, 8, 0),
        12_000.0,
        Some(Purpose::Private),
    );
    let d = trip(&car, utc(2026, 5, 7, 8, 0), 25_000.0, None);
    let readings = vec![
        reading(&car, a.started_at, 40_000_000, (a.id, TripEnd::Start)),
        reading(&car, b.ended_at.unwrap(), 40_361_500, (b.id, TripEnd::End)),
        reading(&car, c.started_at, 40_373_500, (c.id, TripEnd::Start)),
    ];
    let device = DeviceId::new();
    let edit = |trip_id, field, old: Option<&str>, new: &str, day| TripEdit {
        trip_id,
        field,
        old_value: old.map(Into::into),
        new_value: Some(new.into()),
        at: utc(2026, 5, day, 20, 0),
        device,
        arrived_after_lock: None,
    };
    let edits = vec![
        edit(a.id, TripField::Purpose, None, "business", 5),
        edit(
            a.id,
            TripField::BusinessPartner,
            Some("Muster"),
            "Muster GmbH",
            6,
        ),
        edit(d.id, TripField::Note, None, "Werkstatt", 8),
    ];
    mileage_log(&MileageInput {
        car: &car,
        period: Period::month(2026, 5).unwrap(),
        trips: &[a, b, c, d],
        readings: &readings,
        edits: &edits,
        places: &[],
        cars: &[],
        locked_months: &[],
    })
}

fn sheet() -> Timesheet {
    let project = Project {
        id: ProjectId::new(),
        name: "Audit, \"Q2\"".into(),
        client: Some("Muster GmbH".into()),
        billable: true,
        rounding: Rounding::Up(15),
        archived: false,
    };
    let entry = |start, minutes: Option<i64>| TimeEntry {
        id: EntryId::new(),
        project_id: Some(project.id),
        description: "Prüfung".into(),
        start,
        stop: minutes.map(|m| start + Duration::minutes(m)),
        tags: vec!["vor Ort".into(), "reise".into()],
        billable: true,
        source: EntrySource::Timer,
        trip_id: None,
    };
    let entries = [
        entry(utc(2026, 5, 4, 8, 0), Some(61)),
        entry(utc(2026, 5, 5, 8, 0), Some(120)),
        entry(utc(2026, 5, 29, 9, 0), None),
    ];
    timesheet(&TimesheetInput {
        period: Period::month(2026, 5).unwrap(),
        time_zone: "Europe/Berlin",
        projects: std::slice::from_ref(&project),
        entries: &entries,
        now: utc(2026, 5, 29, 10, 0),
        arrived_after_lock: &[],
        edits: &[],
    })
}

fn records(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn of_kind<'a>(rows: &'a [Vec<String>], kind: &str) -> Vec<&'a Vec<String>> {
    rows.iter().filter(|r| r[0] == kind).collect()
}

fn value<'a>(rows: &'a [Vec<String>], kind: &str, key: &str) -> &'a str {
    rows.iter()
        .find(|r| r[0] == kind && r.get(1).map(String::as_str) == Some(key))
        .unwrap_or_else(|| panic!("no {kind}/{key} row"))[2]
        .as_str()
}

#[test]
fn mileage_csv_parses_back_with_the_right_rows() {
    let log = log();
    let rows = records(&render_mileage(&log, ReportFormat::Csv).unwrap());
    assert!(rows.iter().any(|r| r[0] == "plate" && r[1] == "F-TC 123"));
    assert!(
        rows.iter()
            .any(|r| r[0] == "period" && r[1] == "2026-05-01" && r[2] == "2026-05-31")
    );

    let header = &of_kind(&rows, "header")[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let trips = of_kind(&rows, "trip");
    assert_eq!(trips.len(), 4);
    let gaps = of_kind(&rows, "unexplained");
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0][col("km")], "12.0");
    assert_eq!(of_kind(&rows, "backwards").len(), 0);

    // Time order: the gap sits between the 2nd and 3rd trip.
    let kinds: Vec<&str> = rows
        .iter()
        .map(|r| r[0].as_str())
        .filter(|k| matches!(*k, "trip" | "unexplained"))
        .collect();
    assert_eq!(kinds, ["trip", "trip", "unexplained", "trip", "trip"]);

    let first = trips[0];
    assert_eq!(first.len(), header.len(), "trip rows fill every column");
    assert_eq!(
        first[col("note")],
        "Umweg wegen Stau, \"A3\" gesperrt,\nüber B8"
    );
    assert_eq!(first[col("business_partner")], "Muster GmbH");
    assert_eq!(first[col("start")], "2026-05-04 09:00", "local time, CEST");
    assert_eq!(first[col("odometer_start_km")], "40000.0");
    assert_eq!(first[col("odometer_start_source")], "reading");
    assert_eq!(first[col("odometer_end_source")], "derived");
    assert_eq!(first[col("changes")], "2");
    assert_eq!(first[col("start_place")], "Zeil 1, Frankfurt");
    assert_eq!(first[col("end_place")], "50.93753,6.96028");
    assert_eq!(trips[3][col("purpose")], "unclassified");

    assert_eq!(value(&rows, "total", "unexplained_km"), "12.0");
    assert_eq!(value(&rows, "total", "trips"), "4");
    assert_eq!(
        value(&rows, "total", "business_km"),
        format_km(log.totals.business_m)
    );
    assert_eq!(value(&rows, "total", "private_km"), "12.0");
    assert_eq!(value(&rows, "total", "unclassified_km"), "25.0");
    assert_eq!(value(&rows, "year_to_date", "private_limit_km"), "500.0");
    assert_eq!(value(&rows, "year_to_date", "private_limit_exceeded"), "no");

    let changes = of_kind(&rows, "change");
    assert_eq!(changes.len(), 3, "every edit is listed");
    assert!(
        changes
            .iter()
            .any(|c| c[4] == "business_partner" && c[5] == "Muster" && c[6] == "Muster GmbH")
    );
}

#[test]
fn timesheet_csv_parses_back() {
    let sheet = sheet();
    let rows = records(&render_timesheet(&sheet, ReportFormat::Csv).unwrap());
    let header = &of_kind(&rows, "header")[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let entries = of_kind(&rows, "entry");
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0][col("project")], "Audit, \"Q2\"");
    assert_eq!(entries[0][col("raw_seconds")], "3660");
    assert_eq!(entries[0][col("rounded_seconds")], "4500");
    assert_eq!(entries[0][col("rounded_hours")], "1.25");
    assert_eq!(entries[0][col("tags")], "vor Ort; reise");
    assert_eq!(entries[2][col("running")], "yes");
    assert_eq!(entries[2][col("raw_seconds")], "3600");
    assert_eq!(of_kind(&rows, "project").len(), 1);
    assert_eq!(
        value(&rows, "total", "raw"),
        (61 * 60 + 120 * 60 + 3600).to_string()
    );
    assert_eq!(value(&rows, "hour_criterion", "met"), "no");
}

#[test]
fn xlsx_is_a_zip_of_real_size() {
    for bytes in [
        render_mileage(&log(), ReportFormat::Xlsx).unwrap(),
        render_timesheet(&sheet(), ReportFormat::Xlsx).unwrap(),
    ] {
        assert!(bytes.starts_with(b"PK\x03\x04"), "zip magic");
        assert!(bytes.len() > 2_000, "{} bytes", bytes.len());
    }
}

#[test]
fn json_round_trips_to_the_same_totals() {
    let log = log();
    let bytes = render_mileage(&log, ReportFormat::Json).unwrap();
    let back: MileageLog = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(back.totals, log.totals);
    assert_eq!(back.totals.unexplained_m, 12_000);
    assert_eq!(back, log);
    let trips = back
        .rows
        .iter()
        .filter(|r| matches!(r, LogRow::Trip(_)))
        .count();
    assert_eq!(trips, 4);

    let sheet = sheet();
    let back: Timesheet =
        serde_json::from_slice(&render_timesheet(&sheet, ReportFormat::Json).unwrap()).unwrap();
    assert_eq!(back.total_rounded, sheet.total_rounded);
    assert_eq!(back, sheet);
}

#[test]
fn formats_parse_with_a_clear_error() {
    assert_eq!("CSV".parse::<ReportFormat>().unwrap(), ReportFormat::Csv);
    assert_eq!(" xlsx".parse::<ReportFormat>().unwrap(), ReportFormat::Xlsx);
    assert_eq!("json".parse::<ReportFormat>().unwrap(), ReportFormat::Json);
    let err = "pdf".parse::<ReportFormat>().unwrap_err().to_string();
    assert!(
        err.contains("pdf") && err.contains("csv, xlsx or json"),
        "{err}"
    );
    assert_eq!(ReportFormat::Xlsx.to_string(), "xlsx");
}
