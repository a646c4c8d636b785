//! The bad-input catalogue through the real binary (issue 12): hostile
//! specs, damaged or hand-edited state files and tampered saved plans each
//! end in a clear error (exit 1) and never in a panic, an abort or a hang;
//! memory is bounded by running the binary under `ulimit -v`. Big inputs
//! are generated here, never committed. The spec loader's own catalogue
//! (every YAML trap, in-process) is `crates/orgform-spec/tests/bad_input.rs`.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Run, TOKEN, Work};
use serde_json::Value;

/// The address-space limit the binary runs under here (`ulimit -v`, KiB):
/// far above what these inputs legitimately need, far below what reading
/// a huge file whole would take.
const MEMORY_KIB: u64 = 2 * 1024 * 1024;

/// A spec that plans a create of two users and a group.
const SMALL: &str = r#"version: 1
groups:
  - {externalId: G1, name: Sales}
users:
  - {externalId: A, firstName: Ann, lastName: Ash, email: ann@example.com, accessInfo: {memberOf: [G1]}}
  - {externalId: B, firstName: Bob, lastName: Birch, email: bob@example.com}
"#;

/// A finished bounded run: the run and its peak resident memory (KiB,
/// sampled from `/proc` while it ran; 0 where there is none). Work is
/// bounded by memory and by what the run must report, never by wall time:
/// the time limit of [`run_bounded`] only stops a hang.
struct Bounded {
    run: Run,
    peak_kib: u64,
}

/// The peak resident set of a running process so far (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs orgform in `work` like `Work::run` (token set, no colour), but
/// under a memory limit, sampling its peak memory. `hang` only stops a run
/// that never ends (at least 10 minutes: a loaded machine is no failure).
fn run_bounded(work: &Work, args: &[&str], hang: Duration) -> Bounded {
    let limit = hang.max(Duration::from_secs(600));
    let script = format!("ulimit -v {MEMORY_KIB} && exec \"$0\" \"$@\"");
    let start = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(common::bin())
        .args(args)
        .current_dir(work.path())
        .env_remove("ORGFORM_STATE")
        .env_remove("RUST_LOG")
        .env("FRANKLY_API_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run orgform");
    // Read both pipes on threads so a chatty child never blocks.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).map(|_| v)
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).map(|_| v)
    });
    // `exec` keeps the pid: after the shell, this is orgform.
    let pid = child.id();
    let mut peak_kib = 0;
    let status = loop {
        if let Some(kib) = peak_rss_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait for orgform") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`orgform {}` hangs: still running after {limit:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let output = std::process::Output {
        status,
        stdout: out.join().expect("stdout thread").expect("read stdout"),
        stderr: err.join().expect("stderr thread").expect("read stderr"),
    };
    Bounded {
        run: Run(output),
        peak_kib,
    }
}

/// Exit 1 with an `error` on stderr, and no panic or abort.
#[track_caller]
fn refused(run: &Run) -> String {
    let stderr = run.stderr();
    assert_eq!(
        run.code(),
        1,
        "expected exit 1 (a signal shows as -1)\n--- stdout\n{}\n--- stderr\n{}",
        excerpt(&run.stdout()),
        excerpt(&stderr)
    );
    assert!(!stderr.contains("panicked"), "{}", excerpt(&stderr));
    assert!(stderr.contains("error"), "{}", excerpt(&stderr));
    stderr
}

