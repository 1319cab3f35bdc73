//! The domain error of the relay's services. Services say what went wrong ([`Kind`]) and with
//! which stable code clients match on; only the HTTP edge (`http::error`) turns that into a
//! status, once, so a service called from a job or another service never speaks HTTP.

use serde_json::{Map, Value};
use tacho_model::api::{TextError, code};

/// What kind of failure a [`ServiceError`] is; the edge maps each to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request is malformed in a way the caller can fix (a token in the query string).
    BadRequest,
    /// The caller could not be identified (no, bad, expired or revoked credentials).
    Unauthenticated,
    /// The caller is known but may not do this.
    Forbidden,
    /// No such thing, or not the caller's.
    NotFound,
    /// Clashes with what is stored (a sequence gap, a taken id, no running trip).
    Conflict,
    /// More than one request may carry.
    TooLarge,
    /// Well-formed, but refused by a rule (an invalid op, a weak password).
    Invalid,
    /// A service the relay depends on (an OpenID provider) failed.
    Upstream,
    /// Something the relay needs is not there (storage down, no master key).
    Unavailable,
    /// The relay's own fault; the cause is logged, never shown.
    Internal,
}

/// A failure of a relay service: a [`Kind`], a stable snake_case `code`, a message for people
/// and extra fields for the answer body (e.g. `expected_seq`).
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ServiceError {
    /// What kind of failure.
    pub kind: Kind,
    /// Stable code clients match on.
    pub code: &'static str,
    /// Explanation for people.
    pub message: String,
    /// Extra fields for the answer body.
    pub extra: Map<String, Value>,
}

impl ServiceError {
    /// An error with no extra fields.
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// Adds an extra field to the body.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// [`Kind::Unauthenticated`] with the given code.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Unauthenticated, code, message)
    }

    /// [`Kind::Invalid`] with the given code.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Invalid, code, message)
    }

    /// Failures that are ours, logged with their cause but not shown to clients.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(Kind::Internal, "internal", "internal error")
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(err: sqlx::Error) -> Self {
        // A safety net behind `tacho_model::api::check_text`: PostgreSQL refuses U+0000 in text
        // (SQLSTATE 22021, "invalid byte sequence for encoding UTF8: 0x00") where SQLite takes
        // it. Text reaching the database unchecked is refused as the client's fault, never 500.
        if let sqlx::Error::Database(db) = &err
            && db.code().as_deref() == Some("22021")
        {
            tracing::warn!(cause = %db, "text the database can't store reached it unchecked");
            return Self::invalid(
                code::INVALID_TEXT,
                "the request holds text with a control character that can't be stored",
            );
        }
        Self::internal(err)
    }
}

impl From<TextError> for ServiceError {
    /// `invalid_text` or `text_too_long`, with the `field` (and `max_length`).
    fn from(err: TextError) -> Self {
        let message = err.to_string();
        match err {
            TextError::Control { field, .. } => {
                Self::invalid(code::INVALID_TEXT, message).with("field", field)
            }
            TextError::TooLong { field, max, .. } => Self::invalid(code::TEXT_TOO_LONG, message)
                .with("field", field)
                .with("max_length", max),
        }
    }
}

/// Shorthand for service results.
pub type ServiceResult<T> = Result<T, ServiceError>;
