#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The time-entry importers on small made-up exports (testdata/entries): every format
//! read into the instants, projects, tags and billable flags the file means, and every kind
//! of bad input refused with the row and column named.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use tacho_model::import::entries::{self, EntryFormat, EntryImportError, EntryRow};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/entries")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn berlin() -> Tz {
    "Europe/Berlin".parse().unwrap()
}

fn read(name: &str) -> (EntryFormat, Vec<EntryRow>) {
    let parsed = entries::parse_file(None, &fixture(name), berlin())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(parsed.detected);
    (parsed.format, parsed.rows)
}

fn err(format: EntryFormat, text: &str) -> EntryImportError {
    entries::parse(format, text, berlin()).expect_err("should be refused")
}

#[test]
fn toggl_detailed_export() {
    let (format, rows) = read("toggl.csv");
    assert_eq!(format, EntryFormat::Toggl);
    assert_eq!(rows.len(), 3);
    let r = &rows[0];
    assert_eq!(r.row, 2);
    // 09:00 in Berlin in March is 08:00 UTC.
    assert_eq!(
        (r.start, r.stop),
        (t("2024-03-05T08:00:00Z"), t("2024-03-05T09:30:00Z"))
    );
    assert_eq!(r.project.as_deref(), Some("Website"));
    assert_eq!(r.client.as_deref(), Some("Acme"));
    assert_eq!(r.description, "Header, footer");
    assert_eq!(r.tags, ["design", "web"]);
    assert_eq!(r.billable, Some(true));
    // Over midnight with its own end date.
    assert_eq!(rows[1].stop, t("2024-03-05T23:15:00Z"));
    assert_eq!(rows[1].billable, Some(false));
    assert_eq!(rows[1].client, None);
    assert_eq!(rows[2].billable, None);
    assert_eq!(rows[2].row, 4);
}

#[test]
fn clockify_detailed_export_with_12_hour_times() {
    let (format, rows) = read("clockify.csv");
    assert_eq!(format, EntryFormat::Clockify);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].start, rows[0].stop),
        (t("2024-03-05T08:00:00Z"), t("2024-03-05T10:30:00Z"))
    );
    assert_eq!(
        (rows[1].start, rows[1].stop),
        (t("2024-03-06T12:15:00Z"), t("2024-03-06T13:00:00Z"))
    );
    assert_eq!(rows[0].tags, ["ux"]);
    assert_eq!(rows[0].project.as_deref(), Some("Website"));
}

#[test]
fn clockify_day_first_dates_are_recognised_from_the_file() {
    let csv = "Project,Description,Start Date,Start Time,End Date,End Time,Duration (h)\n\
               P,a,03/05/2024,09:00,03/05/2024,10:00,01:00:00\n\
               P,b,25/05/2024,09:00,25/05/2024,10:00,01:00:00\n";
    let rows = entries::parse(EntryFormat::Clockify, csv, berlin()).unwrap();
    // 25/05 only makes sense day-first, so 03/05 is 3 May, not 5 March.
    assert_eq!(rows[0].start, t("2024-05-03T07:00:00Z"));
}

#[test]
fn kimai_export_with_activity_and_midnight() {
    let (format, rows) = read("kimai.csv");
    assert_eq!(format, EntryFormat::Kimai);
    assert_eq!(
        (rows[0].start, rows[0].stop),
        (t("2024-03-05T07:00:00Z"), t("2024-03-05T11:15:00Z"))
    );
    assert_eq!(rows[0].tags, ["Development", "auth", "backend"]);
    assert_eq!(rows[0].client.as_deref(), Some("Acme"));
    // 22:00 to 01:30 crosses midnight.
    assert_eq!(
        (rows[1].start, rows[1].stop),
        (t("2024-03-05T21:00:00Z"), t("2024-03-06T00:30:00Z"))
    );
    assert_eq!(rows[1].billable, Some(false));
}

#[test]
fn kimai_without_an_end_uses_the_duration() {
    let csv = "Date;From;To;Duration;Project\n2024-03-05;08:00;;1:30;X\n";
    let rows = entries::parse(EntryFormat::Kimai, csv, berlin()).unwrap();
    assert_eq!(rows[0].stop, t("2024-03-05T08:30:00Z"));
}

#[test]
fn generic_csv_with_offsets_and_wall_times() {
    let (format, rows) = read("generic.csv");
    assert_eq!(format, EntryFormat::Generic);
    assert_eq!(rows[0].start, t("2024-03-05T08:00:00Z"));
    assert_eq!(rows[0].tags, ["a", "b"]);
    assert_eq!(rows[1].start, t("2024-03-05T12:00:00Z"));
    assert_eq!(rows[1].stop, t("2024-03-05T12:45:30Z"));
    assert_eq!(rows[1].project, None);
    assert_eq!(rows[1].billable, None);
}

