//! `[services.X.mcp]`: the MCP server the hub federates. Exactly one of `url` (http or https)
//! and `command` (non-empty); durations positive.

use std::time::Duration;

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::raw::RawMcp;
use crate::manifest::spanned::Spanned;
use crate::model::McpUpstream;

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
    Some(McpUpstream {
        url: m.url.as_ref().map(|u| u.get().clone()),
        command: m.command.as_ref().map(|c| c.get().clone()),
        env: m.env.clone(),
        headers: m.headers.clone(),
        timeout,
        health_interval,
        allow: m.allow.clone(),
        deny: m.deny.clone(),
    })
}
