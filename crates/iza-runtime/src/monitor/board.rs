//! Defines the [`StatusBoard`]: every service's own [`ServiceHealth`] plus the dependency
//! layer that decides what is shown. It is the only place a shown [`Status`] changes:
//! [`StatusBoard::apply`] (a probe result), [`StatusBoard::reload`] (a new catalog) and
//! [`StatusBoard::advise`] (a workflow engine's verdict) return the [`Transition`]s, and each
//! transition becomes exactly one event.
//!
//! A service's own check is the only source of up and down. An *advisory* (the failing
//! workflows of a workflow engine, `docs/workflows.md`) can only lower an `up` to `degraded`,
//! with the advisory as the reason; it passes nothing on to dependents (a degraded service
//! impacts none), and lifting it shows the check's verdict again.
//!
//! Dependency awareness, over `depends_on` taken transitively:
//! - a service is **impacted by `R`** when something it depends on is down and `R` is the root
//!   cause of that: a service down on its own while nothing *it* depends on is down. This holds
//!   whatever the service's own check says (passing, failing or unknown): a service cannot be
//!   fully healthy while something it needs is down, and its failures are not alerts of their
//!   own. Its own check keeps being probed and its own health is kept and shown beside.
//! - **settling**: when the root recovers, a dependent whose own health is still failing
//!   (down or degraded, from results taken during the outage) stays impacted until it has a
//!   result from a probe *started after* the recovery; that result is judged afresh (as a first
//!   result), so failures caused by the root never turn into a late alert of the dependent.
//!   Dependents that were passing recover at once.
//! - **confirming**: a service whose own check starts failing while something it depends on
//!   has not been probed since (no result from a probe started after its own failing probe
//!   started), or is itself confirming or not known yet, keeps the status it had, announcing
//!   nothing, until each dependency has such a result. Then it is impacted (a dependency turned
//!   out down) or the root cause itself (they all pass). Dependencies without a check are looked
//!   through, to what they depend on. So when `db` fails and `api` happens to be probed first,
//!   `api` is not announced down before `db`'s own probe says who the root cause is; the wait
//!   is about one interval of the dependencies, and at most `confirm_within` (a minute by
//!   default; checked at the service's own next result). At start, this also keeps a failing
//!   service `unknown` until its dependencies have a verdict.
//! - when several roots are down, a service names the first reached through its `depends_on`
//!   in their written order.
//!
//! Each service passes to its dependents a `Contribution`: nothing, "not known yet", or the
//! root cause they are impacted by. A change of a service's contribution re-evaluates its direct
//! dependents in dependency order (a heap keyed by start-order layer), and the walk stops
//! where contributions stop changing, so a result costs work only where the picture changes:
//! linear in the services whose status changes, and never a graph walk per dependent.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use iza_catalog::Catalog;
use iza_catalog::graph::EcosystemGraph;
use iza_probe::ProbeResult;
use iza_store::{Millis, ResultRecord};

use crate::event::{EventKind, ProbeSummary};
use crate::monitor::status::{
    Health, RegionState, RegionalState, ServiceHealth, ServiceState, Status, Thresholds,
    regional_verdict,
};
use crate::reload::CatalogDiff;

/// One change of a shown status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// Service id.
    pub service: String,
    /// Before.
    pub from: Status,
    /// After.
    pub to: Status,
    /// The service's own health after the change.
    pub own: Health,
    /// Why, for a person.
    pub reason: Option<String>,
}

impl Transition {
    /// The event stating this transition: `service-impacted` into an impact,
    /// `service-recovered` out of one (unless the service is now down on its own), and
    /// `status-changed` otherwise, with the service as the cause when it went down.
    pub fn into_event_kind(self) -> EventKind {
        let Transition {
            service,
            from,
            to,
            own,
            reason,
        } = self;
        match (from, to) {
            (from, Status::Impacted { by }) => EventKind::ServiceImpacted {
                service,
                by,
                from,
                own,
            },
            (Status::Impacted { by }, to) if to != Status::Down => {
                EventKind::ServiceRecovered { service, by, to }
            }
            (from, to) => EventKind::StatusChanged {
                cause: (to == Status::Down).then(|| service.clone()),
                service,
                from,
                to,
                reason,
            },
        }
    }
}

