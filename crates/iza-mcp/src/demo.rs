//! [`DemoMcp`]: the small MCP server of `iza demo-service --mcp` (a demo workload, honestly
//! labelled: its tools read nothing but the demo process itself). It speaks real MCP through
//! rmcp, in both generations, and its tool list can change at run time (`toggle_extra` adds or
//! removes the tool `extra` and tells every client, `notifications/tools/list_changed` in a
//! session and on a 2026-07-28 subscription), so the hub's propagation can be seen and tested.
//! It also offers resources: `demo://info` (what `service_info` answers), the template
//! `demo://echo/{text}` (the text back), and `demo://extra` while the extra tool is on (its
//! appearance is told as `notifications/resources/list_changed`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate, ServerCapabilities, ServerConfig, SubscriptionFilter, Tool,
    ToolAnnotations,
};
use rmcp::service::{
    NotificationContext, Peer, RequestContext, SubscriptionContext, SubscriptionSink,
};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};

struct State {
    name: String,
    started: Instant,
    calls: AtomicU64,
    extra: AtomicBool,
    peers: Mutex<Vec<Peer<RoleServer>>>,
    sinks: Mutex<Vec<SubscriptionSink>>,
}

/// The demo MCP server. Cheap to clone (one per session).
#[derive(Clone)]
pub struct DemoMcp {
    state: Arc<State>,
}

fn schema(value: Value) -> Arc<serde_json::Map<String, Value>> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::default(),
    }
}

impl DemoMcp {
    /// A demo server named `name`.
    pub fn new(name: impl Into<String>) -> DemoMcp {
        DemoMcp {
            state: Arc::new(State {
                name: name.into(),
                started: Instant::now(),
                calls: AtomicU64::new(0),
                extra: AtomicBool::new(false),
                peers: Mutex::default(),
                sinks: Mutex::default(),
            }),
        }
    }

    fn tools(&self) -> Vec<Tool> {
        let read = |title: &str| ToolAnnotations::with_title(title).read_only(true);
        let mut tools = vec![
            Tool::new(
                "echo",
                "Answers the text it is given (a demo tool).",
                schema(json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})),
            )
            .with_annotations(read("Echo")),
            Tool::new(
                "add",
                "Adds two numbers (a demo tool).",
                schema(json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]})),
            )
            .with_annotations(read("Add")),
            Tool::new(
                "service_info",
                "This demo MCP server's name, pid, uptime and call count.",
                schema(json!({"type": "object", "properties": {}})),
            )
            .with_annotations(read("Service info")),
            Tool::new(
                "toggle_extra",
                "Adds the tool `extra`, or removes it, and tells every client that the tool list changed.",
                schema(json!({"type": "object", "properties": {}})),
            ),
        ];
        if self.state.extra.load(Ordering::SeqCst) {
            tools.push(
                Tool::new(
                    "extra",
                    "A tool that comes and goes with `toggle_extra`.",
                    schema(json!({"type": "object", "properties": {}})),
                )
                .with_annotations(read("Extra")),
            );
        }
        tools
    }

    async fn notify(&self) {
        let peers: Vec<_> = self
            .state
            .peers
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        let sinks: Vec<_> = self
            .state
            .sinks
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        for peer in peers.iter().filter(|p| !p.is_transport_closed()) {
            let _ = peer.notify_tool_list_changed().await;
            let _ = peer.notify_resource_list_changed().await;
        }
        for sink in sinks {
            let _ = sink.notify_tool_list_changed().await;
            let _ = sink.notify_resource_list_changed().await;
        }
    }

    fn info(&self) -> Value {
        json!({
            "name": self.state.name,
            "pid": std::process::id(),
            "uptime_ms": u64::try_from(self.state.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "calls": self.state.calls.load(Ordering::Relaxed),
            "demo": true,
        })
    }

    fn resources(&self) -> Vec<Resource> {
        let mut resources = vec![
            Resource::new("demo://info", "info")
                .with_description("This demo MCP server's name, pid, uptime and call count (JSON).")
                .with_mime_type("application/json"),
        ];
        if self.state.extra.load(Ordering::SeqCst) {
            resources.push(
                Resource::new("demo://extra", "extra")
                    .with_description("Present while the extra tool is on.")
                    .with_mime_type("text/plain"),
            );
        }
        resources
    }
}

