//! Planner tests, data-driven through one helper, [`check`]: a case is a
//! small YAML document (the base state, specs applied before, the spec,
//! options), the expectation is a named insta snapshot of the text plan
//! (plus, when asked, the effective records after it and the JSON plan).
//! Every case also passes [`invariants`]: determinism, JSON round trip,
//! counts, apply order, limits, colour, and idempotence.

use std::collections::BTreeSet;

use orgform_model::{DesiredOrg, EffGroup, EffUser, EffectiveOrg, Kind, LimitName, Settings};
use orgform_spec::ValidatedSpec;
use serde_json::Value;

use crate::render::{self, TextOptions};
use crate::*;

const LINEAGE: &str = "0b5e4d9c-lineage";

/// Plans one case and snapshots it as `name`. The case (YAML):
///
/// ```yaml
/// base: {users: [...], groups: [...], protected: {...}}  # effective records (optional)
/// before: <spec> | [<spec>, ...]  # applied first, in order, each must not be blocked
/// spec: <spec>                    # a DesiredOrg; `settings` may give only some keys
/// force: true                     # optional
/// show: [effective, json]         # optional extras in the snapshot
/// ```
fn check(name: &str, case: &str) -> Plan {
    let case: Value = serde_yaml::from_str(case).expect("the case is YAML");
    let (org, serial) = applied_befores(name, &case);
    let options = PlanOptions {
        force: case["force"].as_bool().unwrap_or(false),
    };
    let spec = validated(&case["spec"]);
    let base = Base {
        lineage: (serial > 0).then_some(LINEAGE),
        serial,
        org: &org,
    };
    let p = plan(&spec, base, &options);
    invariants(&spec, base, &options, &p);

    let mut out = render::text(&p, &TextOptions { color: false });
    for extra in case["show"].as_array().into_iter().flatten() {
        match extra.as_str() {
            Some("effective") => {
                out.push_str("\n--- effective after ---\n");
                out.push_str(&serde_json::to_string_pretty(p.effective_after()).unwrap());
                out.push('\n');
            }
            Some("json") => {
                out.push_str("\n--- json ---\n");
                out.push_str(&render::json(&p));
            }
            other => panic!("unknown `show` entry {other:?}"),
        }
    }
    snapshot(name, &out);
    p
}

/// The state a case's `base` and `before` specs leave, and its serial:
/// `base` is serial 1 when given, each `before` (which must not be
/// blocked) one more.
fn applied_befores(name: &str, case: &Value) -> (EffectiveOrg, u64) {
    let mut org = effective(&case["base"]);
    let mut serial = u64::from(!case["base"].is_null());
    let befores: Vec<Value> = match &case["before"] {
        Value::Null => Vec::new(),
        Value::Array(specs) => specs.clone(),
        one => vec![one.clone()],
    };
    for before in befores {
        let spec = validated(&before);
        let p = plan(
            &spec,
            Base {
                lineage: (serial > 0).then_some(LINEAGE),
                serial,
                org: &org,
            },
            &PlanOptions::default(),
        );
        assert!(
            !p.is_blocked(),
            "a `before` spec of `{name}` is blocked:\n{}",
            render::text(&p, &TextOptions::default())
        );
        org = p.effective_after().clone();
        serial += 1;
    }
    (org, serial)
}

fn snapshot(name: &str, text: &str) {
    orgform_testkit::assert_snapshot!("orgform-plan", name, text);
}

/// A spec from YAML: `settings` keys not given take the API's defaults.
fn validated(spec: &Value) -> ValidatedSpec {
    let mut spec = match spec {
        Value::Null => Value::Object(Default::default()),
        v => v.clone(),
    };
    let mut settings = serde_json::to_value(Settings::default()).unwrap();
    if let Some(Value::Object(given)) = spec.get("settings") {
        for (k, v) in given {
            settings[k] = v.clone();
        }
    }
    spec["settings"] = settings;
    let org: DesiredOrg = serde_json::from_value(spec).expect("the spec decodes");
    orgform_spec::validate_org(org)
        .unwrap_or_else(|d| panic!("the test spec is invalid:\n{}", d.render(false)))
}

/// Effective records from YAML lists (`active` defaults to true).
fn effective(base: &Value) -> EffectiveOrg {
    let mut org = EffectiveOrg::default();
    for u in base["users"].as_array().into_iter().flatten() {
        let mut u = u.clone();
        if u.get("active").is_none() {
            u["active"] = Value::Bool(true);
        }
        let u: EffUser = serde_json::from_value(u).expect("a base user decodes");
        org.users.insert(u.external_id.clone(), u);
    }
    for g in base["groups"].as_array().into_iter().flatten() {
        let g: EffGroup = serde_json::from_value(g.clone()).expect("a base group decodes");
        org.groups.insert(g.external_id.clone(), g);
    }
    if !base["protected"].is_null() {
        org.protected = serde_json::from_value(base["protected"].clone()).unwrap();
    }
    org
}

