//! The plan as data: the JSON document of DESIGN section 4 ([`PlanDoc`])
//! and its parts. Every type here serializes to exactly the documented JSON
//! and reads it back unchanged, so a saved plan can be rendered and its
//! digest checked without the state.

use std::fmt;

use orgform_model::{EffGroup, EffUser, Kind, LimitName};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the JSON plan format ([`PlanDoc::format_version`]).
pub const FORMAT_VERSION: u32 = 1;

/// The JSON plan (`orgform plan --format json`): a stable, versioned
/// contract. See the crate docs for the field-by-field description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanDoc {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The state the plan was made against.
    pub base: BaseRef,
    /// `sha256:<hex>` of the validated org in canonical form.
    pub spec_digest: String,
    /// Whether `--force` was given (left out when it was not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    /// Whether apply must refuse this plan (`blockedReasons` is not empty).
    pub blocked: bool,
    /// Why the plan is blocked, sorted by code, then kind and externalIds.
    pub blocked_reasons: Vec<BlockedReason>,
    /// Counts per kind.
    pub summary: Summary,
    /// All six API limits, in [`LimitName::ALL`] order.
    pub limits: Vec<LimitCheck>,
    /// The most changes of a kind one request carries (20000, or
    /// `target.maxPerRequest`).
    #[serde(default = "default_max_per_request")]
    pub max_per_request: u32,
    /// One entry per request, in order (empty when nothing is sent).
    #[serde(default)]
    pub waves: Vec<Wave>,
    /// The changes, in apply order: wave by wave, the planner's order
    /// inside each.
    pub changes: Vec<Change>,
    /// Warnings, sorted (plan-wide ones first, then by kind and externalId).
    pub warnings: Vec<Warning>,
}

fn default_max_per_request() -> u32 {
    orgform_model::MAX_LIMIT
}

/// One request of a plan: its counts per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wave {
    /// Users.
    pub users: WaveCounts,
    /// Groups.
    pub groups: WaveCounts,
}

impl Wave {
    /// The counts of one kind.
    pub fn of(&self, kind: Kind) -> &WaveCounts {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }
}

/// The creates, updates and deletes of one kind in one wave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaveCounts {
    /// Records created.
    pub create: usize,
    /// Records updated.
    pub update: usize,
    /// Records deleted.
    pub delete: usize,
}

/// The state a plan was made against: `{"lineage": null, "serial": 0}` for
/// no state yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BaseRef {
    /// The state's lineage id; `null` when there is no state.
    pub lineage: Option<String>,
    /// The state's serial; 0 when there is no state.
    pub serial: u64,
}

/// Counts per kind, as the server would report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Users.
    pub users: KindSummary,
    /// Groups.
    pub groups: KindSummary,
}

impl Summary {
    /// The counts of one kind.
    pub fn of(&self, kind: Kind) -> &KindSummary {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }

    /// Creates, updates and deletes of both kinds together.
    pub fn total(&self) -> KindSummary {
        KindSummary {
            create: self.users.create + self.groups.create,
            update: self.users.update + self.groups.update,
            delete: self.users.delete + self.groups.delete,
            unchanged: self.users.unchanged + self.groups.unchanged,
        }
    }
}

/// The counts of one kind. `create`, `update` and `unchanged` count the
/// records sent; `delete` counts managed records not sent. All are 0 when
/// the spec omits that kind's top-level key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindSummary {
    /// Records created.
    pub create: usize,
    /// Records whose effective record changes.
    pub update: usize,
    /// Managed records deleted.
    pub delete: usize,
    /// Records sent whose effective record stays the same.
    pub unchanged: usize,
}

/// One of the six API limits against its planned count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitCheck {
    /// The setting, e.g. `maxUsersDeleted`.
    pub name: LimitName,
    /// The spec's value (default 200).
    pub limit: u32,
    /// What the plan needs.
    pub planned: usize,
    /// `planned <= limit`.
    pub ok: bool,
}

/// What happens to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// The record is new.
    Create,
    /// The record's effective value changes.
    Update,
    /// The managed record is removed.
    Delete,
}

impl Action {
    /// `create`, `update` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }

    /// The Terraform-style marker: `+`, `~` or `-`.
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A full effective record, as a create's `after` or a delete's `before`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Record {
    /// A user (tried first: it has required fields a group lacks).
    User(Box<EffUser>),
    /// A group.
    Group(EffGroup),
}

impl Record {
    /// The record's externalId.
    pub fn external_id(&self) -> &str {
        match self {
            Record::User(u) => &u.external_id,
            Record::Group(g) => &g.external_id,
        }
    }

    /// A short human label: a group's name, a user's name and email.
    pub fn label(&self) -> String {
        match self {
            Record::User(u) => format!("{} {} <{}>", u.first_name, u.last_name, u.email),
            Record::Group(g) => g.name.clone(),
        }
    }
}

/// One record's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Change {
    /// `user` or `group`.
    pub kind: Kind,
    /// `create`, `update` or `delete`.
    pub action: Action,
    /// The record's identity.
    pub external_id: String,
    /// A short label (a group's name; a user's name and email), after the
    /// change (before it for a delete).
    pub label: String,
    /// The request (1-based) this change is sent in.
    #[serde(default)]
    pub wave: u32,
    /// For an update: each changed field, in the spec's field order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// For a create: the full effective record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Record>,
    /// For a delete: the full effective record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Record>,
}

impl Change {
    /// Whether this is an update that sets `active` from true to false (a
    /// deactivation: the one definition every renderer uses).
    pub fn deactivates(&self) -> bool {
        self.action == Action::Update
            && self.fields.iter().any(|f| {
                f.path == "active"
                    && f.before == Some(Value::Bool(true))
                    && f.after == Some(Value::Bool(false))
            })
    }
}

/// One field of an update. An absent value (no phone, account-default
/// timezone, root parent) is left out; a list is always a (sorted) array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldChange {
    /// The spec's field path, e.g. `firstName`, `accessInfo.memberOf`,
    /// `externalProperties.gender`.
    pub path: String,
    /// The effective value before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The effective value after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// A warning code. Fixed and documented (see the crate docs); new codes
/// may be added, none is ever renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WarningCode {
    /// `forceSetLanguage: true` resets users' own language choice.
    LanguageForced,
    /// A relative safety threshold was crossed and passed with `--force`.
    ThresholdForced,
    /// An existing user's `language` differs, but is not forced.
    LanguageNotForced,
    /// `active` is omitted on a deactivated user: the API reactivates it.
    UserReactivated,
    /// A field set before is omitted now: the server keeps its value.
    OmittedFieldKept,
    /// A given accessInfo list drops a group that is not managed: the
    /// server keeps that entry.
    UnmanagedMembershipKept,
    /// `users` is omitted, and a group this plan deletes takes some of a
    /// user's memberships with it.
    MembershipRemovedWithGroup,
    /// A group deletion drops the group's historic results.
    GroupHistoryDropped,
    /// A new group has the name of a group this plan deletes.
    GroupNameReused,
    /// A new user has the email of a user this plan deletes.
    EmailReused,
    /// `protected: false` lifts a protection the state remembers.
    ProtectionLifted,
    /// The plan leaves no active managed Administrator, where the state had one.
    NoAdministratorLeft,
    /// The state records a rollout in waves that has not finished (the CLI
    /// emits it: it knows the state).
    RolloutUnfinished,
}

impl WarningCode {
    /// Every code, in documentation order.
    pub const ALL: [WarningCode; 13] = [
        WarningCode::LanguageForced,
        WarningCode::ThresholdForced,
        WarningCode::LanguageNotForced,
        WarningCode::UserReactivated,
        WarningCode::OmittedFieldKept,
        WarningCode::UnmanagedMembershipKept,
        WarningCode::MembershipRemovedWithGroup,
        WarningCode::GroupHistoryDropped,
        WarningCode::GroupNameReused,
        WarningCode::EmailReused,
        WarningCode::ProtectionLifted,
        WarningCode::NoAdministratorLeft,
        WarningCode::RolloutUnfinished,
    ];

