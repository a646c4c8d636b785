//! Pull requests and reviewers, through the real binary (issue 8):
//! `--format markdown|diff`, `--redact` on every output, the deletions
//! report, `plan --compare`, `show` of a saved plan, the size cut, and the
//! CI examples (valid YAML, calling only commands and flags that exist).

mod common;

use std::path::Path;

use common::{Sim, Work};
use serde_json::Value;

const MARKER: &str = "<!-- orgform-plan -->";

const BASE: &str = r#"version: 1
groups:
  - {externalId: G1, name: Sales}
  - {externalId: G2, name: Support, parent: G1}
  - {externalId: G3, name: Old Team, parent: G1}
users:
  - {externalId: E1, firstName: Annika, lastName: Ashworth, email: annika@example.com,
     phone: "+46701234501", accessInfo: {memberOf: [G1], role: Manager},
     externalProperties: {city: Hammerfest}}
  - {externalId: E2, firstName: Bertil, lastName: Birchwood, email: bertil@example.com,
     accessInfo: {memberOf: [G2]}}
  - {externalId: E3, firstName: Cecilia, lastName: Cedarholm, email: cecilia@example.com,
     phone: "+46701234503", accessInfo: {memberOf: [G3]}, externalProperties: {city: Bergen}}
  - {externalId: E4, firstName: Dagny, lastName: Dogwoodson, email: dagny@example.com,
     externalProperties: {city: Trondheim}}
  - {externalId: E6, firstName: Fredrik, lastName: Firwood, email: fredrik@example.com}
  - {externalId: E7, firstName: Gunilla, lastName: Gorseby, email: gunilla@example.com}
"#;

/// An update (E1), a deactivation (E2), deletions (E3, G3), creates (G4, E5).
const NEXT: &str = r#"version: 1
groups:
  - {externalId: G1, name: Sales}
  - {externalId: G2, name: Customer Support, parent: G1}
  - {externalId: G4, name: New Team, parent: G1}
users:
  - {externalId: E1, firstName: Annika, lastName: Ashworth-Berg, email: annika.ab@example.com,
     phone: "+46701234501", accessInfo: {memberOf: [G1, G4], role: Manager},
     externalProperties: {city: Stavanger}}
  - {externalId: E2, firstName: Bertil, lastName: Birchwood, email: bertil@example.com,
     active: false, accessInfo: {memberOf: [G2]}}
  - {externalId: E4, firstName: Dagny, lastName: Dogwoodson, email: dagny@example.com}
  - {externalId: E5, firstName: Evelina, lastName: Elmqvist, email: evelina@example.com,
     phone: "+46701234505", accessInfo: {memberOf: [G4]}, externalProperties: {city: Narvik}}
  - {externalId: E6, firstName: Fredrik, lastName: Firwood, email: fredrik@example.com}
  - {externalId: E7, firstName: Gunilla, lastName: Gorseby, email: gunilla@example.com}
"#;

/// Every personal value of BASE and NEXT: none may survive `--redact`.
const PERSONAL: &[&str] = &[
    "Annika",
    "Ashworth",
    "annika@example.com",
    "annika.ab@example.com",
    "+46701234501",
    "Hammerfest",
    "Stavanger",
    "Bertil",
    "Birchwood",
    "bertil@example.com",
    "Cecilia",
    "Cedarholm",
    "cecilia@example.com",
    "+46701234503",
    "Bergen",
    "Dagny",
    "Dogwoodson",
    "dagny@example.com",
    "Trondheim",
    "Evelina",
    "Elmqvist",
    "evelina@example.com",
    "+46701234505",
    "Narvik",
    "Fredrik",
    "Gunilla",
];

/// A work directory whose state is BASE, applied to a fresh emulator, and
/// NEXT written beside it.
fn applied() -> (Sim, Work, String) {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let base = work.spec("base.yaml", BASE);
    work.run(&[
        "apply",
        base.to_str().expect("utf-8 path"),
        "--auto-approve",
        "--endpoint",
        &sim.url,
    ])
    .expect_code(0);
    let next = work.spec("next.yaml", NEXT);
    (sim, work, next.to_str().expect("utf-8 path").to_owned())
}

#[track_caller]
fn assert_masked(what: &str, out: &str) {
    for value in PERSONAL {
        assert!(!out.contains(value), "{what} shows `{value}`:\n{out}");
    }
    assert!(out.contains("E3"), "{what} lost the externalIds:\n{out}");
    assert!(out.contains("[redacted"), "{what} shows no mask:\n{out}");
}

