//! The runner: one task per supervised service that owns its child process. It waits for the
//! service's gates, spawns it, reads its output into the log book, waits for it to exit or for
//! a command, and follows the restart policy's decisions, stating every step in the shared
//! table and as an event.
//!
//! A command (start, stop, restart, shutdown) is obeyed in every phase; a stop by hand leaves
//! the service stopped whatever its policy says.

use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use iza_catalog::Catalog;
use iza_catalog::model::{Dependency, ProcessSpec};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::logs::{LogBook, Stream};
use super::plan::Planned;
use super::process::{self, signal_group, signal_of};
use super::readiness::{Gate, gate};
use super::restart::{Decision, Restarts};
use super::{ExitInfo, Phase, Shared};
use crate::event::EventKind;

/// What a runner is told.
#[derive(Debug)]
pub(crate) enum Control {
    /// Start now if not running.
    Start,
    /// Stop and stay stopped; the answer says whether SIGKILL was needed.
    Stop(oneshot::Sender<bool>),
    /// Stop if running, then start at once.
    Restart(oneshot::Sender<()>),
    /// Stop and end the runner; the answer is `Some(killed)` when a process was stopped.
    Shutdown(oneshot::Sender<Option<bool>>),
}

/// Everything a runner needs about its service; compared on reload to tell a change.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunSpec {
    pub(crate) id: String,
    pub(crate) process: ProcessSpec,
    pub(crate) workdir: Option<String>,
    pub(crate) env: IndexMap<String, String>,
    pub(crate) checked: bool,
    /// The check's interval, when it has one.
    pub(crate) check_every: Option<Duration>,
    pub(crate) gates: Vec<Dependency>,
}

impl RunSpec {
    pub(crate) fn of(catalog: &Catalog, planned: &Planned) -> RunSpec {
        let service = &catalog.services[&planned.id];
        RunSpec {
            id: planned.id.clone(),
            process: planned.process.clone(),
            workdir: service.workdir.clone(),
            env: service.env.clone(),
            checked: planned.checked,
            check_every: service.check.as_ref().map(|c| c.every),
            gates: planned.gates.clone(),
        }
    }

    #[cfg(test)]
    pub(crate) fn for_test() -> RunSpec {
        RunSpec {
            id: "t".into(),
            process: ProcessSpec {
                command: vec!["true".into()],
                restart: Default::default(),
                stop: Default::default(),
            },
            workdir: None,
            env: IndexMap::new(),
            checked: false,
            check_every: None,
            gates: Vec::new(),
        }
    }
}

/// What the runner does next.
enum Next {
    WaitGates,
    Spawn,
    Backoff(Duration),
    Idle,
    End,
}

struct Runner {
    shared: Arc<Shared>,
    spec: RunSpec,
    commands: mpsc::UnboundedReceiver<Control>,
    restarts: Restarts,
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    spec: RunSpec,
    commands: mpsc::UnboundedReceiver<Control>,
    wait_gates: bool,
) {
    let mut runner = Runner {
        restarts: Restarts::new(spec.process.restart),
        shared,
        spec,
        commands,
    };
    let mut next = if wait_gates {
        Next::WaitGates
    } else {
        Next::Spawn
    };
    loop {
        next = match next {
            Next::WaitGates => runner.wait_gates().await,
            Next::Spawn => runner.run_once().await,
            Next::Backoff(delay) => runner.backoff(delay).await,
            Next::Idle => match runner.commands.recv().await {
                Some(command) => runner.idle_command(command),
                None => Next::End,
            },
            Next::End => return,
        };
    }
}

impl Runner {
    fn id(&self) -> &str {
        &self.spec.id
    }

    fn set_phase(&self, phase: Phase, events: Vec<EventKind>) {
        self.shared.update(self.id(), events, |e| e.phase = phase);
    }

