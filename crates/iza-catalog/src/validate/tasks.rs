//! Builds each [`Task`] from the wire model, checking what a task says on its own: its
//! key, its schedule (`every`, `cron` with `timezone`, `catch_up`), its trigger (`on`), its
//! action (`run` with the modifiers of that action) and its run policy (`timeout`,
//! `backoff`, `concurrency`). Unknown agents, services and groups named by `on` are
//! reported by `refs`; duplicate keys by `ids`. Placeholders are left as written: the
//! runtime substitutes them.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use super::Ctx;
use super::fields::{METHODS, duration, http_url_problem};
use crate::condition::Condition;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::manifest::raw::{RawAction, RawCatchUp, RawTask, RawTrigger, RawWords};
use crate::manifest::spanned::Spanned;
use crate::model::{
    Action, CatchUp, ExecAction, HttpAction, PROCESS_STATES, RetryFailedAction, STATUS_WORDS,
    Schedule, Task, Trigger, TriggerKind, WORKFLOW_EVENTS, WorkflowAction, slug, task_key,
};

/// The default time one task run may take.
pub(crate) const DEFAULT_TASK_TIMEOUT: Duration = Duration::from_secs(300);
/// The default delay before the first retry.
pub(crate) const DEFAULT_TASK_BACKOFF: Duration = Duration::from_secs(5);
/// The default longest delay between two attempts.
pub(crate) const DEFAULT_TASK_BACKOFF_MAX: Duration = Duration::from_secs(300);
/// The default cap of `catch_up = "all"`.
pub(crate) const DEFAULT_CATCH_UP_LIMIT: u32 = 100;

const STATUS_NOUN: (&str, &str) = ("service status", "service statuses");
const PROCESS_NOUN: (&str, &str) = ("process state", "process states");
const WORKFLOW_NOUN: (&str, &str) = ("workflow event", "workflow events");

/// How many failed executions a `retry_failed` run retries without `limit`.
pub(crate) const DEFAULT_RETRY_LIMIT: u32 = 10;

/// The action keys of `run`, in documentation order.
const ACTION_KEYS: &[&str] = &[
    "check",
    "http",
    "exec",
    "report",
    "restart",
    "start",
    "stop",
    "external",
    "compare",
    "workflow",
    "retry_failed",
];

pub(super) fn task(
    ctx: &mut Ctx<'_>,
    agent: Option<&str>,
    spanned: &Spanned<RawTask>,
) -> Option<Task> {
    let t = spanned.get();
    let name = t.name.get();
    if slug(name).is_empty() {
        ctx.push(
            Diagnostic::error(
                Code::InvalidValue,
                format!("task name `{name}` has no letter or digit to make its key from"),
            )
            .at(t.name.span())
            .hint("name the task in words, such as `Rotate logs` (its key is `rotate-logs`)"),
        );
    }
    let schedule = schedule(ctx, name, t);
    let catch_up = catch_up(ctx, name, t);
    let on = t.on.as_ref().and_then(|on| trigger(ctx, name, on));
    let action = t.run.as_ref().and_then(|run| action(ctx, name, run));
    let policy = |ctx: &mut Ctx<'_>, key: &str, value: &Option<Spanned<String>>, default| {
        value
            .as_ref()
            .and_then(|d| {
                duration(
                    ctx,
                    Code::InvalidValue,
                    d,
                    &format!("`{key}` of task `{name}`"),
                )
            })
            .unwrap_or(default)
    };
    let timeout = policy(ctx, "timeout", &t.timeout, DEFAULT_TASK_TIMEOUT);
    let backoff = policy(ctx, "backoff", &t.backoff, DEFAULT_TASK_BACKOFF);
    let backoff_max = policy(ctx, "backoff_max", &t.backoff_max, DEFAULT_TASK_BACKOFF_MAX);
    if backoff > backoff_max {
        let at = t
            .backoff
            .as_ref()
            .or(t.backoff_max.as_ref())
            .map_or_else(|| spanned.span(), Spanned::span);
        let mut d = Diagnostic::error(
            Code::InvalidValue,
            format!(
                "`backoff` of task `{name}` ({}) is longer than `backoff_max` ({})",
                humantime::format_duration(backoff),
                humantime::format_duration(backoff_max)
            ),
        )
        .at(at)
        .hint("the delay starts at `backoff` and doubles up to `backoff_max`; make `backoff` the smaller");
        if let (Some(_), Some(max)) = (&t.backoff, &t.backoff_max) {
            d = d.related(max.span(), "`backoff_max` is set here");
        }
        ctx.push(d);
    }
    let concurrency = match &t.concurrency {
        Some(c) if *c.get() == 0 => {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`concurrency` of task `{name}` is 0, so it could never run"),
                )
                .at(c.span())
                .hint("`1` (the default) runs one at a time; a larger number lets runs overlap"),
            );
            1
        }
        Some(c) => *c.get(),
        None => 1,
    };
    Some(Task {
        key: task_key(agent, name),
        agent: agent.map(str::to_owned),
        name: name.clone(),
        description: t.description.clone(),
        priority: t.priority.unwrap_or_default(),
        schedule,
        on,
        action,
        timeout,
        retries: t.retries.unwrap_or(0),
        backoff,
        backoff_max,
        concurrency,
        enabled: t.enabled.unwrap_or(true),
        catch_up,
    })
}

