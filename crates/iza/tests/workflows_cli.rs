//! `iza up` follows a workflow engine (the n8n stand-in of `iza demo-service --engine n8n`),
//! and `iza workflows` shows what it stored: the engine degraded by a failing workflow, with
//! n8n's error message and node name.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn up_follows_the_engine_and_workflows_shows_the_failing_one() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let manifest = dir.path().join("iza.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"version = 1
[services.n8n]
kind = "workflow-engine"
port = {port}
command = ["iza", "demo-service", "--port", "{port}", "--name", "n8n", "--engine", "n8n", "--workflows", "20", "--history", "2000", "--failure-rate", "0.6", "--failing-workflows", "1", "--executions-per-second", "10"]
workflows = {{ engine = "n8n", url = "http://127.0.0.1:{port}", api_key = "${{TEST_N8N_KEY}}", every = "1s", rules = {{ min_runs = 3 }} }}
"#
        ),
    )
    .unwrap();
    let _up = Up(Command::new(env!("CARGO_BIN_EXE_iza"))
        .args(["up", manifest.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("TEST_N8N_KEY", "standin-key")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let engine = loop {
        let output = Command::new(env!("CARGO_BIN_EXE_iza"))
            .args(["workflows", manifest.to_str().unwrap(), "--format", "json"])
            .output()
            .unwrap();
        if output.status.success() {
            let body: Value = serde_json::from_slice(&output.stdout).unwrap();
            let engine = body["engines"][0].clone();
            if engine["status"] == "degraded"
                && engine["workflows"]
                    .as_array()
                    .is_some_and(|w| w.len() == 20)
            {
                break engine;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the engine never showed degraded"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let failing = &engine["workflows"][0];
    assert_eq!(failing["failing"], true, "{engine}");
    assert_eq!(engine["workflows"][1]["failing"], false);
    let failure = &failing["last_failure"];
    // The stand-in's first workflow fails in its `HTTP Request` node.
    assert_eq!(failure["node"], "HTTP Request");
    assert!(
        failure["message"].as_str().unwrap().contains("502"),
        "{failure}"
    );
    assert!(
        failing["last_failure_url"]
            .as_str()
            .unwrap()
            .contains("/executions/")
    );
    let text = Command::new(env!("CARGO_BIN_EXE_iza"))
        .args(["workflows", manifest.to_str().unwrap(), "--failing"])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("degraded"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with('!')).count(),
        1,
        "{text}"
    );
}

/// `iza workflows retry <service>/<execution id>` retries through the engine's API: the
/// stand-in's failed execution gets a new one of mode `retry`; retrying that one (it
/// succeeded) is refused with n8n's 409, and the command exits 1.
#[test]
fn retry_creates_a_retry_execution_and_a_refusal_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Every execution of its history fails, none is generated later.
    let _standin = Up(Command::new(env!("CARGO_BIN_EXE_iza"))
        .args(["demo-service", "--port", &port.to_string(), "--name", "n8n"])
        .args(["--engine", "n8n", "--workflows", "3", "--history", "10"])
        .args(["--failure-rate", "1", "--executions-per-second", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the stand-in never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let manifest = dir.path().join("iza.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"version = 1
[services.n8n]
kind = "workflow-engine"
port = {port}
workflows = {{ engine = "n8n", url = "http://127.0.0.1:{port}", api_key = "${{TEST_N8N_KEY}}" }}
"#
        ),
    )
    .unwrap();
    let retry = |target: &str| {
        Command::new(env!("CARGO_BIN_EXE_iza"))
            .args(["workflows", "retry", target, manifest.to_str().unwrap()])
            .args(["--format", "json"])
            .env("TEST_N8N_KEY", "standin-key")
            .output()
            .unwrap()
    };
    let output = retry("n8n/3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let body: Value = serde_json::from_slice(&output.stdout).unwrap();
    let new = &body["execution"];
    assert_eq!(body["retried"], "3", "{body}");
    assert_eq!(new["mode"], "retry", "{body}");
    assert_eq!(new["retry_of"], "3", "{body}");
    assert_eq!(new["status"], "success", "{body}");
    assert_eq!(new["id"], "11", "{body}");
    assert!(body["url"].as_str().unwrap().ends_with("/executions/11"));

    // The retry succeeded: n8n refuses to retry it again (409).
    let refused = retry("n8n/11");
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("conflict"), "{stderr}");

    // Unknown execution, unknown service, no slash.
    let missing = retry("n8n/999");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));
    for bad in ["nope/3", "n8n"] {
        let output = retry(bad);
        assert!(!output.status.success(), "{bad}");
        assert!(!output.stderr.is_empty(), "{bad}");
    }
}
