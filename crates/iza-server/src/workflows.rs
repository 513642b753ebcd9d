//! Defines the workflow engines' routes (`docs/workflows.md`): `GET /api/v1/workflows`, every
//! engine IZA follows with its verdict and its workflows (failing first) with runs, success
//! rate and p50/p95 over 1h, 24h and 7d and the last failure with a link into the engine's UI;
//! `GET /api/v1/workflows/{service}/{workflow}`, one workflow and its recent executions; and
//! `POST /api/v1/workflows/{service}/executions/{id}/retry`, a retry through the engine's API.
//! The figures are read from the store and judged by the manifest's rules at the time of the
//! request; [`workflows_document`] is public so that `iza workflows` builds the same document
//! from the store when no server runs.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use iza_catalog::Catalog;
use iza_catalog::model::{Service, WorkflowSource};
use iza_runtime::workflows::{
    EngineVerdict, RetryError, WorkflowError, WorkflowHealth, execution_url,
};
use iza_store::workflow_rollups::window_start;
use iza_store::{ExecutionRecord, Store, StoreError, WorkflowStats};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// The windows every workflow is shown over: name and width in milliseconds.
pub const WINDOWS: [(&str, i64); 3] = [("1h", 3_600_000), ("24h", 86_400_000), ("7d", 604_800_000)];

/// Executions shown by `GET /workflows/{service}/{workflow}` when `limit` is not given.
const DEFAULT_EXECUTIONS: usize = 50;

/// What `GET /workflows` is asked for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowsQuery {
    /// Only this engine: its service id, or `n8n`/`activepieces` for every engine of that kind.
    pub engine: Option<String>,
    /// Only the failing workflows.
    #[serde(default)]
    pub failing: bool,
}

fn window_json(s: Option<&WorkflowStats>) -> Value {
    match s {
        None => {
            json!({ "runs": 0, "by_status": {}, "success_rate": null, "p50_ms": null, "p95_ms": null })
        }
        Some(s) => json!({
            "runs": s.runs.values().sum::<u64>(),
            "by_status": s.runs,
            "success_rate": s.success_rate,
            "p50_ms": s.p50_ms,
            "p95_ms": s.p95_ms,
        }),
    }
}

/// The figures of one engine: its workflows over each of [`WINDOWS`], and over the rules'
/// window (what the verdict is judged on).
struct Figures {
    windows: Vec<Vec<WorkflowStats>>,
    judged_on: Vec<WorkflowStats>,
}

async fn figures(
    store: &dyn Store,
    service: &str,
    source: &WorkflowSource,
    now: i64,
) -> Result<Figures, StoreError> {
    let mut windows = Vec::with_capacity(WINDOWS.len());
    for (_, width) in WINDOWS {
        windows.push(
            store
                .workflow_stats(service, window_start(now, width))
                .await?,
        );
    }
    let rule_window = i64::try_from(source.rules.window.as_millis()).unwrap_or(i64::MAX);
    let judged_on = match WINDOWS.iter().position(|(_, w)| *w == rule_window) {
        Some(i) => windows[i].clone(),
        None => {
            store
                .workflow_stats(service, window_start(now, rule_window))
                .await?
        }
    };
    Ok(Figures { windows, judged_on })
}

/// One workflow's row: verdict, windows, last run, success and failure with its link.
fn workflow_row(
    source: &WorkflowSource,
    figures: &Figures,
    verdicts: &[WorkflowHealth],
    w: &WorkflowStats,
) -> Value {
    let verdict = verdicts.iter().find(|v| v.id == w.id);
    let windows: serde_json::Map<String, Value> = WINDOWS
        .iter()
        .zip(&figures.windows)
        .map(|((name, _), stats)| {
            (
                (*name).to_owned(),
                window_json(stats.iter().find(|x| x.id == w.id)),
            )
        })
        .collect();
    let link = w
        .last_failure
        .as_ref()
        .map(|f| execution_url(source, &f.workflow_id, &f.execution_id));
    json!({
        "id": w.id,
        "name": w.name,
        "active": w.active,
        "tags": w.tags,
        "failing": verdict.is_some_and(|v| v.failing),
        "reasons": verdict.map(|v| v.reasons.clone()).unwrap_or_default(),
        "windows": windows,
        "last_run_at": w.last_run_at,
        "last_success_at": w.last_success_at,
        "oldest_running_at": w.oldest_running_at,
        "last_failure": w.last_failure,
        "last_failure_url": link,
    })
}

