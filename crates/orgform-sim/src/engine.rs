//! The API's semantics as a pure function: an account, the managed records
//! it holds, and a request body in; the answer and the next managed records
//! out. No IO, no clock, no locking: the server wraps it.
//!
//! The order of work is the all-or-nothing rule made literal: parse, compute
//! the complete next state, validate it, and only then hand it back for the
//! server to swap in.

use std::collections::{BTreeMap, BTreeSet};

use orgform_frankly::wire::{
    ApiError, Counts, OrganizationRequest, OrganizationResponse, WireAccessInfo, WireGroup,
    WireSettings, WireUser,
};
use orgform_model::{
    AccessList, AttributeDef, DEFAULT_LIMIT, EffGroup, EffUser, LimitName, MAX_LIMIT, Role,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checks::{cycles, format_cycle, is_e164};
use crate::codes;
use crate::fixture::{Fixture, FixtureGroup, FixtureUser};

/// The managed records the emulator holds (created through the API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Managed {
    /// Managed users by externalId.
    #[serde(default)]
    pub users: BTreeMap<String, EffUser>,
    /// Managed groups by externalId.
    #[serde(default)]
    pub groups: BTreeMap<String, EffGroup>,
}

/// The account: what a fixture describes, indexed for lookups.
#[derive(Debug, Clone, Default)]
pub(crate) struct Account {
    pub fixture: Fixture,
    pub manual_groups: BTreeMap<String, FixtureGroup>,
    pub manual_user_ids: BTreeSet<String>,
    /// Lower-cased email -> the manual user's label.
    pub manual_emails: BTreeMap<String, String>,
    pub other_company_emails: BTreeSet<String>,
    /// The most a request's limits may be (`--max-per-request`; the API's
    /// 20000 by default): a request whose limit is above it is refused
    /// (`invalidRequest`, naming the setting).
    pub max_per_request: u32,
}

impl Account {
    /// Indexes a checked fixture.
    pub fn new(fixture: Fixture) -> Account {
        Account {
            manual_groups: fixture
                .groups
                .iter()
                .map(|g| (g.external_id.clone(), g.clone()))
                .collect(),
            manual_user_ids: fixture
                .users
                .iter()
                .filter_map(|u| u.external_id.clone())
                .collect(),
            manual_emails: fixture
                .users
                .iter()
                .map(|u| (u.email.to_lowercase(), u.label()))
                .collect(),
            other_company_emails: fixture
                .other_company_emails
                .iter()
                .map(|e| e.to_lowercase())
                .collect(),
            fixture,
            max_per_request: MAX_LIMIT,
        }
    }

    /// The same account with a lower per-request cap (clamped to
    /// `1..=20000`).
    pub fn with_max_per_request(mut self, cap: u32) -> Account {
        self.max_per_request = cap.clamp(1, MAX_LIMIT);
        self
    }

    fn manual_users(&self) -> &[FixtureUser] {
        &self.fixture.users
    }

    /// Problems with managed records loaded from a data file: collisions with
    /// manual records and dangling group references.
    pub fn check_managed(&self, managed: &Managed) -> Vec<String> {
        let mut problems = Vec::new();
        let exists = |g: &str| managed.groups.contains_key(g) || self.manual_groups.contains_key(g);
        for (id, g) in &managed.groups {
            if self.manual_groups.contains_key(id) {
                problems.push(format!("group `{id}` is also a fixture (manual) group"));
            }
            if let Some(p) = &g.parent
                && !exists(p)
            {
                problems.push(format!(
                    "group `{id}` has parent `{p}`, which does not exist"
                ));
            }
        }
        for (id, u) in &managed.users {
            if self.manual_user_ids.contains(id) {
                problems.push(format!("user `{id}` is also a fixture (manual) user"));
            }
            for list in AccessList::ALL {
                for g in u.list(list) {
                    if !exists(g) {
                        problems.push(format!(
                            "user `{id}` names group `{g}` in {}, which does not exist",
                            list.field()
                        ));
                    }
                }
            }
        }
        problems
    }
}

/// An accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The answer to send.
    pub response: OrganizationResponse,
    /// The managed records after the request; the server stores them only
    /// when `validateOnly` is false.
    pub next: Managed,
}