fn excerpt(s: &str) -> String {
    if s.len() <= 4000 {
        return s.to_owned();
    }
    let mut end = 4000;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// A file of `len` bytes that takes no disk space (a hole).
fn sparse(path: &Path, len: u64) {
    let f = std::fs::File::create(path).expect("create a sparse file");
    f.set_len(len).expect("make it sparse");
}

fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Specs.

#[test]
fn binary_garbage_and_invalid_utf8_are_refused_by_every_command() {
    let work = Work::new();
    let garbage = work.path().join("garbage.yaml");
    std::fs::write(&garbage, pseudo_random(64 * 1024, 0x9e37_79b9_7f4a_7c15)).unwrap();
    let latin1 = work.path().join("latin1.yaml");
    std::fs::write(
        &latin1,
        [
            SMALL.as_bytes(),
            b"  - {externalId: C, firstName: Bj\xF6rn, lastName: Ek, email: bj@example.com}\n",
        ]
        .concat(),
    )
    .unwrap();
    for file in [&garbage, &latin1] {
        let file = file.to_str().unwrap();
        for args in [
            vec!["validate", file],
            vec!["plan", file],
            vec![
                "apply",
                file,
                "--auto-approve",
                "--endpoint",
                "http://127.0.0.1:9/v1/organization",
            ],
        ] {
            let Bounded { run, .. } = run_bounded(&work, &args, Duration::from_secs(60));
            let stderr = refused(&run);
            assert!(
                stderr.contains("UTF-8"),
                "{}: {}",
                args.join(" "),
                excerpt(&stderr)
            );
        }
    }
    let stderr = refused(
        &run_bounded(
            &work,
            &["validate", latin1.to_str().unwrap()],
            Duration::from_secs(60),
        )
        .run,
    );
    assert!(
        stderr.contains("latin1.yaml:7:"),
        "the bad byte is located: {stderr}"
    );
    assert!(!work.state().exists());
}

#[test]
fn a_spec_over_the_size_cap_is_refused_before_it_is_read() {
    // 300 MiB, more than the 256 MiB cap, as a hole: nothing is written to
    // disk, and reading it whole would show as 300 MiB of memory (as
    // `apply` did before it sniffed only the first byte).
    let work = Work::new();
    let big = work.path().join("big.yaml");
    sparse(&big, 300 * 1024 * 1024);
    let big = big.to_str().unwrap();
    for args in [
        vec!["validate", big],
        vec!["plan", big],
        vec![
            "apply",
            big,
            "--auto-approve",
            "--endpoint",
            "http://127.0.0.1:9/v1/organization",
        ],
        vec!["fmt", "--check", big],
    ] {
        let Bounded { run, peak_kib } = run_bounded(&work, &args, Duration::from_secs(60));
        let stderr = refused(&run);
        assert!(
            peak_kib < 100 * 1024,
            "{}: peak {peak_kib} KiB",
            args.join(" ")
        );
        assert!(
            stderr.contains("too large") || stderr.contains("fileTooLarge"),
            "{}: {}",
            args.join(" "),
            excerpt(&stderr)
        );
    }
}

#[test]
fn huge_strings_and_long_lists_end_in_bounded_time_and_memory() {
    let work = Work::new();
    // A 10 MB first name is valid: planned and printed.
    let name = "n".repeat(10_000_000);
    let spec = work.spec(
        "long-name.yaml",
        &format!(
            "version: 1\nusers:\n  - {{externalId: E1, firstName: {name}, lastName: L, email: e1@example.com}}\n"
        ),
    );
    let Bounded { run, .. } = run_bounded(
        &work,
        &["plan", spec.to_str().unwrap()],
        Duration::from_secs(60),
    );
    run.expect_code(0);
    assert!(run.stdout().contains(&name[..1000]));

    // A 10 MB group reference among 1000 groups: one error, at once.
    let mut text = String::from("version: 1\ngroups:\n");
    for i in 0..1000 {
        text.push_str(&format!("  - {{externalId: G{i}, name: N{i}}}\n"));
    }
    text.push_str(&format!(
        "users:\n  - {{externalId: E1, firstName: F, lastName: L, email: e1@example.com, accessInfo: {{memberOf: [{}]}}}}\n",
        "g".repeat(10_000_000)
    ));
    let spec = work.spec("long-ref.yaml", &text);
    let Bounded { run, .. } = run_bounded(
        &work,
        &["validate", spec.to_str().unwrap()],
        Duration::from_secs(60),
    );
    let stderr = refused(&run);
    assert!(stderr.contains("unknownGroup"), "{}", excerpt(&stderr));

    // 100,000 references to unknown groups on one line: every one reported
    // (`--all`: without it, the text sums up all but the first three).
    let refs: Vec<String> = (0..100_000).map(|i| format!("G{i}")).collect();
    let spec = work.spec(
        "many-refs.yaml",
        &format!(
            "version: 1\nusers:\n  - {{externalId: E1, firstName: F, lastName: L, email: e1@example.com, accessInfo: {{memberOf: [{}]}}}}\n",
            refs.join(", ")
        ),
    );
    let Bounded { run, .. } = run_bounded(
        &work,
        &["validate", "--all", spec.to_str().unwrap()],
        Duration::from_secs(120),
    );
    let stderr = refused(&run);
    assert_eq!(stderr.matches("error[unknownGroup]").count(), 100_000);
}

// ---------------------------------------------------------------------------
// State files.

/// Applies SMALL to an emulator and returns the state file's text.
fn applied(work: &Work, sim: &common::Sim) -> String {
    let spec = work.spec("org.yaml", SMALL);
    work.run(&[
        "apply",
        spec.to_str().unwrap(),
        "--auto-approve",
        "--endpoint",
        &sim.url,
    ])
    .expect_code(0);
    std::fs::read_to_string(work.state()).expect("the state file")
}

#[test]
fn a_damaged_or_hand_edited_state_is_an_error_that_names_it() {
    let sim = common::Sim::start(&[]);
    let work = Work::new();
    let good = applied(&work, &sim);
    let spec = work.path().join("org.yaml");
    let spec = spec.to_str().unwrap();
    let state: Value = serde_json::from_str(&good).unwrap();

    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = state.clone();
        f(&mut v);
        serde_json::to_string_pretty(&v).unwrap()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("truncated", good[..good.len() / 2].to_owned(), "state"),
        ("empty", String::new(), "empty"),
        (
            "binary",
            String::from_utf8_lossy(&pseudo_random(4096, 7)).into_owned(),
            "state",
        ),
        (
            "serial is a string",
            edit(&|v| v["serial"] = Value::from("2")),
            "state",
        ),
        (
            "serial 0",
            edit(&|v| v["serial"] = Value::from(0)),
            "serial",
        ),
        (
            "role misspelt",
            edit(&|v| v["org"]["users"]["A"]["role"] = Value::from("admin")),
            "state",
        ),
        (
            "key and externalId differ",
            edit(&|v| v["org"]["users"]["A"]["externalId"] = Value::from("Z")),
            "externalId",
        ),
        (
            "newer format",
            edit(&|v| v["formatVersion"] = Value::from(99)),
            "upgrade",
        ),
        ("a list, not an object", "[]".to_owned(), "state"),
    ];
    for (what, text, needle) in cases {
        std::fs::write(work.state(), &text).unwrap();
        for args in [
            vec!["plan", spec],
            vec!["apply", spec, "--auto-approve", "--endpoint", &sim.url],
            vec!["state", "show"],
        ] {
            let Bounded { run, .. } = run_bounded(&work, &args, Duration::from_secs(60));
            let stderr = refused(&run);
            assert!(
                stderr.contains("state.json"),
                "{what}: {}: {}",
                args.join(" "),
                excerpt(&stderr)
            );
            assert!(
                stderr.contains(needle),
                "{what}: {}: {}",
                args.join(" "),
                excerpt(&stderr)
            );
        }
        assert_eq!(
            std::fs::read_to_string(work.state()).unwrap(),
            text,
            "{what}: the file is left as it was"
        );
    }
    // Nothing reached the emulator after the first apply.
    let data = sim.data();
    assert_eq!(data["users"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_state_edited_into_a_hierarchy_cycle_or_dangling_references_plans_without_panicking() {
    let sim = common::Sim::start(&[]);
    let work = Work::new();
    let good = applied(&work, &sim);
    let spec = work.path().join("org.yaml");
    let spec = spec.to_str().unwrap();
    let mut state: Value = serde_json::from_str(&good).unwrap();
    // G1 becomes its own grandparent through G2; A names a group nobody has.
    state["org"]["groups"]["G2"] =
        serde_json::json!({"externalId": "G2", "name": "Loop", "parent": "G1"});
    state["org"]["groups"]["G1"]["parent"] = Value::from("G2");
    state["org"]["users"]["A"]["memberOf"] = serde_json::json!(["G1", "nowhere"]);
    std::fs::write(work.state(), serde_json::to_string_pretty(&state).unwrap()).unwrap();

    // The spec keeps G1 with its parent left out (so the cycle stays) and
    // drops G2: the plan says why it cannot apply, and exits 1.
    let Bounded { run, .. } = run_bounded(&work, &["plan", spec], Duration::from_secs(60));
    assert_eq!(run.code(), 1, "{}\n{}", run.stdout(), run.stderr());
    let all = format!("{}{}", run.stdout(), run.stderr());
    assert!(!all.contains("panicked"), "{all}");
    assert!(all.contains("G2"), "{all}");
    for format in ["json", "markdown", "diff"] {
        let Bounded { run, .. } = run_bounded(
            &work,
            &["plan", spec, "--format", format],
            Duration::from_secs(60),
        );
        assert!(matches!(run.code(), 1 | 2), "{format}: {}", run.stderr());
        assert!(
            !run.stderr().contains("panicked"),
            "{format}: {}",
            run.stderr()
        );
    }
}

/// FIXME(issue 12 report): orgform-state reads the state file whole, with
/// no size cap, so a 64 GiB file is refused here only because allocating
/// it fails under the test's memory limit ("out of memory"); without a
/// limit it would be read. A cap needs a decision on the largest state
/// (and the writer refusing to exceed it); this asserts the clean failure.
#[test]
fn a_huge_state_file_is_refused_without_reading_it_whole() {
    let work = Work::new();
    let spec = work.spec("org.yaml", SMALL);
    std::fs::create_dir_all(work.state().parent().unwrap()).unwrap();
    sparse(&work.state(), 64 * 1024 * 1024 * 1024);
    let Bounded { run, .. } = run_bounded(
        &work,
        &["plan", spec.to_str().unwrap()],
        Duration::from_secs(60),
    );
    let stderr = refused(&run);
    assert!(stderr.contains("state.json"), "{}", excerpt(&stderr));
}

// ---------------------------------------------------------------------------
// Saved plans.

#[test]
fn a_tampered_saved_plan_is_refused_and_nothing_is_sent() {
    let sim = common::Sim::start(&[]);
    let work = Work::new();
    let spec = work.spec("org.yaml", SMALL);
    let planfile = work.path().join("reviewed.orgplan");
    work.run(&[
        "plan",
        spec.to_str().unwrap(),
        "--out",
        planfile.to_str().unwrap(),
    ])
    .expect_code(0);
    let saved: Value = serde_json::from_slice(&std::fs::read(&planfile).unwrap()).unwrap();
    let text = serde_json::to_string_pretty(&saved).unwrap();

    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = saved.clone();
        f(&mut v);
        serde_json::to_string_pretty(&v).unwrap()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "planDigest edited",
            edit(&|v| v["planDigest"] = Value::from(format!("sha256:{}", "0".repeat(64)))),
            "altered",
        ),
        (
            "a change dropped",
            edit(&|v| {
                if let Some(changes) = v["plan"]["changes"].as_array_mut() {
                    changes.pop();
                }
            }),
            "altered",
        ),
        (
            "a user added to the org",
            edit(&|v| {
                if let Some(users) = v["org"]["users"].as_array_mut() {
                    users.push(serde_json::json!({"externalId": "M", "firstName": "Mal", "lastName": "Lory", "email": "mal@example.com"}));
                }
            }),
            "altered",
        ),
        (
            "a limit raised in the org",
            edit(&|v| v["org"]["settings"]["maxUsersDeleted"] = Value::from(20000)),
            "altered",
        ),
        (
            // The file's base no longer matches its plan document: altered
            // (the file is checked against itself before the state).
            "the base moved",
            edit(&|v| v["base"]["serial"] = Value::from(5)),
            "altered",
        ),
        (
            "an unknown field",
            edit(&|v| v["extra"] = Value::from(true)),
            "is not a plan saved by",
        ),
        (
            "truncated",
            text[..text.len() / 2].to_owned(),
            "is not a plan saved by",
        ),
        (
            "a newer format",
            edit(&|v| v["formatVersion"] = Value::from(2)),
            "format version",
        ),
    ];
    for (what, content, needle) in cases {
        let file = work.path().join("tampered.orgplan");
        std::fs::write(&file, &content).unwrap();
        let Bounded { run, .. } = run_bounded(
            &work,
            &[
                "apply",
                file.to_str().unwrap(),
                "--auto-approve",
                "--endpoint",
                &sim.url,
            ],
            Duration::from_secs(60),
        );
        let stderr = refused(&run);
        assert!(stderr.contains(needle), "{what}: {}", excerpt(&stderr));
        let Bounded { run, .. } = run_bounded(
            &work,
            &["show", file.to_str().unwrap()],
            Duration::from_secs(60),
        );
        refused(&run);
    }
    assert!(!work.state().exists(), "no state was written");
    let data = sim.data();
    assert_eq!(
        data["users"].as_array().map(Vec::len),
        Some(0),
        "nothing reached the emulator"
    );
    // The untouched plan still applies.
    work.run(&[
        "apply",
        planfile.to_str().unwrap(),
        "--auto-approve",
        "--endpoint",
        &sim.url,
    ])
    .expect_code(0);
}

/// FIXME(issue 12 report): `show` and `apply` read a saved plan whole, with
/// no size cap; as for the state file, the 64 GiB file is refused here
/// because its allocation fails under the memory limit.
#[test]
fn a_huge_plan_file_is_refused_without_reading_it_whole() {
    let work = Work::new();
    let file = work.path().join("huge.orgplan");
    std::fs::write(&file, b"{").unwrap();
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    f.set_len(64 * 1024 * 1024 * 1024).unwrap();
    for args in [
        vec![
            "apply",
            file.to_str().unwrap(),
            "--auto-approve",
            "--endpoint",
            "http://127.0.0.1:9/v1/organization",
        ],
        vec!["show", file.to_str().unwrap()],
    ] {
        let Bounded { run, .. } = run_bounded(&work, &args, Duration::from_secs(60));
        refused(&run);
    }
}
