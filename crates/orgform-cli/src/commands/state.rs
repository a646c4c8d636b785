//! `orgform state show|list` and `orgform force-unlock`.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::args::{ForceUnlockArgs, StateCommand};
use crate::commands::{load_state, store};
use crate::output;

/// Runs `orgform state show|list`.
pub fn run(command: &StateCommand) -> anyhow::Result<ExitCode> {
    let (arg, list) = match command {
        StateCommand::Show(a) => (a, false),
        StateCommand::List(a) => (a, true),
    };
    let store = store(arg.state.as_deref());
    let Some(state) = load_state(&store)? else {
        output::print_stdout(&format!(
            "No state at `{}`: nothing has been applied yet.\n",
            store.path().display()
        ))?;
        return Ok(ExitCode::SUCCESS);
    };
    let mut out = String::new();
    if list {
        for (id, g) in &state.org.groups {
            let _ = writeln!(out, "group  {id}  {}", g.name);
        }
        for (id, u) in &state.org.users {
            let active = if u.active { "" } else { "  (inactive)" };
            let _ = writeln!(out, "user   {id}  {} {}{active}", u.first_name, u.last_name);
        }
    } else {
        let _ = writeln!(out, "State:     {}", store.path().display());
        let _ = writeln!(out, "Lineage:   {}", state.lineage);
        let _ = writeln!(out, "Serial:    {}", state.serial);
        let _ = writeln!(
            out,
            "Endpoint:  {}",
            state.endpoint.as_deref().unwrap_or("(none)")
        );
        let _ = writeln!(
            out,
            "Applied:   {} by orgform {}",
            state.applied_at, state.tool_version
        );
        let _ = writeln!(out, "Spec:      {}", state.spec_digest);
        let _ = writeln!(
            out,
            "Managed:   {} users ({} inactive), {} groups",
            state.org.users.len(),
            state.org.users.values().filter(|u| !u.active).count(),
            state.org.groups.len()
        );
        let p = &state.org.protected;
        if !p.is_empty() {
            let _ = writeln!(
                out,
                "Protected: {} users, {} groups",
                p.users.len(),
                p.groups.len()
            );
        }
        if let Some(holder) = store.lock_holder()? {
            let _ = writeln!(out, "Locked by: {holder}");
        }
    }
    output::print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `orgform force-unlock`: removes a lock left by a crashed run, after confirmation.
pub fn force_unlock(args: &ForceUnlockArgs) -> anyhow::Result<ExitCode> {
    let store = store(args.state.state.as_deref());
    let holder = match store.lock_holder() {
        Ok(Some(holder)) => holder,
        Ok(None) => {
            output::print_stdout(&format!(
                "The state `{}` is not locked.\n",
                store.path().display()
            ))?;
            return Ok(ExitCode::SUCCESS);
        }
        Err(orgform_state::StateError::UnreadableLock { .. }) => {
            // A lock file emptied by a crash names no holder: removing it is the only way on.
            store.force_unlock()?;
            output::print_stdout("Removed an unreadable lock file.\n")?;
            return Ok(ExitCode::SUCCESS);
        }
        Err(err) => return Err(err.into()),
    };
    if !args.yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            bail!(
                "the state is locked by {holder}; to remove the lock without a terminal, pass --yes"
            );
        }
        output::print_stderr(&format!(
            "The state `{}` is locked by {holder}.\nRemove the lock only if that run is gone: \
             two applies at once would race.\n  Only `yes` will be accepted: ",
            store.path().display()
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
    if store.force_unlock_if(&holder)? {
        output::print_stdout(&format!("Removed the lock held by {holder}.\n"))?;
    } else {
        bail!(
            "the lock changed hands while you confirmed; nothing was removed (run force-unlock again)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
