//! `iza up`: `iza serve` (`cmd/serve.rs`) plus the supervisor in the same process. It starts
//! every service that has a `command`, shows the start-up as it happens (a live display on a
//! terminal, plain lines otherwise), keeps printing restarts, exits and failures afterwards,
//! and on the way out says whether a supervised service had failed (exit code 1).
//!
//! The supervision itself lives in `iza-runtime` (`supervisor/`); this module only wires it
//! and renders its events.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use iza_catalog::Catalog;
use iza_runtime::supervisor::{Launch, LogOptions};
use iza_runtime::{
    EventKind, Launcher, Monitor, MonitorOptions, ProcessState, Subscription, Supervisor,
    SupervisorOptions, Update,
};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::serve::{Setup, block_on, serve};
use crate::cli::UpArgs;

pub(crate) fn run(args: &UpArgs) -> Result<ExitCode> {
    let setup = Setup::load("up", &args.server)?;
    let up = Up {
        terminal: std::io::stdout().is_terminal(),
    };
    block_on(serve(setup, Some(up)))
}

/// What `iza up` adds to `iza serve`.
pub(crate) struct Up {
    terminal: bool,
}

/// The running supervisor and its display.
pub(crate) struct Supervised {
    pub(crate) supervisor: Arc<Supervisor>,
    display: JoinHandle<()>,
}

impl Up {
    /// First probes within a second: readiness by check should not wait a whole interval.
    pub(crate) fn monitor_options(&self) -> MonitorOptions {
        MonitorOptions {
            first_probe_within: Some(Duration::from_secs(1)),
            ..MonitorOptions::default()
        }
    }

    /// Starts supervising and displaying.
    pub(crate) fn start(
        self,
        catalog: &Catalog,
        monitor: Arc<Monitor>,
        base_dir: PathBuf,
        state_dir: &Path,
        launcher: Launcher,
    ) -> Supervised {
        let options = SupervisorOptions {
            launch: Launch {
                self_exe: std::env::current_exe().ok(),
                base_dir: base_dir.clone(),
                launcher,
            },
            logs: LogOptions {
                dir: Some(state_dir.join("logs")),
                ..LogOptions::default()
            },
        };
        // Subscribed before the first start, so the display misses nothing.
        let subscription = monitor.subscribe();
        let supervisor = Arc::new(Supervisor::up(catalog, monitor, options));
        let display = tokio::spawn(display(subscription, supervisor.clone(), self.terminal));
        Supervised {
            supervisor,
            display,
        }
    }
}

impl Supervised {
    /// After the shutdown: the exit code, 1 when a supervised service had failed.
    pub(crate) async fn finish(self) -> ExitCode {
        // The display ends when the bus closes; it has printed the stops by then.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.display).await;
        let failed: Vec<String> = self
            .supervisor
            .ps()
            .into_iter()
            .filter(|p| p.state == ProcessState::Failed)
            .map(|p| format!("`{}`", p.id))
            .collect();
        if failed.is_empty() {
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "error: {} failed while `iza up` ran: {}",
            if failed.len() == 1 {
                "a supervised service"
            } else {
                "supervised services"
            },
            failed.join(", ")
        );
        eprintln!(
            "\nhint: read its output in `.iza/logs/` beside the manifest, fix it, and run `iza up` again"
        );
        ExitCode::from(1)
    }
}

/// Renders the supervisor's events until the bus closes.
async fn display(mut subscription: Subscription, supervisor: Arc<Supervisor>, terminal: bool) {
    let began = Instant::now();
    // The states as the events tell them, so the summary comes in order with the lines
    // (the supervisor's own table may already be ahead of the events read so far).
    let mut seen: Vec<Seen> = supervisor
        .ps()
        .into_iter()
        .map(|p| Seen {
            id: p.id,
            state: ProcessState::Pending,
            code: None,
        })
        .collect();
    let mut out = Output::new(terminal, &seen);
    let mut settled = false;
    if seen.is_empty() {
        out.line("nothing to start: no service has a `command`".to_owned());
        settled = true;
    }
    while let Some(update) = subscription.recv().await {
        let Update::Event(event) = update else {
            continue;
        };
        if let Some(text) = describe_incident(&event.kind) {
            out.line(text);
            continue;
        }
        // The processes of another node (relayed) are that node's `iza up`'s to show.
        if event.is_relayed() {
            continue;
        }
        let Some(text) = describe(&event.kind) else {
            continue;
        };
        let Some(id) = event.service() else {
            continue;
        };
        if let Some(entry) = seen.iter_mut().find(|s| s.id == id) {
            entry.apply(&event.kind);
        }
        out.event(id, &event.kind, text);
        if !settled && seen.iter().all(Seen::is_settled) {
            settled = true;
            out.finish();
            out.line(summary(&seen, began.elapsed()));
        }
    }
    out.finish();
}

/// A service's state as the events read so far tell it.
struct Seen {
    id: String,
    state: ProcessState,
    code: Option<i32>,
}

impl Seen {
    fn apply(&mut self, kind: &EventKind) {
        self.state = match kind {
            EventKind::ProcessStarting { .. } => ProcessState::Starting,
            EventKind::ProcessRunning { .. } => ProcessState::Running,
            EventKind::ProcessReady { .. } => ProcessState::Ready,
            EventKind::ProcessExited { code, .. } => {
                self.code = *code;
                ProcessState::Exited
            }
            EventKind::ProcessRestarting { .. } => ProcessState::Backoff,
            EventKind::ProcessFailed { .. } => ProcessState::Failed,
            EventKind::ProcessStopped { .. } => ProcessState::Stopped,
            _ => self.state,
        };
    }

