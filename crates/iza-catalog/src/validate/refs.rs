//! Checks that every reference resolves: groups, parents, dependencies and connections of
//! services; agents' services, groups and `reports_to`; tasks' agents and the services and
//! groups of their `on`; flow steps; channels.

use std::ops::Range;

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::manifest::spanned::Spanned;

#[derive(Clone, Copy)]
enum Kind {
    Service,
    Group,
    Agent,
    ServiceOrGroup,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::Group => "group",
            Kind::Agent => "agent",
            Kind::ServiceOrGroup => "service or group",
        }
    }

    fn article(self) -> &'static str {
        match self {
            Kind::Agent => "an",
            _ => "a",
        }
    }
}

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let raw = ctx.raw;
    for (id, service) in &raw.services {
        let s = service.get();
        let what = |key: &str| format!("`{key}` of service `{}`", id.get());
        if let Some(group) = &s.group {
            expect(ctx, Kind::Group, group, || what("group"));
        }
        if let Some(parent) = &s.parent {
            expect(ctx, Kind::Service, parent, || what("parent"));
            if parent.get() == id.get() {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("service `{}` is its own parent", id.get()),
                    )
                    .at(parent.span()),
                );
            }
        }
        for dep in &s.depends_on {
            let (dep, span) = dep.id_spanned();
            expect_at(ctx, Kind::Service, dep, span, || what("depends_on"));
        }
        for conn in &s.connects {
            expect(ctx, Kind::Service, &conn.get().to, || what("connects"));
        }
    }
    for (id, agent) in &raw.agents {
        let a = agent.get();
        let what = |key: &str| format!("`{key}` of agent `{}`", id.get());
        if let Some(boss) = &a.reports_to {
            expect(ctx, Kind::Agent, boss, || what("reports_to"));
        }
        for s in &a.services {
            expect(ctx, Kind::Service, s, || what("services"));
        }
        for g in &a.groups {
            expect(ctx, Kind::Group, g, || what("groups"));
        }
        for task in &a.tasks {
            trigger_refs(ctx, task.get());
            if let Some(agent_key) = &task.get().agent {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        "`agent` is only for top-level `[[tasks]]`; this task already belongs to the agent it is under",
                    )
                    .at(agent_key.span())
                    .hint("remove the `agent` key"),
                );
            }
        }
    }
    for task in &raw.tasks {
        trigger_refs(ctx, task.get());
        if let Some(agent) = &task.get().agent {
            expect(ctx, Kind::Agent, agent, || {
                format!("`agent` of task `{}`", task.get().name.get())
            });
        }
    }
    for (id, flow) in &raw.flows {
        for step in &flow.get().steps {
            expect(ctx, Kind::ServiceOrGroup, step, || {
                format!("a step of flow `{}`", id.get())
            });
        }
    }
    for (id, channel) in &raw.channels {
        let c = channel.get();
        if let Some(via) = &c.via {
            expect(ctx, Kind::Service, via, || {
                format!("`via` of channel `{}`", id.get())
            });
        }
        for s in &c.services {
            expect(ctx, Kind::Service, s, || {
                format!("`services` of channel `{}`", id.get())
            });
        }
    }
}

/// The services and groups an `on` trigger names.
fn trigger_refs(ctx: &mut Ctx<'_>, task: &crate::manifest::raw::RawTask) {
    let Some(on) = &task.on else {
        return;
    };
    let what = |key: &str| format!("`{key}` of `on` of task `{}`", task.name.get());
    for s in &on.get().services {
        expect(ctx, Kind::Service, s, || what("services"));
    }
    for g in &on.get().groups {
        expect(ctx, Kind::Group, g, || what("groups"));
    }
}

/// Reports `reference` unless it names an existing thing of `kind`; `what` says where it
/// stands. It is only called for a broken reference: formatting it for every reference
/// was most of this check's time on a large manifest.
fn expect(
    ctx: &mut Ctx<'_>,
    kind: Kind,
    reference: &Spanned<String>,
    what: impl FnOnce() -> String,
) {
    expect_at(ctx, kind, reference.get(), reference.span(), what);
}

/// [`expect`] for a reference whose id and span are held apart.
fn expect_at(
    ctx: &mut Ctx<'_>,
    kind: Kind,
    id: &str,
    span: Range<usize>,
    what: impl FnOnce() -> String,
) {
    let found = match kind {
        Kind::Service => ctx.is_service(id),
        Kind::Group => ctx.is_group(id),
        Kind::Agent => ctx.is_agent(id),
        Kind::ServiceOrGroup => ctx.is_service(id) || ctx.is_group(id),
    };
    if !found {
        let diagnostic = unknown(ctx, kind, id, span, &what());
        ctx.push(diagnostic);
    }
}

fn unknown(ctx: &Ctx<'_>, kind: Kind, id: &str, span: Range<usize>, what: &str) -> Diagnostic {
    let raw = ctx.raw;
    let candidates: Vec<&str> = match kind {
        Kind::Service => raw.services.keys().map(|k| k.get().as_str()).collect(),
        Kind::Group => raw.groups.keys().map(|k| k.get().as_str()).collect(),
        Kind::Agent => raw.agents.keys().map(|k| k.get().as_str()).collect(),
        Kind::ServiceOrGroup => raw
            .services
            .keys()
            .chain(raw.groups.keys())
            .map(|k| k.get().as_str())
            .collect(),
    };
    let d = Diagnostic::error(
        Code::UnknownReference,
        format!(
            "{what} names `{id}`, which is not {} {}",
            kind.article(),
            kind.noun()
        ),
    )
    .at(span);
    match did_you_mean(id, candidates) {
        Some(close) => d.hint(format!("did you mean `{close}`?")),
        None => d.hint(format!(
            "define {} {} with id `{id}`, or remove the reference",
            kind.article(),
            kind.noun()
        )),
    }
}
