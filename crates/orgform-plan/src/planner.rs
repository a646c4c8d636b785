//! The diff: effective records after the plan, changes in apply order,
//! counts, warnings, and the guard rails.

use std::collections::{BTreeMap, BTreeSet};

use orgform_model::{
    AccessList, DesiredGroup, DesiredOrg, DesiredUser, EffGroup, EffUser, EffectiveOrg, Kind,
    LimitName, Limits, ParentRef, Protected, Role,
};
use orgform_spec::ValidatedSpec;
use serde_json::Value;

use crate::doc::{
    Action, BaseRef, BlockedCode, BlockedReason, Change, FORMAT_VERSION, FieldChange, LimitCheck,
    PlanDoc, Record, Summary, Warning, WarningCode, Wave,
};
use crate::hierarchy::Hierarchy;
use crate::{Base, Plan, PlanOptions, waves};

/// Default of `safety.maxUserDeletionPercent`.
pub const DEFAULT_MAX_USER_DELETION_PERCENT: u32 = 25;
/// Default of `safety.maxGroupDeletionPercent`.
pub const DEFAULT_MAX_GROUP_DELETION_PERCENT: u32 = 25;
/// Default of `safety.minPopulation`.
pub const DEFAULT_MIN_POPULATION: u32 = 10;

/// Collects warnings and blocked reasons.
struct Notes {
    warnings: Vec<Warning>,
    blocked: Vec<BlockedReason>,
}

impl Notes {
    fn warn(&mut self, code: WarningCode, record: Option<(Kind, &str)>, message: String) {
        self.warn_at(code, record, None, message);
    }

    fn warn_at(
        &mut self,
        code: WarningCode,
        record: Option<(Kind, &str)>,
        path: Option<&str>,
        message: String,
    ) {
        self.warnings.push(Warning {
            kind: record.map(|r| r.0),
            external_id: record.map(|r| r.1.to_owned()),
            code,
            path: path.map(str::to_owned),
            message,
        });
    }

    fn block(&mut self, code: BlockedCode, kind: Option<Kind>, ids: Vec<String>, message: String) {
        self.blocked.push(BlockedReason {
            code,
            kind,
            external_ids: ids,
            forceable: code.forceable(),
            message,
        });
    }
}

/// The plan of `spec` against `base`. See the crate docs for every rule.
///
/// Named steps, in order: the effective records after the plan
/// ([`plan_groups_after`], [`plan_users_after`], [`protected_after`]), the
/// changes and counts ([`plan_user_changes`], [`plan_group_changes`],
/// [`plan_order`]), the warnings, the guard rails, and the waves
/// ([`plan_waves`]).
pub(crate) fn plan(spec: &ValidatedSpec, base: Base<'_>, options: &PlanOptions) -> Plan {
    let org = spec.org();
    let old = base.org;
    let mut notes = Notes {
        warnings: Vec::new(),
        blocked: Vec::new(),
    };

    // Groups first: users' lists depend on which groups exist afterwards.
    let (groups_after, deleted_groups) = plan_groups_after(org, old);
    let users_after = plan_users_after(org, old, &groups_after, &deleted_groups, &mut notes);
    let protected = protected_after(org, old, &users_after, &groups_after, &mut notes);
    let after = EffectiveOrg {
        users: users_after,
        groups: groups_after,
        protected,
    };

    let mut summary = Summary::default();
    let users = plan_user_changes(org, old, &after, &mut summary);
    let group_upserts = plan_group_changes(org, old, &after, &mut summary, &mut notes);
    summary.groups.delete = if org.groups.is_some() {
        deleted_groups.len()
    } else {
        0
    };
    let hierarchy_after = Hierarchy::new(&after.groups);
    let changes = plan_order(old, &hierarchy_after, group_upserts, users, &deleted_groups);

    // Warnings about the plan as a whole and about deletions.
    if org.settings.force_set_language && org.users.is_some() {
        notes.warn(
            WarningCode::LanguageForced,
            None,
            "`forceSetLanguage` is true: every user's language is set to the spec's on each \
             apply, resetting the language users chose themselves"
                .to_owned(),
        );
    }
    deletion_warnings(old, &after, &deleted_groups, &mut notes);

    // Guard rails.
    hierarchy_checks(org, &after, &hierarchy_after, &deleted_groups, &mut notes);
    let limits = limit_checks(&org.settings.limits, &summary, &mut notes);
    protection_checks(old, &after, org, &mut notes);
    thresholds(org, old, &after, &summary, options, &mut notes);
    min_administrators(org, old, &after, &mut notes);

    let cap = org.target.max_per_request();
    let (changes, wave_counts) = plan_waves(org, old, &after, changes, cap, &mut notes);
    let waves = waves::data(old, &after, &changes, wave_counts, cap);

    notes.warnings.sort();
    notes.warnings.dedup();
    notes.blocked.sort();
    notes.blocked.dedup();

    let mut request_limits = waves.limits(&org.settings.limits, 0);
    request_limits.set(
        LimitName::UsersDeleted,
        u32::try_from(summary.users.delete).unwrap_or(u32::MAX),
    );
    request_limits.set(
        LimitName::GroupsDeleted,
        u32::try_from(summary.groups.delete).unwrap_or(u32::MAX),
    );

    let doc = PlanDoc {
        format_version: FORMAT_VERSION,
        base: BaseRef {
            lineage: base.lineage.map(str::to_owned),
            serial: base.serial,
        },
        spec_digest: spec.digest().to_owned(),
        forced: options.force,
        blocked: !notes.blocked.is_empty(),
        blocked_reasons: notes.blocked,
        summary,
        limits,
        max_per_request: cap,
        waves: waves.waves.clone(),
        changes,
        warnings: notes.warnings,
    };
    Plan {
        doc,
        effective_after: after,
        request_limits,
        waves,
    }
}

