//! Building the current org and its "next" version.

use std::collections::{BTreeMap, BTreeSet};

use orgform_model::{
    AttributeDef, DesiredAccess, DesiredGroup, DesiredOrg, DesiredUser, LimitName, Limits,
    ParentRef, Role, Safety, Settings, Target,
};

use crate::rng::Rng;
use crate::tables::{
    COST_CENTERS, EMPLOYMENT, FIRST_NAMES, GENDERS, LAST_NAMES, OFFICES, UNIT_WORDS,
};
use crate::{GenOptions, NextStats};

/// The root group every department hangs under.
pub(crate) const ROOT_ID: &str = "ORG-ROOT";
/// The deepest level of the department tree (the root is level 0), so the
/// tree is at most 6 levels deep.
const MAX_DEPTH: usize = 5;
/// The group created by hand in &frankly that some users may read.
pub(crate) const EXTERNAL_GROUP: &str = "MANUAL-LEADERSHIP";

/// A department group of the tree, as generated.
struct Unit {
    id: String,
    depth: usize,
    parent: Option<usize>,
    children: usize,
}

pub(crate) fn group_id(n: usize) -> String {
    format!("G{n:06}")
}

pub(crate) fn user_id(n: usize) -> String {
    format!("E{n:07}")
}

/// The current org: settings, attributes, the group tree and the users.
pub(crate) fn current(opts: &GenOptions) -> DesiredOrg {
    let rng = Rng::new(opts.seed);
    let units = tree(opts, &mut rng.fork(1));
    let mut groups = Vec::with_capacity(units.len() + 1 + EMPLOYMENT.len());
    let mut root = DesiredGroup::new(ROOT_ID, "Example Corporation");
    root.description = Some("Everyone employed by Example Corporation".to_owned());
    root.parent = ParentRef::Root;
    root.protected = Some(true);
    groups.push(root);
    for (id, name) in EMPLOYMENT {
        let mut g = DesiredGroup::new(id, name);
        g.parent = ParentRef::Root;
        groups.push(g);
    }
    let mut names = rng.fork(2);
    for (i, u) in units.iter().enumerate() {
        let words = UNIT_WORDS[(u.depth - 1).min(UNIT_WORDS.len() - 1)];
        let name = format!("{} {}", names.pick(words), i + 1);
        let mut g = DesiredGroup::new(&u.id, &name);
        if names.chance(500) {
            g.description = Some(format!("Users belonging to {name}"));
        }
        g.parent = ParentRef::Group(match u.parent {
            Some(p) => units[p].id.clone(),
            None => ROOT_ID.to_owned(),
        });
        groups.push(g);
    }
    groups.sort_by(|a, b| a.external_id.cmp(&b.external_id));

    let unit_ids: Vec<&str> = units.iter().map(|u| u.id.as_str()).collect();
    let shallow: Vec<&str> = units
        .iter()
        .filter(|u| u.depth <= 2)
        .map(|u| u.id.as_str())
        .collect();
    let mut r = rng.fork(3);
    let mut users: Vec<DesiredUser> = (1..=opts.users)
        .map(|n| user(n, &unit_ids, &shallow, &mut r))
        .collect();
    // At least one administrator, always the first user.
    if let Some(first) = users.first_mut() {
        first.access_info.role = Some(Role::Administrator);
        first.active = None;
    }

    DesiredOrg {
        target: Target {
            endpoint: Some("https://org.api.example.com/v1/organization".to_owned()),
            token_env: Some("FRANKLY_API_TOKEN".to_owned()),
            ..Target::default()
        },
        settings: Settings {
            force_set_language: false,
            limits: limits(opts.users),
        },
        attributes: Some(attributes()),
        external_groups: BTreeSet::from([EXTERNAL_GROUP.to_owned()]),
        safety: Safety {
            min_administrators: Some(1),
            ..Safety::default()
        },
        groups: Some(groups),
        users: Some(users),
    }
}

/// The six limits, raised so the "next" spec's plan (about 4% of the
/// users) passes: 5% of the users, at least the API's 200, at most 20000.
fn limits(users: usize) -> Limits {
    let mut l = Limits::default();
    let user_limit = u32::try_from(users / 20)
        .unwrap_or(u32::MAX)
        .clamp(200, 20_000);
    for name in [
        LimitName::UsersCreated,
        LimitName::UsersUpdated,
        LimitName::UsersDeleted,
    ] {
        l.set(name, user_limit);
    }
    l
}