/// What every plan must satisfy, whatever the case.
fn invariants(spec: &ValidatedSpec, base: Base<'_>, options: &PlanOptions, p: &Plan) {
    // Deterministic: same input, same plan, same bytes.
    let again = plan(spec, base, options);
    assert_eq!(&again, p);
    assert_eq!(render::json(&again), render::json(p));
    assert_eq!(again.digest(), p.digest());

    // The JSON reads back unchanged (saved plans rely on it), and has no null
    // except `base.lineage`.
    let json = render::json(p);
    let doc: PlanDoc = serde_json::from_str(&json).unwrap();
    assert_eq!(&doc, p.doc());
    assert_eq!(render::json_doc(&doc), json);
    assert_eq!(doc.digest(), p.digest());
    let value: Value = serde_json::from_str(&json).unwrap();
    no_nulls(&value, "");
    assert_eq!(value["base"]["lineage"].as_str(), base.lineage);

    // Colour only adds ANSI sequences.
    let plain = render::text(p, &TextOptions { color: false });
    assert!(!plain.contains('\x1b'));
    assert_eq!(
        strip_ansi(&render::text(p, &TextOptions { color: true })),
        plain
    );

    // The summary counts what the changes are.
    for kind in [Kind::User, Kind::Group] {
        let n = |action| {
            p.changes()
                .iter()
                .filter(|c| c.kind == kind && c.action == action)
                .count()
        };
        let s = p.summary().of(kind);
        assert_eq!(
            (s.create, s.update, s.delete),
            (n(Action::Create), n(Action::Update), n(Action::Delete)),
            "{kind} counts"
        );
        let managed = match kind {
            Kind::User => spec.org().users.as_ref().map(Vec::len),
            Kind::Group => spec.org().groups.as_ref().map(Vec::len),
        };
        assert_eq!(
            s.create + s.update + s.unchanged,
            managed.unwrap_or(0),
            "{kind}: every record sent is counted once"
        );
    }
    for c in p.changes() {
        match c.action {
            Action::Create => {
                assert!(c.after.is_some() && c.before.is_none() && c.fields.is_empty())
            }
            Action::Update => {
                assert!(c.after.is_none() && c.before.is_none() && !c.fields.is_empty())
            }
            Action::Delete => {
                assert!(c.after.is_none() && c.before.is_some() && c.fields.is_empty())
            }
        }
    }

    // Apply order: group creates and updates, user creates, user updates,
    // user deletes, group deletes; parents first, then children first.
    let rank = |c: &Change| match (c.kind, c.action) {
        (Kind::Group, Action::Create | Action::Update) => 0,
        (Kind::User, Action::Create) => 1,
        (Kind::User, Action::Update) => 2,
        (Kind::User, Action::Delete) => 3,
        (Kind::Group, Action::Delete) => 4,
    };
    assert!(p.changes().windows(2).all(|w| rank(&w[0]) <= rank(&w[1])));
    for w in p.changes().windows(2) {
        if rank(&w[0]) == rank(&w[1]) && rank(&w[0]) != 0 && rank(&w[0]) != 4 {
            assert!(w[0].external_id < w[1].external_id, "ties by externalId");
        }
    }
    let position = |kind: Kind, action: fn(Action) -> bool, id: &str| {
        p.changes()
            .iter()
            .position(|c| c.kind == kind && action(c.action) && c.external_id == id)
    };
    let upsert = |a: Action| a != Action::Delete;
    let deletion = |a: Action| a == Action::Delete;
    if !p
        .blocked_reasons()
        .iter()
        .any(|r| r.code == BlockedCode::HierarchyCycle)
    {
        for (i, c) in p.changes().iter().enumerate() {
            if c.kind != Kind::Group {
                continue;
            }
            if upsert(c.action) {
                let parent = p.effective_after().groups[&c.external_id].parent.as_deref();
                if let Some(j) = parent.and_then(|g| position(Kind::Group, upsert, g)) {
                    assert!(
                        j < i,
                        "parent `{:?}` after child `{}`",
                        parent,
                        c.external_id
                    );
                }
            } else {
                for (child, g) in &base.org.groups {
                    if g.parent.as_deref() == Some(c.external_id.as_str())
                        && let Some(j) = position(Kind::Group, deletion, child)
                    {
                        assert!(j < i, "child `{child}` deleted after its parent");
                    }
                }
            }
        }
    }

    // Limits: all six, in order; deletion limits sent = planned deletions.
    let names: Vec<LimitName> = p.limits().iter().map(|l| l.name).collect();
    assert_eq!(names, LimitName::ALL);
    for l in p.limits() {
        assert_eq!(l.limit, spec.org().settings.limits.get(l.name));
        assert_eq!(l.ok, l.planned <= l.limit as usize);
    }
    let sent = p.request_limits();
    assert_eq!(sent.max_users_deleted as usize, p.summary().users.delete);
    assert_eq!(sent.max_groups_deleted as usize, p.summary().groups.delete);
    // Create and update limits: the spec's, capped at the per-request cap.
    assert_eq!(
        sent.max_users_created,
        spec.org()
            .settings
            .limits
            .max_users_created
            .min(spec.org().target.max_per_request())
    );
    // The waves add up to the plan, each within the cap.
    let cap = p.max_per_request() as usize;
    let mut sums = [0usize; 6];
    for w in p.waves() {
        for (sum, n) in sums.iter_mut().zip([
            w.users.create,
            w.users.update,
            w.users.delete,
            w.groups.create,
            w.groups.update,
            w.groups.delete,
        ]) {
            *sum += n;
            if !p
                .blocked_reasons()
                .iter()
                .any(|r| r.code == BlockedCode::WavesImpossible)
            {
                assert!(n <= cap, "a wave over the cap {cap}: {w:?}");
            }
        }
    }
    let s = p.summary();
    assert_eq!(
        sums,
        [
            s.users.create,
            s.users.update,
            s.users.delete,
            s.groups.create,
            s.groups.update,
            s.groups.delete
        ]
    );
    assert_eq!(p.waves().is_empty(), p.changes().is_empty());
    assert!(p.changes().windows(2).all(|w| w[0].wave <= w[1].wave));
    assert_eq!(p.is_blocked(), !p.blocked_reasons().is_empty());
    assert_eq!(p.has_changes(), !p.changes().is_empty());
    assert_eq!(p.spec_digest(), spec.digest());

    // Idempotence: the same spec against the state the plan leaves is empty.
    if !p.is_blocked() {
        let next = Base {
            lineage: Some(LINEAGE),
            serial: base.serial + 1,
            org: p.effective_after(),
        };
        let again = plan(spec, next, options);
        assert!(
            !again.has_changes(),
            "not idempotent:\n{}",
            render::text(&again, &TextOptions::default())
        );
        assert_eq!(again.effective_after(), p.effective_after());
        assert!(!again.is_blocked());
    }
}

fn no_nulls(v: &Value, path: &str) {
    match v {
        Value::Null => assert_eq!(path, ".base.lineage", "null at `{path}`"),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, x)| no_nulls(x, &format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .for_each(|(k, x)| no_nulls(x, &format!("{path}.{k}"))),
        _ => {}
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `n` users `U01`… as YAML flow mappings, one per line, indented for a list.
fn people(n: usize, extra: &str) -> String {
    (1..=n)
        .map(|i| {
            format!(
                "    - {{externalId: U{i:02}, firstName: First{i:02}, lastName: Last{i:02}, \
                 email: u{i:02}@example.com{extra}}}\n"
            )
        })
        .collect()
}

/// `n` root groups `G01`… as YAML flow mappings.
fn units(n: usize) -> String {
    (1..=n)
        .map(|i| format!("    - {{externalId: G{i:02}, name: Unit {i:02}}}\n"))
        .collect()
}

// ---------------------------------------------------------------- basics

#[test]
fn create_everything_from_an_empty_state() {
    let p = check(
        "create_from_empty",
        r#"
spec:
  externalGroups: ["0000689", "0000754"]
  groups:
    - {externalId: "0000898", name: Inside Sales, parent: "0000897"}
    - {externalId: "0000897", name: Sales Department, description: Everyone in Sales, parent: "0000689"}
  users:
    - externalId: E001084
      firstName: John
      lastName: Doe
      email: john.doe@example.com
      phone: "+461234567"
      active: true
      timezone: Europe/Stockholm
      language: sv
      accessInfo:
        memberOf: ["0000897"]
        adminOf: ["0000689"]
        inheritedAdminOf: ["0000689"]
        interestOf: ["0000754"]
        role: Manager
      externalProperties: {gender: Male}
    - {externalId: E2, firstName: Ada, lastName: Lovelace, email: ada@example.com}
show: [json]
"#,
    );
    assert_eq!(p.summary().users.create, 2);
    assert_eq!(p.summary().groups.create, 2);
    // Here the parent also has the smaller externalId, so this order cannot
    // tell "parents first" from "smallest first":
    // `a_parent_with_the_larger_id_is_created_first` can.
    assert_eq!(p.changes()[0].external_id, "0000897");
    let base = Base::empty();
    assert_eq!(base.serial, 0);
    assert!(base.org.users.is_empty() && base.lineage.is_none());
}

#[test]
fn a_parent_with_the_larger_id_is_created_first() {
    // By externalId alone `a-child` (and `b-root`) would come before
    // `z-parent`; parents first puts `z-parent` before its child, and ties
    // among ready groups go by externalId (`b-root` before `z-parent`).
    let p = check(
        "parent_with_larger_id",
        r#"
spec:
  groups:
    - {externalId: a-child, name: Child, parent: z-parent}
    - {externalId: b-root, name: Another root}
    - {externalId: z-parent, name: Parent}
"#,
    );
    let order: Vec<&str> = p.changes().iter().map(|c| c.external_id.as_str()).collect();
    assert_eq!(order, ["b-root", "z-parent", "a-child"]);
}

#[test]
fn the_api_references_example_renames_removes_and_adds() {
    // "send users A,B and C, and in the next update A,b and D: B is
    // renamed to b, C is removed and D is added, and similarly for groups".
    check(
        "api_reference_example",
        r#"
before:
  groups:
    - {externalId: GA, name: Group A}
    - {externalId: GB, name: Group B}
    - {externalId: GC, name: Group C}
  users:
    - {externalId: A, firstName: Alma, lastName: Andersson, email: alma@example.com, accessInfo: {memberOf: [GA]}}
    - {externalId: B, firstName: Bea, lastName: Berg, email: bea@example.com, accessInfo: {memberOf: [GB]}}
    - {externalId: C, firstName: Carl, lastName: Cedergren, email: carl@example.com, accessInfo: {memberOf: [GC]}}
spec:
  groups:
    - {externalId: GA, name: Group A}
    - {externalId: GB, name: Group b}
    - {externalId: GD, name: Group D}
  users:
    - {externalId: A, firstName: Alma, lastName: Andersson, email: alma@example.com, accessInfo: {memberOf: [GA]}}
    - {externalId: B, firstName: Beatrice, lastName: Berg, email: beatrice.berg@example.com, accessInfo: {memberOf: [GB]}}
    - {externalId: D, firstName: Dan, lastName: Dahl, email: dan@example.com, accessInfo: {memberOf: [GD]}}
"#,
    );
}

#[test]
fn an_unchanged_org_plans_no_changes() {
    let spec = r#"
  groups: [{externalId: G1, name: Unit}]
  users: [{externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, accessInfo: {memberOf: [G1], role: User}}]
"#;
    let p = check("no_changes", &format!("before:\n{spec}\nspec:\n{spec}"));
    assert!(!p.has_changes());
    assert_eq!(p.summary().users.unchanged, 1);
}

// ---------------------------------------------------- top-level keys

#[test]
fn an_omitted_users_key_manages_no_users_but_memberships_of_deleted_groups_vanish() {
    let p = check(
        "users_key_omitted",
        r#"
before:
  groups:
    - {externalId: G1, name: Kept}
    - {externalId: G2, name: Dropped}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, accessInfo: {memberOf: [G1, G2], adminOf: [G2]}}
    - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com, accessInfo: {memberOf: [G2]}}
    - {externalId: U3, firstName: Cy, lastName: Cole, email: cy@example.com, accessInfo: {memberOf: [G1]}}
spec:
  groups:
    - {externalId: G1, name: Kept}
show: [effective]
"#,
    );
    assert_eq!(p.summary().users, KindSummary::default());
    assert_eq!(p.effective_after().users.len(), 3);
    assert!(p.effective_after().users["U2"].member_of.is_empty());
}

