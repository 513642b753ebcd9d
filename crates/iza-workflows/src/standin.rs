//! A stand-in for n8n 2.x and for Activepieces: **not** the engines, but their public API
//! shapes over generated data, so that IZA can be demonstrated, tested and benchmarked without
//! installing them. `iza demo-service --engine n8n|activepieces` serves it; the contract tests
//! run it in-process. Every answer carries `x-iza-standin: <engine>`.
//!
//! It keeps a configurable number of workflows (2,056 for the seed's n8n), a pre-generated
//! history, and generates executions at a steady rate (each appears when it ends), a
//! configurable share of them failing with an error message and a failing node. Tests can
//! also start an execution and end it later ([`Standin::start_execution`]): as n8n 2.41.1
//! does, its list leaves out the executions still running unless `status=running` asks for
//! them, so one that ends after a newer one shows below it. It speaks:
//! n8n: `/healthz`, `/healthz/readiness` (503 until `ready_after`), `GET /api/v1/workflows`
//! and `/api/v1/executions` (`{data, nextCursor}`, opaque base64 cursors, `limit` ≤ 250,
//! filters `active`, `status`, `workflowId`, `includeData`), `GET /api/v1/executions/{id}`,
//! `POST /api/v1/executions/{id}/retry` (409 after a success), `GET /api/v1/workflows/{id}`
//! (with its nodes: a Webhook node whose `path` is the name's slug, `lead-enrichment-0002`),
//! `POST /api/v1/workflows/{id}/publish|unpublish`, `POST /webhook/{path}` (a published
//! workflow's Webhook node path, or its id; 404 as n8n words it otherwise), 401/404 bodies
//! as n8n writes them; Activepieces: `/api/v1/health`, `GET /api/v1/flows` and
//! `/api/v1/flow-runs` (`{data, next, previous}`, `projectId` required), `GET
//! /api/v1/flow-runs/{id}`, `POST /api/v1/flow-runs/{id}/retry` (`FROM_FAILED_STEP` resumes
//! the same run, `ON_LATEST_VERSION` starts a new one), `POST /api/v1/webhooks/{flowId}` (an
//! enabled flow; answers `{}`). `GET /standin/stats` counts the requests it served.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use iza_catalog::model::Engine;
use serde_json::{Value, json};

/// How a stand-in behaves.
#[derive(Debug, Clone)]
pub struct StandinConfig {
    /// Which engine it plays.
    pub engine: Engine,
    /// How many workflows (flows) it has.
    pub workflows: usize,
    /// Executions generated per second from the start (0: none).
    pub rate: f64,
    /// Share of executions that fail, 0 to 1.
    pub failure_rate: f64,
    /// Only the first this many workflows fail (0: any may).
    pub failing_workflows: usize,
    /// Executions already in its history at the start.
    pub history: usize,
    /// The most executions kept (the oldest are pruned, as n8n's pruning does).
    pub keep: usize,
    /// n8n's API key, or Activepieces' bearer token.
    pub secret: String,
    /// Activepieces' project.
    pub project_id: String,
    /// n8n: `/healthz/readiness` answers 503 until this long after the start.
    pub ready_after: Duration,
    /// Seed of the generated data.
    pub seed: u64,
}

impl Default for StandinConfig {
    fn default() -> StandinConfig {
        StandinConfig {
            engine: Engine::N8n,
            workflows: 2_056,
            rate: 1.0,
            failure_rate: 0.05,
            failing_workflows: 0,
            history: 0,
            keep: 1_000_000,
            secret: "standin-key".to_owned(),
            project_id: "standin-project".to_owned(),
            ready_after: Duration::ZERO,
            seed: 7,
        }
    }
}

/// Requests served, by kind.
#[derive(Debug, Default)]
pub struct Counters {
    /// Every request.
    pub requests: AtomicU64,
    /// Pages of the executions (flow runs) list.
    pub execution_pages: AtomicU64,
    /// Executions returned by those pages.
    pub executions_listed: AtomicU64,
    /// Single executions read.
    pub execution_reads: AtomicU64,
    /// Pages of the workflow list.
    pub workflow_pages: AtomicU64,
    /// Retries.
    pub retries: AtomicU64,
    /// Webhook calls.
    pub webhooks: AtomicU64,
    /// Requests refused for their credentials.
    pub unauthorized: AtomicU64,
}

