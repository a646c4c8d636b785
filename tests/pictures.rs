//! Pictures for reviewers (issue 22), end to end with the real binary: the
//! diagram in the plan comment after a real apply to the emulator,
//! `orgform graph` (Mermaid and DOT, with and without `--changes`), and
//! `orgform validate --format markdown`.

mod common;

use common::{Sim, Work};

const MARKER: &str = "<!-- orgform-plan -->";

const BEFORE: &str = r#"version: 1
externalGroups: [X1]
groups:
  - {externalId: G1, name: Acme}
  - {externalId: G2, name: Sales, parent: G1}
  - {externalId: G3, name: Marketing, parent: G1}
  - {externalId: G4, name: Office Tokyo}
users:
  - {externalId: E1, firstName: Ann, lastName: Ash, email: ann@example.com,
     accessInfo: {memberOf: [G2]}}
"#;

/// Sales moves under Marketing, Team BDR is new, Office Tokyo goes, and a
/// hostile name is created.
const AFTER: &str = r#"version: 1
externalGroups: [X1]
groups:
  - {externalId: G1, name: Acme}
  - {externalId: G2, name: Sales, parent: G3}
  - {externalId: G3, name: Marketing, parent: G1}
  - {externalId: G7, name: Team BDR, parent: G2}
  - {externalId: G8, name: "\"]:::x\n```</details>", parent: G1}
users:
  - {externalId: E1, firstName: Ann, lastName: Ash, email: ann@example.com,
     accessInfo: {memberOf: [G2, G7]}}
"#;

/// The state after applying `BEFORE` to a fresh emulator, and the spec of
/// the next change.
fn applied(work: &Work) -> (Sim, String) {
    let sim = Sim::start(&[]);
    let before = work.spec("before.yaml", BEFORE);
    let run = work.run(&[
        "apply",
        before.to_str().expect("utf-8 path"),
        "--auto-approve",
        "--endpoint",
        &sim.url,
    ]);
    run.expect_code(0);
    let after = work.spec("after.yaml", AFTER);
    (sim, after.to_str().expect("utf-8 path").to_owned())
}

/// The body of the only Mermaid block of a comment.
fn mermaid_block(md: &str) -> &str {
    let start = md.find("```mermaid\n").expect("a mermaid block") + "```mermaid\n".len();
    let len = md[start..].find("\n```").expect("the block closes");
    &md[start..start + len]
}

#[test]
fn the_plan_comment_draws_the_changed_tree_after_a_real_apply() {
    let work = Work::new();
    let (_sim, after) = applied(&work);
    let run = work.run(&["plan", &after, "--format", "markdown", "--redact"]);
    run.expect_code(0);
    let md = run.stdout();
    assert!(md.starts_with(MARKER), "{md}");
    let diagram = mermaid_block(&md);
    for label in [
        "~ Sales",
        "+ Team BDR",
        "- Office Tokyo",
        "Acme",
        "Marketing",
    ] {
        assert!(diagram.contains(label), "{label} missing:\n{diagram}");
    }
    assert_eq!(diagram.matches("-. old parent .->").count(), 1, "{diagram}");
    // The hostile name stays one label: no quote, fence or tag escapes.
    let hostile = diagram
        .lines()
        .find(|l| l.contains("#quot;#93;"))
        .expect("the hostile group's node");
    assert_eq!(hostile.matches('"').count(), 2, "{hostile}");
    assert_eq!(md.matches("```").count(), 2, "{md}");
    assert!(!diagram.contains("</details>"));
    // Title and deletions heading count the same rows.
    assert!(md.contains("1 deletion\n"), "{md}");
    assert!(md.contains("### 🗑️ 1 deletion\n"), "{md}");
}

#[test]
fn graph_draws_the_whole_hierarchy_and_marks_changes() {
    let work = Work::new();
    let (_sim, after) = applied(&work);
    let state = work.state();
    let state = state.to_str().expect("utf-8 path");

    let whole = work.run(&["graph", &after, "--state", state]);
    whole.expect_code(0);
    let text = whole.stdout();
    assert!(text.starts_with("flowchart TD\n"), "{text}");
    assert!(
        text.contains("[\"Team BDR\"]") && !text.contains("Office Tokyo"),
        "{text}"
    );
    assert!(!text.contains("old parent"), "unmarked: {text}");

    let marked = work.run(&["graph", &after, "--state", state, "--changes"]);
    marked.expect_code(0);
    let text = marked.stdout();
    assert!(
        text.contains("- Office Tokyo") && text.contains("+ Team BDR"),
        "{text}"
    );
    assert!(text.contains("-. old parent .->"), "{text}");

    let dot = work.run(&[
        "graph",
        &after,
        "--state",
        state,
        "--changes",
        "--format",
        "dot",
    ]);
    dot.expect_code(0);
    let text = dot.stdout();
    assert!(
        text.starts_with("digraph {\n") && text.ends_with("}\n"),
        "{text}"
    );
    assert!(
        text.contains("style = dashed label = \"old parent\""),
        "{text}"
    );
    // The hostile name is one quoted DOT string.
    let line = text
        .lines()
        .find(|l| l.contains("details"))
        .expect("hostile node");
    assert_eq!(line.matches("\\\"").count(), 1, "{line}");

    // Without a state: the spec's tree; a bad format is a usage error (exit 1).
    let fresh = Work::new();
    let spec = fresh.spec("s.yaml", BEFORE);
    let run = fresh.run(&["graph", spec.to_str().expect("utf-8 path")]);
    run.expect_code(0);
    run.expect_stdout("[\"Office Tokyo\"]");
    fresh
        .run(&[
            "graph",
            spec.to_str().expect("utf-8 path"),
            "--format",
            "png",
        ])
        .expect_code(1);
}

#[test]
fn validate_as_markdown_is_a_comment_with_every_diagnostic() {
    let work = Work::new();
    let bad = work.spec(
        "bad.yaml",
        "version: 1\nusers:\n  - {externalId: E1, firstName: A, lastName: B, email: a@example.com, fristName: x}\n  - {externalId: E2, firstName: C, lastName: D, email: a@example.com}\n",
    );
    let run = work.run(&[
        "validate",
        bad.to_str().expect("utf-8 path"),
        "--format",
        "markdown",
    ]);
    run.expect_code(1);
    let md = run.stdout();
    assert!(md.starts_with(MARKER), "{md}");
    assert!(md.contains("the spec is invalid (2 errors)"), "{md}");
    assert!(md.contains("bad.yaml&#58;3&#58;"), "{md}");
    assert!(md.contains("<code>unknownField</code>") && md.contains("<code>duplicateEmail</code>"));
    assert!(!md.contains("a@example.com"), "{md}");

    let good = work.spec("good.yaml", BEFORE);
    let run = work.run(&[
        "validate",
        good.to_str().expect("utf-8 path"),
        "--format",
        "markdown",
    ]);
    run.expect_code(0);
    assert!(run.stdout().starts_with(MARKER));
    run.expect_stdout("the spec is valid");
}