impl ServerHandler for DemoMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_resources()
                .enable_resources_list_changed()
                .build(),
        )
        .with_server_info(
            Implementation::new(self.state.name.clone(), env!("CARGO_PKG_VERSION"))
                .with_description("an iza demo MCP server (a demo workload)"),
        )
        .with_instructions(
            "A demo MCP server of `iza demo-service --mcp`: its tools read only the demo process.",
        )
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        if let Ok(mut peers) = self.state.peers.lock() {
            peers.retain(|p| !p.is_transport_closed());
            peers.push(context.peer);
        }
    }

    fn accepted_subscription_filter(
        &self,
        _requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(
            SubscriptionFilter::builder()
                .tools_list_changed()
                .resources_list_changed()
                .build(),
        )
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let sink = context.sink().clone();
        if let Ok(mut sinks) = self.state.sinks.lock() {
            sinks.push(sink.clone());
        }
        context.cancelled().await;
        if let Ok(mut sinks) = self.state.sinks.lock() {
            sinks.retain(|s| s.id() != sink.id());
        }
        Ok(())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools().into_iter().find(|t| t.name == name)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(self.resources()))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("demo://echo/{text}", "echo")
                .with_description("The text of the URI, back.")
                .with_mime_type("text/plain"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        self.read_uri(&request.uri).map(Into::into)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        self.state.calls.fetch_add(1, Ordering::Relaxed);
        let args = request.arguments.unwrap_or_default();
        let result = match request.name.as_ref() {
            "echo" => {
                let text = args.get("text").and_then(Value::as_str).ok_or_else(|| {
                    McpError::invalid_params("`echo` needs `text`, a string", None)
                })?;
                CallToolResult::structured(json!({ "text": text }))
            }
            "add" => {
                let number = |key: &str| {
                    args.get(key).and_then(Value::as_f64).ok_or_else(|| {
                        McpError::invalid_params(format!("`add` needs `{key}`, a number"), None)
                    })
                };
                CallToolResult::structured(json!({ "sum": number("a")? + number("b")? }))
            }
            "service_info" => CallToolResult::structured(self.info()),
            "toggle_extra" => {
                let now = !self.state.extra.fetch_xor(true, Ordering::SeqCst);
                self.notify().await;
                CallToolResult::structured(json!({ "extra": now }))
            }
            "extra" if self.state.extra.load(Ordering::SeqCst) => {
                CallToolResult::structured(json!({ "extra": true }))
            }
            other => {
                return Err(McpError::invalid_params(format!("no tool `{other}`"), None));
            }
        };
        Ok(result.into())
    }
}

impl DemoMcp {
    /// One resource's contents, or `resource_not_found`.
    fn read_uri(&self, uri: &str) -> Result<ReadResourceResult, McpError> {
        let text = match uri {
            "demo://info" => self.info().to_string(),
            "demo://extra" if self.state.extra.load(Ordering::SeqCst) => "extra".to_owned(),
            _ => match uri.strip_prefix("demo://echo/") {
                Some(text) => text.to_owned(),
                None => {
                    return Err(McpError::resource_not_found(
                        format!("no resource `{uri}`"),
                        Some(json!({ "uri": uri })),
                    ));
                }
            },
        };
        Ok(ReadResourceResult::new(vec![ResourceContents::text(
            text, uri,
        )]))
    }
}

/// The streamable-HTTP service of a demo MCP server (both generations; no Host check: the
/// demo listens on loopback).
pub fn demo_http_service(
    name: &str,
    shutdown: crate::Shutdown,
) -> rmcp::transport::streamable_http_server::StreamableHttpService<
    DemoMcp,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
> {
    let config = rmcp::transport::streamable_http_server::StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_sse_keep_alive(Some(std::time::Duration::from_secs(15)))
        .with_legacy_session_mode(true)
        .with_cancellation_token(shutdown);
    let handler = DemoMcp::new(name);
    rmcp::transport::streamable_http_server::StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(
            rmcp::transport::streamable_http_server::session::local::LocalSessionManager::default(),
        ),
        config,
    )
}

/// Serves a demo MCP server over stdin and stdout until the client closes them.
pub async fn serve_demo_stdio(name: &str) -> std::io::Result<()> {
    use rmcp::ServiceExt as _;
    let running = DemoMcp::new(name)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    running.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}
