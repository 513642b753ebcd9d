//! Router tests: a real `Monitor` over a small catalog whose checks target HTTP servers the
//! test starts on 127.0.0.1, an in-memory SQLite store, and requests sent with `oneshot`
//! (no socket for the API itself).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use iza_catalog::export::ports::PortMap;
use iza_catalog::{SourceFile, Syntax};
use iza_probe::{Prober, ProberOptions};
use iza_runtime::{Monitor, MonitorOptions, Status};
use iza_server::{
    ACTION_ROUTES, AppState, CatalogView, DASHBOARD_ROUTES, DELETE_ROUTES, ROUTES, router,
};
use iza_store::{SqliteStore, Store};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_secs(20);

/// An HTTP server on 127.0.0.1 answering 200 while `healthy` holds, 503 otherwise.
async fn target(healthy: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let healthy = healthy.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                let status = if healthy.load(Ordering::SeqCst) {
                    200
                } else {
                    503
                };
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{addr}/health")
}

struct Fixture {
    app: Router,
    monitor: Arc<Monitor>,
    db_up: Arc<AtomicBool>,
}

/// `db` ← `api` ← `web`, each checked every 100 ms; `docs` has no check.
async fn fixture() -> Fixture {
    let db_up = Arc::new(AtomicBool::new(true));
    let db = target(db_up.clone()).await;
    let always = Arc::new(AtomicBool::new(true));
    let api = target(always.clone()).await;
    let web = target(always).await;
    let check = |url: &str| {
        format!(
            r#"check = {{ http = "{url}", every = "100ms", timeout = "1s", conditions = ["[STATUS] == 200"] }}"#
        )
    };
    let text = format!(
        r#"version = 1
[ecosystem]
name = "test-eco"
[services.db]
ports = [15432]
docker = "db-container:5432"
{}
[services.api]
depends_on = ["db"]
ports = [18080]
{}
[services.web]
depends_on = ["api"]
{}
[services.docs]
"#,
        check(&db),
        check(&api),
        check(&web)
    );
    let source = SourceFile::new("iza.toml", text, Syntax::Toml);
    let checked = iza_catalog::check(&source);
    let catalog = Arc::new(
        checked
            .catalog
            .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics)),
    );
    let ports = PortMap::from_manifest(&iza_catalog::parse_raw(&source).unwrap());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let prober = Arc::new(Prober::new(ProberOptions::default()));
    let monitor = Arc::new(
        Monitor::start(
            catalog.clone(),
            prober,
            store.clone(),
            MonitorOptions {
                seed: Some(7),
                first_probe_within: Some(Duration::from_millis(50)),
                recorder: iza_runtime::RecorderOptions {
                    flush_every: Duration::from_millis(20),
                    ..iza_runtime::RecorderOptions::default()
                },
                ..MonitorOptions::default()
            },
        )
        .await
        .unwrap(),
    );
    // No Docker engine runs here: the server says so (tests of a reachable engine are in
    // iza-runtime's `docker` tests).
    let docker = iza_runtime::DockerWatch::start(
        &catalog,
        iza_runtime::DockerOptions {
            host: Some("/nonexistent-iza-test/docker.sock".into()),
            every: Duration::from_millis(50),
            ..iza_runtime::DockerOptions::default()
        },
    );
    let state = AppState::new(monitor.clone(), store, CatalogView::new(catalog, &ports))
        .with_docker(Arc::new(docker));
    Fixture {
        app: router(state),
        monitor,
        db_up,
    }
}

async fn get(app: &Router, uri: &str) -> (StatusCode, String, String) {
    use tower::ServiceExt;
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

async fn get_json(app: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, content_type, body) = get(app, uri).await;
    assert!(
        content_type.starts_with("application/json"),
        "{uri}: {content_type}"
    );
    (status, serde_json::from_str(&body).unwrap())
}

