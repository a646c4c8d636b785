//! The organization model shared by every orgform crate.
//!
//! Two families of types live here, and the difference between them is the
//! heart of orgform:
//!
//! - **Desired** records ([`DesiredOrg`], [`DesiredUser`], [`DesiredGroup`]):
//!   what a spec asks for. Every field the API lets a client omit is an
//!   `Option` (or [`ParentRef`]), because "omitted" and "given" mean different
//!   things to the API (DESIGN section 2). A desired org is exactly what is
//!   sent to &frankly, plus orgform-only settings that are never sent.
//! - **Effective** records ([`EffectiveOrg`], [`EffUser`], [`EffGroup`]): what
//!   the server holds after an apply, with every omission resolved (an
//!   unforced language keeps its old value, an omitted list keeps its old
//!   members, memberships of a deleted group vanish). The state stores
//!   effective records; the planner predicts them; "updated" means the
//!   effective record changes.
//!
//! This crate has no IO and knows neither YAML nor the wire format.
//!
//! ```
//! use orgform_model::{EffUser, Role};
//! let user = EffUser::new("E1", "Ada", "Lovelace", "ada@example.com");
//! assert_eq!(user.role, Role::User);
//! assert!(user.active);
//! ```

pub mod palette;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The largest value the API accepts for any of the six limits in one
/// request ("Max is 20 000"): the per-request cap. A plan above it goes in
/// waves (DESIGN section 7).
pub const MAX_LIMIT: u32 = 20_000;
/// The largest value a spec's `settings.max*` may take: they bound one
/// apply, which may span several requests (waves).
pub const MAX_APPLY_LIMIT: u32 = 10_000_000;
/// The API's default for each of the six limits.
pub const DEFAULT_LIMIT: u32 = 200;

/// A user's role in &frankly (`accessInfo.role`), case-sensitive on the wire.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub enum Role {
    /// May manage the account (and generate API tokens).
    Administrator,
    /// A manager.
    Manager,
    /// The default role of a new user.
    #[default]
    User,
}

impl Role {
    /// Every role, in the API's spelling.
    pub const ALL: [Role; 3] = [Role::Administrator, Role::Manager, Role::User];

    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "Administrator",
            Role::Manager => "Manager",
            Role::User => "User",
        }
    }

    /// Parses the API's exact (case-sensitive) spelling.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of record a change or diagnostic is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    /// A user.
    User,
    /// A group (organization unit).
    Group,
}

impl Kind {
    /// `user` or `group`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The six limits of the API, in the fixed order every output uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LimitName {
    /// `maxUsersCreated`
    #[serde(rename = "maxUsersCreated")]
    UsersCreated,
    /// `maxUsersUpdated`
    #[serde(rename = "maxUsersUpdated")]
    UsersUpdated,
    /// `maxUsersDeleted`
    #[serde(rename = "maxUsersDeleted")]
    UsersDeleted,
    /// `maxGroupsCreated`
    #[serde(rename = "maxGroupsCreated")]
    GroupsCreated,
    /// `maxGroupsUpdated`
    #[serde(rename = "maxGroupsUpdated")]
    GroupsUpdated,
    /// `maxGroupsDeleted`
    #[serde(rename = "maxGroupsDeleted")]
    GroupsDeleted,
}

impl LimitName {
    /// All six, in the fixed output order.
    pub const ALL: [LimitName; 6] = [
        LimitName::UsersCreated,
        LimitName::UsersUpdated,
        LimitName::UsersDeleted,
        LimitName::GroupsCreated,
        LimitName::GroupsUpdated,
        LimitName::GroupsDeleted,
    ];

    /// The API's setting name, e.g. `maxUsersCreated`.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitName::UsersCreated => "maxUsersCreated",
            LimitName::UsersUpdated => "maxUsersUpdated",
            LimitName::UsersDeleted => "maxUsersDeleted",
            LimitName::GroupsCreated => "maxGroupsCreated",
            LimitName::GroupsUpdated => "maxGroupsUpdated",
            LimitName::GroupsDeleted => "maxGroupsDeleted",
        }
    }

    /// Parses the API's setting name.
    pub fn parse(s: &str) -> Option<LimitName> {
        LimitName::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The kind of record the limit counts.
    pub fn kind(self) -> Kind {
        match self {
            LimitName::UsersCreated | LimitName::UsersUpdated | LimitName::UsersDeleted => {
                Kind::User
            }
            _ => Kind::Group,
        }
    }
}

