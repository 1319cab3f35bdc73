//! The one way to the store. SQLite calls block (on disk I/O, and on the
//! lock while another call writes), and the core's methods are `async` and
//! run on the caller's executor, so every store access goes through
//! [`Db::with`], which takes them off the executor where that is possible:
//!
//! - on a multi-thread tokio runtime (the phone, the watch's `MultiThread`,
//!   tests with `flavor = "multi_thread"`) it runs in
//!   [`tokio::task::block_in_place`]: the worker hands its other tasks to a
//!   new thread first, so a slow import or a wait for the lock never stalls
//!   them;
//! - on a current-thread runtime (the CLI, the watch's `CurrentThread`) or
//!   outside any runtime it runs inline: that thread is the only one, there
//!   is nobody to hand tasks to, and `block_in_place` would panic.
//!
//! The lock is private to this module, so no other code in the crate can
//! reach the store without passing through here (docs/ARCHITECTURE.md,
//! "Blocking work").

use std::sync::Mutex;

use crate::{CoreError, Inner, Result};

/// The core's state behind its lock; see the module docs.
pub(crate) struct Db(Mutex<Inner>);

impl Db {
    pub(crate) fn new(inner: Inner) -> Self {
        Self(Mutex::new(inner))
    }

    /// Runs `f` with the store (and the recorder), off the async executor
    /// when the runtime allows it. Keep `f` to store work: no `.await` fits
    /// in it, and network calls belong outside.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Inner) -> Result<T>) -> Result<T> {
        blocking(|| {
            let mut inner = self.0.lock().map_err(|_| CoreError::Storage {
                reason: "the core is unusable after an earlier panic".into(),
            })?;
            f(&mut inner)
        })
    }
}

/// Runs blocking work without stalling the tasks of a multi-thread runtime.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::blocking;

    /// On a multi-thread runtime the blocking work leaves the worker: a
    /// task it spawned still runs on the runtime's only worker while it
    /// blocks. Run inline, the worker would be stuck and the wait time out.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn blocking_work_does_not_stall_other_tasks() {
        let got = tokio::spawn(async {
            let (tx, rx) = std::sync::mpsc::channel();
            tokio::spawn(async move {
                let _ = tx.send(());
            });
            blocking(|| rx.recv_timeout(std::time::Duration::from_secs(3)))
        })
        .await
        .unwrap();
        assert!(got.is_ok(), "the other task ran during the blocking work");
    }

    /// A current-thread runtime can't hand its tasks off; the work runs
    /// inline instead of panicking in `block_in_place`.
    #[tokio::test(flavor = "current_thread")]
    async fn blocking_work_runs_inline_on_a_current_thread_runtime() {
        assert_eq!(blocking(|| 42), 42);
    }
}
