//! The database file is private to its owner: it holds the relay session (access and refresh
//! tokens) and a person's trips. New directories are made `0700`, a new file `0600` (SQLite
//! gives its `-wal`, `-shm` and `-journal` the database file's mode), and an existing file that
//! group or others may use is tightened on open. Modes are set explicitly, whatever the umask.
//!
//! Tightening rather than refusing: the file is the person's own, nobody else has a reason to
//! read it, and files made before this rule (0644 under the usual umask) keep working. A phone
//! or watch app sits in its own sandbox anyway; the CLI on a shared machine does not. When the
//! mode can't be changed (the file belongs to someone else), opening fails with
//! [`StoreError::Exposed`] naming the `chmod` that fixes it.

use std::path::{Path, PathBuf};

use crate::StoreError;

/// The files SQLite keeps beside a database.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Makes `path` ready to open privately: creates missing directories (`0700`) and a missing
/// file (`0600`), or tightens an existing file and the files beside it.
pub(crate) fn prepare(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dirs(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let created = create_file(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !created {
        tighten(path)?;
    }
    Ok(())
}

/// Creates `dir` and its missing parents, each new one `0700`; existing ones stay as they are.
fn create_dirs(dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d.to_path_buf());
        at = d.parent();
    }
    for d in missing.iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => set_mode(d, 0o700)?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates `path` empty with mode `0600` unless it exists; `true` if it made it.
fn create_file(path: &Path) -> std::io::Result<bool> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => {
            set_mode(path, 0o600)?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Takes group and other permissions off the database and the files beside it.
#[cfg(unix)]
fn tighten(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut files = vec![path.to_path_buf()];
    for suffix in COMPANIONS {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    for file in files {
        let meta = match std::fs::metadata(&file) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(StoreError::Io { path: file, source }),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            continue;
        }
        if let Err(source) = set_mode(&file, mode & 0o700) {
            return Err(StoreError::Exposed {
                path: file,
                mode,
                source,
            });
        }
        tracing::warn!(
            path = %file.display(),
            was = format_args!("{mode:03o}"),
            "database file was open to other users; made it private"
        );
    }
    Ok(())
}

/// Without Unix modes there is nothing to tighten.
#[cfg(not(unix))]
fn tighten(_path: &Path) -> Result<(), StoreError> {
    let _ = COMPANIONS;
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
