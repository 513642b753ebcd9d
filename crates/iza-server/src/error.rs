//! Defines [`ApiError`], the one error type of every handler, and how it becomes a JSON
//! response: `{"error": {"code", "message"}}` (a 401 adds `"reason"` and a
//! `WWW-Authenticate: Bearer` header, a 405 an `Allow` header; a 403 for the read-only token
//! too), 4xx for what the caller can fix, 500 for store failures (logged here, never leaked to
//! the caller).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iza_store::StoreError;
use serde_json::json;

use crate::auth::Denied;

/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    /// No service has this id.
    UnknownService(String),
    /// A query parameter is malformed or out of range; the text says why.
    BadRequest(String),
    /// No route matches the path.
    NoRoute(String),
    /// The path is routed, but not for this method; `allow` lists the methods it answers.
    MethodNotAllowed {
        /// The method of the request.
        method: String,
        /// The path of the request.
        path: String,
        /// The `Allow` header: the methods the path answers.
        allow: &'static str,
    },
    /// The call needs the bearer token and did not bring it (see [`crate::auth`]).
    Unauthorized(Denied),
    /// The store failed; the detail is logged, the caller sees `internal error`.
    Store(StoreError),
    /// The service exists but has no `command`: no process to act on.
    NotSupervised(String),
    /// The server runs no supervisor (`iza serve`, not `iza up`).
    NoSupervisor,
    /// The server is stopping: it starts nothing any more.
    Stopping,
    /// The `Host` names no address or name this server answers for (DNS rebinding): 421.
    MisdirectedHost(String),
    /// A browser on another site sent a call that changes something: 403.
    ForeignOrigin(String),
    /// The server runs no agents engine.
    NoAgents,
    /// No task has this key (or agent and name).
    UnknownTask(String),
    /// No agent has this id.
    UnknownAgent(String),
    /// No run has this id.
    UnknownRun(i64),
    /// No incident has this id.
    UnknownIncident(i64),
    /// The caller does not hold this run (its claim expired, or the run finished).
    RunNotHeld(i64),
    /// The request is valid but the engine refuses it now; the text says why.
    Conflict(String),
    /// No kept browser-check artifact has this path (`service/run/file`).
    NoArtifact(String),
    /// Reading server-side state failed; the detail is logged, the caller sees `internal error`.
    Internal(String),
    /// The run has ended already (it cannot be cancelled); the text says how.
    RunFinished(String),
    /// The server runs no alerting.
    NoAlerts,
    /// No alert has this id.
    UnknownAlert(i64),
    /// No silence has this id.
    UnknownSilence(i64),
    /// The service declares no figure of this name (`service/figure`).
    UnknownFigure(String),
    /// No engine IZA follows is this service, or it has no such workflow; the text says which.
    UnknownWorkflow(String),
    /// The engine has no execution of this id (its 404); the text says which.
    UnknownExecution(String),
    /// The server follows no workflow engine.
    NoWorkflows,
    /// The workflow engine refused or failed (credentials, unreachable, a 5xx): 502.
    EngineFailed(String),
}

/// Every code [`ApiError::status_and_code`] answers, for the OpenAPI document's `Error`
/// schema (a test checks that each variant's code is listed).
pub(crate) const ERROR_CODES: &[&str] = &[
    "unknown-service",
    "bad-request",
    "no-route",
    "method-not-allowed",
    "unauthorized",
    "forbidden",
    "misdirected-host",
    "foreign-origin",
    "internal",
    "not-supervised",
    "no-supervisor",
    "stopping",
    "no-agents",
    "unknown-task",
    "unknown-agent",
    "unknown-run",
    "unknown-incident",
    "run-not-held",
    "conflict",
    "no-artifact",
    "run-finished",
    "no-alerts",
    "unknown-alert",
    "unknown-silence",
    "unknown-figure",
    "unknown-workflow",
    "unknown-execution",
    "no-workflows",
    "engine-failed",
];

