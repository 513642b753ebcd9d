//! The audit log's host side: [`AuditLog`], the [`iza_mcp::AuditSink`] of `/mcp` (every MCP
//! tool call, IZA's own and the hub's) and the middleware [`api_calls`] that audits mutating
//! REST calls; both mask secrets in the arguments (the catalog's redaction: strings under
//! secret-looking keys, URL credentials, the manifest's secret values) and queue the records,
//! which a background writer appends to the store in batches. `GET /api/v1/audit` ([`list`])
//! writes what is queued first, so a read shows every call that ended before it.
//!
//! It does not decide outcomes (the MCP handler and the API's status codes do) nor keep
//! anything in memory beyond the queue.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use iza_store::{AuditOutcome, AuditQuery, AuditRecord, MAX_AUDIT_PAGE};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::auth::{Access, Denied, Scope};
use crate::error::ApiError;
use crate::state::AppState;

/// Records waiting for the writer at most; beyond, new ones are dropped (and counted, and
/// logged): the audit never makes a call wait for the store.
const MAX_QUEUED: usize = 10_000;
/// The largest request body the API audit keeps as arguments (a bigger one is noted by its
/// size, and passed on unread).
const MAX_AUDITED_BODY: usize = 64 * 1024;
/// The page `GET /audit` returns without `limit`.
const DEFAULT_PAGE: usize = 100;

/// The queue of records and its writer. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct AuditLog {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    queue: Mutex<Vec<AuditRecord>>,
    wake: tokio::sync::Notify,
    /// One write at a time, so records reach the store in the order they were queued.
    writing: tokio::sync::Mutex<()>,
    writer: OnceLock<()>,
    dropped: AtomicU64,
}

impl AuditLog {
    /// Queues a record (its arguments and message already masked) and makes sure the writer
    /// runs.
    fn push(&self, state: &AppState, record: AuditRecord) {
        {
            let mut queue = self
                .inner
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if queue.len() >= MAX_QUEUED {
                let dropped = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(
                        "the audit log's queue is full ({MAX_QUEUED}); {dropped} records dropped so far"
                    );
                }
                return;
            }
            queue.push(record);
        }
        self.inner.wake.notify_one();
        if self.inner.writer.set(()).is_ok()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (log, state) = (self.clone(), state.clone());
            runtime.spawn(async move {
                loop {
                    log.inner.wake.notified().await;
                    log.flush(&state).await;
                }
            });
        }
    }

    /// Writes every queued record to the store now.
    pub(crate) async fn flush(&self, state: &AppState) {
        let _writing = self.inner.writing.lock().await;
        let batch = std::mem::take(
            &mut *self
                .inner
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if batch.is_empty() {
            return;
        }
        if let Err(err) = state.store.append_audit(&batch).await {
            tracing::error!("cannot write {} audit records: {err}", batch.len());
        }
    }

    /// Masks and queues one call.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        state: &AppState,
        at: iza_store::Millis,
        surface: &str,
        client: String,
        scope: &str,
        tool: String,
        upstream: Option<String>,
        arguments: &Value,
        outcome: AuditOutcome,
        duration_ms: f64,
        message: Option<String>,
    ) {
        let view = state.view();
        let mut arguments = iza_catalog::redact::redact_json(arguments);
        view.secrets.scrub_json(&mut arguments);
        let message = message.map(|m| view.secrets.scrub(&m).into_owned());
        let digest = sha2::Sha256::digest(arguments.to_string().as_bytes());
        let mut arguments_sha256 = String::with_capacity(64);
        for byte in digest {
            let _ = write!(arguments_sha256, "{byte:02x}");
        }
        self.push(
            state,
            AuditRecord {
                id: 0,
                at,
                surface: surface.to_owned(),
                client,
                scope: scope.to_owned(),
                tool,
                upstream,
                arguments,
                arguments_sha256,
                outcome,
                duration_ms,
                message,
            },
        );
    }
}

/// The sink of the MCP handler: a record per tool call.
pub(crate) struct McpAudit {
    pub(crate) state: AppState,
}

impl iza_mcp::AuditSink for McpAudit {
    fn record(&self, call: iza_mcp::CallRecord) {
        let at = call
            .at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let outcome = match call.outcome {
            iza_mcp::CallOutcome::Ok => AuditOutcome::Ok,
            iza_mcp::CallOutcome::Error => AuditOutcome::Error,
            iza_mcp::CallOutcome::Denied => AuditOutcome::Denied,
            iza_mcp::CallOutcome::RateLimited => AuditOutcome::RateLimited,
        };
        self.state.audit.record(
            &self.state,
            at,
            "mcp",
            call.client,
            call.scope.as_str(),
            call.tool,
            call.upstream,
            &call.arguments,
            outcome,
            call.duration.as_secs_f64() * 1000.0,
            call.message,
        );
    }
}