impl fmt::Display for LimitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The six limits of one apply, each `0..=10000000`, default 200 (the API's
/// defaults). A request never carries more than the per-request cap
/// ([`MAX_LIMIT`], or [`Target::max_per_request`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(default, deny_unknown_fields)]
pub struct Limits {
    /// `maxUsersCreated`
    #[schemars(range(max = MAX_APPLY_LIMIT))]
    pub max_users_created: u32,
    /// `maxUsersUpdated`
    #[schemars(range(max = MAX_APPLY_LIMIT))]
    pub max_users_updated: u32,
    /// `maxUsersDeleted`
    #[schemars(range(max = MAX_APPLY_LIMIT))]
    pub max_users_deleted: u32,
    /// `maxGroupsCreated`
    #[schemars(range(max = MAX_APPLY_LIMIT))]
    pub max_groups_created: u32,
    /// `maxGroupsUpdated`
    #[schemars(range(max = MAX_APPLY_LIMIT))]
    pub max_groups_updated: u32,
    /// `maxGroupsDeleted`
    #[schemars(range(max = MAX_APPLY_LIMIT))]
    pub max_groups_deleted: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_users_created: DEFAULT_LIMIT,
            max_users_updated: DEFAULT_LIMIT,
            max_users_deleted: DEFAULT_LIMIT,
            max_groups_created: DEFAULT_LIMIT,
            max_groups_updated: DEFAULT_LIMIT,
            max_groups_deleted: DEFAULT_LIMIT,
        }
    }
}

impl Limits {
    /// The value of one limit.
    pub fn get(&self, name: LimitName) -> u32 {
        match name {
            LimitName::UsersCreated => self.max_users_created,
            LimitName::UsersUpdated => self.max_users_updated,
            LimitName::UsersDeleted => self.max_users_deleted,
            LimitName::GroupsCreated => self.max_groups_created,
            LimitName::GroupsUpdated => self.max_groups_updated,
            LimitName::GroupsDeleted => self.max_groups_deleted,
        }
    }

    /// Sets one limit.
    pub fn set(&mut self, name: LimitName, value: u32) {
        let slot = match name {
            LimitName::UsersCreated => &mut self.max_users_created,
            LimitName::UsersUpdated => &mut self.max_users_updated,
            LimitName::UsersDeleted => &mut self.max_users_deleted,
            LimitName::GroupsCreated => &mut self.max_groups_created,
            LimitName::GroupsUpdated => &mut self.max_groups_updated,
            LimitName::GroupsDeleted => &mut self.max_groups_deleted,
        };
        *slot = value;
    }
}

/// The API's `settings` object as the spec gives it (minus `validateOnly`,
/// which only the apply flow decides).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(default, deny_unknown_fields)]
pub struct Settings {
    /// Force `language` onto existing users too.
    pub force_set_language: bool,
    /// The six limits.
    #[serde(flatten)]
    pub limits: Limits,
}

/// Where `apply` sends the org, and how patiently. Never sent to the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct Target {
    /// The organization endpoint; `None` = the real API's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The env var holding the token; `None` = `FRANKLY_API_TOKEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// The HTTP header the token is sent in; `None` = `Authorization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_header: Option<String>,
    /// Seconds to wait for a connection; `None` = the client's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_secs: Option<u32>,
    /// Seconds to wait for a whole request; `None` = the client's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_secs: Option<u32>,
    /// Retries after the first attempt; `None` = the client's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Total seconds all retries of one request may take; `None` = default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_budget_secs: Option<u32>,
    /// The most changes of a kind one request carries (orgform-only, never
    /// sent), `1..=20000`; `None` = 20000, the API's cap. A lower value
    /// makes a large plan go in more, smaller waves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_LIMIT))]
    pub max_per_request: Option<u32>,
}

impl Target {
    /// The per-request cap in effect: `maxPerRequest` when given (clamped
    /// to `1..=20000`), else the API's 20,000.
    pub fn max_per_request(&self) -> u32 {
        self.max_per_request
            .unwrap_or(MAX_LIMIT)
            .clamp(1, MAX_LIMIT)
    }
}

