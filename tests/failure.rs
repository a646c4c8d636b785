//! End to end: apply under failure, and drift detection (issue 7). The real
//! binary against the real emulator's faults on 127.0.0.1:
//! - 503s then success: retried, exactly one state write;
//! - a 503 storm longer than the retry budget: a clean failure, state intact;
//! - latency beyond the request timeout: "may have applied", state intact;
//! - the connection dropped after the server committed: "may have
//!   applied", state unchanged, and the next apply converges;
//! - `plan --preflight`: drift after the state was lost, none after a normal
//!   apply, a refusal as drift, and "no counts" from a server that reports none.
//!
//! Budgets and timeouts are short (hundreds of milliseconds) so the suite
//! stays quick on CI's 2 cores. Every run has `RUST_LOG=trace` and every
//! output is checked for the token.
// Helpers outside #[test] unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{
    ABC, ABD, PAUSE_AT, Run, Sim, Work, assert_clean, assert_no_token_in_files, token_figures,
};
use serde_json::Value;

/// Runs orgform with the token and trace logs; checks the output for the token.
fn run(work: &Work, args: &[&str]) -> Run {
    work.run_traced(args)
}

fn apply(work: &Work, sim: &Sim, spec: &str, extra: &[&str]) -> Run {
    let mut args = vec!["apply", spec, "--auto-approve", "--endpoint", &sim.url];
    args.extend_from_slice(extra);
    run(work, &args)
}

/// An emulator started with `sim_args`, a work directory, and the path of
/// the ABC spec written into it.
fn abc_setup(sim_args: &[&str]) -> (Sim, Work, String) {
    let sim = Sim::start(sim_args);
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    let abc = abc.to_str().unwrap().to_owned();
    (sim, work, abc)
}

/// An emulator and a work directory with ABC applied; the path of the ABD
/// spec (the next change) and the state's bytes after the first apply.
fn abc_applied_abd_next() -> (Sim, Work, String, Vec<u8>) {
    let (sim, work, abc) = abc_setup(&[]);
    let abd = work.spec("abd.yaml", ABD);
    apply(&work, &sim, &abc, &[]).expect_code(0);
    let before = work.state_bytes();
    (sim, work, abd.to_str().unwrap().to_owned(), before)
}

/// No file of the run holds the token, and the figures of every output
/// checked so far (printed for `scripts/reliability.sh`).
#[track_caller]
fn assert_token_nowhere(work: &Work) {
    assert_no_token_in_files(work.path());
    println!("RELIABILITY token-check: {}", token_figures());
}

#[track_caller]
fn assert_converged(work: &Work, spec: &str) {
    run(work, &["plan", spec, "--detailed-exitcode"]).expect_code(0);
}

fn outcomes(work: &Work) -> Vec<String> {
    work.history()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect()
}

/// Starts an apply that stops after its validate-only request, so a test can
/// change the emulator's faults for the real request only.
fn apply_paused_after_preflight(
    work: &Work,
    sim: &Sim,
    spec: &str,
    extra: &[&str],
) -> common::Spawned {
    let mut args = vec!["apply", spec, "--auto-approve", "--endpoint", &sim.url];
    args.extend_from_slice(extra);
    let spawned = work.spawn(&args, &[(PAUSE_AT, "preflight"), ("RUST_LOG", "trace")]);
    spawned.wait_paused("preflight");
    spawned
}

