//! Contract tests of the clients against the stand-ins: the exact shapes of n8n 2.x and
//! Activepieces (pagination with opaque cursors, string ids, 401/404/409 bodies, readiness
//! 503, `includeData`), and the incremental sync: a first sync of 100,000 executions
//! completes round by round, then a poll reads only the new ones (requests counted).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use iza_catalog::model::{Engine, WorkflowRules, WorkflowSource};
use iza_store::{SqliteStore, Store};
use iza_workflows::client::{self, Client, WorkflowError};
use iza_workflows::standin::{Standin, StandinConfig};
use iza_workflows::{Cursor, Follower};
use serde_json::Value;

async fn serve(config: StandinConfig) -> (Arc<Standin>, String) {
    let standin = Standin::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = standin.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (standin, url)
}

fn source(engine: Engine, url: &str) -> WorkflowSource {
    WorkflowSource {
        engine,
        url: url.to_owned(),
        api_key: Some("${TEST_KEY}".to_owned()),
        token: Some("${TEST_KEY}".to_owned()),
        project_id: Some("standin-project".to_owned()),
        ui_url: url.to_owned(),
        every: Duration::from_secs(1),
        pages_per_round: 40,
        timeout: Duration::from_secs(10),
        rules: WorkflowRules::default(),
    }
}

fn client_of(engine: Engine, url: &str, key: &str) -> Client {
    let key = key.to_owned();
    Client::new(
        client::http_client().unwrap(),
        &source(engine, url),
        move |name| (name == "TEST_KEY").then(|| key.clone()),
    )
    .unwrap()
}

