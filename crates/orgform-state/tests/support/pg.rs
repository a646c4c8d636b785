//! A throw-away PostgreSQL server for tests, started from the local
//! binaries (`initdb`, `postgres`, `pg_isready`: Debian's `postgresql`
//! package) into a temporary directory, on a free 127.0.0.1 port, with
//! trust authentication for one user. When the tests run as root it runs
//! as `nobody` (initdb refuses root).
//!
//! One server per test binary, started lazily by the first test that asks
//! ([`server`]) and shared by the rest; each test uses its own state name
//! ([`PgServer::url`]). It is stopped and its directory removed when the
//! test binary exits, however it exits: the server runs under a small shell
//! that waits on a pipe held by this process, and a closed pipe stops it.
//!
//! Without the binaries: in CI (`CI=true`) the tests fail; elsewhere they
//! are skipped with a loud message on stderr.
//!
//! Shared by `crates/orgform-state` (unit and integration tests) and the
//! end-to-end tests in `tests/` (`#[path]`-included).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The database user the tests connect as (trust authentication).
pub const USER: &str = "orgform_test";

/// A running throw-away server.
#[derive(Debug)]
pub struct PgServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The directory with its binaries.
    pub bin: PathBuf,
    /// The directory holding the data and the socket (removed at exit).
    pub dir: PathBuf,
    /// Held open for the life of this process: closing it stops the server.
    guard: Mutex<Option<ChildStdin>>,
}

impl PgServer {
    /// A `postgres://` state URL for a state name unique to this process
    /// and call (`prefix` keeps it readable), `sslmode=disable` (loopback).
    pub fn url(&self, prefix: &str) -> String {
        self.url_in(prefix, "orgform")
    }

    /// [`PgServer::url`] in another schema.
    pub fn url_in(&self, prefix: &str, schema: &str) -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        format!(
            "postgres://{USER}@127.0.0.1:{}/postgres?name={prefix}-{}-{n}&schema={schema}&sslmode=disable",
            self.port,
            std::process::id()
        )
    }

    /// Runs one SQL statement with `psql` (tests use it to kill sessions
    /// and look at rows); returns its unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .env_remove("PGPASSWORD")
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

/// The shared server, started on first use; `None` when PostgreSQL is not
/// installed and this is not CI (the caller skips its test).
pub fn server() -> Option<&'static PgServer> {
    static SERVER: OnceLock<Option<PgServer>> = OnceLock::new();
    SERVER.get_or_init(start).as_ref()
}

/// The directory holding `initdb`, `postgres` and `pg_isready`.
fn find_bin() -> Option<PathBuf> {
    let has = |dir: &Path| {
        ["initdb", "postgres", "pg_isready", "psql"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(dir) = std::env::var("ORGFORM_TEST_PG_BIN") {
        candidates.push(PathBuf::from(dir));
    }
    // Debian keeps the server binaries out of PATH, one directory per version.
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev());
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates.push(PathBuf::from("/usr/local/bin"));
    candidates.into_iter().find(|d| has(d)).map(|dir| {
        // Resolve symlinks (`/usr/local/bin/initdb` -> the versioned dir),
        // so that initdb finds the matching `postgres` beside it.
        std::fs::canonicalize(dir.join("initdb"))
            .ok()
            .and_then(|p| p.parent().map(Path::to_owned))
            .filter(|d| has(d))
            .unwrap_or(dir)
    })
}

fn start() -> Option<PgServer> {
    let Some(bin) = find_bin() else {
        let msg = "PostgreSQL binaries (initdb, postgres, pg_isready, psql) not found: install \
                   the `postgresql` package (Debian: `apt-get install -y postgresql`)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}; in CI the PostgreSQL tests must run");
        }
        eprintln!("\n!!!!!!!! SKIPPING PostgreSQL tests: {msg} !!!!!!!!\n");
        return None;
    };
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let dir = tempfile::Builder::new()
        .prefix("orgform-pg-")
        .tempdir()
        .expect("temp dir")
        .keep();
    if root {
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).expect("chown to nobody");
    }
    let data = dir.join("data");
    let as_user = |program: &Path| {
        let mut cmd = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.current_dir(&dir);
        cmd
    };
    let out = as_user(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ])
        .env("LC_ALL", "C")
        .output()
        .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    // The shell waits on its stdin (our pipe); when this process exits the
    // pipe closes, and the shell stops the server and removes the directory.
    let script = r#"
        "$1/postgres" -D "$2" -p "$3" -k "$4" -c listen_addresses=127.0.0.1 \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c max_connections=200 >"$4/server.log" 2>&1 &
        pid=$!
        read _ignored
        kill -INT "$pid" 2>/dev/null
        wait "$pid"
        rm -rf "$4"
    "#;
    let mut child = as_user(Path::new("sh"))
        .args(["-c", script, "sh"])
        .arg(&bin)
        .arg(&data)
        .arg(port.to_string())
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postgres");
    let guard = child.stdin.take();
    // The shell is reaped by nobody once this process is gone (init adopts it).
    std::mem::forget(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            panic!("PostgreSQL did not start within 60s:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(PgServer {
        port,
        bin,
        dir,
        guard: Mutex::new(guard),
    })
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// Stops the server now (tests that end the process themselves may call
/// it; normally the exit of the process does it).
pub fn stop() {
    if let Some(server) = server()
        && let Ok(mut guard) = server.guard.lock()
        && let Some(mut stdin) = guard.take()
    {
        let _ = stdin.write_all(b"\n");
    }
}
