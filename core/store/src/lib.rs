//! Tacho's local store: one SQLite file per device (WAL mode), append-only
//! migrations, and an outbox that records every domain write as an
//! [`Op`](tacho_model::op::Op) in the same transaction.
//!
//! Reads are methods on [`Store`]; writes go through [`Store::write`], which
//! hands a [`Writer`] to a closure and commits everything it did, domain rows
//! and outbox ops together, or nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use tacho_model::clock::Clock;
use tacho_model::hlc::{Hlc, HlcClock};
use tacho_model::id::DeviceId;

mod cars;
mod connector;
mod edit;
mod error;
mod lineage;
mod outbox;
mod places;
mod private;
mod recorder;
mod row;
mod schema;
mod sync;
mod tables;
mod trips;
mod work;

pub use edit::{CarChange, EntryChange, PlaceChange, ProjectChange};
pub use error::StoreError;
pub use lineage::SplitAt;
pub use outbox::OutboxEntry;
pub use recorder::RecorderState;
pub use schema::{SCHEMA_VERSION, migrate_partially, schema_fingerprint};
pub use sync::{Applied, ParkedOp, SyncSession};
pub use trips::{TripFilter, TripPoint};
pub use work::EntryFilter;

/// Result alias for store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open local database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    device: DeviceId,
    hlc: HlcClock,
    next_seq: u64,
    clock: Arc<dyn Clock>,
    time_zone: String,
}

impl Store {
    /// Opens (creating or migrating as needed) the database at `path`.
    ///
    /// The file is private to its owner (it holds the relay session's tokens): a new one and
    /// new directories are made `0600`/`0700`, an existing one (and its `-wal`/`-shm`) that
    /// group or others could use is tightened; see `private.rs`.
    ///
    /// A file that SQLite reports as corrupt or not a database is moved aside
    /// to `<path>.corrupt-<unix time>` (never deleted) and
    /// [`StoreError::Corrupt`] names where it went; the next open starts fresh.
    pub fn open(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        private::prepare(&path)?;
        match Self::open_unchecked(&path, clock) {
            Err(StoreError::Sqlite(e)) if error::is_corruption(&e) => {
                let quarantined = error::quarantine(&path, &e)?;
                Err(StoreError::Corrupt { path, quarantined })
            }
            other => other,
        }
    }

    /// Opens a throw-away in-memory database (tests, previews).
    pub fn open_in_memory(clock: Arc<dyn Clock>) -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        Self::init(conn, PathBuf::from(":memory:"), clock)
    }

    fn open_unchecked(path: &Path, clock: Arc<dyn Clock>) -> Result<Self> {
        let conn = Connection::open(path)?;
        Self::init(conn, path.to_path_buf(), clock)
    }

    fn init(conn: Connection, path: PathBuf, clock: Arc<dyn Clock>) -> Result<Self> {
        configure(&conn)?;
        schema::migrate(&conn)?;
        let device = match meta_get(&conn, "device_id")? {
            Some(id) => id.parse().map_err(|_| StoreError::Invalid {
                message: format!("stored device id `{id}` is not a UUID"),
            })?,
            None => {
                let id = DeviceId::new();
                meta_set(&conn, "device_id", &id.to_string())?;
                id
            }
        };
        let last_hlc = meta_get(&conn, "hlc")?
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let last_seq = meta_get(&conn, "device_seq")?
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        Ok(Self {
            conn,
            path,
            device,
            hlc: HlcClock::resume(Hlc(last_hlc)),
            next_seq: last_seq + 1,
            clock,
            time_zone: "UTC".into(),
        })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This installation's device id, made on first open.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// Sets the IANA zone whose local months period locks use for time
    /// entries (trips carry their own zone).
    pub fn set_time_zone(&mut self, time_zone: &str) {
        self.time_zone = time_zone.to_owned();
    }

    /// The injected clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Runs `f` in one IMMEDIATE transaction. Domain rows and their outbox
    /// ops commit together; an error anywhere rolls all of it back.
    /// The closure may use its own error type as long as store errors convert into it.
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let now = self.clock.now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let mut writer = Writer {
            tx,
            device: self.device,
            hlc: self.hlc,
            next_seq: self.next_seq,
            now,
            ops_written: 0,
            time_zone: &self.time_zone,
        };
        let out = f(&mut writer)?;
        if writer.ops_written > 0 {
            meta_set(&writer.tx, "hlc", &writer.hlc.last().0.to_string())?;
            meta_set(&writer.tx, "device_seq", &(writer.next_seq - 1).to_string())?;
        }
        let (hlc, next_seq) = (writer.hlc, writer.next_seq);
        writer.tx.commit().map_err(StoreError::from)?;
        self.hlc = hlc;
        self.next_seq = next_seq;
        Ok(out)
    }

    /// Rewrites the file without the space deleted rows left behind and empties the WAL, so
    /// forgotten data (a token moved elsewhere, a sign-out with `forget data`) can't be read
    /// back from free pages or old WAL frames. Slow on a big file: call it off the UI thread.
    pub fn compact(&mut self) -> Result<()> {
        self.conn.execute_batch("VACUUM")?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Deletes every record of the person (trips, points, entries, projects, cars, places,
    /// locks, the op log, the session) and keeps only this installation's identity: its device
    /// id and its clock and op sequence, so a later sign-in to the same account continues the
    /// device's numbering where the relay expects it. Then [`Store::compact`]s the file.
    pub fn forget_everything(&mut self) -> Result<()> {
        let tables: Vec<String> = self
            .conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table'
                 AND name NOT LIKE 'sqlite_%' AND name <> 'meta' ORDER BY name",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Every table goes, so references between them hold again at commit.
        tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        for table in &tables {
            tx.execute(&format!("DELETE FROM \"{table}\""), [])?;
        }
        // This device's ops up to here now live only on the relay: pulled back, they are
        // applied like another device's instead of skipped as echoes (`apply_remote`).
        let last = self.next_seq.saturating_sub(1).to_string();
        meta_set(&tx, FORGOTTEN_SEQ, &last)?;
        tx.commit()?;
        self.compact()
    }

    /// Full `PRAGMA integrity_check`; returns the problems found (empty = healthy).
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let problems: Vec<String> = rows
            .collect::<rusqlite::Result<Vec<String>>>()?
            .into_iter()
            .filter(|s| s != "ok")
            .collect();
        Ok(problems)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// One write transaction; see [`Store::write`].
#[derive(Debug)]
pub struct Writer<'s> {
    tx: rusqlite::Transaction<'s>,
    device: DeviceId,
    hlc: HlcClock,
    next_seq: u64,
    now: chrono::DateTime<chrono::Utc>,
    ops_written: u64,
    time_zone: &'s str,
}

impl Writer<'_> {
    /// The instant this transaction started, used for every timestamp in it.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.now
    }

    /// This device's id.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.tx
    }

    /// The device's IANA zone, for local months of time entries.
    pub fn time_zone(&self) -> &str {
        self.time_zone
    }
}

fn configure(conn: &Connection) -> Result<()> {
    // WAL lets readers run during a write and makes each commit one append;
    // NORMAL sync is durable across app crashes (not power loss mid-commit),
    // the usual trade-off for a phone database.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// Meta key: the last own `device_seq` whose change was deleted by [`Store::forget_everything`].
pub(crate) const FORGOTTEN_SEQ: &str = "forgotten_seq";

pub(crate) fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}
