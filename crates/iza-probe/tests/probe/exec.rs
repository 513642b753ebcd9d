//! `exec` checks with real programs: exit codes, output as `[BODY]`, the timeout killing the
//! whole process group, `env` and `cwd` from the context, and a shell only when asked.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use iza_catalog::model::{Check, CheckTarget};
use iza_probe::{Outcome, ProbeContext, Prober, ProberOptions, Reason};

use crate::support::check;

fn exec(argv: &[&str], shell: bool, timeout: Duration, conditions: &[&str]) -> Check {
    let mut c = check(
        CheckTarget::Exec(argv.iter().map(|a| (*a).to_owned()).collect()),
        timeout,
        conditions,
    );
    c.shell = shell;
    c
}

/// A fresh directory under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("iza-probe-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn exit_zero_is_up_and_anything_else_is_down() {
    let prober = Prober::default();
    let second = Duration::from_secs(5);
    let up = prober.probe(&exec(&["true"], false, second, &[])).await;
    assert_eq!(up.outcome, Outcome::Up, "{:?}", up.failure);
    assert!(up.facts.connected);
    assert_eq!(up.facts.exit_code, Some(0));

    let down = prober.probe(&exec(&["false"], false, second, &[])).await;
    assert_eq!(down.outcome, Outcome::Down);
    assert_eq!(down.facts.exit_code, Some(1));
    let failure = down.failure.unwrap();
    assert_eq!(failure.reason, Reason::Exit);
    assert_eq!(failure.message, "`false` exited with status 1");

    let said = prober
        .probe(&exec(
            &["echo started; echo 'disk full' >&2; exit 3"],
            true,
            second,
            &[],
        ))
        .await;
    assert_eq!(said.facts.body.as_deref(), Some("started\n"));
    assert_eq!(
        said.failure.unwrap().message,
        "`sh` exited with status 3: disk full"
    );
}

#[tokio::test]
async fn output_is_the_body_for_conditions() {
    let result = Prober::default()
        .probe(&exec(
            &["printf", r#"{"queue":{"depth":3}}"#],
            false,
            Duration::from_secs(5),
            &["[BODY].queue.depth < 10"],
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
}

#[tokio::test]
async fn a_missing_program_cannot_start() {
    let result = Prober::default()
        .probe(&exec(
            &["/no/such/program"],
            false,
            Duration::from_secs(5),
            &[],
        ))
        .await;
    let failure = result.failure.unwrap();
    assert_eq!(failure.reason, Reason::Spawn);
    assert!(
        failure
            .message
            .starts_with("could not start `/no/such/program`"),
        "{failure}"
    );
}

/// Whether a process is gone (or a zombie waiting to be reaped), waiting briefly for the
/// kernel to finish delivering SIGKILL.
async fn is_dead(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .and_then(|r| r.split_whitespace().next())
                    .map(str::to_owned)
            });
        match state.as_deref() {
            None | Some("Z") | Some("X") => return true,
            _ if Instant::now() > deadline => return false,
            _ => tokio::task::yield_now().await,
        }
    }
}

#[tokio::test]
async fn the_timeout_kills_the_program_and_its_children() {
    let dir = scratch("timeout");
    let pids = dir.join("pids");
    let script = format!(
        "sleep 30 & echo $! > {0}; echo $$ >> {0}; wait",
        pids.display()
    );
    let started = Instant::now();
    let result = Prober::default()
        .probe(&exec(&[&script], true, Duration::from_millis(500), &[]))
        .await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(result.outcome, Outcome::Down);
    let failure = result.failure.unwrap();
    assert_eq!(failure.reason, Reason::Timeout);
    assert_eq!(
        failure.message,
        "timed out after 500ms; the process group was killed"
    );
    let written = std::fs::read_to_string(&pids).unwrap();
    let pids: Vec<u32> = written.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(pids.len(), 2, "{written}");
    for pid in pids {
        assert!(is_dead(pid).await, "process {pid} survived the timeout");
    }
}

#[tokio::test]
async fn a_background_child_holding_the_output_does_not_stall_the_probe() {
    let dir = scratch("background");
    let pid_file = dir.join("pid");
    let script = format!("sleep 30 & echo $! > {}; echo done", pid_file.display());
    let started = Instant::now();
    let result = Prober::default()
        .probe(&exec(
            &[&script],
            true,
            Duration::from_secs(10),
            &["[BODY] == pat(done*)"],
        ))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        is_dead(pid).await,
        "the leftover child {pid} was not killed"
    );
}

#[tokio::test]
async fn env_and_cwd_come_from_the_context() {
    let base = scratch("cwd");
    std::fs::create_dir_all(base.join("app")).unwrap();
    let prober = Prober::new(ProberOptions {
        base_dir: base.clone(),
        ..ProberOptions::default()
    });
    let context = ProbeContext {
        cwd: Some(PathBuf::from("app")),
        env: vec![("IZA_PROBE_GREETING".to_owned(), "hello there".to_owned())],
        ..ProbeContext::default()
    };
    let result = prober
        .probe_in(
            &exec(
                &["echo \"$IZA_PROBE_GREETING\"; pwd"],
                true,
                Duration::from_secs(5),
                &[],
            ),
            &context,
        )
        .await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    let expected = format!(
        "hello there\n{}\n",
        base.join("app").canonicalize().unwrap().display()
    );
    assert_eq!(result.facts.body.as_deref(), Some(expected.as_str()));

    // Without a context cwd, programs run in the base directory.
    let plain = prober
        .probe(&exec(&["pwd"], false, Duration::from_secs(5), &[]))
        .await;
    let expected = format!("{}\n", base.canonicalize().unwrap().display());
    assert_eq!(plain.facts.body.as_deref(), Some(expected.as_str()));
}

#[tokio::test]
async fn there_is_no_shell_unless_asked() {
    let prober = Prober::default();
    let second = Duration::from_secs(5);
    let literal = prober
        .probe(&exec(&["echo", "$HOME", "a;b"], false, second, &[]))
        .await;
    assert_eq!(literal.facts.body.as_deref(), Some("$HOME a;b\n"));

    let shelled = prober
        .probe(&exec(&["echo \"$1-$2\"", "x", "y"], true, second, &[]))
        .await;
    assert_eq!(shelled.facts.body.as_deref(), Some("x-y\n"));
}

#[tokio::test]
async fn large_output_is_capped_and_the_program_still_finishes() {
    let prober = Prober::new(ProberOptions {
        body_limit: 4096,
        ..ProberOptions::default()
    });
    let result = prober
        .probe(&exec(
            &["head", "-c", "5000000", "/dev/zero"],
            false,
            Duration::from_secs(10),
            &[],
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    assert!(result.facts.body_truncated);
    assert_eq!(result.facts.body.map(|b| b.len()), Some(4096));
}