#[test]
fn an_omitted_groups_key_manages_no_groups() {
    let p = check(
        "groups_key_omitted",
        r#"
before:
  groups:
    - {externalId: G1, name: One}
    - {externalId: G2, name: Two, parent: G1}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, accessInfo: {memberOf: [G2]}}
    - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com}
spec:
  users:
    - {externalId: U1, firstName: Anna, lastName: Archer, email: ann@example.com}
    - {externalId: U3, firstName: Cy, lastName: Cole, email: cy@example.com}
"#,
    );
    assert_eq!(p.summary().groups, KindSummary::default());
    assert_eq!(p.effective_after().groups.len(), 2);
    assert_eq!(p.summary().users.delete, 1);
}

#[test]
fn empty_lists_delete_every_managed_record() {
    let p = check(
        "empty_lists_delete_all",
        r#"
before:
  groups:
    - {externalId: G1, name: Parent}
    - {externalId: G2, name: Child, parent: G1}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, accessInfo: {memberOf: [G2]}}
    - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com}
spec:
  users: []
  groups: []
"#,
    );
    assert_eq!(p.summary().users.delete, 2);
    assert_eq!(p.summary().groups.delete, 2);
    assert!(p.effective_after().users.is_empty() && p.effective_after().groups.is_empty());
    // Children first.
    let order: Vec<&str> = p.changes().iter().map(|c| c.external_id.as_str()).collect();
    assert_eq!(order, ["U1", "U2", "G2", "G1"]);
    assert_eq!(p.request_limits().max_users_deleted, 2);
    assert_eq!(p.request_limits().max_groups_deleted, 2);
    assert_eq!(p.request_limits().max_users_created, 200);
}

// ---------------------------------------------------- field by field

#[test]
fn given_lists_keep_entries_of_groups_that_are_not_managed() {
    let p = check(
        "given_lists_keep_unmanaged",
        r#"
base:
  groups:
    - {externalId: G1, name: One}
    - {externalId: G2, name: Two}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com,
       memberOf: [G1, X], adminOf: [G1, X], interestOf: [G1, Y]}
spec:
  externalGroups: [X]
  groups:
    - {externalId: G1, name: One}
    - {externalId: G2, name: Two}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com,
       accessInfo: {memberOf: [G2], adminOf: [X], inheritedAdminOf: []}}
show: [effective]
"#,
    );
    let u = &p.effective_after().users["U1"];
    let set = |s: &[&str]| s.iter().map(|g| (*g).to_owned()).collect::<BTreeSet<_>>();
    assert_eq!(u.member_of, set(&["G2", "X"]));
    assert_eq!(u.admin_of, set(&["X"]));
    assert_eq!(u.interest_of, set(&["G1", "Y"]));
}

#[test]
fn omitted_fields_are_left_as_is_with_a_warning() {
    let p = check(
        "omitted_fields_kept",
        r#"
base:
  groups:
    - {externalId: G1, name: One}
    - {externalId: G2, name: Two, parent: G1}
    - {externalId: G3, name: Three}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com,
       memberOf: [G1], inheritedAdminOf: [G3], role: Manager, externalProperties: {city: Oslo, gender: Female}}
    - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com}
spec:
  groups:
    - {externalId: G1, name: One}
    - {externalId: G2, name: Two}
    - {externalId: G3, name: Three}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com,
       externalProperties: {gender: Female}}
    - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com}
"#,
    );
    assert!(!p.has_changes());
    let codes: Vec<(&str, Option<&str>)> = p
        .warnings()
        .iter()
        .map(|w| (w.code.as_str(), w.path.as_deref()))
        .collect();
    assert_eq!(
        codes,
        [
            ("omittedFieldKept", Some("accessInfo.inheritedAdminOf")),
            ("omittedFieldKept", Some("accessInfo.memberOf")),
            ("omittedFieldKept", Some("accessInfo.role")),
            ("omittedFieldKept", Some("externalProperties.city")),
            ("omittedFieldKept", Some("parent")),
        ]
    );
}

#[test]
fn given_values_replace_and_new_keys_merge() {
    check(
        "given_fields_set",
        r#"
base:
  groups:
    - {externalId: G1, name: One, description: The first}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com,
       memberOf: [G1], role: Manager, externalProperties: {city: Oslo}}
spec:
  groups:
    - {externalId: G1, name: One}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com,
       accessInfo: {memberOf: [], role: User}, externalProperties: {city: Bergen, gender: Female}}
"#,
    );
}

#[test]
fn active_timezone_language_and_phone_follow_the_api() {
    let p = check(
        "active_timezone_language_phone",
        r#"
base:
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com,
       active: false, timezone: Europe/Oslo, language: nb, phone: "+4712345678"}
    - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com}
    - {externalId: U4, firstName: Di, lastName: Dunn, email: di@example.com, language: sv}
spec:
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, language: sv, phone: ""}
    - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com, language: de}
    - {externalId: U3, firstName: Cy, lastName: Cole, email: cy@example.com, language: fr}
    - {externalId: U4, firstName: Di, lastName: Dunn, email: di@example.com, active: false}
"#,
    );
    let after = &p.effective_after().users;
    assert!(after["U1"].active);
    assert_eq!(after["U1"].timezone, None);
    assert_eq!(after["U1"].phone, None);
    assert_eq!(after["U1"].language.as_deref(), Some("nb"));
    assert_eq!(after["U2"].language, None);
    assert_eq!(after["U3"].language.as_deref(), Some("fr"));
    assert_eq!(after["U4"].language.as_deref(), Some("sv"));
}

#[test]
fn force_set_language_sets_language_on_existing_users() {
    let p = check(
        "force_set_language",
        r#"
base:
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, language: nb}
    - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com, language: nb}
spec:
  settings: {forceSetLanguage: true}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, language: sv}
    - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com}
"#,
    );
    assert_eq!(p.summary().users.update, 1);
    assert_eq!(p.warnings()[0].code, WarningCode::LanguageForced);
}

#[test]
fn parent_omitted_null_and_given() {
    check(
        "parent_rules",
        r#"
before:
  groups:
    - {externalId: R1, name: Root one}
    - {externalId: R2, name: Root two}
    - {externalId: C1, name: Child one, parent: R1}
    - {externalId: C2, name: Child two, parent: R1}
    - {externalId: C3, name: Child three, parent: R1}
spec:
  groups:
    - {externalId: R1, name: Root one}
    - {externalId: R2, name: Root two}
    - {externalId: C1, name: Child one}
    - {externalId: C2, name: Child two, parent: null}
    - {externalId: C3, name: Child three, parent: R2}
    - {externalId: N1, name: New root}
    - {externalId: N2, name: New child, parent: C1}
"#,
    );
}

#[test]
fn a_sent_user_changed_only_by_a_group_deletion_counts_as_updated() {
    let p = check(
        "updated_by_group_deletion",
        r#"
before:
  groups:
    - {externalId: G1, name: Kept}
    - {externalId: G2, name: Dropped}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, accessInfo: {memberOf: [G1, G2]}}
spec:
  groups:
    - {externalId: G1, name: Kept}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com}
"#,
    );
    assert_eq!(p.summary().users.update, 1);
}

// ------------------------------------------------------------ order

