//! End to end, issue 14: real `iza serve` processes sharing one fresh PostgreSQL database and
//! one manifest of 300 TCP checks at 1 s, each target a listener of this test that counts its
//! connections. Three nodes share the checks fairly (the leases say who holds what; the hit
//! counts say nobody else probes), a fourth joining takes about a quarter, and after `kill -9`
//! of one node its checks are taken over within one lease period, with no gap in the hits
//! longer than that and, afterwards, still one prober per check.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[path = "../../iza-store/tests/common/test_database.rs"]
mod test_database;

const CHECKS: usize = 300;
/// The lease period the nodes run with (shorter than the default 10 s, to keep the test short).
const LEASE: Duration = Duration::from_secs(8);
const DEADLINE: Duration = Duration::from_secs(60);

/// A node: the child and its directory (each node has its own copy of the manifest, so that
/// their local state, `.iza/`, is apart, as on separate machines).
struct Node {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start(manifest: &str, url: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("iza.toml"), manifest).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_iza"))
            .arg("serve")
            .arg(dir.path())
            .args(["--listen", "127.0.0.1:0", "--store", url])
            .arg("--lease")
            .arg(format!("{}s", LEASE.as_secs()))
            .env("IZA_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Drained, so a chatty node never blocks on a full pipe; shown when a test fails.
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[node] {line}");
            }
        });
        Node { child, _dir: dir }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let mut nodes: Vec<Node> = (0..3).map(|_| Node::start(&manifest, &url)).collect();
    let pids: Vec<u32> = nodes.iter().map(Node::pid).collect();
    wait_for_shares(&runtime, &url, &pids, 100);
    assert_one_prober_each(&hits, 6);

    // A fourth joins: it takes a quarter, 75 from the others.
    nodes.push(Node::start(&manifest, &url));
    let pids: Vec<u32> = nodes.iter().map(Node::pid).collect();
    wait_for_shares(&runtime, &url, &pids, 75);
    assert_one_prober_each(&hits, 6);

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