/// One custom attribute of the account (an `externalProperties` key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct AttributeDef {
    /// Allowed values, exact match; `None` = any string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<BTreeSet<String>>,
    /// Must be set on every active user (the HR guide's "Required if active").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}

/// Client-side guard rails (never sent). Percentages are of the managed
/// records in the state; `None` = the documented default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct Safety {
    /// Largest share of managed users one apply may delete or deactivate (default 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub max_user_deletion_percent: Option<u32>,
    /// Largest share of managed groups one apply may delete (default 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub max_group_deletion_percent: Option<u32>,
    /// The share thresholds apply only when at least this many of that kind are managed (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_population: Option<u32>,
    /// Largest share of group memberships one apply may remove (default off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub max_membership_loss_percent: Option<u32>,
    /// Users with role Administrator that must remain after an apply (default 0 = off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_administrators: Option<u32>,
}

/// A group's `parent` in a spec: omitted, `null`, or a group's externalId.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum ParentRef {
    /// Not given: the server leaves the parent as is (root on create).
    #[default]
    Omitted,
    /// `parent: null`: the group becomes a root.
    Root,
    /// `parent: "<externalId>"`.
    Group(String),
}

impl ParentRef {
    /// Whether the key is absent.
    pub fn is_omitted(&self) -> bool {
        matches!(self, ParentRef::Omitted)
    }

    /// The referenced group, if any.
    pub fn group(&self) -> Option<&str> {
        match self {
            ParentRef::Group(g) => Some(g),
            _ => None,
        }
    }
}

// Serialized as an absent key (Omitted), `null` (Root) or a string.
impl Serialize for ParentRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ParentRef::Omitted | ParentRef::Root => s.serialize_none(),
            ParentRef::Group(g) => s.serialize_str(g),
        }
    }
}

// A spec may write `parent: null` (unlike any other field, where `null` is
// an error), so the schema says so explicitly with `oneOf`.
impl JsonSchema for ParentRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ParentRef".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The parent group's externalId, or `null` to make the group a root; \
                omitted = the parent is left as is on the server.",
            "oneOf": [{"type": "string", "minLength": 1}, {"type": "null"}]
        })
    }
}

impl<'de> Deserialize<'de> for ParentRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<String>::deserialize(d)? {
            None => ParentRef::Root,
            Some(g) => ParentRef::Group(g),
        })
    }
}

/// The four group-reference lists of `accessInfo`, as sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessList {
    /// `accessInfo.memberOf`
    MemberOf,
    /// `accessInfo.adminOf`
    AdminOf,
    /// `accessInfo.inheritedAdminOf`
    InheritedAdminOf,
    /// `accessInfo.interestOf`
    InterestOf,
}

impl AccessList {
    /// All four, in the API's order.
    pub const ALL: [AccessList; 4] = [
        AccessList::MemberOf,
        AccessList::AdminOf,
        AccessList::InheritedAdminOf,
        AccessList::InterestOf,
    ];

    /// The field name inside `accessInfo`, e.g. `memberOf`.
    pub fn field(self) -> &'static str {
        match self {
            AccessList::MemberOf => "memberOf",
            AccessList::AdminOf => "adminOf",
            AccessList::InheritedAdminOf => "inheritedAdminOf",
            AccessList::InterestOf => "interestOf",
        }
    }

    /// The spec path, e.g. `accessInfo.memberOf`.
    pub fn path(self) -> &'static str {
        match self {
            AccessList::MemberOf => "accessInfo.memberOf",
            AccessList::AdminOf => "accessInfo.adminOf",
            AccessList::InheritedAdminOf => "accessInfo.inheritedAdminOf",
            AccessList::InterestOf => "accessInfo.interestOf",
        }
    }
}

/// `accessInfo` as a spec gives it: each list `None` when omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct DesiredAccess {
    /// `memberOf`; `None` = leave memberships of managed groups as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_of: Option<BTreeSet<String>>,
    /// `adminOf` (owner of).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_of: Option<BTreeSet<String>>,
    /// `inheritedAdminOf` (administrator of).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherited_admin_of: Option<BTreeSet<String>>,
    /// `interestOf` (read rights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interest_of: Option<BTreeSet<String>>,
    /// `role`; `None` = left as is (`User` on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