#[test]
fn a_deep_tree_is_created_parents_first_and_deleted_children_first() {
    let p = check(
        "deep_tree_order",
        r#"
before:
  groups:
    - {externalId: z-root, name: Old root}
    - {externalId: m-mid, name: Old middle, parent: z-root}
    - {externalId: a-leaf, name: Old leaf, parent: m-mid}
    - {externalId: b-leaf, name: Old leaf two, parent: m-mid}
    - {externalId: k-keep, name: Kept}
  users:
    - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com, accessInfo: {memberOf: [a-leaf]}}
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, accessInfo: {memberOf: [m-mid]}}
spec:
  groups:
    - {externalId: k-keep, name: Kept, parent: n6}
    - {externalId: n6, name: Level 1}
    - {externalId: n5, name: Level 2, parent: n6}
    - {externalId: n4, name: Level 3, parent: n5}
    - {externalId: n3, name: Level 4, parent: n4}
    - {externalId: n2, name: Level 5, parent: n3}
    - {externalId: n1, name: Level 6, parent: n2}
    - {externalId: n0, name: Level 6 too, parent: n2}
    - {externalId: a0, name: Another root}
  users:
    - {externalId: U3, firstName: Cy, lastName: Cole, email: cy@example.com, accessInfo: {memberOf: [n1]}}
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, accessInfo: {memberOf: [n3]}}
"#,
    );
    let order: Vec<String> = p
        .changes()
        .iter()
        .map(|c| format!("{}{}", c.action.symbol(), c.external_id))
        .collect();
    assert_eq!(
        order,
        [
            "+a0", "+n6", "~k-keep", "+n5", "+n4", "+n3", "+n2", "+n0", "+n1", "+U3", "~U1", "-U2",
            "-a-leaf", "-b-leaf", "-m-mid", "-z-root"
        ]
    );
}

// --------------------------------------------------------- warnings

#[test]
fn reused_group_names_and_emails_are_flagged() {
    let p = check(
        "reused_name_and_email",
        r#"
before:
  groups:
    - {externalId: "0000A", name: Sales Department}
  users:
    - {externalId: E1, firstName: Ann, lastName: Archer, email: ann.archer@example.com}
spec:
  groups:
    - {externalId: "0000B", name: sales department}
  users:
    - {externalId: E1-new, firstName: Ann, lastName: Archer, email: Ann.Archer@Example.com}
"#,
    );
    let codes: Vec<WarningCode> = p.warnings().iter().map(|w| w.code).collect();
    assert_eq!(
        codes,
        [
            WarningCode::EmailReused,
            WarningCode::GroupHistoryDropped,
            WarningCode::GroupNameReused
        ]
    );
}

// ---------------------------------------------------------- blocked

#[test]
fn a_count_above_its_limit_blocks_and_equal_is_fine() {
    let p = check(
        "blocked_limits",
        r#"
before:
  users:
    - {externalId: U0, firstName: Old, lastName: Timer, email: old@example.com}
spec:
  settings: {maxUsersCreated: 1, maxUsersDeleted: 0, maxGroupsCreated: 1}
  groups:
    - {externalId: G1, name: One}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com}
    - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com}
"#,
    );
    let codes: Vec<(BlockedCode, Option<Kind>)> = p
        .blocked_reasons()
        .iter()
        .map(|r| (r.code, r.kind))
        .collect();
    assert_eq!(
        codes,
        [
            (BlockedCode::LimitExceeded, Some(Kind::User)),
            (BlockedCode::LimitExceeded, Some(Kind::User))
        ]
    );
    assert!(
        p.limits()
            .iter()
            .any(|l| l.name == LimitName::GroupsCreated && l.ok && l.planned == 1)
    );
}

const PROTECTED_BEFORE: &str = r#"
before:
  groups:
    - {externalId: G1, name: Board, protected: true}
    - {externalId: G2, name: Staff}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, protected: true}
    - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com}
"#;

#[test]
fn deleting_a_protected_record_blocks_even_after_its_block_is_removed() {
    // The spec no longer has U1 and G1 at all (nor their `protected`): the
    // state remembers the protection.
    let case = format!(
        "{PROTECTED_BEFORE}
spec:
  groups:
    - {{externalId: G2, name: Staff}}
  users:
    - {{externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com}}
"
    );
    let p = check("blocked_protected", &case);
    let blocked: Vec<(BlockedCode, &[String])> = p
        .blocked_reasons()
        .iter()
        .map(|r| (r.code, r.external_ids.as_slice()))
        .collect();
    assert_eq!(
        blocked,
        [
            (BlockedCode::ProtectedDeletion, &["U1".to_owned()][..]),
            (BlockedCode::ProtectedDeletion, &["G1".to_owned()][..]),
        ]
    );
    // --force never passes a protection.
    let forced = check("blocked_protected_forced", &format!("{case}force: true\n"));
    assert!(forced.is_blocked());
    assert_eq!(forced.blocked_reasons(), p.blocked_reasons());
}

#[test]
fn protected_false_lifts_the_protection_and_the_next_plan_may_delete() {
    let p = check(
        "protection_lifted",
        &format!(
            "{PROTECTED_BEFORE}
spec:
  groups:
    - {{externalId: G1, name: Board, protected: false}}
    - {{externalId: G2, name: Staff}}
  users:
    - {{externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, protected: false}}
    - {{externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com, protected: true}}
show: [effective]
"
        ),
    );
    assert!(!p.has_changes());
    let protected = &p.effective_after().protected;
    assert!(protected.groups.is_empty());
    assert_eq!(protected.users.iter().collect::<Vec<_>>(), ["U2"]);

    // Applied, the next spec may drop them.
    let p = check(
        "protection_lifted_then_deleted",
        r#"
before:
  - groups:
      - {externalId: G1, name: Board, protected: true}
      - {externalId: G2, name: Staff}
    users:
      - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, protected: true}
      - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com}
  - groups:
      - {externalId: G1, name: Board, protected: false}
      - {externalId: G2, name: Staff}
    users:
      - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, protected: false}
      - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com}
spec:
  groups:
    - {externalId: G2, name: Staff}
  users:
    - {externalId: U2, firstName: Bo, lastName: Bark, email: bo@example.com}
"#,
    );
    assert!(!p.is_blocked());
    assert_eq!(p.summary().users.delete, 1);
}

#[test]
fn the_user_deletion_threshold_blocks_just_above_and_passes_at_the_limit() {
    // 12 managed users; 25% of 12 is 3.
    let base = format!("base:\n  users:\n{}", people(12, ""));
    let keep = |n: usize, deactivate: usize| {
        let mut spec = people(n, "");
        for i in 1..=deactivate {
            spec = spec.replace(
                &format!("u{i:02}@example.com}}"),
                &format!("u{i:02}@example.com, active: false}}"),
            );
        }
        format!("spec:\n  users:\n{spec}")
    };
    let p = check("user_threshold_at_limit", &format!("{base}{}", keep(9, 0)));
    assert!(!p.is_blocked());
    // 2 deleted + 2 deactivated = 4 > 3.
    let p = check("user_threshold_above", &format!("{base}{}", keep(10, 2)));
    assert_eq!(
        p.blocked_reasons()
            .iter()
            .map(|r| (r.code, r.forceable))
            .collect::<Vec<_>>(),
        [(BlockedCode::UserDeletionThreshold, true)]
    );
    let forced = check(
        "user_threshold_forced",
        &format!("{base}{}force: true\n", keep(10, 2)),
    );
    assert!(!forced.is_blocked());
    assert!(forced.doc().forced);
    assert!(
        forced
            .warnings()
            .iter()
            .any(|w| w.code == WarningCode::ThresholdForced)
    );
    // Below the minimum population the share is not checked.
    let small = format!("base:\n  users:\n{}", people(9, ""));
    let p = check(
        "user_threshold_small_population",
        &format!("{small}spec:\n  users: []\n"),
    );
    assert!(!p.is_blocked());
}

#[test]
fn the_group_deletion_threshold_and_its_settings() {
    let base = format!("base:\n  groups:\n{}", units(10));
    let p = check(
        "group_threshold_above",
        &format!("{base}spec:\n  groups:\n{}", units(7)),
    );
    assert_eq!(
        p.blocked_reasons()[0].code,
        BlockedCode::GroupDeletionThreshold
    );
    let p = check(
        "group_threshold_below",
        &format!("{base}spec:\n  groups:\n{}", units(8)),
    );
    assert!(!p.is_blocked());
    // Raised percentage, lowered population.
    let p = check(
        "group_threshold_custom",
        &format!(
            "base:\n  groups:\n{}spec:\n  safety: {{maxGroupDeletionPercent: 50, minPopulation: 4}}\n  groups:\n{}",
            units(4),
            units(1)
        ),
    );
    assert_eq!(
        p.blocked_reasons()[0].code,
        BlockedCode::GroupDeletionThreshold
    );
}

