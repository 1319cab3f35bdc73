//! Time-entry importers: Toggl's detailed CSV export, Kimai's CSV/XLSX export, Clockify's
//! detailed CSV and Tacho's generic CSV (docs/import.md).
//!
//! Parsers only, like the track importers: the caller hands the file's bytes in and gets every
//! row as an [`EntryRow`] or ONE [`EntryImportError`] naming the row (1-based as a spreadsheet
//! shows it, the header being row 1), the column (by its header name) and what is wrong, so
//! nothing is imported half-way. Headers match case-insensitively after trimming, a UTF-8 BOM
//! is dropped, columns the format does not use (user, email, amounts, …) are ignored.
//! Wall times are read in the zone the caller passes; RFC 3339 times carry their own offset.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::id::EntryId;

use super::{strip_bom, text};

mod cells;
pub mod clockify;
pub mod generic;
pub mod kimai;
pub mod table;
pub mod toggl;
#[cfg(feature = "xlsx")]
mod xlsx;

pub use table::Table;

use cells::{SlashOrder, quoted};

/// The longest entry a row may describe, as for entries typed in (`entry add`).
pub const MAX_ENTRY: TimeDelta = TimeDelta::hours(24);

/// The exports Tacho reads time entries from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryFormat {
    /// Toggl Track's detailed report, CSV (or XLSX).
    Toggl,
    /// Kimai's timesheet export, CSV or XLSX.
    Kimai,
    /// Clockify's detailed report, CSV (or XLSX).
    Clockify,
    /// `start,stop,project,description,tags,billable`, see docs/import.md.
    Generic,
}

impl EntryFormat {
    /// Every format, for help texts.
    pub const ALL: [EntryFormat; 4] = [Self::Toggl, Self::Kimai, Self::Clockify, Self::Generic];

    /// The lowercase name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Toggl => "toggl",
            Self::Kimai => "kimai",
            Self::Clockify => "clockify",
            Self::Generic => "generic",
        }
    }

    /// Which export a header row belongs to, or `None` when it is none of them.
    ///
    /// Clockify's and Toggl's detailed reports share most names; Clockify's alone has
    /// `Duration (h)` / `Duration (decimal)`.
    pub fn detect(header: &[String]) -> Option<Self> {
        let has = |name: &str| {
            header
                .iter()
                .any(|h| strip_bom(h).trim().eq_ignore_ascii_case(name))
        };
        if has("start") && has("stop") {
            Some(Self::Generic)
        } else if has("start date") && has("start time") {
            if has("duration (h)") || has("duration (decimal)") {
                Some(Self::Clockify)
            } else {
                Some(Self::Toggl)
            }
        } else if has("date") && (has("begin") || has("from")) && (has("end") || has("to")) {
            Some(Self::Kimai)
        } else {
            None
        }
    }
}

/// How messages name the format: `Toggl CSV row 3, …`.
impl fmt::Display for EntryFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Toggl => "Toggl export",
            Self::Kimai => "Kimai export",
            Self::Clockify => "Clockify export",
            Self::Generic => "generic CSV",
        })
    }
}

/// A format name that is not one of `toggl`, `kimai`, `clockify`, `generic`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown entry format {0:?}: expected one of toggl, kimai, clockify, generic")]
pub struct UnknownEntryFormat(pub String);

/// Case-insensitive, so `--format Toggl` works too.
impl FromStr for EntryFormat {
    type Err = UnknownEntryFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownEntryFormat(s.to_owned()))
    }
}

/// One row of an export as a finished span of time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryRow {
    /// The row in the file, 1-based, the header being row 1.
    pub row: usize,
    /// Start instant.
    pub start: DateTime<Utc>,
    /// Stop instant, at or after `start`, at most [`MAX_ENTRY`] later.
    pub stop: DateTime<Utc>,
    /// Project name, matched to a Tacho project by name (case-insensitive) or created.
    pub project: Option<String>,
    /// The project's client (Toggl/Clockify `Client`, Kimai `Customer`), used when the
    /// project is created.
    pub client: Option<String>,
    /// What was done.
    pub description: String,
    /// Tags (Kimai's activity is one of them).
    pub tags: Vec<String>,
    /// Billable; `None` leaves it to the project's setting.
    pub billable: Option<bool>,
}

