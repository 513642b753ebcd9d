//! End to end: IZA's MCP server. A real `iza serve` of fixtures/mcp/ answers `/mcp` in both
//! protocol generations (the session handshake of 2025-11-25 and the stateless 2026-07-28
//! requests), hides and refuses tools by the scope of the bearer token, and keeps its Host
//! policy; then the Python `mcp` SDK (an independent client, installed by
//! scripts/mcp-clients.sh) lists and calls every tool in its three modes over HTTP and over
//! stdio (`iza mcp`), with the server running and without it. The `mcp` check kind probes
//! that `/mcp` in both generations.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn iza(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iza"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A running `iza serve` (the shared harness: interrupted, then killed, when dropped).
fn serve(dir: &Path) -> Server {
    serve_with(dir, &[])
}

fn serve_with(dir: &Path, extra: &[&str]) -> Server {
    common::listening(
        common::command()
            .arg("serve")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra),
    )
}

/// One HTTP/1.0 exchange (the server closes the connection at the end of the answer, so no
/// chunking): status, headers (lowercase names) and body.
fn http(address: &str, head: &str, body: &str) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        stream,
        "{head}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// The JSON-RPC message of an MCP answer: a JSON body, or the `data:` of an event stream
/// that holds a response.
fn message(body: &str) -> Value {
    if let Ok(value) = serde_json::from_str::<Value>(body.trim()) {
        return value;
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC response in {body:?}"))
}

/// An MCP client speaking one generation over raw HTTP, with an optional bearer token.
struct Raw<'a> {
    address: &'a str,
    token: Option<&'a str>,
    session: Option<String>,
    version: &'static str,
}

impl Raw<'_> {
    fn post(&self, method: &str, params: Value) -> (u16, Vec<(String, String)>, String) {
        let mut head = format!(
            "POST /mcp HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: {}\r\n\
             Mcp-Method: {method}",
            self.address, self.version
        );
        if let Some(name) = params
            .get("name")
            .or_else(|| params.get("uri"))
            .and_then(Value::as_str)
        {
            head.push_str(&format!("\r\nMcp-Name: {name}"));
        }
        if let Some(token) = self.token {
            head.push_str(&format!("\r\nAuthorization: Bearer {token}"));
        }
        if let Some(session) = &self.session {
            head.push_str(&format!("\r\nMcp-Session-Id: {session}"));
        }
        let body = if method.starts_with("notifications/") {
            json!({ "jsonrpc": "2.0", "method": method, "params": params })
        } else {
            json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params })
        };
        http(self.address, &head, &body.to_string())
    }

    fn params(&self, mut params: Value) -> Value {
        if self.version == "2026-07-28" {
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": { "name": "iza-test", "version": "1" },
            });
        }
        params
    }

    /// A legacy session: `initialize`, then `notifications/initialized`.
    fn initialize(&mut self) {
        let (status, headers, body) = self.post(
            "initialize",
            json!({ "protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": { "name": "iza-test", "version": "1" } }),
        );
        assert_eq!(status, 200, "{body}");
        let answer = message(&body);
        assert_eq!(answer["result"]["serverInfo"]["name"], "iza", "{answer}");
        self.session = headers
            .iter()
            .find(|(k, _)| k == "mcp-session-id")
            .map(|(_, v)| v.clone());
        assert!(self.session.is_some(), "no Mcp-Session-Id: {headers:?}");
        let (status, _, body) = self.post("notifications/initialized", json!({}));
        assert!((200..300).contains(&status), "{status} {body}");
    }

    fn request(&self, method: &str, params: Value) -> Value {
        let (status, _, body) = self.post(method, self.params(params));
        assert_eq!(status, 200, "{method}: {body}");
        message(&body)
    }

    fn tool_names(&self) -> Vec<String> {
        let answer = self.request("tools/list", json!({}));
        answer["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn token(dir: &Path, flags: &[&str]) -> String {
    let mut args = vec!["token", "."];
    args.extend_from_slice(flags);
    let out = iza(dir, &args);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("fixtures/mcp/iza.toml"),
        dir.path().join("iza.toml"),
    )
    .unwrap();
    dir
}

const READ_TOOLS: &[&str] = &[
    "ecosystem_summary",
    "list_services",
    "service_status",
    "impact_analysis",
    "port_map",
    "recent_events",
    "list_agents",
    "list_tasks",
    "list_runs",
    "list_incidents",
];