#[test]
fn the_membership_loss_threshold_is_off_by_default() {
    let base = format!(
        "base:\n  groups:\n{}  users:\n{}",
        units(1),
        people(10, ", memberOf: [G01]")
    );
    let spec = |cleared: usize| {
        let mut users = people(10, ", accessInfo: {memberOf: [G01]}");
        for i in 1..=cleared {
            users = users.replace(
                &format!("u{i:02}@example.com, accessInfo: {{memberOf: [G01]}}"),
                &format!("u{i:02}@example.com, accessInfo: {{memberOf: []}}"),
            );
        }
        format!("  groups:\n{}  users:\n{users}", units(1))
    };
    // Off by default: 2 of 10 lost is fine.
    let p = check("membership_loss_off", &format!("{base}spec:\n{}", spec(2)));
    assert!(!p.is_blocked());
    let with = |n| {
        format!(
            "{base}spec:\n  safety: {{maxMembershipLossPercent: 10}}\n{}",
            spec(n)
        )
    };
    let p = check("membership_loss_at_limit", &with(1));
    assert!(!p.is_blocked());
    let p = check("membership_loss_above", &with(2));
    assert_eq!(
        p.blocked_reasons()[0].code,
        BlockedCode::MembershipLossThreshold
    );
}

#[test]
fn min_administrators_counts_active_administrators_and_ignores_force() {
    let base = r#"
base:
  users:
    - {externalId: A1, firstName: Ann, lastName: Archer, email: ann@example.com, role: Administrator}
    - {externalId: A2, firstName: Bo, lastName: Bark, email: bo@example.com, role: Administrator}
"#;
    let p = check(
        "min_administrators_blocked",
        &format!(
            "{base}force: true
spec:
  safety: {{minAdministrators: 2}}
  users:
    - {{externalId: A1, firstName: Ann, lastName: Archer, email: ann@example.com, accessInfo: {{role: Administrator}}}}
    - {{externalId: A2, firstName: Bo, lastName: Bark, email: bo@example.com, active: false}}
"
        ),
    );
    assert_eq!(
        p.blocked_reasons()
            .iter()
            .map(|r| (r.code, r.forceable))
            .collect::<Vec<_>>(),
        [(BlockedCode::MinAdministrators, false)]
    );
    let p = check(
        "min_administrators_met",
        &format!(
            "{base}spec:
  safety: {{minAdministrators: 2}}
  users:
    - {{externalId: A1, firstName: Ann, lastName: Archer, email: ann@example.com}}
    - {{externalId: A2, firstName: Bo, lastName: Bark, email: bo@example.com}}
    - {{externalId: A3, firstName: Cy, lastName: Cole, email: cy@example.com, accessInfo: {{role: Administrator}}}}
"
        ),
    );
    assert!(!p.is_blocked());
}

#[test]
fn a_cycle_through_an_omitted_parent_blocks() {
    let p = check(
        "hierarchy_cycle",
        r#"
before:
  groups:
    - {externalId: A, name: Alpha}
    - {externalId: B, name: Beta, parent: A}
    - {externalId: C, name: Gamma, parent: B}
spec:
  groups:
    - {externalId: A, name: Alpha, parent: C}
    - {externalId: B, name: Beta}
    - {externalId: C, name: Gamma}
"#,
    );
    let r = &p.blocked_reasons()[0];
    assert_eq!(r.code, BlockedCode::HierarchyCycle);
    assert_eq!(r.external_ids, ["A", "C", "B"]);
}

#[test]
fn orphans_block_naming_the_groups() {
    let p = check(
        "orphan_groups",
        r#"
base:
  groups:
    - {externalId: P, name: Parent}
    - {externalId: C, name: Child, parent: P}
    - {externalId: D, name: Dangling, parent: X}
    - {externalId: E, name: External child, parent: Y}
spec:
  externalGroups: [Y]
  groups:
    - {externalId: C, name: Child}
    - {externalId: D, name: Dangling}
    - {externalId: E, name: External child}
"#,
    );
    let ids: Vec<&str> = p
        .blocked_reasons()
        .iter()
        .map(|r| r.external_ids[0].as_str())
        .collect();
    assert_eq!(ids, ["C", "D"]);
}

#[test]
fn a_reference_to_a_group_this_plan_deletes_blocks() {
    let p = check(
        "deleted_group_referenced",
        r#"
before:
  groups:
    - {externalId: G1, name: One}
    - {externalId: G2, name: Two}
spec:
  externalGroups: [G2]
  groups:
    - {externalId: G1, name: One}
  users:
    - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, accessInfo: {memberOf: [G1, G2]}}
"#,
    );
    assert_eq!(
        p.blocked_reasons()[0].code,
        BlockedCode::DeletedGroupReferenced
    );
}

// ------------------------------------------------------------ outputs

