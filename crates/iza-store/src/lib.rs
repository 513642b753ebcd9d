//! The IZA OS store: everything the runtime learns and must remember (check results, their
//! per-minute and per-hour rollups, uptime, events such as status changes, and the durable
//! queue of task runs with the incidents that failed runs open), behind one
//! [`Store`] trait so that an embedded SQLite store and a shared PostgreSQL store are
//! interchangeable for every caller.
//!
//! The store knows services only by id; it never reads the catalog or probes anything.
//! Times are Unix milliseconds (`i64`), so records sort and bucket without time-zone care.
//!
//! [`SqliteStore`] is the embedded implementation, [`PostgresStore`] the shared one that several
//! nodes can use at once (chosen by a [`StoreLocation`]); [`histogram`] is the latency histogram that
//! rollups keep (shared by every implementation). `docs/store.md` describes the schema, the
//! durability promise, the rollups and how uptime is computed.

mod aggregate;
pub mod alerts;
pub mod audit;
pub mod copy;
pub mod figures;
pub mod histogram;
pub mod listen;
pub mod location;
pub mod nodes;
pub mod outbox;
mod postgres;
pub mod queue;
mod sqlite;
pub mod workflow_rollups;
pub mod workflows;

pub use alerts::{
    Alert, AlertQuery, AlertState, Delivery, DeliveryState, DeliveryUpdate, MAX_ALERTS_PAGE,
    Matchers, NewSilence, Silence,
};
pub use audit::{AuditOutcome, AuditQuery, AuditRecord, MAX_AUDIT_PAGE};
pub use figures::{
    FIGURE_HOUR, FigurePoint, FigureQuery, FigureResolution, FigureSample, MAX_FIGURE_POINTS,
};
pub use listen::{EVENTS_CHANNEL, EventListener, Heard};
pub use location::{LocationError, StoreLocation, redact_url};
pub use nodes::{CheckLease, NodeRecord};
pub use outbox::{MAX_OUTBOX_PAGE, OutboxDepth, OutboxEntry};
pub use postgres::{PostgresOptions, PostgresStore};
pub use queue::{
    ClaimRequest, EscalationStep, Incident, IncidentQuery, IncidentState, MAX_INCIDENTS_PAGE,
    MAX_RUNS_PAGE, NewIncident, NewRun, QueueDepth, Run, RunFinish, RunId, RunOutcome, RunPriority,
    RunQuery, RunState, StepOutcome, TaskStats,
};
pub use sqlite::{Durability, SqliteOptions, SqliteStore};
pub use workflows::{
    ExecutionRecord, WorkflowFailure, WorkflowRecord, WorkflowStats, WorkflowSync,
};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Unix time in milliseconds.
pub type Millis = i64;

/// The outcome of one probe of one service, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultRecord {
    /// Service id.
    pub service: String,
    /// When the probe finished.
    pub at: Millis,
    /// Whether the check passed.
    pub up: bool,
    /// How long the probe took, in milliseconds.
    pub latency_ms: f64,
    /// Why it failed (the failed condition and the value seen, or the error).
    pub message: Option<String>,
    /// The node that probed it ("probed by"): the id of the `iza` process (`node-<pid>-...`),
    /// or the one that took it for a pushed result; `None` for results written before it was
    /// recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The region of the node that probed it (`iza serve --region`), when it has one. For a
    /// check probed from several regions (`regions = [...]`) it is the region this result
    /// counts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// Something the runtime stated, such as a status change; stored in order, paged by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Assigned by the store, increasing; 0 before it is stored.
    pub id: i64,
    /// When it happened.
    pub at: Millis,
    /// Kind, kebab-case (`status-changed`, `manifest-reloaded`, ...).
    pub kind: String,
    /// The service it is about, when there is one.
    pub service: Option<String>,
    /// The event itself, as JSON.
    pub payload: serde_json::Value,
}

/// Width of a rollup bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
}

