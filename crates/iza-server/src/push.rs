//! `POST /api/v1/services/{id}/results`: a service (or a script, a cron job) reports its own
//! result instead of being probed. The body is JSON:
//!
//! ```json
//! {"up": true, "message": "backup done", "latency_ms": 1200}
//! ```
//!
//! `up` (a boolean) or `status` (`"up"`, `"down"` or `"degraded"`) says how it went;
//! `degraded: true` marks an up result as failing-but-not-down; `message` (at most
//! 4096 bytes) and `latency_ms` (`[RESPONSE_TIME]`, 0 to one day) are optional;
//! any other key is refused. The result goes through the status board like a probe's
//! (`iza_runtime::Monitor::push`). It needs a token that may act: the admin or operate
//! token, or the push token of that service (`iza token --scope push:<id>`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use iza_runtime::PushOutcome;
use iza_runtime::monitor::push::parse_message;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::routes::ServiceId;
use crate::state::AppState;

/// `POST /services/{id}/results`.
pub(crate) async fn results(
    State(state): State<AppState>,
    ServiceId(id): ServiceId,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (named, pushed) = parse_message(&body).map_err(ApiError::BadRequest)?;
    if let Some(named) = named
        && named != id
    {
        return Err(ApiError::BadRequest(format!(
            "the body names service `{named}`, the path `{id}`"
        )));
    }
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
