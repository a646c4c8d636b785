//! `orgform plan --compare PREVIOUS_PLANFILE`: what changed since the plan
//! that was reviewed ("+3 deletions since the reviewed plan").
//!
//! [`compare`] takes two plan documents (the reviewed one, from a saved
//! plan, and the current one) and gives a [`Comparison`]:
//!
//! - `counts`: per kind and action (`create`, `update`, `delete`, and
//!   `deactivate`, the updates that set `active: false`; `update` counts
//!   the other updates, so a deactivation is counted once), the reviewed
//!   and the current count;
//! - `records`: every record whose planned change is new (`added`), gone
//!   (`removed`) or different (`changed`: another action, other fields or
//!   other values; `fields` names the field paths that differ, never their
//!   values), users first, then groups, each by externalId;
//! - both plans' base state, digests and blocked flag.
//!
//! The comparison is made from the unmasked plans (a masked value cannot
//! tell whether it changed); [`Comparison::redacted`] then masks the user
//! labels, the only personal data it holds.
//!
//! This module returns data and plain sentences about it
//! ([`Comparison::headline`], [`Comparison::notes`],
//! [`Comparison::describe`]); the renderers draw it: [`Comparison::text`]
//! in [`crate::render`], the Markdown section in [`crate::markdown`].

use std::collections::{BTreeMap, BTreeSet};

use orgform_model::Kind;
use serde::Serialize;
use serde_json::Value;

use crate::doc::{Action, BaseRef, Change, PlanDoc};
use crate::redact::MASK;

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSide {
    /// The state the plan was made against.
    pub base: BaseRef,
    /// The digest of the desired org.
    pub spec_digest: String,
    /// The digest of the plan (what `apply` checks).
    pub plan_digest: String,
    /// Whether apply refuses the plan.
    pub blocked: bool,
}

impl PlanSide {
    fn of(doc: &PlanDoc) -> PlanSide {
        PlanSide {
            base: doc.base.clone(),
            spec_digest: doc.spec_digest.clone(),
            plan_digest: doc.digest(),
            blocked: doc.blocked,
        }
    }
}

/// The reviewed and the current count of one kind and action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountDelta {
    /// `user` or `group`.
    pub kind: Kind,
    /// `create`, `update` (other than a deactivation), `delete` or
    /// `deactivate`.
    pub action: &'static str,
    /// In the reviewed plan.
    pub previous: usize,
    /// In the current plan.
    pub current: usize,
}

impl CountDelta {
    /// `current - previous`.
    pub fn delta(&self) -> i64 {
        self.current as i64 - self.previous as i64
    }
}

/// How a record's planned change differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Planned now, not in the reviewed plan.
    Added,
    /// In the reviewed plan, not planned now.
    Removed,
    /// Planned in both, differently.
    Changed,
}

/// One record whose planned change differs between the two plans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordDelta {
    /// `user` or `group`.
    pub kind: Kind,
    /// The record.
    pub external_id: String,
    /// Its label in the current plan (the reviewed one when removed).
    pub label: String,
    /// Added, removed or changed.
    pub status: Status,
    /// The action in the current plan (the reviewed one when removed).
    pub action: Action,
    /// The reviewed plan's action, when it was another.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_action: Option<Action>,
    /// Whether the current change (the reviewed one when removed) is a deactivation.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deactivation: bool,
    /// The field paths that differ (for a changed record of the same action).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// What changed between a reviewed plan and the current one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    /// The reviewed plan.
    pub previous: PlanSide,
    /// The current plan.
    pub current: PlanSide,
    /// Counts per kind and action, users first, in the order create,
    /// update, delete, deactivate.
    pub counts: Vec<CountDelta>,
    /// The records whose planned change differs.
    pub records: Vec<RecordDelta>,
}

const ACTIONS: [&str; 4] = ["create", "update", "delete", "deactivate"];

/// Compares the reviewed plan `previous` with `current`.
pub fn compare(previous: &PlanDoc, current: &PlanDoc) -> Comparison {
    let index = |doc: &'_ PlanDoc| -> BTreeMap<(Kind, String), Change> {
        doc.changes
            .iter()
            .map(|c| ((c.kind, c.external_id.clone()), c.clone()))
            .collect()
    };
    let (old, new) = (index(previous), index(current));
    let mut counts = Vec::new();
    for kind in [Kind::User, Kind::Group] {
        for action in ACTIONS {
            if kind == Kind::Group && action == "deactivate" {
                continue;
            }
            let count = |m: &BTreeMap<(Kind, String), Change>| {
                m.values()
                    .filter(|c| c.kind == kind && counts_as(c, action))
                    .count()
            };
            counts.push(CountDelta {
                kind,
                action,
                previous: count(&old),
                current: count(&new),
            });
        }
    }
    let keys: BTreeSet<&(Kind, String)> = old.keys().chain(new.keys()).collect();
    let mut records = Vec::new();
    for key in keys {
        let delta = match (old.get(key), new.get(key)) {
            (None, Some(c)) => record(c, Status::Added, None, Vec::new()),
            (Some(c), None) => record(c, Status::Removed, None, Vec::new()),
            (Some(o), Some(c)) if o == c => continue,
            (Some(o), Some(c)) if o.action != c.action => {
                record(c, Status::Changed, Some(o.action), Vec::new())
            }
            (Some(o), Some(c)) => record(c, Status::Changed, None, differing_fields(o, c)),
            (None, None) => continue,
        };
        records.push(delta);
    }
    Comparison {
        previous: PlanSide::of(previous),
        current: PlanSide::of(current),
        counts,
        records,
    }
}

