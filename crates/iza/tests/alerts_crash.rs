//! End to end: `kill -9` of a real `iza up` while the notification of an alert is in flight
//! (the receiver holds the request unanswered), then a restart on the same directory: the
//! delivery its dead predecessor left running is released, sent again, and received once, the
//! restarted engine resuming the open alert without firing it a second time.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Running, wait_until as wait};

/// `iza up` of the manifest already in `dir`, its output dropped.
fn start(dir: &Path) -> Running {
    common::start(
        common::command()
            .arg("up")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"]),
    )
}

/// What the receiver saw: requests held unanswered, bodies answered 200.
#[derive(Default)]
struct Seen {
    held: Vec<(TcpStream, String)>,
    delivered: Vec<String>,
}

fn read_body(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
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
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Some(String::from_utf8_lossy(&body).into_owned())
}

/// A webhook receiver that holds every request unanswered until `answer` is set, then
/// answers 200.
fn receiver(answer: Arc<AtomicBool>) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sink = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(body) = read_body(&mut stream) else {
                continue;
            };
            if answer.load(Ordering::SeqCst) {
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                sink.lock().unwrap().delivered.push(body);
            } else {
                sink.lock().unwrap().held.push((stream, body));
            }
        }
    });
    (url, seen)
}

fn status_json(dir: &Path) -> String {
    common::text(&common::iza(dir, &["status", "--format", "json"])).0
}

#[test]
fn a_delivery_in_flight_at_kill_9_is_received_once_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("db-up");
    std::fs::write(&flag, "").unwrap();
    let answer = Arc::new(AtomicBool::new(false));
    let (url, seen) = receiver(answer.clone());
    std::fs::write(
        dir.path().join("iza.toml"),
        format!(
            r#"version = 1
[services.db]
check = {{ exec = ["test", "-e", "{}"], every = "200ms" }}
[services.api]
depends_on = ["db"]
[notifiers.ops]
kind = "webhook"
url = "{url}"
timeout = "30s"
[[alerts]]
name = "down"
notify = ["ops"]
group_wait = "200ms"
"#,
            flag.display()
        ),
    )
    .unwrap();
    let first = start(dir.path());
    wait("db is up", || status_json(dir.path()).contains("\"up\""));
    std::fs::remove_file(&flag).unwrap();
    wait("the notification is in flight", || {
        !seen.lock().unwrap().held.is_empty()
    });
    // kill -9: no chance to finish or release the delivery run.
    first.kill_9();
    let in_flight = seen.lock().unwrap().held[0].1.clone();
    seen.lock().unwrap().held.clear();
    answer.store(true, Ordering::SeqCst);

    let _second = start(dir.path());
    wait("the notification is delivered after the restart", || {
        !seen.lock().unwrap().delivered.is_empty()
    });
    let delivered = seen.lock().unwrap().delivered[0].clone();
    let before: serde_json::Value = serde_json::from_str(&in_flight).unwrap();
    let after: serde_json::Value = serde_json::from_str(&delivered).unwrap();
    // The same message (decided once, before the kill), not a second firing.
    assert_eq!(after, before);
    assert_eq!(after["alerts"][0]["service"], "db");
    assert_eq!(after["alerts"][0]["transition"], "firing");
    // Nothing else comes: the worker polls every second and retries after 1 s; three seconds
    // without a second request means none was queued.
    let quiet_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < quiet_until {
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.delivered.len() + seen.held.len(),
            1,
            "a second notification arrived: {:?}",
            seen.delivered
        );
        drop(seen);
        std::thread::sleep(Duration::from_millis(100));
    }
}