/// The groups after the plan, and the managed groups it deletes.
fn plan_groups_after<'o>(
    org: &DesiredOrg,
    old: &'o EffectiveOrg,
) -> (BTreeMap<String, EffGroup>, BTreeSet<&'o str>) {
    match &org.groups {
        Some(groups) => {
            let after: BTreeMap<String, EffGroup> = groups
                .iter()
                .map(|g| {
                    let eff = effective_group(g, old.groups.get(&g.external_id));
                    (g.external_id.clone(), eff)
                })
                .collect();
            let deleted: BTreeSet<&str> = old
                .groups
                .keys()
                .filter(|id| !after.contains_key(*id))
                .map(String::as_str)
                .collect();
            (after, deleted)
        }
        None => (old.groups.clone(), BTreeSet::new()),
    }
}

/// The users after the plan: the spec's, or (omitted) the state's minus
/// their references to deleted groups.
fn plan_users_after(
    org: &DesiredOrg,
    old: &EffectiveOrg,
    groups_after: &BTreeMap<String, EffGroup>,
    deleted_groups: &BTreeSet<&str>,
    notes: &mut Notes,
) -> BTreeMap<String, EffUser> {
    // A group is managed when it is in the state or is sent; an accessInfo
    // entry naming any other group is never cleared by the API.
    let managed_group = |g: &str| old.groups.contains_key(g) || groups_after.contains_key(g);
    let Some(users) = &org.users else {
        return unsent_users(old, deleted_groups, notes);
    };
    // Spec users ascend by externalId, so one walk of the state's map finds
    // them all (a tree search per user was a quarter of the plan's time).
    let mut old_users = Cursor::new(&old.users);
    let ctx = UserCtx {
        force_language: org.settings.force_set_language,
        deleted_groups,
        managed_group: &managed_group,
    };
    users
        .iter()
        .map(|u| {
            let eff = effective_user(u, old_users.get(&u.external_id), &ctx, notes);
            (u.external_id.clone(), eff)
        })
        .collect()
}

/// `users` omitted: the state's users, minus references to deleted groups.
fn unsent_users(
    old: &EffectiveOrg,
    deleted_groups: &BTreeSet<&str>,
    notes: &mut Notes,
) -> BTreeMap<String, EffUser> {
    let mut users = old.users.clone();
    for (id, u) in users.iter_mut() {
        let mut removed: Vec<String> = Vec::new();
        for list in AccessList::ALL {
            let set = u.list_mut(list);
            for g in set.iter().filter(|g| deleted_groups.contains(g.as_str())) {
                removed.push(format!("`{g}` ({})", list.path()));
            }
            set.retain(|g| !deleted_groups.contains(g.as_str()));
        }
        if !removed.is_empty() {
            notes.warn(
                WarningCode::MembershipRemovedWithGroup,
                Some((Kind::User, id)),
                format!(
                    "`users` is omitted, so user `{id}` is not sent, but the server drops its \
                     references to the deleted groups: {}",
                    removed.join(", ")
                ),
            );
        }
    }
    users
}

/// User creates, updates and deletes, in externalId order each.
struct UserChanges {
    creates: Vec<Change>,
    updates: Vec<Change>,
    deletes: Vec<Change>,
}

fn plan_user_changes(
    org: &DesiredOrg,
    old: &EffectiveOrg,
    after: &EffectiveOrg,
    summary: &mut Summary,
) -> UserChanges {
    let mut out = UserChanges {
        creates: Vec::new(),
        updates: Vec::new(),
        deletes: Vec::new(),
    };
    let Some(users) = &org.users else {
        return out;
    };
    let (mut after_users, mut old_users) = (Cursor::new(&after.users), Cursor::new(&old.users));
    for u in users {
        let id = &u.external_id;
        let Some(new) = after_users.get(id) else {
            continue;
        };
        match old_users.get(id) {
            None => {
                summary.users.create += 1;
                out.creates
                    .push(create(Record::User(Box::new(new.clone()))));
            }
            Some(prev) if prev != new => {
                summary.users.update += 1;
                out.updates.push(update(
                    Kind::User,
                    id,
                    Record::User(Box::new(new.clone())).label(),
                    user_fields(prev, new),
                ));
            }
            Some(_) => summary.users.unchanged += 1,
        }
    }
    let mut after_users = Cursor::new(&after.users);
    for (id, prev) in &old.users {
        if after_users.get(id).is_none() {
            summary.users.delete += 1;
            out.deletes
                .push(delete(Record::User(Box::new(prev.clone()))));
        }
    }
    out
}