/// `every` or `cron` (with its `timezone`).
fn schedule(ctx: &mut Ctx<'_>, name: &str, t: &RawTask) -> Option<Schedule> {
    if let (Some(timezone), None) = (&t.timezone, &t.cron) {
        ctx.push(
            Diagnostic::error(
                Code::InvalidSchedule,
                format!("`timezone` of task `{name}` is only read with `cron`"),
            )
            .at(timezone.span())
            .hint("add a `cron` schedule, or remove `timezone` (`every` counts from the start, in no time zone)"),
        );
    }
    match (&t.every, &t.cron) {
        (Some(every), Some(cron)) => {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidSchedule,
                    format!("task `{name}` has both `every` and `cron`"),
                )
                .at(cron.span())
                .related(every.span(), "`every` is set here")
                .hint("keep one of them (`on` may be combined with either)"),
            );
            None
        }
        (Some(every), None) => duration(
            ctx,
            Code::InvalidSchedule,
            every,
            &format!("`every` of task `{name}`"),
        )
        .map(Schedule::Every),
        (None, Some(cron)) => {
            let expression = match cron.get().parse::<croner::Cron>() {
                Ok(_) => Some(cron.get().trim().to_owned()),
                Err(e) => {
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidSchedule,
                            format!("`cron` of task `{name}` is not a cron expression: {e}"),
                        )
                        .at(cron.span())
                        .hint("write five fields (`min hour day month weekday`) or six with seconds first: `0 0 2 * * *`"),
                    );
                    None
                }
            };
            let timezone = match &t.timezone {
                None => Some(None),
                Some(tz) => timezone(ctx, name, tz).map(Some),
            };
            Some(Schedule::Cron {
                expression: expression?,
                timezone: timezone?,
            })
        }
        (None, None) => None,
    }
}

/// An IANA time-zone name, as chrono-tz knows it (`Europe/Berlin`, `UTC`).
fn timezone(ctx: &mut Ctx<'_>, name: &str, tz: &Spanned<String>) -> Option<String> {
    let text = tz.get().trim();
    if let Ok(zone) = text.parse::<chrono_tz::Tz>() {
        return Some(zone.name().to_owned());
    }
    let d = Diagnostic::error(
        Code::InvalidSchedule,
        format!(
            "`timezone` of task `{name}` is `{}`, which is not an IANA time zone",
            tz.get()
        ),
    )
    .at(tz.span());
    let names = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name());
    ctx.push(match did_you_mean(text, names) {
        Some(close) => d.hint(format!("did you mean `{close}`?")),
        None => d.hint("write an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`"),
    });
    None
}