fn attributes() -> BTreeMap<String, AttributeDef> {
    let values = |v: &[&str]| AttributeDef {
        values: Some(v.iter().map(|s| (*s).to_owned()).collect()),
        required: false,
    };
    BTreeMap::from([
        ("gender".to_owned(), values(GENDERS)),
        ("city".to_owned(), AttributeDef::default()),
        ("costCenter".to_owned(), values(COST_CENTERS)),
        (
            "hireDate".to_owned(),
            AttributeDef {
                values: None,
                required: true,
            },
        ),
    ])
}

/// About one department per ten users, each under the root or a group at
/// most [`MAX_DEPTH`]` - 1` deep: a random recursive tree, so early groups
/// become large divisions and late ones small teams.
fn tree(opts: &GenOptions, r: &mut Rng) -> Vec<Unit> {
    let count = (opts.users / 10).max(1);
    let mut units: Vec<Unit> = Vec::with_capacity(count);
    let mut open: Vec<usize> = Vec::new();
    for i in 0..count {
        // The first eight are the divisions under the root.
        let parent = if i < 8 || open.is_empty() {
            None
        } else {
            Some(open[r.below(open.len())])
        };
        let depth = parent.map_or(1, |p| units[p].depth + 1);
        if let Some(p) = parent {
            units[p].children += 1;
        }
        units.push(Unit {
            id: group_id(i + 1),
            depth,
            parent,
            children: 0,
        });
        if depth < MAX_DEPTH {
            open.push(i);
        }
    }
    units
}

fn user(n: usize, units: &[&str], shallow: &[&str], r: &mut Rng) -> DesiredUser {
    let first = r.pick(FIRST_NAMES);
    let last = r.pick(LAST_NAMES);
    let office = r.pick(OFFICES);
    let email = format!(
        "{}.{}.{n}@example.com",
        first.to_lowercase(),
        last.to_lowercase().replace(' ', "")
    );
    let mut u = DesiredUser::new(&user_id(n), first, last, &email);
    if r.chance(850) {
        u.phone = Some(format!("+{}{n:07}", office.phone_prefix));
    }
    let a = r.below(100);
    u.active = match a {
        0..=1 => Some(false),
        2..=4 => Some(true),
        _ => None,
    };
    if r.chance(950) {
        u.timezone = Some(office.timezone.to_owned());
    }
    if r.chance(900) {
        u.language = Some(office.language.to_owned());
    }

    let team = units[r.below(units.len())];
    let mut member_of = BTreeSet::from([team.to_owned()]);
    if r.chance(600) {
        member_of.insert(r.pick(EMPLOYMENT).0.to_owned());
    }
    if r.chance(300) {
        member_of.insert(units[r.below(units.len())].to_owned());
    }
    let mut access = DesiredAccess {
        member_of: Some(member_of),
        ..DesiredAccess::default()
    };
    let role = r.below(1000);
    if role < 60 {
        access.role = Some(Role::Manager);
        access.admin_of = Some(BTreeSet::from([team.to_owned()]));
    } else if role < 62 {
        access.role = Some(Role::Administrator);
    } else if role < 300 {
        access.role = Some(Role::User);
    }
    if r.chance(20) {
        access.inherited_admin_of = Some(BTreeSet::from([(*r.pick(shallow)).to_owned()]));
    }
    if r.chance(30) {
        access.interest_of = Some(BTreeSet::from([EXTERNAL_GROUP.to_owned()]));
    }
    u.access_info = access;

    // 2 to 4 external properties: hireDate (required) and gender always.
    let year = 2000 + r.below(26);
    let month = 1 + r.below(12);
    let day = 1 + r.below(28);
    let props = &mut u.external_properties;
    props.insert("hireDate".to_owned(), format!("{year}-{month:02}-{day:02}"));
    props.insert("gender".to_owned(), r.pick(GENDERS).to_string());
    if r.chance(600) {
        props.insert("city".to_owned(), office.city.to_owned());
    }
    if r.chance(400) {
        props.insert("costCenter".to_owned(), r.pick(COST_CENTERS).to_string());
    }
    u
}

