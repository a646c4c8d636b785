//! Faults, kills and concurrency (issue 13), end to end: the real binary and
//! the real emulator on 127.0.0.1.
//!
//! - orgform SIGKILLed at each step of apply (after locking, after the
//!   server's validation, during the real request, before and during the
//!   state write): the state is the old or the new one, never partial; the
//!   stale lock is reported with its holder; force-unlock and a re-apply
//!   converge;
//! - the emulator SIGKILLed mid-request and restarted from its `--data`
//!   file: its data is the old or the new org, and a re-apply converges;
//! - ten applies at once on one state: one holder at a time, the others
//!   fail fast naming it (or wait with `--lock-timeout`), and the final
//!   state equals the emulator's data;
//! - the token in no output, file, trace log or panic message throughout.
//!
//! Exact steps come from apply's debug-build hook `ORGFORM_TEST_PAUSE_AT`
//! (see `crates/orgform-cli/src/commands/apply.rs`); "during" a request or
//! a write comes from emulator latency or from kills at a sweep of offsets.
//! Each test prints a `RELIABILITY` line with its figures (`--nocapture`);
//! RELIABILITY.md quotes them.
// Helpers outside #[test] unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    ABC, ABD, PAUSE_AT, Run, Sim, Spawned, TOKEN, Work, assert_clean, assert_no_token_in_files,
    assert_one_chain, state_people, token_figures,
};
use serde_json::Value;

/// Every output seen in this test binary, checked for the token at the end
/// of each test (and each run checked at once).
fn trace_env() -> [(&'static str, &'static str); 2] {
    common::TRACE_ENV
}

fn run(work: &Work, args: &[&str]) -> Run {
    work.run_traced(args)
}

fn apply_args<'a>(spec: &'a str, sim: &'a Sim) -> Vec<&'a str> {
    vec!["apply", spec, "--auto-approve", "--endpoint", &sim.url]
}

fn spawn_apply(work: &Work, sim: &Sim, spec: &str, extra: &[&str], pause: Option<&str>) -> Spawned {
    let mut args = apply_args(spec, sim);
    args.extend_from_slice(extra);
    let mut env = trace_env().to_vec();
    if let Some(step) = pause {
        env.push((PAUSE_AT, step));
    }
    work.spawn(&args, &env)
}

/// The stale lock is reported with its holder; force-unlock removes it.
#[track_caller]
fn assert_stale_lock_then_unlock(work: &Work, sim: &Sim, spec: &str, dead_pid: u32) {
    assert!(
        work.path().join(".orgform/state.json.lock").exists(),
        "a SIGKILLed apply leaves its lock"
    );
    let blocked = run(work, &apply_args(spec, sim));
    blocked.expect_code(1);
    let err = blocked.stderr();
    assert!(err.contains("the state is locked by"), "{err}");
    assert!(
        err.contains(&format!("pid {dead_pid},")),
        "names the holder's pid:\n{err}"
    );
    assert!(
        err.contains("`orgform apply`"),
        "names the holder's command:\n{err}"
    );
    assert!(
        err.contains("that process is gone"),
        "says it is stale:\n{err}"
    );
    assert!(
        err.contains("orgform force-unlock"),
        "says what to do:\n{err}"
    );
    // plan takes no lock: it still works.
    run(work, &["plan", spec]).expect_code(0);
    let unlock = run(work, &["force-unlock", "--yes"]);
    unlock.expect_code(0);
    assert!(!work.path().join(".orgform/state.json.lock").exists());
}