#[test]
fn mcp_over_http_speaks_both_generations_and_keeps_scopes() {
    let dir = site();
    let admin = token(dir.path(), &[]);
    let operate = token(dir.path(), &["--scope", "operate"]);
    let read = token(dir.path(), &["--read-only"]);
    let server = serve(dir.path());
    let address = server.address.as_str();

    // Session generation, anonymous (reads are open): only the reading tools.
    let mut anonymous = Raw {
        address,
        token: None,
        session: None,
        version: "2025-11-25",
    };
    anonymous.initialize();
    assert_eq!(anonymous.tool_names(), READ_TOOLS);

    // The read-only token sees the same, and a call above its scope is refused.
    let mut reader = Raw {
        address,
        token: Some(&read),
        session: None,
        version: "2025-11-25",
    };
    reader.initialize();
    assert_eq!(reader.tool_names(), READ_TOOLS);
    let refused = reader.request(
        "tools/call",
        json!({ "name": "run_task", "arguments": { "task": "keeper/check-db" } }),
    );
    let error = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        error.contains("`operate` scope") && error.contains("`read`"),
        "{refused}"
    );

    // Stateless generation with the operate token: every tool, and an action goes through.
    let operator = Raw {
        address,
        token: Some(&operate),
        session: None,
        version: "2026-07-28",
    };
    let discovered = operator.request("server/discover", json!({}));
    let versions = discovered["result"]["supportedVersions"].to_string();
    assert!(
        versions.contains("2026-07-28") && versions.contains("2025-11-25"),
        "{discovered}"
    );
    let names = operator.tool_names();
    assert_eq!(names.len(), iza_tool_count(), "{names:?}");
    assert!(names.iter().any(|n| n == "run_task"));
    let queued = operator.request(
        "tools/call",
        json!({ "name": "run_task", "arguments": { "task": "keeper/check-db" } }),
    );
    let run = &queued["result"]["structuredContent"];
    assert_eq!(queued["result"]["isError"], false, "{queued}");
    assert_eq!(run["task"], "keeper/check-db", "{queued}");
    assert!(run["id"].as_i64().is_some(), "{queued}");

    // The impact analysis comes from the graph: web depends on api, which depends on db.
    let impact = operator.request(
        "tools/call",
        json!({ "name": "impact_analysis", "arguments": { "service": "db" } }),
    );
    let impacted: Vec<&str> = impact["result"]["structuredContent"]["impacted"]
        .as_array()
        .unwrap_or_else(|| panic!("{impact}"))
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(impacted, ["api", "web"], "{impact}");

    // Bad arguments are a protocol error that names the tool.
    let bad = operator.request(
        "tools/call",
        json!({ "name": "service_status", "arguments": { "nope": 1 } }),
    );
    assert!(
        bad["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("service_status")),
        "{bad}"
    );

    // The admin token works too; a wrong token is refused outright, not served as anonymous.
    let admin_client = Raw {
        address,
        token: Some(&admin),
        session: None,
        version: "2026-07-28",
    };
    assert_eq!(admin_client.tool_names().len(), iza_tool_count());
    let wrong = Raw {
        address,
        token: Some("not-the-token-of-this-server"),
        session: None,
        version: "2026-07-28",
    };
    let (status, _, body) = wrong.post("tools/list", wrong.params(json!({})));
    assert_eq!(status, 401, "{body}");

    // The Host policy of the API holds for /mcp (DNS rebinding).
    let (status, _, _) = http(
        address,
        "POST /mcp HTTP/1.0\r\nHost: evil.example.com\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream",
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    );
    assert!((400..500).contains(&status), "{status}");
}

fn iza_tool_count() -> usize {
    18
}