/// Fixed namespace of the ids of imported entries (a random v4 made once).
const IMPORT_NS: Uuid = Uuid::from_u128(0xcd04_87f6_8bdc_4c98_8d09_2c26_25bd_1007);

impl EntryRow {
    /// The entry's id, derived from what identifies the row (format, start, stop, project name
    /// ignoring case, description), so importing the same file again finds the same ids and
    /// changes nothing; a later edit of tags or billable in Tacho does not change it either.
    pub fn entry_id(&self, format: EntryFormat) -> EntryId {
        let key = format!(
            "{}\n{}\n{}\n{}\n{}",
            format.as_str(),
            self.start.timestamp(),
            self.stop.timestamp(),
            self.project.as_deref().unwrap_or("").trim().to_lowercase(),
            self.description.trim()
        );
        EntryId(Uuid::new_v5(&IMPORT_NS, key.as_bytes()))
    }
}

/// Why a file could not be imported: where (row, column) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct EntryImportError {
    /// The format the file was read as, once known.
    pub format: Option<EntryFormat>,
    /// 1-based row, the header being row 1; `None` for the file as a whole.
    pub row: Option<usize>,
    /// The column's header name as written in the file (or the name expected, for a missing
    /// column).
    pub column: Option<String>,
    /// What is wrong, in words for the user.
    pub message: String,
}

/// `Toggl export row 3, column "Start date": "31.02.2024" is not a date …`
impl fmt::Display for EntryImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(format) = self.format {
            parts.push(format.to_string());
        }
        match (self.row, &self.column) {
            (Some(row), Some(col)) => parts.push(format!("row {row}, column {col:?}")),
            (Some(row), None) => parts.push(format!("row {row}")),
            (None, Some(col)) => parts.push(format!("column {col:?}")),
            (None, None) => {}
        }
        if parts.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", parts.join(" "), self.message)
        }
    }
}

/// A whole file read: its format (given or detected) and every row.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEntries {
    /// The format read.
    pub format: EntryFormat,
    /// Whether the format was detected from the header (not given by the caller).
    pub detected: bool,
    /// Every data row, in file order.
    pub rows: Vec<EntryRow>,
}

/// Reads a file as it is on disk: XLSX (a zip) or UTF-8 text, the format given or detected
/// from the header, wall times read in `zone`.
pub fn parse_file(
    format: Option<EntryFormat>,
    bytes: &[u8],
    zone: Tz,
) -> Result<ParsedEntries, EntryImportError> {
    let table = if bytes.starts_with(b"PK\x03\x04") {
        xlsx_table(bytes).map_err(|e| EntryImportError { format, ..e })?
    } else {
        let text = text::utf8(bytes).map_err(|e| EntryImportError {
            format,
            row: None,
            column: None,
            message: format!("line {}, byte offset {}: {e}", e.line, e.offset),
        })?;
        Table::from_csv(text).map_err(|e| EntryImportError { format, ..e })?
    };
    let (format, detected) = match format {
        Some(f) => (f, false),
        None => (
            EntryFormat::detect(&table.header).ok_or_else(|| EntryImportError {
                format: None,
                row: Some(1),
                column: None,
                message: format!(
                    "can't tell the export from the header ({}); pass --format toggl, kimai, clockify or generic",
                    quoted(&table.header.join(","))
                ),
            })?,
            true,
        ),
    };
    let rows = parse_table(format, &table, zone)?;
    Ok(ParsedEntries {
        format,
        detected,
        rows,
    })
}

/// Reads text (CSV) in a known format; see [`parse_file`].
pub fn parse(format: EntryFormat, text: &str, zone: Tz) -> Result<Vec<EntryRow>, EntryImportError> {
    let table = Table::from_csv(text).map_err(|e| EntryImportError {
        format: Some(format),
        ..e
    })?;
    parse_table(format, &table, zone)
}

/// Reads a grid of cells in a known format.
pub fn parse_table(
    format: EntryFormat,
    table: &Table,
    zone: Tz,
) -> Result<Vec<EntryRow>, EntryImportError> {
    match format {
        EntryFormat::Toggl => toggl::LAYOUT.read(format, table, zone),
        EntryFormat::Clockify => clockify::LAYOUT.read(format, table, zone),
        EntryFormat::Kimai => kimai::LAYOUT.read(format, table, zone),
        EntryFormat::Generic => generic::read(table, zone),
    }
}

