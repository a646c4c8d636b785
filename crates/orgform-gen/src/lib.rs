//! A deterministic generator of realistic orgs, for benchmarks and large
//! tests: the same [`GenOptions`] give byte-identical files on every machine.
//!
//! - [`generate`] makes a [`Generated`]: the `current` desired org (users
//!   with phones, timezones, languages, 1–3 memberships, some admin rights,
//!   2–4 external properties; about one group per ten users in a tree at
//!   most 6 levels deep, plus employment-type roots), and its `next`
//!   version (about 2% of the users changed, 1% removed, 1% added; a few
//!   groups renamed, moved, removed and added), with [`NextStats`] saying
//!   how many of each.
//! - [`effective`] is what the server holds after applying a desired org
//!   to an empty account, and [`state_for`] wraps it in an
//!   [`orgform_state::State`] (serial 1, a lineage and time derived from
//!   the seed, never the clock), so the next plan starts from a state that
//!   matches `current`.
//! - [`spec_files`] writes a desired org as a spec directory's files;
//!   [`write_dir`] writes `spec/`, `next/` and `state.json` under one
//!   directory (what the `orgform-gen` binary does).
//!
//! Everything generated passes `orgform validate`; the crate's tests check
//! that, and that [`effective`] agrees with the planner.
//!
//! ```
//! use orgform_gen::{GenOptions, generate};
//!
//! let g = generate(&GenOptions { users: 200, seed: 1, users_per_file: None });
//! let users = g.current.users.as_ref().map_or(0, Vec::len);
//! assert_eq!(users, 200);
//! assert_eq!(g.stats.users_added, 2);
//! assert!(orgform_spec::validate_org(g.current).is_ok());
//! ```
//!
//! The benchmarks (`benches/pipeline.rs`, divan) and the serde_yaml
//! baseline binary (`yaml-baseline`) need `--features bench`; see
//! BENCHMARKS.md at the workspace root.

#[cfg(feature = "bench")]
pub mod baseline;
mod generate;
mod rng;
mod tables;
mod yaml;

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use orgform_model::{AccessList, DesiredOrg, EffGroup, EffUser, EffectiveOrg, ParentRef, Role};
use orgform_state::State;

pub use yaml::spec_files;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenOptions {
    /// Users of the current org (at most [`MAX_USERS`]).
    pub users: usize,
    /// Every random choice follows from it.
    pub seed: u64,
    /// Users per spec file ([`spec_files`]); `None` = all in `users.yaml`.
    pub users_per_file: Option<usize>,
}

/// The largest org [`generate`] makes: phone numbers and externalIds are
/// built from a 7-digit user index.
pub const MAX_USERS: usize = 5_000_000;

/// How the `next` org differs from the `current` one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NextStats {
    /// Users whose effective record changes (including those that lose a
    /// removed group).
    pub users_changed: usize,
    /// Users removed.
    pub users_removed: usize,
    /// Users added.
    pub users_added: usize,
    /// Groups renamed.
    pub groups_renamed: usize,
    /// Groups given another parent.
    pub groups_moved: usize,
    /// Groups removed (leaves, so no group is orphaned).
    pub groups_removed: usize,
    /// Groups added.
    pub groups_added: usize,
}

/// A generated org and its next version.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The org as applied: `state_for(&current)` is its state.
    pub current: DesiredOrg,
    /// The next version, to plan against that state.
    pub next: DesiredOrg,
    /// How `next` differs.
    pub stats: NextStats,
}

/// Failures of [`write_dir`].
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A file or directory could not be written.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// More users than [`MAX_USERS`].
    #[error("`{0}` users is more than the generator supports ({MAX_USERS})")]
    TooManyUsers(usize),
}

/// Generates the current org and its next version (see the crate docs).
/// `users` above [`MAX_USERS`] is capped.
pub fn generate(opts: &GenOptions) -> Generated {
    let opts = GenOptions {
        users: opts.users.min(MAX_USERS),
        ..*opts
    };
    let current = generate::current(&opts);
    let (next, stats) = generate::next(&current, &opts);
    Generated {
        current,
        next,
        stats,
    }
}

