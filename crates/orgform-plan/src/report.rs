//! The deletions report (`orgform plan --deletions-report FILE`): every
//! user or group the plan deletes or deactivates, as CSV for auditors, and
//! the same rows for the Markdown comment's deletions section.
//!
//! CSV (RFC 4180): the header `kind,externalId,name,email,groups,reason`,
//! one row per record, CRLF line ends, a field quoted when it holds a
//! comma, a quote, a line break or a leading or trailing space (quotes
//! doubled). Rows: users first, then groups, each by externalId.
//!
//! - `kind`: `user` or `group`.
//! - `name`: a user's `First Last`, a group's name. `email`: a user's email
//!   (empty for a group).
//! - `groups`: a user's `memberOf` groups (a deactivated user's as they
//!   were before the plan: the groups they had); for a group, its parent
//!   (the unit it leaves: the CSV header is fixed, the Markdown comment
//!   shows it in a `parent` column); externalIds separated by `;`.
//! - `reason`: `deleted`, `deactivated` or, for a group, the warning that
//!   &frankly drops its historic results; `BLOCKED` when the record is
//!   protected (apply refuses the plan).
//!
//! Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` as a
//! formula: such a field gets a leading `'` (OWASP's advice for CSV
//! exports), so a name like `=HYPERLINK(…)` is shown, never run.

use std::collections::BTreeSet;

use orgform_model::Kind;
use serde::Serialize;
use serde_json::Value;

use crate::doc::{Action, BlockedCode, Change, Record};
use crate::redact::MASK;
use crate::review::Review;

/// The CSV header (DESIGN section 4 fixes these columns).
pub const CSV_HEADER: &str = "kind,externalId,name,email,groups,reason";

/// Why a user loses access, in the report's words.
pub const USER_DELETED: &str =
    "deleted: the user's account is removed (surveys they already answered are kept)";
/// A deactivation, in the report's words.
pub const USER_DEACTIVATED: &str = "deactivated (active: false): the account stays but cannot \
     log in and gets no questions";
/// A group deletion, in the report's words: the group-history warning.
pub const GROUP_DELETED: &str =
    "deleted: &frankly drops this group's historic results for good (groupHistoryDropped)";

/// One user or group the plan deletes or deactivates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deletion {
    /// `user` or `group`.
    pub kind: Kind,
    /// The record.
    pub external_id: String,
    /// `First Last`, or the group's name.
    pub name: String,
    /// The user's email; empty for a group.
    pub email: String,
    /// A user's `memberOf` (before the plan); empty for a group.
    pub groups: Vec<String>,
    /// A group's parent (before the plan); `None` for a root or a user.
    pub parent: Option<String>,
    /// A deactivation (`active: true -> false`), not a deletion.
    pub deactivation: bool,
    /// The plan is blocked because this record is protected.
    pub protected: bool,
    /// What happens, in plain words.
    pub reason: String,
}

/// The deletions and deactivations of a reviewed plan, users first, then
/// groups, each by externalId.
pub fn deletions(review: &Review<'_>) -> Vec<Deletion> {
    let doc = review.doc();
    let protected: BTreeSet<(Kind, &str)> = doc
        .blocked_reasons
        .iter()
        .filter(|r| r.code == BlockedCode::ProtectedDeletion)
        .flat_map(|r| {
            r.external_ids
                .iter()
                .map(move |id| (r.kind.unwrap_or(Kind::User), id.as_str()))
        })
        .collect();
    let mut rows: Vec<Deletion> = doc
        .changes
        .iter()
        .filter_map(|c| row(c, review))
        .map(|mut d| {
            if review.is_redacted() && d.kind == Kind::User {
                MASK.clone_into(&mut d.name);
                MASK.clone_into(&mut d.email);
            }
            if protected.contains(&(d.kind, d.external_id.as_str())) {
                d.protected = true;
                d.reason
                    .push_str("; BLOCKED: the record is protected, apply refuses this plan");
            }
            d
        })
        .collect();
    rows.sort_by(|a, b| (a.kind, &a.external_id).cmp(&(b.kind, &b.external_id)));
    rows
}

