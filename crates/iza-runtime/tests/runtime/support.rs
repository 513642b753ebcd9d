//! Test support: catalogs from TOML text, small HTTP servers whose health the test switches,
//! a recording `Store` double, and an event collector with deadline-bound waits.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use iza_catalog::{Catalog, SourceFile, Syntax};
use iza_probe::Prober;
use iza_runtime::{Event, EventKind, Monitor, MonitorOptions, Snapshot, Status, Update};
use iza_store::{
    EventQuery, EventRecord, Millis, Resolution, ResultRecord, Retention, Rollup, Store,
    StoreError, Uptime,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// How long any wait may take before the test fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

pub(crate) fn catalog(services: &str) -> Arc<Catalog> {
    let text = format!("version = 1\n[ecosystem]\nname = \"test\"\n{services}");
    let checked = iza_catalog::check(&SourceFile::new("test.toml", text, Syntax::Toml));
    Arc::new(
        checked
            .catalog
            .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics)),
    )
}

/// What a test server does with a request.
#[derive(Clone)]
pub(crate) struct Behaviour {
    /// Answers 200 while this holds, 503 otherwise.
    pub(crate) healthy: Arc<dyn Fn() -> bool + Send + Sync>,
    /// Waits this long before answering.
    pub(crate) delay: Duration,
}

impl Behaviour {
    pub(crate) fn up() -> Behaviour {
        Behaviour::when(|| true)
    }

    pub(crate) fn when(healthy: impl Fn() -> bool + Send + Sync + 'static) -> Behaviour {
        Behaviour {
            healthy: Arc::new(healthy),
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn slow(delay: Duration) -> Behaviour {
        Behaviour {
            delay,
            ..Behaviour::up()
        }
    }
}

/// A running HTTP server on 127.0.0.1.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    /// The most requests answered at once.
    pub(crate) peak: Arc<AtomicUsize>,
    /// Requests received.
    pub(crate) requests: Arc<AtomicUsize>,
}

impl Server {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub(crate) async fn serve(behaviour: Behaviour) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let server = Server {
        addr,
        peak: peak.clone(),
        requests: requests.clone(),
    };
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let behaviour = behaviour.clone();
            let (active, peak, requests) = (active.clone(), peak.clone(), requests.clone());
            tokio::spawn(async move {
                // One request per connection: read the head, answer, close.
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                requests.fetch_add(1, Ordering::SeqCst);
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                if !behaviour.delay.is_zero() {
                    tokio::time::sleep(behaviour.delay).await;
                }
                let (status, body) = if (behaviour.healthy)() {
                    (200, "ok")
                } else {
                    (503, "unavailable")
                };
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                // Counted as answered before the answer leaves, so that a client that has its
                // answer never sees its request still counted.
                active.fetch_sub(1, Ordering::SeqCst);
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    server
}

/// A switch a server's health reads.
#[derive(Clone)]
pub(crate) struct Switch(Arc<AtomicBool>);

impl Switch {
    pub(crate) fn on() -> Switch {
        Switch(Arc::new(AtomicBool::new(true)))
    }

    pub(crate) fn set(&self, on: bool) {
        self.0.store(on, Ordering::SeqCst);
    }

    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A `Store` double that records what it is given: a sink for assertions. `latest_results`
/// answers what the test preset plus what was recorded; the read queries answer nothing.
#[derive(Default)]
pub(crate) struct RecordingStore {
    pub(crate) results: Mutex<Vec<ResultRecord>>,
    pub(crate) events: Mutex<Vec<EventRecord>>,
    /// Sizes of the result batches, in order.
    pub(crate) result_batches: Mutex<Vec<usize>>,
    pub(crate) preset_latest: Mutex<Vec<ResultRecord>>,
    /// Fail this many writes before accepting.
    pub(crate) failures_left: AtomicUsize,
    /// How long each write takes (an overloaded store), in milliseconds.
    pub(crate) write_delay_ms: AtomicUsize,
}

impl RecordingStore {
    pub(crate) fn results(&self) -> Vec<ResultRecord> {
        self.results.lock().unwrap().clone()
    }

    pub(crate) fn events(&self) -> Vec<EventRecord> {
        self.events.lock().unwrap().clone()
    }

    async fn slow_write(&self) {
        let delay = self.write_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay as u64)).await;
        }
    }

