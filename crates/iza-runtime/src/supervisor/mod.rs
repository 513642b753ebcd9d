//! Defines the [`Supervisor`]: the services of a catalog that have a `command`, run as child
//! processes, started in dependency order, restarted by policy, their output kept, and
//! stopped in reverse order. It is the control handle behind `iza up` (and, later, the
//! `ps`/`logs`/`restart`/`stop`/`start` endpoints and commands).
//!
//! ```text
//! Supervisor ──control──▶ one runner task per service (runner.rs)
//!   │  table (state of every service)  │ waits its gates (readiness.rs), spawns (process.rs),
//!   │  change signal (watch)           │ reads stdout/stderr into its LogBook (logs.rs),
//!   │                                  │ restarts by policy (restart.rs)
//!   └── health task: the Monitor's bus ─┘ every lifecycle fact is an Event, announced through
//!       says which checks pass              the Monitor so it is on the bus and in the store
//! ```
//!
//! The table of every service's state (`table.rs`) is the one place a state changes.
//!
//! Every runner starts at once and waits for its own gates, so independent services start in
//! parallel and a service starts as soon as what it waits for is met. [`Plan`] (plan.rs) gives
//! the waves, used to stop in reverse order. Stopping by hand ([`Supervisor::stop`]) is never
//! undone by the restart policy; [`Supervisor::start`] and [`Supervisor::restart`] start at
//! once, without waiting for dependencies, and begin a fresh restart series.
//!
//! It does not probe (the [`Monitor`] does), does not render, and does not read the manifest.

pub mod logs;
pub mod plan;
pub mod process;
mod readiness;
pub mod restart;
mod runner;
mod table;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use indexmap::IndexMap;
use iza_catalog::Catalog;
use iza_store::Millis;
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::monitor::Monitor;
use crate::monitor::status::Health;
pub use logs::{LogBook, LogLine, LogOptions, Stream};
pub use plan::{Plan, Planned};
pub use process::Launch;
use runner::{Control, RunSpec};
use table::watch_health;
pub(crate) use table::{Entry, Phase, Shared};

/// How a [`Supervisor`] behaves.
#[derive(Debug, Clone)]
pub struct SupervisorOptions {
    /// Where programs and working directories are resolved, and what `iza` means.
    pub launch: Launch,
    /// How output is kept.
    pub logs: LogOptions,
}

/// What a supervised service is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessState {
    /// Waiting for its dependencies.
    Pending,
    /// Being spawned.
    Starting,
    /// Running; not yet healthy by its check.
    Running,
    /// Running, and healthy by its check when it has one.
    Ready,
    /// Exited, and the policy does not restart it.
    Exited,
    /// Exited; the policy restarts it after a delay.
    Backoff,
    /// Gave up: it kept exiting, or a dependency it waited for failed.
    Failed,
    /// Stopped by hand, by a reload or by the shutdown.
    Stopped,
}

impl ProcessState {
    /// The state as a word (`ready`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessState::Pending => "pending",
            ProcessState::Starting => "starting",
            ProcessState::Running => "running",
            ProcessState::Ready => "ready",
            ProcessState::Exited => "exited",
            ProcessState::Backoff => "backoff",
            ProcessState::Failed => "failed",
            ProcessState::Stopped => "stopped",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExitInfo {
    /// Exit status, when it exited.
    pub code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// When, Unix milliseconds.
    pub at: Millis,
    /// What went wrong, when it could not be spawned.
    pub message: Option<String>,
}

/// One supervised service, as [`Supervisor::ps`] shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessInfo {
    /// Service id.
    pub id: String,
    /// What it is doing.
    pub state: ProcessState,
    /// Its process (and process group) id while it runs.
    pub pid: Option<u32>,
    /// Restarts in the current series (reset by a long enough run or a start by hand).
    pub restarts: u32,
    /// When its current (or last) process started, Unix milliseconds.
    pub started_at: Option<Millis>,
    /// How its last process ended.
    pub last_exit: Option<ExitInfo>,
    /// Why it failed, when it did.
    pub reason: Option<String>,
}

/// Why the supervisor could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisorError {
    /// No service has this id.
    #[error("no service `{0}` in the manifest")]
    UnknownService(String),
    /// The service exists but has no `command`.
    #[error("service `{0}` is not supervised: it has no `command`")]
    NotSupervised(String),
    /// The supervisor has shut down.
    #[error("the supervisor has stopped")]
    Stopped,
}

