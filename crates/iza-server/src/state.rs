//! Defines [`AppState`]: what every handler reads (the running monitor, the store, and the
//! views derived from the current catalog), and [`CatalogView`], those views, rebuilt once per
//! catalog rather than once per request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use iza_catalog::Catalog;
use iza_catalog::export::graph::{GraphFormat, render};
use iza_catalog::export::ports::PortMap;
use iza_catalog::graph::EcosystemGraph;
use iza_catalog::redact::Secrets;
use iza_runtime::agents::Agents;
use iza_runtime::alerts::Alerts;
use iza_runtime::figures::Figures;
use iza_runtime::workflows::Workflows;
use iza_runtime::{DockerView, DockerWatch, Monitor, Supervisor};
use iza_store::Store;

use crate::auth::Auth;
use crate::host::HostPolicy;
use crate::metrics::ProbeMetrics;

/// What the API shows of one catalog: the catalog, its graph, and the rendered graph and
/// port map (both JSON, ready to send).
#[derive(Debug)]
pub struct CatalogView {
    /// The catalog.
    pub catalog: Arc<Catalog>,
    /// Its dependency graph.
    pub graph: EcosystemGraph,
    /// `GET /graph`: the JSON graph.
    pub graph_json: String,
    /// `GET /ports`: the port map as JSON.
    pub ports_json: String,
    /// The catalog's secret values, masked in every answer (see `docs/security.md`).
    pub secrets: Secrets,
}

impl CatalogView {
    /// Builds the views of a catalog; `ports` comes from the manifest's wire model (it shows
    /// conflicts the validated catalog cannot hold).
    pub fn new(catalog: Arc<Catalog>, ports: &PortMap) -> CatalogView {
        let graph = EcosystemGraph::build(&catalog);
        let graph_json = render(&catalog, GraphFormat::Json);
        // A port map is plain strings and numbers: serializing it cannot fail.
        let ports_json = serde_json::to_string_pretty(ports).unwrap_or_else(|_| "{}".to_owned());
        let secrets = Secrets::of(&catalog);
        CatalogView {
            catalog,
            graph,
            graph_json,
            ports_json,
            secrets,
        }
    }
}

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) monitor: Arc<Monitor>,
    pub(crate) store: Arc<dyn Store>,
    view: Arc<RwLock<Arc<CatalogView>>>,
    running: Arc<AtomicBool>,
    pub(crate) probes: Arc<ProbeMetrics>,
    /// The last body of `GET /services`, reused while it is fresh (see [`ListingCache`]).
    pub(crate) listing: Arc<Mutex<Option<ListingCache>>>,
    /// Held while a `GET /services` body is built: one rebuild at a time, and the requests
    /// that waited for it are answered with its result.
    pub(crate) listing_build: Arc<tokio::sync::Mutex<()>>,
    /// The containers' state, when the server follows a Docker engine.
    docker: Option<Arc<DockerWatch>>,
    /// The supervisor of `iza up`, set once it runs; `iza serve` has none.
    supervisor: Arc<OnceLock<Arc<Supervisor>>>,
    /// Who may call what (see [`crate::auth`]).
    pub(crate) auth: Auth,
    /// The names the server answers for (see [`crate::host`]).
    pub(crate) hosts: HostPolicy,
    /// The agents engine (task runs, incidents), set once it runs.
    agents: Arc<OnceLock<Arc<Agents>>>,
    /// Cancelled when the server stops: ends the MCP sessions and streams of `/mcp`.
    mcp_shutdown: iza_mcp::Shutdown,
    /// Alerting (alerts, silences, deliveries), set once it runs.
    alerts: Arc<OnceLock<Arc<Alerts>>>,
    /// The business-figures scraper, set once it runs.
    figures: Arc<OnceLock<Arc<Figures>>>,
    /// This node of a cluster sharing the store, set on a shared store.
    cluster: Arc<OnceLock<crate::nodes::ClusterInfo>>,
    /// The MCP hub: the upstream MCP servers federated behind `/mcp`.
    pub(crate) hub: iza_mcp::hub::Hub,
    /// The per-client rate limit of `/mcp`, when one is set.
    pub(crate) mcp_rate: Option<crate::ratelimit::RateLimiter>,
    /// The per-tool rate limits of `/mcp` set on the command line (`--mcp-tool-rate-limit`).
    pub(crate) mcp_tool_limits: iza_mcp::ToolLimits,
    /// The audit log's queue and writer (see [`crate::audit`]).
    pub(crate) audit: crate::audit::AuditLog,
    /// The event outputs, set once they run.
    outputs: Arc<OnceLock<Arc<iza_outputs::Outputs>>>,
    /// The followers of the workflow engines, set once they run.
    workflows: Arc<OnceLock<Arc<Workflows>>>,
}

