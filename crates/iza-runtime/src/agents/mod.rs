//! The agents engine: the manifest's tasks run when they should, on the store's durable queue
//! (`docs/agents.md`). One [`Agents`] per process, started by `iza serve` and `iza up` beside
//! the monitor (and the supervisor under `iza up`).
//!
//! ```text
//! schedule.rs ──ticks──┐
//! triggers.rs ─events──┼──▶ Store queue ──claim──▶ worker.rs ──▶ actions/ (check, http, exec,
//! run_now, escalation ─┘      (leases)                 │            report, restart/start/stop)
//!                                                      └──finish──▶ escalation.rs (incidents)
//! ```
//!
//! - `schedule.rs`: the ticks of `every` and `cron` (+ `timezone`), enqueued exactly once each
//!   (the store's unique key of task and tick), the missed ones by `catch_up`;
//! - `triggers.rs`: `on` triggers matched against the bus, once per transition, and against
//!   the failed workflow executions the followers newly see ([`Agents::workflow_failed`]);
//! - `worker.rs`: claims by priority with aging, holds a lease with a heartbeat, runs the action
//!   within the task's `timeout`, finishes the run, retries with exponential backoff and jitter;
//! - `escalation.rs`: an incident when a task's retries are exhausted, up the `reports_to` chain;
//! - `placeholders.rs`: `{service}`, `{status}`, `{reason}`, `{agent}`, `{task}`, `{incident}`;
//! - `clock.rs`: the time, controllable in tests.
//!
//! Every run state change and incident is an event on the monitor's bus. The engine never
//! renders and never reads the manifest itself (the catalog comes from the caller).

pub mod actions;
pub mod clock;
mod commit;
mod dispatch;
pub mod escalation;
pub mod placeholders;
pub mod schedule;
pub mod triggers;
pub mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use iza_catalog::Catalog;
use iza_catalog::model::{Action, Priority, Schedule, Task, Trigger};
use iza_store::{
    Incident, Millis, NewRun, Run, RunFinish, RunId, RunOutcome, RunPriority, RunQuery, RunState,
    Store, StoreError,
};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use crate::event::{Event, EventKind};
use crate::monitor::Monitor;
use crate::supervisor::{Launch, Supervisor};
pub use clock::{Clock, ManualClock, SystemClock};

/// How the engine behaves.
#[derive(Debug, Clone)]
pub struct AgentsOptions {
    /// This process's worker id, unique per process and database (see [`worker_id`]).
    pub worker: String,
    /// Runs executed at once, at most (8).
    pub workers: usize,
    /// How long a claim holds a run without a heartbeat (30 s); heartbeats come every third.
    pub lease: Duration,
    /// Priority aging step (10 s): a queued run gains one priority rank per step it waits, so
    /// a low-priority run waits at most two steps behind any flood of high-priority ones.
    pub aging: Duration,
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
    /// The manifest's directory and the `iza` binary, for `exec` actions.
    pub launch: Launch,
    /// How often the queue is polled for runs that came due (retries, other writers) when
    /// nothing woke the worker (1 s).
    pub poll: Duration,
    /// Seed of the retry jitter (random when `None`).
    pub seed: Option<u64>,
    /// On a shared store (`docs/scale-out.md`, "One reaction per status change"): status
    /// triggers (`on = { status = ... }`) are matched against the status events as recorded in
    /// the store, handed over by the relay ([`Agents::recorded_statuses`]) on every node, not
    /// against the bus; the runs' de-duplication key is made of what every node reads alike
    /// ([`triggers::Transition::dedupe`]), so each recorded change queues its runs once across
    /// the nodes, whichever reads it first, and even when the node that recorded it died.
    pub statuses_recorded: bool,
    /// Whether [`Agents::run_now`] of a run this process can start at once, while the worker
    /// has a free slot, enqueues it and claims in one store transaction and hands the claimed
    /// runs straight to the worker (true, the default), instead of an enqueue, then the
    /// worker's wake-up and claim. The claim is the worker's ordinary one either way; false is
    /// there to compare the two (`engine_bench`).
    pub dispatch_at_once: bool,
}

impl AgentsOptions {
    /// The defaults, for a worker id and the manifest's directory.
    pub fn new(worker: impl Into<String>, launch: Launch) -> AgentsOptions {
        AgentsOptions {
            worker: worker.into(),
            workers: 8,
            lease: Duration::from_secs(30),
            aging: Duration::from_secs(10),
            clock: Arc::new(SystemClock),
            launch,
            poll: Duration::from_secs(1),
            seed: None,
            statuses_recorded: false,
            dispatch_at_once: true,
        }
    }
}

/// A worker id for this process: `node-<pid>-<start ms>`.
pub fn worker_id() -> String {
    format!("node-{}-{}", std::process::id(), crate::now_millis())
}

