//! Builds the target of a `browser` check: its URL, what it waits for and its journey's steps,
//! with a diagnostic at the position of each bad value (a URL that is not http(s), a selector
//! that cannot parse, a step with no action or two). Running the check is the probe's job.

use super::Ctx;
use super::fields::http_url_problem;
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::raw::{RawCheck, RawCompare, RawStep};
use crate::manifest::spanned::Spanned;
use crate::model::{BrowserTarget, CompareTarget, Step, WaitFor};

/// The browser target of `c`, whose `browser` key is `url`; `None` after a diagnostic.
pub(super) fn target(
    ctx: &mut Ctx<'_>,
    what: &dyn std::fmt::Display,
    url: &Spanned<String>,
    c: &RawCheck,
) -> Option<BrowserTarget> {
    let mut ok = true;
    if let Some(problem) = http_url_problem(url.get()) {
        ctx.push(
            Diagnostic::error(Code::InvalidCheck, format!("{what} is invalid: {problem}"))
                .at(url.span())
                .hint("a browser check loads an `http://` or `https://` URL"),
        );
        ok = false;
    }
    let wait_for = c.wait_for.as_ref().and_then(|w| {
        let parsed = wait_for(ctx, what, w);
        ok &= parsed.is_some();
        parsed
    });
    let mut steps = Vec::with_capacity(c.steps.len());
    for (i, raw) in c.steps.iter().enumerate() {
        match step(ctx, what, i + 1, raw) {
            Some(s) => steps.push(s),
            None => ok = false,
        }
    }
    ok.then(|| BrowserTarget {
        url: url.get().clone(),
        wait_for,
        steps,
    })
}

/// The target of a `compare` check: both URLs and what it waits for; `None` after a
/// diagnostic. A comparison runs no journey: `steps` are refused.
pub(super) fn compare_target(
    ctx: &mut Ctx<'_>,
    what: &dyn std::fmt::Display,
    compare: &Spanned<RawCompare>,
    c: &RawCheck,
) -> Option<CompareTarget> {
    let mut ok = true;
    let mut url = |ctx: &mut Ctx<'_>, key: &str, value: &Option<Spanned<String>>| match value {
        None => {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidCheck,
                    format!("`compare` of {what} has no `{key}`"),
                )
                .at(compare.span())
                .hint("write `compare = { original = \"http://...\", replica = \"http://...\" }`"),
            );
            ok = false;
            String::new()
        }
        Some(u) => {
            if let Some(problem) = http_url_problem(u.get()) {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidCheck,
                        format!("`{key}` of {what} is invalid: {problem}"),
                    )
                    .at(u.span())
                    .hint("a comparison loads `http://` or `https://` URLs"),
                );
                ok = false;
            }
            u.get().clone()
        }
    };
    let raw = compare.get();
    let original = url(ctx, "original", &raw.original);
    let replica = url(ctx, "replica", &raw.replica);
    let wait_for = c.wait_for.as_ref().and_then(|w| {
        let parsed = wait_for(ctx, what, w);
        ok &= parsed.is_some();
        parsed
    });
    if let Some(first) = c.steps.first() {
        ctx.push(
            Diagnostic::error(
                Code::InvalidCheck,
                format!("`steps` of {what} go with a browser check, not a comparison"),
            )
            .at(first.span())
            .hint("a comparison loads both pages and compares them; use a `browser` check for a journey"),
        );
        ok = false;
    }
    ok.then_some(CompareTarget {
        original,
        replica,
        wait_for,
    })
}

/// Refuses the browser-only keys on a check of another kind.
pub(super) fn refuse_browser_keys(
    ctx: &mut Ctx<'_>,
    what: &dyn std::fmt::Display,
    c: &RawCheck,
) -> bool {
    let mut ok = true;
    if let Some(w) = &c.wait_for {
        ctx.push(
            Diagnostic::error(
                Code::InvalidCheck,
                format!("`wait_for` of {what} needs a browser check"),
            )
            .at(w.span())
            .hint("`wait_for` goes with `browser = \"URL\"` or `compare = { ... }`"),
        );
        ok = false;
    }
    if let Some(first) = c.steps.first() {
        ctx.push(
            Diagnostic::error(
                Code::InvalidCheck,
                format!("`steps` of {what} need a browser check"),
            )
            .at(first.span())
            .hint("`wait_for` and `steps` go with `browser = \"URL\"`"),
        );
        ok = false;
    }
    ok
}

fn wait_for(
    ctx: &mut Ctx<'_>,
    what: &dyn std::fmt::Display,
    written: &Spanned<String>,
) -> Option<WaitFor> {
    let parsed = WaitFor::parse(written.get());
    let problem = match &parsed {
        WaitFor::Text(text) if text.trim().is_empty() => {
            Some("the text after `text=` is empty".to_owned())
        }
        WaitFor::Text(_) => None,
        WaitFor::Selector(selector) => selector_problem(selector),
    };
    match problem {
        Some(problem) => {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidCheck,
                    format!("`wait_for` of {what} is invalid: {problem}"),
                )
                .at(written.span())
                .hint(
                    "write a CSS selector (`#app .ready`) or `text=` and the text the page shows",
                ),
            );
            None
        }
        None => Some(parsed),
    }
}

