//! End to end: the real binary applies specs to the real emulator over HTTP
//! on 127.0.0.1 (issue 6), and after every successful apply a new plan is
//! empty (`plan --detailed-exitcode` exits 0).

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod common;

use std::path::Path;

use common::{ABC, ABD, Sim, TOKEN, Work, assert_no_token_in_files};
use serde_json::Value;

fn apply(work: &Work, sim: &Sim, spec: &str) -> common::Run {
    work.run(&["apply", spec, "--auto-approve", "--endpoint", &sim.url])
}

/// `plan SPEC [extra] --out OUT`: saves a plan for a later apply.
fn plan_out(work: &Work, spec: &Path, out: &Path, extra: &[&str]) -> common::Run {
    let mut args = vec!["plan", spec.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend(["--out", out.to_str().unwrap()]);
    work.run(&args)
}

/// After a successful apply, planning the same spec again shows nothing to do.
#[track_caller]
fn assert_converged(work: &Work, spec: &str) {
    work.run(&["plan", spec, "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn first_apply_of_acme_then_nothing_to_do() {
    let sim = Sim::acme();
    let work = Work::new();
    let acme = common::root().join("specs/acme");
    let acme = acme.to_str().expect("utf-8 path");
    let run = apply(&work, &sim, acme);
    run.expect_code(0);
    run.expect_stdout("Apply complete!");
    let state = work.state_json();
    assert_eq!(state["serial"], 1);
    let users = state["org"]["users"]
        .as_object()
        .expect("users in state")
        .len();
    assert!(users >= 50, "acme has about 60 people, state has {users}");
    assert_eq!(
        sim.managed_users().len(),
        users,
        "the emulator holds what the state says"
    );
    let manual = sim.data()["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "morgan.manual@example.com")
        .cloned()
        .expect("the manual user is still there");
    assert_eq!(manual["managed"], false);
    assert_eq!(
        manual["firstName"], "Morgan",
        "manual users are never touched"
    );
    assert_converged(&work, acme);
}

#[test]
fn full_sync_cycle_renames_removes_and_adds() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    let abd = work.spec("abd.yaml", ABD);
    apply(&work, &sim, abc.to_str().unwrap()).expect_code(0);
    assert_converged(&work, abc.to_str().unwrap());

    let plan = work.run(&["plan", abd.to_str().unwrap(), "--format", "json"]);
    plan.expect_code(0);
    let plan: Value = serde_json::from_str(&plan.stdout()).expect("JSON plan");
    let actions: Vec<(String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().into(),
                c["externalId"].as_str().unwrap().into(),
            )
        })
        .collect();
    // Apply order: user creates, then updates, then deletes.
    let expected = [("create", "D"), ("update", "B"), ("delete", "C")];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, i)| ((*a).to_owned(), (*i).to_owned()))
        .collect();
    assert_eq!(actions, expected);

    apply(&work, &sim, abd.to_str().unwrap()).expect_code(0);
    let users = sim.managed_users();
    let ids: Vec<&str> = users
        .iter()
        .map(|u| u["externalId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["A", "B", "D"]);
    let bob = users.iter().find(|u| u["externalId"] == "B").unwrap();
    assert_eq!(
        bob["firstName"], "Bobby",
        "B renamed in place, not recreated"
    );
    assert_eq!(work.state_json()["serial"], 2);
    assert_converged(&work, abd.to_str().unwrap());
}

#[test]
fn missing_and_wrong_tokens_write_no_state() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    let abc = abc.to_str().unwrap();

    let run = work.run_env(
        &["apply", abc, "--auto-approve", "--endpoint", &sim.url],
        &[],
    );
    run.expect_code(1);
    run.expect_stderr("FRANKLY_API_TOKEN");
    assert!(!work.state().exists(), "no state after a missing token");

    let run = work.run_env(
        &["apply", abc, "--auto-approve", "--endpoint", &sim.url],
        &[("FRANKLY_API_TOKEN", "not-the-token")],
    );
    run.expect_code(1);
    assert!(
        run.stderr().to_lowercase().contains("token"),
        "{}",
        run.stderr()
    );
    assert!(!work.state().exists(), "no state after a wrong token");
    assert!(
        sim.managed_users().is_empty(),
        "nothing reached the emulator's data"
    );
}

#[test]
fn apply_without_terminal_or_approval_refuses() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    let run = work.run(&["apply", abc.to_str().unwrap(), "--endpoint", &sim.url]);
    run.expect_code(1);
    run.expect_stderr("--auto-approve");
    assert!(!work.state().exists());
    assert!(sim.managed_users().is_empty());
}