#[cfg(feature = "xlsx")]
fn xlsx_table(bytes: &[u8]) -> Result<Table, EntryImportError> {
    xlsx::table(bytes)
}

#[cfg(not(feature = "xlsx"))]
fn xlsx_table(_bytes: &[u8]) -> Result<Table, EntryImportError> {
    Err(EntryImportError {
        format: None,
        row: None,
        column: None,
        message: "this build reads no XLSX files; export CSV instead".into(),
    })
}

/// Column positions by header name; the first alias is the name messages use.
pub(crate) fn find(header: &[String], aliases: &[&str]) -> Option<usize> {
    header.iter().position(|h| {
        let h = strip_bom(h).trim();
        aliases.iter().any(|a| h.eq_ignore_ascii_case(a))
    })
}

/// The layout of the exports that split each time into a date and a time-of-day column
/// (Toggl, Clockify, Kimai). Each field lists the header names it is known under; an empty
/// list means the export has no such column.
pub(crate) struct SplitLayout {
    pub(crate) start_date: &'static [&'static str],
    pub(crate) start_time: &'static [&'static str],
    pub(crate) end_date: &'static [&'static str],
    pub(crate) end_time: &'static [&'static str],
    pub(crate) duration: &'static [&'static str],
    pub(crate) project: &'static [&'static str],
    pub(crate) client: &'static [&'static str],
    pub(crate) description: &'static [&'static str],
    pub(crate) tags: &'static [&'static str],
    pub(crate) billable: &'static [&'static str],
    /// A column whose value becomes one more tag (Kimai's activity).
    pub(crate) tag_column: &'static [&'static str],
}

/// One data row being read, for cell access and errors that name row and column.
struct Cells<'a> {
    format: EntryFormat,
    header: &'a [String],
    row: usize,
    cells: &'a [String],
}

impl Cells<'_> {
    fn get(&self, col: Option<usize>) -> &str {
        col.and_then(|c| self.cells.get(c)).map_or("", |s| s.trim())
    }

    fn fail(&self, col: usize, message: impl Into<String>) -> EntryImportError {
        EntryImportError {
            format: Some(self.format),
            row: Some(self.row),
            column: self.header.get(col).map(|h| strip_bom(h).trim().to_owned()),
            message: message.into(),
        }
    }

    fn text(&self, col: Option<usize>) -> Option<String> {
        Some(self.get(col).to_owned()).filter(|s| !s.is_empty())
    }

    fn billable(&self, col: Option<usize>) -> Result<Option<bool>, EntryImportError> {
        match col {
            Some(c) => cells::yes_no(self.get(col)).map_err(|m| self.fail(c, m)),
            None => Ok(None),
        }
    }

    /// The wall time of a date column and a time column; a time cell holding a whole date and
    /// time (some Kimai versions, spreadsheets) stands alone.
    fn wall(
        &self,
        date_col: usize,
        time_col: usize,
        order: SlashOrder,
    ) -> Result<NaiveDateTime, EntryImportError> {
        let time_text = self.get(Some(time_col));
        if let Some(whole) = cells::wall_datetime(time_text) {
            return Ok(whole);
        }
        let date_text = self.get(Some(date_col));
        if date_text.is_empty() {
            return Err(self.fail(date_col, "empty: a date is needed"));
        }
        let date = cells::date(date_text, order).ok_or_else(|| {
            self.fail(
                date_col,
                format!(
                    "{} is not a date (expected YYYY-MM-DD, DD.MM.YYYY or MM/DD/YYYY)",
                    quoted(date_text)
                ),
            )
        })?;
        if time_text.is_empty() {
            return Err(self.fail(time_col, "empty: a time of day is needed"));
        }
        let time = cells::time(time_text).ok_or_else(|| {
            self.fail(
                time_col,
                format!(
                    "{} is not a time of day (expected HH:MM[:SS] or h:MM AM/PM)",
                    quoted(time_text)
                ),
            )
        })?;
        Ok(date.and_time(time))
    }
}

/// The header lacks a column the format needs.
fn missing(format: EntryFormat, header: &[String], name: &str) -> EntryImportError {
    EntryImportError {
        format: Some(format),
        row: Some(1),
        column: Some(name.to_owned()),
        message: format!(
            "missing column (the header has {})",
            quoted(&header.join(","))
        ),
    }
}

