//! Change events for foreign UIs, and the handle that ends a listener.
//!
//! The pattern is matrix-rust-sdk's: a method takes a foreign listener,
//! spawns a task feeding it, and returns a [`TaskHandle`]. The listener lives
//! exactly as long as the handle: a SwiftUI view model keeps the handle in a
//! property, and releasing the view model cancels the task, so nothing keeps
//! calling into freed Swift objects.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::broadcast::error::RecvError;
use tokio::task::AbortHandle;

/// A change a UI may want to refresh for.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum CoreEvent {
    /// A trip started recording.
    TripStarted {
        /// The trip id.
        trip_id: String,
    },
    /// A trip ended (the watch then offers business/private/commute).
    TripEnded {
        /// The trip id.
        trip_id: String,
    },
    /// New points were stored for the open trip.
    TripProgress {
        /// The trip id.
        trip_id: String,
        /// Live distance in metres.
        distance_m: f64,
    },
    /// A trip's details changed (classification, edits, odometer).
    TripChanged {
        /// The trip id.
        trip_id: String,
    },
    /// The running timer started, stopped or switched.
    TimerChanged,
    /// Reference data (cars, places, projects, entries, locks) or synced data changed.
    DataChanged,
    /// The listener fell behind and `missed` events were dropped: reload
    /// everything shown (events never block the core's writers).
    Lagged {
        /// How many events were missed.
        missed: u64,
    },
}

impl From<tacho_core::CoreEvent> for CoreEvent {
    fn from(e: tacho_core::CoreEvent) -> Self {
        use tacho_core::CoreEvent as C;
        match e {
            C::TripStarted { trip } => Self::TripStarted {
                trip_id: trip.to_string(),
            },
            C::TripEnded { trip } => Self::TripEnded {
                trip_id: trip.to_string(),
            },
            C::TripProgress { trip, distance_m } => Self::TripProgress {
                trip_id: trip.to_string(),
                distance_m,
            },
            C::TripChanged { trip } => Self::TripChanged {
                trip_id: trip.to_string(),
            },
            C::TimerChanged => Self::TimerChanged,
            C::DataChanged => Self::DataChanged,
        }
    }
}

/// Implemented by foreign code to hear about changes. Called on a core
/// thread, never the main thread: hop to the main actor before touching UI.
/// Keep it quick; a slow listener only makes itself lag.
#[uniffi::export(foreign)]
pub trait CoreListener: Send + Sync {
    /// One change.
    fn on_event(&self, event: CoreEvent);
}

/// Owns a background task (an event listener, the sync loop). Dropping the
/// handle cancels the task, so its lifetime follows the foreign object that
/// keeps it; `cancel()` does the same explicitly.
#[derive(Debug, uniffi::Object)]
pub struct TaskHandle {
    abort: AbortHandle,
    cancelled: Arc<AtomicBool>,
}

impl TaskHandle {
    pub(crate) fn new(abort: AbortHandle, cancelled: Arc<AtomicBool>) -> Self {
        Self { abort, cancelled }
    }
}

#[uniffi::export]
impl TaskHandle {
    /// Stops the task. After this returns no new callback starts (one
    /// already running on another thread may still finish). Idempotent.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.abort.abort();
    }

    /// Whether the task has ended (cancelled, or its source closed).
    pub fn is_finished(&self) -> bool {
        self.abort.is_finished()
    }
}

impl Drop for TaskHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// Feeds `listener` from `events` until cancelled or the core closes.
pub(crate) fn spawn_listener(
    handle: &tokio::runtime::Handle,
    mut events: tokio::sync::broadcast::Receiver<tacho_core::CoreEvent>,
    listener: Arc<dyn CoreListener>,
) -> TaskHandle {
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = cancelled.clone();
    let task = handle.spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => CoreEvent::from(event),
                Err(RecvError::Lagged(missed)) => CoreEvent::Lagged { missed },
                Err(RecvError::Closed) => break,
            };
            if flag.load(Ordering::SeqCst) {
                break;
            }
            listener.on_event(event);
        }
    });
    TaskHandle::new(task.abort_handle(), cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<CoreEvent>>);

    impl CoreListener for Recorder {
        fn on_event(&self, event: CoreEvent) {
            if let Ok(mut seen) = self.0.lock() {
                seen.push(event);
            }
        }
    }

    impl Recorder {
        fn seen(&self) -> Vec<CoreEvent> {
            self.0.lock().map(|s| s.clone()).unwrap_or_default()
        }
    }

    async fn settle() {
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn events_flow_until_the_handle_is_dropped() {
        let (tx, rx) = tokio::sync::broadcast::channel(8);
        let recorder = Arc::new(Recorder::default());
        let handle = spawn_listener(&tokio::runtime::Handle::current(), rx, recorder.clone());
        let _ = tx.send(tacho_core::CoreEvent::TimerChanged);
        settle().await;
        assert_eq!(recorder.seen(), vec![CoreEvent::TimerChanged]);
        assert!(!handle.is_finished());
        drop(handle);
        settle().await;
        let _ = tx.send(tacho_core::CoreEvent::DataChanged);
        settle().await;
        assert_eq!(recorder.seen(), vec![CoreEvent::TimerChanged]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancel_stops_delivery_and_a_slow_listener_hears_it_lagged() {
        let (tx, rx) = tokio::sync::broadcast::channel(2);
        // Overflow the channel before the listener runs.
        for _ in 0..5 {
            let _ = tx.send(tacho_core::CoreEvent::DataChanged);
        }
        let recorder = Arc::new(Recorder::default());
        let handle = spawn_listener(&tokio::runtime::Handle::current(), rx, recorder.clone());
        settle().await;
        let seen = recorder.seen();
        assert_eq!(seen.first(), Some(&CoreEvent::Lagged { missed: 3 }));
        assert_eq!(seen.len(), 3, "{seen:?}");
        handle.cancel();
        handle.cancel();
        settle().await;
        assert!(handle.is_finished());
        let _ = tx.send(tacho_core::CoreEvent::TimerChanged);
        settle().await;
        assert_eq!(recorder.seen().len(), 3);
    }
}