impl Resolution {
    /// The bucket width in milliseconds.
    pub fn millis(self) -> Millis {
        match self {
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
        }
    }
}

/// Aggregated results of one service over one bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    /// Service id.
    pub service: String,
    /// Bucket width.
    pub resolution: Resolution,
    /// Start of the bucket (inclusive).
    pub start: Millis,
    /// Number of results.
    pub count: u64,
    /// Number of failed results.
    pub failures: u64,
    /// Latency percentiles, in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// Share of passed results over the usual windows; `None` where there is no result yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Uptime {
    /// Last hour.
    pub hour: Option<f64>,
    /// Last 24 hours.
    pub day: Option<f64>,
    /// Last 7 days.
    pub week: Option<f64>,
    /// Last 30 days.
    pub month: Option<f64>,
}

/// The most events one [`Store::events`] call returns.
pub const MAX_EVENTS_PAGE: usize = 1_000;

/// The most results one [`Store::recent_results`] call returns.
pub const MAX_RESULTS_PAGE: usize = 10_000;

/// Which events to read: newest first, before an id (for paging), optionally for one service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventQuery {
    /// Only events with an id lower than this (the previous page's last id).
    pub before: Option<i64>,
    /// Only events with an id higher than this (to catch up after a disconnect).
    pub after: Option<i64>,
    /// Only events about this service.
    pub service: Option<String>,
    /// Only events of these kinds (`status-changed`, `run-failed`...); empty: every kind.
    pub kinds: Vec<String>,
    /// At most this many (capped at [`MAX_EVENTS_PAGE`]; 0 reads nothing).
    pub limit: usize,
}

/// How long raw results, rollups and events are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Raw results.
    pub results: Millis,
    /// Minute rollups.
    pub minutes: Millis,
    /// Hour rollups (uptime over 30 days needs at least 30 days).
    pub hours: Millis,
    /// Events (status changes, impacts, process lifecycle...), and resolved incidents.
    pub events: Millis,
    /// Output and error of finished runs (set to nothing after this; the runs stay).
    pub run_outputs: Millis,
    /// Finished runs (deleted after this; their counts and durations stay in hourly per-task
    /// rollups that [`Store::task_stats`] reads).
    pub runs: Millis,
}

