//! Defines [`AppState`]: what every handler reads (the running monitor, the store, and the
//! views derived from the current catalog), and [`CatalogView`], those views, rebuilt once per
//! catalog rather than once per request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use iza_catalog::Catalog;
use iza_catalog::export::graph::{GraphFormat, render};
use iza_catalog::export::ports::PortMap;
use iza_catalog::graph::EcosystemGraph;
use iza_runtime::Monitor;
use iza_store::Store;

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
}

impl CatalogView {
    /// Builds the views of a catalog; `ports` comes from the manifest's wire model (it shows
    /// conflicts the validated catalog cannot hold).
    pub fn new(catalog: Arc<Catalog>, ports: &PortMap) -> CatalogView {
        let graph = EcosystemGraph::build(&catalog);
        let graph_json = render(&catalog, GraphFormat::Json);
        // A port map is plain strings and numbers: serializing it cannot fail.
        let ports_json = serde_json::to_string_pretty(ports).unwrap_or_else(|_| "{}".to_owned());
        CatalogView {
            catalog,
            graph,
            graph_json,
            ports_json,
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
        }
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
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }
}