/// How long a built `GET /services` body is served as it is although the state moved on: the
/// staleness bound of `docs/api.md`. With thousands of services some probe completes every few
/// milliseconds, so without this every request would serialize the whole list. Past it, the
/// next request rebuilds the body before it answers: no answer shows a state older than this.
pub(crate) const LISTING_FRESH_FOR: Duration = Duration::from_millis(500);

/// From this age on, a request that is served the kept body also starts building a newer one in
/// the background, so that under steady requests the body is renewed before it reaches the
/// bound and no request waits for a rebuild.
pub(crate) const LISTING_REFRESH_AFTER: Duration = Duration::from_millis(250);

/// A serialized `GET /services` body and what it was built from.
pub(crate) struct ListingCache {
    /// The bus position of the snapshot it shows.
    pub(crate) seq: u64,
    /// The catalog view it was built with.
    pub(crate) view: Arc<CatalogView>,
    /// When it was built.
    pub(crate) built: Instant,
    /// The JSON body.
    pub(crate) body: axum::body::Bytes,
    /// The same, gzipped, for clients that accept it (a tenth of the bytes to send).
    pub(crate) gzip: axum::body::Bytes,
    /// Whether a newer body is being built in the background.
    pub(crate) refreshing: bool,
}

impl ListingCache {
    /// Whether the body may be served for bus position `seq` under catalog view `view`: it
    /// shows that position, or it is younger than the bound.
    pub(crate) fn serves(&self, seq: u64, view: &Arc<CatalogView>) -> bool {
        Arc::ptr_eq(&self.view, view)
            && (self.seq == seq || self.built.elapsed() < LISTING_FRESH_FOR)
    }

    /// Whether a newer body should be built in the background (one it may still serve, but that
    /// is behind and half-way to the bound).
    pub(crate) fn wants_refresh(&self, seq: u64) -> bool {
        self.seq != seq && !self.refreshing && self.built.elapsed() >= LISTING_REFRESH_AFTER
    }
}

impl AppState {
    /// The state of a server over `monitor` (watching `view.catalog`) and its `store`. Starts a
    /// task that follows the monitor's bus to count probes for `/metrics`, so it must be
    /// called within a Tokio runtime.
    pub fn new(monitor: Arc<Monitor>, store: Arc<dyn Store>, view: CatalogView) -> AppState {
        let probes = Arc::new(ProbeMetrics::default());
        crate::metrics::follow(monitor.subscribe(), probes.clone());
        AppState {
            monitor,
            store,
            view: Arc::new(RwLock::new(Arc::new(view))),
            running: Arc::new(AtomicBool::new(true)),
            probes,
            listing: Arc::default(),
            listing_build: Arc::default(),
            docker: None,
            supervisor: Arc::default(),
            auth: Auth::locked(),
            hosts: HostPolicy::loopback(),
            agents: Arc::default(),
            mcp_shutdown: iza_mcp::Shutdown::new(),
            alerts: Arc::default(),
            figures: Arc::default(),
            cluster: Arc::default(),
            hub: iza_mcp::hub::Hub::empty(),
            mcp_rate: None,
            mcp_tool_limits: iza_mcp::ToolLimits::default(),
            audit: crate::audit::AuditLog::default(),
            outputs: Arc::default(),
            workflows: Arc::default(),
        }
    }