/// Group creates and updates by externalId, with the `parent` warnings.
fn plan_group_changes<'s>(
    org: &'s DesiredOrg,
    old: &EffectiveOrg,
    after: &EffectiveOrg,
    summary: &mut Summary,
    notes: &mut Notes,
) -> BTreeMap<&'s str, Change> {
    let mut out: BTreeMap<&str, Change> = BTreeMap::new();
    let Some(groups) = &org.groups else {
        return out;
    };
    for g in groups {
        let id = g.external_id.as_str();
        let Some(new) = after.groups.get(id) else {
            continue;
        };
        if let (ParentRef::Omitted, Some(parent), true) =
            (&g.parent, &new.parent, old.groups.contains_key(id))
        {
            notes.warn_at(
                WarningCode::OmittedFieldKept,
                Some((Kind::Group, id)),
                Some("parent"),
                format!(
                    "`parent` of group `{id}` is omitted, so the server keeps `{parent}`; \
                     write `parent: null` to make it a root"
                ),
            );
        }
        match old.groups.get(id) {
            None => {
                summary.groups.create += 1;
                out.insert(id, create(Record::Group(new.clone())));
            }
            Some(prev) if prev != new => {
                summary.groups.update += 1;
                out.insert(
                    id,
                    update(Kind::Group, id, new.name.clone(), group_fields(prev, new)),
                );
            }
            Some(_) => summary.groups.unchanged += 1,
        }
    }
    out
}

/// The changes in apply order (section 2), before the waves.
fn plan_order(
    old: &EffectiveOrg,
    hierarchy_after: &Hierarchy<'_>,
    mut group_upserts: BTreeMap<&str, Change>,
    users: UserChanges,
    deleted_groups: &BTreeSet<&str>,
) -> Vec<Change> {
    let upsert_ids: BTreeSet<&str> = group_upserts.keys().copied().collect();
    let mut changes: Vec<Change> = Vec::new();
    for id in hierarchy_after.order(&upsert_ids, false) {
        if let Some(c) = group_upserts.remove(id) {
            changes.push(c);
        }
    }
    changes.extend(users.creates);
    changes.extend(users.updates);
    changes.extend(users.deletes);
    let hierarchy_before = Hierarchy::new(&old.groups);
    for id in hierarchy_before.order(deleted_groups, true) {
        if let Some(prev) = old.groups.get(id) {
            changes.push(delete(Record::Group(prev.clone())));
        }
    }
    changes
}

/// Gives each change its wave (1-based in the document) and puts the
/// changes in apply order: wave by wave, plan order inside each. Sets that
/// cannot be placed block the plan (`wavesImpossible`).
fn plan_waves(
    org: &DesiredOrg,
    old: &EffectiveOrg,
    after: &EffectiveOrg,
    changes: Vec<Change>,
    cap: u32,
    notes: &mut Notes,
) -> (Vec<Change>, Vec<Wave>) {
    let (wave_of, impossible) = waves::assign(org, old, after, &changes, cap);
    for i in impossible {
        notes.block(BlockedCode::WavesImpossible, i.kind, i.ids, i.message);
    }
    let counts = waves::counts(&changes, &wave_of);
    let mut placed: Vec<(usize, Change)> = wave_of.into_iter().zip(changes).collect();
    // Stable: plan order inside each wave.
    placed.sort_by_key(|(w, _)| *w);
    let changes = placed
        .into_iter()
        .map(|(w, mut c)| {
            c.wave = u32::try_from(w + 1).unwrap_or(u32::MAX);
            c
        })
        .collect();
    (changes, counts)
}

/// Lookups in a map by ascending keys in one walk: amortised O(1) each
/// instead of a tree search. A key at or below one the walk has passed
/// (never asked by the planner, whose passes all ascend) falls back to a
/// tree search, so the answer is always the map's.
struct Cursor<'a, V> {
    map: &'a BTreeMap<String, V>,
    rest: std::iter::Peekable<std::collections::btree_map::Iter<'a, String, V>>,
    passed: Option<&'a str>,
}

impl<'a, V> Cursor<'a, V> {
    fn new(map: &'a BTreeMap<String, V>) -> Self {
        Cursor {
            map,
            rest: map.iter().peekable(),
            passed: None,
        }
    }

    fn get(&mut self, key: &str) -> Option<&'a V> {
        if self.passed.is_some_and(|p| key <= p) {
            return self.map.get(key);
        }
        while let Some((k, v)) = self.rest.peek() {
            match k.as_str().cmp(key) {
                std::cmp::Ordering::Less => {
                    self.passed = Some(k.as_str());
                    self.rest.next();
                }
                std::cmp::Ordering::Equal => return Some(*v),
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }
}

fn create(record: Record) -> Change {
    Change {
        kind: kind_of(&record),
        action: Action::Create,
        external_id: record.external_id().to_owned(),
        label: record.label(),
        wave: 0,
        fields: Vec::new(),
        after: Some(record),
        before: None,
    }
}

fn delete(record: Record) -> Change {
    Change {
        kind: kind_of(&record),
        action: Action::Delete,
        external_id: record.external_id().to_owned(),
        label: record.label(),
        wave: 0,
        fields: Vec::new(),
        after: None,
        before: Some(record),
    }
}

fn update(kind: Kind, id: &str, label: String, fields: Vec<FieldChange>) -> Change {
    Change {
        kind,
        action: Action::Update,
        external_id: id.to_owned(),
        label,
        wave: 0,
        fields,
        after: None,
        before: None,
    }
}

fn kind_of(record: &Record) -> Kind {
    match record {
        Record::User(_) => Kind::User,
        Record::Group(_) => Kind::Group,
    }
}

fn non_empty(s: Option<&String>) -> Option<String> {
    s.filter(|s| !s.is_empty()).cloned()
}

/// A group after the plan: description omitted or `""` = none; parent
/// omitted = as is (root on create), `null` = root.
fn effective_group(g: &DesiredGroup, old: Option<&EffGroup>) -> EffGroup {
    EffGroup {
        external_id: g.external_id.clone(),
        name: g.name.clone(),
        description: non_empty(g.description.as_ref()),
        parent: match &g.parent {
            ParentRef::Omitted => old.and_then(|o| o.parent.clone()),
            ParentRef::Root => None,
            ParentRef::Group(p) => Some(p.clone()),
        },
    }
}

/// What [`effective_user`] needs besides the user.
struct UserCtx<'a> {
    force_language: bool,
    deleted_groups: &'a BTreeSet<&'a str>,
    managed_group: &'a dyn Fn(&str) -> bool,
}