/// The Python SDK's venv, installed by scripts/mcp-clients.sh; `None` (with the reason
/// printed) only when installing it is impossible here.
fn python_sdk() -> Option<PathBuf> {
    let out = Command::new("bash")
        .arg(repo().join("scripts/mcp-clients.sh"))
        .output()
        .unwrap();
    if !out.status.success() {
        println!(
            "skipped: the Python mcp SDK cannot be installed here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let python = String::from_utf8(out.stdout).unwrap();
    Some(PathBuf::from(python.lines().last().unwrap().trim()))
}

fn python_client(python: &Path, args: &[&str]) -> Value {
    let out = Command::new(python)
        .arg(repo().join("tests/mcp/client_check.py"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "client_check.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn call<'a>(doc: &'a Value, tool: &str) -> &'a Value {
    doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tool"] == tool)
        .unwrap_or_else(|| panic!("no call of `{tool}` in {doc}"))
}

/// What every full run of the Python client must show.
fn assert_full_run(doc: &Value) {
    let context = format!("{} over {}", doc["mode"], doc["transport"]);
    assert_eq!(
        doc["tools"].as_array().map(Vec::len),
        Some(iza_tool_count()),
        "{context}: {doc}"
    );
    let called: std::collections::BTreeSet<&str> = doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["tool"].as_str())
        .collect();
    assert_eq!(
        called.len(),
        iza_tool_count(),
        "{context}: every tool called"
    );
    for tool in READ_TOOLS {
        assert_eq!(
            call(doc, tool)["is_error"],
            false,
            "{context}: {tool}: {doc}"
        );
    }
    assert_eq!(
        call(doc, "run_task")["structured"]["task"],
        "keeper/check-db",
        "{context}"
    );
    // The filters: group core and tag public is the API only.
    let filtered = doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tool"] == "list_services" && c["arguments"]["tag"] == "public")
        .unwrap();
    let ids: Vec<&str> = filtered["structured"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["api"], "{context}: {filtered}");
    // Under `iza serve` nothing is supervised: the API's refusal comes back as a tool error.
    assert_eq!(call(doc, "start_service")["is_error"], true, "{context}");
    assert_eq!(call(doc, "resolve_incident")["is_error"], true, "{context}");
    assert!(
        doc["resources"].to_string().contains("iza://report"),
        "{context}"
    );
    // Without hub upstreams there is no resource template, and the listing answers.
    assert_eq!(doc["resource_templates"], json!([]), "{context}: {doc}");
    assert!(
        doc["report_starts"]
            .as_str()
            .is_some_and(|r| r.contains("MCP fixture")),
        "{context}: {doc}"
    );
}

#[test]
fn the_python_sdk_calls_every_tool_in_every_mode_over_http_and_stdio() {
    let Some(python) = python_sdk() else {
        return;
    };
    let dir = site();
    let admin = token(dir.path(), &[]);
    let manifest = dir.path().to_str().unwrap();
    let iza_bin = env!("CARGO_BIN_EXE_iza");
    {
        let server = serve(dir.path());
        let url = format!("http://{}/mcp", server.address);
        for mode in ["2026-07-28", "legacy", "auto"] {
            assert_full_run(&python_client(&python, &[mode, "http", &url, &admin]));
            // stdio: `iza mcp` talks to the running server.
            assert_full_run(&python_client(&python, &[mode, "stdio", iza_bin, manifest]));
        }
        // A read-scoped stdio server lists only the reading tools.
        let read = python_client(&python, &["legacy", "stdio", iza_bin, manifest, "read"]);
        assert_eq!(read["tools"], json!(READ_TOOLS), "{read}");
        // The SDK's calls over HTTP are in the audit log, each mode's `run_task` among them,
        // and the stdio ones as the API calls `iza mcp` made (`POST /api/v1/runs`).
        let (status, _, body) = http(
            &server.address,
            &format!(
                "GET /api/v1/audit?tool=run_task&limit=1000 HTTP/1.0\r\nHost: {}\r\n\
                 Authorization: Bearer {admin}",
                server.address
            ),
            "",
        );
        assert_eq!(status, 200, "{body}");
        let audit: Value = serde_json::from_str(&body).unwrap();
        let records = audit["records"].as_array().unwrap();
        assert_eq!(records.len(), 3, "one `run_task` per HTTP mode: {audit}");
        assert!(
            records
                .iter()
                .all(|r| r["client"] == "admin" && r["outcome"] == "ok")
        );
        let (_, _, body) = http(
            &server.address,
            &format!(
                "GET /api/v1/audit?tool=POST%20/api/v1/runs HTTP/1.0\r\nHost: {}\r\n\
                 Authorization: Bearer {admin}",
                server.address
            ),
            "",
        );
        let audit: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(audit["records"].as_array().unwrap().len(), 3, "{audit}");
    }
    // No server now: `iza mcp` answers from the manifest and the state database.
    let offline = python_client(&python, &["auto", "stdio", iza_bin, manifest]);
    assert_eq!(
        call(&offline, "impact_analysis")["is_error"],
        false,
        "{offline}"
    );
    assert_eq!(
        call(&offline, "list_agents")["is_error"],
        false,
        "{offline}"
    );
    assert_eq!(call(&offline, "list_runs")["is_error"], false, "{offline}");
    let live = call(&offline, "ecosystem_summary");
    assert_eq!(live["is_error"], true, "{offline}");
    assert!(
        live["structured"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("needs a running `iza serve` or `iza up`")),
        "{live}"
    );
}

/// An `mcp` check of the manifest, probed once by `iza-probe` as the monitor would.
fn mcp_check(url: String, conditions: &[&str]) -> iza_catalog::model::Check {
    iza_catalog::model::Check {
        target: iza_catalog::model::CheckTarget::Mcp(url),
        method: "GET".to_owned(),
        headers: Default::default(),
        body: None,
        follow_redirects: true,
        verify_tls: true,
        record: "A".to_owned(),
        shell: false,
        every: Duration::from_secs(30),
        timeout: Duration::from_secs(20),
        conditions: conditions
            .iter()
            .map(|c| c.parse().unwrap_or_else(|e| panic!("{c}: {e}")))
            .collect(),
        failure_threshold: 1,
        success_threshold: 1,
        regions: Vec::new(),
        quorum: 0,
    }
}

#[test]
fn the_mcp_check_kind_probes_iza_in_both_generations() {
    let dir = site();
    let server = serve(dir.path());
    let url = format!("http://{}/mcp", server.address);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let probe = |check| runtime.block_on(iza_probe::Prober::default().probe(&check));
    let conditions = ["[TOOL_COUNT] >= 10", "has([TOOLS].list_services) == true"];

    // Discover first: IZA speaks the stateless revision.
    let stateless = probe(mcp_check(url.clone(), &conditions));
    assert!(stateless.is_up(), "{:?}", stateless.failure);
    assert_eq!(
        stateless.facts.protocol_version.as_deref(),
        Some("2026-07-28")
    );
    let tools = stateless.facts.tools.clone().unwrap();
    assert_eq!(tools, READ_TOOLS, "anonymous probes see the reading tools");
    assert!(
        stateless
            .facts
            .server
            .as_deref()
            .is_some_and(|s| s.starts_with("iza")),
        "{:?}",
        stateless.facts.server
    );

    // Pinned to the session generation by its header: the initialize handshake.
    let mut pinned = mcp_check(url.clone(), &conditions);
    pinned
        .headers
        .insert("MCP-Protocol-Version".to_owned(), "2025-11-25".to_owned());
    let session = probe(pinned);
    assert!(session.is_up(), "{:?}", session.failure);
    assert_eq!(
        session.facts.protocol_version.as_deref(),
        Some("2025-11-25")
    );
    assert_eq!(session.facts.tools, Some(read_tools()));

    // Conditions that do not hold say what they saw.
    let down = probe(mcp_check(
        url.clone(),
        &["[TOOL_COUNT] > 100", "has([TOOLS].launch_rockets) == true"],
    ));
    assert!(!down.is_up());
    let message = down.failure.unwrap().message;
    assert!(
        message.contains(&format!("[TOOL_COUNT] ({}) > 100", READ_TOOLS.len())),
        "{message}"
    );

    // An HTTP endpoint that is not MCP is down with the reason.
    let not_mcp = probe(mcp_check(format!("http://{}/healthz", server.address), &[]));
    assert!(!not_mcp.is_up());
    let failure = not_mcp.failure.unwrap();
    assert!(
        failure.message.contains("`initialize`") && failure.message.contains("`server/discover`"),
        "{failure:?}"
    );
}

fn read_tools() -> Vec<String> {
    READ_TOOLS.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// The hub: upstream MCP servers federated behind `/mcp`.

/// A port free now on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `iza demo-service --mcp` on `port`, once it listens.
fn demo_mcp(port: u16, name: &str) -> Killed {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iza"))
        .args([
            "demo-service",
            "--mcp",
            "--name",
            name,
            "--port",
            &port.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening on"), "{line:?}");
    Killed(child)
}

/// Polls `check` until it holds, for at most [`DEADLINE`].
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn hub_status(address: &str) -> Value {
    let (status, _, body) = http(
        address,
        &format!("GET /api/v1/hub HTTP/1.0\r\nHost: {address}"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn upstream<'a>(hub: &'a Value, name: &str) -> &'a Value {
    hub["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("no upstream `{name}` in {hub}"))
}

/// Reads an event stream (a legacy session's `GET /mcp`, or a 2026-07-28
/// `subscriptions/listen`) on a thread, sending each `data:` message.
fn stream(address: &str, head: String, body: String) -> std::sync::mpsc::Receiver<Value> {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut socket = TcpStream::connect(address).unwrap();
    write!(
        socket,
        "{head}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(socket).lines().map_while(Result::ok) {
            if let Some(data) = line.strip_prefix("data:")
                && let Ok(value) = serde_json::from_str::<Value>(data.trim())
                && tx.send(value).is_err()
            {
                break;
            }
        }
    });
    rx
}

/// Waits for a `notifications/tools/list_changed` on `rx`.
fn expect_list_changed(rx: &std::sync::mpsc::Receiver<Value>, who: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("{who} was not told that the tool list changed"));
        if message["method"] == "notifications/tools/list_changed" {
            return;
        }
    }
}

/// Waits for a notification `method` on `rx`.
fn expect_notification(rx: &std::sync::mpsc::Receiver<Value>, method: &str, who: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("{who} was not sent `{method}`"));
        if message["method"] == method {
            return;
        }
    }
}

fn structured(answer: &Value) -> &Value {
    &answer["result"]["structuredContent"]
}

fn pid_alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn the_hub_federates_http_and_stdio_upstreams_and_follows_them() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut alpha = Some(demo_mcp(port, "alpha"));
    let iza_bin = env!("CARGO_BIN_EXE_iza");
    std::fs::write(
        dir.path().join("iza.toml"),
        format!(
            r#"version = 1
[ecosystem]
name = "hub test"

[services.alpha]
kind = "mcp-server"
mcp = {{ url = "http://127.0.0.1:{port}/mcp", timeout = "5s", health_interval = "200ms" }}

[services.beta]
kind = "mcp-server"
mcp = {{ command = ["{iza_bin}", "demo-service", "--mcp-stdio", "--port", "0", "--name", "beta"], deny = ["toggle_*"] }}
"#
        ),
    )
    .unwrap();
    let admin = token(dir.path(), &[]);
    let read = token(dir.path(), &["--read-only"]);
    let server = serve(dir.path());
    let address = server.address.as_str();
    wait_for("both upstreams up", || {
        let hub = hub_status(address);
        hub["up"] == 2
    });
    let hub = hub_status(address);
    let a = upstream(&hub, "alpha");
    assert_eq!(a["transport"], "http", "{hub}");
    assert_eq!(a["protocol"], "2026-07-28", "{hub}");
    let b = upstream(&hub, "beta");
    assert_eq!(b["transport"], "stdio", "{hub}");
    assert_eq!(b["protocol"], "2026-07-28", "{hub}");
    // The deny list hides `toggle_extra` of beta.
    assert!(
        !b["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "beta__toggle_extra"),
        "{hub}"
    );

    // A session client (with an admin token) and a stateless one see the federated tools.
    let mut session = Raw {
        address,
        token: Some(&admin),
        session: None,
        version: "2025-11-25",
    };
    session.initialize();
    let stateless = Raw {
        address,
        token: Some(&admin),
        session: None,
        version: "2026-07-28",
    };
    for client in [&session, &stateless] {
        let names = client.tool_names();
        for tool in [
            "alpha__echo",
            "alpha__add",
            "alpha__toggle_extra",
            "beta__add",
            "list_services",
        ] {
            assert!(names.iter().any(|n| n == tool), "{tool} not in {names:?}");
        }
        assert!(!names.iter().any(|n| n == "alpha__extra"), "{names:?}");
    }
    let answer = session.request(
        "tools/call",
        json!({ "name": "alpha__echo", "arguments": { "text": "through the hub" } }),
    );
    assert_eq!(structured(&answer)["text"], "through the hub", "{answer}");
    let answer = stateless.request(
        "tools/call",
        json!({ "name": "beta__add", "arguments": { "a": 2, "b": 40 } }),
    );
    assert_eq!(structured(&answer)["sum"], 42.0, "{answer}");

    // Scopes: a read token sees the read-only tools, not `alpha__toggle_extra`, and its call
    // is refused with the scope it needs.
    let reader = Raw {
        address,
        token: Some(&read),
        session: None,
        version: "2026-07-28",
    };
    let names = reader.tool_names();
    assert!(names.iter().any(|n| n == "alpha__echo"), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "alpha__toggle_extra"),
        "{names:?}"
    );
    let refused = reader.request(
        "tools/call",
        json!({ "name": "alpha__toggle_extra", "arguments": {} }),
    );
    assert_eq!(refused["error"]["code"], -32600, "{refused}");

    // Resources: each upstream's resources and templates, namespaced, read through the hub.
    for client in [&session, &stateless] {
        let listed = client.request("resources/list", json!({}));
        let resources = listed["result"]["resources"].as_array().unwrap();
        for (uri, name) in [
            ("iza://manifest", "manifest"),
            ("iza-hub://alpha/demo://info", "alpha__info"),
            ("iza-hub://beta/demo://info", "beta__info"),
        ] {
            assert!(
                resources
                    .iter()
                    .any(|r| r["uri"] == uri && r["name"] == name),
                "{uri} not in {listed}"
            );
        }
        let templates = client.request("resources/templates/list", json!({}));
        assert!(
            templates["result"]["resourceTemplates"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["uriTemplate"] == "iza-hub://alpha/demo://echo/{text}"
                    && t["name"] == "alpha__echo"),
            "{templates}"
        );
        let read = client.request(
            "resources/read",
            json!({ "uri": "iza-hub://alpha/demo://echo/hello" }),
        );
        let contents = &read["result"]["contents"][0];
        assert_eq!(contents["text"], "hello", "{read}");
        assert_eq!(
            contents["uri"], "iza-hub://alpha/demo://echo/hello",
            "{read}"
        );
    }
    let info = reader.request(
        "resources/read",
        json!({ "uri": "iza-hub://beta/demo://info" }),
    );
    let text = info["result"]["contents"][0]["text"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(text).unwrap()["name"],
        "beta",
        "{info}"
    );
    let missing = reader.request(
        "resources/read",
        json!({ "uri": "iza-hub://nope/demo://info" }),
    );
    assert!(missing["error"].is_object(), "{missing}");

    // list_changed: both generations are told when an upstream's tools change.
    let session_id = session.session.clone().unwrap();
    let legacy_events = stream(
        address,
        format!(
            "GET /mcp HTTP/1.0\r\nHost: {address}\r\nAccept: text/event-stream\r\n\
             MCP-Protocol-Version: 2025-11-25\r\nMcp-Session-Id: {session_id}\r\n\
             Authorization: Bearer {admin}"
        ),
        String::new(),
    );
    let listen = json!({ "jsonrpc": "2.0", "id": 7, "method": "subscriptions/listen",
        "params": stateless.params(json!({ "notifications": { "toolsListChanged": true, "resourcesListChanged": true } })) });
    let modern_events = stream(
        address,
        format!(
            "POST /mcp HTTP/1.0\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n\
             Mcp-Method: subscriptions/listen\r\nAuthorization: Bearer {admin}"
        ),
        listen.to_string(),
    );
    // The subscription is acknowledged before anything is sent on it.
    let ack = modern_events
        .recv_timeout(DEADLINE)
        .expect("no acknowledgment");
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    let generation = hub_status(address)["generation"].as_u64().unwrap();
    let answer = session.request(
        "tools/call",
        json!({ "name": "alpha__toggle_extra", "arguments": {} }),
    );
    assert_eq!(structured(&answer)["extra"], true, "{answer}");
    wait_for("the hub to relist alpha", || {
        hub_status(address)["generation"].as_u64().unwrap() > generation
    });
    expect_list_changed(&legacy_events, "the session client");
    expect_list_changed(&modern_events, "the 2026-07-28 client");
    assert!(stateless.tool_names().iter().any(|n| n == "alpha__extra"));
    // alpha's new resource is listed, and both generations hear of it.
    expect_notification(
        &legacy_events,
        "notifications/resources/list_changed",
        "the session client",
    );
    expect_notification(
        &modern_events,
        "notifications/resources/list_changed",
        "the 2026-07-28 client",
    );
    let listed = stateless.request("resources/list", json!({}));
    assert!(
        listed["result"]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["uri"] == "iza-hub://alpha/demo://extra"),
        "{listed}"
    );

    // alpha dies: its tools are withdrawn, clients are told, a call says it is down.
    drop(alpha.take());
    wait_for("alpha down", || {
        upstream(&hub_status(address), "alpha")["state"] == "down"
    });
    expect_list_changed(&legacy_events, "the session client (alpha down)");
    expect_list_changed(&modern_events, "the 2026-07-28 client (alpha down)");
    let names = stateless.tool_names();
    assert!(!names.iter().any(|n| n.starts_with("alpha__")), "{names:?}");
    assert!(names.iter().any(|n| n == "beta__echo"), "{names:?}");
    let down = stateless.request(
        "tools/call",
        json!({ "name": "alpha__echo", "arguments": { "text": "x" } }),
    );
    assert_eq!(down["result"]["isError"], true, "{down}");
    assert_eq!(structured(&down)["kind"], "upstream_down", "{down}");
    assert!(
        structured(&down)["error"]
            .as_str()
            .unwrap()
            .contains("`alpha` is down"),
        "{down}"
    );

    // alpha returns on its port: it is federated again and its calls work.
    let _alpha = demo_mcp(port, "alpha");
    wait_for("alpha back", || {
        upstream(&hub_status(address), "alpha")["state"] == "up"
    });
    let answer = stateless.request(
        "tools/call",
        json!({ "name": "alpha__echo", "arguments": { "text": "back" } }),
    );
    assert_eq!(structured(&answer)["text"], "back", "{answer}");
    assert!(
        upstream(&hub_status(address), "alpha")["connects"]
            .as_u64()
            .unwrap()
            >= 2
    );

    // Stopping IZA stops the stdio upstream it started.
    let info = stateless.request(
        "tools/call",
        json!({ "name": "beta__service_info", "arguments": {} }),
    );
    let beta_pid = structured(&info)["pid"].as_u64().unwrap();
    assert!(pid_alive(beta_pid));
    drop(server);
    wait_for("the stdio upstream to stop with IZA", || {
        !pid_alive(beta_pid)
    });
}

