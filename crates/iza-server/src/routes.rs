//! Defines the JSON handlers of `/api/v1`: summary, services, one service, graph, ports and
//! the event history. Lists come from the monitor's snapshot (no store query per service);
//! only one service's history and the event pages read the store.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use iza_catalog::model::{Metric, PortSpec, ServiceKind};
use iza_catalog::redact::{Redact, Secrets};
use iza_runtime::{Health, ServiceState, Status};
use iza_store::{EventQuery, MAX_EVENTS_PAGE, Resolution};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::{Access, Denied};
use crate::error::ApiError;
use crate::state::{AppState, CatalogView, ListingCache};

/// Results shown by `GET /services/{id}`.
const RECENT_RESULTS: usize = 50;
/// Events per page when `limit` is not given.
const DEFAULT_EVENTS_PAGE: usize = 100;
const HOUR: i64 = 3_600_000;

pub(crate) async fn summary(State(state): State<AppState>) -> Json<Value> {
    let view = state.view();
    let snapshot = state.monitor.snapshot();
    let mut counts = [0usize; 5];
    for service in &snapshot.services {
        let slot = match service.status {
            Status::Up => 0,
            Status::Degraded => 1,
            Status::Down => 2,
            Status::Impacted { .. } => 3,
            Status::Unknown => 4,
        };
        if let Some(count) = counts.get_mut(slot) {
            *count += 1;
        }
    }
    // A claim about a business figure is set beside its measured ecosystem aggregate (read
    // from the store only when the manifest has such a claim).
    let measured: HashMap<String, Option<String>> = if view
        .catalog
        .ecosystem
        .claims
        .iter()
        .any(|c| c.figure.is_some())
    {
        match crate::figures::summary(&state).await {
            Ok(figures) => figures
                .claims
                .into_iter()
                .map(|c| (c.figure, c.display))
                .collect(),
            Err(err) => {
                tracing::warn!("the summary could not read the business figures: {err:?}");
                HashMap::new()
            }
        }
    } else {
        HashMap::new()
    };
    let claims: Vec<Value> = view
        .catalog
        .ecosystem
        .claims
        .iter()
        .map(|claim| {
            let mapped = match (&claim.figure, claim.counts) {
                (Some(figure), _) => measured.get(figure).cloned().flatten(),
                (None, Some(metric)) => Some(view.catalog.metric(metric)),
                (None, None) => None,
            };
            json!({
                "label": claim.label,
                "claimed": claim.value,
                "mapped": mapped,
                "counts": claim.counts,
                "figure": claim.figure,
            })
        })
        .collect();
    let catalog = &view.catalog;
    let figure = |metric: Metric| catalog.metric(metric).parse::<u64>().unwrap_or(0);
    let figures = json!({
        "services": figure(Metric::Services),
        "ports": figure(Metric::Ports),
        "docker_services": figure(Metric::DockerServices),
        "mcp_servers": figure(Metric::McpServers),
        "workflow_engines": figure(Metric::WorkflowEngines),
        "agents": figure(Metric::Agents),
        "tasks": figure(Metric::Tasks),
        "groups": catalog.groups.len(),
    });
    let c = state.monitor.counters();
    Json(json!({
        "ecosystem": view.catalog.ecosystem.name,
        "seq": snapshot.seq,
        "at": snapshot.at,
        "services": snapshot.services.len(),
        "checked": snapshot.services.iter().filter(|s| s.checked).count(),
        "status": {
            "up": counts[0], "degraded": counts[1], "down": counts[2],
            "impacted": counts[3], "unknown": counts[4],
        },
        "claims": claims,
        "figures": figures,
        "counters": c,
        "docker": docker_summary(&state, &view),
    }))
}

