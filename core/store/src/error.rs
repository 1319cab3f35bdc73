//! The store's error type and the corrupt-file quarantine.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// Everything that can go wrong in the store, typed so callers can map each
/// case to a clear message or status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file was unreadable and has been moved aside.
    #[error(
        "the database {path} is corrupt and was moved aside to {quarantined}; \
         nothing was deleted, and a new empty database will be created on the next start"
    )]
    Corrupt {
        /// The original location.
        path: PathBuf,
        /// Where the file was moved.
        quarantined: PathBuf,
    },
    /// The file was written by a newer build.
    #[error(
        "the database was written by a newer Tacho (schema version {found}; this build knows up to {known}); update Tacho"
    )]
    TooNew {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// The entity does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Entity kind, e.g. "trip".
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The change falls in a locked period.
    #[error("the period {month} is locked; changes to it are refused (unlocking is not supported)")]
    Locked {
        /// The locked month, `YYYY-MM`.
        month: String,
    },
    /// The request breaks a rule of the data model.
    #[error("{message}")]
    Invalid {
        /// What is wrong, for people.
        message: String,
    },
    /// A value breaks the field schema every replica and the relay share
    /// (`tacho_model::schema`); the error names the entity and the field. Refused before
    /// anything is written, so the store never records an op the relay would refuse.
    #[error("{0}")]
    InvalidOp(#[from] tacho_model::merge::InvalidOp),
    /// The request conflicts with the current state.
    #[error("{message}")]
    Conflict {
        /// What conflicts, for people.
        message: String,
    },
    /// A project or car that entries, trips or readings still refer to can't be deleted:
    /// they would point at nothing. It can be archived (retired) instead.
    #[error("{}", in_use_message(kind, name, uses, instead))]
    InUse {
        /// `project` or `car`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// What refers to it: (count, singular, plural), e.g. `(12, "time entry", "time entries")`.
        uses: Vec<(u64, &'static str, &'static str)>,
        /// What to do instead: `archive` or `retire`.
        instead: &'static str,
    },
    /// A file-system error.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database file is open to other users and could not be made private.
    #[error(
        "the database {} is readable or writable by other users (mode {mode:03o}) and could not \
         be made private ({source}); it holds your relay session. Run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// Why changing them failed.
        source: std::io::Error,
    },
    /// A stored value could not be decoded.
    #[error("stored data is unreadable: {0}")]
    Decode(String),
    /// Any other SQLite error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

fn in_use_message(
    kind: &str,
    name: &str,
    uses: &[(u64, &'static str, &'static str)],
    instead: &str,
) -> String {
    let uses: Vec<String> = uses
        .iter()
        .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
        .collect();
    format!(
        "{kind} `{name}` is used by {}; {instead} it instead",
        uses.join(" and ")
    )
}

impl StoreError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
        }
    }

    pub(crate) fn not_found(kind: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::Decode(e.to_string())
    }
}

pub(crate) fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// Moves the database and its WAL/SHM side files aside; returns the new path.
pub(crate) fn quarantine(path: &Path, cause: &rusqlite::Error) -> Result<PathBuf, StoreError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut target = PathBuf::from(format!("{}.corrupt-{stamp}", path.display()));
    let mut n = 1;
    while target.exists() {
        target = PathBuf::from(format!("{}.corrupt-{stamp}-{n}", path.display()));
        n += 1;
    }
    std::fs::rename(path, &target).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    for side in ["-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{side}", path.display()));
        if from.exists() {
            let to = PathBuf::from(format!("{}{side}", target.display()));
            std::fs::rename(&from, &to).map_err(|source| StoreError::Io { path: from, source })?;
        }
    }
    tracing::error!(path = %path.display(), moved_to = %target.display(), error = %cause, "database is corrupt; quarantined");
    Ok(target)
}