/// Why `selector` cannot be a CSS selector, for what can be told without a browser: it is
/// empty, or its brackets, parentheses or quotes do not close.
pub(super) fn selector_problem(selector: &str) -> Option<String> {
    if selector.trim().is_empty() {
        return Some("the selector is empty".to_owned());
    }
    let mut open: Vec<char> = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in selector.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(') => open.push(c),
            (None, ']' | ')') => {
                let expected = if c == ']' { '[' } else { '(' };
                if open.pop() != Some(expected) {
                    return Some(format!("`{selector}` has a `{c}` that closes nothing"));
                }
            }
            _ => {}
        }
    }
    if let Some(q) = quote {
        return Some(format!("`{selector}` has a {q} quote that is not closed"));
    }
    if let Some(c) = open.pop() {
        return Some(format!("`{selector}` has a `{c}` that is not closed"));
    }
    None
}

fn step(
    ctx: &mut Ctx<'_>,
    what: &dyn std::fmt::Display,
    number: usize,
    spanned: &Spanned<RawStep>,
) -> Option<Step> {
    let s = spanned.get();
    let actions: Vec<(&str, &Spanned<String>)> = [
        ("goto", &s.goto),
        ("click", &s.click),
        ("fill", &s.fill),
        ("press", &s.press),
        ("wait_for", &s.wait_for),
        ("expect_text", &s.expect_text),
        ("screenshot", &s.screenshot),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.as_ref().map(|v| (key, v)))
    .collect();
    let [(action, value)] = actions.as_slice() else {
        ctx.push(
            Diagnostic::error(
                Code::InvalidCheck,
                format!(
                    "step {number} of {what} must have exactly one of `goto`, `click`, `fill`, `press`, `wait_for`, `expect_text`, `screenshot` (it has {})",
                    actions.len()
                ),
            )
            .at(spanned.span())
            .hint("for example `{ click = \"button[type=submit]\" }`"),
        );
        return None;
    };
    if *action != "fill"
        && let Some(v) = &s.value
    {
        ctx.push(
            Diagnostic::error(
                Code::InvalidCheck,
                format!("step {number} of {what}: `value` goes with `fill`, not `{action}`"),
            )
            .at(v.span()),
        );
        return None;
    }
    let problem = |ctx: &mut Ctx<'_>, problem: String, hint: &str| {
        ctx.push(
            Diagnostic::error(
                Code::InvalidCheck,
                format!("step {number} of {what} is invalid: {problem}"),
            )
            .at(value.span())
            .hint(hint),
        );
    };
    let text = value.get();
    match *action {
        "goto" => match http_url_problem(text) {
            Some(p) => {
                problem(ctx, p, "`goto` loads an `http://` or `https://` URL");
                None
            }
            None => Some(Step::Goto { url: text.clone() }),
        },
        "click" | "fill" => {
            if let Some(p) = selector_problem(text) {
                problem(ctx, p, "write a CSS selector such as `#login button`");
                return None;
            }
            if *action == "click" {
                return Some(Step::Click {
                    selector: text.clone(),
                });
            }
            let Some(value) = &s.value else {
                problem(
                    ctx,
                    "`fill` has no `value`".to_owned(),
                    "add `value = \"${PASSWORD}\"` (read from the environment) or the text to type",
                );
                return None;
            };
            Some(Step::Fill {
                selector: text.clone(),
                value: value.get().clone(),
            })
        }
        "press" if text.is_empty() => {
            problem(
                ctx,
                "the key is empty".to_owned(),
                "name a key: `Enter`, `Tab`, `a`",
            );
            None
        }
        "press" => Some(Step::Press { key: text.clone() }),
        "wait_for" => wait_for(ctx, what, value).map(|target| Step::WaitFor { target }),
        "expect_text" if text.trim().is_empty() => {
            problem(
                ctx,
                "the text is empty".to_owned(),
                "write the text the page must show",
            );
            None
        }
        "expect_text" => Some(Step::ExpectText { text: text.clone() }),
        _ => Some(Step::Screenshot { name: text.clone() }),
    }
}

#[cfg(test)]
mod tests {
    use super::selector_problem;

    #[test]
    fn selectors_with_unclosed_brackets_or_quotes_are_refused() {
        for good in [
            "#app",
            "a[href='/x']",
            "div:not(.a)",
            r#"input[name="a]b"]"#,
            r"a\[b",
        ] {
            assert_eq!(selector_problem(good), None, "{good}");
        }
        for bad in ["", "  ", "a[href", "div:not(.a", "a)", "a[x='y]", "a]"] {
            assert!(selector_problem(bad).is_some(), "{bad}");
        }
    }
}