/// What a service passes on to the services that depend on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Contribution {
    /// Nothing: it is up, degraded, or has no check.
    #[default]
    Clear,
    /// Its verdict is not known yet: a dependent failing now might be failing because of it.
    Pending,
    /// Dependents are impacted by this root cause.
    Root(Arc<str>),
}

/// A dependent kept impacted after its root cause recovered, until a fresh result.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hold {
    root: Arc<str>,
    /// When the root recovered; only a probe started at or after it settles the hold.
    since: Millis,
}

/// A check probed from several regions (`regions = [...]`, on a shared store;
/// `docs/scale-out.md`): each region's own verdict through the check's thresholds, and the
/// quorum of regions that makes the service down ([`regional_verdict`]).
#[derive(Debug, Clone)]
struct Regional {
    quorum: usize,
    regions: Vec<Region>,
}

#[derive(Debug, Clone)]
struct Region {
    name: Arc<str>,
    health: ServiceHealth,
    last: Option<ProbeSummary>,
    /// No live node of this region (the lease keeper says).
    unprobed: bool,
}

impl Regional {
    fn of(check: &iza_catalog::model::Check, old: Option<&Regional>) -> Option<Regional> {
        if check.regions.is_empty() {
            return None;
        }
        let thresholds = Thresholds::of(check);
        let regions = check
            .regions
            .iter()
            .map(|name| {
                let kept = old.and_then(|old| old.regions.iter().find(|r| *r.name == **name));
                match kept {
                    Some(kept) => {
                        let mut kept = kept.clone();
                        kept.health.set_thresholds(thresholds);
                        kept
                    }
                    None => Region {
                        name: Arc::from(name.as_str()),
                        health: ServiceHealth::new(thresholds),
                        last: None,
                        unprobed: false,
                    },
                }
            })
            .collect();
        Some(Regional {
            quorum: usize::try_from(check.quorum.max(1)).unwrap_or(usize::MAX),
            regions,
        })
    }

    fn region(&mut self, name: Option<&str>) -> Option<&mut Region> {
        let name = name?;
        self.regions.iter_mut().find(|r| &*r.name == name)
    }

    fn verdict(&self) -> (Health, Vec<String>, Option<String>) {
        let regions: Vec<(&str, Health, bool)> = self
            .regions
            .iter()
            .map(|r| (&*r.name, r.health.health(), r.unprobed))
            .collect();
        regional_verdict(&regions, self.quorum)
    }

    fn state(&self) -> RegionalState {
        let (_, down, problem) = self.verdict();
        RegionalState {
            quorum: u32::try_from(self.quorum).unwrap_or(u32::MAX),
            regions: self
                .regions
                .iter()
                .map(|r| RegionState {
                    region: r.name.to_string(),
                    own: r.health.health(),
                    last: r.last.clone(),
                    unprobed: r.unprobed,
                })
                .collect(),
            down,
            problem,
        }
    }

    /// Takes a stored result of one region when it is newer than that region's; whether taken.
    fn follow(&mut self, record: &ResultRecord) -> bool {
        let Some(region) = self.region(record.region.as_deref()) else {
            return false;
        };
        if region.last.as_ref().is_some_and(|l| l.at >= record.at) {
            return false;
        }
        region.health.resume(record.up, record.at);
        region.last = Some(ProbeSummary::of_record(record));
        true
    }
}

#[derive(Debug, Clone)]
struct Node {
    id: Arc<str>,
    /// Direct dependencies, in `depends_on` order.
    dependencies: Vec<usize>,
    /// Direct dependents.
    dependents: Vec<usize>,
    /// Start-order layer: every dependency has a lower rank.
    rank: usize,
    checked: bool,
    generation: u64,
    health: ServiceHealth,
    blocked_by: Option<Arc<str>>,
    /// A dependency is not known yet (passed on by services without a check).
    waiting: bool,
    /// Failing, but a dependency has not been probed since: the status is kept.
    confirming: bool,
    /// When the probe that began the current failing streak started.
    failing_since: Option<Millis>,
    hold: Option<Hold>,
    contribution: Contribution,
    status: Status,
    since: Option<Millis>,
    last: Option<ProbeSummary>,
    /// Probed from several regions: the verdict is theirs together (`health` stays unused).
    regional: Option<Regional>,
    /// Lowers an `up` to `degraded` (see the module documentation).
    advisory: Option<String>,
}

