//! One core per database file per process.
//!
//! The app's UI isolate and the background-sync isolate (WorkManager on Android, a
//! BGAppRefreshTask on iOS, both through the `workmanager` plugin's own Flutter engine) each
//! call `TachoCore.open`. Two `Core`s on one file would each load the live trip recorder and
//! disagree about the open trip (mobile/README.md, "One core per process"), and two syncs at
//! once could present one refresh token twice (the relay then revokes the token's whole family
//! and signs the phone out). So the second open of a path in a process gets the first core and
//! its sync guard.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tacho_core::{Core, CoreConfig};
use tokio::sync::Mutex;

use crate::api::error::ApiError;

/// A core shared by every `TachoCore` of one database file in this process.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) core: Core,
    /// Held by whichever sync runs (the foreground loop for its whole life, a background sync
    /// for its one run), so at most one sync of this database runs at a time.
    pub(crate) sync_guard: Arc<Mutex<()>>,
}

/// The open cores of this process by file. Never emptied: an app keeps its database open
/// until the process ends.
static OPEN: OnceLock<Mutex<HashMap<PathBuf, Shared>>> = OnceLock::new();

/// The file's name with its directory resolved, so one file reached through two spellings (a
/// relative path, a symlinked directory) is one entry; the file itself may not exist yet.
fn key(db_path: &Path) -> PathBuf {
    let (Some(dir), Some(name)) = (db_path.parent(), db_path.file_name()) else {
        return db_path.to_path_buf();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::canonicalize(dir).map_or_else(|_| db_path.to_path_buf(), |d| d.join(name))
}

/// Opens the database `config` names, or returns the core this process already has for it.
/// A later open's time zone and device name are not applied: the zone is the core's from its
/// first open (a background run after the phone changed zones must still reach the running
/// app's core; the app applies a new zone when it starts again), and the name only matters at
/// sign-in.
pub(crate) async fn open(config: CoreConfig) -> Result<Shared, ApiError> {
    let mut open = OPEN.get_or_init(Mutex::default).lock().await;
    if let Some(shared) = open.get(&key(&config.db_path)) {
        return Ok(shared.clone());
    }
    let db_path = config.db_path.clone();
    let shared = Shared {
        core: Core::open(config).await?,
        sync_guard: Arc::default(),
    };
    // Keyed again now that opening created the directory, if it did.
    open.insert(key(&db_path), shared.clone());
    Ok(shared)
}