    fn maybe_fail(&self) -> Result<(), StoreError> {
        let left = self.failures_left.load(Ordering::SeqCst);
        if left > 0 {
            self.failures_left.store(left - 1, Ordering::SeqCst);
            return Err(StoreError::Query("disk I/O error (test)".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl Store for RecordingStore {
    async fn append_results(&self, results: &[ResultRecord]) -> Result<(), StoreError> {
        self.slow_write().await;
        self.maybe_fail()?;
        self.result_batches.lock().unwrap().push(results.len());
        self.results.lock().unwrap().extend_from_slice(results);
        Ok(())
    }

    async fn append_events(
        &self,
        events: Vec<EventRecord>,
    ) -> Result<Vec<EventRecord>, StoreError> {
        self.slow_write().await;
        self.maybe_fail()?;
        let mut stored = self.events.lock().unwrap();
        let events: Vec<EventRecord> = events
            .into_iter()
            .enumerate()
            .map(|(i, mut e)| {
                e.id = (stored.len() + i + 1) as i64;
                e
            })
            .collect();
        stored.extend(events.iter().cloned());
        Ok(events)
    }

    async fn recent_results(&self, _: &str, _: usize) -> Result<Vec<ResultRecord>, StoreError> {
        Ok(Vec::new())
    }

    async fn latest_results(&self) -> Result<Vec<ResultRecord>, StoreError> {
        let mut latest: HashMap<String, ResultRecord> = HashMap::new();
        let preset = self.preset_latest.lock().unwrap().clone();
        for record in preset.into_iter().chain(self.results()) {
            match latest.get(&record.service) {
                Some(known) if known.at > record.at => {}
                _ => {
                    latest.insert(record.service.clone(), record);
                }
            }
        }
        Ok(latest.into_values().collect())
    }

    async fn rollups(&self, _: &str, _: Resolution, _: Millis) -> Result<Vec<Rollup>, StoreError> {
        Ok(Vec::new())
    }

    async fn uptime(&self, _: &str, _: Millis) -> Result<Uptime, StoreError> {
        Ok(Uptime::default())
    }

    async fn events(&self, _: &EventQuery) -> Result<Vec<EventRecord>, StoreError> {
        Ok(Vec::new())
    }

    async fn maintain(&self, _: Millis, _: Retention) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Options for tests: a fixed seed, first probes within 100 ms.
pub(crate) fn options() -> MonitorOptions {
    MonitorOptions {
        seed: Some(42),
        first_probe_within: Some(Duration::from_millis(100)),
        ..MonitorOptions::default()
    }
}

pub(crate) async fn start(
    catalog: Arc<Catalog>,
    store: Arc<RecordingStore>,
    options: MonitorOptions,
) -> Monitor {
    Monitor::start(catalog, Arc::new(Prober::default()), store, options)
        .await
        .unwrap()
}

/// Everything a subscription delivered, gathered by a background task.
#[derive(Clone)]
pub(crate) struct Collector {
    pub(crate) first: Arc<Mutex<Option<Snapshot>>>,
    pub(crate) events: Arc<Mutex<Vec<Arc<Event>>>>,
    pub(crate) closed: Arc<AtomicBool>,
}

impl Collector {
    pub(crate) fn new(monitor: &Monitor) -> Collector {
        let collector = Collector {
            first: Arc::default(),
            events: Arc::default(),
            closed: Arc::default(),
        };
        let mut subscription = monitor.subscribe();
        let sink = collector.clone();
        tokio::spawn(async move {
            while let Some(update) = subscription.recv().await {
                match update {
                    Update::Snapshot(snapshot) => *sink.first.lock().unwrap() = Some(snapshot),
                    Update::Event(event) => sink.events.lock().unwrap().push(event),
                    Update::Resynced { missed, .. } => panic!("the collector lagged by {missed}"),
                }
            }
            sink.closed.store(true, Ordering::SeqCst);
        });
        collector
    }

    pub(crate) fn events(&self) -> Vec<Arc<Event>> {
        self.events.lock().unwrap().clone()
    }

    /// Events after position `from`.
    pub(crate) fn since(&self, from: usize) -> Vec<Arc<Event>> {
        self.events.lock().unwrap()[from..].to_vec()
    }

    pub(crate) fn len(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    /// The probes of a service seen so far: (started, finished, up).
    pub(crate) fn probes_of(&self, service: &str) -> Vec<(Millis, Millis, bool)> {
        self.events()
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::ProbeCompleted {
                    service: s, result, ..
                } if s == service => Some((result.started_at, result.at, result.is_up())),
                _ => None,
            })
            .collect()
    }
}

/// Polls `condition` until it holds; fails the test with `what` after [`DEADLINE`].
pub(crate) async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let give_up = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < give_up, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// [`wait_until`] for a condition that has to ask something asynchronous (the store).
pub(crate) async fn wait_until_async<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let give_up = Instant::now() + DEADLINE;
    while !condition().await {
        assert!(Instant::now() < give_up, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The shown status of a service, from the monitor's snapshot.
pub(crate) fn status(monitor: &Monitor, service: &str) -> Status {
    monitor
        .bus()
        .service(service)
        .map(|s| s.status.clone())
        .unwrap_or_else(|| panic!("no service `{service}`"))
}

/// A server that answers `GET <path>` with what `answer(path)` gives (status and body), one
/// request per connection; counts requests by path.
pub(crate) async fn serve_bodies(
    answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let answer = Arc::new(answer);
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (answer, log) = (answer.clone(), log.clone());
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buffer);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                log.lock().unwrap().push(path.clone());
                let (status, body) = answer(&path);
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (addr, seen)
}
