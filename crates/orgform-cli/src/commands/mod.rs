//! One module per command. Each `run` returns the exit code, or an error
//! that `main` prints with its cause chain (exit 1).

pub mod apply;
pub mod fmt;
pub mod import;
pub mod plan;
pub mod preflight;
pub mod schema;
pub mod show;
pub mod sim;
pub mod state;
pub mod validate;

use std::path::Path;

use anyhow::{Context, bail};
use orgform_model::EffectiveOrg;
use orgform_spec::{LoadOptions, ValidatedSpec};
use orgform_state::{State, Store};

use crate::output;

/// How spec diagnostics reach stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnostics {
    /// In full, with the offending snippets.
    Full,
    /// Counts only: snippets and messages quote personal data (`--redact`).
    Redacted,
}

/// Loads and validates a spec; diagnostics (errors and warnings) go to
/// stderr, and an invalid spec is an error.
pub fn load_spec(path: &Path) -> anyhow::Result<ValidatedSpec> {
    load_spec_with(path, Diagnostics::Full)
}

/// [`load_spec`], choosing how diagnostics are shown.
pub fn load_spec_with(path: &Path, shown: Diagnostics) -> anyhow::Result<ValidatedSpec> {
    let print = |diags: &orgform_spec::Diagnostics| match shown {
        Diagnostics::Full => output::print_stderr(&diags.render(output::stderr_color())),
        Diagnostics::Redacted => output::print_stderr(&format!(
            "{} diagnostic{} hidden by --redact (they quote the spec); run `orgform validate {}` \
             where the output is private\n",
            diags.len(),
            if diags.len() == 1 { "" } else { "s" },
            path.display()
        )),
    };
    match orgform_spec::load(path, &LoadOptions::default()) {
        Ok(spec) => {
            if !spec.warnings().is_empty() {
                print(spec.warnings());
            }
            Ok(spec)
        }
        Err(diags) => {
            print(&diags);
            let errors = diags.iter().filter(|d| d.severity.is_error()).count();
            bail!(
                "spec `{}` is invalid ({errors} error{}); nothing was planned or sent",
                path.display(),
                if errors == 1 { "" } else { "s" }
            )
        }
    }
}

/// The state store chosen by `--state`, `ORGFORM_STATE` or the default path.
pub fn store(flag: Option<&Path>) -> Store {
    Store::new(orgform_state::resolve_path(flag))
}

/// Reads the state (no lock: reading is safe, writes are atomic).
pub fn load_state(store: &Store) -> anyhow::Result<Option<State>> {
    store
        .load()
        .with_context(|| format!("cannot read the state `{}`", store.path().display()))
}

/// The planner's view of a state; `empty` stands in when there is none.
pub fn base<'a>(state: Option<&'a State>, empty: &'a EffectiveOrg) -> orgform_plan::Base<'a> {
    match state {
        Some(s) => orgform_plan::Base {
            lineage: Some(&s.lineage),
            serial: s.serial,
            org: &s.org,
        },
        None => orgform_plan::Base {
            lineage: None,
            serial: 0,
            org: empty,
        },
    }
}
