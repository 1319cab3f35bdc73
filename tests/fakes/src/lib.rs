//! Strict local fakes of the four timesheet services the relay pushes to: Toggl Track v9, Tempo v4,
//! Kimai 2.x and Zammad time accounting. They follow `shared/contracts/timesheets.md` to the letter
//! where it is precise, so a client that drifts from the sheet fails a test here instead of in
//! production; they are not a general emulation of the services.
//!
//! Each fake binds `127.0.0.1:0`, serves in a tokio task until its handle is dropped, and derefs to
//! [`FakeServer`]: `base_url()` (the origin a person would configure), the request log and the
//! [`Chaos`] queue that breaks chosen requests (dropped after commit, failed before commit, stalled).
//! Tests inspect and change the state directly to play a person editing in the service's own UI.

#![allow(
    clippy::result_large_err,
    reason = "handlers' helpers return the finished error Response; boxing it buys nothing in a test fake"
)]

pub mod kimai;
pub mod server;
pub mod tempo;
pub mod toggl;
pub mod zammad;

mod fields;

pub use kimai::FakeKimai;
pub use server::{Chaos, ChaosRule, FakeServer, LoggedRequest};
pub use tempo::FakeTempo;
pub use toggl::FakeToggl;
pub use zammad::FakeZammad;