#[test]
fn a_few_503s_on_the_real_request_are_retried_and_the_state_is_written_once() {
    let (sim, work, abc) = abc_setup(&[]);
    let abc = abc.as_str();
    let mut spawned = apply_paused_after_preflight(&work, &sim, abc, &["--max-retries", "3"]);
    sim.set_faults(r#"{"failNext": 2}"#);
    spawned.resume();
    let done = spawned.finish();
    assert_clean(&done);
    done.expect_code(0);
    let err = done.stderr();
    assert!(err.contains("attempt 2 of 4"), "{err}");
    assert!(err.contains("attempt 3 of 4"), "{err}");
    assert!(err.contains("server answered 503"), "{err}");
    assert!(
        !err.contains("attempt 4 of 4"),
        "only two retries were needed:\n{err}"
    );
    assert_eq!(work.state_json()["serial"], 1);
    assert!(
        !work.path().join(".orgform/state.json.backup").exists(),
        "a second write would have left a backup"
    );
    assert_eq!(outcomes(&work), ["applied"], "one history line");
    assert_eq!(sim.managed_ids(), ["A", "B", "C"]);
    assert_converged(&work, abc);
    assert_token_nowhere(&work);
    println!(
        "RELIABILITY 503-then-success: 2 x 503 on the real request, 3 attempts, exit 0, state \
         serial 1 written once (no backup), history [applied], converged"
    );
}

#[test]
fn a_503_storm_longer_than_the_budget_fails_cleanly() {
    let (sim, work, abd, before) = abc_applied_abd_next();
    let abd = abd.as_str();

    sim.set_faults(r#"{"failNext": 1000}"#);
    let started = Instant::now();
    let run = apply(
        &work,
        &sim,
        abd,
        &["--max-retries", "50", "--retry-budget", "1s"],
    );
    let took = started.elapsed();
    run.expect_code(1);
    let err = run.stderr();
    assert!(err.contains("503"), "{err}");
    assert!(err.contains("retries exhausted"), "{err}");
    assert!(err.contains("nothing was changed on the server"), "{err}");
    assert!(!err.to_lowercase().contains("may have applied"), "{err}");
    // The budget, not --max-retries 50, ended the retries: count them.
    let attempts: u32 = err
        .split(" attempts, retries exhausted")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("an attempt count in: {err}"));
    assert!(
        (2..51).contains(&attempts),
        "a 1 s budget stops long before 51 attempts: {attempts}"
    );
    assert_eq!(work.state_bytes(), before, "state intact");
    assert_eq!(outcomes(&work), ["applied", "failed"]);
    assert_eq!(sim.managed_ids(), ["A", "B", "C"], "nothing applied");

    sim.set_faults(r#"{"failNext": 0}"#);
    apply(&work, &sim, abd, &[]).expect_code(0);
    assert_converged(&work, abd);
    assert_eq!(sim.managed_ids(), ["A", "B", "D"]);
    assert_token_nowhere(&work);
    println!(
        "RELIABILITY 503-storm: endless 503s, --retry-budget 1s: {attempts} attempts, failed after \
         {took:.1?}, nothing applied, state byte-identical, history [applied, failed], then converged"
    );
}

#[test]
fn latency_beyond_the_request_timeout_may_have_applied_and_the_next_apply_converges() {
    let (sim, work, abd, before) = abc_applied_abd_next();
    let abd = abd.as_str();

    let mut spawned = apply_paused_after_preflight(
        &work,
        &sim,
        abd,
        &["--request-timeout", "300ms", "--max-retries", "1"],
    );
    sim.set_faults(r#"{"latencyMs": 1500}"#);
    spawned.resume();
    let done = spawned.finish();
    assert_clean(&done);
    done.expect_code(1);
    let err = done.stderr();
    assert!(
        err.contains("attempt 2 of 2"),
        "a timeout is retried:\n{err}"
    );
    assert!(err.contains("no answer within 300ms"), "{err}");
    assert!(
        err.contains("the server may have applied this plan"),
        "{err}"
    );
    assert!(err.contains("the state is unchanged"), "{err}");
    assert_eq!(work.state_bytes(), before, "state intact");
    assert_eq!(outcomes(&work), ["applied", "maybeApplied"]);

    sim.set_faults(r#"{"latencyMs": 0}"#);
    let run = apply(&work, &sim, abd, &[]);
    run.expect_code(0);
    assert_eq!(work.state_json()["serial"], 2);
    assert_converged(&work, abd);
    assert_eq!(sim.managed_ids(), ["A", "B", "D"]);
    assert_token_nowhere(&work);
    println!(
        "RELIABILITY latency-past-timeout: 1500ms latency on the real request, 300ms timeout, 2 \
         attempts: exit 1 \"may have applied\", state byte-identical, history maybeApplied; \
         re-apply converged (serial 2)"
    );
}

#[test]
fn a_connection_dropped_after_commit_then_a_converging_reapply() {
    let (sim, work, abc) = abc_setup(&["--fault", "drop-after-commit=1"]);
    let abc = abc.as_str();

    let run = apply(&work, &sim, abc, &["--max-retries", "0"]);
    run.expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("the server may have applied this plan"),
        "{err}"
    );
    assert!(err.contains("run `orgform apply` again"), "{err}");
    assert!(!work.state().exists(), "no state written");
    assert_eq!(outcomes(&work), ["maybeApplied"]);
    assert_eq!(
        sim.managed_ids(),
        ["A", "B", "C"],
        "the emulator did commit before dropping the connection"
    );

    // The preflight sees what happened, and names the likely cause.
    let pre = run_preflight(&work, &sim, abc);
    pre.expect_code(1);
    let err = pre.stderr();
    assert!(err.contains("DRIFT"), "{err}");
    assert!(
        err.contains("may have been applied without its state"),
        "{err}"
    );

    // Applying again converges: the request is the full desired org.
    let run = apply(&work, &sim, abc, &[]);
    run.expect_code(0);
    let err = run.stderr();
    assert!(
        err.contains("0 created (planned 3)"),
        "the server reports it already had them:\n{err}"
    );
    assert_eq!(work.state_json()["serial"], 1);
    assert_eq!(outcomes(&work), ["maybeApplied", "applied"]);
    assert_converged(&work, abc);
    run_preflight(&work, &sim, abc).expect_code(0);
    assert_token_nowhere(&work);
    println!(
        "RELIABILITY drop-after-commit: committed then dropped, no retry: exit 1 \"may have \
         applied\", no state, history maybeApplied; preflight found drift (exit 1); re-apply \
         converged (server 0 created vs plan 3), preflight clean"
    );
}

#[test]
fn a_dropped_connection_is_retried_and_converges_within_one_apply() {
    let (sim, work, abc) = abc_setup(&["--fault", "drop-after-commit=1"]);
    let abc = abc.as_str();
    let run = apply(&work, &sim, abc, &["--max-retries", "2"]);
    run.expect_code(0);
    let err = run.stderr();
    assert!(err.contains("attempt 2 of 3"), "{err}");
    assert!(err.contains("(the server may have applied it)"), "{err}");
    assert!(
        err.contains("the server reports fewer changes than planned"),
        "{err}"
    );
    assert_eq!(work.state_json()["serial"], 1);
    assert_eq!(outcomes(&work), ["applied"]);
    assert_converged(&work, abc);
    println!("RELIABILITY token-check: {}", token_figures());
    println!(
        "RELIABILITY drop-then-retry: committed then dropped, retried once: exit 0 in one run, \
         counts-differ warning, history [applied]"
    );
}

#[test]
fn the_specs_target_settings_bound_the_client() {
    let sim = Sim::start(&["--fault", "latency=1500ms"]);
    let work = Work::new();
    let spec = work.spec(
        "abc.yaml",
        &ABC.replace(
            "version: 1\n",
            "version: 1\ntarget:\n  maxRetries: 0\n  requestTimeoutSecs: 1\n  retryBudgetSecs: 1\n",
        ),
    );
    let run = apply(&work, &sim, spec.to_str().unwrap(), &[]);
    run.expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("(1 attempt)"),
        "maxRetries: 0 sends once:\n{err}"
    );
    assert!(
        err.contains("no answer within 1.0s"),
        "requestTimeoutSecs: 1:\n{err}"
    );
    assert!(
        err.contains("nothing was applied") || err.contains("nothing was changed"),
        "the validate-only request timed out: nothing can have been applied:\n{err}"
    );
    assert!(!work.state().exists());
    assert_eq!(outcomes(&work), ["failed"]);

    // A flag wins over the spec.
    let run = apply(
        &work,
        &sim,
        spec.to_str().unwrap(),
        &["--request-timeout", "5s"],
    );
    run.expect_code(0);
    // The last test in name order: with --test-threads=1 this covers the binary.
    println!("RELIABILITY token-check: {}", token_figures());
}

fn run_preflight(work: &Work, sim: &Sim, spec: &str) -> Run {
    run(work, &["plan", spec, "--preflight", "--endpoint", &sim.url])
}

#[test]
fn preflight_finds_no_drift_after_a_normal_apply() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    let abd = work.spec("abd.yaml", ABD);
    apply(&work, &sim, abc.to_str().unwrap(), &[]).expect_code(0);

    let run = run(
        &work,
        &[
            "plan",
            abc.to_str().unwrap(),
            "--preflight",
            "--endpoint",
            &sim.url,
            "--detailed-exitcode",
        ],
    );
    run.expect_code(0);
    run.expect_stderr("Preflight: no drift");

    // Changes but no drift: the exit code is the plan's.
    let run = run_with_preflight_detailed(&work, &sim, abd.to_str().unwrap());
    run.expect_code(2);
    let err = run.stderr();
    assert!(err.contains("no drift"), "{err}");
    assert!(
        err.contains("users 1 created, 1 updated, 1 deleted"),
        "the server's counts are shown:\n{err}"
    );
    // JSON on stdout stays JSON.
    let json = crate::run(
        &work,
        &[
            "plan",
            abd.to_str().unwrap(),
            "--preflight",
            "--endpoint",
            &sim.url,
            "--format",
            "json",
        ],
    );
    json.expect_code(0);
    let _: Value = serde_json::from_str(&json.stdout()).expect("stdout is the JSON plan alone");
    assert_eq!(
        sim.managed_ids(),
        ["A", "B", "C"],
        "a preflight changes nothing"
    );
    assert_eq!(work.state_json()["serial"], 1);
}

fn run_with_preflight_detailed(work: &Work, sim: &Sim, spec: &str) -> Run {
    run(
        work,
        &[
            "plan",
            spec,
            "--preflight",
            "--endpoint",
            &sim.url,
            "--detailed-exitcode",
        ],
    )
}

#[test]
fn preflight_finds_drift_after_the_state_was_deleted() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    apply(&work, &sim, abc.to_str().unwrap(), &[]).expect_code(0);
    std::fs::remove_file(work.state()).unwrap();

    // Same spec: the plan creates 3, the server already has them.
    let run = run_with_preflight_detailed(&work, &sim, abc.to_str().unwrap());
    run.expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("DRIFT: the server's counts differ from the plan"),
        "{err}"
    );
    assert!(err.contains("plan:   users 3 created"), "{err}");
    assert!(err.contains("server: users 0 created"), "{err}");
    assert!(
        err.contains("already holds 3 of the users the plan would create"),
        "{err}"
    );
    assert!(err.contains("restore it"), "says what to do:\n{err}");

    // A shrunk spec: the server would delete C, which the plan never shows.
    let ab = work.spec(
        "ab.yaml",
        &ABC.replace(
            "  - {externalId: C, firstName: Cat, lastName: Cedar, email: cat@example.com}\n",
            "",
        ),
    );
    let run = run_with_preflight_detailed(&work, &sim, ab.to_str().unwrap());
    run.expect_code(1);
    let err = run.stderr();
    assert!(err.contains("DRIFT: the server refused the plan"), "{err}");
    assert!(err.contains("limitExceeded"), "{err}");
    assert!(
        err.contains("holds 1 managed users that the state does not know"),
        "{err}"
    );
    assert_eq!(sim.managed_ids(), ["A", "B", "C"], "nothing changed");
}

