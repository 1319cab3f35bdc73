//! The one error type Dart sees, mapped from `tacho_core::CoreError`.

use std::fmt;

/// What kind of failure happened, so the UI can react (ask to sign in
/// again, show a retry, highlight a field) without parsing messages.
/// Mirrors `tacho_core::CoreError`'s variants one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// The input was refused (a bad id, time, number or value); fix and retry.
    BadInput,
    /// The trip, car, place or project asked for does not exist.
    NotFound,
    /// The request conflicts with the current state (no timer running, a
    /// trip still recording, a duplicate name).
    Conflict,
    /// A project or car still used by entries or trips can't be deleted:
    /// archive the project or retire the car instead (the message says how
    /// many use it).
    InUse,
    /// The change falls in a locked month and was refused.
    LockedPeriod,
    /// The database could not be used; nothing was changed.
    Storage,
    /// An import file was malformed; nothing was imported.
    Import,
    /// Not signed in, or the session is gone: sign in again.
    Auth,
    /// The relay could not be reached or answered unexpectedly; retry later.
    Network,
    /// A report could not be rendered or written.
    Report,
}

/// An error from any call, thrown as an exception on the Dart side.
/// A plain struct rather than a data-carrying enum so the generated Dart is
/// an ordinary class (no `freezed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The category, for deciding what to do.
    pub kind: ApiErrorKind,
    /// A sentence for people, from the core.
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ApiError {}