/// Polls `condition` until it holds, failing the test at the deadline.
async fn wait_until(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_all_up(fixture: &Fixture) {
    wait_until("db, api and web are up", async || {
        let snapshot = fixture.monitor.snapshot();
        ["db", "api", "web"]
            .iter()
            .all(|s| snapshot.service(s).is_some_and(|s| s.status == Status::Up))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_routes_answer_their_shapes() {
    let fixture = fixture().await;
    wait_all_up(&fixture).await;
    let app = &fixture.app;

    let (status, summary) = get_json(app, "/api/v1/summary").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary["ecosystem"], "test-eco");
    assert_eq!(summary["services"], 4);
    assert_eq!(summary["status"]["up"], 3);
    assert_eq!(summary["status"]["unknown"], 1);
    assert!(summary["counters"]["completed"].as_u64().unwrap() >= 3);

    let (status, services) = get_json(app, "/api/v1/services").await;
    assert_eq!(status, StatusCode::OK);
    let rows = services["services"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["db", "api", "web", "docs"]);
    assert_eq!(rows[0]["status"], "up");
    assert_eq!(rows[0]["ports"], serde_json::json!([15432]));
    assert_eq!(rows[0]["kind"], "service");
    assert_eq!(rows[3]["checked"], false);

    let (status, api) = get_json(app, "/api/v1/services/api").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api["service"]["status"], "up");
    assert_eq!(api["depends_on"], serde_json::json!(["db"]));
    assert_eq!(api["dependencies"], serde_json::json!(["db"]));
    assert_eq!(api["dependents"], serde_json::json!(["web"]));
    assert!(api["uptime"].is_object());
    assert!(api["rollups"]["minute"].is_array());
    wait_until("api's results are stored", async || {
        let (_, api) = get_json(app, "/api/v1/services/api").await;
        !api["recent_results"].as_array().unwrap().is_empty()
    })
    .await;

    let (status, graph) = get_json(app, "/api/v1/graph").await;
    assert_eq!(status, StatusCode::OK);
    assert!(graph.is_object(), "{graph}");
    assert!(graph.to_string().contains("\"api\""));

    let (status, ports) = get_json(app, "/api/v1/ports").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ports.to_string().contains("15432"), "{ports}");

    let (status, _, body) = get(app, "/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));

    let (status, content_type, metrics) = get(app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.contains("openmetrics"), "{content_type}");
    for needle in [
        r#"iza_service_up{service="db",group=""} 1"#,
        r#"iza_service_up{service="docs",group=""} 0"#,
        r#"iza_probe_duration_seconds_count{service="db"}"#,
        r#"iza_probe_results_total{service="db",outcome="up"}"#,
        "iza_monitor_probes_completed_total",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_with_a_code() {
    let fixture = fixture().await;
    let cases: &[(&str, StatusCode, &str, &str)] = &[
        (
            "/api/v1/services/nope",
            StatusCode::NOT_FOUND,
            "unknown-service",
            "`nope`",
        ),
        (
            "/api/v1/events?limit=0",
            StatusCode::BAD_REQUEST,
            "bad-request",
            "`limit`",
        ),
        (
            "/api/v1/events?limit=5000",
            StatusCode::BAD_REQUEST,
            "bad-request",
            "1000",
        ),
        (
            "/api/v1/events?before=abc",
            StatusCode::BAD_REQUEST,
            "bad-request",
            "before",
        ),
        (
            "/api/v1/events?service=nope",
            StatusCode::NOT_FOUND,
            "unknown-service",
            "`nope`",
        ),
        (
            "/api/v1/events?kind=Status%20Changed",
            StatusCode::BAD_REQUEST,
            "bad-request",
            "`Status Changed` is not one",
        ),
        (
            "/api/v1/events?kind=run-failed,",
            StatusCode::BAD_REQUEST,
            "bad-request",
            "`kind`",
        ),
        (
            "/api/v1/nothing",
            StatusCode::NOT_FOUND,
            "no-route",
            "/api/v1/nothing",
        ),
    ];
    for (uri, status, code, mentions) in cases {
        let (got, body) = get_json(&fixture.app, uri).await;
        assert_eq!(got, *status, "{uri}: {body}");
        assert_eq!(body["error"]["code"], *code, "{uri}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{uri}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_paged_newest_first() {
    let fixture = fixture().await;
    let app = &fixture.app;
    // monitor-started and one status change per checked service: at least 4 stored events.
    wait_until("four events are stored", async || {
        let (_, page) = get_json(app, "/api/v1/events?limit=1000").await;
        page["events"].as_array().unwrap().len() >= 4
    })
    .await;
    let (status, first) = get_json(app, "/api/v1/events?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    let events = first["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert!(events[0]["id"].as_i64() > events[1]["id"].as_i64());
    let next = first["next"].as_i64().unwrap();
    assert_eq!(Some(next), events[1]["id"].as_i64());
    let (_, second) = get_json(app, &format!("/api/v1/events?limit=2&before={next}")).await;
    let ids: Vec<i64> = second["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|id| *id < next),
        "{ids:?}"
    );

    let (_, db_events) = get_json(app, "/api/v1/events?service=db").await;
    let db_events = db_events["events"].as_array().unwrap();
    assert!(!db_events.is_empty());
    assert!(db_events.iter().all(|e| e["service"] == "db"));

    // The kind filter is the store's: only those kinds, newest first.
    let (status, started) = get_json(app, "/api/v1/events?kind=monitor-started").await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let started = started["events"].as_array().unwrap();
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0]["kind"], "monitor-started");
    let (_, both) = get_json(app, "/api/v1/events?kind=monitor-started,status-changed").await;
    let both = both["events"].as_array().unwrap();
    assert!(both.len() >= 2, "{both:?}");
    assert!(
        both.iter()
            .all(|e| e["kind"] == "monitor-started" || e["kind"] == "status-changed"),
        "{both:?}"
    );
    let (_, none) = get_json(app, "/api/v1/events?kind=no-such-kind").await;
    assert_eq!(none["events"], serde_json::json!([]));

    let (_, last_page) = get_json(app, "/api/v1/events?limit=1000").await;
    assert!(last_page["next"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_route_and_every_route_answers() {
    let fixture = fixture().await;
    let (status, document) = get_json(&fixture.app, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    // A path with both a GET and a POST route (`/api/v1/runs`) is one entry.
    let routed: std::collections::BTreeSet<&str> = ROUTES
        .iter()
        .chain(ACTION_ROUTES)
        .chain(DELETE_ROUTES)
        .copied()
        .collect();
    assert_eq!(paths.len(), routed.len(), "{:?}", paths.keys());
    for route in ACTION_ROUTES {
        assert!(paths[*route]["post"].is_object(), "{route}");
    }
    for route in DELETE_ROUTES {
        assert!(paths[*route]["delete"].is_object(), "{route}");
    }
    for route in ROUTES {
        assert!(
            paths.contains_key(*route),
            "{route} missing from the OpenAPI document"
        );
        if *route == "/api/v1/events/stream" {
            continue; // Never ends; covered by its own test.
        }
        // Runs and incidents are numbered: none exists in this fixture.
        if route.starts_with("/api/v1/runs/")
            || route.starts_with("/api/v1/incidents/")
            || route.starts_with("/api/v1/alerts/")
        {
            let (status, _, body) = get(&fixture.app, &route.replace("{id}", "1")).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{route}: {body}");
            assert!(body.contains(r#""code":"unknown-"#), "{route}: {body}");
            let (status, _, body) = get(&fixture.app, &route.replace("{id}", "db")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{route}: {body}");
            assert!(body.contains(r#""code":"bad-request""#), "{route}: {body}");
            continue;
        }
        let uri = route.replace("{id}", "db");
        let (status, _, body) = get(&fixture.app, &uri).await;
        assert!(
            !body.contains(r#""code":"no-route""#),
            "{route} is not routed: {body}"
        );
        // A screenshot is named by a run id and a file name (tests/artifacts.rs has some).
        if route.contains("/artifacts/") {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{route}: {body}");
            continue;
        }
        // The fixture declares no business figures (tests/figures.rs has some) and no
        // workflow engine (crates/iza/tests/workflows_cli.rs follows one).
        if route.contains("/figures/") || route.contains("/workflows/") {
            assert_eq!(status, StatusCode::NOT_FOUND, "{route}: {body}");
            assert!(body.contains(r#""code":"unknown-"#), "{route}: {body}");
            continue;
        }
        // The audit log is for the admin token only (crates/iza/tests/mcp.rs reads it).
        if *route == "/api/v1/audit" {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{route}: {body}");
            continue;
        }
        // This server supervises nothing (tests/processes.rs has one that does).
        if route.contains("{id}/process") || route.contains("/logs") {
            assert_eq!(status, StatusCode::CONFLICT, "{route}: {body}");
            assert!(body.contains("no-supervisor"), "{route}: {body}");
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
    }
}

/// Reads server-sent events from a body, one `(event, id, data)` at a time.
struct SseReader {
    body: axum::body::BodyDataStream,
    buffer: String,
}

impl SseReader {
    async fn next(&mut self) -> (String, Option<String>, String) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut event = String::from("message");
                let (mut id, mut data) = (None, String::new());
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if frame.lines().all(|l| l.starts_with(':')) {
                    continue; // keep-alive comment
                }
                return (event, id, data);
            }
            let chunk = tokio::time::timeout(DEADLINE, self.body.next())
                .await
                .expect("timed out reading the event stream")
                .expect("the event stream ended")
                .unwrap();
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_are_shown_with_the_engine_state() {
    let fixture = fixture().await;
    wait_until("the Docker engine to be found unreachable", async || {
        let (_, docker) = get_json(&fixture.app, "/api/v1/docker").await;
        docker["engine"]["state"] == "unreachable"
    })
    .await;
    let (status, docker) = get_json(&fixture.app, "/api/v1/docker").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        docker["engine"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("docker.sock")),
        "{docker:#}"
    );
    assert_eq!(docker["containers"], serde_json::json!({ "db": null }));
    let (_, summary) = get_json(&fixture.app, "/api/v1/summary").await;
    assert_eq!(summary["docker"]["services"], 1);
    assert_eq!(summary["docker"]["engine"]["state"], "unreachable");
    let (_, db) = get_json(&fixture.app, "/api/v1/services/db").await;
    assert_eq!(db["docker"]["reference"], "db-container:5432");
    assert_eq!(db["docker"]["container"], Value::Null);
    let (_, api) = get_json(&fixture.app, "/api/v1/services/api").await;
    assert_eq!(
        api["docker"],
        Value::Null,
        "no reference, no docker section"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_is_gzipped_for_clients_that_accept_it() {
    use std::io::Read as _;
    let fixture = fixture().await;
    wait_all_up(&fixture).await;
    let fetch = async |accept: &[(&str, &str)]| {
        let (status, headers, body) = get_with(&fixture.app, "/api/v1/services", accept).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["vary"], "accept-encoding");
        let encoding = headers
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_owned());
        (encoding, body)
    };
    let (encoding, plain) = fetch(&[]).await;
    assert_eq!(encoding, None);
    let (encoding, gzip) = fetch(&[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gzip[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    // The same listing (a rebuild may fall between the two requests: compare the rows' ids).
    let ids = |body: &[u8]| -> Vec<String> {
        let listing: Value = serde_json::from_slice(body).unwrap();
        listing["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&plain), ["db", "api", "web", "docs"]);
    assert_eq!(ids(&unzipped), ids(&plain));
}

/// An event id, `EPOCH-SEQ`, split.
fn epoch_and_seq(id: &str) -> (u64, u64) {
    let (epoch, seq) = id.split_once('-').expect("an id is EPOCH-SEQ");
    (epoch.parse().unwrap(), seq.parse().unwrap())
}

/// Opens the event stream, with a `Last-Event-ID` when given.
async fn open_stream(fixture: &Fixture, last_event_id: Option<&str>) -> SseReader {
    use tower::ServiceExt;
    let mut request = Request::get("/api/v1/events/stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = fixture
        .app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    SseReader {
        body: response.into_body().into_data_stream(),
        buffer: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_starts_with_a_snapshot_then_follows_changes() {
    let fixture = fixture().await;
    wait_all_up(&fixture).await;
    let mut reader = open_stream(&fixture, None).await;
    let (event, id, data) = reader.next().await;
    assert_eq!(event, "snapshot");
    let snapshot: Value = serde_json::from_str(&data).unwrap();
    let (epoch, seq) = epoch_and_seq(&id.unwrap());
    assert_eq!(Some(seq), snapshot["seq"].as_u64());
    assert_eq!(snapshot["services"].as_array().unwrap().len(), 4);
    let mut last_seq = snapshot["seq"].as_u64().unwrap();

    fixture.db_up.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + DEADLINE;
    loop {
        assert!(Instant::now() < deadline, "no status-changed event for db");
        let (event, id, data) = reader.next().await;
        let body: Value = serde_json::from_str(&data).unwrap();
        if event == "snapshot" {
            last_seq = body["seq"].as_u64().unwrap();
            continue;
        }
        let (their_epoch, seq) = epoch_and_seq(&id.unwrap());
        assert_eq!(their_epoch, epoch);
        assert_eq!(seq, last_seq + 1, "events follow each other");
        last_seq = seq;
        assert_eq!(body["kind"], event);
        if event == "status-changed" && body["service"] == "db" {
            assert_eq!(body["to"]["status"], "down");
            break;
        }
    }

    // Reconnecting with the id of an event seen before: the events after it come first, in
    // order, with no snapshot (they are all still held).
    let resume_from = last_seq - 2;
    let mut again = open_stream(&fixture, Some(&format!("{epoch}-{resume_from}"))).await;
    for expected in resume_from + 1..=last_seq {
        let (event, id, _) = again.next().await;
        assert_ne!(event, "snapshot", "replayed events, not a snapshot");
        assert_eq!(epoch_and_seq(&id.unwrap()), (epoch, expected));
    }
    // An id of another epoch (a previous run of the server) or garbage: a fresh snapshot.
    for stale in [format!("{}-{resume_from}", epoch + 1), "garbage".to_owned()] {
        let mut fresh = open_stream(&fixture, Some(&stale)).await;
        assert_eq!(fresh.next().await.0, "snapshot", "after `{stale}`");
    }
}

/// A store whose reads fail and whose writes succeed: the server must answer 500 without
/// leaking what the store said.
struct BrokenReads;

#[async_trait::async_trait]
impl Store for BrokenReads {
    async fn append_results(
        &self,
        _: &[iza_store::ResultRecord],
    ) -> Result<(), iza_store::StoreError> {
        Ok(())
    }
    async fn append_events(
        &self,
        events: Vec<iza_store::EventRecord>,
    ) -> Result<Vec<iza_store::EventRecord>, iza_store::StoreError> {
        Ok(events)
    }
    async fn recent_results(
        &self,
        _: &str,
        _: usize,
    ) -> Result<Vec<iza_store::ResultRecord>, iza_store::StoreError> {
        Err(iza_store::StoreError::Query("secret disk detail".into()))
    }
    async fn latest_results(&self) -> Result<Vec<iza_store::ResultRecord>, iza_store::StoreError> {
        Ok(Vec::new())
    }
    async fn rollups(
        &self,
        _: &str,
        _: iza_store::Resolution,
        _: i64,
    ) -> Result<Vec<iza_store::Rollup>, iza_store::StoreError> {
        Err(iza_store::StoreError::Query("secret disk detail".into()))
    }
    async fn uptime(&self, _: &str, _: i64) -> Result<iza_store::Uptime, iza_store::StoreError> {
        Err(iza_store::StoreError::Query("secret disk detail".into()))
    }
    async fn events(
        &self,
        _: &iza_store::EventQuery,
    ) -> Result<Vec<iza_store::EventRecord>, iza_store::StoreError> {
        Err(iza_store::StoreError::Query("secret disk detail".into()))
    }
    async fn maintain(&self, _: i64, _: iza_store::Retention) -> Result<(), iza_store::StoreError> {
        Ok(())
    }
}

/// A catalog of `count` services without checks, served over `store`.
async fn unchecked_app(count: usize, store: Arc<dyn Store>) -> Router {
    let mut text = String::from("version = 1\n[ecosystem]\nname = \"big\"\n");
    for i in 0..count {
        text.push_str(&format!("[services.s{i}]\n"));
    }
    app_of(text, store).await
}

/// The manifest `text` (valid, checks optional) served over `store`.
async fn app_of(text: String, store: Arc<dyn Store>) -> Router {
    let source = SourceFile::new("iza.toml", text, Syntax::Toml);
    let checked = iza_catalog::check(&source);
    let catalog = Arc::new(
        checked
            .catalog
            .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics)),
    );
    let ports = PortMap::from_manifest(&iza_catalog::parse_raw(&source).unwrap());
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
    router(AppState::new(
        monitor,
        store,
        CatalogView::new(catalog, &ports),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_failures_are_internal_errors_without_detail() {
    let app = unchecked_app(2, Arc::new(BrokenReads)).await;
    for uri in ["/api/v1/services/s0", "/api/v1/events"] {
        let (status, body) = get_json(&app, uri).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        assert_eq!(body["error"]["code"], "internal");
        assert_eq!(body["error"]["message"], "internal error");
        assert!(!body.to_string().contains("secret"));
    }
    // The live views do not need the store.
    let (status, _) = get_json(&app, "/api/v1/services").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_services_are_listed_from_the_snapshot() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let app = unchecked_app(10_000, store).await;
    let (status, body) = get_json(&app, "/api/v1/services").await;
    assert_eq!(status, StatusCode::OK);
    let rows = body["services"].as_array().unwrap();
    assert_eq!(rows.len(), 10_000);
    assert_eq!(rows[9_999]["id"], "s9999");
    let (_, summary) = get_json(&app, "/api/v1/summary").await;
    assert_eq!(summary["status"]["unknown"], 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_has_the_figures_and_a_service_its_agents() {
    let text = r#"version = 1
[ecosystem]
name = "figures"
claims = [
  { label = "Total services", value = "40+", counts = "services" },
  { label = "Agents", value = "12" },
]
[groups.core]
name = "Core"
[services.db]
group = "core"
port = 5432
docker = "postgres:16"
[services.hub]
kind = "mcp-server"
port = 8300
[services.flow]
kind = "workflow-engine"
[agents.boss]
name = "Boss"
tier = 1
[agents.keeper]
name = "Keeper"
tier = 2
reports_to = "boss"
groups = ["core"]
services = ["hub"]
[[agents.keeper.tasks]]
name = "vacuum"
priority = "high"
every = "1h"
[[agents.keeper.tasks]]
name = "report"
[[agents.boss.tasks]]
name = "review"
"#;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let app = app_of(text.to_owned(), store).await;

    let (status, summary) = get_json(&app, "/api/v1/summary").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        summary["figures"],
        serde_json::json!({
            "services": 3, "ports": 2, "docker_services": 1, "mcp_servers": 1,
            "workflow_engines": 1, "agents": 2, "tasks": 3, "groups": 1,
        })
    );
    assert_eq!(summary["claims"][0]["counts"], "services");
    assert_eq!(summary["claims"][0]["mapped"], "3");
    assert_eq!(summary["claims"][1]["counts"], Value::Null);

    // An agent watches a service through its group or by name; its tasks come along.
    let keeper = Some(("keeper", ["vacuum", "report"]));
    let cases = [("db", keeper), ("hub", keeper), ("flow", None)];
    for (service, expected) in cases {
        let (status, body) = get_json(&app, &format!("/api/v1/services/{service}")).await;
        assert_eq!(status, StatusCode::OK, "{service}");
        let list = body["agents"].as_array().unwrap();
        let Some((agent, tasks)) = expected else {
            assert!(list.is_empty(), "{service}: {list:?}");
            continue;
        };
        assert_eq!(list.len(), 1, "{service}: {list:?}");
        assert_eq!(list[0]["id"], agent);
        assert_eq!(list[0]["tier"], 2);
        assert_eq!(list[0]["reports_to"], "boss");
        let got: Vec<&str> = list[0]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(got, tasks, "{service}");
    }
    let (_, db) = get_json(&app, "/api/v1/services/db").await;
    assert_eq!(db["agents"][0]["tasks"][0]["priority"], "high");
    assert_eq!(
        db["agents"][0]["tasks"][0]["schedule"],
        serde_json::json!({ "every": "1h" })
    );
}

/// `GET uri` with extra request headers; the status, the response headers and the body.
async fn get_with(
    app: &Router,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    use tower::ServiceExt;
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_its_assets_are_served_with_their_headers() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let app = unchecked_app(1, store).await;

    let (status, headers, body) = get_with(&app, "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let page = String::from_utf8(body).unwrap();
    assert!(!page.contains("<script>"), "no inline script");

    // Every file the page names is served, with its type.
    let mut named = Vec::new();
    for piece in page.split("\"/assets/").skip(1) {
        named.push(format!("/assets/{}", piece.split('"').next().unwrap()));
    }
    assert!(named.len() >= 4, "{named:?}");
    for path in &named {
        let (status, headers, body) = get_with(&app, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!body.is_empty(), "{path}");
        let expected = match path.rsplit('.').next().unwrap() {
            "js" => "text/javascript",
            "css" => "text/css",
            "svg" => "image/svg+xml",
            other => panic!("unexpected asset type {other}"),
        };
        let content_type = headers["content-type"].to_str().unwrap();
        assert!(content_type.starts_with(expected), "{path}: {content_type}");
    }

    // Revalidation: the same ETag gives 304 without a body; another one the file.
    let (_, headers, _) = get_with(&app, "/assets/js/app.js", &[]).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let cases = [
        (etag.as_str(), StatusCode::NOT_MODIFIED),
        ("\"0000\"", StatusCode::OK),
        ("*", StatusCode::NOT_MODIFIED),
    ];
    for (tag, expected) in cases {
        let (status, headers, body) =
            get_with(&app, "/assets/js/app.js", &[("if-none-match", tag)]).await;
        assert_eq!(status, expected, "If-None-Match: {tag}");
        assert_eq!(body.is_empty(), expected == StatusCode::NOT_MODIFIED);
        assert_eq!(headers["etag"].to_str().unwrap(), etag);
    }

    for route in DASHBOARD_ROUTES {
        let uri = route.replace("{*path}", "app.css");
        let (status, _, _) = get_with(&app, &uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{route}");
    }

    // An unknown asset is the API's JSON 404; the API is untouched.
    for path in ["/assets/nope.js", "/assets/../Cargo.toml", "/ui"] {
        let (status, body) = get_json(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"]["code"], "no-route", "{path}");
    }
    let (status, _) = get_json(&app, "/api/v1/summary").await;
    assert_eq!(status, StatusCode::OK);
}

/// `docs/api.md`: no answer of `GET /api/v1/services` shows a state older than this.
const STALENESS_BOUND: Duration = Duration::from_millis(500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_is_never_older_than_the_bound() {
    let fixture = fixture().await;
    wait_all_up(&fixture).await;
    let status_of = |listing: &Value, id: &str| -> String {
        listing["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    // A body is built and kept while `db` is up.
    let (_, before) = get_json(&fixture.app, "/api/v1/services").await;
    assert_eq!(status_of(&before, "db"), "up");
    fixture.db_up.store(false, Ordering::SeqCst);
    wait_until("the monitor sees db down", async || {
        fixture
            .monitor
            .snapshot()
            .service("db")
            .is_some_and(|s| s.status == Status::Down)
    })
    .await;
    let changed = Instant::now();
    // The state under test is the age of the kept body: let it pass the bound.
    tokio::time::sleep_until(changed + STALENESS_BOUND + Duration::from_millis(100)).await;
    let (status, after) = get_json(&fixture.app, "/api/v1/services").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_of(&after, "db"), "down", "{after:#}");
    assert_eq!(status_of(&after, "api"), "impacted", "{after:#}");
    // The gzipped body is the same fresh one.
    use std::io::Read as _;
    let (_, _, gzip) = get_with(
        &fixture.app,
        "/api/v1/services",
        &[("accept-encoding", "gzip")],
    )
    .await;
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gzip[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    let unzipped: Value = serde_json::from_slice(&unzipped).unwrap();
    assert_eq!(status_of(&unzipped, "db"), "down");
}

/// Serves `app` on a free 127.0.0.1 port under `limits`; its address.
async fn listen(app: Router, limits: iza_server::Limits) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(iza_server::serve(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
    address
}

/// Sends a keep-alive `GET path` and reads the answer's head (the body of `/healthz` is 3
/// bytes, read with it).
async fn request(stream: &mut tokio::net::TcpStream, path: &str) -> String {
    let head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    read_some(stream).await.expect("an answer")
}

/// What the server sends next; `None` once it closed the connection.
async fn read_some(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buffer = [0u8; 8192];
    let n = tokio::time::timeout(DEADLINE, stream.read(&mut buffer))
        .await
        .expect("the server neither answered nor closed")
        .unwrap_or(0);
    (n > 0).then(|| String::from_utf8_lossy(&buffer[..n]).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_request_head_is_closed_at_the_header_timeout() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let limits = iza_server::Limits {
        header_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(60),
        max_connections: 8,
    };
    let address = listen(unchecked_app(1, store).await, limits).await;
    let opened = Instant::now();
    let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    // A byte now and then does not extend it.
    slow.write_all(b"a").await.unwrap();
    assert_eq!(read_some(&mut slow).await, None, "closed without an answer");
    let after = opened.elapsed();
    assert!(after >= Duration::from_millis(300), "{after:?}");
    assert!(after < Duration::from_secs(10), "{after:?}");
    // A connection that sends nothing at all is closed the same way; the server still serves.
    let mut silent = tokio::net::TcpStream::connect(address).await.unwrap();
    assert_eq!(read_some(&mut silent).await, None);
    let mut fine = tokio::net::TcpStream::connect(address).await.unwrap();
    assert!(
        request(&mut fine, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_and_an_event_stream_is_not() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let limits = iza_server::Limits {
        header_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_millis(300),
        max_connections: 8,
    };
    // No checks: after its snapshot the stream sends nothing for 15 s (the keep-alive).
    let address = listen(unchecked_app(1, store).await, limits).await;
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = request(&mut stream, "/api/v1/events/stream").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut received = head;
    while !received.contains("event: snapshot") {
        received.push_str(&read_some(&mut stream).await.expect("the snapshot"));
    }
    // A keep-alive connection opened after the stream, idle after one answer, is closed at the
    // idle timeout...
    let mut idle = tokio::net::TcpStream::connect(address).await.unwrap();
    assert!(
        request(&mut idle, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let answered = Instant::now();
    assert_eq!(
        read_some(&mut idle).await,
        None,
        "the idle connection is closed"
    );
    assert!(answered.elapsed() >= Duration::from_millis(250));
    // ...while the stream, idle longer, is still open: a read waits instead of ending.
    let mut byte = [0u8; 1];
    let still_open = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut byte)).await;
    assert!(
        still_open.is_err(),
        "the event stream was closed: {still_open:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let limits = iza_server::Limits {
        header_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        max_connections: 2,
    };
    let address = listen(unchecked_app(1, store).await, limits).await;
    // Two connections take both slots (each answered once, so surely accepted).
    let mut first = tokio::net::TcpStream::connect(address).await.unwrap();
    assert!(
        request(&mut first, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let mut second = tokio::net::TcpStream::connect(address).await.unwrap();
    assert!(
        request(&mut second, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    // A third connects (the system queues it) but is not served while both are open.
    let mut third = tokio::net::TcpStream::connect(address).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 1024];
    let waiting = tokio::time::timeout(Duration::from_millis(300), third.read(&mut buffer)).await;
    assert!(waiting.is_err(), "served beyond the cap: {waiting:?}");
    // Once one closes, the queued connection is served.
    drop(first);
    let answer = read_some(&mut third).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Many more, over the cap, do not bring it down: each is served in turn.
    drop(second);
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut answer = String::new();
            tokio::time::timeout(DEADLINE, stream.read_to_string(&mut answer))
                .await
                .expect("served in time")
                .unwrap();
            answer
        }));
    }
    drop(third);
    for client in clients {
        assert!(client.await.unwrap().starts_with("HTTP/1.1 200"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_methods_are_the_routers_and_others_answer_405_first() {
    use tower::ServiceExt;
    let fixture = fixture().await;
    let (_, document) = get_json(&fixture.app, "/api/v1/openapi.json").await;
    let methods = ["get", "post", "put", "patch", "delete"];
    for (path, item) in document["paths"].as_object().unwrap() {
        let documented: Vec<&str> = methods
            .iter()
            .copied()
            .filter(|m| item.get(*m).is_some())
            .collect();
        assert!(!documented.is_empty(), "{path}");
        for method in methods {
            if path.ends_with("/stream") && method == "get" {
                continue; // Never ends; covered by their own tests.
            }
            // No token: a wrong method must be a 405 all the same.
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(path.replace("{id}", "db"))
                .body(Body::empty())
                .unwrap();
            let response = fixture.app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let allow = response
                .headers()
                .get("allow")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8_lossy(&body);
            if documented.contains(&method) {
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                assert!(
                    !body.contains(r#""code":"no-route""#),
                    "{method} {path} is not routed"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}: {body}"
                );
                assert!(body.contains(r#""code":"method-not-allowed""#), "{body}");
                let allow = allow.expect("an Allow header");
                for documented in &documented {
                    assert!(
                        allow.contains(&documented.to_uppercase()),
                        "{path}: Allow {allow}"
                    );
                }
            }
        }
    }
    // An id that is not UTF-8 once decoded is a JSON 400, like every other bad request.
    let (status, body) = get_json(&fixture.app, "/api/v1/services/%FF").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "bad-request");
    // Event id bounds are ids: 0 or more.
    for uri in ["/api/v1/events?before=-1", "/api/v1/events?after=-5"] {
        let (status, body) = get_json(&fixture.app, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("event id")
        );
    }
    let (status, _) = get_json(&fixture.app, "/api/v1/events?before=9223372036854775808").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_counts_in_the_cap() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let limits = iza_server::Limits {
        header_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        max_connections: 1,
    };
    let address = listen(unchecked_app(1, store).await, limits).await;
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut received = request(&mut stream, "/api/v1/events/stream").await;
    while !received.contains("event: snapshot") {
        received.push_str(&read_some(&mut stream).await.expect("the snapshot"));
    }
    // The stream holds the only slot: another client waits...
    let mut other = tokio::net::TcpStream::connect(address).await.unwrap();
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 1024];
    let waiting = tokio::time::timeout(Duration::from_millis(300), other.read(&mut buffer)).await;
    assert!(waiting.is_err(), "served beside the stream: {waiting:?}");
    // ...until the stream's client goes away.
    drop(stream);
    let answer = read_some(&mut other).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impact_manifest_and_report_come_from_the_catalog_and_the_live_state() {
    let fixture = fixture().await;
    wait_all_up(&fixture).await;
    let (status, impact) = get_json(&fixture.app, "/api/v1/services/db/impact").await;
    assert_eq!(status, StatusCode::OK, "{impact}");
    let impacted: Vec<(&str, bool)> = impact["impacted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["direct"].as_bool().unwrap()))
        .collect();
    assert_eq!(impacted, [("api", true), ("web", false)], "{impact}");
    assert_eq!(impact["status"], "up", "{impact}");
    assert!(impact["summary"].as_str().unwrap().contains("2 services"));
    let (status, nothing) = get_json(&fixture.app, "/api/v1/services/docs/impact").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(nothing["impacted"], serde_json::json!([]));
    let (status, unknown) = get_json(&fixture.app, "/api/v1/services/nope/impact").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");

    let (status, manifest) = get_json(&fixture.app, "/api/v1/manifest").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(manifest["ecosystem"]["name"], "test-eco", "{manifest}");
    assert!(manifest["services"]["api"].is_object(), "{manifest}");

    let (status, content_type, report) = get(&fixture.app, "/api/v1/report").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/markdown"), "{content_type}");
    assert!(report.contains("test-eco"), "{report}");
}