/// The engines of `catalog` selected by `query.engine`; `None` when it names none.
fn engines<'a>(
    catalog: &'a Catalog,
    query: &WorkflowsQuery,
) -> Option<Vec<(&'a Service, &'a WorkflowSource)>> {
    let all: Vec<(&Service, &WorkflowSource)> = catalog
        .services
        .values()
        .filter_map(|s| Some((s, s.workflows.as_ref()?)))
        .collect();
    match &query.engine {
        None => Some(all),
        Some(wanted) => {
            let chosen: Vec<_> = all
                .into_iter()
                .filter(|(s, source)| s.id == *wanted || source.engine.as_str() == wanted)
                .collect();
            (!chosen.is_empty()).then_some(chosen)
        }
    }
}

/// The document of `GET /api/v1/workflows` (and of `iza workflows`): every engine of `catalog`
/// (degraded first) with its verdict judged at `now` from `store`, its follower's last round
/// when `verdicts` has it, and its workflows (failing first). `Ok(None)` when `query.engine`
/// names no engine of the catalog.
pub async fn workflows_document(
    catalog: &Catalog,
    store: &dyn Store,
    verdicts: &[EngineVerdict],
    query: &WorkflowsQuery,
    now: i64,
) -> Result<Option<Value>, StoreError> {
    let Some(chosen) = engines(catalog, query) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(chosen.len());
    for (service, source) in chosen {
        let figures = figures(store, &service.id, source, now).await?;
        let judged = iza_runtime::workflows::judge(&source.rules, &figures.judged_on, now);
        let health = iza_runtime::workflows::engine_health(&judged);
        let mut rows: Vec<Value> = figures.windows[0]
            .iter()
            .map(|w| workflow_row(source, &figures, &judged, w))
            .filter(|row| !query.failing || row["failing"] == true)
            .collect();
        // Failing first, then by name (the store's order); stable.
        rows.sort_by_key(|row| row["failing"] != true);
        let follower = verdicts
            .iter()
            .find(|v| v.service == service.id)
            .map(|v| json!({ "at": v.at, "caught_up": v.caught_up, "error": v.error }));
        out.push(json!({
            "service": service.id,
            "name": service.name,
            "engine": source.engine.as_str(),
            "url": source.url,
            "ui_url": source.ui_url,
            "status": health.status,
            "message": health.message,
            "failing": health.failing,
            "workflows_known": health.workflows,
            "rules": {
                "window_ms": i64::try_from(source.rules.window.as_millis()).unwrap_or(i64::MAX),
                "min_success_rate": source.rules.min_success_rate,
                "min_runs": source.rules.min_runs,
            },
            "follower": follower,
            "workflows": rows,
        }));
    }
    out.sort_by_key(|engine| engine["status"] != "degraded");
    Ok(Some(json!({
        "at": now,
        "windows": WINDOWS.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        "engines": out,
    })))
}

/// `GET /workflows`.
pub(crate) async fn list(
    State(state): State<AppState>,
    query: Result<Query<WorkflowsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let view = state.view();
    let verdicts = state.workflows().map(|w| w.verdicts()).unwrap_or_default();
    let now = iza_runtime::now_millis();
    let mut document =
        workflows_document(&view.catalog, state.store.as_ref(), &verdicts, &query, now)
            .await?
            .ok_or_else(|| {
                ApiError::UnknownWorkflow(format!(
                    "no workflow engine is `{}` (a service id with `workflows`, or `n8n` or \
                     `activepieces`)",
                    query.engine.as_deref().unwrap_or_default()
                ))
            })?;
    view.secrets.scrub_json(&mut document);
    Ok(Json(document))
}

/// The engine `service` of the current catalog, or a 404 saying it is none.
fn engine_of<'a>(
    catalog: &'a Catalog,
    service: &str,
) -> Result<(&'a Service, &'a WorkflowSource), ApiError> {
    let found = catalog
        .services
        .get(service)
        .ok_or_else(|| ApiError::UnknownService(service.to_owned()))?;
    let source = found.workflows.as_ref().ok_or_else(|| {
        ApiError::UnknownWorkflow(format!(
            "service `{service}` is not a workflow engine IZA follows (it has no `workflows`)"
        ))
    })?;
    Ok((found, source))
}

