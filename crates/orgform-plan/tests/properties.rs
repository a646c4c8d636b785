//! Property tests of the planner on random sequences of valid specs
//! (issue 12): each spec is planned against the state the previous one
//! left, and every plan must be
//!
//! 1. sound: its changes, applied to the old state as a patch, give exactly
//!    [`Plan::effective_after`], which equals an independent reference of
//!    the API's semantics (`support/orgs.rs`), and its counts are the
//!    reference's;
//! 2. idempotent: planning the same spec against `effective_after` gives no
//!    changes (and the same state again);
//! 3. in apply order: group creates and updates, user creates, user
//!    updates, user deletes, group deletes; parents before children for
//!    creates and updates, children before parents for deletes; ties by
//!    externalId;
//! 4. deterministic, and its JSON document reads back to itself.
//!
//! Case counts are capped so the whole file runs in seconds; raise them
//! locally with `PROPTEST_CASES=5000 cargo test -p orgform-plan --test properties`.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use orgform_model::{EffGroup, EffUser, EffectiveOrg, Kind, Role};
use orgform_plan::{Action, Base, BlockedCode, Change, Plan, PlanDoc, PlanOptions, Record};
use proptest::prelude::*;
use serde_json::Value;
use support::orgs::{self, OrgGen};
use support::reference;

/// How many random sequences each property sees (overridden by
/// `PROPTEST_CASES`).
const CASES: u32 = 256;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(CASES),
        // Shrinking a failure of these small inputs is quick; bound it anyway.
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

/// Blocked reasons the server would also refuse (the request would fail,
/// so the state does not move on).
fn refused_by_server(plan: &Plan) -> bool {
    plan.blocked_reasons().iter().any(|r| {
        matches!(
            r.code,
            BlockedCode::HierarchyCycle
                | BlockedCode::OrphanGroup
                | BlockedCode::DeletedGroupReferenced
                | BlockedCode::LimitExceeded
        )
    })
}

