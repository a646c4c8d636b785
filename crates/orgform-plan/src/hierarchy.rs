//! The group hierarchy as a petgraph graph: cycles, and the apply order
//! (parents before children for creates and updates, children before
//! parents for deletes; ties by externalId).

use std::collections::{BTreeMap, BTreeSet};

use orgform_model::EffGroup;
use petgraph::Direction;
use petgraph::graphmap::DiGraphMap;

/// The parent forest of a set of groups: an edge `parent -> child` for
/// every group whose parent is one of the set. Nodes are added in
/// externalId order, so every iteration over the graph is deterministic.
#[derive(Debug)]
pub(crate) struct Hierarchy<'a> {
    graph: DiGraphMap<&'a str, ()>,
}

impl<'a> Hierarchy<'a> {
    /// The hierarchy of `groups` (parents outside the set are ignored: they
    /// are external groups, or orphans the caller reports).
    pub fn new(groups: &'a BTreeMap<String, EffGroup>) -> Self {
        let mut graph = DiGraphMap::with_capacity(groups.len(), groups.len());
        for id in groups.keys() {
            graph.add_node(id.as_str());
        }
        for (id, g) in groups {
            if let Some((parent, _)) = g.parent.as_deref().and_then(|p| groups.get_key_value(p)) {
                graph.add_edge(parent.as_str(), id.as_str(), ());
            }
        }
        Hierarchy { graph }
    }