    /// A command while no process runs.
    fn idle_command(&mut self, command: Control) -> Next {
        match command {
            Control::Start => {
                self.restarts.reset();
                Next::Spawn
            }
            Control::Restart(ack) => {
                self.restarts.reset();
                let _ = ack.send(());
                Next::Spawn
            }
            Control::Stop(ack) => {
                self.stopped_while_idle();
                let _ = ack.send(false);
                Next::Idle
            }
            Control::Shutdown(ack) => {
                self.stopped_while_idle();
                let _ = ack.send(None);
                Next::End
            }
        }
    }

    /// Marks a service that had no process stopped (a pending or backing-off one), keeping an
    /// exited or failed one as it is.
    fn stopped_while_idle(&self) {
        let id = self.id().to_owned();
        self.shared.update(&id, Vec::new(), |e| {
            if matches!(e.phase, Phase::Pending | Phase::Backoff | Phase::Starting) {
                e.phase = Phase::Stopped;
            }
        });
    }

    async fn wait_gates(&mut self) -> Next {
        self.set_phase(Phase::Pending, Vec::new());
        let mut changes = self.shared.changes();
        loop {
            let verdict = self.shared.with_table(|table| {
                let mut all_met = true;
                for dependency in &self.spec.gates {
                    let Some(entry) = table.get(&dependency.service) else {
                        // Removed by a reload: nothing to wait for.
                        continue;
                    };
                    match gate(&dependency.service, entry, dependency.condition) {
                        Gate::Met => {}
                        Gate::Waiting => all_met = false,
                        Gate::Broken(why) => return Err(why),
                    }
                }
                Ok(all_met)
            });
            match verdict {
                Ok(true) => return Next::Spawn,
                Ok(false) => {}
                Err(why) => {
                    let reason = format!("a dependency cannot be met: {why}");
                    let id = self.id().to_owned();
                    let event = EventKind::ProcessFailed {
                        service: id.clone(),
                        restarts: 0,
                        reason: reason.clone(),
                    };
                    self.shared.update(&id, vec![event], |e| {
                        e.phase = Phase::Failed;
                        e.reason = Some(reason);
                    });
                    return Next::Idle;
                }
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Next::End;
                    }
                }
                command = self.commands.recv() => match command {
                    Some(command) => return self.idle_command(command),
                    None => return Next::End,
                },
            }
        }
    }

    async fn backoff(&mut self, delay: Duration) -> Next {
        tokio::select! {
            () = tokio::time::sleep(delay) => Next::Spawn,
            command = self.commands.recv() => match command {
                Some(command) => self.idle_command(command),
                None => Next::End,
            },
        }
    }

    /// One run: spawn, wait for the exit or a command, decide.
    async fn run_once(&mut self) -> Next {
        let id = self.id().to_owned();
        let attempt = self.restarts.count();
        self.shared.update(
            &id,
            vec![EventKind::ProcessStarting {
                service: id.clone(),
                attempt,
            }],
            |e| {
                e.phase = Phase::Starting;
                e.restarts = attempt;
                e.reason = None;
                // A verdict about an earlier process (or resumed from the store) says nothing
                // about this one: it is healthy once a probe of it passes.
                e.healthy = false;
            },
        );
        let launch = &self.shared.options().launch;
        let spawned = process::spawn(
            launch,
            &id,
            &self.spec.process.command,
            self.spec.workdir.as_deref(),
            &self.spec.env,
        )
        .await;
        let mut spawned = match spawned {
            Ok(spawned) => spawned,
            Err(err) => {
                let message = err.to_string();
                let exit = ExitInfo {
                    code: None,
                    signal: None,
                    at: crate::now_millis(),
                    message: Some(message.clone()),
                };
                let event = EventKind::ProcessExited {
                    service: id.clone(),
                    pid: None,
                    code: None,
                    signal: None,
                    uptime_ms: 0,
                    message: Some(message),
                };
                return self.decide(false, Duration::ZERO, event, exit);
            }
        };
        let pid = spawned.pid;
        // Its record goes however this run ends.
        let _record = process::Recorded::new(&launch.launcher, pid);
        let spawned_at = Instant::now();
        let logs = self
            .shared
            .with_table(|t| t.get(&id).map(|e| e.logs.clone()));
        let readers = logs.map(|book| start_readers(&mut spawned.child, &book));
        self.shared.update(
            &id,
            vec![EventKind::ProcessRunning {
                service: id.clone(),
                pid,
            }],
            |e| {
                e.phase = Phase::Running;
                e.pid = Some(pid);
                e.started_at = Some(crate::now_millis());
                e.spawned = Some(spawned_at);
            },
        );
        let _nudger = self
            .spec
            .check_every
            .map(|every| AbortOnDrop(tokio::spawn(nudge(self.shared.clone(), id.clone(), every))));
        let mut child = spawned.child;
        loop {
            tokio::select! {
                status = child.wait() => {
                    // Whatever it left running in its group goes with it.
                    signal_group(pid, rustix::process::Signal::KILL);
                    drain(readers).await;
                    let uptime = spawned_at.elapsed();
                    let (code, signal) = match &status {
                        Ok(status) => (status.code(), status.signal()),
                        Err(_) => (None, None),
                    };
                    let success = status.as_ref().is_ok_and(std::process::ExitStatus::success);
                    let exit = ExitInfo {
                        code,
                        signal,
                        at: crate::now_millis(),
                        message: status.as_ref().err().map(ToString::to_string),
                    };
                    let event = EventKind::ProcessExited {
                        service: id.clone(),
                        pid: Some(pid),
                        code,
                        signal,
                        uptime_ms: millis(uptime),
                        message: exit.message.clone(),
                    };
                    return self.decide(success, uptime, event, exit);
                }
                command = self.commands.recv() => {
                    let (next, answer): (Next, Box<dyn FnOnce(bool) + Send>) = match command {
                        Some(Control::Start) => continue,
                        Some(Control::Stop(ack)) => (Next::Idle, Box::new(move |k| { let _ = ack.send(k); })),
                        Some(Control::Restart(ack)) => {
                            self.restarts.reset();
                            (Next::Spawn, Box::new(move |_| { let _ = ack.send(()); }))
                        }
                        Some(Control::Shutdown(ack)) => (Next::End, Box::new(move |k| { let _ = ack.send(Some(k)); })),
                        None => (Next::End, Box::new(|_| {})),
                    };
                    let (status, killed) = self.stop_child(&mut child, pid).await;
                    drain(readers).await;
                    let (code, signal) = match &status {
                        Some(status) => (status.code(), status.signal()),
                        None => (None, None),
                    };
                    let exit = ExitInfo { code, signal, at: crate::now_millis(), message: None };
                    let events = vec![
                        EventKind::ProcessExited {
                            service: id.clone(),
                            pid: Some(pid),
                            code,
                            signal,
                            uptime_ms: millis(spawned_at.elapsed()),
                            message: None,
                        },
                        EventKind::ProcessStopped { service: id.clone(), killed },
                    ];
                    self.shared.update(&id, events, |e| {
                        e.last_exit = Some(exit);
                        e.pid = None;
                        e.phase = Phase::Stopped;
                    });
                    answer(killed);
                    return next;
                }
            }
        }
    }

    /// The stop signal to the group, SIGKILL after the grace period; then SIGKILL to whatever
    /// is left of the group. Returns the exit status and whether SIGKILL was needed.
    async fn stop_child(
        &self,
        child: &mut Child,
        pid: u32,
    ) -> (Option<std::process::ExitStatus>, bool) {
        let stop = self.spec.process.stop;
        signal_group(pid, signal_of(stop.signal));
        let (status, killed) = match tokio::time::timeout(stop.grace, child.wait()).await {
            Ok(status) => (status.ok(), false),
            Err(_) => {
                signal_group(pid, rustix::process::Signal::KILL);
                (child.wait().await.ok(), true)
            }
        };
        signal_group(pid, rustix::process::Signal::KILL);
        (status, killed)
    }

    /// Follows the restart policy after an exit, stating the exit and the decision in one
    /// update (so a dependent never sees an exit without knowing whether a restart follows).
    fn decide(
        &mut self,
        success: bool,
        uptime: Duration,
        exited: EventKind,
        exit: ExitInfo,
    ) -> Next {
        let id = self.id().to_owned();
        let (phase, event, reason, restarts, next) = match self.restarts.on_exit(success, uptime) {
            Decision::Restart { delay, attempt } => (
                Phase::Backoff,
                Some(EventKind::ProcessRestarting {
                    service: id.clone(),
                    in_ms: millis(delay),
                    attempt,
                }),
                None,
                attempt,
                Next::Backoff(delay),
            ),
            Decision::Stay => (Phase::Exited, None, None, self.restarts.count(), Next::Idle),
            Decision::Fail { restarts } => {
                let reason = if restarts == 0 {
                    "it exited and `max_restarts` is 0".to_owned()
                } else {
                    let noun = if restarts == 1 { "restart" } else { "restarts" };
                    format!("it kept exiting: {restarts} {noun} in a row did not keep it up")
                };
                (
                    Phase::Failed,
                    Some(EventKind::ProcessFailed {
                        service: id.clone(),
                        restarts,
                        reason: reason.clone(),
                    }),
                    Some(reason),
                    restarts,
                    Next::Idle,
                )
            }
        };
        let events = std::iter::once(exited).chain(event).collect();
        self.shared.update(&id, events, |e| {
            e.last_exit = Some(exit);
            e.pid = None;
            e.phase = phase;
            e.restarts = restarts;
            e.reason = reason;
        });
        next
    }
}