/// The summary's Docker figures: whether the engine answers, and how many of the services
/// with a Docker reference have a running container.
fn docker_summary(state: &AppState, view: &CatalogView) -> Value {
    let with_reference = view
        .catalog
        .services
        .values()
        .filter(|s| s.docker.is_some())
        .count();
    match state.docker() {
        Some(docker) => json!({
            "engine": docker.engine,
            "services": with_reference,
            "running": docker.containers.values().flatten().filter(|c| c.state == "running").count(),
        }),
        None => {
            json!({ "engine": { "state": "unused" }, "services": with_reference, "running": 0 })
        }
    }
}

/// `GET /docker`: the engine and every container the manifest names.
pub(crate) async fn docker(State(state): State<AppState>) -> Json<Value> {
    match state.docker() {
        Some(docker) => Json(json!(&*docker)),
        None => Json(json!({ "engine": { "state": "unused" }, "at": 0, "containers": {} })),
    }
}

/// One row of `GET /services`.
#[derive(Serialize)]
struct ServiceRow<'a> {
    id: &'a str,
    name: Option<&'a str>,
    group: Option<&'a str>,
    kind: Option<ServiceKind>,
    ports: &'a [PortSpec],
    status: &'static str,
    by: Option<&'a str>,
    own: Health,
    checked: bool,
    since: Option<i64>,
    last: Option<Cow<'a, iza_runtime::ProbeSummary>>,
    /// A check probed from several regions: each region's verdict and the quorum.
    #[serde(skip_serializing_if = "Option::is_none")]
    regional: Option<&'a iza_runtime::RegionalState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    degraded_by: Option<Cow<'a, str>>,
}

fn row<'a>(state: &'a ServiceState, view: &'a CatalogView) -> ServiceRow<'a> {
    let service = view.catalog.services.get(&state.service);
    ServiceRow {
        id: &state.service,
        name: service.map(|s| s.name.as_str()),
        group: service.and_then(|s| s.group.as_deref()),
        kind: service.map(|s| s.kind),
        ports: service.map_or(&[], |s| s.ports.as_slice()),
        status: state.status.as_str(),
        by: state.status.impacted_by(),
        own: state.own,
        checked: state.checked,
        since: state.since,
        last: state
            .last
            .as_ref()
            .map(|last| scrubbed(last, &view.secrets)),
        regional: state.regional.as_ref(),
        degraded_by: state
            .degraded_by
            .as_deref()
            .map(|reason| view.secrets.scrub(reason)),
    }
}

/// A probe's summary with the catalog's secrets masked in its message (a probe error may
/// quote a URL or a header).
fn scrubbed<'a>(
    last: &'a iza_runtime::ProbeSummary,
    secrets: &Secrets,
) -> Cow<'a, iza_runtime::ProbeSummary> {
    match last.message.as_deref().map(|m| secrets.scrub(m)) {
        Some(Cow::Owned(message)) => Cow::Owned(iza_runtime::ProbeSummary {
            message: Some(message),
            ..last.clone()
        }),
        _ => Cow::Borrowed(last),
    }
}

pub(crate) async fn services(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let view = state.view();
    let (body, gzip) = match cached_listing(&state, &view) {
        Some((bodies, refresh)) => {
            if refresh {
                tokio::spawn(refresh_listing(state.clone(), view));
            }
            bodies
        }
        None => {
            // The body is too old (or of another catalog): rebuild it before answering, one
            // rebuild at a time; requests that waited for it find it fresh.
            let _building = state.listing_build.lock().await;
            match cached_listing(&state, &view) {
                Some((bodies, _)) => bodies,
                None => store_listing(&state, view),
            }
        }
    };
    let vary = (header::VARY, "accept-encoding");
    let json = (header::CONTENT_TYPE, "application/json");
    if accepts_gzip(&headers) {
        ([json, vary, (header::CONTENT_ENCODING, "gzip")], gzip).into_response()
    } else {
        ([json, vary], body).into_response()
    }
}

