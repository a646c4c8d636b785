//! Waves (DESIGN section 7): a plan larger than one request, split into
//! successive full-state requests, each a valid intermediate organization.
//!
//! The API takes at most 20,000 creates, updates or deletes of a kind per
//! request (`target.maxPerRequest` lowers the cap). [`assign`] gives every
//! change of a plan a wave, pure and deterministic:
//!
//! - **Needs.** A change waits for what it needs, landing in the same wave
//!   or a later one: a group created (or re-parented) after the changes of
//!   its new ancestors, so no intermediate hierarchy has a cycle; a user
//!   after the creation of every group its lists name; a group deletion
//!   after the change of every user whose lists name it (a member whose
//!   `memberOf` the spec omits gets its list sent explicitly, see
//!   [`crate::Plan::wave_request`]) and of every child group; a user taking
//!   an email (compared case-insensitively) or a phone after the deletion or
//!   update that frees it.
//! - **Together.** Changes that need each other (a swap or a rotation of
//!   emails or phones) form one unit (a strongly connected component of the
//!   needs) and share a wave.
//! - **Fill.** Waves fill in plan order: for each wave, the units not yet
//!   placed are taken in plan order, each with the units it still needs,
//!   while every one of the six counts stays within the cap and the active
//!   managed Administrators stay at or above min(`safety.minAdministrators`,
//!   the Administrators before the apply) (so a promotion lands before, or
//!   with, the demotion or deletion it replaces). Passes repeat while they
//!   place something (a unit passed over for the administrators may fit
//!   after a later promotion of the same wave).
//! - **Impossible.** A unit above the cap, or units no order can place
//!   without dropping below the administrators' floor, block the plan
//!   (`wavesImpossible`, naming the records and the way out: two applies,
//!   via an interim value the user chooses). orgform never invents interim
//!   values. The unplaced changes go into one last wave, so that every
//!   change still has a wave to show.
//!
//! A record not yet due is sent at the state's values (the fields the spec
//! manages; what it omits stays omitted); a record already deleted is
//! absent; every record's change lands in exactly one wave, so each wave's
//! server counts are that wave's changes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use orgform_model::{
    AccessList, DesiredGroup, DesiredOrg, DesiredUser, EffGroup, EffUser, EffectiveOrg, Kind,
    LimitName, Limits, MAX_LIMIT, ParentRef, Role,
};

use crate::doc::{Action, Change, Wave};

/// What the waves of a plan need after planning: which wave each record's
/// change lands in, and the state's values of the records that change
/// (kept only for a plan of more than one wave).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WaveData {
    /// The per-request cap.
    pub cap: u32,
    /// Each wave's counts.
    pub waves: Vec<Wave>,
    /// The action and (0-based) wave of each changed user.
    pub users: BTreeMap<String, (Action, usize)>,
    /// The action and (0-based) wave of each changed group.
    pub groups: BTreeMap<String, (Action, usize)>,
    /// The state's value of every user whose record changes (updates,
    /// deletions, and with `users` omitted the users a group deletion
    /// touches); empty for a single wave.
    pub old_users: BTreeMap<String, EffUser>,
    /// The state's value of every group that is updated or deleted.
    pub old_groups: BTreeMap<String, EffGroup>,
}

/// A set of changes the planner could not place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Impossible {
    /// The kind, when every record concerned is of one kind.
    pub kind: Option<Kind>,
    /// The records concerned, sorted.
    pub ids: Vec<String>,
    /// Why, and the way out.
    pub message: String,
}

/// The counts of one unit: users create/update/delete, groups c/u/d.
type Counts = [usize; 6];

fn slot(kind: Kind, action: Action) -> usize {
    let k = match kind {
        Kind::User => 0,
        Kind::Group => 3,
    };
    k + match action {
        Action::Create => 0,
        Action::Update => 1,
        Action::Delete => 2,
    }
}

fn is_admin(u: &EffUser) -> bool {
    u.active && u.role == Role::Administrator
}