impl DesiredAccess {
    /// One of the four lists.
    pub fn list(&self, which: AccessList) -> Option<&BTreeSet<String>> {
        match which {
            AccessList::MemberOf => self.member_of.as_ref(),
            AccessList::AdminOf => self.admin_of.as_ref(),
            AccessList::InheritedAdminOf => self.inherited_admin_of.as_ref(),
            AccessList::InterestOf => self.interest_of.as_ref(),
        }
    }

    /// Whether nothing at all is given.
    pub fn is_empty(&self) -> bool {
        AccessList::ALL.iter().all(|l| self.list(*l).is_none()) && self.role.is_none()
    }
}

/// A user as the spec asks for it. `None` = the key is omitted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct DesiredUser {
    /// The identity; must never change.
    #[schemars(length(min = 1))]
    pub external_id: String,
    /// Given name.
    #[schemars(length(min = 1))]
    pub first_name: String,
    /// Family name.
    #[schemars(length(min = 1))]
    pub last_name: String,
    /// Email, unique case-insensitively.
    #[schemars(length(min = 1))]
    pub email: String,
    /// E.164 phone; `None` or `""` = no phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// `None` = `true` (the API's default): a deactivated user is reactivated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// IANA name; `None` = the account default, also for existing users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// ISO 639-1; applied on create, and later only with `forceSetLanguage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Group references and role.
    #[serde(default, skip_serializing_if = "DesiredAccess::is_empty")]
    pub access_info: DesiredAccess,
    /// Custom attributes; a key not given is left as is on the server.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_properties: BTreeMap<String, String>,
    /// orgform-only, never sent: `Some(true)` blocks deleting this user;
    /// `Some(false)` lifts a protection remembered in the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
}

impl DesiredUser {
    /// A user with only the required fields.
    pub fn new(external_id: &str, first_name: &str, last_name: &str, email: &str) -> Self {
        DesiredUser {
            external_id: external_id.to_owned(),
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            email: email.to_owned(),
            phone: None,
            active: None,
            timezone: None,
            language: None,
            access_info: DesiredAccess::default(),
            external_properties: BTreeMap::new(),
            protected: None,
        }
    }
}

/// A group as the spec asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct DesiredGroup {
    /// The identity; must never change (a new one drops the group's history).
    #[schemars(length(min = 1))]
    pub external_id: String,
    /// Display name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// `None` or `""` = no description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Omitted = left as is; `null` = root.
    #[serde(default, skip_serializing_if = "ParentRef::is_omitted")]
    pub parent: ParentRef,
    /// orgform-only, never sent (see [`DesiredUser::protected`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
}

impl DesiredGroup {
    /// A group with only the required fields.
    pub fn new(external_id: &str, name: &str) -> Self {
        DesiredGroup {
            external_id: external_id.to_owned(),
            name: name.to_owned(),
            description: None,
            parent: ParentRef::Omitted,
            protected: None,
        }
    }
}

/// A whole validated desired organization: what a spec asks for.
///
/// Only the spec crate's validation (or a saved plan, re-validated) makes
/// one; the planner takes it as given. Users and groups are sorted by
/// externalId.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredOrg {
    /// Where apply sends it (never sent).
    #[serde(default)]
    pub target: Target,
    /// The API's settings.
    #[serde(default)]
    pub settings: Settings,
    /// Declared custom attributes; `None` = not declared (keys unchecked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, AttributeDef>>,
    /// Groups that exist in &frankly but are not managed here.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub external_groups: BTreeSet<String>,
    /// Client-side guard rails (never sent).
    #[serde(default)]
    pub safety: Safety,
    /// `None` = groups are not managed (the API's mode c).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<DesiredGroup>>,
    /// `None` = users are not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<DesiredUser>>,
}

/// A user as the server holds it after an apply: every omission resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffUser {
    /// The identity.
    pub external_id: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Email as sent.
    pub email: String,
    /// `None` = no phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Whether the user may log in and gets questions.
    pub active: bool,
    /// `None` = the account default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// `None` = the account default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Groups the user is a member of.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub member_of: BTreeSet<String>,
    /// Groups the user owns.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub admin_of: BTreeSet<String>,
    /// Groups the user administers.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub inherited_admin_of: BTreeSet<String>,
    /// Groups the user may read.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub interest_of: BTreeSet<String>,
    /// The role.
    #[serde(default)]
    pub role: Role,
    /// Custom attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_properties: BTreeMap<String, String>,
}

