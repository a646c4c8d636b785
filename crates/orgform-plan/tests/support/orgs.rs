//! Random valid orgs for the property tests (the reference semantics they
//! are checked against is in `reference.rs`).
//!
//! Shared by `crates/orgform-plan/tests/properties.rs` and
//! `crates/orgform-sim/tests/agreement.rs` (included there by `#[path]`),
//! so both suites draw from the same space of inputs.
//!
//! A random org is drawn as an [`OrgGen`] (small indexes into fixed pools of
//! externalIds, names, phones, ...) and then made valid by [`OrgGen::build`]
//! against the groups the server already holds: duplicates dropped,
//! references only to groups of the spec or of `externalGroups`, a parent
//! dropped when it would close a cycle among the spec's own parents (taken
//! in a random rank order, unrelated to the externalIds, which is what
//! exercises "parents first, ties by externalId"). A parent may be drawn
//! among the group's children on the server: with the child's parent
//! omitted, the hierarchy after the plan has a cycle that only the planner
//! (and the server) can see. Small pools make the
//! interesting collisions frequent: the same externalId with a new name or
//! email, a phone moving between users, a group deleted while users name it.
#![allow(dead_code)] // each test binary uses part of it

use std::collections::{BTreeMap, BTreeSet};

use orgform_model::{
    AccessList, DesiredGroup, DesiredOrg, DesiredUser, EffGroup, LimitName, ParentRef, Role,
};
use proptest::prelude::*;

/// Managed group externalIds.
pub const GROUP_IDS: [&str; 8] = ["g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7"];
/// Groups that exist in the account but are never managed (the emulator's
/// manual groups; always in `externalGroups`).
pub const EXTERNAL_IDS: [&str; 3] = ["x0", "x1", "x2"];
/// User externalIds.
pub const USER_IDS: [&str; 10] = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"];

const GROUP_NAMES: [&str; 4] = ["Sales", "Support", "Engineering", "sales"];
const FIRST_NAMES: [&str; 4] = ["Ann", "Bob", "Cat", "Dan"];
const LAST_NAMES: [&str; 3] = ["Ash", "Birch", "Cedar"];
/// Emails by index; `Ann@…` and `ann@…` collide case-insensitively.
const EMAILS: [&str; 8] = [
    "ann@example.com",
    "Ann@Example.com",
    "bob@example.com",
    "cat@example.com",
    "dan@example.com",
    "eve@example.com",
    "fay@example.com",
    "gus@example.com",
];
const PHONES: [&str; 4] = ["+46701234501", "+46701234502", "+461234567", "+12025550123"];
const TIME_ZONES: [&str; 3] = ["Europe/Stockholm", "UTC", "America/New_York"];
const LANGUAGES: [&str; 3] = ["sv", "en", "de"];
const ATTRIBUTE_KEYS: [&str; 3] = ["city", "gender", "team"];
const ATTRIBUTE_VALUES: [&str; 3] = ["a", "b", "Not-specified"];

/// A group reference by index: `0..8` a managed group, `8..11` an external one.
fn group_ref(i: usize) -> &'static str {
    if i < GROUP_IDS.len() {
        GROUP_IDS[i]
    } else {
        EXTERNAL_IDS[(i - GROUP_IDS.len()) % EXTERNAL_IDS.len()]
    }
}

const REFS: usize = GROUP_IDS.len() + EXTERNAL_IDS.len();

/// A group's `parent`, drawn.
#[derive(Debug, Clone)]
pub enum ParentGen {
    Omitted,
    Root,
    Ref(usize),
    /// The n-th of the group's children on the server (omitted if none).
    ServerChild(usize),
}

/// One group, drawn.
#[derive(Debug, Clone)]
pub struct GroupGen {
    pub id: usize,
    pub name: usize,
    /// `Some(0)` is `description: ""` (the same as none).
    pub description: Option<usize>,
    pub parent: ParentGen,
    /// Parents are accepted in rank order (ties: id); one that would close
    /// a cycle among the spec's parents is dropped.
    pub rank: u8,
    pub protected: Option<bool>,
}

/// One user, drawn.
#[derive(Debug, Clone)]
pub struct UserGen {
    pub id: usize,
    pub first: usize,
    pub last: usize,
    pub email: usize,
    /// `Some(0)` is `phone: ""` (no phone).
    pub phone: Option<usize>,
    pub active: Option<bool>,
    pub timezone: Option<usize>,
    pub language: Option<usize>,
    pub lists: [Option<Vec<usize>>; 4],
    pub role: Option<usize>,
    pub properties: Vec<(usize, usize)>,
    pub protected: Option<bool>,
}

