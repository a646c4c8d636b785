//! Tests with real child processes: two processes contending for the lock,
//! a lock held by another process (waiting, timing out, going stale), and a
//! writer SIGKILLed at varied moments while it writes large states.
//!
//! The same tests run against a throw-away PostgreSQL server too
//! (`support/pg.rs`; `pg_` tests): there a killed holder's lock ends with
//! its session, and a commit racing `force-unlock --force` is refused,
//! never lost.
//!
//! This binary has its own `main` (`harness = false`): run with the env var
//! `ORGFORM_STATE_TEST_ROLE`, it plays a child role instead of running the
//! tests. Arguments not starting with `-` filter the tests by name.

// A test binary: clippy cannot tell without libtest's `#[test]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use orgform_model::{EffGroup, EffUser, EffectiveOrg, Role};
use orgform_state::{FORMAT_VERSION, Liveness, State, StateError, Store};

#[path = "support/pg.rs"]
mod pg;

const ROLE: &str = "ORGFORM_STATE_TEST_ROLE";
const PATH: &str = "ORGFORM_STATE_TEST_PATH";
const GO: &str = "ORGFORM_STATE_TEST_GO";
const HOLD_COMMAND: &str = "orgform apply";
const LINEAGE: &str = "7d3c1f9a-1111-4222-8333-444455556666";

type Test = (&'static str, fn());

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        child(&role);
        return;
    }
    let tests: [Test; 9] = [
        (
            "two_processes_contend_one_fails_naming_the_holder",
            two_processes_contend,
        ),
        ("waiting_for_another_process", waiting_for_another_process),
        (
            "pg_two_processes_contend_one_fails_naming_the_holder",
            pg_two_processes_contend,
        ),
        (
            "pg_waiting_for_another_process",
            pg_waiting_for_another_process,
        ),
        (
            "pg_a_killed_holder_frees_the_lock_with_its_session",
            pg_a_killed_holder_frees_the_lock,
        ),
        (
            "pg_sigkill_during_commits_never_leaves_a_partial_state",
            pg_sigkill_during_commits,
        ),
        (
            "pg_a_commit_racing_a_forced_unlock_is_refused_never_lost",
            pg_commit_racing_forced_unlock,
        ),
        (
            "a_killed_holder_leaves_a_stale_lock",
            a_killed_holder_leaves_a_stale_lock,
        ),
        (
            "sigkill_during_writes_never_leaves_a_partial_state",
            sigkill_during_writes,
        ),
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in tests {
            println!("{name}: test");
        }
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let mut ran = 0;
    for (name, test) in tests {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let start = Instant::now();
        println!("test {name} ...");
        test();
        println!("test {name} ... ok ({:.1?})", start.elapsed());
        ran += 1;
    }
    println!("\ntest result: ok. {ran} passed");
}

// ---------------------------------------------------------------- children

fn child(role: &str) {
    let store = Store::open(PathBuf::from(std::env::var(PATH).expect("state path")));
    match role {
        "hold" => hold(&store),
        "writer" => writer(&store),
        "reporting-writer" => reporting_writer(&store),
        other => panic!("unknown role {other}"),
    }
}

/// Waits for the go file (if any), takes the lock, says so, holds it until
/// stdin closes, releases it. On a refusal, prints the message and exits 3.
fn hold(store: &Store) {
    if let Ok(go) = std::env::var(GO) {
        while !Path::new(&go).exists() {
            thread::sleep(Duration::from_millis(1));
        }
    }
    let mut out = std::io::stdout();
    match store.lock(HOLD_COMMAND, None) {
        Ok(lock) => {
            writeln!(out, "ACQUIRED {}", std::process::id()).unwrap();
            out.flush().unwrap();
            let mut rest = String::new();
            let _ = std::io::stdin().read_line(&mut rest);
            lock.release().unwrap();
            writeln!(out, "RELEASED").unwrap();
        }
        Err(err) => {
            writeln!(out, "LOCKED {err}").unwrap();
            out.flush().unwrap();
            std::process::exit(3);
        }
    }
}