impl Node {
    fn new(id: Arc<str>, checked: bool, thresholds: Thresholds, generation: u64) -> Node {
        Node {
            id,
            dependencies: Vec::new(),
            dependents: Vec::new(),
            rank: 0,
            checked,
            generation,
            health: ServiceHealth::new(thresholds),
            blocked_by: None,
            waiting: false,
            confirming: false,
            failing_since: None,
            hold: None,
            contribution: Contribution::Clear,
            status: Status::Unknown,
            since: None,
            last: None,
            regional: None,
            advisory: None,
        }
    }

    /// Its own verdict: its check's, or its regions' together.
    fn own(&self) -> Health {
        match &self.regional {
            Some(regional) => regional.verdict().0,
            None => self.health.health(),
        }
    }

    /// Takes a stored result (resumed, or another node's) when newer than what it has.
    fn take_record(&mut self, record: &ResultRecord) {
        if let Some(regional) = &mut self.regional {
            if regional.follow(record) && self.last.as_ref().is_none_or(|l| l.at < record.at) {
                self.last = Some(ProbeSummary::of_record(record));
            }
            self.failing_since = None;
            return;
        }
        if self.last.as_ref().is_some_and(|l| l.at >= record.at) {
            return;
        }
        self.health.resume(record.up, record.at);
        self.failing_since = None;
        self.last = Some(ProbeSummary::of_record(record));
    }

    /// The shown status and the contribution, from the node's own facts and its inputs.
    fn evaluate(&self) -> (Status, Contribution) {
        let root = self
            .blocked_by
            .clone()
            .or_else(|| self.hold.as_ref().map(|h| h.root.clone()));
        if let Some(root) = root {
            return (
                Status::Impacted {
                    by: root.to_string(),
                },
                Contribution::Root(root),
            );
        }
        if self.confirming {
            return (self.status.clone(), Contribution::Pending);
        }
        match self.own() {
            Health::Down => (Status::Down, Contribution::Root(self.id.clone())),
            // Not known yet, or (without a check of its own) passing on what it waits for.
            Health::Unknown if self.checked || self.waiting => {
                (Status::Unknown, Contribution::Pending)
            }
            // An advisory lowers a passing check to degraded; it is no root cause.
            Health::Up if self.advisory.is_some() => (Status::Degraded, Contribution::Clear),
            health => (Status::of_health(health), Contribution::Clear),
        }
    }

    fn failing(&self) -> bool {
        self.checked && matches!(self.own(), Health::Down | Health::Degraded)
    }
}

/// The result of applying one probe result.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The service's own health after the result.
    pub own: Health,
    /// Every shown status that changed, the probed service's first when it changed.
    pub transitions: Vec<Transition>,
}

/// Every service's status; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct StatusBoard {
    nodes: Vec<Node>,
    index: HashMap<Arc<str>, usize>,
    /// Scratch: which nodes are in the work heap.
    queued: Vec<bool>,
    /// Longest a failing service waits for its dependencies to confirm.
    confirm_within: Millis,
    /// Whether checks with `regions` are judged per region (a shared store with leases).
    regional: bool,
}

/// How long a failing service waits for its dependencies by default: one minute.
pub const DEFAULT_CONFIRM_WITHIN: Millis = 60_000;

impl StatusBoard {
    /// Every service of the catalog, unknown, with the given check generation.
    pub fn new(catalog: &Catalog, generation: u64) -> StatusBoard {
        let mut board = StatusBoard::skeleton(catalog, |_, _| None, generation);
        board.evaluate_all(0, &mut Vec::new());
        board
    }

