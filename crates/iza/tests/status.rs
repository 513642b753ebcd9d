//! `iza status` against real servers: probing every service once, and asking a running
//! `iza serve` (by `--url` or through its announcement), it shows, dependency-aware, which
//! service is down and which are only impacted by it.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

/// A tiny HTTP server answering 200 to every request, on a thread, for the test's lifetime.
fn healthy_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    port
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn manifest(dir: &Path, db_port: u16, api_port: u16) -> std::path::PathBuf {
    let text = format!(
        r#"
[services.db]
check = {{ tcp = "127.0.0.1:{db_port}", timeout = "2s", every = "1s" }}

[services.api]
depends_on = ["db"]
check = {{ http = "http://127.0.0.1:{api_port}/healthz", timeout = "2s", every = "1s" }}

[services.web]
depends_on = ["api"]
check = {{ http = "http://127.0.0.1:{api_port}/", timeout = "2s", every = "1s", conditions = ["[STATUS] == 200"] }}

[agents.ops]
tier = 2
services = ["db", "api", "web"]
"#
    );
    let path = dir.join("iza.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn status(path: &Path) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_iza"))
        .args(["status", path.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), json)
}

fn shown(json: &serde_json::Value) -> Vec<(String, String, Option<String>)> {
    json["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
                s["by"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn a_down_dependency_is_the_root_cause_and_its_dependents_are_impacted() {
    let dir = std::env::temp_dir().join(format!("iza-status-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let api = healthy_server();

    let (code, json) = status(&manifest(&dir, closed_port(), api));
    assert_eq!(code, Some(1), "a service is down: {json:#}");
    let by = Some("db".to_owned());
    assert_eq!(
        shown(&json),
        [
            ("db".to_owned(), "down".to_owned(), None),
            ("api".to_owned(), "impacted".to_owned(), by.clone()),
            ("web".to_owned(), "impacted".to_owned(), by),
        ]
    );

    let db = healthy_server();
    let (code, json) = status(&manifest(&dir, db, api));
    assert_eq!(code, Some(0), "{json:#}");
    assert!(shown(&json).iter().all(|(_, s, _)| s == "up"), "{json:#}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `iza serve` on the manifest and returns once it listens.
fn serve(manifest: &Path) -> common::Server {
    common::listening(
        common::command()
            .arg("serve")
            .arg(manifest)
            .args(["--listen", "127.0.0.1:0"]),
    )
}

fn status_args(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iza"))
        .arg("status")
        .args(args)
        .args(["--format", "json"])
        .env_remove("IZA_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), json, stderr)
}

#[test]
fn status_asks_the_running_server_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest(dir.path(), closed_port(), healthy_server());
    let server = serve(&manifest);
    let url = format!("http://{}", server.address);
    let path = manifest.to_str().unwrap();

    // Asked by URL, and found through the announcement beside the manifest: the same answer,
    // once the monitor has probed (polled with a deadline).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let expected = [
        ("db".to_owned(), "down".to_owned(), None),
        (
            "api".to_owned(),
            "impacted".to_owned(),
            Some("db".to_owned()),
        ),
        (
            "web".to_owned(),
            "impacted".to_owned(),
            Some("db".to_owned()),
        ),
    ];
    for args in [vec!["--url", url.as_str()], vec![path]] {
        loop {
            let (code, json, stderr) = status_args(&args);
            assert_eq!(json["source"], "server", "{args:?}: {json:#} {stderr}");
            assert_eq!(json["url"].as_str(), Some(url.as_str()));
            assert_eq!(json["ecosystem"], "ecosystem");
            if shown(&json) == expected {
                assert_eq!(code, Some(1), "a service is down: {json:#}");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server never showed the outage: {json:#}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    // Once the server has stopped, its announcement is gone and `iza status` probes itself.
    assert!(server.process.terminate().success());
    assert!(!dir.path().join(".iza/server.json").exists());
    let (code, json, stderr) = status_args(&[path]);
    assert_eq!(json["source"], "probe", "{json:#} {stderr}");
    assert_eq!(code, Some(1));
    assert_eq!(shown(&json), expected);

    // A URL where nothing answers is an error that says what to do.
    let (code, _, stderr) = status_args(&["--url", &url]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot reach the server at"), "{stderr}");
    assert!(stderr.contains("hint: check the URL"), "{stderr}");
}
