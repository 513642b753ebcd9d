//! `iza up` follows a workflow engine (the n8n stand-in of `iza demo-service --engine n8n`),
//! and `iza workflows` shows what it stored: the engine degraded by a failing workflow, with
//! n8n's error message and node name.

mod common;

use std::time::Duration;

use common::free_port;
use serde_json::Value;

/// Following the engine's history takes a few rounds: more than the harness's usual deadline.
const DEADLINE: Duration = Duration::from_secs(60);

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
    let _up = common::start(
        common::command()
            .args(["up", manifest.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .env("TEST_N8N_KEY", "standin-key"),
    );
    let engine = until("the engine shows degraded", || {
        let output = common::iza(dir.path(), &["workflows", "--format", "json"]);
        let body: Value = serde_json::from_slice(&output.stdout).ok()?;
        let engine = body["engines"][0].clone();
        let all = engine["workflows"]
            .as_array()
            .is_some_and(|w| w.len() == 20);
        (engine["status"] == "degraded" && all).then_some(engine)
    });
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
    let (text, _) = common::text(&common::iza(dir.path(), &["workflows", "--failing"]));
    assert!(text.contains("degraded"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with('!')).count(),
        1,
        "{text}"
    );
}

/// One HTTP/1.1 request to the server (`url` is `http://host:port/path`); answers the status and
/// the JSON body (or the text in a JSON string when it is not JSON).
fn call(method: &str, url: &str, token: Option<&str>) -> (u16, Value) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head.to_lowercase().contains("transfer-encoding: chunked") {
        // Sizes in hex, each on its own line, then the chunk.
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            out.push_str(&after[..size]);
            rest = after[size..].trim_start_matches("\r\n");
        }
        out
    } else {
        body.to_owned()
    };
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, value)
}

/// A webhook receiver on 127.0.0.1: answers 200 to every request and keeps the bodies.
fn receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            let Some(head_end) = (loop {
                if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(at);
                }
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
            }) else {
                continue;
            };
            let head = String::from_utf8_lossy(&buffer[..head_end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let mut body = buffer[head_end + 4..].to_vec();
            while body.len() < length {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => body.extend_from_slice(&chunk[..n]),
                }
            }
            sink.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, bodies)
}

/// Polls `probe` until it answers `Some`, within [`DEADLINE`].
fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let mut found = None;
    common::wait_within(DEADLINE, what, || {
        found = probe();
        found.is_some()
    });
    found.unwrap()
}