    /// Builds the nodes and links of a catalog; `carry` may hand over a kept node by id
    /// (with its generation already decided).
    fn skeleton(
        catalog: &Catalog,
        mut carry: impl FnMut(&str, &iza_catalog::model::Service) -> Option<Node>,
        generation: u64,
    ) -> StatusBoard {
        let mut nodes = Vec::with_capacity(catalog.services.len());
        let mut index = HashMap::with_capacity(catalog.services.len());
        for (id, service) in &catalog.services {
            let id: Arc<str> = Arc::from(id.as_str());
            let thresholds = service
                .check
                .as_ref()
                .map(Thresholds::of)
                .unwrap_or_default();
            let mut node = carry(&id, service).unwrap_or_else(|| {
                Node::new(id.clone(), service.check.is_some(), thresholds, generation)
            });
            node.dependencies.clear();
            node.dependents.clear();
            index.insert(id, nodes.len());
            nodes.push(node);
        }
        for (i, service) in catalog.services.values().enumerate() {
            for dependency in &service.depends_on {
                if let Some(&d) = index.get(dependency.as_str())
                    && d != i
                {
                    nodes[i].dependencies.push(d);
                    nodes[d].dependents.push(i);
                }
            }
        }
        // Start-order layers rank the nodes; a cycle (never in a validated catalog) leaves
        // its services at rank 0, and propagation stays bounded anyway.
        if let Ok(layers) = EcosystemGraph::build(catalog).start_order() {
            for (rank, layer) in layers.iter().enumerate() {
                for id in layer {
                    if let Some(&i) = index.get(id.as_str()) {
                        nodes[i].rank = rank;
                    }
                }
            }
        }
        let queued = vec![false; nodes.len()];
        StatusBoard {
            nodes,
            index,
            queued,
            confirm_within: DEFAULT_CONFIRM_WITHIN,
            regional: false,
        }
    }

    /// Judges the checks with `regions` region by region, down only at their quorum (a
    /// shared store whose nodes probe them one per region, `docs/scale-out.md`). Without
    /// this (the embedded store: one node) they are judged as any check, probed once.
    pub fn set_regional(&mut self, catalog: &Catalog) {
        self.regional = true;
        self.attach_regions(catalog);
    }

    fn attach_regions(&mut self, catalog: &Catalog) {
        if !self.regional {
            return;
        }
        for (id, service) in &catalog.services {
            if let Some(&i) = self.index.get(id.as_str()) {
                let node = &mut self.nodes[i];
                node.regional = service
                    .check
                    .as_ref()
                    .and_then(|check| Regional::of(check, node.regional.as_ref()));
            }
        }
    }

    /// Marks the listed regions nobody probes from (no live node there, as the lease keeper
    /// sees it) on every check probed from regions; returns the services whose state changed.
    pub fn set_unprobed(
        &mut self,
        regions: &std::collections::HashSet<String>,
        now: Millis,
    ) -> (Vec<String>, Vec<Transition>) {
        let mut changed = Vec::new();
        for node in &mut self.nodes {
            let Some(regional) = &mut node.regional else {
                continue;
            };
            let mut any = false;
            for region in &mut regional.regions {
                let unprobed = regions.contains(&*region.name);
                if region.unprobed != unprobed {
                    region.unprobed = unprobed;
                    any = true;
                }
            }
            if any {
                changed.push(node.id.to_string());
            }
        }
        let mut transitions = Vec::new();
        if !changed.is_empty() {
            self.evaluate_all(now, &mut transitions);
        }
        (changed, transitions)
    }

    /// Sets how long a failing service waits for its dependencies' next results before it is
    /// announced as a root cause anyway (measured at its own next result).
    pub fn set_confirm_within(&mut self, millis: Millis) {
        self.confirm_within = millis;
    }

    /// Number of services.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no services.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Resumes own health from the latest stored results not older than `max_age`, without
    /// transitions (nothing is announced); returns how many results were taken. A service's
    /// newest result wins whatever their order; for a check probed from regions, each region's.
    pub fn resume(&mut self, latest: &[ResultRecord], now: Millis, max_age: Millis) -> usize {
        let mut resumed = 0;
        for record in latest {
            let Some(&i) = self.index.get(record.service.as_str()) else {
                continue;
            };
            let node = &mut self.nodes[i];
            if !node.checked || now.saturating_sub(record.at) > max_age {
                continue;
            }
            // Resumed as settled: the previous run confirmed it, so no confirmation wait.
            node.take_record(record);
            resumed += 1;
        }
        let mut transitions = Vec::new();
        self.evaluate_all(now, &mut transitions);
        // A resumed status dates from its result, not from the restart.
        for node in &mut self.nodes {
            if node.status != Status::Unknown {
                node.since = node.last.as_ref().map(|l| l.at).or(node.since);
            }
        }
        resumed
    }

