//! Report writers: turn the pure report maths of `tacho_model::report`
//! into CSV, XLSX or JSON bytes. The writers only format; every number is
//! computed in the model, so the three formats can never disagree.

mod csv_out;
mod xlsx_out;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tacho_model::report::{MileageLog, Timesheet};

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// Comma-separated values, one `kind` column first so sections can be
    /// told apart by any tool.
    Csv,
    /// An Excel workbook, for people and tax advisers.
    Xlsx,
    /// The model struct as pretty JSON, for machines.
    Json,
}

impl ReportFormat {
    /// File extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// A format name that is not csv, xlsx or json.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown report format `{0}` (expected csv, xlsx or json)")]
pub struct UnknownFormat(pub String);

impl FromStr for ReportFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "xlsx" => Ok(Self::Xlsx),
            "json" => Ok(Self::Json),
            _ => Err(UnknownFormat(s.chars().take(32).collect())),
        }
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The CSV writer failed.
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    /// Flushing the CSV buffer failed.
    #[error("writing CSV: {0}")]
    CsvFlush(#[source] std::io::Error),
    /// The XLSX writer failed.
    #[error("writing XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// A date Excel cannot show (before 1900 or after 9999).
    #[error("date {0} cannot be written to XLSX")]
    XlsxDate(String),
    /// JSON serialisation failed.
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Renders a mileage log.
pub fn render_mileage(log: &MileageLog, format: ReportFormat) -> Result<Vec<u8>, ReportError> {
    match format {
        ReportFormat::Csv => csv_out::mileage(log),
        ReportFormat::Xlsx => xlsx_out::mileage(log),
        ReportFormat::Json => json(log),
    }
}

/// Renders a timesheet.
pub fn render_timesheet(sheet: &Timesheet, format: ReportFormat) -> Result<Vec<u8>, ReportError> {
    match format {
        ReportFormat::Csv => csv_out::timesheet(sheet),
        ReportFormat::Xlsx => xlsx_out::timesheet(sheet),
        ReportFormat::Json => json(sheet),
    }
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, ReportError> {
    let mut out = serde_json::to_vec_pretty(value)?;
    out.push(b'\n');
    Ok(out)
}

/// "yes" / "no" for flags in text formats.
fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
