//! XLSX writers: one workbook per report, numbers as numbers (km with one
//! decimal, hours with two) and dates as real Excel dates, so advisers can
//! sort and sum without re-typing.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatBorder, Workbook, Worksheet};
use tacho_model::report::{LogRow, MileageLog, OdometerValue, Timesheet, km};

use super::csv_out::{lock_note, odometer_source, zone_label};
use super::{ReportError, yes_no};

/// The formats shared by all sheets.
struct Formats {
    title: Format,
    bold: Format,
    header: Format,
    date: Format,
    datetime: Format,
    km: Format,
    hours: Format,
    percent: Format,
    unexplained: Format,
    backwards: Format,
}

impl Formats {
    fn new() -> Self {
        Self {
            title: Format::new().set_bold().set_font_size(14),
            bold: Format::new().set_bold(),
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0x00DD_E6F0))
                .set_border_bottom(FormatBorder::Thin),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm"),
            km: Format::new().set_num_format("0.0"),
            hours: Format::new().set_num_format("0.00"),
            percent: Format::new().set_num_format("0.00"),
            unexplained: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0x00FF_F2CC)),
            backwards: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0x00F8_CBAD)),
        }
    }
}

fn date_error(what: impl std::fmt::Display) -> ReportError {
    ReportError::XlsxDate(what.to_string())
}

fn xl_date(d: NaiveDate) -> Result<ExcelDateTime, ReportError> {
    let year = u16::try_from(d.year()).map_err(|_| date_error(d))?;
    let month = u8::try_from(d.month()).map_err(|_| date_error(d))?;
    let day = u8::try_from(d.day()).map_err(|_| date_error(d))?;
    ExcelDateTime::from_ymd(year, month, day).map_err(|_| date_error(d))
}

fn xl_datetime(t: NaiveDateTime) -> Result<ExcelDateTime, ReportError> {
    let hour = u16::try_from(t.hour()).map_err(|_| date_error(t))?;
    let minute = u8::try_from(t.minute()).map_err(|_| date_error(t))?;
    xl_date(t.date())?
        .and_hms(hour, minute, t.second())
        .map_err(|_| date_error(t))
}

fn header(ws: &mut Worksheet, row: u32, titles: &[&str], f: &Formats) -> Result<(), ReportError> {
    for (col, title) in (0u16..).zip(titles) {
        ws.write_string_with_format(row, col, *title, &f.header)?;
    }
    Ok(())
}

fn widths(ws: &mut Worksheet, widths: &[f64]) -> Result<(), ReportError> {
    for (col, w) in (0u16..).zip(widths) {
        ws.set_column_width(col, *w)?;
    }
    Ok(())
}

/// A label in column A and a km value in column B.
fn km_line(
    ws: &mut Worksheet,
    row: u32,
    label: &str,
    m: i64,
    f: &Formats,
) -> Result<(), ReportError> {
    ws.write_string(row, 0, label)?;
    ws.write_number_with_format(row, 1, km(m), &f.km)?;
    Ok(())
}

fn hours(seconds: i64) -> f64 {
    // Whole seconds are far below 2^53: exact.
    seconds as f64 / 3600.0
}

const LOG_TITLES: [&str; 19] = [
    "Kind",
    "Date",
    "Start",
    "End",
    "Time zone",
    "Odometer start (km)",
    "Start value",
    "Odometer end (km)",
    "End value",
    "From",
    "To",
    "Purpose",
    "Business partner",
    "Purpose text",
    "Deviation note",
    "GPS km",
    "km",
    "Changes",
    "Odometer ≠ GPS",
];

