//! Prunes a catalog built from a manifest with errors into a *partial* catalog: what
//! [`super::compile_lenient`] returns for views that render whatever parsed (`iza report`,
//! `iza graph`, `iza ports` without `--strict`).
//!
//! A partial catalog keeps every service, group, agent, flow and channel the manifest
//! defines, and drops the parts that would break a walk over it: references to ids that do
//! not exist, `depends_on` and `parent` links that close a cycle, and `reports_to` links to
//! an agent whose tier is not lower. Values that failed their own check were already left
//! out while building (a malformed health check, task action or schedule). What it does
//! **not** fix: ports may still clash or lie outside the policy, and ids may still be
//! shared by a service and a group. It is for rendering only; nothing may run it (the
//! runtime takes catalogs from [`super::compile`] alone).

use std::collections::HashSet;

use crate::model::{Catalog, FlowStep};

/// Drops unresolved references and the links that close cycles; see the module documentation.
pub(super) fn prune(catalog: &mut Catalog) {
    let services: HashSet<String> = catalog.services.keys().cloned().collect();
    let groups: HashSet<String> = catalog.groups.keys().cloned().collect();
    let agents: HashSet<String> = catalog.agents.keys().cloned().collect();
    for service in catalog.services.values_mut() {
        let own = service.id.clone();
        let known = |id: &String| services.contains(id);
        service.group = service.group.take().filter(|g| groups.contains(g));
        service.parent = service.parent.take().filter(|p| known(p) && *p != own);
        service.depends_on.retain(known);
        service.dependencies.retain(|d| known(&d.service));
        service.connects.retain(|c| known(&c.to));
    }
    let tiers: std::collections::HashMap<String, u8> = catalog
        .agents
        .values()
        .map(|a| (a.id.clone(), a.tier))
        .collect();
    for agent in catalog.agents.values_mut() {
        let tier = agent.tier;
        agent.reports_to = agent
            .reports_to
            .take()
            .filter(|boss| tiers.get(boss).is_some_and(|&t| t < tier));
        agent.services.retain(|s| services.contains(s));
        agent.groups.retain(|g| groups.contains(g));
    }
    for task in &mut catalog.tasks {
        task.agent = task.agent.take().filter(|a| agents.contains(a));
    }
    for flow in catalog.flows.values_mut() {
        flow.steps.retain(|step| match step {
            FlowStep::Service(id) => services.contains(id),
            FlowStep::Group(id) => groups.contains(id),
        });
    }
    for channel in catalog.channels.values_mut() {
        channel.via = channel.via.take().filter(|v| services.contains(v));
        channel.services.retain(|s| services.contains(s));
    }
    break_dependency_cycles(catalog);
    break_parent_cycles(catalog);
}

/// Removes every `depends_on` entry that is a back edge of a depth-first walk in file order
/// (an explicit stack, never recursion): what remains has no cycle, and every entry that
/// does not close one is kept.
fn break_dependency_cycles(catalog: &mut Catalog) {
    let index = |id: &str| catalog.services.get_index_of(id);
    let edges: Vec<Vec<usize>> = catalog
        .services
        .values()
        .map(|s| s.depends_on.iter().filter_map(|d| index(d)).collect())
        .collect();
    // 0: not visited, 1: on the walk's path, 2: done.
    let mut state = vec![0u8; edges.len()];
    let mut back: Vec<(usize, usize)> = Vec::new();
    for root in 0..edges.len() {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        let mut stack = vec![(root, 0usize)];
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            if let Some(&to) = edges[node].get(*next) {
                *next += 1;
                match state[to] {
                    0 => {
                        state[to] = 1;
                        stack.push((to, 0));
                    }
                    1 => back.push((node, to)),
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    for (from, to) in back {
        let to = catalog.services[to].id.clone();
        let service = &mut catalog.services[from];
        service.depends_on.retain(|d| *d != to);
        service.dependencies.retain(|d| d.service != to);
    }
}

/// Each service has at most one parent: walking up from each, a service met twice on one
/// walk closes a cycle, and its `parent` is dropped.
fn break_parent_cycles(catalog: &mut Catalog) {
    let count = catalog.services.len();
    // 0: not visited, 1: on the current walk, 2: its chain is known to end.
    let mut state = vec![0u8; count];
    for start in 0..count {
        let mut path: Vec<usize> = Vec::new();
        let mut at = start;
        loop {
            match state[at] {
                2 => break,
                1 => {
                    // `at` closes the cycle: the last service walked names it as parent.
                    if let Some(&last) = path.last() {
                        catalog.services[last].parent = None;
                    }
                    break;
                }
                _ => {
                    state[at] = 1;
                    path.push(at);
                    match catalog.services[at]
                        .parent
                        .as_deref()
                        .and_then(|p| catalog.services.get_index_of(p))
                    {
                        Some(parent) => at = parent,
                        None => break,
                    }
                }
            }
        }
        for i in path {
            state[i] = 2;
        }
    }
}