/// "A few" groups of each kind of change: 2 to 10, about one per 2000.
fn few(groups: usize) -> usize {
    (groups / 2000).clamp(2, 10)
}

/// The next version of `org`: about 2% of the users changed, 1% removed,
/// 1% added, and a few groups renamed, moved, removed and added. The steps
/// draw from the seed's streams in a fixed order (the groups, then the
/// users), so one seed always gives the same next org.
pub(crate) fn next(org: &DesiredOrg, opts: &GenOptions) -> (DesiredOrg, NextStats) {
    let mut r = Rng::new(opts.seed).fork(10);
    let mut next = org.clone();
    let mut stats = NextStats::default();
    let groups = next.groups.get_or_insert_with(Vec::new);
    let users = next.users.get_or_insert_with(Vec::new);
    let g = change_groups(groups, &mut r, &mut stats);
    let mut changed = drop_removed_groups(users, &g.removed, g.replacement.as_deref());
    let n = users.len();
    remove_and_change_users(users, &mut changed, &g.added, &mut r, &mut stats);
    add_users(users, groups, &g.added, n, opts, &mut stats);
    (next, stats)
}

/// What the group step did that the user steps need.
struct GroupChanges {
    /// The externalIds of the removed groups.
    removed: BTreeSet<String>,
    /// The externalIds of the added groups, in the order added.
    added: Vec<String>,
    /// The first department group left: the team of a user whose only
    /// department was removed.
    replacement: Option<String>,
}

/// The department groups (`G…`) of an org, by index: all of them, the
/// leaves, and those at most 3 levels deep (the parents a moved or added
/// group may get).
struct Departments {
    index: BTreeMap<String, usize>,
    dept: Vec<usize>,
    leaves: Vec<usize>,
    upper: Vec<usize>,
}

impl Departments {
    fn of(groups: &[DesiredGroup]) -> Self {
        let index: BTreeMap<String, usize> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.external_id.clone(), i))
            .collect();
        let mut children: BTreeMap<&str, usize> = BTreeMap::new();
        for g in groups {
            if let Some(p) = g.parent.group() {
                *children.entry(p).or_default() += 1;
            }
        }
        let depth = |id: &str| -> usize {
            let mut d = 0;
            let mut at = id;
            while let Some(p) = index.get(at).and_then(|&i| groups[i].parent.group()) {
                d += 1;
                at = p;
            }
            d
        };
        let dept: Vec<usize> = (0..groups.len())
            .filter(|&i| groups[i].external_id.starts_with('G'))
            .collect();
        let leaves: Vec<usize> = dept
            .iter()
            .copied()
            .filter(|&i| !children.contains_key(groups[i].external_id.as_str()))
            .collect();
        let upper: Vec<usize> = dept
            .iter()
            .copied()
            .filter(|&i| depth(&groups[i].external_id) <= 3)
            .collect();
        Departments {
            index,
            dept,
            leaves,
            upper,
        }
    }
}

/// The groups picked for a change, each group at most once.
#[derive(Default)]
struct Picked {
    renamed: Vec<usize>,
    moved: Vec<usize>,
    removed: BTreeSet<String>,
}

/// The group step: only department groups change (the root and the
/// employment types stay): `k` renamed, `k` leaves removed, `k` leaves
/// moved (when there are enough upper groups), `k` added under upper
/// groups; the list sorted again.
fn change_groups(
    groups: &mut Vec<DesiredGroup>,
    r: &mut Rng,
    stats: &mut NextStats,
) -> GroupChanges {
    let d = Departments::of(groups);
    let k = few(d.dept.len());
    let picked = pick_groups(groups, &d, k, r);
    for &i in &picked.renamed {
        groups[i].name = format!("{} (renamed)", groups[i].name);
    }
    // New parents: never a removed or moved group (no cycle, no orphan).
    let parents: Vec<usize> = d
        .upper
        .iter()
        .copied()
        .filter(|i| !picked.moved.contains(i) && !picked.removed.contains(&groups[*i].external_id))
        .collect();
    move_groups(groups, &picked.moved, &parents, r);
    stats.groups_renamed = picked.renamed.len();
    stats.groups_moved = picked.moved.len();
    stats.groups_removed = picked.removed.len();
    let added = add_groups(groups, &d, k, &parents, r);
    stats.groups_added = added.len();
    let removed = picked.removed;
    groups.retain(|g| !removed.contains(&g.external_id));
    groups.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    let replacement = groups
        .iter()
        .find(|g| g.external_id.starts_with('G'))
        .map(|g| g.external_id.clone());
    GroupChanges {
        removed,
        added,
        replacement,
    }
}

