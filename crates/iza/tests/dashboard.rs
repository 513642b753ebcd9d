//! End to end, in a real browser: starts five HTTP services of its own on 127.0.0.1, writes a
//! manifest watching them (a dependency chain, 1 s checks), runs `iza up` on it (which also supervises `docs`), and runs
//! the dashboard's browser tests (`tests/browser/dashboard.test.mjs`, headless Chromium via
//! playwright-core) against it. The browser tests take a service down by asking this test's
//! control endpoint (`POST /down/ID`), which closes that service's listener, and stop and
//! start `iza up` through it (`POST /server/stop`, `/server/start`). Screenshots of
//! every page are left in `target/dashboard-screenshots/`.
//!
//! Needs Node and Debian's `chromium`; `scripts/browser-deps.sh` installs what is missing.
//! Another test serves the newer pages (Alerts, Nodes, MCP hub, business figures, failed
//! comparisons) from one `iza up` on PostgreSQL with real data (`tests/browser/pages.test.mjs`).
//! Another serves the Workflows page over the n8n stand-in (`tests/browser/workflows.test.mjs`).
//! A second test runs the tests of the page's pure functions (graph layout, timeline merge, the
//! agents' work in words) in Node.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[path = "../../iza-store/tests/common/test_database.rs"]
mod test_database;

mod common;
use common::{DEADLINE, Server};

/// The browser run's own limit (it stops itself); this test waits a little longer.
const BROWSER_DEADLINE: Duration = Duration::from_secs(240);

/// A tiny HTTP service answering `200 ok` to everything until it is stopped; stopping closes
/// its listener, so its check then fails with "connection refused".
struct Backend {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    fn start() -> Backend {
        Backend::serving("text/plain", "ok")
    }

