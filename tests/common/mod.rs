//! The end-to-end harness: the real `orgform` binary, in a temp directory,
//! against the real emulator (`orgform sim`) on 127.0.0.1.
#![allow(dead_code)] // each test binary uses part of the harness

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

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
    /// Everything the emulator wrote to stderr, when started with
    /// [`Sim::start_logged`] (`RUST_LOG=trace`).
    log: Option<Arc<Mutex<String>>>,
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
        Sim::start_at("127.0.0.1:0", extra)
    }

    /// Starts `orgform sim` listening on `listen` (e.g. `127.0.0.1:PORT` to
    /// restart a killed emulator on its old address).
    pub fn start_at(listen: &str, extra: &[&str]) -> Sim {
        Sim::launch(listen, extra, false)
    }

    /// Like [`Sim::start_at`], with `RUST_LOG=trace` and stderr kept (see [`Sim::log`]).
    pub fn start_logged(listen: &str, extra: &[&str]) -> Sim {
        Sim::launch(listen, extra, true)
    }

    /// What the emulator logged so far (empty unless started logged).
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .map(|l| l.lock().expect("buffer lock").clone())
            .unwrap_or_default()
    }

    fn launch(listen: &str, extra: &[&str], logged: bool) -> Sim {
        let mut cmd = Command::new(bin());
        cmd.args(["sim", "--listen", listen, "--token-env", "SIM_TOKEN"])
            .args(extra)
            .env("SIM_TOKEN", TOKEN)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if logged {
            cmd.env("RUST_LOG", "trace").stderr(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("start the emulator");
        let log = child.stderr.take().map(|stderr| {
            let buf = Arc::new(Mutex::new(String::new()));
            let sink = Arc::clone(&buf);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    sink.lock()
                        .expect("buffer lock")
                        .push_str(&format!("{line}\n"));
                }
            });
            buf
        });
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
        Sim { child, url, log }
    }

    /// `127.0.0.1:PORT`, the address the emulator listens on.
    pub fn addr(&self) -> String {
        let rest = self.url.strip_prefix("http://").expect("http URL");
        rest[..rest.find('/').unwrap_or(rest.len())].to_owned()
    }

    /// Sets faults at run time: `POST /_sim/faults` with a JSON body such as
    /// `{"latencyMs": 500, "failNext": 3, "dropAfterCommitNext": 1}`.
    pub fn set_faults(&self, body: &str) -> serde_json::Value {
        let url = format!("http://{}/_sim/faults", self.addr());
        let (status, answer) = http_post(&url, TOKEN, body);
        assert_eq!(status, 200, "POST {url} answered {status}: {answer}");
        serde_json::from_str(&answer).expect("faults JSON")
    }

    /// SIGKILLs the emulator and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    http_exchange(
        url,
        &format!("GET {{path}} HTTP/1.0\r\nAuthorization: {token}\r\n\r\n"),
    )
}

/// A minimal HTTP/1.0 POST of a JSON body, like [`http_get`].
pub fn http_post(url: &str, token: &str, body: &str) -> (u16, String) {
    let request = format!(
        "POST {{path}} HTTP/1.0\r\nAuthorization: {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    http_exchange(url, &request)
}

/// Sends `request` (with `{path}` standing for the URL's path) to the URL's
/// host and returns the status and body of the answer.
fn http_exchange(url: &str, request: &str) -> (u16, String) {
    use std::io::Read;
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the emulator");
    stream
        .write_all(request.replacen("{path}", path, 1).as_bytes())
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

impl Work {
    /// Starts orgform in this directory without waiting (token set, no
    /// colour, stdin a pipe, both streams captured), for tests that must
    /// act while it runs: see [`Spawned`].
    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Spawned {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("ORGFORM_STATE")
            .env_remove("RUST_LOG")
            .env_remove("ORGFORM_TEST_PAUSE_AT")
            .env("FRANKLY_API_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().expect("start orgform");
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        let stderr_text = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr_text);
        let stderr_thread = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock()
                    .expect("buffer lock")
                    .push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let mut stdout = child.stdout.take().expect("stdout");
        let stdout_thread = std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stdout, &mut out);
            out
        });
        Spawned {
            child,
            stdin,
            lines,
            stderr_text,
            stderr_thread: Some(stderr_thread),
            stdout_thread: Some(stdout_thread),
            started,
        }
    }
}

