//! Test harness: starts a real relay on a loopback port over a fresh SQLite
//! file or a fresh PostgreSQL database, and opens cores ("phone", "watch")
//! on their own SQLite files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod proxy;

use std::path::Path;
use std::sync::Arc;

use tacho_core::{Core, CoreConfig};
use tacho_model::clock::Clock;
use tokio::sync::oneshot;

/// Which storage a relay under test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh database on the PostgreSQL server at 127.0.0.1:5432.
    Postgres,
}

/// Both backends, for tests that must pass on each.
pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// The PostgreSQL server the tests use (trust auth).
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database for one test; a PostgreSQL one is dropped when this is.
pub struct TestDb {
    /// URL to give the relay.
    pub url: String,
    pg_name: Option<String>,
    _dir: tempfile::TempDir,
}

impl TestDb {
    /// A fresh database of the given kind. PostgreSQL being down is an error.
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => Self {
                url: format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("relay.db").display()
                ),
                pg_name: None,
                _dir: dir,
            },
            Backend::Postgres => {
                let name = format!("tacho_e2e_{}", uuid::Uuid::now_v7().simple());
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(PG_ADMIN_URL)
                    .await
                    .expect("PostgreSQL must be running on 127.0.0.1:5432 for these tests");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Self {
                    url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                    pg_name: Some(name),
                    _dir: dir,
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Best effort, on a thread of its own (Drop can't be async).
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok(mut conn) =
                            <sqlx::PgConnection as sqlx::Connection>::connect(PG_ADMIN_URL).await
                        {
                            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .execute(&mut conn)
                            .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// A relay serving on 127.0.0.1; stops when dropped.
pub struct Relay {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The job runner, when started ([`Relay::start_with_jobs`]): connectors need one.
    jobs: Option<tacho_relay::jobs::RunnerHandle>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    /// Starts a relay over `database_url` on a free loopback port.
    pub async fn start(database_url: &str) -> Self {
        Self::start_with(database_url, |_| {}).await
    }

    /// [`Relay::start`], with `adjust` changing the configuration first (a master key for
    /// connections, short connector timeouts).
    pub async fn start_with(
        database_url: &str,
        adjust: impl FnOnce(&mut tacho_relay::Config),
    ) -> Self {
        Self::start_inner(database_url, adjust, false).await
    }

    /// [`Relay::start_with`], plus the relay's job runner (as `tacho-relay` runs it), polling
    /// every 30 ms: what the timesheet connectors' workers run on.
    pub async fn start_with_jobs(
        database_url: &str,
        adjust: impl FnOnce(&mut tacho_relay::Config),
    ) -> Self {
        Self::start_inner(database_url, adjust, true).await
    }

    async fn start_inner(
        database_url: &str,
        adjust: impl FnOnce(&mut tacho_relay::Config),
        with_jobs: bool,
    ) -> Self {
        // Rate limits off: these scenarios exercise clients (retries, fault proxies), not the
        // relay's limiter, which has its own tests.
        let mut config = tacho_relay::Config::new(database_url);
        config.rate_limits = tacho_relay::limits::RateLimits::unlimited();
        adjust(&mut config);
        let state = tacho_relay::AppState::new(config).await.unwrap();
        let jobs = with_jobs.then(|| {
            state
                .job_runner(tacho_relay::jobs::RunnerConfig {
                    poll: std::time::Duration::from_millis(30),
                    backoff: tacho_relay::jobs::Backoff {
                        base: std::time::Duration::from_millis(50),
                        cap: std::time::Duration::from_millis(200),
                    },
                    ..tacho_relay::jobs::RunnerConfig::default()
                })
                .spawn()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tacho_relay::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self {
            url,
            jobs,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the relay and waits for it to finish (a restart test starts a new one).
    pub async fn stop(mut self) {
        if let Some(jobs) = self.jobs.take() {
            jobs.shutdown().await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Opens a core on `dir/name.db`.
pub async fn core(dir: &Path, name: &str, clock: Arc<dyn Clock>) -> Core {
    Core::open_with_clock(CoreConfig::new(dir.join(format!("{name}.db"))), clock)
        .await
        .unwrap()
}

/// Plants an op no relay accepts (a place at latitude 95) as the device's
/// next op in the database at `db`, the way an older or buggy build might
/// have written it; the core must be closed while this runs.
pub fn plant_invalid_place(db: &Path, device: &str) {
    plant_upsert(
        db,
        device,
        "place",
        serde_json::json!({"name": "Nowhere", "kind": "other", "center": {"lat": 95.0, "lon": 5.0}, "radius_m": 100.0, "address": null}),
    );
}

/// Plants an upsert of `fields` on a new entity of `entity` as the device's next op in the
/// database at `db` (outbox only, not merged: as an older or buggy build might have written
/// it); the core must be closed while this runs. Answers the op's id.
pub fn plant_upsert(db: &Path, device: &str, entity: &str, fields: serde_json::Value) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    let seq: i64 = conn
        .query_row("SELECT coalesce(max(device_seq), 0) FROM outbox", [], |r| {
            r.get(0)
        })
        .unwrap();
    let now_hlc = chrono::Utc::now().timestamp_millis() << 16;
    let hlc: i64 = conn
        .query_row(
            "SELECT coalesce(max(hlc), ?1) FROM outbox",
            [now_hlc],
            |r| r.get(0),
        )
        .unwrap();
    let op = serde_json::json!({
        "op_id": uuid::Uuid::now_v7(), "device": device, "device_seq": seq + 1, "hlc": hlc + 1,
        "entity": entity, "entity_id": uuid::Uuid::now_v7(), "kind": "upsert",
        "fields": fields, "schema": 1
    });
    let op_id = op["op_id"].as_str().unwrap().to_owned();
    conn.execute(
        "INSERT INTO outbox (device_seq, op_id, hlc, entity, entity_id, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![seq + 1, op_id, hlc + 1, entity, op["entity_id"].as_str().unwrap(), op.to_string()],
    )
    .unwrap();
    for (key, value) in [("device_seq", seq + 1), ("hlc", hlc + 1)] {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, &value.to_string()],
        )
        .unwrap();
    }
    op_id
}
