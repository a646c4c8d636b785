//! Plan renderers: Terraform-like [`text`] and the JSON contract ([`json`]);
//! also a comparison's text ([`Comparison::text`], data from [`crate::compare`]).
//!
//! Both take the plan's document ([`PlanDoc`]), so a saved plan renders the
//! same way without the state ([`text_doc`], [`json_doc`]). Neither reads
//! the terminal or the environment: the caller decides on colour, and the
//! colours are those of [`orgform_model::palette`] (create `ADDED`, update
//! `CHANGED`, delete `REMOVED`, headings `EMPHASIS`, warnings `WARNING`, a
//! block or an exceeded limit `DANGER`), as in the diagnostics and the diff.
//!
//! Text output escapes every control and bidirectional-override character
//! of the data (`\u{1b}`), so a name in a spec can neither colour nor
//! reorder the reviewer's terminal.

use std::fmt::Write as _;

use orgform_model::{AccessList, EffGroup, EffUser, Kind, palette};
use serde_json::Value;

use crate::Plan;
use crate::compare::{Comparison, Status};
use crate::doc::{Action, Change, PlanDoc, Record};
use crate::escape::{clean, quote};

/// How [`text`] renders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// ANSI colours (the caller decides: a terminal, and no `NO_COLOR`).
    pub color: bool,
}

/// The plan in the Terraform-like text form (see [`text_doc`]).
pub fn text(plan: &Plan, options: &TextOptions) -> String {
    text_doc(plan.doc(), options)
}

/// The JSON contract of DESIGN section 4, pretty-printed, ending in a
/// newline (see the crate docs for the format).
pub fn json(plan: &Plan) -> String {
    json_doc(plan.doc())
}

/// [`json`] for a plan document (a saved plan's).
pub fn json_doc(doc: &PlanDoc) -> String {
    let mut out = serde_json::to_string_pretty(doc).unwrap_or_default();
    out.push('\n');
    out
}

struct Painter {
    color: bool,
}

impl Painter {
    fn action(&self, action: Action, text: &str) -> String {
        let style = match action {
            Action::Create => palette::ADDED,
            Action::Update => palette::CHANGED,
            Action::Delete => palette::REMOVED,
        };
        palette::paint(self.color, style, text)
    }
}

/// The plan in the Terraform-like text form:
///
/// - a `BLOCKED` banner first when apply would refuse the plan;
/// - each change in apply order: `+ group "<id>" (<name>)`, `~ user "<id>"
///   (<name> <email>)`, `- …`, then its fields: every field of a created or
///   deleted record, `before -> after` for an update (`(none)` for an
///   absent value); unchanged records are not listed;
/// - the summary line, `Plan: 1 to create, 2 to update, 0 to delete
///   (users: …; groups: …).`, or `No changes.`; for a plan of several
///   requests, `# wave 2 of 3` above each wave's first change, and after
///   the summary `This plan is applied in 3 waves (the API takes at most
///   20,000 changes of a kind per request):` with each wave's counts;
/// - the six limits (when there are changes), the warnings, and the
///   blocked reasons in full.
pub fn text_doc(doc: &PlanDoc, options: &TextOptions) -> String {
    let mut all = String::new();
    text_doc_to(doc, options, &mut |part| all.push_str(part));
    all
}

