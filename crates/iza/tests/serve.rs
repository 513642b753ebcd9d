//! End to end: runs the real `iza serve` on a free port over a manifest in a temporary
//! directory, asks it for `/healthz` and `/api/v1/services`, stops it with SIGTERM and expects
//! a clean exit.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{DEADLINE, Server};

fn http_get(address: &str, path: &str) -> (u16, String) {
    http_get_as(address, address, path)
}

/// `GET path` from the server at `address`, naming it `host` in the `Host` header.
fn http_get_as(address: &str, host: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
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

/// Starts `iza serve DIR --listen 127.0.0.1:0 EXTRA...` and returns once it listens.
fn start(dir: &std::path::Path, extra: &[&str]) -> Server {
    common::listening(
        common::command()
            .arg("serve")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra),
    )
}

#[test]
fn serve_applies_its_connection_limits() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iza.toml"),
        "version = 1\n[services.alpha]\n",
    )
    .unwrap();
    let server = start(
        dir.path(),
        &["--header-timeout", "300ms", "--max-connections", "4"],
    );
    let address = server.address.clone();
    // A client that never finishes its request head is closed without an answer.
    let opened = Instant::now();
    let mut slow = TcpStream::connect(&address).unwrap();
    slow.set_read_timeout(Some(DEADLINE)).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut rest = Vec::new();
    let read = slow.read_to_end(&mut rest);
    // Closed (or reset), not timed out, and nothing was answered.
    let timed_out = read.as_ref().is_err_and(|e| {
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )
    });
    assert!(!timed_out && rest.is_empty(), "{read:?} {rest:?}");
    assert!(
        opened.elapsed() < Duration::from_secs(10),
        "{:?}",
        opened.elapsed()
    );
    let (status, _) = http_get(&address, "/healthz");
    assert_eq!(status, 200);
    server.process.kill_9();
    // A cap of 0 is refused before anything starts.
    let output = common::command()
        .arg("serve")
        .arg(dir.path())
        .args(["--max-connections", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--max-connections"), "{stderr}");
}

#[test]
fn serve_answers_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iza.toml"),
        "version = 1\n[ecosystem]\nname = \"e2e\"\n[services.alpha]\n[services.beta]\ndepends_on = [\"alpha\"]\n",
    )
    .unwrap();
    let deadline = Instant::now() + DEADLINE;
    let server = start(dir.path(), &["--allow-host", "iza.test"]);
    let address = server.address.clone();

    let (status, body) = http_get(&address, "/healthz");
    assert_eq!((status, body.trim()), (200, "ok"));
    // DNS rebinding: a page of another name that resolves here is refused; `--allow-host`
    // names and `localhost` are answered.
    let (status, body) = http_get_as(&address, "evil.example:3000", "/api/v1/services");
    assert_eq!(status, 421, "{body}");
    for host in ["iza.test", "localhost:3000"] {
        let (status, body) = http_get_as(&address, host, "/api/v1/summary");
        assert_eq!(status, 200, "{host}: {body}");
    }
    let (status, body) = http_get(&address, "/api/v1/services");
    assert_eq!(status, 200, "{body}");
    let services: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = services["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alpha", "beta"]);
    assert!(dir.path().join(".iza/state.db").is_file());
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(".iza"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o700,
            "the state directory is its owner's alone"
        );
    }

    // A changed manifest is picked up (the file is polled every second)...
    let manifest = dir.path().join("iza.toml");
    std::fs::write(
        &manifest,
        "version = 1\n[ecosystem]\nname = \"e2e\"\n[services.alpha]\n[services.beta]\ndepends_on = [\"alpha\"]\n[services.gamma]\n",
    )
    .unwrap();
    let service_ids = |address: &str| -> Vec<String> {
        let (_, body) = http_get(address, "/api/v1/services");
        let services: serde_json::Value = serde_json::from_str(&body).unwrap();
        services["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    while service_ids(&address) != ["alpha", "beta", "gamma"] {
        assert!(Instant::now() < deadline, "the new manifest was not loaded");
        std::thread::sleep(Duration::from_millis(50));
    }
    // ...and a broken one is refused, keeping the running catalog.
    std::fs::write(
        &manifest,
        "version = 1\n[services.alpha]\ndepends_on = [\"ghost\"]\n",
    )
    .unwrap();
    server.wait_for_line(
        "keeping the running catalog",
        deadline.saturating_duration_since(Instant::now()),
    );
    assert_eq!(service_ids(&address), ["alpha", "beta", "gamma"]);

    let rest = stop(server);
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:#?}");
}