    /// Whether start-up is over for it: ready, or ended one way or another. An `exited` is
    /// final because the restart decision comes with the exit, in the same update.
    fn is_settled(&self) -> bool {
        !matches!(
            self.state,
            ProcessState::Pending
                | ProcessState::Starting
                | ProcessState::Running
                | ProcessState::Backoff
        )
    }

    fn is_ok(&self) -> bool {
        self.state == ProcessState::Ready
            || (self.state == ProcessState::Exited && self.code == Some(0))
    }
}

/// `all ready in 3.4s`, or what did not come up.
fn summary(seen: &[Seen], elapsed: Duration) -> String {
    let took = seconds(elapsed);
    if seen.iter().all(Seen::is_ok) {
        return format!("all ready in {took}");
    }
    let others: Vec<String> = seen
        .iter()
        .filter(|s| !s.is_ok())
        .map(|s| format!("{} `{}`", s.state.as_str(), s.id))
        .collect();
    format!(
        "started in {took}: {} of {} ready; {}",
        seen.iter().filter(|s| s.is_ok()).count(),
        seen.len(),
        others.join(", ")
    )
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// One line about a lifecycle event (`ready api (1.2s)`); none for other events.
fn describe(kind: &EventKind) -> Option<String> {
    Some(match kind {
        EventKind::ProcessStarting { service, .. } => format!("starting {service}"),
        EventKind::ProcessRunning { service, pid } => format!("running {service} (pid {pid})"),
        EventKind::ProcessReady { service, after_ms } => format!(
            "ready {service} ({})",
            seconds(Duration::from_millis(*after_ms))
        ),
        EventKind::ProcessExited {
            service,
            code,
            signal,
            message,
            ..
        } => match (code, signal, message) {
            (_, _, Some(message)) => format!("exited {service}: {message}"),
            (Some(code), _, _) => format!("exited {service} (status {code})"),
            (None, Some(signal), _) => format!("exited {service} (signal {signal})"),
            (None, None, None) => format!("exited {service}"),
        },
        EventKind::ProcessRestarting {
            service,
            in_ms,
            attempt,
        } => format!(
            "restarting {service} in {} (restart {attempt})",
            seconds(Duration::from_millis(*in_ms))
        ),
        EventKind::ProcessFailed {
            service, reason, ..
        } => format!("failed {service}: {reason}"),
        EventKind::ProcessStopped { service, killed } => {
            if *killed {
                format!("stopped {service} (killed after its grace period)")
            } else {
                format!("stopped {service}")
            }
        }
        _ => return None,
    })
}

/// The line of an incident event (the agents' escalations, `docs/agents.md`).
fn describe_incident(kind: &EventKind) -> Option<String> {
    Some(match kind {
        EventKind::IncidentOpened {
            incident,
            task,
            reason,
            ..
        } => format!("incident #{incident} opened: `{task}` failed: {reason}"),
        EventKind::IncidentEscalated {
            incident,
            to,
            tier,
            runs,
            ..
        } => {
            if runs.is_empty() {
                format!(
                    "incident #{incident} escalated to `{to}` (tier {tier}): no escalation task, climbing"
                )
            } else {
                format!("incident #{incident} escalated to `{to}` (tier {tier})")
            }
        }
        EventKind::IncidentResolved {
            incident,
            resolution,
            ..
        } => format!("incident #{incident} resolved: {resolution}"),
        _ => return None,
    })
}

/// Where the lines go: spinners on a terminal during start-up, plain lines otherwise.
enum Output {
    Plain,
    Live {
        bars: MultiProgress,
        services: Vec<(String, ProgressBar)>,
    },
}

impl Output {
    fn new(terminal: bool, ps: &[Seen]) -> Output {
        if !terminal || ps.is_empty() {
            return Output::Plain;
        }
        let bars = MultiProgress::new();
        let style = ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let services = ps
            .iter()
            .map(|p| {
                let bar = bars.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_message(format!("waiting {}", p.id));
                bar.enable_steady_tick(Duration::from_millis(100));
                (p.id.clone(), bar)
            })
            .collect();
        Output::Live { bars, services }
    }

    fn event(&mut self, id: &str, kind: &EventKind, text: String) {
        match self {
            Output::Plain => super::say(&text),
            Output::Live { bars, services } => match services.iter().find(|(s, _)| s == id) {
                Some((_, bar)) => match kind {
                    EventKind::ProcessReady { .. } => finish(bar, format!("✓ {text}")),
                    EventKind::ProcessFailed { .. } => finish(bar, format!("✗ {text}")),
                    _ => bar.set_message(text),
                },
                None => {
                    let _ = bars.println(text);
                }
            },
        }
    }

    fn line(&mut self, text: String) {
        match self {
            Output::Plain => super::say(&text),
            Output::Live { bars, .. } => {
                let _ = bars.println(text);
            }
        }
    }

    /// Ends the live display; later lines are plain.
    fn finish(&mut self) {
        if let Output::Live { services, .. } = self {
            for (_, bar) in services.iter() {
                if !bar.is_finished() {
                    bar.finish();
                }
            }
            *self = Output::Plain;
        }
    }
}

/// Ends a spinner with a line of its own (no blank where the spinner was).
fn finish(bar: &ProgressBar, text: String) {
    if let Ok(style) = ProgressStyle::with_template("{msg}") {
        bar.set_style(style);
    }
    bar.finish_with_message(text);
}