/// Plans each drawn spec in turn against the state the last accepted one
/// left, calling `check` with the old state, the spec and the plan.
fn walk(
    draws: &[OrgGen],
    mut check: impl FnMut(
        &EffectiveOrg,
        &orgform_spec::ValidatedSpec,
        &Plan,
    ) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let mut state = EffectiveOrg::default();
    for (serial, draw) in (1u64..).zip(draws) {
        let org = draw.build(&state.groups);
        let spec =
            orgform_spec::validate_org(org).map_err(|d| TestCaseError::fail(d.render(false)))?;
        let base = Base {
            lineage: Some("lineage"),
            serial,
            org: &state,
        };
        let plan = orgform_plan::plan(&spec, base, &PlanOptions::default());
        check(&state, &spec, &plan)?;
        if !refused_by_server(&plan) {
            state = plan.effective_after().clone();
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 1. Soundness.

/// A field of a user as a plan's `fields[]` shows it: absent values are
/// `None`, lists are arrays (`[]` when empty).
fn user_field(u: &EffUser, path: &str) -> Option<Value> {
    let s = |v: &str| Some(Value::String(v.to_owned()));
    let list = |l: &BTreeSet<String>| {
        Some(Value::Array(
            l.iter().map(|g| Value::String(g.clone())).collect(),
        ))
    };
    match path {
        "firstName" => s(&u.first_name),
        "lastName" => s(&u.last_name),
        "email" => s(&u.email),
        "phone" => u.phone.as_deref().and_then(s),
        "active" => Some(Value::Bool(u.active)),
        "timezone" => u.timezone.as_deref().and_then(s),
        "language" => u.language.as_deref().and_then(s),
        "accessInfo.memberOf" => list(&u.member_of),
        "accessInfo.adminOf" => list(&u.admin_of),
        "accessInfo.inheritedAdminOf" => list(&u.inherited_admin_of),
        "accessInfo.interestOf" => list(&u.interest_of),
        "accessInfo.role" => s(u.role.as_str()),
        p => match p.strip_prefix("externalProperties.") {
            Some(key) => u.external_properties.get(key).and_then(|v| s(v)),
            None => panic!("unknown user field path `{p}`"),
        },
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.map(|v| {
        v.as_str()
            .unwrap_or_else(|| panic!("not a string: {v}"))
            .to_owned()
    })
}

fn set(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .unwrap_or_else(|| panic!("a list field needs an array, got {v:?}"))
        .iter()
        .map(|g| g.as_str().expect("a group id").to_owned())
        .collect()
}

fn set_user_field(u: &mut EffUser, path: &str, v: Option<&Value>) {
    let required =
        |v: Option<&Value>| text(v).unwrap_or_else(|| panic!("`{path}` cannot be absent"));
    match path {
        "firstName" => u.first_name = required(v),
        "lastName" => u.last_name = required(v),
        "email" => u.email = required(v),
        "phone" => u.phone = text(v),
        "active" => u.active = v.and_then(Value::as_bool).expect("active is a boolean"),
        "timezone" => u.timezone = text(v),
        "language" => u.language = text(v),
        "accessInfo.memberOf" => u.member_of = set(v),
        "accessInfo.adminOf" => u.admin_of = set(v),
        "accessInfo.inheritedAdminOf" => u.inherited_admin_of = set(v),
        "accessInfo.interestOf" => u.interest_of = set(v),
        "accessInfo.role" => u.role = Role::parse(&required(v)).expect("a role"),
        p => {
            let key = p
                .strip_prefix("externalProperties.")
                .unwrap_or_else(|| panic!("unknown user field path `{p}`"));
            match text(v) {
                Some(value) => u.external_properties.insert(key.to_owned(), value),
                None => u.external_properties.remove(key),
            };
        }
    }
}

fn group_field(g: &EffGroup, path: &str) -> Option<Value> {
    let s = |v: &str| Some(Value::String(v.to_owned()));
    match path {
        "name" => s(&g.name),
        "description" => g.description.as_deref().and_then(s),
        "parent" => g.parent.as_deref().and_then(s),
        p => panic!("unknown group field path `{p}`"),
    }
}

fn set_group_field(g: &mut EffGroup, path: &str, v: Option<&Value>) {
    match path {
        "name" => g.name = text(v).expect("a name"),
        "description" => g.description = text(v),
        "parent" => g.parent = text(v),
        p => panic!("unknown group field path `{p}`"),
    }
}

/// Applies a plan's changes to `old` as a patch, checking every `before`
/// against what is there. Users of an omitted `users` key are not sent, so
/// they have no changes, yet the server drops their entries of deleted
/// groups: that is done last, as the plan's crate docs say.
fn patch(old: &EffectiveOrg, plan: &Plan, users_sent: bool) -> Result<EffectiveOrg, TestCaseError> {
    let mut out = old.clone();
    let mut deleted_groups = BTreeSet::new();
    for c in plan.changes() {
        let id = &c.external_id;
        match (c.kind, c.action) {
            (Kind::User, Action::Create) => {
                let Some(Record::User(u)) = &c.after else {
                    return Err(TestCaseError::fail(format!(
                        "user create `{id}` without a user record"
                    )));
                };
                prop_assert_eq!(&u.external_id, id);
                prop_assert!(
                    out.users.insert(id.clone(), (**u).clone()).is_none(),
                    "created `{}` exists",
                    id
                );
            }
            (Kind::Group, Action::Create) => {
                let Some(Record::Group(g)) = &c.after else {
                    return Err(TestCaseError::fail(format!(
                        "group create `{id}` without a group record"
                    )));
                };
                prop_assert_eq!(&g.external_id, id);
                prop_assert!(
                    out.groups.insert(id.clone(), g.clone()).is_none(),
                    "created `{}` exists",
                    id
                );
            }
            (Kind::User, Action::Delete) => {
                let removed = out.users.remove(id);
                let before = match &c.before {
                    Some(Record::User(u)) => Some((**u).clone()),
                    _ => None,
                };
                prop_assert_eq!(removed, before, "user delete `{}`: before", id);
            }
            (Kind::Group, Action::Delete) => {
                let removed = out.groups.remove(id);
                let before = match &c.before {
                    Some(Record::Group(g)) => Some(g.clone()),
                    _ => None,
                };
                prop_assert_eq!(removed, before, "group delete `{}`: before", id);
                deleted_groups.insert(id.clone());
            }
            (Kind::User, Action::Update) => {
                prop_assert!(!c.fields.is_empty(), "update of `{}` without fields", id);
                let u = out
                    .users
                    .get_mut(id)
                    .ok_or_else(|| TestCaseError::fail(format!("update of missing user `{id}`")))?;
                for f in &c.fields {
                    prop_assert_eq!(
                        user_field(u, &f.path),
                        f.before.clone(),
                        "user `{}` field `{}`: before",
                        id,
                        &f.path
                    );
                    prop_assert_ne!(
                        &f.before,
                        &f.after,
                        "user `{}` field `{}` does not change",
                        id,
                        &f.path
                    );
                    set_user_field(u, &f.path, f.after.as_ref());
                }
            }
            (Kind::Group, Action::Update) => {
                prop_assert!(!c.fields.is_empty(), "update of `{}` without fields", id);
                let g = out.groups.get_mut(id).ok_or_else(|| {
                    TestCaseError::fail(format!("update of missing group `{id}`"))
                })?;
                for f in &c.fields {
                    prop_assert_eq!(
                        group_field(g, &f.path),
                        f.before.clone(),
                        "group `{}` field `{}`: before",
                        id,
                        &f.path
                    );
                    prop_assert_ne!(
                        &f.before,
                        &f.after,
                        "group `{}` field `{}` does not change",
                        id,
                        &f.path
                    );
                    set_group_field(g, &f.path, f.after.as_ref());
                }
            }
        }
        // A create's record and an update's label agree with the result.
        let label = match c.kind {
            Kind::User => out
                .users
                .get(id)
                .map(|u| Record::User(Box::new(u.clone())).label()),
            Kind::Group => out.groups.get(id).map(|g| Record::Group(g.clone()).label()),
        };
        if c.action != Action::Delete {
            prop_assert_eq!(label.as_ref(), Some(&c.label), "label of `{}`", id);
        }
    }
    if !users_sent {
        for u in out.users.values_mut() {
            for list in orgform_model::AccessList::ALL {
                u.list_mut(list).retain(|g| !deleted_groups.contains(g));
            }
        }
    }
    Ok(out)
}

fn check_soundness(
    old: &EffectiveOrg,
    spec: &orgform_spec::ValidatedSpec,
    plan: &Plan,
) -> Result<(), TestCaseError> {
    let org = spec.org();
    let after = plan.effective_after();

    let (reference, users, groups) = reference::reference_apply(old, org);
    prop_assert_eq!(
        &reference.groups,
        &after.groups,
        "groups after: reference vs planner"
    );
    prop_assert_eq!(
        &reference.users,
        &after.users,
        "users after: reference vs planner"
    );
    prop_assert_eq!(&reference.protected, &after.protected, "protected after");
    let s = plan.summary();
    for (kind, counts, got) in [("users", users, s.users), ("groups", groups, s.groups)] {
        prop_assert_eq!(
            (
                counts.created,
                counts.updated,
                counts.deleted,
                counts.unchanged
            ),
            (got.create, got.update, got.delete, got.unchanged),
            "{} counts (create, update, delete, unchanged): reference vs planner",
            kind
        );
    }

    let patched = patch(old, plan, org.users.is_some())?;
    prop_assert_eq!(
        &patched.groups,
        &after.groups,
        "groups: old state + plan changes vs effective_after"
    );
    prop_assert_eq!(
        &patched.users,
        &after.users,
        "users: old state + plan changes vs effective_after"
    );

    // One change per record, and the counts are the changes.
    let mut seen = BTreeSet::new();
    for c in plan.changes() {
        prop_assert!(
            seen.insert((c.kind, c.external_id.clone())),
            "two changes for {} `{}`",
            c.kind,
            c.external_id
        );
    }
    let n = |kind: Kind, action: Action| {
        plan.changes()
            .iter()
            .filter(|c| c.kind == kind && c.action == action)
            .count()
    };
    prop_assert_eq!(
        (s.users.create, s.users.update, s.users.delete),
        (
            n(Kind::User, Action::Create),
            n(Kind::User, Action::Update),
            n(Kind::User, Action::Delete)
        )
    );
    prop_assert_eq!(
        (s.groups.create, s.groups.update, s.groups.delete),
        (
            n(Kind::Group, Action::Create),
            n(Kind::Group, Action::Update),
            n(Kind::Group, Action::Delete)
        )
    );
    // The deletion limits sent are the planned deletions.
    let limits = plan.request_limits();
    prop_assert_eq!(limits.max_users_deleted as usize, s.users.delete);
    prop_assert_eq!(limits.max_groups_deleted as usize, s.groups.delete);
    Ok(())
}

// ---------------------------------------------------------------------------
// 2. Idempotence.

fn check_idempotence(
    _old: &EffectiveOrg,
    spec: &orgform_spec::ValidatedSpec,
    plan: &Plan,
) -> Result<(), TestCaseError> {
    // A request the server refuses leaves no state to plan against: its
    // `effective_after` is what the plan asked for, not what a server holds.
    if refused_by_server(plan) {
        return Ok(());
    }
    let after = plan.effective_after();
    let base = Base {
        lineage: Some("lineage"),
        serial: 99,
        org: after,
    };
    let again = orgform_plan::plan(spec, base, &PlanOptions::default());
    prop_assert!(
        !again.has_changes(),
        "planning the same spec against its own result changes {:?}",
        again
            .changes()
            .iter()
            .map(|c| format!("{} {} {}", c.action, c.kind, c.external_id))
            .collect::<Vec<_>>()
    );
    prop_assert_eq!(
        again.effective_after(),
        after,
        "a second plan moves the state"
    );
    let s = again.summary();
    prop_assert_eq!((s.users.create, s.users.update, s.users.delete), (0, 0, 0));
    prop_assert_eq!(
        (s.groups.create, s.groups.update, s.groups.delete),
        (0, 0, 0)
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// 3. Order.

/// The step of the apply order a change belongs to.
fn step(c: &Change) -> u8 {
    match (c.kind, c.action) {
        (Kind::Group, Action::Create | Action::Update) => 0,
        (Kind::User, Action::Create) => 1,
        (Kind::User, Action::Update) => 2,
        (Kind::User, Action::Delete) => 3,
        (Kind::Group, Action::Delete) => 4,
    }
}

/// The proper ancestors of `id` in `groups` (bounded, should there be a
/// cycle).
fn ancestors<'a>(groups: &'a BTreeMap<String, EffGroup>, id: &str) -> BTreeSet<&'a str> {
    let mut out = BTreeSet::new();
    let mut at = groups.get(id).and_then(|g| g.parent.as_deref());
    while let Some(p) = at {
        let Some((key, g)) = groups.get_key_value(p) else {
            break;
        };
        if !out.insert(key.as_str()) {
            break;
        }
        at = g.parent.as_deref();
    }
    out
}

/// The expected order of `ids`: repeatedly, the smallest externalId among
/// those with no remaining one that must go first (`first(a, b)`: a goes
/// before b).
fn expected_order(ids: &[String], first: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let mut rest: BTreeSet<String> = ids.iter().cloned().collect();
    let mut out = Vec::new();
    while let Some(next) = rest
        .iter()
        .find(|x| !rest.iter().any(|y| y != *x && first(y, x)))
        .cloned()
    {
        rest.remove(&next);
        out.push(next);
    }
    out.extend(rest); // only on a cycle
    out
}

fn check_order(
    old: &EffectiveOrg,
    _spec: &orgform_spec::ValidatedSpec,
    plan: &Plan,
) -> Result<(), TestCaseError> {
    let changes = plan.changes();
    let steps: Vec<u8> = changes.iter().map(step).collect();
    prop_assert!(
        steps.windows(2).all(|w| w[0] <= w[1]),
        "steps out of order: {:?}",
        steps
    );
    let ids = |s: u8| -> Vec<String> {
        changes
            .iter()
            .filter(|c| step(c) == s)
            .map(|c| c.external_id.clone())
            .collect()
    };
    for s in 1..=3 {
        let got = ids(s);
        let mut sorted = got.clone();
        sorted.sort();
        prop_assert_eq!(got, sorted, "user step {} not by externalId", s);
    }
    let cycle = plan
        .blocked_reasons()
        .iter()
        .any(|r| r.code == BlockedCode::HierarchyCycle);
    if cycle {
        return Ok(());
    }
    let after = &plan.effective_after().groups;
    let upserts = ids(0);
    for (i, id) in upserts.iter().enumerate() {
        let up = ancestors(after, id);
        for later in &upserts[i + 1..] {
            prop_assert!(
                !up.contains(later.as_str()),
                "group `{}` is changed before its ancestor `{}`",
                id,
                later
            );
        }
    }
    let expected = expected_order(&upserts, |a, b| ancestors(after, b).contains(a));
    prop_assert_eq!(
        &upserts,
        &expected,
        "group creates/updates: ties by externalId"
    );

    let before = &old.groups;
    let deletes = ids(4);
    for (i, id) in deletes.iter().enumerate() {
        for later in &deletes[i + 1..] {
            prop_assert!(
                !ancestors(before, later).contains(id.as_str()),
                "group `{}` is deleted before its descendant `{}`",
                id,
                later
            );
        }
    }
    let expected = expected_order(&deletes, |a, b| ancestors(before, a).contains(b));
    prop_assert_eq!(&deletes, &expected, "group deletes: ties by externalId");
    Ok(())
}

// ---------------------------------------------------------------------------
// 4. Determinism and the JSON document.

fn check_document(
    old: &EffectiveOrg,
    spec: &orgform_spec::ValidatedSpec,
    plan: &Plan,
) -> Result<(), TestCaseError> {
    let base = Base {
        lineage: plan.base().lineage.as_deref(),
        serial: plan.base().serial,
        org: old,
    };
    let again = orgform_plan::plan(spec, base, &PlanOptions::default());
    prop_assert_eq!(&again, plan, "the same input gave another plan");
    let json = serde_json::to_string(plan.doc()).expect("serialize the plan");
    let back: PlanDoc =
        serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
    prop_assert_eq!(&back, plan.doc());
    prop_assert_eq!(back.digest(), plan.digest());
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn plans_are_sound(draws in orgs::org_sequence(3)) {
        walk(&draws, check_soundness)?;
    }

    #[test]
    fn plans_are_idempotent(draws in orgs::org_sequence(3)) {
        walk(&draws, check_idempotence)?;
    }

    #[test]
    fn changes_are_in_apply_order(draws in orgs::org_sequence(3)) {
        walk(&draws, check_order)?;
    }

    #[test]
    fn plans_are_deterministic_and_their_json_reads_back(draws in orgs::org_sequence(2)) {
        walk(&draws, check_document)?;
    }
}

/// The reference order on a fixed tree, so the helper itself is tested:
/// `m` is unchanged, so its child `b` is ready at once and goes before `c`.
#[test]
fn expected_order_breaks_ties_by_external_id_among_ready_changes() {
    let parents = [
        ("a", None),
        ("b", Some("m")),
        ("c", None),
        ("d", Some("a")),
        ("m", None),
    ];
    let groups: BTreeMap<String, EffGroup> = parents
        .iter()
        .map(|(id, p)| {
            let mut g = EffGroup::new(id, id);
            g.parent = p.map(str::to_owned);
            ((*id).to_owned(), g)
        })
        .collect();
    let ids: Vec<String> = ["d", "c", "b", "a"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let order = expected_order(&ids, |a, b| ancestors(&groups, b).contains(a));
    assert_eq!(order, ["a", "b", "c", "d"]);
    let order = expected_order(&ids, |a, b| ancestors(&groups, a).contains(b));
    assert_eq!(order, ["b", "c", "d", "a"]);
}