    /// Takes results another node probed (a shared store, `docs/scale-out.md`): each becomes
    /// its service's latest result, as if probed here, and every status is evaluated again.
    /// Returns the transitions (for the bus; the node that probed records them).
    pub fn follow(&mut self, records: &[ResultRecord], now: Millis) -> Vec<Transition> {
        for record in records {
            let Some(&i) = self.index.get(record.service.as_str()) else {
                continue;
            };
            let node = &mut self.nodes[i];
            if node.checked {
                node.take_record(record);
            }
        }
        let mut transitions = Vec::new();
        self.evaluate_all(now, &mut transitions);
        transitions
    }

    /// THE door for a probe result of `service`'s check of `generation`, from a probe started
    /// at `summary.started_at`: updates its own health, then what is shown for it and for
    /// everything that depends on it. `None` when the service is unknown or the result comes
    /// from a check that has since been replaced (a reload).
    pub fn apply(
        &mut self,
        service: &str,
        generation: u64,
        result: &ProbeResult,
        summary: ProbeSummary,
        now: Millis,
    ) -> Option<Applied> {
        let &i = self.index.get(service)?;
        let node = &mut self.nodes[i];
        if node.generation != generation || !node.checked {
            return None;
        }
        if node
            .hold
            .as_ref()
            .is_some_and(|h| summary.started_at >= h.since)
        {
            node.hold = None;
            node.health.restart();
            if let Some(regional) = &mut node.regional {
                for region in &mut regional.regions {
                    region.health.restart();
                }
            }
        }
        let started = summary.started_at;
        let reason = if let Some(regional) = &mut node.regional {
            // One region's result: that region's verdict, then the regions' together.
            let (before, ..) = regional.verdict();
            if let Some(region) = regional.region(summary.region.as_deref()) {
                region.health.apply(result, now);
                region.last = Some(summary.clone());
            }
            let (after, _, problem) = regional.verdict();
            let failing = |h: Health| matches!(h, Health::Down | Health::Degraded);
            if failing(after) && !failing(before) {
                node.failing_since = Some(started);
            }
            node.last = Some(summary);
            (before != after).then(|| problem.unwrap_or_else(|| "the check passed".to_owned()))
        } else {
            let change = node.health.apply(result, now);
            node.last = Some(summary);
            let streak = node.health.streak();
            if streak.failures == 1 {
                node.failing_since = Some(started);
            }
            change.map(|c| c.reason)
        };
        let own = node.own();
        let mut transitions = Vec::new();
        let mut work = Work::default();
        work.push(&mut self.queued, &self.nodes, i);
        // Services waiting for this one's next result to confirm their own failure.
        for dependent in self.confirming_dependents(i) {
            work.push(&mut self.queued, &self.nodes, dependent);
        }
        self.run(work, now, Some((i, reason)), &mut transitions);
        Some(Applied { own, transitions })
    }

    /// THE door for an advisory on `service` (a workflow engine's verdict): `Some(reason)`
    /// lowers it to `degraded` while its own check passes, `None` lifts it. Returns the
    /// transitions (none when the advisory only changed its words); `None` for an unknown
    /// service.
    pub fn advise(
        &mut self,
        service: &str,
        advisory: Option<String>,
        now: Millis,
    ) -> Option<Vec<Transition>> {
        let &i = self.index.get(service)?;
        let node = &mut self.nodes[i];
        if node.advisory == advisory {
            return Some(Vec::new());
        }
        let reason = match &advisory {
            Some(reason) => reason.clone(),
            None => "its workflows recovered".to_owned(),
        };
        node.advisory = advisory;
        let mut transitions = Vec::new();
        let mut work = Work::default();
        work.push(&mut self.queued, &self.nodes, i);
        self.run(work, now, Some((i, Some(reason))), &mut transitions);
        Some(transitions)
    }

    /// Applies one round of results taken together (a one-shot `iza status`): every probe is
    /// taken as started at `started_at`, so the order of `results` does not matter. Returns
    /// every transition; results of unknown services are ignored.
    pub fn apply_round(
        &mut self,
        results: &[(&str, &ProbeResult)],
        started_at: Millis,
        now: Millis,
    ) -> Vec<Transition> {
        let mut transitions = Vec::new();
        for (service, result) in results {
            let Some(generation) = self.generation(service) else {
                continue;
            };
            let summary = ProbeSummary::of(result, started_at, now);
            if let Some(applied) = self.apply(service, generation, result, summary, now) {
                transitions.extend(applied.transitions);
            }
        }
        transitions
    }

