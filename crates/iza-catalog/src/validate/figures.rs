//! Checks a service's `metrics` (business figures) and builds its [`Figure`]s: exactly one
//! source (`prometheus` or `json`), an http(s) URL, a well-formed series selector or JSON
//! path, a known `format` and `aggregate`, positive durations. Across services, a figure name
//! must aggregate one way, and a claim's `figure` must name a declared figure. Diagnostics use
//! `invalid-figure`, and `unknown-reference` for a claim's figure.

use std::collections::HashMap;
use std::time::Duration;

use super::Ctx;
use super::fields::{duration, http_url_problem};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::manifest::raw::{RawFigure, RawService};
use crate::manifest::spanned::Spanned;
use crate::model::{Aggregate, Figure, FigureSource, Format, LabelMatcher, Selector};

const DEFAULT_EVERY: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The figures of one service, in file order; a malformed one is reported and left out.
pub(super) fn service(ctx: &mut Ctx<'_>, service: &str, raw: &RawService) -> Vec<Figure> {
    raw.metrics
        .iter()
        .filter_map(|(name, figure)| build(ctx, service, name, figure))
        .collect()
}

fn build(
    ctx: &mut Ctx<'_>,
    service: &str,
    name: &Spanned<String>,
    spanned: &Spanned<RawFigure>,
) -> Option<Figure> {
    let raw = spanned.get();
    let what = format!("figure `{}` of service `{service}`", name.get());
    let mut ok = true;
    if !is_figure_name(name.get()) {
        ctx.push(
            Diagnostic::error(Code::InvalidFigure, format!("{what}: `{}` is not a figure name", name.get()))
                .at(name.span())
                .hint("a figure name is letters, digits and `_`, starting with a letter (`arr`, `monthly_revenue`); conditions read it as `[METRIC].<name>`"),
        );
        ok = false;
    }
    let source = match (&raw.prometheus, &raw.json) {
        (Some(url), None) => {
            ok &= url_ok(ctx, &what, url);
            let series = raw.series.as_ref();
            let text = series.map_or(name.get().as_str(), |s| s.get().as_str());
            let mut selector = match parse_selector(text) {
                Ok(selector) => Some(selector),
                Err(message) => {
                    ctx.push(
                        Diagnostic::error(Code::InvalidFigure, format!("{what}: `series`: {message}"))
                            .at(series.map_or(name.span(), Spanned::span))
                            .hint("write a metric name with optional label matchers: `business_arr_dollars{plan=\"pro\"}`"),
                    );
                    None
                }
            };
            if let (Some(selector), Some(labels)) = (&mut selector, &raw.labels) {
                for (label, value) in labels.get() {
                    if !is_label_name(label) {
                        ctx.push(
                            Diagnostic::error(
                                Code::InvalidFigure,
                                format!("{what}: `{label}` is not a Prometheus label name"),
                            )
                            .at(labels.span())
                            .hint("label names are letters, digits and `_`, not starting with a digit"),
                        );
                        ok = false;
                    }
                    selector.labels.push(LabelMatcher {
                        name: label.clone(),
                        equal: true,
                        value: value.clone(),
                    });
                }
            }
            selector.map(|selector| FigureSource::Prometheus {
                url: url.get().clone(),
                selector,
            })
        }
        (None, Some(json)) => {
            let json_ref = json.get();
            ok &= url_ok(ctx, &what, &json_ref.url);
            for (key, present) in [
                ("series", raw.series.is_some()),
                ("labels", raw.labels.is_some()),
            ] {
                if present {
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidFigure,
                            format!("{what}: `{key}` only goes with `prometheus`"),
                        )
                        .at(json.span())
                        .hint("a JSON figure is found by its `path`; remove `{key}`"),
                    );
                    ok = false;
                }
            }
            let text = json_ref.path.get();
            match text
                .trim()
                .strip_prefix('$')
                .ok_or_else(|| "a JSON path starts with `$`".to_owned())
                .and_then(|rest| crate::condition::path(rest).map_err(|e| e.message))
            {
                Ok(path) => Some(FigureSource::Json {
                    url: json_ref.url.get().clone(),
                    path_text: text.trim().to_owned(),
                    path,
                }),
                Err(message) => {
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidFigure,
                            format!("{what}: path `{text}`: {message}"),
                        )
                        .at(json_ref.path.span())
                        .hint(
                            "write `$` then `.key` and `[index]` steps: `$.arr`, `$.plans[0].mrr`",
                        ),
                    );
                    None
                }
            }
        }
        (Some(_), Some(json)) => {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidFigure,
                    format!("{what} has both `prometheus` and `json`"),
                )
                .at(json.span())
                .hint("a figure is read from one place; keep one of them"),
            );
            None
        }
        (None, None) => {
            ctx.push(
                Diagnostic::error(Code::InvalidFigure, format!("{what} says nowhere to read it"))
                    .at(spanned.span())
                    .hint("add `prometheus = \"http://host:port/metrics\"` or `json = { url = \"http://host:port/figures\", path = \"$.arr\" }`"),
            );
            None
        }
    };
    let format = raw.format.as_ref().map_or(Some(Format::default()), |f| {
        lookup(ctx, &what, "format", f, Format::NAMES)
    });
    let aggregate = raw
        .aggregate
        .as_ref()
        .map_or(Some(Aggregate::default()), |a| {
            lookup(ctx, &what, "aggregate", a, Aggregate::NAMES)
        });
    let every = match &raw.every {
        Some(every) => {
            let d = duration(
                ctx,
                Code::InvalidFigure,
                every,
                &format!("`every` of {what}"),
            );
            if d.is_some_and(|d| d < Duration::from_secs(1)) {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidFigure,
                        format!("`every` of {what} is under 1s"),
                    )
                    .at(every.span())
                    .hint("business figures change slowly; scrape them every `30s` or so"),
                );
                None
            } else {
                d
            }
        }
        None => Some(DEFAULT_EVERY),
    };
    let timeout = match &raw.timeout {
        Some(t) => duration(ctx, Code::InvalidFigure, t, &format!("`timeout` of {what}")),
        None => Some(DEFAULT_TIMEOUT),
    };
    let (Some(source), Some(format), Some(aggregate), Some(every), Some(timeout), true) =
        (source, format, aggregate, every, timeout, ok)
    else {
        return None;
    };
    Some(Figure {
        name: name.get().clone(),
        label: raw.label.clone().unwrap_or_else(|| name.get().clone()),
        source,
        unit: raw.unit.clone(),
        format,
        aggregate,
        every,
        timeout,
    })
}