#[test]
fn a_bad_date_names_row_and_column() {
    let csv = "Description,Start date,Start time,End date,End time\n\
               ok,2024-03-05,09:00:00,2024-03-05,10:00:00\n\
               bad,2024-02-31,09:00:00,2024-02-31,10:00:00\n";
    let e = err(EntryFormat::Toggl, csv);
    assert_eq!(e.row, Some(3));
    assert_eq!(e.column.as_deref(), Some("Start date"));
    assert!(e.message.contains("2024-02-31"), "{e}");
    assert!(
        e.to_string()
            .starts_with("Toggl export row 3, column \"Start date\": "),
        "{e}"
    );
}

#[test]
fn bad_cells_are_named() {
    let head = "Start date,Start time,End date,End time,Billable,Duration\n";
    let e = err(
        EntryFormat::Toggl,
        &format!("{head}2024-03-05,9h,2024-03-05,10:00,,\n"),
    );
    assert_eq!((e.row, e.column.as_deref()), (Some(2), Some("Start time")));
    let e = err(
        EntryFormat::Toggl,
        &format!("{head}2024-03-05,09:00,2024-03-05,10:00,perhaps,\n"),
    );
    assert_eq!(e.column.as_deref(), Some("Billable"));
    let e = err(
        EntryFormat::Toggl,
        &format!("{head}2024-03-05,11:00,2024-03-05,10:00,,\n"),
    );
    assert_eq!(e.column.as_deref(), Some("End time"));
    assert!(e.message.contains("before it starts"), "{e}");
    let e = err(
        EntryFormat::Toggl,
        &format!("{head}2024-03-05,09:00,2024-03-07,10:00,,\n"),
    );
    assert!(e.message.contains("longer than 24 hours"), "{e}");
    let e = err(
        EntryFormat::Toggl,
        &format!("{head}2024-03-05,09:00,,,,1:xx\n"),
    );
    assert_eq!(e.column.as_deref(), Some("Duration"));
    // A running timer has neither end nor duration.
    let e = err(EntryFormat::Toggl, &format!("{head}2024-03-05,09:00,,,,\n"));
    assert!(e.message.contains("running timer"), "{e}");
    // 02:30 on 31 March 2024 does not exist in Berlin.
    let e = err(
        EntryFormat::Toggl,
        &format!("{head}2024-03-31,02:30,2024-03-31,04:00,,\n"),
    );
    assert_eq!(e.column.as_deref(), Some("Start time"));
    assert!(e.message.contains("does not exist"), "{e}");
}

#[test]
fn a_missing_column_is_named() {
    let e = err(
        EntryFormat::Toggl,
        "Description,Start date,End date,End time\nx,2024-03-05,2024-03-05,10:00\n",
    );
    assert_eq!((e.row, e.column.as_deref()), (Some(1), Some("Start time")));
    assert!(e.message.starts_with("missing column"), "{e}");
    let e = err(EntryFormat::Generic, "start,project\n2024-03-05 09:00,x\n");
    assert_eq!(e.column.as_deref(), Some("stop"));
}

#[test]
fn an_unknown_header_is_refused() {
    // In the generic format a misspelt column would silently lose its data.
    let e = err(
        EntryFormat::Generic,
        "start,stop,projcet\n2024-03-05 09:00,2024-03-05 10:00,x\n",
    );
    assert_eq!((e.row, e.column.as_deref()), (Some(1), Some("projcet")));
    assert!(e.message.contains("unknown column"), "{e}");
    // And a header no format knows can't be detected.
    let e = entries::parse_file(None, b"when,what\n2024,x\n", berlin()).unwrap_err();
    assert_eq!((e.row, e.format), (Some(1), None));
    assert!(e.message.contains("--format"), "{e}");
}

#[test]
fn headers_match_ignoring_case_spaces_and_bom() {
    let csv =
        "\u{feff} START DATE ,start TIME,end date,End Time\n2024-03-05,09:00,2024-03-05,10:00\n";
    let parsed = entries::parse_file(None, csv.as_bytes(), berlin()).unwrap();
    assert_eq!(parsed.format, EntryFormat::Toggl);
    assert_eq!(parsed.rows[0].stop, t("2024-03-05T09:00:00Z"));
}

#[test]
fn a_non_utf8_file_is_refused_with_line_and_offset() {
    let mut bytes = b"start,stop,description\n2024-03-05 09:00,2024-03-05 10:00,caf".to_vec();
    bytes.push(0xE9);
    bytes.push(b'\n');
    let e = entries::parse_file(None, &bytes, berlin()).unwrap_err();
    assert!(
        e.message.contains("line 2") && e.message.contains("byte offset 60"),
        "{e}"
    );
    assert!(e.message.contains("UTF-8"), "{e}");
}