    /// The confirming services that depend on `i` directly, or through services without a
    /// check.
    fn confirming_dependents(&self, i: usize) -> Vec<usize> {
        let mut found = Vec::new();
        let mut stack: Vec<usize> = self.nodes[i].dependents.clone();
        let mut budget = self.nodes.len();
        while let Some(d) = stack.pop() {
            if budget == 0 {
                break;
            }
            budget -= 1;
            let node = &self.nodes[d];
            if node.confirming {
                found.push(d);
            } else if !node.checked {
                stack.extend(&node.dependents);
            }
        }
        found
    }

    /// Whether `d` has a verdict from a probe started at or after `since` (looking through
    /// services without a check to what they depend on).
    fn probed_since(&self, d: usize, since: Millis) -> bool {
        let mut stack = vec![d];
        let mut budget = self.nodes.len();
        while let Some(x) = stack.pop() {
            if budget == 0 {
                return true;
            }
            budget -= 1;
            let node = &self.nodes[x];
            if node.checked {
                if node.last.as_ref().is_none_or(|l| l.started_at < since) {
                    return false;
                }
            } else {
                stack.extend(&node.dependencies);
            }
        }
        true
    }

    /// Applies a new catalog: kept services keep their health, status and generation (a
    /// changed check takes `generation` and the new thresholds, and keeps its health; a
    /// service that lost its check becomes unknown), added ones start unknown, removed ones
    /// go. Returns the transitions of kept services and of added ones that start impacted.
    pub fn reload(
        &mut self,
        catalog: &Catalog,
        diff: &CatalogDiff,
        generation: u64,
        now: Millis,
    ) -> Vec<Transition> {
        let mut old: HashMap<Arc<str>, Node> = std::mem::take(&mut self.nodes)
            .into_iter()
            .map(|n| (n.id.clone(), n))
            .collect();
        let changed: std::collections::HashSet<&str> =
            diff.changed.iter().map(String::as_str).collect();
        let confirm_within = self.confirm_within;
        let regional = self.regional;
        *self = StatusBoard::skeleton(
            catalog,
            |id, service| {
                let mut node = old.remove(id)?;
                let thresholds = service
                    .check
                    .as_ref()
                    .map(Thresholds::of)
                    .unwrap_or_default();
                node.health.set_thresholds(thresholds);
                if changed.contains(id) {
                    node.generation = generation;
                    node.checked = service.check.is_some();
                    if !node.checked {
                        node.health = ServiceHealth::new(thresholds);
                        node.hold = None;
                        node.last = None;
                    }
                }
                Some(node)
            },
            generation,
        );
        self.confirm_within = confirm_within;
        self.regional = regional;
        self.attach_regions(catalog);
        // Kept services compare with their carried status, added ones with `unknown`.
        let mut transitions = Vec::new();
        self.evaluate_all(now, &mut transitions);
        transitions
    }

    /// Evaluates every node in dependency order, recording transitions.
    fn evaluate_all(&mut self, now: Millis, transitions: &mut Vec<Transition>) {
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        order.sort_by_key(|&i| (self.nodes[i].rank, i));
        for i in order {
            self.reevaluate(i, now, None, transitions);
        }
    }

    /// Re-reads a node's inputs from its dependencies and re-evaluates it; records a
    /// transition when its shown status changed. Returns whether its contribution changed.
    fn reevaluate(
        &mut self,
        i: usize,
        now: Millis,
        reason: Option<String>,
        transitions: &mut Vec<Transition>,
    ) -> bool {
        let mut blocked_by = None;
        let mut waiting = false;
        for &d in &self.nodes[i].dependencies {
            match &self.nodes[d].contribution {
                Contribution::Root(root) if blocked_by.is_none() => blocked_by = Some(root.clone()),
                Contribution::Pending => waiting = true,
                _ => {}
            }
        }
        let failing_since = self.nodes[i].failing_since;
        let unconfirmed = blocked_by.is_none()
            && self.nodes[i].failing()
            && failing_since.is_none_or(|since| now.saturating_sub(since) < self.confirm_within)
            && (waiting
                || failing_since.is_some_and(|since| {
                    self.nodes[i]
                        .dependencies
                        .iter()
                        .any(|&d| !self.probed_since(d, since))
                }));
        let node = &mut self.nodes[i];
        node.waiting = waiting;
        if blocked_by.is_some() {
            node.hold = None;
        } else if node.blocked_by.is_some()
            && let Status::Impacted { by } = &node.status
            && node.failing()
        {
            node.hold = Some(Hold {
                root: Arc::from(by.as_str()),
                since: now,
            });
        }
        node.blocked_by = blocked_by;
        node.confirming = unconfirmed && node.hold.is_none();
        let (status, contribution) = node.evaluate();
        if status != node.status {
            let reason = match (&node.status, &status) {
                // Degraded although the check passes: the advisory says why.
                (_, Status::Degraded) if node.health.health() == Health::Up => {
                    node.advisory.clone().or(reason)
                }
                (_, Status::Down | Status::Degraded) => {
                    reason.or_else(|| node.last.as_ref().and_then(|l| l.message.clone()))
                }
                (_, Status::Impacted { by }) => Some(format!("`{by}` is down")),
                (Status::Impacted { by }, _) => Some(format!("`{by}` recovered")),
                _ => reason,
            };
            transitions.push(Transition {
                service: node.id.to_string(),
                from: std::mem::replace(&mut node.status, status.clone()),
                to: status,
                own: node.own(),
                reason,
            });
            node.since = Some(now);
        }
        let changed = contribution != node.contribution;
        node.contribution = contribution;
        changed
    }