/// Why the engine could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No task has this key.
    #[error("no task `{0}` in the manifest")]
    UnknownTask(String),
    /// The task has no `run`: a documented responsibility.
    #[error("task `{0}` has no `run`: it is a documented responsibility")]
    NotRunnable(String),
    /// No run has this id.
    #[error("no run #{0}")]
    UnknownRun(RunId),
    /// The run is not running under this worker (it finished, expired or was never claimed).
    #[error("run #{run} is not held by worker `{worker}`")]
    NotHeld {
        /// Run id.
        run: RunId,
        /// The worker that asked.
        worker: String,
    },
    /// No incident has this id.
    #[error("no open incident #{0}")]
    UnknownIncident(i64),
    /// The run has ended already: there is nothing left to cancel.
    #[error("run #{run} has already ended: it is {state}")]
    NotCancellable {
        /// Run id.
        run: RunId,
        /// Its state, in words (`succeeded`, `failed`, `cancelled`).
        state: &'static str,
    },
    /// The task is done by external agents only: it cannot run in this process.
    #[error(
        "task `{0}` is external (`run = {{ external = true }}`): an external agent claims its runs from a running server"
    )]
    ExternalOnly(String),
    /// The run did not end within the wait.
    #[error("run #{run} did not finish within {waited:?}")]
    WaitTimeout {
        /// Run id.
        run: RunId,
        /// How long it was waited for.
        waited: Duration,
    },
}

/// How a task is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskKind {
    /// `iza` runs its action.
    Runnable,
    /// `run = { external = true }`: queued for external agents only.
    External,
    /// No `run`: a documented responsibility.
    Documented,
}

impl TaskKind {
    /// The kind of a task.
    pub fn of(task: &Task) -> TaskKind {
        match &task.action {
            None => TaskKind::Documented,
            Some(Action::External) => TaskKind::External,
            Some(_) => TaskKind::Runnable,
        }
    }
}

/// A task as the engine sees it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    /// Key (`agent/task`).
    pub key: String,
    /// Agent.
    pub agent: Option<String>,
    /// Name.
    pub name: String,
    /// Priority.
    pub priority: Priority,
    /// Runnable, external or documented.
    pub kind: TaskKind,
    /// Whether its schedule and triggers are on.
    pub enabled: bool,
    /// Its schedule.
    pub schedule: Option<Schedule>,
    /// Its `on` trigger.
    pub on: Option<Trigger>,
    /// Its next scheduled tick, Unix milliseconds.
    pub next_run: Option<Millis>,
}

/// The queue priority of a task priority.
pub fn run_priority(priority: Priority) -> RunPriority {
    match priority {
        Priority::High => RunPriority::High,
        Priority::Medium => RunPriority::Medium,
        Priority::Low => RunPriority::Low,
    }
}

/// What the engine's tasks share.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) monitor: Arc<Monitor>,
    pub(crate) supervisor: RwLock<Option<Arc<Supervisor>>>,
    pub(crate) options: AgentsOptions,
    pub(crate) catalog: RwLock<Arc<Catalog>>,
    /// New runs may be claimable.
    pub(crate) wake: Notify,
    /// A run finished.
    pub(crate) finished: Notify,
    /// Runs were queued or came back to the queue (every waiter is woken: the long-polled
    /// external claims).
    pub(crate) queued: Notify,
    /// The runs this process is executing, each with the signal that cancels it.
    pub(crate) cancels: Mutex<HashMap<RunId, Arc<Notify>>>,
    /// Why a run signalled in `cancels` is cancelled (who asked).
    pub(crate) cancel_reasons: Mutex<HashMap<RunId, String>>,
    /// Runs whose action has ended and which are being settled (finished, then escalated): the
    /// heartbeat leaves them alone, since a finish that committed also ends their lease.
    pub(crate) settling: Mutex<HashSet<RunId>>,
    /// The catalog changed (its generation).
    pub(crate) reloaded: watch::Sender<u64>,
    /// The shutdown began.
    pub(crate) stopping: watch::Sender<bool>,
    /// How long running runs get at the shutdown.
    pub(crate) shutdown_deadline: Mutex<Duration>,
    /// Next tick per scheduled task.
    pub(crate) next_ticks: Mutex<HashMap<String, Millis>>,
    /// When runs this process put back on the queue come due (retries), so the worker wakes
    /// for them without waiting for its next poll.
    pub(crate) due: Mutex<std::collections::BinaryHeap<std::cmp::Reverse<Millis>>>,
    pub(crate) http: Option<reqwest::Client>,
    pub(crate) jitter: Mutex<u64>,
    /// Finishes written together (group commit).
    pub(crate) finishes: commit::FinishCommits,
    /// Tasks by key, for the catalog at that address (`Catalog::task` is a linear search: at
    /// 10,000 tasks, one per tick and per run was most of the engine's CPU).
    task_index: Mutex<(usize, Arc<HashMap<String, usize>>)>,
    /// The worker's slots, reserved by its claims and by `run_now`'s dispatch at once.
    pub(crate) slots: dispatch::Slots,
    /// Runs claimed by `run_now`'s dispatch at once, to the worker loop.
    pub(crate) handoff: dispatch::Handoff,
    /// The worker loop's end of `handoff` (taken by it when it starts).
    pub(crate) handed: Mutex<Option<mpsc::UnboundedReceiver<Vec<Run>>>>,
}