#[test]
fn the_id_is_stable_and_tells_rows_apart() {
    let (format, rows) = read("toggl.csv");
    let (_, again) = read("toggl.csv");
    let ids: Vec<_> = rows.iter().map(|r| r.entry_id(format)).collect();
    let ids_again: Vec<_> = again.iter().map(|r| r.entry_id(format)).collect();
    assert_eq!(ids, ids_again);
    assert_ne!(ids[0], ids[1]);
    // The same span and text from another tracker is another entry.
    assert_ne!(rows[0].entry_id(EntryFormat::Clockify), ids[0]);
    // Tags and billable don't identify the row: editing them in Tacho keeps re-imports idle.
    let mut edited = rows[0].clone();
    edited.tags.clear();
    edited.billable = Some(false);
    edited.project = Some(" WEBSITE ".into());
    assert_eq!(edited.entry_id(format), ids[0]);
}

proptest! {
    /// Any generic file parses to the same rows and ids every time (the ground re-imports
    /// stand on).
    #[test]
    fn parsing_is_deterministic(
        starts in prop::collection::vec((0i64..20_000, 1i64..86_400, "[a-z ]{0,12}"), 1..20)
    ) {
        let mut csv = String::from("start,stop,description\n");
        for (day, len, what) in &starts {
            let start = t("2021-01-01T00:00:00Z") + chrono::TimeDelta::minutes(*day * 37);
            let stop = start + chrono::TimeDelta::seconds(*len);
            csv.push_str(&format!("{},{},{what}\n", start.to_rfc3339(), stop.to_rfc3339()));
        }
        let a = entries::parse(EntryFormat::Generic, &csv, berlin()).unwrap();
        let b = entries::parse(EntryFormat::Generic, &csv, berlin()).unwrap();
        prop_assert_eq!(a.len(), starts.len());
        let ids_a: Vec<_> = a.iter().map(|r| r.entry_id(EntryFormat::Generic)).collect();
        let ids_b: Vec<_> = b.iter().map(|r| r.entry_id(EntryFormat::Generic)).collect();
        prop_assert_eq!(ids_a, ids_b);
    }
}

#[cfg(feature = "xlsx")]
#[test]
fn kimai_xlsx_with_real_date_and_time_cells() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let time = Format::new().set_num_format("hh:mm");
    let head = [
        "Date",
        "Begin",
        "End",
        "Duration",
        "Customer",
        "Project",
        "Activity",
        "Description",
        "Billable",
        "Tags",
    ];
    for (c, h) in head.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let day = ExcelDateTime::from_ymd(2024, 3, 5).unwrap();
    sheet.write_datetime_with_format(1, 0, &day, &date).unwrap();
    sheet
        .write_datetime_with_format(1, 1, ExcelDateTime::from_hms(8, 0, 0).unwrap(), &time)
        .unwrap();
    sheet
        .write_datetime_with_format(1, 2, ExcelDateTime::from_hms(9, 45, 0).unwrap(), &time)
        .unwrap();
    sheet.write_string(1, 3, "1:45").unwrap();
    sheet.write_string(1, 4, "Acme").unwrap();
    sheet.write_string(1, 5, "Website").unwrap();
    sheet.write_string(1, 6, "Meeting").unwrap();
    sheet.write_string(1, 7, "Kick-off").unwrap();
    sheet.write_string(1, 8, "Yes").unwrap();
    // Row 3: a bad time, to see the row number of a sheet.
    sheet.write_datetime_with_format(2, 0, &day, &date).unwrap();
    sheet.write_string(2, 1, "late").unwrap();
    sheet.write_string(2, 2, "10:00").unwrap();
    let bytes = book.save_to_buffer().unwrap();

    let e = entries::parse_file(None, &bytes, berlin()).unwrap_err();
    assert_eq!((e.row, e.column.as_deref()), (Some(3), Some("Begin")));
    assert_eq!(e.format, Some(EntryFormat::Kimai));

    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in head.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_datetime_with_format(1, 0, &day, &date).unwrap();
    sheet
        .write_datetime_with_format(1, 1, ExcelDateTime::from_hms(8, 0, 0).unwrap(), &time)
        .unwrap();
    sheet
        .write_datetime_with_format(1, 2, ExcelDateTime::from_hms(9, 45, 0).unwrap(), &time)
        .unwrap();
    sheet.write_string(1, 5, "Website").unwrap();
    sheet.write_string(1, 6, "Meeting").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let parsed = entries::parse_file(Some(EntryFormat::Kimai), &bytes, berlin()).unwrap();
    let r = &parsed.rows[0];
    assert_eq!(
        (r.start, r.stop),
        (t("2024-03-05T07:00:00Z"), t("2024-03-05T08:45:00Z"))
    );
    assert_eq!(r.tags, ["Meeting"]);
}
