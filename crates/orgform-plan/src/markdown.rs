//! `--format markdown`: the plan as a pull-request comment.
//!
//! Layout, most important first:
//!
//! 1. [`MARKER`] (`<!-- orgform-plan -->`), an HTML comment GitHub and
//!    GitLab do not show: CI finds its earlier comment by it and updates it
//!    in place instead of adding one per push;
//! 2. a title with the totals (`BLOCKED` when apply would refuse the plan):
//!    `2 to create, 1 to update, 3 deletions, 1 deactivation`, where "to
//!    update" leaves out the deactivations and the last part is the very
//!    phrase that heads the deletions section, so both count the same
//!    rows;
//! 3. the target endpoint, when the CLI names it ([`Review::with_endpoint`]:
//!    userinfo, query and fragment are never shown);
//! 4. the blocked reasons, in a `[!CAUTION]` alert;
//! 5. the summary table (users and groups: create, update, deactivate when
//!    there are deactivations, delete, unchanged);
//! 6. the six limits (when there are changes);
//! 7. with `--compare`, what changed since the reviewed plan;
//! 8. the diagram: a Mermaid `flowchart` of the part of the group tree the
//!    plan changes, with its ancestors ([`crate::graph`]) and a legend; a
//!    note instead beyond [`graph::MAX_NODES`] nodes; nothing when the plan
//!    creates, deletes, renames and moves no group;
//! 9. the deletions and deactivations, always expanded: kind, externalId,
//!    name, email, groups (a user's, before the plan: a deactivated user's
//!    groups are the ones they had), parent (a deleted group's) and reason
//!    (the rows of the deletions report, [`crate::report`]), under a
//!    `[!WARNING]` that deleting a group drops its historic results; then
//!    the warnings (folded in `<details>` beyond 10);
//! 10. the creates and the updates, folded in `<details>`;
//! 11. a footer: base state, spec and plan digests, and whether personal
//!     data is masked.
//!
//! Every value from the spec or the state is escaped ([`crate::escape`]):
//! a name cannot open a tag, split a table, mention a user (`@`), link an
//! issue (`#`) or hide behind a bidirectional override.
//!
//! Size: GitHub refuses a comment over 65,536 characters. The comment is
//! built section by section and row by row; when the next row would pass
//! [`MarkdownOptions::max_chars`] (default [`MAX_CHARS`], 65,000), it stops
//! between two rows, closes the open table or `<details>`, leaves out the
//! remaining sections, and says what is not shown and where the whole plan
//! is (the saved plan, kept by CI as an artifact, and the deletions report).
//! A cut never falls inside a tag, a row or a code span. The diagram is
//! the first thing to go: it is drawn only when it fits with every row of
//! the deletions section still to come, so a cut never drops a deletion
//! row for a picture (it is left out whole, and the note says so).

use std::fmt::Write as _;

use orgform_model::Kind;
use serde_json::Value;

use crate::compare::{Comparison, CountDelta, Status};
use crate::doc::{Action, Change, PlanDoc, Record};
use crate::escape::{code, md, md_message};
use crate::graph::{self, GroupGraph};
use crate::report::{self, Deletion};
use crate::review::Review;
use crate::waves::thousands;

/// The hidden marker that opens every comment (see the module docs).
pub const MARKER: &str = "<!-- orgform-plan -->";

/// The default size limit, under GitHub's 65,536 characters.
pub const MAX_CHARS: usize = 65_000;

/// Room kept for the cut note (its variable part is a short list of
/// section names and counts).
const NOTE_RESERVE: usize = 1_200;

/// Warnings beyond this many are folded.
const WARNINGS_UNFOLDED: usize = 10;

/// How [`render`] draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// The most characters the comment may have (see the module docs).
    pub max_chars: usize,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            max_chars: MAX_CHARS,
        }
    }
}

