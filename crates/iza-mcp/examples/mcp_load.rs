//! The load client of `bench/mcp-hub.sh`: calls one MCP tool over streamable HTTP, the same
//! way against every target (the upstream directly, IZA's hub, ContextForge), so that the
//! figures compare. One pooled hyper HTTP/1.1 client with keep-alive connections
//! (`TCP_NODELAY`), on a single-threaded tokio runtime (the client takes at most one of the
//! machine's cores).
//!
//! 1. Set-up: in `--session` mode, `initialize` (protocol 2025-06-18) then
//!    `notifications/initialized`, and every later request carries the `Mcp-Session-Id` the
//!    server gave (if any) and the negotiated `MCP-Protocol-Version`; otherwise the stateless
//!    2026-07-28 generation (no handshake; `_meta` and the `Mcp-Method`/`Mcp-Name` headers in
//!    each request).
//! 2. `WARMUP` calls (200), not measured.
//! 3. Latency: `N` calls one at a time, each from the request's send to the end of its
//!    response's body (JSON or an SSE stream); p50 and p99.
//! 4. Throughput: `N` calls again with `C` in flight; calls/s = N / wall time.
//!
//! Every response is checked: HTTP 200, a JSON-RPC `result` without `"isError":true`, and
//! (with `--expect TEXT`) the text in the body, so a gateway that answers quickly with an
//! error is not measured as fast. Prints one JSON line.
//!
//! Usage: `mcp_load URL TOOL ARGS_JSON N C [--token T] [--session] [--expect TEXT]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::header::{HeaderMap, HeaderValue};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const WARMUP: usize = 200;
/// A call without a whole answer by then fails the run.
const TIMEOUT: Duration = Duration::from_secs(30);

type Http = Client<HttpConnector, Full<Bytes>>;

struct Target {
    http: Http,
    url: http::Uri,
    headers: HeaderMap,
    /// The request body without its opening brace and its id, built once: every call has
    /// its own id (calls in flight in one session must not share one).
    body_rest: String,
    next_id: AtomicU64,
    expect: Option<String>,
}

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("mcp_load: {message}");
    std::process::exit(1);
}

fn header(value: &str) -> HeaderValue {
    value
        .parse()
        .unwrap_or_else(|_| fail(format!("not a header value: {value}")))
}

/// One POST: status, the response's headers, its whole body as text.
async fn post(
    http: &Http,
    url: &http::Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> (u16, HeaderMap, String) {
    let mut request = http::Request::post(url.clone())
        .body(Full::new(body))
        .unwrap_or_else(|e| fail(format!("request: {e}")));
    *request.headers_mut() = headers.clone();
    let exchange = async {
        let response = http
            .request(request)
            .await
            .unwrap_or_else(|e| fail(format!("request failed: {e}")));
        let (parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .unwrap_or_else(|e| fail(format!("reading a response failed: {e}")))
            .to_bytes();
        (parts, bytes)
    };
    let (parts, bytes) = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| fail(format!("no answer within {TIMEOUT:?}")));
    (
        parts.status.as_u16(),
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// The JSON-RPC messages of a response: the body itself (`application/json`) or each SSE
/// event's `data:` (`text/event-stream`).
fn messages(content_type: &str, body: &str) -> Vec<Value> {
    if content_type.starts_with("text/event-stream") {
        body.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str(data.trim()).ok())
            .collect()
    } else {
        serde_json::from_str(body).into_iter().collect()
    }
}

impl Target {
    /// One call: the time from send to the end of the body. Exits on a failed call.
    async fn call(&self) -> Duration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = Bytes::from(format!("{{\"id\":{id},{}", self.body_rest));
        let start = Instant::now();
        let (status, _, text) = post(&self.http, &self.url, &self.headers, body).await;
        let elapsed = start.elapsed();
        let ok = status == 200
            && text.contains("\"result\"")
            && !text.contains("\"isError\":true")
            && !text.contains("\"isError\": true")
            && self.expect.as_deref().is_none_or(|e| text.contains(e));
        if !ok {
            fail(format!(
                "call failed: HTTP {status}: {}",
                text.chars().take(400).collect::<String>()
            ));
        }
        elapsed
    }
}

/// `initialize` + `notifications/initialized`: the session id (if the server gave one) and
/// the negotiated protocol version.
async fn handshake(http: &Http, url: &http::Uri, headers: &HeaderMap) -> (Option<String>, String) {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "iza-bench", "version": "1"}}});
    let (status, answer, text) = post(http, url, headers, init.to_string().into()).await;
    let session = answer
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = answer
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let version = messages(content_type, &text)
        .iter()
        .find_map(|m| {
            m.pointer("/result/protocolVersion")?
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| fail(format!("initialize: HTTP {status}: {text}")));
    let mut headers = headers.clone();
    if let Some(id) = &session {
        headers.insert("mcp-session-id", header(id));
    }
    headers.insert("mcp-protocol-version", header(&version));
    let done = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let (status, _, _) = post(http, url, &headers, done.to_string().into()).await;
    if !(200..300).contains(&status) {
        fail(format!("notifications/initialized: HTTP {status}"));
    }
    (session, version)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p) as usize).min(sorted.len() - 1);
    sorted[index].as_secs_f64() * 1000.0
}