/// One spec, drawn.
#[derive(Debug, Clone)]
pub struct OrgGen {
    pub groups: Option<Vec<GroupGen>>,
    pub users: Option<Vec<UserGen>>,
    pub force_language: bool,
    /// Which of the server's managed groups that the spec does not manage
    /// are listed in `externalGroups` anyway (a user mistake the planner
    /// must catch: they are deleted).
    pub extra_external: Vec<bool>,
    /// A low limit, sometimes: (which, value).
    pub low_limit: Option<(usize, u32)>,
    /// `safety.minPopulation`, sometimes low so the thresholds apply.
    pub min_population: Option<u32>,
}

fn parent_gen() -> impl Strategy<Value = ParentGen> {
    prop_oneof![
        4 => Just(ParentGen::Omitted),
        1 => Just(ParentGen::Root),
        6 => (0..GROUP_IDS.len()).prop_map(ParentGen::Ref),
        1 => (GROUP_IDS.len()..REFS).prop_map(ParentGen::Ref),
        4 => (0..3usize).prop_map(ParentGen::ServerChild),
    ]
}

fn group_gen() -> impl Strategy<Value = GroupGen> {
    (
        0..GROUP_IDS.len(),
        0..GROUP_NAMES.len(),
        proptest::option::of(0..3usize),
        parent_gen(),
        0..4u8,
        proptest::option::weighted(0.2, any::<bool>()),
    )
        .prop_map(
            |(id, name, description, parent, rank, protected)| GroupGen {
                id,
                name,
                description,
                parent,
                rank,
                protected,
            },
        )
}

fn list_gen() -> impl Strategy<Value = Option<Vec<usize>>> {
    proptest::option::weighted(0.6, proptest::collection::vec(0..REFS, 0..4))
}

fn user_gen() -> impl Strategy<Value = UserGen> {
    (
        (
            0..USER_IDS.len(),
            0..FIRST_NAMES.len(),
            0..LAST_NAMES.len(),
            0..EMAILS.len(),
            proptest::option::of(0..PHONES.len() + 1),
            proptest::option::of(any::<bool>()),
            proptest::option::of(0..TIME_ZONES.len()),
            proptest::option::of(0..LANGUAGES.len()),
        ),
        (
            [list_gen(), list_gen(), list_gen(), list_gen()],
            proptest::option::of(0..Role::ALL.len()),
            proptest::collection::vec((0..ATTRIBUTE_KEYS.len(), 0..ATTRIBUTE_VALUES.len()), 0..3),
            proptest::option::weighted(0.15, any::<bool>()),
        ),
    )
        .prop_map(
            |(
                (id, first, last, email, phone, active, timezone, language),
                (lists, role, properties, protected),
            )| UserGen {
                id,
                first,
                last,
                email,
                phone,
                active,
                timezone,
                language,
                lists,
                role,
                properties,
                protected,
            },
        )
}

/// One random spec (before it is made valid against a server).
pub fn org_gen() -> impl Strategy<Value = OrgGen> {
    (
        proptest::option::weighted(0.8, proptest::collection::vec(group_gen(), 0..8)),
        proptest::option::weighted(0.8, proptest::collection::vec(user_gen(), 0..9)),
        proptest::bool::weighted(0.25),
        proptest::collection::vec(proptest::bool::weighted(0.15), GROUP_IDS.len()),
        proptest::option::weighted(0.15, (0..LimitName::ALL.len(), 0..4u32)),
        proptest::option::weighted(0.2, 0..4u32),
    )
        .prop_map(
            |(groups, users, force_language, extra_external, low_limit, min_population)| OrgGen {
                groups,
                users,
                force_language,
                extra_external,
                low_limit,
                min_population,
            },
        )
}

/// A sequence of specs applied one after the other.
pub fn org_sequence(max: usize) -> impl Strategy<Value = Vec<OrgGen>> {
    proptest::collection::vec(org_gen(), 1..=max)
}