/// The text of a plan document, as [`text_doc`] draws it, handed to `sink`
/// in parts of about [`PART`] bytes as it is drawn: the text of a
/// 100k-user plan (70 MB when every user is created) is never held whole.
pub fn text_doc_to(doc: &PlanDoc, options: &TextOptions, sink: &mut dyn FnMut(&str)) {
    let p = Painter {
        color: options.color,
    };
    let mut out = String::new();
    if doc.blocked {
        let n = doc.blocked_reasons.len();
        let _ = writeln!(
            out,
            "{} apply will refuse this plan ({n} reason{} at the end).\n",
            palette::paint(p.color, palette::DANGER, "BLOCKED:"),
            if n == 1 { "" } else { "s" }
        );
    }
    let s = &doc.summary;
    if doc.changes.is_empty() {
        let _ = writeln!(
            out,
            "{} The organization matches the spec ({} user{} and {} group{} unchanged).",
            palette::paint(p.color, palette::EMPHASIS, "No changes."),
            s.users.unchanged,
            plural(s.users.unchanged),
            s.groups.unchanged,
            plural(s.groups.unchanged),
        );
    } else {
        let _ = writeln!(
            out,
            "orgform will perform the following actions, in this order:"
        );
        let waves = doc.waves.len();
        let mut wave = 0;
        for change in &doc.changes {
            if waves > 1 && change.wave != wave {
                wave = change.wave;
                let _ = writeln!(out, "\n  # wave {wave} of {waves}");
            }
            out.push('\n');
            write_change(&mut out, &p, change);
            if out.len() >= PART {
                sink(&out);
                out.clear();
            }
        }
        let t = s.total();
        let _ = writeln!(
            out,
            "\n{} {} to create, {} to update, {} to delete (users: {}; groups: {}).",
            palette::paint(p.color, palette::EMPHASIS, "Plan:"),
            t.create,
            t.update,
            t.delete,
            counts(&s.users),
            counts(&s.groups),
        );
        write_waves(&mut out, doc);
        let _ = writeln!(out, "\nLimits (planned / limit):");
        let width = doc
            .limits
            .iter()
            .map(|l| l.name.as_str().len())
            .max()
            .unwrap_or(0);
        for l in &doc.limits {
            let flag = if l.ok {
                String::new()
            } else {
                format!("  {}", palette::paint(p.color, palette::DANGER, "EXCEEDED"))
            };
            let _ = writeln!(
                out,
                "  {:width$}  {:>5} / {}{flag}",
                l.name.as_str(),
                l.planned,
                l.limit,
            );
        }
    }
    if !doc.warnings.is_empty() {
        let warnings = doc.warnings.iter().map(|w| (w.code.as_str(), &*w.message));
        let paint = |t: &str| palette::paint(p.color, palette::WARNING, t);
        write_coded(&mut out, paint, "Warnings:", warnings);
    }
    if doc.forced {
        let _ = writeln!(
            out,
            "\n--force was given: the relative safety thresholds (`safety.max*Percent`) do not \
             block this plan; nothing else is passed."
        );
    }
    if doc.blocked {
        let reasons = doc
            .blocked_reasons
            .iter()
            .map(|r| (r.code.as_str(), &*r.message));
        let heading = "Error: this plan is blocked; apply will refuse it:";
        let paint = |t: &str| palette::paint(p.color, palette::DANGER, t);
        write_coded(&mut out, paint, heading, reasons);
    }
    sink(&out);
}

/// About how much text [`text_doc_to`] gathers before handing it on.
pub const PART: usize = 64 * 1024;

/// A heading and its `  - [code] message` lines (the warnings, the blocked
/// reasons), the heading and the codes drawn by `paint`.
fn write_coded<'a>(
    out: &mut String,
    paint: impl Fn(&str) -> String,
    heading: &str,
    items: impl Iterator<Item = (&'a str, &'a str)>,
) {
    let _ = writeln!(out, "\n{}", paint(heading));
    for (code, message) in items {
        let _ = writeln!(out, "  - [{}] {}", paint(code), clean(message));
    }
}