/// The emulator's semantics in process, without HTTP, the token or faults:
/// the same [`process`] the server runs. For tests that check another
/// component against the emulator (the wave planner's property tests).
#[derive(Debug, Clone)]
pub struct Engine {
    account: Account,
    managed: Managed,
}

impl Engine {
    /// An account from `fixture` with no managed records, taking at most
    /// `max_per_request` (clamped to `1..=20000`) changes of a kind per
    /// request.
    pub fn new(fixture: Fixture, max_per_request: u32) -> Engine {
        Engine {
            account: Account::new(fixture).with_max_per_request(max_per_request),
            managed: Managed::default(),
        }
    }

    /// Answers one request body as the server would; a request with
    /// `validateOnly: false` that is accepted is committed.
    pub fn post(&mut self, body: &[u8]) -> Result<OrganizationResponse, Vec<ApiError>> {
        let outcome = process(&self.account, &self.managed, body)?;
        if !outcome.response.validate_only {
            self.managed = outcome.next;
        }
        Ok(outcome.response)
    }

    /// The managed users held.
    pub fn users(&self) -> &BTreeMap<String, EffUser> {
        &self.managed.users
    }

    /// The managed groups held.
    pub fn groups(&self) -> &BTreeMap<String, EffGroup> {
        &self.managed.groups
    }
}

fn error(code: &str, external_id: Option<&str>, message: String) -> ApiError {
    ApiError {
        code: code.to_owned(),
        external_id: external_id.map(str::to_owned),
        message,
        setting: None,
        limit: None,
        requested: None,
    }
}

fn invalid(external_id: Option<&str>, message: String) -> ApiError {
    error(codes::INVALID_REQUEST, external_id, message)
}

fn wire_limit(s: &WireSettings, name: LimitName) -> Option<i64> {
    match name {
        LimitName::UsersCreated => s.max_users_created,
        LimitName::UsersUpdated => s.max_users_updated,
        LimitName::UsersDeleted => s.max_users_deleted,
        LimitName::GroupsCreated => s.max_groups_created,
        LimitName::GroupsUpdated => s.max_groups_updated,
        LimitName::GroupsDeleted => s.max_groups_deleted,
    }
}

fn wire_list(a: &WireAccessInfo, which: AccessList) -> Option<&Vec<String>> {
    match which {
        AccessList::MemberOf => a.member_of.as_ref(),
        AccessList::AdminOf => a.admin_of.as_ref(),
        AccessList::InheritedAdminOf => a.inherited_admin_of.as_ref(),
        AccessList::InterestOf => a.interest_of.as_ref(),
    }
}

/// Checks the body's shape before serde reads it: objects where the API
/// has objects (serde would also read a struct from a JSON array), lists
/// where it has lists. `null` where a list or object is expected is an
/// error, never a silent "omitted" (serde would read it as absent).
///
/// Returns the problems and whether the body is too malformed to go on
/// (a `null` is not: the rest of the request can still be checked).
fn shape_errors(body: &Value) -> (Vec<ApiError>, bool) {
    let mut errors = Vec::new();
    let mut fatal = false;
    let mut wrong = |errors: &mut Vec<ApiError>, message: String| {
        fatal = true;
        errors.push(invalid(None, message));
    };
    let Some(root) = body.as_object() else {
        wrong(
            &mut errors,
            "the body must be a JSON object with `settings` and `data`".to_owned(),
        );
        return (errors, fatal);
    };
    for key in ["settings", "data"] {
        if root.get(key).is_some_and(|v| !v.is_object()) {
            wrong(&mut errors, format!("`{key}` must be an object"));
        }
    }
    let Some(data) = root.get("data").and_then(Value::as_object) else {
        return (errors, fatal);
    };
    for kind in ["users", "groups"] {
        match data.get(kind) {
            None => {}
            Some(Value::Null) => errors.push(invalid(
                None,
                format!(
                    "`data.{kind}` is null; omit the key to leave {kind} unmanaged, or send [] to delete every managed one"
                ),
            )),
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_object() {
                        wrong(&mut errors, format!("`data.{kind}[{i}]` must be an object"));
                    }
                }
            }
            Some(_) => wrong(&mut errors, format!("`data.{kind}` must be a list")),
        }
    }
    let users = data.get("users").and_then(Value::as_array);
    for user in users.into_iter().flatten() {
        let id = user.get("externalId").and_then(Value::as_str);
        for key in ["accessInfo", "externalProperties"] {
            match user.get(key) {
                None => {}
                Some(Value::Null) => {
                    errors.push(invalid(id, format!("`{key}` is null; omit it instead")));
                }
                Some(Value::Object(_)) => {}
                Some(_) => wrong(&mut errors, format!("`{key}` must be an object")),
            }
        }
        if let Some(access) = user.get("accessInfo") {
            for list in AccessList::ALL {
                if access.get(list.field()).is_some_and(Value::is_null) {
                    errors.push(invalid(
                        id,
                        format!(
                            "`accessInfo.{}` is null; omit it to leave it as is, or send [] to clear it",
                            list.field()
                        ),
                    ));
                }
            }
        }
    }
    (errors, fatal)
}

