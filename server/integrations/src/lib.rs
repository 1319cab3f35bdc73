//! Clients for the services outside Tacho that the relay talks to, one module per provider
//! family: [`timesheets`] (Toggl Track, Tempo, Kimai, Zammad) today; maps, car data and charging
//! stations join as sibling modules. Each client is plain async Rust over [`http::Http`] (one
//! reqwest client, timeouts, base-URL rules and the classification of failures, written once):
//! no axum, no database. The relay owns all state (connections, mappings, queues); tests drive
//! these clients directly against the local fakes in `tacho-fakes`.

pub mod http;
pub mod timesheets;

pub use http::{BaseUrlError, Failure, Http, HttpConfig, Secret};
