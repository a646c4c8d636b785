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
    /// before parents); among the groups ready at each step, the smallest
    /// externalId goes first. Groups on a cycle (a blocked plan) come last,
    /// by externalId, so the order is total even then.
    pub fn order(&self, subset: &BTreeSet<&'a str>, reverse: bool) -> Vec<&'a str> {
        let (before, after) = if reverse {
            (Direction::Outgoing, Direction::Incoming)
        } else {
            (Direction::Incoming, Direction::Outgoing)
        };
        // Kahn's algorithm over the whole graph (a changed group's parent
        // may itself be unchanged), emitting only the subset.
        let mut waiting: BTreeMap<&'a str, usize> = BTreeMap::new();
        let mut ready: BTreeSet<&'a str> = BTreeSet::new();
        for id in self.graph.nodes() {
            let n = self.graph.neighbors_directed(id, before).count();
            if n == 0 {
                ready.insert(id);
            } else {
                waiting.insert(id, n);
            }
        }
        let mut out = Vec::with_capacity(subset.len());
        while let Some(id) = ready.pop_first() {
            if subset.contains(id) {
                out.push(id);
            }
            for next in self.graph.neighbors_directed(id, after) {
                if let Some(n) = waiting.get_mut(next) {
                    *n -= 1;
                    if *n == 0 {
                        waiting.remove(next);
                        ready.insert(next);
                    }
                }
            }
        }
        // Whatever is still waiting is on (or below) a cycle.
        out.extend(waiting.keys().filter(|id| subset.contains(*id)));
        out
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
