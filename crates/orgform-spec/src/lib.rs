//! Spec loading and validation: YAML in, [`ValidatedSpec`] or located
//! [`Diagnostics`] out.
//!
//! - [`load`] reads a spec file, or a directory whose `*.yaml`/`*.yml` files
//!   merge, decodes it with exact positions, and checks every rule of
//!   DESIGN section 1. It never stops at the first problem: all
//!   diagnostics come back at once, sorted by file, line and column.
//! - [`validate_org`] checks the same semantic rules on an org that did not
//!   come from YAML (a saved plan, a test); its diagnostics have no location.
//! - A [`ValidatedSpec`] can only come out of these two: the planner and the
//!   apply flow take one as proof that every rule holds. It carries the
//!   org (users and groups sorted by externalId, `phone: ""` and
//!   `description: ""` normalised to absent), its digest, a [`SourceMap`]
//!   (where each record and field was written) and the warnings.
//! - [`spec_schema`] is the JSON Schema of a spec file, for editors
//!   (`orgform schema`), generated from the model's types and refined from
//!   this crate's rule tables.
//! - [`format_file`] / [`format_str`] give a spec file's canonical key
//!   order and layout (`orgform fmt`), comments kept, meaning checked
//!   unchanged; [`spec_files`] lists the files a spec path stands for.
//! - [`fix_file`] / [`fix_str`] rewrite a file's mechanical problems in
//!   place (`orgform fmt --fix`: numbers quoted where strings belong,
//!   `yes`/`no`/`on`/`off` turned into booleans) and return what is left.
//! - A [`Diagnostic`] has a stable camelCase `code`, a message, a
//!   [`Location`], a hint, the &frankly API error it prevents, and related
//!   places; [`Diagnostics::render`] draws them like rustc,
//!   [`Diagnostics::to_json`] gives the machine-readable form.
//!
//! ```
//! use orgform_model::{DesiredOrg, DesiredUser};
//!
//! let mut user = DesiredUser::new("E1", "Ada", "Lovelace", "ada@example.com");
//! user.phone = Some("0701234567".into());
//! let org = DesiredOrg { users: Some(vec![user]), ..DesiredOrg::default() };
//! let diags = orgform_spec::validate_org(org).unwrap_err();
//! let first = diags.iter().next().unwrap();
//! assert_eq!(first.code, "invalidPhone");
//! assert_eq!(first.api_error, Some("validateThatPhoneNumberIsCorrect"));
//! ```
//!
//! Diagnostic codes (stable): loading `unreadable`, `notRegularFile`, `noYamlFiles`,
//! `fileTooLarge`, `notUtf8`, `emptyFile`, `byteOrderMark` (warning); YAML
//! `yamlSyntax`, `tooDeep`, `aliasBudget`, `unknownAlias`,
//! `multipleDocuments`, `unsupportedTag`; shape `wrongType`, `nullValue`,
//! `notABoolean`, `numberNotString`, `unknownField`, `duplicateKey`,
//! `duplicateListEntry` (warning), `duplicateTopLevelKey`, `missingVersion`,
//! `unsupportedVersion`, `outOfRange`; rules `missingField`,
//! `duplicateExternalId`, `duplicateEmail`, `invalidEmail`, `invalidPhone`,
//! `duplicatePhone`, `invalidTimezone`, `invalidLanguage`, `invalidRole`,
//! `unknownGroup`, `externalGroupManaged`, `selfParent`, `parentCycle`,
//! `undeclaredAttribute`, `attributeValueNotAllowed`,
//! `requiredAttributeMissing`, `emptyAttributeValue`, `limitOutOfRange`,
//! `percentOutOfRange`, `invalidEndpoint`, `invalidTokenEnv`, `invalidTokenHeader`, `blankField`; formatting
//! `fmtAlias`, `fmtComment`, `fmtInternal`.

mod diag;
mod events;
mod fix;
mod fmt;
mod load;
mod rules;
mod schema;
mod source;
mod split;
mod suggest;
mod tables;
mod yaml;

use std::path::Path;
use std::sync::OnceLock;

use orgform_model::DesiredOrg;
use sha2::{Digest, Sha256};

pub use diag::{Diagnostic, Diagnostics, Folded, Grouped, Location, SHOWN_PER_CODE, Severity};
pub use fix::{Fixed, fix_file, fix_str};
pub use fmt::{Formatted, format_file, format_str, spec_files, yaml_scalar};
pub use schema::{SCHEMA_ID, spec_schema, spec_schema_text};
pub use source::SourceMap;

