//! Checks a service's `workflows` table (the workflow engine IZA follows) and builds its
//! [`WorkflowSource`]: a known engine, an http(s) URL, credentials as `${NAME}` references,
//! what each engine needs (n8n an `api_key`; Activepieces a `token` and a `project_id`),
//! durations, a success rate between 0 and 1, and a service of kind `workflow-engine`.

use std::time::Duration;

use super::Ctx;
use super::fields::{duration, http_url_problem};
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::raw::{RawService, ServiceKind};
use crate::manifest::spanned::Spanned;
use crate::model::{Engine, WorkflowRules, WorkflowSource};

const CODE: Code = Code::InvalidWorkflows;

/// The source of service `id`, `None` when it has none or it is malformed (diagnostics pushed).
pub(super) fn source(ctx: &mut Ctx<'_>, id: &str, service: &RawService) -> Option<WorkflowSource> {
    let spanned = service.workflows.as_ref()?;
    let raw = spanned.get();
    let before = ctx.diagnostics.len();
    let kind = service.kind.unwrap_or_default();
    if kind != ServiceKind::WorkflowEngine {
        ctx.push(
            Diagnostic::error(
                CODE,
                format!("service `{id}` has `workflows` but is not of kind `workflow-engine`"),
            )
            .at(spanned.span())
            .hint("add `kind = \"workflow-engine\"` to the service"),
        );
    }
    let engine = Engine::parse(raw.engine.get());
    if engine.is_none() {
        ctx.push(
            Diagnostic::error(
                CODE,
                format!("unknown workflow engine `{}`", raw.engine.get()),
            )
            .at(raw.engine.span())
            .hint("write `engine = \"n8n\"` or `engine = \"activepieces\"`"),
        );
    }
    url(ctx, &raw.url, "`workflows.url`");
    if let Some(ui) = &raw.ui_url {
        url(ctx, ui, "`workflows.ui_url`");
    }
    for (key, value) in [("api_key", &raw.api_key), ("token", &raw.token)] {
        if let Some(value) = value {
            credential(ctx, key, value);
        }
    }
    match engine {
        Some(Engine::N8n) => {
            if raw.api_key.is_none() {
                ctx.push(
                    Diagnostic::error(CODE, format!("the n8n engine of `{id}` has no `api_key`"))
                        .at(spanned.span())
                        .hint("add `api_key = \"${N8N_API_KEY}\"` (n8n: Settings > n8n API)"),
                );
            }
            for (key, value) in [
                ("token", raw.token.as_ref().map(Spanned::span)),
                ("project_id", raw.project_id.as_ref().map(Spanned::span)),
            ] {
                if let Some(span) = value {
                    ctx.push(
                        Diagnostic::error(CODE, format!("`{key}` is for Activepieces, not n8n"))
                            .at(span)
                            .hint("n8n reads `api_key`; remove this key"),
                    );
                }
            }
        }
        Some(Engine::Activepieces) => {
            for (key, present, hint) in [
                (
                    "token",
                    raw.token.is_some(),
                    "add `token = \"${AP_TOKEN}\"` (a user token from sign-in, or an API key)",
                ),
                (
                    "project_id",
                    raw.project_id.is_some(),
                    "add `project_id = \"...\"` (the project whose flows IZA follows)",
                ),
            ] {
                if !present {
                    ctx.push(
                        Diagnostic::error(
                            CODE,
                            format!("the Activepieces engine of `{id}` has no `{key}`"),
                        )
                        .at(spanned.span())
                        .hint(hint),
                    );
                }
            }
            if let Some(key) = &raw.api_key {
                ctx.push(
                    Diagnostic::error(CODE, "`api_key` is for n8n, not Activepieces")
                        .at(key.span())
                        .hint("Activepieces reads `token`"),
                );
            }
        }
        None => {}
    }
    let mut every = Duration::from_secs(10);
    if let Some(text) = &raw.every {
        every = duration(ctx, CODE, text, "`workflows.every`").unwrap_or(every);
    }
    let mut timeout = Duration::from_secs(10);
    if let Some(text) = &raw.timeout {
        timeout = duration(ctx, CODE, text, "`workflows.timeout`").unwrap_or(timeout);
    }
    let mut pages_per_round = 40;
    if let Some(pages) = &raw.pages_per_round {
        if *pages.get() == 0 {
            ctx.push(
                Diagnostic::error(CODE, "`workflows.pages_per_round` is zero")
                    .at(pages.span())
                    .hint("give at least 1 (40 by default)"),
            );
        } else {
            pages_per_round = *pages.get();
        }
    }
    let rules = rules(ctx, &raw.rules);
    if ctx.diagnostics[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    let url = raw.url.get().trim_end_matches('/').to_owned();
    Some(WorkflowSource {
        engine: engine?,
        ui_url: raw
            .ui_url
            .as_ref()
            .map_or_else(|| url.clone(), |u| u.get().trim_end_matches('/').to_owned()),
        url,
        api_key: raw.api_key.as_ref().map(|k| k.get().clone()),
        token: raw.token.as_ref().map(|k| k.get().clone()),
        project_id: raw.project_id.as_ref().map(|k| k.get().clone()),
        every,
        pages_per_round,
        timeout,
        rules,
    })
}

fn rules(ctx: &mut Ctx<'_>, raw: &crate::manifest::raw::RawWorkflowRules) -> WorkflowRules {
    let mut rules = WorkflowRules::default();
    if let Some(rate) = &raw.min_success_rate {
        let value = *rate.get();
        if (0.0..=1.0).contains(&value) {
            rules.min_success_rate = value;
        } else {
            ctx.push(
                Diagnostic::error(
                    CODE,
                    format!("`min_success_rate` {value} is not between 0 and 1"),
                )
                .at(rate.span())
                .hint("write a share: `0.95` for 95%"),
            );
        }
    }
    if let Some(text) = &raw.window {
        rules.window = duration(ctx, CODE, text, "`rules.window`").unwrap_or(rules.window);
    }
    if let Some(runs) = raw.min_runs {
        rules.min_runs = runs.max(1);
    }
    if let Some(text) = &raw.no_success_for {
        rules.no_success_for = duration(ctx, CODE, text, "`rules.no_success_for`");
    }
    rules.expected.clone_from(&raw.expected);
    if let Some(text) = &raw.stuck_after {
        rules.stuck_after =
            duration(ctx, CODE, text, "`rules.stuck_after`").unwrap_or(rules.stuck_after);
    }
    rules
}

fn url(ctx: &mut Ctx<'_>, url: &Spanned<String>, what: &str) {
    if let Some(problem) = http_url_problem(url.get()) {
        ctx.push(
            Diagnostic::error(CODE, format!("{what}: {problem}"))
                .at(url.span())
                .hint("write the engine's base URL, such as `http://localhost:5678`"),
        );
    }
}

fn credential(ctx: &mut Ctx<'_>, key: &str, value: &Spanned<String>) {
    let text = value.get();
    if super::is_env_reference(text) {
        return;
    }
    if text.contains("${") {
        ctx.push(
            Diagnostic::error(
                CODE,
                format!("`{key}` is a malformed `${{NAME}}` reference"),
            )
            .at(value.span())
            .hint("write the whole value as one reference: `\"${N8N_API_KEY}\"`"),
        );
    } else {
        ctx.push(
            Diagnostic::warning(CODE, format!("`{key}` is written into the manifest"))
                .at(value.span())
                .hint("keep secrets out of the manifest: `\"${N8N_API_KEY}\"`, set in the environment"),
        );
    }
}
