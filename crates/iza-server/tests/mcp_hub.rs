//! The MCP hub under concurrent calls, through the whole path: a client's `tools/call` on IZA's
//! `/mcp` (a real listener, `iza_server::serve`), the hub's client of the upstream, and an
//! upstream MCP server (rmcp over streamable HTTP) whose one tool answers only once it has seen
//! `K` calls of the same round at once. If anything on the way (the server, the handler, the
//! audit, the hub's upstream connection) let one call through at a time, the first call would
//! wait for the others forever: the upstream gives up at its deadline and answers an error
//! saying how many calls it saw together, and the test fails with it. No timing is measured.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iza_catalog::export::ports::PortMap;
use iza_catalog::{SourceFile, Syntax};
use iza_mcp::hub::{Hub, HubOptions, UpstreamSpec, UpstreamState, UpstreamTransport};
use iza_probe::{Prober, ProberOptions};
use iza_runtime::{Launcher, Monitor, MonitorOptions};
use iza_server::{AppState, CatalogView, Limits, router, serve};
use iza_store::{SqliteStore, Store};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Calls in flight at once, in each round: more than rmcp's client lets through by default
/// (16 POSTs at once per connection), which the hub raises.
const K: usize = 32;
/// How long the upstream's tool waits for the others of its round before it gives up.
const GATE: Duration = Duration::from_secs(15);
/// How long the whole test may take at most (a serialised hub fails by `GATE` instead).
const DEADLINE: Duration = Duration::from_secs(60);

/// The upstream: its tool `gate` counts the calls of each round (`{"round": "..."}`) and
/// answers each once `K` of that round have arrived.
#[derive(Clone, Default)]
struct GateUpstream {
    seen: Arc<Mutex<HashMap<String, usize>>>,
    arrived: Arc<Notify>,
}

impl GateUpstream {
    fn count(&self, round: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .get(round)
            .copied()
            .unwrap_or_default()
    }

    fn tool() -> Tool {
        let schema = json!({"type": "object", "properties": {"round": {"type": "string"}}});
        let Value::Object(schema) = schema else {
            unreachable!()
        };
        Tool::new(
            "gate",
            "Answers once K calls of its round are in flight.",
            Arc::new(schema),
        )
        .with_annotations(ToolAnnotations::with_title("Gate").read_only(true))
    }
}

impl ServerHandler for GateUpstream {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(vec![GateUpstream::tool()]))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        (name == "gate").then(GateUpstream::tool)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let round = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("round"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        *self.seen.lock().unwrap().entry(round.clone()).or_default() += 1;
        self.arrived.notify_waiters();
        let deadline = Instant::now() + GATE;
        loop {
            let arrived = self.arrived.notified();
            let seen = self.count(&round);
            if seen >= K {
                return Ok(
                    CallToolResult::structured(json!({ "round": round, "together": seen })).into(),
                );
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                let seen = self.count(&round);
                return Ok(CallToolResult::structured_error(json!({
                    "error": format!("only {seen} of {K} calls of `{round}` reached the upstream together")
                }))
                .into());
            }
        }
    }
}

