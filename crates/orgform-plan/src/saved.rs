//! Saved plans (`orgform plan --out`): what was reviewed, so `apply
//! PLANFILE` can apply exactly that, or refuse.

use orgform_model::DesiredOrg;
use orgform_spec::{Diagnostics, ValidatedSpec};
use serde::{Deserialize, Serialize};

use crate::doc::{FORMAT_VERSION, PlanDoc};
use crate::{Base, Plan, PlanOptions};

/// Why a saved plan cannot be applied. Messages are lowercase and name the
/// values involved in backticks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavedPlanError {
    /// The file is of another format version.
    #[error(
        "the saved plan has format version `{found}`; this orgform reads version `{FORMAT_VERSION}`"
    )]
    UnsupportedFormat {
        /// The file's `formatVersion`.
        found: u32,
    },
    /// The file does not agree with itself: edited after it was saved.
    #[error("the saved plan was altered after it was saved: {what}")]
    Altered {
        /// What does not match.
        what: String,
    },
    /// The state is another one than the plan was made against.
    #[error(
        "the plan was made against {saved}, but {current}: it belongs to another state; make a \
         new plan"
    )]
    LineageMismatch {
        /// The saved base, e.g. ``lineage `…` `` or `no state`.
        saved: String,
        /// The current state: ``the state has lineage `…` `` or `there is no state`.
        current: String,
    },
    /// The state has moved on since the plan was made.
    #[error(
        "the plan is stale: it was made against state serial `{saved}`, but the state is at \
         serial `{current}`; make a new plan and review it"
    )]
    Stale {
        /// The saved base's serial.
        saved: u64,
        /// The current state's serial.
        current: u64,
    },
    /// The saved org no longer validates (edited, or made by an orgform
    /// whose rules differ).
    #[error(
        "the org in the saved plan is not valid ({} problem(s)): it was altered or made by an \
         incompatible version; make a new plan",
        .0.len()
    )]
    InvalidOrg(Diagnostics),
    /// Every wave of the plan is applied already (the state's rollout says so).
    #[error(
        "the plan is stale: it is already applied (all {waves} waves); make a new plan to change \
         anything more"
    )]
    AlreadyApplied {
        /// The plan's waves.
        waves: usize,
    },
    /// Replanned with another `--force` than the saved plan.
    #[error("the plan was made {saved}; apply it the same way")]
    ForceMismatch {
        /// `with --force` or `without --force`.
        saved: &'static str,
    },
    /// Replanning gives another plan: not what was reviewed.
    #[error(
        "the saved plan `{saved}` is not what the state and the saved org give now \
         (`{replanned}`): it was altered, or made by another orgform version; make a new plan"
    )]
    Differs {
        /// The saved plan digest.
        saved: String,
        /// The digest of the plan made now.
        replanned: String,
    },
}

/// The state a saved plan was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedBase {
    /// The state's lineage; `null` when there was no state.
    pub lineage: Option<String>,
    /// The state's serial; 0 when there was no state.
    pub serial: u64,
    /// The endpoint the state was applied to; left out when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// A plan file: the reviewed plan, and everything needed to apply exactly
/// it (the full validated org) or to refuse it (base, digests).
///
/// JSON (`formatVersion` 1): `{"formatVersion", "toolVersion", "base":
/// {"lineage", "serial", "endpoint"?}, "specDigest", "planDigest", "org":
/// <the validated DesiredOrg>, "plan": <the JSON plan>}`. No token is ever
/// in it (the org holds only the name of the token's env var).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedPlan {
    format_version: u32,
    tool_version: String,
    base: SavedBase,
    spec_digest: String,
    plan_digest: String,
    org: DesiredOrg,
    plan: PlanDoc,
}

impl SavedPlan {
    /// Saves `plan`, made from `spec` against a state applied to `endpoint`
    /// (`None` for no state, or a state without one).
    pub fn new(plan: &Plan, spec: &orgform_spec::ValidatedSpec, endpoint: Option<&str>) -> Self {
        SavedPlan {
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            base: SavedBase {
                lineage: plan.base().lineage.clone(),
                serial: plan.base().serial,
                endpoint: endpoint.map(str::to_owned),
            },
            spec_digest: plan.spec_digest().to_owned(),
            plan_digest: plan.digest(),
            org: spec.org().clone(),
            plan: plan.doc().clone(),
        }
    }

    /// The validated org the plan was made from (validate it again before
    /// use: the file may have been edited).
    pub fn org(&self) -> &DesiredOrg {
        &self.org
    }

    /// The reviewed plan.
    pub fn plan(&self) -> &PlanDoc {
        &self.plan
    }

    /// The state the plan was made against.
    pub fn base(&self) -> &SavedBase {
        &self.base
    }

    /// The digest of the org.
    pub fn spec_digest(&self) -> &str {
        &self.spec_digest
    }

    /// The digest of the reviewed plan.
    pub fn plan_digest(&self) -> &str {
        &self.plan_digest
    }

    /// The orgform version that saved it.
    pub fn tool_version(&self) -> &str {
        &self.tool_version
    }

    /// The options the plan was made with: replan with these.
    pub fn options(&self) -> PlanOptions {
        PlanOptions {
            force: self.plan.forced,
        }
    }

