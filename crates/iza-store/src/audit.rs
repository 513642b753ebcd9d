//! The types of the audit log (docs/mcp.md, "The audit log"): one record per MCP tool call
//! (IZA's own tools and the hub's federated ones) and per mutating REST call, saying who
//! called (the token's name and scope, never the token), what (the tool, its upstream, its
//! arguments with secrets already masked by the caller), the decision and outcome, how long it
//! took and when. Every [`Store`](crate::Store) implementation keeps them; they are pruned with
//! the events ([`Retention::events`](crate::Retention)).

use serde::{Deserialize, Serialize};

use crate::Millis;

/// The most records one [`Store::audit`](crate::Store::audit) call returns.
pub const MAX_AUDIT_PAGE: usize = 1_000;

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditOutcome {
    /// It was made and succeeded.
    Ok,
    /// It was made and failed (a tool error, an upstream down, an API error).
    Error,
    /// It was refused: the caller's scope is too small, or its arguments were invalid.
    Denied,
    /// It was refused: over a rate limit.
    RateLimited,
}

impl AuditOutcome {
    /// The name stored and shown (`ok`, `error`, `denied`, `rate-limited`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Error => "error",
            AuditOutcome::Denied => "denied",
            AuditOutcome::RateLimited => "rate-limited",
        }
    }

    /// The outcome of a stored name.
    pub fn parse(text: &str) -> Option<AuditOutcome> {
        [
            AuditOutcome::Ok,
            AuditOutcome::Error,
            AuditOutcome::Denied,
            AuditOutcome::RateLimited,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}

/// One audited call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Assigned by the store, increasing; 0 before it is stored.
    pub id: i64,
    /// When the call was received.
    pub at: Millis,
    /// Where it came in: `mcp` (a tool call) or `api` (a mutating REST call).
    pub surface: String,
    /// Who called: the name of the token presented (`admin`, `operate`, `read`), or
    /// `anonymous`, or `stdio` (the local user of `iza mcp`). Never the token.
    pub client: String,
    /// The scope the caller had (`read`, `operate`, `admin`).
    pub scope: String,
    /// The tool as the client named it (`run_task`, `github__create_issue`), or the API call
    /// (`POST /api/v1/runs`).
    pub tool: String,
    /// The upstream MCP server of a federated tool.
    pub upstream: Option<String>,
    /// The arguments, with secrets masked (the store keeps what it is given).
    pub arguments: serde_json::Value,
    /// SHA-256 of the stored arguments (hex), to find identical calls.
    pub arguments_sha256: String,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// Why it was refused or failed, when it was.
    pub message: Option<String>,
}

/// Which records to read: newest first, before an id (for paging), optionally filtered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Only records with an id lower than this (the previous page's last id).
    pub before: Option<i64>,
    /// Only calls of this tool (exact name).
    pub tool: Option<String>,
    /// Only calls of this client (token name).
    pub client: Option<String>,
    /// Only calls that ended so.
    pub outcome: Option<AuditOutcome>,
    /// Only calls received at or after this time.
    pub since: Option<Millis>,
    /// At most this many (capped at [`MAX_AUDIT_PAGE`]; 0 reads nothing).
    pub limit: usize,
}