    /// Every cycle, each starting at its smallest externalId and following
    /// parents (`A -> B` means B is A's parent), sorted.
    pub fn cycles(&self) -> Vec<Vec<&'a str>> {
        let mut out: Vec<Vec<&'a str>> = Vec::new();
        for scc in petgraph::algo::tarjan_scc(&self.graph) {
            let self_loop = scc.len() == 1 && self.graph.contains_edge(scc[0], scc[0]);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            let Some(&start) = scc.iter().min() else {
                continue;
            };
            // Each group has at most one parent, so an SCC is one simple
            // cycle: walk up from the smallest member until back at it.
            let mut cycle = vec![start];
            let mut at = start;
            while let Some(parent) = self.parent(at) {
                if parent == start || cycle.len() > scc.len() {
                    break;
                }
                cycle.push(parent);
                at = parent;
            }
            out.push(cycle);
        }
        out.sort();
        out
    }

    fn parent(&self, id: &'a str) -> Option<&'a str> {
        self.graph
            .neighbors_directed(id, Direction::Incoming)
            .next()
    }

    /// The groups of `subset`, parents before children (`reverse`: children
    /// before parents); among the groups of `subset` that are ready (every
    /// ancestor, or with `reverse` every descendant, that is in `subset` is
    /// already out), the smallest externalId goes first. Groups outside
    /// `subset` impose no wait: an unchanged parent is not a step of the
    /// plan. Groups on or below a cycle (a blocked plan) come last, by
    /// externalId, so the order is total even then.
    pub fn order(&self, subset: &BTreeSet<&'a str>, reverse: bool) -> Vec<&'a str> {
        let nearest = self.nearest_ancestors_in(subset);
        // Kahn's algorithm over the forest `subset` induces: each member
        // waits for its nearest member ancestor (forward) or for its member
        // children (reverse).
        let mut children: BTreeMap<&'a str, Vec<&'a str>> = BTreeMap::new();
        let mut waiting: BTreeMap<&'a str, usize> = BTreeMap::new();
        let mut on_cycle: Vec<&'a str> = Vec::new();
        for &id in subset {
            match nearest.get(id) {
                Some(Some(Some(up))) => {
                    children.entry(up).or_default().push(id);
                    if reverse {
                        *waiting.entry(up).or_default() += 1;
                    } else {
                        waiting.insert(id, 1);
                    }
                }
                Some(Some(None)) | None => {}
                Some(None) => on_cycle.push(id),
            }
        }
        let mut ready: BTreeSet<&'a str> = subset
            .iter()
            .copied()
            .filter(|id| !waiting.contains_key(id) && !on_cycle.contains(id))
            .collect();
        let mut out = Vec::with_capacity(subset.len());
        while let Some(id) = ready.pop_first() {
            out.push(id);
            let next: Vec<&'a str> = if reverse {
                match nearest.get(id) {
                    Some(Some(Some(up))) => vec![*up],
                    _ => Vec::new(),
                }
            } else {
                children.get(id).cloned().unwrap_or_default()
            };
            for n in next {
                if let Some(count) = waiting.get_mut(n) {
                    *count -= 1;
                    if *count == 0 {
                        waiting.remove(n);
                        ready.insert(n);
                    }
                }
            }
        }
        on_cycle.sort_unstable();
        out.extend(on_cycle);
        out
    }

    /// For every group: `None` when its chain of parents never ends (it is
    /// on or below a cycle), else `Some` of its nearest proper ancestor in
    /// `subset` (`Some(None)`: there is none). Linear: each group's chain is
    /// walked once, memoized.
    fn nearest_ancestors_in(
        &self,
        subset: &BTreeSet<&'a str>,
    ) -> BTreeMap<&'a str, Option<Option<&'a str>>> {
        let mut memo: BTreeMap<&'a str, Option<Option<&'a str>>> = BTreeMap::new();
        let mut path: Vec<&'a str> = Vec::new();
        let mut on_path: BTreeSet<&'a str> = BTreeSet::new();
        for start in self.graph.nodes() {
            if memo.contains_key(start) {
                continue;
            }
            path.clear();
            on_path.clear();
            // Walk up until a root, a known group, or a group seen on this walk.
            let mut at = start;
            let top = loop {
                path.push(at);
                on_path.insert(at);
                match self.parent(at) {
                    None => break Some(None),
                    Some(p) if on_path.contains(p) => break None,
                    Some(p) => match memo.get(p) {
                        Some(None) => break None,
                        Some(Some(above)) => {
                            break Some(if subset.contains(p) { Some(p) } else { *above });
                        }
                        None => at = p,
                    },
                }
            };
            // `top` is the answer for the last group of the path; each one
            // below it gets its parent (when a member) or its parent's answer.
            let mut answer = top;
            while let Some(id) = path.pop() {
                memo.insert(id, answer);
                answer = answer.map(|above| if subset.contains(id) { Some(id) } else { above });
            }
        }
        memo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, EffGroup> {
        pairs
            .iter()
            .map(|(id, parent)| {
                let mut g = EffGroup::new(id, id);
                g.parent = parent.map(str::to_owned);
                ((*id).to_owned(), g)
            })
            .collect()
    }

    #[test]
    fn order_puts_parents_first_and_breaks_ties_by_external_id() {
        let gs = groups(&[
            ("a", Some("z")),
            ("b", None),
            ("c", Some("a")),
            ("z", None),
            ("y", Some("external")),
        ]);
        let h = Hierarchy::new(&gs);
        let all: BTreeSet<&str> = gs.keys().map(String::as_str).collect();
        assert_eq!(h.order(&all, false), ["b", "y", "z", "a", "c"]);
        assert_eq!(h.order(&all, true), ["b", "c", "a", "y", "z"]);
        let some: BTreeSet<&str> = ["c", "z"].into_iter().collect();
        assert_eq!(h.order(&some, false), ["z", "c"]);
    }

    #[test]
    fn groups_outside_the_subset_impose_no_wait() {
        // Found by the property tests (issue 12): `m` is unchanged, so its
        // child `b` is ready at once and goes before `c`; `a` is deleted
        // while its child `z` stays, so `a` is ready at once too.
        let gs = groups(&[
            ("a", None),
            ("b", Some("m")),
            ("c", None),
            ("m", None),
            ("z", Some("a")),
        ]);
        let h = Hierarchy::new(&gs);
        let changed: BTreeSet<&str> = ["b", "c"].into_iter().collect();
        assert_eq!(h.order(&changed, false), ["b", "c"]);
        let deleted: BTreeSet<&str> = ["a", "c"].into_iter().collect();
        assert_eq!(h.order(&deleted, true), ["a", "c"]);
        // A member still waits for a member ancestor through a non-member.
        let chain = groups(&[("a", Some("b")), ("b", Some("c")), ("c", None)]);
        let h = Hierarchy::new(&chain);
        let ends: BTreeSet<&str> = ["a", "c"].into_iter().collect();
        assert_eq!(h.order(&ends, false), ["c", "a"]);
        assert_eq!(h.order(&ends, true), ["a", "c"]);
    }

    #[test]
    fn cycles_start_at_their_smallest_member() {
        let gs = groups(&[
            ("b", Some("c")),
            ("c", Some("a")),
            ("a", Some("b")),
            ("d", Some("d")),
            ("e", Some("a")),
        ]);
        let h = Hierarchy::new(&gs);
        // a's parent is b, b's is c, c's is a.
        assert_eq!(h.cycles(), vec![vec!["a", "b", "c"], vec!["d"]]);
        let all: BTreeSet<&str> = gs.keys().map(String::as_str).collect();
        assert_eq!(h.order(&all, false), ["a", "b", "c", "d", "e"]);
    }
}
