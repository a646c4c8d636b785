//! The PostgreSQL state store end to end (DESIGN section 9): the real
//! binary, the real emulator, and a throw-away PostgreSQL server started
//! from the local binaries (`crates/orgform-state/tests/support/pg.rs`; in
//! CI a missing PostgreSQL fails these tests, elsewhere they are skipped
//! with a loud message).
//!
//! - ten applies from ten processes on one state: one per serial, every
//!   history line there, the state equal to the emulator's records;
//! - a SIGKILLed lock holder's lock ends with its session;
//! - `state push` of a file state, then `plan` against PostgreSQL: no
//!   changes; `state pull` gives the same lineage and serial;
//! - the lock session killed while the emulator holds the real request
//!   open: nothing is committed, the run says the server may have applied,
//!   a `maybeApplied` line is there, and the next run converges;
//! - `force-unlock` refuses a live session without `--force`;
//! - a URL with a password is refused, masked.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../crates/orgform-state/tests/support/pg.rs"]
mod pg;

use std::path::PathBuf;
use std::time::Duration;

use common::{
    ABC, ABD, PAUSE_AT, Run, Sim, Spawned, TOKEN, Work, assert_no_token_in_files, assert_one_chain,
    state_people,
};
use serde_json::Value;

/// A fresh state URL on the shared server, and its state name.
fn state_url(server: &pg::PgServer, prefix: &str) -> (String, String) {
    let url = server.url(prefix);
    let name = url
        .split("name=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .unwrap()
        .to_owned();
    (url, name)
}

/// What most tests start from: the shared server, a fresh state URL on it
/// and its name, an emulator, a work directory and the ABC spec in it.
type Case = (&'static pg::PgServer, String, String, Sim, Work, PathBuf);

/// A [`Case`] for states named `prefix…`; `None` when PostgreSQL is not
/// installed (outside CI; the test then passes without running).
fn case(prefix: &str) -> Option<Case> {
    let server = pg::server()?;
    let (url, name) = state_url(server, prefix);
    let sim = Sim::start(&[]);
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    Some((server, url, name, sim, work, abc))
}

fn history(server: &pg::PgServer, name: &str) -> Vec<Value> {
    let text = server.psql(&format!(
        "SELECT entry::text FROM orgform.history WHERE name = '{name}' ORDER BY id"
    ));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn pull(work: &Work, url: &str) -> Value {
    let run = work.run(&["state", "pull", "--state", url]);
    run.expect_code(0);
    serde_json::from_str(&run.stdout()).expect("state pull prints a JSON state")
}

fn apply<'a>(spec: &'a str, sim: &'a Sim, url: &'a str) -> Vec<&'a str> {
    vec![
        "apply",
        spec,
        "--auto-approve",
        "--endpoint",
        &sim.url,
        "--state",
        url,
    ]
}

#[test]
fn ten_applies_from_ten_processes_one_per_serial_all_in_the_history() {
    let Some(server) = pg::server() else { return };
    let (url, name) = state_url(server, "ten");
    let sim = Sim::start(&["--fault", "latency=50ms"]);
    let work = Work::new();
    let specs = work.abc_plus_one_each(10);
    let spawned: Vec<Spawned> = specs
        .iter()
        .map(|spec| {
            let mut args = apply(spec.to_str().unwrap(), &sim, &url);
            args.extend(["--lock-timeout", "120s"]);
            work.spawn(&args, &[])
        })
        .collect();
    let runs: Vec<Run> = spawned.into_iter().map(Spawned::finish).collect();
    for run in &runs {
        run.expect_code(0);
        run.expect_stdout("Apply complete!");
    }
    // Exactly one version per serial, 1 to 10.
    let serials = server.psql(&format!(
        "SELECT string_agg(serial::text, ',' ORDER BY serial) FROM orgform.states WHERE name = '{name}'"
    ));
    assert_eq!(serials, "1,2,3,4,5,6,7,8,9,10");
    // Every history line is there, and they form one chain 0 -> 10.
    let lines = history(server, &name);
    assert_one_chain(
        &lines,
        10,
        "each apply started from the previous one's state",
    );
    let state = pull(&work, &url);
    assert_eq!(state["serial"], 10);
    assert_eq!(
        state_people(&state),
        sim.people(),
        "the state equals the emulator's records"
    );
    // Nobody holds the lock any more.
    let show = work.run(&["state", "show", "--state", &url]);
    show.expect_code(0);
    assert!(!show.stdout().contains("Locked by"), "{}", show.stdout());
    show.expect_stdout("Serial:    10");
    assert_no_token_in_files(work.path());
    let tokens = server.psql(&format!(
        "SELECT count(*) FROM orgform.history WHERE entry::text LIKE '%{TOKEN}%'"
    ));
    assert_eq!(tokens, "0", "no token in the history rows");
}

#[test]
fn a_sigkilled_holder_frees_the_lock_with_its_session() {
    let Some((server, url, name, sim, work, abc)) = case("sigkill") else {
        return;
    };
    let paused = work.spawn(
        &apply(abc.to_str().unwrap(), &sim, &url),
        &[(PAUSE_AT, "locked")],
    );
    paused.wait_paused("locked");
    let pid = paused.pid();
    let blocked = work.run(&apply(abc.to_str().unwrap(), &sim, &url));
    blocked.expect_code(1);
    blocked.expect_stderr("the state is locked by");
    blocked.expect_stderr(&format!("pid {pid},"));
    paused.kill();
    // No force-unlock: the lock ended with the killed run's session.
    let run = work.run(&[
        "apply",
        abc.to_str().unwrap(),
        "--auto-approve",
        "--endpoint",
        &sim.url,
        "--state",
        &url,
        "--lock-timeout",
        "30s",
    ]);
    run.expect_code(0);
    assert_eq!(pull(&work, &url)["serial"], 1);
    assert_eq!(
        server.psql(&format!(
            "SELECT count(*) FROM orgform.locks WHERE name = '{name}'"
        )),
        "0",
        "the holder row is gone after release"
    );
}

#[test]
fn push_of_a_file_state_then_plan_shows_no_changes_and_pull_round_trips() {
    let Some((server, url, name, sim, work, abc)) = case("push") else {
        return;
    };
    // First with the file store.
    work.run(&[
        "apply",
        abc.to_str().unwrap(),
        "--auto-approve",
        "--endpoint",
        &sim.url,
    ])
    .expect_code(0);
    let file_state: Value = serde_json::from_slice(&std::fs::read(work.state()).unwrap()).unwrap();
    // Moved to PostgreSQL with one command.
    let push = work.run(&["state", "push", ".orgform/state.json", "--state", &url]);
    push.expect_code(0);
    push.expect_stdout("serial 1");
    let plan = work.run(&[
        "plan",
        abc.to_str().unwrap(),
        "--state",
        &url,
        "--detailed-exitcode",
    ]);
    plan.expect_code(0);
    plan.expect_stdout("No changes");
    let pulled = pull(&work, &url);
    assert_eq!(pulled["lineage"], file_state["lineage"]);
    assert_eq!(pulled["serial"], file_state["serial"]);
    assert_eq!(pulled, file_state, "the whole state round-trips");
    // Pushing it again is refused: the same serial is not newer.
    let again = work.run(&["state", "push", ".orgform/state.json", "--state", &url]);
    again.expect_code(1);
    again.expect_stderr("lineage");
    // The next apply goes on from it, in PostgreSQL.
    let abd = work.spec("abd.yaml", ABD);
    work.run(&apply(abd.to_str().unwrap(), &sim, &url))
        .expect_code(0);
    let after = pull(&work, &url);
    assert_eq!(after["serial"], 2);
    assert_eq!(after["lineage"], file_state["lineage"]);
    assert_eq!(state_people(&after), sim.people());
    let show = work.run(&["state", "show", "--serial", "1", "--state", &url]);
    show.expect_code(0);
    show.expect_stdout("Serial:    1");
    assert!(!history(server, &name).is_empty());
}

#[test]
fn the_lock_session_killed_during_a_held_request_commits_nothing_and_the_next_run_converges() {
    let Some((server, url, name, sim, work, abc)) = case("killed-session") else {
        return;
    };
    let abd = work.spec("abd.yaml", ABD);
    work.run(&apply(abc.to_str().unwrap(), &sim, &url))
        .expect_code(0);

    sim.set_faults(r#"{"latencyMs": 3000}"#);
    let mut run = work.spawn(
        &apply(abd.to_str().unwrap(), &sim, &url),
        &[(PAUSE_AT, "preflight")],
    );
    run.wait_paused("preflight");
    run.resume();
    // The real request is now held open by the emulator's latency: end the
    // lock session under it.
    std::thread::sleep(Duration::from_millis(800));
    let killed = server.psql(&format!(
        "SELECT pg_terminate_backend(backend_pid) FROM orgform.locks WHERE name = '{name}'"
    ));
    assert_eq!(killed, "t", "the lock session was found and ended");
    let done = run.finish();
    done.expect_code(1);
    let err = done.stderr();
    assert!(err.contains("lock session"), "{err}");
    let lowered = err.to_lowercase();
    assert!(
        lowered.contains("may have applied") || lowered.contains("applied the plan"),
        "says the server may have applied it:\n{err}"
    );
    assert_eq!(pull(&work, &url)["serial"], 1, "nothing was committed");
    let lines = history(server, &name);
    let last = lines.last().unwrap();
    assert_eq!(last["outcome"], "maybeApplied", "{last}");

    sim.set_faults(r#"{"latencyMs": 0}"#);
    let next = work.run(&apply(abd.to_str().unwrap(), &sim, &url));
    next.expect_code(0);
    let state = pull(&work, &url);
    assert_eq!(state["serial"], 2);
    assert_eq!(state_people(&state), sim.people(), "the next run converged");
}

#[test]
fn force_unlock_refuses_a_live_session_without_force() {
    let Some((_server, url, _name, sim, work, abc)) = case("force") else {
        return;
    };
    let mut paused = work.spawn(
        &apply(abc.to_str().unwrap(), &sim, &url),
        &[(PAUSE_AT, "locked")],
    );
    paused.wait_paused("locked");
    let refused = work.run(&["force-unlock", "--yes", "--state", &url]);
    refused.expect_code(1);
    refused.expect_stderr("session is still alive");
    refused.expect_stderr("--force");
    let forced = work.run(&["force-unlock", "--yes", "--force", "--state", &url]);
    forced.expect_code(0);
    forced.expect_stdout("ended its database session");
    paused.resume();
    let done = paused.finish();
    done.expect_code(1);
    let show = work.run(&["state", "show", "--state", &url]);
    show.expect_code(0);
    assert!(
        show.stdout().contains("No state"),
        "nothing was committed: {}",
        show.stdout()
    );
    let unlocked = work.run(&["force-unlock", "--yes", "--state", &url]);
    unlocked.expect_code(0);
    unlocked.expect_stdout("not locked");
}

#[test]
fn a_state_url_with_a_password_is_refused_masked() {
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    for url in [
        "postgres://ops:hunter2-secret@db.example.com/orgform?name=acme",
        "postgres://ops@db.example.com/orgform?name=acme&password=hunter2-secret",
    ] {
        let run = work.run(&["plan", abc.to_str().unwrap(), "--state", url]);
        run.expect_code(1);
        let all = format!("{}{}", run.stdout(), run.stderr());
        assert!(!all.contains("hunter2-secret"), "{all}");
        assert!(all.contains("***"), "{all}");
        assert!(all.contains("PGPASSWORD"), "{all}");
    }
    let env = work.run_env(
        &["state", "show"],
        &[(
            "ORGFORM_STATE",
            "postgres://ops:hunter2-secret@db.example.com/x?name=a",
        )],
    );
    env.expect_code(1);
    assert!(!env.stderr().contains("hunter2-secret"), "{}", env.stderr());
}
