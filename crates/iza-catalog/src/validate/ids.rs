//! Checks that ids are unique where they share a namespace: services and groups (a flow
//! step may name either), and task keys (an agent and the slug of a task's name).

use std::collections::HashMap;

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::spanned::Spanned;
use crate::model::{slug, task_key};

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
    // Task keys (`<agent>/<slug>`) are unique over the whole manifest: tasks under an agent
    // and top-level tasks naming that agent share its namespace.
    let mut seen: HashMap<String, &Spanned<String>> = HashMap::new();
    let all = raw
        .agents
        .iter()
        .flat_map(|(id, a)| {
            a.get()
                .tasks
                .iter()
                .map(move |t| (Some(id.get().as_str()), t))
        })
        .chain(
            raw.tasks
                .iter()
                .map(|t| (t.get().agent.as_ref().map(|a| a.get().as_str()), t)),
        );
    for (agent, task) in all {
        let name = &task.get().name;
        if slug(name.get()).is_empty() {
            continue; // reported when the task is built
        }
        let key = task_key(agent, name.get());
        let Some(first) = seen.get(&key) else {
            seen.insert(key, name);
            continue;
        };
        let whose = match agent {
            Some(agent) => format!("agent `{agent}` has"),
            None => "the manifest has".to_owned(),
        };
        let message = if first.get() == name.get() {
            format!("{whose} two tasks named `{}`", name.get())
        } else {
            format!(
                "{whose} two tasks with the key `{key}`: `{}` and `{}`",
                first.get(),
                name.get()
            )
        };
        ctx.push(
            Diagnostic::error(Code::DuplicateId, message)
                .at(name.span())
                .related(first.span(), "the first task of that name")
                .hint("task keys (the agent and the slug of the name) identify tasks in the queue and the API; make the names differ in letters or digits"),
        );
    }
}
