//! What each fuzz target checks on one input. A check passes by returning
//! and fails by panicking (libFuzzer then saves the input). Shared with
//! the workspace regression test by `#[path]`: std and the orgform crates
//! only, no fuzzing library.
//!
//! - [`spec_file`], [`spec_dir`]: any bytes as a spec file, or as a
//!   directory of two files. Loading must not panic and must end: either
//!   located diagnostics with at least one error, or a spec that
//!   `validate_org` accepts again with the same digest, that the planner
//!   plans and every renderer draws.
//! - [`plan`]: bytes decoded into a state that may be hostile (a file
//!   edited by hand: cycles, dangling references, duplicate emails, a
//!   manual group managed) and a spec made valid against it. The plan must
//!   be deterministic, render in every format, read back from its JSON,
//!   equal the reference semantics (`reference.rs` of orgform-plan's
//!   tests), count exactly its changes, and, when the server would accept
//!   it, be idempotent.
#![allow(dead_code)] // the regression test uses all of it, a target a part

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use orgform_model::{
    AccessList, DesiredGroup, DesiredOrg, DesiredUser, EffGroup, EffUser, EffectiveOrg, Kind,
    LimitName, ParentRef, Role,
};
use orgform_plan::{Action, Base, BlockedCode, Plan, PlanDoc, PlanOptions};
use orgform_spec::{Diagnostics, LoadOptions, ValidatedSpec};

#[path = "../../crates/orgform-plan/tests/support/reference.rs"]
mod reference;

/// One spec file.
pub fn spec_file(dir: &Path, data: &[u8]) {
    let path = dir.join("spec.yaml");
    std::fs::write(&path, data).expect("write the input");
    loaded(orgform_spec::load(&path, &LoadOptions::default()));
}

/// A directory of two files, `a.yaml` and `b.yml`: the first two bytes
/// (little-endian) are the length of the first, the rest goes to the second.
pub fn spec_dir(dir: &Path, data: &[u8]) {
    let (len, rest) = match data {
        [lo, hi, rest @ ..] => (usize::from(u16::from_le_bytes([*lo, *hi])), rest),
        _ => (0, &data[..0]),
    };
    let (first, second) = rest.split_at(len.min(rest.len()));
    let spec = dir.join("spec.d");
    std::fs::create_dir_all(&spec).expect("create the input directory");
    std::fs::write(spec.join("a.yaml"), first).expect("write the input");
    std::fs::write(spec.join("b.yml"), second).expect("write the input");
    loaded(orgform_spec::load(&spec, &LoadOptions::default()));
}

fn loaded(result: Result<ValidatedSpec, Diagnostics>) {
    match result {
        Ok(spec) => {
            let warnings = spec.warnings();
            assert!(
                !warnings.has_errors(),
                "a valid spec with errors:\n{}",
                warnings.render(false)
            );
            let _ = warnings.render(true);
            let _ = warnings.to_json();
            let again = orgform_spec::validate_org(spec.org().clone()).unwrap_or_else(|d| {
                panic!("a loaded spec fails validate_org:\n{}", d.render(false))
            });
            assert_eq!(again.org(), spec.org(), "validate_org changes a loaded org");
            assert_eq!(
                again.digest(),
                spec.digest(),
                "validate_org changes the digest"
            );
            let empty = EffectiveOrg::default();
            let plan = orgform_plan::plan(&spec, Base::empty(), &PlanOptions::default());
            outputs(&plan, &empty);
        }
        Err(diags) => {
            assert!(
                diags.has_errors(),
                "refused without an error:\n{}",
                diags.render(false)
            );
            let _ = diags.render(false);
            let _ = diags.render(true);
            let _ = diags.to_json();
        }
    }
}

