//! Defines the routes of the agents and their work (`docs/agents.md`): the agent tree, the
//! tasks with their statistics, the run queue and its history, incidents, and the cycle of an
//! external agent (claim, heartbeat, complete). They ask the runtime's
//! [`iza_runtime::agents::Agents`] and read the store; a server without an engine answers 409
//! `no-agents`. Access control is not decided here (the router's layer guards the `POST`s).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use iza_catalog::Catalog;
use iza_catalog::model::Action;
use iza_runtime::agents::{Agents, TaskKind};
use iza_store::{
    Incident, IncidentQuery, MAX_INCIDENTS_PAGE, MAX_RUNS_PAGE, RunId, RunQuery, RunState,
    TaskStats,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// Runs per page when `limit` is not given.
const DEFAULT_RUNS_PAGE: usize = 100;
/// The longest a request may wait for a run to finish (`?wait=`).
const MAX_WAIT: Duration = Duration::from_secs(60);
/// The lease of an external claim when the caller names none.
const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// The longest lease an external agent may ask for.
const MAX_LEASE: Duration = Duration::from_secs(3600);
/// Statistics cover the finished runs of this window.
const STATS_WINDOW: i64 = 24 * 3_600_000;

/// `value` with the catalog's secrets masked in its strings: a run's output and error, and an
/// incident's reason, may quote them (`docs/security.md`).
fn scrubbed(state: &AppState, mut value: Value) -> Value {
    state.view().secrets.scrub_json(&mut value);
    value
}

fn agents(state: &AppState) -> Result<&Arc<Agents>, ApiError> {
    state.agents().ok_or(ApiError::NoAgents)
}

/// A numeric `{id}` of a route's path (a run's or an incident's); a malformed one is a JSON
/// 400, as every other error.
pub(crate) struct NumericId(pub(crate) i64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for NumericId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<NumericId, ApiError> {
        match Path::<i64>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(NumericId(id)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

fn query<T>(params: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    params
        .map(|Query(params)| params)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    payload
        .map(|Json(payload)| payload)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// `GET /agents`: every agent with its place in the tree, its services, its tasks and its
/// open incidents.
pub(crate) async fn list_agents(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let open = state
        .store
        .incidents(&IncidentQuery {
            open_only: true,
            task: None,
            before: None,
            limit: MAX_INCIDENTS_PAGE,
        })
        .await?;
    Ok(Json(agents_document(&state.view().catalog, &open)))
}

/// The document of `GET /agents` (also what `iza agents` prints without a server, with no
/// incidents): each agent, whom it reports to and who reports to it, what it owns, and the ids
/// of the open incidents it owns or that climbed to it.
pub fn agents_document(catalog: &Catalog, open: &[Incident]) -> Value {
    let mut open_by_agent: HashMap<&str, Vec<i64>> = HashMap::new();
    for incident in open {
        for agent in incident
            .agent
            .iter()
            .chain(incident.chain.iter().map(|step| &step.agent))
        {
            open_by_agent
                .entry(agent.as_str())
                .or_default()
                .push(incident.id);
        }
    }
    let agents: Vec<Value> = catalog
        .agents
        .values()
        .map(|agent| {
            let tasks: Vec<&str> = catalog
                .tasks_of(&agent.id)
                .map(|task| task.key.as_str())
                .collect();
            let reports: Vec<&str> = catalog
                .agents
                .values()
                .filter(|other| other.reports_to.as_deref() == Some(agent.id.as_str()))
                .map(|other| other.id.as_str())
                .collect();
            let mut incidents = open_by_agent
                .get(agent.id.as_str())
                .cloned()
                .unwrap_or_default();
            incidents.sort_unstable();
            incidents.dedup();
            json!({
                "id": agent.id,
                "name": agent.name,
                "tier": agent.tier,
                "reports_to": agent.reports_to,
                "reports": reports,
                "role": agent.role,
                "services": agent.services,
                "groups": agent.groups,
                "tasks": tasks,
                "open_incidents": incidents,
            })
        })
        .collect();
    json!({ "agents": agents })
}

/// `GET /tasks`: every task with its trigger, its next run and its figures over the last day.
pub(crate) async fn list_tasks(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let now = iza_runtime::now_millis();
    let stats = state.store.task_stats(now - STATS_WINDOW).await?;
    let next: Option<HashMap<String, Option<i64>>> = state.agents().map(|agents| {
        agents
            .tasks()
            .into_iter()
            .map(|view| (view.key, view.next_run))
            .collect()
    });
    Ok(Json(scrubbed(
        &state,
        tasks_document(&state.view().catalog, &stats, next.as_ref()),
    )))
}

/// The document of `GET /tasks` (also what `iza tasks` prints without a server): each task of
/// the catalog with its kind, trigger and action, its next run when an engine runs (`next`),
/// and its figures from `stats`.
pub fn tasks_document(
    catalog: &Catalog,
    stats: &[TaskStats],
    next: Option<&HashMap<String, Option<i64>>>,
) -> Value {
    let stats: HashMap<&str, &TaskStats> = stats.iter().map(|s| (s.task.as_str(), s)).collect();
    let tasks: Vec<Value> = catalog
        .tasks
        .iter()
        .map(|task| {
            let figures = stats.get(task.key.as_str());
            let finished = figures.map_or(0, |s| s.succeeded + s.failed);
            let rate = figures
                .filter(|_| finished > 0)
                .map(|s| s.succeeded as f64 / finished as f64);
            json!({
                "key": task.key,
                "agent": task.agent,
                "name": task.name,
                "description": task.description,
                "priority": task.priority,
                "kind": TaskKind::of(task),
                "schedule": task.schedule,
                "on": task.on,
                "action": task.action.as_ref().map(Action::kind),
                "enabled": task.enabled,
                "retries": task.retries,
                "timeout_ms": u64::try_from(task.timeout.as_millis()).unwrap_or(u64::MAX),
                "next_run": next.and_then(|next| next.get(&task.key).copied().flatten()),
                "runs": figures.map_or(0, |s| s.runs),
                "succeeded": figures.map_or(0, |s| s.succeeded),
                "failed": figures.map_or(0, |s| s.failed),
                "success_rate": rate,
                "p50_ms": figures.and_then(|s| s.p50_ms),
                "p95_ms": figures.and_then(|s| s.p95_ms),
                "last": figures.and_then(|s| s.last.as_ref()),
            })
        })
        .collect();
    json!({ "engine": next.is_some(), "tasks": tasks })
}

/// Query parameters of `GET /runs`.
#[derive(Debug, Deserialize)]
pub(crate) struct RunsParams {
    task: Option<String>,
    agent: Option<String>,
    /// Comma-separated states.
    state: Option<String>,
    before: Option<RunId>,
    limit: Option<usize>,
}

/// `GET /runs`: the run history, newest first, paged by `before`.
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    params: Result<Query<RunsParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = query(params)?;
    let limit = params.limit.unwrap_or(DEFAULT_RUNS_PAGE);
    if limit == 0 || limit > MAX_RUNS_PAGE {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {MAX_RUNS_PAGE}, not {limit}"
        )));
    }
    if params.before.is_some_and(|before| before < 1) {
        return Err(ApiError::BadRequest(
            "`before` must be at least 1".to_owned(),
        ));
    }
    let states = match &params.state {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|word| parse_state(word.trim()))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let runs = state
        .store
        .runs(&RunQuery {
            task: params.task,
            agent: params.agent,
            states,
            before: params.before,
            limit,
        })
        .await?;
    Ok(Json(scrubbed(&state, json!({ "runs": runs }))))
}

fn parse_state(word: &str) -> Result<RunState, ApiError> {
    serde_json::from_value(Value::String(word.to_owned())).map_err(|_| {
        ApiError::BadRequest(format!(
            "unknown run state `{word}`; expected queued, running, succeeded, failed or cancelled"
        ))
    })
}

/// Query parameters of `GET /runs/{id}`.
#[derive(Debug, Deserialize)]
pub(crate) struct RunParams {
    /// Seconds to wait for the run to finish before answering (at most 60).
    wait: Option<f64>,
}

/// The `wait` query parameter in seconds (`GET /runs/{id}`, `POST /agents/{agent}/claim`):
/// none is no wait; at most [`MAX_WAIT`].
fn wait_param(seconds: Option<f64>) -> Result<Duration, ApiError> {
    match seconds {
        None => Ok(Duration::ZERO),
        Some(seconds)
            if seconds.is_finite() && (0.0..=MAX_WAIT.as_secs_f64()).contains(&seconds) =>
        {
            Ok(Duration::from_secs_f64(seconds))
        }
        Some(seconds) => Err(ApiError::BadRequest(format!(
            "`wait` must be between 0 and {} seconds, not {seconds}",
            MAX_WAIT.as_secs()
        ))),
    }
}

/// `GET /runs/{id}[?wait=S]`: one run; with `wait`, answers when it has finished or the wait is
/// over, whichever comes first.
pub(crate) async fn one_run(
    State(state): State<AppState>,
    NumericId(id): NumericId,
    params: Result<Query<RunParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = query(params)?;
    let wait = wait_param(params.wait)?;
    if !wait.is_zero() {
        match agents(&state)?.wait(id, wait).await {
            Ok(run) => return Ok(Json(scrubbed(&state, json!(run)))),
            // Not finished within the wait: the run as it is now.
            Err(iza_runtime::agents::AgentsError::WaitTimeout { .. }) => {}
            Err(err) => return Err(err.into()),
        }
    }
    let run = state.store.run(id).await?.ok_or(ApiError::UnknownRun(id))?;
    Ok(Json(scrubbed(&state, json!(run))))
}

/// Body of `POST /runs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRunBody {
    /// `agent/task` (the task's key, or its agent and name).
    task: String,
}

