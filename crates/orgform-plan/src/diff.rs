//! `--format diff`: a unified diff of the effective state before the plan
//! against the effective state after it.
//!
//! Why the effective state after the plan rather than the desired org:
//! the effective records are what the server holds, every omission
//! resolved (an unforced `language` keeps its old value, an omitted list
//! keeps its members, memberships of a deleted group vanish). Diffing them
//! shows exactly the plan's changes, no more and no less: a field the spec
//! gives but the server will not apply shows no change, and each changed
//! line is one field of the plan. Both sides are normalized the same way,
//! so nothing but real changes differ.
//!
//! The normalized document: groups, then users, each by externalId; one
//! block per record, a header line (`group "G1":`, `user "E1":`) and one
//! line per present field, in the spec's order, with the spec's field
//! paths (`accessInfo.memberOf: ["G1", "G2"]`, `externalProperties.city:
//! "Oslo"`); absent values and empty lists are left out, `protected: true`
//! (orgform-only, from the state) closes the block. So one changed field
//! is one changed line, and a list change is one line.
//!
//! Linear on large orgs: records are matched by externalId (a merge of the
//! two sorted maps) and only a record whose lines differ is diffed, with
//! `similar` (Myers) over its own few lines; hunks (3 lines of context by
//! default, hunks closer than twice that merged) are built in one pass that
//! keeps only the last few unchanged lines. The line numbers in the `@@`
//! headers are those of the whole normalized document, so the output is a
//! real unified diff (`patch`, `delta` and GitHub's `diff` highlighting read
//! it); each `@@` line ends with the record its first change belongs to.
//! No changes: an empty output.
//!
//! `orgform show PLANFILE --format diff` needs the state the plan was made
//! against: a saved plan holds the desired org and the plan, not the state.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use orgform_model::palette;
use orgform_model::{AccessList, EffGroup, EffUser, EffectiveOrg};
use similar::{Algorithm, DiffTag};

use crate::doc::BaseRef;
use crate::escape::{clean, quote};
use crate::review::Review;

/// How [`render`] draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffOptions {
    /// Unchanged lines shown around each change.
    pub context: usize,
    /// ANSI colours (the caller decides), from [`orgform_model::palette`]:
    /// file names `EMPHASIS`, `@@` lines `NOTE`, `-` `REMOVED`, `+` `ADDED`.
    pub color: bool,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            context: 3,
            color: false,
        }
    }
}

/// The diff of a reviewed plan, or `None` when its states are unknown (a
/// saved plan without its state).
pub fn render(review: &Review<'_>, options: &DiffOptions) -> Option<String> {
    let (before, after) = (review.before()?, review.after()?);
    let old = format!("before: {}", describe_base(&review.doc().base));
    Some(unified(before, after, (&old, "after: this plan"), options))
}

fn describe_base(base: &BaseRef) -> String {
    match &base.lineage {
        Some(l) => format!("state serial {} (lineage {})", base.serial, clean(l)),
        None => "no state yet".to_owned(),
    }
}

/// A unified diff of two normalized effective states; `names` are the
/// `---` and `+++` labels. Empty when they are the same.
pub fn unified(
    before: &EffectiveOrg,
    after: &EffectiveOrg,
    names: (&str, &str),
    options: &DiffOptions,
) -> String {
    if before == after {
        return String::new();
    }
    let mut h = Hunks {
        out: String::new(),
        context: options.context,
        color: options.color,
        old_no: 0,
        new_no: 0,
        ring: VecDeque::new(),
        hunk: None,
        tail: 0,
        section: String::new(),
        any: false,
    };
    merge(&before.groups, &after.groups, |b, a| {
        let block = |g: &EffGroup, org: &EffectiveOrg| {
            group_block(g, org.protected.groups.contains(&g.external_id))
        };
        h.record(b.map(|g| block(g, before)), a.map(|g| block(g, after)));
    });
    merge(&before.users, &after.users, |b, a| {
        let block = |u: &EffUser, org: &EffectiveOrg| {
            user_block(u, org.protected.users.contains(&u.external_id))
        };
        h.record(b.map(|u| block(u, before)), a.map(|u| block(u, after)));
    });
    h.flush();
    if !h.any {
        return String::new();
    }
    let mut out = String::with_capacity(h.out.len() + 64);
    let (old, new) = names;
    out.push_str(&palette::paint(
        h.color,
        palette::EMPHASIS,
        &format!("--- {}", clean(old)),
    ));
    out.push('\n');
    out.push_str(&palette::paint(
        h.color,
        palette::EMPHASIS,
        &format!("+++ {}", clean(new)),
    ));
    out.push('\n');
    out.push_str(&h.out);
    out
}

