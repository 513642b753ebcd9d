//! The cluster: this process as one node of the nodes sharing a store (`docs/scale-out.md`).
//! [`Cluster::join`] registers the node and renews its heartbeat in the background;
//! [`Cluster::nodes`] lists every registered node with whether its heartbeat is younger than the
//! lease. It owns the node registry's use, not its storage (the store's `nodes` methods).
//! [`leases`] shares the checks among the live nodes ([`rendezvous`] says who should own what);
//! [`relay`] brings the events the other nodes record to this node's bus.

pub mod leases;
pub mod relay;
pub mod rendezvous;

use std::sync::Arc;
use std::time::Duration;

use iza_store::{Millis, NodeRecord, Store, StoreError};
use serde::Serialize;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Who this node is and how often it says it is alive.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Unique per process (the agents engine's worker id fits).
    pub id: String,
    /// The machine's host name.
    pub host: String,
    /// The region it probes from.
    pub region: Option<String>,
    /// The `iza` version.
    pub version: String,
    /// How often the heartbeat is renewed.
    pub heartbeat_every: Duration,
    /// A node whose heartbeat is older than this is not alive.
    pub lease: Duration,
}

/// A registered node as seen now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeView {
    /// The registration.
    #[serde(flatten)]
    pub node: NodeRecord,
    /// Its heartbeat is younger than the lease.
    pub alive: bool,
    /// It is this process.
    pub this: bool,
}

/// Whether a node's heartbeat at `now` is within `lease`.
pub fn is_alive(node: &NodeRecord, now: Millis, lease: Duration) -> bool {
    let lease = Millis::try_from(lease.as_millis()).unwrap_or(Millis::MAX);
    now.saturating_sub(node.heartbeat_at) <= lease
}

/// This node's membership: registered, heartbeating until [`Cluster::leave`] or drop.
pub struct Cluster {
    store: Arc<dyn Store>,
    options: NodeOptions,
    stop: Arc<Notify>,
    heartbeat: Option<JoinHandle<()>>,
}

impl Cluster {
    /// Registers this node and starts renewing its heartbeat.
    pub async fn join(store: Arc<dyn Store>, options: NodeOptions) -> Result<Cluster, StoreError> {
        let record = record(&options, crate::now_millis());
        store.register_node(&record).await?;
        let stop = Arc::new(Notify::new());
        let heartbeat = tokio::spawn(heartbeat_loop(store.clone(), options.clone(), stop.clone()));
        Ok(Cluster {
            store,
            options,
            stop,
            heartbeat: Some(heartbeat),
        })
    }

    /// This node's id.
    pub fn id(&self) -> &str {
        &self.options.id
    }

    /// Every registered node, sorted by id, with whether it is alive now.
    pub async fn nodes(&self) -> Result<Vec<NodeView>, StoreError> {
        let now = crate::now_millis();
        Ok(self
            .store
            .nodes()
            .await?
            .into_iter()
            .map(|node| NodeView {
                alive: is_alive(&node, now, self.options.lease),
                this: node.id == self.options.id,
                node,
            })
            .collect())
    }

    /// Stops the heartbeat without deregistering (as a crash would: the others see this node's
    /// heartbeat age past the lease).
    pub async fn stop_heartbeat(&mut self) {
        self.stop.notify_one();
        if let Some(heartbeat) = self.heartbeat.take() {
            let _ = heartbeat.await;
        }
    }

    /// Stops the heartbeat and removes the registration (a clean stop).
    pub async fn leave(mut self) -> Result<(), StoreError> {
        self.stop_heartbeat().await;
        self.store.deregister_node(&self.options.id).await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
    }
}

fn record(options: &NodeOptions, now: Millis) -> NodeRecord {
    NodeRecord {
        id: options.id.clone(),
        host: options.host.clone(),
        region: options.region.clone(),
        version: options.version.clone(),
        started_at: now,
        heartbeat_at: now,
    }
}

async fn heartbeat_loop(store: Arc<dyn Store>, options: NodeOptions, stop: Arc<Notify>) {
    let mut ticks = tokio::time::interval(options.heartbeat_every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started_at = crate::now_millis();
    loop {
        tokio::select! {
            _ = stop.notified() => return,
            _ = ticks.tick() => {}
        }
        let now = crate::now_millis();
        match store.heartbeat_node(&options.id, now).await {
            Ok(true) => {}
            // Removed by someone (an operator, a tidy-up): register again.
            Ok(false) => {
                let mut again = record(&options, now);
                again.started_at = started_at;
                if let Err(error) = store.register_node(&again).await {
                    tracing::warn!("cannot register node `{}` again: {error}", options.id);
                }
            }
            Err(error) => tracing::warn!("node `{}` heartbeat failed: {error}", options.id),
        }
    }
}

/// The lease after which a node that stopped heartbeating counts as dead, unless configured
/// otherwise (`iza serve --lease`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// The ids of the nodes alive on this store now (heartbeat within `lease`); `Ok(None)` when the
/// store keeps no registry (the embedded store: this process is the only node, so any other
/// worker id is a previous process, dead). Start-up recovery (the agents' worker, the alert
/// deliveries) releases only the runs of workers not in this set: on a shared store the others
/// are live nodes running their own runs.
pub async fn live_nodes(
    store: &dyn Store,
    lease: Duration,
) -> Result<Option<std::collections::HashSet<String>>, StoreError> {
    match store.nodes().await {
        Ok(nodes) => {
            let now = crate::now_millis();
            Ok(Some(
                nodes
                    .into_iter()
                    .filter(|node| is_alive(node, now, lease))
                    .map(|node| node.id)
                    .collect(),
            ))
        }
        Err(StoreError::Unsupported(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Of these workers (other than `me`), those to treat as dead at start-up: not registered as a
/// live node. A worker id `NODE/PART` (the alert deliveries' `node-.../notify`) belongs to node
/// `NODE`. When the registry cannot be read, none (their runs go back when their leases end, as
/// for any crash).
pub async fn dead_workers(
    store: &dyn Store,
    me: &str,
    workers: impl IntoIterator<Item = String>,
) -> Vec<String> {
    let live = match live_nodes(store, DEFAULT_LEASE).await {
        Ok(live) => live,
        Err(error) => {
            tracing::warn!("cannot read the nodes registry, releasing only expired runs: {error}");
            return Vec::new();
        }
    };
    let mut dead: Vec<String> = workers
        .into_iter()
        .filter(|worker| worker != me)
        .filter(|worker| {
            let node = worker.split('/').next().unwrap_or(worker);
            live.as_ref().is_none_or(|live| !live.contains(node))
        })
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .collect();
    dead.sort();
    dead
}
