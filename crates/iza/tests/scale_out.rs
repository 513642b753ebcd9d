//! End to end, issue 14: real `iza serve` processes sharing one fresh PostgreSQL database and
//! one manifest of 300 TCP checks at 1 s, each target a listener of this test that counts its
//! connections. Three nodes share the checks fairly (the leases say who holds what; the hit
//! counts say nobody else probes), a fourth joining takes about a quarter, and after `kill -9`
//! of one node its checks are taken over within one lease period, with no gap in the hits
//! longer than that and, afterwards, still one prober per check. Also: runs on a shared queue
//! (a live node's left alone, a killed node's taken over; 10,000 runs on three nodes, one
//! killed, each run once but for the killed node's runs in flight), and one live view (one
//! node's status changes and runs on another's SSE stream and `/metrics`, also across a cut of
//! its listening connection).
//!
//! Regions: nodes started with `--region eu` and `--region us` share a check listing both
//! regions with quorum 2; each region's nodes reach the target at their own address (as a
//! name that resolves differently in each region would), so a target can fail as seen from
//! one region only. That is shown as a regional problem (`degraded`), and as `down` once both
//! regions see it down; every result says which node (and region) probed it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;
#[path = "../../iza-store/tests/common/test_database.rs"]
mod test_database;

const CHECKS: usize = 300;
/// The lease period the nodes run with (shorter than the default 10 s, to keep the test short).
const LEASE: Duration = Duration::from_secs(8);
const DEADLINE: Duration = Duration::from_secs(60);

/// A node: the child, its address and its directory (each node has its own copy of the
/// manifest, so that their local state, `.iza/`, is apart, as on separate machines).
struct Node {
    child: Child,
    address: String,
    dir: tempfile::TempDir,
    /// Its log lines so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl Node {
    fn start(manifest: &str, url: &str, lease: Duration) -> Node {
        Node::start_in(manifest, Some(url), lease, None)
    }

    /// A node on `store` (none: the embedded SQLite store), in `region` if given.
    fn start_in(
        manifest: &str,
        store: Option<&str>,
        lease: Duration,
        region: Option<&str>,
    ) -> Node {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("iza.toml"), manifest).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_iza"));
        command
            .arg("serve")
            .arg(dir.path())
            .args(["--listen", "127.0.0.1:0"]);
        if let Some(url) = store {
            command.args(["--store", url]);
        }
        if let Some(region) = region {
            command.args(["--region", region]);
        }
        let mut child = command
            .arg("--lease")
            .arg(format!("{}ms", lease.as_millis()))
            .env("IZA_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Drained all along, so a chatty node never blocks on a full pipe; shown when a test
        // fails.
        let stderr = child.stderr.take().unwrap();
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, rest)) = line.split_once("listening on http://") {
                    let _ = address_tx.send(rest.trim().to_owned());
                }
                eprintln!("[node] {line}");
                kept.lock().unwrap().push(line);
            }
        });
        let address = address_rx
            .recv_timeout(DEADLINE)
            .expect("the node never said where it listens");
        Node {
            child,
            address,
            dir,
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(".iza/token"))
            .unwrap()
            .trim()
            .to_owned()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to a node; its status and body.
fn http(address: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let auth = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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

fn get_json(address: &str, path: &str) -> serde_json::Value {
    let (status, body) = http(address, "GET", path, None, "");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Hits of each target: when each connection came.
type Hits = Arc<Mutex<Vec<Vec<Instant>>>>;

/// 300 listeners on free ports, counting connections; returns the manifest checking them.
fn targets(runtime: &tokio::runtime::Runtime, hits: &Hits) -> String {
    let mut manifest = String::from("version = 1\n");
    for index in 0..CHECKS {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        manifest.push_str(&format!(
            "[services.s{index:03}]\ncheck = {{ tcp = \"{address}\", every = \"1s\" }}\n"
        ));
        let hits = hits.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                hits.lock().unwrap()[index].push(Instant::now());
                drop(stream);
            }
        });
    }
    manifest
}

/// Running leases per node pid (node ids are `node-<pid>-<millis>`).
fn leases_by_pid(runtime: &tokio::runtime::Runtime, url: &str) -> HashMap<u32, usize> {
    let rows: Vec<(String, i64)> = runtime.block_on(async {
        use sqlx::Connection as _;
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_as(
            "SELECT node, COUNT(*) FROM check_leases WHERE lease_until > $1 GROUP BY node",
        )
        .bind(now_millis())
        .fetch_all(&mut connection)
        .await
        .unwrap_or_default()
    });
    rows.into_iter()
        .map(|(node, count)| {
            let pid = node
                .split('-')
                .nth(1)
                .and_then(|pid| pid.parse().ok())
                .unwrap_or(0);
            (pid, count as usize)
        })
        .collect()
}

