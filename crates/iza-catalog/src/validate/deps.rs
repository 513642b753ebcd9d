//! Checks that `depends_on` has no cycle, and names each cycle it finds in order.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};

pub(super) fn check(ctx: &mut Ctx<'_>) {
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
            if let Some(&j) = ctx.service_index.get(dep.get().as_str()) {
                graph.add_edge(NodeIndex::new(i), NodeIndex::new(j), d);
            }
        }
    }
    let mut found = Vec::new();
    for scc in tarjan_scc(&graph) {
        let cyclic = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
        if cyclic {
            found.push(cycle_in(&graph, &scc));
        }
    }
    for cycle in found {
        // Point at the `depends_on` entry that closes the cycle from its first member.
        let (first, _) = raw
            .services
            .get_index(cycle[0].index())
            .expect("node from graph");
        let next = cycle.get(1).copied().unwrap_or(cycle[0]);
        let edge = graph.find_edge(cycle[0], next).expect("edge from cycle");
        let entry = &raw.services[cycle[0].index()].get().depends_on[graph[edge]];
        let mut names: Vec<String> = cycle
            .iter()
            .map(|i| {
                format!(
                    "`{}`",
                    raw.services.get_index(i.index()).expect("node").0.get()
                )
            })
            .collect();
        names.push(format!("`{}`", first.get()));
        let mut d = Diagnostic::error(
            Code::DependencyCycle,
            format!("dependency cycle: {}", names.join(" -> ")),
        )
        .at(entry.span());
        for i in cycle.iter().skip(1) {
            let (id, _) = raw.services.get_index(i.index()).expect("node");
            d = d.related(id.span(), format!("`{}` is part of the cycle", id.get()));
        }
        ctx.push(d.hint(
            "a service cannot start before itself; remove one `depends_on` entry of the cycle",
        ));
    }
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