/// Walks two maps sorted by key together, calling `f` with each key's
/// value on either side.
fn merge<'m, T>(
    a: &'m BTreeMap<String, T>,
    b: &'m BTreeMap<String, T>,
    mut f: impl FnMut(Option<&'m T>, Option<&'m T>),
) {
    let (mut ia, mut ib) = (a.iter().peekable(), b.iter().peekable());
    loop {
        match (ia.peek(), ib.peek()) {
            (None, None) => break,
            (Some((ka, _)), Some((kb, _))) if ka == kb => {
                let (_, va) = ia.next().expect("peeked");
                let (_, vb) = ib.next().expect("peeked");
                f(Some(va), Some(vb));
            }
            (Some((ka, _)), Some((kb, _))) if ka < kb => {
                let (_, va) = ia.next().expect("peeked");
                f(Some(va), None);
            }
            (Some(_), None) => {
                let (_, va) = ia.next().expect("peeked");
                f(Some(va), None);
            }
            (_, Some(_)) => {
                let (_, vb) = ib.next().expect("peeked");
                f(None, Some(vb));
            }
        }
    }
}

fn list(items: &std::collections::BTreeSet<String>) -> String {
    let items: Vec<String> = items.iter().map(|i| quote(i)).collect();
    format!("[{}]", items.join(", "))
}

/// A group's lines: header, then each present field.
pub(crate) fn group_block(g: &EffGroup, protected: bool) -> Vec<String> {
    let mut lines = vec![format!("group {}:", quote(&g.external_id))];
    lines.push(format!("  name: {}", quote(&g.name)));
    if let Some(d) = &g.description {
        lines.push(format!("  description: {}", quote(d)));
    }
    if let Some(p) = &g.parent {
        lines.push(format!("  parent: {}", quote(p)));
    }
    if protected {
        lines.push("  protected: true".to_owned());
    }
    lines
}

/// A user's lines: header, then each present field in the spec's order.
pub(crate) fn user_block(u: &EffUser, protected: bool) -> Vec<String> {
    let mut lines = vec![
        format!("user {}:", quote(&u.external_id)),
        format!("  firstName: {}", quote(&u.first_name)),
        format!("  lastName: {}", quote(&u.last_name)),
        format!("  email: {}", quote(&u.email)),
    ];
    if let Some(p) = &u.phone {
        lines.push(format!("  phone: {}", quote(p)));
    }
    lines.push(format!("  active: {}", u.active));
    if let Some(tz) = &u.timezone {
        lines.push(format!("  timezone: {}", quote(tz)));
    }
    if let Some(l) = &u.language {
        lines.push(format!("  language: {}", quote(l)));
    }
    for which in AccessList::ALL {
        let set = u.list(which);
        if !set.is_empty() {
            lines.push(format!("  {}: {}", which.path(), list(set)));
        }
    }
    lines.push(format!("  accessInfo.role: {}", quote(u.role.as_str())));
    for (k, v) in &u.external_properties {
        lines.push(format!(
            "  {}: {}",
            clean(&format!("externalProperties.{k}")),
            quote(v)
        ));
    }
    if protected {
        lines.push("  protected: true".to_owned());
    }
    lines
}

struct Hunk {
    old_start: usize,
    new_start: usize,
    old_len: usize,
    new_len: usize,
    lines: Vec<(char, String)>,
    section: String,
}

/// The one-pass hunk builder (see the module docs).
struct Hunks {
    out: String,
    context: usize,
    color: bool,
    /// Lines of the old and new document consumed so far.
    old_no: usize,
    new_no: usize,
    /// The last unchanged lines not in a hunk (at most `context`, or
    /// `context + 1` just before a hunk closes).
    ring: VecDeque<String>,
    hunk: Option<Hunk>,
    /// Unchanged lines appended to the open hunk since its last change.
    tail: usize,
    /// The current record's header, for the `@@` line.
    section: String,
    any: bool,
}