#[test]
fn redact_masks_every_output_format_of_plan_and_show() {
    let (_sim, work, next) = applied();
    let saved = work.path().join("next.plan");
    let saved = saved.to_str().unwrap();
    work.run(&["plan", &next, "--out", saved]).expect_code(0);
    for format in ["text", "json", "markdown", "diff"] {
        let run = work.run(&["plan", &next, "--format", format, "--redact"]);
        run.expect_code(0);
        assert_masked(&format!("plan --format {format}"), &run.stdout());
        let run = work.run(&["show", saved, "--format", format, "--redact"]);
        run.expect_code(0);
        assert_masked(&format!("show --format {format}"), &run.stdout());
    }
    let report = work.path().join("deletions.csv");
    work.run(&[
        "plan",
        &next,
        "--redact",
        "--deletions-report",
        report.to_str().unwrap(),
    ])
    .expect_code(0);
    assert_masked(
        "the deletions report",
        &std::fs::read_to_string(&report).unwrap(),
    );
    // Without --redact the same outputs do show the people.
    let plain = work.run(&["plan", &next, "--format", "markdown"]);
    assert!(plain.stdout().contains("Cecilia Cedarholm"));
}

#[test]
fn deletions_report_is_private_csv_with_the_fixed_header() {
    let (_sim, work, next) = applied();
    let report = work.path().join("out/deletions.csv");
    std::fs::create_dir_all(report.parent().unwrap()).unwrap();
    let run = work.run(&[
        "plan",
        &next,
        "--deletions-report",
        report.to_str().unwrap(),
    ]);
    run.expect_code(0);
    assert!(
        run.stderr().contains("Wrote 3 deletions and deactivations"),
        "{}",
        run.stderr()
    );
    let csv = std::fs::read_to_string(&report).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines[0], "kind,externalId,name,email,groups,reason");
    assert!(lines[1].starts_with("user,E2,Bertil Birchwood,bertil@example.com,G2,deactivated"));
    assert!(lines[2].starts_with("user,E3,Cecilia Cedarholm,cecilia@example.com,G3,deleted"));
    assert!(lines[3].starts_with("group,G3,Old Team,,G1,deleted: &frankly drops"));
    assert!(lines[3].contains("historic results"));
    assert_eq!(lines[4], "");
    assert_eq!(lines.len(), 5);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&report).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "personal data: the report is private");
}

