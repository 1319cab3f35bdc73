//! Opening the core: the one object the app keeps for its whole life.

use std::sync::Arc;

use flutter_rust_bridge::frb;
use tacho_core::{Core, CoreConfig};
use tokio::sync::Mutex;

use crate::api::error::ApiError;

/// The app's handle on its local database and trip recorder. Opaque to
/// Dart (it holds a live Rust object); every capability is a method, split
/// over the modules of [`crate::api`] by topic.
#[frb(opaque)]
pub struct TachoCore {
    pub(crate) core: Core,
    /// Shared with every other `TachoCore` of this database in the process (see
    /// `crate::shared`): held by whichever sync runs.
    pub(crate) sync_guard: Arc<Mutex<()>>,
}

impl TachoCore {
    /// Opens (or creates) the database at `db_path` (the app's documents
    /// directory) recording in `time_zone` (IANA name, e.g. from
    /// `flutter_timezone`). Resumes a trip that was recording when the app
    /// was killed, or closes it if its grace period ran out meanwhile.
    /// `device_name` is what the relay lists this phone as (e.g. from
    /// `device_info_plus`); without one the core's default is used.
    ///
    /// A database already open in this process (the UI isolate's, when background sync opens
    /// it from its own isolate) is not opened twice: this returns a handle on the same core, so
    /// there is one trip recorder and at most one sync at a time. Its zone and device name
    /// stay the first open's.
    pub async fn open(
        db_path: String,
        time_zone: String,
        device_name: Option<String>,
    ) -> Result<TachoCore, ApiError> {
        let mut config = CoreConfig::new(db_path);
        config.time_zone = time_zone.trim().to_owned();
        if let Some(name) = device_name {
            config.device_name = name;
        }
        let shared = crate::shared::open(config).await?;
        Ok(TachoCore {
            core: shared.core,
            sync_guard: shared.sync_guard,
        })
    }

    /// This installation's device id; the watch sends its own to the phone
    /// so the phone can mint it a session.
    #[frb(sync)]
    pub fn device_id(&self) -> Result<String, ApiError> {
        Ok(self.core.device()?.to_string())
    }

    /// Months (`YYYY-MM`) locked against edits, for the settings screen.
    pub async fn locked_periods(&self) -> Result<Vec<String>, ApiError> {
        Ok(self.core.locked_periods().await?)
    }

    /// Locks a month (`YYYY-MM`) so its trips and entries can no longer be
    /// changed (a closed tax period); returns false if it already was.
    pub async fn lock_period(&self, month: String) -> Result<bool, ApiError> {
        Ok(self.core.lock_period(&month).await?)
    }
}