/// Picks the groups to rename, remove and move, in that order.
fn pick_groups(groups: &[DesiredGroup], d: &Departments, k: usize, r: &mut Rng) -> Picked {
    let mut picked = Picked::default();
    if d.dept.is_empty() {
        return picked;
    }
    let mut touched: BTreeSet<usize> = BTreeSet::new();
    for _ in 0..k {
        if let Some(i) = take(&d.dept, r, &mut touched) {
            picked.renamed.push(i);
        }
    }
    for _ in 0..k {
        if let Some(i) = take(&d.leaves, r, &mut touched) {
            picked.removed.insert(groups[i].external_id.clone());
        }
    }
    if d.upper.len() > 2 * k + 1 {
        for _ in 0..k {
            if let Some(i) = take(&d.leaves, r, &mut touched) {
                picked.moved.push(i);
            }
        }
    }
    picked
}

/// Gives each of `moved` another parent among `parents` (64 tries).
fn move_groups(groups: &mut [DesiredGroup], moved: &[usize], parents: &[usize], r: &mut Rng) {
    for &i in moved {
        let old = groups[i].parent.clone();
        for _ in 0..64 {
            let p = groups[*r.pick(parents)].external_id.clone();
            if ParentRef::Group(p.clone()) != old {
                groups[i].parent = ParentRef::Group(p);
                break;
            }
        }
    }
}

/// Adds `k` groups (`New team N`, numbered after the existing ones) under
/// random `parents`; returns their externalIds. None without parents.
fn add_groups(
    groups: &mut Vec<DesiredGroup>,
    d: &Departments,
    k: usize,
    parents: &[usize],
    r: &mut Rng,
) -> Vec<String> {
    let mut first_new_group = d.dept.len() + 1;
    while d.index.contains_key(&group_id(first_new_group)) {
        first_new_group += 1;
    }
    let mut added = Vec::new();
    if parents.is_empty() {
        return added;
    }
    for n in first_new_group..first_new_group + k {
        let id = group_id(n);
        let mut g = DesiredGroup::new(&id, &format!("New team {n}"));
        g.parent = ParentRef::Group(groups[*r.pick(parents)].external_id.clone());
        added.push(id);
        groups.push(g);
    }
    added
}

/// Drops the users' references to removed groups (those users change); a
/// user left with an empty `memberOf` joins `replacement`. Returns the
/// indexes of the changed users.
fn drop_removed_groups(
    users: &mut [DesiredUser],
    removed: &BTreeSet<String>,
    replacement: Option<&str>,
) -> BTreeSet<usize> {
    let mut changed: BTreeSet<usize> = BTreeSet::new();
    for (i, u) in users.iter_mut().enumerate() {
        let a = &mut u.access_info;
        for list in [
            &mut a.member_of,
            &mut a.admin_of,
            &mut a.inherited_admin_of,
            &mut a.interest_of,
        ]
        .into_iter()
        .flatten()
        {
            let before = list.len();
            list.retain(|g| !removed.contains(g));
            if list.len() != before {
                changed.insert(i);
            }
        }
        if a.member_of.as_ref().is_some_and(BTreeSet::is_empty)
            && let Some(g) = replacement
        {
            a.member_of = Some(BTreeSet::from([g.to_owned()]));
        }
    }
    changed
}