/// Asks the monitor to probe a freshly started service soon, again and again (250 ms, then
/// doubling up to 2 s) until it is ready, stops running, or one check interval has passed (the
/// regular schedule has probed it by then): readiness is seen within a fraction of a second of
/// the service being healthy, not an interval later.
async fn nudge(shared: Arc<Shared>, id: String, every: Duration) {
    let until = Instant::now() + every;
    let mut pause = Duration::from_millis(250);
    while Instant::now() < until {
        let waiting = shared.with_table(|t| {
            t.get(&id)
                .is_some_and(|e| e.phase == Phase::Running && !e.is_ready())
        });
        if !waiting {
            return;
        }
        shared.monitor().probe_soon(&id);
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// Aborts a task when dropped (the run it belongs to ended).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The longest a runner waits for its output readers after the process exited.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

type Readers = (tokio::task::JoinHandle<()>, tokio::task::JoinHandle<()>);

/// Reads stdout and stderr line by line into the log book.
fn start_readers(child: &mut Child, book: &Arc<LogBook>) -> Readers {
    let out = child.stdout.take();
    let err = child.stderr.take();
    (
        tokio::spawn(read_lines(out, book.clone(), Stream::Stdout)),
        tokio::spawn(read_lines(err, book.clone(), Stream::Stderr)),
    )
}

async fn read_lines<R: AsyncRead + Unpin>(pipe: Option<R>, book: Arc<LogBook>, stream: Stream) {
    let Some(pipe) = pipe else {
        return;
    };
    let mut reader = BufReader::new(pipe);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                while buffer.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buffer.pop();
                }
                let text = String::from_utf8_lossy(&buffer).into_owned();
                book.push(stream, text, crate::now_millis());
            }
        }
    }
}

/// Waits for the readers to reach the end of the pipes, within a bound.
async fn drain(readers: Option<Readers>) {
    if let Some((out, err)) = readers {
        let both = async {
            let _ = out.await;
            let _ = err.await;
        };
        let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, both).await;
    }
}
