//! Business figures (docs/metrics.md): [`Figures`] scrapes every figure the catalog declares
//! at its interval, one request per endpoint and round however many figures it carries
//! (`read.rs`, with the Prometheus text parser of `exposition.rs`), writes the values to the
//! store (samples and hourly rollups) and keeps the last error of each; `summary.rs`
//! aggregates them per group and over the ecosystem for the interfaces. Each value read is
//! also put on the [`iza_probe::FigureBoard`] of [`FiguresOptions::board`] (seeded from the
//! store's latest samples at start), where check conditions and alert rules on figures
//! (`[METRIC].arr < 1000000`) read it without touching the store.

pub mod exposition;
pub mod read;
pub mod summary;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use iza_catalog::Catalog;
use iza_catalog::model::Figure;
use iza_store::{FigureSample, Store};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use summary::{ClaimSummary, FigureSummary, Summary};

/// How the scraper runs.
#[derive(Debug, Clone)]
pub struct FiguresOptions {
    /// How often the scraper looks for figures that are due (their own `every` decides when).
    pub tick: Duration,
    /// At most this many endpoints are fetched at once.
    pub concurrency: usize,
    /// Where the latest value of each figure is kept for conditions (shared with the prober
    /// and the alert engine).
    pub board: iza_probe::FigureBoard,
}

