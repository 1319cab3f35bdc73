//! The tokio runtime each [`crate::Core`] runs its work on.
//!
//! Why a runtime of our own rather than uniffi's: `#[uniffi::export(async_runtime
//! = "tokio")]` only gives the exported future a tokio *context* (through
//! async-compat's fallback runtime); it does not choose how many threads do the
//! work. The core's sync client needs a reactor and timers (reqwest, long-poll
//! sleeps), and the app needs to choose the footprint, so every call is spawned
//! onto the `Core`'s own runtime and the foreign future just awaits its result.

use std::future::Future;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

use crate::error::TachoError;

/// Which tokio runtime a `Core` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum RuntimeKind {
    /// Two worker threads plus tokio's blocking pool: for the phone app and
    /// iOS extensions, where a sync can run while the UI keeps writing.
    MultiThread,
    /// The lightweight runtime for the watch: one current-thread scheduler
    /// driven by a single dedicated thread, and at most one blocking-pool
    /// thread (DNS lookups). watchOS gives an app a few tens of MB and little
    /// CPU; each extra worker thread costs its stack, per-worker queues and
    /// wake-ups, and the watch never needs two core calls at the same time
    /// (SQLite writes are serialised by the core's lock anyway).
    CurrentThread,
}

/// A running runtime and what stops it.
pub(crate) struct Runtime {
    handle: Handle,
    kind: RuntimeKind,
    owner: Owner,
}

enum Owner {
    /// The runtime itself; shut down in the background on drop.
    Multi(Option<tokio::runtime::Runtime>),
    /// The dedicated thread's stop signal; the thread drops the runtime.
    Current(Option<oneshot::Sender<()>>),
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

fn start_error(e: std::io::Error) -> TachoError {
    TachoError::Internal {
        reason: format!("can't start the core's runtime: {e}"),
    }
}

impl Runtime {
    /// Starts a runtime of `kind`.
    pub(crate) fn new(kind: RuntimeKind) -> Result<Self, TachoError> {
        match kind {
            RuntimeKind::MultiThread => {
                let rt = Builder::new_multi_thread()
                    .worker_threads(2)
                    .max_blocking_threads(8)
                    .thread_name("tacho-core")
                    .enable_all()
                    .build()
                    .map_err(start_error)?;
                Ok(Self {
                    handle: rt.handle().clone(),
                    kind,
                    owner: Owner::Multi(Some(rt)),
                })
            }
            RuntimeKind::CurrentThread => {
                let rt = Builder::new_current_thread()
                    .max_blocking_threads(1)
                    .thread_name("tacho-core-io")
                    .enable_all()
                    .build()
                    .map_err(start_error)?;
                let handle = rt.handle().clone();
                let (stop, stopped) = oneshot::channel::<()>();
                // A current-thread runtime only runs tasks while some thread
                // is inside `block_on`; this thread is that one, until the
                // `Core` is dropped (the sender drops and `stopped` resolves).
                std::thread::Builder::new()
                    .name("tacho-core".into())
                    .spawn(move || {
                        rt.block_on(async {
                            let _ = stopped.await;
                        });
                        rt.shutdown_background();
                    })
                    .map_err(start_error)?;
                Ok(Self {
                    handle,
                    kind,
                    owner: Owner::Current(Some(stop)),
                })
            }
        }
    }

    /// The kind this runtime was started as.
    pub(crate) fn kind(&self) -> RuntimeKind {
        self.kind
    }

    /// A handle for spawning listener and sync tasks.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `work` on this runtime and waits for it from any executor (the
    /// foreign one polling the exported future). A panic in `work` comes
    /// back as [`TachoError::Internal`] instead of unwinding into Swift.
    ///
    /// When the foreign side drops the future (a cancelled Swift `Task`),
    /// the work still runs to completion: core calls are short, and a write
    /// that finishes keeps the database and the event stream truthful.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, TachoError>
    where
        F: Future<Output = Result<T, TachoError>> + Send + 'static,
        T: Send + 'static,
    {
        self.handle.spawn(work).await?
    }

    /// Runs `work` to completion, blocking the calling (foreign) thread.
    /// Used by constructors. Never blocks a thread of this runtime: the
    /// runtime is driven by its own threads, so this can't deadlock.
    pub(crate) fn block_on<T, F>(&self, work: F) -> Result<T, TachoError>
    where
        F: Future<Output = Result<T, TachoError>> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv().map_err(|_| TachoError::Internal {
            reason: "the core's runtime stopped before the call finished (a task panicked)".into(),
        })?
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        match &mut self.owner {
            // `shutdown_background` never blocks, so dropping a `Core` from
            // any thread (even inside an async context) is safe.
            Owner::Multi(rt) => {
                if let Some(rt) = rt.take() {
                    rt.shutdown_background();
                }
            }
            Owner::Current(stop) => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::panic)] // the panic is the point of the test
    fn explode() -> u8 {
        panic!("boom")
    }

    #[test]
    fn both_kinds_run_work_and_report_panics() {
        for kind in [RuntimeKind::MultiThread, RuntimeKind::CurrentThread] {
            let rt = Runtime::new(kind);
            assert!(rt.is_ok(), "{kind:?}");
            let Ok(rt) = rt else { return };
            assert_eq!(rt.kind(), kind);
            assert_eq!(rt.block_on(async { Ok(21 * 2) }), Ok(42));
            // Timers work (the sync client's backoff and long-poll need them).
            let slept = rt.block_on(async {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                Ok(true)
            });
            assert_eq!(slept, Ok(true));
            let panicked: Result<u8, TachoError> = rt.block_on(async { Ok(explode()) });
            assert!(
                matches!(panicked, Err(TachoError::Internal { .. })),
                "{kind:?}: {panicked:?}"
            );
        }
    }

    #[test]
    fn the_lightweight_runtime_runs_on_one_named_thread() {
        let Ok(rt) = Runtime::new(RuntimeKind::CurrentThread) else {
            unreachable!("the runtime starts")
        };
        let names = rt.block_on(async {
            let mut names = Vec::new();
            for _ in 0..4 {
                let name = tokio::spawn(async { std::thread::current().name().map(str::to_owned) })
                    .await
                    .ok()
                    .flatten();
                names.push(name);
            }
            Ok(names)
        });
        assert_eq!(names, Ok(vec![Some("tacho-core".to_owned()); 4]));
    }

    #[test]
    fn run_from_a_foreign_executor() {
        let Ok(rt) = Runtime::new(RuntimeKind::CurrentThread) else {
            unreachable!("the runtime starts")
        };
        // A different runtime stands in for Swift's or Python's executor.
        let Ok(foreign) = Builder::new_current_thread().enable_all().build() else {
            unreachable!("the runtime starts")
        };
        let got = foreign.block_on(rt.run(async { Ok("done") }));
        assert_eq!(got, Ok("done"));
    }
}