/// Gives each change of `changes` (in plan order) a 0-based wave.
/// Returns the waves per change and what could not be placed.
pub(crate) fn assign(
    org: &DesiredOrg,
    old: &EffectiveOrg,
    after: &EffectiveOrg,
    changes: &[Change],
    cap: u32,
) -> (Vec<usize>, Vec<Impossible>) {
    if changes.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let needs = needs(old, after, changes);
    let (comp, n_comps) = components(&needs);
    let units = Units::new(old, after, changes, &needs, &comp, n_comps);
    // A plan that ends below the floor is blocked (`minAdministrators`)
    // already; its waves need not keep what the end does not.
    let floor = if org.users.is_some() {
        let before = old.users.values().filter(|u| is_admin(u)).count();
        let end = after.users.values().filter(|u| is_admin(u)).count();
        (org.safety.min_administrators.unwrap_or(0) as usize)
            .min(before)
            .min(end)
    } else {
        0
    };
    let before_admins = old.users.values().filter(|u| is_admin(u)).count() as i64;
    let mut fill = Fill {
        units: &units,
        cap: cap as usize,
        floor: floor as i64,
        wave_of: vec![None; n_comps],
    };
    let impossible = fill.run(before_admins, changes);
    let last = fill.wave_of.iter().flatten().max().copied().unwrap_or(0);
    let waves = comp
        .iter()
        .map(|c| fill.wave_of[*c].unwrap_or(last))
        .collect();
    (waves, impossible)
}

/// `needs[i]`: the changes that must land in the same wave as change `i`
/// or before it.
fn needs(old: &EffectiveOrg, after: &EffectiveOrg, changes: &[Change]) -> Vec<Vec<usize>> {
    let mut users: HashMap<&str, usize> = HashMap::new();
    let mut groups: HashMap<&str, usize> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        match c.kind {
            Kind::User => users.insert(c.external_id.as_str(), i),
            Kind::Group => groups.insert(c.external_id.as_str(), i),
        };
    }
    let action = |i: usize| changes[i].action;
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
    group_needs(old, after, changes, &groups, &mut out);
    // Users: groups created before the users naming them; deletions of
    // groups after the users that name them.
    for (i, c) in changes.iter().enumerate() {
        if c.kind != Kind::User {
            continue;
        }
        if let Some(u) = after.users.get(&c.external_id) {
            for list in AccessList::ALL {
                for g in u.list(list) {
                    if let Some(&j) = groups.get(g.as_str())
                        && action(j) == Action::Create
                    {
                        out[i].push(j);
                    }
                }
            }
        }
        if let Some(prev) = old.users.get(&c.external_id) {
            for list in AccessList::ALL {
                for g in prev.list(list) {
                    if let Some(&j) = groups.get(g.as_str())
                        && action(j) == Action::Delete
                    {
                        out[j].push(i);
                    }
                }
            }
        }
    }
    freed_values(old, after, changes, &users, &mut out);
    for n in &mut out {
        n.sort_unstable();
        n.dedup();
    }
    out
}

/// A group upsert after the upserts of its new ancestors (through unchanged
/// groups); a group deletion after the changes of its children.
fn group_needs(
    old: &EffectiveOrg,
    after: &EffectiveOrg,
    changes: &[Change],
    groups: &HashMap<&str, usize>,
    out: &mut [Vec<usize>],
) {
    for (i, c) in changes.iter().enumerate() {
        if c.kind != Kind::Group {
            continue;
        }
        if c.action != Action::Delete {
            let mut parent = after
                .groups
                .get(&c.external_id)
                .and_then(|g| g.parent.as_deref());
            // Bounded: a cyclic hierarchy (a blocked plan) must not loop.
            let mut steps = after.groups.len();
            while let Some(p) = parent {
                if steps == 0 {
                    break;
                }
                steps -= 1;
                match groups.get(p) {
                    Some(&j) if changes[j].action != Action::Delete => {
                        out[i].push(j);
                        break;
                    }
                    _ => parent = after.groups.get(p).and_then(|g| g.parent.as_deref()),
                }
            }
        }
        if let Some(parent) = old
            .groups
            .get(&c.external_id)
            .and_then(|g| g.parent.as_deref())
            && let Some(&j) = groups.get(parent)
            && changes[j].action == Action::Delete
        {
            out[j].push(i);
        }
    }
}