/// How [`load`] reads files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// The largest spec file accepted, checked with the file's metadata
    /// before reading (and again while reading). Default 256 MiB.
    pub max_file_bytes: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_file_bytes: 256 * 1024 * 1024,
        }
    }
}

/// A desired org that passed every validation rule, with its digest, where
/// it was written, and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct ValidatedSpec {
    org: DesiredOrg,
    /// Computed on first use (a second thread may compute it while the
    /// first plans: `orgform plan` does).
    digest: OnceLock<String>,
    sources: SourceMap,
    warnings: Diagnostics,
}

impl ValidatedSpec {
    /// The validated org; users and groups sorted by externalId.
    pub fn org(&self) -> &DesiredOrg {
        &self.org
    }

    /// The validated org, by value.
    pub fn into_org(self) -> DesiredOrg {
        self.org
    }

    /// `sha256:<hex>` of the org in canonical form (sorted, compact JSON).
    ///
    /// Computed on the first call (at 100k users it encodes ~40 MB of
    /// JSON); a concurrent call waits for that one.
    pub fn digest(&self) -> &str {
        self.digest.get_or_init(|| digest_of(&self.org))
    }

    /// Where each record and field was written (empty for [`validate_org`]).
    pub fn sources(&self) -> &SourceMap {
        &self.sources
    }

    /// Warnings (the spec is valid despite them).
    pub fn warnings(&self) -> &Diagnostics {
        &self.warnings
    }
}

/// Loads and validates a spec: a file, or a directory of `*.yaml`/`*.yml`
/// files (sorted by name, hidden files and subdirectories ignored) whose
/// `users` and `groups` lists are concatenated.
///
/// `Err` holds every diagnostic, errors and warnings, sorted by file, line
/// and column; `Ok` holds the warnings in [`ValidatedSpec::warnings`].
pub fn load(path: &Path, options: &LoadOptions) -> Result<ValidatedSpec, Diagnostics> {
    load::load(path, options)
}

/// Checks every semantic rule on an org that did not come from YAML (a
/// saved plan, a test). Its diagnostics have no location.
pub fn validate_org(org: DesiredOrg) -> Result<ValidatedSpec, Diagnostics> {
    let diags = rules::check(&org, None);
    if diags.iter().any(|d| d.severity.is_error()) {
        return Err(Diagnostics::from_sorted(diags));
    }
    Ok(finish(
        org,
        SourceMap::default(),
        Diagnostics::from_sorted(diags),
    ))
}

/// The rules of [`validate_org`] on an org that is only checked, not kept:
/// every diagnostic (errors and warnings, without location). `orgform
/// import` checks the org it writes by reference while another thread
/// writes its files.
pub fn check_org(org: &DesiredOrg) -> Diagnostics {
    Diagnostics::from_sorted(rules::check(org, None))
}

/// Normalises, sorts and digests a valid org.
pub(crate) fn finish(
    mut org: DesiredOrg,
    sources: SourceMap,
    warnings: Diagnostics,
) -> ValidatedSpec {
    if let Some(users) = &mut org.users {
        for u in users.iter_mut() {
            if u.phone.as_deref() == Some("") {
                u.phone = None;
            }
        }
        users.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    }
    if let Some(groups) = &mut org.groups {
        for g in groups.iter_mut() {
            if g.description.as_deref() == Some("") {
                g.description = None;
            }
        }
        groups.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    }
    ValidatedSpec {
        org,
        digest: OnceLock::new(),
        sources,
        warnings,
    }
}

/// `sha256:<hex>` of the canonical JSON form of an org: the compact
/// serde_json of the [`DesiredOrg`] with users and groups sorted by
/// externalId (as [`ValidatedSpec::org`] holds it).
pub fn digest_of(org: &DesiredOrg) -> String {
    sha256_json(org)
}

/// Feeds whatever is written into a SHA-256.
struct Hashing(Sha256);

impl std::io::Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `sha256:<hex>` of a value's compact serde_json: the one digest of the
/// project (specs here, plans in orgform-plan).
pub fn sha256_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    use std::fmt::Write as _;
    // The JSON is hashed as it is encoded, never held whole (40 MB at 100k
    // users). Encoding a model value cannot fail: every map key is a string.
    let mut hasher = std::io::BufWriter::with_capacity(1 << 16, Hashing(Sha256::new()));
    let _ = serde_json::to_writer(&mut hasher, value);
    let _ = std::io::Write::flush(&mut hasher);
    let (Hashing(h), _) = hasher.into_parts();
    let hash = h.finalize();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash.iter() {
        let _ = write!(out, "{b:02x}");
    }
    out
}
