//! End to end: events bound for an output whose receiver is down wait in the outbox of a real
//! `iza up`; `kill -9` of that `iza`; the receiver comes up; the next `iza up` on the same
//! directory delivers them, before its own events (docs/events.md).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Running;

/// The outbox's retries back off: delivery may take longer than the harness's usual deadline.
const DEADLINE: Duration = Duration::from_secs(60);

fn start(dir: &Path) -> Running {
    common::start(
        common::command()
            .arg("up")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"]),
    )
}

/// `iza outputs DIR --format json`, when the server answers.
fn outputs(dir: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&common::iza(dir, &["outputs", "--format", "json"]).stdout).ok()
}

/// A webhook receiver: every POST body, in order of arrival.
fn serve(listener: TcpListener, bodies: Arc<Mutex<Vec<serde_json::Value>>>) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let bodies = bodies.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 {
                            return;
                        }
                        if header == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    if let Ok(value) = serde_json::from_slice(&body) {
                        bodies.lock().unwrap().push(value);
                    }
                    if writer
                        .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
}

#[test]
fn events_in_the_outbox_of_a_killed_iza_are_delivered_by_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    std::fs::write(
        dir.path().join("iza.toml"),
        format!(
            r#"version = 1
[ecosystem]
name = "crash"
[services.dummy]
command = ["sleep", "600"]
[outputs.hook]
kind = "webhook"
url = "http://127.0.0.1:{port}/hook"
events = ["monitor-started", "process-*"]
timeout = "1s"
"#
        ),
    )
    .unwrap();
    let first = start(dir.path());
    // The receiver is down: the first process's events wait in its outbox.
    let mut doc = None;
    let waiting = common::poll_within(DEADLINE, || {
        doc = outputs(dir.path());
        let hook = doc.as_ref().map(|d| d["outputs"][0].clone());
        hook.is_some_and(|hook| {
            hook["depth"].as_u64().unwrap_or(0) >= 3 && hook["failures"].as_u64().unwrap_or(0) > 0
        })
    });
    assert!(waiting, "no events waiting: {doc:?}");
    first.kill_9();

    let bodies = Arc::new(Mutex::new(Vec::new()));
    serve(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        bodies.clone(),
    );
    let second = start(dir.path());
    // Both processes' events, told apart by the epoch of their ids: the first one's first.
    let epochs_of = |received: &[serde_json::Value]| {
        let mut epochs: Vec<String> = Vec::new();
        for ce in received {
            let epoch = ce["id"].as_str().unwrap().split('-').next().unwrap();
            if !epochs.iter().any(|e| e == epoch) {
                epochs.push(epoch.to_owned());
            }
        }
        epochs
    };
    let delivered = common::poll_within(DEADLINE, || epochs_of(&bodies.lock().unwrap()).len() >= 2);
    assert!(delivered, "not delivered: {:?}", bodies.lock().unwrap());
    let epochs = epochs_of(&bodies.lock().unwrap());
    let received = bodies.lock().unwrap().clone();
    let first_epoch = &epochs[0];
    let firsts: Vec<usize> = received
        .iter()
        .enumerate()
        .filter(|(_, ce)| {
            ce["id"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{first_epoch}-"))
        })
        .map(|(i, _)| i)
        .collect();
    assert!(
        firsts.len() >= 3,
        "the killed process's events: {received:?}"
    );
    assert_eq!(
        firsts,
        (0..firsts.len()).collect::<Vec<_>>(),
        "the killed process's events come first"
    );
    second.stop();
}
