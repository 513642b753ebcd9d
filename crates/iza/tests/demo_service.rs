//! End to end: runs the real `iza demo-service` on a free port (`--port 0`, the address read
//! from the first line of stdout) and talks HTTP/1.1 to it over a plain socket: `/healthz`,
//! `/stats`, failure and latency injection, the MCP `initialize` answer, `--exit-after`, and a
//! clean exit on SIGTERM. Every child is killed when its test ends, passed or not.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(30);

/// A running demo service, killed on drop.
struct Demo {
    child: Child,
    address: String,
}

impl Demo {
    fn start(args: &[&str]) -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_iza"))
            .args(["demo-service", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut demo = Demo {
            child,
            address: String::new(),
        };
        let line = rx.recv_timeout(DEADLINE).expect("no first line on stdout");
        let (_, address) = line
            .split_once("listening on http://")
            .unwrap_or_else(|| panic!("first line: {line:?}"));
        demo.address = address.trim().to_owned();
        demo
    }

    /// Sends a request; returns the status and the body.
    fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.address,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    fn get_json(&self, path: &str) -> (u16, Value) {
        let (status, body) = self.request("GET", path, "");
        let json = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: {body:?}"));
        (status, json)
    }

    /// Waits for the process to exit by itself.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the demo service did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn terminate(&mut self) -> ExitStatus {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        self.wait_exit()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn healthz_stats_and_index_answer() {
    let demo = Demo::start(&["--name", "alpha"]);
    let (status, health) = demo.get_json("/healthz");
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["name"], "alpha");
    let (status, text) = demo.request("GET", "/", "");
    assert_eq!(status, 200);
    assert!(text.contains("`alpha`"), "{text}");
    let (status, _) = demo.request("GET", "/nothing-here", "");
    assert_eq!(status, 404);

    let (status, stats) = demo.get_json("/stats");
    assert_eq!(status, 200);
    assert_eq!(stats["name"], "alpha");
    assert_eq!(stats["pid"], demo.child.id());
    let port: u64 = demo.address.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(stats["port"], port);
    assert!(stats["uptime_ms"].is_u64());
    // Counted before this one was answered: `/healthz`, `/`, the 404, and this `/stats`.
    assert_eq!(stats["requests"]["total"], 4);
    assert_eq!(stats["requests"]["healthz"], 1);
    assert_eq!(stats["requests"]["healthz_failed"], 0);
    assert_eq!(stats["requests"]["stats"], 1);
}

#[test]
fn failure_injection_answers_503_with_the_reason() {
    let cases: [(&[&str], &str); 2] = [
        (&["--fail-rate", "1"], "fail-rate"),
        (&["--fail-after", "0s"], "fail-after"),
    ];
    for (args, reason) in cases {
        let demo = Demo::start(args);
        for _ in 0..5 {
            let (status, health) = demo.get_json("/healthz");
            assert_eq!(status, 503, "{args:?}");
            assert_eq!(health["status"], "failing");
            assert_eq!(health["reason"], reason);
        }
        let (_, stats) = demo.get_json("/stats");
        assert_eq!(stats["requests"]["healthz_failed"], 5, "{args:?}");
    }
    // A rate of 0 never fails, and a later `--fail-after` has not come yet.
    let demo = Demo::start(&["--fail-rate", "0", "--fail-after", "1h"]);
    for _ in 0..20 {
        assert_eq!(demo.get_json("/healthz").0, 200);
    }
}

#[test]
fn latency_is_added_to_every_answer() {
    let latency = Duration::from_millis(300);
    let demo = Demo::start(&["--latency", "300ms"]);
    for path in ["/healthz", "/stats"] {
        let started = Instant::now();
        let (status, _) = demo.request("GET", path, "");
        assert_eq!(status, 200);
        // A lower bound only: the delay is there; how much more it takes is not asserted.
        assert!(
            started.elapsed() >= latency,
            "{path}: {:?}",
            started.elapsed()
        );
    }
    let (_, stats) = demo.get_json("/stats");
    assert_eq!(stats["latency_ms"], 300);
}