pub(super) fn mileage(log: &MileageLog) -> Result<Vec<u8>, ReportError> {
    let f = Formats::new();
    let mut wb = Workbook::new();
    {
        let ws = wb.add_worksheet();
        ws.set_name("Mileage log")?;
        widths(
            ws,
            &[
                12.0, 11.0, 16.0, 16.0, 16.0, 12.0, 9.0, 12.0, 9.0, 30.0, 30.0, 12.0, 20.0, 24.0,
                24.0, 8.0, 8.0, 8.0, 10.0,
            ],
        )?;
        ws.write_string_with_format(0, 0, "Mileage log", &f.title)?;
        let car_lines = [
            ("Car", log.car.name.as_str()),
            ("Make", log.car.make.as_deref().unwrap_or("")),
            ("Model", log.car.model.as_deref().unwrap_or("")),
            ("Plate", log.car.plate.as_str()),
        ];
        for (row, (label, value)) in (1u32..).zip(car_lines) {
            ws.write_string_with_format(row, 0, label, &f.bold)?;
            ws.write_string(row, 1, value)?;
        }
        ws.write_string_with_format(5, 0, "Period", &f.bold)?;
        ws.write_datetime_with_format(5, 1, xl_date(log.period.from)?, &f.date)?;
        ws.write_datetime_with_format(5, 2, xl_date(log.period.to)?, &f.date)?;
        ws.write_string_with_format(6, 0, "Locked", &f.bold)?;
        ws.write_string(6, 1, yes_no(log.locked))?;
        ws.write_string(6, 2, log.locked_months.join(" "))?;

        let header_row = 7;
        header(ws, header_row, &LOG_TITLES, &f)?;
        ws.set_freeze_panes(header_row + 1, 0)?;
        let mut row = header_row + 1;
        let odo =
            |ws: &mut Worksheet, row, col, v: Option<OdometerValue>| -> Result<(), ReportError> {
                if let Some(v) = v {
                    ws.write_number_with_format(row, col, km(v.m), &f.km)?;
                }
                ws.write_string(row, col + 1, odometer_source(v.as_ref()))?;
                Ok(())
            };
        for r in &log.rows {
            match r {
                LogRow::Trip(t) => {
                    ws.write_string(row, 0, "trip")?;
                    ws.write_datetime_with_format(row, 1, xl_date(t.date)?, &f.date)?;
                    ws.write_datetime_with_format(
                        row,
                        2,
                        xl_datetime(t.start_local)?,
                        &f.datetime,
                    )?;
                    ws.write_datetime_with_format(row, 3, xl_datetime(t.end_local)?, &f.datetime)?;
                    ws.write_string(row, 4, zone_label(t))?;
                    odo(ws, row, 5, t.odometer_start)?;
                    odo(ws, row, 7, t.odometer_end)?;
                    ws.write_string(row, 9, t.start_place.as_str())?;
                    ws.write_string(row, 10, t.end_place.as_str())?;
                    ws.write_string(row, 11, t.purpose.as_str())?;
                    ws.write_string(row, 12, t.business_partner.as_deref().unwrap_or(""))?;
                    ws.write_string(row, 13, t.purpose_text.as_str())?;
                    ws.write_string(row, 14, t.note.as_deref().unwrap_or(""))?;
                    ws.write_number_with_format(row, 15, km(t.gps_m), &f.km)?;
                    ws.write_number_with_format(row, 16, km(t.distance_m), &f.km)?;
                    ws.write_number(row, 17, u32::try_from(t.edits.len()).unwrap_or(u32::MAX))?;
                    if t.odometer_gps_mismatch {
                        ws.write_string(row, 18, yes_no(true))?;
                    }
                }
                LogRow::Unexplained(g) | LogRow::Backwards(g) => {
                    let (kind, format) = match r {
                        LogRow::Backwards(_) => ("backwards", &f.backwards),
                        _ => ("unexplained", &f.unexplained),
                    };
                    ws.write_string_with_format(row, 0, kind, format)?;
                    ws.write_datetime_with_format(row, 1, xl_date(g.date)?, &f.date)?;
                    ws.write_datetime_with_format(row, 2, xl_datetime(g.from_local)?, &f.datetime)?;
                    ws.write_datetime_with_format(row, 3, xl_datetime(g.to_local)?, &f.datetime)?;
                    ws.write_number_with_format(row, 5, km(g.gap.from_odometer_m), &f.km)?;
                    ws.write_string(
                        row,
                        6,
                        if g.gap.from_derived {
                            "derived"
                        } else {
                            "reading"
                        },
                    )?;
                    ws.write_number_with_format(row, 7, km(g.gap.to_odometer_m), &f.km)?;
                    ws.write_string(row, 8, "reading")?;
                    ws.write_number_with_format(row, 16, km(g.gap.distance_m), &f.km)?;
                }
            }
            row += 1;
        }

        row += 1;
        ws.write_string_with_format(row, 0, "Totals in period", &f.bold)?;
        row += 1;
        let t = &log.totals;
        ws.write_string(row, 0, "Trips")?;
        ws.write_number(row, 1, u32::try_from(t.trips).unwrap_or(u32::MAX))?;
        row += 1;
        for (label, m) in [
            ("Business km", t.business_m),
            ("Commute km", t.commute_m),
            ("Private km", t.private_m),
            ("Unclassified km", t.unclassified_m),
            ("All trips km", t.total_m),
            ("Unexplained km (not in any trip)", t.unexplained_m),
            ("Odometer went backwards, km", t.backwards_m),
        ] {
            km_line(ws, row, label, m, &f)?;
            row += 1;
        }

        row += 1;
        let p = &log.private_limit;
        ws.write_string_with_format(row, 0, "Year to date", &f.bold)?;
        ws.write_datetime_with_format(row, 1, xl_date(p.span.from)?, &f.date)?;
        ws.write_datetime_with_format(row, 2, xl_date(p.span.to)?, &f.date)?;
        row += 1;
        km_line(
            ws,
            row,
            "Private km for the 500 km limit (commute excluded)",
            p.private_m,
            &f,
        )?;
        row += 1;
        km_line(ws, row, "Private-use limit km", p.limit_m, &f)?;
        row += 1;
        ws.write_string(row, 0, "Limit exceeded")?;
        ws.write_string(row, 1, yes_no(p.exceeded))?;
        row += 1;
        km_line(ws, row, "Unclassified km", p.unclassified_m, &f)?;
        row += 1;
        km_line(ws, row, "Unexplained km", p.unexplained_m, &f)?;
        row += 1;
        ws.write_string(row, 0, "Limit exceeded if all open km are private")?;
        ws.write_string(row, 1, yes_no(p.exceeded_worst_case))?;
        row += 1;
        let v = &log.vat_private_use;
        km_line(
            ws,
            row,
            "VAT: private km (commute included)",
            v.private_and_commute_m,
            &f,
        )?;
        row += 1;
        km_line(ws, row, "VAT: all km driven", v.total_m, &f)?;
        row += 1;
        ws.write_string(row, 0, "VAT: private share %")?;
        match v.share_percent.parse::<f64>() {
            Ok(share) => ws.write_number_with_format(row, 1, share, &f.percent)?,
            Err(_) => ws.write_string(row, 1, v.share_percent.as_str())?,
        };
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("Edit history")?;
        widths(ws, &[12.0, 16.0, 38.0, 18.0, 24.0, 24.0, 20.0, 38.0, 22.0])?;
        header(
            ws,
            0,
            &[
                "Trip date",
                "Trip start",
                "Trip",
                "Field",
                "Old value",
                "New value",
                "Changed at (UTC)",
                "Device",
                "Lock",
            ],
            &f,
        )?;
        ws.set_freeze_panes(1, 0)?;
        let mut row = 1;
        for r in &log.rows {
            let LogRow::Trip(t) = r else { continue };
            for e in &t.edits {
                ws.write_datetime_with_format(row, 0, xl_date(t.date)?, &f.date)?;
                ws.write_datetime_with_format(row, 1, xl_datetime(t.start_local)?, &f.datetime)?;
                ws.write_string(row, 2, t.trip_id.to_string())?;
                ws.write_string(row, 3, e.field.as_str())?;
                ws.write_string(row, 4, e.old_value.as_deref().unwrap_or(""))?;
                ws.write_string(row, 5, e.new_value.as_deref().unwrap_or(""))?;
                ws.write_datetime_with_format(row, 6, xl_datetime(e.at.naive_utc())?, &f.datetime)?;
                ws.write_string(row, 7, e.device.to_string())?;
                ws.write_string(row, 8, lock_note(e.arrived_after_lock))?;
                row += 1;
            }
        }
    }
    Ok(wb.save_to_buffer()?)
}

