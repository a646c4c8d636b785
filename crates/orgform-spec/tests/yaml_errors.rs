//! Issue 23: diagnostics a newcomer can act on. The catalogue here is the
//! project's own (written for orgform, not copied from yaml-test-suite)
//! and covers the kinds of invalid YAML such a suite holds: unclosed flow
//! collections and quotes, bad indentation, tabs, a stray `]`, a key
//! without `: `, bad anchors and tags, directives, several documents. On
//! every one the first diagnostic is the YAML error, on the line at fault
//! (never past the last line), and nothing follows it: no
//! `missingVersion`, no shape error from the partial read. The same
//! catalogue runs through the real binary in the top-level
//! `tests/diagnostics.rs`.
//!
//! The other cases of the issue are snapshotted here: a tab drawn where it
//! is, carets under wide characters, the hint for a number in a flow list,
//! one error for a misspelt required field, the grouping of many
//! diagnostics of one code, and the loader gaps closed.

use std::path::{Path, PathBuf};

use orgform_spec::{Diagnostics, LoadOptions, load};

#[path = "cases/yaml.rs"]
mod cases;

use cases::{CASES, YAML_CODES};

fn snapshot(name: &str, text: &str) {
    orgform_testkit::assert_snapshot!("orgform-spec", name, text);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a test file");
    path
}

fn refused(text: &str) -> Diagnostics {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = write(dir.path(), "spec.yaml", text);
    match load(&path, &LoadOptions::default()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(d) => d,
    }
}

#[test]
fn every_yaml_error_comes_first_alone_and_on_the_line_at_fault() {
    let mut drawn = String::new();
    for case in CASES {
        let d = refused(case.text);
        let first = d.iter().next().expect("a diagnostic");
        assert!(
            YAML_CODES.contains(&first.code),
            "{}: first is {}:\n{d}",
            case.name,
            first.code
        );
        let loc = first.location.as_ref().expect("located");
        let lines = u32::try_from(case.text.lines().count()).unwrap_or(u32::MAX);
        assert!(loc.line <= lines, "{}: past the last line:\n{d}", case.name);
        assert_eq!(loc.line, case.line, "{}:\n{d}", case.name);
        assert_eq!(d.len(), 1, "{}: something follows:\n{d}", case.name);
        assert!(first.hint.is_some(), "{}", case.name);
        drawn.push_str(&format!("## {}\n{}\n", case.name, d.render(false)));
    }
    snapshot("yaml-error-catalogue", &drawn);
}

#[test]
fn a_syntax_error_in_one_file_of_a_directory_is_reported_alone() {
    let dir = tempfile::tempdir().expect("a temp dir");
    // a.yaml has a shape error and no version; b.yaml cannot be parsed.
    write(dir.path(), "a.yaml", "users:\n  - externalId: 42\n");
    write(dir.path(), "b.yaml", "version: 1\ngroups: [\n");
    let d = match load(dir.path(), &LoadOptions::default()) {
        Ok(_) => panic!("accepted"),
        Err(d) => d,
    };
    let codes: Vec<&str> = d.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["yamlSyntax"], "{d}");
}

#[test]
fn what_yaml_forbids_is_said_in_words() {
    let tab = refused(CASES[7].text);
    let text = tab.render(false);
    assert!(text.contains("a tab in the indentation"), "{text}");
    assert!(text.contains("indent with spaces"), "{text}");
    let colon = refused(CASES[10].text);
    let text = colon.render(false);
    assert!(text.contains("a key without `: `"), "{text}");
}

#[test]
fn tabs_and_wide_characters_are_drawn_in_place() {
    // The tab at the start of line 5, drawn as the renderer's tab stop with
    // the caret under it; a wide name with the caret under the bad value.
    let mut out = String::new();
    out.push_str(&refused(CASES[7].text).render(false));
    out.push('\n');
    let wide = "version: 1\nusers:\n  - externalId: E1\n    firstName: 太郎\n    lastName: 山田 🙂\n    email: tarō@例え\n";
    let d = refused(wide);
    let email = d
        .iter()
        .find(|d| d.code == "invalidEmail")
        .unwrap_or_else(|| panic!("{d}"));
    assert_eq!(email.location.as_ref().map(|l| l.column), Some(12));
    out.push_str(&d.render(false));
    snapshot("issue23-tabs-and-wide-characters", &out);
}

#[test]
fn a_number_in_a_flow_list_gets_a_list_hint() {
    let d = refused(
        "version: 1\nexternalGroups: [\"0000897\"]\nusers:\n  - externalId: E1\n    firstName: Ada\n    lastName: Lovelace\n    email: ada@example.com\n    accessInfo:\n      memberOf: [0000897]\n      adminOf:\n        - 0000897\n",
    );
    let hints: Vec<&str> = d.iter().filter_map(|d| d.hint.as_deref()).collect();
    assert!(
        hints[0].contains("`memberOf: [\"0000897\"]`"),
        "{}",
        hints[0]
    );
    assert!(hints[1].contains("`- \"0000897\"`"), "{}", hints[1]);
    snapshot("issue23-number-in-a-flow-list", &d.render(false));
}