impl Hunks {
    fn record(&mut self, old: Option<Vec<String>>, new: Option<Vec<String>>) {
        if let Some(header) = new.as_ref().or(old.as_ref()).and_then(|l| l.first()) {
            self.section = header.trim_end_matches(':').to_owned();
        }
        match (old, new) {
            (Some(old), Some(new)) if old == new => old.into_iter().for_each(|l| self.equal(l)),
            (Some(old), Some(new)) => {
                let ops = similar::capture_diff_slices(Algorithm::Myers, &old, &new);
                for op in ops {
                    let (tag, o, n) = op.as_tag_tuple();
                    match tag {
                        DiffTag::Equal => o.for_each(|i| self.equal(old[i].clone())),
                        DiffTag::Delete => o.for_each(|i| self.change('-', old[i].clone())),
                        DiffTag::Insert => n.for_each(|i| self.change('+', new[i].clone())),
                        DiffTag::Replace => {
                            o.for_each(|i| self.change('-', old[i].clone()));
                            n.for_each(|i| self.change('+', new[i].clone()));
                        }
                    }
                }
            }
            (Some(old), None) => old.into_iter().for_each(|l| self.change('-', l)),
            (None, Some(new)) => new.into_iter().for_each(|l| self.change('+', l)),
            (None, None) => {}
        }
    }

    fn equal(&mut self, line: String) {
        self.old_no += 1;
        self.new_no += 1;
        match &mut self.hunk {
            Some(h) if self.tail < self.context => {
                h.lines.push((' ', line));
                h.old_len += 1;
                h.new_len += 1;
                self.tail += 1;
            }
            Some(_) => {
                self.ring.push_back(line);
                if self.ring.len() > self.context {
                    // The gap to any next change exceeds twice the context.
                    self.flush();
                    self.ring.pop_front();
                }
            }
            None => {
                self.ring.push_back(line);
                if self.ring.len() > self.context {
                    self.ring.pop_front();
                }
            }
        }
    }

    fn change(&mut self, tag: char, line: String) {
        let ring = std::mem::take(&mut self.ring);
        let h = self.hunk.get_or_insert_with(|| Hunk {
            old_start: self.old_no - ring.len(),
            new_start: self.new_no - ring.len(),
            old_len: 0,
            new_len: 0,
            lines: Vec::new(),
            section: self.section.clone(),
        });
        for l in ring {
            h.lines.push((' ', l));
            h.old_len += 1;
            h.new_len += 1;
        }
        h.lines.push((tag, line));
        if tag == '-' {
            h.old_len += 1;
            self.old_no += 1;
        } else {
            h.new_len += 1;
            self.new_no += 1;
        }
        self.tail = 0;
    }