impl Shared {
    /// The engine's shared state, nothing started yet.
    fn new(
        catalog: Arc<Catalog>,
        store: Arc<dyn Store>,
        monitor: Arc<Monitor>,
        supervisor: Option<Arc<Supervisor>>,
        options: AgentsOptions,
    ) -> Arc<Shared> {
        let seed = options.seed.unwrap_or_else(|| {
            use std::hash::{BuildHasher, RandomState};
            RandomState::new().hash_one(crate::now_millis())
        });
        let (handoff, handed) = mpsc::unbounded_channel();
        let http = actions::http::client()
            .inspect_err(|e| tracing::warn!("agents: {e}; `http` actions will fail"))
            .ok();
        Arc::new(Shared {
            store,
            monitor,
            supervisor: RwLock::new(supervisor),
            options,
            catalog: RwLock::new(catalog),
            wake: Notify::new(),
            finished: Notify::new(),
            queued: Notify::new(),
            cancels: Mutex::new(HashMap::new()),
            cancel_reasons: Mutex::new(HashMap::new()),
            settling: Mutex::new(HashSet::new()),
            reloaded: watch::channel(0).0,
            stopping: watch::channel(false).0,
            shutdown_deadline: Mutex::new(Duration::from_secs(10)),
            next_ticks: Mutex::new(HashMap::new()),
            due: Mutex::new(std::collections::BinaryHeap::new()),
            http,
            jitter: Mutex::new(seed),
            finishes: commit::FinishCommits::default(),
            task_index: Mutex::new((0, Arc::new(HashMap::new()))),
            slots: dispatch::Slots::default(),
            handoff,
            handed: Mutex::new(Some(handed)),
        })
    }

    /// Finishes a run through the group commit; `true` when the store finished it.
    pub(crate) async fn finish(&self, finish: RunFinish) -> Result<bool, StoreError> {
        self.finishes.finish(&self.store, finish).await
    }