/// `POST /runs`: queues a run of a task now (as a manual trigger); 202 with the run.
pub(crate) async fn create_run(
    State(state): State<AppState>,
    payload: Result<Json<NewRunBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let payload = body(payload)?;
    let agents = agents(&state)?;
    let view = state.view();
    let task = view
        .catalog
        .find_task(&payload.task)
        .ok_or_else(|| ApiError::UnknownTask(payload.task.clone()))?;
    let id = agents
        .run_now(&task.key, json!({ "kind": "manual" }))
        .await?;
    let run = state.store.run(id).await?.ok_or(ApiError::UnknownRun(id))?;
    Ok((StatusCode::ACCEPTED, Json(scrubbed(&state, json!(run)))).into_response())
}

/// Body of `POST /agents/{agent}/claim`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimBody {
    /// Who claims: a name that identifies the external worker (for heartbeats and completion).
    worker: String,
    /// Only these tasks (keys or names of this agent's tasks); all of the agent's by default.
    tasks: Option<Vec<String>>,
    /// Seconds the claim holds without a heartbeat (default 60, at most 3600).
    lease: Option<f64>,
}

fn lease(seconds: Option<f64>) -> Result<Duration, ApiError> {
    match seconds {
        None => Ok(DEFAULT_LEASE),
        Some(s) if s.is_finite() && s >= 1.0 && s <= MAX_LEASE.as_secs_f64() => {
            Ok(Duration::from_secs_f64(s))
        }
        Some(s) => Err(ApiError::BadRequest(format!(
            "`lease` must be between 1 and {} seconds, not {s}",
            MAX_LEASE.as_secs()
        ))),
    }
}