/// The kept `GET /services` bodies, when they may still be served (see [`ListingCache`]), and
/// whether this request should start building newer ones in the background (then marked as
/// under way).
fn cached_listing(state: &AppState, view: &Arc<CatalogView>) -> Option<((Bytes, Bytes), bool)> {
    let seq = state.monitor.bus().seq();
    let mut cache = state.listing.lock().unwrap_or_else(PoisonError::into_inner);
    let cache = cache.as_mut().filter(|c| c.serves(seq, view))?;
    let refresh = cache.wants_refresh(seq);
    cache.refreshing |= refresh;
    Some(((cache.body.clone(), cache.gzip.clone()), refresh))
}

/// Builds newer `GET /services` bodies off the request path, unless a request rebuilt them
/// meanwhile.
async fn refresh_listing(state: AppState, view: Arc<CatalogView>) {
    let _building = state.listing_build.lock().await;
    let seq = state.monitor.bus().seq();
    let behind = state
        .listing
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .is_some_and(|c| Arc::ptr_eq(&c.view, &view) && c.seq != seq && c.refreshing);
    if behind {
        let builder = state.clone();
        let _ = tokio::task::spawn_blocking(move || store_listing(&builder, view)).await;
    }
}

/// Whether `Accept-Encoding` lists `gzip` (or `*`) without refusing it by `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Builds the body of `GET /services` and its gzipped twin, keeps both for the next requests
/// and returns them.
fn store_listing(state: &AppState, view: Arc<CatalogView>) -> (Bytes, Bytes) {
    // Its age counts from the snapshot, not from the end of serializing it.
    let built = Instant::now();
    let (body, seq) = listing(state, &view);
    let body = Bytes::from(body);
    let gzip = Bytes::from(gzipped(&body));
    *state.listing.lock().unwrap_or_else(PoisonError::into_inner) = Some(ListingCache {
        seq,
        view,
        built,
        body: body.clone(),
        gzip: gzip.clone(),
        refreshing: false,
    });
    (body, gzip)
}