    pub(crate) fn now(&self) -> Millis {
        self.options.clock.now()
    }

    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `catalog`'s task `key`, through an index built once per catalog (the same answer as
    /// `Catalog::task`, which it falls back to should the index not match).
    pub(crate) fn task<'c>(&self, catalog: &'c Catalog, key: &str) -> Option<&'c Task> {
        let address = std::ptr::from_ref(catalog) as usize;
        let index = {
            let mut cached = self
                .task_index
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if cached.0 != address {
                let index = catalog
                    .tasks
                    .iter()
                    .enumerate()
                    .map(|(position, task)| (task.key.clone(), position))
                    .collect();
                *cached = (address, Arc::new(index));
            }
            cached.1.clone()
        };
        index
            .get(key)
            .and_then(|position| catalog.tasks.get(*position))
            .filter(|task| task.key == key)
            .or_else(|| catalog.task(key))
    }

    pub(crate) fn supervisor(&self) -> Option<Arc<Supervisor>> {
        self.supervisor
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn announce(&self, kinds: Vec<EventKind>) {
        if kinds.is_empty() {
            return;
        }
        let at = self.now();
        self.monitor
            .announce(kinds.into_iter().map(|k| Event::new(at, k)).collect());
    }

    /// A new run of a task.
    pub(crate) fn new_run(&self, task: &Task, trigger: Value, dedupe: Option<String>) -> NewRun {
        let now = self.now();
        NewRun {
            task: task.key.clone(),
            agent: task.agent.clone(),
            priority: run_priority(task.priority),
            dedupe,
            tick: None,
            run_at: now,
            max_attempts: task.retries.saturating_add(1),
            concurrency: task.concurrency.max(1),
            external: matches!(task.action, Some(Action::External)),
            trigger,
            enqueued_at: now,
        }
    }

    /// Enqueues runs, announces those that were not duplicates and wakes the worker.
    pub(crate) async fn enqueue(
        &self,
        runs: Vec<NewRun>,
    ) -> Result<Vec<Option<RunId>>, StoreError> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let ids = self.store.enqueue_runs(&runs).await?;
        let mut events = Vec::new();
        for (run, id) in runs.iter().zip(&ids) {
            if let Some(id) = id {
                events.push(EventKind::RunQueued {
                    run: *id,
                    task: run.task.clone(),
                    agent: run.agent.clone(),
                    priority: priority_word(run.priority).to_owned(),
                    trigger: run
                        .trigger
                        .get("kind")
                        .and_then(Value::as_str)
                        .unwrap_or("manual")
                        .to_owned(),
                    run_at: run.run_at,
                });
            }
        }
        let any = !events.is_empty();
        self.announce(events);
        if any {
            self.wake.notify_one();
            self.queued.notify_waiters();
        }
        Ok(ids)
    }

    /// Notes that a queued run comes due at `at`.
    pub(crate) fn due_at(&self, at: Millis) {
        self.due
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(std::cmp::Reverse(at));
        self.wake.notify_one();
        self.queued.notify_waiters();
    }

    /// The next noted due time after `now` (those at or before it are dropped).
    pub(crate) fn next_due(&self, now: Millis) -> Option<Millis> {
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(std::cmp::Reverse(at)) = due.peek() {
            if *at > now {
                return Some(*at);
            }
            due.pop();
        }
        None
    }

    /// Announces that a run was cancelled and wakes those who wait for it.
    pub(crate) fn cancelled(&self, run: &Run) {
        self.announce(vec![EventKind::RunCancelled {
            run: run.id,
            task: run.task.clone(),
        }]);
        self.finished.notify_waiters();
        self.wake.notify_one();
    }

    /// A random number in `[0, 1)` for the retry jitter.
    pub(crate) fn random(&self) -> f64 {
        let mut state = self.jitter.lock().unwrap_or_else(PoisonError::into_inner);
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs one run of a task in this process, through the queue, without the engine's schedule,
/// triggers or worker loop: what `iza run` does when no server runs for the manifest. The run
/// is enqueued (a manual trigger, `trigger` kept with it), claimed by its id, its action run
/// with the real action code within the task's `timeout`, and retried after its backoff
/// while attempts are left; a final failure opens an incident and queues its escalation
/// (handled by the next server). Returns the run once it has ended. The lease covers the
/// task's timeout, so no heartbeat is needed; a run cut by a crash is released by the next
/// server's start like any other.
pub async fn run_local(
    catalog: Arc<Catalog>,
    store: Arc<dyn Store>,
    monitor: Arc<Monitor>,
    options: AgentsOptions,
    task_key: &str,
    trigger: Value,
) -> Result<Run, AgentsError> {
    let shared = Shared::new(catalog.clone(), store, monitor, None, options);
    let task = catalog
        .task(task_key)
        .or_else(|| catalog.find_task(task_key))
        .cloned()
        .ok_or_else(|| AgentsError::UnknownTask(task_key.to_owned()))?;
    match &task.action {
        None => return Err(AgentsError::NotRunnable(task.key)),
        Some(Action::External) => return Err(AgentsError::ExternalOnly(task.key)),
        Some(_) => {}
    }
    let run = shared.new_run(&task, trigger, None);
    let id = shared
        .enqueue(vec![run])
        .await?
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| AgentsError::UnknownTask(task.key.clone()))?;
    let lease = millis(task.timeout).saturating_add(60_000);
    let clock = shared.options.clock.clone();
    loop {
        let now = shared.now();
        match shared
            .store
            .claim_run(id, &shared.options.worker, now, lease)
            .await?
        {
            Some(run) => {
                shared.announce(vec![EventKind::RunStarted {
                    run: run.id,
                    task: run.task.clone(),
                    agent: run.agent.clone(),
                    attempt: run.attempt,
                    worker: shared.options.worker.clone(),
                }]);
                let cancel = worker::CancelSignal::register(&shared, id);
                worker::execute(shared.clone(), run, cancel).await;
            }
            None => {
                let current = shared
                    .store
                    .run(id)
                    .await?
                    .ok_or(AgentsError::UnknownRun(id))?;
                match current.state {
                    state if state.is_finished() => return Ok(current),
                    // A retry waits for its backoff.
                    RunState::Queued => clock.sleep_until(current.run_at).await,
                    _ => {
                        return Err(AgentsError::NotHeld {
                            run: id,
                            worker: shared.options.worker.clone(),
                        });
                    }
                }
            }
        }
    }
}

/// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
pub fn state_word(state: RunState) -> &'static str {
    match state {
        RunState::Queued => "queued",
        RunState::Running => "running",
        RunState::Succeeded => "succeeded",
        RunState::Failed => "failed",
        RunState::Cancelled => "cancelled",
    }
}

/// `high`, `medium` or `low`.
pub fn priority_word(priority: RunPriority) -> &'static str {
    match priority {
        RunPriority::High => "high",
        RunPriority::Medium => "medium",
        RunPriority::Low => "low",
    }
}

