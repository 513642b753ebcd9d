//! Checks shared by lease: on a shared store, each check is probed by one node at a time.
//!
//! The [`LeaseKeeper`] of each node, every `lease / 5`:
//! 1. reads the nodes registry and keeps the live nodes (heartbeat younger than `3/5` of the
//!    lease, this node always);
//! 2. computes, like every other node, who should own each check ([`super::rendezvous`]): a
//!    check probed from anywhere has one lease (its service id) shared among all live nodes;
//!    a check with `regions` has one lease per listed region (`service@region`) shared among
//!    that region's live nodes only ([`owners`]); a listed region without a live node is
//!    reported (a warning, and on the board of those checks: [`Monitor::unprobed`]);
//! 3. gives up the leases it holds that are now another node's (stopping their probes first),
//!    so a newcomer takes them at its next round;
//! 4. takes or renews the leases of its own checks until `now + 3/5 lease`: a check still held
//!    by another node whose lease runs is not taken (no two probers);
//! 5. tells the monitor which checks it owns ([`Owned`]) and has the newly taken ones probed at
//!    once, after reading the latest results (step 6) so that its board starts from the last
//!    result the previous prober recorded;
//! 6. reads the latest results (for a check with `regions`, the latest of each region) and
//!    hands those probed by other nodes to the monitor ([`Monitor::follow`]), so every node's
//!    board, bus, API and dashboard show every check and every region (a catch-up read each
//!    round: at most a round behind the node that probed).
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
    /// This node's region: it takes the leases of the checks probed from it.
    pub region: Option<String>,
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

/// One lease to share: its key, the service it probes, and the region it is probed from
/// (`None`: from any node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseKey {
    /// `service`, or `service@region` for a check probed from several regions.
    pub key: String,
    /// The service id.
    pub service: String,
    /// The region whose nodes share it.
    pub region: Option<String>,
}

/// The leases of a catalog, sorted by key: one per check, or one per listed region of a check
/// with `regions`.
pub fn keys(catalog: &Catalog) -> Vec<LeaseKey> {
    let mut keys = Vec::new();
    for service in catalog.services.values() {
        let Some(check) = &service.check else {
            continue;
        };
        if check.regions.is_empty() {
            keys.push(LeaseKey {
                key: service.id.clone(),
                service: service.id.clone(),
                region: None,
            });
        }
        for region in &check.regions {
            keys.push(LeaseKey {
                key: format!("{}@{region}", service.id),
                service: service.id.clone(),
                region: Some(region.clone()),
            });
        }
    }
    keys.sort_by(|a, b| a.key.cmp(&b.key));
    keys
}

