//! Checks and builds what `iza up` needs to supervise a service: its `restart` policy and
//! limits, its `stop` signal and grace period, and the condition of each `depends_on` entry
//! (resolving the default: `healthy` when the dependency has a check, else `started`).
//!
//! It does not check that the dependencies exist (`refs`) or form no cycle (`deps`), and it
//! says nothing about how the runtime uses the result.

use std::time::Duration;

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::manifest::raw::{RawDependency, RawRestart, RawRestartTable, RawService, RawStop};
use crate::manifest::spanned::Spanned;
use crate::model::{
    Dependency, ProcessSpec, ReadyCondition, RestartPolicy, RestartSpec, StopSignal, StopSpec,
};

/// The process spec of a service, or `None` when it has no usable `command`. Diagnoses
/// `restart` and `stop` either way.
pub(super) fn spec(ctx: &mut Ctx<'_>, id: &str, s: &RawService) -> Option<ProcessSpec> {
    let command = s
        .command
        .as_ref()
        .map(Spanned::get)
        .filter(|c| c.first().is_some_and(|p| !p.trim().is_empty()));
    let restart = restart(ctx, id, s.restart.as_ref());
    let stop = stop(ctx, id, s.stop.as_ref());
    if s.command.is_none() {
        for (key, span) in [
            ("restart", s.restart.as_ref().map(Spanned::span)),
            ("stop", s.stop.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = span {
                ctx.push(
                    Diagnostic::warning(
                        if key == "restart" {
                            Code::InvalidRestart
                        } else {
                            Code::InvalidStop
                        },
                        format!(
                            "service `{id}` has `{key}` but no `command`; `iza up` does not run it"
                        ),
                    )
                    .at(span)
                    .hint(format!("add a `command`, or remove `{key}`")),
                );
            }
        }
    }
    Some(ProcessSpec {
        command: command?.clone(),
        restart,
        stop,
    })
}

fn restart(ctx: &mut Ctx<'_>, id: &str, raw: Option<&Spanned<RawRestart>>) -> RestartSpec {
    let mut spec = RestartSpec::default();
    let Some(raw) = raw else {
        return spec;
    };
    let default_table = RawRestartTable::default();
    let (policy, table) = match raw.get() {
        RawRestart::Policy(name) => (Some((name.as_str(), raw.span())), &default_table),
        RawRestart::Table(t) => (t.policy.as_ref().map(|p| (p.get().as_str(), p.span())), t),
    };
    if let Some((name, span)) = policy {
        match RestartPolicy::NAMES.iter().find(|(n, _)| *n == name) {
            Some((_, policy)) => spec.policy = *policy,
            None => {
                let names = RestartPolicy::NAMES.iter().map(|(n, _)| *n);
                let d = Diagnostic::error(
                    Code::InvalidRestart,
                    format!("service `{id}`: restart policy `{name}` is not one of `always`, `on-failure`, `never`"),
                )
                .at(span);
                ctx.push(match did_you_mean(name, names) {
                    Some(close) => d.hint(format!("did you mean `{close}`?")),
                    None => d.hint("write `restart = \"on-failure\"` (the default), `\"always\"` or `\"never\"`"),
                });
            }
        }
    }
    if let Some(max) = &table.max_restarts {
        spec.max_restarts = *max.get();
    }
    let what = |key: &str| format!("`restart.{key}` of service `{id}`");
    if let Some(d) = table
        .backoff
        .as_ref()
        .and_then(|t| duration(ctx, Code::InvalidRestart, t, &what("backoff")))
    {
        spec.backoff = d;
    }
    if let Some(d) = table
        .max_backoff
        .as_ref()
        .and_then(|t| duration(ctx, Code::InvalidRestart, t, &what("max_backoff")))
    {
        spec.max_backoff = d;
    }
    if let Some(d) = table
        .reset_after
        .as_ref()
        .and_then(|t| duration(ctx, Code::InvalidRestart, t, &what("reset_after")))
    {
        spec.reset_after = d;
    }
    if spec.backoff > spec.max_backoff {
        let span = table
            .max_backoff
            .as_ref()
            .or(table.backoff.as_ref())
            .map_or_else(|| raw.span(), Spanned::span);
        ctx.push(
            Diagnostic::error(
                Code::InvalidRestart,
                format!(
                    "service `{id}`: `restart.backoff` ({}) is longer than `restart.max_backoff` ({})",
                    humantime::format_duration(spec.backoff),
                    humantime::format_duration(spec.max_backoff)
                ),
            )
            .at(span)
            .hint("the delay starts at `backoff` and doubles up to `max_backoff`; make `max_backoff` the larger"),
        );
    }
    spec
}

fn stop(ctx: &mut Ctx<'_>, id: &str, raw: Option<&Spanned<RawStop>>) -> StopSpec {
    let mut spec = StopSpec::default();
    let Some(raw) = raw else {
        return spec;
    };
    let raw = raw.get();
    if let Some(signal) = &raw.signal {
        match StopSignal::parse(signal.get()) {
            Some(s) => spec.signal = s,
            None => {
                let names = StopSignal::NAMES.iter().map(|(n, _)| *n);
                let upper = signal.get().to_ascii_uppercase();
                let d = Diagnostic::error(
                    Code::InvalidStop,
                    format!(
                        "service `{id}`: `{}` is not a signal `iza up` can send",
                        signal.get()
                    ),
                )
                .at(signal.span());
                ctx.push(match did_you_mean(&upper, names) {
                    Some(close) => d.hint(format!("did you mean `{close}`?")),
                    None => d.hint(format!(
                        "use one of {}",
                        StopSignal::NAMES
                            .iter()
                            .map(|(n, _)| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                });
            }
        }
    }
    if let Some(grace) = &raw.grace
        && let Some(d) = duration(
            ctx,
            Code::InvalidStop,
            grace,
            &format!("`stop.grace` of service `{id}`"),
        )
    {
        spec.grace = d;
    }
    spec
}

/// The `depends_on` entries with their conditions resolved; diagnoses unknown conditions and
/// `healthy` on a supervised service without a check.
pub(super) fn dependencies(ctx: &mut Ctx<'_>, id: &str, s: &RawService) -> Vec<Dependency> {
    let raw = ctx.raw;
    let mut out = Vec::with_capacity(s.depends_on.len());
    for entry in &s.depends_on {
        let dep_id = entry.get().id();
        // An unknown service is reported by `refs`.
        let Some(&index) = ctx.service_index.get(dep_id) else {
            continue;
        };
        let dep = raw.services[index].get();
        let supervised = dep.command.is_some();
        let checked = dep.check.is_some();
        let written = match entry.get() {
            RawDependency::Table(t) => t.condition.as_ref(),
            RawDependency::Service(_) => None,
        };
        let condition = match written {
            None if checked => ReadyCondition::Healthy,
            None => ReadyCondition::Started,
            Some(text) => {
                let Some((_, condition)) = ReadyCondition::NAMES
                    .iter()
                    .find(|(n, _)| *n == text.get().as_str())
                else {
                    let names = ReadyCondition::NAMES.iter().map(|(n, _)| *n);
                    let d = Diagnostic::error(
                        Code::InvalidDependency,
                        format!(
                            "service `{id}`: `depends_on` condition `{}` is not one of `started`, `healthy`, `completed`",
                            text.get()
                        ),
                    )
                    .at(text.span());
                    ctx.push(match did_you_mean(text.get(), names) {
                        Some(close) => d.hint(format!("did you mean `{close}`?")),
                        None => d.hint("`started`: its process runs; `healthy`: its check passes; `completed`: it exited 0"),
                    });
                    continue;
                };
                // A condition on a service `iza up` does not run gates nothing (documented).
                if *condition == ReadyCondition::Healthy && supervised && !checked {
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidDependency,
                            format!("service `{id}` waits for `{dep_id}` to be healthy, but `{dep_id}` has no check"),
                        )
                        .at(text.span())
                        .hint(format!("give `{dep_id}` a `check`, or wait for `started` instead")),
                    );
                }
                *condition
            }
        };
        out.push(Dependency {
            service: dep_id.to_owned(),
            condition,
        });
    }
    out
}

fn duration(ctx: &mut Ctx<'_>, code: Code, text: &Spanned<String>, what: &str) -> Option<Duration> {
    super::fields::duration(ctx, code, text, what)
}