#[test]
fn mcp_initialize_is_answered() {
    let demo = Demo::start(&["--name", "notes-mcp"]);
    let initialize = r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let (status, body) = demo.request("POST", "/mcp", initialize);
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["id"], 7);
    assert_eq!(answer["result"]["protocolVersion"], "2025-03-26");
    assert_eq!(answer["result"]["serverInfo"]["name"], "notes-mcp");

    let cases = [
        (
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            202,
            None,
        ),
        (r#"{"jsonrpc":"2.0","id":8,"method":"ping"}"#, 200, None),
        (
            r#"{"jsonrpc":"2.0","id":9,"method":"tools/call"}"#,
            200,
            Some(-32601),
        ),
        ("not json", 400, Some(-32700)),
    ];
    for (request, expected_status, error_code) in cases {
        let (status, body) = demo.request("POST", "/mcp", request);
        assert_eq!(status, expected_status, "{request}: {body}");
        if let Some(code) = error_code {
            let answer: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(answer["error"]["code"], code, "{request}");
        }
    }
}

#[test]
fn sigterm_stops_it_with_status_0() {
    let mut demo = Demo::start(&[]);
    assert_eq!(demo.get_json("/healthz").0, 200);
    let status = demo.terminate();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        TcpStream::connect(&demo.address).is_err(),
        "still listening"
    );
}

#[test]
fn exit_after_exits_with_status_1() {
    let mut demo = Demo::start(&["--exit-after", "200ms"]);
    let status = demo.wait_exit();
    assert_eq!(status.code(), Some(1), "{status:?}");
}

#[test]
fn a_taken_port_is_an_error_with_a_hint() {
    let demo = Demo::start(&[]);
    let port = demo.address.rsplit(':').next().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_iza"))
        .args(["demo-service", "--port", port])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is in use"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn receive_webhooks_counts_and_lists_what_it_got() {
    let demo = Demo::start(&["--receive-webhooks"]);
    let message = r#"{"version":1,"status":"firing","alerts":[{"service":"db","transition":"firing","impacted":["api"]}]}"#;
    let (status, body) = demo.request("POST", "/webhook", message);
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["received"], 1);
    let (status, body) = demo.request("GET", "/webhooks", "");
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["count"], 1);
    assert_eq!(list["last"][0]["alerts"][0]["service"], "db");
    // Without the flag there is no receiver.
    let plain = Demo::start(&[]);
    assert_eq!(plain.request("POST", "/webhook", message).0, 404);
}

#[test]
fn engine_standins_answer_with_the_engines_shapes() {
    // n8n: its health route, its 401 body, 2,056 workflows, executions at a steady rate.
    let demo = Demo::start(&[
        "--name",
        "n8n",
        "--engine",
        "n8n",
        "--executions-per-second",
        "100",
    ]);
    let (status, health) = demo.get_json("/healthz");
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, refused) = demo.get_json("/api/v1/executions");
    assert_eq!(status, 401);
    assert_eq!(refused["message"], "'X-N8N-API-KEY' header required");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (_, stats) = demo.get_json("/standin/stats");
        assert_eq!(stats["standin"], "n8n");
        assert_eq!(stats["workflows"], 2_056);
        if stats["executions"].as_u64().unwrap() >= 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no executions generated: {stats}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Activepieces: 12 flows by default, its health route, its own 401 body.
    let demo = Demo::start(&["--engine", "activepieces"]);
    let (status, _) = demo.get_json("/api/v1/health");
    assert_eq!(status, 200);
    let (status, refused) = demo.get_json("/api/v1/flow-runs?projectId=standin-project");
    assert_eq!((status, refused["statusCode"].as_u64()), (401, Some(401)));
    let (_, stats) = demo.get_json("/standin/stats");
    assert_eq!(stats["workflows"], 12);
}