    /// Answers `200` with `body` of `content_type` to every request (a page to compare).
    fn serving(content_type: &'static str, body: &'static str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = read_head(&stream);
                    respond_typed(stream, "200 OK", content_type, body);
                }
            }
            // Dropping the listener here closes the port.
        });
        Backend {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) {
        if self.stop.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the accept loop so it sees the flag and drops the listener.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The request line of the request on `stream`, its head read up to the blank line.
fn read_head(stream: &TcpStream) -> String {
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    let _ = reader.read_line(&mut first);
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim_end() != "" {
        line.clear();
    }
    first
}

fn respond(stream: TcpStream, status: &str, body: &str) {
    respond_typed(stream, status, "text/plain", body);
}

fn respond_typed(mut stream: TcpStream, status: &str, content_type: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Starts `iza up` (the monitor and the API, plus the supervisor of `docs`) on the manifest in
/// `dir`, listening on `listen`, with `extra` arguments; returns once it names its address.
fn start_server(dir: &Path, listen: &str, extra: &[&str]) -> Server {
    common::listening(
        common::command()
            .arg("up")
            .arg(dir)
            .args(["--listen", listen])
            .args(extra),
    )
}

/// Stops `iza up` with SIGTERM and expects a clean exit.
fn stop_server(server: Server) {
    let (exit, _) = server.terminate();
    assert!(exit.success(), "`iza up` exited with {exit}");
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `target/` of this build: the binary is `target/<profile>/iza`.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_iza"))
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn manifest(ports: &HashMap<&str, u16>) -> String {
    let check = |id: &str| {
        format!(
            "port = {port}\ncheck = {{ http = \"http://127.0.0.1:{port}/healthz\", every = \"1s\", timeout = \"1s\", conditions = [\"[STATUS] == 200\"] }}\n",
            port = ports[id]
        )
    };
    format!(
        r#"version = 1

[ecosystem]
name = "dashboard test"
description = "Five services of the browser test and one without a check."
claims = [{{ label = "Total services mapped", value = "5+ services", counts = "services" }}]

[groups.data]
name = "Data stores"

[groups.edge]
name = "Edge"

[services.db]
name = "Database"
group = "data"
{db}
[services.cache]
group = "data"
{cache}
[services.api]
name = "API"
group = "edge"
depends_on = ["db", "cache"]
connects = [{{ to = "cache", via = "redis" }}]
{api}
[services.web]
name = "Web front"
group = "edge"
depends_on = ["api"]
{web}
[services.worker]
depends_on = ["db"]
connects = [{{ to = "api", via = "http" }}]
{worker}
[services.docs]
description = "No check: stays unknown. Supervised: it prints a line every 200 ms."
command = ["sh", "-c", "echo docs starting; i=0; while true; do i=$((i+1)); echo docs line $i; sleep 0.2; done"]
stop = {{ grace = "2s" }}

[agents.steward]
name = "Steward"
tier = 1
groups = ["data", "edge"]
services = ["worker", "docs"]

[[agents.steward.tasks]]
name = "nightly report"
priority = "low"

[agents.keeper]
name = "Keeper"
tier = 2
reports_to = "steward"

[agents.runner]
name = "Runner"
tier = 3
reports_to = "keeper"
services = ["db"]

[[agents.runner.tasks]]
name = "ping"
priority = "high"
every = "1s"
run = {{ exec = ["true"] }}

[[agents.runner.tasks]]
name = "fail"
every = "2s"
retries = 1
backoff = "1s"
run = {{ exec = ["sh", "-c", "echo checking; echo the check failed >&2; exit 1"] }}

[[agents.runner.tasks]]
name = "hello"
run = {{ exec = ["echo", "hello from the dashboard"] }}

[[agents.runner.tasks]]
name = "slow"
priority = "low"
run = {{ exec = ["sleep", "6"] }}
"#,
        db = check("db"),
        cache = check("cache"),
        api = check("api"),
        web = check("web"),
        worker = check("worker"),
    )
}

#[test]
fn the_dashboard_works_in_a_browser() {
    let root = workspace_root();
    let deps = Command::new("bash")
        .arg(root.join("scripts/browser-deps.sh"))
        .status()
        .expect("bash runs scripts/browser-deps.sh");
    assert!(
        deps.success(),
        "scripts/browser-deps.sh failed: the browser tests need Node and Chromium"
    );

    let mut backends: HashMap<&str, Backend> = ["db", "cache", "api", "web", "worker"]
        .into_iter()
        .map(|id| (id, Backend::start()))
        .collect();
    let ports: HashMap<&str, u16> = backends.iter().map(|(id, b)| (*id, b.port)).collect();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("iza.toml"), manifest(&ports)).unwrap();

    let mut server = Some(start_server(dir.path(), "127.0.0.1:0", &[]));
    let address = server.as_ref().unwrap().address.clone();
    // The token `iza up` created on its first start: the page asks for it before a stop.
    let token = std::fs::read_to_string(dir.path().join(".iza/token"))
        .unwrap()
        .trim()
        .to_owned();

    // The control endpoint: `POST /down/ID` stops that backend; `POST /server/stop` stops
    // `iza up` and `POST /server/start` starts it again on the same address (the page must
    // show the lost connection, then reconnect by itself). Requests are read on their own
    // thread and carried out here, between polls of the browser run.
    let control = TcpListener::bind("127.0.0.1:0").unwrap();
    let control_port = control.local_addr().unwrap().port();
    let (down_tx, down_rx) = mpsc::channel::<(String, TcpStream)>();
    std::thread::spawn(move || {
        for stream in control.incoming().map_while(Result::ok) {
            let request = read_head(&stream);
            let path = request.split_whitespace().nth(1).unwrap_or_default();
            if down_tx.send((path.to_owned(), stream)).is_err() {
                break;
            }
        }
    });

    let screenshots = target_dir().join("dashboard-screenshots");
    let mut node = Command::new("node")
        .arg(root.join("tests/browser/dashboard.test.mjs"))
        .args(["--base", &format!("http://{address}")])
        .args(["--control", &format!("http://127.0.0.1:{control_port}")])
        .args(["--nodes", "6", "--edges", "6"])
        .args(["--down", "db", "--impacted", "api,web,worker"])
        .args(["--interval-ms", "1000", "--search", "web"])
        .args(["--process", "docs", "--token", &token])
        // The agents: `runner` (tier 3) reports to `keeper` (tier 2), which reports to
        // `steward` (tier 1); `fail` fails every time, so its incident climbs the whole chain.
        .args(["--chain", "runner,keeper,steward"])
        .args(["--ok-task", "runner/ping", "--failing-task", "runner/fail"])
        .args([
            "--run-now",
            "runner/hello",
            "--run-now-output",
            "hello from the dashboard",
        ])
        .args(["--slow-task", "runner/slow", "--agents-service", "db"])
        .args([
            "--timeout-ms",
            &(BROWSER_DEADLINE.as_millis() - 10_000).to_string(),
        ])
        .arg("--screenshots")
        .arg(&screenshots)
        .current_dir(root.join("tests/browser"))
        .spawn()
        .expect("node runs the browser tests");

    // Serve the control requests while the browser tests run.
    let browser_deadline = Instant::now() + BROWSER_DEADLINE;
    let status = loop {
        if let Some(status) = node.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > browser_deadline {
            let _ = node.kill();
            let _ = node.wait();
            panic!("the browser tests did not finish in {BROWSER_DEADLINE:?}");
        }
        if let Ok((path, stream)) = down_rx.recv_timeout(Duration::from_millis(50)) {
            // The control thread read the request; carry it out and answer.
            let backend = path
                .strip_prefix("/down/")
                .and_then(|id| backends.get_mut(id));
            match (path.as_str(), backend) {
                (_, Some(backend)) => {
                    backend.stop();
                    respond(stream, "200 OK", "stopped");
                }
                ("/server/stop", None) => {
                    stop_server(server.take().expect("`iza up` runs"));
                    respond(stream, "200 OK", "stopped");
                }
                ("/server/start", None) => {
                    server = Some(start_server(dir.path(), &address, &[]));
                    respond(stream, "200 OK", "started");
                }
                _ => respond(stream, "404 Not Found", "no such control"),
            }
        }
    };
    assert!(
        status.success(),
        "the browser tests failed ({status}); screenshots in `{}`",
        screenshots.display()
    );
    for page in [
        "overview",
        "graph",
        "services",
        "service",
        "ports",
        "events",
        "execution",
    ] {
        for variant in ["dark", "light", "phone"] {
            let shot = screenshots.join(format!("{page}-{variant}.png"));
            assert!(shot.is_file(), "no screenshot `{}`", shot.display());
        }
    }

    stop_server(server.take().expect("`iza up` runs"));
}

/// The original of the compared pages: a heading, a paragraph and two links.
const ORIGINAL_PAGE: &str = "<!doctype html><html><head><title>Shop</title></head><body style=\"margin:0;font:16px sans-serif\"><main><h1 style=\"background:#1a4;color:#fff;padding:40px\">The shop</h1><p>Fresh bread every morning, delivered to your door.</p><a href=\"/cart\">Cart</a> <a href=\"/about\">About us</a></main></body></html>";
/// The replica: another colour, other words and one link missing, so the comparison fails.
const REPLICA_PAGE: &str = "<!doctype html><html><head><title>Shop</title></head><body style=\"margin:0;font:16px sans-serif\"><main><h1 style=\"background:#c22;color:#fff;padding:80px\">A shop</h1><p>Stale cakes now and then.</p><a href=\"/cart\">Cart</a></main></body></html>";

/// A port free at the time of asking, for a process `iza up` starts (its listener is closed
/// before the port is handed over).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The manifest of the newer pages' test: `db` down from the start (its port is closed) with
/// `api` depending on it, an alert rule telling a webhook (`hook`, answering 200), `biz`
/// playing a business (`iza demo-service --arr`, figures read every second, a claim on ARR),
/// `tools` a demo MCP server federated by the hub, and `shop` a compare check whose replica
/// differs from its original.
fn pages_manifest(ports: &HashMap<&str, u16>, iza: &str) -> String {
    format!(
        r#"version = 1

[ecosystem]
name = "dashboard pages test"
claims = [{{ label = "Annual recurring revenue", value = "$200M+", figure = "arr" }}]

[groups.business]
name = "Business"

[notifiers.hook]
kind = "webhook"
url = "http://127.0.0.1:{hook}/alerts"

[[alerts]]
name = "service down"
statuses = ["down"]
severity = "critical"
notify = ["hook"]
group_wait = "1s"

[services.db]
name = "Database"
check = {{ tcp = "127.0.0.1:{db}", every = "1s", timeout = "1s" }}

[services.api]
name = "API"
depends_on = ["db"]
check = {{ http = "http://127.0.0.1:{api}/", every = "1s", timeout = "1s" }}

[services.biz]
name = "Bakery business"
group = "business"
port = {biz}
command = ["{iza}", "demo-service", "--port", "{biz}", "--name", "biz", "--arr", "200000000", "--customers", "382"]
check = {{ http = "http://127.0.0.1:{biz}/metrics", every = "1s", timeout = "1s" }}

[services.biz.metrics.arr]
label = "ARR"
prometheus = "http://127.0.0.1:{biz}/metrics"
series = "business_arr_dollars"
unit = "USD"
format = "currency"
every = "1s"

[services.biz.metrics.customers]
label = "Customers"
json = {{ url = "http://127.0.0.1:{biz}/figures.json", path = "$.customers" }}
format = "count"
every = "1s"

[services.tools]
name = "Tools MCP"
kind = "mcp-server"
port = {tools}
command = ["{iza}", "demo-service", "--mcp", "--port", "{tools}", "--name", "tools"]
mcp = {{ url = "http://127.0.0.1:{tools}/mcp" }}

[services.shop]
name = "Shop replica"
check = {{ compare = {{ original = "http://127.0.0.1:{original}/", replica = "http://127.0.0.1:{replica}/" }}, wait_for = "main", every = "5s", timeout = "20s" }}
"#,
        hook = ports["hook"],
        db = ports["db"],
        api = ports["api"],
        biz = ports["biz"],
        tools = ports["tools"],
        original = ports["original"],
        replica = ports["replica"],
    )
}

/// The newer pages against real data (`tests/browser/pages.test.mjs`): the Alerts page with an
/// alert firing from a down service (acknowledged, then a silence made and ended, with the
/// token), the Nodes page of a server on PostgreSQL, the MCP hub with a demo MCP upstream, the
/// overview's business figures and a service's sparklines from `iza demo-service --arr`, and
/// a failed comparison's original, replica and diff. One `iza up` serves every page.
/// Screenshots in both themes, at desktop and phone widths, in `target/dashboard-screenshots/`.
#[test]
fn the_newer_pages_work_in_a_browser() {
    let root = workspace_root();
    let deps = Command::new("bash")
        .arg(root.join("scripts/browser-deps.sh"))
        .status()
        .expect("bash runs scripts/browser-deps.sh");
    assert!(deps.success(), "scripts/browser-deps.sh failed");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let database = runtime.block_on(test_database::TestDatabase::create());

    let hook = Backend::start();
    let api = Backend::start();
    let original = Backend::serving("text/html", ORIGINAL_PAGE);
    let replica = Backend::serving("text/html", REPLICA_PAGE);
    let ports: HashMap<&str, u16> = [
        ("hook", hook.port),
        ("api", api.port),
        ("original", original.port),
        ("replica", replica.port),
        // Closed: `db` is down from the start.
        ("db", free_port()),
        ("biz", free_port()),
        ("tools", free_port()),
    ]
    .into_iter()
    .collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iza.toml"),
        pages_manifest(&ports, env!("CARGO_BIN_EXE_iza")),
    )
    .unwrap();
    let server = start_server(dir.path(), "127.0.0.1:0", &["--store", &database.url()]);
    let address = server.address.clone();
    let token = std::fs::read_to_string(dir.path().join(".iza/token"))
        .unwrap()
        .trim()
        .to_owned();

    let screenshots = target_dir().join("dashboard-screenshots");
    let mut node = Command::new("node")
        .arg("pages.test.mjs")
        .args(["--base", &format!("http://{address}")])
        .args(["--token", &token])
        .args(["--down", "db", "--impacted", "api"])
        .args([
            "--figures",
            "biz",
            "--compare",
            "shop",
            "--upstream",
            "tools",
        ])
        .args([
            "--timeout-ms",
            &(BROWSER_DEADLINE.as_millis() - 10_000).to_string(),
        ])
        .arg("--screenshots")
        .arg(&screenshots)
        .current_dir(root.join("tests/browser"))
        .spawn()
        .expect("node runs the pages' browser tests");
    let deadline = Instant::now() + BROWSER_DEADLINE;
    let status = loop {
        if let Some(status) = node.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = node.kill();
            let _ = node.wait();
            panic!("the pages' browser tests did not finish in {BROWSER_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "the pages' browser tests failed ({status}); screenshots in `{}`",
        screenshots.display()
    );
    for page in [
        "alerts",
        "nodes",
        "hub",
        "figures",
        "sparklines",
        "comparison",
    ] {
        for variant in ["dark", "light", "phone-dark", "phone-light"] {
            let shot = screenshots.join(format!("{page}-{variant}.png"));
            assert!(shot.is_file(), "no screenshot `{}`", shot.display());
        }
    }
    stop_server(server);
    drop(database);
}

/// The Workflows page (`tests/browser/workflows.test.mjs`): `iza up` supervises the n8n
/// stand-in (`iza demo-service --engine n8n`, 12 workflows, the first failing at 60 %) and
/// follows it; the page shows the engine degraded, the failing workflow first with its error,
/// node and link, and retries its last failed execution with the token. Screenshots in both
/// themes, at desktop and phone widths, in `target/dashboard-screenshots/`.
#[test]
fn the_workflows_page_works_in_a_browser() {
    let root = workspace_root();
    let deps = Command::new("bash")
        .arg(root.join("scripts/browser-deps.sh"))
        .status()
        .expect("bash runs scripts/browser-deps.sh");
    assert!(deps.success(), "scripts/browser-deps.sh failed");
    let port = free_port();
    let iza = env!("CARGO_BIN_EXE_iza");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iza.toml"),
        format!(
            r#"version = 1
[ecosystem]
name = "workflows page test"

[services.n8n]
name = "n8n"
kind = "workflow-engine"
port = {port}
command = ["{iza}", "demo-service", "--port", "{port}", "--name", "n8n", "--engine", "n8n", "--workflows", "12", "--history", "600", "--failure-rate", "0.6", "--failing-workflows", "1", "--executions-per-second", "5"]
check = {{ http = "http://127.0.0.1:{port}/healthz/readiness", every = "1s" }}
workflows = {{ engine = "n8n", url = "http://127.0.0.1:{port}", api_key = "standin-key", every = "1s", rules = {{ min_runs = 3 }} }}
"#
        ),
    )
    .unwrap();
    let server = start_server(dir.path(), "127.0.0.1:0", &[]);
    let address = server.address.clone();
    let token = std::fs::read_to_string(dir.path().join(".iza/token"))
        .unwrap()
        .trim()
        .to_owned();
    let screenshots = target_dir().join("dashboard-screenshots");
    let output = Command::new("node")
        .arg("workflows.test.mjs")
        .args(["--base", &format!("http://{address}")])
        .args(["--token", &token])
        .args(["--engine", "n8n", "--workflows", "12"])
        .args([
            "--timeout-ms",
            &(BROWSER_DEADLINE.as_millis() - 10_000).to_string(),
        ])
        .arg("--screenshots")
        .arg(&screenshots)
        .current_dir(root.join("tests/browser"))
        .output()
        .expect("node runs the Workflows page's browser test");
    stop_server(server);
    assert!(
        output.status.success(),
        "the Workflows page's browser test failed; screenshots in `{}`\n{}{}",
        screenshots.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for variant in ["dark", "light", "phone-dark", "phone-light", "service-dark"] {
        let shot = screenshots.join(format!("workflows-{variant}.png"));
        assert!(shot.is_file(), "no screenshot `{}`", shot.display());
    }
}

/// With reads protected (`--protect-reads`), the page asks for the token, refuses a wrong one
/// and, with the right one, signs in and shows the live overview:
/// `tests/browser/signin.test.mjs`.
#[test]
fn a_protected_server_asks_the_browser_to_sign_in() {
    let root = workspace_root();
    let deps = Command::new("bash")
        .arg(root.join("scripts/browser-deps.sh"))
        .status()
        .expect("bash runs scripts/browser-deps.sh");
    assert!(deps.success(), "scripts/browser-deps.sh failed");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iza.toml"),
        "version = 1\n[ecosystem]\nname = \"protected\"\n[services.a]\n",
    )
    .unwrap();
    let server = start_server(dir.path(), "127.0.0.1:0", &["--protect-reads"]);
    let address = server.address.clone();
    let token = std::fs::read_to_string(dir.path().join(".iza/token")).unwrap();
    let screenshots = target_dir().join("dashboard-screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let output = Command::new("node")
        .arg("signin.test.mjs")
        .args(["--base", &format!("http://{address}")])
        .args(["--token", token.trim()])
        .arg("--screenshots")
        .arg(&screenshots)
        .current_dir(root.join("tests/browser"))
        .output()
        .expect("node runs the sign-in test");
    stop_server(server);
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The pure JavaScript of the dashboard under Node's test runner: the graph layout
/// (`tests/browser/layout.test.mjs`), the timelines' merge of live events
/// (`tests/browser/timeline.test.mjs`) and the agents' work in words: durations, triggers,
/// escalation chains, the agent tree, the debounced reloads (`tests/browser/agents.test.mjs`).
#[test]
fn the_pages_pure_functions_keep_their_invariants() {
    let root = workspace_root();
    let output = Command::new("node")
        .args(["--test", "--test-timeout=30000"])
        .args(["layout.test.mjs", "timeline.test.mjs", "agents.test.mjs"])
        .current_dir(root.join("tests/browser"))
        .output()
        .expect("node runs the layout tests");
    assert!(
        output.status.success(),
        "the layout tests failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