impl Default for Retention {
    fn default() -> Self {
        const DAY: Millis = 86_400_000;
        Retention {
            results: 2 * DAY,
            minutes: 8 * DAY,
            hours: 400 * DAY,
            events: 400 * DAY,
            run_outputs: 7 * DAY,
            runs: 90 * DAY,
        }
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or migrated.
    #[error("cannot open the store at `{location}`: {message}")]
    Open {
        /// Path or URL.
        location: String,
        /// What the database said.
        message: String,
    },
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(String),
    /// The thing named does not exist (an incident, an escalation step).
    #[error("{0} does not exist")]
    NotFound(String),
    /// This store does not implement the operation (a test double).
    #[error("this store does not implement `{0}`")]
    Unsupported(&'static str),
}

/// The store every part of IZA OS writes to and reads from.
///
/// Writes are durable when they return: a result the store acknowledged survives `kill -9`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Appends probe results (one transaction for the batch).
    async fn append_results(&self, results: &[ResultRecord]) -> Result<(), StoreError>;

    /// Appends events and returns them with their ids.
    async fn append_events(&self, events: Vec<EventRecord>)
    -> Result<Vec<EventRecord>, StoreError>;

    /// The latest results of a service still kept raw, newest first (at most `limit`, capped at
    /// [`MAX_RESULTS_PAGE`]).
    async fn recent_results(
        &self,
        service: &str,
        limit: usize,
    ) -> Result<Vec<ResultRecord>, StoreError>;

    /// The latest result of every service that has one still kept raw (to resume after a
    /// restart), sorted by service id.
    async fn latest_results(&self) -> Result<Vec<ResultRecord>, StoreError>;

    /// The latest result still kept raw of each (service, region) pair asked for, sorted by
    /// service id then region; a pair without a result is left out. The checks probed from
    /// several regions (`regions = [...]`) are followed with it, one region each.
    async fn latest_region_results(
        &self,
        keys: &[(String, String)],
    ) -> Result<Vec<ResultRecord>, StoreError> {
        let _ = keys;
        Err(StoreError::Unsupported("latest_region_results"))
    }

    /// Rollups of a service from `since` on, oldest first, including the bucket in progress:
    /// every non-empty bucket whose start is at or after the start of the bucket holding `since`.
    async fn rollups(
        &self,
        service: &str,
        resolution: Resolution,
        since: Millis,
    ) -> Result<Vec<Rollup>, StoreError>;

    /// Uptime of a service over the last hour, day, week and month before `now`: the share of
    /// passed results from the first whole minute after `now - window` up to `now`.
    async fn uptime(&self, service: &str, now: Millis) -> Result<Uptime, StoreError>;

    /// Events, newest first.
    async fn events(&self, query: &EventQuery) -> Result<Vec<EventRecord>, StoreError>;

    /// Folds finished buckets into rollups and deletes what is older than the retention, in
    /// small transactions (call it about once a minute; writers wait only for one short step).
    async fn maintain(&self, now: Millis, retention: Retention) -> Result<(), StoreError>;

    // ---- The run queue (see `docs/store.md`, "The run queue"). The defaults answer
    // `Unsupported`, for test doubles; every real store implements them all (the conformance
    // suite checks it).

    /// Enqueues runs in one transaction; returns each one's id, `None` for a run skipped as a
    /// duplicate (its `(task, dedupe)` exists, or its `tick` is at or before the task's
    /// schedule mark). The schedule marks advance to the ticks enqueued, in the same transaction.
    async fn enqueue_runs(&self, runs: &[NewRun]) -> Result<Vec<Option<RunId>>, StoreError> {
        let _ = runs;
        Err(StoreError::Unsupported("enqueue_runs"))
    }

    /// Claims up to `limit` queued runs with `run_at <= now`, chosen by effective rank
    /// `rank - (now - max(enqueued_at, run_at)) / aging` (integer division; lower first), then
    /// oldest id, skipping runs of tasks already running at their concurrency. Each becomes
    /// running: attempt + 1, `worker`, `started_at = now`, `lease_until = now + lease`. One
    /// transaction; returned in claim order. Bound: a low run waits at most `2 * aging` (plus
    /// one claim) behind any flood of fresh high runs.
    async fn claim_runs(&self, request: &ClaimRequest) -> Result<Vec<Run>, StoreError> {
        let _ = request;
        Err(StoreError::Unsupported("claim_runs"))
    }

    /// Enqueues `runs` as [`Store::enqueue_runs`] does and, in the same transaction, claims as
    /// [`Store::claim_runs`] would with `claim` right after the enqueue: the same choice (the
    /// priority order with aging, the tasks' concurrency caps, only due runs of the requested
    /// kind), so a run of higher rank already queued is claimed before the new ones, and the
    /// runs claimed are leased like any other. One commit instead of two, for a worker that has
    /// `claim.limit` free slots and would claim at once anyway (`run_now` of a local run): the
    /// idle dispatch's path. Returns the enqueue's ids and the runs claimed, in claim order.
    /// The default does the two calls one after the other (two transactions).
    async fn enqueue_and_claim_runs(
        &self,
        runs: &[NewRun],
        claim: &ClaimRequest,
    ) -> Result<(Vec<Option<RunId>>, Vec<Run>), StoreError> {
        let ids = self.enqueue_runs(runs).await?;
        let claimed = self.claim_runs(claim).await?;
        Ok((ids, claimed))
    }

    /// Extends the leases of the runs `worker` still holds; returns their ids.
    async fn heartbeat_runs(
        &self,
        worker: &str,
        ids: &[RunId],
        lease_until: Millis,
    ) -> Result<Vec<RunId>, StoreError> {
        let _ = (worker, ids, lease_until);
        Err(StoreError::Unsupported("heartbeat_runs"))
    }

    /// Ends attempts, in one transaction: only runs still running and held by that finish's
    /// worker (their ids are returned). `Failed { retry_at: Some(t) }` queues the run again at
    /// `t` (keeping the attempt's output and error); `Failed { retry_at: None }` fails it for good.
    async fn finish_runs(&self, finishes: &[RunFinish]) -> Result<Vec<RunId>, StoreError> {
        let _ = finishes;
        Err(StoreError::Unsupported("finish_runs"))
    }

    /// Releases running runs whose lease ended before `now` or whose worker is listed as dead:
    /// queued again (`run_at = now`) while `attempt < max_attempts`, else failed with an error
    /// `lease expired: ...`. Returns them in their new state.
    async fn release_expired_runs(
        &self,
        now: Millis,
        dead_workers: &[String],
    ) -> Result<Vec<Run>, StoreError> {
        let _ = (now, dead_workers);
        Err(StoreError::Unsupported("release_expired_runs"))
    }

    /// Cancels queued runs (only queued ones); returns the ids cancelled.
    async fn cancel_runs(&self, ids: &[RunId], at: Millis) -> Result<Vec<RunId>, StoreError> {
        let _ = (ids, at);
        Err(StoreError::Unsupported("cancel_runs"))
    }

    /// Claims one run by its id for `worker` until `now + lease`, when it is queued and due
    /// (whatever its priority and its task's concurrency: a run started by hand, `iza run`
    /// without a server); `None` when it is not claimable.
    async fn claim_run(
        &self,
        id: RunId,
        worker: &str,
        now: Millis,
        lease: Millis,
    ) -> Result<Option<Run>, StoreError> {
        let _ = (id, worker, now, lease);
        Err(StoreError::Unsupported("claim_run"))
    }

    /// One run.
    async fn run(&self, id: RunId) -> Result<Option<Run>, StoreError> {
        let _ = id;
        Err(StoreError::Unsupported("run"))
    }

    /// Runs, newest id first (at most `limit`, capped at [`MAX_RUNS_PAGE`]).
    async fn runs(&self, query: &RunQuery) -> Result<Vec<Run>, StoreError> {
        let _ = query;
        Err(StoreError::Unsupported("runs"))
    }

    /// How many runs are ready (by priority), scheduled later, and running at `now`.
    async fn queue_depth(&self, now: Millis) -> Result<QueueDepth, StoreError> {
        let _ = now;
        Err(StoreError::Unsupported("queue_depth"))
    }

    /// Runs finished since `since`, per task (sorted by task), including those already rolled
    /// up by retention (whole hours from the one holding `since`).
    async fn task_stats(&self, since: Millis) -> Result<Vec<TaskStats>, StoreError> {
        let _ = since;
        Err(StoreError::Unsupported("task_stats"))
    }

    /// The latest tick enqueued per task, sorted by task.
    async fn schedule_marks(&self) -> Result<Vec<(String, Millis)>, StoreError> {
        Err(StoreError::Unsupported("schedule_marks"))
    }

    /// Opens an incident for a task, one open per task: if one is open, its `failures` grows
    /// by one and it is returned with `false`; a new one is returned with `true`.
    async fn open_incident(&self, new: &NewIncident) -> Result<(Incident, bool), StoreError> {
        let _ = new;
        Err(StoreError::Unsupported("open_incident"))
    }

    /// Appends a step to an incident's escalation chain.
    async fn add_escalation_step(
        &self,
        incident: i64,
        step: &EscalationStep,
    ) -> Result<Incident, StoreError> {
        let _ = (incident, step);
        Err(StoreError::Unsupported("add_escalation_step"))
    }

    /// Sets the outcome (and run) of step `index` of an incident's chain.
    async fn update_escalation_step(
        &self,
        incident: i64,
        index: usize,
        outcome: StepOutcome,
        run: Option<RunId>,
    ) -> Result<Incident, StoreError> {
        let _ = (incident, index, outcome, run);
        Err(StoreError::Unsupported("update_escalation_step"))
    }

    /// Resolves the open incidents with these ids and, if `task` is given, the open incident
    /// of that task; returns those resolved now.
    async fn resolve_incidents(
        &self,
        ids: &[i64],
        task: Option<&str>,
        at: Millis,
        resolution: &str,
    ) -> Result<Vec<Incident>, StoreError> {
        let _ = (ids, task, at, resolution);
        Err(StoreError::Unsupported("resolve_incidents"))
    }

    /// One incident.
    async fn incident(&self, id: i64) -> Result<Option<Incident>, StoreError> {
        let _ = id;
        Err(StoreError::Unsupported("incident"))
    }

    /// Incidents, newest first (at most `limit`, capped at [`MAX_INCIDENTS_PAGE`]).
    async fn incidents(&self, query: &IncidentQuery) -> Result<Vec<Incident>, StoreError> {
        let _ = query;
        Err(StoreError::Unsupported("incidents"))
    }

    // ---- Nodes of a cluster sharing the store (`docs/scale-out.md`). Only a shared store
    // keeps them; the defaults answer `Unsupported` (the embedded store has one node).

    /// Registers a node, or replaces its registration (same id).
    async fn register_node(&self, node: &NodeRecord) -> Result<(), StoreError> {
        let _ = node;
        Err(StoreError::Unsupported("register_node"))
    }

    /// Renews a node's heartbeat; `false` when the node is not registered (any more).
    async fn heartbeat_node(&self, id: &str, at: Millis) -> Result<bool, StoreError> {
        let _ = (id, at);
        Err(StoreError::Unsupported("heartbeat_node"))
    }

    /// Removes a node's registration (a clean stop).
    async fn deregister_node(&self, id: &str) -> Result<(), StoreError> {
        let _ = id;
        Err(StoreError::Unsupported("deregister_node"))
    }

    /// Every registered node, sorted by id.
    async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        Err(StoreError::Unsupported("nodes"))
    }

