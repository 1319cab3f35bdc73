#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The client database is private to its owner: it holds the relay session's access and
//! refresh tokens. (The CLI test `database_files_are_private_under_umask_000` runs the same
//! rules under a permissive umask.)

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use tacho_model::car::Car;
use tacho_model::clock::ManualClock;
use tacho_model::id::CarId;
use tacho_store::Store;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap(),
    ))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn add_a_car(store: &mut Store) {
    let car = Car {
        id: CarId::new(),
        name: "Golf".into(),
        make: None,
        model: None,
        plate: "AB-1".into(),
        available_from: None,
        available_to: None,
        connect_hint: None,
        retired: false,
    };
    store
        .write(|w| w.add_car(&car))
        .map_err(|e: tacho_store::StoreError| e)
        .unwrap();
}

fn files(db: &Path) -> [PathBuf; 3] {
    [
        db.to_path_buf(),
        with_suffix(db, "-wal"),
        with_suffix(db, "-shm"),
    ]
}

#[test]
fn a_new_database_and_its_directories_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a").join("b").join("tacho.db");
    let parent_before = mode(dir.path());
    let mut store = Store::open(&db, clock()).unwrap();
    add_a_car(&mut store);
    // While the store is open, SQLite keeps the WAL and the shared-memory index beside it.
    for file in files(&db) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    for d in [dir.path().join("a"), dir.path().join("a/b")] {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }
    // An existing directory is left as it is.
    assert_eq!(mode(dir.path()), parent_before);
}

#[test]
fn an_existing_database_open_to_others_is_made_private_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tacho.db");
    let mut first = Store::open(&db, clock()).unwrap();
    add_a_car(&mut first);
    // As an older build left them under the usual umask, while a first store has them open.
    for file in files(&db) {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let second = Store::open(&db, clock()).unwrap();
    for file in files(&db) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    assert_eq!(second.cars().unwrap().len(), 1, "the data is still there");
}
