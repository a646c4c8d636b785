//! The pure planner: a validated spec and the last applied state in, a
//! [`Plan`] out. No IO, no async, no clock, no randomness.
//!
//! - [`plan`] takes a [`ValidatedSpec`], a [`Base`] (the state's lineage,
//!   serial and effective records; [`Base::empty`] for no state) and
//!   [`PlanOptions`] (`force`), and returns a [`Plan`]: the [`Change`]s in
//!   apply order (each with its [`FieldChange`]s), the [`Summary`], the six
//!   [`LimitCheck`]s, the [`Warning`]s and [`BlockedReason`]s, the
//!   effective records the server holds afterwards
//!   ([`Plan::effective_after`], the next state) and the limits to send
//!   ([`Plan::request_limits`]).
//! - [`render::text`] draws a plan like Terraform; [`render::json`] gives the
//!   versioned JSON plan ([`PlanDoc`]), described below.
//! - For reviewers and pull requests: [`review::Review`] gathers what a
//!   reviewer sees (optionally [`review::Review::redacted`] once, for every
//!   format), rendered by [`markdown`] (a PR comment with a hidden marker and
//!   a size cut), [`diff`] (a unified diff of the effective state before and
//!   after), [`report`] (the deletions CSV) and [`compare`] (what changed
//!   since a previously reviewed plan); [`graph`] draws the group hierarchy
//!   (Mermaid, DOT), for the comment's diagram and `orgform graph`.
//! - [`SavedPlan`] is a plan file (`orgform plan --out`): the reviewed plan,
//!   the validated org, the base and the digests, with the checks `apply
//!   PLANFILE` and `show PLANFILE` need, in one call ([`SavedPlan::replan`]).
//!
//! The same input always gives byte-identical output: every collection
//! that reaches output is a `BTreeMap`/`BTreeSet` or sorted, ties are broken
//! by externalId, and nothing reads a clock or a random source.
//!
//! ```
//! use orgform_model::{DesiredGroup, DesiredOrg, DesiredUser};
//! use orgform_plan::{Base, PlanOptions, render};
//!
//! let org = DesiredOrg {
//!     groups: Some(vec![DesiredGroup::new("G1", "Sales")]),
//!     users: Some(vec![DesiredUser::new("E1", "Ada", "Lovelace", "ada@example.com")]),
//!     ..DesiredOrg::default()
//! };
//! let spec = orgform_spec::validate_org(org).expect("valid");
//! let plan = orgform_plan::plan(&spec, Base::empty(), &PlanOptions::default());
//! assert_eq!(plan.summary().users.create, 1);
//! assert!(!plan.is_blocked());
//! let text = render::text(&plan, &render::TextOptions { color: false });
//! assert!(text.contains("Plan: 2 to create, 0 to update, 0 to delete"));
//! // Planning the same spec against the state it leaves changes nothing.
//! let next = Base { lineage: Some("l"), serial: 1, org: plan.effective_after() };
//! assert!(!orgform_plan::plan(&spec, next, &PlanOptions::default()).has_changes());
//! ```
//!
//! # What a change is
//!
//! Identity is the externalId: a new name or email is an update, never a
//! delete and a create. A record of the spec that is not in the state is
//! created; one in both whose effective record differs is updated; a managed
//! record of the state that the spec lacks is deleted, but only when the
//! spec has that kind's top-level key (`users: []` deletes every managed
//! user). An omitted `users` or `groups` key manages nothing: that kind's
//! counts are all 0 and its records stay as they are, except that the
//! server drops references to groups the plan deletes from every user
//! (warning `membershipRemovedWithGroup`).
//!
//! Each field's new effective value, from the old effective value and the
//! spec (the API reference decides; DESIGN section 2 settles the rest):
//!
//! | field | omitted | given |
//! |---|---|---|
//! | an accessInfo list | left as is | the given groups, plus the old entries that name groups orgform does not manage (neither in the state's nor the plan's groups: the API clears only "memberships of managed groups"); `[]` clears the managed ones |
//! | `accessInfo.role` | left as is (`User` on create) | set |
//! | an externalProperties key | left as is | set (other keys are kept) |
//! | `active` | `true`: a deactivated user is reactivated | set |
//! | `timezone` | none (the account default), also for existing users | set |
//! | `language` | none on create; never changed later | set on create; on an existing user only with `forceSetLanguage` |
//! | `phone`, `description` | none (`""` too) | set |
//! | `parent` | left as is (root on create) | set; `null` = root |
//!
//! Any list entry naming a group the plan deletes vanishes. "Updated" means
//! the effective record changes, the one definition shared with the
//! emulator: a user of a sent `users` list whose record changes only
//! because a group is deleted counts as updated. `created`, `updated` and
//! `unchanged` count the records sent; `deleted` counts managed records not
//! sent.
//!
//! # Apply order
//!
//! `changes` are in the order the server applies them: group creates and
//! updates, parents before children (over the hierarchy after the plan);
//! user creates; user updates; user deletes; group deletes, children before
//! parents (over the hierarchy before the plan). Within each step, among the
//! records that are ready, the smallest externalId goes first (Kahn's
//! algorithm; so `a0` comes before `n6`, and `n6`'s child `n5` after both).
//!
//! # Waves
//!
//! The API takes at most 20,000 changes of a kind per request
//! (`target.maxPerRequest` lowers the cap; `settings.max*` bound the whole
//! apply, up to 10,000,000). A plan above the cap is split into waves,
//! successive full-state requests, each a valid intermediate organization;
//! the rules (what waits for what, what shares a wave, when it is
//! impossible) are in the `waves` module's docs. [`Plan::waves`] gives each
//! request's counts, [`Plan::wave_request`] builds one request's desired
//! org on demand (one copy at a time), [`Plan::wave_limits`] its limits
//! (deletion limits = its deletions; create and update limits = the
//! spec's, capped at the per-request cap) and [`Plan::effective_after_wave`]
//! the state to commit after it. Guard rails are checked on the whole
//! plan; the minimum of administrators also on every intermediate
//! organization.
//!
//! # Guard rails
//!
//! A plan is blocked (it is still computed and printed in full; apply
//! refuses it) by each of these, each adding one [`BlockedReason`]:
//!
//! - a planned count above its API limit (equal is fine);
//! - deleting a protected record: protected means `protected: true` in the
//!   spec or remembered in the state ([`EffectiveOrg::protected`]), so
//!   dropping a record's YAML block does not drop its protection;
//!   `protected: false` on the kept record lifts it (warning
//!   `protectionLifted`), and the next plan may delete it.
//!   [`Plan::effective_after`]'s protected sets are the state's, plus the
//!   spec's `true`, minus its `false`, of the records that still exist;
//! - a cycle or an orphan in the group hierarchy after the plan;
//! - a given accessInfo list naming a group the plan deletes;
//! - the relative thresholds of the spec's `safety` section, unless
//!   `--force`: more than `maxUserDeletionPercent` (default
//!   [`DEFAULT_MAX_USER_DELETION_PERCENT`] = 25) of the managed users in the
//!   state deleted or deactivated (active -> inactive), more than
//!   `maxGroupDeletionPercent` (default 25) of the managed groups deleted,
//!   more than `maxMembershipLossPercent` (default: off) of the state's
//!   `memberOf` entries gone (with their user, or from it); each checked
//!   only when the state holds at least `minPopulation` (default
//!   [`DEFAULT_MIN_POPULATION`] = 10) users, groups or memberships
//!   respectively. "More than" is strict: 3 of 12 at 25% passes, 4 blocks.
//!   With `--force` a crossed threshold becomes a `thresholdForced` warning
//!   and the JSON says `"forced": true`;
//! - fewer than `minAdministrators` (default 0 = off) active managed users
//!   with role `Administrator` after the plan, checked when the spec has
//!   `users` (only then can the plan change them). `--force` does **not**
//!   pass it: it is a floor, not a threshold of change; orgform does not
//!   see manually created administrators, so count only managed ones.
//!
//! `--force` never passes a protected record, an API limit, a hierarchy
//! problem or `minAdministrators`.
//!
//! # The JSON plan (`formatVersion` 1)
//!
//! ```json
//! {
//!   "formatVersion": 1,
//!   "base": {"lineage": "…", "serial": 3},
//!   "specDigest": "sha256:…",
//!   "forced": true,
//!   "blocked": false,
//!   "blockedReasons": [],
//!   "summary": {"users":  {"create": 1, "update": 0, "delete": 0, "unchanged": 5},
//!               "groups": {"create": 1, "update": 0, "delete": 0, "unchanged": 2}},
//!   "limits":  [{"name": "maxUsersCreated", "limit": 200, "planned": 1, "ok": true}, …],
//!   "changes": [
//!     {"kind": "group", "action": "create", "externalId": "0000897", "label": "Sales",
//!      "after": {"externalId": "0000897", "name": "Sales", "parent": "0000689"}},
//!     {"kind": "user", "action": "update", "externalId": "E1", "label": "b Doe <b@example.com>",
//!      "fields": [{"path": "firstName", "before": "B", "after": "b"}]},
//!     {"kind": "user", "action": "delete", "externalId": "C", "label": "…", "before": {…}}
//!   ],
//!   "warnings": [{"kind": "user", "externalId": "E1", "code": "languageNotForced",
//!                 "path": "language", "message": "…"}]
//! }
//! ```
//!
//! - `base`: the state the plan was made against; `{"lineage": null,
//!   "serial": 0}` when there is no state (the only `null` in the document).
//! - `specDigest`: `sha256:<hex>` of the validated org in canonical form
//!   ([`orgform_spec::digest_of`]).
//! - `forced`: present (`true`) only when `--force` was given.
//! - `blocked`, `blockedReasons`: see below; reasons sorted by code (in the
//!   table's order), then kind and externalIds. Each reason has `code`,
//!   `kind` (`user`/`group`, when it concerns one kind), `externalIds` (the
//!   records concerned; a cycle in cycle order; left out when none),
//!   `forceable` (whether `--force` passes it) and `message`.
//! - `summary`: per kind, `create`, `update` and `unchanged` over the records
//!   sent, `delete` over the managed records not sent; all 0 for an omitted
//!   key.
//! - `limits`: all six, in the order `maxUsersCreated`, `maxUsersUpdated`,
//!   `maxUsersDeleted`, `maxGroupsCreated`, `maxGroupsUpdated`,
//!   `maxGroupsDeleted`, each with the spec's `limit`, the `planned` count
//!   and `ok` (`planned <= limit`).
//! - `maxPerRequest`: the most changes of a kind one request carries
//!   (20000, or `target.maxPerRequest`).
//! - `waves`: one entry per request, `{"users": {"create", "update",
//!   "delete"}, "groups": {…}}`: `[]` when nothing is sent, one entry for
//!   an ordinary plan, more for a plan applied in waves (see below).
//! - `changes`: in apply order: wave by wave, and inside each wave in the
//!   order below; each has `wave`, the 1-based request it is sent in.
//!   `kind` is `user` or `group`; `action` is
//!   `create`, `update` or `delete`; `label` is a group's name or a user's
//!   `First Last <email>` (after the change; before it for a delete: mask it
//!   too when redacting). A create has `after` and a delete has `before`: the
//!   full effective record (`externalId`, `firstName`, `lastName`, `email`,
//!   `phone`, `active`, `timezone`, `language`, `memberOf`, `adminOf`,
//!   `inheritedAdminOf`, `interestOf`, `role`, `externalProperties`; or
//!   `externalId`, `name`, `description`, `parent`), absent values and empty
//!   lists left out. An update has `fields`, in the spec's field order, each
//!   `{"path", "before", "after"}`: `path` is the spec's field path
//!   (`firstName`, `accessInfo.memberOf`, `accessInfo.role`,
//!   `externalProperties.gender`, `parent`); an absent value (no phone, the
//!   default timezone, a root's parent, a missing attribute) is left out; a
//!   list is a sorted array, `[]` when empty.
//! - `warnings`: sorted, plan-wide ones first (no `kind`/`externalId`),
//!   then by kind (users first), externalId and code; each has `code`,
//!   `kind`, `externalId`, `path` (the field, when there is one) and
//!   `message`.
//!
//! Field names may be added in later versions, never renamed or removed;
//! a change of meaning raises `formatVersion`.
//!
//! ## Warning codes
//!
//! | code | when |
//! |---|---|
//! | `languageForced` | `forceSetLanguage: true` (with `users` given): every plan warns that users' own language choices are reset |
//! | `thresholdForced` | a relative threshold was crossed and passed with `--force` |
//! | `languageNotForced` | an existing user's `language` differs from the spec, which the API only applies on create (no update is planned) |
//! | `userReactivated` | `active` is omitted on a deactivated user: the API reactivates it |
//! | `omittedFieldKept` | a field the tool set before is omitted now, so the server keeps it: a non-empty accessInfo list (clear with `[]`), a role other than `User` (cannot be reset by omission), an externalProperties key (cannot be cleared), a group's parent (`parent: null` makes a root) |
//! | `unmanagedMembershipKept` | a given accessInfo list leaves out a group orgform does not manage, which the API keeps |
//! | `membershipRemovedWithGroup` | `users` is omitted and a deleted group takes a user's memberships with it |
//! | `groupHistoryDropped` | every group deletion: &frankly drops that group's historic results |
//! | `groupNameReused` | a new group has the name (case-insensitive) of a group the plan deletes: its history is lost |
//! | `emailReused` | a new user has the email (case-insensitive) of a user the plan deletes: probably a changed externalId |
//! | `protectionLifted` | `protected: false` lifts a protection the state remembers |
//! | `noAdministratorLeft` | `users` is given and the plan leaves no active managed Administrator, where the state had one (only manually created administrators, if any, remain) |
//! | `rolloutUnfinished` | emitted by the CLI, not the planner (it knows the state): the state's `rollout` names a plan in waves that has waves left |
//!
//! ## Blocked-reason codes
//!
//! | code | when | `--force` |
//! |---|---|---|
//! | `limitExceeded` | a planned count is above its limit (one reason per limit) | no |
//! | `protectedDeletion` | the plan deletes a protected record (one per record) | no |
//! | `hierarchyCycle` | the hierarchy after the plan has a cycle (a parent left out keeps its old value) | no |
//! | `orphanGroup` | a group's parent is deleted by the plan, or is neither a group after the plan nor in `externalGroups` (checked when `groups` is given) | no |
//! | `deletedGroupReferenced` | a given accessInfo list names a managed group the plan deletes (the server would refuse it) | no |
//! | `userDeletionThreshold` | users deleted or deactivated above `safety.maxUserDeletionPercent` | yes |
//! | `groupDeletionThreshold` | groups deleted above `safety.maxGroupDeletionPercent` | yes |
//! | `membershipLossThreshold` | memberships lost above `safety.maxMembershipLossPercent` | yes |
//! | `minAdministrators` | fewer active Administrators than `safety.minAdministrators` | no |
//! | `wavesImpossible` | the plan cannot be split into requests within the per-request cap: changes that must land together (a swap or rotation of emails or phones) exceed it, or no order keeps the Administrators at or above min(`minAdministrators`, those before the apply); names the records and the way out (two applies via an interim value the user chooses) | no |
//!
//! # Saved plans
//!
//! A [`SavedPlan`] serializes as `{"formatVersion": 1, "toolVersion",
//! "base": {"lineage", "serial", "endpoint"?}, "specDigest", "planDigest",
//! "org", "plan"}`: `org` is the validated [`orgform_model::DesiredOrg`],
//! `plan` the JSON plan above, `planDigest` its digest ([`Plan::digest`]:
//! `sha256:<hex>` of its compact JSON); [`render::text_doc`] and
//! [`render::json_doc`] draw [`SavedPlan::plan`] without the state. Before
//! applying or showing it against a state, the CLI calls
//! [`SavedPlan::replan`], the one check: the file agrees with itself, the
//! state is its base (lineage, serial), [`SavedPlan::org`] validates again,
//! and planning it with [`SavedPlan::options`] gives the reviewed digest.
//! (The endpoint a state was applied to is checked by the CLI, which knows
//! which endpoint a run is about to use.)

