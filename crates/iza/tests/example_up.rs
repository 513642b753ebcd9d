//! End to end: `iza up examples/iza-os`, the README's main command, brings every supervised
//! seed service to ready and stops cleanly on Ctrl-C, leaving none of their processes behind.
//! (How fast is `docs/performance.md`'s business, not this test's.) Its state goes to a
//! temporary directory (`--db`), so the repository is left as it was, but for the
//! announcement `.iza/server.json` beside the example while it runs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

/// The two web automation services are ready once a real browser loads their site: make
/// sure Chromium is installed, as the browser tests do.
fn chromium() {
    let program = std::env::var_os("IZA_CHROMIUM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    if program.exists() {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/browser-deps.sh");
    let status = Command::new("bash").arg(script).status().unwrap();
    assert!(status.success(), "scripts/browser-deps.sh failed");
}

#[test]
fn the_example_ecosystem_comes_up_and_stops_cleanly() {
    chromium();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/iza-os");
    let state = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_iza"))
        .arg("up")
        .arg(&example)
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(state.path().join("state.db"))
        .env("IZA_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A failed assertion must not leave the example running (its services hold fixed ports):
    // `kill -9` it then; its services die with it.
    let guard = KillOnPanic(child.id());
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    let mut groups = Vec::new();
    let mut started = std::collections::BTreeSet::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("not all ready in time:\n{}", seen.join("\n"));
        };
        if let Some(pid) = line
            .split("(pid ")
            .nth(1)
            .and_then(|rest| rest.trim_end_matches(')').parse::<u32>().ok())
        {
            groups.push(pid);
            // A service may run twice before all is ready (the example's escalation chain can
            // restart the workflow monitor): count services, not starts.
            if let Some(name) = line
                .strip_prefix("running ")
                .and_then(|rest| rest.split(" (pid ").next())
            {
                started.insert(name.to_owned());
            }
        }
        let done = line.starts_with("all ready");
        seen.push(line);
        if done {
            break;
        }
        assert!(
            !seen.last().unwrap().starts_with("failed"),
            "{}",
            seen.join("\n")
        );
    }
    // The seed's 20 dashboards, business services, MCP servers and workflow engines.
    assert_eq!(started.len(), 20, "{}", seen.join("\n"));
    // The hub federates the five demo MCP servers (8301-8305) behind IZA's `/mcp`.
    let announced: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example.join(".iza/server.json")).unwrap())
            .unwrap();
    let address = announced["url"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let hub = loop {
        let hub = get_json(&address, "/api/v1/hub");
        if hub["up"] == 5 {
            break hub;
        }
        assert!(
            Instant::now() < deadline,
            "the hub's upstreams are not up: {hub}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(hub["count"], 5, "{hub}");
    assert!(
        hub["upstreams"][0]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "business-monetizer-mcp__echo"),
        "{hub}"
    );

    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline + DEADLINE,
            "`iza up` did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    // No process of any service's group is left.
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.parse::<u32>().is_ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let fields: Vec<&str> = stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .collect();
                // After `) `: state, ppid, pgrp.
                fields
                    .get(2)
                    .and_then(|pgrp| pgrp.parse::<u32>().ok())
                    .is_some_and(|pgrp| groups.contains(&pgrp))
                    && fields.first() != Some(&"Z")
            })
        })
        .collect();
    assert!(
        left.is_empty(),
        "processes left in the services' groups: {left:?}"
    );
    assert!(!example.join(".iza/server.json").exists());
    drop(guard);
}

/// Kills a process with `SIGKILL` when dropped during a panic.
struct KillOnPanic(u32);

impl Drop for KillOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
}

/// One `GET` over HTTP/1.0: the JSON body.
fn get_json(address: &str, path: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}