impl Counters {
    /// The counters as JSON.
    pub fn json(&self) -> Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "requests": get(&self.requests),
            "execution_pages": get(&self.execution_pages),
            "executions_listed": get(&self.executions_listed),
            "execution_reads": get(&self.execution_reads),
            "workflow_pages": get(&self.workflow_pages),
            "retries": get(&self.retries),
            "webhooks": get(&self.webhooks),
            "unauthorized": get(&self.unauthorized),
        })
    }
}

#[derive(Debug, Clone)]
struct Run {
    seq: u64,
    workflow: usize,
    failed: bool,
    /// Still running (started by [`Standin::start_execution`]).
    running: bool,
    started: i64,
    stopped: i64,
    mode: &'static str,
    retry_of: Option<u64>,
    retry_success: Option<u64>,
}

#[derive(Debug)]
struct Data {
    runs: VecDeque<Run>,
    next_seq: u64,
    generated_live: u64,
    active: Vec<bool>,
    by_ap_id: HashMap<String, u64>,
}

/// A running stand-in.
#[derive(Debug)]
pub struct Standin {
    config: StandinConfig,
    started: Instant,
    started_ms: i64,
    data: Mutex<Data>,
    /// What it served.
    pub counters: Counters,
}

const TOPICS: &[&str] = &[
    "Sync orders to ERP",
    "Lead enrichment",
    "Invoice reminder",
    "Slack digest",
    "Backup to S3",
    "Stripe payout report",
    "Onboarding email",
    "CRM dedupe",
    "Support ticket triage",
    "Inventory refresh",
    "Social post scheduler",
    "KPI snapshot",
];

const NODES: &[(&str, &str)] = &[
    (
        "HTTP Request",
        "The service was not able to process your request (502 Bad Gateway)",
    ),
    (
        "Postgres",
        "duplicate key value violates unique constraint \"orders_pkey\"",
    ),
    (
        "Stop and Error",
        "Stopped by workflow: the payload had no customer id",
    ),
    (
        "Code",
        "Cannot read properties of undefined (reading 'email')",
    ),
];

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn base62(mut n: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(len);
    for i in 0..len {
        if i % 10 == 9 {
            n = mix(n);
        }
        out.push(ALPHABET[(n % 62) as usize] as char);
        n /= 62;
    }
    out
}