mod doc;
mod hierarchy;
mod planner;
pub mod render;
mod saved;
mod waves;
// Review outputs (issue 8): Markdown, diff, deletions report, redaction, compare.
pub mod compare;
pub mod diff;
mod escape;
pub mod graph;
pub mod markdown;
pub mod redact;
pub mod report;
pub mod review;

use std::collections::{BTreeMap, BTreeSet};

use orgform_model::{DesiredOrg, EffectiveOrg, Limits, Protected};
use orgform_spec::ValidatedSpec;

pub use doc::{
    Action, BaseRef, BlockedCode, BlockedReason, Change, FORMAT_VERSION, FieldChange, KindSummary,
    LimitCheck, PlanDoc, Record, Summary, Warning, WarningCode, Wave, WaveCounts,
};
pub use planner::{
    DEFAULT_MAX_GROUP_DELETION_PERCENT, DEFAULT_MAX_USER_DELETION_PERCENT, DEFAULT_MIN_POPULATION,
};
pub use saved::{SavedBase, SavedPlan, SavedPlanError};

/// An empty org, for [`Base::empty`].
static EMPTY_ORG: EffectiveOrg = EffectiveOrg {
    users: BTreeMap::new(),
    groups: BTreeMap::new(),
    protected: Protected {
        users: BTreeSet::new(),
        groups: BTreeSet::new(),
    },
};

