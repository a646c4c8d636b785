//! `--format markdown`: the plan as a pull-request comment.
//!
//! Layout, most important first:
//!
//! 1. [`MARKER`] (`<!-- orgform-plan -->`), an HTML comment GitHub and
//!    GitLab do not show: CI finds its earlier comment by it and updates it
//!    in place instead of adding one per push;
//! 2. a title with the totals (`BLOCKED` when apply would refuse the plan);
//! 3. the blocked reasons, in a `[!CAUTION]` alert;
//! 4. the summary table (users and groups: create, update, delete,
//!    unchanged; deactivations when there are some);
//! 5. the six limits (when there are changes);
//! 6. with `--compare`, what changed since the reviewed plan;
//! 7. the deletions and deactivations, always expanded: kind, externalId,
//!    name, email, groups and reason (the rows of the deletions report,
//!    [`crate::report`]), under a `[!WARNING]` that deleting a group drops
//!    its historic results; then the warnings (folded in `<details>`
//!    beyond 10);
//! 8. the creates and the updates, folded in `<details>`;
//! 9. a footer: base state, spec and plan digests, and whether personal
//!    data is masked.
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
//! A cut never falls inside a tag, a row or a code span.

use std::fmt::Write as _;

use orgform_model::Kind;
use serde_json::Value;

use crate::doc::{Action, Change, PlanDoc, Record};
use crate::escape::{code, md, md_message};
use crate::report::{self, Deletion, deactivates};
use crate::review::Review;

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

/// `12345` as `12,345`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// The plan as a pull-request comment (see the module docs).
pub fn render(review: &Review<'_>, options: &MarkdownOptions) -> String {
    let doc = review.doc();
    let footer = footer(review);
    let mut w = Writer {
        out: String::new(),
        used: 0,
        budget: options
            .max_chars
            .saturating_sub(chars(&footer) + NOTE_RESERVE),
        omitted: Vec::new(),
        cut: false,
    };

    w.section(&title(doc), [], 0, "", "title");
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
        let (head, items) = comparison.markdown_parts(source);
        let n = items.len();
        w.section(
            &head,
            items,
            n,
            "\n",
            "records changed since the reviewed plan",
        );
    }

    let deletions = report::deletions(review);
    deletions_section(&mut w, &deletions);

    warnings_section(&mut w, doc);

    let creates: Vec<&Change> = doc
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .collect();
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
    let updates: Vec<&Change> = doc
        .changes
        .iter()
        .filter(|c| c.action == Action::Update)
        .collect();
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

    let mut out = w.out;
    if w.cut {
        let _ = writeln!(
            out,
            "> [!NOTE]\n> **This comment was cut** to stay under GitHub's limit of 65,536 \
             characters. Not shown: {}. The saved plan (`orgform plan --out`, kept by CI as an \
             artifact) holds the whole plan: `orgform show PLANFILE`; every deletion is in the \
             deletions report (`--deletions-report`).\n",
            w.omitted.join("; ")
        );
    }
    out.push_str(&footer);
    out
}

fn title(doc: &PlanDoc) -> String {
    let t = doc.summary.total();
    let mut out = format!("{MARKER}\n");
    if doc.changes.is_empty() {
        let _ = write!(out, "## orgform plan: no changes");
    } else {
        let _ = write!(
            out,
            "## orgform plan: {} to create, {} to update, {} to delete",
            thousands(t.create),
            thousands(t.update),
            thousands(t.delete)
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
        let deactivations = doc
            .changes
            .iter()
            .filter(|c| c.action == Action::Update && deactivates(c))
            .count();
        let _ = writeln!(out, "| | users | groups |\n|:--|--:|--:|");
        let rows = [
            ("to create", s.users.create, s.groups.create),
            ("to update", s.users.update, s.groups.update),
            ("to delete", s.users.delete, s.groups.delete),
            ("unchanged", s.users.unchanged, s.groups.unchanged),
        ];
        for (name, u, g) in rows {
            let _ = writeln!(out, "| {name} | {} | {} |", thousands(u), thousands(g));
            if name == "to update" && deactivations > 0 {
                let _ = writeln!(
                    out,
                    "| of which deactivated | {} | |",
                    thousands(deactivations)
                );
            }
        }
        out.push('\n');
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

fn deletions_section(w: &mut Writer, rows: &[Deletion]) {
    if rows.is_empty() {
        w.section(
            "### Deletions\n\nNo deletions or deactivations.\n\n",
            [],
            0,
            "",
            "deletions",
        );
        return;
    }
    let groups = rows.iter().filter(|r| r.kind == Kind::Group).count();
    let users_deleted = rows
        .iter()
        .filter(|r| r.kind == Kind::User && !r.deactivation)
        .count();
    let deactivated = rows.iter().filter(|r| r.deactivation).count();
    let mut head = format!(
        "### 🗑️ Deletions and deactivations ({})\n\n> [!WARNING]\n",
        thousands(rows.len())
    );
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
            "**{} deleted** (their account is removed; surveys they already answered are kept).",
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
        "| kind | externalId | name | email | groups | reason |\n|---|---|---|---|---|---|\n",
    );
    let items = rows.iter().map(|r| {
        let groups: Vec<String> = r.groups.iter().map(|g| code(g)).collect();
        let reason = if r.protected {
            format!("⛔ {}", md(&r.reason))
        } else if r.kind == Kind::Group {
            format!("⚠️ **{}**", md(&r.reason))
        } else {
            md(&r.reason)
        };
        format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.kind,
            code(&r.external_id),
            md(&r.name),
            md(&r.email),
            groups.join(" "),
            reason
        )
    });
    w.section(
        &head,
        items,
        rows.len(),
        "\n",
        "deletions and deactivations",
    );
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
    let label = if deactivates(c) {
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