#[test]
fn apply_killed_at_each_step_leaves_the_old_state_and_a_stale_lock() {
    let mut figures = Vec::new();
    for step in ["locked", "preflight", "request", "state-write"] {
        let sim = Sim::start(&[]);
        let work = Work::new();
        let abc = work.spec("abc.yaml", ABC);
        let abd = work.spec("abd.yaml", ABD);
        let (abc, abd) = (abc.to_str().unwrap(), abd.to_str().unwrap());
        run(&work, &apply_args(abc, &sim)).expect_code(0);
        let before = work.state_bytes();

        let pause = if step == "request" { "preflight" } else { step };
        let mut apply = spawn_apply(&work, &sim, abd, &[], Some(pause));
        apply.wait_paused(pause);
        if step == "request" {
            // Resume into a real request the emulator holds for 3 s, and kill mid-way.
            sim.set_faults(r#"{"latencyMs": 3000}"#);
            apply.resume();
            apply.wait_for_stderr("Applying (validateOnly: false)", Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(300));
        }
        let pid = apply.pid();
        let killed = apply.kill();
        assert_clean(&killed);
        assert_eq!(killed.code(), -1, "killed by a signal");

        assert_eq!(
            work.state_bytes(),
            before,
            "{step}: the old state, byte for byte"
        );
        work.state_json();
        let server_had = if sim.managed_ids() == ["A", "B", "D"] {
            "new"
        } else {
            "old"
        };
        assert_stale_lock_then_unlock(&work, &sim, abd, pid);
        if step == "request" {
            sim.set_faults(r#"{"latencyMs": 0}"#);
        }
        let again = run(&work, &apply_args(abd, &sim));
        again.expect_code(0);
        assert_eq!(work.state_json()["serial"], 2, "{step}");
        run(&work, &["plan", abd, "--detailed-exitcode"]).expect_code(0);
        assert_eq!(sim.managed_ids(), ["A", "B", "D"]);
        assert_eq!(
            state_people(&work.state_json()),
            sim.people(),
            "{step}: state = emulator"
        );
        assert_no_token_in_files(work.path());
        figures.push(format!("{step}: state old, server {server_had}, converged"));
    }
    println!("RELIABILITY token-check: {}", token_figures());
    println!("RELIABILITY kill-at-step: {}", figures.join("; "));
}

/// A spec of `n` users whose last names all say `tag`.
fn big_spec(n: usize, tag: &str) -> String {
    let mut s = String::from(
        "version: 1\nsettings:\n  maxUsersCreated: 20000\n  maxUsersUpdated: 20000\nusers:\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "  - {{externalId: U{i:05}, firstName: First{i}, lastName: {tag}, email: u{i}@example.com}}\n"
        ));
    }
    s
}

