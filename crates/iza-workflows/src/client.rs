//! One client for the public APIs of n8n 2.x and Activepieces, answering in the store's
//! records (string ids, normalized statuses, Unix milliseconds).
//!
//! n8n: `GET /api/v1/workflows` and `GET /api/v1/executions` return `{data, nextCursor}` (an
//! opaque cursor, newest execution first), `GET /api/v1/executions/{id}?includeData=true` holds
//! a failure in `data.resultData.error.{message,node.name}`, `POST .../{id}/retry` answers 409
//! for an execution that succeeded; the key goes in `X-N8N-API-KEY`. Activepieces:
//! `GET /api/v1/flows` and `GET /api/v1/flow-runs` (scoped by `projectId`) return
//! `{data, next, previous}`, a failed run names its `failedStep`, a retry is
//! `POST /api/v1/flow-runs/{id}/retry {"strategy":"FROM_FAILED_STEP"}`; the token is a bearer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use iza_catalog::model::{Engine, WorkflowSource};
use iza_store::{ExecutionRecord, WorkflowFailure, WorkflowRecord};
use serde::Deserialize;
use serde_json::Value;

/// The largest page n8n serves (`limit` ≤ 250); Activepieces takes the same.
pub const MAX_PAGE: u32 = 250;

/// What went wrong talking to an engine.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// 401/403: the key or token was refused.
    #[error("the engine refused the credentials ({status}): {message}")]
    Unauthorized {
        /// HTTP status.
        status: u16,
        /// The engine's message.
        message: String,
    },
    /// 404.
    #[error("not found: {0}")]
    NotFound(String),
    /// 409 (n8n: retrying an execution that succeeded).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Any other status.
    #[error("the engine answered {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The engine's message.
        message: String,
    },
    /// No answer (connection, timeout).
    #[error("cannot reach the engine: {0}")]
    Transport(String),
    /// An answer of an unexpected shape.
    #[error("unexpected answer from the engine: {0}")]
    Decode(String),
    /// A credential's `${NAME}` is not set.
    #[error("{0}")]
    Credentials(String),
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items, as the engine orders them (executions: newest first).
    pub items: Vec<T>,
    /// The cursor of the next page, `None` on the last.
    pub next: Option<String>,
}

/// An execution as listed, with what a failure shows without its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The summary the store keeps.
    pub record: ExecutionRecord,
    /// The time the engine orders its list by (n8n: start; Activepieces: creation).
    pub order_at: i64,
    /// The failing step as the list names it (Activepieces' `failedStep`).
    pub failed_step: Option<String>,
    /// The retry that succeeded (n8n `retrySuccessId`).
    pub retry_success_id: Option<String>,
}

/// A client of one engine.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    engine: Engine,
    base: String,
    ui: String,
    secret: String,
    project: Option<String>,
    timeout: Duration,
    requests: AtomicU64,
}

/// Resolves a credential: `${NAME}` from `lookup`, anything else as written.
pub fn resolve(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, WorkflowError> {
    match text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) {
        Some(name) => lookup(name).ok_or_else(|| {
            WorkflowError::Credentials(format!(
                "the environment variable `{name}` is not set (the engine's credential)"
            ))
        }),
        None => Ok(text.to_owned()),
    }
}

/// The link to an execution in the UI of `source`'s engine (n8n:
/// `<ui>/workflow/<workflow>/executions/<id>`; Activepieces: `<ui>/runs/<id>`).
pub fn execution_url(source: &WorkflowSource, workflow_id: &str, execution_id: &str) -> String {
    ui_link(
        source.engine,
        source.ui_url.trim_end_matches('/'),
        workflow_id,
        execution_id,
    )
}

fn ui_link(engine: Engine, ui: &str, workflow_id: &str, execution_id: &str) -> String {
    match engine {
        Engine::N8n => format!("{ui}/workflow/{workflow_id}/executions/{execution_id}"),
        Engine::Activepieces => format!("{ui}/runs/{execution_id}"),
    }
}