/// A user taking an email or a phone after the change that frees it.
fn freed_values(
    old: &EffectiveOrg,
    after: &EffectiveOrg,
    changes: &[Change],
    users: &HashMap<&str, usize>,
    out: &mut [Vec<usize>],
) {
    // Values held in the state by users whose change gives them up.
    let mut emails: HashMap<String, usize> = HashMap::new();
    let mut phones: HashMap<&str, usize> = HashMap::new();
    for (id, &i) in users {
        let Some(prev) = old.users.get(*id) else {
            continue;
        };
        let next = after.users.get(*id);
        let email = prev.email.to_lowercase();
        if next.is_none_or(|n| n.email.to_lowercase() != email) {
            emails.insert(email, i);
        }
        if let Some(p) = prev.phone.as_deref()
            && next.is_none_or(|n| n.phone.as_deref() != Some(p))
        {
            phones.insert(p, i);
        }
    }
    for (i, c) in changes.iter().enumerate() {
        if c.kind != Kind::User || c.action == Action::Delete {
            continue;
        }
        let Some(next) = after.users.get(&c.external_id) else {
            continue;
        };
        let prev = old.users.get(&c.external_id);
        let email = next.email.to_lowercase();
        if prev.is_none_or(|p| p.email.to_lowercase() != email)
            && let Some(&j) = emails.get(&email)
            && j != i
        {
            out[i].push(j);
        }
        if let Some(p) = next.phone.as_deref()
            && prev.is_none_or(|o| o.phone.as_deref() != Some(p))
            && let Some(&j) = phones.get(p)
            && j != i
        {
            out[i].push(j);
        }
    }
}

/// The strongly connected components of the needs (Tarjan's algorithm,
/// iterative): changes that need each other share a wave. Returns each
/// change's component and the number of components.
fn components(needs: &[Vec<usize>]) -> (Vec<usize>, usize) {
    const NONE: usize = usize::MAX;
    let n = needs.len();
    let mut index = vec![NONE; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![NONE; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut next_index = 0;
    let mut n_comps = 0;
    for root in 0..n {
        if index[root] != NONE {
            continue;
        }
        // (node, next edge to look at)
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut e)) = work.last_mut() {
            if let Some(&w) = needs[v].get(*e) {
                *e += 1;
                if index[w] == NONE {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp[w] = n_comps;
                    if w == v {
                        break;
                    }
                }
                n_comps += 1;
            }
        }
    }
    (comp, n_comps)
}

/// The components as units of placement.
struct Units {
    /// Units in plan order (of their first change).
    order: Vec<usize>,
    /// Each unit's changes (indices into the plan's changes).
    members: Vec<Vec<usize>>,
    /// Each unit's needs (other units).
    needs: Vec<Vec<usize>>,
    counts: Vec<Counts>,
    /// Change of the active managed Administrators.
    admins: Vec<i64>,
}

impl Units {
    fn new(
        old: &EffectiveOrg,
        after: &EffectiveOrg,
        changes: &[Change],
        needs: &[Vec<usize>],
        comp: &[usize],
        n: usize,
    ) -> Units {
        let mut members = vec![Vec::new(); n];
        let mut unit_needs: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut counts = vec![[0; 6]; n];
        let mut admins = vec![0i64; n];
        for (i, c) in changes.iter().enumerate() {
            let u = comp[i];
            members[u].push(i);
            counts[u][slot(c.kind, c.action)] += 1;
            unit_needs[u].extend(needs[i].iter().map(|j| comp[*j]).filter(|v| *v != u));
            if c.kind == Kind::User {
                let was = old.users.get(&c.external_id).is_some_and(is_admin);
                let is = after.users.get(&c.external_id).is_some_and(is_admin);
                admins[u] += i64::from(is) - i64::from(was);
            }
        }
        for n in &mut unit_needs {
            n.sort_unstable();
            n.dedup();
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|u| members[*u][0]);
        Units {
            order,
            members,
            needs: unit_needs,
            counts,
            admins,
        }
    }
}

struct Fill<'a> {
    units: &'a Units,
    cap: usize,
    floor: i64,
    wave_of: Vec<Option<usize>>,
}