/// The one last name every user of `users` has, or a panic naming the mix.
#[track_caller]
fn single_tag(users: &[Value], n: usize, what: &str) -> String {
    assert_eq!(users.len(), n, "{what}: all {n} users, no more, no fewer");
    let tags: BTreeSet<&str> = users
        .iter()
        .map(|u| u["lastName"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags.len(),
        1,
        "{what}: a mix of versions {tags:?}: a partial write"
    );
    tags.into_iter().next().unwrap().to_owned()
}

fn state_users(work: &Work) -> Vec<Value> {
    work.state_json()["org"]["users"]
        .as_object()
        .expect("users")
        .values()
        .cloned()
        .collect()
}

#[test]
fn apply_killed_during_the_state_write_leaves_the_old_or_the_new_state() {
    const N: usize = 3000;
    let sim = Sim::start(&[]);
    let work = Work::new();
    let one = work.spec("one.yaml", &big_spec(N, "One"));
    let two = work.spec("two.yaml", &big_spec(N, "Two"));
    let (one, two) = (one.to_str().unwrap(), two.to_str().unwrap());
    run(&work, &apply_args(one, &sim)).expect_code(0);
    let size = work.state_bytes().len();

    let (mut old, mut new) = (0, 0);
    let offsets_us = [
        0u64, 500, 1_000, 2_000, 3_000, 5_000, 8_000, 12_000, 20_000, 40_000,
    ];
    for offset in offsets_us {
        let current = single_tag(&state_users(&work), N, "state before");
        let (spec, next) = if current == "One" {
            (two, "Two")
        } else {
            (one, "One")
        };
        let serial = work.state_json()["serial"].as_u64().unwrap();
        let mut apply = spawn_apply(&work, &sim, spec, &[], Some("state-write"));
        apply.wait_paused("state-write");
        apply.resume();
        std::thread::sleep(Duration::from_micros(offset));
        let pid = apply.pid();
        let killed = apply.kill();
        assert_clean(&killed);

        let state = work.state_json();
        let tag = single_tag(
            &state_users(&work),
            N,
            &format!("state after a kill at {offset}us"),
        );
        if tag == next {
            assert_eq!(
                state["serial"],
                serial + 1,
                "the new state has the new serial"
            );
            new += 1;
        } else {
            assert_eq!(state["serial"], serial, "the old state has the old serial");
            old += 1;
        }
        let backup = work.path().join(".orgform/state.json.backup");
        if backup.exists() {
            let backup: Value = serde_json::from_slice(&std::fs::read(backup).unwrap())
                .expect("a whole backup file");
            assert!(backup["serial"].as_u64().is_some());
        }
        // The run may have ended by itself before the kill: then no lock is left.
        if work.path().join(".orgform/state.json.lock").exists() {
            let blocked = run(&work, &apply_args(spec, &sim));
            blocked.expect_code(1);
            blocked.expect_stderr(&format!("pid {pid},"));
            run(&work, &["force-unlock", "--yes"]).expect_code(0);
        }
    }
    // Whatever the state says, one more apply of it converges with the emulator.
    let current = single_tag(&state_users(&work), N, "final state");
    let spec = if current == "One" { one } else { two };
    run(&work, &apply_args(spec, &sim)).expect_code(0);
    run(&work, &["plan", spec, "--detailed-exitcode"]).expect_code(0);
    assert_eq!(state_people(&work.state_json()), sim.people());
    assert_no_token_in_files(work.path());
    println!("RELIABILITY token-check: {}", token_figures());
    println!(
        "RELIABILITY kill-during-state-write: {} kills of a {size}-byte state ({N} users), \
         {old} left the old state, {new} the new one, 0 partial",
        offsets_us.len()
    );
}

#[test]
fn the_emulator_killed_mid_request_restarts_from_its_data_file() {
    const N: usize = 2000;
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().join("sim.json");
    let data = data.to_str().unwrap().to_owned();
    let mut sim = Sim::start_logged("127.0.0.1:0", &["--data", &data]);
    let addr = sim.addr();
    let mut sim_log = String::new();
    let work = Work::new();
    let one = work.spec("one.yaml", &big_spec(N, "One"));
    let two = work.spec("two.yaml", &big_spec(N, "Two"));
    let (one, two) = (one.to_str().unwrap(), two.to_str().unwrap());
    run(&work, &apply_args(one, &sim)).expect_code(0);

    // Offsets after the real request starts; the first is held by latency,
    // so it is certainly mid-request.
    let offsets_ms: [(u64, bool); 7] = [
        (150, true),
        (0, false),
        (2, false),
        (5, false),
        (10, false),
        (20, false),
        (60, false),
    ];
    let mut seen = Vec::new();
    for (offset, with_latency) in offsets_ms {
        let state_tag = single_tag(&state_users(&work), N, "state before");
        let (spec, next) = if state_tag == "One" {
            (two, "Two")
        } else {
            (one, "One")
        };
        let server_before = single_tag(&sim.managed_users(), N, "emulator before");
        assert_eq!(server_before, state_tag, "converged before each round");
        let serial = work.state_json()["serial"].as_u64().unwrap();

        let mut apply = spawn_apply(
            &work,
            &sim,
            spec,
            &["--max-retries", "0"],
            Some("preflight"),
        );
        apply.wait_paused("preflight");
        if with_latency {
            sim.set_faults(r#"{"latencyMs": 2000}"#);
        }
        apply.resume();
        apply.wait_for_stderr("Applying (validateOnly: false)", Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(offset));
        sim_log.push_str(&sim.log());
        sim.kill();
        let done = apply.finish();
        assert_clean(&done);

        sim = Sim::start_logged(&addr, &["--data", &data]);
        let server_tag = single_tag(&sim.managed_users(), N, "emulator after its restart");
        let state_tag = single_tag(&state_users(&work), N, "state after");
        if done.code() == 0 {
            // The answer came before the kill: both moved.
            assert_eq!(server_tag, next);
            assert_eq!(state_tag, next);
            assert_eq!(work.state_json()["serial"], serial + 1);
        } else {
            let err = done.stderr();
            assert!(
                err.contains("the server may have applied this plan")
                    || err.contains("nothing was changed on the server"),
                "{err}"
            );
            assert_eq!(
                work.state_json()["serial"],
                serial,
                "state unchanged on failure"
            );
            if with_latency {
                assert_eq!(server_tag, state_tag, "killed before handling: the old org");
            }
        }
        seen.push(format!(
            "{offset}ms{}: apply {}, emulator {}",
            if with_latency {
                " (held by latency)"
            } else {
                ""
            },
            if done.code() == 0 { "ok" } else { "failed" },
            if server_tag == next { "new" } else { "old" }
        ));
        // Converge against the restarted emulator (same address, same data
        // file): applying the new spec again works whatever happened.
        run(&work, &apply_args(spec, &sim)).expect_code(0);
        run(&work, &["plan", spec, "--detailed-exitcode"]).expect_code(0);
        assert_eq!(state_people(&work.state_json()), sim.people());
    }
    sim_log.push_str(&sim.log());
    assert!(
        sim_log.contains("POST /v1/organization"),
        "the emulator's trace log was captured"
    );
    assert!(
        !sim_log.contains(TOKEN),
        "the token leaked into the emulator's log"
    );
    assert_no_token_in_files(work.path());
    assert_no_token_in_files(data_dir.path());
    println!("RELIABILITY token-check: {}", token_figures());
    println!(
        "RELIABILITY emulator-killed: {} kills ({N} users), restarted from --data each time, \
         data always whole: {}",
        seen.len(),
        seen.join("; ")
    );
}

/// Polls the lock file; every read must be a whole holder (or no file).
/// Returns the holder pids in the order seen (consecutive repeats merged).
struct LockWatch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<u32>>>,
    reads: Arc<Mutex<u64>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LockWatch {
    fn start(lock: PathBuf) -> LockWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let reads = Arc::new(Mutex::new(0));
        let (s, v, r) = (Arc::clone(&stop), Arc::clone(&seen), Arc::clone(&reads));
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Ok(bytes) = std::fs::read(&lock) {
                    let holder: Value = serde_json::from_slice(&bytes)
                        .unwrap_or_else(|e| panic!("a partial lock file ({e}): {bytes:?}"));
                    let pid = holder["pid"].as_u64().expect("pid") as u32;
                    let mut v = v.lock().unwrap();
                    if v.last() != Some(&pid) {
                        v.push(pid);
                    }
                    *r.lock().unwrap() += 1;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        LockWatch {
            stop,
            seen,
            reads,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (Vec<u32>, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join()
                .expect("the lock watcher saw only whole lock files");
        }
        let seen = self.seen.lock().unwrap().clone();
        let reads = *self.reads.lock().unwrap();
        (seen, reads)
    }
}

/// Starts `specs.len()` applies at once and waits for all; returns each run
/// with its pid and how long it took.
fn stampede(
    work: &Work,
    sim: &Sim,
    specs: &[PathBuf],
    extra: &[&str],
) -> Vec<(u32, Run, Duration)> {
    let spawned: Vec<Spawned> = specs
        .iter()
        .map(|spec| spawn_apply(work, sim, spec.to_str().unwrap(), extra, None))
        .collect();
    let handles: Vec<_> = spawned
        .into_iter()
        .map(|s| {
            std::thread::spawn(move || {
                let pid = s.pid();
                let started = s.started;
                let run = s.finish();
                (pid, run, started.elapsed())
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn ten_applies_at_once_without_waiting_one_wins_the_others_fail_fast() {
    let sim = Sim::start(&["--fault", "latency=1000ms"]);
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    std::fs::create_dir_all(work.path().join(".orgform")).unwrap();
    let watch = LockWatch::start(work.path().join(".orgform/state.json.lock"));
    let runs = stampede(&work, &sim, &vec![abc.clone(); 10], &[]);
    let (holders, reads) = watch.finish();

    let winners: Vec<&(u32, Run, Duration)> = runs
        .iter()
        .filter(|(_, r, _)| r.stdout().contains("Apply complete!"))
        .collect();
    assert_eq!(winners.len(), 1, "exactly one apply ran");
    let (winner_pid, _, winner_took) = winners[0];
    let mut fast = 0;
    let mut later = 0;
    for (pid, run, _) in &runs {
        assert_clean(run);
        if pid == winner_pid {
            run.expect_code(0);
            continue;
        }
        if run.code() == 0 {
            // Started after the winner was done: nothing left to do.
            run.expect_stdout("No changes");
            later += 1;
            continue;
        }
        let err = run.stderr();
        assert!(err.contains("the state is locked by"), "{err}");
        assert!(
            err.contains(&format!("pid {winner_pid},")),
            "names the holder, pid {winner_pid}:\n{err}"
        );
        assert!(
            !err.contains("that process is gone"),
            "a live holder is not stale:\n{err}"
        );
        // It met a live holder (not stale, named): it failed while the
        // winner still held the lock, without waiting for it.
        fast += 1;
    }
    assert!(fast >= 1, "some applies met the held lock");
    assert_eq!(holders, [*winner_pid], "only the winner ever held the lock");
    let applied = work
        .history()
        .iter()
        .filter(|e| e["outcome"] == "applied")
        .count();
    assert_eq!(applied, 1, "one history line for the one apply");
    assert_eq!(work.state_json()["serial"], 1);
    assert_eq!(
        state_people(&work.state_json()),
        sim.people(),
        "the state equals the emulator's data"
    );
    assert_no_token_in_files(work.path());
    println!("RELIABILITY token-check: {}", token_figures());
    println!(
        "RELIABILITY ten-at-once-fail-fast: 10 applies, 1 applied (held the lock {winner_took:?}), \
         {fast} refused naming the holder, {later} found nothing to do; {reads} lock-file reads, \
         all whole"
    );
}

#[test]
fn ten_applies_at_once_with_lock_timeout_run_one_after_another() {
    let sim = Sim::start(&["--fault", "latency=50ms"]);
    let work = Work::new();
    let specs = work.abc_plus_one_each(10);
    std::fs::create_dir_all(work.path().join(".orgform")).unwrap();
    let watch = LockWatch::start(work.path().join(".orgform/state.json.lock"));
    let started = Instant::now();
    let runs = stampede(&work, &sim, &specs, &["--lock-timeout", "60s"]);
    let took = started.elapsed();
    let (holders, reads) = watch.finish();

    for (_, run, _) in &runs {
        assert_clean(run);
        run.expect_code(0);
        run.expect_stdout("Apply complete!");
    }
    // One after another: the serials form one chain 0 -> 1 -> ... -> 10.
    assert_one_chain(
        &work.history(),
        10,
        "each apply started from the state the previous one wrote",
    );
    let pids: BTreeSet<u32> = runs.iter().map(|(p, _, _)| *p).collect();
    let distinct: BTreeSet<u32> = holders.iter().copied().collect();
    assert!(distinct.is_subset(&pids));
    assert_eq!(
        holders.len(),
        distinct.len(),
        "no holder came back: each held the lock once, alone: {holders:?}"
    );
    assert_eq!(work.state_json()["serial"], 10);
    assert_eq!(
        state_people(&work.state_json()),
        sim.people(),
        "the state equals the emulator's data"
    );
    let last = specs
        .iter()
        .filter(|s| run(&work, &["plan", s.to_str().unwrap(), "--detailed-exitcode"]).code() == 0)
        .count();
    assert_eq!(last, 1, "the state is exactly one of the specs applied");
    assert_no_token_in_files(work.path());
    println!("RELIABILITY token-check: {}", token_figures());
    println!(
        "RELIABILITY ten-at-once-waiting: 10 applies with --lock-timeout, 10 applied one after \
         another (serials 0->10, one chain) in {took:?}; {} holders seen in {reads} lock-file \
         reads, none twice, all whole",
        holders.len()
    );
}
