//! A saved plan edited by someone careful (issue 12): the end-to-end
//! catalogue (`tests/bad_input.rs`) shows `apply` refusing a plan file
//! whose digests no longer match; here every digest is recomputed after
//! the edit, so the file agrees with itself, and still the plan is refused
//! because replanning the saved org against the state does not give the
//! reviewed plan. What the digests cannot catch is a plan file rewritten
//! whole into another self-consistent plan: that is a different plan, and
//! its review (the PR comment) shows it; a saved plan is not signed.

use orgform_model::{DesiredOrg, DesiredUser, EffUser, EffectiveOrg};
use orgform_plan::{Base, PlanDoc, PlanOptions, SavedPlan, SavedPlanError};
use serde_json::Value;

fn org() -> DesiredOrg {
    DesiredOrg {
        users: Some(vec![
            DesiredUser::new("A", "Ann", "Ash", "ann@example.com"),
            DesiredUser::new("B", "Bob", "Birch", "bob@example.com"),
        ]),
        ..DesiredOrg::default()
    }
}

/// A state holding A and C: the plan creates B and deletes C.
fn state() -> EffectiveOrg {
    let mut s = EffectiveOrg::default();
    for (id, email) in [("A", "ann@example.com"), ("C", "cat@example.com")] {
        s.users
            .insert(id.to_owned(), EffUser::new(id, "Ann", "Ash", email));
    }
    s
}

fn base(state: &EffectiveOrg) -> Base<'_> {
    Base {
        lineage: Some("lineage-1"),
        serial: 3,
        org: state,
    }
}

/// `json` with its plan digest recomputed, read back as a saved plan
/// that agrees with itself (what a careful editor leaves).
fn resealed(mut json: Value) -> SavedPlan {
    let doc: PlanDoc = serde_json::from_value(json["plan"].clone()).expect("a plan document");
    json["planDigest"] = Value::from(doc.digest());
    let saved: SavedPlan = serde_json::from_value(json).expect("a saved plan");
    saved
        .check_integrity()
        .expect("the edited file agrees with itself");
    saved
}

/// Saves the plan, lets `edit` change the file's JSON, recomputes every
/// digest so the file agrees with itself, and applies the checks `apply
/// PLANFILE` makes.
fn tamper(edit: impl Fn(&mut Value)) -> Result<(), SavedPlanError> {
    let spec = orgform_spec::validate_org(org()).expect("valid");
    let state = state();
    let plan = orgform_plan::plan(&spec, base(&state), &PlanOptions::default());
    let saved = SavedPlan::new(&plan, &spec, None);
    let mut json = serde_json::to_value(&saved).expect("serialize");
    edit(&mut json);
    // Recompute the digests, as a careful editor would.
    let org: DesiredOrg = serde_json::from_value(json["org"].clone()).expect("an org");
    let spec_digest = orgform_spec::digest_of(&org);
    json["specDigest"] = Value::from(spec_digest.clone());
    json["plan"]["specDigest"] = Value::from(spec_digest);
    let saved = resealed(json);

    // What apply and show do next: the one check (state, validation, replan, verify).
    saved.replan(base(&state)).map(|_| ())
}

#[test]
fn an_untouched_plan_verifies() {
    tamper(|_| {}).expect("the plan as saved");
}

#[test]
fn a_deletion_hidden_from_the_reviewed_plan_is_refused() {
    let err = tamper(|v| {
        let changes = v["plan"]["changes"].as_array_mut().expect("changes");
        changes.retain(|c| c["action"] != "delete");
        v["plan"]["summary"]["users"]["delete"] = Value::from(0);
    })
    .expect_err("refused");
    assert!(matches!(err, SavedPlanError::Differs { .. }), "{err}");
    assert!(err.to_string().contains("not what the state"), "{err}");
}

#[test]
fn a_user_slipped_into_the_org_is_refused() {
    let err = tamper(|v| {
        let users = v["org"]["users"].as_array_mut().expect("users");
        users.push(serde_json::json!({
            "externalId": "M", "firstName": "Mal", "lastName": "Lory", "email": "mal@example.com"
        }));
    })
    .expect_err("refused");
    assert!(matches!(err, SavedPlanError::Differs { .. }), "{err}");
}

#[test]
fn a_limit_raised_in_the_org_is_refused() {
    let err = tamper(|v| v["org"]["settings"]["maxUsersDeleted"] = Value::from(20_000))
        .expect_err("refused");
    assert!(matches!(err, SavedPlanError::Differs { .. }), "{err}");
}

#[test]
fn a_blocked_plan_cannot_be_unblocked_by_flipping_forced() {
    // Ten managed users, five deleted: above the 25% threshold, blocked
    // without --force. Marking the saved plan forced (digests recomputed)
    // replans with --force, which gives another document (a warning in
    // place of the blocked reason), so the file is refused.
    let mut state = EffectiveOrg::default();
    let mut users = Vec::new();
    for i in 0..10 {
        let (id, email) = (format!("U{i}"), format!("u{i}@example.com"));
        state
            .users
            .insert(id.clone(), EffUser::new(&id, "F", "L", &email));
        if i < 5 {
            users.push(DesiredUser::new(&id, "F", "L", &email));
        }
    }
    let spec = orgform_spec::validate_org(DesiredOrg {
        users: Some(users),
        ..DesiredOrg::default()
    })
    .expect("valid");
    let plan = orgform_plan::plan(&spec, base(&state), &PlanOptions::default());
    assert!(plan.is_blocked());
    let mut json = serde_json::to_value(SavedPlan::new(&plan, &spec, None)).expect("serialize");
    json["plan"]["forced"] = Value::from(true);
    let saved = resealed(json);
    assert!(saved.options().force);
    let replanned = orgform_plan::plan(&spec, base(&state), &saved.options());
    assert!(!replanned.is_blocked(), "--force passes the threshold");
    let err = saved.verify(&replanned).expect_err("refused");
    assert!(matches!(err, SavedPlanError::Differs { .. }), "{err}");
}