impl Fill<'_> {
    /// Places every unit it can; returns what it could not place.
    fn run(&mut self, mut admins: i64, changes: &[Change]) -> Vec<Impossible> {
        let units = self.units;
        let over: Vec<usize> = (0..units.members.len())
            .filter(|u| units.counts[*u].iter().any(|c| *c > self.cap))
            .collect();
        let mut remaining: Vec<usize> = units
            .order
            .iter()
            .copied()
            .filter(|u| !over.contains(u))
            .collect();
        let mut wave = 0;
        while !remaining.is_empty() {
            let mut used: Counts = [0; 6];
            let mut full: Vec<bool> = vec![false; units.members.len()];
            let mut placed_any = false;
            loop {
                let mut progress = false;
                for &u in &remaining {
                    if self.wave_of[u].is_none()
                        && self.admit(u, wave, &mut used, &mut admins, &mut full)
                    {
                        progress = true;
                    }
                }
                placed_any |= progress;
                if !progress {
                    break;
                }
            }
            if !placed_any {
                break;
            }
            remaining.retain(|u| self.wave_of[*u].is_none());
            wave += 1;
        }
        let mut out = Vec::new();
        for u in over {
            out.push(self.over_cap(u, changes));
        }
        // What is left waits for an over-cap unit or for the floor.
        let stuck: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|u| self.wave_of[*u].is_none())
            .collect();
        let admin_stuck: Vec<usize> = stuck
            .iter()
            .copied()
            .filter(|u| units.admins[*u] < 0)
            .collect();
        if !admin_stuck.is_empty() && out.is_empty() {
            out.push(self.floor_blocked(&admin_stuck, changes));
        }
        out
    }

    /// Places `u` in `wave` with every unit it still needs, if all of them
    /// fit the cap and keep the administrators at or above the floor.
    fn admit(
        &mut self,
        u: usize,
        wave: usize,
        used: &mut Counts,
        admins: &mut i64,
        full: &mut [bool],
    ) -> bool {
        let units = self.units;
        let mut closure: Vec<usize> = vec![u];
        let mut seen: BTreeSet<usize> = BTreeSet::from([u]);
        let mut i = 0;
        while i < closure.len() {
            let v = closure[i];
            i += 1;
            if full[v] || units.counts[v].iter().any(|c| *c > self.cap) {
                full[u] = true;
                return false;
            }
            for &w in &units.needs[v] {
                if self.wave_of[w].is_none() && seen.insert(w) {
                    closure.push(w);
                }
            }
        }
        let mut sum = *used;
        let mut delta = 0;
        for &v in &closure {
            for (s, c) in sum.iter_mut().zip(units.counts[v]) {
                *s += c;
            }
            delta += units.admins[v];
        }
        if sum.iter().any(|c| *c > self.cap) {
            // Capacity only shrinks within a wave: any set holding `u`
            // fails too.
            full[u] = true;
            return false;
        }
        if delta < 0 && *admins + delta < self.floor {
            return false;
        }
        *used = sum;
        *admins += delta;
        for v in closure {
            self.wave_of[v] = Some(wave);
        }
        true
    }

    fn over_cap(&self, u: usize, changes: &[Change]) -> Impossible {
        let units = self.units;
        let (kind, ids) = records(&units.members[u], changes);
        let counts = units.counts[u];
        let worst = (0..6).max_by_key(|s| counts[*s]).unwrap_or(0);
        let name = LimitName::ALL[worst];
        Impossible {
            kind,
            message: format!(
                "{} must land in one request (they take each other's emails or phones), \
                 which needs {} for `{name}`, more than the {} changes of a kind a request \
                 may carry; apply it in two steps: first a spec that gives some of them an \
                 interim email or phone of your choice (one nobody holds), then this spec",
                show_records(&ids),
                counts[worst],
                self.cap
            ),
            ids,
        }
    }

    fn floor_blocked(&self, stuck: &[usize], changes: &[Change]) -> Impossible {
        let members: Vec<usize> = stuck
            .iter()
            .flat_map(|u| self.units.members[*u].iter().copied())
            .collect();
        let (kind, ids) = records(&members, changes);
        Impossible {
            kind,
            message: format!(
                "no order of requests keeps at least {} active managed Administrator{} \
                 while {} lose the role; apply it in two steps: first a spec that makes \
                 another user an Administrator, then this spec",
                self.floor,
                if self.floor == 1 { "" } else { "s" },
                show_records(&ids)
            ),
            ids,
        }
    }
}