/// The state a plan is made against: its lineage and serial (recorded in
/// the plan, so a saved plan can be checked for staleness) and its
/// effective records.
#[derive(Debug, Clone, Copy)]
pub struct Base<'a> {
    /// The state's lineage id; `None` when there is no state yet.
    pub lineage: Option<&'a str>,
    /// The state's serial; 0 when there is no state yet.
    pub serial: u64,
    /// What the server holds (as far as orgform knows).
    pub org: &'a EffectiveOrg,
}

impl Base<'static> {
    /// No state yet: no lineage, serial 0, no records.
    pub fn empty() -> Self {
        Base {
            lineage: None,
            serial: 0,
            org: &EMPTY_ORG,
        }
    }
}

/// How to plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Pass the relative safety thresholds (`safety.max*Percent`) knowingly;
    /// never a protected record, an API limit, the hierarchy checks or
    /// `safety.minAdministrators`.
    pub force: bool,
}

/// A plan: what apply would change, why it may be refused, and the state
/// the server holds afterwards. Only [`plan`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    doc: PlanDoc,
    effective_after: EffectiveOrg,
    request_limits: Limits,
    waves: waves::WaveData,
}

impl Plan {
    /// The changes, in apply order.
    pub fn changes(&self) -> &[Change] {
        &self.doc.changes
    }