/// What a shutdown did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupervisorShutdown {
    /// Services whose process was running and was stopped.
    pub stopped: Vec<String>,
    /// Of those, the ones that needed SIGKILL after their grace period.
    pub killed: Vec<String>,
}

/// What a reload changed, by service id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SupervisorReload {
    /// Newly supervised, started.
    pub started: Vec<String>,
    /// No longer supervised, stopped.
    pub stopped: Vec<String>,
    /// Whose process spec changed, restarted.
    pub restarted: Vec<String>,
}

/// The running supervisor; see the module documentation. Share it behind an `Arc`.
pub struct Supervisor {
    shared: Arc<Shared>,
    /// Every service id of the catalog (to tell unknown from unsupervised).
    known: Mutex<HashSet<String>>,
    plan: Mutex<Plan>,
    health: JoinHandle<()>,
    stopped: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("services", &self.ps().len())
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    /// Starts supervising every service of `catalog` that has a `command`: each waits for its
    /// gates, then starts. Lifecycle events go through `monitor` (bus and store), whose check
    /// results say when a service is healthy. Must be called within a Tokio runtime.
    pub fn up(catalog: &Catalog, monitor: Arc<Monitor>, options: SupervisorOptions) -> Supervisor {
        let (changed, _) = watch::channel(0);
        let plan = Plan::of(catalog);
        let shared = Arc::new(Shared {
            table: Mutex::new(IndexMap::new()),
            changed,
            monitor: monitor.clone(),
            options,
        });
        let health = tokio::spawn(watch_health(shared.clone(), monitor));
        for planned in plan.start_order() {
            let spec = RunSpec::of(catalog, planned);
            insert(&shared, spec, None, true);
        }
        Supervisor {
            shared,
            known: Mutex::new(catalog.services.keys().cloned().collect()),
            plan: Mutex::new(plan),
            health,
            stopped: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Every supervised service, in start order.
    pub fn ps(&self) -> Vec<ProcessInfo> {
        self.shared
            .with_table(|t| t.iter().map(|(id, e)| e.info(id)).collect())
    }

    /// One supervised service.
    pub fn info(&self, id: &str) -> Result<ProcessInfo, SupervisorError> {
        self.check(id)?;
        self.shared.with_table(|t| {
            t.get(id)
                .map(|e| e.info(id))
                .ok_or_else(|| SupervisorError::NotSupervised(id.to_owned()))
        })
    }

    /// The start waves.
    pub fn plan(&self) -> Plan {
        self.plan
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A receiver that changes whenever any service's state does (for displays that poll
    /// [`Supervisor::ps`]).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.shared.changes()
    }

    /// Starts a service that is not running (exited, failed, stopped, or waiting out a
    /// backoff), at once and without waiting for its dependencies, with a fresh restart
    /// series. A running service is left alone.
    pub fn start(&self, id: &str) -> Result<(), SupervisorError> {
        let control = self.control(id)?;
        control
            .send(Control::Start)
            .map_err(|_| SupervisorError::Stopped)
    }

    /// Stops a service: its stop signal to the process group, SIGKILL after the grace period.
    /// The restart policy does not bring it back; [`Supervisor::start`] does. Returns once it
    /// has stopped.
    pub async fn stop(&self, id: &str) -> Result<(), SupervisorError> {
        let control = self.control(id)?;
        let (ack, done) = oneshot::channel();
        control
            .send(Control::Stop(ack))
            .map_err(|_| SupervisorError::Stopped)?;
        done.await.map_err(|_| SupervisorError::Stopped)?;
        Ok(())
    }

    /// Stops a service if it runs, then starts it again at once with a fresh restart series.
    /// Returns once the new process is being started.
    pub async fn restart(&self, id: &str) -> Result<(), SupervisorError> {
        let control = self.control(id)?;
        let (ack, done) = oneshot::channel();
        control
            .send(Control::Restart(ack))
            .map_err(|_| SupervisorError::Stopped)?;
        done.await.map_err(|_| SupervisorError::Stopped)?;
        Ok(())
    }

    /// The last `tail` lines the service wrote (stdout and stderr interleaved as read).
    pub fn logs(&self, id: &str, tail: usize) -> Result<Vec<LogLine>, SupervisorError> {
        Ok(self.book(id)?.tail(tail))
    }

    /// Every line the service writes from now on. A follower that falls behind by more than
    /// the follow capacity gets `RecvError::Lagged` and continues.
    pub fn follow(&self, id: &str) -> Result<broadcast::Receiver<LogLine>, SupervisorError> {
        Ok(self.book(id)?.follow())
    }

    /// The last `tail` lines and every later one, with none lost or repeated in between.
    pub fn tail_and_follow(
        &self,
        id: &str,
        tail: usize,
    ) -> Result<(Vec<LogLine>, broadcast::Receiver<LogLine>), SupervisorError> {
        Ok(self.book(id)?.tail_and_follow(tail))
    }

    /// Stops everything in reverse dependency order (each wave's services together): the stop
    /// signal to each process group, SIGKILL to the group after its grace period. Services
    /// waiting for dependencies or a backoff never start. A second call returns at once.
    pub async fn shutdown(&self) -> SupervisorShutdown {
        if self.stopped.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return SupervisorShutdown::default();
        }
        let plan = self.plan();
        let mut order: Vec<Vec<String>> = plan
            .stop_waves()
            .map(|w| w.iter().map(|p| p.id.clone()).collect())
            .collect();
        // Anything not in the plan (should not happen) goes last.
        let planned: HashSet<String> = order.iter().flatten().cloned().collect();
        let rest: Vec<String> = self.shared.with_table(|t| {
            t.keys()
                .filter(|id| !planned.contains(*id))
                .cloned()
                .collect()
        });
        order.push(rest);
        let mut summary = SupervisorShutdown::default();
        for wave in order {
            // Signal the whole wave first, then wait for each: its services stop together.
            let mut stops = Vec::with_capacity(wave.len());
            for id in wave {
                let Some(control) = self
                    .shared
                    .with_table(|t| t.get(&id).map(|e| e.control.clone()))
                else {
                    continue;
                };
                let (ack, done) = oneshot::channel();
                if control.send(Control::Shutdown(ack)).is_ok() {
                    stops.push((id, done));
                }
            }
            for (id, done) in stops {
                if let Ok(Some(killed)) = done.await {
                    if killed {
                        summary.killed.push(id.clone());
                    }
                    summary.stopped.push(id);
                }
            }
        }
        let runners: Vec<JoinHandle<()>> = {
            let mut table = self
                .shared
                .table
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            table.values_mut().filter_map(|e| e.runner.take()).collect()
        };
        for runner in runners {
            let _ = runner.await;
        }
        self.health.abort();
        summary
    }

    /// Sends SIGKILL to the process group of every running service at once, without grace
    /// (a second Ctrl-C during the shutdown). The runners see the exits as usual; call it
    /// during [`Supervisor::shutdown`] to cut its grace periods short.
    pub fn kill_all(&self) {
        let pids: Vec<u32> = self
            .shared
            .with_table(|t| t.values().filter_map(|e| e.pid).collect());
        for pid in pids {
            process::signal_group(pid, rustix::process::Signal::KILL);
        }
    }

    /// Applies a new catalog: newly supervised services start (waiting for their gates),
    /// services no longer supervised stop, services whose process spec, `workdir`, `env`,
    /// check presence or gates changed restart. Logs of a restarted service carry on.
    pub async fn reload(&self, catalog: &Catalog) -> SupervisorReload {
        let mut summary = SupervisorReload::default();
        if self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return summary;
        }
        let plan = Plan::of(catalog);
        let specs: IndexMap<String, RunSpec> = plan
            .start_order()
            .map(|p| (p.id.clone(), RunSpec::of(catalog, p)))
            .collect();
        let current: IndexMap<String, RunSpec> = self.shared.with_table(|t| {
            t.iter()
                .map(|(id, e)| (id.clone(), e.spec.clone()))
                .collect()
        });
        for (id, old) in &current {
            match specs.get(id) {
                None => {
                    self.retire(id).await;
                    summary.stopped.push(id.clone());
                }
                Some(new) if new != old => {
                    let logs = self.retire(id).await;
                    insert(&self.shared, new.clone(), logs, false);
                    summary.restarted.push(id.clone());
                }
                Some(_) => {}
            }
        }
        for (id, spec) in specs {
            if !current.contains_key(&id) {
                insert(&self.shared, spec, None, true);
                summary.started.push(id);
            }
        }
        // Keep the table in the new start order.
        {
            let mut table = self
                .shared
                .table
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let order: Vec<String> = plan.start_order().map(|p| p.id.clone()).collect();
            table.sort_by_cached_key(|id, _| order.iter().position(|o| o == id));
        }
        *self.plan.lock().unwrap_or_else(PoisonError::into_inner) = plan;
        *self.known.lock().unwrap_or_else(PoisonError::into_inner) =
            catalog.services.keys().cloned().collect();
        summary
    }