fn records(members: &[usize], changes: &[Change]) -> (Option<Kind>, Vec<String>) {
    let kinds: BTreeSet<Kind> = members.iter().map(|i| changes[*i].kind).collect();
    let mut ids: Vec<String> = members
        .iter()
        .map(|i| changes[*i].external_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    let kind = if kinds.len() == 1 {
        kinds.into_iter().next()
    } else {
        None
    };
    (kind, ids)
}

fn show_records(ids: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut s: Vec<String> = ids.iter().take(SHOWN).map(|i| format!("`{i}`")).collect();
    if ids.len() > SHOWN {
        s.push(format!("and {} more", ids.len() - SHOWN));
    }
    format!("the changes of {}", s.join(", "))
}

/// Each wave's counts, from the changes' waves.
pub(crate) fn counts(changes: &[Change], waves: &[usize]) -> Vec<Wave> {
    let n = waves.iter().max().map_or(0, |m| m + 1);
    let mut out = vec![Wave::default(); n];
    for (c, w) in changes.iter().zip(waves) {
        let wave = &mut out[*w];
        let k = match c.kind {
            Kind::User => &mut wave.users,
            Kind::Group => &mut wave.groups,
        };
        match c.action {
            Action::Create => k.create += 1,
            Action::Update => k.update += 1,
            Action::Delete => k.delete += 1,
        }
    }
    out
}

impl WaveData {
    /// The limits of wave `k`: deletion limits are its planned deletions;
    /// create and update limits the spec's, capped at the per-request cap.
    pub fn limits(&self, spec: &Limits, k: usize) -> Limits {
        let mut out = *spec;
        let cap = self.cap.min(MAX_LIMIT);
        for name in LimitName::ALL {
            out.set(name, out.get(name).min(cap));
        }
        let counts = self.waves.get(k).copied().unwrap_or_default();
        let n = |c: usize| u32::try_from(c).unwrap_or(u32::MAX);
        out.set(LimitName::UsersDeleted, n(counts.users.delete));
        out.set(LimitName::GroupsDeleted, n(counts.groups.delete));
        out
    }

    /// The full desired org of wave `k` (see [`crate::Plan::wave_request`]).
    pub fn request(&self, org: &DesiredOrg, after: &EffectiveOrg, k: usize) -> DesiredOrg {
        if k + 1 >= self.waves.len() {
            return org.clone();
        }
        DesiredOrg {
            target: org.target.clone(),
            settings: org.settings,
            attributes: org.attributes.clone(),
            external_groups: org.external_groups.clone(),
            safety: org.safety,
            groups: org.groups.as_ref().map(|gs| {
                request_records(gs, &self.groups, &self.old_groups, k, DesiredGroup::clone)
            }),
            users: org.users.as_ref().map(|us| {
                request_records(us, &self.users, &self.old_users, k, |u| {
                    self.due_user(u, after, k)
                })
            }),
        }
    }

    /// An updated user, due by wave `k`: as the spec has it, plus the final
    /// value of each list the spec omits that still names a group a later
    /// wave deletes (the member moves off before the group goes).
    fn due_user(&self, u: &DesiredUser, after: &EffectiveOrg, k: usize) -> DesiredUser {
        let (Some(old), Some(next)) = (
            self.old_users.get(&u.external_id),
            after.users.get(&u.external_id),
        ) else {
            return u.clone();
        };
        let mut out = u.clone();
        for list in AccessList::ALL {
            if u.access_info.list(list).is_some() {
                continue;
            }
            let later = old
                .list(list)
                .iter()
                .any(|g| matches!(self.groups.get(g), Some((Action::Delete, w)) if *w > k));
            if later {
                *desired_list(&mut out, list) = Some(next.list(list).clone());
            }
        }
        out
    }

    /// What the server holds after wave `k`.
    pub fn effective(&self, after: &EffectiveOrg, k: usize) -> EffectiveOrg {
        let mut org = after.clone();
        if k + 1 >= self.waves.len() {
            return org;
        }
        undo_later(&mut org.users, &self.users, &self.old_users, k);
        // With `users` omitted, a user loses the groups deleted so far.
        let gone = |g: &str| matches!(self.groups.get(g), Some((Action::Delete, w)) if *w <= k);
        for (id, old) in &self.old_users {
            if self.users.contains_key(id) {
                continue;
            }
            let mut u = old.clone();
            for list in AccessList::ALL {
                u.list_mut(list).retain(|g| !gone(g));
            }
            org.users.insert(id.clone(), u);
        }
        undo_later(&mut org.groups, &self.groups, &self.old_groups, k);
        let (users, groups) = (&org.users, &org.groups);
        org.protected.users.retain(|id| users.contains_key(id));
        org.protected.groups.retain(|id| groups.contains_key(id));
        org
    }
}

/// A desired record a wave's request carries, and how it is sent while
/// its change is due in a later wave.
trait Pending: Clone {
    /// Its effective record in the state.
    type Old;
    fn id(&self) -> &str;
    /// Updated by a later wave: as the state has it.
    fn as_state(&self, old: &Self::Old) -> Self;
    /// Deleted by a later wave: the state's record in full.
    fn full(old: &Self::Old) -> Self;
}

impl Pending for DesiredGroup {
    type Old = EffGroup;
    fn id(&self) -> &str {
        &self.external_id
    }
    fn as_state(&self, old: &EffGroup) -> Self {
        state_group(self, old)
    }
    fn full(old: &EffGroup) -> Self {
        full_group(old)
    }
}

impl Pending for DesiredUser {
    type Old = EffUser;
    fn id(&self) -> &str {
        &self.external_id
    }
    fn as_state(&self, old: &EffUser) -> Self {
        state_user(self, old)
    }
    fn full(old: &EffUser) -> Self {
        full_user(old)
    }
}

/// The records of one kind in wave `k`'s request, sorted by externalId: a
/// record created by a later wave is left out, one updated later is sent
/// as the state has it, one deleted later is sent in full (so nothing is
/// deleted early); one updated by wave `k` is sent as `due` gives it,
/// every other as the spec has it.
fn request_records<R: Pending>(
    records: &[R],
    planned: &BTreeMap<String, (Action, usize)>,
    old: &BTreeMap<String, R::Old>,
    k: usize,
    due: impl Fn(&R) -> R,
) -> Vec<R> {
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        match planned.get(r.id()) {
            Some((Action::Create, w)) if *w > k => {}
            Some((Action::Update, w)) if *w > k => match old.get(r.id()) {
                Some(o) => out.push(r.as_state(o)),
                None => out.push(r.clone()),
            },
            Some((Action::Update, _)) => out.push(due(r)),
            _ => out.push(r.clone()),
        }
    }
    for (id, (action, w)) in planned {
        if *action == Action::Delete
            && *w > k
            && let Some(o) = old.get(id)
        {
            out.push(R::full(o));
        }
    }
    out.sort_by(|a, b| a.id().cmp(b.id()));
    out
}

