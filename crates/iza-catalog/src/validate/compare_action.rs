//! Builds a task's `compare` action (`run = { compare = { original = "URL", replica = "URL" },
//! conditions = [...] }`): both URLs checked as the runtime will load them (placeholders
//! substituted), each condition parsed, with a diagnostic at the position of each bad value.

use super::Ctx;
use super::fields::http_url_problem;
use crate::condition::Condition;
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::raw::RawAction;
use crate::manifest::spanned::Spanned;
use crate::model::{Action, CompareAction};

/// The `compare` action of `task`; `None` after a diagnostic.
pub(super) fn compare(ctx: &mut Ctx<'_>, task: &str, run: &RawAction) -> Option<Action> {
    let compare = run.compare.as_ref()?;
    let raw = compare.get();
    let mut ok = true;
    let mut url = |ctx: &mut Ctx<'_>, key: &str, value: &Option<Spanned<String>>| match value {
        None => {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidAction,
                    format!("`compare` of task `{task}` has no `{key}`"),
                )
                .at(compare.span())
                .hint("write `compare = { original = \"http://...\", replica = \"http://...\" }`"),
            );
            ok = false;
            String::new()
        }
        Some(u) => {
            let as_loaded = crate::placeholder::substitute(u.get(), |_| Some("placeholder"));
            if let Some(problem) = http_url_problem(&as_loaded) {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidAction,
                        format!("`{key}` of `compare` of task `{task}` is invalid: {problem}"),
                    )
                    .at(u.span())
                    .hint("a comparison loads `http://` or `https://` URLs"),
                );
                ok = false;
            }
            u.get().clone()
        }
    };
    let original = url(ctx, "original", &raw.original);
    let replica = url(ctx, "replica", &raw.replica);
    let mut conditions = Vec::new();
    for condition in run.conditions.iter().flat_map(|c| c.get()) {
        match condition.get().parse::<Condition>() {
            Ok(parsed) => {
                if let Some(p) = parsed.placeholders().find(|p| p.is_mcp_only()) {
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidAction,
                            format!(
                                "a condition of `compare` of task `{task}` reads `[{}]`, which only `mcp` checks report",
                                p.name()
                            ),
                        )
                        .at(condition.span())
                        .hint("a comparison reports `[PIXEL_DIFF]`, `[TEXT_SIMILARITY]`, `[MISSING_LINKS]` and the replica's browser placeholders"),
                    );
                    ok = false;
                }
                conditions.push(parsed);
            }
            Err(e) => {
                let d = Diagnostic::error(
                    Code::InvalidAction,
                    format!("a condition of `compare` of task `{task}` is invalid: {e}"),
                )
                .at(condition.span());
                ctx.push(match e.hint {
                    Some(hint) => d.hint(hint),
                    None => d.hint("for example `[PIXEL_DIFF] < 2` or `[MISSING_LINKS] == 0`"),
                });
                ok = false;
            }
        }
    }
    ok.then_some(Action::Compare(CompareAction {
        original,
        replica,
        conditions,
    }))
}
