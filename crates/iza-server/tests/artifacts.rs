//! What failed browser checks saw, end to end: a real `Monitor` runs a browser check with the
//! real Chromium (`scripts/browser-deps.sh` installs it when missing) against a page that
//! throws, keeps the failed runs in a directory, and the API lists them and serves their
//! screenshots; bad names are 4xx JSON.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use iza_catalog::export::ports::PortMap;
use iza_catalog::{SourceFile, Syntax};
use iza_probe::{Prober, ProberOptions};
use iza_runtime::{Artifacts, Monitor, MonitorOptions};
use iza_server::{AppState, CatalogView, router};
use iza_store::{SqliteStore, Store};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_secs(60);

fn chromium() {
    let program = std::env::var_os(iza_probe::CHROMIUM_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if program.exists() {
        return;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/browser-deps.sh");
    let status = Command::new("bash")
        .arg(script)
        .status()
        .expect("bash runs scripts/browser-deps.sh");
    assert!(status.success(), "scripts/browser-deps.sh failed");
}

/// A page that logs a secret-looking line and throws.
async fn broken_page() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = "<!doctype html><title>Broken</title><p>half</p>\
                    <script>console.error('token', 'tok-very-secret-value'); missing();</script>";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{addr}/")
}

async fn get(app: &Router, uri: &str) -> (StatusCode, String, Vec<u8>) {
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
    (status, content_type, body.to_vec())
}

async fn get_json(app: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, content_type, body) = get(app, uri).await;
    assert!(
        content_type.starts_with("application/json"),
        "{uri}: {content_type}"
    );
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_browser_checks_keep_screenshots_and_console_lines_served_by_the_api() {
    chromium();
    let url = broken_page().await;
    let text = format!(
        r#"version = 1
[ecosystem]
name = "test"
[services.web]
env = {{ API_TOKEN = "tok-very-secret-value" }}
check = {{ browser = "{url}", every = "300ms", timeout = "10s", conditions = ["[PAGE_ERRORS] == 0"] }}
[services.plain]
"#
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
    let dir = tempfile::tempdir().unwrap();
    let monitor = Arc::new(
        Monitor::start(
            catalog.clone(),
            Arc::new(Prober::new(ProberOptions::default())),
            store.clone(),
            MonitorOptions {
                seed: Some(7),
                first_probe_within: Some(Duration::from_millis(50)),
                artifacts: Some(Arc::new(Artifacts::new(dir.path(), 2))),
                ..MonitorOptions::default()
            },
        )
        .await
        .unwrap(),
    );
    let app = router(AppState::new(
        monitor.clone(),
        store,
        CatalogView::new(catalog, &ports),
    ));

    // Wait until more runs failed than are kept: only the last two remain.
    let started = Instant::now();
    let list = loop {
        let (status, list) = get_json(&app, "/api/v1/services/web/artifacts").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let on_disk = std::fs::read_dir(dir.path().join("web"))
            .map(|d| d.count())
            .unwrap_or(0);
        if list["runs"].as_array().unwrap().len() == 2 && on_disk == 2 {
            let probes = monitor.counters().completed;
            if probes >= 3 {
                break list;
            }
        }
        assert!(started.elapsed() < DEADLINE, "no kept runs: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(list["keep"], 2);
    let run = &list["runs"][0];
    assert_eq!(run["message"], "[PAGE_ERRORS] (1) == 0");
    assert_eq!(run["title"], "Broken");
    let console = run["console"].to_string();
    assert!(console.contains("missing is not defined"), "{console}");
    assert!(
        !console.contains("tok-very-secret-value"),
        "the catalog's secrets are masked: {console}"
    );
    assert_eq!(run["screenshots"][0], "failure.png");

    let id = run["id"].as_str().unwrap();
    let (status, content_type, png) = get(
        &app,
        &format!("/api/v1/services/web/artifacts/{id}/failure.png"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "image/png");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));

    for (uri, expected, code) in [
        (
            "/api/v1/services/nope/artifacts",
            StatusCode::NOT_FOUND,
            "unknown-service",
        ),
        (
            "/api/v1/services/web/artifacts/abc/failure.png",
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            "/api/v1/services/web/artifacts/1/run.json",
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            "/api/v1/services/web/artifacts/1/failure.png",
            StatusCode::NOT_FOUND,
            "no-artifact",
        ),
        (
            "/api/v1/services/web/artifacts/1/..%2F..%2Fx.png",
            StatusCode::NOT_FOUND,
            "no-artifact",
        ),
    ] {
        let (status, body) = get_json(&app, uri).await;
        assert_eq!(status, expected, "{uri}: {body}");
        assert_eq!(body["error"]["code"], code, "{uri}: {body}");
    }
    // A service without a browser check has no runs.
    let (status, plain) = get_json(&app, "/api/v1/services/plain/artifacts").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(plain["runs"], serde_json::json!([]));
    monitor.shutdown(Duration::from_secs(5)).await;
}
