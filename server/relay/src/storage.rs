//! Storage: one sqlx `Any` pool over SQLite or PostgreSQL. Every query is written once in SQL both
//! engines accept; [`Backend`] is consulted only where they must differ (taking the space's write
//! lock, cross-instance notification, file-level setup).

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use rand::RngCore as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, AnyConnection, AnyPool, Row as _, SqlStr, Transaction};

/// The append-only schema migrations, embedded so the binary needs no files next to it.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (
        2,
        "materialised_state",
        include_str!("../migrations/0002_materialised_state.sql"),
    ),
    (
        3,
        "hooks_privacy",
        include_str!("../migrations/0003_hooks_privacy.sql"),
    ),
    (
        4,
        "secrets_zammad",
        include_str!("../migrations/0004_secrets_zammad.sql"),
    ),
    (
        5,
        "point_purge_without_index",
        include_str!("../migrations/0005_point_purge_without_index.sql"),
    ),
    (6, "oidc", include_str!("../migrations/0006_oidc.sql")),
    (7, "jobs", include_str!("../migrations/0007_jobs.sql")),
    (
        8,
        "connections",
        include_str!("../migrations/0008_connections.sql"),
    ),
    (
        9,
        "refusal_code",
        include_str!("../migrations/0009_refusal_code.sql"),
    ),
];

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
            create_sqlite_dir(url)?;
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
                .bind(crate::log::PG_CHANNEL)
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

/// Creates the directory of a `sqlite:` URL's file so a fresh machine starts without setup.
fn create_sqlite_dir(url: &str) -> std::io::Result<()> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.starts_with(":memory:") {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    Ok(())
}

/// Wall-clock Unix milliseconds, the unit of every stored time.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Whether a database error is a unique-constraint violation (a lost insert race).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}