    /// The JSON spelling, e.g. `languageNotForced`.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::LanguageForced => "languageForced",
            WarningCode::ThresholdForced => "thresholdForced",
            WarningCode::LanguageNotForced => "languageNotForced",
            WarningCode::UserReactivated => "userReactivated",
            WarningCode::OmittedFieldKept => "omittedFieldKept",
            WarningCode::UnmanagedMembershipKept => "unmanagedMembershipKept",
            WarningCode::MembershipRemovedWithGroup => "membershipRemovedWithGroup",
            WarningCode::GroupHistoryDropped => "groupHistoryDropped",
            WarningCode::GroupNameReused => "groupNameReused",
            WarningCode::EmailReused => "emailReused",
            WarningCode::ProtectionLifted => "protectionLifted",
            WarningCode::NoAdministratorLeft => "noAdministratorLeft",
            WarningCode::RolloutUnfinished => "rolloutUnfinished",
        }
    }
}

impl fmt::Display for WarningCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something the reviewer should know; never blocks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Warning {
    /// The record's kind; left out for a plan-wide warning. (Field order is
    /// the sort order: plan-wide first, then by kind, externalId, code.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// The record; left out for a plan-wide warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The fixed code.
    pub code: WarningCode,
    /// The field concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What happens and what to do, in plain words.
    pub message: String,
}

/// A blocked-reason code. Fixed and documented (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BlockedCode {
    /// A planned count is above its API limit.
    LimitExceeded,
    /// The plan deletes a protected record.
    ProtectedDeletion,
    /// The group hierarchy after the plan has a cycle.
    HierarchyCycle,
    /// A group's parent after the plan is deleted by it, or is unknown.
    OrphanGroup,
    /// A given accessInfo list names a group this plan deletes.
    DeletedGroupReferenced,
    /// Too large a share of the managed users deleted or deactivated.
    UserDeletionThreshold,
    /// Too large a share of the managed groups deleted.
    GroupDeletionThreshold,
    /// Too large a share of the group memberships lost.
    MembershipLossThreshold,
    /// Fewer active Administrators than `safety.minAdministrators`.
    MinAdministrators,
    /// The plan cannot be split into valid requests within the cap.
    WavesImpossible,
}

impl BlockedCode {
    /// Every code, in documentation order.
    pub const ALL: [BlockedCode; 10] = [
        BlockedCode::LimitExceeded,
        BlockedCode::ProtectedDeletion,
        BlockedCode::HierarchyCycle,
        BlockedCode::OrphanGroup,
        BlockedCode::DeletedGroupReferenced,
        BlockedCode::UserDeletionThreshold,
        BlockedCode::GroupDeletionThreshold,
        BlockedCode::MembershipLossThreshold,
        BlockedCode::MinAdministrators,
        BlockedCode::WavesImpossible,
    ];

    /// The JSON spelling, e.g. `protectedDeletion`.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockedCode::LimitExceeded => "limitExceeded",
            BlockedCode::ProtectedDeletion => "protectedDeletion",
            BlockedCode::HierarchyCycle => "hierarchyCycle",
            BlockedCode::OrphanGroup => "orphanGroup",
            BlockedCode::DeletedGroupReferenced => "deletedGroupReferenced",
            BlockedCode::UserDeletionThreshold => "userDeletionThreshold",
            BlockedCode::GroupDeletionThreshold => "groupDeletionThreshold",
            BlockedCode::MembershipLossThreshold => "membershipLossThreshold",
            BlockedCode::MinAdministrators => "minAdministrators",
            BlockedCode::WavesImpossible => "wavesImpossible",
        }
    }

    /// Whether `--force` passes this guard: only the relative thresholds.
    pub fn forceable(self) -> bool {
        matches!(
            self,
            BlockedCode::UserDeletionThreshold
                | BlockedCode::GroupDeletionThreshold
                | BlockedCode::MembershipLossThreshold
        )
    }
}

impl fmt::Display for BlockedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why apply must refuse the plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlockedReason {
    /// The fixed code (field order is the sort order).
    pub code: BlockedCode,
    /// The kind concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// The records concerned, sorted (a cycle: in cycle order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_ids: Vec<String>,
    /// Whether `--force` would pass it.
    pub forceable: bool,
    /// What is wrong and what to do, in plain words.
    pub message: String,
}
