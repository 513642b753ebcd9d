//! The two ways IZA's MCP server is reached: stdio ([`serve_stdio`], for `iza mcp`) and
//! streamable HTTP ([`http_service`], the tower service `iza-server` mounts at `/mcp`). Both
//! serve the 2026-07-28 revision statelessly and the session revisions with `Mcp-Session-Id`
//! (rmcp's `legacy_session_mode`), on one handler.

use std::sync::Arc;
use std::time::Duration;

use rmcp::ServiceExt as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::backend::Backend;
use crate::handler::IzaMcp;
use crate::scope::Scope;

/// The tower service of `/mcp`.
pub type McpHttpService = StreamableHttpService<IzaMcp, LocalSessionManager>;

/// Ends every MCP session and stream (a server that stops must not wait for them).
pub type Shutdown = tokio_util::sync::CancellationToken;

/// Settings of the HTTP endpoint.
#[derive(Clone)]
pub struct HttpOptions {
    /// The largest request body, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Cancelled when the server stops.
    pub shutdown: Shutdown,
    /// The scope of a request without a [`crate::Caller`] (the host attaches one to every
    /// request it let through; this is a fallback).
    pub default_scope: Scope,
    /// The upstream MCP servers federated behind the endpoint.
    pub hub: crate::hub::Hub,
    /// Where every tool call is reported (the audit log).
    pub audit: Option<Arc<dyn crate::audit::AuditSink>>,
    /// Per-tool rate limits over namespaced tool names.
    pub tool_limits: crate::audit::ToolLimits,
}

/// The streamable HTTP service over `backend`. The host (its Host/Origin policy, its bearer
/// tokens, its connection limits) is the caller's: rmcp's own Host check is turned off so that
/// there is one policy, the server's (`iza-server`'s `host.rs`).
pub fn http_service(backend: Arc<dyn Backend>, options: HttpOptions) -> McpHttpService {
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_legacy_session_mode(true)
        // A 2026-07-28 call whose first message is its answer is answered as one JSON body,
        // not as an SSE stream of one event (rmcp falls back to SSE when the handler sends
        // anything before its answer): less work per call, and one write.
        .with_json_response(true)
        .with_cancellation_token(options.shutdown);
    let handler = IzaMcp::new(backend, options.default_scope)
        .with_hub(options.hub)
        .with_audit(options.audit)
        .with_tool_limits(options.tool_limits);
    StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// Serves MCP over this process's stdin and stdout until the client closes them. Every call
/// has `scope` (the local user's).
pub async fn serve_stdio(backend: Arc<dyn Backend>, scope: Scope) -> std::io::Result<()> {
    let handler = IzaMcp::new(backend, scope);
    let running = handler
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    running.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}