    /// Stops a service's runner and removes its entry; returns its log book.
    async fn retire(&self, id: &str) -> Option<Arc<LogBook>> {
        let (control, runner) = {
            let mut table = self
                .shared
                .table
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let entry = table.get_mut(id)?;
            (entry.control.clone(), entry.runner.take())
        };
        let (ack, done) = oneshot::channel();
        if control.send(Control::Shutdown(ack)).is_ok() {
            let _ = done.await;
        }
        if let Some(runner) = runner {
            let _ = runner.await;
        }
        let removed = self
            .shared
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .shift_remove(id);
        self.shared.changed.send_modify(|n| *n = n.wrapping_add(1));
        removed.map(|e| e.logs)
    }

    fn check(&self, id: &str) -> Result<(), SupervisorError> {
        if self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(SupervisorError::Stopped);
        }
        if !self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(id)
        {
            return Err(SupervisorError::UnknownService(id.to_owned()));
        }
        Ok(())
    }

    fn control(&self, id: &str) -> Result<mpsc::UnboundedSender<Control>, SupervisorError> {
        self.check(id)?;
        self.shared.with_table(|t| {
            t.get(id)
                .map(|e| e.control.clone())
                .ok_or_else(|| SupervisorError::NotSupervised(id.to_owned()))
        })
    }

    fn book(&self, id: &str) -> Result<Arc<LogBook>, SupervisorError> {
        if !self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(id)
        {
            return Err(SupervisorError::UnknownService(id.to_owned()));
        }
        self.shared.with_table(|t| {
            t.get(id)
                .map(|e| e.logs.clone())
                .ok_or_else(|| SupervisorError::NotSupervised(id.to_owned()))
        })
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Runners own their children with `kill_on_drop`; aborting them kills the main
        // processes. The shutdown is the orderly way.
        self.health.abort();
        let mut table = self
            .shared
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for entry in table.values_mut() {
            if let Some(pid) = entry.pid {
                process::signal_group(pid, rustix::process::Signal::KILL);
            }
            if let Some(runner) = entry.runner.take() {
                runner.abort();
            }
        }
    }
}

