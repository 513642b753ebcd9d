//! Checks that ids are unique where they share a namespace: services and groups (a flow
//! step may name either), and task names within one agent.

use std::collections::HashMap;

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let raw = ctx.raw;
    let groups: HashMap<&str, _> = raw
        .groups
        .keys()
        .map(|k| (k.get().as_str(), k.span()))
        .collect();
    for id in raw.services.keys() {
        if let Some(group_span) = groups.get(id.get().as_str()) {
            ctx.push(
                Diagnostic::error(
                    Code::DuplicateId,
                    format!("`{}` is both a service and a group", id.get()),
                )
                .at(id.span())
                .related(group_span.clone(), "the group is defined here")
                .hint("flow steps name services and groups alike; rename one of them"),
            );
        }
    }
    for (agent_id, agent) in &raw.agents {
        let mut seen: HashMap<&str, std::ops::Range<usize>> = HashMap::new();
        for task in &agent.get().tasks {
            let name = task.get().name.get().as_str();
            if let Some(first) = seen.get(name) {
                ctx.push(
                    Diagnostic::error(
                        Code::DuplicateId,
                        format!("agent `{}` has two tasks named `{name}`", agent_id.get()),
                    )
                    .at(task.get().name.span())
                    .related(first.clone(), "the first task of that name")
                    .hint("task names identify tasks in the queue and the API; make them unique per agent"),
                );
            } else {
                seen.insert(name, task.get().name.span());
            }
        }
    }
}
