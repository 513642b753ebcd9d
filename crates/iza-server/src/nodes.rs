//! `GET /api/v1/nodes`: the nodes sharing this server's store (`docs/scale-out.md`): each one's
//! host, region, version, heartbeat, whether it is alive, and how many checks it holds the
//! lease of. On the embedded store there is one node and no registry: `shared` is false.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use iza_runtime::cluster::{is_alive, leases::owned_counts};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// This server's place in the cluster, set by `iza serve` on a shared store.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    /// This node's id.
    pub node: String,
    /// The lease period: a node whose heartbeat is older is not alive.
    pub lease: Duration,
}

pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let Some(info) = state.cluster() else {
        return Ok(Json(json!({ "shared": false, "this": null, "nodes": [] })));
    };
    let now = iza_runtime::now_millis();
    let nodes = state.store.nodes().await?;
    let leases = state.store.check_leases().await?;
    let counts = owned_counts(&leases, now);
    let nodes: Vec<Value> = nodes
        .into_iter()
        .map(|node| {
            let alive = is_alive(&node, now, info.lease);
            json!({
                "id": node.id,
                "host": node.host,
                "region": node.region,
                "version": node.version,
                "started_at": node.started_at,
                "heartbeat_at": node.heartbeat_at,
                "alive": alive,
                "this": node.id == info.node,
                "checks": counts.get(&node.id).copied().unwrap_or(0),
            })
        })
        .collect();
    Ok(Json(json!({
        "shared": true,
        "this": info.node,
        "lease_ms": info.lease.as_millis() as u64,
        "checks_leased": counts.values().sum::<usize>(),
        "nodes": nodes,
    })))
}
