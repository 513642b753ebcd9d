//! The harness the end-to-end tests of the `iza` binary share: start `iza up` (or any verb)
//! on a manifest in a scratch directory and wait for the line that says it is ready, run `iza`
//! commands beside it as a person at a second terminal would, poll with a deadline, and stop it
//! when the test ends (interrupt, then kill). Each test file takes what it needs with
//! `mod common;`.

#![allow(dead_code)] // each test binary uses a part of it

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a test waits for anything: a start, a state, a stop.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// A running `iza`: interrupted when dropped (as Ctrl-C would), killed if it has not ended
/// within [`DEADLINE`].
pub(crate) struct Running(Child);

impl Running {
    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.0.id()
    }

    /// `kill -9`: no chance to finish or release anything; returns once it has ended.
    pub(crate) fn kill_9(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }

    /// Interrupts it (as Ctrl-C would) and waits for it to end; panics if it has not ended
    /// within [`DEADLINE`] (it is then killed by the drop).
    pub(crate) fn stop(self) -> ExitStatus {
        self.signal_and_wait("INT")
    }

    /// SIGTERM (as a service manager stops it) and waits for it to end; panics if it has not
    /// ended within [`DEADLINE`].
    pub(crate) fn terminate(self) -> ExitStatus {
        self.signal_and_wait("TERM")
    }

    /// Its exit status, if it has ended.
    pub(crate) fn try_wait(&mut self) -> Option<ExitStatus> {
        self.0.try_wait().unwrap()
    }

    fn signal_and_wait(mut self, signal: &str) -> ExitStatus {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} failed");
        let mut status = None;
        wait_until(&format!("`iza` to stop after SIG{signal}"), || {
            status = self.try_wait();
            status.is_some()
        });
        status.unwrap()
    }
}

/// A running `iza serve` or `iza up`: the process, the address it listens on, and the lines of
/// its log (standard error) after the one that named the address.
pub(crate) struct Server {
    pub(crate) process: Running,
    /// `127.0.0.1:PORT`.
    pub(crate) address: String,
    pub(crate) log: mpsc::Receiver<String>,
}

impl Server {
    /// The next log line that contains `text`, within `limit`; panics naming `text` if none
    /// comes.
    pub(crate) fn wait_for_line(&self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line with `{text}` within {limit:?}"),
            }
        }
    }

    /// The log lines written so far and not yet read.
    pub(crate) fn log_so_far(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }

    /// SIGTERM, then its exit status and the log lines it wrote and were not yet read.
    pub(crate) fn terminate(self) -> (ExitStatus, Vec<String>) {
        let status = self.process.terminate();
        (status, self.log.try_iter().collect())
    }
}

/// Starts `command` (`iza serve` or `iza up` with `--listen`) with its log at `info` on a pipe
/// and returns once it says `listening on http://ADDRESS`; panics with its log so far if it
/// ends or says nothing of the kind within [`DEADLINE`].
pub(crate) fn listening(command: &mut Command) -> Server {
    let mut child = command
        .env("IZA_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let process = Running(child);
    let (lines_tx, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + DEADLINE;
    let mut before = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = log.recv_timeout(left) else {
            panic!(
                "no `listening on` line; its log so far:\n{}",
                before.join("\n")
            )
        };
        if let Some((_, rest)) = line.split_once("listening on http://") {
            let address = rest.trim().to_owned();
            return Server {
                process,
                address,
                log,
            };
        }
        before.push(line);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.0.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `iza` command with a quiet log, its answers not redirected to a running server by the
/// test's environment.
pub(crate) fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_iza"));
    command
        .env("IZA_LOG", "warn")
        .env_remove("IZA_URL")
        .env_remove("IZA_TOKEN");
    command
}

/// Writes `manifest` as `dir/iza.toml`, starts `iza up dir` on a free port and returns once it
/// says all is ready (or that it has nothing to start). Its later output is read and dropped,
/// so it never blocks on a full pipe.
pub(crate) fn up(dir: &Path, manifest: &str) -> Running {
    std::fs::write(dir.join("iza.toml"), manifest).unwrap();
    start_until(
        command()
            .arg("up")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"]),
        |line| line.starts_with("all ready") || line.starts_with("nothing to start"),
    )
}

/// Starts `command` with its standard output piped and returns once a line of it satisfies
/// `ready`; panics if it ends first.
pub(crate) fn start_until(command: &mut Command, ready: impl Fn(&str) -> bool) -> Running {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let running = Running(child);
    for line in lines.by_ref() {
        if ready(&line.unwrap()) {
            std::thread::spawn(move || lines.for_each(drop));
            return running;
        }
    }
    panic!("`iza` ended before it was ready");
}

/// Starts `command` with no output kept, without waiting for anything.
pub(crate) fn start(command: &mut Command) -> Running {
    Running(
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Runs `iza ARGS... DIR` to its end.
pub(crate) fn iza(dir: &Path, args: &[&str]) -> Output {
    command().args(args).arg(dir).output().unwrap()
}

/// An output's standard output and error as text.
pub(crate) fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Polls `done` every 50 ms until it holds; panics after [`DEADLINE`], naming `what`.
pub(crate) fn wait_until(what: &str, done: impl FnMut() -> bool) {
    wait_within(DEADLINE, what, done)
}

/// [`wait_until`] with a limit of its own, for what takes longer than [`DEADLINE`] by design.
pub(crate) fn wait_within(limit: Duration, what: &str, done: impl FnMut() -> bool) {
    assert!(poll_within(limit, done), "timed out waiting until {what}");
}

/// Polls `done` every 50 ms until it holds (true) or `limit` has passed (false), for a caller
/// that explains a timeout itself.
pub(crate) fn poll_within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// A port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `iza ARGS... DIR` to its end: whether it succeeded, its standard output and error.
pub(crate) fn iza_text(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = iza(dir, args);
    let (stdout, stderr) = text(&output);
    (output.status.success(), stdout, stderr)
}
