//! End to end: the real `iza up` over a manifest in a temporary directory, with services that
//! spawn grandchildren. It must start them in dependency order (plain lines on a pipe), keep
//! their output in `.iza/logs/`, and on Ctrl-C stop them in reverse order and leave no process
//! of any of their process groups behind. A service that failed makes the exit code 1.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

struct Up {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Up {
    fn start(dir: &Path, manifest: &str) -> Up {
        std::fs::write(dir.join("iza.toml"), manifest).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_iza"))
            .arg("up")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .env("IZA_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Up {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one starts with `prefix`; returns it.
    fn until(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                let _ = self.child.kill();
                panic!("no `{prefix}` line; so far:\n{}", self.seen.join("\n"));
            };
            self.seen.push(line.clone());
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Position of the first line starting with `line`.
    fn position(&self, line: &str) -> usize {
        self.seen
            .iter()
            .position(|l| l.starts_with(line))
            .unwrap_or_else(|| panic!("no line `{line}` in:\n{}", self.seen.join("\n")))
    }

    /// The pid (= process group) each service ran under, from the `running` lines.
    fn groups(&self) -> Vec<u32> {
        self.seen
            .iter()
            .filter_map(|l| l.strip_prefix("running "))
            .filter_map(|rest| rest.split("(pid ").nth(1))
            .filter_map(|pid| pid.trim_end_matches(')').parse().ok())
            .collect()
    }

    /// Sends SIGKILL, as a crash or `kill -9` would end it, and waits for the exit; returns
    /// what it wrote on stderr.
    fn kill_9(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let mut stderr = String::new();
        use std::io::Read;
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        stderr
    }

    /// Sends SIGINT (Ctrl-C), waits for the exit, and reads the rest of stdout.
    fn interrupt(mut self) -> (i32, Vec<String>, String) {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("`iza up` did not stop after SIGINT");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader thread ends at the end of the pipe.
        while let Ok(line) = self.lines.recv_timeout(DEADLINE) {
            self.seen.push(line);
        }
        let mut stderr = String::new();
        use std::io::Read;
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (status.code().unwrap_or(-1), self.seen, stderr)
    }
}

/// A free port on 127.0.0.1 (free when asked).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The start time of a live process (field 22 of `/proc/PID/stat`), `None` once it is gone
/// (zombies included).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    (fields.first() != Some(&"Z")).then_some(())?;
    fields.get(19)?.parse().ok()
}

/// The live children of `parent`: (pid, start time).
fn children_of(parent: u32) -> Vec<(u32, u64)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent)
            && let Some(start) = start_time(pid)
        {
            found.push((pid, start));
        }
    }
    found
}

/// Live processes (zombies excluded) whose process group is one of `groups`.
fn processes_in_groups(groups: &[u32]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if entry.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let pgrp: u32 = fields.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
        if fields.first() != Some(&"Z") && groups.contains(&pgrp) {
            found.push(stat[..=close].to_owned());
        }
    }
    found
}

