//! The end-to-end harness: the real `orgform` binary, in a temp directory,
//! against the real emulator (`orgform sim`) on 127.0.0.1.
#![allow(dead_code)] // each test binary uses part of the harness

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The token the emulator accepts in these tests.
pub const TOKEN: &str = "e2e-secret-token-5f1d0c7a";

/// The orgform binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_orgform")
}

/// The repository root (for `specs/…`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running emulator, killed on drop.
pub struct Sim {
    child: Child,
    /// `http://127.0.0.1:PORT/v1/organization`
    pub url: String,
}

impl Sim {
    /// Starts `orgform sim` with the account of `specs/acme/sim-fixture.json`
    /// (a manual group, a manual administrator, acme's attributes).
    pub fn acme() -> Sim {
        let fixture = root().join("specs/acme/sim-fixture.json");
        Sim::start(&["--fixture", fixture.to_str().expect("utf-8 path")])
    }

    /// Starts `orgform sim` on a free loopback port with extra arguments.
    pub fn start(extra: &[&str]) -> Sim {
        let mut child = Command::new(bin())
            .args(["sim", "--listen", "127.0.0.1:0", "--token-env", "SIM_TOKEN"])
            .args(extra)
            .env("SIM_TOKEN", TOKEN)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the emulator");
        let stdout = child.stdout.take().expect("emulator stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the emulator's URL");
        let url = line.trim().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "unexpected first line `{url}`"
        );
        Sim { child, url }
    }

    /// The emulator-only read endpoint: every record with its `managed` flag.
    pub fn data(&self) -> serde_json::Value {
        let (status, body) = http_get(&self.url, TOKEN);
        assert_eq!(status, 200, "GET {} answered {status}: {body}", self.url);
        serde_json::from_str(&body).expect("emulator JSON")
    }
}

/// A minimal HTTP/1.0 GET over std (the tests need no HTTP client crate).
pub fn http_get(url: &str, token: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the emulator");
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nAuthorization: {token}\r\n\r\n"
    )
    .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temp working directory with a state path inside it.
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        Work {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join(".orgform/state.json")
    }

    /// Writes a spec file and returns its path.
    pub fn spec(&self, name: &str, yaml: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, yaml).expect("write spec");
        path
    }

    /// Runs orgform in this directory with the token set and no colour.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[("FRANKLY_API_TOKEN", TOKEN)])
    }

    /// Runs orgform with chosen environment variables (no token unless given).
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("FRANKLY_API_TOKEN")
            .env_remove("ORGFORM_STATE")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run(cmd.output().expect("run orgform"))
    }
}

/// A finished orgform run.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code(),
            code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}