fn encode_cursor(value: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

fn decode_cursor(text: &str) -> Option<Value> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn iso(millis: i64) -> String {
    crate::time::format(millis)
}

type Answer = Response;

/// A refusal, boxed (an axum response is large).
type Refusal = Box<Response>;

fn error(status: StatusCode, message: &str) -> Answer {
    (status, Json(json!({ "message": message }))).into_response()
}

fn ap_error(status: StatusCode, code: &str, message: &str) -> Answer {
    (
        status,
        Json(json!({ "statusCode": status.as_u16(), "code": code, "message": message })),
    )
        .into_response()
}

impl Standin {
    /// A stand-in as `config` says, its history generated.
    pub fn new(config: StandinConfig) -> Arc<Standin> {
        let started_ms = crate::time::now();
        let workflows = config.workflows.max(1);
        let mut data = Data {
            runs: VecDeque::new(),
            next_seq: 1,
            generated_live: 0,
            // Nine in ten are active (published).
            active: (0..workflows)
                .map(|i| !mix(config.seed ^ i as u64).is_multiple_of(10))
                .collect(),
            by_ap_id: HashMap::new(),
        };
        let standin = Standin {
            config: StandinConfig {
                workflows,
                ..config
            },
            started: Instant::now(),
            started_ms,
            data: Mutex::new(Data {
                runs: VecDeque::new(),
                next_seq: 1,
                generated_live: 0,
                active: Vec::new(),
                by_ap_id: HashMap::new(),
            }),
            counters: Counters::default(),
        };
        let history = standin.config.history as i64;
        for i in 0..history {
            // Spread over the hour before the start, oldest first.
            let ended = started_ms - 3_600_000 + (i * 3_600_000) / history.max(1);
            standin.generate(&mut data, ended, "trigger", None);
        }
        *standin.data.lock().unwrap_or_else(|p| p.into_inner()) = data;
        Arc::new(standin)
    }

    fn workflow_id(&self, index: usize) -> String {
        match self.config.engine {
            Engine::N8n => base62(mix(self.config.seed.wrapping_add(index as u64)), 16),
            Engine::Activepieces => base62(mix(self.config.seed.wrapping_add(!(index as u64))), 21),
        }
    }

    fn workflow_name(&self, index: usize) -> String {
        format!("{} #{:04}", TOPICS[index % TOPICS.len()], index + 1)
    }

    /// The path of the workflow's Webhook node (`lead-enrichment-0002`).
    fn webhook_path(&self, index: usize) -> String {
        let topic = TOPICS[index % TOPICS.len()]
            .to_lowercase()
            .replace(' ', "-");
        format!("{topic}-{:04}", index + 1)
    }

    fn workflow_index(&self, id: &str) -> Option<usize> {
        // Ids are derived from the index; the list is small enough to search.
        (0..self.config.workflows).find(|i| self.workflow_id(*i) == id)
    }

    fn run_id(&self, seq: u64) -> String {
        match self.config.engine {
            Engine::N8n => seq.to_string(),
            Engine::Activepieces => base62(mix(self.config.seed ^ (seq << 1)), 21),
        }
    }

    fn generate(
        &self,
        data: &mut Data,
        ended: i64,
        mode: &'static str,
        workflow: Option<usize>,
    ) -> u64 {
        let seq = data.next_seq;
        data.next_seq += 1;
        let r = mix(self.config.seed ^ seq.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let workflow = workflow.unwrap_or((r % self.config.workflows as u64) as usize);
        let may_fail =
            self.config.failing_workflows == 0 || workflow < self.config.failing_workflows;
        let draw = ((r >> 11) as f64) / (1u64 << 53) as f64;
        let failed = may_fail && draw < self.config.failure_rate;
        let duration = 40 + (r >> 40) as i64 % 1_960;
        data.runs.push_back(Run {
            seq,
            workflow,
            failed,
            running: false,
            started: ended - duration,
            stopped: ended,
            mode,
            retry_of: None,
            retry_success: None,
        });
        if self.config.engine == Engine::Activepieces {
            data.by_ap_id.insert(self.run_id(seq), seq);
        }
        while data.runs.len() > self.config.keep.max(1) {
            if let Some(old) = data.runs.pop_front()
                && self.config.engine == Engine::Activepieces
            {
                data.by_ap_id.remove(&self.run_id(old.seq));
            }
        }
        seq
    }

    /// Generates the executions due by now at the steady rate.
    fn advance(&self, data: &mut Data) {
        if self.config.rate <= 0.0 {
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        let due = (elapsed * self.config.rate) as u64;
        while data.generated_live < due {
            data.generated_live += 1;
            let ended =
                self.started_ms + (data.generated_live as f64 * 1000.0 / self.config.rate) as i64;
            self.generate(data, ended, "trigger", None);
        }
    }

    /// Adds `count` executions ending now (for tests); returns the newest id.
    pub fn add_executions(&self, count: usize) -> String {
        let mut data = self.lock();
        let now = crate::time::now();
        let mut seq = 0;
        for _ in 0..count {
            seq = self.generate(&mut data, now, "webhook", None);
        }
        self.run_id(seq)
    }

    /// Starts an execution of workflow `workflow` (an index) that runs until
    /// [`Standin::finish_execution`]; returns its id.
    pub fn start_execution(&self, workflow: usize) -> String {
        let mut data = self.lock();
        let now = crate::time::now();
        let workflow = workflow % self.config.workflows;
        let seq = self.generate(&mut data, now, "webhook", Some(workflow));
        if let Some(run) = data.runs.back_mut() {
            run.running = true;
            run.failed = false;
            run.started = now;
        }
        self.run_id(seq)
    }

    /// Ends a running execution now, failed or not; false when there is no such one running.
    pub fn finish_execution(&self, id: &str, failed: bool) -> bool {
        let mut data = self.lock();
        let Some(seq) = self.find(&data, id) else {
            return false;
        };
        let Some(front) = data.runs.front().map(|r| r.seq) else {
            return false;
        };
        match data.runs.get_mut((seq - front) as usize) {
            Some(run) if run.running => {
                run.running = false;
                run.failed = failed;
                run.stopped = crate::time::now().max(run.started);
                true
            }
            _ => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn find(&self, data: &Data, id: &str) -> Option<u64> {
        let seq = match self.config.engine {
            Engine::N8n => id.parse::<u64>().ok()?,
            Engine::Activepieces => *data.by_ap_id.get(id)?,
        };
        let front = data.runs.front()?.seq;
        (seq >= front && seq < data.next_seq).then_some(seq)
    }

    fn run_at<'a>(&self, data: &'a Data, seq: u64) -> Option<&'a Run> {
        let front = data.runs.front()?.seq;
        data.runs
            .get(usize::try_from(seq.checked_sub(front)?).ok()?)
    }

    fn n8n_execution(&self, run: &Run, include_data: bool) -> Value {
        let mut value = json!({
            "id": run.seq.to_string(),
            "finished": !run.failed && !run.running,
            "mode": run.mode,
            "retryOf": run.retry_of.map(|s| s.to_string()),
            "retrySuccessId": run.retry_success.map(|s| s.to_string()),
            "status": if run.running { "running" } else if run.failed { "error" } else { "success" },
            "startedAt": iso(run.started),
            "stoppedAt": (!run.running).then(|| iso(run.stopped)),
            "workflowId": self.workflow_id(run.workflow),
            "waitTill": null,
        });
        if include_data {
            let data = if run.running {
                json!({ "resultData": { "runData": {} } })
            } else if run.failed {
                let (node, message) = NODES[run.workflow % NODES.len()];
                json!({ "resultData": {
                    "error": { "message": message, "name": "NodeOperationError", "node": { "name": node, "type": "n8n-nodes-base.stub" } },
                    "lastNodeExecuted": node,
                    "runData": {}
                }})
            } else {
                json!({ "resultData": { "lastNodeExecuted": "Respond to Webhook", "runData": {} } })
            };
            value["data"] = data;
        }
        value
    }

    fn ap_run(&self, run: &Run) -> Value {
        let failed_step = run.failed.then(|| {
            let (node, _) = NODES[run.workflow % NODES.len()];
            json!({ "name": format!("step_{}", run.workflow % 7 + 1), "displayName": node })
        });
        json!({
            "id": self.run_id(run.seq),
            "created": iso(run.stopped),
            "updated": iso(run.stopped),
            "projectId": self.config.project_id,
            "flowId": self.workflow_id(run.workflow),
            "flowVersionId": format!("v{}", run.workflow),
            "flowDisplayName": self.workflow_name(run.workflow),
            "status": if run.running { "RUNNING" } else if run.failed { "FAILED" } else { "SUCCEEDED" },
            "startTime": iso(run.started),
            "finishTime": (!run.running).then(|| iso(run.stopped)),
            "environment": "PRODUCTION",
            "failedStep": failed_step,
        })
    }

    /// Serves a stand-in on 127.0.0.1 at a free port, in the current Tokio runtime (tests and
    /// benchmarks of other crates); the stand-in and its base URL. It stops with the runtime.
    pub async fn spawn_local(config: StandinConfig) -> std::io::Result<(Arc<Standin>, String)> {
        let standin = Standin::new(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let router = standin.router();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok((standin, url))
    }

    /// The id of the workflow at `index` (0-based), as the engine's API shows it.
    pub fn workflow_id_at(&self, index: usize) -> String {
        self.workflow_id(index)
    }

    /// The router: the engine's routes, `/standin/stats`, and the credential check.
    pub fn router(self: &Arc<Self>) -> Router {
        let api = match self.config.engine {
            Engine::N8n => Router::new()
                .route("/api/v1/workflows", get(n8n_workflows))
                .route("/api/v1/workflows/{id}", get(n8n_workflow))
                .route("/api/v1/workflows/{id}/{verb}", post(n8n_publish))
                .route("/api/v1/executions", get(n8n_executions))
                .route("/api/v1/executions/{id}", get(n8n_execution))
                .route("/api/v1/executions/{id}/retry", post(n8n_retry)),
            Engine::Activepieces => Router::new()
                .route("/api/v1/flows", get(ap_flows))
                .route("/api/v1/flow-runs", get(ap_runs))
                .route("/api/v1/flow-runs/{id}", get(ap_run))
                .route("/api/v1/flow-runs/{id}/retry", post(ap_retry)),
        }
        .layer(axum::middleware::from_fn_with_state(
            self.clone(),
            authorize,
        ));
        let open = match self.config.engine {
            Engine::N8n => Router::new()
                .route(
                    "/healthz",
                    get(|| async { Json(json!({ "status": "ok" })) }),
                )
                .route("/healthz/readiness", get(n8n_readiness))
                .route("/webhook/{*path}", post(n8n_webhook)),
            Engine::Activepieces => Router::new()
                .route(
                    "/api/v1/health",
                    get(|| async { Json(json!({ "status": "ok" })) }),
                )
                .route("/api/v1/webhooks/{id}", post(ap_webhook)),
        }
        .route("/standin/stats", get(stats))
        // The demo service's `/stats` (the seed's agents read it), here the stand-in's counts.
        .route("/stats", get(stats));
        api.merge(open)
            .layer(axum::middleware::from_fn_with_state(self.clone(), label))
            .with_state(self.clone())
    }
}

async fn label(State(s): State<Arc<Standin>>, request: Request, next: Next) -> Response {
    s.counters.requests.fetch_add(1, Ordering::Relaxed);
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        "x-iza-standin",
        HeaderValue::from_static(s.config.engine.as_str()),
    );
    response
}

async fn authorize(
    State(s): State<Arc<Standin>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let refused = |answer: Answer| {
        s.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        answer
    };
    match s.config.engine {
        Engine::N8n => match headers.get("x-n8n-api-key").and_then(|v| v.to_str().ok()) {
            None => {
                return refused(error(
                    StatusCode::UNAUTHORIZED,
                    "'X-N8N-API-KEY' header required",
                ));
            }
            Some(key) if key != s.config.secret => {
                return refused(error(StatusCode::UNAUTHORIZED, "unauthorized"));
            }
            Some(_) => {}
        },
        Engine::Activepieces => {
            let token = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if token != Some(s.config.secret.as_str()) {
                return refused(ap_error(
                    StatusCode::UNAUTHORIZED,
                    "AUTHENTICATION",
                    "invalid bearer token",
                ));
            }
        }
    }
    next.run(request).await
}

async fn stats(State(s): State<Arc<Standin>>) -> Json<Value> {
    let mut data = s.lock();
    s.advance(&mut data);
    let mut counters = s.counters.json();
    counters["standin"] = json!(s.config.engine.as_str());
    counters["workflows"] = json!(s.config.workflows);
    counters["executions"] = json!(data.runs.len());
    counters["newest"] = json!(data.next_seq.checked_sub(1).map(|seq| s.run_id(seq)));
    Json(counters)
}

async fn n8n_readiness(State(s): State<Arc<Standin>>) -> Answer {
    if s.started.elapsed() < s.config.ready_after {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "error" })),
        )
            .into_response()
    } else {
        Json(json!({ "status": "ok" })).into_response()
    }
}

