//! The routes of the supervised processes against a real supervisor running real child
//! processes: the list, one process, its logs (a tail and the live stream), stop, start and
//! restart, and the errors of a service without a `command`, an unknown one and a bad `tail`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use iza_catalog::export::ports::PortMap;
use iza_catalog::{SourceFile, Syntax};
use iza_probe::{Prober, ProberOptions};
use iza_runtime::supervisor::{Launch, LogOptions};
use iza_runtime::{Monitor, MonitorOptions, Supervisor, SupervisorOptions};
use iza_server::{AppState, Auth, CatalogView, Token, router};
use iza_store::{SqliteStore, Store};
use serde_json::Value;
use tower::ServiceExt;

const DEADLINE: Duration = Duration::from_secs(20);
const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Fixture {
    app: Router,
    supervisor: Arc<Supervisor>,
}

/// `talker` prints a greeting, then a line every 100 ms; `docs` has no command.
async fn fixture(dir: &std::path::Path) -> Fixture {
    let text = r#"version = 1
[services.talker]
command = ["sh", "-c", "echo hello from talker; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done"]
stop = { grace = "2s" }
[services.docs]
"#;
    let source = SourceFile::new("iza.toml", text.to_owned(), Syntax::Toml);
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
    let supervisor = Arc::new(Supervisor::up(
        &catalog,
        monitor.clone(),
        SupervisorOptions {
            launch: Launch {
                base_dir: dir.to_path_buf(),
                self_exe: None,
                launcher: Default::default(),
            },
            logs: LogOptions {
                dir: Some(dir.join("logs")),
                ..LogOptions::default()
            },
        },
    ));
    let state = AppState::new(
        monitor,
        store,
        CatalogView::new(catalog, &PortMap::default()),
    )
    .with_auth(Auth::with_token(Token::new(TOKEN).unwrap()));
    state.set_supervisor(supervisor.clone());
    Fixture {
        app: router(state),
        supervisor,
    }
}

/// Calls the API, with the token on the calls that change something.
async fn call(app: &Router, method: Method, uri: &str) -> (StatusCode, Value) {
    let token = (method == Method::POST).then_some(TOKEN);
    call_with(app, method, uri, token).await
}

async fn call_with(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn state_of(app: &Router) -> String {
    let (status, process) = call(app, Method::GET, "/api/v1/services/talker/process").await;
    assert_eq!(status, StatusCode::OK, "{process:#}");
    process["state"].as_str().unwrap().to_owned()
}

async fn wait_for_state(app: &Router, wanted: &[&str]) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let state = state_of(app).await;
        if wanted.contains(&state.as_str()) {
            return;
        }
        assert!(Instant::now() < deadline, "still `{state}`, not {wanted:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_are_listed_logged_stopped_started_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture(dir.path()).await;
    let app = &fixture.app;
    // Without a check, a started process is ready at once.
    wait_for_state(app, &["running", "ready"]).await;

    let (status, list) = call(app, Method::GET, "/api/v1/processes").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["supervised"], true);
    let ids: Vec<&str> = list["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["talker"], "only services with a command");
    let first_pid = list["processes"][0]["pid"].as_u64().expect("a pid");

    // The tail of its output.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, logs) = call(app, Method::GET, "/api/v1/services/talker/logs?tail=1000").await;
        assert_eq!(status, StatusCode::OK);
        let lines = logs["lines"].as_array().unwrap();
        if lines.len() >= 3 {
            assert_eq!(lines[0]["text"], "hello from talker");
            assert_eq!(lines[0]["stream"], "stdout");
            assert_eq!(lines[1]["text"], "tick 1");
            let (_, two) = call(app, Method::GET, "/api/v1/services/talker/logs?tail=2").await;
            assert_eq!(two["lines"].as_array().unwrap().len(), 2);
            break;
        }
        assert!(Instant::now() < deadline, "no output: {logs:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The live stream: the tail first, then new lines as they are printed.
    let response = app
        .clone()
        .oneshot(
            Request::get("/api/v1/services/talker/logs/stream?tail=1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body().into_data_stream();
    let mut seen = String::new();
    let deadline = Instant::now() + DEADLINE;
    while seen.matches("event: log").count() < 3 {
        use futures_util::StreamExt as _;
        let chunk = tokio::time::timeout(deadline - Instant::now(), body.next())
            .await
            .expect("the stream went quiet")
            .expect("the stream ended")
            .unwrap();
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let seqs: Vec<u64> = seen
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|id| id.parse().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "lines in order, none repeated: {seqs:?}"
    );

    // Without the token nothing changes.
    let (status, refused) =
        call_with(app, Method::POST, "/api/v1/services/talker/stop", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused:#}");
    let (_, still) = call(app, Method::GET, "/api/v1/services/talker/process").await;
    assert_eq!(
        still["pid"].as_u64(),
        Some(first_pid),
        "a refused call changes nothing"
    );

    // Stop: answered once stopped, and it stays stopped.
    let (status, stopped) = call(app, Method::POST, "/api/v1/services/talker/stop").await;
    assert_eq!(status, StatusCode::OK, "{stopped:#}");
    assert_eq!(stopped["state"], "stopped");
    assert!(
        !std::path::Path::new(&format!("/proc/{first_pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{first_pid}/stat"))
                .is_ok_and(|s| s.contains(") Z ")),
        "the process is gone"
    );
    // Start, then restart: each time a new process.
    let (status, started) = call(app, Method::POST, "/api/v1/services/talker/start").await;
    assert_eq!(status, StatusCode::OK, "{started:#}");
    wait_for_state(app, &["running", "ready"]).await;
    let (_, before) = call(app, Method::GET, "/api/v1/services/talker/process").await;
    let (status, restarted) = call(app, Method::POST, "/api/v1/services/talker/restart").await;
    assert_eq!(status, StatusCode::OK, "{restarted:#}");
    wait_for_state(app, &["running", "ready"]).await;
    let (_, after) = call(app, Method::GET, "/api/v1/services/talker/process").await;
    assert_ne!(
        before["pid"], after["pid"],
        "a new process after the restart"
    );
    assert_ne!(after["pid"].as_u64(), Some(first_pid));

    // What cannot be done says why.
    let cases = [
        (
            Method::POST,
            "/api/v1/services/docs/start",
            StatusCode::CONFLICT,
            "not-supervised",
        ),
        (
            Method::GET,
            "/api/v1/services/docs/logs",
            StatusCode::CONFLICT,
            "not-supervised",
        ),
        (
            Method::POST,
            "/api/v1/services/ghost/stop",
            StatusCode::NOT_FOUND,
            "unknown-service",
        ),
        (
            Method::GET,
            "/api/v1/services/talker/logs?tail=many",
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::GET,
            "/api/v1/services/talker/logs?tail=20000",
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
    ];
    for (method, uri, status, code) in cases {
        let (got, body) = call(app, method, uri).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{uri}: {body}"
        );
    }

    let shutdown = fixture.supervisor.shutdown().await;
    assert_eq!(shutdown.stopped, ["talker"]);
}
