//! The wave planner (orgform-plan's `waves`, DESIGN section 7) checked by
//! the emulator's engine, not by the planner: random orgs (the generator of
//! `orgform-plan/tests/support/orgs.rs`) are applied to an in-process
//! [`Engine`], then a second random org is planned against what it holds
//! with a small per-request cap (1 to 4), and the waves are sent to an
//! engine that enforces that cap, exactly as `orgform apply` sends them
//! (`OrganizationRequest::from_desired(plan.wave_request(..),
//! plan.wave_limits(..))`, `validateOnly: true`, then `false`).
//!
//! Either the plan is blocked `wavesImpossible` with a set that really
//! exceeds the cap (or an administrators' floor that is really in play),
//! or every wave is within the cap, accepted on its own with exactly its
//! planned counts, leaves exactly `effective_after_wave`, keeps the
//! administrators at or above the floor; the waves add up to the plan and
//! the last one leaves `effective_after`. The small pools of the generator
//! make email and phone swaps and rotations, promotions and demotions, and
//! group deletions whose members omit `memberOf` frequent; the named tests
//! below pin one of each.

#[path = "support/account.rs"]
mod account;
#[path = "../../orgform-plan/tests/support/orgs.rs"]
mod orgs;

use std::collections::{BTreeMap, BTreeSet};

use orgform_frankly::wire::OrganizationRequest;
use orgform_model::{
    DesiredGroup, DesiredOrg, DesiredUser, EffectiveOrg, Kind, LimitName, ParentRef, Role,
};
use orgform_plan::{Action, Base, BlockedCode, Plan, PlanOptions};
use orgform_sim::{Engine, Fixture};
use orgform_spec::ValidatedSpec;
use proptest::prelude::*;

/// The six counts of a wave or a plan summary, in one order: users
/// created, updated, deleted, then groups.
macro_rules! six {
    ($c:expr) => {{
        let c = $c;
        [
            c.users.create,
            c.users.update,
            c.users.delete,
            c.groups.create,
            c.groups.update,
            c.groups.delete,
        ]
    }};
}

/// Whether `plan` is blocked for `code`.
fn blocked_by(plan: &Plan, code: BlockedCode) -> bool {
    plan.blocked_reasons().iter().any(|r| r.code == code)
}

/// `org` with a per-request cap of `cap` and every limit out of the way,
/// validated; `None` when it is not a valid spec.
fn capped(mut org: DesiredOrg, cap: u32) -> Option<ValidatedSpec> {
    org.target.max_per_request = Some(cap);
    for name in LimitName::ALL {
        org.settings.limits.set(name, 10_000);
    }
    orgform_spec::validate_org(org).ok()
}

/// The account: the generator's external groups exist as manual groups.
fn fixture() -> Fixture {
    account::with_manual_groups(&orgs::EXTERNAL_IDS)
}

