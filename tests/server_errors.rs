//! End to end: each validation error the server can raise for a spec that
//! passes local validation is surfaced with plain-words advice and the
//! record's place in the spec, and nothing is written (issue 6).

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod common;

use common::{Sim, Work};

fn account() -> Sim {
    let fixture = common::root().join("tests/fixtures/account.json");
    Sim::start(&["--fixture", fixture.to_str().unwrap()])
}

/// Applies `users_yaml` (the users list) and returns stderr of the failed run.
fn refused(sim: &Sim, extra_top: &str, users_yaml: &str) -> String {
    let work = Work::new();
    let spec = work.spec(
        "org.yaml",
        &format!("version: 1\nexternalGroups: [\"0000689\", \"0000754\", GHOST]\n{extra_top}users:\n{users_yaml}"),
    );
    let run = work.run(&[
        "apply",
        spec.to_str().unwrap(),
        "--auto-approve",
        "--endpoint",
        &sim.url,
    ]);
    run.expect_code(1);
    assert!(!work.state().exists(), "no state after a refusal");
    let history = std::fs::read_to_string(work.path().join(".orgform/history.jsonl"))
        .expect("the refused attempt is in the history");
    assert!(history.contains("\"outcome\":\"failed\""), "{history}");
    run.stderr()
}

/// Applies the users against the account: refused with `code`, naming the
/// record `id`, as [`assert_explained`] says.
#[track_caller]
fn assert_refused_and_explained(users_yaml: &str, code: &str, id: &str) {
    let sim = account();
    let err = refused(&sim, "", users_yaml);
    assert_explained(&err, code, id);
}

#[track_caller]
fn assert_explained(stderr: &str, code: &str, id: &str) {
    assert!(stderr.contains(code), "names the code {code}:\n{stderr}");
    assert!(
        stderr.contains(&format!("`{id}`")),
        "names the record {id}:\n{stderr}"
    );
    assert!(
        stderr.contains("org.yaml:"),
        "points into the spec:\n{stderr}"
    );
    assert!(stderr.contains("what to do:"), "gives advice:\n{stderr}");
    assert!(
        stderr.contains("nothing was changed"),
        "says nothing changed:\n{stderr}"
    );
}

const ANN: &str = "  - {externalId: E1, firstName: Ann, lastName: Ash, email: ann@example.com}\n";

#[test]
fn a_phone_already_used_by_a_manual_user() {
    assert_refused_and_explained(
        &format!(
            "{ANN}  - {{externalId: E2, firstName: Bo, lastName: Berg, email: bo@example.com, phone: \"+46701234567\"}}\n"
        ),
        "validateNoPhoneDuplicates",
        "E2",
    );
}

#[test]
fn an_email_used_in_another_company() {
    assert_refused_and_explained(
        "  - {externalId: E3, firstName: Tea, lastName: Taken, email: taken@example.org}\n",
        "validateDuplicateMailInAnotherCompany",
        "E3",
    );
}

#[test]
fn an_attribute_the_account_does_not_have() {
    assert_refused_and_explained(
        "  - externalId: E4\n    firstName: Sam\n    lastName: Size\n    email: sam@example.com\n    externalProperties: {shoeSize: \"42\"}\n",
        "validateExternalProperties",
        "E4",
    );
}

#[test]
fn a_group_the_account_does_not_have() {
    assert_refused_and_explained(
        "  - externalId: E5\n    firstName: Gus\n    lastName: Ghost\n    email: gus@example.com\n    accessInfo: {memberOf: [GHOST]}\n",
        "unknownGroup",
        "E5",
    );
}

#[test]
fn the_api_references_example_applies_and_the_manual_user_is_untouched() {
    let sim = account();
    let work = Work::new();
    let spec = common::root().join("specs/quickstart");
    work.run(&[
        "apply",
        spec.to_str().unwrap(),
        "--auto-approve",
        "--endpoint",
        &sim.url,
    ])
    .expect_code(0);
    let data = sim.data();
    let users = data["users"].as_array().unwrap();
    let mia = users
        .iter()
        .find(|u| u["email"] == "mia.manual@example.com")
        .unwrap();
    assert_eq!(mia["managed"], false);
    assert_eq!(mia["phone"], "+46701234567");
    let john = users
        .iter()
        .find(|u| u["externalId"] == "E001084")
        .expect("John Doe created");
    assert_eq!(john["managed"], true);
    work.run(&["plan", spec.to_str().unwrap(), "--detailed-exitcode"])
        .expect_code(0);
}