/// What one kind's counts are, and whether the kind was sent.
fn count<T: PartialEq>(
    sent: bool,
    before: &BTreeMap<String, T>,
    after: &BTreeMap<String, T>,
) -> Counts {
    let mut c = Counts::default();
    if !sent {
        return c;
    }
    for (id, new) in after {
        match before.get(id) {
            None => c.created += 1,
            Some(old) if old != new => c.updated += 1,
            Some(_) => c.unchanged += 1,
        }
    }
    c.deleted = before.keys().filter(|id| !after.contains_key(*id)).count() as u64;
    c
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|s| !s.is_empty()).cloned()
}

/// Answers one request body against the account and its managed records.
///
/// `Err` holds every problem found (the server answers `400`); `Ok` holds
/// the counts and the records as they would be after the request.
pub(crate) fn process(
    account: &Account,
    current: &Managed,
    body: &[u8],
) -> Result<Outcome, Vec<ApiError>> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| vec![invalid(None, format!("the body is not valid JSON: {e}"))])?;
    let (mut errors, fatal) = shape_errors(&value);
    if fatal {
        return Err(errors);
    }
    let request: OrganizationRequest = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => {
            errors.push(invalid(
                None,
                format!("the body is not an organization request: {e}"),
            ));
            return Err(errors);
        }
    };
    let mut check = Checker {
        account,
        current,
        section: Section::Request,
        errors: errors.into_iter().map(|e| (Section::Request, e)).collect(),
    };
    let outcome = check.run(&request);
    if check.errors.is_empty() {
        return Ok(outcome);
    }
    // The answer's order: the request as a whole, then groups, then users
    // (each by externalId, a record's problems in the order found), then
    // the limits in their fixed order.
    check.errors.sort_by(|(sa, a), (sb, b)| {
        let key = |s: &Section, e: &ApiError| match s {
            Section::Groups | Section::Users => e.external_id.clone().unwrap_or_default(),
            Section::Request | Section::Limits => String::new(),
        };
        sa.cmp(sb).then_with(|| key(sa, a).cmp(&key(sb, b)))
    });
    Err(check.errors.into_iter().map(|(_, e)| e).collect())
}

/// Which part of the request a problem is about (the answer's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Request,
    Groups,
    Users,
    Limits,
}

struct Checker<'a> {
    account: &'a Account,
    current: &'a Managed,
    /// The part being checked, recorded with each problem.
    section: Section,
    errors: Vec<(Section, ApiError)>,
}

