//! Generated orgs validate, their YAML reads back as the same org, the
//! generated state is what the planner predicts, and the next spec's plan
//! has exactly the generated changes. Small sizes only (CI has 2 cores).

use std::collections::BTreeMap;

use orgform_gen::{GenOptions, effective, generate, state_for, write_dir};
use orgform_model::{DesiredOrg, ParentRef};
use orgform_plan::{Action, Base, PlanOptions};
use orgform_spec::{LoadOptions, ValidatedSpec};
use orgform_state::Store;

fn validated(org: &DesiredOrg) -> ValidatedSpec {
    match orgform_spec::validate_org(org.clone()) {
        Ok(v) => v,
        Err(d) => panic!("generated org is invalid:\n{}", d.render(false)),
    }
}

fn loaded(dir: &std::path::Path) -> ValidatedSpec {
    match orgform_spec::load(dir, &LoadOptions::default()) {
        Ok(v) => v,
        Err(d) => panic!(
            "`{}` does not validate:\n{}",
            dir.display(),
            d.render(false)
        ),
    }
}

fn counts(plan: &orgform_plan::Plan, kind: orgform_model::Kind, action: Action) -> usize {
    plan.changes()
        .iter()
        .filter(|c| c.kind == kind && c.action == action)
        .count()
}

#[test]
fn written_orgs_validate_and_plan_as_generated() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenOptions {
        users: 1200,
        seed: 7,
        users_per_file: Some(500),
    };
    let g = write_dir(&opts, dir.path()).unwrap();

    // Both specs load from YAML without errors or warnings, as the same org.
    let spec = loaded(&dir.path().join("spec"));
    let next = loaded(&dir.path().join("next"));
    assert!(
        spec.warnings().is_empty(),
        "{}",
        spec.warnings().render(false)
    );
    assert!(
        next.warnings().is_empty(),
        "{}",
        next.warnings().render(false)
    );
    assert_eq!(spec.org(), validated(&g.current).org());
    assert_eq!(next.org(), validated(&g.next).org());
    assert_eq!(spec.org().users.as_ref().unwrap().len(), 1200);
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("spec"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "groups.yaml",
            "org.yaml",
            "users-01.yaml",
            "users-02.yaml",
            "users-03.yaml"
        ]
    );

    // The state is the effective result of applying the spec.
    let state = Store::new(dir.path().join("state.json"))
        .load()
        .unwrap()
        .unwrap();
    // (That first apply would need raised limits: it creates everything.)
    let first = orgform_plan::plan(&spec, Base::empty(), &PlanOptions::default());
    assert_eq!(&state.org, first.effective_after());
    assert_eq!(state.org, effective(&g.current));
    assert_eq!(state.spec_digest, spec.digest());
    assert_eq!(state.org.protected.groups.len(), 1);

    let base = Base {
        lineage: Some(&state.lineage),
        serial: state.serial,
        org: &state.org,
    };
    let again = orgform_plan::plan(&spec, base, &PlanOptions::default());
    assert!(!again.has_changes(), "{:?}", &again.changes()[..1]);

    // The next spec changes exactly what the generator says it changed.
    let plan = orgform_plan::plan(&next, base, &PlanOptions::default());
    assert!(!plan.is_blocked(), "{:?}", plan.blocked_reasons());
    let s = g.stats;
    let summary = plan.summary();
    assert_eq!(summary.users.create, s.users_added);
    assert_eq!(summary.users.delete, s.users_removed);
    assert_eq!(summary.users.update, s.users_changed);
    assert_eq!(summary.groups.create, s.groups_added);
    assert_eq!(summary.groups.delete, s.groups_removed);
    assert_eq!(summary.groups.update, s.groups_renamed + s.groups_moved);
    assert_eq!((s.users_added, s.users_removed), (12, 12));
    assert!((24..=40).contains(&s.users_changed), "{s:?}");
    assert!(s.groups_renamed >= 2 && s.groups_moved >= 2 && s.groups_removed >= 2);
    use orgform_model::Kind;
    assert_eq!(counts(&plan, Kind::Group, Action::Delete), s.groups_removed);
    assert!(
        plan.warnings()
            .iter()
            .all(|w| { w.code == orgform_plan::WarningCode::GroupHistoryDropped }),
        "{:?}",
        plan.warnings()
    );
}