/// Query parameters of `GET /workflows/{service}/{workflow}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OneParams {
    /// Newest executions shown, 1..=500 (default 50).
    limit: Option<usize>,
}

fn execution_json(source: &WorkflowSource, e: &ExecutionRecord) -> Value {
    json!({
        "id": e.id,
        "status": e.status,
        "failed": e.failed(),
        "mode": e.mode,
        "started_at": e.started_at,
        "stopped_at": e.stopped_at,
        "duration_ms": e.stopped_at.map(|s| (s - e.started_at).max(0)),
        "retry_of": e.retry_of,
        "url": execution_url(source, &e.workflow_id, &e.id),
    })
}

/// `GET /workflows/{service}/{workflow}`: one workflow (by id, or by name) and its newest
/// executions.
pub(crate) async fn one(
    State(state): State<AppState>,
    Path((service, workflow)): Path<(String, String)>,
    params: Result<Query<OneParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = params.limit.unwrap_or(DEFAULT_EXECUTIONS);
    if limit == 0 || limit > iza_store::workflows::MAX_EXECUTIONS_PAGE {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {}, not {limit}",
            iza_store::workflows::MAX_EXECUTIONS_PAGE
        )));
    }
    let view = state.view();
    let (found, source) = engine_of(&view.catalog, &service)?;
    let now = iza_runtime::now_millis();
    let figures = figures(state.store.as_ref(), &service, source, now).await?;
    let stats = figures.windows[0]
        .iter()
        .find(|w| w.id == workflow)
        .or_else(|| figures.windows[0].iter().find(|w| w.name == workflow))
        .ok_or_else(|| {
            ApiError::UnknownWorkflow(format!(
                "the engine `{service}` has no workflow `{workflow}` (by id or name) that IZA \
                 has seen"
            ))
        })?;
    let judged = iza_runtime::workflows::judge(&source.rules, &figures.judged_on, now);
    let row = workflow_row(source, &figures, &judged, stats);
    let executions = state
        .store
        .workflow_executions(&service, &stats.id, limit)
        .await?;
    let mut answer = json!({
        "service": found.id,
        "engine": source.engine.as_str(),
        "ui_url": source.ui_url,
        "workflow": row,
        "executions": executions.iter().map(|e| execution_json(source, e)).collect::<Vec<_>>(),
    });
    view.secrets.scrub_json(&mut answer);
    Ok(Json(answer))
}

/// `POST /workflows/{service}/executions/{id}/retry`: retries an execution through the
/// engine's API (operate scope). The engine's 404 is a 404, its 409 (n8n: the execution had
/// succeeded) a 409, anything else it answers a 502, each with the engine's words.
pub(crate) async fn retry(
    State(state): State<AppState>,
    Path((service, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let view = state.view();
    let (_, source) = engine_of(&view.catalog, &service)?;
    let workflows = state.workflows().ok_or(ApiError::NoWorkflows)?;
    let scrub = |text: String| view.secrets.scrub(&text).into_owned();
    let execution = workflows
        .retry(&service, &id)
        .await
        .map_err(|err| match err {
            RetryError::NotAnEngine(_) => ApiError::UnknownWorkflow(err.to_string()),
            RetryError::Engine(WorkflowError::NotFound(message)) => {
                ApiError::UnknownExecution(scrub(format!(
                    "the engine `{service}` has no execution `{id}` to retry: {message}"
                )))
            }
            RetryError::Engine(WorkflowError::Conflict(message)) => {
                ApiError::Conflict(scrub(format!(
                    "the engine `{service}` refused to retry execution `{id}` (409): {}; n8n \
                     refuses an execution that succeeded or was retried successfully",
                    message.trim_end_matches('.')
                )))
            }
            RetryError::Engine(other) => ApiError::EngineFailed(scrub(format!(
                "cannot retry execution `{id}` on the engine `{service}`: {other}"
            ))),
        })?;
    Ok(Json(json!({
        "service": service,
        "retried": id,
        "execution": execution_json(source, &execution.record),
    })))
}