/// Checks every export shares: order, length, and a date Tacho can hold.
fn check_span(
    c: &Cells<'_>,
    start: DateTime<Utc>,
    stop: DateTime<Utc>,
    start_col: usize,
    stop_col: usize,
) -> Result<(), EntryImportError> {
    if start.year() < 2000 {
        return Err(c.fail(start_col, format!("{start} is before the year 2000")));
    }
    if stop < start {
        return Err(c.fail(
            stop_col,
            format!("the entry ends ({stop}) before it starts ({start})"),
        ));
    }
    if stop - start > MAX_ENTRY {
        return Err(c.fail(
            stop_col,
            format!("the entry is longer than 24 hours ({start} to {stop})"),
        ));
    }
    Ok(())
}

impl SplitLayout {
    fn read(
        &self,
        format: EntryFormat,
        table: &Table,
        zone: Tz,
    ) -> Result<Vec<EntryRow>, EntryImportError> {
        let h = &table.header;
        let col = |aliases: &[&str]| find(h, aliases);
        let need = |aliases: &[&str]| {
            col(aliases).ok_or_else(|| missing(format, h, aliases.first().copied().unwrap_or("")))
        };
        let start_date = need(self.start_date)?;
        let start_time = need(self.start_time)?;
        let end_date = col(self.end_date);
        let end_time = col(self.end_time);
        let duration = col(self.duration);
        if end_time.is_none() && duration.is_none() {
            return Err(missing(
                format,
                h,
                self.end_time.first().copied().unwrap_or(""),
            ));
        }
        let (project, client, description, tags, billable, tag_column) = (
            col(self.project),
            col(self.client),
            col(self.description),
            col(self.tags),
            col(self.billable),
            col(self.tag_column),
        );
        let order = SlashOrder::of(table.rows.iter().flat_map(|(_, cells)| {
            [Some(start_date), end_date]
                .into_iter()
                .flatten()
                .filter_map(move |i| cells.get(i).map(String::as_str))
        }));

        let mut out = Vec::with_capacity(table.rows.len());
        for (row, cells) in &table.rows {
            let c = Cells {
                format,
                header: h,
                row: *row,
                cells,
            };
            let start_wall = c.wall(start_date, start_time, order)?;
            let start = cells::in_zone(start_wall, zone).map_err(|m| c.fail(start_time, m))?;
            let (stop, stop_col) = match end_time.filter(|&i| !c.get(Some(i)).is_empty()) {
                Some(et) => {
                    let stop_wall = match end_date.filter(|&i| !c.get(Some(i)).is_empty()) {
                        Some(ed) => c.wall(ed, et, order)?,
                        None => {
                            let mut wall = c.wall(start_date, et, order)?;
                            // Only a time of day: past midnight when it is before the start.
                            if wall < start_wall && cells::wall_datetime(c.get(Some(et))).is_none()
                            {
                                wall += TimeDelta::days(1);
                            }
                            wall
                        }
                    };
                    (
                        cells::in_zone(stop_wall, zone).map_err(|m| c.fail(et, m))?,
                        et,
                    )
                }
                None => {
                    let Some(d) = duration.filter(|&i| !c.get(Some(i)).is_empty()) else {
                        let et = end_time.or(duration).unwrap_or(start_time);
                        return Err(c.fail(
                            et,
                            "empty: no end time (a running timer can't be imported; stop it and export again)",
                        ));
                    };
                    let text = c.get(Some(d));
                    let length = cells::duration(text).ok_or_else(|| {
                        c.fail(
                            d,
                            format!("{} is not a duration (expected h:mm:ss)", quoted(text)),
                        )
                    })?;
                    (start + length, d)
                }
            };
            check_span(&c, start, stop, start_date, stop_col)?;
            let mut tag_list = cells::tags(c.get(tags));
            if let Some(extra) = c.text(tag_column) {
                tag_list.push(extra);
                tag_list.sort();
                tag_list.dedup();
            }
            out.push(EntryRow {
                row: *row,
                start,
                stop,
                project: c.text(project),
                client: c.text(client),
                description: c.get(description).to_owned(),
                tags: tag_list,
                billable: c.billable(billable)?,
            });
        }
        Ok(out)
    }
}