/// Blocked reasons the server would refuse too: such a plan is not sent.
fn server_refuses(plan: &Plan) -> bool {
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

fn admins(users: &BTreeMap<String, orgform_model::EffUser>) -> usize {
    users
        .values()
        .filter(|u| u.active && u.role == Role::Administrator)
        .count()
}

/// Sends one request; the engine's answer or its error codes.
fn send(
    engine: &mut Engine,
    org: &DesiredOrg,
    plan: &Plan,
    wave: usize,
    validate_only: bool,
) -> Result<orgform_frankly::wire::OrganizationResponse, String> {
    let request = OrganizationRequest::from_desired(org, plan.wave_limits(wave), validate_only);
    let body = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
    engine.post(&body).map_err(|errors| {
        errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// Applies every wave of `plan` to `engine`, checking each against the
/// plan; `Err` says what disagreed.
fn apply_waves(
    engine: &mut Engine,
    spec: &ValidatedSpec,
    plan: &Plan,
    floor: usize,
) -> Result<(), String> {
    let cap = plan.max_per_request() as usize;
    let mut total = [0usize; 6];
    for (k, wave) in plan.waves().iter().enumerate() {
        for kind in [Kind::User, Kind::Group] {
            let c = wave.of(kind);
            if c.create > cap || c.update > cap || c.delete > cap {
                return Err(format!("wave {} is over the cap {cap}: {wave:?}", k + 1));
            }
        }
        let org = plan.wave_request(spec, k);
        for validate_only in [true, false] {
            let r = send(engine, &org, plan, k, validate_only)
                .map_err(|e| format!("wave {} refused: {e}", k + 1))?;
            let got = [
                r.users.created,
                r.users.updated,
                r.users.deleted,
                r.groups.created,
                r.groups.updated,
                r.groups.deleted,
            ];
            let want = six!(wave);
            if got.iter().zip(want).any(|(g, w)| *g != w as u64) {
                return Err(format!(
                    "wave {} counts: the server reports {got:?}, the plan {want:?}",
                    k + 1
                ));
            }
        }
        let expected = plan.effective_after_wave(k);
        if engine.users() != &expected.users || engine.groups() != &expected.groups {
            return Err(format!(
                "after wave {} the server holds {:?} / {:?}, the plan says {:?} / {:?}",
                k + 1,
                engine.users(),
                engine.groups(),
                expected.users,
                expected.groups
            ));
        }
        if admins(engine.users()) < floor {
            return Err(format!(
                "after wave {} only {} administrators, below {floor}",
                k + 1,
                admins(engine.users())
            ));
        }
        for (s, n) in total.iter_mut().zip(six!(wave)) {
            *s += n;
        }
    }
    let summary = six!(plan.summary());
    if total != summary {
        return Err(format!(
            "the waves add up to {total:?}, the plan to {summary:?}"
        ));
    }
    let last = plan.effective_after();
    if engine.users() != &last.users || engine.groups() != &last.groups {
        return Err("after the last wave the server does not hold effective_after".into());
    }
    if let Some(k) = plan.waves().len().checked_sub(1)
        && plan.effective_after_wave(k) != *last
    {
        return Err("effective_after_wave(last) differs from effective_after".into());
    }
    Ok(())
}

/// Whether a `wavesImpossible` reason names a set that really exceeds the
/// cap (counted from the plan's changes), or a floor that is in play.
fn really_impossible(plan: &Plan, floor: usize) -> Result<(), String> {
    let cap = plan.max_per_request() as usize;
    for r in plan.blocked_reasons() {
        if r.code != BlockedCode::WavesImpossible {
            continue;
        }
        let ids: BTreeSet<&str> = r.external_ids.iter().map(String::as_str).collect();
        let mut counts: BTreeMap<(Kind, Action), usize> = BTreeMap::new();
        for c in plan.changes() {
            if ids.contains(c.external_id.as_str()) {
                *counts.entry((c.kind, c.action)).or_default() += 1;
            }
        }
        let over = counts.values().any(|n| *n > cap);
        if !over && floor == 0 {
            return Err(format!(
                "wavesImpossible names {ids:?} ({counts:?}), within the cap {cap}, with no \
                 administrators' floor"
            ));
        }
    }
    Ok(())
}

/// Plans `next` against what `engine` holds (`protected` from the plan
/// that led there) with cap `cap`, and applies it in waves.
fn plan_and_apply(
    engine: &mut Engine,
    protected: &orgform_model::Protected,
    mut next: DesiredOrg,
    cap: u32,
    min_admins: Option<u32>,
) -> Result<Option<Plan>, String> {
    next.safety.min_administrators = min_admins;
    let Some(spec) = capped(next, cap) else {
        return Ok(None);
    };
    let state = EffectiveOrg {
        users: engine.users().clone(),
        groups: engine.groups().clone(),
        protected: protected.clone(),
    };
    let before = admins(&state.users);
    let floor = (min_admins.unwrap_or(0) as usize).min(before);
    let base = Base {
        lineage: Some("waves-test"),
        serial: 1,
        org: &state,
    };
    let plan = orgform_plan::plan(&spec, base, &PlanOptions { force: true });
    if server_refuses(&plan) {
        return Ok(None);
    }
    if blocked_by(&plan, BlockedCode::WavesImpossible) {
        really_impossible(&plan, floor)?;
        return Ok(Some(plan));
    }
    // A plan that itself ends below the minimum is blocked by
    // `minAdministrators` and never applied: its waves need not keep a floor
    // the whole plan does not keep (they are still checked for the rest).
    let floor = if blocked_by(&plan, BlockedCode::MinAdministrators) {
        0
    } else {
        floor
    };
    apply_waves(engine, &spec, &plan, floor)?;
    Ok(Some(plan))
}

/// Loads `org` into an empty `engine` in waves of `cap`; `Err` when the
/// waves disagree with the engine, `Ok(None)` when it is not a plan the
/// server accepts (or cannot go in waves).
fn setup(
    engine: &mut Engine,
    org: DesiredOrg,
    cap: u32,
) -> Result<Option<orgform_model::Protected>, String> {
    let Some(spec) = capped(org, cap) else {
        return Ok(None);
    };
    let plan = orgform_plan::plan(&spec, Base::empty(), &PlanOptions { force: true });
    if server_refuses(&plan) {
        return Ok(None);
    }
    if blocked_by(&plan, BlockedCode::WavesImpossible) {
        really_impossible(&plan, 0)?;
        return Ok(None);
    }
    apply_waves(engine, &spec, &plan, 0)?;
    Ok(Some(plan.effective_after().protected.clone()))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn waves_are_valid_on_the_emulator_and_add_up_to_the_plan(
        first in orgs::org_gen(),
        second in orgs::org_gen(),
        cap in 1u32..=4,
        min_admins in proptest::option::of(0u32..3),
    ) {
        let mut engine = Engine::new(fixture(), cap);
        let loaded = setup(&mut engine, first.build(&BTreeMap::new()), cap);
        prop_assert!(loaded.is_ok(), "loading: {}", loaded.err().unwrap_or_default());
        let Ok(Some(protected)) = loaded else {
            return Ok(());
        };
        let next = second.build(engine.groups());
        let result = plan_and_apply(&mut engine, &protected, next, cap, min_admins);
        prop_assert!(result.is_ok(), "{}", result.err().unwrap_or_default());
    }
}

fn user(id: &str, email: &str) -> DesiredUser {
    DesiredUser::new(id, "Ada", id, email)
}

fn org(groups: Option<Vec<DesiredGroup>>, users: Vec<DesiredUser>) -> DesiredOrg {
    DesiredOrg {
        groups,
        users: Some(users),
        external_groups: orgs::EXTERNAL_IDS.iter().map(|s| (*s).to_owned()).collect(),
        ..DesiredOrg::default()
    }
}

/// Loads `before` and then plans and applies `after`, both in waves of
/// `cap` checked by the engine; the second plan.
fn two_steps(before: DesiredOrg, after: DesiredOrg, cap: u32, min_admins: Option<u32>) -> Plan {
    let mut engine = Engine::new(fixture(), cap);
    let protected = setup(&mut engine, before, cap)
        .expect("the first org's waves agree with the emulator")
        .expect("the first org is accepted");
    plan_and_apply(&mut engine, &protected, after, cap, min_admins)
        .expect("the waves agree with the emulator")
        .expect("a plan the server accepts")
}

#[test]
fn an_email_swap_shares_a_wave_and_is_impossible_below_its_size() {
    let before = org(
        None,
        vec![user("a", "a@example.com"), user("b", "b@example.com")],
    );
    let after = org(
        None,
        vec![user("a", "B@example.com"), user("b", "a@example.com")],
    );
    let plan = two_steps(before.clone(), after.clone(), 2, None);
    assert_eq!(plan.waves().len(), 1);
    assert!(!plan.is_blocked());

    let plan = two_steps(before, after, 1, None);
    let reason = plan
        .blocked_reasons()
        .iter()
        .find(|r| r.code == BlockedCode::WavesImpossible)
        .expect("wavesImpossible");
    assert_eq!(reason.external_ids, ["a", "b"]);
    assert!(reason.message.contains("interim"), "{}", reason.message);
}

#[test]
fn a_phone_rotation_of_three_needs_one_request() {
    let with_phone = |id: &str, phone: &str| DesiredUser {
        phone: Some(phone.to_owned()),
        ..user(id, &format!("{id}@example.com"))
    };
    let before = org(
        None,
        vec![
            with_phone("a", "+46701234501"),
            with_phone("b", "+46701234502"),
            with_phone("c", "+46701234503"),
        ],
    );
    let after = org(
        None,
        vec![
            with_phone("a", "+46701234502"),
            with_phone("b", "+46701234503"),
            with_phone("c", "+46701234501"),
        ],
    );
    let plan = two_steps(before.clone(), after.clone(), 3, None);
    assert_eq!(plan.waves().len(), 1);
    let plan = two_steps(before, after, 2, None);
    assert!(
        plan.blocked_reasons()
            .iter()
            .any(|r| r.code == BlockedCode::WavesImpossible && r.external_ids == ["a", "b", "c"])
    );
}

#[test]
fn an_email_handed_from_a_leaver_to_a_joiner_waits_for_the_deletion() {
    let mut users: Vec<DesiredUser> = (0..3)
        .map(|i| user(&format!("k{i}"), &format!("k{i}@example.com")))
        .collect();
    users.push(user("leaver", "desk@example.com"));
    let before = org(None, users.clone());
    users.pop();
    users.push(user("joiner", "Desk@Example.com"));
    users.push(user("new1", "n1@example.com"));
    users.push(user("new2", "n2@example.com"));
    let after = org(None, users);
    let plan = two_steps(before, after, 1, None);
    assert!(!plan.is_blocked(), "{:?}", plan.blocked_reasons());
    let wave_of = |id: &str| {
        plan.changes()
            .iter()
            .find(|c| c.external_id == id)
            .map(|c| c.wave)
    };
    assert_eq!(wave_of("joiner"), wave_of("leaver"));
    assert_eq!(plan.waves().len(), 3);
}

#[test]
fn an_admin_hand_over_promotes_before_it_demotes() {
    let admin = |id: &str, role: Role| DesiredUser {
        access_info: orgform_model::DesiredAccess {
            role: Some(role),
            ..Default::default()
        },
        ..user(id, &format!("{id}@example.com"))
    };
    let before = org(
        None,
        vec![admin("a", Role::Administrator), admin("b", Role::User)],
    );
    let after = org(
        None,
        vec![admin("a", Role::User), admin("b", Role::Administrator)],
    );
    let plan = two_steps(before.clone(), after.clone(), 1, Some(1));
    assert!(!plan.is_blocked(), "{:?}", plan.blocked_reasons());
    let order: Vec<(&str, u32)> = plan
        .changes()
        .iter()
        .map(|c| (c.external_id.as_str(), c.wave))
        .collect();
    assert_eq!(order, [("b", 1), ("a", 2)]);
    // Without a floor the plain plan order fills the one wave a kind.
    let plan = two_steps(before, after, 1, None);
    let order: Vec<(&str, u32)> = plan
        .changes()
        .iter()
        .map(|c| (c.external_id.as_str(), c.wave))
        .collect();
    assert_eq!(order, [("a", 1), ("b", 2)]);
}

#[test]
fn members_with_omitted_lists_move_off_a_group_before_it_is_deleted() {
    let group = |id: &str| DesiredGroup {
        parent: ParentRef::Root,
        ..DesiredGroup::new(id, id)
    };
    let member = |id: &str| DesiredUser {
        access_info: orgform_model::DesiredAccess {
            member_of: Some(BTreeSet::from(["old".to_owned(), "x0".to_owned()])),
            ..Default::default()
        },
        ..user(id, &format!("{id}@example.com"))
    };
    let before = org(
        Some(vec![group("old"), group("keep")]),
        vec![member("m1"), member("m2"), member("m3")],
    );
    let omitted = |id: &str| user(id, &format!("{id}@example.com"));
    let after = org(
        Some(vec![group("keep")]),
        vec![omitted("m1"), omitted("m2"), omitted("m3")],
    );
    let plan = two_steps(before, after, 1, None);
    assert!(!plan.is_blocked(), "{:?}", plan.blocked_reasons());
    assert_eq!(plan.waves().len(), 3);
    let last = plan.changes().last().expect("changes");
    assert_eq!(
        (last.external_id.as_str(), last.action),
        ("old", Action::Delete)
    );
    assert_eq!(plan.changes().iter().filter(|c| c.wave == 3).count(), 2);
}
