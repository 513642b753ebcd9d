//! The event outputs in the API (`GET /api/v1/outputs`) and in `/metrics`: each output's kind,
//! URL (credentials masked), outbox depth and lag, and what it has published, dropped and
//! failed since `iza` started (docs/events.md).

use axum::Json;
use axum::extract::State;
use iza_outputs::OutputStatus;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};

use crate::state::AppState;

/// Every output's status, in manifest order (empty when there are none).
pub(crate) async fn status(state: &AppState) -> Vec<OutputStatus> {
    match state.outputs() {
        Some(outputs) => outputs.status().await,
        None => Vec::new(),
    }
}

/// `GET /api/v1/outputs`.
pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "outputs": status(&state).await }))
}

type Labels = Vec<(String, String)>;

/// Registers the outputs' figures.
pub(crate) fn register(registry: &mut Registry, outputs: &[OutputStatus]) {
    if outputs.is_empty() {
        return;
    }
    let depth = Family::<Labels, Gauge>::default();
    let lag = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let published = Family::<Labels, Counter>::default();
    let dropped = Family::<Labels, Counter>::default();
    let failures = Family::<Labels, Counter>::default();
    let healthy = Family::<Labels, Gauge>::default();
    for output in outputs {
        let labels = vec![
            ("output".to_owned(), output.id.clone()),
            (
                "kind".to_owned(),
                format!("{:?}", output.kind).to_lowercase(),
            ),
        ];
        depth
            .get_or_create(&labels)
            .set(i64::try_from(output.depth).unwrap_or(i64::MAX));
        #[allow(clippy::cast_precision_loss)]
        lag.get_or_create(&labels)
            .set(output.lag_ms as f64 / 1000.0);
        published.get_or_create(&labels).inc_by(output.published);
        dropped.get_or_create(&labels).inc_by(output.dropped);
        failures.get_or_create(&labels).inc_by(output.failures);
        healthy
            .get_or_create(&labels)
            .set(i64::from(output.healthy));
    }
    registry.register(
        "iza_output_outbox_depth",
        "Events waiting in an output's outbox",
        depth,
    );
    registry.register(
        "iza_output_lag_seconds",
        "How long the oldest event waiting in an output's outbox has waited",
        lag,
    );
    registry.register(
        "iza_output_published",
        "Events an output's broker acknowledged since iza started",
        published,
    );
    registry.register(
        "iza_output_dropped",
        "Events an output dropped since iza started (its outbox full)",
        dropped,
    );
    registry.register(
        "iza_output_failures",
        "Failed publish attempts of an output since iza started",
        failures,
    );
    registry.register(
        "iza_output_healthy",
        "1 when an output's last attempt succeeded",
        healthy,
    );
}