/// The level of a group in the tree (a root is level 1).
fn levels<'a>(parent: &BTreeMap<&'a str, &'a str>, mut id: &'a str) -> usize {
    let mut n = 1;
    while let Some(p) = parent.get(id) {
        n += 1;
        id = p;
    }
    n
}

#[test]
fn generation_is_deterministic_and_realistic() {
    let opts = GenOptions {
        users: 3000,
        seed: 3,
        users_per_file: None,
    };
    let a = generate(&opts);
    let b = generate(&opts);
    assert_eq!(a.current, b.current);
    assert_eq!(a.next, b.next);
    let files = orgform_gen::spec_files(&a.next, None);
    assert_eq!(files, orgform_gen::spec_files(&b.next, None));
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["org.yaml", "groups.yaml", "users.yaml"]);
    validated(&a.current);
    validated(&a.next);
    let other = generate(&GenOptions { seed: 4, ..opts });
    assert_ne!(a.current, other.current);

    let groups = a.current.groups.as_ref().unwrap();
    let users = a.current.users.as_ref().unwrap();
    // About one group per ten users (plus the root and employment types).
    assert_eq!(groups.len(), 300 + 4);
    // A tree at most 6 levels deep (the root is level 1).
    let parent: BTreeMap<&str, &str> = groups
        .iter()
        .filter_map(|g| match &g.parent {
            ParentRef::Group(p) => Some((g.external_id.as_str(), p.as_str())),
            _ => None,
        })
        .collect();
    let deepest = groups
        .iter()
        .map(|g| levels(&parent, &g.external_id))
        .max()
        .unwrap();
    assert_eq!(deepest, 6);
    for org in [&a.current, &a.next] {
        for u in org.users.as_ref().unwrap() {
            let m = u.access_info.member_of.as_ref().map_or(0, |m| m.len());
            assert!(
                (1..=3).contains(&m),
                "{} has {m} memberships",
                u.external_id
            );
            let p = u.external_properties.len();
            assert!((2..=4).contains(&p), "{} has {p} properties", u.external_id);
        }
    }
    let share = |f: &dyn Fn(&orgform_model::DesiredUser) -> bool| {
        users.iter().filter(|u| f(u)).count() * 100 / users.len()
    };
    assert!((80..=90).contains(&share(&|u| u.phone.is_some())));
    assert!(share(&|u| u.timezone.is_some()) >= 90);
    assert!(share(&|u| u.language.is_some()) >= 85);
    assert!((3..=10).contains(&share(&|u| u.access_info.admin_of.is_some())));
    assert!(
        users
            .iter()
            .any(|u| u.access_info.inherited_admin_of.is_some())
    );
    assert!(users.iter().any(|u| u.access_info.interest_of.is_some()));
    assert!(users.iter().any(|u| u.active == Some(false)));
}

#[test]
fn tiny_orgs_still_validate() {
    for users in [1, 10, 50] {
        let g = generate(&GenOptions {
            users,
            seed: 1,
            users_per_file: None,
        });
        let spec = validated(&g.current);
        let next = validated(&g.next);
        let state = state_for(&g.current, 1);
        let base = Base {
            lineage: Some(&state.lineage),
            serial: 1,
            org: &state.org,
        };
        let plan = orgform_plan::plan(&next, base, &PlanOptions::default());
        assert!(!plan.is_blocked(), "{users}: {:?}", plan.blocked_reasons());
        let again = orgform_plan::plan(&spec, base, &PlanOptions::default());
        assert!(!again.has_changes(), "{users}");
    }
}
