//! Signals during `apply`, and the audit trail (DESIGN section 10, issue 18):
//! the real binary, the real emulator on 127.0.0.1, real SIGINT/SIGTERM.
//!
//! At every step the run must end with the documented exit code (130 for
//! SIGINT, 143 for SIGTERM), no lock left, one history line saying what
//! happened, the state whole, and a next apply that works without
//! `force-unlock`.

mod common;

use std::fs::OpenOptions;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{ABC, ABD, PAUSE_AT, Run, Sim, Spawned, TOKEN, Work, bin};
use serde_json::Value;

fn signal(spawned: &Spawned, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(spawned.pid() as i32).expect("a pid");
    rustix::process::kill_process(pid, sig).expect("send the signal");
    // apply counts signals on a thread of its own: give it time to count
    // this one before the test lets apply go on (a test that resumes a
    // paused apply at once raced it on a loaded machine).
    std::thread::sleep(Duration::from_millis(300));
}

fn last_outcome(work: &Work) -> String {
    work.history()
        .last()
        .and_then(|l| l["outcome"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn lock_left(work: &Work) -> bool {
    work.path().join(".orgform/state.json.lock").exists()
}

fn serial(work: &Work) -> Option<u64> {
    let text = std::fs::read_to_string(work.state()).ok()?;
    let state: Value = serde_json::from_str(&text).expect("a whole state");
    state["serial"].as_u64()
}

fn apply_args<'a>(spec: &'a str, sim: &'a Sim) -> Vec<&'a str> {
    vec!["apply", spec, "--endpoint", &sim.url, "--auto-approve"]
}

/// A fresh work directory, an emulator, and the path of the ABC spec.
fn abc_setup() -> (Work, Sim, String) {
    let work = Work::new();
    let sim = Sim::start(&[]);
    let spec = work.spec("abc.yaml", ABC);
    let spec = spec.to_str().expect("a UTF-8 temp path").to_owned();
    (work, sim, spec)
}

/// What a run left: the last history outcome, no lock, the state's serial
/// (`None`: no state written) and the managed users on the emulator.
#[track_caller]
fn assert_left(work: &Work, sim: &Sim, outcome: &str, serial_now: Option<u64>, managed: usize) {
    assert_eq!(last_outcome(work), outcome, "the last history outcome");
    assert!(!lock_left(work), "a lock was left behind");
    assert_eq!(serial(work), serial_now, "the state's serial");
    assert_eq!(
        sim.managed_users().len(),
        managed,
        "managed users on the emulator"
    );
}

/// The next apply works without `force-unlock` and converges.
#[track_caller]
fn next_apply_converges(work: &Work, sim: &Sim, spec: &str) {
    sim.set_faults(r#"{"latencyMs": 0}"#);
    work.run(&apply_args(spec, sim)).expect_code(0);
    let again = work.run(&apply_args(spec, sim));
    again.expect_code(0);
    again.expect_stdout("No changes");
}

#[test]
fn sigterm_before_any_request_stops_with_143() {
    let (work, sim, spec) = abc_setup();
    let spec = spec.as_str();
    let mut spawned = work.spawn(&apply_args(spec, &sim), &[(PAUSE_AT, "locked")]);
    spawned.wait_paused("locked");
    signal(&spawned, rustix::process::Signal::TERM);
    spawned.resume();
    let run = spawned.finish();
    run.expect_code(143);
    run.expect_stderr("SIGTERM before any request was sent");
    run.expect_stderr("nothing was applied");
    // No state written, nothing sent.
    assert_left(&work, &sim, "interrupted", None, 0);
    next_apply_converges(&work, &sim, spec);
}

#[test]
fn a_signal_during_the_validation_request_waits_for_it_and_sends_nothing_more() {
    let (work, sim, spec) = abc_setup();
    let spec = spec.as_str();
    sim.set_faults(r#"{"latencyMs": 1500}"#);
    let spawned = work.spawn(&apply_args(spec, &sim), &[]);
    spawned.wait_for_stderr("Validating with the server", Duration::from_secs(30));
    signal(&spawned, rustix::process::Signal::INT);
    let run = spawned.finish();
    run.expect_code(130);
    let err = run.stderr();
    assert!(
        err.contains("waiting for the answer to the validation request"),
        "{err}"
    );
    assert!(err.contains("the real request was not sent"), "{err}");
    assert!(!err.contains("Applying (validateOnly: false)"), "{err}");
    // validateOnly applies nothing.
    assert_left(&work, &sim, "interrupted", None, 0);
    next_apply_converges(&work, &sim, spec);
}

/// Pauses after the validation, slows the emulator, lets the real request go.
fn during_the_real_request(work: &Work, sim: &Sim, spec: &str) -> Spawned {
    let mut spawned = work.spawn(&apply_args(spec, sim), &[(PAUSE_AT, "preflight")]);
    spawned.wait_paused("preflight");
    sim.set_faults(r#"{"latencyMs": 2000}"#);
    spawned.resume();
    spawned.wait_for_stderr("Applying (validateOnly: false)", Duration::from_secs(30));
    spawned
}

#[test]
fn a_signal_during_the_real_request_waits_commits_and_stops() {
    let (work, sim, spec) = abc_setup();
    let spec = spec.as_str();
    let spawned = during_the_real_request(&work, &sim, spec);
    signal(&spawned, rustix::process::Signal::INT);
    let run = spawned.finish();
    run.expect_code(130);
    let err = run.stderr();
    assert!(err.contains("waiting for the server's answer"), "{err}");
    assert!(
        err.contains("A second signal abandons the request"),
        "{err}"
    );
    assert!(
        err.contains("was applied and the state records it"),
        "{err}"
    );
    // The commit landed and is recorded.
    assert_left(&work, &sim, "applied", Some(1), 3);
    next_apply_converges(&work, &sim, spec);
}

#[test]
fn a_second_signal_abandons_the_real_request_as_maybe_applied() {
    let (work, sim, spec) = abc_setup();
    let spec = spec.as_str();
    let spawned = during_the_real_request(&work, &sim, spec);
    signal(&spawned, rustix::process::Signal::INT);
    spawned.wait_for_stderr("A second signal abandons", Duration::from_secs(30));
    signal(&spawned, rustix::process::Signal::TERM);
    let run = spawned.finish();
    run.expect_code(130);
    run.expect_stderr("MAY HAVE APPLIED");
    assert_eq!(last_outcome(&work), "maybeApplied");
    assert_eq!(serial(&work), None, "no state without an answer");
    assert!(!lock_left(&work));
    next_apply_converges(&work, &sim, spec);
    assert_eq!(sim.managed_users().len(), 3);
}

/// A pseudo-terminal for the prompt: orgform sees a terminal on stdin.
struct Pty {
    master: std::fs::File,
    slave: std::fs::File,
}

fn pty() -> Pty {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().expect("a pty name"))
        .expect("open the pty");
    Pty {
        master: std::fs::File::from(master),
        slave,
    }
}

/// Runs apply with stdin on a pty and stderr captured; returns the child.
fn apply_on_a_terminal(work: &Work, args: &[&str], pty: &Pty) -> std::process::Child {
    Command::new(bin())
        .args(args)
        .current_dir(work.path())
        .env_remove("ORGFORM_STATE")
        .env_remove(PAUSE_AT)
        .env("FRANKLY_API_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .stdin(pty.slave.try_clone().expect("pty"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start orgform")
}

/// Reads stderr until `needle` appears (the prompt is on stderr).
fn read_until(stderr: &mut std::process::ChildStderr, needle: &str) -> String {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains(needle) {
        match stderr.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => panic!(
                "stderr ended before `{needle}`: {}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Starts `apply SPEC` on the pty and waits until it asks for `yes`.
fn at_the_prompt(
    work: &Work,
    spec: &str,
    sim: &Sim,
    pty: &Pty,
) -> (std::process::Child, std::process::ChildStderr) {
    let mut child = apply_on_a_terminal(work, &["apply", spec, "--endpoint", &sim.url], pty);
    let mut stderr = child.stderr.take().expect("stderr");
    read_until(&mut stderr, "Enter a value:");
    (child, stderr)
}

#[test]
fn sigint_at_the_prompt_declines_at_once() {
    let (work, sim, spec) = abc_setup();
    let spec = spec.as_str();
    let pty = pty();
    let (mut child, mut stderr) = at_the_prompt(&work, spec, &sim, &pty);
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let status = child.wait().expect("wait");
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("cancelled by SIGINT at the prompt"), "{rest}");
    assert_left(&work, &sim, "declined", None, 0);
    drop(pty.master);
    next_apply_converges(&work, &sim, spec);
}

#[test]
fn only_yes_on_the_terminal_approves() {
    let (work, sim, spec) = abc_setup();
    let spec = spec.as_str();
    let pty = pty();
    let (mut child, _stderr) = at_the_prompt(&work, spec, &sim, &pty);
    std::io::Write::write_all(&mut pty.master.try_clone().expect("pty"), b"yes\n").expect("answer");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    assert_eq!(last_outcome(&work), "applied");
    assert_eq!(sim.managed_users().len(), 3);
}

#[test]
fn history_answers_who_created_and_who_deleted_a_record() {
    let work = Work::new();
    let sim = Sim::start(&[]);
    let abc = work.spec("abc.yaml", ABC);
    let abd = work.spec("abd.yaml", ABD);
    let github = [
        ("FRANKLY_API_TOKEN", TOKEN),
        ("USER", "runner"),
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_ACTOR", "octocat"),
        ("GITHUB_RUN_ID", "1234"),
        ("GITHUB_SHA", "0a1b2c"),
    ];
    let gitlab = [
        ("FRANKLY_API_TOKEN", TOKEN),
        ("USER", "gitlab-runner"),
        ("GITLAB_CI", "true"),
        ("GITLAB_USER_LOGIN", "alice"),
        ("CI_PIPELINE_ID", "77"),
        ("CI_COMMIT_SHA", "d4e5f6"),
    ];
    work.run_env(&apply_args(abc.to_str().unwrap(), &sim), &github)
        .expect_code(0);
    work.run_env(&apply_args(abd.to_str().unwrap(), &sim), &gitlab)
        .expect_code(0);

    let json = work.run(&["history", "--id", "C", "--format", "json"]);
    json.expect_code(0);
    let lines: Vec<Value> = json
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "{}", json.stdout());
    assert_eq!(
        lines[0]["created"]["users"],
        serde_json::json!(["A", "B", "C"])
    );
    assert_eq!(lines[0]["actor"]["ci"]["system"], "github");
    assert_eq!(lines[0]["actor"]["ci"]["actor"], "octocat");
    assert_eq!(lines[0]["actor"]["ci"]["runId"], "1234");
    assert_eq!(lines[1]["deleted"]["users"], serde_json::json!(["C"]));
    assert_eq!(lines[1]["created"]["users"], serde_json::json!(["D"]));
    assert_eq!(lines[1]["actor"]["ci"]["system"], "gitlab");
    assert_eq!(lines[1]["actor"]["ci"]["actor"], "alice");
    assert_eq!(lines[1]["actor"]["user"], "gitlab-runner");
    assert_eq!(lines[1]["serialBefore"], 1);
    assert_eq!(lines[1]["serialAfter"], 2);
    assert_eq!(lines[1]["endpoint"], sim.url.as_str());
    assert!(
        lines[1]["planDigest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );

    let text = work.run(&["history", "--id", "C"]);
    text.expect_code(0);
    let out = text.stdout();
    assert!(out.contains("created: users C"), "{out}");
    assert!(out.contains("deleted: users C"), "{out}");
    assert!(out.contains("by gitlab-runner@"), "{out}");
    assert!(
        out.contains("(github octocat run 1234 commit 0a1b2c)"),
        "{out}"
    );
    assert!(!out.contains("users A"), "--id shows only that id: {out}");

    let none = work.run(&["history", "--since", "2999-01-01"]);
    none.expect_code(0);
    none.expect_stdout("No apply attempts");
    work.run(&["history", "--since", "yesterday"])
        .expect_code(1);
}

#[test]
fn refusals_are_recorded_and_the_token_is_checked_before_the_plan() {
    let work = Work::new();
    let sim = Sim::start(&[]);
    let abc = work.spec("abc.yaml", ABC);
    let abc = abc.to_str().unwrap();
    // No token: refused before the plan is printed.
    let run = work.run_env(&apply_args(abc, &sim), &[]);
    run.expect_code(1);
    run.expect_stderr("FRANKLY_API_TOKEN");
    assert!(
        !run.stdout().contains("will be created"),
        "plan printed first: {}",
        run.stdout()
    );
    assert_eq!(last_outcome(&work), "refused");
    assert_eq!(
        work.history()[0]["created"]["users"],
        serde_json::json!(["A", "B", "C"])
    );

    // Another endpoint than the state's: refused, recorded.
    work.run(&apply_args(abc, &sim)).expect_code(0);
    let other = Sim::start(&[]);
    let abd = work.spec("abd.yaml", ABD);
    let run = work.run(&apply_args(abd.to_str().unwrap(), &other));
    run.expect_code(1);
    run.expect_stderr("--endpoint-moved");
    assert_eq!(last_outcome(&work), "refused");
    assert_eq!(other.managed_users().len(), 0);

    // Without --endpoint, the state's endpoint is used (no moved-endpoint refusal).
    let run = work.run(&["apply", abd.to_str().unwrap(), "--auto-approve"]);
    run.expect_code(0);
    assert_eq!(serial(&work), Some(2));
    // ORGFORM_ENDPOINT comes before the state's.
    let run = work.run_env(
        &["apply", abc, "--auto-approve"],
        &[
            ("FRANKLY_API_TOKEN", TOKEN),
            ("ORGFORM_ENDPOINT", &other.url),
        ],
    );
    run.expect_code(1);
    run.expect_stderr("--endpoint-moved");
}

#[test]
fn a_saved_plan_is_applied_without_asking_unless_confirm_is_given() {
    let work = Work::new();
    let sim = Sim::start(&[]);
    let abc = work.spec("abc.yaml", ABC);
    let planfile = work.path().join("abc.orgplan");
    let planfile = planfile.to_str().unwrap();
    work.run(&["plan", abc.to_str().unwrap(), "--out", planfile])
        .expect_code(0);
    // --confirm on no terminal: refused, nothing sent.
    let run = work.run(&["apply", planfile, "--endpoint", &sim.url, "--confirm"]);
    run.expect_code(1);
    run.expect_stderr("not a terminal");
    assert_eq!(sim.managed_users().len(), 0);
    // --force belongs to plan.
    let run = work.run(&["apply", planfile, "--endpoint", &sim.url, "--force"]);
    run.expect_code(1);
    run.expect_stderr("--force belongs to `orgform plan`");
    // No terminal, no --auto-approve: the reviewed plan is applied.
    let run: Run = work.run(&["apply", planfile, "--endpoint", &sim.url]);
    run.expect_code(0);
    assert_eq!(sim.managed_users().len(), 3);
}
