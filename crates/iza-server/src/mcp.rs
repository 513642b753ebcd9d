//! Mounts IZA's MCP server (`iza-mcp`) at `/mcp`: the [`iza_mcp::Backend`] over this server's
//! own API router, called in-process (so every tool answers the API's document), and the
//! middleware that tells the MCP handler who called ([`iza_mcp::Caller`], from the [`Access`]
//! the access policy found). The Host/Origin policy, the bearer tokens and the connection
//! limits are the router's, as for every route. It owns no tool: those are `iza-mcp`'s.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::future::BoxFuture;
use iza_mcp::{Answer, Backend, BackendError, Caller, ClientName, Verb};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::auth::{Access, Scope};
use crate::state::AppState;

/// The largest MCP request body (413 beyond).
pub(crate) const MCP_MAX_BODY: usize = 1024 * 1024;
/// The largest API answer the backend reads (the services listing of a very large map).
const MAX_ANSWER: usize = 256 * 1024 * 1024;

/// The API, answered in-process by the router of `/api/v1` without its access policy: the
/// MCP handler has already decided what the caller may do.
#[derive(Clone)]
pub(crate) struct ApiBackend {
    api: Router,
}

impl ApiBackend {
    pub(crate) fn new(state: AppState) -> ApiBackend {
        ApiBackend {
            api: Router::new()
                .nest("/api/v1", crate::api_routes())
                .with_state(state),
        }
    }
}

impl Backend for ApiBackend {
    fn call(
        &self,
        verb: Verb,
        path: String,
        body: Option<Value>,
    ) -> BoxFuture<'static, Result<Answer, BackendError>> {
        let api = self.api.clone();
        Box::pin(async move {
            let method = match verb {
                Verb::Get => Method::GET,
                Verb::Post => Method::POST,
            };
            let mut request = Request::builder()
                .method(method)
                .uri(&path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(match &body {
                    Some(body) => Body::from(body.to_string()),
                    None => Body::empty(),
                })
                .map_err(|err| BackendError::Unreachable(err.to_string()))?;
            request.extensions_mut().insert(Access(Some(Scope::Admin)));
            let response = api
                .oneshot(request)
                .await
                .map_err(|err| BackendError::Unreachable(err.to_string()))?;
            answer(response).await
        })
    }
}

/// A response as an [`Answer`]: JSON parsed, text as a JSON string, nothing as `null`.
async fn answer(response: Response) -> Result<Answer, BackendError> {
    let status = response.status().as_u16();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER)
        .await
        .map_err(|err| BackendError::Unreachable(err.to_string()))?;
    let body = if bytes.is_empty() {
        Value::Null
    } else if json {
        serde_json::from_slice(&bytes).map_err(|err| BackendError::Unreachable(err.to_string()))?
    } else {
        Value::String(String::from_utf8_lossy(&bytes).into_owned())
    };
    Ok(Answer { status, body })
}

/// The MCP scope of an access: an anonymous caller (let through only while reads are open)
/// reads; each token gives its scope.
pub(crate) fn scope_of(access: Access) -> iza_mcp::Scope {
    match access.0 {
        None | Some(Scope::Read | Scope::Push) => iza_mcp::Scope::Read,
        Some(Scope::Operate) => iza_mcp::Scope::Operate,
        Some(Scope::Admin) => iza_mcp::Scope::Admin,
    }
}

/// Puts the caller's [`Caller`] in the request for the MCP handler.
pub(crate) async fn attach_caller(mut request: Request, next: Next) -> Response {
    let access = request
        .extensions()
        .get::<Access>()
        .copied()
        .unwrap_or_default();
    request.extensions_mut().insert(Caller(scope_of(access)));
    request
        .extensions_mut()
        .insert(ClientName(crate::audit::client_name(access)));
    next.run(request).await
}

/// The `/mcp` service over `state`.
pub(crate) fn service(state: &AppState) -> iza_mcp::McpHttpService {
    let backend: Arc<dyn Backend> = Arc::new(ApiBackend::new(state.clone()));
    iza_mcp::http_service(
        backend,
        iza_mcp::HttpOptions {
            max_body_bytes: MCP_MAX_BODY,
            shutdown: state.mcp_shutdown(),
            default_scope: iza_mcp::Scope::Read,
            hub: state.hub.clone(),
            audit: Some(Arc::new(crate::audit::McpAudit {
                state: state.clone(),
            })),
            tool_limits: state.mcp_tool_limits.clone(),
        },
    )
}
