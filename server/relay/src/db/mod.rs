//! Storage: one sqlx `Any` pool over SQLite or PostgreSQL, its migrations, and (in
//! [`materialised`]) the typed view of the merged state. Every query is written once in SQL both
//! engines accept; [`Backend`] is consulted only where they must differ (taking the space's write
//! lock, cross-instance notification, file-level setup).

pub mod materialised;

use std::borrow::Cow;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use rand::RngCore as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, Row as _, SqlStr, Transaction};

/// The append-only schema migrations, embedded so the binary needs no files next to it.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (
        2,
        "materialised_state",
        include_str!("../../migrations/0002_materialised_state.sql"),
    ),
    (
        3,
        "hooks_privacy",
        include_str!("../../migrations/0003_hooks_privacy.sql"),
    ),
    (
        4,
        "secrets_zammad",
        include_str!("../../migrations/0004_secrets_zammad.sql"),
    ),
    (
        5,
        "point_purge_without_index",
        include_str!("../../migrations/0005_point_purge_without_index.sql"),
    ),
    (6, "oidc", include_str!("../../migrations/0006_oidc.sql")),
    (7, "jobs", include_str!("../../migrations/0007_jobs.sql")),
    (
        8,
        "connections",
        include_str!("../../migrations/0008_connections.sql"),
    ),
    (
        9,
        "op_ids_per_space",
        include_str!("../../migrations/0009_op_ids_per_space.sql"),
    ),
    (
        10,
        "refusal_code",
        include_str!("../../migrations/0010_refusal_code.sql"),
    ),
    (
        11,
        "device_revocation",
        include_str!("../../migrations/0011_device_revocation.sql"),
    ),
    (
        12,
        "device_sign_out",
        include_str!("../../migrations/0012_device_sign_out.sql"),
    ),
    (
        13,
        "device_last_push",
        include_str!("../../migrations/0013_device_last_push.sql"),
    ),
    (
        14,
        "connectors",
        include_str!("../../migrations/0014_connectors.sql"),
    ),
];

/// PostgreSQL channel on which instances announce pushes (`<space>:<head>`); `sync::listen`
/// subscribes to it.
pub const PG_CHANNEL: &str = "tacho_push";

/// The settings key of the access-token signing key (base64 of 32 random bytes).
const TOKEN_KEY: &str = "token_signing_key";

/// Which engine a database URL points at; decides the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (the default), in WAL mode.
    Sqlite,
    /// A PostgreSQL server, which also lets several relay instances share one log.
    Postgres,
}

impl Backend {
    /// Reads the engine from a URL scheme; anything else is a configuration error.
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            Err(StorageError::UnsupportedUrl)
        }
    }
}

/// Why storage could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL is neither `sqlite:` nor `postgres://`.
    #[error("unsupported database URL (expected sqlite:… or postgres://…)")]
    UnsupportedUrl,
    /// The database answered with an error.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// Applying the schema failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The directory for the SQLite file could not be created.
    #[error("creating the database directory: {0}")]
    Io(#[from] std::io::Error),
    /// The SQLite file (or its `-wal`/`-shm`/`-journal`) could not be created or inspected.
    #[error("{action} {}: {source}", path.display())]
    File {
        /// What was being done, e.g. "creating the database file".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The SQLite file (or a file beside it) is open to other local users, who could read the
    /// token-signing key and the password hashes; the relay refuses to start on it.
    #[error(
        "the relay database {} is readable or writable by other users (mode {mode:03o}); it \
         holds the token-signing key and the password hashes. Make it private with \
         `{fix}` and start again",
        path.display()
    )]
    Exposed {
        /// The first file found open to others.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The command that makes every such file private: `chmod 600 PATH…`.
        fix: String,
    },
}

/// A connection pool plus the engine it talks to. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    /// The shared pool; all portable queries run on it.
    pub pool: AnyPool,
    /// The engine behind the pool.
    pub backend: Backend,
    /// The URL it was opened with (the PostgreSQL listener opens its own connection).
    pub url: String,
    /// SQLite allows one writer per file, so write transactions get their own pool of one
    /// connection: writers queue for it in order instead of spinning in SQLite's busy handler
    /// (sleep and retry, which left the disk idle and added seconds under contention), and they
    /// never wait behind long-poll reads for a connection of the shared pool. `None` on
    /// PostgreSQL, whose row locks queue writers themselves.
    writer: Option<AnyPool>,
}