fn worker_name(worker: &str) -> Result<(), ApiError> {
    if worker.trim().is_empty() || worker.len() > 200 {
        return Err(ApiError::BadRequest(
            "`worker` must be a non-empty name of at most 200 bytes".to_owned(),
        ));
    }
    Ok(())
}

/// Query parameters of `POST /agents/{agent}/claim`.
#[derive(Debug, Deserialize)]
pub(crate) struct ClaimParams {
    /// Seconds to wait for a run when none is ready (at most 60), as `GET /runs/{id}?wait=`.
    wait: Option<f64>,
}

/// `POST /agents/{agent}/claim[?wait=S]`: the next run queued for this agent, now held by the
/// caller (200), or 204 when there is none; with `wait`, a long poll: the request is held
/// until a run can be claimed (woken by the queue, not by polling) or the wait is over.
pub(crate) async fn claim(
    State(state): State<AppState>,
    crate::routes::ServiceId(agent): crate::routes::ServiceId,
    params: Result<Query<ClaimParams>, QueryRejection>,
    payload: Result<Json<ClaimBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let wait = wait_param(query(params)?.wait)?;
    let payload = body(payload)?;
    worker_name(&payload.worker)?;
    let lease = lease(payload.lease)?;
    let engine = agents(&state)?;
    let view = state.view();
    if !view.catalog.agents.contains_key(&agent) {
        return Err(ApiError::UnknownAgent(agent));
    }
    let tasks = match payload.tasks {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|name| {
                    let wanted = if name.contains('/') {
                        name.clone()
                    } else {
                        format!("{agent}/{name}")
                    };
                    view.catalog
                        .find_task(&wanted)
                        .filter(|task| task.agent.as_deref() == Some(agent.as_str()))
                        .map(|task| task.key.clone())
                        .ok_or(ApiError::UnknownTask(wanted))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    match engine
        .claim_external_wait(&agent, tasks, &payload.worker, lease, wait)
        .await?
    {
        Some(run) => Ok(Json(scrubbed(&state, json!(run))).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// Body of `POST /runs/{id}/heartbeat`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeartbeatBody {
    worker: String,
    lease: Option<f64>,
}

/// `POST /runs/{id}/heartbeat`: extends the caller's claim; 409 `run-not-held` when the claim
/// was lost (it expired and the run went back to the queue, or it finished).
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    NumericId(id): NumericId,
    payload: Result<Json<HeartbeatBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let payload = body(payload)?;
    worker_name(&payload.worker)?;
    let lease = lease(payload.lease)?;
    if !agents(&state)?
        .heartbeat_external(id, &payload.worker, lease)
        .await?
    {
        return Err(ApiError::RunNotHeld(id));
    }
    let run = state.store.run(id).await?.ok_or(ApiError::UnknownRun(id))?;
    Ok(Json(scrubbed(&state, json!(run))))
}

/// Body of `POST /runs/{id}/complete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompleteBody {
    worker: String,
    /// Whether the work succeeded.
    success: bool,
    /// What it produced or why it failed (kept like an action's output: its last 64 KiB).
    output: Option<String>,
}

/// `POST /runs/{id}/complete`: ends the caller's claim with success or failure (a failure is
/// retried or escalated like any run's).
pub(crate) async fn complete(
    State(state): State<AppState>,
    NumericId(id): NumericId,
    payload: Result<Json<CompleteBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let payload = body(payload)?;
    worker_name(&payload.worker)?;
    let run = agents(&state)?
        .complete_external(id, &payload.worker, payload.success, payload.output)
        .await?;
    Ok(Json(scrubbed(&state, json!(run))))
}

/// Body of `POST /runs/{id}/cancel` (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelBody {
    /// Who cancels (kept in the run's error: "cancelled by ...").
    by: Option<String>,
}

/// `POST /runs/{id}/cancel`: a queued run never runs; a running one is stopped (its `exec`
/// child killed, its `http` request dropped; an external claim ended). 200 with the run, now
/// `cancelled`; 409 `run-finished` when it had ended already.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    NumericId(id): NumericId,
    payload: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: CancelBody = if payload.iter().all(u8::is_ascii_whitespace) {
        CancelBody::default()
    } else {
        serde_json::from_slice(&payload).map_err(|e| {
            ApiError::BadRequest(format!(
                "the body is not a cancellation (`{{\"by\": \"...\"}}`): {e}"
            ))
        })?
    };
    let by = body
        .by
        .unwrap_or_else(|| "a person, through the API".to_owned());
    if by.len() > 200 {
        return Err(ApiError::BadRequest(
            "`by` must be at most 200 bytes".to_owned(),
        ));
    }
    let run = agents(&state)?.cancel(id, &by).await?;
    Ok(Json(scrubbed(&state, json!(run))))
}