/// `iza serve` follows the n8n stand-in (`iza demo-service --engine n8n`, its first workflow
/// failing at 60 %): the engine's verdict reaches the status board (the service `degraded`
/// although its own check passes, the reason naming the workflow, its error and node) in
/// `iza status`, the API and `/metrics`, and fires an `[[alerts]]` rule on degraded statuses;
/// `GET /api/v1/workflows` (and `iza workflows`, which asks the server) shows the figures,
/// one workflow shows its executions, and a retry goes through the engine (409 and 404 of the
/// engine kept as such).
#[test]
fn serve_shows_a_failing_workflow_as_degraded_and_retries_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _standin = common::start(
        common::command()
            .args(["demo-service", "--port", &port.to_string(), "--name", "n8n"])
            .args(["--engine", "n8n", "--workflows", "12", "--history", "500"])
            .args(["--failure-rate", "0.6", "--failing-workflows", "1"])
            .args(["--executions-per-second", "10"]),
    );
    let (hook, told) = receiver();
    let manifest = dir.path().join("iza.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"version = 1
[notifiers.hook]
kind = "webhook"
url = "{hook}"

[services.n8n]
name = "n8n engine"
kind = "workflow-engine"
port = {port}
check = {{ http = "http://127.0.0.1:{port}/healthz/readiness", every = "1s" }}
workflows = {{ engine = "n8n", url = "http://127.0.0.1:{port}", api_key = "${{TEST_N8N_KEY}}", every = "1s", rules = {{ min_runs = 3 }} }}

[services.web]
check = {{ http = "http://127.0.0.1:{port}/healthz", every = "1s" }}
depends_on = ["n8n"]

[[alerts]]
name = "workflows failing"
statuses = ["degraded"]
notify = ["hook"]
group_wait = "1s"
"#
        ),
    )
    .unwrap();
    let _serve = common::start(
        common::command()
            .args([
                "serve",
                manifest.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .env("TEST_N8N_KEY", "standin-key"),
    );
    let base = until("`iza serve` announces itself", || {
        let text = std::fs::read_to_string(dir.path().join(".iza/server.json")).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        v["url"].as_str().map(str::to_owned)
    });

    // The status board: degraded by the workflows, its own check up, `web` not impacted.
    let row = until("n8n degraded in GET /api/v1/services", || {
        let (_, body) = call("GET", &format!("{base}/api/v1/services"), None);
        body["services"]
            .as_array()?
            .iter()
            .find(|s| s["id"] == "n8n" && s["status"] == "degraded")
            .cloned()
    });
    assert_eq!(row["own"], "up", "{row}");
    let reason = row["degraded_by"].as_str().unwrap_or_default().to_owned();
    assert!(reason.starts_with("1 workflow failing: `"), "{reason}");
    assert!(
        reason.contains("HTTP Request") && reason.contains("502"),
        "{reason}"
    );
    let (_, services) = call("GET", &format!("{base}/api/v1/services"), None);
    let web = services["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "web")
        .unwrap()
        .clone();
    assert_ne!(web["status"], "impacted", "{web}");

    // `iza status` asks the server and says why.
    let status = common::command()
        .args(["status", manifest.to_str().unwrap()])
        .env_remove("IZA_URL")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("n8n"))
        .unwrap_or_default();
    assert!(
        line.contains("degraded") && line.contains("workflow failing"),
        "{text}"
    );
    assert!(status.status.success(), "degraded is not down: {text}");

    // `/metrics`: the shown status and the engine's failing count.
    let (_, metrics) = call("GET", &format!("{base}/metrics"), None);
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(
        metrics.contains(r#"iza_service_status{service="n8n",group="",status="degraded"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"iza_workflows_failing{service="n8n",engine="n8n"} 1"#),
        "{metrics}"
    );

    // The alert rule on degraded statuses fires for the engine, with the board's reason.
    let alert = until("the degraded alert", || {
        let (_, body) = call("GET", &format!("{base}/api/v1/alerts"), None);
        body["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["service"] == "n8n" && a["status"] == "degraded")
            .cloned()
    });
    assert_eq!(alert["rule"], "workflows failing", "{alert}");
    assert!(
        alert["reason"]
            .as_str()
            .is_some_and(|r| r.contains("workflow failing")),
        "{alert}"
    );
    // And the webhook is told, with the reason.
    until("the webhook told of the degraded engine", || {
        told.lock()
            .unwrap()
            .iter()
            .find(|b| b.contains("n8n") && b.contains("workflow failing"))
            .cloned()
    });

    // GET /api/v1/workflows: the failing workflow first, with its error, node and link.
    let (status, doc) = call("GET", &format!("{base}/api/v1/workflows"), None);
    assert_eq!(status, 200, "{doc}");
    let engine = &doc["engines"][0];
    assert_eq!(engine["status"], "degraded", "{engine}");
    assert!(engine["follower"]["at"].is_i64(), "{engine}");
    let workflows = engine["workflows"].as_array().unwrap();
    assert_eq!(workflows.len(), 12);
    let failing = &workflows[0];
    assert_eq!(failing["failing"], true, "{failing}");
    assert_eq!(failing["last_failure"]["node"], "HTTP Request");
    for window in ["1h", "24h", "7d"] {
        assert!(
            failing["windows"][window]["runs"].as_u64().unwrap() >= 3,
            "{failing}"
        );
        assert!(failing["windows"][window]["p95_ms"].is_i64(), "{failing}");
    }
    let link = failing["last_failure_url"].as_str().unwrap();
    let failed_id = failing["last_failure"]["execution_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        link.ends_with(&format!("/executions/{failed_id}")),
        "{link}"
    );
    let (_, only) = call(
        "GET",
        &format!("{base}/api/v1/workflows?failing=true"),
        None,
    );
    assert_eq!(only["engines"][0]["workflows"].as_array().unwrap().len(), 1);
    let (status, none) = call("GET", &format!("{base}/api/v1/workflows?engine=nope"), None);
    assert_eq!(status, 404, "{none}");
    assert_eq!(none["error"]["code"], "unknown-workflow");
    let (status, bad) = call("GET", &format!("{base}/api/v1/workflows?failing=yes"), None);
    assert_eq!(status, 400, "{bad}");

    // `iza workflows` asks the server (the follower's round is in its answer).
    let cli = common::command()
        .args([
            "workflows",
            manifest.to_str().unwrap(),
            "--format",
            "json",
            "--failing",
        ])
        .env_remove("IZA_URL")
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert!(cli["engines"][0]["follower"]["at"].is_i64(), "{cli}");
    assert_eq!(cli["engines"][0]["workflows"].as_array().unwrap().len(), 1);

    // One workflow, its executions newest first, with links.
    let id = failing["id"].as_str().unwrap();
    let (status, one) = call(
        "GET",
        &format!("{base}/api/v1/workflows/n8n/{id}?limit=20"),
        None,
    );
    assert_eq!(status, 200, "{one}");
    let executions = one["executions"].as_array().unwrap();
    assert!(!executions.is_empty() && executions.len() <= 20, "{one}");
    let starts: Vec<i64> = executions
        .iter()
        .map(|e| e["started_at"].as_i64().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]), "{starts:?}");
    let succeeded = executions
        .iter()
        .find(|e| e["status"] == "success")
        .map(|e| e["id"].as_str().unwrap().to_owned());
    for (path, code) in [
        ("/api/v1/workflows/n8n/no-such-workflow", "unknown-workflow"),
        ("/api/v1/workflows/web/anything", "unknown-workflow"),
        ("/api/v1/workflows/nope/anything", "unknown-service"),
    ] {
        let (status, body) = call("GET", &format!("{base}{path}"), None);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some(code)),
            "{path}: {body}"
        );
    }

    // A retry: refused without the token; with it, the engine makes a `retry` execution.
    let retry = format!("{base}/api/v1/workflows/n8n/executions/{failed_id}/retry");
    let (status, _) = call("POST", &retry, None);
    assert_eq!(status, 401);
    let token = std::fs::read_to_string(dir.path().join(".iza/token")).unwrap();
    let token = token.trim();
    let (status, retried) = call("POST", &retry, Some(token));
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["retried"], failed_id.as_str());
    assert_eq!(retried["execution"]["mode"], "retry", "{retried}");
    assert_eq!(
        retried["execution"]["retry_of"],
        failed_id.as_str(),
        "{retried}"
    );
    // The engine's 409 (a succeeded execution) and 404 stay what they are, with a reason.
    if let Some(succeeded) = succeeded {
        let (status, conflict) = call(
            "POST",
            &format!("{base}/api/v1/workflows/n8n/executions/{succeeded}/retry"),
            Some(token),
        );
        assert_eq!(status, 409, "{conflict}");
        let message = conflict["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("refused to retry") && message.contains("succeeded"),
            "{message}"
        );
    }
    let (status, missing) = call(
        "POST",
        &format!("{base}/api/v1/workflows/n8n/executions/999999999/retry"),
        Some(token),
    );
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["error"]["code"], "unknown-execution");
    let (status, not_engine) = call(
        "POST",
        &format!("{base}/api/v1/workflows/web/executions/1/retry"),
        Some(token),
    );
    assert_eq!(status, 404, "{not_engine}");
}

/// `iza workflows retry <service>/<execution id>` retries through the engine's API: the
/// stand-in's failed execution gets a new one of mode `retry`; retrying that one (it
/// succeeded) is refused with n8n's 409, and the command exits 1.
#[test]
fn retry_creates_a_retry_execution_and_a_refusal_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Every execution of its history fails, none is generated later.
    let _standin = common::start(
        common::command()
            .args(["demo-service", "--port", &port.to_string(), "--name", "n8n"])
            .args(["--engine", "n8n", "--workflows", "3", "--history", "10"])
            .args(["--failure-rate", "1", "--executions-per-second", "0"]),
    );
    common::wait_until("the stand-in listens", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
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
        common::command()
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
