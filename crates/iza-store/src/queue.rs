//! The types of the durable run queue and of incidents, as every [`Store`](crate::Store)
//! implementation takes and returns them: runs to enqueue, claims, finishes, queries, per-task
//! statistics, and the incidents that exhausted runs open.
//!
//! This module owns only the shapes and their small helpers (priority ranks, state words); the
//! semantics are stated on the `Store` methods and implemented per store (`sqlite/queue.rs`).
//! The store never reads the catalog: a task is known by its key string, an agent by its name.

use serde::{Deserialize, Serialize};

use crate::Millis;

/// A run's id: assigned by the store, increasing, never reused.
pub type RunId = i64;

/// The most runs one [`Store::runs`](crate::Store::runs) call returns.
pub const MAX_RUNS_PAGE: usize = 1_000;

/// The most incidents one [`Store::incidents`](crate::Store::incidents) call returns.
pub const MAX_INCIDENTS_PAGE: usize = 1_000;

/// How urgent a run is; a claim takes the lowest rank first (after aging).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunPriority {
    /// Rank 0.
    High,
    /// Rank 1.
    Medium,
    /// Rank 2.
    Low,
}

impl RunPriority {
    /// Every priority, by rank.
    pub const ALL: [RunPriority; 3] = [RunPriority::High, RunPriority::Medium, RunPriority::Low];

    /// 0 for high, 1 for medium, 2 for low.
    pub fn rank(self) -> u8 {
        match self {
            RunPriority::High => 0,
            RunPriority::Medium => 1,
            RunPriority::Low => 2,
        }
    }

    /// The priority of a rank, `None` beyond 2.
    pub fn from_rank(rank: i64) -> Option<RunPriority> {
        match rank {
            0 => Some(RunPriority::High),
            1 => Some(RunPriority::Medium),
            2 => Some(RunPriority::Low),
            _ => None,
        }
    }
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Waiting to be claimed (from its `run_at` on).
    Queued,
    /// Claimed by a worker that holds its lease.
    Running,
    /// Finished well.
    Succeeded,
    /// Finished badly with no retry left (or failed for good).
    Failed,
    /// Cancelled: while queued, or while running (its action was stopped).
    Cancelled,
}

impl RunState {
    /// Every state.
    pub const ALL: [RunState; 5] = [
        RunState::Queued,
        RunState::Running,
        RunState::Succeeded,
        RunState::Failed,
        RunState::Cancelled,
    ];

    /// The state's number as stored (0 queued, 1 running, 2 succeeded, 3 failed, 4 cancelled).
    pub fn code(self) -> i64 {
        match self {
            RunState::Queued => 0,
            RunState::Running => 1,
            RunState::Succeeded => 2,
            RunState::Failed => 3,
            RunState::Cancelled => 4,
        }
    }

    /// The state of a stored number.
    pub fn from_code(code: i64) -> Option<RunState> {
        RunState::ALL.into_iter().find(|state| state.code() == code)
    }

    /// Whether the run is over (succeeded, failed or cancelled).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunState::Succeeded | RunState::Failed | RunState::Cancelled
        )
    }
}

/// A run to enqueue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    /// The task's key (`agent/slug`).
    pub task: String,
    /// The agent that owns the task.
    pub agent: Option<String>,
    /// How urgent.
    pub priority: RunPriority,
    /// Unique per task over every run kept: an enqueue whose `(task, dedupe)` exists is skipped.
    pub dedupe: Option<String>,
    /// A schedule tick: also recorded as the task's schedule mark (same transaction); a tick
    /// at or before the task's mark is skipped, even after its run is deleted by retention.
    pub tick: Option<Millis>,
    /// Not claimable before.
    pub run_at: Millis,
    /// 1 + retries: how many claims the run may have.
    pub max_attempts: u32,
    /// At most this many runs of this task running at once (the claim enforces it).
    pub concurrency: u32,
    /// Claimable only by external claims.
    pub external: bool,
    /// Why it runs (tick, event, manual, escalation) and placeholder values.
    pub trigger: serde_json::Value,
    /// When it was enqueued.
    pub enqueued_at: Millis,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Its id.
    pub id: RunId,
    /// The task's key.
    pub task: String,
    /// The agent that owns the task.
    pub agent: Option<String>,
    /// How urgent.
    pub priority: RunPriority,
    /// Where it is.
    pub state: RunState,
    /// Claims so far.
    pub attempt: u32,
    /// How many claims it may have.
    pub max_attempts: u32,
    /// Claimable only by external claims.
    pub external: bool,
    /// Its deduplication key.
    pub dedupe: Option<String>,
    /// Why it runs.
    pub trigger: serde_json::Value,
    /// When it was enqueued.
    pub enqueued_at: Millis,
    /// Not claimable before (for a retry: when the retry is due).
    pub run_at: Millis,
    /// When the latest attempt started.
    pub started_at: Option<Millis>,
    /// When it finished.
    pub finished_at: Option<Millis>,
    /// The worker of the latest attempt.
    pub worker: Option<String>,
    /// While running: the lease's end; a run whose lease ended is released.
    pub lease_until: Option<Millis>,
    /// What the latest attempt printed or answered (pruned by retention first).
    pub output: Option<String>,
    /// Why the latest attempt failed.
    pub error: Option<String>,
}

