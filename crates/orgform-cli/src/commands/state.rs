//! `orgform state show|list|pull|push|prune` and `orgform force-unlock`,
//! over any store (a file or PostgreSQL).
//!
//! Choices where the contract is silent:
//! - `state pull` with no state is an error (exit 1, nothing on stdout), so
//!   that `orgform state pull > state.json` never leaves an empty file that
//!   looks like a state;
//! - `state push` takes the lock without waiting and records no history
//!   line (it applies nothing to the server);
//! - `force-unlock` of a holder that is still running (its process on this
//!   host, or its PostgreSQL session) is refused unless `--force`; with
//!   `--force`, a PostgreSQL holder's session is ended, a file holder's
//!   lock file removed (its commit is then refused).

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, bail};
// Every value of a state or a lock file goes through the one escaping
// function before it is printed (DESIGN section 11).
use orgform_model::text::clean;
use orgform_state::{Liveness, State, Store};

use crate::args::{ForceUnlockArgs, StateCommand, StatePruneArgs, StatePushArgs, StateShowArgs};
use crate::commands::{load_state, store};
use crate::output;

/// Runs `orgform state …`.
pub fn run(command: &StateCommand) -> anyhow::Result<ExitCode> {
    match command {
        StateCommand::Show(a) => show(a),
        StateCommand::List(a) => list(&store(a.state.as_deref())),
        StateCommand::Pull(a) => pull(&store(a.state.as_deref())),
        StateCommand::Push(a) => push(a),
        StateCommand::Prune(a) => prune(a),
    }
}