/// A write transaction (see [`Db::begin_write`]).
pub type WriteTx = Transaction<'static, Any>;

impl Db {
    /// Opens (creating if needed) and migrates the database at `url`.
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        if backend == Backend::Sqlite {
            prepare_sqlite_file(url)?;
        }
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        if backend == Backend::Sqlite {
            // WAL lets readers (long-polls) proceed while a push writes; it is a property of the
            // file, so setting it once per start is enough.
            sqlx::query("PRAGMA journal_mode = WAL")
                .fetch_optional(&pool)
                .await?;
        }
        let writer = match backend {
            Backend::Sqlite => Some(
                AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(AnyConnectOptions::from_str(url)?)
                    .await?,
            ),
            Backend::Postgres => None,
        };
        let db = Self {
            pool,
            backend,
            url: url.to_owned(),
            writer,
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), StorageError> {
        let migrations = MIGRATIONS
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*name),
                    MigrationType::Simple,
                    SqlStr::from_static(sql),
                    false,
                )
            })
            .collect();
        // On PostgreSQL the migrator takes an advisory lock, so instances starting together
        // apply the schema once.
        Migrator::with_migrations(migrations)
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// Starts a transaction that will write. On SQLite it runs on the one writer connection and
    /// takes the write lock up front (`BEGIN IMMEDIATE`), so a read-then-write can't fail with
    /// `SQLITE_BUSY` when upgrading; PostgreSQL needs nothing special.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        match &self.writer {
            Some(writer) => writer.begin_with("BEGIN IMMEDIATE").await,
            None => self.pool.begin().await,
        }
    }

    /// Starts a transaction that already holds the write lock on `space_id`, so pushes to one
    /// space are serialised and `seq`s are handed out gap-free. Returns the space's head.
    ///
    /// SQLite has no row locks: `BEGIN IMMEDIATE` takes the database write lock up front (waiting
    /// on the busy timeout) instead of failing on upgrade later. PostgreSQL locks the row.
    pub async fn begin_space_write(&self, space_id: &str) -> Result<(WriteTx, i64), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let sql = match self.backend {
            Backend::Sqlite => "SELECT head FROM spaces WHERE id = $1",
            Backend::Postgres => "SELECT head FROM spaces WHERE id = $1 FOR UPDATE",
        };
        let row = sqlx::query(sql).bind(space_id).fetch_one(&mut *tx).await?;
        let head: i64 = row.try_get("head")?;
        Ok((tx, head))
    }

    /// Queues a cross-instance wake-up for pulls on `space_id`; PostgreSQL delivers it when `tx`
    /// commits. A no-op on SQLite, where only one process can serve the file anyway.
    pub async fn notify_push(
        &self,
        conn: &mut AnyConnection,
        space_id: &str,
        head: i64,
    ) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(PG_CHANNEL)
                .bind(format!("{space_id}:{head}"))
                .execute(conn)
                .await?;
        }
        Ok(())
    }

    /// Answers whether the database responds at all (`/readyz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// The key that signs access tokens. Made on first start and kept in the database, so
    /// restarts and every instance sharing the database accept each other's tokens.
    pub async fn token_key(&self) -> Result<Vec<u8>, sqlx::Error> {
        let mut fresh = [0_u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        let b64 = base64::engine::general_purpose::STANDARD;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(TOKEN_KEY)
        .bind(b64.encode(fresh))
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(TOKEN_KEY)
            .fetch_one(&self.pool)
            .await?;
        let value: String = row.try_get("value")?;
        b64.decode(value.as_bytes())
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }
}

/// The file a `sqlite:` URL names, or `None` for an in-memory database. `mode=ro` URLs are
/// returned with `create = false`.
fn sqlite_file(url: &str) -> Result<Option<(PathBuf, bool)>, StorageError> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    let mode = params
        .split('&')
        .find_map(|kv| kv.strip_prefix("mode="))
        .unwrap_or("");
    if database.is_empty() || database == ":memory:" || mode == "memory" {
        return Ok(None);
    }
    // sqlx's own parser, so the file checked here is the file sqlx opens (percent-decoding).
    let options = SqliteConnectOptions::from_str(url)?;
    Ok(Some((options.get_filename().to_path_buf(), mode != "ro")))
}

