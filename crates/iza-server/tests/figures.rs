//! The business-figures routes over a real SQLite store holding scraped samples:
//! `GET /api/v1/figures` (per service, group and ecosystem, claims beside), one figure's
//! history, JSON 4xx for unknown figures and bad parameters, and the `/metrics` gauges.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use iza_catalog::export::ports::PortMap;
use iza_catalog::{SourceFile, Syntax};
use iza_probe::{Prober, ProberOptions};
use iza_runtime::{Monitor, MonitorOptions};
use iza_server::{AppState, CatalogView, router};
use iza_store::{FigureSample, SqliteStore, Store};
use serde_json::Value;
use tower::ServiceExt;

const MANIFEST: &str = r#"version = 1
[ecosystem]
claims = [{ label = "Ecosystem value", value = "$1.4B+", figure = "arr" }]
[groups.biz]
[services.aiboss]
group = "biz"
[services.aiboss.metrics.arr]
prometheus = "http://127.0.0.1:9/metrics"
format = "currency"
unit = "USD"
[services.ace]
group = "biz"
[services.ace.metrics.arr]
json = { url = "http://127.0.0.1:9/figures", path = "$.arr" }
format = "currency"
unit = "USD"
[services.lone.metrics.uptime_pct]
prometheus = "http://127.0.0.1:9/metrics"
format = "percent"
aggregate = "avg"
"#;

async fn app() -> Router {
    let source = SourceFile::new("iza.toml", MANIFEST.to_owned(), Syntax::Toml);
    let checked = iza_catalog::check(&source);
    let catalog = Arc::new(checked.catalog.unwrap());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let now = iza_runtime::now_millis();
    let sample = |service: &str, figure: &str, at: i64, value: f64| FigureSample {
        service: service.to_owned(),
        figure: figure.to_owned(),
        at,
        value,
    };
    store
        .append_figures(&[
            sample("aiboss", "arr", now - 120_000, 1.0e8),
            sample("aiboss", "arr", now - 60_000, 2.0e8),
            sample("ace", "arr", now - 60_000, 1.2e9),
        ])
        .await
        .unwrap();
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
        monitor,
        store,
        CatalogView::new(catalog, &PortMap::default()),
    );
    router(state)
}

async fn get(app: &Router, uri: &str) -> (StatusCode, String) {
    let response = app
        .clone()
        .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn get_json(app: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, body) = get(app, uri).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_per_service_group_and_ecosystem_with_claims() {
    let app = app().await;
    let (status, doc) = get_json(&app, "/api/v1/figures").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let arr = &doc["figures"][0];
    assert_eq!(arr["name"], "arr");
    assert_eq!(arr["value"], 1.4e9);
    assert_eq!(arr["display"], "$1.4B");
    assert_eq!(arr["groups"][0]["id"], "biz");
    assert_eq!(arr["groups"][0]["value"], 1.4e9);
    assert_eq!(arr["services"][0]["id"], "aiboss");
    assert_eq!(arr["services"][0]["value"], 2.0e8, "the newest sample");
    let uptime = &doc["figures"][1];
    assert_eq!(uptime["name"], "uptime_pct");
    assert_eq!(uptime["value"], Value::Null, "not read yet");
    assert_eq!(uptime["services"][0]["value"], Value::Null);
    assert_eq!(doc["claims"][0]["claimed"], "$1.4B+");
    assert_eq!(doc["claims"][0]["measured"], 1.4e9);
    // The overview's summary sets the same claim beside the measured figure.
    let (status, summary) = get_json(&app, "/api/v1/summary").await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["claims"][0]["claimed"], "$1.4B+");
    assert_eq!(summary["claims"][0]["figure"], "arr");
    assert_eq!(summary["claims"][0]["mapped"], "$1.4B");

    let (status, series) = get_json(&app, "/api/v1/figures/aiboss/arr?since=0").await;
    assert_eq!(status, StatusCode::OK, "{series}");
    let points = series["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0]["last"], 1.0e8);
    assert_eq!(points[1]["last"], 2.0e8);
    assert_eq!(series["format"], "currency");
    let (status, hours) =
        get_json(&app, "/api/v1/figures/aiboss/arr?since=0&resolution=hour").await;
    assert_eq!(status, StatusCode::OK);
    let count: i64 = hours["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(count, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_figures_and_bad_parameters_are_json_4xx() {
    let app = app().await;
    for (uri, status, code) in [
        (
            "/api/v1/figures/nope/arr",
            StatusCode::NOT_FOUND,
            "unknown-service",
        ),
        (
            "/api/v1/figures/aiboss/mrr",
            StatusCode::NOT_FOUND,
            "unknown-figure",
        ),
        (
            "/api/v1/figures/aiboss/arr?resolution=day",
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            "/api/v1/figures/aiboss/arr?limit=0",
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            "/api/v1/figures/aiboss/arr?since=soon",
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            "/api/v1/figures/aiboss/arr?x=1",
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
    ] {
        let (got, doc) = get_json(&app, uri).await;
        assert_eq!(got, status, "{uri}: {doc}");
        assert_eq!(doc["error"]["code"], code, "{uri}: {doc}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_export_figures_and_aggregates() {
    let app = app().await;
    let (status, text) = get(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(r#"iza_figure{figure="arr",service="aiboss",group="biz"} 200000000"#),
        "{text}"
    );
    assert!(
        text.contains(r#"iza_figure_aggregate{figure="arr",scope="ecosystem"} 1400000000"#),
        "{text}"
    );
    assert!(
        text.contains(r#"iza_figure_aggregate{figure="arr",scope="biz"} 1400000000"#),
        "{text}"
    );
}
