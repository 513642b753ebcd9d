//! The IZA OS HTTP server: a JSON API under `/api/v1`, server-sent events, an OpenAPI
//! document, `/healthz` and Prometheus `/metrics`, all over a running [`iza_runtime::Monitor`]
//! and its [`iza_store::Store`]. [`router`] builds the whole application without a socket, so
//! tests drive it with `tower::ServiceExt::oneshot`; `iza serve` binds it. See `docs/api.md`.
//! The same router serves the web dashboard at `/` (see `docs/dashboard.md`).
//!
//! - `state.rs`: [`AppState`] and the per-catalog [`CatalogView`];
//! - `routes.rs`: the JSON handlers; `stream.rs`: the event stream;
//! - `processes.rs`: the supervised processes of `iza up` (list, logs, start/stop/restart);
//! - `analysis.rs`: impact analysis, the manifest and the live report (`/services/{id}/impact`,
//!   `/manifest`, `/report`);
//! - `mcp.rs`: the MCP server of `iza-mcp` mounted at `/mcp`, over this router's API;
//! - `agents.rs`: the agents and their work (tasks, runs, the queue, incidents, external claims);
//! - `figures.rs`: business figures (`/figures`, per-figure history);
//! - `audit.rs`: the audit log of MCP tool calls and mutating API calls (`/audit`);
//! - `workflows.rs`: the workflow engines (`/workflows`, one workflow, retries);
//! - `metrics.rs`: Prometheus text; `openapi.rs`: the OpenAPI document;
//! - `error.rs`: [`ApiError`], the JSON error answer;
//! - `methods.rs`: 405 for a routed path asked with another method, before the access policy;
//! - `auth.rs`: the bearer token, its file, and the access policy every route goes through;
//! - `host.rs`: the names the server answers for (against DNS rebinding and other sites);
//! - `dashboard.rs`: the embedded web dashboard (the files of `web/`);
//! - `serve.rs`: [`serve`], the connections under their [`Limits`] (timeouts, cap).

mod ack_link;
pub mod agents;
mod alerts;
pub mod analysis;
mod artifacts;
mod audit;
pub mod auth;
mod dashboard;
mod error;
mod figures;
pub mod host;
pub mod hub;
mod mcp;
mod methods;
mod metrics;
mod nodes;
pub mod openapi;
mod outputs;
mod processes;
pub mod push;
pub mod ratelimit;
mod routes;
mod serve;
mod state;
mod stream;
pub mod workflows;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};

pub use auth::{Access, Auth, Scope, Token, TokenFile};
pub use host::HostPolicy;

pub use error::ApiError;
pub use nodes::ClusterInfo;
pub use serve::{Limits, serve};
pub use state::{AppState, CatalogView};

/// Every `GET` route the router answers, as written in the OpenAPI document. Any other method
/// on these paths answers 405 (`methods.rs`), so a route that also takes another method must be
/// listed for it too.
pub const ROUTES: &[&str] = &[
    "/healthz",
    "/metrics",
    "/api/v1/summary",
    "/api/v1/services",
    "/api/v1/services/{id}",
    "/api/v1/graph",
    "/api/v1/ports",
    "/api/v1/hub",
    "/api/v1/docker",
    "/api/v1/processes",
    "/api/v1/services/{id}/process",
    "/api/v1/services/{id}/logs",
    "/api/v1/services/{id}/logs/stream",
    "/api/v1/services/{id}/artifacts",
    "/api/v1/services/{id}/artifacts/{run}/{file}",
    "/api/v1/agents",
    "/api/v1/tasks",
    "/api/v1/queue",
    "/api/v1/runs",
    "/api/v1/runs/{id}",
    "/api/v1/incidents",
    "/api/v1/incidents/{id}",
    "/api/v1/events",
    "/api/v1/events/stream",
    "/api/v1/openapi.json",
    "/api/v1/services/{id}/impact",
    "/api/v1/manifest",
    "/api/v1/report",
    "/api/v1/alerts",
    "/api/v1/alerts/{id}",
    "/api/v1/silences",
    "/api/v1/figures",
    "/api/v1/figures/{service}/{figure}",
    "/api/v1/nodes",
    "/api/v1/outputs",
    "/api/v1/workflows",
    "/api/v1/workflows/{service}/{workflow}",
    "/api/v1/audit",
];

/// Every `DELETE` route: they need the bearer token.
pub const DELETE_ROUTES: &[&str] = &["/api/v1/silences/{id}"];

/// The routes of the web dashboard (`GET` only): the page and its files. Not part of the
/// API, so not in the OpenAPI document.
pub const DASHBOARD_ROUTES: &[&str] = &["/", "/assets/{*path}"];

/// The acknowledgement link of notifications (`GET` shows, `POST` acknowledges): outside the
/// API and the token policy, its signature is its credential (`ack_link.rs`).
pub const ACK_LINK_ROUTES: &[&str] = &["/ack/{id}"];

