//! End to end: `iza up` watches a service whose check the test switches; its outage reaches a
//! real webhook receiver once; `iza alerts`, `iza ack` and `iza silence` work it from a second
//! terminal, through the running server.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{iza_text, up, wait_until};

/// A webhook receiver: the bodies it got.
fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let sink = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at;
                }
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break usize::MAX,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
            };
            if head_end == usize::MAX {
                continue;
            }
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

#[test]
fn an_outage_is_notified_once_and_worked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("db-up");
    std::fs::write(&flag, "").unwrap();
    let (url, bodies) = receiver();
    let _server = up(
        dir.path(),
        &format!(
            r#"version = 1
[services.db]
check = {{ exec = ["test", "-e", "{}"], every = "200ms" }}
[services.api]
depends_on = ["db"]
[agents.ops]
tier = 1
services = ["db", "api"]
[notifiers.ops]
kind = "webhook"
url = "{url}"
[[alerts]]
name = "down"
notify = ["ops"]
group_wait = "200ms"
"#,
            flag.display()
        ),
    );
    wait_until("db is up", || {
        let (_, stdout, _) = iza_text(dir.path(), &["status", "--format", "json"]);
        stdout.contains("\"up\"")
    });
    std::fs::remove_file(&flag).unwrap();
    wait_until("the webhook got the alert", || {
        !bodies.lock().unwrap().is_empty()
    });
    let body: serde_json::Value = serde_json::from_str(&bodies.lock().unwrap()[0]).unwrap();
    assert_eq!(body["alerts"][0]["service"], "db");
    assert_eq!(body["alerts"][0]["impacted"], serde_json::json!(["api"]));

    let (ok, stdout, stderr) = iza_text(dir.path(), &["alerts"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("`db` is down"), "{stdout}");
    assert!(stdout.contains("impacted: api"), "{stdout}");
    let id = body["alerts"][0]["id"].to_string();
    let (ok, stdout, stderr) = iza_text(dir.path(), &["ack", &id, "--by", "the tester"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("acknowledged by the tester"), "{stdout}");
    let (_, stdout, _) = iza_text(dir.path(), &["alerts", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["alerts"][0]["acknowledged_by"], "the tester");

    let (ok, stdout, stderr) = iza_text(
        dir.path(),
        &[
            "silence",
            "--service",
            "db",
            "--for",
            "2h",
            "--comment",
            "upgrade",
        ],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("silence 1 created"), "{stdout}");
    let (_, stdout, _) = iza_text(dir.path(), &["silence", "--list"]);
    assert!(
        stdout.contains("upgrade") && stdout.contains("ends in"),
        "{stdout}"
    );
    let (ok, stdout, stderr) = iza_text(dir.path(), &["silence", "--expire", "1"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("silence 1 ended"), "{stdout}");
    // A silence without a reason is refused, with a hint.
    let (ok, _, stderr) = iza_text(dir.path(), &["silence", "--service", "db"]);
    assert!(!ok);
    assert!(stderr.contains("hint:"), "{stderr}");
    assert_eq!(
        bodies.lock().unwrap().len(),
        1,
        "one notification for one outage"
    );
}
