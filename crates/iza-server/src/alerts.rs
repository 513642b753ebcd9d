//! Defines the alerting routes (`docs/alerts.md`): alerts with their delivery log,
//! acknowledgement, and silences. They read the store and ask the runtime's
//! [`iza_runtime::alerts::Alerts`] to change anything; a server without alerting answers 409
//! `no-alerts`. Access control is the router's (`POST` and `DELETE` need the admin token).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use iza_runtime::alerts::{Alerts, AlertsError};
use iza_store::{AlertQuery, MAX_ALERTS_PAGE, Matchers, NewSilence};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::agents::NumericId;
use crate::error::ApiError;
use crate::state::AppState;

/// Alerts per page when `limit` is not given.
const DEFAULT_PAGE: usize = 100;

fn alerts(state: &AppState) -> Result<&Arc<Alerts>, ApiError> {
    state.alerts().ok_or(ApiError::NoAlerts)
}

fn scrubbed(state: &AppState, mut value: Value) -> Value {
    state.view().secrets.scrub_json(&mut value);
    value
}

impl From<AlertsError> for ApiError {
    fn from(err: AlertsError) -> ApiError {
        match err {
            AlertsError::Store(e) => ApiError::Store(e),
            AlertsError::Invalid(reason) => ApiError::BadRequest(reason),
        }
    }
}

/// Query parameters of `GET /alerts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsParams {
    /// Only pending and firing alerts.
    open: Option<bool>,
    service: Option<String>,
    before: Option<i64>,
    limit: Option<usize>,
}

/// `GET /alerts`: alerts, newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    params: Result<Query<AlertsParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = params
        .map(|Query(p)| p)
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_ALERTS_PAGE {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {MAX_ALERTS_PAGE}, not {limit}"
        )));
    }
    if params.before.is_some_and(|b| b < 1) {
        return Err(ApiError::BadRequest(
            "`before` must be at least 1".to_owned(),
        ));
    }
    let list = state
        .store
        .alerts(&AlertQuery {
            open_only: params.open.unwrap_or(false),
            service: params.service,
            before: params.before,
            limit,
        })
        .await?;
    Ok(Json(scrubbed(&state, json!({ "alerts": list }))))
}

/// `GET /alerts/{id}`: one alert and its delivery log.
pub(crate) async fn one(
    State(state): State<AppState>,
    NumericId(id): NumericId,
) -> Result<Json<Value>, ApiError> {
    let alert = state
        .store
        .alert(id)
        .await?
        .ok_or(ApiError::UnknownAlert(id))?;
    let deliveries = state.store.deliveries(id).await?;
    let mut value = json!(alert);
    if let Some(object) = value.as_object_mut() {
        object.insert("deliveries".to_owned(), json!(deliveries));
    }
    Ok(Json(scrubbed(&state, value)))
}

/// Body of `POST /alerts/{id}/ack`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AckBody {
    /// Who acknowledges it.
    by: Option<String>,
}

/// `POST /alerts/{id}/ack`: stops reminders and escalation of an open alert.
pub(crate) async fn ack(
    State(state): State<AppState>,
    NumericId(id): NumericId,
    payload: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: AckBody = if payload.iter().all(u8::is_ascii_whitespace) {
        AckBody::default()
    } else {
        serde_json::from_slice(&payload).map_err(|e| {
            ApiError::BadRequest(format!(
                "the body is not an acknowledgement (`{{\"by\": \"...\"}}`): {e}"
            ))
        })?
    };
    let by = body
        .by
        .unwrap_or_else(|| "a person, through the API".to_owned());
    if by.trim().is_empty() || by.len() > 200 {
        return Err(ApiError::BadRequest(
            "`by` must name who acknowledges, in at most 200 bytes".to_owned(),
        ));
    }
    let alert = alerts(&state)?
        .acknowledge(id, &by)
        .await?
        .ok_or(ApiError::UnknownAlert(id))?;
    Ok(Json(scrubbed(&state, json!(alert))))
}

/// Query parameters of `GET /silences`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SilencesParams {
    /// Only those in force now.
    active: Option<bool>,
}

/// `GET /silences`: silences, newest first.
pub(crate) async fn list_silences(
    State(state): State<AppState>,
    params: Result<Query<SilencesParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = params
        .map(|Query(p)| p)
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let at = params.active.unwrap_or(false).then(iza_runtime::now_millis);
    let list = state.store.silences(at).await?;
    Ok(Json(json!({ "silences": list })))
}

/// Body of `POST /silences`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SilenceBody {
    /// What it matches (at least one of `service`, `group`, `tag`, `rule`).
    matchers: Matchers,
    /// How long from now (`2h`), or
    duration: Option<String>,
    /// until when (Unix ms).
    ends_at: Option<i64>,
    /// From when (Unix ms; now by default).
    starts_at: Option<i64>,
    /// Who.
    created_by: String,
    /// Why.
    comment: String,
}

/// `POST /silences`: creates a silence; 201 with it.
pub(crate) async fn create_silence(
    State(state): State<AppState>,
    payload: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let body: SilenceBody = serde_json::from_slice(&payload).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body is not a silence (`{{\"matchers\": {{\"service\": \"db\"}}, \"duration\": \
             \"2h\", \"created_by\": \"...\", \"comment\": \"...\"}}`): {e}"
        ))
    })?;
    let now = iza_runtime::now_millis();
    let starts_at = body.starts_at.unwrap_or(now);
    let ends_at = match (&body.duration, body.ends_at) {
        (Some(d), None) => {
            let d = humantime::parse_duration(d).map_err(|e| {
                ApiError::BadRequest(format!("`duration` `{d}` is not a duration: {e}"))
            })?;
            let d = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            starts_at.saturating_add(d)
        }
        (None, Some(end)) => end,
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of `duration` and `ends_at`".to_owned(),
            ));
        }
    };
    for (what, text, max) in [
        ("created_by", &body.created_by, 200),
        ("comment", &body.comment, 2_000),
    ] {
        if text.trim().is_empty() || text.len() > max {
            return Err(ApiError::BadRequest(format!(
                "`{what}` must be given, in at most {max} bytes"
            )));
        }
    }
    let silence = alerts(&state)?
        .create_silence(NewSilence {
            matchers: body.matchers,
            starts_at,
            ends_at,
            created_by: body.created_by,
            comment: body.comment,
            created_at: now,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!(silence))).into_response())
}

/// `DELETE /silences/{id}`: ends a silence now.
pub(crate) async fn expire_silence(
    State(state): State<AppState>,
    NumericId(id): NumericId,
) -> Result<Json<Value>, ApiError> {
    let silence = alerts(&state)?
        .expire_silence(id)
        .await?
        .ok_or(ApiError::UnknownSilence(id))?;
    Ok(Json(json!(silence)))
}
