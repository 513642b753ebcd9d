//! Checks that neither `depends_on` nor `parent` links form a cycle, and names each cycle it
//! finds in order.
//!
//! Every walk here is iterative (petgraph's `kosaraju_scc` runs on explicit stacks; its
//! `tarjan_scc` recurses once per node and overflowed a thread's stack on a 30,000-service
//! cycle), so a chain or cycle of any length is checked in bounded stack. A long cycle is
//! named by its first [`NAMED`] members and a count of the rest, so its diagnostic stays
//! readable.

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};

pub(super) fn check(ctx: &mut Ctx<'_>) {
    depends_on_cycles(ctx);
    parent_cycles(ctx);
}

fn depends_on_cycles(ctx: &mut Ctx<'_>) {
    let raw = ctx.raw;
    let n = raw.services.len();
    let edges = raw
        .services
        .values()
        .map(|s| s.get().depends_on.len())
        .sum();
    let mut graph: DiGraph<(), usize> = DiGraph::with_capacity(n, edges);
    for _ in 0..n {
        graph.add_node(());
    }
    for (i, service) in raw.services.values().enumerate() {
        for (d, dep) in service.get().depends_on.iter().enumerate() {
            if let Some(&j) = ctx.service_index.get(dep.get().id()) {
                graph.add_edge(NodeIndex::new(i), NodeIndex::new(j), d);
            }
        }
    }
    let mut found = Vec::new();
    for scc in kosaraju_scc(&graph) {
        let cyclic = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
        if cyclic {
            found.push(cycle_in(&graph, &scc));
        }
    }
    for cycle in found {
        // Point at the `depends_on` entry that closes the cycle from its first member.
        let next = cycle.get(1).copied().unwrap_or(cycle[0]);
        let edge = graph.find_edge(cycle[0], next).expect("edge from cycle");
        let entry = &raw.services[cycle[0].index()].get().depends_on[graph[edge]];
        let names = cycle_names(
            cycle
                .iter()
                .map(|i| raw.services.get_index(i.index()).expect("node").0.get()),
            cycle.len(),
        );
        let mut d = Diagnostic::error(Code::DependencyCycle, format!("dependency cycle: {names}"))
            .at(entry.id_spanned().1);
        for i in cycle.iter().skip(1).take(NAMED - 1) {
            let (id, _) = raw.services.get_index(i.index()).expect("node");
            d = d.related(id.span(), format!("`{}` is part of the cycle", id.get()));
        }
        ctx.push(d.hint(
            "a service cannot start before itself; remove one `depends_on` entry of the cycle",
        ));
    }
}

/// How many members of a cycle its diagnostic names (and points at); the rest are counted.
const NAMED: usize = 8;

/// `` `a` -> `b` -> `a` ``, or for a cycle longer than [`NAMED`] its first members, then
/// `` -> ... (N more) -> `` and the first again.
fn cycle_names<'a>(mut members: impl Iterator<Item = &'a String>, len: usize) -> String {
    let first = members.next().map(String::as_str).unwrap_or_default();
    let mut names = vec![format!("`{first}`")];
    names.extend(members.take(NAMED - 1).map(|id| format!("`{id}`")));
    if len > NAMED {
        names.push(format!("... ({} more)", len - NAMED));
    }
    names.push(format!("`{first}`"));
    names.join(" -> ")
}

/// A simple cycle through the strongly connected component, starting at its lowest index.
fn cycle_in(graph: &DiGraph<(), usize>, scc: &[NodeIndex]) -> Vec<NodeIndex> {
    let members: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
    let start = *scc.iter().min().expect("non-empty component");
    // Breadth-first search from `start` back to `start` inside the component: shortest cycle.
    let mut previous = std::collections::HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        let mut successors: Vec<NodeIndex> = graph
            .neighbors(node)
            .filter(|n| members.contains(n))
            .collect();
        successors.sort();
        for next in successors {
            if next == start {
                let mut path = vec![node];
                let mut at = node;
                while at != start {
                    at = previous[&at];
                    path.push(at);
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = previous.entry(next) {
                e.insert(node);
                queue.push_back(next);
            }
        }
    }
    vec![start]
}

/// Each service has at most one parent, so a cycle is found by walking up from every
/// service; states mark services whose chain is known to end (1) or is being walked (2).
fn parent_cycles(ctx: &mut Ctx<'_>) {
    let raw = ctx.raw;
    let parent_of = |i: usize| {
        raw.services[i]
            .get()
            .parent
            .as_ref()
            .and_then(|p| ctx.service_index.get(p.get().as_str()).copied())
    };
    let mut state = vec![0u8; raw.services.len()];
    let mut found = Vec::new();
    for start in 0..raw.services.len() {
        let mut path = Vec::new();
        let mut at = Some(start);
        while let Some(i) = at {
            match state[i] {
                1 => break,
                2 => {
                    let from = path.iter().position(|&p| p == i).unwrap_or(0);
                    found.push(path[from..].to_vec());
                    break;
                }
                _ => {
                    state[i] = 2;
                    path.push(i);
                    at = parent_of(i);
                }
            }
        }
        for i in path {
            state[i] = 1;
        }
    }
    // A service that is its own parent is reported by the reference check already.
    for cycle in found.into_iter().filter(|c| c.len() > 1) {
        let id = |i: usize| raw.services.get_index(i).expect("index from the map").0;
        let parent = raw.services[cycle[0]]
            .get()
            .parent
            .as_ref()
            .expect("a member of a parent cycle has a parent");
        let names = cycle_names(cycle.iter().map(|&i| id(i).get()), cycle.len());
        let mut d = Diagnostic::error(Code::DependencyCycle, format!("parent cycle: {names}"))
            .at(parent.span());
        for &i in cycle.iter().skip(1).take(NAMED - 1) {
            d = d.related(
                id(i).span(),
                format!("`{}` is part of the cycle", id(i).get()),
            );
        }
        ctx.push(d.hint("a hub owns its children; remove one `parent` of the cycle"));
    }
}