    fn flush(&mut self) {
        let Some(h) = self.hunk.take() else {
            return;
        };
        self.any = true;
        // GNU style: a range's start is 1-based, or the line before it when empty.
        let range = |start: usize, len: usize| {
            if len == 0 {
                format!("{start},0")
            } else {
                format!("{},{len}", start + 1)
            }
        };
        let header = format!(
            "@@ -{} +{} @@",
            range(h.old_start, h.old_len),
            range(h.new_start, h.new_len)
        );
        let header = palette::paint(self.color, palette::NOTE, &header);
        let _ = writeln!(self.out, "{header} {}", h.section);
        for (tag, line) in h.lines {
            let text = format!("{tag}{line}");
            let text = match tag {
                '-' => palette::paint(self.color, palette::REMOVED, &text),
                '+' => palette::paint(self.color, palette::ADDED, &text),
                _ => text,
            };
            self.out.push_str(&text);
            self.out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(n: usize) -> EffectiveOrg {
        let mut org = EffectiveOrg::default();
        for i in 0..n {
            let id = format!("E{i:06}");
            let u = EffUser::new(
                &id,
                "Test",
                &format!("Person{i}"),
                &format!("p{i}@example.com"),
            );
            org.users.insert(id, u);
        }
        org
    }

    /// Applies a unified diff to `old` the way `patch` would (context
    /// checked), to prove the line numbers are right.
    fn apply(old: &str, diff: &str) -> String {
        let old: Vec<&str> = old.lines().collect();
        let mut out: Vec<String> = Vec::new();
        let mut at = 0;
        for line in diff.lines().skip(2) {
            if let Some(rest) = line.strip_prefix("@@ -") {
                let old_range = rest.split(' ').next().unwrap();
                let (start, len) = old_range.split_once(',').unwrap();
                let (start, len): (usize, usize) = (start.parse().unwrap(), len.parse().unwrap());
                let first = if len == 0 { start } else { start - 1 };
                while at < first {
                    out.push(old[at].to_owned());
                    at += 1;
                }
            } else if let Some(l) = line.strip_prefix(' ') {
                assert_eq!(old[at], l, "context line {at}");
                out.push(l.to_owned());
                at += 1;
            } else if let Some(l) = line.strip_prefix('-') {
                assert_eq!(old[at], l, "removed line {at}");
                at += 1;
            } else if let Some(l) = line.strip_prefix('+') {
                out.push(l.to_owned());
            }
        }
        out.extend(old[at..].iter().map(|s| (*s).to_owned()));
        out.join("\n")
    }

    fn document(org: &EffectiveOrg) -> String {
        let mut lines = Vec::new();
        for g in org.groups.values() {
            lines.extend(group_block(
                g,
                org.protected.groups.contains(&g.external_id),
            ));
        }
        for u in org.users.values() {
            lines.extend(user_block(u, org.protected.users.contains(&u.external_id)));
        }
        lines.join("\n")
    }

    /// Three users, and the same with the first one's email changed.
    fn one_email_changed() -> (EffectiveOrg, EffectiveOrg) {
        let before = users(3);
        let mut after = before.clone();
        after.users.get_mut("E000001").unwrap().email = "new@example.com".into();
        (before, after)
    }

    #[test]
    fn one_changed_field_is_one_changed_line() {
        let (before, after) = one_email_changed();
        let d = unified(&before, &after, ("a", "b"), &DiffOptions::default());
        let changed: Vec<&str> = d
            .lines()
            .skip(2)
            .filter(|l| l.starts_with(['-', '+']))
            .collect();
        assert_eq!(
            changed,
            [
                "-  email: \"p1@example.com\"",
                "+  email: \"new@example.com\""
            ]
        );
        assert_eq!(apply(&document(&before), &d), document(&after));
    }

    #[test]
    fn colour_uses_the_palette_only_when_asked() {
        let (before, after) = one_email_changed();
        let options = DiffOptions {
            color: true,
            ..DiffOptions::default()
        };
        let colored = unified(&before, &after, ("a", "b"), &options);
        let lines: Vec<&str> = colored.lines().collect();
        assert_eq!(lines[0], "\x1b[1m--- a\x1b[0m", "{colored}");
        assert_eq!(lines[1], "\x1b[1m+++ b\x1b[0m", "{colored}");
        assert!(lines[2].starts_with("\x1b[36m@@ -"), "{colored}");
        assert!(
            lines.contains(&"\x1b[31m-  email: \"p1@example.com\"\x1b[0m")
                && lines.contains(&"\x1b[32m+  email: \"new@example.com\"\x1b[0m"),
            "{colored}"
        );
        let plain = unified(&before, &after, ("a", "b"), &DiffOptions::default());
        assert!(!plain.contains('\x1b'), "{plain}");
    }

    #[test]
    fn hunks_close_and_merge_at_twice_the_context_and_patch_back() {
        let before = users(40);
        for (a, b) in [(1, 3), (5, 9), (0, 39), (10, 17), (12, 13)] {
            let mut after = before.clone();
            for i in [a, b] {
                let id = format!("E{i:06}");
                after.users.get_mut(&id).unwrap().last_name = format!("Changed{i}");
            }
            // a deleted user and a created one
            after.users.remove("E000020");
            after.users.insert(
                "E000020x".into(),
                EffUser::new("E000020x", "New", "One", "n@example.com"),
            );
            for context in [0, 1, 3, 8] {
                let options = DiffOptions {
                    context,
                    color: false,
                };
                let d = unified(&before, &after, ("a", "b"), &options);
                assert_eq!(
                    apply(&document(&before), &d),
                    document(&after),
                    "changes {a},{b} context {context}:\n{d}"
                );
            }
        }
    }

    #[test]
    fn no_changes_is_empty_and_the_empty_side_counts_from_zero() {
        let org = users(2);
        assert_eq!(unified(&org, &org, ("a", "b"), &DiffOptions::default()), "");
        let d = unified(
            &EffectiveOrg::default(),
            &org,
            ("a", "b"),
            &DiffOptions::default(),
        );
        assert!(d.contains("@@ -0,0 +1,"), "{d}");
    }

    #[test]
    fn a_hundred_thousand_users_with_one_change_give_one_small_hunk() {
        let before = users(100_000);
        let mut after = before.clone();
        after.users.get_mut("E050000").unwrap().first_name = "Changed".into();
        let d = unified(&before, &after, ("a", "b"), &DiffOptions::default());
        assert_eq!(
            d.matches("\n@@ ").count() + usize::from(d.starts_with("@@")),
            1
        );
        assert!(d.len() < 1_000, "{d}");
        assert!(
            d.contains("@@ -299999,7 +299999,7 @@ user \"E050000\""),
            "{d}"
        );
    }
}
