//! Follows the workflow engines of a catalog (`docs/workflows.md`): one task per service with
//! a `workflows` table runs a round of `iza-workflows`' follower every `every`, writes it to
//! the store in one transaction (`apply_workflow_sync`), then judges the workflows by the
//! manifest's rules over their window and keeps the verdict ([`Workflows::verdicts`]). With a
//! monitor, the verdict reaches the status board as an advisory (`Monitor::advise`): failing
//! workflows lower the engine's service from `up` to `degraded`, naming them with their last
//! error and node; the service's own check stays the source of up and down.
//! [`Workflows::retry`] retries an execution through the engine's API (`POST /api/v1/workflows/
//! {service}/executions/{id}/retry`).
//! A round that fails (engine down, credentials refused) is logged and kept as the engine's
//! last error; the next round retries from the stored cursor. Execution rows older than seven
//! days (and an hour) are pruned hourly. Dropping [`Workflows`] stops the tasks.
//!
//! Started with the agents engine ([`Workflows::start_with_agents`]), a round hands the
//! failures it newly saw (`RoundReport::new_failures`) to the engine's `on = { workflow =
//! "failed" }` tasks *before* the round is stored: a crash in between re-reads them from the
//! stored cursor, and the queue's key (engine and execution) keeps them from running twice.
//! Only when such a task waits for the engine, each new failure's error is read (n8n
//! `includeData=true`; the round read the newest of each workflow already), at most
//! [`FAILURE_READS_PER_ROUND`] more a round.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use iza_catalog::Catalog;
use iza_catalog::model::WorkflowSource;
use iza_store::Store;
use iza_workflows::client::{self, Client};
use iza_workflows::{Cursor, EngineHealth, Follower};
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::agents::Agents;
use crate::agents::triggers::WorkflowFailure;

/// The errors of new failures read one by one per round at most, for the `{error}` of
/// `on = { workflow = "failed" }` tasks (beyond it, `{error}` is empty).
pub const FAILURE_READS_PER_ROUND: usize = 50;
use crate::Monitor;

pub use iza_workflows::client::{Execution, execution_url};
pub use iza_workflows::{WorkflowError, WorkflowHealth};
pub use iza_workflows::{judge, status::engine as engine_health};

const HOUR_MS: i64 = 3_600_000;
/// How long execution rows are kept: the longest window shown (7 days) and an hour.
const KEEP_EXECUTIONS_MS: i64 = 7 * 24 * HOUR_MS + HOUR_MS;

/// The latest verdict on one engine.
#[derive(Debug, Clone, Serialize)]
pub struct EngineVerdict {
    /// The engine's service id.
    pub service: String,
    /// `n8n` or `activepieces`.
    pub engine: &'static str,
    /// When the last round ended.
    pub at: i64,
    /// Whether the history is fully read.
    pub caught_up: bool,
    /// The engine's health by the rules (`None` before the first judged round).
    pub health: Option<EngineHealth>,
    /// The failing workflows.
    pub failing: Vec<WorkflowHealth>,
    /// The last round's error, when it failed.
    pub error: Option<String>,
}

/// The followers of a catalog's engines.
#[derive(Debug)]
pub struct Workflows {
    verdicts: Arc<Mutex<BTreeMap<String, EngineVerdict>>>,
    tasks: Vec<JoinHandle<()>>,
    /// The engines, by service id, for retries.
    sources: BTreeMap<String, WorkflowSource>,
}

/// Why a retry did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    /// The service follows no workflow engine.
    #[error("`{0}` is not a workflow engine IZA follows (no `workflows` table)")]
    NotAnEngine(String),
    /// The engine refused or failed (its 404 and 409 included).
    #[error(transparent)]
    Engine(#[from] WorkflowError),
}

impl Drop for Workflows {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Workflows {
    /// Starts one follower per engine of `catalog` (credentials from the process
    /// environment). Must be called within a Tokio runtime.
    /// With `monitor`, each verdict reaches the status board as an advisory; with `agents`,
    /// the failures each follower newly sees go to the agents engine
    /// (`on = { workflow = "failed" }` tasks) before the round is stored.
    pub fn start(
        catalog: &Catalog,
        store: Arc<dyn Store>,
        monitor: Option<Arc<Monitor>>,
        agents: Option<Arc<Agents>>,
    ) -> Workflows {
        let verdicts = Arc::new(Mutex::new(BTreeMap::new()));
        let sources: BTreeMap<String, WorkflowSource> = catalog
            .services
            .values()
            .filter_map(|s| Some((s.id.clone(), s.workflows.clone()?)))
            .collect();
        let tasks = sources
            .iter()
            .map(|(service, source)| {
                tokio::spawn(follow(
                    service.clone(),
                    source.clone(),
                    store.clone(),
                    verdicts.clone(),
                    monitor.clone(),
                    agents.clone(),
                ))
            })
            .collect();
        Workflows {
            verdicts,
            tasks,
            sources,
        }
    }

    /// Retries the execution `id` of the engine `service` through its API (credentials from
    /// the process environment); answers the new execution. The follower records it at its
    /// next round.
    pub async fn retry(&self, service: &str, id: &str) -> Result<Execution, RetryError> {
        let source = self
            .sources
            .get(service)
            .ok_or_else(|| RetryError::NotAnEngine(service.to_owned()))?;
        let client = Client::new(client::http_client()?, source, |name| {
            std::env::var(name).ok()
        })?;
        Ok(client.retry(id).await?)
    }

