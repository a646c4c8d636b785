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

use std::collections::BTreeSet;
use std::fmt::Write as _;

use orgform_model::text::{push_clean, push_quoted};
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
    /// Each action's symbol (`+`, `~`, `-`) in its colour, painted once:
    /// it starts every line of a change.
    marks: [String; 3],
}

impl Painter {
    fn new(color: bool) -> Self {
        let marks = [Action::Create, Action::Update, Action::Delete].map(|action| {
            let style = match action {
                Action::Create => palette::ADDED,
                Action::Update => palette::CHANGED,
                Action::Delete => palette::REMOVED,
            };
            palette::paint(color, style, action.symbol().encode_utf8(&mut [0; 4]))
        });
        Painter { color, marks }
    }

    fn mark(&self, action: Action) -> &str {
        let [create, update, delete] = &self.marks;
        match action {
            Action::Create => create,
            Action::Update => update,
            Action::Delete => delete,
        }
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
    let p = Painter::new(options.color);
    // Room for a part and the change that takes it past [`PART`]: the
    // buffer is allocated once.
    let mut out = String::with_capacity(2 * PART);
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

/// One change: its heading line and a line per field. Drawn straight into
/// `out` (an empty-state plan draws every field of every record: no
/// temporary string per field).
fn write_change(out: &mut String, p: &Painter, change: &Change) {
    let mark = p.mark(change.action);
    out.push_str("  ");
    out.push_str(mark);
    out.push(' ');
    out.push_str(change.kind.as_str());
    out.push(' ');
    push_quoted(out, &change.external_id);
    out.push_str(" (");
    push_clean(out, &change.label);
    out.push(')');
    out.push_str(match change.action {
        Action::Create => " will be created\n",
        Action::Update if change.deactivates() => " will be DEACTIVATED\n",
        Action::Update => " will be updated\n",
        Action::Delete => " will be DELETED\n",
    });
    match change.action {
        Action::Update => write_updates(out, mark, &change.fields),
        Action::Create => write_record(out, mark, change.after.as_ref()),
        Action::Delete => write_record(out, mark, change.before.as_ref()),
    }
}

/// A field's path as two pieces: a fixed name drawn as it is (`email`,
/// `externalProperties.`) and a part from the data, escaped (an
/// attribute's key; an update's whole path): no path is put together in a
/// new string.
type Path<'a> = (&'static str, &'a str);

/// Spaces to pad a field's path with, in pieces of up to this many.
const SPACES: &str = "                                ";

/// A field line up to its value: `      + path   = `, the path padded to
/// `width` characters; `width` counts the longest path's bytes (before
/// escaping), as the lines have always been aligned.
fn push_path(out: &mut String, mark: &str, path: Path<'_>, width: usize) {
    out.push_str("      ");
    out.push_str(mark);
    out.push(' ');
    out.push_str(path.0);
    let start = out.len();
    push_clean(out, path.1);
    let mut pad = width.saturating_sub(path.0.len() + out[start..].chars().count());
    while pad > 0 {
        let n = pad.min(SPACES.len());
        out.push_str(&SPACES[..n]);
        pad -= n;
    }
    out.push_str(" = ");
}

/// An update's lines: `path = before -> after`, and for a list what was
/// added and removed.
fn write_updates(out: &mut String, mark: &str, fields: &[crate::doc::FieldChange]) {
    let width = fields.iter().map(|f| f.path.len()).max().unwrap_or(0);
    for f in fields {
        push_path(out, mark, ("", &f.path), width);
        push_shown(out, f.before.as_ref());
        out.push_str(" -> ");
        push_shown(out, f.after.as_ref());
        if let (Some(Value::Array(a)), Some(Value::Array(b))) = (&f.before, &f.after) {
            out.push_str("  (");
            let mut first = true;
            for v in b.iter().filter(|v| !a.contains(v)) {
                out.push_str(if first { "+" } else { " +" });
                push_plain(out, v);
                first = false;
            }
            for v in a.iter().filter(|v| !b.contains(v)) {
                out.push_str(if first { "-" } else { " -" });
                push_plain(out, v);
                first = false;
            }
            out.push(')');
        }
        out.push('\n');
    }
}

/// A field's value in a created or deleted record.
#[derive(Clone, Copy)]
enum Shown<'a> {
    /// A string from the data, drawn in double quotes.
    Quoted(&'a str),
    /// Drawn as it is (`true`, `(root)`).
    Plain(&'static str),
    /// A list of group ids: `["G1", "G2"]`.
    List(&'a BTreeSet<String>),
}

/// Every present field of a record, in the spec's order, the externalId
/// left out (it heads the change), one line each.
fn write_record(out: &mut String, mark: &str, record: Option<&Record>) {
    let mut width = 0;
    let mut measure = |path: Path<'_>, _: Shown<'_>| width = width.max(path.0.len() + path.1.len());
    match record {
        Some(Record::User(u)) => {
            user_fields(u, &mut measure);
            user_fields(u, &mut |path, value| {
                push_field(out, mark, width, path, value)
            });
        }
        Some(Record::Group(g)) => {
            group_fields(g, &mut measure);
            group_fields(g, &mut |path, value| {
                push_field(out, mark, width, path, value)
            });
        }
        None => {}
    }
}

/// A created or deleted record's field line.
fn push_field(out: &mut String, mark: &str, width: usize, path: Path<'_>, value: Shown<'_>) {
    push_path(out, mark, path, width);
    match value {
        Shown::Quoted(s) => push_quoted(out, s),
        Shown::Plain(s) => out.push_str(s),
        Shown::List(set) => {
            out.push('[');
            for (i, g) in set.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_quoted(out, g);
            }
            out.push(']');
        }
    }
    out.push('\n');
}

/// A user's present fields, in the spec's order, handed to `field`.
fn user_fields<'a>(u: &'a EffUser, field: &mut dyn FnMut(Path<'a>, Shown<'a>)) {
    field(("firstName", ""), Shown::Quoted(&u.first_name));
    field(("lastName", ""), Shown::Quoted(&u.last_name));
    field(("email", ""), Shown::Quoted(&u.email));
    if let Some(phone) = &u.phone {
        field(("phone", ""), Shown::Quoted(phone));
    }
    field(
        ("active", ""),
        Shown::Plain(if u.active { "true" } else { "false" }),
    );
    if let Some(tz) = &u.timezone {
        field(("timezone", ""), Shown::Quoted(tz));
    }
    if let Some(lang) = &u.language {
        field(("language", ""), Shown::Quoted(lang));
    }
    for list in AccessList::ALL {
        let set = u.list(list);
        if !set.is_empty() {
            field((list.path(), ""), Shown::List(set));
        }
    }
    field(("accessInfo.role", ""), Shown::Quoted(u.role.as_str()));
    for (k, v) in &u.external_properties {
        field(("externalProperties.", k), Shown::Quoted(v));
    }
}

/// A group's fields, in the spec's order, handed to `field`.
fn group_fields<'a>(g: &'a EffGroup, field: &mut dyn FnMut(Path<'a>, Shown<'a>)) {
    field(("name", ""), Shown::Quoted(&g.name));
    if let Some(d) = &g.description {
        field(("description", ""), Shown::Quoted(d));
    }
    field(
        ("parent", ""),
        g.parent
            .as_deref()
            .map_or(Shown::Plain("(root)"), Shown::Quoted),
    );
}

/// An update's value: `(none)` for an absent one.
fn push_shown(out: &mut String, v: Option<&Value>) {
    match v {
        None => out.push_str("(none)"),
        Some(Value::Array(items)) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_plain(out, item);
            }
            out.push(']');
        }
        Some(v) => push_plain(out, v),
    }
}

fn push_plain(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => push_quoted(out, s),
        Value::Array(_) => push_shown(out, Some(v)),
        other => push_clean(out, &other.to_string()),
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
