//! The group hierarchy as a picture: Mermaid (`flowchart`, which GitHub
//! and GitLab draw in comments) and Graphviz DOT (through petgraph's
//! [`Dot`]). Pure: the records in, text out.
//!
//! A [`GroupGraph`] is built one of three ways:
//!
//! - [`GroupGraph::whole`]: every group after the plan (`orgform graph`);
//! - [`GroupGraph::whole_with_changes`]: the same, with the plan's changes
//!   marked and the deleted groups drawn too (`orgform graph --changes`);
//! - [`GroupGraph::changes`] / [`GroupGraph::of_review`]: only the part of
//!   the tree a plan changes (created, deleted, renamed and moved groups)
//!   with their ancestors up to the root (the PR comment's diagram).
//!
//! What is drawn:
//!
//! - a created group `+ name` (green), a deleted one `- name` (red), a
//!   renamed or moved one `~ name` (yellow; a second line `was: old name`,
//!   or `was a root`), an unchanged ancestor plain (grey);
//! - a parent that orgform does not manage (an `externalGroups` entry, or a
//!   group a saved plan alone does not describe) as its externalId in a
//!   dashed box;
//! - an arrow from each parent to its child (a deleted group's parent is
//!   the one it had); a moved group also gets a dashed arrow from its old
//!   parent, labelled `old parent`.
//!
//! Safety: node ids are generated (`g0`, `g1`, … in externalId order in
//! Mermaid, petgraph's indices in DOT), never user data. A label is the
//! group's name, control and bidirectional characters shown as `\u{…}`,
//! cut to [`LABEL_CHARS`] characters (`…` marks the cut), then escaped for
//! the format: in Mermaid every character but letters, digits, spaces and
//! `.,-_/()+~'` becomes an entity code (`#quot;`-style, `#35;` for `#`;
//! the ligature `ﬂ`, part of Mermaid's own entity placeholder, is `fl`),
//! so a name cannot close the label, the code fence or the comment, nor
//! inject HTML; in DOT, `"` and `\` are backslash-escaped inside a quoted
//! label.
//!
//! A hierarchy cycle (a blocked plan may have one) is drawn as it is: each
//! node once, each parent arrow once; walking up to the root stops at a
//! group already seen.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use orgform_model::{EffGroup, Kind};
use petgraph::dot::{Config, Dot};
use petgraph::graph::DiGraph;
use serde_json::Value;

use crate::doc::{Action, PlanDoc, Record};
use crate::escape::clean;
use crate::review::Review;

/// The most nodes the PR comment's diagram draws; beyond, a note says how
/// many there are and how to draw them.
pub const MAX_NODES: usize = 60;

/// Labels are cut to this many characters (before escaping).
pub const LABEL_CHARS: usize = 40;

/// What the plan does to a group in the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Not changed (an ancestor, or any group of the whole hierarchy).
    Unchanged,
    /// Created by the plan.
    Created,
    /// Deleted by the plan.
    Deleted,
    /// Renamed or moved by the plan.
    Changed,
    /// A parent orgform does not manage or does not know: its externalId only.
    Outside,
}

/// One group in the picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The group's externalId.
    pub external_id: String,
    /// Its name (after the plan; before it for a deleted group); `None` for
    /// an [`Mark::Outside`] node.
    pub name: Option<String>,
    /// What the plan does to it.
    pub mark: Mark,
    /// The name before a rename.
    pub old_name: Option<String>,
    /// Moved from being a root to under a parent (no old-parent arrow).
    pub was_root: bool,
}

/// Which arrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeKind {
    /// The parent (after the plan; before it for a deleted group).
    Parent,
    /// The parent a moved group leaves (dashed).
    OldParent,
}

impl std::fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EdgeKind::Parent => "parent",
            EdgeKind::OldParent => "old parent",
        })
    }
}

/// An arrow from a parent to a child, as indices into [`GroupGraph::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// The parent's node.
    pub parent: usize,
    /// The child's node.
    pub child: usize,
    /// Solid or dashed.
    pub kind: EdgeKind,
}

/// A part of the group hierarchy to draw; see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupGraph {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

type Groups = BTreeMap<String, EffGroup>;

