#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The relay binary and its files: a SQLite database private to its owner from the first byte
//! (whatever the umask), the refusal to start on one others can read, the data directory, log
//! lines without colour codes when not on a terminal. The real binary, on a real loopback port.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tacho_relay::Db;

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The relay binary run through `sh` with `umask 000`, so nothing it creates is private by
/// accident; HOME and XDG_DATA_HOME point into `home`, never at the machine's data directory.
struct Relay {
    child: Child,
    port: u16,
}

impl Relay {
    fn command(home: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("umask 000 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_tacho-relay"))
            .args(args)
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("xdg"))
            .env("TACHO_LOG", "info")
            .env_remove("NO_COLOR")
            .env_remove("TACHO_DATABASE_URL")
            .env_remove("TACHO_DATA_DIR")
            .env_remove("TACHO_LISTEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts the relay and waits (bounded) until `/healthz` answers 200.
    fn start(home: &Path, args: &[&str], env: &[(&str, &Path)]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut all = vec!["--listen", listen.as_str()];
        all.extend_from_slice(args);
        let mut cmd = Self::command(home, &all);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut relay = Self {
            child: cmd.spawn().unwrap(),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = relay.child.try_wait().unwrap() {
                let out = relay.child.wait_with_output().unwrap();
                panic!(
                    "the relay exited early ({status}): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            if healthz(relay.port) {
                return relay;
            }
            assert!(Instant::now() < deadline, "no /healthz within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ctrl-C (SIGINT, the graceful stop) and the relay's exit and output.
    fn stop(self) -> Output {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success());
        self.child.wait_with_output().unwrap()
    }
}

/// Runs `cmd` to its end, killing it (and failing) if it is still running after `limit`.
fn exits_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn healthz(port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    if stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

#[test]
fn a_new_sqlite_database_and_its_directories_are_private_whatever_the_umask() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("srv").join("tacho");
    let db = data.join("relay.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let relay = Relay::start(home.path(), &["--database-url", &url], &[]);
    // While it runs, SQLite keeps the WAL and the shared-memory index beside the file.
    for file in [
        db.clone(),
        with_suffix(&db, "-wal"),
        with_suffix(&db, "-shm"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    for dir in [home.path().join("srv"), data.clone()] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    let out = relay.stop();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&db), 0o600);
}

#[test]
fn the_default_database_lives_in_tacho_data_dir_or_data_dir() {
    let home = tempfile::tempdir().unwrap();
    let by_env = home.path().join("relay-a");
    let relay = Relay::start(home.path(), &[], &[("TACHO_DATA_DIR", &by_env)]);
    assert!(relay.stop().status.success());
    assert_eq!(mode(&by_env.join("relay.db")), 0o600);
    assert_eq!(mode(&by_env), 0o700);

    let by_flag = home.path().join("relay-b");
    let relay = Relay::start(home.path(), &["--data-dir", by_flag.to_str().unwrap()], &[]);
    assert!(relay.stop().status.success());
    assert!(by_flag.join("relay.db").is_file());
    // Neither touched the default under XDG_DATA_HOME.
    assert!(!home.path().join("xdg").exists());
}

#[test]
fn log_lines_carry_no_colour_codes_when_not_on_a_terminal() {
    let home = tempfile::tempdir().unwrap();
    let relay = Relay::start(home.path(), &[], &[]);
    let out = relay.stop();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("tacho-relay listening"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a piped log: {log:?}"
    );
    // The default data directory follows XDG_DATA_HOME.
    assert!(home.path().join("xdg/tacho/relay.db").is_file());
}

#[test]
fn the_relay_refuses_a_database_file_others_can_read_and_says_how_to_fix_it() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    // A database made by an older relay under the usual umask: 0644.
    let relay = Relay::start(home.path(), &["--data-dir", data.to_str().unwrap()], &[]);
    assert!(relay.stop().status.success());
    let db = data.join("relay.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();

    let out = exits_within(
        Relay::command(
            home.path(),
            &[
                "--listen",
                &format!("127.0.0.1:{}", free_port()),
                "--data-dir",
                data.to_str().unwrap(),
            ],
        ),
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let fix = format!("chmod 600 {}", db.display());
    assert!(stderr.contains(&fix), "{stderr}");
    assert!(stderr.contains("other users"), "{stderr}");

    // The library says the same, naming a companion file too when it is open to others.
    let wal = with_suffix(&db, "-wal");
    if !wal.exists() {
        std::fs::write(&wal, b"").unwrap();
    }
    std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o640)).unwrap();
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt.block_on(Db::connect(&url)).unwrap_err().to_string();
    assert!(
        err.contains(&format!("chmod 600 {} {}", db.display(), wal.display())),
        "{err}"
    );

    // After the fix it starts.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o600)).unwrap();
    let relay = Relay::start(home.path(), &["--data-dir", data.to_str().unwrap()], &[]);
    assert!(relay.stop().status.success());
}

#[test]
fn a_sqlite_url_without_mode_rwc_creates_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new").join("relay.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for url in [
        format!("sqlite://{}", db.display()),
        format!("sqlite:{}", with_suffix(&db, "2").display()),
    ] {
        let opened = rt.block_on(Db::connect(&url));
        assert!(opened.is_ok(), "{url}: {}", opened.unwrap_err());
    }
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&with_suffix(&db, "2")), 0o600);
    assert_eq!(mode(&dir.path().join("new")), 0o700);
    // An in-memory URL touches no file.
    let memory = rt.block_on(Db::connect("sqlite::memory:"));
    assert!(memory.is_ok(), "{}", memory.unwrap_err());
}