/// The HTTP client engines share: the system's roots through rustls, no proxy.
pub fn http_client() -> Result<reqwest::Client, WorkflowError> {
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .user_agent(concat!("iza-workflows/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10));
    if let Ok(tls) = iza_probe::verifying_tls_config() {
        builder = builder.tls_backend_preconfigured(tls);
    }
    builder
        .build()
        .map_err(|e| WorkflowError::Transport(format!("cannot build the HTTP client: {e}")))
}

impl Client {
    /// A client of `source`, its credential resolved through `lookup` (the environment).
    pub fn new(
        http: reqwest::Client,
        source: &WorkflowSource,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Client, WorkflowError> {
        let written = match source.engine {
            Engine::N8n => source.api_key.as_deref(),
            Engine::Activepieces => source.token.as_deref(),
        }
        .unwrap_or_default();
        Ok(Client {
            http,
            engine: source.engine,
            base: source.url.trim_end_matches('/').to_owned(),
            ui: source.ui_url.trim_end_matches('/').to_owned(),
            secret: resolve(written, lookup)?,
            project: source.project_id.clone(),
            timeout: source.timeout,
            requests: AtomicU64::new(0),
        })
    }

    /// Which engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The link to an execution in the engine's own UI.
    pub fn execution_url(&self, workflow_id: &str, execution_id: &str) -> String {
        ui_link(self.engine, &self.ui, workflow_id, execution_id)
    }

    fn url(&self, path: &str, query: &[(&str, Option<&str>)]) -> Result<url::Url, WorkflowError> {
        let mut url = url::Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| WorkflowError::Transport(format!("bad URL: {e}")))?;
        {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                if let Some(value) = value {
                    pairs.append_pair(key, value);
                }
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(url)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: url::Url,
        body: Option<Value>,
    ) -> Result<Value, WorkflowError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self.http.request(method, url).timeout(self.timeout);
        request = match self.engine {
            Engine::N8n => request.header("X-N8N-API-KEY", &self.secret),
            Engine::Activepieces => request.bearer_auth(&self.secret),
        };
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        request = request.header("accept", "application/json");
        let response = request
            .send()
            .await
            .map_err(|e| WorkflowError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| WorkflowError::Transport(e.to_string()))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes)
                .map_err(|e| WorkflowError::Decode(e.to_string()));
        }
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
        Err(match status {
            401 | 403 => WorkflowError::Unauthorized { status, message },
            404 => WorkflowError::NotFound(message),
            409 => WorkflowError::Conflict(message),
            _ => WorkflowError::Status { status, message },
        })
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, Option<&str>)],
    ) -> Result<Value, WorkflowError> {
        let url = self.url(path, query)?;
        self.send(reqwest::Method::GET, url, None).await
    }

    /// Whether the engine is ready (n8n `/healthz/readiness`: 503 until its database is;
    /// Activepieces `/api/v1/health`).
    pub async fn ready(&self) -> Result<bool, WorkflowError> {
        let path = match self.engine {
            Engine::N8n => "/healthz/readiness",
            Engine::Activepieces => "/api/v1/health",
        };
        match self.get(path, &[]).await {
            Ok(_) => Ok(true),
            Err(WorkflowError::Status { status: 503, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One page of workflows (flows).
    pub async fn workflows_page(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<WorkflowRecord>, WorkflowError> {
        let limit = MAX_PAGE.to_string();
        match self.engine {
            Engine::N8n => {
                let page: N8nPage<N8nWorkflow> = decode(
                    self.get(
                        "/api/v1/workflows",
                        &[("limit", Some(&limit)), ("cursor", cursor)],
                    )
                    .await?,
                )?;
                Ok(Page {
                    items: page.data.into_iter().map(N8nWorkflow::record).collect(),
                    next: page.next_cursor.filter(|c| !c.is_empty()),
                })
            }
            Engine::Activepieces => {
                let page: ApPage<ApFlow> = decode(
                    self.get(
                        "/api/v1/flows",
                        &[
                            ("projectId", self.project.as_deref()),
                            ("limit", Some(&limit)),
                            ("cursor", cursor),
                        ],
                    )
                    .await?,
                )?;
                Ok(Page {
                    items: page.data.into_iter().map(ApFlow::record).collect(),
                    next: page.next.filter(|c| !c.is_empty()),
                })
            }
        }
    }

    /// One page of executions (flow runs), newest first.
    pub async fn executions_page(
        &self,
        cursor: Option<&str>,
        limit: u32,
        status: Option<&str>,
    ) -> Result<Page<Execution>, WorkflowError> {
        let limit = limit.clamp(1, MAX_PAGE).to_string();
        match self.engine {
            Engine::N8n => {
                let page: N8nPage<N8nExecution> = decode(
                    self.get(
                        "/api/v1/executions",
                        &[
                            ("status", status),
                            ("limit", Some(&limit)),
                            ("cursor", cursor),
                        ],
                    )
                    .await?,
                )?;
                Ok(Page {
                    items: page.data.into_iter().map(N8nExecution::execution).collect(),
                    next: page.next_cursor.filter(|c| !c.is_empty()),
                })
            }
            Engine::Activepieces => {
                let page: ApPage<ApRun> = decode(
                    self.get(
                        "/api/v1/flow-runs",
                        &[
                            ("projectId", self.project.as_deref()),
                            ("status", status),
                            ("limit", Some(&limit)),
                            ("cursor", cursor),
                        ],
                    )
                    .await?,
                )?;
                Ok(Page {
                    items: page.data.into_iter().map(ApRun::execution).collect(),
                    next: page.next.filter(|c| !c.is_empty()),
                })
            }
        }
    }

    /// One page of one workflow's executions in one state (n8n's word: `error`, mapped to
    /// Activepieces' `FAILED`), newest first.
    pub async fn executions_of(
        &self,
        workflow_id: &str,
        status: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Execution>, WorkflowError> {
        let limit = limit.clamp(1, MAX_PAGE).to_string();
        match self.engine {
            Engine::N8n => {
                let page: N8nPage<N8nExecution> = decode(
                    self.get(
                        "/api/v1/executions",
                        &[
                            ("workflowId", Some(workflow_id)),
                            ("status", Some(status)),
                            ("limit", Some(&limit)),
                            ("cursor", cursor),
                        ],
                    )
                    .await?,
                )?;
                Ok(Page {
                    items: page.data.into_iter().map(N8nExecution::execution).collect(),
                    next: page.next_cursor.filter(|c| !c.is_empty()),
                })
            }
            Engine::Activepieces => {
                let status = match status {
                    "error" => "FAILED",
                    "crashed" => "INTERNAL_ERROR",
                    "success" => "SUCCEEDED",
                    "canceled" => "CANCELED",
                    "running" => "RUNNING",
                    "waiting" => "PAUSED",
                    "new" => "QUEUED",
                    other => other,
                };
                let page: ApPage<ApRun> = decode(
                    self.get(
                        "/api/v1/flow-runs",
                        &[
                            ("projectId", self.project.as_deref()),
                            ("flowId", Some(workflow_id)),
                            ("status", Some(status)),
                            ("limit", Some(&limit)),
                            ("cursor", cursor),
                        ],
                    )
                    .await?,
                )?;
                Ok(Page {
                    items: page.data.into_iter().map(ApRun::execution).collect(),
                    next: page.next.filter(|c| !c.is_empty()),
                })
            }
        }
    }

    /// The workflow whose id, or else whose name, is `id_or_name`, from the engine's list.
    pub async fn find_workflow(&self, id_or_name: &str) -> Result<WorkflowRecord, WorkflowError> {
        let mut by_name = None;
        let mut next: Option<String> = None;
        // The same bound as the follower's: a looping cursor cannot loop for ever.
        for _ in 0..1_000 {
            let page = self.workflows_page(next.as_deref()).await?;
            for w in page.items {
                if w.id == id_or_name {
                    return Ok(w);
                }
                if by_name.is_none() && w.name == id_or_name {
                    by_name = Some(w);
                }
            }
            next = page.next;
            if next.is_none() {
                break;
            }
        }
        by_name.ok_or_else(|| {
            WorkflowError::NotFound(format!("no workflow has the id or the name `{id_or_name}`"))
        })
    }

    /// The workflow whose id, or else whose name, is `id_or_name`: n8n reads it by id first
    /// (one request), then searches the list; Activepieces searches the list.
    pub async fn workflow(&self, id_or_name: &str) -> Result<WorkflowRecord, WorkflowError> {
        if self.engine == Engine::N8n {
            match self.n8n_workflow(id_or_name).await {
                Ok(value) => return Ok(decode::<N8nWorkflow>(value)?.record()),
                Err(WorkflowError::NotFound(_) | WorkflowError::Status { status: 400, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.find_workflow(id_or_name).await
    }

    /// A workflow as n8n serves it whole (`GET /api/v1/workflows/{id}`: nodes included).
    pub(crate) async fn n8n_workflow(&self, id: &str) -> Result<Value, WorkflowError> {
        self.get(&format!("/api/v1/workflows/{}", segment(id)), &[])
            .await
    }

    /// A request to the engine without its credentials (a webhook is public: the API key must
    /// not reach the workflow's data); the status and the answer's text.
    pub(crate) async fn call_public(
        &self,
        method: reqwest::Method,
        url: url::Url,
        body: Option<&Value>,
    ) -> Result<(u16, String), WorkflowError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self.http.request(method, url).timeout(self.timeout);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|e| WorkflowError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| WorkflowError::Transport(e.to_string()))?;
        Ok((status, text))
    }

    /// The engine's base URL joined with `path` (query pairs appended).
    pub(crate) fn endpoint(
        &self,
        path: &str,
        query: &[(&str, Option<&str>)],
    ) -> Result<url::Url, WorkflowError> {
        self.url(path, query)
    }

    /// One execution (without its data).
    pub async fn execution(&self, id: &str) -> Result<Execution, WorkflowError> {
        match self.engine {
            Engine::N8n => {
                let e: N8nExecution = decode(
                    self.get(&format!("/api/v1/executions/{}", segment(id)), &[])
                        .await?,
                )?;
                Ok(e.execution())
            }
            Engine::Activepieces => {
                let r: ApRun = decode(
                    self.get(&format!("/api/v1/flow-runs/{}", segment(id)), &[])
                        .await?,
                )?;
                Ok(r.execution())
            }
        }
    }

    /// The failure of an execution: n8n reads it with `includeData=true`
    /// (`data.resultData.error.message`, `error.node.name` or `lastNodeExecuted`);
    /// Activepieces names the failed step.
    pub async fn failure(&self, id: &str) -> Result<WorkflowFailure, WorkflowError> {
        match self.engine {
            Engine::N8n => {
                let value = self
                    .get(
                        &format!("/api/v1/executions/{}", segment(id)),
                        &[("includeData", Some("true"))],
                    )
                    .await?;
                let result = value.pointer("/data/resultData");
                let error = result.and_then(|r| r.get("error"));
                let message = error
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("the execution failed (no error message)")
                    .to_owned();
                let node = error
                    .and_then(|e| e.pointer("/node/name"))
                    .or_else(|| result.and_then(|r| r.get("lastNodeExecuted")))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let e: N8nExecution = decode(value)?;
                let e = e.execution();
                Ok(WorkflowFailure {
                    workflow_id: e.record.workflow_id,
                    execution_id: e.record.id,
                    at: e.record.stopped_at.unwrap_or(e.record.started_at),
                    message,
                    node,
                })
            }
            Engine::Activepieces => {
                let e = self.execution(id).await?;
                Ok(ap_failure(&e))
            }
        }
    }

    /// Retries a failed execution; answers the new execution (n8n: mode `retry`).
    pub async fn retry(&self, id: &str) -> Result<Execution, WorkflowError> {
        match self.engine {
            Engine::N8n => {
                let url = self.url(&format!("/api/v1/executions/{}/retry", segment(id)), &[])?;
                let value = self
                    .send(reqwest::Method::POST, url, Some(serde_json::json!({})))
                    .await?;
                Ok(decode::<N8nExecution>(value)?.execution())
            }
            Engine::Activepieces => {
                let url = self.url(&format!("/api/v1/flow-runs/{}/retry", segment(id)), &[])?;
                let value = self
                    .send(
                        reqwest::Method::POST,
                        url,
                        Some(serde_json::json!({ "strategy": "FROM_FAILED_STEP" })),
                    )
                    .await?;
                Ok(decode::<ApRun>(value)?.execution())
            }
        }
    }
}

/// The failure an Activepieces run shows: its status and failed step.
pub(crate) fn ap_failure(e: &Execution) -> WorkflowFailure {
    WorkflowFailure {
        workflow_id: e.record.workflow_id.clone(),
        execution_id: e.record.id.clone(),
        at: e.record.stopped_at.unwrap_or(e.record.started_at),
        message: match &e.failed_step {
            Some(step) => format!("the run {} at step `{step}`", e.record.status),
            None => format!("the run ended with status {}", e.record.status),
        },
        node: e.failed_step.clone(),
    }
}

pub(crate) fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, WorkflowError> {
    serde_json::from_value(value).map_err(|e| WorkflowError::Decode(e.to_string()))
}

/// An id the engine may write as a string or a number.
fn id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "an id is a string or a number, not {other}"
        ))),
    }
}

fn optional_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "an id is a string or a number, not {other}"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct N8nPage<T> {
    data: Vec<T>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct N8nTag {
    name: String,
}

#[derive(Deserialize)]
struct N8nWorkflow {
    #[serde(deserialize_with = "id")]
    id: String,
    name: String,
    #[serde(default)]
    active: bool,
    #[serde(default)]
    tags: Vec<N8nTag>,
}

impl N8nWorkflow {
    fn record(self) -> WorkflowRecord {
        WorkflowRecord {
            id: self.id,
            name: self.name,
            active: self.active,
            tags: self.tags.into_iter().map(|t| t.name).collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct N8nExecution {
    #[serde(deserialize_with = "id")]
    id: String,
    #[serde(default, deserialize_with = "optional_id")]
    workflow_id: Option<String>,
    status: Option<String>,
    mode: Option<String>,
    started_at: Option<String>,
    stopped_at: Option<String>,
    #[serde(default, deserialize_with = "optional_id")]
    retry_of: Option<String>,
    #[serde(default, deserialize_with = "optional_id")]
    retry_success_id: Option<String>,
}

impl N8nExecution {
    fn execution(self) -> Execution {
        let started_at = self.started_at.as_deref().and_then(crate::time::parse);
        let stopped_at = self.stopped_at.as_deref().and_then(crate::time::parse);
        let status = match self.status.as_deref() {
            Some(
                s @ ("success" | "error" | "crashed" | "canceled" | "running" | "waiting" | "new"),
            ) => s.to_owned(),
            _ => "unknown".to_owned(),
        };
        let started = started_at.or(stopped_at).unwrap_or_else(crate::time::now);
        Execution {
            order_at: started,
            record: ExecutionRecord {
                id: self.id,
                workflow_id: self.workflow_id.unwrap_or_default(),
                status,
                mode: self.mode,
                started_at: started,
                stopped_at,
                retry_of: self.retry_of,
            },
            failed_step: None,
            retry_success_id: self.retry_success_id,
        }
    }
}

#[derive(Deserialize)]
struct ApPage<T> {
    data: Vec<T>,
    next: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApFlowVersion {
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApFlow {
    id: String,
    status: Option<String>,
    version: Option<ApFlowVersion>,
}

impl ApFlow {
    fn record(self) -> WorkflowRecord {
        WorkflowRecord {
            name: self
                .version
                .and_then(|v| v.display_name)
                .unwrap_or_else(|| self.id.clone()),
            id: self.id,
            active: self.status.as_deref() == Some("ENABLED"),
            tags: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApStep {
    name: Option<String>,
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApRun {
    id: String,
    flow_id: String,
    status: String,
    start_time: Option<String>,
    finish_time: Option<String>,
    created: Option<String>,
    failed_step: Option<ApStep>,
}

/// Activepieces' run statuses in n8n's words.
pub(crate) fn ap_status(status: &str) -> &'static str {
    match status {
        "SUCCEEDED" => "success",
        "FAILED" | "TIMEOUT" | "QUOTA_EXCEEDED" => "error",
        "INTERNAL_ERROR" | "MEMORY_LIMIT_EXCEEDED" => "crashed",
        "CANCELED" => "canceled",
        "RUNNING" => "running",
        "PAUSED" => "waiting",
        "QUEUED" => "new",
        _ => "unknown",
    }
}

impl ApRun {
    fn execution(self) -> Execution {
        let created = self.created.as_deref().and_then(crate::time::parse);
        let started = self
            .start_time
            .as_deref()
            .and_then(crate::time::parse)
            .or(created)
            .unwrap_or_else(crate::time::now);
        Execution {
            order_at: created.unwrap_or(started),
            record: ExecutionRecord {
                id: self.id,
                workflow_id: self.flow_id,
                status: ap_status(&self.status).to_owned(),
                mode: None,
                started_at: started,
                stopped_at: self.finish_time.as_deref().and_then(crate::time::parse),
                retry_of: None,
            },
            failed_step: self.failed_step.and_then(|s| s.display_name.or(s.name)),
            retry_success_id: None,
        }
    }
}