/// The name of a caller's credential, as the audit shows it (never the token).
pub(crate) fn client_name(access: Access) -> &'static str {
    match access.0 {
        None => "anonymous",
        Some(Scope::Read) => "read",
        Some(Scope::Operate) => "operate",
        Some(Scope::Admin) => "admin",
        Some(Scope::Push) => "push",
    }
}

/// The middleware (around every route, inside the access policy) that audits every call of
/// `/api/v1` that may change something (all but
/// reads), except signing a browser in and pushing results (a push token's routine feed):
/// who (the credential's name), the call (`POST /api/v1/runs`), the JSON body as arguments,
/// the outcome from the status (2xx ok, 401/403 denied, 429 rate-limited, else error).
pub(crate) async fn api_calls(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let audited = !matches!(
        method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) && path.starts_with("/api/v1/")
        && path != "/api/v1/session"
        && !path.ends_with("/results");
    if !audited {
        return next.run(request).await;
    }
    let access = request
        .extensions()
        .get::<Access>()
        .copied()
        .unwrap_or_default();
    let (at, started) = (iza_runtime::now_millis(), Instant::now());
    // The body is read (to keep it as the arguments) only when it says its length and that
    // is small; a larger or streamed one goes on untouched and is noted by its size.
    let length = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let (arguments, request) = match length {
        Some(0) => (Value::Null, request),
        Some(length) if length <= MAX_AUDITED_BODY => {
            let (parts, body) = request.into_parts();
            match axum::body::to_bytes(body, MAX_AUDITED_BODY).await {
                Ok(bytes) => {
                    let arguments = serde_json::from_slice(&bytes)
                        .unwrap_or_else(|_| json!({ "body": String::from_utf8_lossy(&bytes) }));
                    (
                        arguments,
                        Request::from_parts(parts, axum::body::Body::from(bytes)),
                    )
                }
                Err(err) => {
                    let response = ApiError::BadRequest(format!("cannot read the body: {err}"));
                    return axum::response::IntoResponse::into_response(response);
                }
            }
        }
        other => (json!({ "body_bytes": other, "kept": false }), request),
    };
    let response = next.run(request).await;
    let status = response.status();
    let outcome = match status.as_u16() {
        200..=299 => AuditOutcome::Ok,
        401 | 403 => AuditOutcome::Denied,
        429 => AuditOutcome::RateLimited,
        _ => AuditOutcome::Error,
    };
    let message = (outcome != AuditOutcome::Ok).then(|| format!("HTTP {status}"));
    let scope = match access.0 {
        None => "none",
        Some(Scope::Push) => "push",
        Some(Scope::Read) => "read",
        Some(Scope::Operate) => "operate",
        Some(Scope::Admin) => "admin",
    };
    state.audit.record(
        &state,
        at,
        "api",
        client_name(access).to_owned(),
        scope,
        format!("{method} {path}"),
        None,
        &arguments,
        outcome,
        started.elapsed().as_secs_f64() * 1000.0,
        message,
    );
    response
}

/// Query parameters of `GET /audit`.
#[derive(Debug, Deserialize)]
pub(crate) struct AuditParams {
    before: Option<i64>,
    tool: Option<String>,
    client: Option<String>,
    outcome: Option<String>,
    since: Option<i64>,
    limit: Option<usize>,
}

/// `GET /api/v1/audit`: the audit log, newest first, for the admin token only (it shows who
/// did what); `next` is the `before` of the next page.
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    if !access.is_admin() {
        return Err(ApiError::Unauthorized(match access.0 {
            None => Denied::MissingToken,
            Some(_) => Denied::ReadOnly,
        }));
    }
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_AUDIT_PAGE {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {MAX_AUDIT_PAGE}, not {limit}"
        )));
    }
    let outcome = match params.outcome.as_deref() {
        None => None,
        Some(text) => Some(AuditOutcome::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`outcome` is one of `ok`, `error`, `denied`, `rate-limited`, not `{text}`"
            ))
        })?),
    };
    state.audit.flush(&state).await;
    let page = state
        .store
        .audit(&AuditQuery {
            before: params.before,
            tool: params.tool,
            client: params.client,
            outcome,
            since: params.since,
            limit,
        })
        .await?;
    let next = if page.len() == limit {
        page.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Json(json!({ "records": page, "next": next })))
}