#[test]
fn up_starts_in_order_and_ctrl_c_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(
        dir.path(),
        r#"version = 1
[services.db]
command = ["sh", "-c", "echo db says hello; sleep 1000 & sleep 1000"]
[services.api]
command = ["sh", "-c", "sleep 1000 & sleep 1000"]
depends_on = ["db"]
[services.web]
command = ["sh", "-c", "sleep 1000 & sleep 1000"]
depends_on = [{ service = "api", condition = "started" }]
[services.postgres]
port = 5432
"#,
    );
    up.until("all ready in");
    // `api` waited for `db`, `web` for `api`.
    assert!(up.position("starting api") > up.position("ready db ("));
    assert!(up.position("starting web") > up.position("starting api"));
    let groups = up.groups();
    assert_eq!(groups.len(), 3, "{:?}", up.seen);
    // Each group holds the shell and its two sleeps.
    let deadline = Instant::now() + DEADLINE;
    while processes_in_groups(&groups).len() < 6 {
        assert!(Instant::now() < deadline, "the grandchildren did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = dir.path().join(".iza/logs/db.log");
    let deadline = Instant::now() + DEADLINE;
    while !std::fs::read_to_string(&log).is_ok_and(|t| t.contains(" out db says hello")) {
        assert!(
            Instant::now() < deadline,
            "no output in `{}`",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let (code, lines, stderr) = up.interrupt();
    assert_eq!(code, 0, "{stderr}");
    let at = |line: &str| {
        lines
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no `{line}` in {lines:?}"))
    };
    // Reverse dependency order.
    assert!(at("stopped web") < at("stopped api"));
    assert!(at("stopped api") < at("stopped db"));
    let left = processes_in_groups(&groups);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_failed_service_makes_the_exit_code_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(
        dir.path(),
        r#"version = 1
[services.crash]
command = ["sh", "-c", "echo bad config >&2; exit 1"]
restart = { max_restarts = 1, backoff = "10ms" }
[services.fine]
command = ["sleep", "1000"]
"#,
    );
    // Without a check, a service is ready as soon as it runs: start-up is over at once, and
    // the failure comes later, as a line of its own.
    up.until("all ready in");
    let failed = up.until("failed crash");
    assert!(failed.contains("1 restart in a row"), "{failed}");
    let groups = up.groups();
    let (code, lines, stderr) = up.interrupt();
    assert_eq!(code, 1, "{lines:?}");
    assert!(
        stderr.contains("error: a supervised service failed while `iza up` ran: `crash`"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
    assert!(processes_in_groups(&groups).is_empty());
}

#[test]
fn a_second_ctrl_c_kills_what_ignores_its_stop_signal_without_waiting_for_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(
        dir.path(),
        r#"version = 1
[services.stubborn]
command = ["sh", "-c", "trap '' TERM INT; echo trapped; sleep 1000 & wait"]
stop = { grace = "1h" }
"#,
    );
    up.until("all ready in");
    // Its trap is set once it says so.
    let log = dir.path().join(".iza/logs/stubborn.log");
    let deadline = Instant::now() + DEADLINE;
    while !std::fs::read_to_string(&log).is_ok_and(|t| t.contains(" out trapped")) {
        assert!(Instant::now() < deadline, "`stubborn` did not set its trap");
        std::thread::sleep(Duration::from_millis(20));
    }
    let groups = up.groups();
    let sent = Command::new("kill")
        .args(["-INT", &up.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // The first one asks politely; with an hour of grace, only the second can end it.
    up.until("stopping (Ctrl-C again kills at once)");
    let (code, lines, stderr) = up.interrupt();
    assert_eq!(code, 0, "{lines:?}\n{stderr}");
    let at = |line: &str| lines.iter().position(|l| l == line);
    assert!(
        at("exited stubborn (signal 9)").is_some() && at("stopped stubborn").is_some(),
        "{lines:?}"
    );
    assert!(processes_in_groups(&groups).is_empty());
}

#[test]
fn a_dependent_waits_until_an_http_server_answers_its_check() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(
        dir.path(),
        &format!(
            r#"version = 1
[services.web]
command = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
check = {{ http = "http://127.0.0.1:{port}/", every = "1h" }}
[services.client]
command = ["sleep", "1000"]
depends_on = ["web"]
"#
        ),
    );
    up.until("all ready in");
    // `web` has a check, so `client` waited for it to pass, not just for the process.
    assert!(up.position("starting client") > up.position("ready web ("));
    let groups = up.groups();
    let (code, lines, stderr) = up.interrupt();
    assert_eq!(code, 0, "{lines:?}\n{stderr}");
    assert!(processes_in_groups(&groups).is_empty());
}

#[test]
fn an_edited_manifest_starts_new_services_and_stops_removed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(
        dir.path(),
        r#"version = 1
[services.old]
command = ["sh", "-c", "sleep 1000 & sleep 1000"]
"#,
    );
    up.until("all ready in");
    // The file is polled every second; the new text replaces `old` with `new`.
    std::fs::write(
        dir.path().join("iza.toml"),
        r#"version = 1
[services.new]
command = ["sh", "-c", "sleep 1000 & sleep 1000"]
"#,
    )
    .unwrap();
    up.until("stopped old");
    up.until("ready new (");
    let groups = up.groups();
    assert_eq!(groups.len(), 2, "{:?}", up.seen);
    assert!(
        processes_in_groups(&groups[..1]).is_empty(),
        "`old` is gone"
    );
    let (code, lines, stderr) = up.interrupt();
    assert_eq!(code, 0, "{lines:?}\n{stderr}");
    assert!(processes_in_groups(&groups).is_empty());
}

#[test]
fn kill_9_of_up_takes_its_children_along_and_a_new_up_starts_them_cleanly() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let manifest = format!(
        r#"version = 1
[services.api]
command = ["iza", "demo-service", "--port", "{port}"]
check = {{ http = "http://127.0.0.1:{port}/healthz", every = "5m" }}
[services.worker]
command = ["sleep", "1000"]
[services.shell]
command = ["sh", "-c", "exec sleep 1000"]
[services.probed]
check = {{ exec = ["sleep", "1001"], every = "5m", timeout = "1m" }}
"#
    );
    let mut up = Up::start(dir.path(), &manifest);
    up.until("all ready in");
    let groups = up.groups();
    assert_eq!(groups.len(), 3, "{:?}", up.seen);
    assert_eq!(processes_in_groups(&groups).len(), 3);
    // Every child of `iza up`: the three services and the `exec` check's program.
    let parent = up.child.id();
    let deadline = Instant::now() + DEADLINE;
    let children = loop {
        let children = children_of(parent);
        if children.len() == 4 {
            break children;
        }
        assert!(
            Instant::now() < deadline,
            "the check's program did not start: {children:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    up.kill_9();
    // The parent-death signal takes every child along.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut left = processes_in_groups(&groups);
        left.extend(
            children
                .iter()
                .filter(|(pid, start)| start_time(*pid) == Some(*start))
                .map(|(pid, _)| format!("pid {pid}")),
        );
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running 2 s after `kill -9` of `iza up`: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The port is free again: the next `iza up` starts everything, `api` included.
    let mut again = Up::start(dir.path(), &manifest);
    let summary = again.until("all ready in");
    assert!(
        !again.seen.iter().any(|l| l.contains("in use")),
        "{:?}",
        again.seen
    );
    assert!(summary.starts_with("all ready in"), "{summary}");
    let groups = again.groups();
    let (code, lines, stderr) = again.interrupt();
    assert_eq!(code, 0, "{lines:?}\n{stderr}");
    assert!(processes_in_groups(&groups).is_empty());
}

#[test]
fn up_stops_the_groups_a_dead_run_recorded_but_never_a_reused_pid() {
    use std::os::unix::process::CommandExt as _;
    let sleeper = || {
        Command::new("sleep")
            .arg("1000")
            .process_group(0)
            .spawn()
            .unwrap()
    };
    // `left` was started by a run that died; `stranger` has a pid the dead run recorded
    // for a process that started at another time (the pid was reused since).
    let mut left = sleeper();
    let mut stranger = sleeper();
    let dead_owner = {
        let mut child = Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        child.id()
    };
    let dir = tempfile::tempdir().unwrap();
    let children = dir.path().join(".iza/children");
    std::fs::create_dir_all(&children).unwrap();
    std::fs::write(
        children.join(dead_owner.to_string()),
        format!(
            "iza-children 1\nowner {dead_owner} 1\nchild {} {} old-api\nchild {} {} old-web\n",
            left.id(),
            start_time(left.id()).unwrap(),
            stranger.id(),
            start_time(stranger.id()).unwrap() + 1,
        ),
    )
    .unwrap();
    let mut up = Up::start(
        dir.path(),
        r#"version = 1
[services.worker]
command = ["sleep", "1000"]
"#,
    );
    up.until("all ready in");
    // The sweep is over before anything starts.
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(left.try_wait().unwrap().and_then(|s| s.signal()), Some(9));
    assert_eq!(
        stranger.try_wait().unwrap(),
        None,
        "a reused pid was killed"
    );
    // The dead run's file is gone; this run's own is there while it runs.
    let files: Vec<String> = std::fs::read_dir(&children)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, [up.child.id().to_string()]);
    let own = std::fs::read_to_string(children.join(up.child.id().to_string())).unwrap();
    assert!(own.contains(" worker\n"), "{own}");
    let (code, lines, stderr) = up.interrupt();
    assert_eq!(code, 0, "{lines:?}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: stopped `old-api` (process group {})",
            left.id()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("old-web"), "{stderr}");
    // A clean stop removes the record.
    assert_eq!(std::fs::read_dir(&children).unwrap().count(), 0);
    stranger.kill().unwrap();
    stranger.wait().unwrap();
}

#[test]
fn what_a_service_started_and_outlived_a_killed_up_is_stopped_by_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = r#"version = 1
[services.family]
command = ["sh", "-c", "sleep 1002 & exec sleep 1000"]
"#;
    let mut up = Up::start(dir.path(), manifest);
    up.until("all ready in");
    let groups = up.groups();
    assert_eq!(groups.len(), 1, "{:?}", up.seen);
    let leader = groups[0];
    // The service and the process it started in the background.
    let deadline = Instant::now() + DEADLINE;
    let grandchild = loop {
        let found: Vec<u32> = processes_in_groups(&groups)
            .iter()
            .filter_map(|p| p.split(' ').next()?.parse().ok())
            .filter(|pid| *pid != leader)
            .collect();
        if let [pid] = found[..] {
            break pid;
        }
        assert!(Instant::now() < deadline, "the grandchild did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    let grandchild_start = start_time(grandchild).unwrap();
    up.kill_9();
    // The parent-death signal reaches the service's own process only...
    let deadline = Instant::now() + Duration::from_secs(2);
    while start_time(leader).is_some() {
        assert!(Instant::now() < deadline, "the service outlived `iza up`");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(start_time(grandchild), Some(grandchild_start));
    // ...and the next start stops what it left, by the run's mark in its environment.
    let mut again = Up::start(dir.path(), manifest);
    again.until("all ready in");
    assert_eq!(start_time(grandchild), None, "the grandchild survived");
    let groups = again.groups();
    let (code, lines, stderr) = again.interrupt();
    assert_eq!(code, 0, "{lines:?}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: stopped `family` (process group {leader})"
        )),
        "{stderr}"
    );
    assert!(processes_in_groups(&groups).is_empty());
}

/// Whether a process's command line names Chromium.
fn is_chromium(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("chromium"))
        .unwrap_or(false)
}

#[test]
fn kill_9_of_up_takes_the_browser_of_browser_checks_along() {
    let chromium = std::env::var_os("IZA_CHROMIUM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    if !chromium.exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/browser-deps.sh");
        let status = Command::new("bash").arg(script).status().unwrap();
        assert!(status.success(), "scripts/browser-deps.sh failed");
    }
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let manifest = format!(
        r#"version = 1
[services.page]
command = ["iza", "demo-service", "--port", "{port}"]
check = {{ browser = "http://127.0.0.1:{port}/", every = "5m", timeout = "20s" }}
"#
    );
    let mut up = Up::start(dir.path(), &manifest);
    up.until("all ready in");
    let parent = up.child.id();
    let deadline = Instant::now() + DEADLINE;
    let browser = loop {
        if let Some((pid, start)) = children_of(parent)
            .into_iter()
            .find(|(p, _)| is_chromium(*p))
        {
            break (pid, start);
        }
        assert!(
            Instant::now() < deadline,
            "no Chromium started for the browser check"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Chromium leads its own process group, with its helpers and renderers.
    assert!(!processes_in_groups(&[browser.0]).is_empty());
    up.kill_9();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_in_groups(&[browser.0]);
        if left.is_empty() && start_time(browser.0) != Some(browser.1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Chromium still runs 10 s after `kill -9` of `iza up`: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
