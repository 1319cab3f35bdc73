//! XLSX sheets (Kimai's Excel export, or any export saved from a spreadsheet) as a [`Table`]:
//! the first sheet, the first non-empty row as header. Date and time cells become the same
//! text a CSV export holds (`YYYY-MM-DD`, `HH:MM:SS`, `YYYY-MM-DD HH:MM:SS`), durations
//! `h:mm:ss`, so one set of rules reads both.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{NaiveDate, TimeDelta};

use super::{EntryImportError, Table};

fn fail(message: String) -> EntryImportError {
    EntryImportError {
        format: None,
        row: None,
        column: None,
        message,
    }
}

pub(crate) fn table(bytes: &[u8]) -> Result<Table, EntryImportError> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| fail(format!("not a readable XLSX file: {e}")))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| fail("the XLSX file has no sheet".into()))?
        .map_err(|e| fail(format!("the first sheet can't be read: {e}")))?;
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    let mut table = Table::default();
    for (i, cells) in range.rows().enumerate() {
        let row = first_row + i + 1;
        let cells: Vec<String> = cells.iter().map(text).collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if table.header.is_empty() {
            table.header = cells.into_iter().map(|c| c.trim().to_owned()).collect();
        } else {
            table.rows.push((row, cells));
        }
    }
    if table.header.is_empty() {
        return Err(EntryImportError {
            row: Some(1),
            ..fail("the sheet is empty: expected a header row".into())
        });
    }
    Ok(table)
}

/// A cell as the text a CSV export would hold.
fn text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Data::Error(e) => format!("#{e:?}"),
        Data::DateTime(dt) if dt.is_duration() => {
            let total = (dt.as_f64() * 86_400.0).round() as i64;
            format!(
                "{}:{:02}:{:02}",
                total / 3600,
                total % 3600 / 60,
                total % 60
            )
        }
        Data::DateTime(dt) => {
            let value = dt.as_f64();
            if value < 1.0 {
                // A time of day alone: seconds of the day, rounded (serials are floats).
                let secs = ((value * 86_400.0).round() as i64).rem_euclid(86_400);
                return format!(
                    "{:02}:{:02}:{:02}",
                    secs / 3600,
                    secs % 3600 / 60,
                    secs % 60
                );
            }
            let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
            let at = NaiveDate::from_ymd_opt(i32::from(y), u32::from(mo), u32::from(d))
                .and_then(|day| day.and_hms_opt(u32::from(h), u32::from(mi), u32::from(s)))
                .map(|t| {
                    if ms >= 500 {
                        t + TimeDelta::seconds(1)
                    } else {
                        t
                    }
                });
            match at {
                Some(t) if value.fract() == 0.0 => t.format("%Y-%m-%d").to_string(),
                Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
                None => value.to_string(),
            }
        }
    }
}
