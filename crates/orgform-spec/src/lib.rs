//! Spec loading and validation: YAML in, [`ValidatedSpec`] or located
//! diagnostics out.
//!
//! A [`ValidatedSpec`] can only come out of validation: the planner and the
//! apply flow take one as proof that every rule of DESIGN section 1 holds.

use orgform_model::DesiredOrg;
use sha2::{Digest, Sha256};

/// A desired org that passed every validation rule, with its digest.
#[derive(Debug, Clone)]
pub struct ValidatedSpec {
    org: DesiredOrg,
    digest: String,
}

impl ValidatedSpec {
    /// The validated org; users and groups sorted by externalId.
    pub fn org(&self) -> &DesiredOrg {
        &self.org
    }

    /// `sha256:<hex>` of the org in canonical form (sorted, compact JSON).
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

/// Validates an org that did not come from YAML (a saved plan, a test).
///
/// PLACEHOLDER until the validation rules land: sorts and digests only.
pub fn validate_org(mut org: DesiredOrg) -> Result<ValidatedSpec, Vec<String>> {
    if let Some(users) = &mut org.users {
        users.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    }
    if let Some(groups) = &mut org.groups {
        groups.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    }
    let digest = digest_of(&org);
    Ok(ValidatedSpec { org, digest })
}

/// `sha256:<hex>` of the canonical JSON form of an org.
pub fn digest_of(org: &DesiredOrg) -> String {
    let canonical = serde_json::to_vec(org).unwrap_or_default();
    let hash = Sha256::digest(&canonical);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}