/// `catch_up` and `catch_up_limit`.
fn catch_up(ctx: &mut Ctx<'_>, name: &str, t: &RawTask) -> CatchUp {
    let mode = t.catch_up.as_ref().map(|c| *c.get());
    if let Some(limit) = &t.catch_up_limit {
        if mode != Some(RawCatchUp::All) {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidSchedule,
                    format!(
                        "`catch_up_limit` of task `{name}` is only read with `catch_up = \"all\"`"
                    ),
                )
                .at(limit.span())
                .hint("add `catch_up = \"all\"`, or remove `catch_up_limit`"),
            );
        } else if *limit.get() == 0 {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidSchedule,
                    format!("`catch_up_limit` of task `{name}` is 0"),
                )
                .at(limit.span())
                .hint("give at least 1, or write `catch_up = \"skip\"` to run no missed tick"),
            );
        }
    }
    if let Some(c) = &t.catch_up
        && t.every.is_none()
        && t.cron.is_none()
    {
        ctx.push(
            Diagnostic::warning(
                Code::InvalidSchedule,
                format!("task `{name}` has `catch_up` but no `every` or `cron`, so no tick can be missed"),
            )
            .at(c.span())
            .hint("add a schedule, or remove `catch_up`"),
        );
    }
    match mode {
        None | Some(RawCatchUp::Skip) => CatchUp::Skip,
        Some(RawCatchUp::One) => CatchUp::One,
        Some(RawCatchUp::All) => CatchUp::All {
            limit: t
                .catch_up_limit
                .as_ref()
                .map_or(DEFAULT_CATCH_UP_LIMIT, |l| (*l.get()).max(1)),
        },
    }
}

/// `on`: exactly one kind, its words known, `services`/`groups` only where they narrow.
fn trigger(ctx: &mut Ctx<'_>, task: &str, spanned: &Spanned<RawTrigger>) -> Option<Trigger> {
    let on = spanned.get();
    let given = [
        on.status.is_some(),
        on.process.is_some(),
        on.escalation.is_some(),
        on.workflow.is_some(),
    ]
    .into_iter()
    .filter(|g| *g)
    .count();
    if given != 1 {
        ctx.push(
            Diagnostic::error(
                Code::InvalidTrigger,
                format!("`on` of task `{task}` must have exactly one of `status`, `process`, `escalation`, `workflow` (it has {given})"),
            )
            .at(spanned.span())
            .hint("for example `on = { status = \"down\", services = [\"n8n\"] }`"),
        );
        return None;
    }
    let services = || on.services.iter().map(|s| s.get().clone()).collect();
    let groups = || on.groups.iter().map(|g| g.get().clone()).collect();
    if let (None, Some(first)) = (&on.workflow, on.workflows.first()) {
        ctx.push(
            Diagnostic::error(
                Code::InvalidTrigger,
                format!("`workflows` of `on` of task `{task}` narrows only a `workflow` trigger"),
            )
            .at(first.span())
            .hint("remove `workflows`, or wait for `workflow = \"failed\"`"),
        );
        return None;
    }
    if let Some(workflow) = &on.workflow {
        let words = words(
            ctx,
            task,
            "workflow",
            workflow,
            WORKFLOW_EVENTS,
            WORKFLOW_NOUN,
        )?;
        let raw = ctx.raw;
        for service in &on.services {
            let no_engine = raw
                .services
                .get(service.get().as_str())
                .is_some_and(|s| s.get().workflows.is_none());
            if no_engine {
                ctx.push(
                    Diagnostic::warning(
                        Code::InvalidTrigger,
                        format!(
                            "`on` of task `{task}` waits for failed workflows of `{}`, which follows no workflow engine, so it never has one",
                            service.get()
                        ),
                    )
                    .at(service.span())
                    .hint("name a service with a `workflows` table (docs/workflows.md)"),
                );
            }
        }
        if let Some(empty) = on.workflows.iter().find(|w| w.get().trim().is_empty()) {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidTrigger,
                    format!("`workflows` of `on` of task `{task}` has an empty name"),
                )
                .at(empty.span())
                .hint("name a workflow by its id or its name"),
            );
            return None;
        }
        return Some(Trigger {
            kind: TriggerKind::Workflow(words),
            services: services(),
            groups: groups(),
            workflows: on
                .workflows
                .iter()
                .map(|w| w.get().trim().to_owned())
                .collect(),
        });
    }
    if let Some(status) = &on.status {
        let words = words(ctx, task, "status", status, STATUS_WORDS, STATUS_NOUN)?;
        return Some(Trigger {
            kind: TriggerKind::Status(words),
            services: services(),
            groups: groups(),
            workflows: Vec::new(),
        });
    }
    if let Some(process) = &on.process {
        let words = words(ctx, task, "process", process, PROCESS_STATES, PROCESS_NOUN)?;
        let raw = ctx.raw;
        for service in &on.services {
            let unsupervised = raw
                .services
                .get(service.get().as_str())
                .is_some_and(|s| s.get().command.is_none());
            if unsupervised {
                ctx.push(
                    Diagnostic::warning(
                        Code::InvalidTrigger,
                        format!(
                            "`on` of task `{task}` waits for process states of `{}`, which has no `command`, so it never has one",
                            service.get()
                        ),
                    )
                    .at(service.span())
                    .hint("give the service a `command` for `iza up` to supervise, or use `on = { status = ... }`"),
                );
            }
        }
        return Some(Trigger {
            kind: TriggerKind::Process(words),
            services: services(),
            groups: groups(),
            workflows: Vec::new(),
        });
    }
    let escalation = on.escalation.as_ref()?;
    let mut ok = true;
    if !*escalation.get() {
        ctx.push(
            Diagnostic::error(
                Code::InvalidTrigger,
                format!("`on` of task `{task}` has `escalation = false`, which waits for nothing"),
            )
            .at(escalation.span())
            .hint("write `escalation = true` to run on escalations to this agent, or remove `on`"),
        );
        ok = false;
    }
    if let Some(first) = on.services.first().or(on.groups.first()) {
        ctx.push(
            Diagnostic::error(
                Code::InvalidTrigger,
                format!("`on` of task `{task}` narrows an escalation by `services` or `groups`"),
            )
            .at(first.span())
            .hint("an escalation is to the task's agent, whatever service failed; remove `services` and `groups`"),
        );
        ok = false;
    }
    ok.then(|| Trigger {
        kind: TriggerKind::Escalation,
        services: Vec::new(),
        groups: Vec::new(),
        workflows: Vec::new(),
    })
}

