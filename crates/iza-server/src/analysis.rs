//! Defines the documents of what-if and whole-map reads: the impact analysis of one service
//! (`GET /services/{id}/impact`: what breaks if it goes down, from the catalog's graph), the
//! validated manifest with its secrets masked (`GET /manifest`) and the live analysis report
//! (`GET /report`, Markdown). The builders are public so that `iza mcp`, when no server runs,
//! answers the same documents from the manifest and the state database.

use std::collections::{BTreeSet, HashMap};

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use iza_catalog::Catalog;
use iza_catalog::export::report::{LiveStatus, ReportOptions, ServiceFacts, render_with};
use iza_catalog::graph::{EcosystemGraph, EdgeKind, Heading};
use iza_catalog::redact::Redact as _;
use iza_runtime::Status;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::routes::ServiceId;
use crate::state::AppState;

/// What breaks if `id` goes down, or `None` for an unknown service. `status` gives a
/// service's live status (`None` offline).
pub fn impact_document(
    catalog: &Catalog,
    graph: &EcosystemGraph,
    id: &str,
    status: &dyn Fn(&str) -> Option<String>,
) -> Option<Value> {
    let service = catalog.services.get(id)?;
    let direct: BTreeSet<&str> = catalog
        .services
        .values()
        .filter(|s| s.depends_on.iter().any(|d| d == id))
        .map(|s| s.id.as_str())
        .collect();
    let dependents = graph.dependents_of(id);
    let row = |other: &str| {
        let name = catalog.services.get(other).map(|s| s.name.as_str());
        json!({
            "id": other,
            "name": name,
            "direct": direct.contains(other),
            "status": status(other),
        })
    };
    let impacted: Vec<Value> = dependents.iter().map(|d| row(d)).collect();
    let connected: Vec<Value> = graph
        .neighbours(id)
        .into_iter()
        .filter(|n| n.edge.kind == EdgeKind::Connects)
        .map(|n| {
            json!({
                "id": n.id,
                "direction": if n.heading == Heading::Outgoing { "sends-to" } else { "receives-from" },
                "via": n.edge.via,
                "status": status(n.id),
            })
        })
        .collect();
    let mut affected: Vec<&str> = vec![id];
    affected.extend(dependents.iter().copied());
    let agents: Vec<Value> = catalog
        .agents
        .values()
        .filter_map(|agent| {
            let watched: Vec<&str> = affected
                .iter()
                .copied()
                .filter(|s| {
                    catalog
                        .services
                        .get(*s)
                        .is_some_and(|svc| catalog.watchers(svc).any(|a| a.id == agent.id))
                })
                .collect();
            (!watched.is_empty()).then(|| {
                json!({
                    "id": agent.id,
                    "name": agent.name,
                    "tier": agent.tier,
                    "services": watched,
                })
            })
        })
        .collect();
    let summary = match dependents.len() {
        0 => format!("nothing depends on `{id}`: if it goes down, only it is down"),
        n => format!(
            "if `{id}` goes down, {n} service{} depend{} on it ({} directly) and would be impacted",
            if n == 1 { "" } else { "s" },
            if n == 1 { "s" } else { "" },
            direct.len()
        ),
    };
    Some(json!({
        "service": id,
        "name": service.name,
        "status": status(id),
        "summary": summary,
        "impacted": impacted,
        "connected": connected,
        "agents": agents,
    }))
}

/// The validated manifest, its secrets masked.
pub fn manifest_document(catalog: &Catalog) -> Value {
    serde_json::to_value(catalog.redacted()).unwrap_or_else(|_| json!({}))
}

/// The analysis report (Markdown) of `catalog`, with `live` facts when there are any; secrets
/// never show.
pub fn report_text(catalog: &Catalog, live: Option<&HashMap<String, ServiceFacts>>) -> String {
    let options = ReportOptions {
        live: live.map(|facts| facts as _),
        problems: &[],
    };
    render_with(&catalog.redacted(), &options)
}

/// A runtime status as the report spells it.
pub fn live_status(status: &Status) -> LiveStatus {
    match status {
        Status::Up => LiveStatus::Up,
        Status::Degraded => LiveStatus::Degraded,
        Status::Down => LiveStatus::Down,
        Status::Impacted { by } => LiveStatus::Impacted { by: by.clone() },
        Status::Unknown => LiveStatus::Unknown,
    }
}

/// `GET /services/{id}/impact`.
pub(crate) async fn impact(
    State(state): State<AppState>,
    ServiceId(id): ServiceId,
) -> Result<Json<Value>, ApiError> {
    let view = state.view();
    let snapshot = state.monitor.snapshot();
    let status = |s: &str| snapshot.service(s).map(|st| st.status.as_str().to_owned());
    impact_document(&view.catalog, &view.graph, &id, &status)
        .map(Json)
        .ok_or(ApiError::UnknownService(id))
}

/// `GET /manifest`.
pub(crate) async fn manifest(State(state): State<AppState>) -> Json<Value> {
    let view = state.view();
    let mut doc = manifest_document(&view.catalog);
    view.secrets.scrub_json(&mut doc);
    Json(doc)
}

/// `GET /report`: the report with each service's live status and its uptime over a day.
pub(crate) async fn report(State(state): State<AppState>) -> Result<Response, ApiError> {
    let view = state.view();
    let snapshot = state.monitor.snapshot();
    let now = iza_runtime::now_millis();
    let mut facts = HashMap::new();
    for live in &snapshot.services {
        let uptime = state.store.uptime(&live.service, now).await?.day;
        facts.insert(
            live.service.clone(),
            ServiceFacts {
                status: live_status(&live.status),
                uptime,
            },
        );
    }
    let text = report_text(&view.catalog, Some(&facts));
    let text = view.secrets.scrub(&text).into_owned();
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        text,
    )
        .into_response())
}
