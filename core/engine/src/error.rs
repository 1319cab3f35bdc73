//! The one error type callers of the core see: small, stable, and mapped
//! from the store's and the model's internal errors.

use tacho_store::StoreError;

/// What went wrong, in categories a UI or the FFI layer can act on.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The input was refused; `reason` says why in words for people.
    #[error("{reason}")]
    BadInput {
        /// Why the input was refused.
        reason: String,
    },
    /// Something asked for does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Entity kind.
        kind: String,
        /// The id or name asked for.
        id: String,
    },
    /// The request conflicts with the current state (e.g. a timer already runs).
    #[error("{reason}")]
    Conflict {
        /// What conflicts.
        reason: String,
    },
    /// A project or car that entries or trips still use can't be deleted; `reason` says
    /// how many use it and what to do instead (archive a project, retire a car).
    #[error("{reason}")]
    InUse {
        /// `project` or `car`.
        kind: String,
        /// Its name.
        name: String,
        /// How many entries, trips and readings refer to it.
        count: u64,
        /// The sentence for people, e.g. "project `X` is used by 12 time entries; archive
        /// it instead".
        reason: String,
    },
    /// The change falls in a locked period.
    #[error("the period {month} is locked; changes to it are refused")]
    LockedPeriod {
        /// The locked month, `YYYY-MM`.
        month: String,
    },
    /// The database could not be used; stored data was not changed.
    #[error("{reason}")]
    Storage {
        /// What happened.
        reason: String,
    },
    /// An import file was malformed; nothing from it was stored.
    #[error("import failed, nothing was imported: {0}")]
    Import(tacho_model::import::ImportError),
    /// Signing in failed or the session is gone; sign in again.
    #[error("{reason}")]
    Auth {
        /// What happened.
        reason: String,
    },
    /// The relay could not be reached or answered unexpectedly; try again later.
    #[error("network: {reason}")]
    Network {
        /// What happened.
        reason: String,
    },
    /// A report could not be written.
    #[error("report failed: {reason}")]
    Report {
        /// What happened.
        reason: String,
    },
}

impl CoreError {
    pub(crate) fn bad_input(reason: impl Into<String>) -> Self {
        Self::BadInput {
            reason: reason.into(),
        }
    }
}

// Not `#[from]`: that would also make the ImportError the error's source and
// print its message twice in `{:#}` chains.
impl From<tacho_model::import::ImportError> for CoreError {
    fn from(e: tacho_model::import::ImportError) -> Self {
        Self::Import(e)
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid { message } => Self::BadInput { reason: message },
            StoreError::InvalidOp(e) => Self::BadInput {
                reason: e.to_string(),
            },
            StoreError::NotFound { kind, id } => Self::NotFound {
                kind: kind.into(),
                id,
            },
            StoreError::Conflict { message } => Self::Conflict { reason: message },
            StoreError::Locked { month } => Self::LockedPeriod { month },
            e @ StoreError::InUse { .. } => {
                let reason = e.to_string();
                match e {
                    StoreError::InUse {
                        kind, name, uses, ..
                    } => Self::InUse {
                        kind: kind.into(),
                        name,
                        count: uses.iter().map(|(n, ..)| n).sum(),
                        reason,
                    },
                    _ => Self::Conflict { reason },
                }
            }
            other => Self::Storage {
                reason: other.to_string(),
            },
        }
    }
}

/// Result alias for core operations.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