/// Takes the lock and writes ever newer large states until killed.
fn writer(store: &Store) {
    let lock = store.lock("orgform apply (writer)", None).unwrap();
    let mut serial = store.load().unwrap().map_or(0, |s| s.serial);
    loop {
        serial += 1;
        lock.commit(&make_state(serial)).unwrap();
    }
}

/// Takes the lock, says so, then commits ever newer small states, saying
/// `COMMITTED n` after each; on the first refusal says `REFUSED <error>`
/// and exits 4.
fn reporting_writer(store: &Store) {
    let mut out = std::io::stdout();
    let lock = store.lock("orgform apply (writer)", None).unwrap();
    writeln!(out, "ACQUIRED {}", std::process::id()).unwrap();
    out.flush().unwrap();
    let mut serial = store.load().unwrap().map_or(0, |s| s.serial);
    loop {
        serial += 1;
        let mut state = make_state(serial);
        state.org.users.retain(|id, _| id.as_str() < "E000050");
        match lock.commit(&state) {
            Ok(()) => writeln!(out, "COMMITTED {serial}").unwrap(),
            Err(err) => {
                writeln!(out, "REFUSED {err}").unwrap();
                out.flush().unwrap();
                std::process::exit(4);
            }
        }
        out.flush().unwrap();
    }
}

/// The state of a given serial: large (2,000 to 8,000 users), different for
/// every serial, so that a file can be checked to be exactly one of them.
fn make_state(serial: u64) -> State {
    let mut org = EffectiveOrg::default();
    for g in 0..20 {
        let id = format!("G{g:03}");
        let mut group = EffGroup::new(&id, &format!("Group {g} v{serial}"));
        group.description = Some(format!("written by serial {serial}"));
        org.groups.insert(id, group);
    }
    let users = 2_000 + (serial % 5) * 1_500;
    for i in 0..users {
        let id = format!("E{i:06}");
        let mut u = EffUser::new(
            &id,
            &format!("First{i}"),
            &format!("Last{serial}"),
            &format!("user{i}.s{serial}@example.com"),
        );
        u.phone = Some(format!("+46{:09}", i * 7 + serial));
        u.timezone = Some("Europe/Stockholm".to_owned());
        u.member_of.insert(format!("G{:03}", i % 20));
        u.interest_of.insert(format!("G{:03}", (i + serial) % 20));
        u.role = if i % 50 == 0 {
            Role::Manager
        } else {
            Role::User
        };
        u.external_properties
            .insert("city".to_owned(), format!("City {}", i % 13));
        org.users.insert(id, u);
    }
    State {
        format_version: FORMAT_VERSION,
        lineage: LINEAGE.to_owned(),
        serial,
        endpoint: Some("http://127.0.0.1:1/v1/organization".to_owned()),
        spec_digest: format!("sha256:{serial:064x}"),
        applied_at: format!("2026-11-23T10:{:02}:{:02}Z", serial / 60 % 60, serial % 60),
        tool_version: "0.1.0".to_owned(),
        rollout: None,
        org,
    }
}

// ---------------------------------------------------------------- helpers

struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Holder {
    fn spawn(path: &Path, go: Option<&Path>) -> Holder {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.env(ROLE, "hold")
            .env(PATH, path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if let Some(go) = go {
            cmd.env(GO, go);
        }
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Holder {
            child,
            stdin,
            stdout,
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    }

    /// Closes stdin (the child releases and exits) and checks it did.
    fn release(mut self) {
        drop(self.stdin.take());
        assert_eq!(self.line(), "RELEASED");
        assert!(self.child.wait().unwrap().success());
    }
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

// ---------------------------------------------------------------- tests

fn two_processes_contend() {
    let dir = temp_dir();
    contend(&dir, &dir.path().join(".orgform/state.json"));
}

fn pg_two_processes_contend() {
    let Some(server) = pg::server() else { return };
    contend(&temp_dir(), Path::new(&server.url("contend")));
}

fn contend(dir: &tempfile::TempDir, path: &Path) {
    let path = path.to_owned();
    let store = Store::open(path.clone());
    for round in 0..8 {
        let go = dir.path().join(format!("go-{round}"));
        let mut a = Holder::spawn(&path, Some(&go));
        let mut b = Holder::spawn(&path, Some(&go));
        thread::sleep(Duration::from_millis(50));
        fs::write(&go, b"").unwrap();
        let (la, lb) = (a.line(), b.line());
        let (winner, mut loser, lost) =
            match (la.starts_with("ACQUIRED"), lb.starts_with("ACQUIRED")) {
                (true, false) => (a, b, lb),
                (false, true) => (b, a, la),
                _ => panic!("round {round}: exactly one must win: {la:?} / {lb:?}"),
            };
        let pid = winner.child.id();
        assert!(lost.starts_with("LOCKED the state is locked by "), "{lost}");
        assert!(
            lost.contains(&format!("(pid {pid}, `{HOLD_COMMAND}`, since ")),
            "{lost}"
        );
        assert!(lost.contains("orgform force-unlock"), "{lost}");
        assert_eq!(loser.child.wait().unwrap().code(), Some(3));
        let holder = store.lock_holder().unwrap().expect("held");
        assert_eq!(holder.pid, pid);
        assert!(!holder.is_stale());
        winner.release();
        assert_eq!(
            store.lock_holder().unwrap(),
            None,
            "round {round}: the winner released"
        );
    }
}

fn waiting_for_another_process() {
    let dir = temp_dir();
    wait_for_another(&dir.path().join("state.json"));
}

fn pg_waiting_for_another_process() {
    let Some(server) = pg::server() else { return };
    wait_for_another(Path::new(&server.url("wait")));
}

fn wait_for_another(path: &Path) {
    let path = path.to_owned();
    let store = Store::open(path.clone());

    // Times out naming the holder.
    let mut holder = Holder::spawn(&path, None);
    assert!(holder.line().starts_with("ACQUIRED"));
    let start = Instant::now();
    let err = store
        .lock("orgform apply", Some(Duration::from_millis(300)))
        .unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(300));
    match &err {
        StateError::Locked {
            holder: h,
            stale: false,
            waited: Some(w),
            ..
        } => {
            assert_eq!(h.pid, holder.child.id());
            assert!(*w >= Duration::from_millis(300));
        }
        other => panic!("expected Locked after waiting, got {other:?}"),
    }
    assert!(err.to_string().contains("after waiting"), "{err}");

    // Acquired once the holder releases.
    let stdin = holder.stdin.take();
    let releaser = thread::spawn(move || {
        thread::sleep(Duration::from_millis(400));
        drop(stdin);
    });
    let start = Instant::now();
    let lock = store
        .lock("orgform apply", Some(Duration::from_secs(30)))
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(lock.holder().pid, std::process::id());
    releaser.join().unwrap();
    assert_eq!(holder.line(), "RELEASED");
    assert!(holder.child.wait().unwrap().success());
    // The child's release did not remove our lock.
    assert_eq!(store.lock_holder().unwrap().as_ref(), Some(lock.holder()));
}

fn a_killed_holder_leaves_a_stale_lock() {
    let dir = temp_dir();
    let path = dir.path().join("state.json");
    let store = Store::new(path.clone());
    let mut holder = Holder::spawn(&path, None);
    assert!(holder.line().starts_with("ACQUIRED"));
    let pid = holder.child.id();
    holder.child.kill().unwrap();
    holder.child.wait().unwrap();

    let h = store.lock_holder().unwrap().expect("left behind");
    assert_eq!(h.pid, pid);
    assert!(h.is_stale());
    // Refused, at once even when asked to wait: waiting cannot help.
    let start = Instant::now();
    let err = store
        .lock("orgform apply", Some(Duration::from_secs(30)))
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(&err, StateError::Locked { stale: true, holder, .. } if holder.pid == pid),
        "{err:?}"
    );
    assert!(err.to_string().contains("that process is gone"), "{err}");
    assert_eq!(store.force_unlock().unwrap().map(|h| h.pid), Some(pid));
    store.lock("orgform apply", None).unwrap();
}

/// Starts this binary as a writer of the state at `path` (committing in a
/// loop), SIGKILLs it after `pause` and reaps it; its pid.
fn kill_a_writer_after(path: &Path, pause: Duration) -> u32 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, "writer")
        .env(PATH, path)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    thread::sleep(pause);
    child.kill().unwrap();
    child.wait().unwrap();
    child.id()
}