#[test]
fn the_json_plan_has_the_documented_shape() {
    let p = check(
        "json_shape",
        r#"
before:
  groups:
    - {externalId: G1, name: One}
    - {externalId: G2, name: Two}
  users:
    - {externalId: E1, firstName: B, lastName: Archer, email: b@example.com, language: sv}
    - {externalId: C, firstName: Cy, lastName: Cole, email: cy@example.com}
spec:
  groups:
    - {externalId: G1, name: One}
    - {externalId: "0000897", name: Sales, parent: G1}
  users:
    - {externalId: E1, firstName: b, lastName: Archer, email: b@example.com, language: en, accessInfo: {memberOf: ["0000897"]}}
show: [json]
"#,
    );
    let v: Value = serde_json::from_str(&render::json(&p)).unwrap();
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let sorted = |mut k: Vec<&str>| {
        k.sort_unstable();
        k.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let mut top = keys(&v);
    top.sort();
    assert_eq!(
        top,
        sorted(vec![
            "formatVersion",
            "base",
            "specDigest",
            "maxPerRequest",
            "waves",
            "blocked",
            "blockedReasons",
            "summary",
            "limits",
            "changes",
            "warnings"
        ])
    );
    assert_eq!(v["formatVersion"], 1);
    assert_eq!(
        v["base"],
        serde_json::json!({"lineage": LINEAGE, "serial": 1})
    );
    assert!(v["specDigest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(v["blocked"], false);
    assert_eq!(v["blockedReasons"], serde_json::json!([]));
    assert_eq!(
        v["summary"],
        serde_json::json!({
            "users": {"create": 0, "update": 1, "delete": 1, "unchanged": 0},
            "groups": {"create": 1, "update": 0, "delete": 1, "unchanged": 1}
        })
    );
    assert_eq!(
        v["limits"][0],
        serde_json::json!({"name": "maxUsersCreated", "limit": 200, "planned": 0, "ok": true})
    );
    assert_eq!(v["limits"].as_array().unwrap().len(), 6);
    let changes = v["changes"].as_array().unwrap();
    let shape: Vec<(String, String, String)> = changes
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_owned(),
                c["action"].as_str().unwrap().to_owned(),
                c["externalId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = [
        ("group", "create", "0000897"),
        ("user", "update", "E1"),
        ("user", "delete", "C"),
        ("group", "delete", "G2"),
    ];
    assert_eq!(
        shape,
        expect.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    );
    assert_eq!(
        changes[0]["after"],
        serde_json::json!({"externalId": "0000897", "name": "Sales", "parent": "G1"})
    );
    assert_eq!(
        changes[1]["fields"],
        serde_json::json!([
            {"path": "firstName", "before": "B", "after": "b"},
            {"path": "accessInfo.memberOf", "before": [], "after": ["0000897"]}
        ])
    );
    assert_eq!(
        changes[2]["before"],
        serde_json::json!({"externalId": "C", "firstName": "Cy", "lastName": "Cole",
                           "email": "cy@example.com", "active": true, "role": "User"})
    );
    assert_eq!(
        keys(&changes[1]),
        sorted(vec![
            "kind",
            "action",
            "externalId",
            "label",
            "wave",
            "fields"
        ])
    );
    assert_eq!(
        v["waves"],
        serde_json::json!([{"users": {"create": 0, "update": 1, "delete": 1},
                            "groups": {"create": 1, "update": 0, "delete": 1}}])
    );
    assert_eq!(v["maxPerRequest"], 20000);
    assert!(changes.iter().all(|c| c["wave"] == 1));
    // The text keeps the documented field order.
    let text = render::json(&p);
    let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
    assert!(at("formatVersion") < at("base") && at("base") < at("specDigest"));
    assert!(at("blockedReasons") < at("summary") && at("changes") < at("warnings"));
    let w = &v["warnings"][0];
    assert_eq!(w["code"], "languageNotForced");
    assert_eq!(w["externalId"], "E1");
    assert_eq!(w["kind"], "user");
    assert_eq!(w["path"], "language");
}

#[test]
fn colour_marks_actions_and_blocks_only_when_asked() {
    let spec = validated(&serde_yaml::from_str(
        "users: [{externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com}]\nsafety: {minAdministrators: 1}",
    ).unwrap());
    let p = plan(&spec, Base::empty(), &PlanOptions::default());
    let colored = render::text(&p, &TextOptions { color: true });
    assert!(
        colored.contains("\x1b[32m+\x1b[0m user \"U1\""),
        "{colored}"
    );
    // The palette's DANGER: anstyle writes bold and red as two sequences.
    assert!(
        colored.contains("\x1b[1m\x1b[31mBLOCKED:\x1b[0m"),
        "{colored}"
    );
    assert!(!render::text(&p, &TextOptions { color: false }).contains('\x1b'));
}

#[test]
fn field_paths_are_escaped_and_aligned_by_their_bytes() {
    // The width is the longest path's bytes; each path, escaped, is padded
    // to it in characters (`ø` is two bytes, one character; the escaped ESC
    // is one byte shown as six characters).
    let spec = validated(&serde_json::json!({
        "users": [{
            "externalId": "U1", "firstName": "Ann", "lastName": "Archer",
            "email": "ann@example.com",
            "externalProperties": {"x": "1", "\u{f8}rsted": "2", "a\u{1b}b": "3"},
        }],
    }));
    let p = plan(&spec, Base::empty(), &PlanOptions::default());
    let text = render::text(&p, &TextOptions::default());
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("      +")).collect();
    assert_eq!(
        rows,
        [
            "      + firstName                  = \"Ann\"",
            "      + lastName                   = \"Archer\"",
            "      + email                      = \"ann@example.com\"",
            "      + active                     = true",
            "      + accessInfo.role            = \"User\"",
            "      + externalProperties.a\\u{1b}b = \"3\"",
            "      + externalProperties.x       = \"1\"",
            "      + externalProperties.\u{f8}rsted  = \"2\"",
        ],
        "{text}"
    );
    let colored = render::text(&p, &TextOptions { color: true });
    assert_eq!(
        colored.matches("      \x1b[32m+\x1b[0m ").count(),
        8,
        "every field line carries the coloured mark: {colored}"
    );
}

#[test]
fn the_text_plan_is_handed_on_in_parts_that_add_up_to_the_whole() {
    let users: Vec<Value> = (0..2000)
        .map(|i| {
            serde_json::json!({
                "externalId": format!("U{i:05}"),
                "firstName": "Ann",
                "lastName": "Archer",
                "email": format!("u{i}@example.com"),
            })
        })
        .collect();
    let spec = validated(&serde_json::json!({ "users": users }));
    let p = plan(&spec, Base::empty(), &PlanOptions::default());
    let mut parts: Vec<String> = Vec::new();
    render::text_doc_to(p.doc(), &TextOptions::default(), &mut |part| {
        parts.push(part.to_owned())
    });
    let whole = render::text_doc(p.doc(), &TextOptions::default());
    assert!(whole.len() > 3 * render::PART, "{} bytes", whole.len());
    assert!(parts.len() >= 3, "{} parts", parts.len());
    // Each part ends at a change: at most one change past the threshold.
    assert!(parts.iter().all(|part| part.len() < render::PART + 4096));
    assert_eq!(parts.concat(), whole);
    assert!(
        whole.contains("+ user \"U01999\""),
        "the last change is there"
    );
}

#[test]
fn text_escapes_terminal_controls_in_the_data() {
    let spec = validated(
        &serde_yaml::from_str("groups: [{externalId: G1, name: \"Evil \\e[31m\\u202e name\"}]")
            .unwrap(),
    );
    let p = plan(&spec, Base::empty(), &PlanOptions::default());
    let text = render::text(&p, &TextOptions::default());
    assert!(
        !text.contains('\x1b') && !text.contains('\u{202e}'),
        "{text}"
    );
    assert!(text.contains(r"Evil \u{1b}[31m\u{202e} name"), "{text}");
}

// ------------------------------------------------------------ saved plans

fn saved_fixture() -> (ValidatedSpec, EffectiveOrg, Plan) {
    let spec = validated(&serde_yaml::from_str(
        r#"
groups: [{externalId: G1, name: One}]
users:
  - {externalId: U1, firstName: Ann, lastName: Archer, email: ann@example.com, accessInfo: {memberOf: [G1]}}
"#,
    ).unwrap());
    let mut org = EffectiveOrg::default();
    org.users.insert(
        "U0".into(),
        EffUser::new("U0", "Old", "Timer", "old@example.com"),
    );
    let p = plan(
        &spec,
        Base {
            lineage: Some(LINEAGE),
            serial: 4,
            org: &org,
        },
        &PlanOptions::default(),
    );
    (spec, org, p)
}

#[test]
fn a_saved_plan_round_trips_and_verifies_against_the_same_state() {
    let (spec, org, p) = saved_fixture();
    let saved = SavedPlan::new(&p, &spec, Some("https://org.example.com/v1/organization"));
    let json = serde_json::to_string_pretty(&saved).unwrap();
    // The tool version is one of the kit's common filters.
    orgform_testkit::assert_snapshot!("orgform-plan", "saved_plan_file", &json);
    let read: SavedPlan = serde_json::from_str(&json).unwrap();
    assert_eq!(read, saved);
    assert_eq!(
        render::text_doc(read.plan(), &TextOptions::default()),
        render::text(&p, &TextOptions::default())
    );
    assert_eq!(render::json_doc(read.plan()), render::json(&p));
    assert_eq!(read.options(), PlanOptions::default());

    // Re-validate the saved org, replan against the same state: accepted,
    // and the plan is the reviewed one.
    let base = Base {
        lineage: Some(LINEAGE),
        serial: 4,
        org: &org,
    };
    let (again_spec, replanned) = read.replan(base).expect("the same state");
    assert_eq!(again_spec.digest(), spec.digest());
    assert_eq!(replanned.digest(), p.digest());
}

#[test]
fn a_saved_plan_is_refused_when_stale_foreign_altered_or_forced_differently() {
    let (spec, org, p) = saved_fixture();
    let saved = SavedPlan::new(&p, &spec, Some("https://org.example.com/v1/organization"));
    let mut errors: Vec<String> = Vec::new();
    let mut push = |r: Result<(), SavedPlanError>| errors.push(r.unwrap_err().to_string());

    push(saved.check_base(Some(LINEAGE), 5));
    push(saved.check_base(Some("another-lineage"), 4));
    push(saved.check_base(None, 0));

    // The state changed under the same serial (or the org in the file was
    // edited and re-planned): the replanned digest differs.
    let mut moved = org.clone();
    moved.users.insert(
        "U9".into(),
        EffUser::new("U9", "New", "Comer", "new@example.com"),
    );
    let base = Base {
        lineage: Some(LINEAGE),
        serial: 4,
        org: &moved,
    };
    push(saved.verify(&plan(&spec, base, &PlanOptions::default())));
    let same = Base {
        lineage: Some(LINEAGE),
        serial: 4,
        org: &org,
    };
    push(saved.verify(&plan(&spec, same, &PlanOptions { force: true })));

    // Edited files.
    let mut json: Value = serde_json::to_value(&saved).unwrap();
    json["plan"]["changes"][0]["externalId"] = "G2".into();
    let edited: SavedPlan = serde_json::from_value(json).unwrap();
    push(edited.verify(&p));
    let mut json: Value = serde_json::to_value(&saved).unwrap();
    json["org"]["users"][0]["firstName"] = "Eve".into();
    let edited: SavedPlan = serde_json::from_value(json).unwrap();
    push(edited.check_integrity());
    let mut json: Value = serde_json::to_value(&saved).unwrap();
    json["formatVersion"] = 2.into();
    let edited: SavedPlan = serde_json::from_value(json).unwrap();
    push(edited.check_integrity());

    // A plan made against no state, applied once a state exists.
    let empty_plan = plan(&spec, Base::empty(), &PlanOptions::default());
    let first = SavedPlan::new(&empty_plan, &spec, None);
    push(first.check_base(Some(LINEAGE), 1));
    assert_eq!(first.check_base(None, 0), Ok(()));
    assert!(first.replan(Base::empty()).is_ok());
    let moved_base = Base {
        lineage: Some(LINEAGE),
        serial: 4,
        org: &moved,
    };
    push(saved.replan(moved_base).map(|_| ()));
    let mut json: Value = serde_json::to_value(&saved).unwrap();
    json["org"]["users"][0]["email"] = "not-an-email".into();
    let invalid: SavedPlan = serde_json::from_value(json).unwrap();
    let err = invalid.replan(same).map(|_| ()).unwrap_err();
    assert!(
        matches!(err, SavedPlanError::InvalidOrg(_))
            || matches!(err, SavedPlanError::Altered { .. }),
        "{err}"
    );

    orgform_testkit::assert_snapshot!(
        "orgform-plan",
        "saved_plan_errors",
        errors.join("\n"),
        &[orgform_testkit::DIGEST_FILTER]
    );
}

// ------------------------------------------------------ generated cases

/// A seeded splitmix64: the generated cases are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn subset(&mut self, items: &[&str], percent: u64) -> BTreeSet<String> {
        items
            .iter()
            .filter(|_| self.chance(percent))
            .map(|s| (*s).to_owned())
            .collect()
    }
}