/// Appends sections while they fit; remembers what was left out.
struct Writer {
    out: String,
    used: usize,
    budget: usize,
    omitted: Vec<String>,
    cut: bool,
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

impl Writer {
    /// A writer for a comment of at most `options.max_chars` characters
    /// ending in `footer`.
    fn new(options: &MarkdownOptions, footer: &str) -> Writer {
        Writer {
            out: String::new(),
            used: 0,
            budget: options
                .max_chars
                .saturating_sub(chars(footer) + NOTE_RESERVE),
            omitted: Vec::new(),
            cut: false,
        }
    }

    /// The comment: what was written, the cut note when something was left
    /// out (`whole` says where the rest is), and the footer.
    fn finish(self, whole: &str, footer: &str) -> String {
        let mut out = self.out;
        if !self.omitted.is_empty() {
            let _ = writeln!(
                out,
                "> [!NOTE]\n> **This comment was cut** to stay under GitHub's limit of 65,536 \
                 characters. Not shown: {}. {whole}\n",
                self.omitted.join("; ")
            );
        }
        out.push_str(footer);
        out
    }

    fn push(&mut self, s: &str) {
        self.used += chars(s);
        self.out.push_str(s);
    }

    /// A section: `head`, as many `items` as fit, `tail`. `what` names the
    /// items in the cut note (`deletions and deactivations`).
    fn section(
        &mut self,
        head: &str,
        items: impl IntoIterator<Item = String>,
        total: usize,
        tail: &str,
        what: &str,
    ) {
        let all = || {
            if total == 0 {
                what.to_owned()
            } else {
                format!("{what} ({})", thousands(total))
            }
        };
        if self.cut {
            self.omitted.push(all());
            return;
        }
        let closing = chars(tail);
        if self.used + chars(head) + closing > self.budget {
            self.cut = true;
            self.omitted.push(all());
            return;
        }
        self.push(head);
        let mut shown = 0;
        for item in items {
            if self.used + chars(&item) + closing > self.budget {
                break;
            }
            self.push(&item);
            shown += 1;
        }
        self.push(tail);
        if shown < total {
            self.cut = true;
            self.omitted.push(format!(
                "{} of {} {what}",
                thousands(total - shown),
                thousands(total)
            ));
        }
    }
}

impl Writer {
    /// A part that is drawn only when it fits with `reserve` characters
    /// still free after it (the rows that must come first); otherwise it is
    /// left out whole, named in the cut note, and the sections after it
    /// are still written.
    fn optional(&mut self, text: &str, reserve: usize, what: &str) {
        if self.cut || self.used + chars(text) + reserve > self.budget {
            self.omitted.push(what.to_owned());
            return;
        }
        self.push(text);
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// The plan as a pull-request comment (see the module docs).
pub fn render(review: &Review<'_>, options: &MarkdownOptions) -> String {
    let doc = review.doc();
    let footer = footer(review);
    let mut w = Writer::new(options, &footer);
    let deletions = report::deletions(review);

    w.section(&title(doc, &deletions), [], 0, "", "title");
    if let Some(endpoint) = review.endpoint() {
        w.section(
            &format!("Target: {}\n\n", code(endpoint)),
            [],
            0,
            "",
            "target",
        );
    }
    if doc.blocked {
        let n = doc.blocked_reasons.len();
        let head = format!(
            "> [!CAUTION]\n> **Blocked: apply will refuse this plan** ({}). Fix the spec, or \
             raise a limit in it, and plan again.\n>\n",
            plural(n, "reason", "reasons")
        );
        let items = doc
            .blocked_reasons
            .iter()
            .map(|r| format!("> - {} {}\n", code(r.code.as_str()), md_message(&r.message)));
        w.section(&head, items, n, "\n", "blocked reasons");
    }
    w.section(&summary(doc, review.is_redacted()), [], 0, "", "summary");
    if doc.has_changes() {
        w.section(&limits(doc), [], 0, "", "limits");
    }
    if let Some((comparison, source)) = review.comparison() {
        let (head, items) = comparison_parts(comparison, source);
        let n = items.len();
        w.section(
            &head,
            items,
            n,
            "\n",
            "records changed since the reviewed plan",
        );
    }

    let deletions = DeletionsSection::of(&deletions);
    if let Some(diagram) = diagram(&GroupGraph::of_review(review), review) {
        w.optional(&diagram, deletions.chars(), "the diagram of the group tree");
    }
    deletions.write(&mut w);

    warnings_section(&mut w, doc);

    let creates = of_action(doc, Action::Create);
    if !creates.is_empty() {
        let head = format!(
            "<details><summary>➕ {} to create</summary>\n\n",
            plural(creates.len(), "record", "records")
        );
        let n = creates.len();
        w.section(
            &head,
            creates.into_iter().map(create_item),
            n,
            "\n</details>\n\n",
            "creates",
        );
    }
    let updates = of_action(doc, Action::Update);
    if !updates.is_empty() {
        let head = format!(
            "<details><summary>✏️ {} to update</summary>\n\n| record | field | before | after \
             |\n|---|---|---|---|\n",
            plural(updates.len(), "record", "records")
        );
        let n = updates.len();
        w.section(
            &head,
            updates.into_iter().map(update_item),
            n,
            "\n</details>\n\n",
            "updates",
        );
    }

    w.finish(
        "The saved plan (`orgform plan --out`, kept by CI as an artifact) holds the whole plan: \
         `orgform show PLANFILE`; every deletion is in the deletions report \
         (`--deletions-report`).",
        &footer,
    )
}

fn of_action(doc: &PlanDoc, action: Action) -> Vec<&Change> {
    doc.changes.iter().filter(|c| c.action == action).collect()
}

/// The deletions and deactivations in words, the same in the title and
/// the section's heading: `3 deletions, 1 deactivation`.
fn losses(rows: &[Deletion]) -> String {
    let deactivated = rows.iter().filter(|r| r.deactivation).count();
    let deleted = rows.len() - deactivated;
    let mut out = plural(deleted, "deletion", "deletions");
    if deactivated > 0 {
        let _ = write!(
            out,
            ", {}",
            plural(deactivated, "deactivation", "deactivations")
        );
    }
    out
}

fn title(doc: &PlanDoc, rows: &[Deletion]) -> String {
    let t = doc.summary.total();
    let mut out = format!("{MARKER}\n");
    if doc.changes.is_empty() {
        let _ = write!(out, "## orgform plan: no changes");
    } else {
        let deactivated = rows.iter().filter(|r| r.deactivation).count();
        let _ = write!(
            out,
            "## orgform plan: {} to create, {} to update, {}",
            thousands(t.create),
            thousands(t.update.saturating_sub(deactivated)),
            losses(rows)
        );
    }
    if doc.blocked {
        out.push_str(" — ⛔ BLOCKED");
    }
    out.push_str("\n\n");
    out
}

fn summary(doc: &PlanDoc, redacted: bool) -> String {
    let s = &doc.summary;
    let mut out = String::new();
    if doc.changes.is_empty() {
        let _ = writeln!(
            out,
            "The organization matches the spec ({} and {} unchanged).\n",
            plural(s.users.unchanged, "user", "users"),
            plural(s.groups.unchanged, "group", "groups")
        );
    } else {
        let deactivations = doc.changes.iter().filter(|c| c.deactivates()).count();
        let _ = writeln!(out, "| | users | groups |\n|:--|--:|--:|");
        let _ = writeln!(
            out,
            "| to create | {} | {} |",
            thousands(s.users.create),
            thousands(s.groups.create)
        );
        let _ = writeln!(
            out,
            "| to update | {} | {} |",
            thousands(s.users.update.saturating_sub(deactivations)),
            thousands(s.groups.update)
        );
        if deactivations > 0 {
            let _ = writeln!(out, "| to deactivate | {} | |", thousands(deactivations));
        }
        let _ = writeln!(
            out,
            "| to delete | {} | {} |",
            thousands(s.users.delete),
            thousands(s.groups.delete)
        );
        let _ = writeln!(
            out,
            "| unchanged | {} | {} |",
            thousands(s.users.unchanged),
            thousands(s.groups.unchanged)
        );
        out.push('\n');
        waves_table(&mut out, doc);
    }
    if doc.forced {
        out.push_str(
            "`--force` was given: the relative safety thresholds do not block this plan; \
             nothing else is passed.\n\n",
        );
    }
    if redacted {
        out.push_str(
            "_Personal data is masked (`--redact`): emails, phones, names and attribute \
             values read `[redacted]`._\n\n",
        );
    }
    out
}

/// The diagram section (see the module docs), or `None` when no group's
/// place changes.
fn diagram(graph: &GroupGraph, review: &Review<'_>) -> Option<String> {
    if graph.is_empty() {
        return None;
    }
    let n = graph.nodes().len();
    let mut out = String::from("### 🌳 The group tree this plan changes\n\n");
    if n > graph::MAX_NODES {
        let _ = writeln!(
            out,
            "The changed part of the group tree has {} groups with their ancestors, more than \
             the {} a diagram here shows. Draw it with `orgform graph SPEC --changes` (add \
             `--format dot` for Graphviz).\n",
            thousands(n),
            graph::MAX_NODES
        );
        return Some(out);
    }
    out.push_str("```mermaid\n");
    out.push_str(&graph.mermaid());
    out.push_str("```\n\n");
    out.push_str(
        "Legend: 🟩 `+` created · 🟥 `-` deleted · 🟨 `~` renamed or moved (a dashed arrow \
         comes from the old parent) · ⬜ unchanged, shown for context · dashed box: a group \
         orgform does not manage. Arrows point from a parent to its child.\n\n",
    );
    if review.before().is_none() {
        out.push_str(
            "_Drawn from the saved plan alone: the parents it does not change are not known._\n\n",
        );
    }
    Some(out)
}

/// The deletions section, built before it is written, so the diagram can
/// be left out in favour of its rows.
struct DeletionsSection {
    head: String,
    items: Vec<String>,
}

impl DeletionsSection {
    fn of(rows: &[Deletion]) -> DeletionsSection {
        if rows.is_empty() {
            return DeletionsSection {
                head: "### Deletions\n\nNo deletions or deactivations.\n\n".to_owned(),
                items: Vec::new(),
            };
        }
        let groups = rows.iter().filter(|r| r.kind == Kind::Group).count();
        let users_deleted = rows
            .iter()
            .filter(|r| r.kind == Kind::User && !r.deactivation)
            .count();
        let deactivated = rows.iter().filter(|r| r.deactivation).count();
        let mut head = format!("### 🗑️ {}\n\n> [!WARNING]\n", losses(rows));
        let mut parts = Vec::new();
        if groups > 0 {
            parts.push(format!(
                "**{} deleted: &frankly drops {} historic results for good.**",
                plural(groups, "group is", "groups are"),
                if groups == 1 { "its" } else { "their" }
            ));
        }
        if users_deleted > 0 {
            parts.push(format!(
                "**{} deleted** (their account is removed; surveys they already answered are \
                 kept).",
                plural(users_deleted, "user is", "users are")
            ));
        }
        if deactivated > 0 {
            parts.push(format!(
                "**{} deactivated** (they keep the account but cannot log in).",
                plural(deactivated, "user is", "users are")
            ));
        }
        let _ = writeln!(
            head,
            "> {} Check every row; `--deletions-report FILE` writes them as CSV.\n",
            parts.join(" ")
        );
        head.push_str(
            "| kind | externalId | name | email | groups | parent | reason \
             |\n|---|---|---|---|---|---|---|\n",
        );
        let items = rows.iter().map(deletion_row).collect();
        DeletionsSection { head, items }
    }

    /// Its whole size, as written.
    fn chars(&self) -> usize {
        let tail = if self.items.is_empty() { 0 } else { 1 };
        chars(&self.head) + self.items.iter().map(|i| chars(i)).sum::<usize>() + tail
    }

    fn write(self, w: &mut Writer) {
        let n = self.items.len();
        if n == 0 {
            w.section(&self.head, [], 0, "", "deletions");
        } else {
            w.section(
                &self.head,
                self.items,
                n,
                "\n",
                "deletions and deactivations",
            );
        }
    }
}

fn deletion_row(r: &Deletion) -> String {
    let groups: Vec<String> = r.groups.iter().map(|g| code(g)).collect();
    let reason = if r.protected {
        format!("⛔ {}", md(&r.reason))
    } else if r.kind == Kind::Group {
        format!("⚠️ **{}**", md(&r.reason))
    } else {
        md(&r.reason)
    };
    let parent = match (&r.parent, r.kind) {
        (Some(p), _) => code(p),
        (None, Kind::Group) => "_(root)_".to_owned(),
        (None, Kind::User) => String::new(),
    };
    format!(
        "| {} | {} | {} | {} | {} | {parent} | {reason} |\n",
        r.kind,
        code(&r.external_id),
        md(&r.name),
        md(&r.email),
        groups.join(" "),
    )
}

/// The comparison (see [`crate::compare`]) as a Markdown section: a
/// heading, the headline, a table of the counts that differ, then one
/// string per record, so a comment can be cut between them.
pub(crate) fn comparison_parts(c: &Comparison, source: &str) -> (String, Vec<String>) {
    let mut head = String::new();
    let _ = writeln!(head, "### Since the reviewed plan\n");
    let _ = writeln!(
        head,
        "**{}** (compared with {}, plan {}).\n",
        md(&capitalize(&c.headline())),
        code(source),
        code(&c.previous.plan_digest)
    );
    let notes = c.notes();
    for note in &notes {
        let _ = writeln!(head, "- {}", md(note));
    }
    if !notes.is_empty() {
        head.push('\n');
    }
    let changed: Vec<&CountDelta> = c.counts.iter().filter(|c| c.delta() != 0).collect();
    if !changed.is_empty() {
        let _ = writeln!(head, "| kind | action | reviewed | now | change |");
        let _ = writeln!(head, "|---|---|--:|--:|--:|");
        for d in changed {
            let _ = writeln!(
                head,
                "| {} | {} | {} | {} | **{:+}** |",
                d.kind,
                d.action,
                d.previous,
                d.current,
                d.delta()
            );
        }
        head.push('\n');
    }
    let items = c
        .records
        .iter()
        .map(|r| {
            let mark = match r.status {
                Status::Added => "➕",
                Status::Removed => "➖",
                Status::Changed => "✏️",
            };
            format!(
                "- {mark} {} {} {}: {}\n",
                r.kind,
                code(&r.external_id),
                md(&r.label),
                md(&Comparison::describe(r))
            )
        })
        .collect();
    (head, items)
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn limits(doc: &PlanDoc) -> String {
    let mut out =
        String::from("### Limits\n\n| setting | planned | limit | |\n|---|--:|--:|:-:|\n");
    for l in &doc.limits {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            code(l.name.as_str()),
            thousands(l.planned),
            thousands(l.limit as usize),
            if l.ok { "✅" } else { "❌ **exceeded**" }
        );
    }
    out.push('\n');
    out
}

fn warnings_section(w: &mut Writer, doc: &PlanDoc) {
    let n = doc.warnings.len();
    if n == 0 {
        return;
    }
    let items = doc.warnings.iter().map(|warning| {
        let on = match (&warning.kind, &warning.external_id) {
            (Some(k), Some(id)) => format!(" ({k} {})", code(id)),
            _ => String::new(),
        };
        format!(
            "- {}{on}: {}\n",
            code(warning.code.as_str()),
            md_message(&warning.message)
        )
    });
    if n > WARNINGS_UNFOLDED {
        let head = format!(
            "<details><summary>⚠️ {}</summary>\n\n",
            plural(n, "warning", "warnings")
        );
        w.section(&head, items, n, "\n</details>\n\n", "warnings");
    } else {
        let head = format!("### ⚠️ Warnings ({n})\n\n");
        w.section(&head, items, n, "\n", "warnings");
    }
}

fn create_item(c: &Change) -> String {
    let details = match &c.after {
        Some(Record::User(u)) => {
            let mut parts = vec![md(&u.email)];
            if !u.member_of.is_empty() {
                let groups: Vec<String> = u.member_of.iter().map(|g| code(g)).collect();
                parts.push(format!("member of {}", groups.join(" ")));
            }
            parts.push(format!("role {}", u.role));
            if !u.active {
                parts.push("**inactive**".to_owned());
            }
            format!(
                "{} {} — {}",
                md(&u.first_name),
                md(&u.last_name),
                parts.join(", ")
            )
        }
        Some(Record::Group(g)) => match &g.parent {
            Some(p) => format!("{} — parent {}", md(&g.name), code(p)),
            None => format!("{} — a root group", md(&g.name)),
        },
        None => md(&c.label),
    };
    format!("- {} {}: {details}\n", c.kind, code(&c.external_id))
}

fn update_item(c: &Change) -> String {
    let mut out = String::new();
    let label = if c.deactivates() {
        format!("{} **deactivated**", md(&c.label))
    } else {
        md(&c.label)
    };
    for (i, f) in c.fields.iter().enumerate() {
        let record = if i == 0 {
            format!("{} {} {label}", c.kind, code(&c.external_id))
        } else {
            String::new()
        };
        let mut after = value(f.after.as_ref());
        if let (Some(Value::Array(a)), Some(Value::Array(b))) = (&f.before, &f.after) {
            let added: Vec<String> = b.iter().filter(|v| !a.contains(v)).map(item).collect();
            let removed: Vec<String> = a.iter().filter(|v| !b.contains(v)).map(item).collect();
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("added {}", added.join(" ")));
            }
            if !removed.is_empty() {
                parts.push(format!("removed {}", removed.join(" ")));
            }
            let _ = write!(after, " ({})", parts.join("; "));
        }
        let _ = writeln!(
            out,
            "| {record} | {} | {} | {after} |",
            code(&f.path),
            value(f.before.as_ref())
        );
    }
    out
}

fn value(v: Option<&Value>) -> String {
    match v {
        None => "_(none)_".to_owned(),
        Some(Value::Array(items)) if items.is_empty() => "_(empty)_".to_owned(),
        Some(Value::Array(items)) => items.iter().map(item).collect::<Vec<_>>().join(" "),
        Some(v) => item(v),
    }
}

fn item(v: &Value) -> String {
    match v {
        Value::String(s) => code(s),
        other => code(&other.to_string()),
    }
}

fn footer(review: &Review<'_>) -> String {
    let doc = review.doc();
    let base = match &doc.base.lineage {
        Some(l) => {
            let short: String = l.chars().take(40).collect();
            format!(
                "state serial {} (lineage {})",
                doc.base.serial,
                code(&short)
            )
        }
        None => "no state yet".to_owned(),
    };
    let spec: String = doc.spec_digest.chars().take(80).collect();
    let plan: String = review.plan_digest().chars().take(80).collect();
    format!(
        "<sub>orgform plan · base: {base} · spec {} · plan {}{}</sub>\n",
        code(&spec),
        code(&plan),
        if review.is_redacted() {
            " · personal data masked"
        } else {
            ""
        }
    )
}

/// `orgform validate --format markdown` for a spec that does not
/// validate: a comment with the plan comment's [`MARKER`] (so CI updates
/// the same comment), a title with the counts, and one row per
/// diagnostic (errors and warnings, in the loader's order: file, line,
/// column) with its `file:line:column`, code, message and hint, each
/// escaped ([`crate::escape`]). Quoted values that look like an email or
/// a phone are masked (a PR comment is no place for personal data; the
/// location finds the line). Cut between rows like the plan comment.
pub fn invalid_spec(
    spec: &str,
    diagnostics: &orgform_spec::Diagnostics,
    options: &MarkdownOptions,
) -> String {
    let errors = diagnostics.error_count();
    let warnings = diagnostics.len() - errors;
    let mut counts = plural(errors, "error", "errors");
    if warnings > 0 {
        let _ = write!(counts, ", {}", plural(warnings, "warning", "warnings"));
    }
    let head = format!(
        "{MARKER}\n## orgform validate: ❌ the spec is invalid ({counts})\n\nThe spec {} does not \
         validate, so nothing was planned. Fix every row below (or run `orgform validate` on it \
         locally) and push again.\n\n",
        code(spec)
    );
    diagnostics_comment(&head, diagnostics, options)
}

/// `orgform validate --format markdown` for a valid spec: a short note
/// (with the same [`MARKER`]), and its warnings, if any.
pub fn valid_spec(
    spec: &str,
    warnings: &orgform_spec::Diagnostics,
    options: &MarkdownOptions,
) -> String {
    let head = format!(
        "{MARKER}\n## orgform validate: ✅ the spec is valid\n\nThe spec {} validates{}.\n\n",
        code(spec),
        if warnings.is_empty() {
            String::new()
        } else {
            format!(" with {}", plural(warnings.len(), "warning", "warnings"))
        }
    );
    diagnostics_comment(&head, warnings, options)
}

fn diagnostics_comment(
    head: &str,
    diagnostics: &orgform_spec::Diagnostics,
    options: &MarkdownOptions,
) -> String {
    let footer =
        "<sub>orgform validate · values that look like emails or phones are masked</sub>\n";
    let mut w = Writer::new(options, footer);
    w.section(head, [], 0, "", "title");
    if !diagnostics.is_empty() {
        let masks = crate::redact::Secrets::default();
        let text = |s: &str| md_message(&masks.message(s, None));
        let items = diagnostics.iter().map(|d| {
            let place = match &d.location {
                Some(l) => code(&l.to_string()),
                None => "_(no place)_".to_owned(),
            };
            let mut problem = text(&d.message);
            for (l, label) in &d.related {
                let _ = write!(problem, "; {}: {}", text(label), code(&l.to_string()));
            }
            if let Some(hint) = &d.hint {
                let _ = write!(problem, " — _hint_: {}", text(hint));
            }
            let severity = if d.severity.is_error() {
                "❌ error"
            } else {
                "⚠️ warning"
            };
            format!("| {severity} | {place} | {} | {problem} |\n", code(d.code))
        });
        w.section(
            "| | where | code | problem |\n|---|---|---|---|\n",
            items,
            diagnostics.len(),
            "\n",
            "diagnostics",
        );
    }
    w.finish("`orgform validate SPEC` lists every one.", footer)
}

/// A plan of several requests (issue 19): the headline and one row of
/// counts per wave, below the summary table.
fn waves_table(out: &mut String, doc: &PlanDoc) {
    let Some(headline) = crate::waves::headline(doc) else {
        return;
    };
    let mut first = headline;
    first.replace_range(..1, "A");
    let _ = writeln!(out, "{first}:\n");
    let _ = writeln!(
        out,
        "| wave | users to create | to update | to delete | groups to create | to update | to delete |"
    );
    let _ = writeln!(out, "|--:|--:|--:|--:|--:|--:|--:|");
    for (i, w) in doc.waves.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            thousands(w.users.create),
            thousands(w.users.update),
            thousands(w.users.delete),
            thousands(w.groups.create),
            thousands(w.groups.update),
            thousands(w.groups.delete)
        );
    }
    out.push('\n');
}
