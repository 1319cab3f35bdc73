//! The one way to the store. SQLite calls block (on disk I/O, and on the
//! lock while another call writes) and the core's methods are `async`,
//! polled on the caller's executor. The rule (docs/ARCHITECTURE.md,
//! "Blocking work"):
//!
//! - Short work, one bounded transaction or a few indexed reads, runs inline
//!   through [`Db::with`], but never *waits* on an executor thread: when
//!   another call holds the lock, the wait (and the work) move into
//!   [`blocking`].
//! - Long work (imports, reports, the full integrity check, applying a
//!   pulled page) always runs in [`blocking`] through [`Db::with_long`].
//!
//! [`blocking`] uses [`tokio::task::block_in_place`] on a multi-thread
//! runtime (the worker hands its queued tasks to another thread first) and
//! runs inline on a current-thread runtime or outside one, where there is no
//! other thread to hand tasks to and `block_in_place` would panic.
//!
//! The lock is private to this module: no other code in the crate can reach
//! the store without choosing one of the two paths.

use std::sync::{Mutex, MutexGuard, TryLockError};

use crate::{CoreError, Result};

/// The core's state behind its lock; see the module docs.
pub(crate) struct Db<T>(Mutex<T>);

fn unusable() -> CoreError {
    CoreError::Storage {
        reason: "the core is unusable after an earlier panic".into(),
    }
}

impl<T> Db<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self(Mutex::new(inner))
    }

    fn lock(&self) -> Result<MutexGuard<'_, T>> {
        self.0.lock().map_err(|_| unusable())
    }

    /// Runs short store work `f`: inline when the lock is free, else off
    /// the executor (see the module docs). No `.await` fits in `f`; network
    /// calls belong between such calls, never under the lock.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> Result<R>) -> Result<R> {
        match self.0.try_lock() {
            Ok(mut inner) => f(&mut inner),
            Err(TryLockError::Poisoned(_)) => Err(unusable()),
            Err(TryLockError::WouldBlock) => blocking(|| f(&mut *self.lock()?)),
        }
    }

    /// Runs long store work `f` off the executor where the runtime allows it.
    pub(crate) fn with_long<R>(&self, f: impl FnOnce(&mut T) -> Result<R>) -> Result<R> {
        blocking(|| f(&mut *self.lock()?))
    }
}

/// Runs blocking work without stalling the tasks of a multi-thread runtime.
pub(crate) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::{Db, blocking};

    /// A call that finds the lock taken waits off the worker: a task it
    /// spawned runs (and here makes the holder let go) meanwhile. Waiting
    /// inline would hold the runtime's only worker until the holder gives up.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn waiting_for_the_lock_does_not_stall_other_tasks() {
        let db = Arc::new(Db::new(0_u32));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (taken, is_taken) = std::sync::mpsc::channel::<()>();
        let signalled = Arc::new(AtomicBool::new(false));
        let holder = {
            let (db, signalled) = (db.clone(), signalled.clone());
            std::thread::spawn(move || {
                let _guard = db.0.lock().unwrap();
                taken.send(()).unwrap();
                let got = released.recv_timeout(Duration::from_secs(3)).is_ok();
                signalled.store(got, Ordering::SeqCst);
            })
        };
        is_taken.recv().unwrap();
        let db2 = db.clone();
        tokio::spawn(async move {
            tokio::spawn(async move {
                let _ = release.send(());
            });
            db2.with(|n| {
                *n += 1;
                Ok(())
            })
        })
        .await
        .unwrap()
        .unwrap();
        holder.join().unwrap();
        assert!(
            signalled.load(Ordering::SeqCst),
            "the other task ran while the call waited for the lock"
        );
        assert_eq!(db.with(|n| Ok(*n)).unwrap(), 1);
    }

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
