//! The alerting routes against a real engine on a real SQLite store: alerts with their
//! delivery log, acknowledgement, silences created, listed and ended, `/metrics`, and every
//! malformed request answered with a JSON 4xx.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use iza_catalog::export::ports::PortMap;
use iza_catalog::{SourceFile, Syntax};
use iza_probe::{Prober, ProberOptions};
use iza_runtime::alerts::{Alerts, AlertsOptions, LinkKey};
use iza_runtime::{Monitor, MonitorOptions};
use iza_server::{AppState, Auth, CatalogView, Token, router};
use iza_store::{Alert, AlertState, Delivery, DeliveryState, SqliteStore, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

const MANIFEST: &str = r#"version = 1
[services.db]
[services.api]
depends_on = ["db"]
[agents.ops]
tier = 1
services = ["db", "api"]
[notifiers.ops]
kind = "slack"
url = "https://hooks.example.com/services/T0/B0/secretsecret"
[[alerts]]
name = "down"
notify = ["ops"]
"#;

async fn app(alerting: bool) -> (Router, Arc<dyn Store>) {
    app_with(alerting, AlertsOptions::default()).await
}

async fn app_with(alerting: bool, options: AlertsOptions) -> (Router, Arc<dyn Store>) {
    let source = SourceFile::new("iza.toml", MANIFEST.to_owned(), Syntax::Toml);
    let checked = iza_catalog::check(&source);
    let catalog = Arc::new(checked.catalog.unwrap());
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
    if alerting {
        let alerts = Alerts::start(catalog, store.clone(), monitor, options);
        state.set_alerts(Arc::new(alerts));
    }
    (router(state), store)
}

async fn call(app: &Router, method: Method, uri: &str, body: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method.clone()).uri(uri);
    if method != Method::GET {
        request = request.header("authorization", format!("Bearer {TOKEN}"));
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_owned())
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

/// An alert as the engine would have stored it, with one sent delivery.
async fn stored_alert(store: &Arc<dyn Store>) -> Alert {
    let alert = store
        .save_alert(&Alert {
            id: 0,
            rule: "down".to_owned(),
            service: "db".to_owned(),
            severity: "warning".to_owned(),
            state: AlertState::Firing,
            status: "down".to_owned(),
            impacted: vec!["api".to_owned()],
            reason: Some("POST https://hooks.example.com/services/T0/B0/secretsecret".to_owned()),
            started_at: 1,
            fired_at: Some(2),
            updated_at: 2,
            resolved_at: None,
            acknowledged_at: None,
            acknowledged_by: None,
            suppressed_by: None,
            escalated_to: Vec::new(),
            seq: 1,
            notified_seq: 1,
            last_notified_at: Some(2),
        })
        .await
        .unwrap();
    store
        .record_deliveries(&[Delivery {
            id: 0,
            alert: alert.id,
            transition: "1-firing".to_owned(),
            notifier: "ops".to_owned(),
            run: Some(1),
            state: DeliveryState::Sent,
            at: 2,
            finished_at: Some(3),
            attempts: 1,
            latency_ms: Some(1.5),
            error: None,
        }])
        .await
        .unwrap();
    alert
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_their_deliveries_and_acknowledgement() {
    let (app, store) = app(true).await;
    let alert = stored_alert(&store).await;
    let (status, list) = call(&app, Method::GET, "/api/v1/alerts?open=true", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["alerts"][0]["id"], alert.id);
    assert_eq!(list["alerts"][0]["impacted"], json!(["api"]));
    // The manifest's secret (the webhook URL) never leaves the server.
    assert!(!list.to_string().contains("secretsecret"), "{list}");
    let (status, one) = call(
        &app,
        Method::GET,
        &format!("/api/v1/alerts/{}", alert.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["deliveries"][0]["state"], "sent");
    assert_eq!(one["deliveries"][0]["notifier"], "ops");
    let (status, acked) = call(
        &app,
        Method::POST,
        &format!("/api/v1/alerts/{}/ack", alert.id),
        Some(r#"{"by": "ana"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{acked}");
    assert_eq!(acked["acknowledged_by"], "ana");
    // Without a body, in the API's name; the first acknowledgement stays.
    let (status, again) = call(
        &app,
        Method::POST,
        &format!("/api/v1/alerts/{}/ack", alert.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["acknowledged_by"], "ana");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_are_created_listed_and_ended() {
    let (app, _) = app(true).await;
    let (status, silence) = call(
        &app,
        Method::POST,
        "/api/v1/silences",
        Some(r#"{"matchers": {"service": "db"}, "duration": "2h", "created_by": "ana", "comment": "upgrade"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{silence}");
    assert_eq!(silence["matchers"], json!({ "service": "db" }));
    let id = silence["id"].as_i64().unwrap();
    assert_eq!(
        silence["ends_at"].as_i64().unwrap() - silence["starts_at"].as_i64().unwrap(),
        7_200_000
    );
    let (_, active) = call(&app, Method::GET, "/api/v1/silences?active=true", None).await;
    assert_eq!(active["silences"][0]["id"], id);
    let (status, ended) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/silences/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    let (_, active) = call(&app, Method::GET, "/api/v1/silences?active=true", None).await;
    assert_eq!(active["silences"], json!([]));
    let (_, all) = call(&app, Method::GET, "/api/v1/silences", None).await;
    assert_eq!(all["silences"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_json_4xx() {
    let (app, _) = app(true).await;
    let cases: &[(Method, &str, Option<&str>, StatusCode, &str)] = &[
        (
            Method::GET,
            "/api/v1/alerts?limit=0",
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::GET,
            "/api/v1/alerts?limit=x",
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::GET,
            "/api/v1/alerts?before=0",
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::GET,
            "/api/v1/alerts?color=red",
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::GET,
            "/api/v1/alerts/x",
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::GET,
            "/api/v1/alerts/99",
            None,
            StatusCode::NOT_FOUND,
            "unknown-alert",
        ),
        (
            Method::POST,
            "/api/v1/alerts/99/ack",
            None,
            StatusCode::NOT_FOUND,
            "unknown-alert",
        ),
        (
            Method::POST,
            "/api/v1/alerts/1/ack",
            Some("{\"by\": 3}"),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/api/v1/alerts/1/ack",
            Some("{\"by\": \"\"}"),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::GET,
            "/api/v1/silences?active=maybe",
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/api/v1/silences",
            Some("[]"),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/api/v1/silences",
            Some(r#"{"matchers": {}, "duration": "1h", "created_by": "a", "comment": "c"}"#),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/api/v1/silences",
            Some(
                r#"{"matchers": {"service": "db"}, "duration": "soon", "created_by": "a", "comment": "c"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/api/v1/silences",
            Some(r#"{"matchers": {"service": "db"}, "created_by": "a", "comment": "c"}"#),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/api/v1/silences",
            Some(
                r#"{"matchers": {"service": "db"}, "ends_at": 1, "created_by": "a", "comment": "c"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/api/v1/silences",
            Some(
                r#"{"matchers": {"service": "db"}, "duration": "1h", "created_by": " ", "comment": "c"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/api/v1/silences",
            Some(
                r#"{"matchers": {"host": "db"}, "duration": "1h", "created_by": "a", "comment": "c"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::DELETE,
            "/api/v1/silences/x",
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::DELETE,
            "/api/v1/silences/99",
            None,
            StatusCode::NOT_FOUND,
            "unknown-silence",
        ),
    ];
    for (method, uri, body, status, code) in cases {
        let (got, answer) = call(&app, method.clone(), uri, *body).await;
        assert_eq!(got, *status, "{method} {uri} {body:?}: {answer}");
        assert_eq!(answer["error"]["code"], *code, "{method} {uri}: {answer}");
    }
    // Without alerting, changes are a 409.
    let (app, _) = app_without().await;
    let (status, answer) = call(&app, Method::POST, "/api/v1/alerts/1/ack", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "no-alerts");
    // Changes need the token.
    let request = Request::builder()
        .method(Method::DELETE)
        .uri("/api/v1/silences/1")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn app_without() -> (Router, Arc<dyn Store>) {
    app(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_alerts_by_severity() {
    let (app, _) = app(true).await;
    let response = app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/metrics")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("iza_alerts_firing{severity=\"critical\"} 0"),
        "{text}"
    );
}

/// A raw request to an acknowledgement link: status and body text (HTML).
async fn link(app: &Router, method: Method, uri: &str, form: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_link_shows_the_alert_on_get_and_acknowledges_on_post_without_a_token() {
    let key = LinkKey::derive(TOKEN.as_bytes());
    let (signed, store) = app_with(
        true,
        AlertsOptions {
            link_key: Some(key.clone()),
            ..AlertsOptions::default()
        },
    )
    .await;
    let alert = stored_alert(&store).await;
    let path = key.path(alert.id, iza_runtime::now_millis());
    // GET shows and changes nothing (link previewers fetch links).
    let (status, page) = link(&signed, Method::GET, &path, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Acknowledge") && page.contains("db"),
        "{page}"
    );
    let sig = path.rsplit_once("sig=").unwrap().1;
    assert!(page.contains(&format!("sig={sig}")), "{page}");
    assert!(
        store
            .alert(alert.id)
            .await
            .unwrap()
            .unwrap()
            .acknowledged_at
            .is_none()
    );
    // POST of the same link acknowledges, with no bearer token.
    let (status, page) = link(&signed, Method::POST, &path, "by=carol+on+call").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("acknowledged by carol on call"), "{page}");
    let stored = store.alert(alert.id).await.unwrap().unwrap();
    assert_eq!(stored.acknowledged_by.as_deref(), Some("carol on call"));
    // An edited, an expired and an unsigned link are refused.
    let edited = path.replace(
        &format!("/ack/{}?", alert.id),
        &format!("/ack/{}?", alert.id + 1),
    );
    assert_eq!(
        link(&signed, Method::POST, &edited, "").await.0,
        StatusCode::FORBIDDEN
    );
    let old = key.path(alert.id, 1_000);
    let (status, page) = link(&signed, Method::GET, &old, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("expired"), "{page}");
    let (status, _) = link(&signed, Method::GET, &format!("/ack/{}", alert.id), "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A server without a link key refuses every link.
    let (plain, plain_store) = app(true).await;
    let other = stored_alert(&plain_store).await;
    let path = key.path(other.id, iza_runtime::now_millis());
    assert_eq!(
        link(&plain, Method::POST, &path, "").await.0,
        StatusCode::FORBIDDEN
    );
}