/// The running engine; see the module documentation. Share it behind an `Arc`.
pub struct Agents {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    recorded: Option<mpsc::UnboundedSender<Vec<Event>>>,
}

impl std::fmt::Debug for Agents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agents")
            .field("worker", &self.shared.options.worker)
            .finish_non_exhaustive()
    }
}

impl Agents {
    /// Starts the engine: releases the runs a previous process of this database left running
    /// (they are retried, or failed when out of attempts), then schedules, listens to the bus
    /// and works the queue. Must be called within a Tokio runtime.
    pub fn start(
        catalog: Arc<Catalog>,
        store: Arc<dyn Store>,
        monitor: Arc<Monitor>,
        supervisor: Option<Arc<Supervisor>>,
        options: AgentsOptions,
    ) -> Agents {
        let shared = Shared::new(catalog, store, monitor, supervisor, options);
        // Subscribe before anything runs, so that no transition after the start is missed.
        let subscription = shared.monitor.subscribe();
        let (recovered_tx, recovered_rx) = watch::channel(false);
        let worker = {
            let shared = shared.clone();
            tokio::spawn(async move {
                if let Err(err) = worker::recover(&shared).await {
                    tracing::error!(
                        "agents: recovering the runs of a previous process failed: {err}"
                    );
                }
                let _ = recovered_tx.send(true);
                worker::run(shared).await;
            })
        };
        let ticker = {
            let shared = shared.clone();
            let mut recovered = recovered_rx;
            tokio::spawn(async move {
                let _ = recovered.wait_for(|r| *r).await;
                schedule::run(shared).await;
            })
        };
        let listener = tokio::spawn(listen(shared.clone(), subscription));
        let mut tasks = vec![ticker, listener];
        let recorded = shared.options.statuses_recorded.then(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tasks.push(tokio::spawn(recorded(shared.clone(), receiver)));
            sender
        });
        Agents {
            shared,
            tasks: Mutex::new(tasks),
            worker: Mutex::new(Some(worker)),
            recorded,
        }
    }

    /// Where the status events recorded in a shared store go to trigger their tasks (when
    /// started with [`AgentsOptions::statuses_recorded`]): the relay hands over every node's,
    /// this node's included (`crate::cluster::relay`).
    pub fn recorded_statuses(&self) -> Option<mpsc::UnboundedSender<Vec<Event>>> {
        self.recorded.clone()
    }

    /// Hands the engine the supervisor of `iza up` when it was started after the engine (so
    /// that the engine saw the supervised processes' first transitions).
    pub fn set_supervisor(&self, supervisor: Arc<Supervisor>) {
        *self
            .shared
            .supervisor
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(supervisor);
    }

    /// The worker id of this process.
    pub fn worker(&self) -> &str {
        &self.shared.options.worker
    }

    /// Finds a task by key or by `agent/name` (case-insensitive on the name).
    fn task(&self, key: &str) -> Result<Task, AgentsError> {
        let catalog = self.shared.catalog();
        catalog
            .task(key)
            .or_else(|| catalog.find_task(key))
            .cloned()
            .ok_or_else(|| AgentsError::UnknownTask(key.to_owned()))
    }

    /// Whether a task of the catalog waits for failed executions of `service`
    /// (`on = { workflow = "failed" }`): the follower reads each new failure's error only then.
    pub fn wants_workflow_failures(&self, service: &str) -> bool {
        let catalog = self.shared.catalog();
        let group = catalog
            .services
            .get(service)
            .and_then(|s| s.group.as_deref());
        catalog.tasks.iter().any(|t| {
            t.enabled
                && t.action.is_some()
                && t.on.as_ref().is_some_and(|on| {
                    matches!(on.kind, iza_catalog::model::TriggerKind::Workflow(_))
                        && on.matches_service(service, group)
                })
        })
    }

    /// Queues the runs of the tasks whose `on = { workflow = "failed" }` matches each failed
    /// execution, one per task and execution (the queue's dedupe key): a failure reported
    /// again (a round stored after a crash, a second node) queues nothing. Returns the runs
    /// queued.
    pub async fn workflow_failed(
        &self,
        failures: &[triggers::WorkflowFailure],
    ) -> Result<usize, AgentsError> {
        let catalog = self.shared.catalog();
        let mut runs = Vec::new();
        for failure in failures {
            for task in catalog
                .tasks
                .iter()
                .filter(|t| t.enabled && t.action.is_some())
                .filter(|t| triggers::matches_workflow(&catalog, t, failure))
            {
                runs.push(
                    self.shared
                        .new_run(task, failure.to_trigger(), Some(failure.dedupe())),
                );
            }
        }
        let ids = self.shared.enqueue(runs).await?;
        Ok(ids.iter().flatten().count())
    }

    /// Queues a run of a task now, whatever its schedule; `trigger` is kept with the run
    /// (`{"kind": "manual", "by": ...}` when it has no `kind`). External tasks are queued for
    /// external agents.
    pub async fn run_now(&self, task_key: &str, trigger: Value) -> Result<RunId, AgentsError> {
        let task = self.task(task_key)?;
        if task.action.is_none() {
            return Err(AgentsError::NotRunnable(task.key));
        }
        let trigger = match trigger {
            Value::Object(mut map) => {
                map.entry("kind").or_insert_with(|| json!("manual"));
                Value::Object(map)
            }
            Value::Null => json!({"kind": "manual"}),
            other => json!({"kind": "manual", "value": other}),
        };
        let run = self.shared.new_run(&task, trigger, None);
        let run = match dispatch::enqueue_at_once(&self.shared, run).await {
            Ok(answer) => return Ok(answer?),
            Err(run) => run,
        };
        let ids = self.shared.enqueue(vec![run]).await?;
        ids.into_iter()
            .flatten()
            .next()
            .ok_or(AgentsError::UnknownTask(task.key))
    }

    /// Waits until a run has ended (succeeded, failed for good, or cancelled), up to `timeout`.
    pub async fn wait(&self, run: RunId, timeout: Duration) -> Result<Run, AgentsError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let finished = self.shared.finished.notified();
            let current = self
                .shared
                .store
                .run(run)
                .await?
                .ok_or(AgentsError::UnknownRun(run))?;
            if matches!(
                current.state,
                RunState::Succeeded | RunState::Failed | RunState::Cancelled
            ) {
                return Ok(current);
            }
            // Woken by any finish; polled too, for runs finished by another writer.
            tokio::select! {
                () = finished => {}
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
                () = tokio::time::sleep_until(deadline) => {
                    return Err(AgentsError::WaitTimeout { run, waited: timeout });
                }
            }
        }
    }

    /// Every task, in catalog order, with its kind and next scheduled run.
    pub fn tasks(&self) -> Vec<TaskView> {
        let catalog = self.shared.catalog();
        let next = self
            .shared
            .next_ticks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        catalog
            .tasks
            .iter()
            .map(|task| TaskView {
                key: task.key.clone(),
                agent: task.agent.clone(),
                name: task.name.clone(),
                priority: task.priority,
                kind: TaskKind::of(task),
                enabled: task.enabled,
                schedule: task.schedule.clone(),
                on: task.on.clone(),
                next_run: next.get(&task.key).copied(),
            })
            .collect()
    }

    /// Claims the next external run for an agent role (optionally only some of its tasks),
    /// held by `worker` for `lease`.
    pub async fn claim_external(
        &self,
        agent: &str,
        tasks: Option<Vec<String>>,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<Run>, AgentsError> {
        let now = self.shared.now();
        let claimed = worker::claim(
            &self.shared,
            worker,
            lease,
            1,
            true,
            Some(agent),
            tasks,
            now,
        )
        .await?;
        Ok(claimed.into_iter().next())
    }

    /// [`Agents::claim_external`], waiting up to `wait` for a run when none is ready: the wait
    /// is woken by the queue's notification (a run queued, a retry or a released run put
    /// back) and by the due time of a retry this process knows, never by a polling interval.
    /// `None` when the wait ended with nothing to claim (or the engine is stopping).
    pub async fn claim_external_wait(
        &self,
        agent: &str,
        tasks: Option<Vec<String>>,
        worker: &str,
        lease: Duration,
        wait: Duration,
    ) -> Result<Option<Run>, AgentsError> {
        let clock = self.shared.options.clock.clone();
        let deadline = tokio::time::Instant::now() + wait;
        let mut stopping = self.shared.stopping.subscribe();
        loop {
            // Listen before looking, so that a run queued between the look and the wait wakes it.
            let queued = self.shared.queued.notified();
            tokio::pin!(queued);
            queued.as_mut().enable();
            if let Some(run) = self
                .claim_external(agent, tasks.clone(), worker, lease)
                .await?
            {
                return Ok(Some(run));
            }
            let now = self.shared.now();
            let due = self.shared.next_due(now).unwrap_or(Millis::MAX);
            tokio::select! {
                () = &mut queued => {}
                () = clock.sleep_until(due), if due != Millis::MAX => {}
                () = tokio::time::sleep_until(deadline) => return Ok(None),
                _ = stopping.wait_for(|s| *s) => return Ok(None),
            }
        }
    }

    /// Extends an external claim; whether `worker` still holds the run.
    pub async fn heartbeat_external(
        &self,
        run: RunId,
        worker: &str,
        lease: Duration,
    ) -> Result<bool, AgentsError> {
        let until = self.shared.now() + millis(lease);
        let held = self
            .shared
            .store
            .heartbeat_runs(worker, &[run], until)
            .await?;
        Ok(held.contains(&run))
    }

    /// Completes an external run with success or failure and an output; a failure is retried
    /// with backoff and escalates like any run's.
    pub async fn complete_external(
        &self,
        run: RunId,
        worker: &str,
        success: bool,
        output: Option<String>,
    ) -> Result<Run, AgentsError> {
        let current = self
            .shared
            .store
            .run(run)
            .await?
            .ok_or(AgentsError::UnknownRun(run))?;
        if current.state != RunState::Running || current.worker.as_deref() != Some(worker) {
            return Err(AgentsError::NotHeld {
                run,
                worker: worker.to_owned(),
            });
        }
        let result = if success {
            Ok(output)
        } else {
            Err(actions::ActionError {
                error: output
                    .as_deref()
                    .and_then(|o| o.lines().rev().find(|l| !l.trim().is_empty()))
                    .map_or_else(
                        || "the external agent reported a failure".to_owned(),
                        |l| format!("the external agent reported a failure: {l}"),
                    ),
                output,
            })
        };
        worker::settle(&self.shared, &current, result).await?;
        self.shared
            .store
            .run(run)
            .await?
            .ok_or(AgentsError::UnknownRun(run))
    }

    /// Cancels a run: a queued one (a retry waiting for its backoff included) never runs; a
    /// running one is stopped cooperatively (this process's action is dropped: an `exec`
    /// child is killed with its group, an `http` request abandoned; an external claim or a
    /// run left by a dead worker is ended in the store, so its holder's next heartbeat or
    /// completion is refused). The run ends `cancelled`, with `by` in its error; a
    /// `run-cancelled` event is announced. A run that has ended already is refused.
    pub async fn cancel(&self, run: RunId, by: &str) -> Result<Run, AgentsError> {
        let reason = format!("cancelled by {by}");
        // A few rounds: the run may move (claimed, finished) between the reading and the write.
        for _ in 0..8 {
            let current = self
                .shared
                .store
                .run(run)
                .await?
                .ok_or(AgentsError::UnknownRun(run))?;
            match current.state {
                RunState::Succeeded | RunState::Failed | RunState::Cancelled => {
                    return Err(AgentsError::NotCancellable {
                        run,
                        state: state_word(current.state),
                    });
                }
                RunState::Queued => {
                    let at = self.shared.now();
                    let done = self.shared.store.cancel_runs(&[run], at).await?;
                    if done.contains(&run) {
                        self.shared.cancelled(&current);
                        return self.stored(run).await;
                    }
                }
                RunState::Running => {
                    let signal = self
                        .shared
                        .cancels
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(&run)
                        .cloned();
                    let ours =
                        current.worker.as_deref() == Some(self.shared.options.worker.as_str());
                    match signal {
                        Some(signal) if ours => {
                            *self
                                .shared
                                .cancel_reasons
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .entry(run)
                                .or_default() = reason.clone();
                            signal.notify_one();
                            // The worker drops the action and finishes the run; wait for it.
                            return match self.wait(run, Duration::from_secs(10)).await {
                                Ok(run) => Ok(run),
                                Err(AgentsError::WaitTimeout { .. }) => self.stored(run).await,
                                Err(err) => Err(err),
                            };
                        }
                        _ if ours => {} // finishing right now: read it again
                        _ => {
                            let done = self
                                .shared
                                .store
                                .finish_runs(&[RunFinish {
                                    id: run,
                                    worker: current.worker.clone().unwrap_or_default(),
                                    at: self.shared.now(),
                                    outcome: RunOutcome::Cancelled,
                                    output: None,
                                    error: Some(reason.clone()),
                                }])
                                .await?;
                            if done.contains(&run) {
                                self.shared.cancelled(&current);
                                return self.stored(run).await;
                            }
                        }
                    }
                }
            }
            tokio::task::yield_now().await;
        }
        self.stored(run).await
    }

    /// A run as the store has it.
    async fn stored(&self, run: RunId) -> Result<Run, AgentsError> {
        self.shared
            .store
            .run(run)
            .await?
            .ok_or(AgentsError::UnknownRun(run))
    }

    /// Resolves an open incident by hand.
    pub async fn resolve_incident(&self, id: i64, by: &str) -> Result<Incident, AgentsError> {
        let resolved = self
            .shared
            .store
            .resolve_incidents(&[id], None, self.shared.now(), &format!("resolved by {by}"))
            .await?;
        let incident = resolved
            .into_iter()
            .find(|i| i.id == id)
            .ok_or(AgentsError::UnknownIncident(id))?;
        self.shared.announce(vec![EventKind::IncidentResolved {
            incident: incident.id,
            task: incident.task.clone(),
            resolution: incident.resolution.clone().unwrap_or_default(),
        }]);
        Ok(incident)
    }

    /// Applies a new catalog: schedules are recomputed (ticks already enqueued are never
    /// enqueued again), triggers and runs use the new tasks from now on.
    pub async fn reload(&self, catalog: Arc<Catalog>) {
        *self
            .shared
            .catalog
            .write()
            .unwrap_or_else(PoisonError::into_inner) = catalog;
        self.shared.reloaded.send_modify(|g| *g += 1);
        self.shared.wake.notify_one();
    }

    /// Stops: nothing new is claimed; running runs get until `deadline` to finish, the rest
    /// are stopped (an `exec` is killed with its group) and put back on the queue for the next
    /// start.
    pub async fn shutdown(&self, deadline: Duration) {
        *self
            .shared
            .shutdown_deadline
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = deadline;
        self.shared.stopping.send_replace(true);
        self.shared.wake.notify_one();
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut worker) = worker
            && tokio::time::timeout(deadline + Duration::from_secs(5), &mut worker)
                .await
                .is_err()
        {
            // Bounded: a worker still busy (its store calls slow) is stopped, not left behind.
            tracing::warn!("agents: the worker did not stop in time; aborting it");
            worker.abort();
        }
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }

    /// Recent runs (newest first), as the store keeps them.
    pub async fn runs(&self, query: &RunQuery) -> Result<Vec<Run>, AgentsError> {
        Ok(self.shared.store.runs(query).await?)
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        self.shared.stopping.send_replace(true);
        for task in self
            .tasks
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }
}