/// `@modelcontextprotocol/server-everything` (pinned), installed by scripts/mcp-clients.sh
/// beside the Python SDK: the path of its `dist/index.js`, or `None` (with the reason printed)
/// when npm cannot install it here.
fn server_everything() -> Option<PathBuf> {
    let out = Command::new("bash")
        .arg(repo().join("scripts/mcp-clients.sh"))
        .arg("--server-everything")
        .output()
        .unwrap();
    if !out.status.success() {
        println!(
            "skipped: server-everything cannot be installed here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let path = String::from_utf8(out.stdout).unwrap();
    Some(PathBuf::from(path.lines().last().unwrap().trim()))
}

/// The Python SDK's upstream server (tests/mcp/upstream_server.py) on `port`, once it answers.
fn python_upstream(python: &Path, port: u16) -> Killed {
    let child = Command::new(python)
        .arg(repo().join("tests/mcp/upstream_server.py"))
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = Killed(child);
    wait_for("the Python upstream to listen", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    child
}

#[test]
fn the_hub_federates_independent_upstreams() {
    let Some(python) = python_sdk() else {
        return;
    };
    let Some(everything) = server_everything() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut py = Some(python_upstream(&python, port));
    std::fs::write(
        dir.path().join("iza.toml"),
        format!(
            r#"version = 1
[ecosystem]
name = "hub test"

[services.py]
kind = "mcp-server"
mcp = {{ url = "http://127.0.0.1:{port}/mcp", health_interval = "200ms" }}

[services.everything]
kind = "mcp-server"
mcp = {{ command = ["node", "{}", "stdio"] }}
"#,
            everything.display()
        ),
    )
    .unwrap();
    let admin = token(dir.path(), &[]);
    let server = serve(dir.path());
    let address = server.address.as_str();
    wait_for("both upstreams up", || hub_status(address)["up"] == 2);
    let hub = hub_status(address);
    // Each upstream's generation was detected: the Python server is stateless (2026-07-28),
    // server-everything speaks only the session generation.
    assert_eq!(upstream(&hub, "py")["protocol"], "2026-07-28", "{hub}");
    assert_eq!(
        upstream(&hub, "everything")["protocol"],
        "2025-11-25",
        "{hub}"
    );
    for version in ["2025-11-25", "2026-07-28"] {
        let mut client = Raw {
            address,
            token: Some(&admin),
            session: None,
            version,
        };
        if version == "2025-11-25" {
            client.initialize();
        }
        let names = client.tool_names();
        assert!(names.iter().any(|n| n == "py__multiply"), "{names:?}");
        assert!(names.iter().any(|n| n == "everything__echo"), "{names:?}");
        let answer = client.request(
            "tools/call",
            json!({ "name": "py__multiply", "arguments": { "a": 6, "b": 7 } }),
        );
        assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
        assert!(answer.to_string().contains("42"), "{answer}");
        let answer = client.request(
            "tools/call",
            json!({ "name": "everything__echo", "arguments": { "message": "hub" } }),
        );
        assert!(
            answer["result"]["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("hub"),
            "{answer}"
        );
        // server-everything's resources and resource templates are federated, and read
        // through the hub under their namespaced URIs.
        let listed = client.request("resources/list", json!({}));
        let uri = listed["result"]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["uri"].as_str())
            .find(|u| u.starts_with("iza-hub://everything/"))
            .unwrap_or_else(|| panic!("no resource of server-everything in {listed}"))
            .to_owned();
        let read = client.request("resources/read", json!({ "uri": uri }));
        assert_eq!(read["result"]["contents"][0]["uri"], uri, "{read}");
        let templates = client.request("resources/templates/list", json!({}));
        assert!(
            templates["result"]["resourceTemplates"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["uriTemplate"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("iza-hub://everything/"))),
            "{templates}"
        );
    }
    // The Python upstream dies and comes back on its port.
    let stateless = Raw {
        address,
        token: Some(&admin),
        session: None,
        version: "2026-07-28",
    };
    drop(py.take());
    wait_for("py down", || {
        upstream(&hub_status(address), "py")["state"] == "down"
    });
    let down = stateless.request(
        "tools/call",
        json!({ "name": "py__multiply", "arguments": { "a": 1, "b": 2 } }),
    );
    assert_eq!(structured(&down)["kind"], "upstream_down", "{down}");
    let _py = python_upstream(&python, port);
    wait_for("py back", || {
        upstream(&hub_status(address), "py")["state"] == "up"
    });
    let answer = stateless.request(
        "tools/call",
        json!({ "name": "py__multiply", "arguments": { "a": 3, "b": 3 } }),
    );
    assert!(answer.to_string().contains('9'), "{answer}");
    drop(server);
}

#[test]
fn mcp_rate_limits_refuse_a_client_over_its_rate_with_a_retry_hint() {
    let dir = site();
    let admin = token(dir.path(), &[]);
    let read = token(dir.path(), &["--read-only"]);
    let server = serve_with(dir.path(), &["--mcp-rate-limit", "3/m"]);
    let address = server.address.as_str();
    let client = Raw {
        address,
        token: Some(&admin),
        session: None,
        version: "2026-07-28",
    };
    for _ in 0..3 {
        assert!(!client.tool_names().is_empty());
    }
    let (status, headers, body) = client.post("tools/list", client.params(json!({})));
    assert_eq!(status, 429, "{body}");
    let retry: u64 = headers
        .iter()
        .find(|(k, _)| k == "retry-after")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or_else(|| panic!("no Retry-After: {headers:?}"));
    assert!((1..=20).contains(&retry), "{retry}");
    let error = message(&body);
    assert_eq!(error["error"]["code"], -32000, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rate limit"),
        "{error}"
    );
    // Another token has its own budget.
    let other = Raw {
        address,
        token: Some(&read),
        session: None,
        version: "2026-07-28",
    };
    assert!(!other.tool_names().is_empty());
}

// ---------------------------------------------------------------------------------------------
// The audit log and per-tool rate limits.

/// `GET path` with a bearer token: status and JSON body.
fn get_json(address: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut head = format!("GET {path} HTTP/1.0\r\nHost: {address}");
    if let Some(token) = token {
        head.push_str(&format!("\r\nAuthorization: Bearer {token}"));
    }
    let (status, _, body) = http(address, &head, "");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn records(doc: &Value) -> Vec<Value> {
    doc["records"].as_array().cloned().unwrap_or_default()
}

#[test]
fn the_audit_log_records_every_call_and_per_tool_limits_refuse_with_a_retry_hint() {
    let dir = site();
    let port = free_port();
    let _alpha = demo_mcp(port, "alpha");
    let mut manifest = std::fs::read_to_string(dir.path().join("iza.toml")).unwrap();
    manifest.push_str(&format!(
        r#"
[services.alpha]
kind = "mcp-server"
mcp = {{ url = "http://127.0.0.1:{port}/mcp", rate_limits = {{ "ad?" = "2/m" }} }}
"#
    ));
    std::fs::write(dir.path().join("iza.toml"), manifest).unwrap();
    let admin = token(dir.path(), &[]);
    let operate = token(dir.path(), &["--scope", "operate"]);
    let read = token(dir.path(), &["--read-only"]);
    let server = serve_with(dir.path(), &["--mcp-tool-rate-limit", "port_map=2/m"]);
    let address = server.address.as_str();
    wait_for("the upstream up", || hub_status(address)["up"] == 1);

    let operator = Raw {
        address,
        token: Some(&operate),
        session: None,
        version: "2026-07-28",
    };
    let over_limit = |tool: &str, arguments: Value| {
        let (status, _, body) = operator.post(
            "tools/call",
            operator.params(json!({ "name": tool, "arguments": arguments })),
        );
        assert_eq!(status, 200, "{body}");
        let answer = message(&body);
        assert_eq!(answer["error"]["code"], -32000, "{answer}");
        let text = answer["error"]["message"].as_str().unwrap();
        assert!(
            text.contains(&format!("`{tool}`")) && text.contains("2/m"),
            "{text}"
        );
        let retry = answer["error"]["data"]["retry_after_seconds"]
            .as_u64()
            .unwrap();
        assert!((1..=60).contains(&retry), "{answer}");
    };
    // IZA's own tool, limited on the command line: two calls, then refused with a hint.
    for _ in 0..2 {
        let answer = operator.request("tools/call", json!({ "name": "port_map" }));
        assert!(answer["result"].is_object(), "{answer}");
    }
    over_limit("port_map", json!({}));
    // A federated tool, limited by its upstream's `rate_limits` (a glob of its own names).
    for _ in 0..2 {
        let answer = operator.request(
            "tools/call",
            json!({ "name": "alpha__add", "arguments": { "a": 1, "b": 2 } }),
        );
        assert!(answer["result"].is_object(), "{answer}");
    }
    over_limit("alpha__add", json!({ "a": 1, "b": 2 }));
    // Other tools are not limited; arguments carrying a credential.
    let secret_url = "amqp://guest:s3cret-pass@127.0.0.1:5672/";
    let answer = operator.request(
        "tools/call",
        json!({ "name": "alpha__echo", "arguments": { "text": secret_url } }),
    );
    assert_eq!(structured(&answer)["text"], secret_url, "{answer}");
    let answer = operator.request(
        "tools/call",
        json!({ "name": "service_status", "arguments": { "service": "nope" } }),
    );
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    // A call above the scope is refused.
    let reader = Raw {
        address,
        token: Some(&read),
        session: None,
        version: "2026-07-28",
    };
    let answer = reader.request(
        "tools/call",
        json!({ "name": "run_task", "arguments": { "task": "keeper/check-db" } }),
    );
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    // A mutating REST call.
    let body = json!({ "task": "keeper/check-db" }).to_string();
    let (status, _, answer) = http(
        address,
        &format!(
            "POST /api/v1/runs HTTP/1.0\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Authorization: Bearer {admin}"
        ),
        &body,
    );
    assert!((200..300).contains(&status), "{status} {answer}");

    // Only the admin token reads the audit log.
    assert_eq!(get_json(address, "/api/v1/audit", None).0, 401);
    assert_eq!(get_json(address, "/api/v1/audit", Some(&read)).0, 403);
    assert_eq!(get_json(address, "/api/v1/audit", Some(&operate)).0, 403);
    let (status, doc) = get_json(address, "/api/v1/audit", Some(&admin));
    assert_eq!(status, 200, "{doc}");
    let all = records(&doc);
    let text = doc.to_string();
    for secret in [
        admin.as_str(),
        operate.as_str(),
        read.as_str(),
        "s3cret-pass",
    ] {
        assert!(!text.contains(secret), "a secret in the audit log: {text}");
    }
    let of = |tool: &str| -> Vec<&Value> { all.iter().filter(|r| r["tool"] == tool).collect() };
    let outcomes = |tool: &str| -> Vec<String> {
        let mut o: Vec<String> = of(tool)
            .iter()
            .map(|r| r["outcome"].as_str().unwrap().to_owned())
            .collect();
        o.sort();
        o
    };
    assert_eq!(outcomes("port_map"), ["ok", "ok", "rate-limited"], "{doc}");
    assert_eq!(
        outcomes("alpha__add"),
        ["ok", "ok", "rate-limited"],
        "{doc}"
    );
    let add = of("alpha__add")[0];
    assert_eq!(add["upstream"], "alpha", "{add}");
    assert_eq!(add["client"], "operate", "{add}");
    assert_eq!(add["scope"], "operate", "{add}");
    assert_eq!(add["surface"], "mcp", "{add}");
    assert_eq!(add["arguments"], json!({ "a": 1, "b": 2 }), "{add}");
    assert_eq!(add["arguments_sha256"].as_str().unwrap().len(), 64, "{add}");
    assert!(add["duration_ms"].as_f64().unwrap() >= 0.0, "{add}");
    let echo = of("alpha__echo")[0];
    assert_eq!(echo["outcome"], "ok", "{echo}");
    assert_eq!(
        echo["arguments"]["text"], "amqp://guest:***@127.0.0.1:5672/",
        "{echo}"
    );
    let status_call = of("service_status")[0];
    assert_eq!(status_call["outcome"], "error", "{status_call}");
    assert!(
        status_call["message"].as_str().unwrap().contains("nope"),
        "{status_call}"
    );
    let denied = of("run_task")[0];
    assert_eq!(denied["outcome"], "denied", "{denied}");
    assert_eq!(denied["client"], "read", "{denied}");
    assert!(
        denied["message"].as_str().unwrap().contains("operate"),
        "{denied}"
    );
    let rest = of("POST /api/v1/runs")[0];
    assert_eq!(rest["surface"], "api", "{rest}");
    assert_eq!(rest["client"], "admin", "{rest}");
    assert_eq!(rest["outcome"], "ok", "{rest}");
    assert_eq!(rest["arguments"]["task"], "keeper/check-db", "{rest}");
    // Newest first.
    let ids: Vec<i64> = all.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");

    // Filters and pages.
    let (_, doc) = get_json(
        address,
        "/api/v1/audit?tool=port_map&outcome=rate-limited",
        Some(&admin),
    );
    assert_eq!(records(&doc).len(), 1, "{doc}");
    let (_, doc) = get_json(address, "/api/v1/audit?client=read", Some(&admin));
    assert!(records(&doc).iter().all(|r| r["client"] == "read"), "{doc}");
    assert!(!records(&doc).is_empty());
    let (_, first) = get_json(address, "/api/v1/audit?limit=2", Some(&admin));
    let next = first["next"].as_i64().expect("a next page");
    let (_, second) = get_json(
        address,
        &format!("/api/v1/audit?limit=2&before={next}"),
        Some(&admin),
    );
    assert_eq!(
        records(&second)[0]["id"].as_i64().unwrap(),
        ids[2],
        "{second}"
    );
    let (status, doc) = get_json(address, "/api/v1/audit?outcome=maybe", Some(&admin));
    assert_eq!(status, 400, "{doc}");

    // The CLI, through the running server.
    let out = iza(
        dir.path(),
        &["audit", ".", "--tool", "alpha__add", "--format", "json"],
    );
    assert!(out.status.success(), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records(&doc).len(), 3, "{doc}");
    let out = iza(dir.path(), &["audit", ".", "--outcome", "rate-limited"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("rate-limited `port_map` by operate"),
        "{text}"
    );
    assert!(
        text.contains("rate-limited `alpha__add` (upstream `alpha`)"),
        "{text}"
    );

    // A last call just before the stop is not lost: the queue is written as IZA stops.
    over_limit("port_map", json!({}));
    // Stopped, the log is in the state database: `iza audit` reads it there.
    drop(server);
    let out = iza(
        dir.path(),
        &["audit", ".", "--tool", "port_map", "--format", "json"],
    );
    assert!(out.status.success(), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records(&doc).len(), 4, "{doc}");
    let out = iza(
        dir.path(),
        &["audit", ".", "--client", "read", "--format", "json"],
    );
    assert!(out.status.success(), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records(&doc)[0]["tool"], "run_task", "{doc}");
}

// ---------------------------------------------------------------------------------------------
// Tokens stored hashed.

#[test]
fn client_token_files_in_clear_keep_working_and_are_hashed_at_start() {
    let dir = site();
    let mut manifest = std::fs::read_to_string(dir.path().join("iza.toml")).unwrap();
    manifest.push_str("\n[services.backup]\ncheck = { push = true, expect_every = \"1h\" }\n");
    std::fs::write(dir.path().join("iza.toml"), manifest).unwrap();
    let admin = token(dir.path(), &[]);
    // Token files as an older iza wrote them: the tokens in clear, mode 0600.
    let operate = "0123456789abcdef0123456789abcdef-operate";
    let push = "0123456789abcdef0123456789abcdef-push";
    let write = |path: &Path, text: &str| {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .unwrap();
        writeln!(file, "{text}").unwrap();
    };
    let iza_dir = dir.path().join(".iza");
    write(&iza_dir.join("operate-token"), operate);
    write(&iza_dir.join("push-tokens").join("backup"), push);
    // A read-only token made by this version: its file never shows it.
    let read = token(dir.path(), &["--read-only"]);
    let read_file = std::fs::read_to_string(iza_dir.join("read-token")).unwrap();
    assert!(
        read_file.starts_with("sha256:") && !read_file.contains(&read),
        "{read_file}"
    );
    let out = iza(dir.path(), &["token", ".", "--read-only"]);
    assert!(!out.status.success(), "a hashed token is not shown again");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("only the token's hash") && stderr.contains("--rotate"),
        "{stderr}"
    );

    let server = serve(dir.path());
    let address = server.address.as_str();
    for file in ["operate-token", "push-tokens/backup"] {
        let text = std::fs::read_to_string(iza_dir.join(file)).unwrap();
        assert!(
            text.starts_with("sha256:"),
            "{file} not hashed at start: {text}"
        );
        assert!(!text.contains("0123456789abcdef"), "{file}: {text}");
        let mode = std::fs::metadata(iza_dir.join(file)).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }
    // The same tokens keep working: operate acts over MCP, read reads, push pushes.
    let operator = Raw {
        address,
        token: Some(operate),
        session: None,
        version: "2026-07-28",
    };
    assert!(operator.tool_names().iter().any(|n| n == "run_task"));
    let reader = Raw {
        address,
        token: Some(&read),
        session: None,
        version: "2026-07-28",
    };
    assert_eq!(reader.tool_names(), READ_TOOLS);
    let pushed = |token: &str| {
        http(
            address,
            &format!(
                "POST /api/v1/services/backup/results HTTP/1.0\r\nHost: {address}\r\n\
                 Content-Type: application/json\r\nAuthorization: Bearer {token}"
            ),
            r#"{"up": true}"#,
        )
        .0
    };
    assert!((200..300).contains(&pushed(push)), "the push token works");
    assert_eq!(pushed("0123456789abcdef0123456789abcdef-wrong"), 401);
    // A browser signs in with the hashed read token; the admin token still works as before.
    let (status, headers, body) = http(
        address,
        &format!(
            "POST /api/v1/session HTTP/1.0\r\nHost: {address}\r\nAuthorization: Bearer {read}"
        ),
        "",
    );
    assert_eq!(status, 204, "{body}");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "set-cookie" && v.starts_with("iza_session="))
    );
    let (status, _) = get_json(address, "/api/v1/audit", Some(&admin));
    assert_eq!(status, 200);
    // Rotating the operate token shows the new one once; the old one is refused.
    let rotated = token(dir.path(), &["--scope", "operate", "--rotate"]);
    assert_ne!(rotated, operate);
    let text = std::fs::read_to_string(iza_dir.join("operate-token")).unwrap();
    assert!(text.starts_with("sha256:") && !text.contains(&rotated));
    let (status, _, _) = operator.post("tools/list", operator.params(json!({})));
    assert_eq!(
        status, 401,
        "the old operate token is refused after a rotation"
    );
    let renewed = Raw {
        token: Some(&rotated),
        ..operator
    };
    assert!(renewed.tool_names().iter().any(|n| n == "run_task"));
}