/// Every `POST` route: they need the bearer token (all but `/session`, which signs a browser
/// in, change something).
pub const ACTION_ROUTES: &[&str] = &[
    "/api/v1/services/{id}/start",
    "/api/v1/services/{id}/stop",
    "/api/v1/services/{id}/restart",
    "/api/v1/session",
    "/api/v1/runs",
    "/api/v1/runs/{id}/heartbeat",
    "/api/v1/runs/{id}/complete",
    "/api/v1/runs/{id}/cancel",
    "/api/v1/agents/{agent}/claim",
    "/api/v1/incidents/{id}/resolve",
    "/api/v1/alerts/{id}/ack",
    "/api/v1/silences",
    "/api/v1/services/{id}/results",
    "/api/v1/workflows/{service}/executions/{id}/retry",
];

/// The whole application. Every route, the fallback included, goes through the state's
/// [`HostPolicy`] (421 for a foreign `Host`, 403 for a change from another site), then its
/// [`Auth`] policy: calls that may change anything need the bearer token (by default none is
/// configured, so they are all refused; see [`AppState::with_auth`]).
pub fn router(state: AppState) -> Router {
    // MCP (`iza-mcp`), both protocol generations; behind the same policies as the API.
    let mcp = Router::new()
        .route_service("/mcp", mcp::service(&state))
        .route_layer(axum::middleware::from_fn(mcp::attach_caller))
        .route_layer(from_fn_with_state(state.mcp_rate.clone(), ratelimit::limit));
    Router::new()
        .route("/", get(dashboard::index))
        .route("/assets/{*path}", get(dashboard::asset))
        .route("/healthz", get(routes::healthz))
        .route("/ack/{id}", get(ack_link::show).post(ack_link::acknowledge))
        .route("/metrics", get(routes::metrics))
        .nest("/api/v1", api_routes())
        .merge(mcp)
        .fallback(routes::no_route)
        // Mutating calls of the API are audited here, inside the access policy (which says who
        // called), not in `api_routes`: the MCP backend calls those in-process, and its tool
        // calls are audited as such.
        .layer(from_fn_with_state(state.clone(), audit::api_calls))
        .layer(from_fn_with_state(state.auth.clone(), auth::require_token))
        // Outside the access policy: a wrong method is a 405, token or not.
        .layer(axum::middleware::from_fn(methods::allow_method))
        .layer(from_fn_with_state(state.hosts.clone(), host::check_host))
        .with_state(state)
}

/// The routes of `/api/v1`, without the policies `router` puts around them (the MCP backend
/// calls them in-process, after its own scope check).
pub(crate) fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/summary", get(routes::summary))
        .route("/hub", get(hub::hub))
        .route("/services", get(routes::services))
        .route("/services/{id}", get(routes::service))
        .route("/graph", get(routes::graph))
        .route("/ports", get(routes::ports))
        .route("/docker", get(routes::docker))
        .route("/processes", get(processes::list))
        .route("/services/{id}/process", get(processes::one))
        .route("/services/{id}/logs", get(processes::logs))
        .route("/services/{id}/artifacts", get(artifacts::list))
        .route(
            "/services/{id}/artifacts/{run}/{file}",
            get(artifacts::file),
        )
        .route("/services/{id}/logs/stream", get(processes::follow))
        .route("/services/{id}/start", post(processes::start))
        .route("/services/{id}/stop", post(processes::stop))
        .route("/services/{id}/restart", post(processes::restart))
        .route("/services/{id}/results", post(push::results))
        .route("/session", post(auth::sign_in))
        .route("/agents", get(agents::list_agents))
        .route("/agents/{agent}/claim", post(agents::claim))
        .route("/tasks", get(agents::list_tasks))
        .route("/queue", get(agents::queue))
        .route("/runs", get(agents::list_runs).post(agents::create_run))
        .route("/runs/{id}", get(agents::one_run))
        .route("/runs/{id}/heartbeat", post(agents::heartbeat))
        .route("/runs/{id}/complete", post(agents::complete))
        .route("/runs/{id}/cancel", post(agents::cancel))
        .route("/incidents", get(agents::list_incidents))
        .route("/incidents/{id}", get(agents::one_incident))
        .route("/incidents/{id}/resolve", post(agents::resolve))
        .route("/events", get(routes::events))
        .route("/events/stream", get(stream::events_stream))
        .route("/openapi.json", get(routes::openapi))
        .route("/services/{id}/impact", get(analysis::impact))
        .route("/manifest", get(analysis::manifest))
        .route("/report", get(analysis::report))
        .route("/outputs", get(outputs::list))
        .route("/alerts", get(alerts::list))
        .route("/alerts/{id}", get(alerts::one))
        .route("/alerts/{id}/ack", post(alerts::ack))
        .route(
            "/silences",
            get(alerts::list_silences).post(alerts::create_silence),
        )
        .route("/silences/{id}", delete(alerts::expire_silence))
        .route("/figures", get(figures::list))
        .route("/figures/{service}/{figure}", get(figures::series))
        .route("/nodes", get(nodes::list))
        .route("/workflows", get(workflows::list))
        .route("/workflows/{service}/{workflow}", get(workflows::one))
        .route(
            "/workflows/{service}/executions/{id}/retry",
            post(workflows::retry),
        )
        .route("/audit", get(audit::list))
}
