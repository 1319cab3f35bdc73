//! Printing results for people (tables) and scripts (`--json`).

use std::io::Write as _;

use serde::Serialize;
use tacho_core::CoreError;

/// Stdout was closed by its reader (`tacho trip list | head -1`): the command ends quietly,
/// with exit status 0, like other Unix tools (no panic, no message).
#[derive(Debug)]
pub struct StdoutClosed;

impl std::error::Error for StdoutClosed {}

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

/// `println!` that returns an error instead of panicking when stdout is gone.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}
pub(crate) use out;

/// Writes one line to stdout; see [`out!`].
pub fn write_line(args: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_fmt(args)
        .and_then(|()| stdout.write_all(b"\n"))
        .map_err(stdout_error)
}

/// Writes bytes to stdout and flushes (reports).
pub fn write_bytes(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(stdout_error)
}

/// Flushes stdout (before waiting for something).
pub fn flush() -> anyhow::Result<()> {
    std::io::stdout().flush().map_err(stdout_error)
}

/// A closed pipe becomes [`StdoutClosed`]; any other write error is reported.
fn stdout_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        StdoutClosed.into()
    } else {
        anyhow::Error::new(e).context("writing to standard output")
    }
}

/// Prints `value` as pretty JSON.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    out!("{}", serde_json::to_string_pretty(value)?)
}

/// Prints an error on stderr: `error: …` or, with `--json`, `{"error":{code,message}}`.
pub fn print_error(err: &anyhow::Error, as_json: bool) {
    if as_json {
        let code = match err.downcast_ref::<CoreError>() {
            Some(CoreError::BadInput { .. }) => "bad_input",
            Some(CoreError::Import(_)) => "bad_import_file",
            Some(CoreError::NotFound { .. }) => "not_found",
            Some(CoreError::Conflict { .. }) => "conflict",
            Some(CoreError::InUse { .. }) => "in_use",
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
