//! The MCP hub as the server holds it: the upstream specs built from the manifest's
//! `[services.X.mcp]` tables (credentials resolved from `${NAME}` environment references, never
//! shown), and `GET /api/v1/hub`, the upstreams with their state, protocol, tools and call
//! figures (what the dashboard's hub view shows). The hub itself is `iza_mcp::hub`.

use std::path::Path;

use axum::Json;
use axum::extract::State;
use iza_catalog::model::Catalog;
use iza_mcp::hub::{UpstreamSpec, UpstreamTransport};
use serde_json::{Value, json};

use crate::state::AppState;

/// Replaces each `${NAME}` in `text` with the environment variable (empty when unset).
fn expand(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match std::env::var(name) {
                    Ok(value) => out.push_str(&value),
                    Err(_) => {
                        tracing::warn!("MCP hub: the environment variable `{name}` is not set")
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The hub's upstreams: every service of `catalog` with an `mcp` table, in file order.
/// Commands run in `base` (the manifest's directory) unless the service names a `workdir`.
pub fn upstream_specs(catalog: &Catalog, base: &Path) -> Vec<UpstreamSpec> {
    catalog
        .services
        .values()
        .filter_map(|service| {
            let mcp = service.mcp.as_ref()?;
            let transport = match (&mcp.url, &mcp.command) {
                (Some(url), _) => UpstreamTransport::Http {
                    url: url.clone(),
                    headers: mcp
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), expand(v)))
                        .collect(),
                },
                (None, Some(command)) => {
                    let (program, args) = command.split_first()?;
                    // As for a supervised command, `iza` is this very binary.
                    let program = match std::env::current_exe() {
                        Ok(exe) if program == "iza" => exe.to_string_lossy().into_owned(),
                        _ => program.clone(),
                    };
                    UpstreamTransport::Stdio {
                        program,
                        args: args.to_vec(),
                        env: mcp
                            .env
                            .iter()
                            .map(|(k, v)| (k.clone(), expand(v)))
                            .collect(),
                        cwd: Some(match &service.workdir {
                            Some(dir) => base.join(dir),
                            None => base.to_path_buf(),
                        }),
                    }
                }
                (None, None) => return None,
            };
            Some(UpstreamSpec {
                name: service.id.clone(),
                transport,
                timeout: mcp.timeout,
                health_interval: mcp.health_interval,
                allow: mcp.allow.clone(),
                deny: mcp.deny.clone(),
                rate_limits: mcp
                    .rate_limits
                    .iter()
                    .map(|limit| {
                        (
                            limit.tool.clone(),
                            iza_mcp::ToolRate {
                                count: limit.count,
                                per: limit.per,
                            },
                        )
                    })
                    .collect(),
            })
        })
        .collect()
}

/// The JSON Schema of `GET /api/v1/hub`'s answer (for the OpenAPI document).
pub(crate) fn schema() -> Value {
    json!({
        "type": "object",
        "required": ["count", "up", "tools", "generation", "upstreams"],
        "properties": {
            "count": { "type": "integer" },
            "up": { "type": "integer" },
            "tools": { "type": "integer" },
            "generation": { "type": "integer" },
            "upstreams": { "type": "array", "items": { "type": "object",
                "required": ["name", "transport", "target", "state", "tools", "tool_count", "calls", "errors", "connects", "since_ms"],
                "properties": {
                    "name": { "type": "string" },
                    "transport": { "enum": ["http", "stdio"] },
                    "target": { "type": "string" },
                    "state": { "enum": ["connecting", "up", "down"] },
                    "protocol": { "type": ["string", "null"] },
                    "server": { "type": ["string", "null"] },
                    "tools": { "type": "array", "items": { "type": "string" } },
                    "tool_count": { "type": "integer" },
                    "calls": { "type": "integer" },
                    "errors": { "type": "integer" },
                    "connects": { "type": "integer" },
                    "since_ms": { "type": "integer" },
                    "reason": { "type": ["string", "null"] },
                    "collisions": { "type": "array", "items": { "type": "string" } }
                } } }
        }
    })
}

/// `GET /api/v1/hub`.
pub(crate) async fn hub(State(state): State<AppState>) -> Json<Value> {
    let upstreams = state.hub.status();
    let up = upstreams
        .iter()
        .filter(|u| u.state == iza_mcp::hub::UpstreamState::Up)
        .count();
    let tools: usize = upstreams.iter().map(|u| u.tool_count).sum();
    Json(json!({
        "count": upstreams.len(),
        "up": up,
        "tools": tools,
        "generation": state.hub.generation(),
        "upstreams": upstreams,
    }))
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn expands_environment_references() {
        // SAFETY-free: a variable only this test reads.
        let name = "IZA_HUB_TEST_EXPAND_7F3A";
        assert_eq!(expand(&format!("Bearer ${{{name}}}")), "Bearer ");
        assert_eq!(expand("plain"), "plain");
        assert_eq!(expand("a ${unterminated"), "a ${unterminated");
    }
}