/// The words of `status`/`process`, lower-cased; each must be one of `known`.
fn words(
    ctx: &mut Ctx<'_>,
    task: &str,
    key: &str,
    value: &Spanned<RawWords>,
    known: &[&'static str],
    (noun, nouns): (&str, &str),
) -> Option<Vec<String>> {
    let list = value.words();
    if list.is_empty() {
        ctx.push(
            Diagnostic::error(
                Code::InvalidTrigger,
                format!("`{key}` of `on` of task `{task}` lists no {noun}"),
            )
            .at(value.span())
            .hint(format!("name at least one of {}", backticked(known))),
        );
        return None;
    }
    let mut words = Vec::with_capacity(list.len());
    let mut ok = true;
    for (word, span) in list {
        let lower = word.trim().to_ascii_lowercase();
        if known.contains(&lower.as_str()) {
            if !words.contains(&lower) {
                words.push(lower);
            }
            continue;
        }
        let d = Diagnostic::error(
            Code::InvalidTrigger,
            format!("`{word}` in `{key}` of `on` of task `{task}` is not a {noun}"),
        )
        .at(span);
        ctx.push(match did_you_mean(&lower, known.iter().copied()) {
            Some(close) => d.hint(format!("did you mean `{close}`?")),
            None => d.hint(format!("the {nouns} are {}", backticked(known))),
        });
        ok = false;
    }
    ok.then_some(words)
}

fn backticked(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `run`: exactly one action key, only that action's modifiers.
fn action(ctx: &mut Ctx<'_>, task: &str, spanned: &Spanned<RawAction>) -> Option<Action> {
    let run = spanned.get();
    let given: Vec<(&str, Range<usize>)> = [
        run.check.as_ref().map(Spanned::span),
        run.http.as_ref().map(Spanned::span),
        run.exec.as_ref().map(Spanned::span),
        run.report.as_ref().map(Spanned::span),
        run.restart.as_ref().map(Spanned::span),
        run.start.as_ref().map(Spanned::span),
        run.stop.as_ref().map(Spanned::span),
        run.external.as_ref().map(Spanned::span),
        run.compare.as_ref().map(Spanned::span),
        run.workflow.as_ref().map(Spanned::span),
        run.retry_failed.as_ref().map(Spanned::span),
    ]
    .into_iter()
    .zip(ACTION_KEYS)
    .filter_map(|(span, key)| span.map(|s| (*key, s)))
    .collect();
    if given.len() != 1 {
        let mut d = Diagnostic::error(
            Code::InvalidAction,
            format!(
                "`run` of task `{task}` must have exactly one of {} (it has {})",
                backticked(ACTION_KEYS),
                given.len()
            ),
        )
        .hint("for example `run = { check = \"my-service\" }`; one task does one thing");
        match given.get(1) {
            Some((key, span)) => {
                d = d
                    .at(span.clone())
                    .related(given[0].1.clone(), format!("`{}` is set here", given[0].0));
                d.message.push_str(&format!(": `{key}` is a second action"));
            }
            None => d = d.at(spanned.span()),
        }
        ctx.push(d);
        return None;
    }
    let kind = given[0].0;
    let mut ok = true;
    let modifiers = [
        ("headers", "http", run.headers.as_ref().map(Spanned::span)),
        ("body", "http", run.body.as_ref().map(Spanned::span)),
        (
            "conditions",
            "http",
            run.conditions.as_ref().map(Spanned::span),
        ),
        ("env", "exec", run.env.as_ref().map(Spanned::span)),
        ("cwd", "exec", run.cwd.as_ref().map(Spanned::span)),
        ("shell", "exec", run.shell.as_ref().map(Spanned::span)),
        ("data", "workflow", run.data.as_ref().map(Spanned::span)),
        (
            "limit",
            "retry_failed",
            run.limit.as_ref().map(Spanned::span),
        ),
    ];
    for (modifier, owner, span) in modifiers {
        // `conditions` also go with a `compare` action.
        let owner = if modifier == "conditions" && kind == "compare" {
            kind
        } else {
            owner
        };
        if let Some(span) = span
            && owner != kind
        {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidAction,
                    format!("`{modifier}` in `run` of task `{task}` belongs to an `{owner}` action, not `{kind}`"),
                )
                .at(span)
                .hint(format!("remove `{modifier}`, or make the action `{owner}`")),
            );
            ok = false;
        }
    }
    let action = match kind {
        "check" => {
            let service = run.check.as_ref()?;
            if !ctx.is_service(service.get()) {
                ctx.push(unknown_service(task, "check", service));
                return None;
            }
            Some(Action::Check(service.get().clone()))
        }
        "restart" | "start" | "stop" => {
            let service = match kind {
                "restart" => run.restart.as_ref(),
                "start" => run.start.as_ref(),
                _ => run.stop.as_ref(),
            }?;
            supervised(ctx, task, kind, service)?;
            let id = service.get().clone();
            Some(match kind {
                "restart" => Action::Restart(id),
                "start" => Action::Start(id),
                _ => Action::Stop(id),
            })
        }
        "exec" => exec(ctx, task, run),
        "http" => http(ctx, task, run),
        "compare" => super::compare_action::compare(ctx, task, run),
        "workflow" => {
            let target = run.workflow.as_ref()?;
            let (service, workflow) = workflow_target(ctx, task, "workflow", target)?;
            Some(Action::Workflow(WorkflowAction {
                service,
                workflow,
                data: run
                    .data
                    .as_ref()
                    .map(|d| d.get().clone())
                    .unwrap_or_default(),
            }))
        }
        "retry_failed" => {
            let target = run.retry_failed.as_ref()?;
            let (service, workflow) = workflow_target(ctx, task, "retry_failed", target)?;
            let limit = match &run.limit {
                Some(l) if *l.get() == 0 => {
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidAction,
                            format!("`limit` of `retry_failed` of task `{task}` is 0, so it would retry nothing"),
                        )
                        .at(l.span())
                        .hint(format!("give at least 1 (the default is {DEFAULT_RETRY_LIMIT})")),
                    );
                    return None;
                }
                Some(l) => *l.get(),
                None => DEFAULT_RETRY_LIMIT,
            };
            Some(Action::RetryFailed(RetryFailedAction {
                service,
                workflow,
                limit,
            }))
        }
        "report" => {
            let path = run.report.as_ref()?;
            if path.get().trim().is_empty() {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidAction,
                        format!("`report` of task `{task}` names no file"),
                    )
                    .at(path.span())
                    .hint("give a path, relative to the manifest's directory: `report = \"reports/ecosystem.md\"`"),
                );
                return None;
            }
            Some(Action::Report(PathBuf::from(path.get())))
        }
        _ => {
            let external = run.external.as_ref()?;
            if !*external.get() {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidAction,
                        format!("`run` of task `{task}` has `external = false`, which does nothing"),
                    )
                    .at(external.span())
                    .hint("write `external = true` to leave the task to external agents, or choose another action"),
                );
                return None;
            }
            Some(Action::External)
        }
    };
    action.filter(|_| ok)
}

