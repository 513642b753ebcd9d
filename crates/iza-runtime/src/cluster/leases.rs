//! Checks shared by lease: on a shared store, each check is probed by one node at a time.
//!
//! The [`LeaseKeeper`] of each node, every `lease / 5`:
//! 1. reads the nodes registry and keeps the live nodes (heartbeat younger than `3/5` of the
//!    lease, this node always);
//! 2. computes, like every other node, who should own each check ([`super::rendezvous`]);
//! 3. gives up the leases it holds that are now another node's (stopping their probes first),
//!    so a newcomer takes them at its next round;
//! 4. takes or renews the leases of its own checks until `now + 3/5 lease`: a check still held
//!    by another node whose lease runs is not taken (no two probers);
//! 5. tells the monitor which checks it owns ([`Owned`]) and has the newly taken ones probed at
//!    once;
//! 6. reads the latest results and hands those of checks probed elsewhere to the monitor
//!    ([`Monitor::follow`]), so every node's board, bus, API and dashboard show every check
//!    (a catch-up read each round: at most a round behind the node that probed).
//!
//! So when a node dies, its heartbeat and its leases are both older than `3/5` of the lease
//! at most `3/5` of a lease after its death, and the others take its checks at their next
//! round: within `4/5` of the lease period. When the keeper cannot reach the store, it keeps
//! probing until the leases it holds end, then stops (another node may have taken them).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use iza_catalog::Catalog;
use iza_store::{Millis, Store};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{is_alive, rendezvous};
use crate::monitor::Monitor;

/// The checks this node probes, when it shares them (read by the monitor's scheduler before
/// each probe). Keys are service ids.
#[derive(Debug, Default)]
pub struct Owned {
    services: RwLock<HashSet<String>>,
}

impl Owned {
    /// Whether this node probes the service's check now.
    pub fn owns(&self, service: &str) -> bool {
        self.services
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(service)
    }

    /// The services probed here, sorted.
    pub fn services(&self) -> Vec<String> {
        let mut services: Vec<String> = self
            .services
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect();
        services.sort();
        services
    }

    fn set(&self, services: HashSet<String>) {
        *self
            .services
            .write()
            .unwrap_or_else(PoisonError::into_inner) = services;
    }

    fn remove(&self, gone: &[String]) {
        let mut services = self
            .services
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for service in gone {
            services.remove(service);
        }
    }
}

/// Who takes leases and how long they last.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// This node's id (as registered).
    pub node: String,
    /// The lease period (10 s by default): a dead node's checks are taken over within it.
    pub lease: Duration,
}

impl LeaseOptions {
    /// How often the keeper runs a round (a fifth of the lease).
    pub fn round(&self) -> Duration {
        (self.lease / 5).max(Duration::from_millis(10))
    }

    /// How long a lease is taken for, and how young a heartbeat must be to count as alive
    /// (three fifths of the lease: two rounds of slack before the lease period).
    pub fn grant(&self) -> Duration {
        self.lease * 3 / 5
    }
}

/// The lease key of a check: its service id.
fn keys(catalog: &Catalog) -> Vec<String> {
    let mut keys: Vec<String> = catalog
        .services
        .values()
        .filter(|service| service.check.is_some())
        .map(|service| service.id.clone())
        .collect();
    keys.sort();
    keys
}

fn millis(duration: Duration) -> Millis {
    Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX)
}

struct Round {
    store: Arc<dyn Store>,
    monitor: Arc<Monitor>,
    owned: Arc<Owned>,
    options: LeaseOptions,
    /// Keys held, and until when the last successful round took them.
    held: HashSet<String>,
    held_until: Millis,
    /// The latest result time followed per service probed elsewhere.
    seen: HashMap<String, Millis>,
}

impl Round {
    async fn run(&mut self) {
        let now = crate::now_millis();
        let catalog = self.monitor.catalog().await;
        let keys = keys(&catalog);
        let grant = millis(self.options.grant());
        let nodes = match self.store.nodes().await {
            Ok(nodes) => nodes,
            Err(error) => {
                tracing::warn!("check leases: cannot read the nodes: {error}");
                return self.unreachable(now);
            }
        };
        let me = self.options.node.as_str();
        let mut live: Vec<&str> = nodes
            .iter()
            .filter(|node| node.id == me || is_alive(node, now, self.options.grant()))
            .map(|node| node.id.as_str())
            .collect();
        if !live.contains(&me) {
            live.push(me);
        }
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let owners = rendezvous::assign(&live, &key_refs);
        let mine: Vec<String> = keys
            .iter()
            .filter(|key| owners.get(*key).is_some_and(|owner| *owner == me))
            .cloned()
            .collect();
        let wanted: HashSet<&String> = mine.iter().collect();
        let mut give_up: Vec<String> = self
            .held
            .iter()
            .filter(|key| !wanted.contains(key))
            .cloned()
            .collect();
        give_up.sort();
        if !give_up.is_empty() {
            // Stop probing first, then let the new owner take them.
            self.owned.remove(&give_up);
            for key in &give_up {
                self.held.remove(key);
            }
            if let Err(error) = self.store.release_check_leases(me, Some(&give_up)).await {
                tracing::warn!(
                    "check leases: cannot give up {} leases: {error}",
                    give_up.len()
                );
            }
        }
        match self
            .store
            .acquire_check_leases(me, &mine, now, now + grant)
            .await
        {
            Ok(got) => {
                let got: HashSet<String> = got.into_iter().collect();
                let new: Vec<String> = got.difference(&self.held).cloned().collect();
                self.held = got;
                self.held_until = now + grant;
                self.owned.set(self.held.clone());
                if !new.is_empty() {
                    tracing::info!(
                        "check leases: node `{me}` took {} checks, holds {}",
                        new.len(),
                        self.held.len()
                    );
                }
                for service in new {
                    self.monitor.probe_soon(&service);
                }
            }
            Err(error) => {
                tracing::warn!("check leases: cannot renew: {error}");
                self.unreachable(now);
            }
        }
    }