/// The env var of apply's test hook (debug builds only): apply stops at the
/// named step (`locked`, `preflight`, `state-write`), prints
/// `orgform-test: paused at STEP` and waits for a line on stdin.
pub const PAUSE_AT: &str = "ORGFORM_TEST_PAUSE_AT";

/// An orgform process still running (see [`Work::spawn`]).
pub struct Spawned {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr_text: Arc<Mutex<String>>,
    stderr_thread: Option<std::thread::JoinHandle<()>>,
    stdout_thread: Option<std::thread::JoinHandle<Vec<u8>>>,
    /// When it was started.
    pub started: Instant,
}

impl Spawned {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a line of stderr contains `needle`; panics (with what
    /// was seen) after `timeout` or when the process ends first.
    #[track_caller]
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => {}
                Err(_) => panic!(
                    "no stderr line with `{needle}` within {timeout:?} (is this a debug build? \
                     the pause hook exists only there)\n--- stderr so far\n{}",
                    self.stderr_text.lock().expect("buffer lock")
                ),
            }
        }
    }

    /// Waits until apply's test hook says it paused at `step`.
    #[track_caller]
    pub fn wait_paused(&self, step: &str) {
        self.wait_for_stderr(
            &format!("orgform-test: paused at {step}"),
            Duration::from_secs(30),
        );
    }

    /// Lets a paused apply go on.
    pub fn resume(&mut self) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(b"\n");
            let _ = stdin.flush();
        }
    }

    /// SIGKILLs the process and reaps it (so its pid is gone, and its lock stale).
    pub fn kill(mut self) -> Run {
        let _ = self.child.kill();
        self.finish()
    }

    /// Waits for the end and returns what it printed.
    pub fn finish(mut self) -> Run {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for orgform");
        let stdout = self
            .stdout_thread
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
        let stderr = self
            .stderr_text
            .lock()
            .expect("buffer lock")
            .clone()
            .into_bytes();
        Run(Output {
            status,
            stdout,
            stderr,
        })
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
    /// Asserts that stderr contains `needle`, showing stderr when not.
    #[track_caller]
    pub fn expect_stderr(&self, needle: &str) -> &Run {
        let stderr = self.stderr();
        assert!(
            stderr.contains(needle),
            "no `{needle}` in stderr:\n{stderr}"
        );
        self
    }

    /// Asserts that stdout contains `needle`, showing stdout when not.
    #[track_caller]
    pub fn expect_stdout(&self, needle: &str) -> &Run {
        let stdout = self.stdout();
        assert!(
            stdout.contains(needle),
            "no `{needle}` in stdout:\n{stdout}"
        );
        self
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

/// Three users, the first spec of the API reference's full-sync example.
pub const ABC: &str = r#"version: 1
users:
  - {externalId: A, firstName: Ann, lastName: Ash, email: ann@example.com}
  - {externalId: B, firstName: Bob, lastName: Birch, email: bob@example.com}
  - {externalId: C, firstName: Cat, lastName: Cedar, email: cat@example.com}
"#;

/// The second: B renamed, C removed, D added.
pub const ABD: &str = r#"version: 1
users:
  - {externalId: A, firstName: Ann, lastName: Ash, email: ann@example.com}
  - {externalId: B, firstName: Bobby, lastName: Birch, email: bobby@example.com}
  - {externalId: D, firstName: Dan, lastName: Dogwood, email: dan@example.com}
"#;

/// Every file below `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read a test directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// No file below `dir` holds the token.
#[track_caller]
pub fn assert_no_token_in_files(dir: &Path) {
    for path in files_under(dir) {
        let bytes = std::fs::read(&path).expect("read a test file");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(TOKEN),
            "the token leaked into `{}`",
            path.display()
        );
    }
}

/// The environment of a traced run: the token set and every debug log on.
pub const TRACE_ENV: [(&str, &str); 2] = [("FRANKLY_API_TOKEN", TOKEN), ("RUST_LOG", "trace")];

/// Outputs and bytes checked for the token so far in this test binary.
static CHECKED: (AtomicU64, AtomicU64) = (AtomicU64::new(0), AtomicU64::new(0));

/// What [`assert_clean`] has checked so far, for the RELIABILITY figures
/// (`scripts/reliability.sh` collects the printed lines). Fails when this
/// test binary checked no output at all: a figure must come from checks
/// that ran.
#[track_caller]
pub fn token_figures() -> String {
    let outputs = CHECKED.0.load(Ordering::Relaxed);
    let bytes = CHECKED.1.load(Ordering::Relaxed);
    assert!(
        outputs > 0 && bytes > 0,
        "no orgform output was checked for the token: the figure would be a claim"
    );
    format!(
        "{outputs} outputs ({bytes} bytes) of orgform runs with RUST_LOG=trace checked, no token, no panic"
    )
}

/// Neither the token nor a panic appears in a run's output.
#[track_caller]
pub fn assert_clean(run: &Run) {
    let all = format!("{}{}", run.stdout(), run.stderr());
    CHECKED.0.fetch_add(1, Ordering::Relaxed);
    CHECKED.1.fetch_add(all.len() as u64, Ordering::Relaxed);
    assert!(!all.contains(TOKEN), "the token leaked into output:\n{all}");
    assert!(!all.contains("panicked"), "a panic:\n{all}");
}

impl Work {
    /// Runs orgform with the token and `RUST_LOG=trace`, and checks the output is clean.
    #[track_caller]
    pub fn run_traced(&self, args: &[&str]) -> Run {
        let run = self.run_env(args, &TRACE_ENV);
        assert_clean(&run);
        run
    }
}

impl Work {
    /// The lines of `.orgform/history.jsonl`, parsed; none without the file.
    pub fn history(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join(".orgform/history.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a history line"))
            .collect()
    }

    /// The state file's bytes.
    pub fn state_bytes(&self) -> Vec<u8> {
        std::fs::read(self.state()).expect("state file")
    }

    /// The state file, parsed.
    pub fn state_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.state_bytes()).expect("a whole state file")
    }
}