/// `"<service>/<workflow id or name>"` of `workflow` and `retry_failed`: the service follows a
/// workflow engine (`workflows`), the workflow is named. `{service}` and `{workflow}` may stand
/// for either part (filled in from a `workflow` trigger at run time).
fn workflow_target(
    ctx: &mut Ctx<'_>,
    task: &str,
    key: &str,
    target: &Spanned<String>,
) -> Option<(String, String)> {
    let text = target.get().trim();
    let hint = format!(
        "write `{key} = \"<service>/<workflow id or name>\"`, for example `{key} = \"n8n/Lead enrichment\"`"
    );
    let Some((service, workflow)) = text
        .split_once('/')
        .map(|(s, w)| (s.trim(), w.trim()))
        .filter(|(s, w)| !s.is_empty() && !w.is_empty())
    else {
        ctx.push(
            Diagnostic::error(
                Code::InvalidAction,
                format!(
                    "`{key}` of task `{task}` is `{text}`, which names no service and workflow"
                ),
            )
            .at(target.span())
            .hint(hint),
        );
        return None;
    };
    let raw = ctx.raw;
    if service != "{service}" {
        let Some(&index) = ctx.service_index.get(service) else {
            let d = Diagnostic::error(
                Code::UnknownReference,
                format!("`{key}` of task `{task}` names `{service}`, which is not a service"),
            )
            .at(target.span());
            let engines = raw
                .services
                .iter()
                .filter(|(_, s)| s.get().workflows.is_some())
                .map(|(id, _)| id.get().as_str());
            ctx.push(match did_you_mean(service, engines) {
                Some(close) => d.hint(format!("did you mean `{close}`?")),
                None => d.hint("name a service with a `workflows` table (docs/workflows.md)"),
            });
            return None;
        };
        if raw.services[index].get().workflows.is_none() {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidAction,
                    format!("`{key}` of task `{task}` names `{service}`, which follows no workflow engine"),
                )
                .at(target.span())
                .hint("give the service a `workflows` table (`workflows = { engine = \"n8n\", url = \"...\" }`, docs/workflows.md)"),
            );
            return None;
        }
    }
    Some((service.to_owned(), workflow.to_owned()))
}