/// Every output of a plan, and its JSON read back.
fn outputs(plan: &Plan, before: &EffectiveOrg) {
    use orgform_plan::{markdown, render, review::Review};
    let _ = render::text(plan, &render::TextOptions { color: false });
    let _ = render::text(plan, &render::TextOptions { color: true });
    let json = render::json(plan);
    let _: serde_json::Value = serde_json::from_str(&json).expect("the JSON plan is JSON");
    let review = Review::of_plan(plan, before);
    let _ = markdown::render(&review, &markdown::MarkdownOptions::default());
    let _ = markdown::render(&review.redacted(), &markdown::MarkdownOptions::default());
    let compact = serde_json::to_string(plan.doc()).expect("serialize the plan");
    let back: PlanDoc = serde_json::from_str(&compact).expect("read the plan back");
    assert_eq!(
        &back,
        plan.doc(),
        "the JSON plan does not read back to itself"
    );
    assert_eq!(back.digest(), plan.digest());
}

// ---------------------------------------------------------------------------
// The plan target: bytes -> (state, spec).

/// Reads small numbers from the input; past its end, zeros.
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// True one time in `n`.
    fn one_in(&mut self, n: u8) -> bool {
        self.byte().is_multiple_of(n)
    }

    /// `Some` two times out of three.
    fn some(&mut self) -> bool {
        !self.one_in(3)
    }

    fn pick<'p>(&mut self, pool: &[&'p str]) -> &'p str {
        pool[self.below(pool.len())]
    }
}

const MANAGED: [&str; 6] = ["g0", "g1", "g2", "g3", "g4", "g5"];
const EXTERNAL: [&str; 2] = ["x0", "x1"];
/// Every group id a hostile state may name: managed, external, unknown.
const ANY_GROUP: [&str; 9] = ["g0", "g1", "g2", "g3", "g4", "g5", "x0", "x1", "zz"];
const USERS: [&str; 6] = ["u0", "u1", "u2", "u3", "u4", "u5"];
const NAMES: [&str; 6] = [
    "Ann",
    "Bob",
    "sales",
    "Sälj & Co",
    "a\u{202e}b",
    "<b>|*x*|</b>",
];
const EMAILS: [&str; 6] = [
    "ann@example.com",
    "ANN@example.com",
    "bob@example.com",
    "cat@example.com",
    "dan@example.co",
    "eve@example.org",
];
const PHONES: [&str; 4] = ["+46701234501", "+46701234502", "+461234567", "+12025550123"];
const ZONES: [&str; 3] = ["Europe/Stockholm", "UTC", "Asia/Kolkata"];
const LANGUAGES: [&str; 3] = ["sv", "en", "no"];
const KEYS: [&str; 3] = ["city", "gender", "team"];
const VALUES: [&str; 3] = ["a", "Not-specified", "ä"];

/// A state as a hand-edited file may hold it: any parent (itself, a cycle,
/// an unknown group), duplicate emails and phones, lists naming anything,
/// protections of records that do not exist.
fn state(b: &mut Bytes<'_>) -> EffectiveOrg {
    let mut org = EffectiveOrg::default();
    for _ in 0..b.below(7) {
        let id = b.pick(&ANY_GROUP[..7]);
        let mut g = EffGroup::new(id, b.pick(&NAMES));
        g.description = b.bool().then(|| b.pick(&NAMES).to_owned());
        g.parent = b.some().then(|| b.pick(&ANY_GROUP).to_owned());
        org.groups.insert(id.to_owned(), g);
    }
    for _ in 0..b.below(7) {
        let id = b.pick(&USERS);
        let mut u = EffUser::new(id, b.pick(&NAMES), b.pick(&NAMES), b.pick(&EMAILS));
        u.phone = b.bool().then(|| b.pick(&PHONES).to_owned());
        u.active = !b.one_in(4);
        u.timezone = b.bool().then(|| b.pick(&ZONES).to_owned());
        u.language = b.bool().then(|| b.pick(&LANGUAGES).to_owned());
        for list in AccessList::ALL {
            for _ in 0..b.below(3) {
                u.list_mut(list).insert(b.pick(&ANY_GROUP).to_owned());
            }
        }
        u.role = Role::ALL[b.below(3)];
        for _ in 0..b.below(3) {
            u.external_properties
                .insert(b.pick(&KEYS).to_owned(), b.pick(&VALUES).to_owned());
        }
        org.users.insert(id.to_owned(), u);
    }
    for _ in 0..b.below(3) {
        org.protected.users.insert(b.pick(&USERS).to_owned());
    }
    for _ in 0..b.below(3) {
        org.protected.groups.insert(b.pick(&ANY_GROUP).to_owned());
    }
    org
}