#[test]
fn preflight_says_so_when_the_server_reports_no_counts() {
    // A server that accepts everything with an empty 200, as the real API may.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/organization", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 65536];
            let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
            let _ = stream.read(&mut buf);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    let run = run(
        &work,
        &[
            "plan",
            abc.to_str().unwrap(),
            "--preflight",
            "--endpoint",
            &url,
            "--detailed-exitcode",
        ],
    );
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("reports no counts, so drift cannot be checked"),
        "{}",
        run.stderr()
    );
}

#[test]
fn preflight_refuses_another_endpoint_and_skips_a_blocked_plan() {
    let sim = Sim::start(&[]);
    let other = Sim::start(&[]);
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    apply(&work, &sim, abc.to_str().unwrap(), &[]).expect_code(0);
    let run = run_preflight(&work, &other, abc.to_str().unwrap());
    run.expect_code(1);
    run.expect_stderr("the state was applied to");
    assert!(other.managed_ids().is_empty(), "nothing was sent there");

    let blocked = work.spec(
        "blocked.yaml",
        &ABD.replace(
            "version: 1\n",
            "version: 1\nsettings:\n  maxUsersCreated: 0\n",
        ),
    );
    let run = run_preflight(&work, &sim, blocked.to_str().unwrap());
    run.expect_code(1);
    assert!(
        run.stderr()
            .contains("Preflight skipped: the plan is blocked"),
        "{}",
        run.stderr()
    );
}

#[test]
fn preflight_without_a_token_fails_before_sending() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    let run = work.run_env(
        &[
            "plan",
            abc.to_str().unwrap(),
            "--preflight",
            "--endpoint",
            &sim.url,
        ],
        &[],
    );
    run.expect_code(1);
    run.expect_stderr("--preflight needs the API token");
    run.expect_stderr("FRANKLY_API_TOKEN");
}