/// What `store` holds after a writer was killed in round `round`: a whole
/// state (exactly `make_state` of its serial) at a serial not below
/// `last_serial` (which it moves on), or nothing while nothing was
/// committed yet.
#[track_caller]
fn whole_state_after_kill(store: &Store, round: u64, last_serial: &mut u64) -> Option<State> {
    match store.load() {
        Ok(Some(state)) => {
            assert_eq!(
                state,
                make_state(state.serial),
                "round {round}: not a whole state"
            );
            assert!(state.serial >= *last_serial);
            *last_serial = state.serial;
            Some(state)
        }
        Ok(None) => {
            assert_eq!(*last_serial, 0, "round {round}: the state vanished");
            None
        }
        Err(err) => panic!("round {round}: {err}"),
    }
}

fn sigkill_during_writes() {
    const ROUNDS: u64 = 30;
    let dir = temp_dir();
    let state_dir = dir.path().join(".orgform");
    let path = state_dir.join("state.json");
    let store = Store::new(path.clone());
    let mut last_serial = 0;
    let mut killed_mid_write = 0;
    for round in 0..ROUNDS {
        // Varied moments: from before the first write to deep into the loop.
        let pid = kill_a_writer_after(&path, Duration::from_millis(20 + (round * 73) % 400));

        let leftovers = fs::read_dir(&state_dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                    .count()
            })
            .unwrap_or(0);
        if leftovers > 0 {
            killed_mid_write += 1;
        }

        if let Some(state) = whole_state_after_kill(&store, round, &mut last_serial)
            && state.serial >= 2
        {
            let bytes = fs::read(store.backup_path()).expect("the backup exists");
            let backup: State = serde_json::from_slice(&bytes).unwrap();
            assert!(
                backup.serial + 1 == state.serial || backup.serial == state.serial,
                "round {round}: backup {} for state {}",
                backup.serial,
                state.serial
            );
            assert_eq!(backup, make_state(backup.serial));
        }

        // The killed writer's lock is left behind, and reported stale.
        if let Some(holder) = store.lock_holder().unwrap() {
            assert_eq!(holder.pid, pid);
            assert!(holder.is_stale());
            assert!(matches!(
                store.lock("check", None),
                Err(StateError::Locked { stale: true, .. })
            ));
            store.force_unlock().unwrap();
        }
    }
    println!(
        "  {ROUNDS} rounds, reached serial {last_serial}, {killed_mid_write} kills left a temp file"
    );
    assert!(last_serial >= 10, "too few writes happened: {last_serial}");
    assert!(killed_mid_write >= 1, "no kill landed during a write");

    // The next writer cleans up what the killed ones left.
    let lock = store.lock("orgform apply", None).unwrap();
    lock.commit(&make_state(last_serial + 1)).unwrap();
    drop(lock);
    // A writer killed while it was taking the lock leaves its lock attempt
    // (`.state.json.lock.<random>.tmp`, the holder's details only): a commit
    // leaves those alone, because a live contender may be about to link its
    // own (see `commit_removes_a_killed_writers_leftovers_but_not_lock_attempts`).
    let names: BTreeSet<String> = fs::read_dir(&state_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !(n.starts_with(".state.json.lock.") && n.ends_with(".tmp")))
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["state.json".to_owned(), "state.json.backup".to_owned()])
    );
}