impl EffUser {
    /// An active `User` with only the required fields.
    pub fn new(external_id: &str, first_name: &str, last_name: &str, email: &str) -> Self {
        EffUser {
            external_id: external_id.to_owned(),
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            email: email.to_owned(),
            phone: None,
            active: true,
            timezone: None,
            language: None,
            member_of: BTreeSet::new(),
            admin_of: BTreeSet::new(),
            inherited_admin_of: BTreeSet::new(),
            interest_of: BTreeSet::new(),
            role: Role::User,
            external_properties: BTreeMap::new(),
        }
    }

    /// One of the four lists.
    pub fn list(&self, which: AccessList) -> &BTreeSet<String> {
        match which {
            AccessList::MemberOf => &self.member_of,
            AccessList::AdminOf => &self.admin_of,
            AccessList::InheritedAdminOf => &self.inherited_admin_of,
            AccessList::InterestOf => &self.interest_of,
        }
    }

    /// One of the four lists, mutably.
    pub fn list_mut(&mut self, which: AccessList) -> &mut BTreeSet<String> {
        match which {
            AccessList::MemberOf => &mut self.member_of,
            AccessList::AdminOf => &mut self.admin_of,
            AccessList::InheritedAdminOf => &mut self.inherited_admin_of,
            AccessList::InterestOf => &mut self.interest_of,
        }
    }
}

/// A group as the server holds it after an apply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffGroup {
    /// The identity.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// `None` = no description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `None` = a root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

impl EffGroup {
    /// A root group without description.
    pub fn new(external_id: &str, name: &str) -> Self {
        EffGroup {
            external_id: external_id.to_owned(),
            name: name.to_owned(),
            description: None,
            parent: None,
        }
    }
}

/// The managed records the server holds, keyed by externalId, plus which of
/// them orgform protects (remembered so a dropped YAML block cannot
/// silently lift a protection).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveOrg {
    /// Managed users.
    #[serde(default)]
    pub users: BTreeMap<String, EffUser>,
    /// Managed groups.
    #[serde(default)]
    pub groups: BTreeMap<String, EffGroup>,
    /// Protected records (orgform-only).
    #[serde(default, skip_serializing_if = "Protected::is_empty")]
    pub protected: Protected,
}

/// The externalIds orgform protects from deletion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Protected {
    /// Protected users.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub users: BTreeSet<String>,
    /// Protected groups.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub groups: BTreeSet<String>,
}

impl Protected {
    /// Whether nothing is protected.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_ref_round_trips_through_json() {
        let mut g = DesiredGroup::new("A", "Alpha");
        assert_eq!(
            serde_json::to_string(&g).unwrap(),
            r#"{"externalId":"A","name":"Alpha"}"#
        );
        g.parent = ParentRef::Root;
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(json, r#"{"externalId":"A","name":"Alpha","parent":null}"#);
        assert_eq!(serde_json::from_str::<DesiredGroup>(&json).unwrap(), g);
        g.parent = ParentRef::Group("P".into());
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(serde_json::from_str::<DesiredGroup>(&json).unwrap(), g);
        let omitted: DesiredGroup =
            serde_json::from_str(r#"{"externalId":"A","name":"Alpha"}"#).unwrap();
        assert_eq!(omitted.parent, ParentRef::Omitted);
    }

    #[test]
    fn limits_get_and_set_agree_and_keep_order() {
        let mut l = Limits::default();
        for (i, name) in LimitName::ALL.into_iter().enumerate() {
            l.set(name, i as u32);
        }
        for (i, name) in LimitName::ALL.into_iter().enumerate() {
            assert_eq!(l.get(name), i as u32);
            assert_eq!(LimitName::parse(name.as_str()), Some(name));
        }
        let json = serde_json::to_value(Settings {
            force_set_language: true,
            limits: l,
        })
        .unwrap();
        assert_eq!(json["maxGroupsDeleted"], 5);
        assert_eq!(json["forceSetLanguage"], true);
    }

    #[test]
    fn role_parse_is_case_sensitive() {
        assert_eq!(Role::parse("Manager"), Some(Role::Manager));
        assert_eq!(Role::parse("manager"), None);
    }
}