    /// Takes or renews the leases of these check keys for `node` until `until`: each one free,
    /// expired at `now`, or held by `node` already. Returns the keys `node` holds now (sorted);
    /// the others are held by another node whose lease runs.
    async fn acquire_check_leases(
        &self,
        node: &str,
        keys: &[String],
        now: Millis,
        until: Millis,
    ) -> Result<Vec<String>, StoreError> {
        let _ = (node, keys, now, until);
        Err(StoreError::Unsupported("acquire_check_leases"))
    }

    /// Gives up these leases of `node` (all of its leases when `keys` is `None`), so that
    /// another node may take them at once.
    async fn release_check_leases(
        &self,
        node: &str,
        keys: Option<&[String]>,
    ) -> Result<(), StoreError> {
        let _ = (node, keys);
        Err(StoreError::Unsupported("release_check_leases"))
    }

    /// Every check lease, sorted by key (expired ones included: compare `lease_until`).
    async fn check_leases(&self) -> Result<Vec<CheckLease>, StoreError> {
        Err(StoreError::Unsupported("check_leases"))
    }

    // ---- Alerting (see `docs/alerts.md`). Defaults answer `Unsupported` (a store that does
    // not implement them yet); the SQLite store implements them all.

    /// Inserts the alert when its id is 0 (returned with its id; at most one pending or
    /// firing alert per rule and service: a second one is a `Query` error), else replaces it.
    async fn save_alert(&self, alert: &Alert) -> Result<Alert, StoreError> {
        let _ = alert;
        Err(StoreError::Unsupported("save_alert"))
    }