/// A plan of several requests: the headline, then each wave's counts.
fn write_waves(out: &mut String, doc: &PlanDoc) {
    let Some(headline) = crate::waves::headline(doc) else {
        return;
    };
    let _ = writeln!(out, "\nThis plan is {headline}:");
    for (i, w) in doc.waves.iter().enumerate() {
        let _ = writeln!(out, "  wave {}: {}", i + 1, crate::waves::wave_counts(w));
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn counts(k: &crate::doc::KindSummary) -> String {
    format!(
        "{} to create, {} to update, {} to delete",
        k.create, k.update, k.delete
    )
}

fn write_change(out: &mut String, p: &Painter, change: &Change) {
    let symbol = change.action.symbol().to_string();
    let _ = writeln!(
        out,
        "  {} {} {} ({}){}",
        p.action(change.action, &symbol),
        change.kind,
        quote(&change.external_id),
        clean(&change.label),
        match change.action {
            Action::Create => " will be created",
            Action::Update if change.deactivates() => " will be DEACTIVATED",
            Action::Update => " will be updated",
            Action::Delete => " will be DELETED",
        }
    );
    let rows: Vec<(String, String)> = match change.action {
        Action::Update => change
            .fields
            .iter()
            .map(|f| {
                let mut value = format!(
                    "{} -> {}",
                    show_value(f.before.as_ref()),
                    show_value(f.after.as_ref())
                );
                if let (Some(Value::Array(a)), Some(Value::Array(b))) = (&f.before, &f.after) {
                    let added: Vec<String> = b
                        .iter()
                        .filter(|v| !a.contains(v))
                        .map(show_plain)
                        .collect();
                    let removed: Vec<String> = a
                        .iter()
                        .filter(|v| !b.contains(v))
                        .map(show_plain)
                        .collect();
                    let mut parts = Vec::new();
                    if !added.is_empty() {
                        parts.push(format!("+{}", added.join(" +")));
                    }
                    if !removed.is_empty() {
                        parts.push(format!("-{}", removed.join(" -")));
                    }
                    let _ = write!(value, "  ({})", parts.join(" "));
                }
                (f.path.clone(), value)
            })
            .collect(),
        Action::Create => record_rows(change.after.as_ref()),
        Action::Delete => record_rows(change.before.as_ref()),
    };
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (path, value) in rows {
        let _ = writeln!(
            out,
            "      {} {:width$} = {}",
            p.action(change.action, &symbol),
            clean(&path),
            value
        );
    }
}

/// Every present field of a record, in the spec's order, the externalId
/// left out (it heads the change).
fn record_rows(record: Option<&Record>) -> Vec<(String, String)> {
    match record {
        Some(Record::User(u)) => user_rows(u),
        Some(Record::Group(g)) => group_rows(g),
        None => Vec::new(),
    }
}

fn user_rows(u: &EffUser) -> Vec<(String, String)> {
    let mut rows = vec![
        ("firstName".to_owned(), quote(&u.first_name)),
        ("lastName".to_owned(), quote(&u.last_name)),
        ("email".to_owned(), quote(&u.email)),
    ];
    if let Some(phone) = &u.phone {
        rows.push(("phone".to_owned(), quote(phone)));
    }
    rows.push(("active".to_owned(), u.active.to_string()));
    if let Some(tz) = &u.timezone {
        rows.push(("timezone".to_owned(), quote(tz)));
    }
    if let Some(lang) = &u.language {
        rows.push(("language".to_owned(), quote(lang)));
    }
    for list in AccessList::ALL {
        let set = u.list(list);
        if !set.is_empty() {
            let items: Vec<String> = set.iter().map(|g| quote(g)).collect();
            rows.push((list.path().to_owned(), format!("[{}]", items.join(", "))));
        }
    }
    rows.push(("accessInfo.role".to_owned(), quote(u.role.as_str())));
    for (k, v) in &u.external_properties {
        rows.push((format!("externalProperties.{k}"), quote(v)));
    }
    rows
}

fn group_rows(g: &EffGroup) -> Vec<(String, String)> {
    let mut rows = vec![("name".to_owned(), quote(&g.name))];
    if let Some(d) = &g.description {
        rows.push(("description".to_owned(), quote(d)));
    }
    rows.push((
        "parent".to_owned(),
        g.parent
            .as_deref()
            .map_or_else(|| "(root)".to_owned(), quote),
    ));
    rows
}

fn show_value(v: Option<&Value>) -> String {
    match v {
        None => "(none)".to_owned(),
        Some(Value::Array(items)) => {
            let items: Vec<String> = items.iter().map(show_plain).collect();
            format!("[{}]", items.join(", "))
        }
        Some(v) => show_plain(v),
    }
}

fn show_plain(v: &Value) -> String {
    match v {
        Value::String(s) => quote(s),
        Value::Array(_) => show_value(Some(v)),
        other => clean(&other.to_string()),
    }
}

impl Comparison {
    /// The comparison (see [`crate::compare`]) as text, for the terminal;
    /// `source` names the reviewed plan (its file).
    pub fn text(&self, source: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Compared with the reviewed plan {} ({}):",
            quote(source),
            self.previous.plan_digest
        );
        let _ = writeln!(out, "  {}.", self.headline());
        if self.is_identical() {
            return out;
        }
        for kind in [Kind::User, Kind::Group] {
            let cells: Vec<String> = self
                .counts
                .iter()
                .filter(|c| c.kind == kind)
                .map(|c| match c.delta() {
                    0 => format!("{} {} -> {}", c.action, c.previous, c.current),
                    d => format!("{} {} -> {} ({d:+})", c.action, c.previous, c.current),
                })
                .collect();
            let _ = writeln!(out, "  {:7} {}", format!("{kind}s:"), cells.join(", "));
        }
        for note in self.notes() {
            let _ = writeln!(out, "  {note}");
        }
        for r in &self.records {
            let mark = match r.status {
                Status::Added => '+',
                Status::Removed => '-',
                Status::Changed => '~',
            };
            let _ = writeln!(
                out,
                "  {mark} {} {} ({}) {}",
                r.kind,
                quote(&r.external_id),
                clean(&r.label),
                clean(&Comparison::describe(r))
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_terminal_controls_and_bidi_overrides() {
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("\x1b[31mred"), r#""\u{1b}[31mred""#);
        assert_eq!(clean("x\u{202e}y\nz"), r"x\u{202e}y\u{a}z");
        assert_eq!(clean("Zoë"), "Zoë");
    }
}
