//! Defines the routes of what failed browser checks saw: the kept runs of a service (when,
//! why, the console's last lines, the journey's steps, the screenshots' names) and each
//! screenshot as a PNG. They read through the runtime's [`iza_runtime::Artifacts`], which
//! owns the directory and its names; console lines are masked with the catalog's secrets.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::routes::ServiceId;
use crate::state::AppState;

fn known(state: &AppState, id: &str) -> Result<(), ApiError> {
    if state.view().catalog.services.contains_key(id)
        || state.monitor.snapshot().service(id).is_some()
    {
        Ok(())
    } else {
        Err(ApiError::UnknownService(id.to_owned()))
    }
}

/// `GET /api/v1/services/{id}/artifacts`: the kept runs, newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    ServiceId(id): ServiceId,
) -> Result<Json<Value>, ApiError> {
    known(&state, &id)?;
    let Some(artifacts) = state.monitor.artifacts().cloned() else {
        return Ok(Json(json!({ "service": id, "keep": 0, "runs": [] })));
    };
    let service = id.clone();
    let listed = tokio::task::spawn_blocking(move || {
        artifacts.list(&service).map(|r| (r, artifacts.keep()))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let (runs, keep) = match listed {
        Ok(found) => found,
        // A service id that cannot name a directory has no runs.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => (Vec::new(), 0),
        Err(e) => return Err(ApiError::Internal(e.to_string())),
    };
    let mut value = json!({ "service": id, "keep": keep, "runs": runs });
    state.view().secrets.scrub_json(&mut value);
    Ok(Json(value))
}

/// `GET /api/v1/services/{id}/artifacts/{run}/{file}`: one screenshot.
pub(crate) async fn file(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String)>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let Path((id, run, name)) = path.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    known(&state, &id)?;
    if run.is_empty() || !run.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadRequest(format!(
            "`{run}` is not a run id (the Unix milliseconds the list gives)"
        )));
    }
    if !name.ends_with(".png") {
        return Err(ApiError::BadRequest(format!(
            "`{name}` is not a screenshot name (`NAME.png`, as the list gives)"
        )));
    }
    let Some(artifacts) = state.monitor.artifacts().cloned() else {
        return Err(ApiError::NoArtifact(format!("{id}/{run}/{name}")));
    };
    let what = format!("{id}/{run}/{name}");
    let read = tokio::task::spawn_blocking(move || artifacts.file(&id, &run, &name))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match read {
        Ok(Some(png)) => {
            let mut response = Body::from(png).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            );
            Ok(response)
        }
        Ok(None) => Err(ApiError::NoArtifact(what)),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Err(ApiError::NoArtifact(what)),
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}