const GROUP_IDS: [&str; 6] = ["G0", "G1", "G2", "G3", "G4", "G5"];
const USER_IDS: [&str; 6] = ["U0", "U1", "U2", "U3", "U4", "U5"];

/// A consistent state: parents are earlier groups or the external `X`;
/// lists may name managed groups, `X`, or `Y` (a manual group).
fn random_base(rng: &mut Rng) -> EffectiveOrg {
    let mut org = EffectiveOrg::default();
    for id in GROUP_IDS {
        if !rng.chance(60) {
            continue;
        }
        let mut g = EffGroup::new(id, rng.pick(&["Sales", "Support", "sales"]));
        g.description = rng.chance(30).then(|| "About".to_owned());
        let earlier: Vec<&str> = org.groups.keys().map(String::as_str).collect();
        g.parent = match rng.below(3) {
            0 if !earlier.is_empty() => Some(rng.pick(&earlier).to_owned()),
            1 => Some("X".to_owned()),
            _ => None,
        };
        org.groups.insert(id.to_owned(), g);
    }
    let mut refs: Vec<&str> = org.groups.keys().map(String::as_str).collect();
    refs.extend(["X", "Y"]);
    for (i, id) in USER_IDS.iter().enumerate() {
        if !rng.chance(60) {
            continue;
        }
        let email = format!("{}@example.com", id.to_lowercase());
        let mut u = EffUser::new(id, "First", rng.pick(&["Last", "Other"]), &email);
        u.phone = rng.chance(30).then(|| format!("+4670000000{i}"));
        u.active = rng.chance(80);
        u.timezone = rng.chance(30).then(|| "Europe/Oslo".to_owned());
        u.language = rng.chance(40).then(|| rng.pick(&["sv", "en"]).to_owned());
        for list in orgform_model::AccessList::ALL {
            *u.list_mut(list) = rng.subset(&refs, 30);
        }
        u.role = *[
            orgform_model::Role::User,
            orgform_model::Role::Manager,
            orgform_model::Role::Administrator,
        ]
        .get(rng.below(3))
        .unwrap();
        if rng.chance(40) {
            u.external_properties
                .insert("city".into(), rng.pick(&["Oslo", "Lund"]).into());
        }
        org.users.insert((*id).to_owned(), u);
    }
    let users: Vec<&str> = org.users.keys().map(String::as_str).collect();
    let groups: Vec<&str> = org.groups.keys().map(String::as_str).collect();
    org.protected.users = rng.subset(&users, 15);
    org.protected.groups = rng.subset(&groups, 15);
    org
}

/// A valid spec over the same ids: spec parents are earlier spec groups,
/// `X` (external), omitted or `null`; lists name spec groups or `X`.
fn random_spec(rng: &mut Rng) -> DesiredOrg {
    use orgform_model::{DesiredGroup, DesiredUser, ParentRef, Role};
    let mut org = DesiredOrg::default();
    org.external_groups.insert("X".into());
    org.settings.force_set_language = rng.chance(20);
    if rng.chance(15) {
        org.settings
            .limits
            .set(LimitName::ALL[rng.below(6)], rng.below(3) as u32);
    }
    if rng.chance(30) {
        org.safety.min_population = Some(rng.below(6) as u32);
        org.safety.max_user_deletion_percent = Some(rng.below(60) as u32);
        org.safety.max_group_deletion_percent = Some(rng.below(60) as u32);
    }
    if rng.chance(20) {
        org.safety.max_membership_loss_percent = Some(rng.below(50) as u32);
    }
    if rng.chance(15) {
        org.safety.min_administrators = Some(rng.below(3) as u32);
    }
    if rng.chance(80) {
        let mut groups: Vec<DesiredGroup> = Vec::new();
        for id in GROUP_IDS {
            if !rng.chance(65) {
                continue;
            }
            let mut g = DesiredGroup::new(id, rng.pick(&["Sales", "Support", "sales"]));
            g.description = match rng.below(3) {
                0 => Some("About".into()),
                1 => Some(String::new()),
                _ => None,
            };
            let earlier: Vec<&str> = groups.iter().map(|g| g.external_id.as_str()).collect();
            g.parent = match rng.below(4) {
                0 => ParentRef::Root,
                1 if !earlier.is_empty() => ParentRef::Group(rng.pick(&earlier).to_owned()),
                2 => ParentRef::Group("X".into()),
                _ => ParentRef::Omitted,
            };
            g.protected = [None, None, Some(true), Some(false)][rng.below(4)];
            groups.push(g);
        }
        org.groups = Some(groups);
    }
    let mut refs: Vec<&str> = org
        .groups
        .iter()
        .flatten()
        .map(|g| g.external_id.as_str())
        .collect();
    refs.push("X");
    if rng.chance(80) {
        let mut users = Vec::new();
        for (i, id) in USER_IDS.iter().enumerate() {
            if !rng.chance(65) {
                continue;
            }
            let email = if rng.chance(10) {
                format!("{}@EXAMPLE.com", id.to_lowercase())
            } else {
                format!("{}@example.com", id.to_lowercase())
            };
            let mut u = DesiredUser::new(id, "First", rng.pick(&["Last", "Other"]), &email);
            u.phone =
                [None, Some(String::new()), Some(format!("+4670000000{i}"))][rng.below(3)].clone();
            u.active = [None, Some(true), Some(false)][rng.below(3)];
            u.timezone = rng.chance(30).then(|| "Europe/Oslo".to_owned());
            u.language = rng
                .chance(50)
                .then(|| rng.pick(&["sv", "en", "de"]).to_owned());
            let a = &mut u.access_info;
            a.member_of = rng.chance(60).then(|| rng.subset(&refs, 40));
            a.admin_of = rng.chance(40).then(|| rng.subset(&refs, 30));
            a.inherited_admin_of = rng.chance(30).then(|| rng.subset(&refs, 30));
            a.interest_of = rng.chance(30).then(|| rng.subset(&refs, 30));
            a.role = [
                None,
                Some(Role::User),
                Some(Role::Manager),
                Some(Role::Administrator),
            ][rng.below(4)];
            if rng.chance(40) {
                u.external_properties
                    .insert("city".into(), rng.pick(&["Oslo", "Lund"]).into());
            }
            if rng.chance(20) {
                u.external_properties.insert("team".into(), "Blue".into());
            }
            u.protected = [None, None, Some(true), Some(false)][rng.below(4)];
            users.push(u);
        }
        org.users = Some(users);
    }
    org
}