fn limit_of(query: &HashMap<String, String>, n8n: bool) -> Result<usize, Refusal> {
    match query.get("limit") {
        None => Ok(100),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=250).contains(&n) => Ok(n),
            Ok(n) if n > 250 && n8n => Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                "request/query/limit must be <= 250",
            ))),
            Ok(n) if n > 250 => Ok(250),
            _ => Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                "request/query/limit must be integer",
            ))),
        },
    }
}

async fn n8n_workflows(
    State(s): State<Arc<Standin>>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    s.counters.workflow_pages.fetch_add(1, Ordering::Relaxed);
    let limit = match limit_of(&query, true) {
        Ok(limit) => limit,
        Err(answer) => return *answer,
    };
    let start = match query.get("cursor") {
        None => 0,
        Some(text) => match decode_cursor(text).and_then(|v| v.get("lastIndex")?.as_u64()) {
            Some(i) => i as usize + 1,
            None => return error(StatusCode::BAD_REQUEST, "An invalid cursor was provided"),
        },
    };
    let active_filter = query.get("active").map(|a| a == "true");
    let data = s.lock();
    let mut items = Vec::new();
    let mut last = None;
    for i in start..s.config.workflows {
        if active_filter.is_some_and(|a| data.active[i] != a) {
            continue;
        }
        if items.len() == limit {
            break;
        }
        last = Some(i);
        let created = iso(s.started_ms - 86_400_000 * 30 + i as i64 * 1_000);
        items.push(json!({
            "id": s.workflow_id(i),
            "name": s.workflow_name(i),
            "active": data.active[i],
            "isArchived": false,
            "createdAt": created,
            "updatedAt": created,
            "tags": tags(i),
        }));
    }
    let more = last.is_some_and(|l| {
        (l + 1..s.config.workflows).any(|i| active_filter.is_none_or(|a| data.active[i] == a))
    });
    let next = more.then(|| encode_cursor(&json!({ "lastIndex": last, "limit": limit })));
    Json(json!({ "data": items, "nextCursor": next })).into_response()
}