    /// One catch-up read of the latest results: those of checks other nodes probe, newer than
    /// seen, go to this node's monitor, so its board, bus and API show the whole ecosystem.
    async fn follow(&mut self) {
        let latest = match self.store.latest_results().await {
            Ok(latest) => latest,
            Err(error) => {
                tracing::warn!("check leases: cannot read the others' results: {error}");
                return;
            }
        };
        let fresh: Vec<_> = latest
            .into_iter()
            .filter(|record| !self.owned.owns(&record.service))
            .filter(|record| {
                self.seen
                    .get(&record.service)
                    .is_none_or(|at| *at < record.at)
            })
            .collect();
        if fresh.is_empty() {
            return;
        }
        for record in &fresh {
            self.seen.insert(record.service.clone(), record.at);
        }
        self.monitor.follow(fresh);
    }

    /// The store did not answer: keep probing until the leases held end, then stop.
    fn unreachable(&mut self, now: Millis) {
        if now >= self.held_until && !self.held.is_empty() {
            tracing::warn!(
                "check leases: the {} leases of node `{}` ended unrenewed; probing stops until \
                 the store answers",
                self.held.len(),
                self.options.node
            );
            self.held.clear();
            self.owned.set(HashSet::new());
        }
    }
}

/// Takes, renews and gives up this node's check leases in the background; see the module
/// documentation.
pub struct LeaseKeeper {
    store: Arc<dyn Store>,
    node: String,
    owned: Arc<Owned>,
    stop: Arc<Notify>,
    follow: Arc<Notify>,
    task: Option<JoinHandle<()>>,
}

impl LeaseKeeper {
    /// Starts the rounds; the first runs at once. `owned` is the set the monitor was started
    /// with ([`crate::MonitorOptions::owned`]).
    pub fn start(
        store: Arc<dyn Store>,
        monitor: Arc<Monitor>,
        owned: Arc<Owned>,
        options: LeaseOptions,
    ) -> LeaseKeeper {
        let stop = Arc::new(Notify::new());
        let follow = Arc::new(Notify::new());
        let node = options.node.clone();
        let mut round = Round {
            store: store.clone(),
            monitor,
            owned: owned.clone(),
            options,
            held: HashSet::new(),
            held_until: 0,
            seen: HashMap::new(),
        };
        let task = tokio::spawn({
            let (stop, follow) = (stop.clone(), follow.clone());
            async move {
                let mut ticks = tokio::time::interval(round.options.round());
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = stop.notified() => return,
                        _ = ticks.tick() => {
                            round.run().await;
                            round.follow().await;
                        }
                        // Another node recorded a status event (`super::relay`).
                        _ = follow.notified() => round.follow().await,
                    }
                }
            }
        });
        LeaseKeeper {
            store,
            node,
            owned,
            stop,
            follow,
            task: Some(task),
        }
    }

    /// Notified, the keeper reads the latest results at once (step 6) rather than at its next
    /// round: the relay does it when another node recorded a status change.
    pub fn follow_now(&self) -> Arc<Notify> {
        self.follow.clone()
    }

    /// The checks this node probes now.
    pub fn owned(&self) -> &Arc<Owned> {
        &self.owned
    }

    /// Stops the rounds and gives up every lease (a clean stop: the others take the checks at
    /// their next round rather than after the leases end).
    pub async fn stop(mut self) {
        self.stop.notify_one();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.owned.set(HashSet::new());
        if let Err(error) = self.store.release_check_leases(&self.node, None).await {
            tracing::warn!("check leases: cannot give them up: {error}");
        }
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// How many checks each node holds a running lease on at `now`, by node id.
pub fn owned_counts(leases: &[iza_store::CheckLease], now: Millis) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for lease in leases.iter().filter(|lease| lease.lease_until > now) {
        *counts.entry(lease.node.clone()).or_insert(0) += 1;
    }
    counts
}