/// `restart`/`start`/`stop` need a service that `iza up` supervises.
fn supervised(ctx: &mut Ctx<'_>, task: &str, kind: &str, service: &Spanned<String>) -> Option<()> {
    let Some(&index) = ctx.service_index.get(service.get().as_str()) else {
        ctx.push(unknown_service(task, kind, service));
        return None;
    };
    if ctx.raw.services[index].get().command.is_none() {
        let verb = match kind {
            "restart" => "restarts",
            "start" => "starts",
            _ => "stops",
        };
        ctx.push(
            Diagnostic::error(
                Code::InvalidAction,
                format!(
                    "task `{task}` {verb} `{}`, which has no `command` to supervise",
                    service.get()
                ),
            )
            .at(service.span())
            .hint(
                "give the service a `command`, or choose an action that does not need supervision",
            ),
        );
        return None;
    }
    Some(())
}

fn exec(ctx: &mut Ctx<'_>, task: &str, run: &RawAction) -> Option<Action> {
    let argv = run.exec.as_ref()?;
    if argv.get().first().is_none_or(|p| p.trim().is_empty()) {
        ctx.push(
            Diagnostic::error(
                Code::InvalidAction,
                format!("`exec` of task `{task}` is empty"),
            )
            .at(argv.span())
            .hint("give the program first, then its arguments"),
        );
        return None;
    }
    let shell = run.shell.as_ref().is_some_and(|s| *s.get());
    if shell && argv.get().len() != 1 {
        let mut d = Diagnostic::error(
            Code::InvalidAction,
            format!(
                "with `shell = true`, `exec` of task `{task}` must be one string, the script (it has {})",
                argv.get().len()
            ),
        )
        .at(argv.span())
        .hint("join them into one script, `exec = [\"tar czf backup.tgz data && ls -l backup.tgz\"]`, or remove `shell` to run the program with its arguments");
        if let Some(s) = &run.shell {
            d = d.related(s.span(), "`shell` is set here");
        }
        ctx.push(d);
        return None;
    }
    Some(Action::Exec(ExecAction {
        argv: argv.get().clone(),
        env: run
            .env
            .as_ref()
            .map(|e| e.get().clone())
            .unwrap_or_default(),
        cwd: run.cwd.as_ref().map(|c| PathBuf::from(c.get())),
        shell,
    }))
}

