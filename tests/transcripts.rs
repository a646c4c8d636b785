//! Transcripts of the main commands, as a user sees them (ruff's
//! `insta-cmd` way): the command line, the exit code, stdout and stderr,
//! snapshotted, so that any change in what orgform prints shows up in
//! review. The real binary, the real emulator on 127.0.0.1.

mod common;

use common::{ABC, ABD, Run, Sim, Work};

/// Filters for what changes from run to run: times, lineages, digests.
const FILTERS: [orgform_testkit::Filter; 5] = [
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "[time]"),
    (
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uuid]",
    ),
    orgform_testkit::DIGEST_FILTER,
    // The history's actor: whoever and wherever the tests run.
    (r"  by [^\n]*@\S+", "  by [user]@[host]"),
    (r"pid \d+", "pid [pid]"),
];

/// `$ orgform ARGS`, the exit code, and both streams.
fn transcript(args: &[&str], run: &Run) -> String {
    format!(
        "$ orgform {}\n[exit {}]\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        run.code(),
        run.stdout(),
        run.stderr()
    )
}

/// Runs `args` in `work` and snapshots the transcript as `name`.
#[track_caller]
fn check(work: &Work, name: &str, args: &[&str]) -> Run {
    let run = work.run(args);
    let text = transcript(args, &run).replace(&work.path().display().to_string(), "[work]");
    orgform_testkit::assert_snapshot!("transcripts", name, &text, &FILTERS);
    run
}

#[test]
fn validate_plan_apply_state_history() {
    let work = Work::new();
    let sim = Sim::start(&[]);
    work.spec("abc.yaml", ABC);
    work.spec("abd.yaml", ABD);
    work.spec(
        "bad.yaml",
        "version: 1\nusers:\n  - {externalId: E1, fistName: Ann, lastName: Ash, email: ann@example.com}\n",
    );
    check(&work, "validate_ok", &["validate", "abc.yaml"]).expect_code(0);
    check(&work, "validate_invalid", &["validate", "bad.yaml"]).expect_code(1);
    check(
        &work,
        "plan_first",
        &["plan", "abc.yaml", "--detailed-exitcode"],
    )
    .expect_code(2);
    let url = sim.url.clone();
    let endpoint = ["--endpoint", url.as_str()];
    let apply_abc = [&["apply", "abc.yaml", "--auto-approve"][..], &endpoint].concat();
    let run = work.run(&apply_abc);
    run.expect_code(0);
    let text = transcript(&apply_abc, &run).replace(&url, "[endpoint]");
    orgform_testkit::assert_snapshot!("transcripts", "apply_first", &text, &FILTERS);
    check(&work, "plan_next", &["plan", "abd.yaml"]).expect_code(0);
    check(
        &work,
        "plan_saved",
        &["plan", "abd.yaml", "--out", "abd.orgplan"],
    )
    .expect_code(0);
    check(&work, "show_saved", &["show", "abd.orgplan"]).expect_code(0);
    let run = work.run(&["apply", "abd.orgplan"]);
    run.expect_code(0);
    let text = transcript(&["apply", "abd.orgplan"], &run).replace(&url, "[endpoint]");
    orgform_testkit::assert_snapshot!("transcripts", "apply_saved", &text, &FILTERS);
    let run = work.run(&["state", "show"]);
    let text = transcript(&["state", "show"], &run).replace(&url, "[endpoint]");
    orgform_testkit::assert_snapshot!("transcripts", "state_show", &text, &FILTERS);
    check(&work, "state_list", &["state", "list"]).expect_code(0);
    let run = work.run(&["history"]);
    let text = transcript(&["history"], &run).replace(&url, "[endpoint]");
    orgform_testkit::assert_snapshot!("transcripts", "history", &text, &FILTERS);
    check(&work, "force_unlock_none", &["force-unlock", "--yes"]);
}
