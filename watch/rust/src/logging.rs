//! Log forwarding: the core logs with `tracing`; apps want those records in
//! their own logger (`os_log` on Apple platforms, Python's `logging` in
//! tests). A `tracing` layer, installed once per process, hands each record
//! at or above the chosen level to a foreign [`LogSink`].
//!
//! The sink and the level are swappable at any time (the layer reads them
//! per event), because a process can only install one global subscriber.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use crate::error::TachoError;

/// Severity of a log record, and the threshold of the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, uniffi::Enum)]
pub enum LogLevel {
    /// Something failed.
    Error,
    /// Something looks wrong but was handled (a sync retry).
    Warn,
    /// Milestones (database opened, sync finished).
    Info,
    /// Detail for debugging.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    fn from_tracing(level: tracing::Level) -> Self {
        match level {
            tracing::Level::ERROR => Self::Error,
            tracing::Level::WARN => Self::Warn,
            tracing::Level::INFO => Self::Info,
            tracing::Level::DEBUG => Self::Debug,
            _ => Self::Trace,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Self::Error => 1,
            Self::Warn => 2,
            Self::Info => 3,
            Self::Debug => 4,
            Self::Trace => 5,
        }
    }
}

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogRecord {
    /// Severity.
    pub level: LogLevel,
    /// Module that logged it, e.g. `tacho_core::sync`.
    pub target: String,
    /// The message.
    pub message: String,
    /// The other fields as `key=value` pairs separated by spaces.
    pub fields: String,
}

/// Implemented by foreign code to receive log records. Called on whatever
/// thread logged: must be thread-safe and must not block.
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    /// One record at or above the configured level.
    fn log(&self, record: LogRecord);
}

/// 0 = off, else the rank of the most verbose level passed on.
static MAX_RANK: AtomicU8 = AtomicU8::new(0);
static SINK: RwLock<Option<Arc<dyn LogSink>>> = RwLock::new(None);
/// `Ok` once our layer is the global subscriber; the error if another was.
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

thread_local! {
    /// Set while a sink runs, so a sink that calls back into the core (and
    /// logs) can't recurse forever.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Sends records at `level` or more severe to `sink`, replacing any earlier
/// sink. The first call installs the forwarding layer as the process's global
/// `tracing` subscriber; if the host already installed one, this returns
/// [`TachoError::Conflict`] and forwards nothing.
#[uniffi::export]
pub fn set_log_sink(sink: Arc<dyn LogSink>, level: LogLevel) -> Result<(), TachoError> {
    let installed = INSTALLED.get_or_init(|| {
        tracing_subscriber::registry()
            .with(SinkLayer)
            .try_init()
            .map_err(|e| e.to_string())
    });
    if let Err(e) = installed {
        return Err(TachoError::Conflict {
            reason: format!("another tracing subscriber is installed in this process: {e}"),
        });
    }
    match SINK.write() {
        Ok(mut slot) => *slot = Some(sink),
        Err(poisoned) => *poisoned.into_inner() = Some(sink),
    }
    MAX_RANK.store(level.rank(), Ordering::SeqCst);
    // Callsites cache whether they are enabled; a new level must reach them.
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

/// Stops forwarding and releases the sink (e.g. before the app's logger goes away).
#[uniffi::export]
pub fn clear_log_sink() {
    MAX_RANK.store(0, Ordering::SeqCst);
    match SINK.write() {
        Ok(mut slot) => *slot = None,
        Err(poisoned) => *poisoned.into_inner() = None,
    }
    tracing::callsite::rebuild_interest_cache();
}

fn passes(level: tracing::Level) -> bool {
    let max = MAX_RANK.load(Ordering::Relaxed);
    max != 0 && LogLevel::from_tracing(level).rank() <= max
}

struct SinkLayer;

impl<S: Subscriber> Layer<S> for SinkLayer {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // Decided per event, so the level can change at run time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        passes(*metadata.level())
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !passes(*meta.level()) || IN_SINK.with(Cell::get) {
            return;
        }
        let sink = match SINK.read() {
            Ok(slot) => slot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let Some(sink) = sink else { return };
        let mut visitor = Fields::default();
        event.record(&mut visitor);
        let record = LogRecord {
            level: LogLevel::from_tracing(*meta.level()),
            target: meta.target().to_owned(),
            message: visitor.message,
            fields: visitor.fields,
        };
        IN_SINK.with(|f| f.set(true));
        sink.log(record);
        IN_SINK.with(|f| f.set(false));
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    fields: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.push(field, format_args!("{value}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.push(field, format_args!("{value:?}"));
        }
    }
}

impl Fields {
    fn push(&mut self, field: &Field, value: std::fmt::Arguments<'_>) {
        if !self.fields.is_empty() {
            self.fields.push(' ');
        }
        let _ = write!(self.fields, "{}={value}", field.name());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<Vec<LogRecord>>);

    impl LogSink for Collect {
        fn log(&self, record: LogRecord) {
            if let Ok(mut v) = self.0.lock() {
                v.push(record);
            }
        }
    }

    // One test owns the process-wide subscriber, so it does everything.
    #[test]
    fn records_reach_the_sink_filtered_by_level() {
        let sink = Arc::new(Collect::default());
        assert_eq!(set_log_sink(sink.clone(), LogLevel::Info), Ok(()));
        tracing::info!(target: "tacho_test", trip = 7, "opened {}", "db");
        tracing::debug!(target: "tacho_test", "too chatty");
        let got = sink.0.lock().map(|v| v.clone()).unwrap_or_default();
        let ours: Vec<_> = got.iter().filter(|r| r.target == "tacho_test").collect();
        assert_eq!(ours.len(), 1, "{got:?}");
        assert_eq!(ours[0].level, LogLevel::Info);
        assert_eq!(ours[0].message, "opened db");
        assert_eq!(ours[0].fields, "trip=7");

        // A lower threshold lets debug through; clearing stops everything.
        assert_eq!(set_log_sink(sink.clone(), LogLevel::Debug), Ok(()));
        tracing::debug!(target: "tacho_test", "now visible");
        clear_log_sink();
        tracing::error!(target: "tacho_test", "after clear");
        let got = sink.0.lock().map(|v| v.clone()).unwrap_or_default();
        let messages: Vec<_> = got
            .iter()
            .filter(|r| r.target == "tacho_test")
            .map(|r| r.message.as_str())
            .collect();
        assert_eq!(messages, ["opened db", "now visible"]);
    }
}
