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
}

fn history(work: &Work) -> Vec<Value> {
    let path = work.path().join(".orgform/history.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a history line"))
        .collect()
}

fn last_outcome(work: &Work) -> String {
    history(work)
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

fn managed_users(sim: &Sim) -> usize {
    sim.data()["users"]
        .as_array()
        .map_or(0, |u| u.iter().filter(|u| u["managed"] == true).count())
}

fn apply_args<'a>(spec: &'a str, sim: &'a Sim) -> Vec<&'a str> {
    vec!["apply", spec, "--endpoint", &sim.url, "--auto-approve"]
}

/// The next apply works without `force-unlock` and converges.
#[track_caller]
fn next_apply_converges(work: &Work, sim: &Sim, spec: &str) {
    sim.set_faults(r#"{"latencyMs": 0}"#);
    work.run(&apply_args(spec, sim)).expect_code(0);
    let again = work.run(&apply_args(spec, sim));
    again.expect_code(0);
    assert!(again.stdout().contains("No changes"), "{}", again.stdout());
}

#[test]
fn sigterm_before_any_request_stops_with_143() {
    let work = Work::new();
    let sim = Sim::start(&[]);
    let spec = work.spec("abc.yaml", ABC);
    let spec = spec.to_str().unwrap();
    let mut spawned = work.spawn(&apply_args(spec, &sim), &[(PAUSE_AT, "locked")]);
    spawned.wait_paused("locked");
    signal(&spawned, rustix::process::Signal::TERM);
    spawned.resume();
    let run = spawned.finish();
    run.expect_code(143);
    assert!(
        run.stderr().contains("SIGTERM before any request was sent"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("nothing was applied"),
        "{}",
        run.stderr()
    );
    assert_eq!(last_outcome(&work), "interrupted");
    assert!(!lock_left(&work));
    assert_eq!(serial(&work), None, "no state written");
    assert_eq!(managed_users(&sim), 0, "nothing sent");
    next_apply_converges(&work, &sim, spec);
}

#[test]
fn a_signal_during_the_validation_request_waits_for_it_and_sends_nothing_more() {
    let work = Work::new();
    let sim = Sim::start(&[]);
    let spec = work.spec("abc.yaml", ABC);
    let spec = spec.to_str().unwrap();
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
    assert_eq!(last_outcome(&work), "interrupted");
    assert!(!lock_left(&work));
    assert_eq!(serial(&work), None);
    assert_eq!(managed_users(&sim), 0, "validateOnly applies nothing");
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
    let work = Work::new();
    let sim = Sim::start(&[]);
    let spec = work.spec("abc.yaml", ABC);
    let spec = spec.to_str().unwrap();
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
    assert_eq!(
        last_outcome(&work),
        "applied",
        "the commit landed and is recorded"
    );
    assert_eq!(serial(&work), Some(1));
    assert!(!lock_left(&work));
    assert_eq!(managed_users(&sim), 3);
    next_apply_converges(&work, &sim, spec);
}

#[test]
fn a_second_signal_abandons_the_real_request_as_maybe_applied() {
    let work = Work::new();
    let sim = Sim::start(&[]);
    let spec = work.spec("abc.yaml", ABC);
    let spec = spec.to_str().unwrap();
    let spawned = during_the_real_request(&work, &sim, spec);
    signal(&spawned, rustix::process::Signal::INT);
    spawned.wait_for_stderr("A second signal abandons", Duration::from_secs(30));
    signal(&spawned, rustix::process::Signal::TERM);
    let run = spawned.finish();
    run.expect_code(130);
    assert!(
        run.stderr().contains("MAY HAVE APPLIED"),
        "{}",
        run.stderr()
    );
    assert_eq!(last_outcome(&work), "maybeApplied");
    assert_eq!(serial(&work), None, "no state without an answer");
    assert!(!lock_left(&work));
    next_apply_converges(&work, &sim, spec);
    assert_eq!(managed_users(&sim), 3);
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
    let work = Work::new();
    let sim = Sim::start(&[]);
    let spec = work.spec("abc.yaml", ABC);
    let spec = spec.to_str().unwrap();
    let pty = pty();
    let (mut child, mut stderr) = at_the_prompt(&work, spec, &sim, &pty);
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let status = child.wait().expect("wait");
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("cancelled by SIGINT at the prompt"), "{rest}");
    assert_eq!(last_outcome(&work), "declined");
    assert!(!lock_left(&work));
    assert_eq!(managed_users(&sim), 0);
    drop(pty.master);
    next_apply_converges(&work, &sim, spec);
}

#[test]
fn only_yes_on_the_terminal_approves() {
    let work = Work::new();
    let sim = Sim::start(&[]);
    let spec = work.spec("abc.yaml", ABC);
    let spec = spec.to_str().unwrap();
    let pty = pty();
    let (mut child, _stderr) = at_the_prompt(&work, spec, &sim, &pty);
    std::io::Write::write_all(&mut pty.master.try_clone().expect("pty"), b"yes\n").expect("answer");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    assert_eq!(last_outcome(&work), "applied");
    assert_eq!(managed_users(&sim), 3);
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
    assert!(
        none.stdout().contains("No apply attempts"),
        "{}",
        none.stdout()
    );
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
    assert!(
        run.stderr().contains("FRANKLY_API_TOKEN"),
        "{}",
        run.stderr()
    );
    assert!(
        !run.stdout().contains("will be created"),
        "plan printed first: {}",
        run.stdout()
    );
    assert_eq!(last_outcome(&work), "refused");
    assert_eq!(
        history(&work)[0]["created"]["users"],
        serde_json::json!(["A", "B", "C"])
    );

    // Another endpoint than the state's: refused, recorded.
    work.run(&apply_args(abc, &sim)).expect_code(0);
    let other = Sim::start(&[]);
    let abd = work.spec("abd.yaml", ABD);
    let run = work.run(&apply_args(abd.to_str().unwrap(), &other));
    run.expect_code(1);
    assert!(
        run.stderr().contains("--endpoint-moved"),
        "{}",
        run.stderr()
    );
    assert_eq!(last_outcome(&work), "refused");
    assert_eq!(managed_users(&other), 0);

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
    assert!(
        run.stderr().contains("--endpoint-moved"),
        "{}",
        run.stderr()
    );
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
    assert!(run.stderr().contains("not a terminal"), "{}", run.stderr());
    assert_eq!(managed_users(&sim), 0);
    // --force belongs to plan.
    let run = work.run(&["apply", planfile, "--endpoint", &sim.url, "--force"]);
    run.expect_code(1);
    assert!(
        run.stderr().contains("--force belongs to `orgform plan`"),
        "{}",
        run.stderr()
    );
    // No terminal, no --auto-approve: the reviewed plan is applied.
    let run: Run = work.run(&["apply", planfile, "--endpoint", &sim.url]);
    run.expect_code(0);
    assert_eq!(managed_users(&sim), 3);
}