    /// The warnings, sorted.
    pub fn warnings(&self) -> &[Warning] {
        &self.doc.warnings
    }

    /// Why apply must refuse the plan (empty when it may go ahead).
    pub fn blocked_reasons(&self) -> &[BlockedReason] {
        &self.doc.blocked_reasons
    }

    /// Whether apply must refuse the plan.
    pub fn is_blocked(&self) -> bool {
        self.doc.blocked
    }

    /// Whether the server would change anything. A plan without changes
    /// may still change the state's protected sets (see
    /// [`Plan::effective_after`]).
    pub fn has_changes(&self) -> bool {
        !self.doc.changes.is_empty()
    }

    /// The counts per kind.
    pub fn summary(&self) -> &Summary {
        &self.doc.summary
    }

    /// All six API limits against the planned counts, in
    /// [`orgform_model::LimitName::ALL`] order.
    pub fn limits(&self) -> &[LimitCheck] {
        &self.doc.limits
    }

    /// What the server holds after the plan is applied, with the protected
    /// sets the spec gives: the next state's records.
    pub fn effective_after(&self) -> &EffectiveOrg {
        &self.effective_after
    }

    /// The limits to send in one request of the whole plan: the spec's,
    /// capped at the per-request cap, with `maxUsersDeleted` and
    /// `maxGroupsDeleted` lowered to the planned deletion counts, so the
    /// server can never delete more than the reviewer saw. For a plan in
    /// waves, send [`Plan::wave_limits`] with each wave instead.
    pub fn request_limits(&self) -> Limits {
        self.request_limits
    }