fn no_state(store: &Store) -> anyhow::Result<ExitCode> {
    output::print_stdout(&format!(
        "No state at `{}`: nothing has been applied yet.\n",
        store.describe()
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn list(store: &Store) -> anyhow::Result<ExitCode> {
    let Some(state) = load_state(store)? else {
        return no_state(store);
    };
    let mut out = String::new();
    for (id, g) in &state.org.groups {
        let _ = writeln!(out, "group  {}  {}", clean(id), clean(&g.name));
    }
    for (id, u) in &state.org.users {
        let active = if u.active { "" } else { "  (inactive)" };
        let _ = writeln!(
            out,
            "user   {}  {} {}{active}",
            clean(id),
            clean(&u.first_name),
            clean(&u.last_name)
        );
    }
    output::print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn show(args: &StateShowArgs) -> anyhow::Result<ExitCode> {
    let store = store(args.state.state.as_deref());
    let state = match args.serial {
        None => load_state(&store)?,
        Some(n) => {
            let found = store
                .load_serial(n)
                .with_context(|| format!("cannot read the state `{}`", store.describe()))?;
            match found {
                Some(s) => Some(s),
                None => {
                    let kept = store.versions().unwrap_or_default();
                    let kept = match (kept.first(), kept.last()) {
                        (Some(a), Some(b)) if a.serial == b.serial => {
                            format!("serial {}", a.serial)
                        }
                        (Some(a), Some(b)) => format!("serials {} to {}", a.serial, b.serial),
                        _ => "none".to_owned(),
                    };
                    bail!(
                        "serial {n} is not kept in `{}` (kept: {kept}); a file store keeps the \
                         current state and its backup, PostgreSQL the last `keep` versions",
                        store.describe()
                    );
                }
            }
        }
    };
    let Some(state) = state else {
        return no_state(&store);
    };
    let mut out = String::new();
    let _ = writeln!(out, "State:     {}", store.describe());
    let _ = writeln!(out, "Lineage:   {}", clean(&state.lineage));
    let _ = writeln!(out, "Serial:    {}", state.serial);
    let _ = writeln!(
        out,
        "Endpoint:  {}",
        state.endpoint.as_deref().map_or("(none)".to_owned(), clean)
    );
    let _ = writeln!(
        out,
        "Applied:   {} by orgform {}",
        clean(&state.applied_at),
        clean(&state.tool_version)
    );
    let _ = writeln!(out, "Spec:      {}", clean(&state.spec_digest));
    let _ = writeln!(
        out,
        "Managed:   {} users ({} inactive), {} groups",
        state.org.users.len(),
        state.org.users.values().filter(|u| !u.active).count(),
        state.org.groups.len()
    );
    if let Some(r) = state.unfinished_rollout() {
        let _ = writeln!(
            out,
            "Rollout:   UNFINISHED: wave {} of {} of plan {} is the last applied \
             (warning rolloutUnfinished: `orgform apply` finishes it)",
            r.waves_done,
            r.waves_total,
            clean(&r.plan_digest)
        );
    }
    let p = &state.org.protected;
    if !p.is_empty() {
        let _ = writeln!(
            out,
            "Protected: {}, {}",
            plural(p.users.len(), "user"),
            plural(p.groups.len(), "group")
        );
    }
    if !store.is_file()
        && let Ok(versions) = store.versions()
        && let (Some(first), Some(last)) = (versions.first(), versions.last())
    {
        let _ = writeln!(
            out,
            "Versions:  {} kept (serials {} to {}; `orgform state show --serial N`)",
            versions.len(),
            first.serial,
            last.serial
        );
    }
    if let Some(status) = store.lock_status()? {
        let _ = writeln!(out, "Locked by: {}", status.holder);
    }
    output::print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `1 user`, `2 groups`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `orgform state pull`: the current state as JSON, exactly the file format.
fn pull(store: &Store) -> anyhow::Result<ExitCode> {
    let Some(state) = load_state(store)? else {
        bail!(
            "no state at `{}`: nothing has been applied yet, so there is nothing to pull",
            store.describe()
        );
    };
    let mut text = serde_json::to_string_pretty(&state).context("cannot encode the state")?;
    text.push('\n');
    output::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `orgform state push FILE`.
fn push(args: &StatePushArgs) -> anyhow::Result<ExitCode> {
    let store = store(args.state.state.as_deref());
    let state: State = Store::new(args.file.clone())
        .load()
        .with_context(|| format!("cannot read the state file `{}`", args.file.display()))?
        .with_context(|| format!("there is no state file `{}`", args.file.display()))?;
    store
        .push(&state, "orgform state push")
        .with_context(|| format!("cannot push the state into `{}`", store.describe()))?;
    output::print_stdout(&format!(
        "Pushed lineage {} serial {} into `{}`.\n",
        state.lineage,
        state.serial,
        store.describe()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `orgform state prune --keep N`.
fn prune(args: &StatePruneArgs) -> anyhow::Result<ExitCode> {
    let store = store(args.state.state.as_deref());
    let dropped = store
        .prune(args.keep)
        .with_context(|| format!("cannot prune `{}`", store.describe()))?;
    output::print_stdout(&format!(
        "Dropped {dropped} old version{} from `{}`; the newest {} are kept.\n",
        if dropped == 1 { "" } else { "s" },
        store.describe(),
        args.keep
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `orgform force-unlock`: removes a lock left by a crashed run, after
/// confirmation; a holder still running only with `--force`.
pub fn force_unlock(args: &ForceUnlockArgs) -> anyhow::Result<ExitCode> {
    let store = store(args.state.state.as_deref());
    let status = match store.lock_status() {
        Ok(Some(status)) => status,
        Ok(None) => {
            output::print_stdout(&format!(
                "The state `{}` is not locked.\n",
                store.describe()
            ))?;
            return Ok(ExitCode::SUCCESS);
        }
        Err(orgform_state::StateError::UnreadableLock { .. }) if store.is_file() => {
            // A lock file emptied by a crash names no holder: removing it is the only way on.
            store.force_unlock()?;
            output::print_stdout("Removed an unreadable lock file.\n")?;
            return Ok(ExitCode::SUCCESS);
        }
        Err(err) => return Err(err.into()),
    };
    let holder = status.holder;
    let alive = status.session == Liveness::Alive;
    if alive && !args.force {
        let what = if store.is_file() {
            "its process is still running on this host"
        } else {
            "its database session is still alive"
        };
        bail!(
            "the state `{}` is locked by {holder}, and {what}: that run is still going; wait for \
             it, or pass --force to remove its lock anyway (it then commits nothing, and what it \
             was sending may have applied)",
            store.describe()
        );
    }
    if !args.yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            bail!(
                "the state is locked by {holder}; to remove the lock without a terminal, pass --yes"
            );
        }
        let warning = if alive {
            "That run is still going: it will commit nothing."
        } else {
            "Remove the lock only if that run is gone: two applies at once would race."
        };
        output::print_stderr(&format!(
            "The state `{}` is locked by {holder}.\n{warning}\n  Only `yes` will be accepted: ",
            store.describe()
        ));
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the answer")?;
        if line.trim() != "yes" {
            bail!("force-unlock cancelled; the lock is still held by {holder}");
        }
    }
    let removed = if alive {
        store.force_unlock_terminate(&holder)?
    } else {
        store.force_unlock_if(&holder)?
    };
    if removed {
        let how = if alive && !store.is_file() {
            " and ended its database session"
        } else {
            ""
        };
        output::print_stdout(&format!("Removed the lock held by {holder}{how}.\n"))?;
    } else {
        bail!(
            "the lock changed hands while you confirmed; nothing was removed (run force-unlock again)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