/// A user after the plan, with the warnings its fields call for.
fn effective_user(
    u: &DesiredUser,
    old: Option<&EffUser>,
    ctx: &UserCtx<'_>,
    notes: &mut Notes,
) -> EffUser {
    let mut eff = user_as_given(u);
    let Some(old) = old else {
        for list in AccessList::ALL {
            eff.list_mut(list)
                .retain(|g| !ctx.deleted_groups.contains(g.as_str()));
        }
        return eff;
    };
    // Existing user: what is omitted is left as is.
    existing_language(u, old, ctx.force_language, &mut eff, notes);
    if u.active.is_none() && !old.active {
        let id = &u.external_id;
        notes.warn_at(
            WarningCode::UserReactivated,
            Some((Kind::User, id)),
            Some("active"),
            format!(
                "user `{id}` is deactivated and `active` is omitted, which the API reads as \
                 true: the user is reactivated; write `active: false` to keep it deactivated"
            ),
        );
    }
    for list in AccessList::ALL {
        existing_list(u, old, list, ctx, &mut eff, notes);
    }
    existing_role_and_properties(u, old, &mut eff, notes);
    eff
}

/// The user as the spec gives it, omissions at their create-time values.
fn user_as_given(u: &DesiredUser) -> EffUser {
    let access = &u.access_info;
    let mut eff = EffUser {
        external_id: u.external_id.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        email: u.email.clone(),
        phone: non_empty(u.phone.as_ref()),
        active: u.active.unwrap_or(true),
        timezone: u.timezone.clone(),
        language: u.language.clone(),
        member_of: BTreeSet::new(),
        admin_of: BTreeSet::new(),
        inherited_admin_of: BTreeSet::new(),
        interest_of: BTreeSet::new(),
        role: access.role.unwrap_or(Role::User),
        external_properties: u.external_properties.clone(),
    };
    for list in AccessList::ALL {
        if let Some(given) = access.list(list) {
            eff.list_mut(list).clone_from(given);
        }
    }
    eff
}

/// `language` of an existing user: changed only with `forceSetLanguage`.
fn existing_language(
    u: &DesiredUser,
    old: &EffUser,
    force_language: bool,
    eff: &mut EffUser,
    notes: &mut Notes,
) {
    let id = u.external_id.as_str();
    if !force_language {
        if let Some(wanted) = &u.language
            && old.language.as_ref() != Some(wanted)
        {
            notes.warn_at(
                WarningCode::LanguageNotForced,
                Some((Kind::User, id)),
                Some("language"),
                format!(
                    "user `{id}` keeps language {} although the spec says `{wanted}`: the API \
                     sets `language` only on create, unless `settings.forceSetLanguage` is true",
                    show_opt(old.language.as_deref(), "(the account default)")
                ),
            );
        }
        eff.language.clone_from(&old.language);
    } else if u.language.is_none() {
        eff.language.clone_from(&old.language);
    }
}

/// One accessInfo list of an existing user: a given list keeps the entries
/// of unmanaged groups; an omitted one is left as is; entries naming a
/// deleted group vanish.
fn existing_list(
    u: &DesiredUser,
    old: &EffUser,
    list: AccessList,
    ctx: &UserCtx<'_>,
    eff: &mut EffUser,
    notes: &mut Notes,
) {
    let id = u.external_id.as_str();
    let at = Some((Kind::User, id));
    let path = list.path();
    let previous = old.list(list);
    match u.access_info.list(list) {
        Some(given) => {
            // "If provided, will clear all other memberships of managed
            // groups not set here": other entries are kept.
            let kept: BTreeSet<String> = previous
                .iter()
                .filter(|g| !given.contains(*g) && !(ctx.managed_group)(g))
                .cloned()
                .collect();
            if !kept.is_empty() {
                notes.warn_at(
                    WarningCode::UnmanagedMembershipKept,
                    at,
                    Some(path),
                    format!(
                        "`{path}` of user `{id}` leaves out {}, which orgform does not \
                         manage: the API clears only entries of managed groups, so the \
                         server keeps {}; remove it in &frankly itself",
                        show_ids(&kept),
                        if kept.len() == 1 { "it" } else { "them" }
                    ),
                );
            }
            eff.list_mut(list).extend(kept);
        }
        None => {
            let rest: BTreeSet<String> = previous
                .iter()
                .filter(|g| !ctx.deleted_groups.contains(g.as_str()))
                .cloned()
                .collect();
            if !rest.is_empty() {
                notes.warn_at(
                    WarningCode::OmittedFieldKept,
                    at,
                    Some(path),
                    format!(
                        "`{path}` of user `{id}` is omitted, so the server keeps {}; write \
                         `{}: []` to clear it",
                        show_ids(&rest),
                        list.field()
                    ),
                );
            }
            *eff.list_mut(list) = rest;
        }
    }
    eff.list_mut(list)
        .retain(|g| !ctx.deleted_groups.contains(g.as_str()));
}