#[test]
fn markdown_comment_has_the_marker_and_deletions_first() {
    let (_sim, work, next) = applied();
    let run = work.run(&["plan", &next, "--format", "markdown"]);
    run.expect_code(0);
    let md = run.stdout();
    assert!(md.starts_with(MARKER), "{md}");
    let deletions = md.find("### 🗑️ ").expect("deletions");
    assert!(deletions < md.find("<details>").expect("folded sections"));
    assert!(
        md.contains("| user | <code>E2</code> | Bertil Birchwood |"),
        "{md}"
    );
    // show renders the same comment from the saved plan and the state.
    let saved = work.path().join("p.plan");
    let saved = saved.to_str().unwrap();
    work.run(&["plan", &next, "--out", saved]).expect_code(0);
    let shown = work.run(&["show", saved, "--format", "markdown"]);
    shown.expect_code(0);
    assert_eq!(shown.stdout(), md);
    // Without that state, from the saved plan alone: the deactivated user's
    // groups are not in it, the rest is the same.
    let alone = work.run(&[
        "show",
        saved,
        "--format",
        "markdown",
        "--state",
        "/nonexistent/state.json",
    ]);
    alone.expect_code(0);
    assert!(
        alone
            .stdout()
            .contains("| user | <code>E2</code> | Bertil Birchwood | bertil&#64;example.com |  |"),
        "{}",
        alone.stdout()
    );
    // The diagram differs too (a saved plan alone does not know the
    // unchanged parents): compare the rest.
    let without_diagram = |text: &str| -> String {
        match (text.find("### 🌳"), text.find("### 🗑️")) {
            (Some(start), Some(end)) if start < end => {
                format!("{}{}", &text[..start], &text[end..])
            }
            _ => text.to_owned(),
        }
    };
    let alone = alone.stdout();
    let (md, alone) = (without_diagram(&md), without_diagram(&alone));
    let differing: Vec<(&str, &str)> = md
        .lines()
        .zip(alone.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(differing.len(), 1, "{differing:?}");
}

#[test]
fn diff_from_plan_and_from_show_with_the_plans_state_only() {
    let (_sim, work, next) = applied();
    let run = work.run(&["plan", &next, "--format", "diff"]);
    run.expect_code(0);
    let diff = run.stdout();
    assert!(diff.starts_with("--- before: state serial 1"), "{diff}");
    assert!(
        diff.contains("-  active: true\n+  active: false\n"),
        "{diff}"
    );
    assert!(diff.contains("-  name: \"Support\"\n+  name: \"Customer Support\"\n"));
    let saved = work.path().join("p.plan");
    let saved = saved.to_str().unwrap();
    work.run(&["plan", &next, "--out", saved]).expect_code(0);
    let shown = work.run(&["show", saved, "--format", "diff"]);
    shown.expect_code(0);
    assert_eq!(shown.stdout(), diff);
    // Another state than the plan's base: said plainly, exit 1.
    let other = work.run(&[
        "show",
        saved,
        "--format",
        "diff",
        "--state",
        "elsewhere/state.json",
    ]);
    other.expect_code(1);
    assert!(
        other
            .stderr()
            .contains("needs the state the plan was made against"),
        "{}",
        other.stderr()
    );
}

#[test]
fn a_blocked_plan_as_a_diff_says_so_on_stderr_and_exits_1() {
    let work = Work::new();
    let spec = work.spec(
        "blocked.yaml",
        "version: 1\nsettings: {forceSetLanguage: false, maxUsersCreated: 0, maxUsersUpdated: \
         200, maxUsersDeleted: 200, maxGroupsCreated: 200, maxGroupsUpdated: 200, \
         maxGroupsDeleted: 200}\nusers:\n  - {externalId: E1, firstName: Ann, lastName: Ash, \
         email: ann@example.com}\n",
    );
    let run = work.run(&["plan", spec.to_str().unwrap(), "--format", "diff"]);
    run.expect_code(1);
    assert!(run.stdout().contains("+user \"E1\":"), "{}", run.stdout());
    assert!(
        run.stderr().contains("This plan is BLOCKED") && run.stderr().contains("[limitExceeded]"),
        "{}",
        run.stderr()
    );
}

#[test]
fn compare_says_what_changed_since_the_reviewed_plan() {
    let (_sim, work, next) = applied();
    let reviewed = work.path().join("reviewed.plan");
    let reviewed = reviewed.to_str().unwrap();
    work.run(&["plan", &next, "--out", reviewed]).expect_code(0);
    // After review, three more people leave the spec.
    let later: String = NEXT
        .lines()
        .filter(|l| !["E4", "E6", "E7"].iter().any(|id| l.contains(id)))
        .map(|l| format!("{l}\n"))
        .collect();
    let later = work.spec("later.yaml", &later);
    let later = later.to_str().unwrap();
    let text = work.run(&["plan", later, "--compare", reviewed]);
    text.expect_code(0);
    let out = text.stdout();
    assert!(
        out.contains("+3 deletions since the reviewed plan"),
        "{out}"
    );
    for id in ["E4", "E6", "E7"] {
        assert!(
            out.contains(&format!("+ user \"{id}\""))
                && out.contains("new since the reviewed plan"),
            "{id} in {out}"
        );
    }
    let json = work.run(&["plan", later, "--compare", reviewed, "--format", "json"]);
    json.expect_code(0);
    let doc: Value = serde_json::from_str(&json.stdout()).expect("JSON");
    let deletes = doc["comparison"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "user" && c["action"] == "delete")
        .cloned()
        .unwrap();
    assert_eq!(
        (deletes["previous"].clone(), deletes["current"].clone()),
        (1.into(), 4.into())
    );
    let md = work.run(&["plan", later, "--compare", reviewed, "--format", "markdown"]);
    assert!(
        md.stdout()
            .contains("**+3 deletions since the reviewed plan**")
    );
    // Beside a diff, the comparison goes to stderr: the diff stays a diff.
    let diff = work.run(&["plan", later, "--compare", reviewed, "--format", "diff"]);
    diff.expect_code(0);
    assert!(diff.stdout().starts_with("--- before"), "{}", diff.stdout());
    assert!(!diff.stdout().contains("reviewed plan"));
    assert!(
        diff.stderr()
            .contains("+3 deletions since the reviewed plan")
    );
    // The same plan again: nothing changed.
    let same = work.run(&["plan", &next, "--compare", reviewed]);
    assert!(same.stdout().contains("identical to the reviewed plan"));
    // A missing or altered reviewed plan is an error, not an empty comparison.
    work.run(&["plan", &next, "--compare", "missing.plan"])
        .expect_code(1);
    let mut altered: Value = serde_json::from_slice(&std::fs::read(reviewed).unwrap()).unwrap();
    altered["plan"]["summary"]["users"]["delete"] = 0.into();
    let altered_path = work.spec("altered.plan", &altered.to_string());
    let run = work.run(&["plan", &next, "--compare", altered_path.to_str().unwrap()]);
    run.expect_code(1);
    assert!(run.stderr().contains("altered"), "{}", run.stderr());
}

#[test]
fn a_comment_over_githubs_limit_is_cut_between_rows() {
    let work = Work::new();
    let mut spec = String::from(
        "version: 1\nsettings: {forceSetLanguage: false, maxUsersCreated: 2000, \
         maxUsersUpdated: 200, maxUsersDeleted: 200, maxGroupsCreated: 200, maxGroupsUpdated: \
         200, maxGroupsDeleted: 200}\ngroups:\n  - {externalId: T1, name: Team}\nusers:\n",
    );
    for i in 0..1_200 {
        spec.push_str(&format!(
            "  - {{externalId: P{i:05}, firstName: Person{i}, lastName: Rather-Long-Name-{i}, \
             email: person.with.a.long.address.{i}@example.com, accessInfo: {{memberOf: [T1]}}}}\n"
        ));
    }
    let spec = work.spec("big.yaml", &spec);
    let run = work.run(&["plan", spec.to_str().unwrap(), "--format", "markdown"]);
    run.expect_code(0);
    let md = run.stdout();
    assert!(
        md.chars().count() <= 65_000,
        "{} characters",
        md.chars().count()
    );
    assert!(md.contains("**This comment was cut**"), "{md}");
    assert!(md.contains("of 1,201 creates"), "{md}");
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
    assert!(md.ends_with("</sub>\n"));
}

// ------------------------------------------------------ the CI examples

/// Every string under `run`, `script`, `before_script` or `after_script`.
fn scripts(v: &serde_yaml::Value, inside: bool, out: &mut Vec<String>) {
    match v {
        serde_yaml::Value::String(s) if inside => out.push(s.clone()),
        serde_yaml::Value::Sequence(items) => {
            items.iter().for_each(|i| scripts(i, inside, out));
        }
        serde_yaml::Value::Mapping(m) => {
            for (k, v) in m {
                let key = k.as_str().unwrap_or("");
                let is_script = matches!(key, "run" | "script" | "before_script" | "after_script");
                scripts(v, inside || is_script, out);
            }
        }
        _ => {}
    }
}

/// The `orgform …` command lines of a script, continuation lines joined,
/// as shell words up to the first redirection or operator.
fn orgform_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let line = line.trim();
        if !line.starts_with("orgform ") {
            continue;
        }
        let mut words = Vec::new();
        let mut word = String::new();
        let mut quote: Option<char> = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '"' | '\'') => quote = Some(c),
                (None, ' ') => {
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                }
                (None, c) => word.push(c),
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        let end = words
            .iter()
            .position(|w| {
                [">", "|", "||", "&&", ";", "2>"].contains(&w.as_str()) || w.starts_with('>')
            })
            .unwrap_or(words.len());
        words.truncate(end);
        out.push(words);
    }
    out
}