/// What the server holds after `org` is applied to an account without
/// managed records (DESIGN section 2: omitted `active` = true, omitted role
/// = `User`, `""` phone or description = none, an omitted parent = root),
/// with `protected: true` records remembered. Written independently of
/// the planner, so that the tests can hold the two against each other.
pub fn effective(org: &DesiredOrg) -> EffectiveOrg {
    let mut out = EffectiveOrg::default();
    for g in org.groups.iter().flatten() {
        let eff = EffGroup {
            external_id: g.external_id.clone(),
            name: g.name.clone(),
            description: g.description.clone().filter(|d| !d.is_empty()),
            parent: match &g.parent {
                ParentRef::Group(p) => Some(p.clone()),
                ParentRef::Omitted | ParentRef::Root => None,
            },
        };
        if g.protected == Some(true) {
            out.protected.groups.insert(g.external_id.clone());
        }
        out.groups.insert(g.external_id.clone(), eff);
    }
    for u in org.users.iter().flatten() {
        let mut eff = EffUser::new(&u.external_id, &u.first_name, &u.last_name, &u.email);
        eff.phone = u.phone.clone().filter(|p| !p.is_empty());
        eff.active = u.active.unwrap_or(true);
        eff.timezone.clone_from(&u.timezone);
        eff.language.clone_from(&u.language);
        for list in AccessList::ALL {
            if let Some(given) = u.access_info.list(list) {
                eff.list_mut(list).clone_from(given);
            }
        }
        eff.role = u.access_info.role.unwrap_or(Role::User);
        eff.external_properties.clone_from(&u.external_properties);
        if u.protected == Some(true) {
            out.protected.users.insert(u.external_id.clone());
        }
        out.users.insert(u.external_id.clone(), eff);
    }
    out
}

/// The state after applying `org` once: serial 1, the effective records,
/// the org's digest, and a lineage and time derived from `seed` (never
/// the clock, so the file is reproducible).
pub fn state_for(org: &DesiredOrg, seed: u64) -> State {
    State {
        format_version: orgform_state::FORMAT_VERSION,
        lineage: format!("00000000-0000-4000-8000-{:012x}", seed & 0xffff_ffff_ffff),
        serial: 1,
        endpoint: org.target.endpoint.clone(),
        spec_digest: orgform_spec::digest_of(org),
        applied_at: "2026-01-01T00:00:00Z".to_owned(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        rollout: None,
        org: effective(org),
    }
}

/// Writes a state file as orgform does (pretty JSON, final newline).
pub fn write_state(state: &State, path: &Path) -> Result<(), GenError> {
    let err = |source| GenError::Write {
        path: path.to_owned(),
        source,
    };
    let file = fs::File::create(path).map_err(err)?;
    let mut w = BufWriter::with_capacity(1 << 16, file);
    serde_json::to_writer_pretty(&mut w, state).map_err(|e| err(io::Error::other(e)))?;
    w.write_all(b"\n").map_err(err)?;
    w.flush().map_err(err)
}

/// Writes a spec directory (see [`spec_files`]), creating it; `*.yaml`
/// files already there are removed first, so that a smaller org does not
/// merge with the leftovers of a larger one.
pub fn write_spec_dir(
    org: &DesiredOrg,
    users_per_file: Option<usize>,
    dir: &Path,
) -> Result<(), GenError> {
    let err = |path: &Path| {
        let path = path.to_owned();
        move |source| GenError::Write { path, source }
    };
    fs::create_dir_all(dir).map_err(err(dir))?;
    for entry in fs::read_dir(dir).map_err(err(dir))?.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            fs::remove_file(&path).map_err(err(&path))?;
        }
    }
    for (name, content) in spec_files(org, users_per_file) {
        let path = dir.join(name);
        fs::write(&path, content).map_err(err(&path))?;
    }
    Ok(())
}

/// Generates and writes `dir/spec/` (the current org), `dir/next/` (its
/// next version) and `dir/state.json` (the state after applying
/// `spec/`). Returns what was generated.
pub fn write_dir(opts: &GenOptions, dir: &Path) -> Result<Generated, GenError> {
    if opts.users > MAX_USERS {
        return Err(GenError::TooManyUsers(opts.users));
    }
    let generated = generate(opts);
    write_spec_dir(&generated.current, opts.users_per_file, &dir.join("spec"))?;
    write_spec_dir(&generated.next, opts.users_per_file, &dir.join("next"))?;
    write_state(
        &state_for(&generated.current, opts.seed),
        &dir.join("state.json"),
    )?;
    Ok(generated)
}