#[test]
fn the_token_never_leaves_the_environment() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    let abc = abc.to_str().unwrap();
    let plan_file = work.path().join("abc.orgplan");
    let mut seen = String::new();
    for args in [
        vec!["plan", abc, "--out", plan_file.to_str().unwrap()],
        vec![
            "apply",
            plan_file.to_str().unwrap(),
            "--auto-approve",
            "--endpoint",
            &sim.url,
        ],
        vec!["apply", abc, "--auto-approve", "--endpoint", &sim.url],
        vec!["state", "show"],
    ] {
        let run = work.run_env(
            &args,
            &[("FRANKLY_API_TOKEN", TOKEN), ("RUST_LOG", "trace")],
        );
        seen.push_str(&run.stdout());
        seen.push_str(&run.stderr());
    }
    // A failing apply too (wrong endpoint path answers an error).
    let bad = format!("{}-nope", sim.url);
    let run = work.run_env(
        &[
            "apply",
            abc,
            "--auto-approve",
            "--endpoint",
            &bad,
            "--endpoint-moved",
        ],
        &[("FRANKLY_API_TOKEN", TOKEN), ("RUST_LOG", "trace")],
    );
    seen.push_str(&run.stdout());
    seen.push_str(&run.stderr());
    assert!(
        seen.contains("TRACE") || seen.contains("DEBUG"),
        "debug logs were on"
    );
    assert!(!seen.contains(TOKEN), "the token leaked into output");
    assert_no_token_in_files(work.path());
}

const TREE: &str = r#"version: 1
groups:
  - {externalId: ORG, name: Acme}
  - {externalId: SALES, name: Sales, parent: ORG}
  - {externalId: EAST, name: East, parent: ORG}
  - {externalId: BDR, name: BDR, parent: SALES}
users:
  - externalId: A
    firstName: Ann
    lastName: Ash
    email: ann@example.com
    accessInfo: {memberOf: [BDR]}
  - {externalId: B, firstName: Bob, lastName: Birch, email: bob@example.com}
"#;

#[test]
fn deactivation_and_reparenting_are_updates() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let tree = work.spec("tree.yaml", TREE);
    apply(&work, &sim, tree.to_str().unwrap()).expect_code(0);
    assert_converged(&work, tree.to_str().unwrap());

    let moved = TREE
        .replace("{externalId: BDR, name: BDR, parent: SALES}", "{externalId: BDR, name: BDR, parent: EAST}")
        .replace(
            "{externalId: B, firstName: Bob, lastName: Birch, email: bob@example.com}",
            "{externalId: B, firstName: Bob, lastName: Birch, email: bob@example.com, active: false}",
        );
    let moved = work.spec("moved.yaml", &moved);
    let plan = work.run(&["plan", moved.to_str().unwrap(), "--format", "json"]);
    plan.expect_code(0);
    let plan: Value = serde_json::from_str(&plan.stdout()).unwrap();
    assert_eq!(plan["summary"]["users"]["update"], 1);
    assert_eq!(
        plan["summary"]["users"]["delete"], 0,
        "deactivation is not a deletion"
    );
    assert_eq!(plan["summary"]["groups"]["update"], 1);

    apply(&work, &sim, moved.to_str().unwrap()).expect_code(0);
    let data = sim.data();
    let bdr = data["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["externalId"] == "BDR")
        .unwrap();
    assert_eq!(bdr["parent"], "EAST");
    let bob = data["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["externalId"] == "B")
        .unwrap();
    assert_eq!(bob["active"], false);
    assert_converged(&work, moved.to_str().unwrap());
}

#[test]
fn a_blocked_plan_is_refused_and_nothing_is_sent() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let spec = work.spec(
        "limited.yaml",
        &ABC.replace(
            "version: 1\n",
            "version: 1\nsettings:\n  maxUsersCreated: 2\n",
        ),
    );
    let plan = work.run(&["plan", spec.to_str().unwrap(), "--format", "json"]);
    plan.expect_code(1);
    let json: Value = serde_json::from_str(&plan.stdout()).unwrap();
    assert_eq!(json["blocked"], true);
    assert!(!json["blockedReasons"].as_array().unwrap().is_empty());

    let run = apply(&work, &sim, spec.to_str().unwrap());
    run.expect_code(1);
    run.expect_stderr("blocked");
    assert!(!work.state().exists());
    assert!(sim.managed_users().is_empty());
}

#[test]
fn a_saved_plan_applies_what_was_reviewed_and_goes_stale_after() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let spec = work.spec("org.yaml", ABC);
    let first = work.path().join("first.orgplan");
    let second = work.path().join("second.orgplan");
    plan_out(&work, &spec, &first, &[]).expect_code(0);
    plan_out(&work, &spec, &second, &[]).expect_code(0);

    // The spec changes after review: the saved plan still applies what was reviewed.
    std::fs::write(&spec, ABD).unwrap();
    apply(&work, &sim, first.to_str().unwrap()).expect_code(0);
    let ids = sim.managed_ids();
    assert_eq!(
        ids,
        ["A", "B", "C"],
        "the reviewed org, not the edited spec"
    );

    // The second plan was made against the empty state, which has moved on.
    let run = apply(&work, &sim, second.to_str().unwrap());
    run.expect_code(1);
    run.expect_stderr("stale");
    assert_eq!(work.state_json()["serial"], 1);
}