impl Checker<'_> {
    fn add(&mut self, e: ApiError) {
        self.errors.push((self.section, e));
    }

    fn push(&mut self, code: &str, external_id: Option<&str>, message: String) {
        self.add(error(code, external_id, message));
    }

    fn run(&mut self, request: &OrganizationRequest) -> Outcome {
        let settings = &request.settings;
        let validate_only = settings.validate_only.unwrap_or(true);
        let force_language = settings.force_set_language.unwrap_or(false);
        let limits = self.limits(settings);

        self.section = Section::Groups;
        let groups_req = request.data.groups.as_ref().map(|gs| self.index_groups(gs));
        self.section = Section::Users;
        let users_req = request.data.users.as_ref().map(|us| self.index_users(us));

        // Groups: the request's, or (not sent) the current ones untouched.
        let next_groups: BTreeMap<String, EffGroup> = match &groups_req {
            Some(req) => req
                .iter()
                .map(|(id, g)| {
                    let eff = effective_group(g, self.current.groups.get(*id));
                    ((*id).to_owned(), eff)
                })
                .collect(),
            None => self.current.groups.clone(),
        };
        let deleted_groups: BTreeSet<&str> = self
            .current
            .groups
            .keys()
            .filter(|id| !next_groups.contains_key(*id))
            .map(String::as_str)
            .collect();
        if let Some(req) = &groups_req {
            self.section = Section::Groups;
            self.check_groups(req, &next_groups, &deleted_groups);
            self.section = Section::Users;
        }

        let account = self.account;
        let exists = |g: &str| next_groups.contains_key(g) || account.manual_groups.contains_key(g);
        // Users: the request's, or (not sent) the current ones, minus
        // memberships of the groups this request deletes.
        let next_users: BTreeMap<String, EffUser> = match &users_req {
            Some(req) => {
                let mut out = BTreeMap::new();
                for (id, u) in req {
                    let eff = self.effective_user(
                        u,
                        self.current.users.get(*id),
                        force_language,
                        &deleted_groups,
                        &exists,
                    );
                    out.insert((*id).to_owned(), eff);
                }
                out
            }
            None => self
                .current
                .users
                .iter()
                .map(|(id, u)| {
                    let mut u = u.clone();
                    for list in AccessList::ALL {
                        u.list_mut(list)
                            .retain(|g| !deleted_groups.contains(g.as_str()));
                    }
                    (id.clone(), u)
                })
                .collect(),
        };
        if let Some(req) = &users_req {
            self.check_users(req, &next_users);
        }

        let response = OrganizationResponse {
            validate_only,
            users: count(users_req.is_some(), &self.current.users, &next_users),
            groups: count(groups_req.is_some(), &self.current.groups, &next_groups),
        };
        self.section = Section::Limits;
        self.check_limits(&limits, &response);
        Outcome {
            response,
            next: Managed {
                users: next_users,
                groups: next_groups,
            },
        }
    }

    /// The six limits (default 200); an out-of-range one is reported and
    /// left out of the limit check.
    fn limits(&mut self, s: &WireSettings) -> BTreeMap<LimitName, u32> {
        let cap = self.account.max_per_request;
        let mut out = BTreeMap::new();
        for name in LimitName::ALL {
            match wire_limit(s, name) {
                None => {
                    out.insert(name, DEFAULT_LIMIT.min(cap));
                }
                Some(v) => match u32::try_from(v) {
                    Ok(v) if v <= cap => {
                        out.insert(name, v);
                    }
                    _ => self.add(ApiError {
                        setting: Some(name.as_str().to_owned()),
                        limit: Some(v),
                        ..invalid(
                            None,
                            if cap < MAX_LIMIT {
                                format!(
                                    "`{name}` is `{v}`; this emulator takes at most {cap} \
                                     changes of a kind per request (--max-per-request), so it \
                                     must be between 0 and {cap}"
                                )
                            } else {
                                format!("`{name}` is `{v}`; it must be between 0 and {MAX_LIMIT}")
                            },
                        )
                    }),
                },
            }
        }
        out
    }

    fn check_limits(&mut self, limits: &BTreeMap<LimitName, u32>, r: &OrganizationResponse) {
        for (name, limit) in limits {
            let requested = match name {
                LimitName::UsersCreated => r.users.created,
                LimitName::UsersUpdated => r.users.updated,
                LimitName::UsersDeleted => r.users.deleted,
                LimitName::GroupsCreated => r.groups.created,
                LimitName::GroupsUpdated => r.groups.updated,
                LimitName::GroupsDeleted => r.groups.deleted,
            };
            if requested > u64::from(*limit) {
                self.add(ApiError {
                    setting: Some(name.as_str().to_owned()),
                    limit: Some((*limit).into()),
                    requested: Some(requested),
                    ..error(
                        codes::LIMIT_EXCEEDED,
                        None,
                        format!(
                            "the request {} {requested} {}{}, more than `{name}` ({limit}); nothing was changed",
                            match name {
                                LimitName::UsersCreated | LimitName::GroupsCreated => "creates",
                                LimitName::UsersUpdated | LimitName::GroupsUpdated => "updates",
                                LimitName::UsersDeleted | LimitName::GroupsDeleted => "deletes",
                            },
                            name.kind(),
                            if requested == 1 { "" } else { "s" },
                        ),
                    )
                });
            }
        }
    }

    /// The request's groups by externalId (first occurrence), after the
    /// checks that need only the group itself.
    fn index_groups<'r>(&mut self, groups: &'r [WireGroup]) -> BTreeMap<&'r str, &'r WireGroup> {
        let mut out = BTreeMap::new();
        for g in groups {
            let id = g.external_id.as_str();
            if id.is_empty() {
                self.push(
                    codes::INVALID_REQUEST,
                    None,
                    format!("group `{}` has an empty externalId", g.name),
                );
                continue;
            }
            if out.contains_key(id) {
                self.push(
                    codes::INVALID_REQUEST,
                    Some(id),
                    format!("group `{id}` is sent twice; externalIds must be unique"),
                );
            } else {
                out.insert(id, g);
            }
        }
        for (id, g) in &out {
            if g.name.is_empty() {
                self.push(
                    codes::INVALID_REQUEST,
                    Some(id),
                    format!("group `{id}` has an empty name"),
                );
            }
            if self.account.manual_groups.contains_key(*id) {
                self.push(
                    codes::MANUAL_RECORD_CONFLICT,
                    Some(id),
                    format!(
                        "group `{id}` exists as a manually created group, which the API never changes; reference it without sending it"
                    ),
                );
            }
        }
        out
    }

    /// The request's users by externalId (first occurrence), after the
    /// checks that need only the user itself.
    fn index_users<'r>(&mut self, users: &'r [WireUser]) -> BTreeMap<&'r str, &'r WireUser> {
        let mut out = BTreeMap::new();
        for u in users {
            let id = u.external_id.as_str();
            if id.is_empty() {
                self.push(
                    codes::INVALID_REQUEST,
                    None,
                    format!("user `{}` has an empty externalId", u.email),
                );
                continue;
            }
            if out.contains_key(id) {
                self.push(
                    codes::INVALID_REQUEST,
                    Some(id),
                    format!("user `{id}` is sent twice; externalIds must be unique"),
                );
            } else {
                out.insert(id, u);
            }
        }
        let mut emails: BTreeMap<String, &str> = BTreeMap::new();
        for (id, u) in &out {
            for (field, value) in [
                ("firstName", &u.first_name),
                ("lastName", &u.last_name),
                ("email", &u.email),
            ] {
                if value.is_empty() {
                    self.push(
                        codes::INVALID_REQUEST,
                        Some(id),
                        format!("user `{id}` has an empty {field}"),
                    );
                }
            }
            if let Some(role) = u.access_info.as_ref().and_then(|a| a.role.as_deref())
                && Role::parse(role).is_none()
            {
                self.push(
                    codes::INVALID_REQUEST,
                    Some(id),
                    format!(
                        "user `{id}` has role `{role}`; it must be exactly Administrator, Manager or User"
                    ),
                );
            }
            if self.account.manual_user_ids.contains(*id) {
                self.push(
                    codes::MANUAL_RECORD_CONFLICT,
                    Some(id),
                    format!(
                        "user `{id}` exists as a manually created user, which the API never changes"
                    ),
                );
            }
            if u.email.is_empty() {
                continue;
            }
            let email = u.email.to_lowercase();
            if let Some(manual) = self.account.manual_emails.get(&email) {
                self.push(
                    codes::MANUAL_RECORD_CONFLICT,
                    Some(id),
                    format!(
                        "user `{id}` has email `{}`, which the manually created user {manual} has",
                        u.email
                    ),
                );
            }
            if self.account.other_company_emails.contains(&email) {
                self.push(
                    codes::MAIL_IN_ANOTHER_COMPANY,
                    Some(id),
                    format!(
                        "user `{id}` has email `{}`, which a user of another company already has",
                        u.email
                    ),
                );
            }
            match emails.get(&email) {
                Some(first) => self.push(
                    codes::INVALID_REQUEST,
                    Some(id),
                    format!(
                        "user `{id}` has email `{}`, which user `{first}` in this request has too",
                        u.email
                    ),
                ),
                None => {
                    emails.insert(email, id);
                }
            }
        }
        out
    }

    fn check_groups(
        &mut self,
        req: &BTreeMap<&str, &WireGroup>,
        next: &BTreeMap<String, EffGroup>,
        deleted: &BTreeSet<&str>,
    ) {
        for (id, g) in req {
            let Some(parent) = next.get(*id).and_then(|e| e.parent.as_deref()) else {
                continue;
            };
            if next.contains_key(parent) || self.account.manual_groups.contains_key(parent) {
                continue;
            }
            let message = if g.parent.is_none() && deleted.contains(parent) {
                format!(
                    "group `{id}` keeps its parent `{parent}`, which this request deletes; send a new parent or null"
                )
            } else {
                format!(
                    "group `{id}` has parent `{parent}`, which neither the request nor the account has"
                )
            };
            self.push(codes::UNKNOWN_GROUP, Some(id), message);
        }
        let parents: BTreeMap<&str, &str> = next
            .iter()
            .filter_map(|(id, g)| Some((id.as_str(), g.parent.as_deref()?)))
            .collect();
        for cycle in cycles(&parents) {
            self.push(
                codes::GROUP_CYCLE,
                cycle.first().copied(),
                format!(
                    "the group hierarchy would have a cycle: {}",
                    format_cycle(&cycle)
                ),
            );
        }
    }

    /// A user's effective record after the request (see the crate docs for
    /// the rules); references to groups that will not exist are reported.
    fn effective_user(
        &mut self,
        u: &WireUser,
        old: Option<&EffUser>,
        force_language: bool,
        deleted_groups: &BTreeSet<&str>,
        exists: &dyn Fn(&str) -> bool,
    ) -> EffUser {
        let id = u.external_id.as_str();
        let mut eff = match old {
            Some(e) => e.clone(),
            None => EffUser::new(id, "", "", ""),
        };
        eff.first_name.clone_from(&u.first_name);
        eff.last_name.clone_from(&u.last_name);
        eff.email.clone_from(&u.email);
        eff.phone = non_empty(&u.phone);
        eff.active = u.active.unwrap_or(true);
        eff.timezone.clone_from(&u.timezone);
        eff.language = match old {
            None => u.language.clone(),
            Some(_) if force_language && u.language.is_some() => u.language.clone(),
            Some(e) => e.language.clone(),
        };
        let access = u.access_info.as_ref();
        for list in AccessList::ALL {
            match access.and_then(|a| wire_list(a, list)) {
                Some(given) => {
                    for g in given {
                        if !exists(g) {
                            let message = if deleted_groups.contains(g.as_str()) {
                                format!(
                                    "user `{id}` names group `{g}` in accessInfo.{}, which this request deletes",
                                    list.field()
                                )
                            } else {
                                format!(
                                    "user `{id}` names group `{g}` in accessInfo.{}, which neither the request nor the account has",
                                    list.field()
                                )
                            };
                            self.push(codes::UNKNOWN_GROUP, Some(id), message);
                        }
                    }
                    // "If provided, will clear all other memberships of
                    // managed groups not set here": others are kept.
                    let mut set: BTreeSet<String> = given.iter().cloned().collect();
                    set.extend(
                        eff.list(list)
                            .iter()
                            .filter(|g| !self.current.groups.contains_key(*g))
                            .cloned(),
                    );
                    *eff.list_mut(list) = set;
                }
                None => eff
                    .list_mut(list)
                    .retain(|g| !deleted_groups.contains(g.as_str())),
            }
        }
        if let Some(role) = access.and_then(|a| a.role.as_deref()).and_then(Role::parse) {
            eff.role = role;
        }
        if let Some(props) = &u.external_properties {
            for (k, v) in props {
                eff.external_properties.insert(k.clone(), v.clone());
            }
        }
        eff
    }

    fn check_users(&mut self, req: &BTreeMap<&str, &WireUser>, next: &BTreeMap<String, EffUser>) {
        // Who holds each phone after the request: managed users (all of them
        // are in `next`, as users were sent) and manual users.
        let mut holders: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (id, u) in next {
            if let Some(p) = u.phone.as_deref() {
                holders.entry(p).or_default().push(format!("user `{id}`"));
            }
        }
        for m in self.account.manual_users() {
            if let Some(p) = m.phone.as_deref().filter(|p| !p.is_empty()) {
                holders
                    .entry(p)
                    .or_default()
                    .push(format!("the manually created user {}", m.label()));
            }
        }
        let attributes = self.account.fixture.attributes.as_ref();
        for (id, u) in req {
            let Some(eff) = next.get(*id) else { continue };
            if let Some(phone) = eff.phone.as_deref() {
                if !is_e164(phone) {
                    self.push(
                        codes::PHONE_INCORRECT,
                        Some(id),
                        format!(
                            "user `{id}` has phone `{phone}`, which is not in E.164 form: `+`, then 8 to 15 digits, the country code not starting with 0"
                        ),
                    );
                }
                let me = format!("user `{id}`");
                let others: Vec<&String> = holders
                    .get(phone)
                    .into_iter()
                    .flatten()
                    .filter(|h| **h != me)
                    .collect();
                if !others.is_empty() {
                    let others: Vec<&str> = others.iter().map(|s| s.as_str()).collect();
                    self.push(
                        codes::PHONE_DUPLICATE,
                        Some(id),
                        format!(
                            "user `{id}` has phone `{phone}`, which {} also has",
                            others.join(" and ")
                        ),
                    );
                }
            }
            self.check_properties(id, u, eff, attributes);
        }
    }

    fn check_properties(
        &mut self,
        id: &str,
        u: &WireUser,
        eff: &EffUser,
        attributes: Option<&BTreeMap<String, AttributeDef>>,
    ) {
        for (key, value) in u.external_properties.iter().flatten() {
            let def = match attributes {
                None => None,
                Some(attrs) => match attrs.get(key) {
                    Some(def) => Some(def),
                    None => {
                        let known: Vec<&str> = attrs.keys().map(String::as_str).collect();
                        self.push(
                            codes::EXTERNAL_PROPERTIES,
                            Some(id),
                            format!(
                                "user `{id}` sets attribute `{key}`, which the account does not define (defined: {})",
                                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                            ),
                        );
                        continue;
                    }
                },
            };
            if value.is_empty() {
                self.push(
                    codes::EXTERNAL_PROPERTIES,
                    Some(id),
                    format!(
                        "user `{id}` sets attribute `{key}` to an empty value; the API cannot clear an attribute"
                    ),
                );
                continue;
            }
            if let Some(allowed) = def.and_then(|d| d.values.as_ref())
                && !allowed.contains(value)
            {
                let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
                self.push(
                    codes::EXTERNAL_PROPERTIES,
                    Some(id),
                    format!(
                        "user `{id}` sets attribute `{key}` to `{value}`, which is not allowed (allowed: {})",
                        allowed.join(", ")
                    ),
                );
            }
        }
        if !eff.active {
            return;
        }
        for (key, def) in attributes.into_iter().flatten() {
            if def.required && !eff.external_properties.contains_key(key) {
                self.push(
                    codes::EXTERNAL_PROPERTIES,
                    Some(id),
                    format!("user `{id}` is active but lacks the required attribute `{key}`"),
                );
            }
        }
    }
}

/// A group's effective record after the request: description `""` or
/// omitted = none; parent omitted = as is (root on create), `null` = root.
fn effective_group(g: &WireGroup, old: Option<&EffGroup>) -> EffGroup {
    EffGroup {
        external_id: g.external_id.clone(),
        name: g.name.clone(),
        description: non_empty(&g.description),
        parent: match &g.parent {
            None => old.and_then(|o| o.parent.clone()),
            Some(p) => p.clone(),
        },
    }
}