/// The before and after group records, answering "what is this group's
/// parent" the way the picture draws it.
struct Sides<'a> {
    before: &'a Groups,
    after: &'a Groups,
}

impl Sides<'_> {
    /// The parent drawn for `id`: after the plan, or before it for a
    /// deleted group.
    fn parent(&self, id: &str) -> Option<&str> {
        self.after
            .get(id)
            .or_else(|| self.before.get(id))
            .and_then(|g| g.parent.as_deref())
    }

    fn mark(&self, id: &str) -> Mark {
        match (self.before.get(id), self.after.get(id)) {
            (None, Some(_)) => Mark::Created,
            (Some(_), None) => Mark::Deleted,
            (Some(b), Some(a)) if b.name != a.name || b.parent != a.parent => Mark::Changed,
            (Some(_), Some(_)) => Mark::Unchanged,
            (None, None) => Mark::Outside,
        }
    }

    /// The groups the plan creates, deletes, renames or moves.
    fn changed(&self) -> BTreeSet<&str> {
        self.before
            .keys()
            .chain(self.after.keys())
            .map(String::as_str)
            .filter(|id| self.mark(id) != Mark::Unchanged)
            .collect()
    }

    /// `ids`, every group's old parent when it moved, and all their
    /// ancestors (stopping at a group already taken: cycles end).
    fn with_ancestors<'s>(&'s self, ids: &BTreeSet<&'s str>) -> BTreeSet<&'s str> {
        let mut out = BTreeSet::new();
        let mut starts: Vec<&str> = ids.iter().copied().collect();
        for id in ids {
            if let (Some(b), Some(a)) = (self.before.get(*id), self.after.get(*id))
                && b.parent != a.parent
                && let Some(old) = b.parent.as_deref()
            {
                starts.push(old);
            }
        }
        for start in starts {
            let mut at = Some(start);
            while let Some(id) = at {
                if !out.insert(id) {
                    break;
                }
                at = self.parent(id);
            }
        }
        out
    }

    fn graph(&self, ids: &BTreeSet<&str>, marked: bool) -> GroupGraph {
        let mut ids = ids.clone();
        // Parents outside the set (external or unknown groups) are drawn too.
        let parents: Vec<&str> = ids.iter().filter_map(|id| self.parent(id)).collect();
        ids.extend(parents);
        let index: BTreeMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let nodes = ids
            .iter()
            .map(|id| {
                let (before, after) = (self.before.get(*id), self.after.get(*id));
                let mark = match self.mark(id) {
                    Mark::Outside => Mark::Outside,
                    _ if !marked => Mark::Unchanged,
                    m => m,
                };
                let renamed = matches!((before, after), (Some(b), Some(a)) if b.name != a.name);
                Node {
                    external_id: (*id).to_owned(),
                    name: after.or(before).map(|g| g.name.clone()),
                    mark,
                    old_name: (marked && renamed).then(|| before.map(|b| b.name.clone())).flatten(),
                    was_root: marked
                        && matches!((before, after), (Some(b), Some(a)) if b.parent.is_none() && a.parent.is_some()),
                }
            })
            .collect();
        let mut edges = Vec::new();
        for (id, &child) in &index {
            if let Some(p) = self.parent(id).and_then(|p| index.get(p)) {
                edges.push(Edge {
                    parent: *p,
                    child,
                    kind: EdgeKind::Parent,
                });
            }
            if !marked {
                continue;
            }
            if let (Some(b), Some(a)) = (self.before.get(*id), self.after.get(*id))
                && b.parent != a.parent
                && let Some(old) = b.parent.as_deref().and_then(|p| index.get(p))
            {
                edges.push(Edge {
                    parent: *old,
                    child,
                    kind: EdgeKind::OldParent,
                });
            }
        }
        edges.sort();
        GroupGraph { nodes, edges }
    }
}

impl GroupGraph {
    /// Every group of `after` (the hierarchy after the plan), unmarked.
    pub fn whole(after: &BTreeMap<String, EffGroup>) -> GroupGraph {
        let sides = Sides {
            before: after,
            after,
        };
        let ids = after.keys().map(String::as_str).collect();
        sides.graph(&ids, false)
    }

