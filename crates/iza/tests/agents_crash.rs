//! End to end: `kill -9` of a real `iza up` in the middle of a long `exec` run. The next
//! `iza up` on the same directory finds the run its dead predecessor left running, retries it
//! once, and it completes, with no second copy running at the same time (the first copy died
//! with the first `iza`).

mod common;

use std::path::Path;
use std::time::Duration;

use common::Running;

/// The retried run starts after the dead run's lease has expired, which takes longer than the
/// harness's usual deadline.
const DEADLINE: Duration = Duration::from_secs(40);

/// Writes `manifest` and starts `iza up` on it, without waiting: the runs' log tells the rest.
fn start(dir: &Path, manifest: &str) -> Running {
    std::fs::write(dir.join("iza.toml"), manifest).unwrap();
    common::start(
        common::command()
            .arg("up")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"]),
    )
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("runs.log")).unwrap_or_default()
}

fn wait_for(dir: &Path, what: &str, condition: impl Fn(&str) -> bool) {
    assert!(
        common::poll_within(DEADLINE, || condition(&log(dir))),
        "timed out waiting for {what}; log:\n{}",
        log(dir)
    );
}

/// The run: notes an overlap if the previous copy is still alive (a zombie, killed but not yet
/// reaped by whoever adopted it, does not count), then works for 3 s.
const SCRIPT: &str = "if [ -f pid ]; then s=$(cut -d' ' -f3 \"/proc/$(cat pid)/stat\" 2>/dev/null); if [ -n \"$s\" ] && [ \"$s\" != Z ]; then echo overlap >> runs.log; fi; fi; echo $$ > pid; echo start >> runs.log; sleep 3; echo done >> runs.log";

fn manifest(trigger: &str) -> String {
    format!(
        r#"version = 1
[ecosystem]
name = "crash"
[services.dummy]
command = ["sleep", "600"]
[agents.w]
tier = 1
tasks = [ {{ name = "long", retries = 1, timeout = "1m", {trigger} run = {{ exec = ["sh", "-c", {script:?}] }} }} ]
"#,
        script = SCRIPT
    )
}

#[test]
fn a_run_cut_by_kill_9_is_retried_once_by_the_next_start_and_never_runs_twice() {
    let dir = tempfile::tempdir().unwrap();
    // The first `iza up` runs the task when `dummy` is running.
    let first = start(
        dir.path(),
        &manifest(r#"on = { process = "running", services = ["dummy"] },"#),
    );
    wait_for(dir.path(), "the first start", |t| t.contains("start"));
    first.kill_9();

    // The second has no trigger: only the retry of the cut run can run the task.
    let second = start(dir.path(), &manifest(""));
    wait_for(dir.path(), "the retried run to complete", |t| {
        t.contains("done")
    });
    second.stop();
    assert_eq!(log(dir.path()), "start\nstart\ndone\n");
}