    /// Serves the workflow engines' followers: their last round and retries. A second call
    /// is ignored.
    pub fn set_workflows(&self, workflows: Arc<Workflows>) {
        let _ = self.workflows.set(workflows);
    }

    /// The workflow engines' followers, when the server runs them.
    pub fn workflows(&self) -> Option<&Arc<Workflows>> {
        self.workflows.get()
    }

    /// Serves the nodes of the cluster sharing the store (`GET /api/v1/nodes`). A second call is
    /// ignored.
    pub fn set_cluster(&self, info: crate::nodes::ClusterInfo) {
        let _ = self.cluster.set(info);
    }

    /// This node of the cluster, on a shared store.
    pub(crate) fn cluster(&self) -> Option<&crate::nodes::ClusterInfo> {
        self.cluster.get()
    }

    /// Writes the audit records still queued to the store (on shutdown, before it closes).
    pub async fn flush_audit(&self) {
        self.audit.flush(self).await;
    }

    /// Limits the calls of the MCP tools these globs (over namespaced tool names) match, each
    /// tool to its rate, shared by every client (`--mcp-tool-rate-limit TOOL=RATE`).
    #[must_use]
    pub fn with_mcp_tool_limits(
        mut self,
        rules: Vec<(String, crate::ratelimit::Rate)>,
    ) -> AppState {
        self.mcp_tool_limits = iza_mcp::ToolLimits::new(
            rules
                .into_iter()
                .map(|(tool, rate)| {
                    (
                        tool,
                        iza_mcp::ToolRate {
                            count: rate.count,
                            per: rate.per,
                        },
                    )
                })
                .collect(),
        );
        self
    }

    /// Limits each client of `/mcp` (by its bearer token) to `rate` requests; `None`: no limit.
    #[must_use]
    pub fn with_mcp_rate_limit(mut self, rate: Option<crate::ratelimit::Rate>) -> AppState {
        self.mcp_rate = rate.map(crate::ratelimit::RateLimiter::new);
        self
    }

    /// Federates the hub's upstream MCP servers behind `/mcp` (call before [`crate::router`]).
    #[must_use]
    pub fn with_hub(mut self, hub: iza_mcp::hub::Hub) -> AppState {
        self.hub = hub;
        self
    }

    /// The MCP hub.
    pub fn hub(&self) -> &iza_mcp::hub::Hub {
        &self.hub
    }

    /// Serves the supervisor's processes (`iza up`): their state, logs, and start, stop and
    /// restart. A second call is ignored.
    pub fn set_supervisor(&self, supervisor: Arc<Supervisor>) {
        let _ = self.supervisor.set(supervisor);
    }

    /// The supervisor, when the server has one.
    pub(crate) fn supervisor(&self) -> Option<&Arc<Supervisor>> {
        self.supervisor.get()
    }

    /// Serves the agents engine: tasks, runs, incidents and external claims. A second call is
    /// ignored.
    pub fn set_agents(&self, agents: Arc<Agents>) {
        let _ = self.agents.set(agents);
    }

    /// Serves the business figures' scrape errors and counters. A second call is ignored.
    pub fn set_figures(&self, figures: Arc<Figures>) {
        let _ = self.figures.set(figures);
    }

    /// The business-figures scraper, when the server runs one.
    pub fn figures(&self) -> Option<&Arc<Figures>> {
        self.figures.get()
    }

    /// Serves alerting: acknowledgements and silences. A second call is ignored.
    pub fn set_alerts(&self, alerts: Arc<Alerts>) {
        let _ = self.alerts.set(alerts);
    }

    /// Serves the event outputs: their outbox depth and lag. A second call is ignored.
    pub fn set_outputs(&self, outputs: Arc<iza_outputs::Outputs>) {
        let _ = self.outputs.set(outputs);
    }

    /// The event outputs, when the server runs them.
    pub fn outputs(&self) -> Option<&Arc<iza_outputs::Outputs>> {
        self.outputs.get()
    }

    /// Alerting, when the server runs it.
    pub fn alerts(&self) -> Option<&Arc<Alerts>> {
        self.alerts.get()
    }