    /// Every group after the plan and every group it deletes, with the
    /// plan's changes marked.
    pub fn whole_with_changes(
        before: &BTreeMap<String, EffGroup>,
        after: &BTreeMap<String, EffGroup>,
    ) -> GroupGraph {
        let sides = Sides { before, after };
        let ids = before
            .keys()
            .chain(after.keys())
            .map(String::as_str)
            .collect();
        sides.graph(&ids, true)
    }

    /// Only the groups the plan creates, deletes, renames or moves, their
    /// old parents, and all their ancestors; empty when the plan changes
    /// no group's name or place.
    pub fn changes(
        before: &BTreeMap<String, EffGroup>,
        after: &BTreeMap<String, EffGroup>,
    ) -> GroupGraph {
        let sides = Sides { before, after };
        let ids = sides.with_ancestors(&sides.changed());
        sides.graph(&ids, true)
    }

    /// [`GroupGraph::changes`] of a reviewed plan: from its states when
    /// known; from a saved plan's document alone otherwise, where the
    /// groups the plan does not change are not known (a changed group's
    /// unchanged parent is then missing).
    pub fn of_review(review: &Review<'_>) -> GroupGraph {
        match (review.before(), review.after()) {
            (Some(before), Some(after)) => GroupGraph::changes(&before.groups, &after.groups),
            _ => {
                let (before, after) = sides_of_doc(review.doc());
                GroupGraph::changes(&before, &after)
            }
        }
    }

    /// The nodes, in externalId order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The arrows, sorted.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// Whether there is nothing to draw.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The Mermaid `flowchart` (top-down), without a code fence.
    pub fn mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        if self.nodes.is_empty() {
            out.push_str("    %% no groups\n");
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let lines: Vec<String> = label_lines(n).iter().map(|l| mermaid_text(l)).collect();
            let _ = writeln!(
                out,
                "    g{i}[\"{}\"]:::{}",
                lines.join("<br/>"),
                class(n.mark)
            );
        }
        for e in &self.edges {
            let arrow = match e.kind {
                EdgeKind::Parent => "-->",
                EdgeKind::OldParent => "-. old parent .->",
            };
            let _ = writeln!(out, "    g{} {arrow} g{}", e.parent, e.child);
        }
        let used: BTreeSet<&str> = self.nodes.iter().map(|n| class(n.mark)).collect();
        for (name, style) in CLASSES {
            if used.contains(name) {
                let _ = writeln!(out, "    classDef {name} {style}");
            }
        }
        out
    }

    /// Graphviz DOT (through petgraph's [`Dot`]): boxes coloured as in
    /// Mermaid, old parents dashed.
    pub fn dot(&self) -> String {
        let mut g = DiGraph::<usize, EdgeKind>::new();
        let ix: Vec<_> = (0..self.nodes.len()).map(|i| g.add_node(i)).collect();
        for e in &self.edges {
            g.add_edge(ix[e.parent], ix[e.child], e.kind);
        }
        let node_attrs = |_, (_, i): (_, &usize)| {
            let n = &self.nodes[*i];
            let lines: Vec<String> = label_lines(n).iter().map(|l| dot_text(l)).collect();
            let (fill, stroke, style) = dot_style(n.mark);
            format!(
                "label = \"{}\" shape = box style = \"{style}\" fillcolor = \"{fill}\" color = \"{stroke}\" ",
                lines.join("\\n")
            )
        };
        let edge_attrs = |_, e: petgraph::graph::EdgeReference<'_, EdgeKind>| match e.weight() {
            EdgeKind::Parent => String::new(),
            EdgeKind::OldParent => "style = dashed label = \"old parent\" ".to_owned(),
        };
        let dot = Dot::with_attr_getters(
            &g,
            &[Config::NodeNoLabel, Config::EdgeNoLabel],
            &edge_attrs,
            &node_attrs,
        );
        format!("{dot}")
    }
}

/// Mermaid class definitions, in a fixed order; explicit text colours keep
/// them readable in GitHub's light and dark themes.
const CLASSES: [(&str, &str); 5] = [
    ("created", "fill:#dafbe1,stroke:#1a7f37,color:#0b3d1e"),
    ("deleted", "fill:#ffebe9,stroke:#cf222e,color:#5c0a0f"),
    ("changed", "fill:#fff8c5,stroke:#9a6700,color:#3b2300"),
    ("context", "fill:#f6f8fa,stroke:#8c959f,color:#24292f"),
    (
        "outside",
        "fill:#ffffff,stroke:#8c959f,stroke-dasharray:4 3,color:#57606a",
    ),
];