/// Waits until the running leases are held by exactly these nodes, `each` apiece.
fn wait_for_shares(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    nodes: &[u32],
    each: usize,
) -> Duration {
    let start = Instant::now();
    loop {
        let shares = leases_by_pid(runtime, url);
        let fair =
            shares.len() == nodes.len() && nodes.iter().all(|pid| shares.get(pid) == Some(&each));
        if fair {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < DEADLINE,
            "leases never became {each} for each of {nodes:?}: {shares:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Hits of each target between two instants.
fn hits_between(hits: &Hits, from: Instant, to: Instant) -> Vec<usize> {
    hits.lock()
        .unwrap()
        .iter()
        .map(|times| times.iter().filter(|t| **t >= from && **t < to).count())
        .collect()
}

/// Over a window of `seconds`, every target is hit, and about once a second: a second prober
/// of any check would double its count.
fn assert_one_prober_each(hits: &Hits, seconds: u64) {
    let from = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let counts = hits_between(hits, from, Instant::now());
    for (index, count) in counts.iter().enumerate() {
        assert!(
            *count >= 1 && *count <= seconds as usize + 2,
            "s{index:03} was hit {count} times in {seconds} s (one prober at 1 s: about {seconds})"
        );
    }
}

#[test]
fn three_nodes_share_300_checks_and_take_over_a_killed_ones_within_a_lease() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let database = runtime.block_on(test_database::TestDatabase::create());
    let url = database.url();
    let hits: Hits = Arc::new(Mutex::new(vec![Vec::new(); CHECKS]));
    let manifest = targets(&runtime, &hits);

    // Three nodes: 100 checks each (the bound of the rendezvous hashing makes it exact).
    let mut nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(&manifest, &url, LEASE))
        .collect();
    let pids: Vec<u32> = nodes.iter().map(Node::pid).collect();
    wait_for_shares(&runtime, &url, &pids, 100);
    assert_one_prober_each(&hits, 6);
    // Each node probes a third, and shows all: the others' results reach its board.
    for node in &nodes {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let listed = get_json(&node.address, "/api/v1/services");
            let up = listed["services"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["status"] == "up")
                .count();
            if up == CHECKS {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a node shows {up} of {CHECKS} up"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    // A fourth joins: it takes a quarter, 75 from the others.
    nodes.push(Node::start(&manifest, &url, LEASE));
    let pids: Vec<u32> = nodes.iter().map(Node::pid).collect();
    wait_for_shares(&runtime, &url, &pids, 75);
    assert_one_prober_each(&hits, 6);
    // Any node shows them all: alive, with their checks.
    let shown = get_json(&nodes[0].address, "/api/v1/nodes");
    assert_eq!(shown["shared"], true, "{shown}");
    let listed = shown["nodes"].as_array().unwrap();
    assert_eq!(listed.len(), 4, "{shown}");
    assert!(
        listed
            .iter()
            .all(|n| n["alive"] == true && n["checks"] == 75),
        "{shown}"
    );
    assert_eq!(listed.iter().filter(|n| n["this"] == true).count(), 1);
    let cli = Command::new(env!("CARGO_BIN_EXE_iza"))
        .args(["nodes", "--url"])
        .arg(format!("http://{}", nodes[1].address))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&cli.stdout);
    assert!(cli.status.success(), "{table}");
    assert_eq!(
        table.lines().filter(|l| l.contains(" alive ")).count(),
        4,
        "{table}"
    );
    assert_eq!(
        table.lines().filter(|l| l.contains("(this)")).count(),
        1,
        "{table}"
    );

    // `kill -9` of one: the three others take its 75 within one lease period.
    let mut victim = nodes.remove(1);
    let victim_checks: Vec<usize> = {
        // Which checks the victim probed: its leases in the store.
        let rows: Vec<String> = runtime.block_on(async {
            use sqlx::Connection as _;
            let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query_scalar("SELECT key FROM check_leases WHERE node LIKE $1")
                .bind(format!("node-{}-%", victim.pid()))
                .fetch_all(&mut connection)
                .await
                .unwrap()
        });
        rows.iter()
            .filter_map(|key| key.strip_prefix('s').and_then(|n| n.parse().ok()))
            .collect()
    };
    assert_eq!(victim_checks.len(), 75);
    victim.child.kill().unwrap();
    let killed_at = Instant::now();
    victim.child.wait().unwrap();
    let pids: Vec<u32> = nodes.iter().map(Node::pid).collect();
    let took = wait_for_shares(&runtime, &url, &pids, 100);
    assert!(took < LEASE, "the takeover took {took:?}");
    // Every one of its checks is probed again, and no gap between two hits of one of them
    // spans more than a lease period.
    let settle = killed_at + LEASE + Duration::from_secs(2);
    while Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(100));
    }
    {
        let hits = hits.lock().unwrap();
        for index in &victim_checks {
            let times: Vec<Instant> = hits[*index]
                .iter()
                .copied()
                .filter(|t| *t + LEASE >= killed_at)
                .collect();
            assert!(
                times.iter().any(|t| *t > killed_at),
                "s{index:03} was never probed after the kill"
            );
            let widest = times
                .windows(2)
                .map(|pair| pair[1] - pair[0])
                .max()
                .unwrap_or_default();
            assert!(
                widest <= LEASE,
                "s{index:03} went {widest:?} without a probe around the kill"
            );
        }
    }
    assert_one_prober_each(&hits, 6);
}

/// The task of the run test: notes its start and, 3 s later, its end, in a file both nodes see.
fn task_manifest(log: &Path) -> String {
    let script = format!(
        "echo start >> {log}; sleep 3; echo done >> {log}",
        log = log.display()
    );
    format!(
        r#"version = 1
[agents.w]
tier = 1
tasks = [ {{ name = "long", retries = 1, timeout = "1m", run = {{ exec = ["sh", "-c", {script:?}] }} }} ]
"#
    )
}

fn wait_for_log(log: &Path, what: &str, condition: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if condition(&text) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The run once it has ended, as a node shows it.
fn finished(node: &Node, id: i64) -> serde_json::Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let run = get_json(&node.address, &format!("/api/v1/runs/{id}"));
        if run["state"] != "running" && run["state"] != "queued" {
            return run;
        }
        assert!(Instant::now() < deadline, "run {id} never ended: {run}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A run on a shared store: a node starting while another runs a run leaves that run alone
/// (it is a live node's, not a dead process's); after `kill -9` of the node running a run, the
/// other takes it over once its lease ends, and it completes.
#[test]
fn a_live_nodes_run_is_left_alone_and_a_killed_nodes_run_is_taken_over() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let database = runtime.block_on(test_database::TestDatabase::create());
    let url = database.url();
    let shared = tempfile::tempdir().unwrap();
    let log = shared.path().join("runs.log");
    let manifest = task_manifest(&log);
    let lease = Duration::from_secs(3);
    let enqueue = |node: &Node| -> i64 {
        let (status, body) = http(
            &node.address,
            "POST",
            "/api/v1/runs",
            Some(&node.token()),
            r#"{"task":"w/long"}"#,
        );
        assert_eq!(status, 202, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
            .as_i64()
            .unwrap()
    };

    // 1. A runs a run; B starts meanwhile: the run is not released, it runs once, to its end.
    let a = Node::start(&manifest, &url, lease);
    let first = enqueue(&a);
    wait_for_log(&log, "the first run to start", |t| t == "start\n");
    let b = Node::start(&manifest, &url, lease);
    wait_for_log(&log, "the first run to end", |t| t.contains("done"));
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "start\ndone\n");
    let run = finished(&b, first);
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["attempt"], 1, "{run}");

    // 2. A second run; `kill -9` of the node running it; the other retries it to its end.
    std::fs::write(&log, "").unwrap();
    let second = enqueue(&a);
    wait_for_log(&log, "the second run to start", |t| t == "start\n");
    let running = get_json(&a.address, &format!("/api/v1/runs/{second}"));
    let worker = running["worker"].as_str().unwrap_or_default().to_owned();
    let (mut victim, survivor) = if worker.starts_with(&format!("node-{}-", a.pid())) {
        (a, b)
    } else {
        (b, a)
    };
    victim.child.kill().unwrap();
    victim.child.wait().unwrap();
    wait_for_log(&log, "the retried run to end", |t| t.contains("done"));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "start\nstart\ndone\n"
    );
    let run = finished(&survivor, second);
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["attempt"], 2, "{run}");
    assert!(
        run["worker"]
            .as_str()
            .is_none_or(|w| !w.starts_with(&format!("node-{}-", victim.pid()))),
        "{run}"
    );
}

