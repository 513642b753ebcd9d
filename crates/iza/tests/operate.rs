//! End to end: `iza ps`, `iza logs` (with `-f`), `iza stop`, `iza start` and `iza restart`
//! against the real `iza up`, found through its announcement beside the manifest, with the
//! token it created in `.iza/token`, as a person at a second terminal would use them.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{DEADLINE, Running, iza, text};

fn up(dir: &Path) -> Running {
    common::up(
        dir,
        r#"version = 1
[services.talker]
command = ["sh", "-c", "echo hello from talker; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done"]
stop = { grace = "2s" }
[services.quiet]
"#,
    )
}

fn talker(dir: &Path) -> serde_json::Value {
    let output = iza(dir, &["ps", "--format", "json"]);
    assert!(output.status.success(), "{:?}", text(&output));
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(list["processes"].as_array().unwrap().len(), 1, "{list:#}");
    list["processes"][0].clone()
}

fn wait_for(dir: &Path, wanted: &[&str]) -> serde_json::Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let process = talker(dir);
        if wanted.iter().any(|w| process["state"] == *w) {
            return process;
        }
        assert!(Instant::now() < deadline, "still {process:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_running_up_is_operated_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    let _up = up(path);

    // ps: a table with the one supervised service.
    let output = iza(path, &["ps"]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let rows: Vec<&str> = stdout.lines().collect();
    assert!(rows[0].starts_with("SERVICE"), "{stdout}");
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(rows[1].starts_with("talker"), "{stdout}");
    let first = wait_for(path, &["running", "ready"]);

    // logs: its first lines, and the last N.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (stdout, _) = text(&iza(path, &["logs", "talker", "-n", "1000"]));
        if stdout.lines().count() >= 3 {
            assert!(
                stdout.starts_with("hello from talker\ntick 1\n"),
                "{stdout}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no output: {stdout}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (stdout, _) = text(&iza(path, &["logs", "talker", "-n", "2"]));
    assert_eq!(stdout.lines().count(), 2, "{stdout}");

    // logs -f: new lines keep coming.
    let mut follow = common::command()
        .args(["logs", "talker", "-f", "-n", "0"])
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut followed = BufReader::new(follow.stdout.take().unwrap()).lines();
    let ticks: Vec<u64> = followed
        .by_ref()
        .take(3)
        .map(|l| l.unwrap().strip_prefix("tick ").unwrap().parse().unwrap())
        .collect();
    assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "{ticks:?}");
    let _ = follow.kill();
    let _ = follow.wait();

    // stop, start, restart: each says what it did, and ps agrees.
    let output = iza(path, &["stop", "talker"]);
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("stopped `talker`"), "{stderr}");
    assert_eq!(talker(path)["state"], "stopped");
    assert!(iza(path, &["start", "talker"]).status.success());
    let started = wait_for(path, &["running", "ready"]);
    assert_ne!(started["pid"], first["pid"]);
    assert!(iza(path, &["restart", "talker"]).status.success());
    let restarted = wait_for(path, &["running", "ready"]);
    assert_ne!(restarted["pid"], started["pid"]);

    // What cannot be done says why, and what to do.
    let cases: [(&[&str], &str); 3] = [
        (&["stop", "quiet"], "not supervised"),
        (&["logs", "ghost"], "no service has the id `ghost`"),
        (
            &["restart", "talker", "--token", "not-the-token"],
            "refused the request: wrong token",
        ),
    ];
    for (args, says) in cases {
        let output = iza(path, args);
        let (_, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let (_, stderr) = text(&iza(path, &["stop", "talker", "--token", "nope"]));
    assert!(stderr.contains("hint: pass the token"), "{stderr}");
    assert_eq!(
        talker(path)["pid"],
        restarted["pid"],
        "a refused call changes nothing"
    );
}

#[test]
fn without_a_running_server_the_commands_say_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("iza.toml"), "version = 1\n[services.a]\n").unwrap();
    for args in [&["ps"][..], &["logs", "a"], &["restart", "a"]] {
        let output = iza(dir.path(), args);
        let (_, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("no `iza up` or `iza serve` runs for"),
            "{stderr}"
        );
        assert!(stderr.contains("hint: start it with `iza up"), "{stderr}");
    }
}

/// `iza run`, `iza tasks`, `iza incidents` and `iza resolve` against the running `iza up`, then
/// `iza runs` from the state database once it has stopped.
#[test]
fn tasks_run_from_the_command_line_and_their_history_outlives_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::up(
        dir.path(),
        r#"version = 1
[services.quiet]
command = ["sleep", "600"]
[agents.boss]
name = "Boss"
tier = 1
[agents.worker]
name = "Worker"
tier = 2
reports_to = "boss"
services = ["quiet"]
tasks = [
  { name = "Hello", run = { exec = ["echo", "hello from {task}"] } },
  { name = "Fail", run = { exec = ["sh", "-c", "echo broken >&2; exit 4"] } },
]
"#,
    );
    let output = iza(dir.path(), &["run", "worker/hello"]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("succeeded") && stdout.contains("hello from worker/hello"),
        "{stdout}"
    );

    let output = iza(dir.path(), &["run", "worker/fail"]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("failed") && stdout.contains("broken"),
        "{stdout}"
    );

    let (stdout, _) = text(&iza(dir.path(), &["tasks"]));
    assert!(
        stdout.contains("worker/hello") && stdout.contains("100%"),
        "{stdout}"
    );

    // The incident of the failure climbs to the boss (it has no handler): poll for its chain.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (stdout, _) = text(&iza(dir.path(), &["incidents"]));
        if stdout.contains("chain: worker -> boss (no-handler)") {
            assert!(stdout.contains("task `worker/fail`"), "{stdout}");
            break;
        }
        assert!(Instant::now() < deadline, "{stdout}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = iza(dir.path(), &["resolve", "1", "--by", "the tester"]);
    assert!(output.status.success(), "{:?}", text(&output));
    drop(server);

    let output = iza(dir.path(), &["runs", "--failed"]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("reading"), "{stderr}");
    assert!(
        stdout.contains("worker/fail") && !stdout.contains("worker/hello"),
        "{stdout}"
    );
    let (stdout, _) = text(&iza(dir.path(), &["incidents", "--all"]));
    assert!(stdout.contains("resolved by the tester"), "{stdout}");
}

/// The runs of a task as `iza runs --format json` lists them (newest first).
fn runs_of(dir: &Path, task: &str) -> Vec<serde_json::Value> {
    let output = iza(dir, &["runs", "--task", task, "--format", "json"]);
    assert!(output.status.success(), "{:?}", text(&output));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    doc["runs"].as_array().cloned().unwrap_or_default()
}

/// `iza cancel` of a running run kills its `exec` child and ends it `cancelled`; a second
/// cancel is refused with the reason.
#[test]
fn a_running_run_is_cancelled_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let _server = common::up(
        dir.path(),
        r#"version = 1
[services.quiet]
command = ["sleep", "600"]
[agents.worker]
tier = 1
tasks = [
  { name = "Slow", timeout = "10m", run = { exec = ["sh", "-c", "echo $$ > slow.pid; exec sleep 600"] } },
]
"#,
    );
    let output = iza(
        dir.path(),
        &["run", "worker/slow", "--no-wait", "--format", "json"],
    );
    assert!(output.status.success(), "{:?}", text(&output));
    let queued: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let id = queued["id"].as_i64().unwrap().to_string();

    let pid_file = dir.path().join("slow.pid");
    let deadline = Instant::now() + DEADLINE;
    let pid = loop {
        let running = runs_of(dir.path(), "worker/slow")
            .first()
            .is_some_and(|run| run["state"] == "running");
        match std::fs::read_to_string(&pid_file) {
            Ok(pid) if running && pid.ends_with('\n') => break pid.trim().to_owned(),
            _ => {}
        }
        assert!(Instant::now() < deadline, "the slow run never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = iza(dir.path(), &["cancel", &id, "--by", "the tester"]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!("run {id} of `worker/slow` is cancelled\n"),
        "{stderr}"
    );
    let run = runs_of(dir.path(), "worker/slow")[0].clone();
    assert_eq!(run["state"], "cancelled", "{run:#}");
    assert_eq!(run["error"], "cancelled by the tester", "{run:#}");
    let deadline = Instant::now() + DEADLINE;
    while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z ")) {
        assert!(
            Instant::now() < deadline,
            "the cancelled run's child lives on"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let output = iza(dir.path(), &["cancel", &id]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("has already ended: it is cancelled"),
        "{stderr}"
    );
    let output = iza(dir.path(), &["cancel", "4242"]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no run has the id 4242"), "{stderr}");
}

/// Without a server, `iza run` runs the task here through the state database's queue, says
/// so, and its exit code follows the run; `--no-wait` is refused with a hint.
#[test]
fn without_a_server_iza_run_runs_the_task_here() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iza.toml"),
        r#"version = 1
[agents.worker]
tier = 1
tasks = [
  { name = "Hello", run = { exec = ["echo", "hello from {task}"] } },
  { name = "Fail", run = { exec = ["sh", "-c", "echo broken >&2; exit 4"] } },
  { name = "Approve", run = { external = true } },
]
"#,
    )
    .unwrap();
    let output = iza(dir.path(), &["run", "worker/hello"]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("running `worker/hello` here, in this process"),
        "{stderr}"
    );
    assert!(
        stdout.contains("succeeded") && stdout.contains("hello from worker/hello"),
        "{stdout}"
    );

    let output = iza(dir.path(), &["run", "worker/fail", "--format", "json"]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let run: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(run["state"], "failed", "{run:#}");
    assert!(
        run["output"].as_str().unwrap().contains("broken"),
        "{run:#}"
    );

    // The history is in the state database, as a server's would be.
    let runs = runs_of(dir.path(), "worker/hello");
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["state"], "succeeded");

    let output = iza(dir.path(), &["run", "worker/hello", "--no-wait"]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`--no-wait` needs a running server"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: start one with `iza up"), "{stderr}");
    let output = iza(dir.path(), &["run", "worker/approve"]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is external"), "{stderr}");
}

/// `--agent-workers 2`: of three runs of three tasks queued, two run at once and the third
/// waits for a slot (queued, not started), then runs when the others end.
#[test]
fn agent_workers_caps_the_runs_a_node_executes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let task = |name: &str| {
        format!(
            r#"  {{ name = "{name}", timeout = "10m", run = {{ exec = ["sh", "-c", "touch started-{name}; while [ ! -e go ]; do sleep 0.05; done"] }} }},
"#
        )
    };
    let manifest = format!(
        "version = 1\n[services.quiet]\ncommand = [\"sleep\", \"600\"]\n[agents.worker]\ntier = 1\ntasks = [\n{}{}{}]\n",
        task("a"),
        task("b"),
        task("c")
    );
    std::fs::write(dir.path().join("iza.toml"), manifest).unwrap();
    let _server = common::start_until(
        common::command().arg("up").arg(dir.path()).args([
            "--listen",
            "127.0.0.1:0",
            "--agent-workers",
            "2",
        ]),
        |line| line.starts_with("all ready"),
    );
    for task in ["worker/a", "worker/b", "worker/c"] {
        let output = iza(dir.path(), &["run", task, "--no-wait"]);
        assert!(output.status.success(), "{:?}", text(&output));
    }
    let started = || {
        ["a", "b", "c"]
            .iter()
            .filter(|name| dir.path().join(format!("started-{name}")).exists())
            .count()
    };
    common::wait_until("two runs started", || started() >= 2);
    let states: Vec<String> = ["worker/a", "worker/b", "worker/c"]
        .iter()
        .map(|task| {
            runs_of(dir.path(), task)[0]["state"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut sorted = states.clone();
    sorted.sort();
    assert_eq!(sorted, ["queued", "running", "running"], "{states:?}");
    assert_eq!(started(), 2, "{states:?}");

    std::fs::write(dir.path().join("go"), "").unwrap();
    common::wait_until("the three runs succeeded", || {
        ["worker/a", "worker/b", "worker/c"]
            .iter()
            .all(|task| runs_of(dir.path(), task)[0]["state"] == "succeeded")
    });
    assert_eq!(started(), 3);
}