fn class(mark: Mark) -> &'static str {
    match mark {
        Mark::Created => "created",
        Mark::Deleted => "deleted",
        Mark::Changed => "changed",
        Mark::Unchanged => "context",
        Mark::Outside => "outside",
    }
}

/// Fill, border and style of a DOT box.
fn dot_style(mark: Mark) -> (&'static str, &'static str, &'static str) {
    match mark {
        Mark::Created => ("#dafbe1", "#1a7f37", "rounded,filled"),
        Mark::Deleted => ("#ffebe9", "#cf222e", "rounded,filled"),
        Mark::Changed => ("#fff8c5", "#9a6700", "rounded,filled"),
        Mark::Unchanged => ("#f6f8fa", "#8c959f", "rounded,filled"),
        Mark::Outside => ("#ffffff", "#8c959f", "rounded,dashed"),
    }
}

/// A node's label lines, unescaped but cut and cleaned.
fn label_lines(n: &Node) -> Vec<String> {
    let Some(name) = &n.name else {
        return vec![cut(&n.external_id)];
    };
    let symbol = match n.mark {
        Mark::Created => "+ ",
        Mark::Deleted => "- ",
        Mark::Changed => "~ ",
        Mark::Unchanged | Mark::Outside => "",
    };
    let mut lines = vec![format!("{symbol}{}", cut(name))];
    if let Some(old) = &n.old_name {
        lines.push(format!("was: {}", cut(old)));
    }
    if n.was_root {
        lines.push("was a root".to_owned());
    }
    lines
}

/// Dangerous characters shown as `\u{…}`, then at most [`LABEL_CHARS`]
/// characters (the last one `…` when cut).
fn cut(s: &str) -> String {
    let s = clean(&s.replace(['\n', '\r', '\t'], " "));
    if s.chars().count() <= LABEL_CHARS {
        return s;
    }
    let mut out: String = s.chars().take(LABEL_CHARS - 1).collect();
    out.push('…');
    out
}

/// Text inside a Mermaid `["…"]` label: see the module docs. Mermaid turns
/// `#name;` and `#123;` into HTML entities through a placeholder (`ﬂ°` …
/// `¶ß`) that it decodes again after unescaping, so the ligature `ﬂ` is
/// written as its letters `fl`: no name can spell the placeholder, even
/// through an entity code.
pub(crate) fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == 'ﬂ' {
            out.push_str("fl");
            continue;
        }
        let plain = c.is_ascii_alphanumeric()
            || matches!(
                c,
                ' ' | '.' | ',' | '-' | '_' | '/' | '(' | ')' | '+' | '~' | '\''
            )
            || !c.is_ascii();
        if plain {
            out.push(c);
        } else if c == '"' {
            out.push_str("#quot;");
        } else {
            let _ = write!(out, "#{};", c as u32);
        }
    }
    out
}