    /// Whether the file agrees with itself: its format version, its plan
    /// digest against its plan, its spec digest against its plan and org.
    /// Needs no state; [`SavedPlan::verify`] includes it.
    pub fn check_integrity(&self) -> Result<(), SavedPlanError> {
        if self.format_version != FORMAT_VERSION {
            return Err(SavedPlanError::UnsupportedFormat {
                found: self.format_version,
            });
        }
        if self.plan.format_version != FORMAT_VERSION {
            return Err(SavedPlanError::UnsupportedFormat {
                found: self.plan.format_version,
            });
        }
        let digest = self.plan.digest();
        if digest != self.plan_digest {
            return Err(SavedPlanError::Altered {
                what: format!(
                    "the plan's digest is `{digest}`, not the recorded `{}`",
                    self.plan_digest
                ),
            });
        }
        if self.plan.spec_digest != self.spec_digest {
            return Err(SavedPlanError::Altered {
                what: format!(
                    "the plan was made from org `{}`, not the recorded `{}`",
                    self.plan.spec_digest, self.spec_digest
                ),
            });
        }
        let org_digest = orgform_spec::digest_of(&self.org);
        if org_digest != self.spec_digest {
            return Err(SavedPlanError::Altered {
                what: format!(
                    "the org's digest is `{org_digest}`, not the recorded `{}`",
                    self.spec_digest
                ),
            });
        }
        if self.plan.base.lineage != self.base.lineage || self.plan.base.serial != self.base.serial
        {
            return Err(SavedPlanError::Altered {
                what: "the plan's base is not the recorded base".to_owned(),
            });
        }
        Ok(())
    }

    /// Whether the current state (its lineage and serial; `None` and 0 for
    /// no state) is the one the plan was made against.
    pub fn check_base(&self, lineage: Option<&str>, serial: u64) -> Result<(), SavedPlanError> {
        let saved = self.base.lineage.as_deref();
        if saved.is_some() && lineage != saved {
            return Err(SavedPlanError::LineageMismatch {
                saved: match saved {
                    Some(l) => format!("state lineage `{l}`"),
                    None => "no state".to_owned(),
                },
                current: match lineage {
                    Some(l) => format!("the state has lineage `{l}`"),
                    None => "there is no state".to_owned(),
                },
            });
        }
        if serial != self.base.serial || lineage.is_some() != saved.is_some() {
            return Err(SavedPlanError::Stale {
                saved: self.base.serial,
                current: serial,
            });
        }
        Ok(())
    }

    /// The one check `apply PLANFILE` and `show PLANFILE` make: the file
    /// agrees with itself, `base` is the state it was made against, its org
    /// still validates, and planning that org against `base` with the saved
    /// options gives exactly the reviewed plan. Returns the validated org
    /// and the plan, which is then what was reviewed, byte for byte.
    pub fn replan(&self, base: Base<'_>) -> Result<(ValidatedSpec, Plan), SavedPlanError> {
        self.check_integrity()?;
        self.check_base(base.lineage, base.serial)?;
        let spec =
            orgform_spec::validate_org(self.org.clone()).map_err(SavedPlanError::InvalidOrg)?;
        let plan = crate::plan(&spec, base, &self.options());
        self.verify(&plan)?;
        Ok((spec, plan))
    }

    /// [`SavedPlan::replan`] for a plan applied in waves and stopped after
    /// `done` of them (the state's `rollout` names this plan's digest: the
    /// caller checks that): the state must be this plan's lineage at its
    /// base serial + `done`, and planning the saved org against it must give
    /// exactly the plan's remaining waves (the same changes, counts and
    /// order, renumbered from 1). Returns the validated org and that plan of
    /// the remaining waves.
    pub fn resume(
        &self,
        base: Base<'_>,
        done: usize,
    ) -> Result<(ValidatedSpec, Plan), SavedPlanError> {
        self.check_integrity()?;
        let total = self.plan.waves.len();
        if done >= total {
            return Err(SavedPlanError::AlreadyApplied { waves: total });
        }
        let expected = self.base.serial + done as u64;
        let base_lineage = self.base.lineage.as_deref();
        if base_lineage.is_some() && base.lineage != base_lineage {
            return Err(SavedPlanError::LineageMismatch {
                saved: format!("state lineage `{}`", base_lineage.unwrap_or_default()),
                current: match base.lineage {
                    Some(l) => format!("the state has lineage `{l}`"),
                    None => "there is no state".to_owned(),
                },
            });
        }
        if base.serial != expected {
            return Err(SavedPlanError::Stale {
                saved: expected,
                current: base.serial,
            });
        }
        let spec =
            orgform_spec::validate_org(self.org.clone()).map_err(SavedPlanError::InvalidOrg)?;
        let plan = crate::plan(&spec, base, &self.options());
        let remaining: Vec<_> = self
            .plan
            .changes
            .iter()
            .filter(|c| c.wave as usize > done)
            .map(|c| {
                let mut c = c.clone();
                c.wave -= done as u32;
                c
            })
            .collect();
        if plan.doc().changes != remaining || plan.doc().waves[..] != self.plan.waves[done..] {
            return Err(SavedPlanError::Differs {
                saved: self.plan_digest.clone(),
                replanned: plan.digest(),
            });
        }
        Ok((spec, plan))
    }

    /// Whether `replanned` (the saved org, validated again, planned against
    /// the current state with [`SavedPlan::options`]) is exactly the plan
    /// that was reviewed. Includes [`SavedPlan::check_integrity`].
    pub fn verify(&self, replanned: &Plan) -> Result<(), SavedPlanError> {
        self.check_integrity()?;
        if replanned.doc().forced != self.plan.forced {
            return Err(SavedPlanError::ForceMismatch {
                saved: if self.plan.forced {
                    "with --force"
                } else {
                    "without --force"
                },
            });
        }
        let digest = replanned.digest();
        if digest != self.plan_digest {
            return Err(SavedPlanError::Differs {
                saved: self.plan_digest.clone(),
                replanned: digest,
            });
        }
        Ok(())
    }
}