#[test]
fn a_misspelt_required_field_is_one_error() {
    let d = refused(
        "version: 1\ngroups:\n  - externalId: G1\n    nme: Sales\nusers:\n  - externalId: E1\n    fistName: Ada\n    lastName: Lovelace\n    email: ada@example.com\n",
    );
    let codes: Vec<&str> = d.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["unknownField", "unknownField"], "{d}");
    assert!(d.render(false).contains("did you mean `firstName`?"));
    // Without the misspelling, the missing field is still reported.
    let d = refused(
        "version: 1\nusers:\n  - externalId: E1\n    lastName: Lovelace\n    email: ada@example.com\n    department: Sales\n",
    );
    let codes: Vec<&str> = d.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["missingField", "unknownField"], "{d}");
    snapshot("issue23-misspelt-required-field", &d.render(false));
}

#[test]
fn many_diagnostics_of_one_code_are_summed_up() {
    let mut text = String::from("version: 1\nusers:\n");
    for i in 0..30 {
        text.push_str(&format!(
            "  - {{externalId: {i:07}, firstName: F, lastName: L, email: e{i}@example.com, active: yes}}\n"
        ));
    }
    let d = refused(&text);
    assert_eq!(d.len(), 60, "{d}");
    let grouped = d.grouped(false);
    assert_eq!(grouped.shown.len(), 6);
    let summaries: Vec<String> = grouped.folded.iter().map(|f| f.summary()).collect();
    assert_eq!(summaries.len(), 2);
    assert!(
        summaries[0].starts_with("and 27 more `numberNotString`: lines 6, 7, 8,"),
        "{}",
        summaries[0]
    );
    assert!(summaries[0].contains(", …"), "{}", summaries[0]);
    let drawn = d.render(false);
    assert_eq!(drawn.matches("error[numberNotString]").count(), 3);
    assert_eq!(drawn.matches("error[notABoolean]").count(), 3);
    // Every one on request, and always in JSON.
    assert_eq!(d.render_all(false).matches("error[").count(), 60);
    assert_eq!(d.to_json().as_array().map(Vec::len), Some(60));
    assert_eq!(d.total(), "60 errors, 0 warnings");
    snapshot("issue23-grouping", &format!("{drawn}\n{}\n", d.total()));
}

#[test]
fn the_loader_gaps_are_closed() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "endpoint without a host",
            "version: 1\ntarget:\n  endpoint: \"https://\"\n",
            "invalidEndpoint",
        ),
        (
            "empty token header",
            "version: 1\ntarget:\n  tokenHeader: \"\"\n",
            "invalidTokenHeader",
        ),
        (
            "token header with a space",
            "version: 1\ntarget:\n  tokenHeader: \"X Token\"\n",
            "invalidTokenHeader",
        ),
        (
            "whitespace externalId",
            "version: 1\nusers:\n  - {externalId: \"  \", firstName: Ada, lastName: Lovelace, email: ada@example.com}\n",
            "blankField",
        ),
        (
            "whitespace firstName",
            "version: 1\nusers:\n  - {externalId: E1, firstName: \" \", lastName: Lovelace, email: ada@example.com}\n",
            "blankField",
        ),
        (
            "whitespace lastName",
            "version: 1\nusers:\n  - {externalId: E1, firstName: Ada, lastName: \"\\t\", email: ada@example.com}\n",
            "blankField",
        ),
        (
            "whitespace group name",
            "version: 1\ngroups:\n  - {externalId: G1, name: \"   \"}\n",
            "blankField",
        ),
        (
            "whitespace group externalId",
            "version: 1\ngroups:\n  - {externalId: \" \", name: Sales}\n",
            "blankField",
        ),
        (
            "email local part ending with a dot",
            "version: 1\nusers:\n  - {externalId: E1, firstName: Ada, lastName: Lovelace, email: a.@example.com}\n",
            "invalidEmail",
        ),
    ];
    let mut drawn = String::new();
    for (name, text, code) in cases {
        let d = refused(text);
        let codes: Vec<&str> = d.iter().map(|d| d.code).collect();
        assert_eq!(codes, [*code], "{name}:\n{d}");
        assert!(d.iter().all(|d| d.location.is_some()), "{name}:\n{d}");
        drawn.push_str(&format!("## {name}\n{}\n", d.render(false)));
    }
    snapshot("issue23-loader-gaps", &drawn);
}