fn check_workflow(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("the example exists");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
    let mut all = Vec::new();
    scripts(&yaml, false, &mut all);
    let commands: Vec<Vec<String>> = all.iter().flat_map(|s| orgform_commands(s)).collect();
    assert!(commands.len() >= 2, "{}: {commands:?}", path.display());
    let work = Work::new();
    for words in &commands {
        // Environment variables stand for a value.
        let args: Vec<String> = words[1..]
            .iter()
            .map(|w| {
                if w.contains('$') {
                    "value".to_owned()
                } else {
                    w.clone()
                }
            })
            .collect();
        let sub: Vec<&str> = args
            .iter()
            .take_while(|a| !a.starts_with('-'))
            .take(1)
            .map(String::as_str)
            .collect();
        let mut help_args = sub.clone();
        help_args.push("--help");
        let help = work.run_env(&help_args, &[]);
        help.expect_code(0);
        for flag in args.iter().filter(|a| a.starts_with("--")) {
            let flag = flag.split('=').next().unwrap_or(flag);
            let named = help
                .stdout()
                .split(|c: char| !(c.is_alphanumeric() || c == '-'))
                .any(|w| w == flag);
            assert!(
                named,
                "{}: `orgform {}` has no {flag}",
                path.display(),
                sub.join(" ")
            );
        }
        // The whole line parses (clap checks names and values before --help).
        let mut parse: Vec<&str> = args.iter().map(String::as_str).collect();
        parse.push("--help");
        let run = work.run_env(&parse, &[]);
        assert_eq!(
            run.code(),
            0,
            "{}: `{}` does not parse:\n{}",
            path.display(),
            words.join(" "),
            run.stderr()
        );
    }
    assert!(
        text.contains(MARKER),
        "{} finds its comment by the marker",
        path.display()
    );
    commands
}