impl OrgGen {
    /// The valid spec this draw stands for, against a server that holds
    /// the managed groups `server_groups`. Panics (a generator bug) when
    /// the result does not pass `orgform_spec::validate_org`.
    pub fn build(&self, server_groups: &BTreeMap<String, EffGroup>) -> DesiredOrg {
        let mut org = DesiredOrg::default();
        org.settings.force_set_language = self.force_language;
        if let Some((which, value)) = self.low_limit {
            org.settings.limits.set(LimitName::ALL[which], value);
        }
        org.safety.min_population = self.min_population;

        // Groups: first occurrence of each externalId wins.
        let mut groups: Vec<&GroupGen> = Vec::new();
        if let Some(gs) = &self.groups {
            let mut seen = BTreeSet::new();
            for g in gs {
                if seen.insert(g.id) {
                    groups.push(g);
                }
            }
        }
        let managed: BTreeSet<&str> = groups.iter().map(|g| GROUP_IDS[g.id]).collect();
        let mut external: BTreeSet<String> = EXTERNAL_IDS.iter().map(|s| (*s).to_owned()).collect();
        for id in server_groups.keys() {
            let listed = match &self.groups {
                // Groups unmanaged: users may name the server's groups.
                None => true,
                Some(_) => {
                    !managed.contains(id.as_str())
                        && GROUP_IDS
                            .iter()
                            .position(|g| g == id)
                            .is_some_and(|i| self.extra_external.get(i) == Some(&true))
                }
            };
            if listed {
                external.insert(id.clone());
            }
        }
        let known = |id: &str| managed.contains(id) || external.contains(id);
        // The parent each group asks for, decided in rank order: a
        // reference is kept only when it names a known group and closes no
        // cycle among the parents kept so far.
        let mut order: Vec<&GroupGen> = groups.clone();
        order.sort_by_key(|g| (g.rank, g.id));
        let mut parents: BTreeMap<&str, ParentRef> = BTreeMap::new();
        for g in order {
            let id = GROUP_IDS[g.id];
            let wanted = match &g.parent {
                ParentGen::Omitted => None,
                ParentGen::Root => Some(ParentRef::Root),
                ParentGen::Ref(i) => Some(ParentRef::Group(group_ref(*i).to_owned())),
                ParentGen::ServerChild(n) => {
                    let children: Vec<&String> = server_groups
                        .iter()
                        .filter(|(_, s)| s.parent.as_deref() == Some(id))
                        .map(|(c, _)| c)
                        .collect();
                    (!children.is_empty())
                        .then(|| ParentRef::Group(children[n % children.len()].clone()))
                }
            };
            let parent = match wanted {
                Some(ParentRef::Group(p)) => {
                    // Walk up the parents kept so far: reaching `id` is a cycle.
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
                    } else if g.rank % 2 == 0 {
                        ParentRef::Omitted
                    } else {
                        ParentRef::Root
                    }
                }
                Some(other) => other,
                None => ParentRef::Omitted,
            };
            parents.insert(id, parent);
        }
        if self.groups.is_some() {
            org.groups = Some(
                groups
                    .iter()
                    .map(|g| {
                        let id = GROUP_IDS[g.id];
                        let mut d = DesiredGroup::new(id, GROUP_NAMES[g.name]);
                        d.description = g.description.map(|i| match i {
                            0 => String::new(),
                            i => format!("Description {i}"),
                        });
                        d.parent = parents.get(id).cloned().unwrap_or_default();
                        d.protected = g.protected;
                        d
                    })
                    .collect(),
            );
        }

        if let Some(us) = &self.users {
            let mut seen = BTreeSet::new();
            let mut emails = BTreeSet::new();
            let mut phones = BTreeSet::new();
            let mut users = Vec::new();
            for u in us {
                if !seen.insert(u.id) {
                    continue;
                }
                let id = USER_IDS[u.id];
                let mut email = EMAILS[u.email].to_owned();
                if !emails.insert(email.to_lowercase()) {
                    email = format!("{id}@example.com");
                    emails.insert(email.clone());
                }
                let mut d = DesiredUser::new(id, FIRST_NAMES[u.first], LAST_NAMES[u.last], &email);
                d.phone = match u.phone {
                    None => None,
                    Some(0) => Some(String::new()),
                    Some(i) => Some(PHONES[i - 1].to_owned()).filter(|p| phones.insert(p.clone())),
                };
                d.active = u.active;
                d.timezone = u.timezone.map(|i| TIME_ZONES[i].to_owned());
                d.language = u.language.map(|i| LANGUAGES[i].to_owned());
                for (list, drawn) in AccessList::ALL.into_iter().zip(&u.lists) {
                    let set = drawn.as_ref().map(|refs| {
                        refs.iter()
                            .map(|i| group_ref(*i))
                            .filter(|g| known(g))
                            .map(str::to_owned)
                            .collect::<BTreeSet<String>>()
                    });
                    match list {
                        AccessList::MemberOf => d.access_info.member_of = set,
                        AccessList::AdminOf => d.access_info.admin_of = set,
                        AccessList::InheritedAdminOf => d.access_info.inherited_admin_of = set,
                        AccessList::InterestOf => d.access_info.interest_of = set,
                    }
                }
                d.access_info.role = u.role.map(|i| Role::ALL[i]);
                for (k, v) in &u.properties {
                    d.external_properties.insert(
                        ATTRIBUTE_KEYS[*k].to_owned(),
                        ATTRIBUTE_VALUES[*v].to_owned(),
                    );
                }
                d.protected = u.protected;
                users.push(d);
            }
            org.users = Some(users);
        }
        org.external_groups = external;
        if let Err(d) = orgform_spec::validate_org(org.clone()) {
            panic!(
                "the generator made an invalid org:\n{}\n{org:#?}",
                d.render(false)
            );
        }
        org
    }
}
