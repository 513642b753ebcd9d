//! End to end: the official TypeScript MCP SDK (`@modelcontextprotocol/sdk` 1.32.x, session
//! generation only), an independent client installed by `scripts/mcp-clients.sh --typescript`,
//! runs `tests/mcp-ts/client.mjs` against IZA: over streamable HTTP (`/mcp` of a running
//! `iza serve` of fixtures/mcp/, with bearer tokens) and over stdio (`iza mcp`, with the server
//! running and without it). It lists the tools and calls every one of IZA's, and calls the
//! tools of an upstream `iza demo-service --mcp` federated by the hub. The calls it made over
//! HTTP are in the audit log.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// IZA's own tools, the reading ones first (docs/mcp.md, "Tools").
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
const OPERATE_TOOLS: &[&str] = &[
    "run_task",
    "resolve_incident",
    "start_service",
    "stop_service",
    "restart_service",
    "claim_run",
    "heartbeat_run",
    "complete_run",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The SDK's directory, installed (or found installed) by the project's script.
fn typescript_sdk() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo().join("scripts/mcp-clients.sh"))
        .arg("--typescript")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/mcp-clients.sh --typescript failed (it needs Node 18+ and npm):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(dir.lines().last().unwrap().trim())
}

/// Runs the client with `args` and returns its JSON document.
fn client(sdk: &Path, args: &[&str]) -> Value {
    let out = Command::new("node")
        .arg(repo().join("tests/mcp-ts/client.mjs"))
        .args(args)
        .env("IZA_MCP_TS", sdk)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "client.mjs {args:?} failed:\n{}",
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

fn call<'a>(calls: &'a Value, tool: &str) -> &'a Value {
    calls
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tool"] == tool)
        .unwrap_or_else(|| panic!("no call of `{tool}` in {calls}"))
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// What every run of the client with every tool of IZA must show.
fn assert_full_run(doc: &Value) {
    let context = format!("over {}", doc["transport"]);
    assert_eq!(doc["server"]["name"], "iza", "{context}: {doc}");
    assert_eq!(
        doc["protocol"], "2025-11-25",
        "{context}: the SDK's session generation"
    );
    assert!(
        doc["sdk"].as_str().is_some_and(|v| v.starts_with("1.32.")),
        "{doc}"
    );
    let tools = names(&doc["tools"]);
    let calls = &doc["calls"];
    for tool in READ_TOOLS.iter().chain(OPERATE_TOOLS) {
        assert!(tools.contains(tool), "{context}: `{tool}` not listed");
        let answer = call(calls, tool);
        assert!(
            answer.get("rpc_error").is_none(),
            "{context}: `{tool}` refused: {answer}"
        );
    }
    for tool in READ_TOOLS {
        assert_eq!(
            call(calls, tool)["is_error"],
            false,
            "{context}: {tool}: {doc}"
        );
    }
    assert_eq!(
        call(calls, "run_task")["structured"]["task"],
        "keeper/check-db",
        "{context}"
    );
    assert!(call(calls, "run_task")["structured"]["id"].is_i64());
    // The impact analysis from the graph, and the filters of `list_services`.
    let impacted: Vec<&str> = call(calls, "impact_analysis")["structured"]["impacted"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(impacted, ["api", "web"], "{context}");
    let filtered = calls
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
    // The documented refusals come back as tool errors: `iza serve` supervises nothing, and
    // no incident or run 999999 exists.
    for tool in [
        "start_service",
        "stop_service",
        "restart_service",
        "resolve_incident",
        "heartbeat_run",
        "complete_run",
    ] {
        assert_eq!(call(calls, tool)["is_error"], true, "{context}: {tool}");
    }
    assert!(
        doc["resources"].to_string().contains("iza://report"),
        "{context}"
    );
    assert!(
        doc["report_starts"]
            .as_str()
            .is_some_and(|r| r.contains("MCP fixture")),
        "{context}: {doc}"
    );
}

/// `GET path` with the admin token: the JSON answer.
fn get_json(address: &str, path: &str, token: &str) -> Value {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(common::DEADLINE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

fn token(dir: &Path, flags: &[&str]) -> String {
    let mut args = vec!["token"];
    args.extend_from_slice(flags);
    let (ok, out, err) = common::iza_text(dir, &args);
    assert!(ok, "{err}");
    out.trim().to_owned()
}

#[test]
fn the_typescript_sdk_calls_every_tool_over_http_and_stdio_and_a_federated_one() {
    let sdk = typescript_sdk();
    let iza_bin = env!("CARGO_BIN_EXE_iza");
    // An upstream MCP server for the hub: the demo MCP server over HTTP.
    let port = common::free_port().to_string();
    let upstream = common::start_until(
        common::command().args(["demo-service", "--mcp", "--name", "alpha", "--port", &port]),
        |line| line.contains("listening on"),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = std::fs::read_to_string(repo().join("fixtures/mcp/iza.toml")).unwrap();
    manifest.push_str(&format!(
        "\n[services.alpha]\nkind = \"mcp-server\"\n\
         mcp = {{ url = \"http://127.0.0.1:{port}/mcp\", health_interval = \"200ms\" }}\n"
    ));
    std::fs::write(dir.path().join("iza.toml"), manifest).unwrap();
    let admin = token(dir.path(), &[]);
    let read = token(dir.path(), &["--read-only"]);
    let manifest_dir = dir.path().to_str().unwrap();

    {
        let server = common::start(common::command().args([
            "serve",
            manifest_dir,
            "--listen",
            "127.0.0.1:0",
        ]));
        let announced = dir.path().join(".iza/server.json");
        let mut url = String::new();
        common::wait_until("`iza serve` announces itself", || {
            let text = std::fs::read_to_string(&announced).unwrap_or_default();
            match serde_json::from_str::<Value>(&text) {
                Ok(doc) => {
                    url = doc["url"].as_str().unwrap_or_default().to_owned();
                    !url.is_empty()
                }
                Err(_) => false,
            }
        });
        let address = url.trim_start_matches("http://").to_owned();
        common::wait_until("the hub has its upstream", || {
            get_json(&address, "/api/v1/hub", &admin)["up"] == 1
        });
        let mcp = format!("{url}/mcp");

        // HTTP, admin token: every tool of IZA, and the upstream's tools through the hub.
        let http = client(
            &sdk,
            &[
                "--transport",
                "http",
                "--url",
                &mcp,
                "--token",
                &admin,
                "--call",
                r#"alpha__echo={"text":"through the hub"}"#,
                "--call",
                r#"alpha__add={"a":2,"b":40}"#,
            ],
        );
        assert_full_run(&http);
        assert!(
            http["session"].as_str().is_some_and(|s| !s.is_empty()),
            "an `Mcp-Session-Id`: {http}"
        );
        let tools = names(&http["tools"]);
        assert!(tools.contains(&"alpha__echo"), "{tools:?}");
        assert!(tools.contains(&"alpha__toggle_extra"), "{tools:?}");
        let echo = call(&http["federated"], "alpha__echo");
        assert_eq!(echo["is_error"], false, "{echo}");
        assert_eq!(echo["structured"]["text"], "through the hub", "{echo}");
        let add = call(&http["federated"], "alpha__add");
        assert_eq!(add["structured"]["sum"], 42.0, "{add}");

        // HTTP, read token: the acting tools are hidden and refused with the scope they need.
        let reader = client(
            &sdk,
            &[
                "--transport",
                "http",
                "--url",
                &mcp,
                "--token",
                &read,
                "--call",
                r#"run_task={"task":"keeper/check-db"}"#,
                "--call",
                r#"alpha__echo={"text":"read"}"#,
            ],
        );
        let tools = names(&reader["tools"]);
        for tool in OPERATE_TOOLS.iter().chain(&["alpha__toggle_extra"]) {
            assert!(!tools.contains(tool), "`{tool}` shown to a read token");
        }
        assert!(tools.contains(&"alpha__echo"), "{tools:?}");
        let refused = call(&reader["federated"], "run_task");
        assert_eq!(refused["rpc_error"]["code"], -32600, "{refused}");
        assert!(
            refused["rpc_error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("`operate` scope")),
            "{refused}"
        );
        assert_eq!(
            call(&reader["federated"], "alpha__echo")["structured"]["text"],
            "read"
        );

        // stdio: `iza mcp` talks to the running server (IZA's own tools; the hub is `/mcp`'s).
        let stdio = client(
            &sdk,
            &[
                "--transport",
                "stdio",
                "--iza",
                iza_bin,
                "--manifest",
                manifest_dir,
            ],
        );
        assert_full_run(&stdio);
        assert_eq!(
            names(&stdio["tools"]).len(),
            READ_TOOLS.len() + OPERATE_TOOLS.len(),
            "{stdio}"
        );
        let stdio_read = client(
            &sdk,
            &[
                "--transport",
                "stdio",
                "--iza",
                iza_bin,
                "--manifest",
                manifest_dir,
                "--scope",
                "read",
            ],
        );
        assert_eq!(names(&stdio_read["tools"]), READ_TOOLS, "{stdio_read}");

        // The SDK's calls over HTTP are in the audit log: the federated ones with their
        // upstream, the refused one as denied for the read token.
        let audit = get_json(&address, "/api/v1/audit?tool=alpha__echo", &admin);
        let records = audit["records"].as_array().unwrap();
        assert_eq!(records.len(), 2, "{audit}");
        assert!(
            records
                .iter()
                .all(|r| r["upstream"] == "alpha" && r["outcome"] == "ok")
        );
        let audit = get_json(&address, "/api/v1/audit?tool=run_task&client=read", &admin);
        assert_eq!(audit["records"][0]["outcome"], "denied", "{audit}");
        drop(server);
    }

    // No server now: `iza mcp` answers from the manifest and the state database.
    let offline = client(
        &sdk,
        &[
            "--transport",
            "stdio",
            "--iza",
            iza_bin,
            "--manifest",
            manifest_dir,
        ],
    );
    let calls = &offline["calls"];
    for tool in ["impact_analysis", "list_agents", "list_runs", "port_map"] {
        assert_eq!(call(calls, tool)["is_error"], false, "{tool}: {offline}");
    }
    let live = call(calls, "ecosystem_summary");
    assert_eq!(live["is_error"], true, "{offline}");
    assert!(
        format!("{}{}", live["text"], live["structured"])
            .contains("needs a running `iza serve` or `iza up`"),
        "{live}"
    );
    assert_eq!(offline["calls"].as_array().unwrap().len(), 19, "{offline}");
    drop(upstream);
}
