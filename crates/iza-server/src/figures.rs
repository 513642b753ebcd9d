//! Defines the business-figures routes (`docs/metrics.md`): `GET /api/v1/figures`, every
//! figure with its value per service, group and ecosystem and the claims beside, and
//! `GET /api/v1/figures/{service}/{figure}`, one figure's history (raw samples or hourly
//! rollups) for charts. Named `figures`, not `metrics`, so it never reads as Prometheus'
//! `/metrics`, which exports the same values as `iza_figure` gauges.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use iza_runtime::figures::Summary;
use iza_store::{FigureQuery, FigureResolution, MAX_FIGURE_POINTS};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// The summary of the current catalog's figures from the store's newest samples.
pub(crate) async fn summary(state: &AppState) -> Result<Summary, ApiError> {
    let latest = state.store.latest_figures().await?;
    let errors = state.figures().map(|f| f.errors()).unwrap_or_default();
    Ok(Summary::build(&state.view().catalog, &latest, &errors))
}

/// `GET /figures`.
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let summary = summary(&state).await?;
    let mut value =
        serde_json::to_value(&summary).map_err(|e| ApiError::Internal(e.to_string()))?;
    state.view().secrets.scrub_json(&mut value);
    Ok(Json(value))
}

/// Query parameters of `GET /figures/{service}/{figure}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeriesParams {
    /// Unix milliseconds; 24 hours ago by default.
    since: Option<i64>,
    /// `raw` (default) or `hour`.
    resolution: Option<String>,
    /// Newest points kept, 1..=10000 (default 500).
    limit: Option<usize>,
}

/// `GET /figures/{service}/{figure}`: one figure's history, oldest first.
pub(crate) async fn series(
    State(state): State<AppState>,
    Path((service, figure)): Path<(String, String)>,
    params: Result<Query<SeriesParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = params
        .map(|Query(p)| p)
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let view = state.view();
    let declared = view
        .catalog
        .services
        .get(&service)
        .ok_or_else(|| ApiError::UnknownService(service.clone()))?
        .figures
        .iter()
        .find(|f| f.name == figure)
        .cloned()
        .ok_or_else(|| ApiError::UnknownFigure(format!("{service}/{figure}")))?;
    let resolution = match params.resolution.as_deref() {
        None | Some("raw") => FigureResolution::Raw,
        Some("hour") => FigureResolution::Hour,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "`resolution` is `raw` or `hour`, not `{other}`"
            )));
        }
    };
    let limit = params.limit.unwrap_or(500);
    if limit == 0 || limit > MAX_FIGURE_POINTS {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {MAX_FIGURE_POINTS}, not {limit}"
        )));
    }
    let since = params
        .since
        .unwrap_or_else(|| iza_runtime::now_millis() - 86_400_000);
    let points = state
        .store
        .figure_series(&FigureQuery {
            service: service.clone(),
            figure: figure.clone(),
            since,
            resolution,
            limit,
        })
        .await?;
    Ok(Json(json!({
        "service": service,
        "figure": figure,
        "label": declared.label,
        "unit": declared.unit,
        "format": declared.format,
        "aggregate": declared.aggregate,
        "resolution": resolution,
        "points": points,
    })))
}