/// A spec made valid against `old`: references only to known groups, no
/// cycle among the spec's own parents, unique ids, emails and phones.
fn desired(b: &mut Bytes<'_>, old: &EffectiveOrg) -> DesiredOrg {
    let mut org = DesiredOrg::default();
    org.settings.force_set_language = b.one_in(4);
    if b.one_in(5) {
        let which = LimitName::ALL[b.below(6)];
        org.settings.limits.set(which, u32::from(b.byte() % 4));
    }
    if b.one_in(4) {
        org.safety.min_population = Some(u32::from(b.byte() % 4));
        org.safety.max_user_deletion_percent = Some(u32::from(b.byte() % 101));
        org.safety.max_group_deletion_percent = Some(u32::from(b.byte() % 101));
        org.safety.max_membership_loss_percent = b.bool().then(|| u32::from(b.byte() % 101));
        org.safety.min_administrators = b.bool().then(|| u32::from(b.byte() % 3));
    }

    let groups_given = !b.one_in(5);
    let mut ids: Vec<&str> = Vec::new();
    if groups_given {
        for _ in 0..b.below(7) {
            let id = b.pick(&MANAGED);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let mut external: BTreeSet<String> = EXTERNAL.iter().map(|s| (*s).to_owned()).collect();
    for id in old.groups.keys() {
        if !ids.contains(&id.as_str()) && (!groups_given || b.one_in(6)) {
            external.insert(id.clone());
        }
    }
    let known = |g: &str| ids.contains(&g) || external.contains(g);
    if groups_given {
        let mut parents: BTreeMap<&str, ParentRef> = BTreeMap::new();
        let mut groups = Vec::new();
        for &id in &ids {
            let mut g = DesiredGroup::new(id, b.pick(&NAMES));
            g.description = match b.below(4) {
                0 => Some(String::new()),
                1 => Some(b.pick(&NAMES).to_owned()),
                _ => None,
            };
            let wanted = match b.below(6) {
                0 | 1 => ParentRef::Omitted,
                2 => ParentRef::Root,
                3 => {
                    // One of its children on the server: a cycle if kept.
                    let children: Vec<&String> = old
                        .groups
                        .iter()
                        .filter(|(_, s)| s.parent.as_deref() == Some(id))
                        .map(|(c, _)| c)
                        .collect();
                    match children.len() {
                        0 => ParentRef::Omitted,
                        n => ParentRef::Group(children[b.below(n)].clone()),
                    }
                }
                _ => ParentRef::Group(b.pick(&ANY_GROUP).to_owned()),
            };
            g.parent = match wanted {
                ParentRef::Group(p) => {
                    let mut at = Some(p.as_str());
                    let mut closes = false;
                    while let Some(a) = at {
                        if a == id {
                            closes = true;
                            break;
                        }
                        at = parents.get(a).and_then(ParentRef::group);
                    }
                    if known(&p) && !closes {
                        ParentRef::Group(p)
                    } else {
                        ParentRef::Omitted
                    }
                }
                other => other,
            };
            parents.insert(id, g.parent.clone());
            g.protected = match b.below(6) {
                0 => Some(true),
                1 => Some(false),
                _ => None,
            };
            groups.push(g);
        }
        org.groups = Some(groups);
    }

    if !b.one_in(5) {
        let mut seen = BTreeSet::new();
        let mut emails = BTreeSet::new();
        let mut phones = BTreeSet::new();
        let mut users = Vec::new();
        for _ in 0..b.below(7) {
            let id = b.pick(&USERS);
            if !seen.insert(id) {
                continue;
            }
            let mut email = b.pick(&EMAILS).to_owned();
            if !emails.insert(email.to_lowercase()) {
                email = format!("{id}@example.com");
                emails.insert(email.clone());
            }
            let mut u = DesiredUser::new(id, b.pick(&NAMES), b.pick(&NAMES), &email);
            u.phone = match b.below(4) {
                0 => Some(String::new()),
                1 => Some(b.pick(&PHONES).to_owned()).filter(|p| phones.insert(p.clone())),
                _ => None,
            };
            u.active = match b.below(3) {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            };
            u.timezone = b.bool().then(|| b.pick(&ZONES).to_owned());
            u.language = b.bool().then(|| b.pick(&LANGUAGES).to_owned());
            for list in AccessList::ALL {
                if !b.some() {
                    continue;
                }
                let mut set = BTreeSet::new();
                for _ in 0..b.below(4) {
                    let g = b.pick(&ANY_GROUP);
                    if known(g) {
                        set.insert(g.to_owned());
                    }
                }
                match list {
                    AccessList::MemberOf => u.access_info.member_of = Some(set),
                    AccessList::AdminOf => u.access_info.admin_of = Some(set),
                    AccessList::InheritedAdminOf => u.access_info.inherited_admin_of = Some(set),
                    AccessList::InterestOf => u.access_info.interest_of = Some(set),
                }
            }
            u.access_info.role = b.some().then(|| Role::ALL[b.below(3)]);
            for _ in 0..b.below(3) {
                u.external_properties
                    .insert(b.pick(&KEYS).to_owned(), b.pick(&VALUES).to_owned());
            }
            u.protected = match b.below(6) {
                0 => Some(true),
                1 => Some(false),
                _ => None,
            };
            users.push(u);
        }
        org.users = Some(users);
    }
    org.external_groups = external;
    org
}

/// Whether the server would refuse the request too.
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

/// Bytes into a state and a spec, planned.
pub fn plan(data: &[u8]) {
    let mut b = Bytes { data, at: 0 };
    let old = state(&mut b);
    let org = desired(&mut b, &old);
    let options = PlanOptions { force: b.bool() };
    let spec = match orgform_spec::validate_org(org) {
        Ok(spec) => spec,
        Err(d) => panic!("the decoder made an invalid spec:\n{}", d.render(false)),
    };
    let base = Base {
        lineage: Some("fuzz"),
        serial: 7,
        org: &old,
    };
    let plan = orgform_plan::plan(&spec, base, &options);
    outputs(&plan, &old);
    assert_eq!(
        orgform_plan::plan(&spec, base, &options),
        plan,
        "not deterministic"
    );

    let after = plan.effective_after();
    let (expected, users, groups) = reference::reference_apply(&old, spec.org());
    assert_eq!(
        expected.groups, after.groups,
        "groups: reference (left) vs planner (right)"
    );
    assert_eq!(
        expected.users, after.users,
        "users: reference (left) vs planner (right)"
    );
    assert_eq!(
        expected.protected, after.protected,
        "protected: reference (left) vs planner (right)"
    );
    let s = plan.summary();
    assert_eq!(
        (users.created, users.updated, users.deleted, users.unchanged),
        (
            s.users.create,
            s.users.update,
            s.users.delete,
            s.users.unchanged
        ),
        "user counts: reference (left) vs planner (right)"
    );
    assert_eq!(
        (
            groups.created,
            groups.updated,
            groups.deleted,
            groups.unchanged
        ),
        (
            s.groups.create,
            s.groups.update,
            s.groups.delete,
            s.groups.unchanged
        ),
        "group counts: reference (left) vs planner (right)"
    );
    let n = |kind: Kind, action: Action| {
        plan.changes()
            .iter()
            .filter(|c| c.kind == kind && c.action == action)
            .count()
    };
    assert_eq!(
        (s.users.create, s.users.update, s.users.delete),
        (
            n(Kind::User, Action::Create),
            n(Kind::User, Action::Update),
            n(Kind::User, Action::Delete)
        )
    );
    assert_eq!(
        (s.groups.create, s.groups.update, s.groups.delete),
        (
            n(Kind::Group, Action::Create),
            n(Kind::Group, Action::Update),
            n(Kind::Group, Action::Delete)
        )
    );

    if !refused_by_server(&plan) {
        let next = Base {
            lineage: Some("fuzz"),
            serial: 8,
            org: after,
        };
        let again = orgform_plan::plan(&spec, next, &options);
        assert!(
            !again.has_changes(),
            "not idempotent: {:?}",
            again
                .changes()
                .iter()
                .map(|c| format!("{} {} {}", c.action, c.kind, c.external_id))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            again.effective_after(),
            after,
            "a second plan moves the state"
        );
    }
}