#[test]
fn serve_says_when_the_port_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iza.toml"),
        "version = 1\n[ecosystem]\nname = \"e2e\"\n[services.alpha]\n",
    )
    .unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let output = common::command()
        .arg("serve")
        .arg(dir.path())
        .args(["--listen", &taken.local_addr().unwrap().to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error: cannot listen on"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn serve_refuses_a_manifest_with_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iza.toml"),
        "version = 1\n[ecosystem]\nname = \"e2e\"\n[services.alpha]\ndepends_on = [\"ghost\"]\n",
    )
    .unwrap();
    let output = common::command()
        .arg("serve")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("ghost"), "{stderr}");
    assert!(!dir.path().join(".iza").exists());
}

/// Writes `text` to `path` whole, so the file watcher never reads half of it.
fn replace_file(path: &std::path::Path, text: &str) {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).unwrap();
    std::fs::rename(&partial, path).unwrap();
}

/// `LENGTH` services, each depending on the next, and the last on the first when `cycle`.
fn deep_manifest(length: usize, cycle: bool) -> String {
    use std::fmt::Write as _;
    let mut text = String::from(
        "version = 1\n[ecosystem]\nname = \"deep\"\n[groups.all]\n\
         [agents.watcher]\ntier = 1\ngroups = [\"all\"]\n",
    );
    for i in 0..length {
        let _ = writeln!(text, "[services.s{i}]\ngroup = \"all\"");
        if i + 1 < length || cycle {
            let _ = writeln!(text, "depends_on = [\"s{}\"]", (i + 1) % length);
        }
    }
    text
}

/// A reload walks the new catalog on a tokio worker, whose stack is 2 MiB: a chain of
/// 200,000 `depends_on` links is loaded, and a cycle of 200,000 is refused while the running
/// catalog stays (a 30,000-long chain used to overflow the worker's stack and abort).
#[test]
fn serve_reloads_a_chain_of_200_000_and_refuses_a_cycle_of_200_000() {
    const LENGTH: usize = 200_000;
    const SLOW: Duration = Duration::from_secs(600);
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("iza.toml");
    std::fs::write(
        &manifest,
        "version = 1\n[ecosystem]\nname = \"deep\"\n[services.alpha]\n",
    )
    .unwrap();
    let mut server = start(dir.path(), &[]);
    let address = server.address.clone();
    let last = format!("/api/v1/services/s{}", LENGTH - 1);
    assert_eq!(http_get(&address, &last).0, 404);

    replace_file(&manifest, &deep_manifest(LENGTH, false));
    let deadline = Instant::now() + SLOW;
    while http_get(&address, &last).0 != 200 {
        if let Some(status) = server.process.try_wait() {
            let log = server.log_so_far();
            panic!("`iza serve` died ({status}) reloading the chain:\n{log:#?}");
        }
        assert!(Instant::now() < deadline, "the chain was not loaded");
        std::thread::sleep(Duration::from_millis(200));
    }

    replace_file(&manifest, &deep_manifest(LENGTH, true));
    let deadline = Instant::now() + SLOW;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = server.log.recv_timeout(left).unwrap_or_else(|_| {
            let status = server.process.try_wait();
            panic!("no refusal of the cycle; `iza serve` status {status:?}")
        });
        if line.contains("keeping the running catalog") {
            break;
        }
    }
    // The diagnostic follows on the next line of the same message, short and clear.
    let line = server
        .log
        .recv_timeout(DEADLINE)
        .expect("the refusal's diagnostic");
    assert!(
        line.contains("error[dependency-cycle]: dependency cycle: `s0` -> `s1`")
            && line.contains("(199992 more)"),
        "{line}"
    );
    assert!(
        server.process.try_wait().is_none(),
        "`iza serve` is still running"
    );
    assert_eq!(
        http_get(&address, &last).0,
        200,
        "the running catalog stays"
    );

    server.process.kill_9();
}

#[path = "../../iza-store/tests/common/test_database.rs"]
mod test_database;

/// Stops `iza serve` with SIGTERM, expects a clean exit and returns its last log lines.
fn stop(server: Server) -> Vec<String> {
    let (status, log) = server.terminate();
    assert!(status.success(), "exit status {status}");
    log
}

