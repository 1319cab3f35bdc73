//! Reports: the mileage log and the timesheet, as bytes or as a file to share.

use std::path::PathBuf;

use crate::api::error::{ApiError, ApiErrorKind};
use crate::api::session::TachoCore;
use crate::api::types::ReportFormat;
use crate::mapping;

impl TachoCore {
    /// The mileage log of one car (id, name or plate) for a period
    /// (`2026-03`, `2026`, or `2026-03-01..2026-03-31`).
    pub async fn mileage_report(
        &self,
        car: String,
        period: String,
        format: ReportFormat,
    ) -> Result<Vec<u8>, ApiError> {
        Ok(self
            .core
            .mileage_report(&car, &period, format.into())
            .await?)
    }

    /// The timesheet for a period, raw and rounded hours.
    pub async fn hours_report(
        &self,
        period: String,
        format: ReportFormat,
    ) -> Result<Vec<u8>, ApiError> {
        Ok(self.core.hours_report(&period, format.into()).await?)
    }

    /// Writes the mileage log into `dir` (e.g. the temporary directory) and
    /// returns the file's path, for the share sheet.
    pub async fn write_mileage_report(
        &self,
        car: String,
        period: String,
        format: ReportFormat,
        dir: String,
    ) -> Result<String, ApiError> {
        let bytes = self
            .core
            .mileage_report(&car, &period, format.into())
            .await?;
        let name = mapping::report_file_name("mileage", Some(&car), &period, format);
        write_report(dir, &name, &bytes)
    }

    /// Writes the timesheet into `dir` and returns the file's path.
    pub async fn write_hours_report(
        &self,
        period: String,
        format: ReportFormat,
        dir: String,
    ) -> Result<String, ApiError> {
        let bytes = self.core.hours_report(&period, format.into()).await?;
        let name = mapping::report_file_name("hours", None, &period, format);
        write_report(dir, &name, &bytes)
    }
}

/// Writes a rendered report (small; blocking is fine).
fn write_report(dir: String, name: &str, bytes: &[u8]) -> Result<String, ApiError> {
    let path = PathBuf::from(dir).join(name);
    std::fs::write(&path, bytes).map_err(|e| ApiError {
        kind: ApiErrorKind::Report,
        message: format!("can't write {}: {e}", path.display()),
    })?;
    Ok(path.to_string_lossy().into_owned())
}