impl Default for FiguresOptions {
    fn default() -> Self {
        FiguresOptions {
            tick: Duration::from_millis(250),
            concurrency: 16,
            board: iza_probe::FigureBoard::default(),
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FigureCounters {
    /// Endpoint fetches done.
    pub scrapes: u64,
    /// Figure reads that failed.
    pub failures: u64,
}

struct Shared {
    catalog: RwLock<Arc<Catalog>>,
    errors: Mutex<HashMap<(String, String), String>>,
    counters: Mutex<FigureCounters>,
}

/// The running scraper of business figures.
pub struct Figures {
    shared: Arc<Shared>,
    stopping: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Figures {
    /// Starts scraping the catalog's figures into the store.
    pub fn start(catalog: Arc<Catalog>, store: Arc<dyn Store>, options: FiguresOptions) -> Figures {
        let shared = Arc::new(Shared {
            catalog: RwLock::new(catalog),
            errors: Mutex::default(),
            counters: Mutex::default(),
        });
        let (stopping, stop) = watch::channel(false);
        let task = tokio::spawn(run(shared.clone(), store, options, stop));
        Figures {
            shared,
            stopping,
            task: Mutex::new(Some(task)),
        }
    }

    /// Follows a new catalog: added figures are scraped at once, removed ones no more.
    pub fn reload(&self, catalog: Arc<Catalog>) {
        *self
            .shared
            .catalog
            .write()
            .unwrap_or_else(PoisonError::into_inner) = catalog;
    }

    /// The last error of each figure whose last read failed, by (service, figure).
    pub fn errors(&self) -> HashMap<(String, String), String> {
        self.shared
            .errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The counters.
    pub fn counters(&self) -> FigureCounters {
        *self
            .shared
            .counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops scraping (a fetch in flight is abandoned).
    pub async fn shutdown(&self) {
        self.stopping.send_replace(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// A figure and the service it belongs to.
type Key = (String, String);

async fn run(
    shared: Arc<Shared>,
    store: Arc<dyn Store>,
    options: FiguresOptions,
    mut stop: watch::Receiver<bool>,
) {
    let client = match client() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!("figures: {error}; no figure is scraped");
            return;
        }
    };
    // Conditions on figures see the last stored values until the first scrape.
    match store.latest_figures().await {
        Ok(latest) => {
            let catalog = shared
                .catalog
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            for sample in latest {
                if declares(&catalog, &sample.service, &sample.figure) {
                    options
                        .board
                        .set(&sample.service, &sample.figure, sample.value);
                }
            }
        }
        Err(error) => tracing::debug!("figures: no stored values to start from: {error}"),
    }
    let mut due: HashMap<Key, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(options.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let limit = Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
    let mut in_flight = tokio::task::JoinSet::new();
    let mut busy: std::collections::HashSet<Key> = std::collections::HashSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {}
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(keys) = done {
                    for key in keys {
                        busy.remove(&key);
                    }
                }
                continue;
            }
        }
        let catalog = shared
            .catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let now = Instant::now();
        // Figures due now, grouped by endpoint and timeout: one fetch serves them all.
        let mut rounds: HashMap<(String, Duration), Vec<(String, Figure)>> = HashMap::new();
        let mut present = std::collections::HashSet::new();
        for service in catalog.services.values() {
            for figure in &service.figures {
                let key = (service.id.clone(), figure.name.clone());
                present.insert(key.clone());
                if busy.contains(&key) || due.get(&key).is_some_and(|at| *at > now) {
                    continue;
                }
                due.insert(key.clone(), now + figure.every);
                busy.insert(key);
                rounds
                    .entry((figure.source.url().to_owned(), figure.timeout))
                    .or_default()
                    .push((service.id.clone(), figure.clone()));
            }
        }
        due.retain(|key, _| present.contains(key));
        options
            .board
            .retain(|service, figure| present.contains(&(service.to_owned(), figure.to_owned())));
        for (_, figures) in rounds {
            let (client, store, shared, limit, board) = (
                client.clone(),
                store.clone(),
                shared.clone(),
                limit.clone(),
                options.board.clone(),
            );
            in_flight.spawn(async move {
                let _permit = limit.acquire_owned().await;
                scrape(&client, &*store, &shared, &board, &figures).await;
                figures
                    .into_iter()
                    .map(|(service, figure)| (service, figure.name))
                    .collect::<Vec<_>>()
            });
        }
    }
    in_flight.abort_all();
}

/// Fetches one endpoint and records every figure read from it.
async fn scrape(
    client: &reqwest::Client,
    store: &dyn Store,
    shared: &Shared,
    board: &iza_probe::FigureBoard,
    figures: &[(String, Figure)],
) {
    let Some((_, first)) = figures.first() else {
        return;
    };
    let document = read::fetch(client, &first.source, first.timeout).await;
    let at = crate::now_millis();
    let mut samples = Vec::new();
    let mut outcomes = Vec::new();
    for (service, figure) in figures {
        let value = document
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|d| read::value(d, &figure.source));
        match value {
            Ok(value) if value.is_finite() => {
                samples.push(FigureSample {
                    service: service.clone(),
                    figure: figure.name.clone(),
                    at,
                    value,
                });
                outcomes.push(((service.clone(), figure.name.clone()), None));
            }
            Ok(value) => outcomes.push((
                (service.clone(), figure.name.clone()),
                Some(format!("the value is {value}")),
            )),
            Err(error) => outcomes.push((
                (service.clone(), figure.name.clone()),
                Some(error.to_string()),
            )),
        }
    }
    if let Err(error) = store.append_figures(&samples).await {
        tracing::warn!("figures: writing to the store failed: {error}");
    }
    for sample in &samples {
        board.set(&sample.service, &sample.figure, sample.value);
    }
    let failures = outcomes.iter().filter(|(_, e)| e.is_some()).count() as u64;
    {
        let mut errors = shared.errors.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, error) in outcomes {
            match error {
                Some(error) => {
                    errors.insert(key, error);
                }
                None => {
                    errors.remove(&key);
                }
            }
        }
    }
    let mut counters = shared
        .counters
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    counters.scrapes += 1;
    counters.failures += failures;
}

fn declares(catalog: &Catalog, service: &str, figure: &str) -> bool {
    catalog
        .services
        .get(service)
        .is_some_and(|s| s.figures.iter().any(|f| f.name == figure))
}

fn client() -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .retry(reqwest::retry::never())
        .user_agent(concat!("iza-figures/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5));
    if let Ok(tls) = iza_probe::verifying_tls_config() {
        builder = builder.tls_backend_preconfigured(tls);
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}