async fn run() {
    let mut positional = Vec::new();
    let (mut token, mut session_mode, mut expect) = (None, false, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--token" => token = args.next(),
            "--session" => session_mode = true,
            "--expect" => expect = args.next(),
            _ => positional.push(arg),
        }
    }
    let [url, tool, arguments, n, c] = <[String; 5]>::try_from(positional).unwrap_or_else(|_| {
        fail("usage: mcp_load URL TOOL ARGS_JSON N C [--token T] [--session] [--expect TEXT]")
    });
    let arguments: Value =
        serde_json::from_str(&arguments).unwrap_or_else(|e| fail(format!("ARGS_JSON: {e}")));
    let n: usize = n.parse().unwrap_or_else(|_| fail("N: not a number"));
    let c: usize = c.parse().unwrap_or_else(|_| fail("C: not a number"));
    if n == 0 || c == 0 {
        fail("N and C must be at least 1");
    }

    let url: http::Uri = url.parse().unwrap_or_else(|e| fail(format!("URL: {e}")));
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let http: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(c)
        .build(connector);
    let mut headers = HeaderMap::new();
    headers.insert("content-type", header("application/json"));
    headers.insert("accept", header("application/json, text/event-stream"));
    if let Some(token) = &token {
        headers.insert("authorization", header(&format!("Bearer {token}")));
    }
    let mut params = json!({"name": tool, "arguments": arguments});
    let mode;
    if session_mode {
        let (session, version) = handshake(&http, &url, &headers).await;
        if let Some(id) = &session {
            headers.insert("mcp-session-id", header(id));
        }
        headers.insert("mcp-protocol-version", header(&version));
        mode = format!(
            "session {version}{}",
            if session.is_some() {
                ""
            } else {
                " (no session id)"
            }
        );
    } else {
        headers.insert("mcp-protocol-version", header("2026-07-28"));
        headers.insert("mcp-method", header("tools/call"));
        headers.insert("mcp-name", header(&tool));
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "iza-bench", "version": "1"},
        });
        mode = "stateless 2026-07-28".to_owned();
    }
    let body = json!({"jsonrpc": "2.0", "method": "tools/call", "params": params}).to_string();
    let target = Arc::new(Target {
        http,
        url,
        headers,
        body_rest: body[1..].to_owned(),
        next_id: AtomicU64::new(1),
        expect,
    });

    for _ in 0..WARMUP.min(n) {
        target.call().await;
    }
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        latencies.push(target.call().await);
    }
    latencies.sort_unstable();

    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..c)
        .map(|_| {
            let (target, next) = (target.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    target.call().await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker
            .await
            .unwrap_or_else(|e| fail(format!("worker: {e}")));
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "p50_ms": (percentile(&latencies, 0.50) * 1000.0).round() / 1000.0,
            "p99_ms": (percentile(&latencies, 0.99) * 1000.0).round() / 1000.0,
            "calls_per_s": rate.round(),
            "n": n, "c": c, "mode": mode,
        })
    );
}

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(format!("runtime: {e}")))
        .block_on(run());
}