pub(super) fn timesheet(sheet: &Timesheet) -> Result<Vec<u8>, ReportError> {
    let f = Formats::new();
    let mut wb = Workbook::new();
    {
        let ws = wb.add_worksheet();
        ws.set_name("Entries")?;
        widths(
            ws,
            &[
                11.0, 20.0, 20.0, 32.0, 16.0, 16.0, 16.0, 8.0, 9.0, 9.0, 11.0, 8.0, 8.0, 38.0, 22.0,
            ],
        )?;
        header(
            ws,
            0,
            &[
                "Date",
                "Project",
                "Client",
                "Description",
                "Tags",
                "Start",
                "Stop",
                "Running",
                "Raw h",
                "Rounded h",
                "Rounding",
                "Billable",
                "Overlaps",
                "Trip",
                "Lock",
                "Edits",
            ],
            &f,
        )?;
        ws.set_freeze_panes(1, 0)?;
        for (row, r) in (1u32..).zip(&sheet.rows) {
            ws.write_datetime_with_format(row, 0, xl_date(r.date)?, &f.date)?;
            ws.write_string(row, 1, r.project.as_deref().unwrap_or(""))?;
            ws.write_string(row, 2, r.client.as_deref().unwrap_or(""))?;
            ws.write_string(row, 3, r.description.as_str())?;
            ws.write_string(row, 4, r.tags.join("; "))?;
            ws.write_datetime_with_format(row, 5, xl_datetime(r.start_local)?, &f.datetime)?;
            ws.write_datetime_with_format(row, 6, xl_datetime(r.stop_local)?, &f.datetime)?;
            ws.write_string(row, 7, yes_no(r.running))?;
            ws.write_number_with_format(row, 8, hours(r.raw.seconds), &f.hours)?;
            ws.write_number_with_format(row, 9, hours(r.rounded.seconds), &f.hours)?;
            ws.write_string(row, 10, r.rounding.to_string())?;
            ws.write_string(row, 11, yes_no(r.billable))?;
            ws.write_string(row, 12, yes_no(r.overlaps))?;
            ws.write_string(
                row,
                13,
                r.trip_id.map(|t| t.to_string()).unwrap_or_default(),
            )?;
            ws.write_string(row, 14, lock_note(r.arrived_after_lock))?;
            if !r.history.is_empty() {
                ws.write_number(row, 15, u32::try_from(r.history.len()).unwrap_or(u32::MAX))?;
            }
        }
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("Totals")?;
        widths(ws, &[28.0, 20.0, 9.0, 10.0, 11.0, 14.0, 16.0])?;
        ws.write_string_with_format(0, 0, "Timesheet", &f.title)?;
        ws.write_string_with_format(1, 0, "Period", &f.bold)?;
        ws.write_datetime_with_format(1, 1, xl_date(sheet.period.from)?, &f.date)?;
        ws.write_datetime_with_format(1, 2, xl_date(sheet.period.to)?, &f.date)?;
        ws.write_string_with_format(2, 0, "Time zone", &f.bold)?;
        ws.write_string(2, 1, sheet.time_zone.as_str())?;
        header(
            ws,
            4,
            &[
                "Project",
                "Client",
                "Entries",
                "Raw h",
                "Rounded h",
                "Billable raw h",
                "Billable rounded h",
            ],
            &f,
        )?;
        let mut row = 5;
        for p in &sheet.projects {
            ws.write_string(row, 0, p.project.as_deref().unwrap_or("(no project)"))?;
            ws.write_string(row, 1, p.client.as_deref().unwrap_or(""))?;
            ws.write_number(row, 2, u32::try_from(p.entries).unwrap_or(u32::MAX))?;
            ws.write_number_with_format(row, 3, hours(p.raw.seconds), &f.hours)?;
            ws.write_number_with_format(row, 4, hours(p.rounded.seconds), &f.hours)?;
            ws.write_number_with_format(row, 5, hours(p.billable_raw.seconds), &f.hours)?;
            ws.write_number_with_format(row, 6, hours(p.billable_rounded.seconds), &f.hours)?;
            row += 1;
        }
        ws.write_string_with_format(row, 0, "Total", &f.bold)?;
        ws.write_number_with_format(row, 3, hours(sheet.total_raw.seconds), &f.hours)?;
        ws.write_number_with_format(row, 4, hours(sheet.total_rounded.seconds), &f.hours)?;
        row += 2;
        let c = &sheet.hour_criterion;
        ws.write_string_with_format(row, 0, "Hour criterion (year to date)", &f.bold)?;
        ws.write_datetime_with_format(row, 1, xl_date(c.span.from)?, &f.date)?;
        ws.write_datetime_with_format(row, 2, xl_date(c.span.to)?, &f.date)?;
        row += 1;
        ws.write_string(row, 0, "Hours worked")?;
        ws.write_number_with_format(row, 1, hours(c.worked.seconds), &f.hours)?;
        row += 1;
        ws.write_string(row, 0, "Hours required")?;
        ws.write_number(row, 1, u32::try_from(c.required_hours).unwrap_or(u32::MAX))?;
        row += 1;
        ws.write_string(row, 0, "Criterion met")?;
        ws.write_string(row, 1, yes_no(c.met))?;
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("Edit history")?;
        widths(ws, &[12.0, 38.0, 14.0, 24.0, 24.0, 20.0, 38.0, 22.0])?;
        header(
            ws,
            0,
            &[
                "Entry date",
                "Entry",
                "Field",
                "Old value",
                "New value",
                "Changed at (UTC)",
                "Device",
                "Lock",
            ],
            &f,
        )?;
        ws.set_freeze_panes(1, 0)?;
        let mut row = 1;
        for r in &sheet.rows {
            for e in &r.history {
                ws.write_datetime_with_format(row, 0, xl_date(r.date)?, &f.date)?;
                ws.write_string(row, 1, r.entry_id.to_string())?;
                ws.write_string(row, 2, e.field.as_str())?;
                ws.write_string(row, 3, e.old_value.as_deref().unwrap_or(""))?;
                ws.write_string(row, 4, e.new_value.as_deref().unwrap_or(""))?;
                ws.write_datetime_with_format(row, 5, xl_datetime(e.at.naive_utc())?, &f.datetime)?;
                ws.write_string(row, 6, e.device.to_string())?;
                ws.write_string(row, 7, lock_note(e.arrived_after_lock.is_some()))?;
                row += 1;
            }
        }
    }
    Ok(wb.save_to_buffer()?)
}