/// An omitted role and omitted externalProperties keys are left as is.
fn existing_role_and_properties(
    u: &DesiredUser,
    old: &EffUser,
    eff: &mut EffUser,
    notes: &mut Notes,
) {
    let id = u.external_id.as_str();
    let at = Some((Kind::User, id));
    if u.access_info.role.is_none() {
        eff.role = old.role;
        if old.role != Role::User {
            notes.warn_at(
                WarningCode::OmittedFieldKept,
                at,
                Some("accessInfo.role"),
                format!(
                    "`accessInfo.role` of user `{id}` is omitted, so the server keeps `{}`; the \
                     API cannot reset a role by omission: write `role: User` to change it",
                    old.role
                ),
            );
        }
    }
    for (key, value) in &old.external_properties {
        if !u.external_properties.contains_key(key) {
            eff.external_properties.insert(key.clone(), value.clone());
            let path = format!("externalProperties.{key}");
            notes.warn_at(
                WarningCode::OmittedFieldKept,
                at,
                Some(&path),
                format!(
                    "`{path}` of user `{id}` is omitted, so the server keeps `{value}`; the API \
                     cannot clear an attribute: set another value to change it"
                ),
            );
        }
    }
}

/// The protected sets after the plan: the state's, plus `protected: true`,
/// minus `protected: false`, of records that still exist.
fn protected_after(
    org: &DesiredOrg,
    old: &EffectiveOrg,
    users: &BTreeMap<String, EffUser>,
    groups: &BTreeMap<String, EffGroup>,
    notes: &mut Notes,
) -> Protected {
    let mut out = Protected {
        users: old
            .protected
            .users
            .iter()
            .filter(|id| users.contains_key(*id))
            .cloned()
            .collect(),
        groups: old
            .protected
            .groups
            .iter()
            .filter(|id| groups.contains_key(*id))
            .cloned()
            .collect(),
    };
    let flags = org
        .users
        .iter()
        .flatten()
        .map(|u| (Kind::User, &u.external_id, u.protected))
        .chain(
            org.groups
                .iter()
                .flatten()
                .map(|g| (Kind::Group, &g.external_id, g.protected)),
        );
    for (kind, id, flag) in flags {
        let set = match kind {
            Kind::User => &mut out.users,
            Kind::Group => &mut out.groups,
        };
        match flag {
            Some(true) => {
                set.insert(id.clone());
            }
            Some(false) if set.remove(id) => {
                notes.warn(
                    WarningCode::ProtectionLifted,
                    Some((kind, id)),
                    format!(
                        "{kind} `{id}` is no longer protected (`protected: false`): once this \
                         is applied, a spec without it deletes it"
                    ),
                );
            }
            Some(false) | None => {}
        }
    }
    out
}

