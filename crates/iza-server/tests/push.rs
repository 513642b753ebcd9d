//! Results pushed in over HTTP (`POST /api/v1/services/{id}/results`): who may push (the
//! push token of that service only, on its own results), what a bad body gets (400 with the
//! reason), and that a push updates the service like a probe result; a `push` check (dead
//! man's switch) goes down when the pushes stop and up when they resume. Time is real but
//! short (`expect_every = "300ms"`), and every wait is a poll with a deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use iza_catalog::export::ports::PortMap;
use iza_catalog::{SourceFile, Syntax};
use iza_probe::{Prober, ProberOptions};
use iza_runtime::{EventKind, Monitor, MonitorOptions, Status, Update};
use iza_server::{AppState, Auth, CatalogView, Token, router};
use iza_store::{SqliteStore, Store};
use serde_json::Value;
use tower::ServiceExt;

const MANIFEST: &str = r#"
version = 1
[services.job]
check = { push = true, expect_every = "300ms" }
[services.plain]
[services.other]
check = { push = true, expect_every = "1h" }
"#;

struct App {
    router: Router,
    monitor: Arc<Monitor>,
    store: Arc<dyn Store>,
    admin: Token,
    push: Token,
}

async fn app() -> App {
    let source = SourceFile::new("iza.toml", MANIFEST.to_owned(), Syntax::Toml);
    let catalog = Arc::new(iza_catalog::check(&source).catalog.unwrap());
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
    let (admin, push) = (Token::generate().unwrap(), Token::generate().unwrap());
    let auth = Auth::with_token(admin.clone()).with_push_token("job", push.clone());
    let state = AppState::new(
        monitor.clone(),
        store.clone(),
        CatalogView::new(catalog, &PortMap::default()),
    )
    .with_auth(auth);
    App {
        router: router(state),
        monitor,
        store,
        admin,
        push,
    }
}

async fn post(app: &Router, uri: &str, token: Option<&Token>, body: &str) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {}", token.as_str()));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn status_of(monitor: &Monitor, service: &str) -> Status {
    monitor
        .snapshot()
        .services
        .iter()
        .find(|s| s.service == service)
        .unwrap()
        .status
        .clone()
}

/// Polls until `service` shows `want`, or fails after `within`.
async fn wait_status(monitor: &Monitor, service: &str, want: &Status, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let now = status_of(monitor, service);
        if now == *want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "`{service}` is {now:?}, not {want:?}, after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_token_pushes_its_own_service_results_and_nothing_else() {
    let app = app().await;
    let up = r#"{"up": true}"#;
    let (status, body) = post(&app.router, "/api/v1/services/job/results", None, up).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = post(
        &app.router,
        "/api/v1/services/job/results",
        Some(&app.push),
        up,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["service"], "job");
    // Another service's results, or any other action: the push token is refused.
    for uri in [
        "/api/v1/services/other/results",
        "/api/v1/services/job/start",
        "/api/v1/runs",
    ] {
        let (status, body) = post(&app.router, uri, Some(&app.push), up).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}: {body}");
    }
    // The admin token pushes anywhere.
    let (status, body) = post(
        &app.router,
        "/api/v1/services/other/results",
        Some(&app.admin),
        up,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_results_are_refused_with_the_reason() {
    let app = app().await;
    let cases = [
        ("not json", "not a result"),
        ("{}", "neither `up` nor `status`"),
        (r#"{"up": true, "colour": "red"}"#, "unknown field `colour`"),
        (
            r#"{"status": "sideways"}"#,
            "one of `up`, `down`, `degraded`",
        ),
        (
            r#"{"up": false, "status": "up"}"#,
            "`up` is false but `status` is `up`",
        ),
        (r#"{"up": true, "latency_ms": -3}"#, "`latency_ms` is -3"),
        (r#"{"up": false, "degraded": true}"#, "not both"),
    ];
    for (body, reason) in cases {
        let (status, answer) = post(
            &app.router,
            "/api/v1/services/job/results",
            Some(&app.admin),
            body,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(reason), "{body}: {message}");
    }
    let long = format!(r#"{{"up": true, "message": "{}"}}"#, "x".repeat(5000));
    let (status, _) = post(
        &app.router,
        "/api/v1/services/job/results",
        Some(&app.admin),
        &long,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, answer) = post(
        &app.router,
        "/api/v1/services/nope/results",
        Some(&app.admin),
        r#"{"up": true}"#,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (status, answer) = post(
        &app.router,
        "/api/v1/services/plain/results",
        Some(&app.admin),
        r#"{"up": true}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("has no check"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_updates_the_service_and_its_history_and_missing_pushes_turn_it_down() {
    let app = app().await;
    let mut events = app.monitor.subscribe();
    let uri = "/api/v1/services/job/results";
    let (status, body) = post(
        &app.router,
        uri,
        Some(&app.push),
        r#"{"up": false, "message": "backup failed: disk full", "latency_ms": 12}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["outcome"], "down");
    assert_eq!(body["result"]["message"], "backup failed: disk full");
    assert_eq!(body["status"]["status"], "down", "{body}");
    assert_eq!(status_of(&app.monitor, "job"), Status::Down);

    let (status, body) = post(
        &app.router,
        uri,
        Some(&app.push),
        r#"{"status": "up", "latency_ms": 7.5}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(status_of(&app.monitor, "job"), Status::Up);

    // The history is stored like a probe's.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let latest = app.store.latest_results().await.unwrap();
        if let Some(result) = latest.iter().find(|r| r.service == "job")
            && result.up
        {
            assert!((result.latency_ms - 7.5).abs() < 0.01, "{result:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no stored result: {latest:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The transitions went on the bus.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.len() < 2 && Instant::now() < deadline {
        if let Ok(Some(Update::Event(event))) =
            tokio::time::timeout(Duration::from_millis(200), events.recv()).await
            && let EventKind::StatusChanged { service, to, .. } = &event.kind
            && service == "job"
        {
            seen.push(to.clone());
        }
    }
    assert_eq!(seen, [Status::Down, Status::Up]);

    // The pushes stop: down within expect_every (300ms), with the reason.
    wait_status(&app.monitor, "job", &Status::Down, Duration::from_secs(5)).await;
    let latest = app
        .monitor
        .snapshot()
        .services
        .iter()
        .find(|s| s.service == "job")
        .cloned()
        .unwrap();
    let text = serde_json::to_string(&latest).unwrap();
    assert!(text.contains("no push within 300ms"), "{text}");
    // They resume: up at once.
    let (status, _) = post(&app.router, uri, Some(&app.push), r#"{"up": true}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_of(&app.monitor, "job"), Status::Up);
    // And down again when they stop again.
    wait_status(&app.monitor, "job", &Status::Down, Duration::from_secs(5)).await;
    app.monitor.shutdown(Duration::from_secs(1)).await;
}