/// About 1% of the users removed and 2% changed (counting those `changed`
/// already), never the first user (the guaranteed administrator).
fn remove_and_change_users(
    users: &mut Vec<DesiredUser>,
    changed: &mut BTreeSet<usize>,
    added_groups: &[String],
    r: &mut Rng,
    stats: &mut NextStats,
) {
    let n = users.len();
    let target_removed = n / 100;
    let target_changed = n / 50;
    let mut removed_users: BTreeSet<usize> = BTreeSet::new();
    let mut guard = 0;
    while removed_users.len() < target_removed && guard < 100 * n + 100 {
        guard += 1;
        let i = r.below(n);
        if i != 0 && !changed.contains(&i) {
            removed_users.insert(i);
        }
    }
    guard = 0;
    while changed.len() < target_changed && guard < 100 * n + 100 {
        guard += 1;
        let i = r.below(n);
        if i != 0 && !removed_users.contains(&i) && changed.insert(i) {
            change_user(&mut users[i], i + 1, added_groups, r);
        }
    }
    stats.users_changed = changed.len();
    stats.users_removed = removed_users.len();
    let mut i = 0;
    users.retain(|_| {
        let keep = !removed_users.contains(&i);
        i += 1;
        keep
    });
}

/// About 1% of `n` users added (numbered after them), every third in one
/// of the new groups; the list sorted again.
fn add_users(
    users: &mut Vec<DesiredUser>,
    groups: &[DesiredGroup],
    added_groups: &[String],
    n: usize,
    opts: &GenOptions,
    stats: &mut NextStats,
) {
    let units: Vec<&str> = groups
        .iter()
        .filter(|g| g.external_id.starts_with('G'))
        .map(|g| g.external_id.as_str())
        .collect();
    let shallow: Vec<&str> = units.iter().copied().take(8).collect();
    let mut ur = Rng::new(opts.seed).fork(11);
    let added = n / 100;
    let mut new_users = Vec::with_capacity(added);
    for k in 0..added {
        let num = n + 1 + k;
        let mut u = user(num, &units, &shallow, &mut ur);
        if let Some(g) = added_groups.get(k % added_groups.len().max(1))
            && k % 3 == 0
        {
            move_team(&mut u, g);
        }
        new_users.push(u);
    }
    stats.users_added = new_users.len();
    users.extend(new_users);
    users.sort_by(|a, b| a.external_id.cmp(&b.external_id));
}

/// Replaces the user's department (the first `G…` group of `memberOf`)
/// with `target`, keeping 1 to 3 memberships.
fn move_team(u: &mut DesiredUser, target: &str) {
    let m = u.access_info.member_of.get_or_insert_with(BTreeSet::new);
    if let Some(team) = m.iter().find(|g| g.starts_with('G')).cloned() {
        m.remove(&team);
    }
    m.insert(target.to_owned());
}

/// A not yet touched element of `pool` (`None` after 64 misses).
fn take(pool: &[usize], r: &mut Rng, touched: &mut BTreeSet<usize>) -> Option<usize> {
    if pool.is_empty() {
        return None;
    }
    for _ in 0..64 {
        let i = *r.pick(pool);
        if touched.insert(i) {
            return Some(i);
        }
    }
    None
}

/// One realistic change to a user's effective record.
fn change_user(u: &mut DesiredUser, n: usize, added_groups: &[String], r: &mut Rng) {
    match r.below(8) {
        0 => u.last_name = format!("{}-{}", u.last_name, r.pick(LAST_NAMES)),
        1 => {
            u.email = format!("renamed.{}", u.email);
        }
        2 => {
            u.phone = match u.phone {
                Some(_) => None,
                None => Some(format!("+{}{n:07}", OFFICES[0].phone_prefix)),
            }
        }
        3 => {
            let office = r.pick(OFFICES);
            let tz = if u.timezone.as_deref() == Some(office.timezone) {
                "Atlantic/Reykjavik"
            } else {
                office.timezone
            };
            u.timezone = Some(tz.to_owned());
            u.external_properties
                .insert("city".to_owned(), office.city.to_owned());
        }
        4 => {
            let target = match added_groups.first() {
                Some(g) if r.chance(500) => g.clone(),
                _ => "EMP-CONTR".to_owned(),
            };
            move_team(u, &target);
        }
        5 => {
            u.access_info.role = Some(match u.access_info.role {
                Some(Role::Manager) => Role::User,
                _ => Role::Manager,
            })
        }
        6 => u.active = Some(u.active == Some(false)),
        _ => {
            let cc = u.external_properties.get("costCenter").cloned();
            let next = COST_CENTERS
                .iter()
                .find(|c| Some(**c) != cc.as_deref())
                .copied()
                .unwrap_or("CC-100");
            u.external_properties
                .insert("costCenter".to_owned(), next.to_owned());
        }
    }
}