    /// The agents engine, when the server has one.
    pub(crate) fn agents(&self) -> Option<&Arc<Agents>> {
        self.agents.get()
    }

    /// Shows the containers `watch` reads beside the checks.
    #[must_use]
    pub fn with_docker(mut self, watch: Arc<DockerWatch>) -> AppState {
        self.docker = Some(watch);
        self
    }

    /// The latest reading of the containers; `None` when the server follows no engine.
    pub(crate) fn docker(&self) -> Option<Arc<DockerView>> {
        self.docker.as_ref().map(|watch| watch.view())
    }

    /// The Docker watch, to follow a reloaded manifest.
    pub fn docker_watch(&self) -> Option<&Arc<DockerWatch>> {
        self.docker.as_ref()
    }

    /// Sets the access policy. Without it ([`Auth::locked`]), every call that may change
    /// anything is refused with 401 and reads are open.
    #[must_use]
    pub fn with_auth(mut self, auth: Auth) -> AppState {
        self.auth = auth;
        self
    }

    /// Sets the names the server answers for. Without it ([`HostPolicy::loopback`]), only
    /// `localhost` and loopback addresses.
    #[must_use]
    pub fn with_hosts(mut self, hosts: HostPolicy) -> AppState {
        self.hosts = hosts;
        self
    }

    /// The access policy.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The current catalog's views.
    pub fn view(&self) -> Arc<CatalogView> {
        self.view
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the views after the monitor reloaded a new catalog.
    pub fn set_view(&self, view: CatalogView) {
        *self.view.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(view);
    }

    /// The monitor being served.
    pub fn monitor(&self) -> &Arc<Monitor> {
        &self.monitor
    }

    /// Marks the server as stopping: `/healthz` answers 503 from now on.
    pub fn mark_stopping(&self) {
        self.running.store(false, Ordering::SeqCst);
        self.mcp_shutdown.cancel();
    }

    /// Cancelled when the server stops (see [`AppState::mark_stopping`]).
    pub(crate) fn mcp_shutdown(&self) -> iza_mcp::Shutdown {
        self.mcp_shutdown.clone()
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> Arc<CatalogView> {
        let source = iza_catalog::SourceFile::new(
            "t.toml",
            "[services.a]\n".to_owned(),
            iza_catalog::Syntax::Toml,
        );
        let catalog = iza_catalog::check(&source).catalog.expect("valid");
        Arc::new(CatalogView::new(Arc::new(catalog), &PortMap::default()))
    }

    #[test]
    fn a_listing_is_served_while_its_state_is_current_or_fresh() {
        let (v, other) = (view(), view());
        let at = |seq: u64, age: Duration| ListingCache {
            seq,
            view: v.clone(),
            built: Instant::now() - age,
            body: axum::body::Bytes::new(),
            gzip: axum::body::Bytes::new(),
            refreshing: false,
        };
        let old = LISTING_FRESH_FOR * 2;
        let cases = [
            (at(7, old), 7, &v, true),
            (at(7, Duration::ZERO), 8, &v, true),
            (at(7, old), 8, &v, false),
            (at(7, Duration::ZERO), 7, &other, false),
        ];
        for (i, (cache, seq, view, serves)) in cases.into_iter().enumerate() {
            assert_eq!(cache.serves(seq, view), serves, "case {i}");
        }
    }

    #[test]
    fn a_listing_behind_is_refreshed_from_half_the_bound() {
        let v = view();
        let at = |seq: u64, age: Duration, refreshing: bool| ListingCache {
            seq,
            view: v.clone(),
            built: Instant::now() - age,
            body: axum::body::Bytes::new(),
            gzip: axum::body::Bytes::new(),
            refreshing,
        };
        let half = LISTING_REFRESH_AFTER + Duration::from_millis(10);
        assert!(at(7, half, false).wants_refresh(8));
        assert!(!at(7, half, true).wants_refresh(8), "one refresh at a time");
        assert!(!at(7, half, false).wants_refresh(7), "current");
        assert!(!at(7, Duration::ZERO, false).wants_refresh(8), "young");
    }
}