fn deletion_warnings(
    old: &EffectiveOrg,
    after: &EffectiveOrg,
    deleted_groups: &BTreeSet<&str>,
    notes: &mut Notes,
) {
    let mut deleted_names: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for id in deleted_groups {
        let Some(g) = old.groups.get(*id) else {
            continue;
        };
        deleted_names
            .entry(g.name.to_lowercase())
            .or_default()
            .push(id);
        notes.warn(
            WarningCode::GroupHistoryDropped,
            Some((Kind::Group, id)),
            format!(
                "deleting group `{id}` ({}) drops its historic results in &frankly for good",
                show(&g.name)
            ),
        );
    }
    for (id, g) in &after.groups {
        if old.groups.contains_key(id) {
            continue;
        }
        if let Some(gone) = deleted_names.get(&g.name.to_lowercase()) {
            notes.warn(
                WarningCode::GroupNameReused,
                Some((Kind::Group, id)),
                format!(
                    "new group `{id}` is named {} like deleted group {}: &frankly treats it as \
                     a different group, and the old one's history is lost; if it is the same \
                     unit, keep its externalId",
                    show(&g.name),
                    gone.iter()
                        .map(|g| format!("`{g}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
    let mut deleted_emails: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut after_users = Cursor::new(&after.users);
    for (id, u) in &old.users {
        if after_users.get(id).is_none() {
            deleted_emails
                .entry(u.email.to_lowercase())
                .or_default()
                .push(id);
        }
    }
    let mut old_users = Cursor::new(&old.users);
    for (id, u) in &after.users {
        if old_users.get(id).is_some() {
            continue;
        }
        if let Some(gone) = deleted_emails.get(&u.email.to_lowercase()) {
            notes.warn(
                WarningCode::EmailReused,
                Some((Kind::User, id)),
                format!(
                    "new user `{id}` has the email {} of deleted user {}: probably a changed \
                     externalId; externalIds must never change, or the person loses their \
                     account and history",
                    show(&u.email),
                    gone.iter()
                        .map(|g| format!("`{g}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
}

/// Cycles, orphans and references to deleted groups.
fn hierarchy_checks(
    org: &DesiredOrg,
    after: &EffectiveOrg,
    hierarchy: &Hierarchy<'_>,
    deleted_groups: &BTreeSet<&str>,
    notes: &mut Notes,
) {
    for cycle in hierarchy.cycles() {
        let mut shown: Vec<String> = cycle.iter().map(|g| format!("`{g}`")).collect();
        if let Some(first) = shown.first().cloned() {
            shown.push(first);
        }
        notes.block(
            BlockedCode::HierarchyCycle,
            Some(Kind::Group),
            cycle.iter().map(|g| (*g).to_owned()).collect(),
            format!(
                "the group hierarchy would have a cycle (each group's parent follows it): {}; \
                 a parent left out of the spec keeps its old value, so give these groups' \
                 `parent` explicitly",
                shown.join(" -> ")
            ),
        );
    }
    // Only a plan that sends groups changes the hierarchy; an unmanaged one
    // is left as the state has it.
    if org.groups.is_some() {
        for (id, g) in &after.groups {
            let Some(parent) = g.parent.as_deref() else {
                continue;
            };
            if after.groups.contains_key(parent) {
                continue;
            }
            let message = if deleted_groups.contains(parent) {
                format!(
                    "group `{id}` would keep its parent `{parent}`, which this plan deletes; \
                     give `{id}` another `parent` (or `parent: null`), or keep `{parent}`"
                )
            } else if org.external_groups.contains(parent) {
                continue;
            } else {
                format!(
                    "group `{id}` keeps its parent `{parent}` from the state, which is neither \
                     in `groups` nor in `externalGroups`; add `{parent}` to `externalGroups` if \
                     it exists in &frankly, or give `{id}` another `parent`"
                )
            };
            notes.block(
                BlockedCode::OrphanGroup,
                Some(Kind::Group),
                vec![id.clone()],
                message,
            );
        }
    }
    if let Some(users) = &org.users {
        for u in users {
            for list in AccessList::ALL {
                for g in u.access_info.list(list).into_iter().flatten() {
                    if deleted_groups.contains(g.as_str()) {
                        notes.block(
                            BlockedCode::DeletedGroupReferenced,
                            Some(Kind::User),
                            vec![u.external_id.clone()],
                            format!(
                                "`{}` of user `{}` names `{g}`, a managed group that this plan \
                                 deletes (it is not in `groups`), so the server would refuse \
                                 the request; keep `{g}` in `groups` or drop the reference",
                                list.path(),
                                u.external_id
                            ),
                        );
                    }
                }
            }
        }
    }
}

fn limit_checks(limits: &Limits, summary: &Summary, notes: &mut Notes) -> Vec<LimitCheck> {
    LimitName::ALL
        .into_iter()
        .map(|name| {
            let counts = summary.of(name.kind());
            let planned = match name {
                LimitName::UsersCreated | LimitName::GroupsCreated => counts.create,
                LimitName::UsersUpdated | LimitName::GroupsUpdated => counts.update,
                LimitName::UsersDeleted | LimitName::GroupsDeleted => counts.delete,
            };
            let limit = limits.get(name);
            let ok = planned <= limit as usize;
            if !ok {
                notes.block(
                    BlockedCode::LimitExceeded,
                    Some(name.kind()),
                    Vec::new(),
                    format!(
                        "the plan needs `{name}` = {planned}, but the limit is {limit}; if \
                         this is intended, raise `settings.{name}` in the spec (reviewed like \
                         any change), or split the change into several applies"
                    ),
                );
            }
            LimitCheck {
                name,
                limit,
                planned,
                ok,
            }
        })
        .collect()
}

/// A protected record (as the state remembers it) that the plan deletes.
fn protection_checks(
    old: &EffectiveOrg,
    after: &EffectiveOrg,
    org: &DesiredOrg,
    notes: &mut Notes,
) {
    for (kind, key, protected, sent_empty) in [
        (
            Kind::User,
            "users",
            &old.protected.users,
            org.users.as_ref().is_some_and(Vec::is_empty),
        ),
        (
            Kind::Group,
            "groups",
            &old.protected.groups,
            org.groups.as_ref().is_some_and(Vec::is_empty),
        ),
    ] {
        for id in protected {
            let (was_there, is_there) = match kind {
                Kind::User => (old.users.contains_key(id), after.users.contains_key(id)),
                Kind::Group => (old.groups.contains_key(id), after.groups.contains_key(id)),
            };
            if !was_there || is_there {
                continue;
            }
            let how = if sent_empty {
                format!("`{key}: []` deletes every managed {kind}")
            } else {
                format!("it is not in `{key}`")
            };
            notes.block(
                BlockedCode::ProtectedDeletion,
                Some(kind),
                vec![id.clone()],
                format!(
                    "the plan deletes protected {kind} `{id}` ({how}); to delete it, first apply \
                     a spec that keeps it with `protected: false`"
                ),
            );
        }
    }
}

/// A crossed relative threshold: its code, kind and what was crossed.
type Crossed = (BlockedCode, Kind, String);

/// The relative thresholds, passed by `--force` (a `thresholdForced`
/// warning instead of a block).
fn thresholds(
    org: &DesiredOrg,
    old: &EffectiveOrg,
    after: &EffectiveOrg,
    summary: &Summary,
    options: &PlanOptions,
    notes: &mut Notes,
) {
    let safety = &org.safety;
    let min_population = safety.min_population.unwrap_or(DEFAULT_MIN_POPULATION) as usize;
    let crossed = [
        user_deletion_threshold(org, old, after, summary, min_population),
        group_deletion_threshold(org, old, summary, min_population),
        membership_loss_threshold(org, old, after, min_population),
    ];
    for (code, kind, message) in crossed.into_iter().flatten() {
        if options.force {
            notes.warn(
                WarningCode::ThresholdForced,
                None,
                format!("{message}; passed with --force (`{code}`)"),
            );
        } else {
            notes.block(
                code,
                Some(kind),
                Vec::new(),
                format!(
                    "{message}; check the spec, or pass --force if this is intended (the \
                     percentage is a `safety` setting of the spec)"
                ),
            );
        }
    }
}

/// Users deleted or deactivated, of the managed users in the state.
fn user_deletion_threshold(
    org: &DesiredOrg,
    old: &EffectiveOrg,
    after: &EffectiveOrg,
    summary: &Summary,
    min_population: usize,
) -> Option<Crossed> {
    let population = old.users.len();
    let mut after_users = Cursor::new(&after.users);
    let deactivated = old
        .users
        .iter()
        .filter(|(id, u)| after_users.get(id).is_some_and(|a| u.active && !a.active))
        .count();
    let lost = summary.users.delete + deactivated;
    let pct = org
        .safety
        .max_user_deletion_percent
        .unwrap_or(DEFAULT_MAX_USER_DELETION_PERCENT);
    (population >= min_population && over(lost, pct, population)).then(|| {
        (
            BlockedCode::UserDeletionThreshold,
            Kind::User,
            format!(
                "the plan deletes {} and deactivates {deactivated} of the {population} managed \
                 users ({}), above `safety.maxUserDeletionPercent` ({pct}%)",
                summary.users.delete,
                percent(lost, population)
            ),
        )
    })
}

/// Groups deleted, of the managed groups in the state.
fn group_deletion_threshold(
    org: &DesiredOrg,
    old: &EffectiveOrg,
    summary: &Summary,
    min_population: usize,
) -> Option<Crossed> {
    let population = old.groups.len();
    let lost = summary.groups.delete;
    let pct = org
        .safety
        .max_group_deletion_percent
        .unwrap_or(DEFAULT_MAX_GROUP_DELETION_PERCENT);
    (population >= min_population && over(lost, pct, population)).then(|| {
        (
            BlockedCode::GroupDeletionThreshold,
            Kind::Group,
            format!(
                "the plan deletes {lost} of the {population} managed groups ({}), above \
                 `safety.maxGroupDeletionPercent` ({pct}%)",
                percent(lost, population)
            ),
        )
    })
}

/// Every (user, group) pair of `memberOf` in the state that is gone
/// afterwards, whether the user or the membership goes.
fn membership_loss_threshold(
    org: &DesiredOrg,
    old: &EffectiveOrg,
    after: &EffectiveOrg,
    min_population: usize,
) -> Option<Crossed> {
    let pct = org.safety.max_membership_loss_percent?;
    let mut population = 0;
    let mut lost = 0;
    let mut after_users = Cursor::new(&after.users);
    for (id, u) in &old.users {
        population += u.member_of.len();
        let kept = after_users.get(id).map(|a| &a.member_of);
        lost += u
            .member_of
            .iter()
            .filter(|g| !kept.is_some_and(|k| k.contains(*g)))
            .count();
    }
    (population >= min_population && over(lost, pct, population)).then(|| {
        (
            BlockedCode::MembershipLossThreshold,
            Kind::User,
            format!(
                "the plan removes {lost} of the {population} group memberships \
                 (`accessInfo.memberOf`) in the state ({}), above \
                 `safety.maxMembershipLossPercent` ({pct}%)",
                percent(lost, population)
            ),
        )
    })
}

/// The minimum number of administrators (never passed by `--force`), and
/// the `noAdministratorLeft` warning: a plan that leaves no active managed
/// Administrator when the state had one.
fn min_administrators(
    org: &DesiredOrg,
    old: &EffectiveOrg,
    after: &EffectiveOrg,
    notes: &mut Notes,
) {
    if org.users.is_none() {
        return;
    }
    let is_admin = |u: &EffUser| u.active && u.role == Role::Administrator;
    let admins: Vec<&String> = after
        .users
        .iter()
        .filter(|(_, u)| is_admin(u))
        .map(|(id, _)| id)
        .collect();
    let before: Vec<&String> = old
        .users
        .iter()
        .filter(|(_, u)| is_admin(u))
        .map(|(id, _)| id)
        .collect();
    if admins.is_empty() && !before.is_empty() {
        notes.warn(
            WarningCode::NoAdministratorLeft,
            None,
            format!(
                "after the plan no active managed user has role Administrator (the state has \
                 {}): only manually created administrators, if any, could manage the account \
                 and its API tokens; keep one with `role: Administrator`, or set \
                 `safety.minAdministrators` to make this a rule",
                before
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    let min_admins = org.safety.min_administrators.unwrap_or(0) as usize;
    if min_admins > 0 && admins.len() < min_admins {
        notes.block(
            BlockedCode::MinAdministrators,
            Some(Kind::User),
            Vec::new(),
            format!(
                "after the plan {} active managed user{} would have role Administrator{}, \
                 fewer than `safety.minAdministrators` ({min_admins}); give more users \
                 `role: Administrator` (--force does not pass this rule)",
                admins.len(),
                if admins.len() == 1 { "" } else { "s" },
                if admins.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({})",
                        admins
                            .iter()
                            .map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
        );
    }
}

/// Whether `part` is more than `pct` percent of `whole` (equal is fine).
fn over(part: usize, pct: u32, whole: usize) -> bool {
    (part as u128) * 100 > (pct as u128) * (whole as u128)
}

/// `part/whole` as a percentage with one decimal, e.g. `27.3%`.
fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "0%".to_owned();
    }
    let tenths = (part as u128 * 1000 + whole as u128 / 2) / whole as u128;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

fn show(s: &str) -> String {
    format!("`{s}`")
}

fn show_opt(s: Option<&str>, none: &str) -> String {
    s.map_or_else(|| none.to_owned(), show)
}

fn show_ids(ids: &BTreeSet<String>) -> String {
    ids.iter()
        .map(|g| format!("`{g}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn string(s: &str) -> Value {
    Value::String(s.to_owned())
}

fn opt(s: Option<&String>) -> Option<Value> {
    s.map(|s| string(s))
}

fn list(set: &BTreeSet<String>) -> Value {
    Value::Array(set.iter().map(|g| string(g)).collect())
}

fn push_field(out: &mut Vec<FieldChange>, path: &str, before: Option<Value>, after: Option<Value>) {
    if before != after {
        out.push(FieldChange {
            path: path.to_owned(),
            before,
            after,
        });
    }
}

/// Each changed field of a user, in the spec's field order.
fn user_fields(a: &EffUser, b: &EffUser) -> Vec<FieldChange> {
    let mut out = Vec::new();
    push_field(
        &mut out,
        "firstName",
        Some(string(&a.first_name)),
        Some(string(&b.first_name)),
    );
    push_field(
        &mut out,
        "lastName",
        Some(string(&a.last_name)),
        Some(string(&b.last_name)),
    );
    push_field(
        &mut out,
        "email",
        Some(string(&a.email)),
        Some(string(&b.email)),
    );
    push_field(
        &mut out,
        "phone",
        opt(a.phone.as_ref()),
        opt(b.phone.as_ref()),
    );
    push_field(
        &mut out,
        "active",
        Some(Value::Bool(a.active)),
        Some(Value::Bool(b.active)),
    );
    push_field(
        &mut out,
        "timezone",
        opt(a.timezone.as_ref()),
        opt(b.timezone.as_ref()),
    );
    push_field(
        &mut out,
        "language",
        opt(a.language.as_ref()),
        opt(b.language.as_ref()),
    );
    for l in AccessList::ALL {
        push_field(
            &mut out,
            l.path(),
            Some(list(a.list(l))),
            Some(list(b.list(l))),
        );
    }
    push_field(
        &mut out,
        "accessInfo.role",
        Some(string(a.role.as_str())),
        Some(string(b.role.as_str())),
    );
    let keys: BTreeSet<&String> = a
        .external_properties
        .keys()
        .chain(b.external_properties.keys())
        .collect();
    for key in keys {
        push_field(
            &mut out,
            &format!("externalProperties.{key}"),
            opt(a.external_properties.get(key)),
            opt(b.external_properties.get(key)),
        );
    }
    out
}

/// Each changed field of a group, in the spec's field order.
fn group_fields(a: &EffGroup, b: &EffGroup) -> Vec<FieldChange> {
    let mut out = Vec::new();
    push_field(
        &mut out,
        "name",
        Some(string(&a.name)),
        Some(string(&b.name)),
    );
    push_field(
        &mut out,
        "description",
        opt(a.description.as_ref()),
        opt(b.description.as_ref()),
    );
    push_field(
        &mut out,
        "parent",
        opt(a.parent.as_ref()),
        opt(b.parent.as_ref()),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_answers_like_the_map_in_any_order() {
        let map: BTreeMap<String, u32> = [("b", 1), ("d", 2), ("f", 3)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let keys = ["a", "b", "c", "d", "e", "f", "g"];
        let mut orders: Vec<Vec<&str>> = vec![keys.to_vec(), keys.iter().rev().copied().collect()];
        orders.push(vec!["d", "b", "d", "g", "f", "a", "f"]);
        orders.push(vec!["g", "b"]);
        for order in orders {
            let mut cursor = Cursor::new(&map);
            for k in &order {
                assert_eq!(cursor.get(k), map.get(*k), "{k} in {order:?}");
            }
        }
    }

    #[test]
    fn over_is_strict_and_percent_rounds() {
        assert!(!over(25, 25, 100));
        assert!(over(26, 25, 100));
        assert!(!over(2, 25, 9));
        assert!(over(3, 25, 11));
        assert!(!over(0, 0, 10));
        assert!(over(1, 0, 10));
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(2, 3), "66.7%");
        assert_eq!(percent(0, 0), "0%");
    }
}