#[test]
fn generated_cases_keep_every_invariant() {
    let mut blocked = 0;
    let mut changed = 0;
    for seed in 0..3000u64 {
        let mut rng = Rng(seed);
        let base_org = random_base(&mut rng);
        let desired = random_spec(&mut rng);
        let spec = orgform_spec::validate_org(desired.clone()).unwrap_or_else(|d| {
            panic!(
                "seed {seed}: the generator made an invalid spec:\n{}\n{desired:#?}",
                d.render(false)
            )
        });
        let options = PlanOptions {
            force: rng.chance(20),
        };
        let base = Base {
            lineage: Some(LINEAGE),
            serial: seed + 1,
            org: &base_org,
        };
        let p = plan(&spec, base, &options);
        let context = || {
            format!(
                "seed {seed}\nbase: {}\nspec: {}\n{}",
                serde_json::to_string(&base_org).unwrap(),
                serde_json::to_string(&desired).unwrap(),
                render::text(&p, &TextOptions::default())
            )
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            invariants(&spec, base, &options, &p);
        }));
        if outcome.is_err() {
            panic!("an invariant failed for:\n{}", context());
        }
        // Every record of the spec exists afterwards; a record deleted from
        // the state is a delete change; a protected one blocks the plan.
        let after = p.effective_after();
        for u in desired.users.iter().flatten() {
            assert!(after.users.contains_key(&u.external_id), "{}", context());
        }
        for id in base_org.users.keys() {
            let deleted = !after.users.contains_key(id);
            assert_eq!(
                deleted,
                desired.users.is_some()
                    && !desired.users.iter().flatten().any(|u| &u.external_id == id),
                "{}",
                context()
            );
            if deleted && base_org.protected.users.contains(id) {
                assert!(
                    p.blocked_reasons()
                        .iter()
                        .any(|r| r.code == BlockedCode::ProtectedDeletion
                            && r.external_ids == [id.clone()]),
                    "{}",
                    context()
                );
            }
        }
        // No effective list names a group that the plan deletes.
        let deleted_groups: BTreeSet<&String> = base_org
            .groups
            .keys()
            .filter(|g| !after.groups.contains_key(*g))
            .collect();
        for u in after.users.values() {
            for list in orgform_model::AccessList::ALL {
                assert!(
                    u.list(list).iter().all(|g| !deleted_groups.contains(g)),
                    "{}",
                    context()
                );
            }
        }
        // Protected sets only name records that exist.
        assert!(
            after
                .protected
                .users
                .iter()
                .all(|id| after.users.contains_key(id))
        );
        assert!(
            after
                .protected
                .groups
                .iter()
                .all(|id| after.groups.contains_key(id))
        );
        blocked += usize::from(p.is_blocked());
        changed += usize::from(p.has_changes());
    }
    // The generator must reach both sides of each question.
    assert!(blocked > 300 && blocked < 2700, "{blocked} blocked");
    assert!(changed > 1500, "{changed} with changes");
}

// ------------------------------------------------------------ waves

/// A reorg above a cap of 2: everyone moves to a new group and the old one
/// goes; the plan is shown in waves in text, JSON and Markdown.
#[test]
fn a_plan_in_waves_shows_each_wave_in_text_json_and_markdown() {
    let case = r#"
before:
  groups:
    - {externalId: old, name: Old unit}
  users:
    - {externalId: U1, firstName: Ann, lastName: Ash, email: ann@example.com, accessInfo: {memberOf: [old]}}
    - {externalId: U2, firstName: Bob, lastName: Birch, email: bob@example.com, accessInfo: {memberOf: [old]}}
    - {externalId: U3, firstName: Cat, lastName: Cedar, email: cat@example.com, accessInfo: {memberOf: [old]}}
spec:
  target: {maxPerRequest: 2}
  groups:
    - {externalId: new, name: New unit}
  users:
    - {externalId: U1, firstName: Ann, lastName: Ash, email: ann@example.com, accessInfo: {memberOf: [new]}}
    - {externalId: U2, firstName: Bob, lastName: Birch, email: bob@example.com, accessInfo: {memberOf: [new]}}
    - {externalId: U3, firstName: Cat, lastName: Cedar, email: cat@example.com, accessInfo: {memberOf: [new]}}
    - {externalId: U4, firstName: Dan, lastName: Dale, email: dan@example.com, accessInfo: {memberOf: [new]}}
show: [json]
"#;
    let p = check("waves_reorg", case);
    assert!(!p.is_blocked(), "{:?}", p.blocked_reasons());
    let waves: Vec<(usize, usize, usize)> = p
        .waves()
        .iter()
        .map(|w| (w.users.update, w.users.create, w.groups.delete))
        .collect();
    // The new group, the joiner and the first two moves; then the third
    // move and the old group's deletion (after every member has moved).
    assert_eq!(waves, [(2, 1, 0), (1, 0, 1)]);
    assert_eq!(p.waves()[0].groups.create, 1);
    let order: Vec<(u32, &str)> = p
        .changes()
        .iter()
        .map(|c| (c.wave, c.external_id.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            (1, "new"),
            (1, "U4"),
            (1, "U1"),
            (1, "U2"),
            (2, "U3"),
            (2, "old")
        ]
    );
    let limits = p.wave_limits(0);
    assert_eq!(
        (
            limits.max_users_updated,
            limits.max_users_deleted,
            limits.max_groups_deleted
        ),
        (2, 0, 0)
    );
    assert_eq!(p.wave_limits(1).max_groups_deleted, 1);
    // Before the last wave the old group still exists and U3 is still in it.
    let mid = p.effective_after_wave(0);
    assert!(mid.groups.contains_key("old") && mid.groups.contains_key("new"));
    assert!(mid.users["U3"].member_of.contains("old"));
    assert!(mid.users.contains_key("U4") && mid.users["U1"].member_of.contains("new"));
    assert_eq!(&p.effective_after_wave(1), p.effective_after());

    let before = effective_of_case(case);
    let md = crate::markdown::render(
        &crate::review::Review::of_plan(&p, &before),
        &crate::markdown::MarkdownOptions::default(),
    );
    assert!(md.contains("Applied in 2 waves (`target.maxPerRequest` allows at most 2"));
    snapshot("waves_reorg_markdown", &md);
}

/// The state a case's `before` specs leave (for reviews that need it).
fn effective_of_case(case: &str) -> EffectiveOrg {
    let case: Value = serde_yaml::from_str(case).expect("the case is YAML");
    applied_befores("a review case", &case).0
}

#[test]
fn a_single_request_plan_has_one_wave_and_sends_the_spec_itself() {
    let spec = validated(
        &serde_yaml::from_str::<Value>(
            "users:\n  - {externalId: U1, firstName: A, lastName: B, email: a@example.com}\n",
        )
        .unwrap(),
    );
    let p = plan(&spec, Base::empty(), &PlanOptions::default());
    assert_eq!(p.waves().len(), 1);
    assert_eq!(&p.wave_request(&spec, 0), spec.org());
    assert_eq!(p.wave_limits(0), p.request_limits());
    assert_eq!(&p.effective_after_wave(0), p.effective_after());
    assert_eq!(p.changes()[0].wave, 1);
    let none = plan(
        &spec,
        Base {
            lineage: Some(LINEAGE),
            serial: 1,
            org: p.effective_after(),
        },
        &PlanOptions::default(),
    );
    assert!(none.waves().is_empty());
    assert!(render::json(&none).contains("\"waves\": []"));
}

#[test]
fn no_administrator_left_warns_only_when_the_state_had_one() {
    let case = |role: &str| {
        format!(
            r#"
before:
  users:
    - {{externalId: A1, firstName: Ann, lastName: Ash, email: ann@example.com, accessInfo: {{role: {role}}}}}
spec:
  users:
    - {{externalId: A1, firstName: Ann, lastName: Ash, email: ann@example.com, accessInfo: {{role: User}}}}
"#
        )
    };
    let p = check("no_administrator_left", &case("Administrator"));
    assert!(
        p.warnings()
            .iter()
            .any(|w| w.code == WarningCode::NoAdministratorLeft),
        "{:?}",
        p.warnings()
    );
    assert!(!p.is_blocked());
    let p = check("no_administrator_left_none_before", &case("Manager"));
    assert!(
        !p.warnings()
            .iter()
            .any(|w| w.code == WarningCode::NoAdministratorLeft)
    );
}
