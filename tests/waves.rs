//! Applying in waves, end to end (DESIGN section 7, issue 19): the real
//! binary against the real emulator with a small per-request cap
//! (`orgform sim --max-per-request 2`), killed and interrupted between and
//! within waves, each run resumed to the same end state.

mod common;

use common::{PAUSE_AT, Sim, Work};
use serde_json::Value;

const CAP: &str = "2";

fn users(n: usize, group: Option<&str>) -> String {
    let mut out = String::new();
    for i in 1..=n {
        let member = group.map_or(String::new(), |g| {
            format!(", accessInfo: {{memberOf: [{g}]}}")
        });
        out.push_str(&format!(
            "  - {{externalId: U{i}, firstName: Una{i}, lastName: Umber, email: una{i}@example.com{member}}}\n"
        ));
    }
    out
}

fn spec(body: &str) -> String {
    format!(
        "version: 1\nsettings: {{maxUsersCreated: 100, maxUsersUpdated: 100, maxUsersDeleted: 100, maxGroupsCreated: 100, maxGroupsDeleted: 100}}\n{body}"
    )
}

/// Five users, two a request: three waves.
fn five_users() -> String {
    spec(&format!(
        "target: {{maxPerRequest: 2}}\nusers:\n{}",
        users(5, None)
    ))
}

fn state(work: &Work) -> Value {
    serde_json::from_str(&std::fs::read_to_string(work.state()).expect("a state")).expect("JSON")
}

