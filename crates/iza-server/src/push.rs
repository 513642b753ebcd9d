//! `POST /api/v1/services/{id}/results`: a service (or a script, a cron job) reports its own
//! result instead of being probed. The body is JSON:
//!
//! ```json
//! {"up": true, "message": "backup done", "latency_ms": 1200}
//! ```
//!
//! `up` (a boolean) or `status` (`"up"`, `"down"` or `"degraded"`) says how it went;
//! `degraded: true` marks an up result as failing-but-not-down; `message` (at most
//! [`MAX_MESSAGE`] bytes) and `latency_ms` (`[RESPONSE_TIME]`, 0 to one day) are optional;
//! any other key is refused. The result goes through the status board like a probe's
//! (`iza_runtime::Monitor::push`). It needs a token that may act: the admin or operate
//! token, or the push token of that service (`iza token --scope push:<id>`).

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use iza_runtime::{PushOutcome, Pushed};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::routes::ServiceId;
use crate::state::AppState;

/// The longest `message` taken, in bytes.
pub const MAX_MESSAGE: usize = 4096;
/// The largest `latency_ms` taken: one day.
const MAX_LATENCY_MS: f64 = 86_400_000.0;

/// The body as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    up: Option<bool>,
    status: Option<String>,
    degraded: Option<bool>,
    message: Option<String>,
    latency_ms: Option<f64>,
}

/// Reads a pushed result from a JSON body (HTTP, or a broker input's message); the error
/// says what is wrong, for a 400 or a log line.
pub fn parse_result(body: &[u8]) -> Result<Pushed, String> {
    let body: Body = serde_json::from_slice(body).map_err(|e| {
        format!("the body is not a result: {e}; send for example {{\"up\": true, \"message\": \"...\", \"latency_ms\": 12}}")
    })?;
    let from_status = match body.status.as_deref() {
        None => None,
        Some("up") => Some((true, false)),
        Some("down") => Some((false, false)),
        Some("degraded") => Some((true, true)),
        Some(other) => {
            return Err(format!(
                "`status` is `{other}`; it is one of `up`, `down`, `degraded`"
            ));
        }
    };
    let (up, degraded) = match (body.up, from_status) {
        (None, None) => {
            return Err("the result says neither `up` nor `status`".to_owned());
        }
        (Some(up), None) => (up, false),
        (None, Some(found)) => found,
        (Some(up), Some((status_up, degraded))) if up == status_up => (up, degraded),
        (Some(up), Some(_)) => {
            return Err(format!(
                "`up` is {up} but `status` is `{}`",
                body.status.unwrap_or_default()
            ));
        }
    };
    let degraded = degraded || body.degraded.unwrap_or(false);
    if degraded && !up {
        return Err("a result is down or degraded, not both".to_owned());
    }
    if let Some(message) = &body.message
        && message.len() > MAX_MESSAGE
    {
        return Err(format!(
            "`message` has {} bytes; at most {MAX_MESSAGE} are taken",
            message.len()
        ));
    }
    let latency = match body.latency_ms {
        None => Duration::ZERO,
        Some(ms) if ms.is_finite() && (0.0..=MAX_LATENCY_MS).contains(&ms) => {
            Duration::from_secs_f64(ms / 1000.0)
        }
        Some(ms) => {
            return Err(format!(
                "`latency_ms` is {ms}; it is a number of milliseconds from 0 to {MAX_LATENCY_MS}"
            ));
        }
    };
    Ok(Pushed {
        up,
        degraded,
        message: body.message,
        latency,
    })
}

/// `POST /services/{id}/results`.
pub(crate) async fn results(
    State(state): State<AppState>,
    ServiceId(id): ServiceId,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let pushed = parse_result(&body).map_err(ApiError::BadRequest)?;
    match state.monitor.push(&id, pushed).await {
        Ok(PushOutcome::Recorded(result)) => {
            let status = state
                .monitor
                .snapshot()
                .services
                .iter()
                .find(|s| s.service == id)
                .map(|s| json!(s.status));
            Ok(Json(
                json!({ "service": id, "result": result, "status": status }),
            ))
        }
        Ok(PushOutcome::UnknownService) => Err(ApiError::UnknownService(id)),
        Ok(PushOutcome::NotChecked) => Err(ApiError::Conflict(format!(
            "service `{id}` has no check, so it takes no results: give it one, for example `check = {{ push = true, expect_every = \"5m\" }}`"
        ))),
        Err(_) => Err(ApiError::Stopping),
    }
}
