//! `DockerWatch` against an engine that answers over a unix socket, and against none. No Docker
//! engine can run on the machines this project is tested on, so the engine here is a small
//! server speaking the Docker Engine API's HTTP for the three calls the watch makes
//! (`/version`, `/containers/json`, with the version prefix the client negotiates).

use std::sync::Arc;
use std::time::{Duration, Instant};

use iza_runtime::{DockerOptions, DockerWatch, Engine};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::Mutex;

const DEADLINE: Duration = Duration::from_secs(20);

fn catalog(text: &str) -> iza_catalog::Catalog {
    let source =
        iza_catalog::SourceFile::new("iza.toml", text.to_owned(), iza_catalog::Syntax::Toml);
    iza_catalog::check(&source)
        .catalog
        .expect("a valid manifest")
}

fn options(host: String) -> DockerOptions {
    DockerOptions {
        host: Some(host),
        every: Duration::from_millis(100),
        timeout: Duration::from_secs(2),
    }
}

/// Serves the engine's answers on a unix socket; `containers` is the JSON of
/// `GET /containers/json` and may be changed while it runs.
async fn engine(path: &std::path::Path, containers: Arc<Mutex<String>>) {
    let listener = UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let containers = containers.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                loop {
                    let mut request_line = String::new();
                    if read.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0usize;
                    loop {
                        let mut header = String::new();
                        if read.read_line(&mut header).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if header == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    let _ = read.read_exact(&mut body).await;
                    let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
                    let answer = if path.contains("/version") {
                        r#"{"Version":"28.2.2","ApiVersion":"1.47","MinAPIVersion":"1.24"}"#
                            .to_owned()
                    } else if path.contains("/containers/json") {
                        containers.lock().await.clone()
                    } else if path.contains("/_ping") {
                        "OK".to_owned()
                    } else {
                        r#"{"message":"page not found"}"#.to_owned()
                    };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.47\r\nContent-Length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if write.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

const MANIFEST: &str = r#"
version = 1
[services.dashboard]
docker = "dashboard:3000"
[services.api]
docker = "api:8080"
[services.worker]
docker = "worker:9000"
[services.local]
"#;

#[tokio::test]
async fn the_containers_of_the_manifest_are_read_and_followed() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let containers = Arc::new(Mutex::new(
        r#"[
        {"Id":"1","Names":["/dashboard"],"Image":"dash:1","State":"running","Status":"Up 2 hours (healthy)","Labels":{},"Health":{"Status":"healthy","FailingStreak":0}},
        {"Id":"2","Names":["/stack-api-1"],"Image":"api:2","State":"exited","Status":"Exited (1) 5 minutes ago","Labels":{"com.docker.compose.service":"api"}}
    ]"#
        .to_owned(),
    ));
    engine(&socket, containers.clone()).await;
    let watch = DockerWatch::start(&catalog(MANIFEST), options(socket.display().to_string()));

    let deadline = Instant::now() + DEADLINE;
    let view = loop {
        let view = watch.view();
        if matches!(view.engine, Engine::Connected { .. }) {
            break view;
        }
        assert!(Instant::now() < deadline, "never connected: {view:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        view.engine,
        Engine::Connected {
            version: "28.2.2".into()
        }
    );
    let dashboard = view.container("dashboard").expect("dashboard's container");
    assert_eq!(
        (dashboard.state.as_str(), dashboard.health.as_deref()),
        ("running", Some("healthy"))
    );
    let api = view
        .container("api")
        .expect("api's container, by Compose service");
    assert_eq!(
        (api.name.as_str(), api.state.as_str()),
        ("stack-api-1", "exited")
    );
    // A reference with no container, and a service without a reference.
    assert_eq!(view.containers.get("worker"), Some(&None));
    assert!(!view.containers.contains_key("local"));

    // The container comes back: the next reading shows it.
    *containers.lock().await = r#"[{"Id":"2","Names":["/stack-api-1"],"Image":"api:2","State":"running","Status":"Up 1 second","Labels":{"com.docker.compose.service":"api"}}]"#.to_owned();
    loop {
        let view = watch.view();
        if view.container("api").is_some_and(|c| c.state == "running") {
            assert!(view.container("dashboard").is_none(), "{view:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the change was not read: {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn without_an_engine_the_services_are_external_and_the_reason_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-docker.sock").display().to_string();
    let watch = DockerWatch::start(&catalog(MANIFEST), options(missing));
    let deadline = Instant::now() + DEADLINE;
    loop {
        let view = watch.view();
        if let Engine::Unreachable { reason } = &view.engine {
            assert!(
                reason.contains("no-docker.sock"),
                "the reason names the socket: {reason}"
            );
            assert_eq!(view.containers.len(), 3);
            assert!(view.containers.values().all(Option::is_none));
            break;
        }
        assert!(Instant::now() < deadline, "never gave up: {view:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
