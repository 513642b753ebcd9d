//! What the store keeps of the workflow engines IZA follows (`docs/workflows.md`): per engine
//! service, its workflows, a summary row per execution (never its data), the last failure of
//! each workflow, and the sync cursor that lets a follower resume without re-reading history.
//! One sync round is written by [`Store::apply_workflow_sync`](crate::Store::apply_workflow_sync)
//! in one transaction (executions, failures and the new cursor together), so a crash resumes
//! from the cursor of the last round that landed. [`summarize`] turns execution rows into the
//! per-workflow figures (runs by status, success rate, duration percentiles) for every store,
//! from the hourly rollups of [`crate::workflow_rollups`] and the raw rows of a window's first
//! partial hour.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Millis;
pub use crate::workflow_rollups::HourFigures;

/// The most running executions [`Store::running_executions`](crate::Store::running_executions)
/// returns.
pub const MAX_RUNNING_PAGE: usize = 1_000;

/// The most executions [`Store::workflow_executions`](crate::Store::workflow_executions)
/// returns.
pub const MAX_EXECUTIONS_PAGE: usize = 500;

/// A workflow (n8n) or flow (Activepieces) as listed by its engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRecord {
    /// The engine's id (a string on both engines).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Active (n8n: published) or enabled (Activepieces).
    pub active: bool,
    /// Tags (names).
    pub tags: Vec<String>,
}

/// One execution, as summarized by the follower (no input or output data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// The engine's id.
    pub id: String,
    /// The workflow it ran.
    pub workflow_id: String,
    /// Normalized status: `success`, `error`, `crashed`, `canceled`, `running`, `waiting`,
    /// `new` or `unknown` (n8n's words; Activepieces' are mapped onto them).
    pub status: String,
    /// How it started (`webhook`, `trigger`, `retry`, `manual`, ...), when the engine says.
    pub mode: Option<String>,
    /// When it started.
    pub started_at: Millis,
    /// When it stopped; `None` while it runs.
    pub stopped_at: Option<Millis>,
    /// The execution it retried.
    pub retry_of: Option<String>,
}

impl ExecutionRecord {
    /// Whether it failed (`error` or `crashed`).
    pub fn failed(&self) -> bool {
        is_failure(&self.status)
    }
}

/// Whether a normalized status is a failure.
pub fn is_failure(status: &str) -> bool {
    matches!(status, "error" | "crashed")
}

/// The last failure of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowFailure {
    /// The workflow.
    pub workflow_id: String,
    /// The failed execution.
    pub execution_id: String,
    /// When it stopped (or started, when it has no stop).
    pub at: Millis,
    /// The engine's error message.
    pub message: String,
    /// The node (n8n) or step (Activepieces) that failed.
    pub node: Option<String>,
}

/// One round of a follower, written in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowSync {
    /// The whole workflow list when it was read this round (upserted; others are kept).
    pub workflows: Option<Vec<WorkflowRecord>>,
    /// Executions seen (inserted, or updated when their status or stop changed).
    pub executions: Vec<ExecutionRecord>,
    /// Failures read in detail (kept when newer than the one stored).
    pub failures: Vec<WorkflowFailure>,
    /// The follower's cursor after this round (opaque to the store).
    pub cursor: String,
}

/// The figures of one workflow over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowStats {
    /// The workflow.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Active (published).
    pub active: bool,
    /// Tags.
    pub tags: Vec<String>,
    /// Executions started in the window, by normalized status.
    pub runs: BTreeMap<String, u64>,
    /// Successful runs over finished ones (success, error, crashed) in the window; `None` when
    /// none finished.
    pub success_rate: Option<f64>,
    /// Median duration of the finished runs in the window, milliseconds.
    pub p50_ms: Option<i64>,
    /// 95th percentile duration, milliseconds.
    pub p95_ms: Option<i64>,
    /// 99th percentile duration, milliseconds.
    pub p99_ms: Option<i64>,
    /// The last successful stop ever recorded.
    pub last_success_at: Option<Millis>,
    /// The last start ever recorded.
    pub last_run_at: Option<Millis>,
    /// The start of the oldest execution still running.
    pub oldest_running_at: Option<Millis>,
    /// The last failure ever recorded.
    pub last_failure: Option<WorkflowFailure>,
}

/// A workflow row as the stores read it, before the window's executions are added.
#[derive(Debug, Clone)]
pub struct WorkflowRow {
    /// The workflow.
    pub record: WorkflowRecord,
    /// The last successful stop.
    pub last_success_at: Option<Millis>,
    /// The last start.
    pub last_run_at: Option<Millis>,
    /// The last failure.
    pub last_failure: Option<WorkflowFailure>,
}

/// The figures of every workflow (sorted by name, then id) from its row and its figures over
/// the window (hourly rollups and raw rows, [`HourFigures`]), plus the running executions
/// (`(workflow_id, started_at)`). Durations are estimated from the rollups' histogram (the
/// bound is in [`crate::workflow_rollups`]).
pub fn summarize(
    workflows: Vec<WorkflowRow>,
    mut window: BTreeMap<String, HourFigures>,
    running: &[(String, Millis)],
) -> Vec<WorkflowStats> {
    let mut oldest: BTreeMap<&str, Millis> = BTreeMap::new();
    for (workflow, started) in running {
        let entry = oldest.entry(workflow.as_str()).or_insert(*started);
        *entry = (*entry).min(*started);
    }
    let mut stats: Vec<WorkflowStats> = workflows
        .into_iter()
        .map(|row| {
            let figures = window.remove(&row.record.id).unwrap_or_default();
            let succeeded = figures.successes();
            let finished = succeeded + figures.failures();
            WorkflowStats {
                oldest_running_at: oldest.get(row.record.id.as_str()).copied(),
                id: row.record.id,
                name: row.record.name,
                active: row.record.active,
                tags: row.record.tags,
                success_rate: (finished > 0).then(|| succeeded as f64 / finished as f64),
                p50_ms: figures.duration_quantile(0.50),
                p95_ms: figures.duration_quantile(0.95),
                p99_ms: figures.duration_quantile(0.99),
                runs: figures.runs,
                last_success_at: row.last_success_at,
                last_run_at: row.last_run_at,
                last_failure: row.last_failure,
            }
        })
        .collect();
    stats.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    stats
}
