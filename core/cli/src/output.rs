//! Printing results for people (tables) and scripts (`--json`).

use serde::Serialize;
use tacho_core::CoreError;

/// Prints `value` as pretty JSON.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints an error on stderr: `error: …` or, with `--json`, `{"error":{code,message}}`.
pub fn print_error(err: &anyhow::Error, as_json: bool) {
    if as_json {
        let code = match err.downcast_ref::<CoreError>() {
            Some(CoreError::BadInput { .. }) => "bad_input",
            Some(CoreError::Import(_)) => "bad_import_file",
            Some(CoreError::NotFound { .. }) => "not_found",
            Some(CoreError::Conflict { .. }) => "conflict",
            Some(CoreError::LockedPeriod { .. }) => "locked_period",
            Some(CoreError::Storage { .. }) => "storage",
            Some(CoreError::Report { .. }) => "report",
            Some(CoreError::Auth { .. }) => "auth",
            Some(CoreError::Network { .. }) => "network",
            None if err.downcast_ref::<crate::args::InputError>().is_some() => "bad_input",
            None => "error",
        };
        let body = serde_json::json!({ "error": { "code": code, "message": format!("{err:#}") } });
        eprintln!("{body}");
    } else {
        eprintln!("error: {err:#}");
    }
}

/// Kilometres with one decimal from metres.
pub fn km(metres: f64) -> String {
    format!("{:.1} km", metres / 1000.0)
}

/// A short id for tables: the random tail of the UUIDv7 (its head is a
/// timestamp shared by ids made close together). Commands accept it, a
/// unique prefix, or the full id.
pub fn short(id: impl ToString) -> String {
    let id = id.to_string();
    id[id.len().saturating_sub(8)..].to_owned()
}

/// Hours:minutes from seconds.
pub fn hm(seconds: i64) -> String {
    let m = seconds.max(0) / 60;
    format!("{}:{:02}", m / 60, m % 60)
}