/// `GET /queue`: queue depth by priority, and the runs in flight with their elapsed time.
pub(crate) async fn queue(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let now = iza_runtime::now_millis();
    let depth = state.store.queue_depth(now).await?;
    let running = state
        .store
        .runs(&RunQuery {
            task: None,
            agent: None,
            states: vec![RunState::Running],
            before: None,
            limit: MAX_RUNS_PAGE,
        })
        .await?;
    let running: Vec<Value> = running
        .iter()
        .map(|run| {
            let mut value = json!(run);
            if let (Some(object), Some(started)) = (value.as_object_mut(), run.started_at) {
                object.insert("elapsed_ms".to_owned(), json!((now - started).max(0)));
            }
            value
        })
        .collect();
    Ok(Json(scrubbed(
        &state,
        json!({
            "at": now,
            "ready": { "high": depth.ready[0], "medium": depth.ready[1], "low": depth.ready[2] },
            "scheduled": depth.scheduled,
            "running": running,
        }),
    )))
}

/// Query parameters of `GET /incidents`.
#[derive(Debug, Deserialize)]
pub(crate) struct IncidentsParams {
    /// Only open incidents (default false: all, newest first).
    open: Option<bool>,
    task: Option<String>,
    before: Option<i64>,
    limit: Option<usize>,
}

