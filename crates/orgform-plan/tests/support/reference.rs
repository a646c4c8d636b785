//! An independent reference of the API's semantics: what the server holds
//! after a desired org is sent to a server holding some effective records,
//! and the counts it reports. Written from the API reference and DESIGN
//! section 2 without looking at the planner, to check the planner's
//! `effective_after` and summary against.
//!
//! Shared (by `#[path]`) by `tests/properties.rs` and the fuzz target
//! `plan` (`fuzz/src/checks.rs`); std and orgform-model only.
#![allow(dead_code)] // each includer uses part of it

use std::collections::BTreeSet;

use orgform_model::{AccessList, DesiredOrg, EffGroup, EffUser, EffectiveOrg, ParentRef};

/// The counts the API reports for one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
}

/// What the server holds after `org` is sent to a server holding `old`,
/// and the counts it reports, straight from the API reference and DESIGN
/// section 2, written without looking at the planner: start from the old
/// record (or a blank one), then overwrite field by field.
pub fn reference_apply(old: &EffectiveOrg, org: &DesiredOrg) -> (EffectiveOrg, Counts, Counts) {
    // Groups: the spec's list is the full set of managed groups.
    let mut groups = old.groups.clone();
    if let Some(gs) = &org.groups {
        groups.retain(|id, _| gs.iter().any(|g| &g.external_id == id));
        for g in gs {
            let before = old.groups.get(&g.external_id);
            let parent = match &g.parent {
                ParentRef::Omitted => before.and_then(|b| b.parent.clone()),
                ParentRef::Root => None,
                ParentRef::Group(p) => Some(p.clone()),
            };
            groups.insert(
                g.external_id.clone(),
                EffGroup {
                    external_id: g.external_id.clone(),
                    name: g.name.clone(),
                    description: g.description.clone().filter(|d| !d.is_empty()),
                    parent,
                },
            );
        }
    }
    let deleted: BTreeSet<&String> = old
        .groups
        .keys()
        .filter(|g| !groups.contains_key(*g))
        .collect();
    let is_managed = |g: &String| old.groups.contains_key(g) || groups.contains_key(g);

    let mut users = old.users.clone();
    if let Some(us) = &org.users {
        users.retain(|id, _| us.iter().any(|u| &u.external_id == id));
        for u in us {
            let before = old.users.get(&u.external_id);
            let mut e = before
                .cloned()
                .unwrap_or_else(|| EffUser::new(&u.external_id, "", "", ""));
            e.first_name.clone_from(&u.first_name);
            e.last_name.clone_from(&u.last_name);
            e.email.clone_from(&u.email);
            e.phone = u.phone.clone().filter(|p| !p.is_empty());
            e.active = u.active != Some(false);
            e.timezone.clone_from(&u.timezone);
            if before.is_none() || (org.settings.force_set_language && u.language.is_some()) {
                e.language.clone_from(&u.language);
            }
            for list in AccessList::ALL {
                if let Some(given) = u.access_info.list(list) {
                    // "will clear all other memberships of managed groups not set here"
                    let kept: BTreeSet<String> = e
                        .list(list)
                        .iter()
                        .filter(|g| !is_managed(g))
                        .cloned()
                        .collect();
                    *e.list_mut(list) = given.union(&kept).cloned().collect();
                }
            }
            if let Some(role) = u.access_info.role {
                e.role = role;
            }
            for (k, v) in &u.external_properties {
                e.external_properties.insert(k.clone(), v.clone());
            }
            users.insert(u.external_id.clone(), e);
        }
    }
    // A deleted group is gone from every list.
    for u in users.values_mut() {
        for list in AccessList::ALL {
            u.list_mut(list).retain(|g| !deleted.contains(g));
        }
    }

    let count =
        |sent: bool, ids: Vec<&String>, changed: &dyn Fn(&String) -> Option<bool>, gone: usize| {
            let mut c = Counts::default();
            if !sent {
                return c;
            }
            for id in ids {
                match changed(id) {
                    None => c.created += 1,
                    Some(true) => c.updated += 1,
                    Some(false) => c.unchanged += 1,
                }
            }
            c.deleted = gone;
            c
        };
    let user_ids: Vec<&String> = org.users.iter().flatten().map(|u| &u.external_id).collect();
    let user_counts = count(
        org.users.is_some(),
        user_ids,
        &|id| old.users.get(id).map(|o| Some(o) != users.get(id)),
        old.users
            .keys()
            .filter(|id| !users.contains_key(*id))
            .count(),
    );
    let group_ids: Vec<&String> = org
        .groups
        .iter()
        .flatten()
        .map(|g| &g.external_id)
        .collect();
    let group_counts = count(
        org.groups.is_some(),
        group_ids,
        &|id| old.groups.get(id).map(|o| Some(o) != groups.get(id)),
        deleted.len(),
    );

    // orgform-only: the protected sets, of records that still exist.
    let mut protected = old.protected.clone();
    for u in org.users.iter().flatten() {
        match u.protected {
            Some(true) => {
                protected.users.insert(u.external_id.clone());
            }
            Some(false) => {
                protected.users.remove(&u.external_id);
            }
            None => {}
        }
    }
    for g in org.groups.iter().flatten() {
        match g.protected {
            Some(true) => {
                protected.groups.insert(g.external_id.clone());
            }
            Some(false) => {
                protected.groups.remove(&g.external_id);
            }
            None => {}
        }
    }
    protected.users.retain(|id| users.contains_key(id));
    protected.groups.retain(|id| groups.contains_key(id));

    (
        EffectiveOrg {
            users,
            groups,
            protected,
        },
        user_counts,
        group_counts,
    )
}