    /// One entry per request, in order: empty when nothing is sent, one
    /// for an ordinary plan, more for a plan applied in waves.
    pub fn waves(&self) -> &[Wave] {
        &self.doc.waves
    }

    /// The most changes of a kind one request carries (20,000, or the
    /// spec's `target.maxPerRequest`).
    pub fn max_per_request(&self) -> u32 {
        self.doc.max_per_request
    }

    /// The full desired org of wave `wave` (0-based), built on demand so
    /// that only one wave's copy is held at a time: records due by that
    /// wave as the spec has them (a member whose omitted list still names a
    /// group a later wave deletes gets that list sent explicitly), records
    /// not yet due at the state's values, records deleted by a later wave
    /// as the state holds them. For a single-wave plan (and the last wave)
    /// it is the spec's org itself. `spec` must be the one planned.
    pub fn wave_request(&self, spec: &ValidatedSpec, wave: usize) -> DesiredOrg {
        self.waves.request(spec.org(), &self.effective_after, wave)
    }

    /// The limits to send with wave `wave` (0-based): its planned deletion
    /// counts as the deletion limits; the spec's create and update limits,
    /// capped at the per-request cap.
    pub fn wave_limits(&self, wave: usize) -> Limits {
        self.waves.limits(&self.spec_limits(), wave)
    }