    /// The latest verdict of every engine, by service id.
    pub fn verdicts(&self) -> Vec<EngineVerdict> {
        self.verdicts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

async fn follow(
    service: String,
    source: WorkflowSource,
    store: Arc<dyn Store>,
    verdicts: Arc<Mutex<BTreeMap<String, EngineVerdict>>>,
    monitor: Option<Arc<Monitor>>,
    agents: Option<Arc<Agents>>,
) {
    let set = |verdict: EngineVerdict| {
        verdicts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(verdict.service.clone(), verdict);
    };
    let blank = |error: String| EngineVerdict {
        service: service.clone(),
        engine: source.engine.as_str(),
        at: crate::now_millis(),
        caught_up: false,
        health: None,
        failing: Vec::new(),
        error: Some(error),
    };
    let client = match client::http_client()
        .and_then(|http| Client::new(http, &source, |name| std::env::var(name).ok()))
    {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%service, %error, "cannot follow the workflow engine");
            set(blank(error.to_string()));
            return;
        }
    };
    let follower = Follower::new(client, source.pages_per_round);
    let mut interval = tokio::time::interval(source.every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pruned_at = 0;
    let mut names = HashMap::new();
    loop {
        interval.tick().await;
        // Execution rows older than the longest window shown (7 days) are dropped hourly.
        let now = crate::now_millis();
        if now - pruned_at >= HOUR_MS {
            pruned_at = now;
            if let Err(error) = store.prune_executions(now - KEEP_EXECUTIONS_MS).await {
                tracing::warn!(%service, %error, "cannot prune old executions");
            }
        }
        let this_round = round(
            &service,
            &source,
            &follower,
            store.as_ref(),
            agents.as_deref(),
            &mut names,
        );
        match this_round.await {
            Ok((verdict, advisory)) => {
                // The board hears the verdict of every judged round; a failed round leaves
                // the last one in place (the engine's own check says whether it is down).
                if let Some(monitor) = &monitor {
                    monitor.advise(&service, advisory);
                }
                set(verdict);
            }
            Err(error) => {
                tracing::warn!(%service, %error, "a workflow sync round failed");
                set(blank(error));
            }
        }
    }
}

async fn round(
    service: &str,
    source: &WorkflowSource,
    follower: &Follower,
    store: &dyn Store,
    agents: Option<&Agents>,
    names: &mut HashMap<String, String>,
) -> Result<(EngineVerdict, Option<String>), String> {
    let stored = store
        .workflow_cursor(service)
        .await
        .map_err(|e| e.to_string())?;
    let mut cursor = Cursor::parse(stored.as_deref());
    let running = store
        .running_executions(service)
        .await
        .map_err(|e| e.to_string())?;
    let now = crate::now_millis();
    let (sync, report) = follower
        .round(&mut cursor, &running, now)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(workflows) = &sync.workflows {
        names.extend(workflows.iter().map(|w| (w.id.clone(), w.name.clone())));
    }
    if let Some(agents) = agents
        && !report.new_failures.is_empty()
        && agents.wants_workflow_failures(service)
    {
        let failures = new_failures(service, follower, &sync, &report, names).await;
        agents
            .workflow_failed(&failures)
            .await
            .map_err(|e| format!("cannot queue the tasks of failed workflows: {e}"))?;
    }
    store
        .apply_workflow_sync(service, &sync)
        .await
        .map_err(|e| e.to_string())?;
    let window = i64::try_from(source.rules.window.as_millis()).unwrap_or(i64::MAX);
    let stats = store
        .workflow_stats(
            service,
            iza_store::workflow_rollups::window_start(now, window),
        )
        .await
        .map_err(|e| e.to_string())?;
    for s in &stats {
        names.entry(s.id.clone()).or_insert_with(|| s.name.clone());
    }
    let judged = iza_workflows::judge(&source.rules, &stats, now);
    let health = iza_workflows::engine(&judged);
    let advisory = iza_workflows::status::board_reason(&judged, &stats);
    let verdict = EngineVerdict {
        service: service.to_owned(),
        engine: source.engine.as_str(),
        at: crate::now_millis(),
        caught_up: report.caught_up,
        health: Some(health),
        failing: judged.into_iter().filter(|h| h.failing).collect(),
        error: None,
    };
    Ok((verdict, advisory))
}

/// The failures a round newly saw, with their error and node: the round's detailed reads
/// first, then one read each (at most [`FAILURE_READS_PER_ROUND`]); a read that fails leaves
/// the error empty rather than losing the trigger.
async fn new_failures(
    service: &str,
    follower: &Follower,
    sync: &iza_store::WorkflowSync,
    report: &iza_workflows::sync::RoundReport,
    names: &HashMap<String, String>,
) -> Vec<WorkflowFailure> {
    let mut reads = 0;
    let mut out = Vec::with_capacity(report.new_failures.len());
    for e in &report.new_failures {
        let known = sync.failures.iter().find(|f| f.execution_id == e.id);
        let detail = match known {
            Some(f) => Some(f.clone()),
            None if reads < FAILURE_READS_PER_ROUND => {
                reads += 1;
                follower
                    .client
                    .failure(&e.id)
                    .await
                    .inspect_err(|error| {
                        tracing::warn!(%service, execution = %e.id, %error, "cannot read a failed execution");
                    })
                    .ok()
            }
            None => None,
        };
        out.push(WorkflowFailure {
            service: service.to_owned(),
            workflow: e.workflow_id.clone(),
            workflow_name: names.get(&e.workflow_id).cloned(),
            execution: e.id.clone(),
            status: e.status.clone(),
            error: detail.as_ref().map(|d| d.message.clone()),
            node: detail.and_then(|d| d.node),
            at: e.stopped_at.unwrap_or(e.started_at),
        });
    }
    out
}
