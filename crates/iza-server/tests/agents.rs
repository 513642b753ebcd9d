//! The routes of the agents and their work against a real engine on a real SQLite store
//! running real `exec` actions: a task run now and waited for, a failure that opens an incident
//! which climbs the `reports_to` chain and is resolved by hand, the whole cycle of an external
//! agent, the documents of `/agents`, `/tasks` and `/queue`, and every malformed request.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use iza_catalog::export::ports::PortMap;
use iza_catalog::{SourceFile, Syntax};
use iza_probe::{Prober, ProberOptions};
use iza_runtime::agents::{Agents, AgentsOptions};
use iza_runtime::supervisor::Launch;
use iza_runtime::{Monitor, MonitorOptions};
use iza_server::{AppState, Auth, CatalogView, Token, router};
use iza_store::{SqliteStore, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

const MANIFEST: &str = r#"version = 1
[services.web]

[agents.boss]
name = "Boss"
tier = 1

[agents.mgr]
name = "Manager"
tier = 2
reports_to = "boss"

[agents.worker]
name = "Worker"
tier = 3
reports_to = "mgr"
services = ["web"]
tasks = [
  { name = "Say hello", priority = "high", run = { exec = ["echo", "hello from {task}"] } },
  { name = "Fail", run = { exec = ["sh", "-c", "echo broken >&2; exit 3"] } },
  { name = "Triage", run = { external = true } },
  { name = "Document" },
  { name = "Leak", run = { exec = ["sh", "-c", "echo token=$API_TOKEN"], env = { API_TOKEN = "s3cr3t-value-123" } } },
]
"#;

/// A router over a running engine (or none, with `engine = false`).
async fn app(engine: bool) -> Router {
    let source = SourceFile::new("iza.toml", MANIFEST.to_owned(), Syntax::Toml);
    let checked = iza_catalog::check(&source);
    let catalog = Arc::new(
        checked
            .catalog
            .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics)),
    );
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let monitor = Arc::new(
        Monitor::start(
            catalog.clone(),
            Arc::new(Prober::new(ProberOptions::default())),
            store.clone(),
            MonitorOptions::default(),
        )
        .await
        .unwrap(),
    );
    let state = AppState::new(
        monitor.clone(),
        store.clone(),
        CatalogView::new(catalog.clone(), &PortMap::default()),
    )
    .with_auth(Auth::with_token(Token::new(TOKEN).unwrap()));
    if engine {
        let launch = Launch {
            base_dir: std::env::temp_dir(),
            self_exe: None,
            launcher: Default::default(),
        };
        let agents = Agents::start(
            catalog,
            store,
            monitor,
            None,
            AgentsOptions::new("test-node", launch),
        );
        state.set_agents(Arc::new(agents));
    }
    router(state)
}