/// `node` on a service: `iza up --node here` runs the command of the service meant for `here`
/// and only watches the one meant for another node (it is no supervised process of this one).
#[test]
fn up_runs_only_the_commands_meant_for_its_node() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iza.toml"),
        r#"version = 1
[services.mine]
command = ["sh", "-c", "touch mine.ran; exec sleep 600"]
node = "here"
[services.theirs]
command = ["sh", "-c", "touch theirs.ran; exec sleep 600"]
node = "elsewhere"
"#,
    )
    .unwrap();
    let server = common::listening(common::command().arg("up").arg(dir.path()).args([
        "--listen",
        "127.0.0.1:0",
        "--node",
        "here",
    ]));
    let address = server.address.clone();
    let deadline = Instant::now() + DEADLINE;
    let processes = loop {
        let listed = get_json(&address, "/api/v1/processes");
        let running = listed["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "mine" && (p["state"] == "running" || p["state"] == "ready"));
        if running && dir.path().join("mine.ran").exists() {
            break listed;
        }
        assert!(Instant::now() < deadline, "`mine` never ran: {listed}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let ids: Vec<&str> = processes["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["mine"], "{processes}");
    assert!(!dir.path().join("theirs.ran").exists());
    // Stops within the harness's deadline, or the test fails.
    server.terminate();
}

/// The events of a node's stream (`GET /api/v1/events/stream`, read by a thread): when each
/// came, its kind and its JSON.
type Received = Arc<Mutex<Vec<(Instant, String, serde_json::Value)>>>;

struct Stream {
    received: Received,
}

impl Stream {
    /// Subscribes to a node's stream (HTTP/1.0: the body is the stream, unchunked).
    fn open(address: &str) -> Stream {
        use std::io::Write;
        let mut socket = std::net::TcpStream::connect(address).unwrap();
        write!(
            socket,
            "GET /api/v1/events/stream HTTP/1.0\r\nHost: {address}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let received: Received = Arc::default();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn({
            let received = received.clone();
            move || {
                let mut kind = String::new();
                for line in BufReader::new(socket).lines().map_while(Result::ok) {
                    if let Some(name) = line.strip_prefix("event:") {
                        kind = name.trim().to_owned();
                    } else if let Some(data) = line.strip_prefix("data:") {
                        let json = serde_json::from_str(data.trim()).unwrap_or_default();
                        if kind == "snapshot" {
                            let _ = ready_tx.send(());
                        }
                        received
                            .lock()
                            .unwrap()
                            .push((Instant::now(), kind.clone(), json));
                    }
                }
            }
        });
        // Subscribed once the snapshot came: every later event follows.
        ready_rx
            .recv_timeout(DEADLINE)
            .expect("the stream sent no snapshot");
        Stream { received }
    }

    /// The events received so far that match.
    fn matching(
        &self,
        matches: impl Fn(&str, &serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, kind, json)| matches(kind, json))
            .map(|(_, _, json)| json.clone())
            .collect()
    }

    /// Waits up to `within` for an event that matches; when it came and its JSON.
    fn wait_for(
        &self,
        what: &str,
        within: Duration,
        matches: impl Fn(&str, &serde_json::Value) -> bool,
    ) -> (Instant, serde_json::Value) {
        let deadline = Instant::now() + within;
        loop {
            if let Some((at, _, json)) = self
                .received
                .lock()
                .unwrap()
                .iter()
                .find(|(_, kind, json)| matches(kind, json))
            {
                return (*at, json.clone());
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {within:?}; received: {:?}",
                self.received
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(_, kind, json)| format!("{kind} {json}"))
                    .filter(|line| !line.starts_with("snapshot"))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A lease long enough that the nodes' own rounds (a fifth of it: the catch-up read of results
/// and of events) come every 12 s: what reaches a node's stream much sooner came by
/// notification.
const LIVE_LEASE: Duration = Duration::from_secs(60);
/// How soon an event of one node is to reach another's stream (well under a round of 12 s).
const LIVE: Duration = Duration::from_secs(5);

/// Each of a run's events (queued, started, succeeded) appears exactly once in a stream.
fn assert_run_once(stream: &Stream, run: i64, who: &str) {
    for kind in ["run-queued", "run-started", "run-succeeded"] {
        let seen = stream.matching(|k, json| k == kind && json["run"] == run);
        assert_eq!(seen.len(), 1, "{who}: `{kind}` of run {run}: {seen:?}");
    }
}

/// Runs a statement on the server (from the `test` database) and returns its booleans.
fn admin(runtime: &tokio::runtime::Runtime, statement: &str) -> Vec<bool> {
    runtime.block_on(async {
        use sqlx::Connection as _;
        let mut connection =
            sqlx::PgConnection::connect(&format!("{}/test", test_database::server()))
                .await
                .unwrap();
        let rows = sqlx::raw_sql(statement)
            .fetch_all(&mut connection)
            .await
            .unwrap();
        rows.iter()
            .map(|row| sqlx::Row::try_get::<bool, _>(row, 0).unwrap())
            .collect()
    })
}

/// The listening connections of a node (`iza listen node-<pid>-...`).
fn listeners_of(runtime: &tokio::runtime::Runtime, pid: u32) -> usize {
    admin(
        runtime,
        &format!(
            "SELECT true FROM pg_stat_activity WHERE application_name LIKE 'iza listen node-{pid}-%'"
        ),
    )
    .len()
}

/// One live view from any node (LISTEN/NOTIFY): a status change recorded by one node, and the
/// events of a run made on one node, reach the other node's SSE stream within seconds (its own
/// rounds come every 12 s), each event once; after the other node's listening connection is
/// cut, and while it cannot connect again, a run's events still reach it (the catch-up read when
/// it listens again); `/metrics` of each node counts every node's runs.
#[test]
fn one_nodes_status_changes_and_runs_reach_anothers_stream_even_across_a_cut() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let database = runtime.block_on(test_database::TestDatabase::create());
    let url = database.url();
    let name = url.rsplit('/').next().unwrap().to_owned();
    // The target of the one check: up while this listener accepts.
    let target = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = target.local_addr().unwrap();
    let accepting = runtime.spawn(async move {
        while let Ok((stream, _)) = target.accept().await {
            drop(stream);
        }
    });
    let manifest = format!(
        r#"version = 1
[services.db]
check = {{ tcp = "{address}", every = "1s" }}
[agents.w]
tier = 1
tasks = [ {{ name = "quick", run = {{ exec = ["true"] }} }} ]
"#
    );
    let a = Node::start(&manifest, &url, LIVE_LEASE);
    let b = Node::start(&manifest, &url, LIVE_LEASE);
    let streams = [Stream::open(&a.address), Stream::open(&b.address)];
    // Both show `db` up (whoever probes it).
    for node in [&a, &b] {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let listed = get_json(&node.address, "/api/v1/services");
            let db = listed["services"][0].clone();
            if db["status"] == "up" {
                break;
            }
            assert!(Instant::now() < deadline, "`db` never shown up: {db}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // 1. The target goes down: the node that probes it records the change; the other shows
    //    it within seconds.
    accepting.abort();
    let down = |kind: &str, json: &serde_json::Value| {
        kind == "status-changed" && json["service"] == "db" && json["to"]["status"] == "down"
    };
    let (first, recorder) = {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let seen: Vec<usize> = (0..2)
                .filter(|i| !streams[*i].matching(down).is_empty())
                .collect();
            if let Some(i) = seen.first() {
                break (*i, streams[*i].wait_for("down", DEADLINE, down).0);
            }
            assert!(Instant::now() < deadline, "`db` never went down");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let other = 1 - first;
    let (shown, event) = streams[other].wait_for("`db` down on the other node", LIVE, down);
    assert!(
        shown.saturating_duration_since(recorder) < LIVE,
        "{:?} after the prober",
        shown.saturating_duration_since(recorder)
    );
    // Derived by the other node from the prober's result: marked with the prober's node
    // (shown there, acted on by the prober only).
    let prober = [&a, &b][first].pid();
    assert!(
        event["node"]
            .as_str()
            .is_some_and(|node| node.starts_with(&format!("node-{prober}-"))),
        "{event}"
    );
    assert_eq!(streams[other].matching(down).len(), 1);

    // 2. A run made on A: its events reach B's stream, each once, and A's once.
    let enqueue = |node: &Node| -> i64 {
        let (status, body) = http(
            &node.address,
            "POST",
            "/api/v1/runs",
            Some(&node.token()),
            r#"{"task":"w/quick"}"#,
        );
        assert_eq!(status, 202, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let run = enqueue(&a);
    let succeeded = |run: i64| {
        move |kind: &str, json: &serde_json::Value| kind == "run-succeeded" && json["run"] == run
    };
    let (done_at, _) = streams[0].wait_for("the run's end on A", DEADLINE, succeeded(run));
    let (shown, _) = streams[1].wait_for("the run's end on B", LIVE, succeeded(run));
    assert!(shown.saturating_duration_since(done_at) < LIVE);
    let (_, queued) = streams[1].wait_for("the run queued on B", LIVE, |kind, json| {
        kind == "run-queued" && json["run"] == run
    });
    // Queued by A: relayed to B, marked with A's node id.
    assert!(
        queued["node"]
            .as_str()
            .is_some_and(|node| node.starts_with(&format!("node-{}-", a.pid()))),
        "{queued}"
    );
    assert_run_once(&streams[0], run, "A");
    assert_run_once(&streams[1], run, "B");

    // 3. B's listening connection is cut, and B cannot connect again for a while: a run made on
    //    A meanwhile still reaches B's stream once it listens again.
    assert_eq!(listeners_of(&runtime, b.pid()), 1);
    admin(
        &runtime,
        &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"),
    );
    let cut = admin(
        &runtime,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name LIKE 'iza listen node-{}-%'",
            b.pid()
        ),
    );
    assert_eq!(cut, vec![true]);
    let deadline = Instant::now() + DEADLINE;
    while listeners_of(&runtime, b.pid()) > 0 {
        assert!(Instant::now() < deadline, "B's listener never went away");
        std::thread::sleep(Duration::from_millis(20));
    }
    let missed = enqueue(&a);
    streams[0].wait_for("the second run's end on A", DEADLINE, succeeded(missed));
    assert_eq!(
        listeners_of(&runtime, b.pid()),
        0,
        "B listened again too soon"
    );
    admin(
        &runtime,
        &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"),
    );
    streams[1].wait_for("the missed run's end on B", LIVE + LIVE, succeeded(missed));
    assert_run_once(&streams[1], missed, "B");
    let deadline = Instant::now() + DEADLINE;
    while listeners_of(&runtime, b.pid()) != 1 {
        assert!(Instant::now() < deadline, "B never listened again");
        std::thread::sleep(Duration::from_millis(20));
    }
    // And new events come by notification again.
    let after = enqueue(&a);
    let (done_at, _) = streams[0].wait_for("the third run's end on A", DEADLINE, succeeded(after));
    let (shown, _) = streams[1].wait_for("the third run's end on B", LIVE, succeeded(after));
    assert!(shown.saturating_duration_since(done_at) < LIVE);
    assert_run_once(&streams[1], after, "B");
    assert_run_once(&streams[0], after, "A");

    // `/metrics` of either node counts the three runs, wherever they ran, each once.
    for node in [&a, &b] {
        let deadline = Instant::now() + LIVE;
        loop {
            let (status, text) = http(&node.address, "GET", "/metrics", None, "");
            assert_eq!(status, 200);
            let succeeded: f64 = text
                .lines()
                .filter(|line| {
                    line.starts_with("iza_task_runs_total{")
                        && line.contains("task=\"w/quick\"")
                        && line.contains("outcome=\"succeeded\"")
                })
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            if succeeded >= 3.0 {
                assert_eq!(succeeded, 3.0, "{text}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a node counts {succeeded} of the 3 runs"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs of the queue test (see its documentation for why this many).
const RUNS: usize = 10_000;

/// A side-effect target: each POST's body (a run's tag) counted; answered `200` and closed.
type Marks = Arc<Mutex<HashMap<String, usize>>>;

fn mark_target(runtime: &tokio::runtime::Runtime, marks: &Marks) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    let marks = marks.clone();
    runtime.spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let marks = marks.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                // Headers, then as many bytes of body as `Content-Length` says.
                let body = loop {
                    let Ok(read) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request).into_owned();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let length = head
                        .lines()
                        .find_map(|line| {
                            let (name, value) = line.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())
                                .flatten()
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break body[..length].to_owned();
                    }
                };
                *marks.lock().unwrap().entry(body).or_insert(0) += 1;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    address.to_string()
}

/// The queue across nodes: `RUNS` runs of one task, enqueued in the shared queue, are run by
/// three `iza serve` nodes while one of them is killed (`kill -9`) a third of the way through.
/// Each run's action POSTs its own tag to a target of this test, which counts them: every run
/// succeeds, every tag is counted, and a tag counted twice is only that of a run the killed node
/// held when it died (its attempt 2 ran it again: at-least-once, as a lease-based queue is; at
/// most the killed worker's 8 runs in flight).
#[test]
fn runs_enqueued_across_three_nodes_run_once_each_while_one_is_killed() {
    use iza_store::{NewRun, RunPriority, RunQuery, RunState, Store as _};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let database = runtime.block_on(test_database::TestDatabase::create());
    let url = database.url();
    let marks: Marks = Arc::default();
    let target = mark_target(&runtime, &marks);
    let manifest = format!(
        r#"version = 1
[agents.w]
tier = 1
tasks = [ {{ name = "mark", retries = 2, concurrency = 24, timeout = "30s", run = {{ http = "POST http://{target}/", body = "{{service}}" }} }} ]
"#
    );
    let lease = Duration::from_secs(3);
    let mut nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(&manifest, &url, lease))
        .collect();
    let store = runtime
        .block_on(iza_store::PostgresStore::connect(&url))
        .unwrap();
    let started = Instant::now();
    let now = now_millis();
    for chunk in (0..RUNS).collect::<Vec<_>>().chunks(1_000) {
        let runs: Vec<NewRun> = chunk
            .iter()
            .map(|index| NewRun {
                task: "w/mark".to_owned(),
                agent: Some("w".to_owned()),
                priority: RunPriority::Medium,
                dedupe: None,
                tick: None,
                run_at: now,
                max_attempts: 3,
                concurrency: 24,
                external: false,
                trigger: serde_json::json!({"kind": "manual", "service": format!("r{index:05}")}),
                enqueued_at: now,
            })
            .collect();
        let ids = runtime.block_on(store.enqueue_runs(&runs)).unwrap();
        assert!(ids.iter().all(Option::is_some));
    }
    let counted = || marks.lock().unwrap().values().sum::<usize>();
    let deadline = Instant::now() + Duration::from_secs(600);
    while counted() < RUNS / 3 {
        assert!(Instant::now() < deadline, "only {} marks", counted());
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut victim = nodes.remove(1);
    victim.child.kill().unwrap();
    victim.child.wait().unwrap();
    let killed_after = counted();
    // Every run ends (the killed node's go back to the queue within its lease and a half).
    loop {
        let depth = runtime.block_on(store.queue_depth(now_millis())).unwrap();
        let waiting = depth.ready.iter().sum::<u64>() + depth.scheduled + depth.running;
        if waiting == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} runs still wait or run, {} marks",
            counted()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = started.elapsed();
    let mut runs = Vec::new();
    let mut before = None;
    loop {
        let page = runtime
            .block_on(store.runs(&RunQuery {
                task: Some("w/mark".to_owned()),
                agent: None,
                states: Vec::new(),
                before,
                limit: iza_store::MAX_RUNS_PAGE,
            }))
            .unwrap();
        before = page.last().map(|run| run.id);
        let full = page.len() == iza_store::MAX_RUNS_PAGE;
        runs.extend(page);
        if !full {
            break;
        }
    }
    assert_eq!(runs.len(), RUNS);
    let failed: Vec<_> = runs
        .iter()
        .filter(|run| run.state != RunState::Succeeded)
        .collect();
    assert!(failed.is_empty(), "runs that did not succeed: {failed:?}");
    let marks = marks.lock().unwrap().clone();
    let mut retried = 0;
    for run in &runs {
        let tag = run.trigger["service"].as_str().unwrap();
        let count = marks.get(tag).copied().unwrap_or(0);
        assert!(count >= 1, "run {} ({tag}) left no mark", run.id);
        if run.attempt > 1 {
            retried += 1;
        }
        assert!(
            count == 1 || run.attempt > 1,
            "run {} ({tag}) marked {count} times in {} attempt(s)",
            run.id,
            run.attempt
        );
    }
    let total: usize = marks.values().sum();
    assert_eq!(marks.len(), RUNS, "a mark that is no run's");
    assert!(
        retried <= 8,
        "{retried} runs were retried: more than the killed worker could hold"
    );
    assert!(total - RUNS <= retried);
    eprintln!(
        "{RUNS} runs on three nodes (one killed after {killed_after} marks) in {took:?}: \
         {retried} retried, {} marked twice",
        total - RUNS
    );
}

/// An HTTP target of the region tests: answers 200 while `healthy`, 503 otherwise; counts
/// its requests.
struct Target {
    address: std::net::SocketAddr,
    healthy: Arc<std::sync::atomic::AtomicBool>,
    hits: Arc<std::sync::atomic::AtomicUsize>,
}

impl Target {
    fn start(runtime: &tokio::runtime::Runtime) -> Target {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        let healthy = Arc::new(AtomicBool::new(true));
        let hits = Arc::new(AtomicUsize::new(0));
        let (answer, count) = (healthy.clone(), hits.clone());
        runtime.spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let status = if answer.load(Ordering::SeqCst) {
                    "200 OK"
                } else {
                    "503 Service Unavailable"
                };
                tokio::spawn(async move {
                    let mut request = [0u8; 2048];
                    let _ = stream.read(&mut request).await;
                    let _ = stream
                        .write_all(
                            format!(
                                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            )
                            .as_bytes(),
                        )
                        .await;
                });
            }
        });
        Target {
            address,
            healthy,
            hits,
        }
    }

    fn set_healthy(&self, healthy: bool) {
        self.healthy
            .store(healthy, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The manifest of a region's nodes: `web` is probed from `eu` and `us` with quorum 2 at the
/// address this region reaches it at; `far` lists `ap`, where no node runs.
fn regions_manifest(url: &str, web: std::net::SocketAddr, far: std::net::SocketAddr) -> String {
    format!(
        r#"version = 1
[store]
url = "{url}"
[services.web]
check = {{ http = "http://{web}/", every = "1s", regions = ["eu", "us"], quorum = 2 }}
[services.far]
check = {{ http = "http://{far}/", every = "1s", regions = ["eu", "ap"], quorum = 1 }}
"#
    )
}

/// Polls a node's `GET /api/v1/services/{id}` until `ready` holds of its `state`.
fn wait_for_state(
    node: &Node,
    service: &str,
    what: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let detail = get_json(&node.address, &format!("/api/v1/services/{service}"));
        if ready(&detail["state"]) {
            return detail;
        }
        assert!(
            Instant::now() < deadline,
            "node {} never showed {what}: {}",
            node.address,
            detail["state"]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn regions_of(state: &serde_json::Value) -> Vec<(String, String)> {
    state["regional"]["regions"]
        .as_array()
        .map(|regions| {
            regions
                .iter()
                .map(|r| {
                    (
                        r["region"].as_str().unwrap_or_default().to_owned(),
                        r["own"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Two regions with quorum 2, on real nodes: a target down only as seen from `eu` is a
/// regional problem (`degraded`, the reason names `eu`), down from both it is `down`; one node
/// of each region holds the region's lease; each result records the node and region that
/// probed it; a listed region without a live node is reported; `iza status --format json`
/// shows the regions.
#[test]
fn two_regions_with_quorum_two_tell_a_regional_problem_from_an_outage() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let database = runtime.block_on(test_database::TestDatabase::create());
    let url = database.url();
    // What each region reaches: the same service, at a different address per region.
    let (web_eu, web_us, far) = (
        Target::start(&runtime),
        Target::start(&runtime),
        Target::start(&runtime),
    );
    let eu_manifest = regions_manifest(&url, web_eu.address, far.address);
    let us_manifest = regions_manifest(&url, web_us.address, far.address);
    let lease = Duration::from_secs(4);
    let eu: Vec<Node> = (0..2)
        .map(|_| Node::start_in(&eu_manifest, Some(&url), lease, Some("eu")))
        .collect();
    let us = Node::start_in(&us_manifest, Some(&url), lease, Some("us"));
    let all: Vec<&Node> = eu.iter().chain([&us]).collect();

    // Both regions see it up: `up`, on every node.
    for node in &all {
        wait_for_state(node, "web", "both regions up", |state| {
            state["status"] == "up"
                && regions_of(state) == [("eu".into(), "up".into()), ("us".into(), "up".into())]
        });
    }
    // One lease per region, held by a node of that region.
    let leases: HashMap<String, String> = runtime.block_on(async {
        use sqlx::Connection as _;
        let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_as::<_, (String, String)>(
            "SELECT key, node FROM check_leases WHERE lease_until > $1",
        )
        .bind(now_millis())
        .fetch_all(&mut connection)
        .await
        .unwrap()
        .into_iter()
        .collect()
    });
    let pid_of = |node_id: &str| -> u32 {
        node_id
            .split('-')
            .nth(1)
            .and_then(|pid| pid.parse().ok())
            .unwrap_or(0)
    };
    let eu_pids: Vec<u32> = eu.iter().map(Node::pid).collect();
    assert!(eu_pids.contains(&pid_of(&leases["web@eu"])), "{leases:?}");
    assert_eq!(pid_of(&leases["web@us"]), us.pid(), "{leases:?}");
    assert!(eu_pids.contains(&pid_of(&leases["far@eu"])), "{leases:?}");
    assert!(!leases.contains_key("far@ap"), "nobody in ap: {leases:?}");
    assert!(
        !leases.contains_key("web"),
        "no lease from anywhere: {leases:?}"
    );

    // "Probed by": each result names its node and region; eu's results come from one eu
    // node (the lease holder), us's from the us node.
    let detail = get_json(&us.address, "/api/v1/services/web");
    let results = detail["recent_results"].as_array().unwrap();
    assert!(!results.is_empty(), "{detail}");
    for result in results {
        let (node, region) = (
            result["node"].as_str().unwrap_or_default(),
            result["region"].as_str().unwrap_or_default(),
        );
        match region {
            "eu" => assert!(eu_pids.contains(&pid_of(node)), "{result}"),
            "us" => assert_eq!(pid_of(node), us.pid(), "{result}"),
            other => panic!("a result from region `{other}`: {result}"),
        }
    }
    // Once the leases are settled (read above), eu's results come from the one eu node that
    // holds `web@eu` (a node joining may have moved it before: never two at once).
    let settled = now_millis() + 2 * (lease / 5).as_millis() as i64;
    let deadline = Instant::now() + DEADLINE;
    let eu_probers: std::collections::HashSet<String> = loop {
        let detail = get_json(&us.address, "/api/v1/services/web");
        let recent: Vec<&serde_json::Value> = detail["recent_results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["region"] == "eu" && r["at"].as_i64().unwrap_or(0) > settled)
            .collect();
        if recent.len() >= 3 {
            break recent
                .iter()
                .filter_map(|r| r["node"].as_str().map(str::to_owned))
                .collect();
        }
        assert!(Instant::now() < deadline, "no new eu results: {detail}");
        std::thread::sleep(Duration::from_millis(200));
    };
    // One eu node probes (the lease may have moved once more since it was read above, when
    // the second eu node joined: the prober is whichever holds it now, never two).
    assert_eq!(eu_probers.len(), 1, "one eu node probes: {eu_probers:?}");
    assert!(
        eu_probers
            .iter()
            .all(|node| eu_pids.contains(&pid_of(node))),
        "{eu_probers:?}"
    );
    assert!(web_eu.hits.load(std::sync::atomic::Ordering::SeqCst) > 0);
    assert!(web_us.hits.load(std::sync::atomic::Ordering::SeqCst) > 0);

    // A listed region with no live node is reported, not ignored.
    let far_state = wait_for_state(&us, "far", "`ap` unprobed", |state| {
        state["regional"]["regions"][1]["unprobed"] == true
    });
    let problem = far_state["state"]["regional"]["problem"]
        .as_str()
        .unwrap_or_default();
    assert!(problem.contains("no live node in `ap`"), "{far_state}");
    assert_eq!(far_state["state"]["status"], "up", "{far_state}");

    // Down as seen from eu only: a regional problem, shown `degraded`, never `down`.
    web_eu.set_healthy(false);
    for node in &all {
        let shown = wait_for_state(node, "web", "a regional problem", |state| {
            assert_ne!(
                state["status"], "down",
                "one region of two is no outage: {state}"
            );
            state["status"] == "degraded" && state["regional"]["down"] == serde_json::json!(["eu"])
        });
        let problem = shown["state"]["regional"]["problem"]
            .as_str()
            .unwrap_or_default();
        assert!(
            problem.contains("regional problem") && problem.contains("`eu`"),
            "{shown}"
        );
        assert_eq!(
            regions_of(&shown["state"]),
            [("eu".into(), "down".into()), ("us".into(), "up".into())]
        );
    }
    // The status change (recorded by the node that probed) says why, naming the region.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let events = get_json(&us.address, "/api/v1/events?service=web");
        let named = events["events"].as_array().unwrap().iter().any(|e| {
            e["kind"] == "status-changed"
                && e["payload"]["to"]["status"] == "degraded"
                && e["payload"]["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("down from `eu` only"))
        });
        if named {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no regional status change: {events}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // `iza status --format json` from a node shows the regions.
    let cli = Command::new(env!("CARGO_BIN_EXE_iza"))
        .args(["status", "--format", "json", "--url"])
        .arg(format!("http://{}", us.address))
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    let web = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "web")
        .unwrap()
        .clone();
    assert_eq!(web["status"], "degraded", "{web}");
    assert_eq!(web["regional"]["quorum"], 2, "{web}");
    assert_eq!(web["regional"]["down"], serde_json::json!(["eu"]), "{web}");

    // Down from both: an outage.
    web_us.set_healthy(false);
    for node in &all {
        let shown = wait_for_state(node, "web", "down from both regions", |state| {
            state["status"] == "down"
        });
        assert_eq!(
            shown["state"]["regional"]["down"],
            serde_json::json!(["eu", "us"]),
            "{shown}"
        );
    }
    // And back: up when both pass again.
    web_eu.set_healthy(true);
    web_us.set_healthy(true);
    wait_for_state(&us, "web", "up again", |state| state["status"] == "up");
}

/// On the embedded SQLite store (one node), a check with `regions` is probed once, locally,
/// judged as any check, and the start-up says so.
#[test]
fn regions_on_the_embedded_store_are_probed_once_with_a_warning() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let target = Target::start(&runtime);
    let manifest = format!(
        "version = 1\n[services.web]\ncheck = {{ http = \"http://{}/\", every = \"1s\", regions = [\"eu\", \"us\"] }}\n",
        target.address
    );
    let node = Node::start_in(&manifest, None, DEFAULT_LEASE, Some("eu"));
    let shown = wait_for_state(&node, "web", "up", |state| state["status"] == "up");
    assert!(shown["state"].get("regional").is_none(), "{shown}");
    // Recorded by the store's recorder in a batch: wait for the first.
    let deadline = Instant::now() + DEADLINE;
    let shown = loop {
        let detail = get_json(&node.address, "/api/v1/services/web");
        if detail["recent_results"][0].is_object() {
            break detail;
        }
        assert!(Instant::now() < deadline, "no result stored: {detail}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(shown["recent_results"][0]["region"], "eu", "{shown}");
    assert!(
        shown["recent_results"][0]["node"]
            .as_str()
            .is_some_and(|n| n.starts_with(&format!("node-{}-", node.pid()))),
        "{shown}"
    );
    target.set_healthy(false);
    wait_for_state(&node, "web", "down from the one node", |state| {
        state["status"] == "down"
    });
    let log = node.log.lock().unwrap().join("\n");
    assert!(
        log.contains("list `regions`") && log.contains("embedded SQLite"),
        "{log}"
    );
}

const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// A subscriber of the machine's NATS server (127.0.0.1:4222), speaking the text protocol:
/// the JSON payloads of the messages on a subject.
struct NatsSubscriber {
    received: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl NatsSubscriber {
    /// Subscribes to `subject` and returns once the server confirmed it (a `PONG` after the
    /// `SUB`).
    fn start(subject: &str) -> NatsSubscriber {
        use std::io::{Read, Write};
        let mut socket = std::net::TcpStream::connect("127.0.0.1:4222")
            .expect("the machine's NATS server (127.0.0.1:4222) is not reachable");
        write!(
            socket,
            "CONNECT {{\"verbose\":false,\"headers\":true}}\r\nSUB {subject} 1\r\nPING\r\n"
        )
        .unwrap();
        let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let mut answers = socket.try_clone().unwrap();
        std::thread::spawn({
            let received = received.clone();
            move || {
                let mut reader = BufReader::new(socket);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|read| read > 0) {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    match words.first().copied() {
                        Some("PING") => {
                            let _ = answers.write_all(b"PONG\r\n");
                        }
                        Some("PONG") => {
                            let _ = ready_tx.send(());
                        }
                        // MSG <subject> <sid> [reply] <bytes>;
                        // HMSG <subject> <sid> [reply] <header bytes> <total bytes>.
                        Some(kind @ ("MSG" | "HMSG")) => {
                            let total: usize = words.last().unwrap().parse().unwrap();
                            let headers: usize = if kind == "HMSG" {
                                words[words.len() - 2].parse().unwrap()
                            } else {
                                0
                            };
                            let mut body = vec![0u8; total + 2];
                            reader.read_exact(&mut body).unwrap();
                            let payload = &body[headers..total];
                            received
                                .lock()
                                .unwrap()
                                .push(serde_json::from_slice(payload).unwrap_or_default());
                        }
                        _ => {}
                    }
                    line.clear();
                }
            }
        });
        ready_rx
            .recv_timeout(DEADLINE)
            .expect("NATS never confirmed the subscription");
        NatsSubscriber { received }
    }

    /// The CloudEvents received whose `data` matches.
    fn count(&self, matches: impl Fn(&serde_json::Value) -> bool) -> usize {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|event| matches(&event["data"]))
            .count()
    }
}

/// The runs of a task in the shared queue.
fn runs_of(runtime: &tokio::runtime::Runtime, url: &str, task: &str) -> Vec<String> {
    runtime.block_on(async {
        use sqlx::Connection as _;
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar("SELECT dedupe FROM runs WHERE task = $1 ORDER BY id")
            .bind(task)
            .fetch_all(&mut connection)
            .await
            .unwrap()
    })
}

/// The node holding a check's lease now, as a pid.
fn prober_of(runtime: &tokio::runtime::Runtime, url: &str, key: &str) -> Option<u32> {
    let node: Option<String> = runtime.block_on(async {
        use sqlx::Connection as _;
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar("SELECT node FROM check_leases WHERE key = $1 AND lease_until > $2")
            .bind(key)
            .bind(now_millis())
            .fetch_optional(&mut connection)
            .await
            .unwrap()
    });
    node.and_then(|node| node.split('-').nth(1)?.parse().ok())
}

/// Waits until every node shows `service` with `status`.
fn wait_for_status(nodes: &[&Node], service: &str, status: &str) {
    let deadline = Instant::now() + DEADLINE;
    for node in nodes {
        loop {
            let shown = get_json(&node.address, &format!("/api/v1/services/{service}"));
            if shown["state"]["status"] == status {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "`{service}` never shown {status} on {}: {shown}",
                node.address
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Asserts that `count` is `expected` now and stays so for `quiet` (what a second node acting
/// on the same change would add comes within a round or two).
fn assert_stays(what: &str, expected: usize, quiet: Duration, count: impl Fn() -> usize) {
    let deadline = Instant::now() + DEADLINE;
    while count() < expected {
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {expected}",
            count()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let until = Instant::now() + quiet;
    while Instant::now() < until {
        assert_eq!(count(), expected, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One reaction per status change across the nodes: three nodes share one check whose target
/// goes down. The task triggered by `status = "down"` runs once (one run in the shared queue,
/// one line appended by its `exec`), and the NATS output publishes the change once, though
/// every node shows it. Then the target recovers and the node probing it is killed (`kill -9`)
/// as soon as it has recorded its next change to `down`: that change still queues one run, not
/// none (the node died) and not two (the node taking the check over starts from the recorded
/// result, and every node keys the run alike).
#[test]
fn a_status_change_triggers_one_run_and_one_published_event_across_three_nodes() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let database = runtime.block_on(test_database::TestDatabase::create());
    let url = database.url();
    let target = Target::start(&runtime);
    let work = tempfile::tempdir().unwrap();
    let effects = work.path().join("reactions");
    let prefix = format!("izatest{}x{}", std::process::id(), now_millis());
    let script = format!("echo {{service}} >> {}", effects.display());
    let manifest = format!(
        r#"version = 1
[services.db]
check = {{ http = "http://{address}/", every = "1s" }}
[agents.w]
tier = 1
tasks = [ {{ name = "react", on = {{ status = "down", services = ["db"] }}, run = {{ exec = ["sh", "-c", {script:?}] }} }} ]
[outputs.bus]
kind = "nats"
url = "nats://127.0.0.1:4222"
prefix = "{prefix}"
jetstream = false
events = ["status-changed"]
"#,
        address = target.address
    );
    let nats = NatsSubscriber::start(&format!("{prefix}.>"));
    let mut nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(&manifest, &url, LEASE))
        .collect();
    wait_for_status(&nodes.iter().collect::<Vec<_>>(), "db", "up");
    let reactions = || {
        std::fs::read_to_string(&effects)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let published_down = || {
        nats.count(|data| {
            data["kind"] == "status-changed"
                && data["service"] == "db"
                && data["to"]["status"] == "down"
        })
    };
    let quiet = LEASE / 2;

    // 1. Down: every node shows it; one run, one side effect, one message.
    target.set_healthy(false);
    wait_for_status(&nodes.iter().collect::<Vec<_>>(), "db", "down");
    assert_stays("side effects of the first change", 1, quiet, reactions);
    assert_stays("messages of the first change", 1, quiet, published_down);
    let runs = runs_of(&runtime, &url, "w/react");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].starts_with("status:db:up>down@"), "{runs:?}");
    // One node delivers the output (its lease), which is not counted as a check.
    assert!(prober_of(&runtime, &url, "output:bus").is_some());
    let listed = get_json(&nodes[0].address, "/api/v1/nodes");
    assert_eq!(listed["checks_leased"], 1, "{listed}");

    // 2. Up again; then down, and the prober killed once it recorded the change.
    target.set_healthy(true);
    wait_for_status(&nodes.iter().collect::<Vec<_>>(), "db", "up");
    let prober = prober_of(&runtime, &url, "db").expect("nobody holds `db`");
    target.set_healthy(false);
    let recorded = || -> usize {
        runtime.block_on(async {
            use sqlx::Connection as _;
            let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM events WHERE kind = 'status-changed' \
                 AND payload::jsonb->'to'->>'status' = 'down'",
            )
            .fetch_one(&mut connection)
            .await
            .unwrap();
            count as usize
        })
    };
    let deadline = Instant::now() + DEADLINE;
    while recorded() < 2 {
        assert!(
            Instant::now() < deadline,
            "the second change was never recorded"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let index = nodes.iter().position(|n| n.pid() == prober).unwrap();
    let mut killed = nodes.remove(index);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    // The others take `db` over and go on showing it down; the change stays one.
    let deadline = Instant::now() + DEADLINE;
    while prober_of(&runtime, &url, "db").is_none_or(|pid| pid == prober) {
        assert!(Instant::now() < deadline, "`db` was never taken over");
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for_status(&nodes.iter().collect::<Vec<_>>(), "db", "down");
    assert_stays("runs of the second change", 2, quiet, || {
        runs_of(&runtime, &url, "w/react").len()
    });
    assert_eq!(
        recorded(),
        2,
        "the change was stated again after the takeover"
    );
}

/// `iza run` without a running server, on a manifest whose `[store] url` is PostgreSQL, runs
/// the task in its own process through that store's queue (claiming the run by its id), so the
/// run is in the shared history, and nothing is written to a local state database.
#[test]
fn iza_run_without_a_server_runs_through_the_manifests_postgres_store() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let database = runtime.block_on(test_database::TestDatabase::create());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iza.toml"),
        r#"version = 1
[store]
url = "${IZA_TEST_STORE_URL}"
[agents.worker]
tier = 1
tasks = [ { name = "hello", run = { exec = ["sh", "-c", "echo hello from the task"] } } ]
"#,
    )
    .unwrap();
    let output = common::command()
        .arg("run")
        .arg("worker/hello")
        .arg(dir.path())
        .env("IZA_TEST_STORE_URL", database.url())
        .output()
        .unwrap();
    let (stdout, stderr) = common::text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("through the queue of `postgres://"),
        "{stderr}"
    );
    assert!(stdout.contains(": succeeded"), "{stdout}");
    let rows: Vec<(String, i64, i64, String)> = runtime.block_on(async {
        use sqlx::Connection as _;
        let mut connection = sqlx::PgConnection::connect(&database.url()).await.unwrap();
        sqlx::query_as("SELECT task, state, attempt, coalesce(output, '') FROM runs")
            .fetch_all(&mut connection)
            .await
            .unwrap()
    });
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (task, state, attempt, output) = &rows[0];
    assert_eq!((task.as_str(), *state, *attempt), ("worker/hello", 2, 1));
    assert!(output.contains("hello from the task"), "{output}");
    assert!(!dir.path().join(".iza/state.db").exists());
}