impl Sim {
    /// The managed users the emulator holds, in its order (by externalId).
    pub fn managed_users(&self) -> Vec<serde_json::Value> {
        self.data()["users"]
            .as_array()
            .expect("users")
            .iter()
            .filter(|u| u["managed"] == true)
            .cloned()
            .collect()
    }

    /// The externalIds of [`Sim::managed_users`].
    pub fn managed_ids(&self) -> Vec<String> {
        self.managed_users()
            .iter()
            .map(|u| u["externalId"].as_str().expect("an externalId").to_owned())
            .collect()
    }
}

impl Work {
    /// `count` specs `n0.yaml`, `n1.yaml`, …: each ABC plus one user `N{i}`
    /// of its own, so that concurrent applies of them all differ.
    pub fn abc_plus_one_each(&self, count: usize) -> Vec<PathBuf> {
        (0..count)
            .map(|i| {
                self.spec(
                    &format!("n{i}.yaml"),
                    &format!(
                        "{ABC}  - {{externalId: N{i}, firstName: Nia{i}, lastName: Nash, email: nia{i}@example.com}}\n"
                    ),
                )
            })
            .collect()
    }
}

/// A user as a comparable tuple: externalId, first name, last name, email.
pub type Person = (String, String, String, String);

fn people(users: impl Iterator<Item = serde_json::Value>) -> std::collections::BTreeSet<Person> {
    users
        .map(|u| {
            let s = |k: &str| u[k].as_str().unwrap_or_default().to_owned();
            (s("externalId"), s("firstName"), s("lastName"), s("email"))
        })
        .collect()
}

/// The users of a state (`org.users`, keyed by externalId) as people.
pub fn state_people(state: &serde_json::Value) -> std::collections::BTreeSet<Person> {
    let users = state["org"]["users"]
        .as_object()
        .expect("state users")
        .clone();
    people(users.into_iter().map(|(id, mut u)| {
        u["externalId"] = serde_json::Value::String(id);
        u
    }))
}

impl Sim {
    /// The managed users the emulator holds, as people.
    pub fn people(&self) -> std::collections::BTreeSet<Person> {
        people(self.managed_users().into_iter())
    }
}

/// Asserts that every history line is `applied` and that, sorted, they
/// chain serial 0 -> 1 -> ... -> `count`: each apply started from the
/// state the previous one wrote (`why` says so in the failure).
#[track_caller]
pub fn assert_one_chain(lines: &[serde_json::Value], count: u64, why: &str) {
    let mut chain: Vec<(u64, u64)> = lines
        .iter()
        .map(|e| {
            assert_eq!(e["outcome"], "applied", "{e}");
            (
                e["serialBefore"].as_u64().expect("serialBefore"),
                e["serialAfter"].as_u64().expect("serialAfter"),
            )
        })
        .collect();
    chain.sort_unstable();
    let expected: Vec<(u64, u64)> = (0..count).map(|i| (i, i + 1)).collect();
    assert_eq!(chain, expected, "{why}");
}