/// Whether `c` counts as `action`: a deactivation counts as `deactivate`
/// only, never as `update` too.
fn counts_as(c: &Change, action: &str) -> bool {
    match action {
        "deactivate" => c.deactivates(),
        "update" => c.action == Action::Update && !c.deactivates(),
        a => c.action.as_str() == a,
    }
}

fn record(
    c: &Change,
    status: Status,
    previous_action: Option<Action>,
    fields: Vec<String>,
) -> RecordDelta {
    RecordDelta {
        kind: c.kind,
        external_id: c.external_id.clone(),
        label: c.label.clone(),
        status,
        action: c.action,
        previous_action,
        deactivation: c.deactivates(),
        fields,
    }
}

/// The field paths whose planned change differs, for two changes of the
/// same action: an update's fields, a create's or delete's record fields.
fn differing_fields(old: &Change, new: &Change) -> Vec<String> {
    let mut out = BTreeSet::new();
    if old.action == Action::Update {
        let a: BTreeMap<&str, _> = old.fields.iter().map(|f| (f.path.as_str(), f)).collect();
        let b: BTreeMap<&str, _> = new.fields.iter().map(|f| (f.path.as_str(), f)).collect();
        for path in a.keys().chain(b.keys()) {
            if a.get(path) != b.get(path) {
                out.insert((*path).to_owned());
            }
        }
    } else {
        let flat = |c: &Change| -> BTreeMap<String, Value> {
            let record = c.after.as_ref().or(c.before.as_ref());
            let mut m = BTreeMap::new();
            if let Some(Value::Object(o)) = record.and_then(|r| serde_json::to_value(r).ok()) {
                m.extend(o);
            }
            m
        };
        let (a, b) = (flat(old), flat(new));
        for key in a.keys().chain(b.keys()) {
            if a.get(key) != b.get(key) {
                out.insert(spec_path(key));
            }
        }
    }
    if out.is_empty() && old.label != new.label {
        out.insert("label".to_owned());
    }
    out.into_iter().collect()
}

/// A flat record key as the spec's field path (`memberOf` ->
/// `accessInfo.memberOf`).
fn spec_path(key: &str) -> String {
    match key {
        "memberOf" | "adminOf" | "inheritedAdminOf" | "interestOf" | "role" => {
            format!("accessInfo.{key}")
        }
        k => k.to_owned(),
    }
}

impl Comparison {
    /// Whether the two plans are the same plan (same digest).
    pub fn is_identical(&self) -> bool {
        self.previous.plan_digest == self.current.plan_digest
    }

    /// A copy with the user labels masked.
    pub fn redacted(&self) -> Comparison {
        let mut c = self.clone();
        for r in &mut c.records {
            if r.kind == Kind::User {
                MASK.clone_into(&mut r.label);
            }
        }
        c
    }

    /// One line, e.g. `+3 deletions, +1 update since the reviewed plan`.
    pub fn headline(&self) -> String {
        if self.is_identical() {
            return "identical to the reviewed plan".to_owned();
        }
        let mut parts = Vec::new();
        for action in ACTIONS {
            let delta: i64 = self
                .counts
                .iter()
                .filter(|c| c.action == action)
                .map(CountDelta::delta)
                .sum();
            if delta != 0 {
                let noun = match action {
                    "create" => "creation",
                    "update" => "update",
                    "delete" => "deletion",
                    _ => "deactivation",
                };
                parts.push(format!(
                    "{delta:+} {noun}{}",
                    if delta.abs() == 1 { "" } else { "s" }
                ));
            }
        }
        if parts.is_empty() {
            let n = self.records.len();
            if n == 0 {
                return "the same changes as the reviewed plan (another base or spec digest)"
                    .to_owned();
            }
            return format!(
                "the same counts as the reviewed plan, but {n} record{} planned differently",
                if n == 1 { " is" } else { "s are" }
            );
        }
        format!("{} since the reviewed plan", parts.join(", "))
    }

    /// Sentences on what else differs: the base state, the spec, the
    /// blocked flag.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        let (p, c) = (&self.previous, &self.current);
        if p.base != c.base {
            notes.push(format!(
                "The state moved on: the reviewed plan was made against serial {}, this one \
                 against serial {}.",
                p.base.serial, c.base.serial
            ));
        }
        if p.spec_digest != c.spec_digest {
            notes.push("The spec differs from the reviewed one.".to_owned());
        }
        match (p.blocked, c.blocked) {
            (false, true) => notes.push("This plan is BLOCKED; the reviewed one was not.".into()),
            (true, false) => notes.push("The reviewed plan was blocked; this one is not.".into()),
            _ => {}
        }
        notes
    }

    /// One record's difference in words, e.g. `delete: new since the
    /// reviewed plan`.
    pub fn describe(r: &RecordDelta) -> String {
        let action = if r.deactivation {
            "deactivation".to_owned()
        } else {
            r.action.as_str().to_owned()
        };
        match (r.status, r.previous_action) {
            (Status::Added, _) => format!("{action}: new since the reviewed plan"),
            (Status::Removed, _) => format!("{action}: no longer planned"),
            (Status::Changed, Some(prev)) => format!("now {action}, was {prev}"),
            (Status::Changed, None) => format!(
                "{action}: planned differently ({})",
                if r.fields.is_empty() {
                    "details".to_owned()
                } else {
                    r.fields.join(", ")
                }
            ),
        }
    }
}