/// What a worker asks of [`Store::claim_runs`](crate::Store::claim_runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// Who claims (holds the leases).
    pub worker: String,
    /// The claim's time.
    pub now: Millis,
    /// The lease's length: `lease_until = now + lease`.
    pub lease: Millis,
    /// At most this many runs.
    pub limit: usize,
    /// `false`: only internal runs; `true`: only external runs.
    pub external: bool,
    /// Only this agent's runs.
    pub agent: Option<String>,
    /// Only these task keys.
    pub tasks: Option<Vec<String>>,
    /// Priority aging step: a run gains one rank per `aging` it has waited (at least 1 ms).
    pub aging: Millis,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    /// Well.
    Succeeded,
    /// Badly: retried at `retry_at` when given (back to queued), else failed for good.
    Failed {
        /// When the retry is due.
        retry_at: Option<Millis>,
    },
    /// Stopped on purpose.
    Cancelled,
}

/// The end of one attempt, reported by the worker holding it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFinish {
    /// The run.
    pub id: RunId,
    /// The worker that holds it; a finish by anyone else is ignored.
    pub worker: String,
    /// When it ended.
    pub at: Millis,
    /// How.
    pub outcome: RunOutcome,
    /// What it printed or answered.
    pub output: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Which runs to read: newest id first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunQuery {
    /// Only this task's runs.
    pub task: Option<String>,
    /// Only this agent's runs.
    pub agent: Option<String>,
    /// Only runs in these states (empty: any).
    pub states: Vec<RunState>,
    /// Only runs with an id lower than this (the previous page's last id).
    pub before: Option<RunId>,
    /// At most this many (capped at [`MAX_RUNS_PAGE`]).
    pub limit: usize,
}

/// How many runs wait and run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDepth {
    /// Queued and due now, by priority rank.
    pub ready: [u64; 3],
    /// Queued, due later.
    pub scheduled: u64,
    /// Running.
    pub running: u64,
}

/// Finished runs of one task since a moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStats {
    /// The task's key.
    pub task: String,
    /// Runs that ended succeeded or failed (cancelled ones are not counted).
    pub runs: u64,
    /// Of which succeeded.
    pub succeeded: u64,
    /// Of which failed.
    pub failed: u64,
    /// Median duration (start of the last attempt to its end), milliseconds.
    pub p50_ms: Option<f64>,
    /// 95th percentile duration.
    pub p95_ms: Option<f64>,
    /// The latest finished run still kept.
    pub last: Option<Run>,
}

/// Whether an incident is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentState {
    /// Not resolved yet.
    Open,
    /// Resolved by a later success or by a person.
    Resolved,
}

/// How one step of an escalation chain went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    /// The agent's escalation task runs.
    Pending,
    /// The agent handled it.
    Handled,
    /// The agent's escalation task failed too.
    Failed,
    /// The agent has no escalation task.
    NoHandler,
}

/// One agent an incident was escalated to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationStep {
    /// The agent.
    pub agent: String,
    /// When.
    pub at: Millis,
    /// How it went.
    pub outcome: StepOutcome,
    /// The run of the agent's escalation task, when there is one.
    pub run: Option<RunId>,
}

/// A task whose run exhausted its attempts, until resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Assigned by the store, increasing.
    pub id: i64,
    /// The failing task's key.
    pub task: String,
    /// Its agent.
    pub agent: Option<String>,
    /// The run that opened it.
    pub run: RunId,
    /// Why (the run's error).
    pub reason: String,
    /// Open or resolved.
    pub state: IncidentState,
    /// When it opened.
    pub opened_at: Millis,
    /// Exhausted runs of the task while it was open (1 for the run that opened it).
    pub failures: u32,
    /// When it was resolved.
    pub resolved_at: Option<Millis>,
    /// How (a later success, or who resolved it).
    pub resolution: Option<String>,
    /// The agents it was escalated to, in order.
    pub chain: Vec<EscalationStep>,
}

/// An incident to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewIncident {
    /// The failing task's key.
    pub task: String,
    /// Its agent.
    pub agent: Option<String>,
    /// The exhausted run.
    pub run: RunId,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Millis,
}

/// Which incidents to read: newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentQuery {
    /// Only open ones.
    pub open_only: bool,
    /// Only this task's.
    pub task: Option<String>,
    /// Only ids lower than this (paging).
    pub before: Option<i64>,
    /// At most this many (capped at [`MAX_INCIDENTS_PAGE`]).
    pub limit: usize,
}