fn managed(sim: &Sim, kind: &str) -> Vec<String> {
    let mut ids: Vec<String> = sim.data()[kind]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["managed"] == true)
        .map(|r| r["externalId"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

fn apply<'a>(spec: &'a str, sim: &'a Sim) -> Vec<&'a str> {
    vec!["apply", spec, "--endpoint", &sim.url, "--auto-approve"]
}

/// Plans again: nothing left to do, and the state is what the emulator holds.
#[track_caller]
fn converged(work: &Work, sim: &Sim, spec: &str, users: usize) {
    let run = work.run(&["plan", spec, "--detailed-exitcode"]);
    run.expect_code(0);
    assert_eq!(managed(sim, "users").len(), users);
    let in_state = state(work)["org"]["users"]
        .as_object()
        .map_or(0, |u| u.len());
    assert_eq!(in_state, users, "the state holds what the emulator holds");
}

#[test]
fn onboarding_beyond_the_cap_goes_in_waves_and_the_plan_says_so() {
    let work = Work::new();
    let sim = Sim::start(&["--max-per-request", CAP]);
    let path = work.spec("five.yaml", &five_users());
    let path = path.to_str().unwrap();

    let plan = work.run(&["plan", path, "--format", "json"]);
    plan.expect_code(0);
    let doc: Value = serde_json::from_str(&plan.stdout()).expect("a JSON plan");
    assert_eq!(
        doc["waves"].as_array().map(Vec::len),
        Some(3),
        "5 creates, 2 a request"
    );
    assert_eq!(doc["changes"][4]["wave"], 3);
    let text = work.run(&["plan", path]);
    text.expect_stdout("3 waves");

    let preflight = work.run(&["plan", path, "--preflight", "--endpoint", &sim.url]);
    preflight.expect_code(0);
    preflight.expect_stderr("sending wave 1 only");
    assert!(
        preflight.stderr().contains("no drift"),
        "wave 1's counts: {}",
        preflight.stderr()
    );

    let run = work.run(&apply(path, &sim));
    run.expect_code(0);
    run.expect_stderr("Applying in 3 waves");
    let lines = work.history();
    let waves: Vec<(u64, u64)> = lines
        .iter()
        .map(|l| {
            (
                l["wave"].as_u64().unwrap_or(0),
                l["waves"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(waves, [(1, 3), (2, 3), (3, 3)], "one history line a wave");
    assert_eq!(lines[2]["created"]["users"], serde_json::json!(["U5"]));
    assert_eq!(state(&work)["serial"], 3, "one commit a wave");
    assert_eq!(state(&work)["rollout"]["wavesDone"], 3);
    converged(&work, &sim, path, 5);
}

#[test]
fn a_reorg_moves_everyone_to_a_new_group_and_deletes_the_old_one() {
    let work = Work::new();
    let sim = Sim::start(&["--max-per-request", CAP]);
    let before = spec(&format!(
        "target: {{maxPerRequest: 2}}\ngroups:\n  - {{externalId: OLD, name: Old Team}}\nusers:\n{}",
        users(4, Some("OLD"))
    ));
    let after = spec(&format!(
        "target: {{maxPerRequest: 2}}\ngroups:\n  - {{externalId: NEW, name: New Team}}\nusers:\n{}",
        users(4, Some("NEW"))
    ));
    let before = work.spec("before.yaml", &before);
    let after = work.spec("after.yaml", &after);
    work.run(&apply(before.to_str().unwrap(), &sim))
        .expect_code(0);
    let run = work.run(&apply(after.to_str().unwrap(), &sim));
    run.expect_code(0);
    run.expect_stderr("waves");
    assert_eq!(managed(&sim, "groups"), ["NEW"]);
    let users = sim.data()["users"].clone();
    for u in users
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["managed"] == true)
    {
        assert_eq!(u["memberOf"], serde_json::json!(["NEW"]), "{u}");
    }
    converged(&work, &sim, after.to_str().unwrap(), 4);
}

#[test]
fn an_email_and_a_phone_pass_from_a_leaver_to_a_joiner_across_waves() {
    let work = Work::new();
    let sim = Sim::start(&["--max-per-request", "1"]);
    let before = spec(
        "target: {maxPerRequest: 1}\nusers:\n  - {externalId: L1, firstName: Lea, lastName: Leaver, email: desk@example.com, phone: \"+46701234567\"}\n  - {externalId: S1, firstName: Sam, lastName: Stay, email: sam@example.com}\n",
    );
    let after = spec(
        "target: {maxPerRequest: 1}\nusers:\n  - {externalId: J1, firstName: Jo, lastName: Joiner, email: DESK@example.com, phone: \"+46701234567\"}\n  - {externalId: J2, firstName: Jan, lastName: Second, email: jan@example.com}\n  - {externalId: S1, firstName: Sam, lastName: Stay, email: sam@example.com}\n",
    );
    let before = work.spec("before.yaml", &before);
    let after = work.spec("after.yaml", &after);
    work.run(&apply(before.to_str().unwrap(), &sim))
        .expect_code(0);
    let applied_before = work.history().len();
    let run = work.run(&apply(after.to_str().unwrap(), &sim));
    run.expect_code(0);
    assert_eq!(managed(&sim, "users"), ["J1", "J2", "S1"]);
    let lines = work.history().split_off(applied_before);
    assert!(lines.len() >= 2, "two creates at one a request: waves");
    let wave_of = |what: &str, id: &str| {
        lines
            .iter()
            .find(|l| {
                l[what]["users"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == id))
            })
            .and_then(|l| l["wave"].as_u64())
            .unwrap_or_else(|| panic!("no wave {what} {id}: {lines:?}"))
    };
    assert!(
        wave_of("created", "J1") >= wave_of("deleted", "L1"),
        "the joiner takes the email and phone only when the leaver has freed them"
    );
    converged(&work, &sim, after.to_str().unwrap(), 3);
}

/// Runs an apply of `target` that pauses at `pause` in every wave, resumes
/// the first `n - 1` pauses and sends `stop` at the `n`th (1-based); a
/// signal other than SIGKILL is followed by a resume, so the run goes on to
/// notice it.
fn apply_and_stop_at_pause(
    work: &Work,
    sim: &Sim,
    target: &str,
    pause: &str,
    n: usize,
    stop: rustix::process::Signal,
) -> common::Run {
    let mut spawned = work.spawn(&apply(target, sim), &[(PAUSE_AT, pause)]);
    for _ in 1..n {
        spawned.wait_paused(pause);
        spawned.resume();
    }
    spawned.wait_paused(pause);
    let pid = rustix::process::Pid::from_raw(spawned.pid() as i32).expect("a pid");
    rustix::process::kill_process(pid, stop).expect("signal");
    if stop != rustix::process::Signal::KILL {
        // apply counts signals on a thread of its own; give it time to
        // count this one before apply goes on (resuming at once raced it
        // on a loaded machine: the signal was seen one step later).
        std::thread::sleep(std::time::Duration::from_millis(300));
        spawned.resume();
    }
    spawned.finish()
}

#[test]
fn killed_between_and_within_waves_a_spec_apply_resumes_to_the_same_end() {
    let work = Work::new();
    let sim = Sim::start(&["--max-per-request", CAP]);
    let path = work.spec("five.yaml", &five_users());
    let path = path.to_str().unwrap();

    // Killed before wave 1's state write: the server has wave 1, the state nothing.
    apply_and_stop_at_pause(
        &work,
        &sim,
        path,
        "state-write",
        1,
        rustix::process::Signal::KILL,
    );
    assert!(!work.state().exists());
    assert_eq!(managed(&sim, "users").len(), 2);
    // Killed between waves 1 and 2 (paused before wave 2's validation).
    work.run(&["force-unlock", "--yes"]).expect_code(0);
    apply_and_stop_at_pause(
        &work,
        &sim,
        path,
        "preflight",
        2,
        rustix::process::Signal::KILL,
    );
    assert_eq!(state(&work)["serial"], 1, "wave 1 committed");
    assert_eq!(state(&work)["rollout"]["wavesDone"], 1);
    let plan = work.run(&["plan", path]);
    plan.expect_stderr("rolloutUnfinished");
    let show = work.run(&["state", "show"]);
    show.expect_stdout("rolloutUnfinished");
    work.run(&["force-unlock", "--yes"]).expect_code(0);
    // Re-run: plans the rest from the state and converges.
    work.run(&apply(path, &sim)).expect_code(0);
    converged(&work, &sim, path, 5);
}

#[test]
fn a_saved_plan_stopped_by_ctrl_c_between_waves_is_continued_then_already_applied() {
    let work = Work::new();
    let sim = Sim::start(&["--max-per-request", CAP]);
    let path = work.spec("five.yaml", &five_users());
    let planfile = work.path().join("five.orgplan");
    let planfile = planfile.to_str().unwrap();
    work.run(&["plan", path.to_str().unwrap(), "--out", planfile])
        .expect_code(0);

    // SIGINT while wave 1 is about to be recorded: wave 1 commits, then it stops.
    let run = apply_and_stop_at_pause(
        &work,
        &sim,
        planfile,
        "state-write",
        1,
        rustix::process::Signal::INT,
    );
    run.expect_code(130);
    run.expect_stderr("waves 2 to 3 were not sent");
    assert!(
        !work.path().join(".orgform/state.json.lock").exists(),
        "lock released"
    );
    assert_eq!(state(&work)["serial"], 1);
    assert_eq!(state(&work)["rollout"]["wavesDone"], 1);

    // The same saved plan continues where it stopped.
    let run = work.run(&["apply", planfile, "--endpoint", &sim.url]);
    run.expect_code(0);
    assert!(
        run.stderr()
            .contains("continuing the saved plan after wave 1"),
        "{}",
        run.stderr()
    );
    let waves: Vec<u64> = work
        .history()
        .iter()
        .filter_map(|l| l["wave"].as_u64())
        .collect();
    assert_eq!(waves, [1, 2, 3]);
    converged(&work, &sim, path.to_str().unwrap(), 5);

    // Fully applied: stale, "already applied".
    let run = work.run(&["apply", planfile, "--endpoint", &sim.url]);
    run.expect_code(1);
    run.expect_stderr("already applied");
}