async fn n8n_publish(
    State(s): State<Arc<Standin>>,
    Path((id, verb)): Path<(String, String)>,
) -> Answer {
    let active = match verb.as_str() {
        "publish" | "activate" => true,
        "unpublish" | "deactivate" => false,
        _ => return error(StatusCode::NOT_FOUND, "Not Found"),
    };
    let Some(index) = s.workflow_index(&id) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    s.lock().active[index] = active;
    Json(json!({ "id": id, "name": s.workflow_name(index), "active": active })).into_response()
}

/// The newest-first page of runs below `before` (a sequence number), filtered.
fn page(
    s: &Standin,
    data: &Data,
    before: u64,
    limit: usize,
    keep: impl Fn(&Run) -> bool,
) -> (Vec<Run>, Option<u64>) {
    let mut items = Vec::with_capacity(limit);
    let mut last = None;
    for run in data.runs.iter().rev().filter(|r| r.seq < before) {
        if !keep(run) {
            continue;
        }
        if items.len() == limit {
            return (items, last);
        }
        last = Some(run.seq);
        items.push(run.clone());
    }
    let _ = s;
    (items, None)
}

async fn n8n_executions(
    State(s): State<Arc<Standin>>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    s.counters.execution_pages.fetch_add(1, Ordering::Relaxed);
    let limit = match limit_of(&query, true) {
        Ok(limit) => limit,
        Err(answer) => return *answer,
    };
    let before = match query.get("cursor") {
        None => u64::MAX,
        Some(text) => {
            match decode_cursor(text).and_then(|v| v.get("lastId")?.as_str()?.parse::<u64>().ok()) {
                Some(id) => id,
                None => return error(StatusCode::BAD_REQUEST, "An invalid cursor was provided"),
            }
        }
    };
    // The stand-in's runs succeed, fail, or (started by a test) run. As n8n 2.41.1 does, the
    // list leaves out the running ones unless `status=running` asks for them.
    let status = query.get("status").map(String::as_str);
    let failed = match status {
        None | Some("running") => None,
        Some("success") => Some(false),
        Some("error") => Some(true),
        Some("canceled" | "crashed" | "waiting" | "new" | "unknown") => {
            return Json(json!({ "data": [], "nextCursor": null })).into_response();
        }
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "request/query/status must be equal to one of the allowed values: canceled, crashed, error, new, running, success, unknown, waiting",
            );
        }
    };
    let workflow = query.get("workflowId").cloned();
    let include_data = query.get("includeData").is_some_and(|v| v == "true");
    let mut data = s.lock();
    s.advance(&mut data);
    let running = status == Some("running");
    let (items, last) = page(&s, &data, before, limit, |run| {
        run.running == running
            && failed.is_none_or(|f| run.failed == f)
            && workflow
                .as_ref()
                .is_none_or(|w| *w == s.workflow_id(run.workflow))
    });
    s.counters
        .executions_listed
        .fetch_add(items.len() as u64, Ordering::Relaxed);
    let items: Vec<Value> = items
        .iter()
        .map(|r| s.n8n_execution(r, include_data))
        .collect();
    let next = last.map(|l| encode_cursor(&json!({ "lastId": l.to_string(), "limit": limit })));
    Json(json!({ "data": items, "nextCursor": next })).into_response()
}