    /// What the server holds after wave `wave` (0-based): the state to
    /// commit after it. After the last wave it is [`Plan::effective_after`].
    /// Protected sets are the plan's, for the records present.
    pub fn effective_after_wave(&self, wave: usize) -> EffectiveOrg {
        self.waves.effective(&self.effective_after, wave)
    }

    /// The spec's six limits, as the plan's limit checks hold them.
    fn spec_limits(&self) -> Limits {
        let mut out = Limits::default();
        for check in &self.doc.limits {
            out.set(check.name, check.limit);
        }
        out
    }

    /// The digest of the spec the plan was made from.
    pub fn spec_digest(&self) -> &str {
        &self.doc.spec_digest
    }

    /// The state the plan was made against.
    pub fn base(&self) -> &BaseRef {
        &self.doc.base
    }

    /// The plan as its JSON document.
    pub fn doc(&self) -> &PlanDoc {
        &self.doc
    }

    /// `sha256:<hex>` of the canonical (compact) JSON plan; see
    /// [`PlanDoc::digest`].
    pub fn digest(&self) -> String {
        self.doc.digest()
    }
}

impl PlanDoc {
    /// `sha256:<hex>` of this document's compact JSON. Reading a document
    /// back and serializing it again gives the same bytes, so the digest of
    /// a saved plan can be checked without the state.
    pub fn digest(&self) -> String {
        orgform_spec::sha256_json(self)
    }

    /// Whether the server would change anything.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }
}

/// Plans `spec` against `base`: pure and deterministic (the same input
/// gives a byte-identical plan).
pub fn plan(spec: &ValidatedSpec, base: Base<'_>, options: &PlanOptions) -> Plan {
    planner::plan(spec, base, options)
}

#[cfg(test)]
mod tests;