/// Makes a `sqlite:` URL's file ready to open, so a fresh machine starts without setup and
/// the file is private from its first byte: missing directories are created `0700`, a missing
/// file `0600` (SQLite gives its `-wal`, `-shm` and `-journal` the database file's mode), so a
/// URL without `?mode=rwc` works too. An existing file (or one beside it) that group or others
/// may read or write is refused with the `chmod` that fixes it: the file holds the
/// token-signing key and the password hashes. Modes are set explicitly, whatever the umask.
fn prepare_sqlite_file(url: &str) -> Result<(), StorageError> {
    let Some((path, create)) = sqlite_file(url)? else {
        return Ok(());
    };
    if create {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_fs::create_dirs(dir).map_err(|source| StorageError::File {
                action: "creating the database directory",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let created = private_fs::create_file(&path).map_err(|source| StorageError::File {
            action: "creating the database file",
            path: path.clone(),
            source,
        })?;
        if created {
            return Ok(());
        }
    }
    let exposed = private_fs::exposed(&path).map_err(|source| StorageError::File {
        action: "reading the permissions of",
        path: path.clone(),
        source,
    })?;
    match exposed.first() {
        None => Ok(()),
        Some((first, mode)) => Err(StorageError::Exposed {
            path: first.clone(),
            mode: *mode,
            fix: format!(
                "chmod 600 {}",
                exposed
                    .iter()
                    .map(|(p, _)| private_fs::shell_quote(p))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        }),
    }
}

/// Files and directories only their owner may use.
mod private_fs {
    use std::path::{Path, PathBuf};

    /// The files SQLite keeps beside a database.
    const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

    /// Creates `dir` and its missing parents, each new one `0700` (existing ones are left as
    /// they are).
    pub(super) fn create_dirs(dir: &Path) -> std::io::Result<()> {
        let mut missing = Vec::new();
        let mut at = Some(dir);
        while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            missing.push(d.to_path_buf());
            at = d.parent();
        }
        for d in missing.iter().rev() {
            match std::fs::create_dir(d) {
                Ok(()) => set_mode(d, 0o700)?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Creates `path` empty with mode `0600` unless it exists; `true` if it made it.
    pub(super) fn create_file(path: &Path) -> std::io::Result<bool> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(_) => {
                // The umask only ever removes bits, but set the mode explicitly all the same.
                set_mode(path, 0o600)?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The database file and those beside it that group or others may use, with their modes.
    #[cfg(unix)]
    pub(super) fn exposed(path: &Path) -> std::io::Result<Vec<(PathBuf, u32)>> {
        use std::os::unix::fs::PermissionsExt as _;
        let mut out = Vec::new();
        let mut candidates = vec![path.to_path_buf()];
        for suffix in COMPANIONS {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            candidates.push(PathBuf::from(name));
        }
        for file in candidates {
            match std::fs::metadata(&file) {
                Ok(meta) => {
                    let mode = meta.permissions().mode() & 0o777;
                    if mode & 0o077 != 0 {
                        out.push((file, mode));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Without Unix modes there is nothing to check.
    #[cfg(not(unix))]
    pub(super) fn exposed(_path: &Path) -> std::io::Result<Vec<(PathBuf, u32)>> {
        let _ = COMPANIONS;
        Ok(Vec::new())
    }

    #[cfg(unix)]
    fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }

    #[cfg(not(unix))]
    fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
        Ok(())
    }

    /// `path` as one shell word (single-quoted unless it is plain).
    pub(super) fn shell_quote(path: &Path) -> String {
        let text = path.display().to_string();
        if !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c))
        {
            text
        } else {
            format!("'{}'", text.replace('\'', "'\\''"))
        }
    }
}

/// Wall-clock Unix milliseconds, the unit of every stored time.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Formats stored Unix milliseconds as RFC 3339 UTC, the form answers carry.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Whether a database error is a unique-constraint violation (a lost insert race).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}
