//! The one error type foreign code sees.
//!
//! It mirrors `tacho_core::CoreError` category by category so a Swift
//! `catch TachoError.LockedPeriod` or a Python `except TachoError.BadInput`
//! can act on the kind of failure, and adds [`TachoError::Internal`] for what
//! only the FFI layer can hit (a task that panicked, a runtime that could not
//! start). Every variant carries words for people; none carries a Rust type.

use tacho_core::CoreError;

/// What went wrong, in categories an app can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum TachoError {
    /// The input was refused (a bad id string, a timestamp out of range, a
    /// NaN coordinate, an unknown time zone); `reason` says why. Fix the input.
    #[error("{reason}")]
    BadInput {
        /// Why the input was refused.
        reason: String,
    },
    /// Something asked for does not exist; reload the list.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Entity kind, e.g. `trip`.
        kind: String,
        /// The id, prefix or name asked for.
        id: String,
    },
    /// The request conflicts with the current state (no timer running, a trip
    /// still recording); show the reason.
    #[error("{reason}")]
    Conflict {
        /// What conflicts.
        reason: String,
    },
    /// A project or car still used by entries or trips can't be deleted:
    /// archive the project or retire the car instead. `reason` says so in
    /// words for people.
    #[error("{reason}")]
    InUse {
        /// `project` or `car`.
        kind: String,
        /// Its name.
        name: String,
        /// How many entries, trips and readings refer to it.
        count: u64,
        /// The sentence for people.
        reason: String,
    },
    /// The change falls in a locked month; the mileage log is closed there.
    #[error("the period {month} is locked; changes to it are refused")]
    LockedPeriod {
        /// The locked month, `YYYY-MM`.
        month: String,
    },
    /// Signing in failed or the session is gone: ask the person to sign in
    /// again (or the phone to hand over a new device session).
    #[error("{reason}")]
    Auth {
        /// What happened.
        reason: String,
    },
    /// The relay could not be reached or answered unexpectedly; retry later.
    /// Local data is unaffected.
    #[error("network: {reason}")]
    Network {
        /// What happened.
        reason: String,
    },
    /// The database (or a report file) could not be used; nothing was changed.
    #[error("{reason}")]
    Storage {
        /// What happened.
        reason: String,
    },
    /// An import file was malformed; nothing from it was stored.
    #[error("import failed: {reason}")]
    Import {
        /// What was wrong with the file.
        reason: String,
    },
    /// A report could not be rendered.
    #[error("report failed: {reason}")]
    Report {
        /// What happened.
        reason: String,
    },
    /// A bug or a shutdown inside the bindings (a task panicked or was
    /// cancelled because the core was closed). Worth reporting.
    #[error("internal error: {reason}")]
    Internal {
        /// What happened.
        reason: String,
    },
}

impl TachoError {
    /// A [`TachoError::BadInput`] with `reason`.
    pub(crate) fn bad_input(reason: impl Into<String>) -> Self {
        Self::BadInput {
            reason: reason.into(),
        }
    }
}

impl From<CoreError> for TachoError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::BadInput { reason } => Self::BadInput { reason },
            CoreError::NotFound { kind, id } => Self::NotFound { kind, id },
            CoreError::Conflict { reason } => Self::Conflict { reason },
            CoreError::InUse {
                kind,
                name,
                count,
                reason,
            } => Self::InUse {
                kind,
                name,
                count,
                reason,
            },
            CoreError::LockedPeriod { month } => Self::LockedPeriod { month },
            CoreError::Storage { reason } => Self::Storage { reason },
            CoreError::Import(e) => Self::Import {
                reason: e.to_string(),
            },
            CoreError::Auth { reason } => Self::Auth { reason },
            CoreError::Network { reason } => Self::Network { reason },
            CoreError::Report { reason } => Self::Report { reason },
        }
    }
}

impl From<tokio::task::JoinError> for TachoError {
    /// A task on the core's runtime did not finish: it panicked (a bug; the
    /// panic stays on the Rust side instead of unwinding into Swift) or the
    /// runtime shut down because the `Core` was released.
    fn from(e: tokio::task::JoinError) -> Self {
        let reason = if e.is_cancelled() {
            "the call was cancelled because the core was closed".to_owned()
        } else {
            format!("a core task panicked: {e}")
        };
        Self::Internal { reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_error_keeps_its_category_and_words() {
        let cases = [
            (
                CoreError::BadInput { reason: "r".into() },
                TachoError::BadInput { reason: "r".into() },
            ),
            (
                CoreError::NotFound {
                    kind: "trip".into(),
                    id: "x".into(),
                },
                TachoError::NotFound {
                    kind: "trip".into(),
                    id: "x".into(),
                },
            ),
            (
                CoreError::Conflict { reason: "c".into() },
                TachoError::Conflict { reason: "c".into() },
            ),
            (
                CoreError::InUse {
                    kind: "project".into(),
                    name: "ACME".into(),
                    count: 3,
                    reason: "u".into(),
                },
                TachoError::InUse {
                    kind: "project".into(),
                    name: "ACME".into(),
                    count: 3,
                    reason: "u".into(),
                },
            ),
            (
                CoreError::LockedPeriod {
                    month: "2026-03".into(),
                },
                TachoError::LockedPeriod {
                    month: "2026-03".into(),
                },
            ),
            (
                CoreError::Storage { reason: "s".into() },
                TachoError::Storage { reason: "s".into() },
            ),
            (
                CoreError::Auth { reason: "a".into() },
                TachoError::Auth { reason: "a".into() },
            ),
            (
                CoreError::Network { reason: "n".into() },
                TachoError::Network { reason: "n".into() },
            ),
            (
                CoreError::Report { reason: "p".into() },
                TachoError::Report { reason: "p".into() },
            ),
        ];
        for (core, expected) in cases {
            let shown = core.to_string();
            let mapped = TachoError::from(core);
            assert_eq!(mapped, expected);
            // The words people see survive the mapping.
            assert!(
                mapped
                    .to_string()
                    .contains(shown.trim_start_matches("network: "))
            );
        }
    }

    #[allow(clippy::panic)] // the panic is the point of the test
    fn explode() -> u8 {
        panic!("boom")
    }

    #[tokio::test]
    async fn a_panicking_task_becomes_an_internal_error() {
        let joined = tokio::spawn(async { explode() }).await;
        let Err(e) = joined else {
            unreachable!("the task panicked")
        };
        let mapped = TachoError::from(e);
        assert!(
            matches!(&mapped, TachoError::Internal { reason } if reason.contains("panicked")),
            "{mapped:?}"
        );
    }
}