/// Undoes in `records` the changes of the waves after `k`: a record
/// created later is removed, one updated or deleted later gets the state's
/// value back.
fn undo_later<T: Clone>(
    records: &mut BTreeMap<String, T>,
    planned: &BTreeMap<String, (Action, usize)>,
    old: &BTreeMap<String, T>,
    k: usize,
) {
    for (id, (action, w)) in planned {
        if *w <= k {
            continue;
        }
        match (action, old.get(id)) {
            (Action::Create, _) => {
                records.remove(id);
            }
            (_, Some(o)) => {
                records.insert(id.clone(), o.clone());
            }
            (_, None) => {}
        }
    }
}

fn desired_list(u: &mut DesiredUser, list: AccessList) -> &mut Option<BTreeSet<String>> {
    let a = &mut u.access_info;
    match list {
        AccessList::MemberOf => &mut a.member_of,
        AccessList::AdminOf => &mut a.admin_of,
        AccessList::InheritedAdminOf => &mut a.inherited_admin_of,
        AccessList::InterestOf => &mut a.interest_of,
    }
}

/// A user not yet due: the fields the spec manages at the state's values
/// (`phone`, `active`, `timezone` are always managed: omitting them resets
/// them); what the spec omits stays omitted.
fn state_user(u: &DesiredUser, old: &EffUser) -> DesiredUser {
    let mut out = DesiredUser::new(
        &old.external_id,
        &old.first_name,
        &old.last_name,
        &old.email,
    );
    out.phone = old.phone.clone();
    out.active = Some(old.active);
    out.timezone = old.timezone.clone();
    out.language = u.language.as_ref().and(old.language.clone());
    for list in AccessList::ALL {
        if u.access_info.list(list).is_some() {
            *desired_list(&mut out, list) = Some(old.list(list).clone());
        }
    }
    out.access_info.role = u.access_info.role.map(|_| old.role);
    out.external_properties = u
        .external_properties
        .keys()
        .filter_map(|k| {
            old.external_properties
                .get(k)
                .map(|v| (k.clone(), v.clone()))
        })
        .collect();
    out
}