/// Adds an entry and starts its runner.
fn insert(shared: &Arc<Shared>, spec: RunSpec, logs: Option<Arc<LogBook>>, wait_gates: bool) {
    let id = spec.id.clone();
    let logs = logs.unwrap_or_else(|| {
        let (book, error) = LogBook::new(&id, &shared.options.logs);
        if let Some(err) = error {
            // Memory only; the service still runs, and its logs say why there is no file.
            book.push(
                Stream::Stderr,
                format!("[iza] cannot open the log file: {err}; logs are kept in memory only"),
                crate::now_millis(),
            );
        }
        Arc::new(book)
    });
    let (control, commands) = mpsc::unbounded_channel();
    let entry = Entry {
        phase: Phase::Pending,
        checked: spec.checked,
        healthy: shared
            .monitor
            .bus()
            .service(&id)
            .is_some_and(|s| s.own == Health::Up),
        pid: None,
        restarts: 0,
        started_at: None,
        spawned: None,
        last_exit: None,
        reason: None,
        logs,
        control,
        spec: spec.clone(),
        runner: None,
    };
    shared
        .table
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id.clone(), entry);
    let runner = tokio::spawn(runner::run(shared.clone(), spec, commands, wait_gates));
    if let Some(entry) = shared
        .table
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_mut(&id)
    {
        entry.runner = Some(runner);
    }
    shared.changed.send_modify(|n| *n = n.wrapping_add(1));
}