/// Text inside a DOT `"…"` label.
fn dot_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A saved plan's group changes as partial before and after records: the
/// created and deleted groups whole, an updated group from its label and
/// changed fields (a parent the plan does not change is unknown: left out).
fn sides_of_doc(doc: &PlanDoc) -> (Groups, Groups) {
    let (mut before, mut after) = (Groups::new(), Groups::new());
    for c in doc.changes.iter().filter(|c| c.kind == Kind::Group) {
        match (c.action, &c.after, &c.before) {
            (Action::Create, Some(Record::Group(g)), _) => {
                after.insert(g.external_id.clone(), g.clone());
            }
            (Action::Delete, _, Some(Record::Group(g))) => {
                before.insert(g.external_id.clone(), g.clone());
            }
            (Action::Update, _, _) => {
                let field = |path: &str| c.fields.iter().find(|f| f.path == path);
                let text =
                    |v: &Option<Value>| v.as_ref().and_then(Value::as_str).map(str::to_owned);
                let mut b = EffGroup::new(&c.external_id, &c.label);
                let mut a = b.clone();
                if let Some(f) = field("name") {
                    b.name = text(&f.before).unwrap_or_default();
                    a.name = text(&f.after).unwrap_or_else(|| c.label.clone());
                }
                if let Some(f) = field("parent") {
                    b.parent = text(&f.before);
                    a.parent = text(&f.after);
                }
                before.insert(c.external_id.clone(), b);
                after.insert(c.external_id.clone(), a);
            }
            _ => {}
        }
    }
    (before, after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(list: &[(&str, &str, Option<&str>)]) -> Groups {
        list.iter()
            .map(|(id, name, parent)| {
                let mut g = EffGroup::new(id, name);
                g.parent = parent.map(str::to_owned);
                ((*id).to_owned(), g)
            })
            .collect()
    }

    #[test]
    fn labels_cannot_break_out_of_mermaid() {
        let hostile = "\"]:::x\n```\n<img src=x> #quot; ﬂ°lt;¶ß end; %%";
        let out = mermaid_text(hostile);
        for bad in ["\"", "]", ":::", "`", "<", ">", "\n", "%%", "ﬂ°"] {
            assert!(!out.contains(bad), "`{bad}` survives in {out}");
        }
        assert!(out.starts_with("#quot;#93;"), "{out}");
        assert_eq!(mermaid_text("Zoë's Team (Oslo)"), "Zoë's Team (Oslo)");
    }

    #[test]
    fn labels_are_cut_to_forty_characters() {
        let long = "x".repeat(100);
        let cut_label = cut(&long);
        assert_eq!(cut_label.chars().count(), LABEL_CHARS);
        assert!(cut_label.ends_with('…'));
        assert_eq!(cut("short"), "short");
        assert_eq!(cut("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn changes_keep_ancestors_and_the_old_parent() {
        let before = groups(&[
            ("G1", "Root", None),
            ("G2", "Sales", Some("G1")),
            ("G3", "Marketing", Some("G1")),
            ("G4", "Unrelated", Some("G1")),
            ("G5", "Tokyo", Some("X1")),
        ]);
        let after = groups(&[
            ("G1", "Root", None),
            ("G2", "Sales", Some("G3")),
            ("G3", "Marketing", Some("G1")),
            ("G4", "Unrelated", Some("G1")),
            ("G6", "Team BDR", Some("G2")),
        ]);
        let g = GroupGraph::changes(&before, &after);
        let ids: Vec<(&str, Mark)> = g
            .nodes()
            .iter()
            .map(|n| (n.external_id.as_str(), n.mark))
            .collect();
        assert_eq!(
            ids,
            [
                ("G1", Mark::Unchanged),
                ("G2", Mark::Changed),
                ("G3", Mark::Unchanged),
                ("G5", Mark::Deleted),
                ("G6", Mark::Created),
                ("X1", Mark::Outside),
            ]
        );
        let old: Vec<&Edge> = g
            .edges()
            .iter()
            .filter(|e| e.kind == EdgeKind::OldParent)
            .collect();
        assert_eq!(old.len(), 1);
        assert_eq!(g.nodes()[old[0].parent].external_id, "G1");
        assert_eq!(g.nodes()[old[0].child].external_id, "G2");
        // G1 -> G3 -> G2 -> G6, G1 -.-> G2, X1 -> G5.
        assert_eq!(g.edges().len(), 5, "{:?}", g.edges());
    }

    #[test]
    fn a_cycle_is_drawn_once() {
        let before = groups(&[("A", "A", None), ("B", "B", Some("A"))]);
        let after = groups(&[("A", "A", Some("B")), ("B", "B", Some("A"))]);
        let g = GroupGraph::changes(&before, &after);
        assert_eq!(g.nodes().len(), 2);
        assert_eq!(
            g.edges()
                .iter()
                .filter(|e| e.kind == EdgeKind::Parent)
                .count(),
            2
        );
    }

    #[test]
    fn no_group_change_draws_nothing() {
        let same = groups(&[("A", "A", None)]);
        assert!(GroupGraph::changes(&same, &same).is_empty());
        assert_eq!(GroupGraph::whole(&same).nodes().len(), 1);
    }
}
