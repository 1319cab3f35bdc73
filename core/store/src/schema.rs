//! Schema creation and append-only migrations.
//!
//! A fresh database is created from `schema.sql` in one step; an older one
//! is brought forward by the files in `migrations/`, in order. A test checks
//! that both roads end at the same schema ([`schema_fingerprint`]).

use rusqlite::Connection;

use crate::{Result, StoreError};

/// Migrations in order; index `i` takes version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_route_distance_and_entry_index.sql"),
    include_str!("migrations/0003_sync.sql"),
    include_str!("migrations/0004_space_wide_locks.sql"),
    include_str!("migrations/0005_edit_and_delete.sql"),
    include_str!("migrations/0006_trip_lineage.sql"),
];

const FRESH: &str = include_str!("schema.sql");

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
        [],
        |r| r.get(0),
    )?;
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = if version == 0 && tables == 0 {
        conn.execute_batch(FRESH)
    } else {
        MIGRATIONS
            .iter()
            .skip(usize::try_from(version).unwrap_or(0))
            .try_for_each(|sql| conn.execute_batch(sql))
    }
    .and_then(|()| conn.pragma_update(None, "user_version", SCHEMA_VERSION));
    match result {
        Ok(()) => {
            conn.execute_batch("COMMIT")?;
            tracing::info!(
                from = version,
                to = SCHEMA_VERSION,
                "database schema migrated"
            );
            Ok(())
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e.into())
        }
    }
}

/// Brings a database only up to `version` (tests of the migration path).
#[doc(hidden)]
pub fn migrate_partially(conn: &Connection, version: usize) -> Result<()> {
    for sql in MIGRATIONS.iter().take(version) {
        conn.execute_batch(sql)?;
    }
    conn.pragma_update(None, "user_version", version as i64)?;
    Ok(())
}

/// A canonical description of the schema (tables with their columns, types,
/// defaults and keys; indexes with their columns, uniqueness and filters),
/// independent of how the SQL text was formatted.
pub fn schema_fingerprint(conn: &Connection) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut objects = conn.prepare(
        "SELECT type, name, tbl_name FROM sqlite_master
         WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
    )?;
    let objects: Vec<(String, String, String)> = objects
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (kind, name, table) in objects {
        match kind.as_str() {
            "table" => {
                let mut cols = conn.prepare(&format!("PRAGMA table_xinfo(\"{name}\")"))?;
                let cols = cols
                    .query_map([], |r| {
                        Ok(format!(
                            "table {name} col {} {} notnull={} default={:?} pk={}",
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, i64>(5)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                out.extend(cols);
            }
            "index" => {
                let sql: Option<String> = conn.query_row(
                    "SELECT sql FROM sqlite_master WHERE name = ?1",
                    [&name],
                    |r| r.get(0),
                )?;
                let filter = sql
                    .as_deref()
                    .and_then(|s| s.split_once(" WHERE "))
                    .map(|(_, w)| w.split_whitespace().collect::<Vec<_>>().join(" "));
                let unique = sql.as_deref().is_some_and(|s| s.contains("UNIQUE"));
                let mut cols = conn.prepare(&format!("PRAGMA index_xinfo(\"{name}\")"))?;
                let cols = cols
                    .query_map([], |r| r.get::<_, Option<String>>(2))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                out.push(format!(
                    "index {name} on {table} {cols:?} unique={unique} where={filter:?}"
                ));
            }
            other => out.push(format!("{other} {name} on {table}")),
        }
    }
    Ok(out)
}