    /// Re-evaluates the queued nodes in dependency order, and the dependents of each whose
    /// contribution changed, as far as contributions keep changing. `first` gives the reason
    /// of the node whose own result started the work.
    fn run(
        &mut self,
        mut work: Work,
        now: Millis,
        mut first: Option<(usize, Option<String>)>,
        transitions: &mut Vec<Transition>,
    ) {
        // Bounded even on a cycle (never in a validated catalog): each node at most a few times.
        let mut budget = self.nodes.len().saturating_mul(4).max(16);
        while let Some(i) = work.pop(&mut self.queued) {
            if budget == 0 {
                continue;
            }
            budget -= 1;
            let reason = match &mut first {
                Some((node, reason)) if *node == i => reason.take(),
                _ => None,
            };
            if self.reevaluate(i, now, reason, transitions) {
                for k in 0..self.nodes[i].dependents.len() {
                    let dependent = self.nodes[i].dependents[k];
                    work.push(&mut self.queued, &self.nodes, dependent);
                }
            }
        }
    }

    /// The state of one service.
    pub fn state(&self, service: &str) -> Option<ServiceState> {
        self.index.get(service).map(|&i| self.state_at(i))
    }

    fn state_at(&self, i: usize) -> ServiceState {
        let node = &self.nodes[i];
        let streak = node.health.streak();
        ServiceState {
            service: node.id.to_string(),
            status: node.status.clone(),
            own: node.own(),
            checked: node.checked,
            since: node.since,
            consecutive_failures: streak.failures,
            consecutive_successes: streak.successes,
            last: node.last.clone(),
            regional: node.regional.as_ref().map(Regional::state),
            degraded_by: node.advisory.clone(),
        }
    }

    /// Every service's state, in catalog order.
    pub fn states(&self) -> Vec<ServiceState> {
        (0..self.nodes.len()).map(|i| self.state_at(i)).collect()
    }

    /// The shown status of a service.
    pub fn status(&self, service: &str) -> Option<&Status> {
        self.index.get(service).map(|&i| &self.nodes[i].status)
    }

    /// The generation of a service's check.
    pub fn generation(&self, service: &str) -> Option<u64> {
        self.index.get(service).map(|&i| self.nodes[i].generation)
    }

    /// Whether a service has a check (and so takes results); `None` for an unknown service.
    pub fn is_checked(&self, service: &str) -> Option<bool> {
        self.index.get(service).map(|&i| self.nodes[i].checked)
    }
}

/// Nodes waiting to be re-evaluated, lowest start-order layer first.
#[derive(Debug, Default)]
struct Work(BinaryHeap<Reverse<(usize, usize)>>);

impl Work {
    fn push(&mut self, queued: &mut [bool], nodes: &[Node], i: usize) {
        if !queued[i] {
            queued[i] = true;
            self.0.push(Reverse((nodes[i].rank, i)));
        }
    }

    fn pop(&mut self, queued: &mut [bool]) -> Option<usize> {
        let Reverse((_, i)) = self.0.pop()?;
        queued[i] = false;
        Some(i)
    }
}

#[cfg(test)]
mod tests;
