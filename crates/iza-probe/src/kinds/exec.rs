//! The `exec` kind: run a program, up when it exits 0. The argv runs as given, with no shell,
//! unless the check says `shell = true` (then `sh -c SCRIPT`, the first argument being the
//! script and any others its `$1`...). The program runs in the context's `cwd` (relative to
//! the prober's base directory) with the prober's environment plus the context's `env`, and
//! standard input closed. Facts: `[BODY]` is standard output (capped at the body limit; the
//! rest is read and discarded so the program never blocks on a full pipe), `[CONNECTED]` is
//! whether it exited 0, and the exit code.
//!
//! The program starts through the prober's [`crate::Launcher`] (under `iza serve` and `iza up`
//! a guarded one: it dies with `iza`) and gets its own process group. When it exits, anything it left running in that
//! group is killed; when the probe is abandoned (its timeout), the whole group is killed, so
//! no check leaves processes behind.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::result::{Facts, Failure, Reason};
use crate::{ProbeContext, Prober};

/// How much of standard error a failure message quotes from.
const STDERR_LIMIT: usize = 4096;
/// How long output may keep coming after the program exited (a detached grandchild holding
/// the pipe open) before the probe stops reading.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

/// Runs the program and records its exit.
pub(crate) async fn probe(
    prober: &Prober,
    argv: &[String],
    shell: bool,
    context: &ProbeContext,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let (program, args): (&str, Vec<&str>) = match argv.split_first() {
        None => return Err(Failure::new(Reason::Target, "`exec` has no program to run")),
        Some((script, rest)) if shell => {
            let mut args = vec!["-c", script.as_str(), "sh"];
            args.extend(rest.iter().map(String::as_str));
            ("sh", args)
        }
        Some((program, rest)) => (program.as_str(), rest.iter().map(String::as_str).collect()),
    };
    let launcher = &prober.options().launcher;
    let mut command = launcher.command(program);
    command
        .args(&args)
        .envs(context.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if let Some(cwd) = working_dir(prober, context) {
        command.current_dir(cwd);
    }
    let mut child = launcher.spawn(command).await.map_err(|e| {
        Failure::new(
            Reason::Spawn,
            format!(
                "could not start `{program}`: {}",
                crate::net::io_message(&e)
            ),
        )
    })?;
    // Kills the group if this future is dropped (the probe's timeout) before the end.
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw);
    let mut guard = GroupGuard(group);
    let limit = prober.options().body_limit;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Failure::new(
            Reason::Spawn,
            "the program's output could not be captured",
        ));
    };
    let reads = async {
        tokio::join!(
            read_capped(stdout, limit),
            read_capped(stderr, STDERR_LIMIT)
        )
    };
    tokio::pin!(reads);
    let mut outputs = None;
    let status: ExitStatus = tokio::select! {
        status = child.wait() => status,
        done = &mut reads => {
            outputs = Some(done);
            child.wait().await
        }
    }
    .map_err(|e| Failure::new(Reason::Exit, format!("waiting for `{program}` failed: {e}")))?;
    // Whatever the program left running in its group goes with it, once.
    kill_group(guard.0.take());
    let ((out, truncated), (err, _)) = match outputs {
        Some(done) => done,
        None => tokio::time::timeout(DRAIN_AFTER_EXIT, &mut reads)
            .await
            .unwrap_or_default(),
    };
    facts.body = Some(String::from_utf8_lossy(&out).into_owned());
    facts.body_truncated = truncated;
    facts.exit_code = status.code();
    facts.connected = status.success();
    if status.success() {
        return Ok(());
    }
    let how = match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "was killed by a signal".to_owned(),
    };
    let said = String::from_utf8_lossy(&err);
    let message = match said.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => format!(
            "`{program}` {how}: {}",
            crate::net::excerpt(line.as_bytes(), 200)
        ),
        None => format!("`{program}` {how}"),
    };
    Err(Failure::new(Reason::Exit, message))
}

/// The context's `cwd`, relative ones joined to the prober's base directory.
fn working_dir(prober: &Prober, context: &ProbeContext) -> Option<PathBuf> {
    let base = prober.base_dir();
    match &context.cwd {
        Some(cwd) if cwd.is_relative() && !base.as_os_str().is_empty() => Some(base.join(cwd)),
        Some(cwd) => Some(cwd.clone()),
        None if !base.as_os_str().is_empty() => Some(base.to_owned()),
        None => None,
    }
}

/// Reads everything, keeping the first `limit` bytes; (kept, whether more came).
async fn read_capped(mut pipe: impl AsyncRead + Unpin, limit: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buffer = vec![0u8; 8192];
    loop {
        match pipe.read(&mut buffer).await {
            Ok(0) | Err(_) => return (kept, truncated),
            Ok(n) => {
                let room = limit.saturating_sub(kept.len());
                if n > room {
                    truncated = true;
                }
                kept.extend_from_slice(&buffer[..n.min(room)]);
            }
        }
    }
}

fn kill_group(group: Option<Pid>) {
    if let Some(group) = group {
        // ESRCH (nothing left in the group) is the usual, fine outcome.
        let _ = kill_process_group(group, Signal::KILL);
    }
}

/// Kills the process group when dropped.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}