async fn n8n_execution(
    State(s): State<Arc<Standin>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    s.counters.execution_reads.fetch_add(1, Ordering::Relaxed);
    let include_data = query.get("includeData").is_some_and(|v| v == "true");
    let mut data = s.lock();
    s.advance(&mut data);
    match s.find(&data, &id).and_then(|seq| s.run_at(&data, seq)) {
        Some(run) => Json(s.n8n_execution(run, include_data)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// Retries run `seq`: a new run of the same workflow, mode `retry`, which succeeds.
fn retry(s: &Standin, data: &mut Data, seq: u64) -> Option<u64> {
    let workflow = s.run_at(data, seq)?.workflow;
    let new = s.generate(data, crate::time::now(), "retry", Some(workflow));
    let front = data.runs.front()?.seq;
    if let Some(run) = data.runs.back_mut() {
        run.failed = false;
        run.retry_of = Some(seq);
    }
    if let Some(old) = seq
        .checked_sub(front)
        .and_then(|i| data.runs.get_mut(i as usize))
    {
        old.retry_success = Some(new);
    }
    Some(new)
}

async fn n8n_retry(State(s): State<Arc<Standin>>, Path(id): Path<String>) -> Answer {
    s.counters.retries.fetch_add(1, Ordering::Relaxed);
    let mut data = s.lock();
    let Some(seq) = s.find(&data, &id) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    if s.run_at(&data, seq)
        .is_some_and(|r| !r.failed && !r.running)
    {
        return error(
            StatusCode::CONFLICT,
            "The execution succeeded, so it cannot be retried.",
        );
    }
    match retry(&s, &mut data, seq).and_then(|new| s.run_at(&data, new)) {
        Some(run) => Json(s.n8n_execution(run, false)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// n8n's production webhook: a published workflow's Webhook node path (or, for older callers,
/// the workflow's id) starts an execution in mode `webhook`; n8n answers at once (the node's
/// "respond immediately" mode).
async fn n8n_webhook(State(s): State<Arc<Standin>>, Path(path): Path<String>) -> Answer {
    s.counters.webhooks.fetch_add(1, Ordering::Relaxed);
    let path = path.trim_matches('/').to_owned();
    let index = s
        .workflow_index(&path)
        .or_else(|| (0..s.config.workflows).find(|i| s.webhook_path(*i) == path));
    let mut data = s.lock();
    let Some(index) = index.filter(|i| data.active[*i]) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({
                "code": 404,
                "message": format!("The requested webhook \"POST {path}\" is not registered."),
                "hint": "The workflow must be active for a production URL to run successfully. You can activate the workflow using the toggle in the top-right of the editor. Note that unlike test URL calls, production URL calls aren't shown on the canvas (only in the executions list)",
            })),
        )
            .into_response();
    };
    s.generate(&mut data, crate::time::now(), "webhook", Some(index));
    Json(json!({ "message": "Workflow was started" })).into_response()
}

/// The tags of the workflow at `index`.
fn tags(index: usize) -> Value {
    let name = TOPICS[index % TOPICS.len()]
        .split(' ')
        .next()
        .unwrap_or("misc")
        .to_lowercase();
    json!([{ "id": format!("tag{}", index % 5), "name": name }])
}

/// One workflow, whole (`GET /api/v1/workflows/{id}`): its nodes hold a Webhook node.
async fn n8n_workflow(State(s): State<Arc<Standin>>, Path(id): Path<String>) -> Answer {
    let Some(index) = s.workflow_index(&id) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let active = s.lock().active[index];
    let created = iso(s.started_ms - 86_400_000 * 30 + index as i64 * 1_000);
    let (node, _) = NODES[index % NODES.len()];
    Json(json!({
        "id": id,
        "name": s.workflow_name(index),
        "active": active,
        "isArchived": false,
        "createdAt": created,
        "updatedAt": created,
        "nodes": [
            {
                "id": format!("{id}-webhook"),
                "name": "Webhook",
                "type": "n8n-nodes-base.webhook",
                "typeVersion": 2,
                "position": [0, 0],
                "webhookId": format!("{id}-hook"),
                "parameters": { "httpMethod": "POST", "path": s.webhook_path(index), "options": {} },
            },
            {
                "id": format!("{id}-work"),
                "name": node,
                "type": "n8n-nodes-base.stub",
                "typeVersion": 1,
                "position": [220, 0],
                "parameters": {},
            },
        ],
        "connections": { "Webhook": { "main": [[{ "node": node, "type": "main", "index": 0 }]] } },
        "settings": { "executionOrder": "v1" },
        "tags": tags(index),
    }))
    .into_response()
}

/// Activepieces' webhook: an enabled flow's run starts (asynchronously: the answer is empty).
async fn ap_webhook(State(s): State<Arc<Standin>>, Path(id): Path<String>) -> Answer {
    s.counters.webhooks.fetch_add(1, Ordering::Relaxed);
    let mut data = s.lock();
    let Some(index) = s.workflow_index(&id).filter(|i| data.active[*i]) else {
        return ap_error(
            StatusCode::NOT_FOUND,
            "FLOW_NOT_FOUND",
            &format!("flow {id} not found or not enabled"),
        );
    };
    s.generate(&mut data, crate::time::now(), "webhook", Some(index));
    Json(json!({})).into_response()
}

fn ap_project(s: &Standin, query: &HashMap<String, String>) -> Result<(), Refusal> {
    match query.get("projectId") {
        Some(p) if *p == s.config.project_id => Ok(()),
        Some(_) => Err(Box::new(ap_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "no access to this project",
        ))),
        None => Err(Box::new(ap_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION",
            "querystring must have required property 'projectId'",
        ))),
    }
}

async fn ap_flows(
    State(s): State<Arc<Standin>>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    s.counters.workflow_pages.fetch_add(1, Ordering::Relaxed);
    if let Err(answer) = ap_project(&s, &query) {
        return *answer;
    }
    let limit = limit_of(&query, false).unwrap_or(10);
    let start = match query.get("cursor") {
        None => 0,
        Some(text) => match decode_cursor(text).and_then(|v| v.get("after")?.as_u64()) {
            Some(i) => i as usize,
            None => return ap_error(StatusCode::BAD_REQUEST, "VALIDATION", "invalid cursor"),
        },
    };
    let data = s.lock();
    let end = (start + limit).min(s.config.workflows);
    let items: Vec<Value> = (start..end)
        .map(|i| {
            json!({
                "id": s.workflow_id(i),
                "projectId": s.config.project_id,
                "status": if data.active[i] { "ENABLED" } else { "DISABLED" },
                "version": { "displayName": s.workflow_name(i), "valid": true },
            })
        })
        .collect();
    let next = (end < s.config.workflows).then(|| encode_cursor(&json!({ "after": end })));
    let previous = (start > 0).then(|| encode_cursor(&json!({ "before": start })));
    Json(json!({ "data": items, "next": next, "previous": previous })).into_response()
}

async fn ap_runs(
    State(s): State<Arc<Standin>>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    s.counters.execution_pages.fetch_add(1, Ordering::Relaxed);
    if let Err(answer) = ap_project(&s, &query) {
        return *answer;
    }
    let limit = limit_of(&query, false).unwrap_or(10);
    let before = match query.get("cursor") {
        None => u64::MAX,
        Some(text) => match decode_cursor(text).and_then(|v| v.get("before")?.as_u64()) {
            Some(seq) => seq,
            None => return ap_error(StatusCode::BAD_REQUEST, "VALIDATION", "invalid cursor"),
        },
    };
    let failed = match query.get("status").map(String::as_str) {
        None => None,
        Some("SUCCEEDED") => Some(false),
        Some("FAILED") => Some(true),
        Some(_) => {
            return Json(json!({ "data": [], "next": null, "previous": null })).into_response();
        }
    };
    let flow = query.get("flowId").cloned();
    let mut data = s.lock();
    s.advance(&mut data);
    let (items, last) = page(&s, &data, before, limit, |run| {
        failed.is_none_or(|f| run.failed == f && !run.running)
            && flow
                .as_ref()
                .is_none_or(|w| *w == s.workflow_id(run.workflow))
    });
    s.counters
        .executions_listed
        .fetch_add(items.len() as u64, Ordering::Relaxed);
    let first = items.first().map(|r| r.seq);
    let items: Vec<Value> = items.iter().map(|r| s.ap_run(r)).collect();
    let next = last.map(|l| encode_cursor(&json!({ "before": l })));
    let previous = (before != u64::MAX)
        .then_some(first)
        .flatten()
        .map(|f| encode_cursor(&json!({ "after": f })));
    Json(json!({ "data": items, "next": next, "previous": previous })).into_response()
}

async fn ap_run(State(s): State<Arc<Standin>>, Path(id): Path<String>) -> Answer {
    s.counters.execution_reads.fetch_add(1, Ordering::Relaxed);
    let mut data = s.lock();
    s.advance(&mut data);
    match s.find(&data, &id).and_then(|seq| s.run_at(&data, seq)) {
        Some(run) => Json(s.ap_run(run)).into_response(),
        None => ap_error(
            StatusCode::NOT_FOUND,
            "ENTITY_NOT_FOUND",
            &format!("flow run {id} not found"),
        ),
    }
}

async fn ap_retry(
    State(s): State<Arc<Standin>>,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Answer {
    s.counters.retries.fetch_add(1, Ordering::Relaxed);
    let strategy = body
        .as_ref()
        .and_then(|b| b.get("strategy"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !matches!(strategy.as_str(), "FROM_FAILED_STEP" | "ON_LATEST_VERSION") {
        return ap_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION",
            "body/strategy must be FROM_FAILED_STEP or ON_LATEST_VERSION",
        );
    }
    let mut data = s.lock();
    let Some(seq) = s.find(&data, &id) else {
        return ap_error(
            StatusCode::NOT_FOUND,
            "ENTITY_NOT_FOUND",
            &format!("flow run {id} not found"),
        );
    };
    // `FROM_FAILED_STEP` resumes the same run (its id stays; here it then succeeds), as
    // Activepieces does; `ON_LATEST_VERSION` starts a new run of the flow.
    let new = if strategy == "FROM_FAILED_STEP" {
        let front = data.runs.front().map_or(0, |r| r.seq);
        if let Some(run) = seq
            .checked_sub(front)
            .and_then(|i| data.runs.get_mut(i as usize))
        {
            run.failed = false;
        }
        Some(seq)
    } else {
        retry(&s, &mut data, seq)
    };
    match new.and_then(|new| s.run_at(&data, new)) {
        Some(run) => Json(s.ap_run(run)).into_response(),
        None => ap_error(
            StatusCode::NOT_FOUND,
            "ENTITY_NOT_FOUND",
            "flow run not found",
        ),
    }
}