/// Serves the upstream on 127.0.0.1; its `/mcp` URL.
async fn start_upstream() -> String {
    let config = StreamableHttpServerConfig::default().disable_allowed_hosts();
    let upstream = GateUpstream::default();
    let service = StreamableHttpService::new(
        move || Ok(upstream.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let app = axum::Router::new().route_service("/mcp", service);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/mcp")
}

/// IZA's server over an empty catalog, federating `upstream`; its address and the hub.
async fn start_iza(upstream: String) -> (String, Hub) {
    let source = SourceFile::new(
        "iza.toml",
        "version = 1\n[services.a]\n".to_owned(),
        Syntax::Toml,
    );
    let catalog = Arc::new(iza_catalog::check(&source).catalog.unwrap());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let monitor = Arc::new(
        Monitor::start(
            catalog.clone(),
            Arc::new(Prober::new(ProberOptions::default())),
            store.clone(),
            MonitorOptions::default(),
        )
        .await
        .unwrap(),
    );
    let hub = Hub::start(
        vec![UpstreamSpec {
            name: "gate".to_owned(),
            transport: UpstreamTransport::Http {
                url: upstream,
                headers: Vec::new(),
            },
            timeout: DEADLINE,
            health_interval: Duration::from_secs(3600),
            allow: Vec::new(),
            deny: Vec::new(),
            rate_limits: Vec::new(),
        }],
        HubOptions {
            launcher: Launcher::direct(),
            http: http_client(),
        },
    );
    let state = AppState::new(
        monitor,
        store,
        CatalogView::new(catalog, &PortMap::default()),
    )
    .with_hub(hub.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(serve(
        listener,
        router(state),
        Limits::default(),
        std::future::pending(),
    ));
    let deadline = Instant::now() + DEADLINE;
    while hub.status()[0].state != UpstreamState::Up {
        assert!(
            Instant::now() < deadline,
            "the upstream never came up: {:?}",
            hub.status()[0].reason
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (format!("http://{address}/mcp"), hub)
}

/// An HTTP client (reqwest without a default TLS provider: IZA's verifying one).
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(iza_probe::verifying_tls_config().unwrap())
        .build()
        .unwrap()
}

/// The JSON-RPC messages of a response body: JSON, or the `data:` of each SSE event.
fn messages(body: &str) -> Vec<Value> {
    match serde_json::from_str(body) {
        Ok(value) => vec![value],
        Err(_) => body
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str(data.trim()).ok())
            .collect(),
    }
}

/// POSTs one JSON-RPC message to IZA's `/mcp`: the response's headers and messages.
async fn post(
    http: &reqwest::Client,
    url: &str,
    headers: &[(&str, String)],
    body: Value,
) -> (reqwest::header::HeaderMap, Vec<Value>) {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "HTTP {}", response.status());
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (headers, messages(&text))
}

/// The request headers and `_meta` of a round's calls in `generation`.
async fn set_up(
    http: &reqwest::Client,
    url: &str,
    generation: &str,
) -> (Vec<(&'static str, String)>, Value) {
    match generation {
        "2026-07-28" => (
            vec![
                ("mcp-protocol-version", "2026-07-28".to_owned()),
                ("mcp-method", "tools/call".to_owned()),
                ("mcp-name", "gate__gate".to_owned()),
            ],
            json!({
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
            }),
        ),
        session => {
            let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": session, "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"}}});
            let (answer, _) = post(http, url, &[], init).await;
            let id = answer
                .get("mcp-session-id")
                .expect("a session id")
                .to_str()
                .unwrap()
                .to_owned();
            let headers = vec![
                ("mcp-session-id", id),
                ("mcp-protocol-version", session.to_owned()),
            ];
            let done = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
            post(http, url, &headers, done).await;
            (headers, json!({}))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_through_the_hub_overlap_at_the_upstream() {
    let upstream = start_upstream().await;
    let (url, hub) = start_iza(upstream).await;
    let http = http_client();
    // Each round: K calls of one generation sent at once; the upstream answers none of them
    // before it has seen all K.
    for generation in ["2026-07-28", "2025-06-18"] {
        let (headers, meta) = set_up(&http, &url, generation).await;
        let calls = (0..K).map(|id| {
            let (http, url, headers) = (http.clone(), url.clone(), headers.clone());
            let call = json!({"jsonrpc": "2.0", "id": id + 1, "method": "tools/call", "params": {
                "name": "gate__gate", "arguments": {"round": generation}, "_meta": meta}});
            tokio::spawn(async move { post(&http, &url, &headers, call).await.1 })
        });
        let answers = tokio::time::timeout(DEADLINE, futures_util::future::join_all(calls))
            .await
            .unwrap_or_else(|_| panic!("{generation}: the calls did not end within {DEADLINE:?}"));
        for answer in answers {
            let answer = answer.unwrap();
            let result = answer
                .iter()
                .find_map(|m| m.get("result"))
                .unwrap_or_else(|| panic!("{generation}: no result in {answer:?}"));
            assert_ne!(
                result.get("isError"),
                Some(&Value::Bool(true)),
                "{generation}: {result}"
            );
            assert_eq!(
                result.pointer("/structuredContent/together"),
                Some(&json!(K)),
                "{generation}: {result}"
            );
        }
    }
    hub.shutdown().await;
}