impl ApiError {
    /// The HTTP status and the stable, kebab-case error code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::UnknownService(_) => (StatusCode::NOT_FOUND, "unknown-service"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request"),
            ApiError::NoRoute(_) => (StatusCode::NOT_FOUND, "no-route"),
            ApiError::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed")
            }
            ApiError::Unauthorized(Denied::ReadOnly) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::NotSupervised(_) => (StatusCode::CONFLICT, "not-supervised"),
            ApiError::NoSupervisor => (StatusCode::CONFLICT, "no-supervisor"),
            ApiError::Stopping => (StatusCode::SERVICE_UNAVAILABLE, "stopping"),
            ApiError::MisdirectedHost(_) => (StatusCode::MISDIRECTED_REQUEST, "misdirected-host"),
            ApiError::ForeignOrigin(_) => (StatusCode::FORBIDDEN, "foreign-origin"),
            ApiError::NoAgents => (StatusCode::CONFLICT, "no-agents"),
            ApiError::UnknownTask(_) => (StatusCode::NOT_FOUND, "unknown-task"),
            ApiError::UnknownAgent(_) => (StatusCode::NOT_FOUND, "unknown-agent"),
            ApiError::UnknownRun(_) => (StatusCode::NOT_FOUND, "unknown-run"),
            ApiError::UnknownIncident(_) => (StatusCode::NOT_FOUND, "unknown-incident"),
            ApiError::RunNotHeld(_) => (StatusCode::CONFLICT, "run-not-held"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::NoArtifact(_) => (StatusCode::NOT_FOUND, "no-artifact"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::RunFinished(_) => (StatusCode::CONFLICT, "run-finished"),
            ApiError::NoAlerts => (StatusCode::CONFLICT, "no-alerts"),
            ApiError::UnknownAlert(_) => (StatusCode::NOT_FOUND, "unknown-alert"),
            ApiError::UnknownSilence(_) => (StatusCode::NOT_FOUND, "unknown-silence"),
            ApiError::UnknownFigure(_) => (StatusCode::NOT_FOUND, "unknown-figure"),
            ApiError::UnknownWorkflow(_) => (StatusCode::NOT_FOUND, "unknown-workflow"),
            ApiError::UnknownExecution(_) => (StatusCode::NOT_FOUND, "unknown-execution"),
            ApiError::NoWorkflows => (StatusCode::CONFLICT, "no-workflows"),
            ApiError::EngineFailed(_) => (StatusCode::BAD_GATEWAY, "engine-failed"),
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::UnknownService(id) => format!("no service has the id `{id}`"),
            ApiError::BadRequest(reason) => reason.clone(),
            ApiError::NoRoute(path) => format!("no route for `{path}`; see /api/v1/openapi.json"),
            ApiError::MethodNotAllowed {
                method,
                path,
                allow,
            } => format!("`{path}` does not answer `{method}`, only `{allow}`"),
            ApiError::Unauthorized(Denied::NoServerToken) => {
                "this call needs a bearer token, and the server has none configured".to_owned()
            }
            ApiError::Unauthorized(Denied::ReadOnly) => {
                "this call needs the admin token (`.iza/token`); the read-only token only reads"
                    .to_owned()
            }
            ApiError::Unauthorized(Denied::NoSession) => {
                "the session has expired or ended (a rotation or a restart ends them); sign in \
                 again with `POST /api/v1/session`"
                    .to_owned()
            }
            ApiError::Unauthorized(_) => {
                "this call needs `Authorization: Bearer <token>`; `iza token` prints the token"
                    .to_owned()
            }
            ApiError::Store(_) => "internal error".to_owned(),
            ApiError::NotSupervised(id) => {
                format!("service `{id}` is not supervised: it has no `command` in the manifest")
            }
            ApiError::NoSupervisor => "this server supervises no processes: it was started \
                 with `iza serve`; run `iza up` to supervise the services that have a `command`"
                .to_owned(),
            ApiError::Stopping => "the server is stopping".to_owned(),
            ApiError::MisdirectedHost(host) => format!(
                "this server does not answer for the host `{host}`; open it by its address or \
                 `localhost`, or start it with `--allow-host {host}`"
            ),
            ApiError::ForeignOrigin(origin) => format!(
                "a page of `{origin}` may not change anything here; only pages of the hosts this \
                 server answers for may (`--allow-host` adds one)"
            ),
            ApiError::NoAgents => "this server runs no agents engine".to_owned(),
            ApiError::UnknownTask(task) => {
                format!("no task is `{task}`; name it `AGENT/TASK` (`iza tasks` lists them)")
            }
            ApiError::UnknownAgent(id) => format!("no agent has the id `{id}`"),
            ApiError::UnknownRun(id) => format!("no run has the id {id}"),
            ApiError::UnknownIncident(id) => format!("no incident has the id {id}"),
            ApiError::RunNotHeld(id) => format!(
                "run {id} is not held by this worker: its claim expired and it went back to \
                 the queue, or it has finished; claim again"
            ),
            ApiError::Conflict(reason) => reason.clone(),
            ApiError::NoArtifact(path) => format!(
                "no kept screenshot is `{path}`; `GET /api/v1/services/{{id}}/artifacts` lists them"
            ),
            ApiError::Internal(_) => "internal error".to_owned(),
            ApiError::RunFinished(reason) => reason.clone(),
            ApiError::NoAlerts => "this server runs no alerting".to_owned(),
            ApiError::UnknownAlert(id) => format!("no alert has the id {id}"),
            ApiError::UnknownSilence(id) => format!("no silence has the id {id}"),
            ApiError::UnknownFigure(name) => format!("no figure `{name}`; see /api/v1/figures"),
            ApiError::UnknownWorkflow(reason) => format!("{reason}; see /api/v1/workflows"),
            ApiError::UnknownExecution(reason) => reason.clone(),
            ApiError::NoWorkflows => "this server follows no workflow engine".to_owned(),
            ApiError::EngineFailed(reason) => reason.clone(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        ApiError::Store(err)
    }
}

impl From<iza_runtime::SupervisorError> for ApiError {
    fn from(err: iza_runtime::SupervisorError) -> ApiError {
        match err {
            iza_runtime::SupervisorError::UnknownService(id) => ApiError::UnknownService(id),
            iza_runtime::SupervisorError::NotSupervised(id) => ApiError::NotSupervised(id),
            iza_runtime::SupervisorError::Stopped => ApiError::Stopping,
        }
    }
}

impl From<iza_runtime::agents::AgentsError> for ApiError {
    fn from(err: iza_runtime::agents::AgentsError) -> ApiError {
        use iza_runtime::agents::AgentsError;
        match err {
            AgentsError::Store(err) => ApiError::Store(err),
            AgentsError::UnknownTask(task) => ApiError::UnknownTask(task),
            AgentsError::UnknownRun(run) => ApiError::UnknownRun(run),
            AgentsError::UnknownIncident(id) => ApiError::UnknownIncident(id),
            AgentsError::NotHeld { run, .. } => ApiError::RunNotHeld(run),
            err @ AgentsError::NotRunnable(_) => ApiError::Conflict(err.to_string()),
            err @ AgentsError::NotCancellable { .. } => ApiError::RunFinished(err.to_string()),
            err @ AgentsError::ExternalOnly(_) => ApiError::Conflict(err.to_string()),
            err @ AgentsError::WaitTimeout { .. } => ApiError::Conflict(err.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Store(err) = &self {
            tracing::error!("store failure while answering a request: {err}");
        }
        if let ApiError::Internal(err) = &self {
            tracing::error!("failure while answering a request: {err}");
        }
        let (status, code) = self.status_and_code();
        if let ApiError::Unauthorized(denied) = self {
            let body = json!({ "error": {
                "code": code, "message": self.message(), "reason": denied.reason(),
            } });
            // RFC 6750: a presented token that is refused is an `invalid_token`.
            let challenge = match denied {
                Denied::WrongToken | Denied::NoSession => r#"Bearer error="invalid_token""#,
                Denied::ReadOnly => r#"Bearer error="insufficient_scope""#,
                Denied::MissingToken | Denied::NoServerToken => "Bearer",
            };
            let mut response = (status, Json(body)).into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
            return response;
        }
        let body = json!({ "error": { "code": code, "message": self.message() } });
        let mut response = (status, Json(body)).into_response();
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_in_the_openapi_list() {
        let s = String::new;
        let every = [
            ApiError::UnknownService(s()),
            ApiError::BadRequest(s()),
            ApiError::NoRoute(s()),
            ApiError::MethodNotAllowed {
                method: s(),
                path: s(),
                allow: "GET",
            },
            ApiError::Unauthorized(Denied::MissingToken),
            ApiError::Unauthorized(Denied::ReadOnly),
            ApiError::Store(StoreError::Query(s())),
            ApiError::NotSupervised(s()),
            ApiError::NoSupervisor,
            ApiError::Stopping,
            ApiError::MisdirectedHost(s()),
            ApiError::ForeignOrigin(s()),
            ApiError::NoAgents,
            ApiError::UnknownTask(s()),
            ApiError::UnknownAgent(s()),
            ApiError::UnknownRun(1),
            ApiError::UnknownIncident(1),
            ApiError::RunNotHeld(1),
            ApiError::Conflict(s()),
            ApiError::NoArtifact(s()),
            ApiError::Internal(s()),
            ApiError::RunFinished(s()),
            ApiError::NoAlerts,
            ApiError::UnknownAlert(1),
            ApiError::UnknownSilence(1),
            ApiError::UnknownFigure(s()),
            ApiError::UnknownWorkflow(s()),
            ApiError::UnknownExecution(s()),
            ApiError::NoWorkflows,
            ApiError::EngineFailed(s()),
        ];
        for error in &every {
            let (_, code) = error.status_and_code();
            assert!(
                ERROR_CODES.contains(&code),
                "`{code}` is not in ERROR_CODES"
            );
        }
        // And nothing listed that no error answers.
        for code in ERROR_CODES {
            assert!(
                every.iter().any(|e| e.status_and_code().1 == *code),
                "`{code}` is listed but never answered"
            );
        }
    }
}