fn http(ctx: &mut Ctx<'_>, task: &str, run: &RawAction) -> Option<Action> {
    let http = run.http.as_ref()?;
    let text = http.get().trim();
    let (method, url) = match text.split_once(char::is_whitespace) {
        Some((m, u)) => (m.to_ascii_uppercase(), u.trim()),
        None => ("GET".to_owned(), text),
    };
    let problem = if !METHODS.contains(&method.as_str()) {
        Some(format!("`{method}` is not an HTTP method"))
    } else {
        http_url_problem(&without_placeholders(url))
    };
    if let Some(problem) = problem {
        ctx.push(
            Diagnostic::error(
                Code::InvalidAction,
                format!("`http` of task `{task}` is invalid: {problem}"),
            )
            .at(http.span())
            .hint("write `METHOD URL`, for example `POST http://localhost:5678/webhook/report`"),
        );
        return None;
    }
    let mut ok = true;
    let mut conditions = Vec::new();
    for condition in run.conditions.iter().flat_map(|c| c.get()) {
        match condition.get().parse::<Condition>() {
            Ok(parsed) => conditions.push(parsed),
            Err(e) => {
                let d = Diagnostic::error(
                    Code::InvalidAction,
                    format!("a condition of `http` of task `{task}` is invalid: {e}"),
                )
                .at(condition.span());
                ctx.push(match e.hint {
                    Some(hint) => d.hint(hint),
                    None => {
                        d.hint("conditions follow Gatus's syntax, for example `[STATUS] == 200`")
                    }
                });
                ok = false;
            }
        }
    }
    ok.then(|| {
        Action::Http(HttpAction {
            method,
            url: url.to_owned(),
            headers: run
                .headers
                .as_ref()
                .map(|h| h.get().clone())
                .unwrap_or_default(),
            body: run.body.as_ref().map(|b| b.get().clone()),
            conditions,
        })
    })
}

/// The text with every known placeholder (`{service}`) replaced by a plain word, so that a
/// URL that holds them can be checked as the runtime will send it.
fn without_placeholders(text: &str) -> String {
    crate::placeholder::substitute(text, |_| Some("placeholder"))
}

fn unknown_service(task: &str, key: &str, service: &Spanned<String>) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownReference,
        format!(
            "`{key}` of task `{task}` names `{}`, which is not a service",
            service.get()
        ),
    )
    .at(service.span());
    d.hint("name a service defined under `[services]`")
}
