//! The relay test harness shared by the relay's integration tests: a throwaway SQLite file or
//! PostgreSQL database, the relay on a loopback port, and `on_both_databases!`.
#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection as _};
use tacho_relay::{AppState, Config};
use uuid::Uuid;

pub const DEFAULT_PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A throwaway database, removed on drop (even when the test panicked).
pub struct TestDb {
    pub url: String,
    pub pg_name: Option<String>,
    pub _dir: Option<tempfile::TempDir>,
}

pub fn pg_admin_url() -> String {
    std::env::var("TACHO_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_ADMIN.to_owned())
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("relay.db").display()
        );
        Self {
            url,
            pg_name: None,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> Self {
        let admin = pg_admin_url();
        let name = format!("tacho_test_{}", Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL must be reachable at {admin}: {e}"));
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Self {
            url: format!("{base}/{name}"),
            pg_name: Some(name),
            _dir: None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_name.is_some()
    }

    /// Makes a SQLite file a test created with another tool (an older schema, say) private, as
    /// the relay creates its own: it refuses to open one other users can read.
    pub fn make_private(&self) {
        use std::os::unix::fs::PermissionsExt;
        let Some(dir) = &self._dir else { return };
        for name in ["relay.db", "relay.db-wal", "relay.db-shm"] {
            let path = dir.path().join(name);
            if path.exists() {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod 600");
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime; do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
                    let _ = sqlx::query(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

/// A running relay and an HTTP client for it.
#[derive(Clone)]
pub struct Relay {
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
}

pub async fn start_with(db: &TestDb, tweak: impl FnOnce(&mut Config)) -> Relay {
    let mut config = Config::new(db.url.clone());
    tweak(&mut config);
    let state = AppState::new(config).await.expect("relay starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(tacho_relay::serve(
        listener,
        state.clone(),
        std::future::pending(),
    ));
    Relay {
        base,
        http: reqwest::Client::new(),
        state,
    }
}

pub async fn start(db: &TestDb) -> Relay {
    start_with(db, |_| {}).await
}

pub async fn answer(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON answer {status}: {text}"))
    };
    (status, body)
}

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::TestDb::sqlite()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::TestDb::postgres().await).await;
            }
        }
    )*};
}