/// Calls the API (with the token on `POST`s), with an optional JSON body.
async fn call(app: &Router, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method.clone()).uri(uri);
    if method == Method::POST {
        request = request.header("authorization", format!("Bearer {TOKEN}"));
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Queues a run of `task` and waits (by long poll, 20 s at most) for it to finish.
async fn run_and_wait(app: &Router, task: &str) -> Value {
    let (status, run) = call(
        app,
        Method::POST,
        "/api/v1/runs",
        Some(json!({ "task": task })),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run:#}");
    // Already running when the node had a free worker slot and claimed it at once.
    assert!(
        matches!(run["state"].as_str(), Some("queued" | "running")),
        "{run:#}"
    );
    let id = run["id"].as_i64().unwrap();
    let (status, run) = call(
        app,
        Method::GET,
        &format!("/api/v1/runs/{id}?wait=20"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{run:#}");
    run
}

#[tokio::test]
async fn a_task_run_now_is_waited_for_and_counted() {
    let app = app(true).await;
    // By key, and by agent and name in any case.
    for task in ["worker/say-hello", "worker/Say Hello"] {
        let run = run_and_wait(&app, task).await;
        assert_eq!(run["state"], "succeeded", "{run:#}");
        assert_eq!(run["task"], "worker/say-hello");
        assert_eq!(
            run["output"].as_str().unwrap().trim(),
            "hello from worker/say-hello"
        );
    }
    let (status, tasks) = call(&app, Method::GET, "/api/v1/tasks", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tasks["engine"], true);
    let kinds: Vec<(&str, &str)> = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["key"].as_str().unwrap(), t["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("worker/say-hello", "runnable"),
            ("worker/fail", "runnable"),
            ("worker/triage", "external"),
            ("worker/document", "documented"),
            ("worker/leak", "runnable"),
        ]
    );
    let hello = &tasks["tasks"][0];
    assert_eq!(hello["runs"], 2, "{hello:#}");
    assert_eq!(hello["success_rate"], 1.0, "{hello:#}");
    assert_eq!(hello["last"]["state"], "succeeded", "{hello:#}");
    let (_, page) = call(
        &app,
        Method::GET,
        "/api/v1/runs?task=worker/say-hello&limit=1",
        None,
    )
    .await;
    assert_eq!(page["runs"].as_array().unwrap().len(), 1, "{page:#}");
}

#[tokio::test]
async fn a_failure_opens_an_incident_that_climbs_to_tier_one_and_is_resolved_by_hand() {
    let app = app(true).await;
    let run = run_and_wait(&app, "worker/fail").await;
    assert_eq!(run["state"], "failed", "{run:#}");
    assert!(run["error"].as_str().unwrap().contains('3'), "{run:#}");
    assert!(
        run["output"].as_str().unwrap().contains("broken"),
        "{run:#}"
    );

    // The escalation is recorded after the run ends: poll the open incidents briefly.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let incident = loop {
        let (status, page) = call(&app, Method::GET, "/api/v1/incidents?open=true", None).await;
        assert_eq!(status, StatusCode::OK);
        let incident = page["incidents"][0].clone();
        let climbed = incident["chain"]
            .as_array()
            .is_some_and(|chain| chain.iter().any(|s| s["agent"] == "boss"));
        if climbed {
            break incident;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no escalation to boss: {page:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(incident["task"], "worker/fail");
    assert_eq!(incident["state"], "open");
    let agents: Vec<&str> = incident["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["agent"].as_str().unwrap())
        .collect();
    assert_eq!(agents, ["mgr", "boss"], "{incident:#}");
    let id = incident["id"].as_i64().unwrap();

    let (_, tree) = call(&app, Method::GET, "/api/v1/agents", None).await;
    let boss = tree["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "boss")
        .unwrap();
    assert_eq!(boss["open_incidents"], json!([id]), "{tree:#}");
    assert_eq!(boss["reports"], json!(["mgr"]), "{tree:#}");

    let (status, resolved) = call(
        &app,
        Method::POST,
        &format!("/api/v1/incidents/{id}/resolve"),
        Some(json!({ "by": "the on-call person" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resolved:#}");
    assert_eq!(resolved["state"], "resolved");
    assert_eq!(resolved["resolution"], "resolved by the on-call person");
    let (_, open) = call(&app, Method::GET, "/api/v1/incidents?open=true", None).await;
    assert_eq!(open["incidents"], json!([]), "{open:#}");
    let (_, one) = call(&app, Method::GET, &format!("/api/v1/incidents/{id}"), None).await;
    assert_eq!(one["state"], "resolved");
}

#[tokio::test]
async fn an_external_agent_claims_heartbeats_and_completes() {
    let app = app(true).await;
    let (status, none) = call(
        &app,
        Method::POST,
        "/api/v1/agents/worker/claim",
        Some(json!({ "worker": "person@desk" })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{none:#}");

    let (status, queued) = call(
        &app,
        Method::POST,
        "/api/v1/runs",
        Some(json!({ "task": "worker/triage" })),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = queued["id"].as_i64().unwrap();
    // The engine never runs it itself: it waits in the queue for a claim.
    let (_, queue) = call(&app, Method::GET, "/api/v1/queue", None).await;
    assert_eq!(queue["ready"]["medium"], 1, "{queue:#}");

    let (status, claimed) = call(
        &app,
        Method::POST,
        "/api/v1/agents/worker/claim",
        Some(json!({ "worker": "person@desk", "tasks": ["triage"], "lease": 30 })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{claimed:#}");
    assert_eq!(claimed["id"], id);
    assert_eq!(claimed["state"], "running");
    assert_eq!(claimed["worker"], "person@desk");
    let (_, queue) = call(&app, Method::GET, "/api/v1/queue", None).await;
    assert_eq!(queue["running"][0]["id"], id, "{queue:#}");
    assert!(queue["running"][0]["elapsed_ms"].is_i64(), "{queue:#}");

    let heartbeat = format!("/api/v1/runs/{id}/heartbeat");
    let (status, _) = call(
        &app,
        Method::POST,
        &heartbeat,
        Some(json!({ "worker": "someone-else" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, held) = call(
        &app,
        Method::POST,
        &heartbeat,
        Some(json!({ "worker": "person@desk" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{held:#}");

    let (status, done) = call(
        &app,
        Method::POST,
        &format!("/api/v1/runs/{id}/complete"),
        Some(json!({ "worker": "person@desk", "success": true, "output": "looked at it" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done:#}");
    assert_eq!(done["state"], "succeeded");
    assert_eq!(done["output"], "looked at it");
    let (status, _) = call(
        &app,
        Method::POST,
        &heartbeat,
        Some(json!({ "worker": "person@desk" })),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a finished run is held by no one"
    );
}

#[tokio::test]
async fn malformed_requests_are_refused_with_a_reason() {
    let app = app(true).await;
    let cases: [(Method, &str, Option<Value>, StatusCode, &str); 18] = [
        (
            Method::POST,
            "/api/v1/runs/12345/cancel",
            None,
            StatusCode::NOT_FOUND,
            "unknown-run",
        ),
        (
            Method::POST,
            "/api/v1/runs/abc/cancel",
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/api/v1/runs/1/cancel",
            Some(json!({ "who": "x" })),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/api/v1/agents/worker/claim?wait=61",
            Some(json!({ "worker": "w" })),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/api/v1/runs",
            Some(json!({ "task": "nobody/nothing" })),
            StatusCode::NOT_FOUND,
            "unknown-task",
        ),
        (
            Method::POST,
            "/api/v1/runs",
            Some(json!({ "task": "worker/document" })),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            Method::POST,
            "/api/v1/runs",
            Some(json!({ "job": "x" })),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/api/v1/runs",
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::GET,
            "/api/v1/runs?state=sleeping",
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::GET,
            "/api/v1/runs?limit=0",
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::GET,
            "/api/v1/runs?limit=1001",
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::GET,
            "/api/v1/runs/12345",
            None,
            StatusCode::NOT_FOUND,
            "unknown-run",
        ),
        (
            Method::GET,
            "/api/v1/runs/1?wait=61",
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::GET,
            "/api/v1/incidents/77",
            None,
            StatusCode::NOT_FOUND,
            "unknown-incident",
        ),
        (
            Method::POST,
            "/api/v1/incidents/77/resolve",
            None,
            StatusCode::NOT_FOUND,
            "unknown-incident",
        ),
        (
            Method::POST,
            "/api/v1/agents/ghost/claim",
            Some(json!({ "worker": "w" })),
            StatusCode::NOT_FOUND,
            "unknown-agent",
        ),
        (
            Method::POST,
            "/api/v1/agents/worker/claim",
            Some(json!({ "worker": "w", "lease": 0 })),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/api/v1/agents/worker/claim",
            Some(json!({ "worker": "" })),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
    ];
    for (method, uri, body, status, code) in cases {
        let (got, answer) = call(&app, method.clone(), uri, body.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {uri} {body:?}: {answer:#}"
        );
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn without_an_engine_reads_still_answer_and_runs_are_refused() {
    let app = app(false).await;
    let (status, tasks) = call(&app, Method::GET, "/api/v1/tasks", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tasks["engine"], false);
    assert_eq!(tasks["tasks"][0]["next_run"], Value::Null);
    let (status, answer) = call(
        &app,
        Method::POST,
        "/api/v1/runs",
        Some(json!({ "task": "worker/say-hello" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(answer["error"]["code"], "no-agents");
}

#[tokio::test]
async fn a_secret_a_run_prints_is_masked_in_every_answer() {
    let app = app(true).await;
    let run = run_and_wait(&app, "worker/leak").await;
    assert_eq!(run["state"], "succeeded", "{run:#}");
    assert_eq!(
        run["output"].as_str().unwrap().trim(),
        "token=***",
        "{run:#}"
    );
    for uri in ["/api/v1/runs", "/api/v1/tasks", "/api/v1/agents"] {
        let (status, answer) = call(&app, Method::GET, uri, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            !answer.to_string().contains("s3cr3t-value-123"),
            "{uri}: {answer:#}"
        );
    }
}

#[tokio::test]
async fn a_queued_run_is_cancelled_and_a_finished_one_cannot_be() {
    let app = app(true).await;
    let (status, queued) = call(
        &app,
        Method::POST,
        "/api/v1/runs",
        Some(json!({ "task": "worker/triage" })),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = queued["id"].as_i64().unwrap();
    let cancel = format!("/api/v1/runs/{id}/cancel");
    let (status, run) = call(
        &app,
        Method::POST,
        &cancel,
        Some(json!({ "by": "the tester" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{run:#}");
    assert_eq!(run["state"], "cancelled");
    let (_, queue) = call(&app, Method::GET, "/api/v1/queue", None).await;
    assert_eq!(queue["ready"]["medium"], 0, "{queue:#}");
    let (status, none) = call(
        &app,
        Method::POST,
        "/api/v1/agents/worker/claim",
        Some(json!({ "worker": "person@desk" })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{none:#}");
    let (status, answer) = call(&app, Method::POST, &cancel, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer:#}");
    assert_eq!(answer["error"]["code"], "run-finished");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already ended: it is cancelled"),
        "{answer:#}"
    );
}

#[tokio::test]
async fn a_long_polled_claim_gets_the_run_queued_while_it_waits() {
    let app = app(true).await;
    // Nothing waits: a short poll ends with 204.
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/agents/worker/claim?wait=0.05",
        Some(json!({ "worker": "person@desk" })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let waiting = tokio::spawn({
        let app = app.clone();
        async move {
            call(
                &app,
                Method::POST,
                "/api/v1/agents/worker/claim?wait=60",
                Some(json!({ "worker": "person@desk" })),
            )
            .await
        }
    });
    tokio::task::yield_now().await;
    let (status, queued) = call(
        &app,
        Method::POST,
        "/api/v1/runs",
        Some(json!({ "task": "worker/triage" })),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, claimed) = tokio::time::timeout(std::time::Duration::from_secs(20), waiting)
        .await
        .expect("the long poll was answered")
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{claimed:#}");
    assert_eq!(claimed["id"], queued["id"]);
    assert_eq!(claimed["worker"], "person@desk");
}