/// Across services: one figure name aggregates one way; a claim's `figure` names a figure.
pub(super) fn ecosystem(ctx: &mut Ctx<'_>) {
    let raw = ctx.raw;
    let mut first: HashMap<&str, (&str, &str)> = HashMap::new();
    for (service, s) in &raw.services {
        for (name, figure) in &s.get().metrics {
            let aggregate = figure
                .get()
                .aggregate
                .as_ref()
                .map_or("sum", |a| a.get().as_str());
            match first.get(name.get().as_str()) {
                None => {
                    first.insert(name.get(), (service.get(), aggregate));
                }
                Some((other, theirs)) if *theirs != aggregate => {
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidFigure,
                            format!(
                                "figure `{}` aggregates by `{aggregate}` in service `{}` but by `{theirs}` in service `{other}`",
                                name.get(),
                                service.get()
                            ),
                        )
                        .at(figure.get().aggregate.as_ref().map_or(name.span(), Spanned::span))
                        .hint("figures of one name combine across groups and the ecosystem one way; give every service the same `aggregate`"),
                    );
                }
                Some(_) => {}
            }
        }
    }
    let Some(ecosystem) = &raw.ecosystem else {
        return;
    };
    for claim in &ecosystem.get().claims {
        if let Some(figure) = &claim.get().figure
            && !first.contains_key(figure.get().as_str())
        {
            let hint = match did_you_mean(figure.get(), first.keys().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "name a figure declared under a service's `metrics`".to_owned(),
            };
            ctx.push(
                Diagnostic::error(
                    Code::UnknownReference,
                    format!(
                        "claim `{}` names figure `{}`, which no service declares",
                        claim.get().label,
                        figure.get()
                    ),
                )
                .at(figure.span())
                .hint(hint),
            );
        }
    }
}

fn url_ok(ctx: &mut Ctx<'_>, what: &str, url: &Spanned<String>) -> bool {
    match http_url_problem(url.get()) {
        None => true,
        Some(problem) => {
            ctx.push(
                Diagnostic::error(Code::InvalidFigure, format!("{what}: {problem}"))
                    .at(url.span())
                    .hint("figures are read over HTTP: `http://127.0.0.1:8100/metrics`"),
            );
            false
        }
    }
}