async fn get(url: &str, key: Option<(&str, &str)>) -> (u16, Value) {
    let mut request = client::http_client().unwrap().get(url);
    if let Some((header, value)) = key {
        request = request.header(header, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
    (status, body)
}

const KEY: (&str, &str) = ("X-N8N-API-KEY", "standin-key");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n8n_shapes() {
    let (standin, url) = serve(StandinConfig {
        workflows: 300,
        history: 600,
        rate: 0.0,
        failure_rate: 0.5,
        ready_after: Duration::from_secs(1),
        ..StandinConfig::default()
    })
    .await;

    // Readiness: 503 until the database is ready (here: until `ready_after`), then 200.
    let client = client_of(Engine::N8n, &url, "standin-key");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut saw_503 = false;
    loop {
        match client.ready().await.unwrap() {
            false => saw_503 = true,
            true => break,
        }
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_503, "readiness answered 200 before `ready_after`");

    // Credentials: n8n's two 401 bodies.
    let (status, body) = get(&format!("{url}/api/v1/workflows"), None).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("'X-N8N-API-KEY' header required"))
    );
    let (status, body) = get(
        &format!("{url}/api/v1/workflows"),
        Some(("X-N8N-API-KEY", "wrong")),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("unauthorized"))
    );

    // Workflows: `{data, nextCursor}`, limit at most 250, string ids, an opaque cursor.
    let (status, body) = get(&format!("{url}/api/v1/workflows?limit=251"), Some(KEY)).await;
    assert_eq!(status, 400, "{body}");
    let (_, first) = get(&format!("{url}/api/v1/workflows?limit=250"), Some(KEY)).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 250);
    assert!(first["data"][0]["id"].is_string());
    assert!(first["data"][0]["active"].is_boolean());
    assert!(first["data"][0]["tags"][0]["name"].is_string());
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, second) = get(
        &format!("{url}/api/v1/workflows?limit=250&cursor={cursor}"),
        Some(KEY),
    )
    .await;
    assert_eq!(second["data"].as_array().unwrap().len(), 50);
    assert!(second["nextCursor"].is_null());

    // Executions: newest first, string ids, no data unless asked.
    let (_, page) = get(&format!("{url}/api/v1/executions?limit=5"), Some(KEY)).await;
    let data = page["data"].as_array().unwrap();
    assert_eq!(data[0]["id"], "600");
    assert_eq!(data[4]["id"], "596");
    assert!(data[0].get("data").is_none());
    for key in [
        "mode",
        "status",
        "startedAt",
        "stoppedAt",
        "workflowId",
        "retryOf",
        "retrySuccessId",
    ] {
        assert!(data[0].get(key).is_some(), "{key} in {}", data[0]);
    }
    let (_, failed) = get(
        &format!("{url}/api/v1/executions?status=error&limit=1"),
        Some(KEY),
    )
    .await;
    let failed_id = failed["data"][0]["id"].as_str().unwrap().to_owned();
    let (_, detail) = get(
        &format!("{url}/api/v1/executions/{failed_id}?includeData=true"),
        Some(KEY),
    )
    .await;
    assert!(
        detail
            .pointer("/data/resultData/error/message")
            .unwrap()
            .is_string()
    );
    assert!(
        detail
            .pointer("/data/resultData/error/node/name")
            .unwrap()
            .is_string()
    );
    assert!(
        detail
            .pointer("/data/resultData/lastNodeExecuted")
            .unwrap()
            .is_string()
    );
    let (status, body) = get(&format!("{url}/api/v1/executions/999999"), Some(KEY)).await;
    assert_eq!((status, body["message"].as_str()), (404, Some("Not Found")));

    // The client reads the same, and retries: 409 after a success, a `retry` otherwise.
    let client = client_of(Engine::N8n, &url, "standin-key");
    let failure = client.failure(&failed_id).await.unwrap();
    assert_eq!(failure.execution_id, failed_id);
    assert!(failure.node.is_some());
    let (_, ok) = get(
        &format!("{url}/api/v1/executions?status=success&limit=1"),
        Some(KEY),
    )
    .await;
    let ok_id = ok["data"][0]["id"].as_str().unwrap();
    match client.retry(ok_id).await {
        Err(WorkflowError::Conflict(message)) => {
            assert!(message.contains("succeeded"), "{message}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let retried = client.retry(&failed_id).await.unwrap();
    assert_eq!(retried.record.mode.as_deref(), Some("retry"));
    assert_eq!(retried.record.retry_of.as_deref(), Some(failed_id.as_str()));
    assert_eq!(
        client.execution(&failed_id).await.unwrap().retry_success_id,
        Some(retried.record.id)
    );
    match client.execution("nope").await {
        Err(WorkflowError::NotFound(_)) => {}
        other => panic!("expected not found, got {other:?}"),
    }
    let wrong = client_of(Engine::N8n, &url, "wrong");
    assert!(matches!(
        wrong.workflows_page(None).await,
        Err(WorkflowError::Unauthorized { status: 401, .. })
    ));

    assert!(standin.counters.unauthorized.load(Ordering::Relaxed) >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activepieces_shapes() {
    let (_standin, url) = serve(StandinConfig {
        engine: Engine::Activepieces,
        workflows: 12,
        history: 300,
        rate: 0.0,
        failure_rate: 0.5,
        ..StandinConfig::default()
    })
    .await;
    let bearer = ("Authorization", "Bearer standin-key");
    let (status, body) = get(
        &format!("{url}/api/v1/flows?projectId=standin-project"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["statusCode"], 401);
    let (status, _) = get(&format!("{url}/api/v1/flows"), Some(bearer)).await;
    assert_eq!(status, 400, "projectId is required");
    let (_, flows) = get(
        &format!("{url}/api/v1/flows?projectId=standin-project&limit=10"),
        Some(bearer),
    )
    .await;
    assert_eq!(flows["data"].as_array().unwrap().len(), 10);
    assert!(flows["next"].is_string());
    assert!(flows["previous"].is_null());
    assert!(flows["data"][0]["version"]["displayName"].is_string());
    let (_, runs) = get(
        &format!("{url}/api/v1/flow-runs?projectId=standin-project&status=FAILED&limit=3"),
        Some(bearer),
    )
    .await;
    let run = &runs["data"][0];
    assert_eq!(run["status"], "FAILED");
    assert!(run["failedStep"]["displayName"].is_string());
    assert!(run["id"].as_str().unwrap().len() == 21);
    let next = runs["next"].as_str().unwrap();
    let (_, older) = get(
        &format!(
            "{url}/api/v1/flow-runs?projectId=standin-project&status=FAILED&limit=3&cursor={next}"
        ),
        Some(bearer),
    )
    .await;
    assert!(older["previous"].is_string());
    assert_ne!(older["data"][0]["id"], run["id"]);

    let client = client_of(Engine::Activepieces, &url, "standin-key");
    assert!(client.ready().await.unwrap());
    let all = client.workflows_page(None).await.unwrap();
    assert_eq!(all.items.len(), 12);
    let id = run["id"].as_str().unwrap();
    let failure = client.failure(id).await.unwrap();
    assert_eq!(
        failure.node.as_deref(),
        run["failedStep"]["displayName"].as_str()
    );
    // `FROM_FAILED_STEP` resumes the same run, which is no longer failed.
    let retried = client.retry(id).await.unwrap();
    assert_eq!(retried.record.status, "success");
    assert_eq!(retried.record.id, id);
}

/// Follows `standin` into `store` until caught up; returns the rounds it took.
async fn follow_until_caught_up(
    follower: &Follower,
    store: &dyn Store,
    cursor: &mut Cursor,
) -> u32 {
    let mut rounds = 0;
    loop {
        let running = store.running_executions("n8n").await.unwrap();
        let (sync, report) = follower.round(cursor, &running, now()).await.unwrap();
        store.apply_workflow_sync("n8n", &sync).await.unwrap();
        rounds += 1;
        assert!(report.pages <= follower.pages_per_round);
        if report.caught_up {
            return rounds;
        }
        assert!(rounds < 1_000, "the first sync does not converge");
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_of_100000_then_only_new_ones() {
    let (standin, url) = serve(StandinConfig {
        workflows: 2_056,
        history: 100_000,
        rate: 0.0,
        failure_rate: 0.05,
        ..StandinConfig::default()
    })
    .await;
    let store = SqliteStore::open_in_memory().await.unwrap();
    let follower = Follower::new(client_of(Engine::N8n, &url, "standin-key"), 40);
    let mut cursor = Cursor::default();
    let rounds = follow_until_caught_up(&follower, &store, &mut cursor).await;
    // 400 pages of 250, at most 40 a round: bounded, so at least 10 rounds.
    assert!(rounds >= 10, "{rounds} rounds");
    let stats = store.workflow_stats("n8n", 0).await.unwrap();
    assert_eq!(stats.len(), 2_056);
    let recorded: u64 = stats.iter().flat_map(|w| w.runs.values()).sum();
    assert_eq!(recorded, 100_000);
    assert!(stats.iter().any(|w| w.last_failure.is_some()));
    // 400 pages of history, plus per round the last one again and the list of running ones.
    let pages = standin.counters.execution_pages.load(Ordering::Relaxed);
    assert!(
        pages <= 400 + 2 * u64::from(rounds),
        "history read more than once: {pages} pages"
    );

    // The cursor is stored: a new follower resumes from it and reads nothing old.
    let stored = store.workflow_cursor("n8n").await.unwrap();
    let mut resumed = Cursor::parse(stored.as_deref());
    assert_eq!(resumed, cursor);

    standin.add_executions(37);
    let pages_before = standin.counters.execution_pages.load(Ordering::Relaxed);
    let listed_before = standin.counters.executions_listed.load(Ordering::Relaxed);
    let reads_before = standin.counters.execution_reads.load(Ordering::Relaxed);
    let (sync, report) = follower.round(&mut resumed, &[], now()).await.unwrap();
    assert_eq!(sync.executions.len(), 37);
    assert_eq!(store.apply_workflow_sync("n8n", &sync).await.unwrap(), 37);
    assert_eq!(report.pages, 1);
    // One page of the new ones, and the (empty) list of running ones.
    assert_eq!(
        standin.counters.execution_pages.load(Ordering::Relaxed) - pages_before,
        2
    );
    assert!(standin.counters.executions_listed.load(Ordering::Relaxed) - listed_before <= 250);
    // Only the new failures are read in detail.
    let failed_new = sync.executions.iter().filter(|e| e.failed()).count() as u64;
    assert!(standin.counters.execution_reads.load(Ordering::Relaxed) - reads_before <= failed_new);
    let stats = store.workflow_stats("n8n", 0).await.unwrap();
    assert_eq!(
        stats.iter().flat_map(|w| w.runs.values()).sum::<u64>(),
        100_037
    );

    // A quiet engine: one page, nothing new.
    let (sync, report) = follower.round(&mut resumed, &[], now()).await.unwrap();
    assert!(sync.executions.is_empty());
    assert_eq!(report.pages, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activepieces_sync_with_unordered_ids() {
    let (standin, url) = serve(StandinConfig {
        engine: Engine::Activepieces,
        workflows: 12,
        history: 2_000,
        rate: 0.0,
        failure_rate: 0.2,
        ..StandinConfig::default()
    })
    .await;
    let store = SqliteStore::open_in_memory().await.unwrap();
    let follower = Follower::new(client_of(Engine::Activepieces, &url, "standin-key"), 3);
    let mut cursor = Cursor::default();
    follow_until_caught_up(&follower, &store, &mut cursor).await;
    let stats = store.workflow_stats("n8n", 0).await.unwrap();
    assert_eq!(
        stats.iter().flat_map(|w| w.runs.values()).sum::<u64>(),
        2_000
    );
    let failing = stats.iter().find(|w| w.last_failure.is_some()).unwrap();
    assert!(failing.last_failure.as_ref().unwrap().node.is_some());
    standin.add_executions(5);
    let (sync, _) = follower.round(&mut cursor, &[], now()).await.unwrap();
    assert_eq!(store.apply_workflow_sync("n8n", &sync).await.unwrap(), 5);
}

/// The failed executions of `workflow`, newest first, as n8n lists them (`status=error`).
async fn n8n_failed_of(url: &str, workflow: &str) -> Vec<Value> {
    let (_, page) = get(
        &format!("{url}/api/v1/executions?status=error&workflowId={workflow}&limit=250"),
        Some(KEY),
    )
    .await;
    page["data"].as_array().unwrap().clone()
}

/// `retry_failed` against n8n: newest first, at most `limit`, never one retried already (a
/// `retrySuccessId`), never a retry; the report says what it did. `trigger` calls the
/// Webhook node's path of a published workflow, found by name or id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n8n_retry_failed_is_bounded_and_trigger_calls_the_webhook() {
    let (standin, url) = serve(StandinConfig {
        workflows: 2,
        history: 60,
        rate: 0.0,
        failure_rate: 0.5,
        ..StandinConfig::default()
    })
    .await;
    let client = client_of(Engine::N8n, &url, "standin-key");
    let workflow = client.workflow("Sync orders to ERP #0001").await.unwrap();
    assert_eq!(client.workflow(&workflow.id).await.unwrap(), workflow);
    let failed: Vec<String> = n8n_failed_of(&url, &workflow.id)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(failed.len() > 5, "{failed:?}");

    let first = iza_workflows::retry_failed(&client, &workflow.id, 3)
        .await
        .unwrap();
    let retried: Vec<&str> = first.retried.iter().map(|r| r.execution.as_str()).collect();
    assert_eq!(
        retried,
        failed[..3].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(
        first
            .retried
            .iter()
            .all(|r| r.retry.is_some() && r.error.is_none())
    );
    assert_eq!((first.skipped, first.more, first.refused()), (0, true, 0));
    assert!(first.text().contains(&format!(
        "retried execution {} as {} (success)",
        failed[0],
        first.retried[0].retry.as_deref().unwrap()
    )));
    // The old ones now carry a `retrySuccessId` and the retries succeeded: the next run
    // retries the next failures and skips those three.
    let second = iza_workflows::retry_failed(&client, &workflow.id, 100)
        .await
        .unwrap();
    let retried: Vec<&str> = second
        .retried
        .iter()
        .map(|r| r.execution.as_str())
        .collect();
    assert_eq!(
        retried,
        failed[3..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!((second.skipped, second.more), (3, false));
    assert_eq!(
        standin.counters.retries.load(Ordering::Relaxed),
        failed.len() as u64
    );
    let third = iza_workflows::retry_failed(&client, &workflow.id, 100)
        .await
        .unwrap();
    assert!(third.retried.is_empty());
    assert_eq!(third.skipped, failed.len());
    assert!(
        third.text().contains("0 retried, 0 refused"),
        "{}",
        third.text()
    );

    // `trigger`: the Webhook node's path, with the data as the JSON body.
    let executions = |s: &Standin| s.counters.webhooks.load(Ordering::Relaxed);
    let target = client.workflow("Lead enrichment #0002").await.unwrap();
    let publish = client::http_client()
        .unwrap()
        .post(format!("{url}/api/v1/workflows/{}/publish", target.id))
        .header(KEY.0, KEY.1)
        .send()
        .await
        .unwrap();
    assert_eq!(publish.status(), 200);
    let started = iza_workflows::trigger(
        &client,
        "Lead enrichment #0002",
        &serde_json::json!({ "a": 1 }),
    )
    .await
    .unwrap();
    assert_eq!(started.workflow, target.id);
    assert_eq!(
        started.call,
        format!("POST {url}/webhook/lead-enrichment-0002")
    );
    assert_eq!(started.status, 200);
    assert_eq!(started.answer, r#"{"message":"Workflow was started"}"#);
    assert_eq!(executions(&standin), 1);
    let (_, newest) = get(&format!("{url}/api/v1/executions?limit=1"), Some(KEY)).await;
    assert_eq!(newest["data"][0]["mode"], "webhook");
    assert_eq!(newest["data"][0]["workflowId"], target.id.as_str());
    // By id too; an unpublished workflow and an unknown one are refused, saying why.
    iza_workflows::trigger(&client, &target.id, &serde_json::json!({}))
        .await
        .unwrap();
    let unpublish = client::http_client()
        .unwrap()
        .post(format!("{url}/api/v1/workflows/{}/unpublish", target.id))
        .header(KEY.0, KEY.1)
        .send()
        .await
        .unwrap();
    assert_eq!(unpublish.status(), 200);
    let refused = iza_workflows::trigger(&client, &target.id, &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("not published"), "{refused}");
    let unknown = iza_workflows::trigger(&client, "No such workflow", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(unknown, WorkflowError::NotFound(_)), "{unknown}");
    assert_eq!(executions(&standin), 2);
}

/// Activepieces: `trigger` posts to `/api/v1/webhooks/{flowId}`; `retry_failed` resumes the
/// failed runs (`FROM_FAILED_STEP`), which are then no longer failed, so none is retried twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activepieces_retry_failed_and_trigger() {
    let (standin, url) = serve(StandinConfig {
        engine: Engine::Activepieces,
        workflows: 2,
        history: 40,
        rate: 0.0,
        failure_rate: 0.5,
        ..StandinConfig::default()
    })
    .await;
    let client = client_of(Engine::Activepieces, &url, "standin-key");
    let flow = client.workflow("Sync orders to ERP #0001").await.unwrap();
    let first = iza_workflows::retry_failed(&client, &flow.id, 2)
        .await
        .unwrap();
    assert_eq!(first.retried.len(), 2);
    assert!(first.more);
    let second = iza_workflows::retry_failed(&client, &flow.id, 1_000)
        .await
        .unwrap();
    let again: Vec<&str> = second
        .retried
        .iter()
        .map(|r| r.execution.as_str())
        .collect();
    for r in &first.retried {
        assert!(!again.contains(&r.execution.as_str()), "retried twice");
    }
    assert!(!second.more);
    let third = iza_workflows::retry_failed(&client, &flow.id, 1_000)
        .await
        .unwrap();
    assert!(third.retried.is_empty(), "{third:?}");

    // An enabled flow, by its name: its webhook answers `{}` and starts a run.
    let flows = client.workflows_page(None).await.unwrap().items;
    let enabled = flows.iter().find(|f| f.active).expect("an enabled flow");
    let started = iza_workflows::trigger(&client, &enabled.name, &serde_json::json!({ "a": 1 }))
        .await
        .unwrap();
    assert_eq!(
        started.call,
        format!("POST {url}/api/v1/webhooks/{}", enabled.id)
    );
    assert_eq!((started.status, started.answer.as_str()), (200, "{}"));
    assert_eq!(standin.counters.webhooks.load(Ordering::Relaxed), 1);
}

/// n8n 2.41.1 leaves running executions out of its list unless `status=running` asks, and its
/// ids follow the start: an execution that ends after a newer one shows below the head. The
/// follower lists the running ones each round and reads them again until they end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n8n_execution_ending_after_a_newer_one_is_recorded() {
    let (standin, url) = serve(StandinConfig {
        workflows: 5,
        history: 20,
        rate: 0.0,
        failure_rate: 0.0,
        ..StandinConfig::default()
    })
    .await;
    let store = SqliteStore::open_in_memory().await.unwrap();
    let follower = Follower::new(client_of(Engine::N8n, &url, "standin-key"), 40);
    let mut cursor = Cursor::default();
    follow_until_caught_up(&follower, &store, &mut cursor).await;

    // 21 starts and runs; 22 starts later and ends first.
    let long = standin.start_execution(3);
    assert_eq!(long, "21");
    let newer = standin.add_executions(1);
    assert_eq!(newer, "22");
    let (status, body) = get(&format!("{url}/api/v1/executions?limit=5"), Some(KEY)).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids[..2],
        ["22", "20"],
        "the running one is not listed: {body}"
    );
    let (_, body) = get(
        &format!("{url}/api/v1/executions?status=running"),
        Some(KEY),
    )
    .await;
    assert_eq!(body["data"][0]["id"], "21");
    assert_eq!(body["data"][0]["stoppedAt"], Value::Null);

    follow_until_caught_up(&follower, &store, &mut cursor).await;
    let running = store.running_executions("n8n").await.unwrap();
    assert_eq!(
        running.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["21"]
    );
    // Still running: the running list says so, no read of it alone.
    let reads = standin.counters.execution_reads.load(Ordering::Relaxed);
    follow_until_caught_up(&follower, &store, &mut cursor).await;
    assert_eq!(
        standin.counters.execution_reads.load(Ordering::Relaxed),
        reads
    );

    // It fails, below the head: read again, recorded with its failure.
    assert!(standin.finish_execution(&long, true));
    follow_until_caught_up(&follower, &store, &mut cursor).await;
    assert!(store.running_executions("n8n").await.unwrap().is_empty());
    let stats = store.workflow_stats("n8n", 0).await.unwrap();
    assert_eq!(stats.iter().flat_map(|w| w.runs.values()).sum::<u64>(), 22);
    let failing = stats.iter().find(|w| w.last_failure.is_some()).unwrap();
    assert_eq!(failing.last_failure.as_ref().unwrap().execution_id, "21");
}
