//! The pure planner: a validated spec and the last applied state in, a
//! [`Plan`] out. No IO, no async, no clock, no randomness.

mod doc;
mod hierarchy;
mod planner;
pub mod render;
mod saved;

use std::collections::{BTreeMap, BTreeSet};

use orgform_model::{EffectiveOrg, Limits, Protected};
use orgform_spec::ValidatedSpec;
use sha2::{Digest, Sha256};

pub use doc::{
    Action, BaseRef, BlockedCode, BlockedReason, Change, FORMAT_VERSION, FieldChange, KindSummary,
    LimitCheck, PlanDoc, Record, Summary, Warning, WarningCode,
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

    /// The limits to send: the spec's, with `maxUsersDeleted` and
    /// `maxGroupsDeleted` lowered to the planned deletion counts, so the
    /// server can never delete more than the reviewer saw.
    pub fn request_limits(&self) -> Limits {
        self.request_limits
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
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        let hash = Sha256::digest(&canonical);
        let mut out = String::with_capacity(7 + 64);
        out.push_str("sha256:");
        for b in hash.iter() {
            out.push_str(&format!("{b:02x}"));
        }
        out
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