fn lookup<T: Copy>(
    ctx: &mut Ctx<'_>,
    what: &str,
    key: &str,
    text: &Spanned<String>,
    names: &[(&'static str, T)],
) -> Option<T> {
    if let Some((_, value)) = names.iter().find(|(n, _)| *n == text.get()) {
        return Some(*value);
    }
    let all = names
        .iter()
        .map(|(n, _)| format!("`{n}`"))
        .collect::<Vec<_>>();
    let hint = match did_you_mean(text.get(), names.iter().map(|(n, _)| *n)) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!("`{key}` is one of {}", all.join(", ")),
    };
    ctx.push(
        Diagnostic::error(
            Code::InvalidFigure,
            format!("{what}: `{}` is not a {key}", text.get()),
        )
        .at(text.span())
        .hint(hint),
    );
    None
}

fn is_figure_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses `name`, `name{}` or `name{a="b", c!="d"}`.
pub(crate) fn parse_selector(text: &str) -> Result<Selector, String> {
    let text = text.trim();
    let (name, rest) = match text.find('{') {
        Some(open) => (text[..open].trim(), Some(&text[open + 1..])),
        None => (text, None),
    };
    if !is_metric_name(name) {
        return Err(format!("`{name}` is not a Prometheus metric name"));
    }
    let mut labels = Vec::new();
    if let Some(rest) = rest {
        let body = rest
            .strip_suffix('}')
            .ok_or_else(|| "`{` without a closing `}`".to_owned())?;
        let mut chars = body.trim();
        while !chars.is_empty() {
            let op_at = chars
                .find(['=', '!'])
                .ok_or_else(|| format!("`{chars}` is not a matcher `label=\"value\"`"))?;
            let label = chars[..op_at].trim();
            if !is_label_name(label) {
                return Err(format!("`{label}` is not a label name"));
            }
            let (equal, after) = if let Some(after) = chars[op_at..].strip_prefix("!=") {
                (false, after)
            } else if let Some(after) = chars[op_at..].strip_prefix('=') {
                if after.starts_with('~') {
                    return Err("regular-expression matchers (`=~`) are not supported".to_owned());
                }
                (true, after)
            } else {
                return Err(format!("`{}` is not `=` or `!=`", &chars[op_at..]));
            };
            let after = after.trim_start();
            let quoted = after
                .strip_prefix('"')
                .ok_or_else(|| format!("the value of `{label}` is not in double quotes"))?;
            let mut value = String::new();
            let mut end = None;
            let mut escaped = false;
            for (i, c) in quoted.char_indices() {
                match (escaped, c) {
                    (true, 'n') => {
                        value.push('\n');
                        escaped = false;
                    }
                    (true, c) => {
                        value.push(c);
                        escaped = false;
                    }
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        end = Some(i);
                        break;
                    }
                    (false, c) => value.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("the value of `{label}` has no closing quote"))?;
            labels.push(LabelMatcher {
                name: label.to_owned(),
                equal,
                value,
            });
            chars = quoted[end + 1..].trim_start();
            if let Some(next) = chars.strip_prefix(',') {
                chars = next.trim_start();
            } else if !chars.is_empty() {
                return Err(format!("expected `,` or `}}` before `{chars}`"));
            }
        }
    }
    Ok(Selector {
        name: name.to_owned(),
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_selectors() {
        let s = parse_selector(r#"business_arr{service="aiboss", plan!="free"}"#).unwrap();
        assert_eq!(s.name, "business_arr");
        assert_eq!(s.labels.len(), 2);
        assert!(s.labels[0].equal && s.labels[0].value == "aiboss");
        assert!(!s.labels[1].equal && s.labels[1].value == "free");
        assert_eq!(
            s.to_string(),
            r#"business_arr{service="aiboss",plan!="free"}"#
        );
        assert_eq!(parse_selector("up{}").unwrap().labels.len(), 0);
        assert_eq!(
            parse_selector(r#"x{a="q\"uote,}"}"#).unwrap().labels[0].value,
            "q\"uote,}"
        );
        for bad in [
            "",
            "1abc",
            "x{a=b}",
            "x{a=\"b\"",
            "x{a=~\"b\"}",
            "x{a=\"b\" c=\"d\"}",
        ] {
            assert!(parse_selector(bad).is_err(), "{bad}");
        }
    }
}