/// A user deleted by a later wave: the state's record, every field given.
fn full_user(old: &EffUser) -> DesiredUser {
    let mut out = DesiredUser::new(
        &old.external_id,
        &old.first_name,
        &old.last_name,
        &old.email,
    );
    out.phone = old.phone.clone();
    out.active = Some(old.active);
    out.timezone = old.timezone.clone();
    out.language = old.language.clone();
    for list in AccessList::ALL {
        *desired_list(&mut out, list) = Some(old.list(list).clone());
    }
    out.access_info.role = Some(old.role);
    out.external_properties = old.external_properties.clone();
    out
}

fn parent_ref(p: Option<&String>) -> ParentRef {
    match p {
        Some(p) => ParentRef::Group(p.clone()),
        None => ParentRef::Root,
    }
}

/// A group not yet due: the state's values; an omitted parent stays omitted.
fn state_group(g: &DesiredGroup, old: &EffGroup) -> DesiredGroup {
    let mut out = DesiredGroup::new(&old.external_id, &old.name);
    out.description = old.description.clone();
    if !g.parent.is_omitted() {
        out.parent = parent_ref(old.parent.as_ref());
    }
    out
}

/// A group deleted by a later wave: the state's record.
fn full_group(old: &EffGroup) -> DesiredGroup {
    let mut out = DesiredGroup::new(&old.external_id, &old.name);
    out.description = old.description.clone();
    out.parent = parent_ref(old.parent.as_ref());
    out
}

/// The [`WaveData`] of a plan whose changes have their waves.
pub(crate) fn data(
    old: &EffectiveOrg,
    after: &EffectiveOrg,
    changes: &[Change],
    waves: Vec<Wave>,
    cap: u32,
) -> WaveData {
    let mut data = WaveData {
        cap,
        ..WaveData::default()
    };
    for c in changes {
        let at = (c.action, c.wave.saturating_sub(1) as usize);
        match c.kind {
            Kind::User => data.users.insert(c.external_id.clone(), at),
            Kind::Group => data.groups.insert(c.external_id.clone(), at),
        };
    }
    if waves.len() > 1 {
        for (id, u) in &old.users {
            if after.users.get(id) != Some(u) {
                data.old_users.insert(id.clone(), u.clone());
            }
        }
        for (id, g) in &old.groups {
            if after.groups.get(id) != Some(g) {
                data.old_groups.insert(id.clone(), g.clone());
            }
        }
    }
    data.waves = waves;
    data
}

/// `20000` as `20,000` (also the Markdown comment's numbers).
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The line text and Markdown show for a plan of more than one request:
/// `applied in 3 waves (the API takes at most 20,000 changes of a kind per
/// request)`, naming `target.maxPerRequest` when it lowers the cap; `None`
/// for one request or none.
pub(crate) fn headline(doc: &crate::PlanDoc) -> Option<String> {
    let n = doc.waves.len();
    if n < 2 {
        return None;
    }
    let cap = doc.max_per_request as usize;
    let why = if doc.max_per_request >= MAX_LIMIT {
        format!(
            "the API takes at most {} changes of a kind per request",
            thousands(cap)
        )
    } else {
        format!(
            "`target.maxPerRequest` allows at most {} change{} of a kind per request",
            thousands(cap),
            if cap == 1 { "" } else { "s" }
        )
    };
    Some(format!("applied in {n} waves ({why})"))
}

/// One wave's counts in words: `users: 2 to create, 0 to update, 1 to
/// delete; groups: …`.
pub(crate) fn wave_counts(w: &Wave) -> String {
    let kind = |c: &crate::WaveCounts| {
        format!(
            "{} to create, {} to update, {} to delete",
            thousands(c.create),
            thousands(c.update),
            thousands(c.delete)
        )
    };
    format!("users: {}; groups: {}", kind(&w.users), kind(&w.groups))
}
