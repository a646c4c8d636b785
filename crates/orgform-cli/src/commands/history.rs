//! `orgform history`: the audit trail (DESIGN section 10), e.g. "who
//! deleted E001060, when, with which plan".
//!
//! `--format json` prints the stored lines, one object per line, as the
//! store holds them (filtered by `--id` and `--since`); text prints one
//! block per attempt, every value from the store escaped (the history is a
//! file anyone with write access to the state directory could have edited).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, bail};
use orgform_model::text::clean;
use orgform_state::{ChangeCounts, HistoryEntry, KindCounts, RecordIds};

use crate::args::{HistoryArgs, HistoryFormat};
use crate::commands::store;
use crate::output;

/// Runs `orgform history`.
pub fn run(args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let store = store(args.state.state.as_deref());
    let entries = store
        .read_history()
        .with_context(|| format!("cannot read the history of `{}`", store.describe()))?;
    let shown: Vec<&HistoryEntry> = entries
        .iter()
        .filter(|e| args.id.as_deref().is_none_or(|id| e.mentions(id)))
        .filter(|e| since.is_none_or(|since| time_of(e).is_some_and(|t| t >= since)))
        .collect();
    let mut out = String::new();
    match args.format {
        HistoryFormat::Json => {
            for entry in &shown {
                out.push_str(
                    &serde_json::to_string(entry).context("cannot encode a history line")?,
                );
                out.push('\n');
            }
        }
        HistoryFormat::Text => {
            if shown.is_empty() {
                out.push_str(&match &args.id {
                    Some(id) => format!(
                        "No apply attempt in the history created, deleted or deactivated `{}`.\n",
                        clean(id)
                    ),
                    None => "No apply attempts in the history.\n".to_owned(),
                });
            }
            for entry in &shown {
                out.push_str(&text(entry, args.id.as_deref()));
            }
        }
    }
    output::print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `2026-11-01` (midnight UTC) or a full RFC 3339 time.
fn parse_since(value: &str) -> anyhow::Result<SystemTime> {
    let full = if value.len() == 10 {
        format!("{value}T00:00:00Z")
    } else {
        value.to_owned()
    };
    match humantime::parse_rfc3339_weak(&full) {
        Ok(t) => Ok(t),
        Err(_) => bail!(
            "--since `{}` is not a date: use RFC 3339, e.g. 2026-11-01 or 2026-11-01T10:00:00Z",
            clean(value)
        ),
    }
}

fn time_of(entry: &HistoryEntry) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(&entry.time).ok()
}

/// One attempt as a block of text.
fn text(e: &HistoryEntry, id: Option<&str>) -> String {
    let mut out = String::new();
    let serials = match e.serial_after {
        Some(after) => format!("serial {} -> {after}", e.serial_before),
        None => format!("serial {}", e.serial_before),
    };
    let wave = match (e.wave, e.waves) {
        (Some(w), Some(n)) if n > 1 => format!(", wave {w} of {n}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "{}  {}  {serials}{wave}  by {}",
        clean(&e.time),
        e.outcome,
        actor(e)
    );
    let _ = writeln!(out, "  command:  {}", clean(&e.command));
    if let Some(endpoint) = &e.endpoint {
        let _ = writeln!(out, "  endpoint: {}", clean(endpoint));
    }
    if !e.plan_digest.is_empty() {
        let _ = writeln!(
            out,
            "  plan:     {}{}",
            clean(&e.plan_digest),
            if e.forced { " (--force)" } else { "" }
        );
    }
    let _ = writeln!(out, "  planned:  {}", counts(&e.planned));
    if let Some(reported) = &e.reported {
        let _ = writeln!(out, "  reported: {}", counts(reported));
    }
    for (what, ids) in [
        ("created", &e.created),
        ("deleted", &e.deleted),
        ("deactivated", &e.deactivated),
    ] {
        if let Some(line) = ids_line(what, ids, id) {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Some(message) = &e.message {
        let _ = writeln!(out, "  message:  {}", clean(message));
    }
    out.push('\n');
    out
}

fn actor(e: &HistoryEntry) -> String {
    let mut who = if e.actor.user.is_empty() && e.actor.host.is_empty() {
        "(unknown)".to_owned()
    } else {
        format!("{}@{}", clean(&e.actor.user), clean(&e.actor.host))
    };
    if let Some(ci) = &e.actor.ci {
        let mut parts = vec![clean(&ci.system)];
        if let Some(a) = &ci.actor {
            parts.push(clean(a));
        }
        if let Some(r) = &ci.run_id {
            parts.push(format!("run {}", clean(r)));
        }
        if let Some(c) = &ci.commit_sha {
            parts.push(format!("commit {}", clean(c)));
        }
        let _ = write!(who, " ({})", parts.join(" "));
    }
    who
}

fn counts(c: &ChangeCounts) -> String {
    let k = |k: &KindCounts| format!("+{} ~{} -{}", k.create, k.update, k.delete);
    format!("users {}, groups {}", k(&c.users), k(&c.groups))
}

/// `deleted: users E1, E2; groups G1`; with `--id`, only that id.
fn ids_line(what: &str, ids: &RecordIds, only: Option<&str>) -> Option<String> {
    let pick = |list: &[String]| -> Vec<String> {
        list.iter()
            .filter(|x| only.is_none_or(|id| *x == id))
            .map(|x| clean(x))
            .collect()
    };
    let users = pick(&ids.users);
    let groups = pick(&ids.groups);
    let mut parts = Vec::new();
    if !users.is_empty() {
        parts.push(format!("users {}", users.join(", ")));
    }
    if !groups.is_empty() {
        parts.push(format!("groups {}", groups.join(", ")));
    }
    (!parts.is_empty()).then(|| format!("{what}: {}", parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgform_state::Outcome;

    #[test]
    fn since_takes_a_date_or_a_time() {
        assert!(parse_since("2026-11-01").is_ok());
        assert!(parse_since("2026-11-01T10:00:00Z").is_ok());
        let err = parse_since("last tuesday\u{1b}[2J")
            .unwrap_err()
            .to_string();
        assert!(err.contains("RFC 3339") && !err.contains('\u{1b}'), "{err}");
    }

    #[test]
    fn a_block_escapes_what_the_file_says() {
        let mut e = HistoryEntry::new("orgform apply x", Outcome::Applied, "sha256:p", "sha256:s");
        e.actor.user = "ev\u{1b}[31mil".to_owned();
        e.deleted.users = vec!["E1".to_owned(), "E2\u{202e}".to_owned()];
        let block = text(&e, None);
        assert!(
            !block.contains('\u{1b}') && !block.contains('\u{202e}'),
            "{block}"
        );
        assert!(block.contains("deleted: users E1, E2\\u{202e}"), "{block}");
        let only = text(&e, Some("E1"));
        assert!(only.contains("deleted: users E1\n"), "{only}");
    }
}