/// `GET /incidents`: incidents with their escalation chains, newest first.
pub(crate) async fn list_incidents(
    State(state): State<AppState>,
    params: Result<Query<IncidentsParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = query(params)?;
    let limit = params.limit.unwrap_or(DEFAULT_RUNS_PAGE);
    if limit == 0 || limit > MAX_INCIDENTS_PAGE {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {}, not {limit}",
            MAX_INCIDENTS_PAGE
        )));
    }
    if params.before.is_some_and(|before| before < 1) {
        return Err(ApiError::BadRequest(
            "`before` must be at least 1".to_owned(),
        ));
    }
    let incidents = state
        .store
        .incidents(&IncidentQuery {
            open_only: params.open.unwrap_or(false),
            task: params.task,
            before: params.before,
            limit,
        })
        .await?;
    Ok(Json(scrubbed(&state, json!({ "incidents": incidents }))))
}

/// `GET /incidents/{id}`.
pub(crate) async fn one_incident(
    State(state): State<AppState>,
    NumericId(id): NumericId,
) -> Result<Json<Value>, ApiError> {
    let incident = state
        .store
        .incident(id)
        .await?
        .ok_or(ApiError::UnknownIncident(id))?;
    Ok(Json(scrubbed(&state, json!(incident))))
}

/// Body of `POST /incidents/{id}/resolve`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolveBody {
    /// Who resolves it (kept as its resolution: "resolved by ...").
    by: Option<String>,
}

/// `POST /incidents/{id}/resolve`: a person closes an incident.
pub(crate) async fn resolve(
    State(state): State<AppState>,
    NumericId(id): NumericId,
    payload: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    // The body is optional: none (or only white space) resolves in the API's name.
    let body: ResolveBody = if payload.iter().all(u8::is_ascii_whitespace) {
        ResolveBody::default()
    } else {
        serde_json::from_slice(&payload).map_err(|e| {
            ApiError::BadRequest(format!(
                "the body is not a resolution (`{{\"by\": \"...\"}}`): {e}"
            ))
        })?
    };
    let by = body
        .by
        .unwrap_or_else(|| "a person, through the API".to_owned());
    let incident = agents(&state)?.resolve_incident(id, &by).await?;
    Ok(Json(scrubbed(&state, json!(incident))))
}