#[test]
fn lost_state_and_a_shrunk_spec_cannot_delete_unseen_users() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let abc = work.spec("abc.yaml", ABC);
    apply(&work, &sim, abc.to_str().unwrap()).expect_code(0);
    std::fs::remove_dir_all(work.path().join(".orgform")).unwrap();

    // Without the state, the plan sees no deletions: the server must refuse C's.
    let shrunk = work.spec(
        "ab.yaml",
        &ABC.replace(
            "  - {externalId: C, firstName: Cat, lastName: Cedar, email: cat@example.com}\n",
            "",
        ),
    );
    let run = apply(&work, &sim, shrunk.to_str().unwrap());
    run.expect_code(1);
    run.expect_stderr("limitExceeded");
    assert!(!work.state().exists(), "nothing written");
    assert_eq!(sim.managed_users().len(), 3, "C is still there");
}

#[test]
fn a_plan_saved_with_force_applies_without_force_and_the_history_says_forced() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let people: String = (0..12)
        .map(|i| format!("  - {{externalId: U{i:02}, firstName: P{i}, lastName: Q, email: p{i}@example.com}}\n"))
        .collect();
    let spec = work.spec("org.yaml", &format!("version: 1\nusers:\n{people}"));
    apply(&work, &sim, spec.to_str().unwrap()).expect_code(0);

    // Deleting 4 of 12 (33%) crosses the default 25% threshold.
    let kept: String = people.lines().take(8).map(|l| format!("{l}\n")).collect();
    std::fs::write(&spec, format!("version: 1\nusers:\n{kept}")).unwrap();
    let plan_file = work.path().join("forced.orgplan");
    plan_out(&work, &spec, &plan_file, &[]).expect_code(1);
    plan_out(&work, &spec, &plan_file, &["--force"]).expect_code(0);

    apply(&work, &sim, plan_file.to_str().unwrap()).expect_code(0);
    assert_eq!(sim.managed_users().len(), 8);
    let history = work.history();
    let last = history.last().expect("a history line");
    assert_eq!(last["outcome"], "applied");
    assert_eq!(
        last["forced"], true,
        "the history records the forced threshold"
    );
}

#[test]
fn a_state_is_never_sent_to_another_endpoint_unless_told_the_api_moved() {
    let work = Work::new();
    let data = work.path().join("account.json");
    let data = data.to_str().unwrap();
    let mut first = Sim::start(&["--data", data]);
    let second = Sim::start(&[]);
    let abc = work.spec("abc.yaml", ABC);
    apply(&work, &first, abc.to_str().unwrap()).expect_code(0);

    let abd = work.spec("abd.yaml", ABD);
    let run = apply(&work, &second, abd.to_str().unwrap());
    run.expect_code(1);
    run.expect_stderr("--endpoint-moved");
    assert!(
        second.managed_users().is_empty(),
        "nothing reached the other account"
    );
    assert_eq!(work.state_json()["serial"], 1);

    // Told that the API moved, but the other endpoint is another (empty)
    // account: its validation reports more changes than the plan, so
    // nothing is applied there either (DESIGN section 7: more than planned
    // stops the apply before its commit).
    let moved = |sim: &Sim| {
        work.run(&[
            "apply",
            abd.to_str().unwrap(),
            "--auto-approve",
            "--endpoint",
            &sim.url,
            "--endpoint-moved",
        ])
    };
    let run = moved(&second);
    run.expect_code(1);
    run.expect_stderr("more changes than the plan");
    assert!(second.managed_users().is_empty());
    assert_eq!(work.state_json()["serial"], 1);

    // The API really moved: the same account, served at another address.
    first.kill();
    let third = Sim::start(&["--data", data]);
    moved(&third).expect_code(0);
    assert_eq!(third.managed_users().len(), 3);
    assert_eq!(work.state_json()["endpoint"], third.url.as_str());
}

#[test]
fn a_saved_plan_of_another_lineage_is_refused() {
    let sim = Sim::start(&[]);
    let ours = Work::new();
    let theirs = Work::new();
    let abc = ours.spec("abc.yaml", ABC);
    apply(&ours, &sim, abc.to_str().unwrap()).expect_code(0);
    let theirs_spec = theirs.spec("abc.yaml", ABC);
    apply(&theirs, &sim, theirs_spec.to_str().unwrap()).expect_code(0);

    // A plan made against their state (serial 1, their lineage)…
    let abd = theirs.spec("abd.yaml", ABD);
    let plan_file = theirs.path().join("theirs.orgplan");
    theirs
        .run(&[
            "plan",
            abd.to_str().unwrap(),
            "--out",
            plan_file.to_str().unwrap(),
        ])
        .expect_code(0);
    // …applied to ours (also serial 1) is refused: same serial, other lineage.
    let run = apply(&ours, &sim, plan_file.to_str().unwrap());
    run.expect_code(1);
    run.expect_stderr("lineage");
    assert_eq!(ours.state_json()["serial"], 1);
}
