//! `[services.X.mcp]`: the MCP server the hub federates. Exactly one of `url` (http or https)
//! and `command` (non-empty); durations positive.

use std::time::Duration;

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::raw::RawMcp;
use crate::manifest::spanned::Spanned;
use crate::model::{McpRateLimit, McpUpstream};

/// The default time a federated call may take.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default interval of an HTTP upstream's health listing.
pub(super) const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(5);

pub(super) fn upstream(ctx: &mut Ctx<'_>, id: &str, raw: &Spanned<RawMcp>) -> Option<McpUpstream> {
    let m = raw.get();
    match (&m.url, &m.command) {
        (Some(_), Some(_)) | (None, None) => {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("the `mcp` table of service `{id}` must have exactly one of `url` and `command`"),
                )
                .at(raw.span())
                .hint("`mcp = { url = \"http://127.0.0.1:8301/mcp\" }` or `mcp = { command = [\"npx\", \"server\"] }`"),
            );
            return None;
        }
        (Some(url), None) => {
            let ok =
                url::Url::parse(url.get()).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!(
                            "the MCP URL `{}` of service `{id}` is not an http or https URL",
                            url.get()
                        ),
                    )
                    .at(url.span())
                    .hint("write it like `http://127.0.0.1:8301/mcp`"),
                );
                return None;
            }
        }
        (None, Some(command)) => {
            if command.get().first().is_none_or(|p| p.trim().is_empty()) {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("the MCP `command` of service `{id}` is empty"),
                    )
                    .at(command.span())
                    .hint("give the program first: `command = [\"npx\", \"-y\", \"@modelcontextprotocol/server-everything\"]`"),
                );
                return None;
            }
        }
    }
    let timeout = match &m.timeout {
        Some(t) => super::fields::duration(ctx, Code::InvalidValue, t, "the MCP `timeout`")?,
        None => DEFAULT_TIMEOUT,
    };
    let health_interval = match &m.health_interval {
        Some(t) => {
            super::fields::duration(ctx, Code::InvalidValue, t, "the MCP `health_interval`")?
        }
        None => DEFAULT_HEALTH_INTERVAL,
    };
    let mut rate_limits = Vec::new();
    if let Some(table) = &m.rate_limits {
        for (tool, text) in table.get() {
            match parse_rate(text) {
                Ok((count, per)) => rate_limits.push(McpRateLimit {
                    tool: tool.clone(),
                    count,
                    per,
                }),
                Err(reason) => {
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidValue,
                            format!(
                                "the MCP rate limit of `{tool}` of service `{id}` is not a rate: {reason}"
                            ),
                        )
                        .at(table.span())
                        .hint("write it like `rate_limits = { \"create_issue\" = \"10/m\" }` (units `s`, `m`, `h`)"),
                    );
                    return None;
                }
            }
        }
    }
    Some(McpUpstream {
        url: m.url.as_ref().map(|u| u.get().clone()),
        command: m.command.as_ref().map(|c| c.get().clone()),
        env: m.env.clone(),
        headers: m.headers.clone(),
        timeout,
        health_interval,
        allow: m.allow.clone(),
        deny: m.deny.clone(),
        rate_limits,
    })
}

/// A rate, `N/s`, `N/m` (`N/min`) or `N/h` with `N` a positive whole number.
pub(crate) fn parse_rate(text: &str) -> Result<(u32, Duration), String> {
    let (count, unit) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` has no `/`; write it like `10/m`"))?;
    let count: u32 = count
        .trim()
        .parse()
        .ok()
        .filter(|c| *c > 0)
        .ok_or_else(|| format!("`{}` is not a positive whole number", count.trim()))?;
    let per = match unit.trim() {
        "s" | "sec" => Duration::from_secs(1),
        "m" | "min" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        other => return Err(format!("`{other}` is not a unit; use `s`, `m` or `h`")),
    };
    Ok((count, per))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_bad_ones_say_why() {
        assert_eq!(parse_rate("10/m"), Ok((10, Duration::from_secs(60))));
        assert_eq!(parse_rate(" 5 / s "), Ok((5, Duration::from_secs(1))));
        assert_eq!(parse_rate("1/h"), Ok((1, Duration::from_secs(3600))));
        assert!(parse_rate("10").unwrap_err().contains("no `/`"));
        assert!(parse_rate("0/m").unwrap_err().contains("positive"));
        assert!(parse_rate("3/day").unwrap_err().contains("not a unit"));
    }
}