/// The `at` of every recent result `/api/v1/services/alpha` shows.
fn recent_result_times(address: &str) -> Vec<i64> {
    let (status, body) = http_get(address, "/api/v1/services/alpha");
    assert_eq!(status, 200, "{body}");
    let detail: serde_json::Value = serde_json::from_str(&body).unwrap();
    detail["recent_results"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .filter_map(|result| result["at"].as_i64())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls until `alpha` shows a result newer than `after`; returns every time shown.
fn wait_for_result_after(address: &str, after: i64) -> Vec<i64> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let times = recent_result_times(address);
        if times.iter().any(|at| *at > after) {
            return times;
        }
        assert!(
            Instant::now() < deadline,
            "no result after {after}: {times:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The move to PostgreSQL, end to end: `iza serve` records into SQLite; `iza store copy` moves
/// that history into a fresh PostgreSQL database (and refuses to copy into it twice); `iza serve
/// --store postgres://...` then records into PostgreSQL (rows counted there) and serves
/// `/api/v1` from it, old and new results alike. The URL's password shows nowhere.
#[test]
fn serve_moves_to_postgres_and_serves_from_it() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let database = runtime.block_on(test_database::TestDatabase::create());
    // Trust authentication ignores the password; it must never be shown all the same.
    let url = database
        .url()
        .replacen("postgres://postgres@", "postgres://postgres:s3cret-pw@", 1);
    assert!(url.contains("s3cret-pw"), "{url}");
    let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iza.toml"),
        format!(
            "version = 1\n[services.alpha]\ncheck = {{ tcp = \"{}\", every = \"1s\" }}\n",
            target.local_addr().unwrap()
        ),
    )
    .unwrap();

    // 1. SQLite, the default.
    let server = start(dir.path(), &[]);
    let before_move = wait_for_result_after(&server.address, 0);
    stop(server);
    let sqlite = dir.path().join(".iza/state.db");
    assert!(sqlite.exists());

    // 2. The copy, then a second one that must be refused.
    let copy = |extra: &[&str]| {
        common::command()
            .args(["store", "copy", "--from"])
            .arg(format!("sqlite:{}", sqlite.display()))
            .args(["--to", &url])
            .args(extra)
            .output()
            .unwrap()
    };
    let copied = copy(&[]);
    let stderr = String::from_utf8_lossy(&copied.stderr);
    assert!(copied.status.success(), "{stderr}");
    assert!(stderr.contains("1 services"), "{stderr}");
    assert!(stderr.contains("postgres:***@"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    let again = copy(&[]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already holds data"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    let rows_in_postgres = |query: &'static str| -> i64 {
        runtime.block_on(async {
            use sqlx::Connection as _;
            let mut connection = sqlx::PgConnection::connect(&database.url()).await.unwrap();
            sqlx::query_scalar(query)
                .fetch_one(&mut connection)
                .await
                .unwrap()
        })
    };
    let copied_rows = rows_in_postgres("SELECT COUNT(*) FROM results");
    assert!(copied_rows >= before_move.len() as i64, "{copied_rows}");

    // 3. PostgreSQL: new results land there, and the API shows the copied ones beside them.
    let newest_before = *before_move.iter().max().unwrap();
    let server = start(dir.path(), &["--store", &url]);
    let shown = wait_for_result_after(&server.address, newest_before);
    assert!(
        before_move.iter().all(|at| shown.contains(at)),
        "copied results are served: {before_move:?} in {shown:?}"
    );
    assert!(rows_in_postgres("SELECT COUNT(*) FROM results") > copied_rows);
    // It registered as a node while it ran, and left on its clean stop.
    assert_eq!(rows_in_postgres("SELECT COUNT(*) FROM nodes"), 1);
    let log = stop(server);
    assert_eq!(rows_in_postgres("SELECT COUNT(*) FROM nodes"), 0);
    assert!(
        log.iter().all(|line| !line.contains("s3cret-pw")),
        "{log:#?}"
    );

    // 4. Migrating an up-to-date store changes nothing and says so.
    let migrate = common::command()
        .args(["store", "migrate", "--store", &url])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&migrate.stderr);
    assert!(migrate.status.success(), "{stderr}");
    assert!(stderr.contains("up to date"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
}