fn row(c: &Change, review: &Review<'_>) -> Option<Deletion> {
    match (c.action, c.before.as_ref()) {
        (Action::Delete, Some(Record::User(u))) => Some(Deletion {
            kind: Kind::User,
            external_id: c.external_id.clone(),
            name: format!("{} {}", u.first_name, u.last_name),
            email: u.email.clone(),
            groups: u.member_of.iter().cloned().collect(),
            parent: None,
            deactivation: false,
            protected: false,
            reason: USER_DELETED.to_owned(),
        }),
        (Action::Delete, Some(Record::Group(g))) => Some(Deletion {
            kind: Kind::Group,
            external_id: c.external_id.clone(),
            name: g.name.clone(),
            email: String::new(),
            groups: Vec::new(),
            parent: g.parent.clone(),
            deactivation: false,
            protected: false,
            reason: GROUP_DELETED.to_owned(),
        }),
        (Action::Update, _) if c.kind == Kind::User && c.deactivates() => {
            let (name, email) = match review.after().and_then(|a| a.users.get(&c.external_id)) {
                Some(u) => (format!("{} {}", u.first_name, u.last_name), u.email.clone()),
                None => split_label(&c.label),
            };
            // The groups they had: the state's, else the changed list's old value.
            let groups = match review.before().and_then(|b| b.users.get(&c.external_id)) {
                Some(u) => u.member_of.iter().cloned().collect(),
                None => c
                    .fields
                    .iter()
                    .find(|f| f.path == "accessInfo.memberOf")
                    .and_then(|f| f.before.as_ref())
                    .map(strings)
                    .unwrap_or_default(),
            };
            Some(Deletion {
                kind: Kind::User,
                external_id: c.external_id.clone(),
                name,
                email,
                groups,
                parent: None,
                deactivation: true,
                protected: false,
                reason: USER_DEACTIVATED.to_owned(),
            })
        }
        _ => None,
    }
}

/// A user label `First Last <email>` as name and email; a masked label
/// masks both.
fn split_label(label: &str) -> (String, String) {
    if label == MASK {
        return (MASK.to_owned(), MASK.to_owned());
    }
    match label
        .strip_suffix('>')
        .and_then(|rest| rest.rsplit_once(" <"))
    {
        Some((name, email)) => (name.to_owned(), email.to_owned()),
        None => (label.to_owned(), String::new()),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The rows as CSV (see the module docs), header included, CRLF line ends.
pub fn csv(rows: &[Deletion]) -> String {
    let mut out = String::with_capacity(64 + rows.len() * 128);
    out.push_str(CSV_HEADER);
    out.push_str("\r\n");
    for r in rows {
        let fields = [
            r.kind.as_str().to_owned(),
            r.external_id.clone(),
            r.name.clone(),
            r.email.clone(),
            match &r.parent {
                Some(parent) => parent.clone(),
                None => r.groups.join(";"),
            },
            r.reason.clone(),
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_field(&mut out, f);
        }
        out.push_str("\r\n");
    }
    out
}

/// One RFC 4180 field, defused against spreadsheet formulas.
fn push_field(out: &mut String, field: &str) {
    let defused;
    // Spreadsheets skip leading spaces before a formula: ` =1+1` is one too.
    let field = if field
        .trim_start_matches(' ')
        .starts_with(['=', '+', '-', '@', '\t', '\r'])
    {
        defused = format!("'{field}");
        defused.as_str()
    } else {
        field
    };
    let quote =
        field.contains([',', '"', '\r', '\n']) || field.starts_with(' ') || field.ends_with(' ');
    if quote {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(field: &str) -> String {
        let mut out = String::new();
        push_field(&mut out, field);
        out
    }

    #[test]
    fn fields_are_quoted_per_rfc_4180_and_defused() {
        assert_eq!(one("plain"), "plain");
        assert_eq!(one("a,b"), "\"a,b\"");
        assert_eq!(one("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(one("two\nlines"), "\"two\nlines\"");
        assert_eq!(one(" padded"), "\" padded\"");
        assert_eq!(one("=1+2"), "'=1+2");
        assert_eq!(one("-x,y"), "\"'-x,y\"");
        assert_eq!(one(""), "");
    }

    #[test]
    fn labels_split_into_name_and_email() {
        assert_eq!(
            split_label("Ann Ash <ann@example.com>"),
            ("Ann Ash".to_owned(), "ann@example.com".to_owned())
        );
        assert_eq!(split_label(MASK), (MASK.to_owned(), MASK.to_owned()));
        assert_eq!(split_label("odd"), ("odd".to_owned(), String::new()));
    }
}