pub(crate) fn millis(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Enqueues the runs of the tasks whose `on` trigger matches each transition on the bus.
async fn listen(shared: Arc<Shared>, mut subscription: crate::bus::Subscription) {
    let epoch = shared.monitor.bus().epoch();
    let mut stopping = shared.stopping.subscribe();
    loop {
        let update = tokio::select! {
            update = subscription.recv() => update,
            _ = stopping.wait_for(|s| *s) => return,
        };
        let event = match update {
            Some(crate::bus::Update::Event(event)) => event,
            Some(crate::bus::Update::Resynced { missed, .. }) => {
                tracing::warn!("agents: fell behind the bus and missed {missed} events");
                continue;
            }
            Some(crate::bus::Update::Snapshot(_)) => continue,
            None => return,
        };
        // Another node's event triggers that node's tasks, not this one's (a status event
        // derived here from another node's result is marked with that node: its own). A run
        // it queued (or put back for a retry) is this worker's to claim too: it looks at
        // once (or when the run comes due) rather than at its next poll.
        if event.is_relayed() {
            if let Some(at) = worker::claimable_at(&event.kind) {
                shared.due_at(at);
            }
            continue;
        }
        let Some(transition) = triggers::Transition::of(&event) else {
            continue;
        };
        // On a shared store the recorded status events trigger (`recorded`).
        if transition.kind == triggers::Kind::Status && shared.options.statuses_recorded {
            continue;
        }
        let runs = triggered(&shared, &event, &transition, epoch);
        if let Err(err) = shared.enqueue(runs).await {
            tracing::error!("agents: enqueuing triggered runs failed: {err}");
        }
    }
}

/// The runs of the tasks whose `on` trigger matches a transition an event states.
fn triggered(
    shared: &Shared,
    event: &Event,
    transition: &triggers::Transition,
    epoch: u64,
) -> Vec<NewRun> {
    let catalog = shared.catalog();
    catalog
        .tasks
        .iter()
        .filter(|t| t.enabled && t.action.is_some())
        .filter(|t| triggers::matches(&catalog, t, transition))
        .map(|t| {
            shared.new_run(
                t,
                transition.to_trigger(event, epoch),
                Some(transition.dedupe(event, epoch)),
            )
        })
        .collect()
}

/// Enqueues the runs the status events recorded in a shared store trigger, whichever node
/// recorded them; the queue's unique key makes one run per task and change across nodes.
async fn recorded(shared: Arc<Shared>, mut events: mpsc::UnboundedReceiver<Vec<Event>>) {
    let epoch = shared.monitor.bus().epoch();
    let mut stopping = shared.stopping.subscribe();
    loop {
        let batch = tokio::select! {
            batch = events.recv() => batch,
            _ = stopping.wait_for(|s| *s) => return,
        };
        let Some(batch) = batch else { return };
        let runs: Vec<NewRun> = batch
            .iter()
            .filter_map(|event| Some((event, triggers::Transition::of(event)?)))
            .filter(|(_, transition)| transition.kind == triggers::Kind::Status)
            .flat_map(|(event, transition)| triggered(&shared, event, &transition, epoch))
            .collect();
        if let Err(err) = shared.enqueue(runs).await {
            tracing::error!("agents: enqueuing the runs of recorded status changes failed: {err}");
        }
    }
}