    /// One alert.
    async fn alert(&self, id: i64) -> Result<Option<Alert>, StoreError> {
        let _ = id;
        Err(StoreError::Unsupported("alert"))
    }

    /// Alerts, newest first (at most `limit`, capped at [`MAX_ALERTS_PAGE`]).
    async fn alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
        let _ = query;
        Err(StoreError::Unsupported("alerts"))
    }

    /// Acknowledges an open alert not acknowledged yet (the first acknowledgement stays);
    /// returns the alert as it is now, `None` when there is no such alert.
    async fn acknowledge_alert(
        &self,
        id: i64,
        by: &str,
        at: Millis,
    ) -> Result<Option<Alert>, StoreError> {
        let _ = (id, by, at);
        Err(StoreError::Unsupported("acknowledge_alert"))
    }

    /// Creates a silence.
    async fn create_silence(&self, new: &NewSilence) -> Result<Silence, StoreError> {
        let _ = new;
        Err(StoreError::Unsupported("create_silence"))
    }

    /// Silences, newest first: all of them, or with `active_at` only those in force then.
    async fn silences(&self, active_at: Option<Millis>) -> Result<Vec<Silence>, StoreError> {
        let _ = active_at;
        Err(StoreError::Unsupported("silences"))
    }

    /// Ends a silence at `at` (when it ends later); returns it, `None` when there is none.
    async fn expire_silence(&self, id: i64, at: Millis) -> Result<Option<Silence>, StoreError> {
        let _ = (id, at);
        Err(StoreError::Unsupported("expire_silence"))
    }

    /// Records deliveries (ids ignored); one per `(alert, transition, notifier)`: returns for
    /// each whether it was new (`false`: it exists, and is left as it is).
    async fn record_deliveries(&self, deliveries: &[Delivery]) -> Result<Vec<bool>, StoreError> {
        let _ = deliveries;
        Err(StoreError::Unsupported("record_deliveries"))
    }

    /// Records an attempt of a delivery run on every delivery it carries.
    async fn update_deliveries(&self, update: &DeliveryUpdate) -> Result<(), StoreError> {
        let _ = update;
        Err(StoreError::Unsupported("update_deliveries"))
    }

    /// The deliveries of an alert, oldest first.
    async fn deliveries(&self, alert: i64) -> Result<Vec<Delivery>, StoreError> {
        let _ = alert;
        Err(StoreError::Unsupported("deliveries"))
    }

    // ---- Business figures (see `docs/metrics.md`).

    /// Appends scraped figure samples and folds them into hourly rollups, in one transaction;
    /// a sample already stored (same service, figure and time) is ignored, a non-finite value
    /// is dropped.
    async fn append_figures(&self, samples: &[FigureSample]) -> Result<(), StoreError> {
        let _ = samples;
        Err(StoreError::Unsupported("append_figures"))
    }

    /// The newest sample of every figure of every service, by service then figure.
    async fn latest_figures(&self) -> Result<Vec<FigureSample>, StoreError> {
        Err(StoreError::Unsupported("latest_figures"))
    }

    /// One figure's history, oldest first (the newest `limit` points).
    async fn figure_series(&self, query: &FigureQuery) -> Result<Vec<FigurePoint>, StoreError> {
        let _ = query;
        Err(StoreError::Unsupported("figure_series"))
    }

    // ---- The event outbox (see `docs/events.md`). Defaults answer `Unsupported`; both real
    // stores implement them (the conformance suite checks it).

    /// Writes entries (ids ignored) in one transaction, in order, and returns them with their
    /// ids. Then, for each output written to, drops its oldest entries beyond `max_pending`
    /// (in the same transaction); returns how many were dropped.
    async fn outbox_push(
        &self,
        entries: &[OutboxEntry],
        max_pending: u64,
    ) -> Result<(Vec<OutboxEntry>, u64), StoreError> {
        let _ = (entries, max_pending);
        Err(StoreError::Unsupported("outbox_push"))
    }

    /// The oldest entries of an output with an id above `after`, oldest first (at most `limit`,
    /// capped at [`MAX_OUTBOX_PAGE`]).
    async fn outbox_peek(
        &self,
        output: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let _ = (output, after, limit);
        Err(StoreError::Unsupported("outbox_peek"))
    }

    /// Removes acknowledged entries of an output (ids not there are ignored).
    async fn outbox_ack(&self, output: &str, ids: &[i64]) -> Result<(), StoreError> {
        let _ = (output, ids);
        Err(StoreError::Unsupported("outbox_ack"))
    }

    /// The depth of every output that has entries waiting, sorted by output id.
    async fn outbox_depths(&self) -> Result<Vec<OutboxDepth>, StoreError> {
        Err(StoreError::Unsupported("outbox_depths"))
    }

    // ---- Workflow engines (see `docs/workflows.md`). Defaults answer `Unsupported`.

    /// Writes one sync round of the engine `service` in one transaction: upserts the
    /// workflows, inserts the executions (updating status and stop of known ones), keeps each
    /// workflow's newest failure, and stores the cursor. Returns how many executions were new.
    async fn apply_workflow_sync(
        &self,
        service: &str,
        sync: &WorkflowSync,
    ) -> Result<usize, StoreError> {
        let _ = (service, sync);
        Err(StoreError::Unsupported("apply_workflow_sync"))
    }

    /// The cursor of the last round written for `service`.
    async fn workflow_cursor(&self, service: &str) -> Result<Option<String>, StoreError> {
        let _ = service;
        Err(StoreError::Unsupported("workflow_cursor"))
    }

    /// The executions of `service` still recorded as running (oldest first, at most
    /// [`workflows::MAX_RUNNING_PAGE`]).
    async fn running_executions(&self, service: &str) -> Result<Vec<ExecutionRecord>, StoreError> {
        let _ = service;
        Err(StoreError::Unsupported("running_executions"))
    }

    /// The figures of every workflow of `service` over the executions started at or after
    /// `since` (see [`workflows::summarize`]).
    async fn workflow_stats(
        &self,
        service: &str,
        since: Millis,
    ) -> Result<Vec<WorkflowStats>, StoreError> {
        let _ = (service, since);
        Err(StoreError::Unsupported("workflow_stats"))
    }

    /// The newest executions of one workflow of `service` (newest start first, at most
    /// `limit`, capped at [`workflows::MAX_EXECUTIONS_PAGE`]).
    async fn workflow_executions(
        &self,
        service: &str,
        workflow_id: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        let _ = (service, workflow_id, limit);
        Err(StoreError::Unsupported("workflow_executions"))
    }

    /// Deletes finished executions that started before `before` (workflows, failures and
    /// cursors stay); returns how many.
    async fn prune_executions(&self, before: Millis) -> Result<u64, StoreError> {
        let _ = before;
        Err(StoreError::Unsupported("prune_executions"))
    }

    /// Listens for the events appended to this store by any connection, this process's
    /// included (see [`listen`]); `label` names the listener's connection for the database's
    /// administrator (PostgreSQL: `application_name` `iza listen LABEL`). Only a shared store
    /// has one: the embedded store answers `Unsupported` (one process appends all its events).
    async fn listen_events(&self, label: &str) -> Result<EventListener, StoreError> {
        let _ = label;
        Err(StoreError::Unsupported("listen_events"))
    }

    // ---- The audit log (see `docs/mcp.md`). Defaults answer `Unsupported`; both real stores
    // implement them (the conformance suite checks it).

    /// Appends audit records (ids ignored) in one transaction, in order; returns their ids.
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<Vec<i64>, StoreError> {
        let _ = records;
        Err(StoreError::Unsupported("append_audit"))
    }

    /// Audit records, newest first, as the query filters and pages them.
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let _ = query;
        Err(StoreError::Unsupported("audit"))
    }

    /// Releases the store's connections after the writes in flight; call it on shutdown.
    /// Everything acknowledged before is already durable; this only tidies up.
    async fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
