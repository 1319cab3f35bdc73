//! Tacho relay: accounts, devices and one ordered, idempotent op log per account ("space"), over
//! an embedded SQLite file or PostgreSQL. The wire contract is `docs/sync-protocol.md`.
//!
//! Layers, arrows pointing down only (`tests/module_graph.rs` keeps it so; docs/ARCHITECTURE.md
//! and ADR 0014 explain): [`http`] (router, extractors, handlers, OpenAPI) over [`state`] (the
//! services) over the domain services ([`automation`], [`oidc`], [`sync`], [`accounts`],
//! [`connections`], [`connectors`], [`jobs`]) over storage and configuration ([`db`], [`secrets`], [`config`],
//! [`limits`]) and the domain error ([`error`]).

pub mod accounts;
pub mod automation;
pub mod config;
pub mod connections;
pub mod connectors;
pub mod db;
pub mod error;
pub mod http;
pub mod jobs;
pub mod limits;
pub mod oidc;
pub mod secrets;
pub mod state;
pub mod sync;

pub use config::{Config, Registration};
pub use db::{Backend, Db, StorageError};
pub use http::{MAX_BODY_BYTES, router, serve};
pub use state::{AppState, StartError};

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
