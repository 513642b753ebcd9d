//! The dashboard's audit log in a real browser (`tests/browser/audit.test.mjs`, headless
//! Chromium via playwright-core): an `iza serve` of fixtures/mcp/ whose hub federates an
//! `iza demo-service --mcp` upstream and whose `port_map` is limited to 1/m; the browser test
//! makes MCP calls (allowed, denied, failing, rate-limited) and checks the page shows them,
//! filters them, follows new ones, and never shows their arguments. Screenshots in
//! `target/dashboard-screenshots/`. Beside it, the tests of how the page shows IZA's messages
//! (backtick spans as code, `tests/browser/rich.test.mjs`) under Node's test runner.
//!
//! Needs Node and Debian's `chromium`; `scripts/browser-deps.sh` installs what is missing.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The browser run's own limit (it stops itself); this test waits a little longer.
const BROWSER_DEADLINE: Duration = Duration::from_secs(180);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `target/` of this build: the binary is `target/<profile>/iza`.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_iza"))
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo().join("target"))
}

fn hub_up(address: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return false;
    };
    let _ = write!(
        stream,
        "GET /api/v1/hub HTTP/1.0\r\nHost: {address}\r\n\r\n"
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.contains("\"up\":1")
}

#[test]
fn the_audit_log_page_works_in_a_browser() {
    let deps = Command::new("bash")
        .arg(repo().join("scripts/browser-deps.sh"))
        .status()
        .expect("bash runs scripts/browser-deps.sh");
    assert!(deps.success(), "scripts/browser-deps.sh failed");

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
    let (ok, admin, err) = common::iza_text(dir.path(), &["token"]);
    assert!(ok, "{err}");
    let (ok, read, err) = common::iza_text(dir.path(), &["token", "--read-only"]);
    assert!(ok, "{err}");
    let server = common::start(common::command().args([
        "serve",
        dir.path().to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--mcp-tool-rate-limit",
        "port_map=1/m",
    ]));
    let announced = dir.path().join(".iza/server.json");
    let mut url = String::new();
    common::wait_until("`iza serve` announces itself", || {
        let text = std::fs::read_to_string(&announced).unwrap_or_default();
        url = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|doc| doc["url"].as_str().map(str::to_owned))
            .unwrap_or_default();
        !url.is_empty()
    });
    let address = url.trim_start_matches("http://").to_owned();
    common::wait_until("the hub has its upstream", || hub_up(&address));

    let screenshots = target_dir().join("dashboard-screenshots");
    let mut node = Command::new("node")
        .arg("audit.test.mjs")
        .args(["--base", &url])
        .args(["--token", admin.trim()])
        .args(["--read-token", read.trim()])
        .args(["--upstream", "alpha"])
        .args([
            "--timeout-ms",
            &(BROWSER_DEADLINE.as_millis() - 10_000).to_string(),
        ])
        .arg("--screenshots")
        .arg(&screenshots)
        .current_dir(repo().join("tests/browser"))
        .spawn()
        .expect("node runs the audit page's browser test");
    let deadline = Instant::now() + BROWSER_DEADLINE;
    let status = loop {
        if let Some(status) = node.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = node.kill();
            let _ = node.wait();
            panic!("the audit page's browser test did not finish in {BROWSER_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(server);
    drop(upstream);
    assert!(
        status.success(),
        "the audit page's browser test failed ({status}); screenshots in `{}`",
        screenshots.display()
    );
    for variant in ["dark", "light", "phone-dark", "phone-light", "token-dark"] {
        let shot = screenshots.join(format!("audit-{variant}.png"));
        assert!(shot.is_file(), "no screenshot `{}`", shot.display());
    }
}

/// `rich` (crates/iza-server/web/js/dom.js) under Node's test runner: backtick spans become
/// code elements holding text; markup in a message stays text.
#[test]
fn messages_show_backtick_spans_as_code_and_markup_as_text() {
    let output = Command::new("node")
        .args(["--test", "--test-timeout=30000", "rich.test.mjs"])
        .current_dir(repo().join("tests/browser"))
        .output()
        .expect("node runs the message tests");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
