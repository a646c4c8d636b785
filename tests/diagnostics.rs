//! Issue 23 through the real binary: `orgform validate` on the
//! invalid-YAML catalogue (the YAML error first, alone, on the line at
//! fault, in text and JSON), the summing up of many diagnostics of one code
//! with `--all` and the closing total, and `orgform fmt --fix`.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod common;

#[path = "../crates/orgform-spec/tests/cases/yaml.rs"]
mod cases;

use cases::{CASES, YAML_CODES};
use common::Work;
use serde_json::Value;

fn json(run: &common::Run) -> Value {
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

#[test]
fn validate_reports_the_yaml_error_first_and_alone() {
    let work = Work::new();
    for case in CASES {
        let spec = work.spec("spec.yaml", case.text);
        let spec = spec.to_str().unwrap();
        let run = work.run(&["validate", spec]);
        run.expect_code(1);
        let stderr = run.stderr();
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            YAML_CODES
                .iter()
                .any(|c| first.starts_with(&format!("error[{c}]"))),
            "{}: {stderr}",
            case.name
        );
        assert_eq!(
            stderr.matches("error[").count(),
            1,
            "{}: {stderr}",
            case.name
        );
        assert!(
            !stderr.contains("missingVersion"),
            "{}: {stderr}",
            case.name
        );
        assert!(
            stderr.contains(&format!("spec.yaml:{}:", case.line)),
            "{}: not at line {}: {stderr}",
            case.name,
            case.line
        );
        assert!(
            stderr
                .trim_end()
                .ends_with("is invalid: 1 error, 0 warnings"),
            "{}: {stderr}",
            case.name
        );

        let run = work.run(&["validate", "--format", "json", spec]);
        run.expect_code(1);
        let doc = json(&run);
        let diags = doc["diagnostics"].as_array().unwrap();
        assert_eq!(diags.len(), 1, "{}: {doc}", case.name);
        assert!(YAML_CODES.contains(&diags[0]["code"].as_str().unwrap()));
        assert_eq!(diags[0]["line"], u64::from(case.line), "{}", case.name);
    }
}

/// Thirty users with a bare numeric externalId and `active: yes`.
fn thirty_mistakes() -> String {
    let mut text = String::from("version: 1\n# people\nusers:\n");
    for i in 0..30 {
        text.push_str(&format!(
            "  - externalId: {i:07} # keep\n    firstName: F\n    lastName: L\n    email: e{i}@example.com\n    phone: +4670123{i:04}\n    active: yes\n"
        ));
    }
    text
}

#[test]
fn validate_sums_up_and_ends_with_a_total() {
    let work = Work::new();
    let spec = work.spec("many.yaml", &thirty_mistakes());
    let spec = spec.to_str().unwrap();
    let run = work.run(&["validate", spec]);
    run.expect_code(1);
    let stderr = run.stderr();
    assert_eq!(
        stderr.matches("error[numberNotString]").count(),
        3,
        "{stderr}"
    );
    assert_eq!(stderr.matches("error[notABoolean]").count(), 3, "{stderr}");
    assert!(
        stderr.contains("error: and 57 more `numberNotString`: lines "),
        "{stderr}"
    );
    assert!(stderr.contains("and 27 more `notABoolean`"), "{stderr}");
    assert!(
        stderr
            .trim_end()
            .ends_with("is invalid: 90 errors, 0 warnings"),
        "{stderr}"
    );

    let run = work.run(&["validate", "--all", spec]);
    run.expect_code(1);
    assert_eq!(run.stderr().matches("error[").count(), 90);
    assert!(!run.stderr().contains("more `"));

    let run = work.run(&["validate", "--format", "json", spec]);
    assert_eq!(json(&run)["diagnostics"].as_array().unwrap().len(), 90);
}

#[test]
fn fmt_fix_quotes_numbers_and_fixes_booleans_keeping_comments() {
    let work = Work::new();
    let text = thirty_mistakes();
    let spec = work.spec("many.yaml", &text);
    let spec_arg = spec.to_str().unwrap();

    // --check: nothing written, the file listed, exit 1.
    let run = work.run(&["fmt", "--fix", "--check", spec_arg]);
    run.expect_code(1);
    assert!(run.stdout().contains("many.yaml"), "{}", run.stdout());
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), text);

    let run = work.run(&["fmt", "--fix", spec_arg]);
    run.expect_code(0);
    assert!(
        run.stderr().contains("90 problems fixed"),
        "{}",
        run.stderr()
    );
    let fixed = std::fs::read_to_string(&spec).unwrap();
    assert!(fixed.contains("# people"), "{fixed}");
    assert_eq!(fixed.matches("# keep").count(), 30, "{fixed}");
    assert!(fixed.contains("externalId: \"0000007\""), "{fixed}");
    assert!(fixed.contains("phone: \"+46701230007\""), "{fixed}");
    assert!(!fixed.contains("active: yes"), "{fixed}");
    work.run(&["validate", spec_arg]).expect_code(0);
    // Nothing left to do.
    work.run(&["fmt", "--fix", "--check", spec_arg])
        .expect_code(0);
}

#[test]
fn fmt_fix_says_what_is_left_and_keeps_the_mechanical_fixes() {
    let work = Work::new();
    let text = "version: 1\nusers:\n  - externalId: 42 # id\n    fistName: Ada\n    lastName: Lovelace\n    email: ada@example.com\n";
    let spec = work.spec("left.yaml", text);
    let run = work.run(&["fmt", "--fix", spec.to_str().unwrap()]);
    run.expect_code(1);
    let stderr = run.stderr();
    assert!(stderr.contains("error[unknownField]"), "{stderr}");
    assert!(stderr.contains("did you mean `firstName`?"), "{stderr}");
    assert!(stderr.contains("1 problem left"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&spec).unwrap(),
        text.replace("externalId: 42", "externalId: \"42\"")
    );

    // A syntax error: refused, the file untouched.
    let broken = "version: 1\nusers: [\n";
    let spec = work.spec("broken.yaml", broken);
    let run = work.run(&["fmt", "--fix", spec.to_str().unwrap()]);
    run.expect_code(1);
    assert!(
        run.stderr().contains("error[yamlSyntax]"),
        "{}",
        run.stderr()
    );
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), broken);
}
