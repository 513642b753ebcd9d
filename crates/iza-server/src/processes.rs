//! Defines the routes of the supervised processes (`iza up`): their list, one service's
//! process, its output (a tail, or a tail then every new line as server-sent events), and
//! start, stop and restart. Every answer and line has the catalog's secret values masked
//! (`docs/security.md`). They ask the runtime's [`iza_runtime::Supervisor`]; a server
//! without one (`iza serve`) answers 409 `no-supervisor`. Access control is not decided here
//! (the router's layer guards the `POST`s).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use iza_catalog::redact::Secrets;
use iza_runtime::{LogLine, Supervisor};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::routes::ServiceId;
use crate::state::AppState;

/// Lines of output `logs` returns when `tail` is not given.
const DEFAULT_TAIL: usize = 100;
/// The most lines one request may ask for (the ring buffer holds 1,000 per service).
const MAX_TAIL: usize = 10_000;

fn supervisor(state: &AppState) -> Result<&Arc<Supervisor>, ApiError> {
    state.supervisor().ok_or(ApiError::NoSupervisor)
}

/// `value` with the current catalog's secrets masked in its strings (an exit reason may
/// quote a command line).
fn scrubbed(state: &AppState, mut value: Value) -> Json<Value> {
    state.view().secrets.scrub_json(&mut value);
    Json(value)
}

/// `GET /processes`: every supervised service's process.
pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    match state.supervisor() {
        Some(supervisor) => scrubbed(
            &state,
            json!({ "supervised": true, "processes": supervisor.ps() }),
        ),
        None => Json(json!({ "supervised": false, "processes": [] })),
    }
}

/// `GET /services/{id}/process`.
pub(crate) async fn one(
    State(state): State<AppState>,
    ServiceId(id): ServiceId,
) -> Result<Json<Value>, ApiError> {
    Ok(scrubbed(&state, json!(supervisor(&state)?.info(&id)?)))
}

/// `POST /services/{id}/start`: starts it now (no dependency wait), a fresh restart series.
pub(crate) async fn start(
    State(state): State<AppState>,
    ServiceId(id): ServiceId,
) -> Result<Json<Value>, ApiError> {
    let supervisor = supervisor(&state)?;
    supervisor.start(&id)?;
    Ok(scrubbed(&state, json!(supervisor.info(&id)?)))
}

/// `POST /services/{id}/stop`: answers once it has stopped; its restart policy does not undo it.
pub(crate) async fn stop(
    State(state): State<AppState>,
    ServiceId(id): ServiceId,
) -> Result<Json<Value>, ApiError> {
    let supervisor = supervisor(&state)?;
    supervisor.stop(&id).await?;
    Ok(scrubbed(&state, json!(supervisor.info(&id)?)))
}

/// `POST /services/{id}/restart`.
pub(crate) async fn restart(
    State(state): State<AppState>,
    ServiceId(id): ServiceId,
) -> Result<Json<Value>, ApiError> {
    let supervisor = supervisor(&state)?;
    supervisor.restart(&id).await?;
    Ok(scrubbed(&state, json!(supervisor.info(&id)?)))
}

/// Query parameters of the log routes.
#[derive(Debug, Deserialize)]
pub(crate) struct LogParams {
    tail: Option<usize>,
}

fn tail(params: Result<Query<LogParams>, QueryRejection>) -> Result<usize, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let tail = params.tail.unwrap_or(DEFAULT_TAIL);
    if tail > MAX_TAIL {
        return Err(ApiError::BadRequest(format!(
            "`tail` must be at most {MAX_TAIL}, not {tail}"
        )));
    }
    Ok(tail)
}

/// `GET /services/{id}/logs?tail=N`: the last lines of its output, oldest first.
pub(crate) async fn logs(
    State(state): State<AppState>,
    ServiceId(id): ServiceId,
    params: Result<Query<LogParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let tail = tail(params)?;
    let lines = supervisor(&state)?.logs(&id, tail)?;
    Ok(scrubbed(&state, json!({ "service": id, "lines": lines })))
}

/// `GET /services/{id}/logs/stream?tail=N`: the last lines, then each new one, as events
/// `log` whose data is the line's JSON and whose id is its `seq`. Lines a slow reader missed
/// are announced by an event `skipped` with their count.
pub(crate) async fn follow(
    State(state): State<AppState>,
    ServiceId(id): ServiceId,
    params: Result<Query<LogParams>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let tail = tail(params)?;
    let (lines, receiver) = supervisor(&state)?.tail_and_follow(&id, tail)?;
    let secrets = state.view().secrets.clone();
    let backlog = stream::iter(
        lines
            .into_iter()
            .map(|line| Ok(line_event(&line, &secrets)))
            .collect::<Vec<_>>(),
    );
    let live = stream::unfold(receiver, move |mut receiver| {
        let state = state.clone();
        async move {
            let event = match receiver.recv().await {
                Ok(line) => line_event(&line, &state.view().secrets),
                Err(broadcast::error::RecvError::Lagged(missed)) => SseEvent::default()
                    .event("skipped")
                    .data(missed.to_string()),
                // The supervisor stopped: the stream ends.
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((Ok(event), receiver))
        }
    });
    use futures_util::StreamExt as _;
    Ok(
        Sse::new(backlog.chain(live))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    )
}

/// A line as an event `log`, the catalog's secret values masked in its text.
fn line_event(line: &LogLine, secrets: &Secrets) -> SseEvent {
    let event = SseEvent::default().event("log").id(line.seq.to_string());
    let data = match secrets.scrub(&line.text) {
        std::borrow::Cow::Owned(text) => event.json_data(LogLine {
            text,
            ..line.clone()
        }),
        std::borrow::Cow::Borrowed(_) => event.json_data(line),
    };
    data.unwrap_or_else(|_| SseEvent::default().event("log").data("{}"))
}