fn pg_a_killed_holder_frees_the_lock() {
    let Some(server) = pg::server() else { return };
    let path = PathBuf::from(server.url("killed"));
    let store = Store::open(path.clone());
    for round in 0..3 {
        let mut holder = Holder::spawn(&path, None);
        assert!(holder.line().starts_with("ACQUIRED"));
        let pid = holder.child.id();
        assert!(matches!(
            store.lock("check", None),
            Err(StateError::Locked { holder, .. }) if holder.pid == pid
        ));
        holder.child.kill().unwrap();
        holder.child.wait().unwrap();
        // The session ends with the process: the lock is free without any
        // force-unlock (the server may take a moment to notice).
        let lock = store
            .lock("orgform apply", Some(Duration::from_secs(30)))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(lock.holder().pid, std::process::id());
        assert_eq!(
            store.lock_status().unwrap().map(|s| s.session),
            Some(Liveness::Alive)
        );
        lock.release().unwrap();
    }
    // A holder row left by a killed run shows as gone and is cleared.
    let mut holder = Holder::spawn(&path, None);
    assert!(holder.line().starts_with("ACQUIRED"));
    holder.child.kill().unwrap();
    holder.child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let status = store.lock_status().unwrap().expect("the row is left");
        if status.session == Liveness::Gone || Instant::now() > deadline {
            break status;
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.session, Liveness::Gone);
    assert!(store.force_unlock_if(&status.holder).unwrap());
    assert_eq!(store.lock_holder().unwrap(), None);
}

fn pg_sigkill_during_commits() {
    const ROUNDS: u64 = 12;
    let Some(server) = pg::server() else { return };
    let path = PathBuf::from(server.url("sigkill"));
    let store = Store::open(path.clone());
    let mut last_serial = 0;
    for round in 0..ROUNDS {
        kill_a_writer_after(&path, Duration::from_millis(150 + (round * 97) % 600));
        whole_state_after_kill(&store, round, &mut last_serial);
        // The killed writer's lock ends with its session.
        store
            .lock("check", Some(Duration::from_secs(30)))
            .unwrap_or_else(|e| panic!("round {round}: {e}"))
            .release()
            .unwrap();
    }
    println!("  {ROUNDS} rounds, reached serial {last_serial}");
    assert!(last_serial >= 3, "too few commits happened: {last_serial}");
}

fn pg_commit_racing_forced_unlock() {
    let Some(server) = pg::server() else { return };
    let path = PathBuf::from(server.url("race"));
    let store = Store::open(path.clone());
    for round in 0..5u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(ROLE, "reporting-writer")
            .env(PATH, &path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert!(line.starts_with("ACQUIRED"), "{line}");
        thread::sleep(Duration::from_millis(50 + round * 70));
        let holder = store.lock_holder().unwrap().expect("held");
        // The forced unlock ends the writer's session mid-stream.
        assert!(store.force_unlock_terminate(&holder).unwrap());
        let mut last_ok = 0;
        let mut refused = None;
        for line in out.lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("COMMITTED ") {
                last_ok = n.parse().unwrap();
            } else if let Some(err) = line.strip_prefix("REFUSED ") {
                refused = Some(err.to_owned());
            }
        }
        assert_eq!(
            child.wait().unwrap().code(),
            Some(4),
            "the writer was refused"
        );
        let refused = refused.expect("a refusal");
        assert!(refused.contains("lock"), "{refused}");
        let stored = store.load().unwrap().map_or(0, |s| s.serial);
        // Never lost: every commit reported done is there. At most the one
        // in flight may have landed without its answer.
        assert!(
            stored >= last_ok,
            "round {round}: committed {last_ok}, stored {stored}"
        );
        assert!(
            stored <= last_ok + 1,
            "round {round}: committed {last_ok}, stored {stored}"
        );
        let state = store.load().unwrap().unwrap();
        assert_eq!(state.serial, stored);
        println!(
            "  round {round}: {last_ok} commits reported, serial {stored} stored; refused: {refused}"
        );
    }
}