/// Gzip at the fastest level: JSON of repeated keys shrinks about tenfold even so, and a
/// rebuild stays a few milliseconds.
fn gzipped(body: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

/// The body of `GET /services`: every service's row, from the current snapshot, and the bus
/// position of that snapshot.
fn listing(state: &AppState, view: &CatalogView) -> (Vec<u8>, u64) {
    let snapshot = state.monitor.snapshot();
    let rows: Vec<ServiceRow<'_>> = snapshot.services.iter().map(|s| row(s, view)).collect();
    // Rows of strings, numbers and enums: serializing them cannot fail.
    let body =
        serde_json::to_vec(&json!({ "seq": snapshot.seq, "at": snapshot.at, "services": rows }))
            .unwrap_or_default();
    (body, snapshot.seq)
}

/// The `{id}` of a route's path; a malformed one (not UTF-8 once decoded) is a JSON 400.
pub(crate) struct ServiceId(pub(crate) String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ServiceId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<ServiceId, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(ServiceId(id)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// Query parameters of `GET /services/{id}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ServiceParams {
    /// The definition as written, secrets included: admin scope only.
    #[serde(default)]
    raw: bool,
}

pub(crate) async fn service(
    State(state): State<AppState>,
    ServiceId(id): ServiceId,
    params: Result<Query<ServiceParams>, QueryRejection>,
    Extension(access): Extension<Access>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if params.raw && !access.is_admin() {
        return Err(ApiError::Unauthorized(match access.0 {
            None => Denied::MissingToken,
            Some(_) => Denied::ReadOnly,
        }));
    }
    let view = state.view();
    let snapshot = state.monitor.snapshot();
    let live = snapshot.service(&id);
    if live.is_none() && !view.catalog.services.contains_key(&id) {
        return Err(ApiError::UnknownService(id));
    }
    let now = iza_runtime::now_millis();
    let recent = state.store.recent_results(&id, RECENT_RESULTS).await?;
    let minutes = state
        .store
        .rollups(&id, Resolution::Minute, now - HOUR)
        .await?;
    let hours = state
        .store
        .rollups(&id, Resolution::Hour, now - 24 * HOUR)
        .await?;
    let uptime = state.store.uptime(&id, now).await?;
    let service = view.catalog.services.get(&id);
    let agents: Vec<Value> = service
        .map(|s| {
            view.catalog
                .watchers(s)
                .map(|agent| {
                    let tasks: Vec<Value> = view
                        .catalog
                        .tasks
                        .iter()
                        .filter(|t| t.agent.as_deref() == Some(agent.id.as_str()))
                        .map(|t| {
                            json!({
                                "name": t.name,
                                "description": t.description,
                                "priority": t.priority,
                                "schedule": t.schedule,
                            })
                        })
                        .collect();
                    json!({
                        "id": agent.id,
                        "name": agent.name,
                        "tier": agent.tier,
                        "reports_to": agent.reports_to,
                        "tasks": tasks,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let definition = if params.raw {
        service.cloned()
    } else {
        service.map(Redact::redacted)
    };
    let mut answer = json!({
        "service": live.map(|s| row(s, &view)),
        "definition": definition,
        "state": live,
        "recent_results": recent,
        "rollups": { "minute": minutes, "hour": hours, "minute_window_ms": HOUR, "hour_window_ms": 24 * HOUR },
        "uptime": uptime,
        "depends_on": service.map(|s| s.depends_on.clone()).unwrap_or_default(),
        "dependencies": view.graph.dependencies_of(&id),
        "dependents": view.graph.dependents_of(&id),
        "agents": agents,
        "docker": service.and_then(|s| s.docker.as_ref()).map(|reference| {
            let docker = state.docker();
            json!({
                "reference": reference,
                "engine": docker.as_ref().map_or(json!({ "state": "unused" }), |d| json!(d.engine)),
                "container": docker.as_ref().and_then(|d| d.container(&id)),
            })
        }),
    });
    if !params.raw {
        view.secrets.scrub_json(&mut answer);
    }
    Ok(Json(answer))
}

pub(crate) async fn graph(State(state): State<AppState>) -> Response {
    let view = state.view();
    (
        [(header::CONTENT_TYPE, "application/json")],
        view.graph_json.clone(),
    )
        .into_response()
}

pub(crate) async fn ports(State(state): State<AppState>) -> Response {
    let view = state.view();
    (
        [(header::CONTENT_TYPE, "application/json")],
        view.ports_json.clone(),
    )
        .into_response()
}

/// Query parameters of `GET /events`.
#[derive(Debug, Deserialize)]
pub(crate) struct EventParams {
    before: Option<i64>,
    after: Option<i64>,
    service: Option<String>,
    /// Kinds, comma-separated (`run-failed,incident-opened`).
    kind: Option<String>,
    limit: Option<usize>,
}

/// At most this many kinds in one `kind` filter.
const MAX_EVENT_KINDS: usize = 32;

/// The kinds of a `kind` filter: kebab-case words, comma-separated. A well-formed kind that
/// no event has matches nothing (new kinds come with new features; no list to keep in step).
fn event_kinds(filter: Option<&str>) -> Result<Vec<String>, ApiError> {
    let Some(filter) = filter else {
        return Ok(Vec::new());
    };
    let kinds: Vec<String> = filter.split(',').map(str::to_owned).collect();
    if kinds.len() > MAX_EVENT_KINDS || filter.len() > 2000 {
        return Err(ApiError::BadRequest(format!(
            "`kind` lists at most {MAX_EVENT_KINDS} kinds in at most 2000 characters, not {} in {}",
            kinds.len(),
            filter.len()
        )));
    }
    for kind in &kinds {
        let word = !kind.is_empty()
            && kind.len() <= 64
            && kind
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !word {
            return Err(ApiError::BadRequest(format!(
                "`kind` is a comma-separated list of event kinds such as `status-changed` or `run-failed`; `{kind}` is not one"
            )));
        }
    }
    Ok(kinds)
}

pub(crate) async fn events(
    State(state): State<AppState>,
    params: Result<Query<EventParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    for (name, bound) in [("before", params.before), ("after", params.after)] {
        if let Some(id) = bound.filter(|id| *id < 0) {
            return Err(ApiError::BadRequest(format!(
                "`{name}` is an event id, 0 or more, not {id}"
            )));
        }
    }
    let kinds = event_kinds(params.kind.as_deref())?;
    let limit = params.limit.unwrap_or(DEFAULT_EVENTS_PAGE);
    if limit == 0 || limit > MAX_EVENTS_PAGE {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {MAX_EVENTS_PAGE}, not {limit}"
        )));
    }
    if let Some(service) = &params.service
        && !state.view().catalog.services.contains_key(service)
        && state.monitor.snapshot().service(service).is_none()
    {
        // A removed service keeps its history: only reject ids that never appear anywhere.
        let any = state
            .store
            .events(&EventQuery {
                service: Some(service.clone()),
                limit: 1,
                ..EventQuery::default()
            })
            .await?;
        if any.is_empty() {
            return Err(ApiError::UnknownService(service.clone()));
        }
    }
    let page = state
        .store
        .events(&EventQuery {
            before: params.before,
            after: params.after,
            service: params.service,
            kinds,
            limit,
        })
        .await?;
    let next = if page.len() == limit {
        page.last().map(|e| e.id)
    } else {
        None
    };
    let mut answer = json!({ "events": page, "next": next });
    state.view().secrets.scrub_json(&mut answer);
    Ok(Json(answer))
}

pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    if state.is_running() {
        "ok\n".into_response()
    } else {
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response()
    }
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let queue = queue_figures(&state).await;
    let figures = crate::figures::summary(&state)
        .await
        .map_err(|err| tracing::warn!("metrics: cannot read the business figures: {err:?}"))
        .ok();
    let outputs = crate::outputs::status(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        crate::metrics::render(&state, queue.as_ref(), figures.as_ref(), &outputs),
    )
        .into_response()
}

/// The run queue's figures for `/metrics`, read from the store now; `None` (logged) when the
/// store fails.
async fn queue_figures(state: &AppState) -> Option<crate::metrics::QueueFigures> {
    let now = iza_runtime::now_millis();
    let read = async {
        let depth = state.store.queue_depth(now).await?;
        let open = state
            .store
            .incidents(&iza_store::IncidentQuery {
                open_only: true,
                task: None,
                before: None,
                limit: iza_store::MAX_INCIDENTS_PAGE,
            })
            .await?;
        Ok::<_, iza_store::StoreError>(crate::metrics::QueueFigures {
            ready: depth.ready,
            scheduled: depth.scheduled,
            running: depth.running,
            open_incidents: open.len() as u64,
        })
    };
    read.await
        .map_err(|err| tracing::warn!("metrics: cannot read the run queue: {err}"))
        .ok()
}

pub(crate) async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

pub(crate) async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NoRoute(uri.path().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_sent_to_clients_that_accept_it() {
        let cases = [
            (None, false),
            (Some("gzip"), true),
            (Some("gzip, deflate, br"), true),
            (Some("br;q=1.0, GZIP;q=0.5"), true),
            (Some("*"), true),
            (Some("gzip;q=0"), false),
            (Some("deflate, br"), false),
            (Some("identity"), false),
        ];
        for (accept, expected) in cases {
            let mut headers = HeaderMap::new();
            if let Some(accept) = accept {
                headers.insert(header::ACCEPT_ENCODING, accept.parse().unwrap());
            }
            assert_eq!(accepts_gzip(&headers), expected, "{accept:?}");
        }
    }
}