#[test]
fn ci_examples_are_yaml_and_call_only_commands_that_exist() {
    let root = common::root();
    // The marker the workflows look for is the one plan prints.
    let work = Work::new();
    let spec = work.spec("s.yaml", "version: 1\nusers: []\n");
    let md = work.run(&["plan", spec.to_str().unwrap(), "--format", "markdown"]);
    assert!(md.stdout().starts_with(MARKER));

    let github = root.join("examples/github-actions/orgform.yml");
    let commands = check_workflow(&github);
    let flat: Vec<String> = commands.iter().map(|c| c.join(" ")).collect();
    assert!(
        flat.iter()
            .any(|c| c == "orgform apply orgform.plan --auto-approve"),
        "{flat:?}"
    );
    assert!(
        flat.iter()
            .any(|c| c.starts_with("orgform plan") && c.contains("--out orgform.plan"))
    );
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&github).unwrap()).unwrap();
    let apply = &yaml["jobs"]["apply"];
    assert_eq!(
        apply["concurrency"]["cancel-in-progress"],
        serde_yaml::Value::Bool(false)
    );
    assert!(apply["concurrency"]["group"].as_str().is_some());

    let gitlab = root.join("examples/gitlab-ci/.gitlab-ci.yml");
    let commands = check_workflow(&gitlab);
    let flat: Vec<String> = commands.iter().map(|c| c.join(" ")).collect();
    assert!(
        flat.iter()
            .any(|c| c == "orgform apply orgform.plan --auto-approve"),
        "{flat:?}"
    );
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&gitlab).unwrap()).unwrap();
    assert!(yaml["orgform-apply"]["resource_group"].as_str().is_some());
}

#[test]
fn the_parse_check_fails_on_a_flag_or_value_that_does_not_exist() {
    let work = Work::new();
    let cases: [&[&str]; 2] = [
        &["plan", "value", "--no-such-flag", "--help"],
        &["plan", "value", "--format", "yaml", "--help"],
    ];
    for args in cases {
        let run = work.run_env(args, &[]);
        assert_ne!(run.code(), 0, "{args:?} parsed");
    }
}

#[test]
fn the_command_extractor_finds_continued_lines_and_stops_at_redirections() {
    let cmds = orgform_commands(
        "set +e\n  orgform plan \"$SPEC\" --format markdown \\\n    --out x.plan > plan.md || code=$?\ncargo install orgform\n",
    );
    assert_eq!(
        cmds,
        vec![vec![
            "orgform", "plan", "$SPEC", "--format", "markdown", "--out", "x.plan"
        ]]
    );
}

#[test]
fn redact_hides_spec_diagnostics_that_quote_personal_data() {
    let work = Work::new();
    // A duplicate entry in a list is a warning that quotes the spec's line.
    let spec = work.spec(
        "org.yaml",
        "version: 1\nexternalGroups: [G]\nusers:\n  - {externalId: E1, firstName: Secretfirst, lastName: Secretlast, email: secret.person@example.com, accessInfo: {memberOf: [G, G]}}\n",
    );
    let plain = work.run(&["plan", spec.to_str().unwrap()]);
    plain.expect_code(0);
    assert!(
        plain.stderr().contains("secret.person@example.com"),
        "without --redact the warning's snippet quotes the line:\n{}",
        plain.stderr()
    );
    let redacted = work.run(&["plan", spec.to_str().unwrap(), "--redact"]);
    redacted.expect_code(0);
    let all = format!("{}{}", redacted.stdout(), redacted.stderr());
    for secret in ["Secretfirst", "Secretlast", "secret.person@example.com"] {
        assert!(!all.contains(secret), "`{secret}` leaked:\n{all}");
    }
    assert!(
        redacted.stderr().contains("hidden by --redact"),
        "{}",
        redacted.stderr()
    );
}