/// Who should hold each lease: the keys probed from anywhere are shared among all `live`
/// nodes, and those of each region among that region's live nodes only (each group by
/// rendezvous hashing with bounded load). Returns the owners by key, and the regions listed
/// by some check that have no live node (their keys have no owner).
pub fn owners<'n>(
    live: &[(&'n str, Option<&str>)],
    keys: &[LeaseKey],
) -> (HashMap<String, &'n str>, HashSet<String>) {
    let mut groups: HashMap<Option<&str>, Vec<&str>> = HashMap::new();
    for key in keys {
        groups
            .entry(key.region.as_deref())
            .or_default()
            .push(key.key.as_str());
    }
    let mut owners = HashMap::with_capacity(keys.len());
    let mut unprobed = HashSet::new();
    for (region, group) in groups {
        let nodes: Vec<&'n str> = live
            .iter()
            .filter(|(_, node_region)| region.is_none() || *node_region == region)
            .map(|(node, _)| *node)
            .collect();
        if nodes.is_empty()
            && let Some(region) = region
        {
            unprobed.insert(region.to_owned());
        }
        owners.extend(rendezvous::assign(&nodes, &group));
    }
    (owners, unprobed)
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
    /// The latest result time followed per service (and region) probed elsewhere.
    seen: HashMap<(String, Option<String>), Millis>,
    /// The listed regions without a live node, as last reported.
    unprobed: Option<HashSet<String>>,
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
        let node_id = self.options.node.clone();
        let me = node_id.as_str();
        let mut live: Vec<&str> = nodes
            .iter()
            .filter(|node| node.id == me || is_alive(node, now, self.options.grant()))
            .map(|node| node.id.as_str())
            .collect();
        if !live.contains(&me) {
            live.push(me);
        }
        let regions: HashMap<&str, Option<&str>> = nodes
            .iter()
            .map(|node| (node.id.as_str(), node.region.as_deref()))
            .collect();
        let live: Vec<(&str, Option<&str>)> = live
            .iter()
            .map(|id| {
                let region = if *id == me {
                    self.options.region.as_deref()
                } else {
                    regions.get(id).copied().flatten()
                };
                (*id, region)
            })
            .collect();
        let (owners, unprobed) = owners(&live, &keys);
        self.report_unprobed(unprobed);
        let service_of: HashMap<&str, &str> = keys
            .iter()
            .map(|key| (key.key.as_str(), key.service.as_str()))
            .collect();
        let mine: Vec<String> = keys
            .iter()
            .filter(|key| owners.get(&key.key).is_some_and(|owner| *owner == me))
            .map(|key| key.key.clone())
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
            let services: Vec<String> = give_up
                .iter()
                .map(|key| {
                    service_of
                        .get(key.as_str())
                        .map_or(key.as_str(), |s| *s)
                        .to_owned()
                })
                .collect();
            self.owned.remove(&services);
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
                let service = |key: &String| {
                    service_of
                        .get(key.as_str())
                        .map_or_else(|| key.clone(), |s| (*s).to_owned())
                };
                let new: Vec<String> = got.difference(&self.held).map(service).collect();
                if !new.is_empty() {
                    // Taken over: start from the last result its previous prober recorded, so
                    // that a change that node stated is not stated again here (one reaction per
                    // change across a failover, `docs/scale-out.md`).
                    self.follow().await;
                }
                self.owned.set(got.iter().map(service).collect());
                self.held = got;
                self.held_until = now + grant;
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
        let catalog = self.monitor.catalog().await;
        let regional = crate::monitor::regional_keys(&catalog);
        let regional_services: HashSet<&str> = regional
            .iter()
            .map(|(service, _)| service.as_str())
            .collect();
        let mut latest = match self.store.latest_results().await {
            Ok(latest) => latest,
            Err(error) => {
                tracing::warn!("check leases: cannot read the others' results: {error}");
                return;
            }
        };
        // A check probed from regions is followed region by region.
        latest.retain(|record| !regional_services.contains(record.service.as_str()));
        if !regional.is_empty() {
            match self.store.latest_region_results(&regional).await {
                Ok(records) => latest.extend(records),
                Err(error) => {
                    tracing::warn!("check leases: cannot read the regions' results: {error}");
                }
            }
        }
        let me = self.options.node.as_str();
        let fresh: Vec<_> = latest
            .into_iter()
            .filter(|record| match record.node.as_deref() {
                Some(node) => node != me,
                // Written before "probed by" was recorded, or pushed in.
                None => !self.owned.owns(&record.service),
            })
            .filter(|record| {
                self.seen
                    .get(&(record.service.clone(), record.region.clone()))
                    .is_none_or(|at| *at < record.at)
            })
            .collect();
        if fresh.is_empty() {
            return;
        }
        for record in &fresh {
            self.seen
                .insert((record.service.clone(), record.region.clone()), record.at);
        }
        self.monitor.follow(fresh);
    }

    /// Says which listed regions have no live node when that changes: a warning in the log,
    /// and on the board of the checks probed from them.
    fn report_unprobed(&mut self, unprobed: HashSet<String>) {
        if self.unprobed.as_ref() == Some(&unprobed) {
            return;
        }
        if !unprobed.is_empty() {
            let mut names: Vec<&str> = unprobed.iter().map(String::as_str).collect();
            names.sort_unstable();
            tracing::warn!(
                "check leases: no live node in region(s) {}: the checks listing them are not \
                 probed from there",
                names.join(", ")
            );
        }
        self.monitor.unprobed(unprobed.clone());
        self.unprobed = Some(unprobed);
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
            unprobed: None,
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
    // The outputs' delivery leases (`output:<id>`, `iza_outputs::SharedDelivery`) are not checks.
    for lease in leases
        .iter()
        .filter(|lease| lease.lease_until > now && !lease.key.starts_with("output:"))
    {
        *counts.entry(lease.node.clone()).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(service: &str, region: Option<&str>) -> LeaseKey {
        LeaseKey {
            key: region.map_or_else(|| service.to_owned(), |r| format!("{service}@{r}")),
            service: service.to_owned(),
            region: region.map(str::to_owned),
        }
    }

    #[test]
    fn a_regions_leases_go_to_that_regions_nodes_and_a_region_without_one_is_reported() {
        let live = [
            ("e1", Some("eu")),
            ("e2", Some("eu")),
            ("u1", Some("us")),
            ("x", None),
        ];
        let mut keys: Vec<LeaseKey> = (0..40)
            .flat_map(|i| {
                let service = format!("s{i}");
                [
                    key(&service, Some("eu")),
                    key(&service, Some("us")),
                    key(&service, Some("ap")),
                ]
            })
            .collect();
        keys.extend((0..40).map(|i| key(&format!("plain{i}"), None)));
        let (owners, unprobed) = owners(&live, &keys);
        assert_eq!(unprobed, HashSet::from(["ap".to_owned()]));
        for key in &keys {
            let owner = owners.get(&key.key).copied();
            match key.region.as_deref() {
                Some("eu") => assert!(matches!(owner, Some("e1" | "e2")), "{key:?}: {owner:?}"),
                Some("us") => assert_eq!(owner, Some("u1"), "{key:?}"),
                Some(_) => assert_eq!(owner, None, "{key:?}"),
                // From anywhere: any live node, the one without a region included.
                None => assert!(owner.is_some(), "{key:?}"),
            }
        }
        // The eu nodes share eu's 40 leases equally; the 40 plain checks go to all four.
        let count = |node: &str, region: Option<&str>| {
            keys.iter()
                .filter(|k| k.region.as_deref() == region && owners.get(&k.key) == Some(&node))
                .count()
        };
        assert_eq!((count("e1", Some("eu")), count("e2", Some("eu"))), (20, 20));
        assert_eq!(
            ["e1", "e2", "u1", "x"].map(|n| count(n, None)),
            [10, 10, 10, 10]
        );
    }

    #[test]
    fn a_catalogs_keys_are_one_per_check_or_one_per_listed_region() {
        let text = "version = 1\n[store]\nurl = \"postgres://db/iza\"\n\
                    [services.a]\ncheck = { tcp = \"127.0.0.1:1\" }\n\
                    [services.b]\ncheck = { tcp = \"127.0.0.1:2\", regions = [\"us\", \"eu\"] }\n\
                    [services.c]\n";
        let checked = iza_catalog::check(&iza_catalog::SourceFile::new(
            "t.toml",
            text.to_owned(),
            iza_catalog::Syntax::Toml,
        ));
        let catalog = checked.catalog.expect("valid");
        let keys: Vec<(String, Option<String>)> = keys(&catalog)
            .into_iter()
            .map(|k| (k.key, k.region))
            .collect();
        assert_eq!(
            keys,
            [
                ("a".to_owned(), None),
                ("b@eu".to_owned(), Some("eu".to_owned())),
                ("b@us".to_owned(), Some("us".to_owned())),
            ]
        );
    }
}
