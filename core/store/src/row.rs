//! Conversions between domain values and SQLite columns.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::StoreError;

/// Instants are stored as integer milliseconds since the Unix epoch (UTC).
pub(crate) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| conversion(format!("bad instant {ms}")))
}

pub(crate) fn opt_from_ms(ms: Option<i64>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    ms.map(from_ms).transpose()
}

pub(crate) fn date(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

pub(crate) fn parse_date(s: Option<String>) -> rusqlite::Result<Option<NaiveDate>> {
    s.map(|s| {
        NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map_err(|e| conversion(format!("bad date {s}: {e}")))
    })
    .transpose()
}

pub(crate) fn parse<T: std::str::FromStr>(s: &str) -> rusqlite::Result<T> {
    s.parse::<T>()
        .map_err(|_| conversion(format!("bad stored value `{s}`")))
}

/// Enums are stored by their serde (snake_case) name.
pub(crate) fn enum_str<T: Serialize>(value: &T) -> Result<String, StoreError> {
    match serde_json::to_value(value)? {
        serde_json::Value::String(s) => Ok(s),
        other => Ok(other.to_string()),
    }
}

pub(crate) fn enum_from<T: DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| conversion(format!("bad stored value `{s}`: {e}")))
}

pub(crate) fn conversion(message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(std::io::Error::other(message)),
    )
}
