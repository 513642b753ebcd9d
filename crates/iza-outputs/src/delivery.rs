//! Defines [`Outputs`]: the delivery of events to every output of a catalog. One writer task
//! follows the bus: each event an output's filter accepts is written to that output's outbox
//! (batched: one transaction per output and batch, each event's envelope encoded once for all
//! outputs) before anything is published. The writer hands what it has just committed (with
//! the ids the store gave) to the output's worker, which publishes it at once, without reading
//! it back from the store; the worker reads its outbox from the store, oldest first, when it
//! starts, after a failure and whenever the hand-off missed an entry (it was full, or the
//! overflow rule dropped entries), and always on a store shared by several nodes. It sends a
//! batch and goes on sending the next ones while the broker's acknowledgements of the earlier
//! ones are awaited (up to `window` entries in flight), takes the acknowledgements in the order
//! sent, and hands the acknowledged ids to its remover, which deletes them in a transaction
//! every 100 ms (off the publishing path). On a shared store it deletes them before its next
//! read instead, and every read starts at the oldest entry: another node's entry can commit
//! after one with a higher id, and reading after the last delivered id would skip it; there one
//! batch at a time is in flight. On failure (a nack, a lost connection, no acknowledgement
//! within the output's `timeout`) it drops the connection and what was in flight on it, keeps
//! the rest and sends it again from the store, from the first entry not acknowledged, with
//! exponential backoff (from `backoff_min` to `backoff_max`): head-of-line, so an output's
//! events go out in the order they were written, per service and overall. Events that were in
//! the outbox when `iza` stopped (or was killed) are delivered when it starts again.
//!
//! [`Outputs::reload`] applies a new catalog's outputs while running: added ones start, removed
//! ones stop (their outbox stays in the store), changed ones restart with the new settings and
//! the same outbox.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use futures_util::FutureExt as _;
use indexmap::IndexMap;
use iza_catalog::Catalog;
use iza_catalog::model::{Output, OutputKind};
use iza_runtime::{Bus, Event, Update};
use iza_store::{Millis, OutboxEntry, Store};
use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::envelope;
use crate::publish::{self, Publisher};

/// How outputs deliver.
#[derive(Debug, Clone)]
pub struct OutputsOptions {
    /// The most entries published (and acknowledged) at once.
    pub batch: usize,
    /// The most entries sent and not yet acknowledged at once (batches are sent while the
    /// acknowledgements of earlier ones are awaited). On a shared store, one batch.
    pub window: usize,
    /// The first wait after a failure.
    pub backoff_min: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
    /// On a store shared by several nodes (`docs/scale-out.md`): the outbox is shared, and one
    /// node at a time delivers each output ([`SharedDelivery`]). `None`: this process is the
    /// only one.
    pub shared: Option<SharedDelivery>,
}

impl Default for OutputsOptions {
    fn default() -> Self {
        OutputsOptions {
            batch: 500,
            // Below async-nats's 5,000 JetStream acknowledgements awaited at once, beyond which
            // its publish would wait for one of ours.
            window: 2_000,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            shared: None,
        }
    }
}

/// One deliverer per output across the nodes of a shared store: a node delivers an output's
/// outbox only while it holds the output's lease (`output:<id>`, kept with the checks' leases,
/// taken for three fifths of `lease` and renewed every fifth), so that no entry is published
/// by two nodes; when it dies, another takes the lease and what was not acknowledged goes out
/// from there (at least once, as after a restart).
#[derive(Debug, Clone)]
pub struct SharedDelivery {
    /// This node's id (as registered).
    pub node: String,
    /// The cluster's lease period.
    pub lease: Duration,
}

/// The key of an output's delivery lease.
pub fn lease_key(output: &str) -> String {
    format!("{LEASE_PREFIX}{output}")
}

/// What the keys of the outputs' delivery leases begin with (no service id has a `:`).
pub const LEASE_PREFIX: &str = "output:";

/// An output's delivery lease, as this node holds it.
struct DeliveryLease {
    key: Vec<String>,
    node: String,
    grant: Millis,
    round: Millis,
    renewed: Millis,
    until: Millis,
}

impl DeliveryLease {
    fn new(shared: &SharedDelivery, output: &str) -> DeliveryLease {
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        DeliveryLease {
            key: vec![lease_key(output)],
            node: shared.node.clone(),
            grant: millis(shared.lease * 3 / 5),
            round: millis(shared.lease / 5).max(10),
            renewed: 0,
            until: 0,
        }
    }

    /// Whether this node may deliver now: takes or renews the lease when a round has passed.
    async fn hold(&mut self, store: &dyn Store) -> bool {
        let now = now();
        if now < self.until && now < self.renewed + self.round {
            return true;
        }
        match store
            .acquire_check_leases(&self.node, &self.key, now, now + self.grant)
            .await
        {
            Ok(got) if !got.is_empty() => {
                self.renewed = now;
                self.until = now + self.grant;
                true
            }
            Ok(_) => {
                self.until = 0;
                false
            }
            Err(error) => {
                tracing::warn!("cannot renew the delivery lease `{}`: {error}", self.key[0]);
                now < self.until
            }
        }
    }

    fn wait(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.round).unwrap_or(1_000))
    }
}

/// What one output has done, for `/metrics`, the API and the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputStatus {
    /// Id.
    pub id: String,
    /// `nats`, `amqp`, `mqtt` or `webhook`.
    pub kind: OutputKind,
    /// Where it publishes (credentials masked).
    pub url: String,
    /// Events waiting in its outbox.
    pub depth: u64,
    /// How long the oldest waiting event has waited, in milliseconds (0 when none waits).
    pub lag_ms: u64,
    /// Events published and acknowledged since `iza` started.
    pub published: u64,
    /// Events dropped since `iza` started: the oldest beyond `max_pending`, or missed by a
    /// writer that fell behind the bus.
    pub dropped: u64,
    /// Failed publish attempts since `iza` started.
    pub failures: u64,
    /// Whether the last attempt succeeded.
    pub healthy: bool,
    /// The last failure, when the last attempt failed.
    pub last_error: Option<String>,
    /// When an event was last acknowledged (Unix milliseconds).
    pub last_published_at: Option<Millis>,
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    dropped: AtomicU64,
    failures: AtomicU64,
    healthy: AtomicBool,
    last_published_at: AtomicU64,
}

/// What one output keeps across a restart by a reload that changes its settings: its counters,
/// its last error, the writer's wake-up of its worker and the writer's hand-off.
struct Shared {
    counters: Counters,
    last_error: Mutex<Option<String>>,
    wake: Notify,
    live: Mutex<Live>,
}

impl Shared {
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            counters: Counters {
                healthy: AtomicBool::new(true),
                ..Counters::default()
            },
            last_error: Mutex::new(None),
            wake: Notify::new(),
            live: Mutex::new(Live::default()),
        })
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writer's hand-off of the entries it has just committed to an output's outbox (with their
/// ids), so that its worker publishes them as soon as the transaction commits, without reading
/// them back from the store. The store stays the truth: a worker uses the hand-off only while it
/// knows the hand-off holds every entry after its cursor (see `publish_loop`), else it reads
/// the store.
#[derive(Default)]
struct Live {
    /// Committed entries not yet taken by the worker, in the order of writing.
    entries: std::collections::VecDeque<OutboxEntry>,
    /// Counts the times committed entries were not handed over (the hand-off was full) or
    /// handed-over ones were dropped from the store (the overflow rule): a worker that saw
    /// another count reads the store again.
    generation: u64,
}

/// The most entries the hand-off holds (beyond, the worker reads them from the store).
const LIVE_CAPACITY: usize = 10_000;

/// How long the remover gathers acknowledged ids before it deletes them (one transaction on the
/// store's writer for all of them, not one per published batch), unless
/// [`REMOVE_BATCH`] are gathered first.
const REMOVE_WINDOW: Duration = Duration::from_millis(100);

/// The most acknowledged ids deleted in one transaction.
const REMOVE_BATCH: usize = 5_000;

/// One output as configured now.
struct Slot {
    output: Output,
    shared: Arc<Shared>,
}

/// What the writer reads for each batch of events: the outputs, in catalog order, and the
/// ecosystem their keys name. Replaced whole by a reload.
struct Plan {
    ecosystem: String,
    slots: Vec<Arc<Slot>>,
}

/// A running worker and the means to stop it.
struct Worker {
    slot: Arc<Slot>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

struct Inner {
    store: Arc<dyn Store>,
    bus: Bus,
    options: OutputsOptions,
    plan: RwLock<Arc<Plan>>,
}

impl Inner {
    fn plan(&self) -> Arc<Plan> {
        self.plan
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// What a reload changed, by output id, each list in catalog order (the old one for removals).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutputsReload {
    /// Started.
    pub added: Vec<String>,
    /// Stopped; their outbox entries stay in the store (delivered if the output comes back).
    pub removed: Vec<String>,
    /// Restarted with their new settings; their outbox carries over.
    pub changed: Vec<String>,
}

impl OutputsReload {
    /// Whether no output changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// The outputs of one catalog, delivering until [`Outputs::shutdown`]; [`Outputs::reload`]
/// applies a new catalog's outputs.
pub struct Outputs {
    inner: Arc<Inner>,
    /// Sent once, at shutdown: the writer stops retrying a failed write.
    stop: watch::Sender<bool>,
    writer: Mutex<Option<JoinHandle<()>>>,
    workers: Mutex<IndexMap<String, Worker>>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outputs")
            .field("outputs", &self.inner.plan().slots.len())
            .finish_non_exhaustive()
    }
}

fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// How long a reload waits for the worker of a removed or changed output to stop (it stops at
/// its next await; a publish in flight is abandoned, its entries stay in the outbox).
const STOP_WORKER: Duration = Duration::from_secs(5);

impl Outputs {
    /// Starts delivering the events of `bus` to the outputs of `catalog` (none: nothing runs
    /// until a reload adds one). Subscribes to the bus before it returns, so no event published
    /// after is missed (nor those before, while the bus still holds every one since its start).
    pub fn start(
        catalog: &Catalog,
        store: Arc<dyn Store>,
        bus: &Bus,
        options: OutputsOptions,
    ) -> Outputs {
        let inner = Arc::new(Inner {
            store,
            bus: bus.clone(),
            options,
            plan: RwLock::new(Arc::new(Plan {
                ecosystem: envelope::ecosystem_token(&catalog.ecosystem.name),
                slots: Vec::new(),
            })),
        });
        let (stop, _) = watch::channel(false);
        let outputs = Outputs {
            inner,
            stop,
            writer: Mutex::new(None),
            workers: Mutex::new(IndexMap::new()),
            reloading: tokio::sync::Mutex::new(()),
        };
        let (_, stopping, starting) = outputs.install(catalog);
        debug_assert!(stopping.is_empty());
        // From the bus's first event when it still holds them all (the monitor's start comes
        // before the outputs'), else from now.
        outputs.ensure_writer(0);
        outputs.spawn_workers(starting);
        outputs
    }

    /// Applies the outputs of a new catalog while running: added outputs start and receive
    /// the events that follow; removed ones stop, and the entries waiting in their outbox stay
    /// in the store, delivered if an output of the same id comes back (by a reload or the next
    /// start); changed ones (any setting: URL, filter, prefix, ...) stop and start again with
    /// the new settings, their outbox, counters and order carried over: the entries already
    /// written go out with the subject, topic or routing key they were written with. Unchanged
    /// outputs are not touched.
    pub async fn reload(&self, catalog: &Catalog) -> OutputsReload {
        let _one = self.reloading.lock().await;
        let (report, stopping, starting) = self.install(catalog);
        // The old worker of a changed output stops before its successor starts: the two never
        // publish the same entries at once, and order holds.
        for worker in stopping {
            let _ = worker.stop.send(true);
            let abort = worker.task.abort_handle();
            if tokio::time::timeout(STOP_WORKER, worker.task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if !report.removed.is_empty() {
            let depths = self.inner.store.outbox_depths().await.unwrap_or_default();
            for id in &report.removed {
                if let Some(depth) = depths.iter().find(|d| d.output == *id && d.depth > 0) {
                    tracing::info!(
                        "output `{id}` removed; the {} events waiting in its outbox stay in the store and go out if an output `{id}` comes back",
                        depth.depth
                    );
                }
            }
        }
        let latest = self.inner.bus.seq();
        self.ensure_writer(latest);
        self.spawn_workers(starting);
        report
    }

    /// Installs the plan of `catalog` for the writer and takes out the workers to stop;
    /// returns what changed, those workers, and the slots whose workers are to start.
    fn install(&self, catalog: &Catalog) -> (OutputsReload, Vec<Worker>, Vec<Arc<Slot>>) {
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        let mut report = OutputsReload::default();
        let mut stopping = Vec::new();
        let mut slots = Vec::with_capacity(catalog.outputs.len());
        let mut starting = Vec::new();
        for (id, output) in &catalog.outputs {
            match workers.get(id) {
                Some(worker) if worker.slot.output == *output => {
                    slots.push(worker.slot.clone());
                }
                Some(_) => {
                    let old = workers.shift_remove(id).expect("present above");
                    let slot = Arc::new(Slot {
                        output: output.clone(),
                        shared: old.slot.shared.clone(),
                    });
                    stopping.push(old);
                    report.changed.push(id.clone());
                    slots.push(slot.clone());
                    starting.push(slot);
                }
                None => {
                    let slot = Arc::new(Slot {
                        output: output.clone(),
                        shared: Shared::new(),
                    });
                    report.added.push(id.clone());
                    slots.push(slot.clone());
                    starting.push(slot);
                }
            }
        }
        let removed: Vec<String> = workers
            .keys()
            .filter(|id| !catalog.outputs.contains_key(*id))
            .cloned()
            .collect();
        for id in removed {
            stopping.extend(workers.shift_remove(&id));
            report.removed.push(id);
        }
        *self
            .inner
            .plan
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(Plan {
            ecosystem: envelope::ecosystem_token(&catalog.ecosystem.name),
            slots,
        });
        (report, stopping, starting)
    }

    /// Starts the workers of `slots`.
    fn spawn_workers(&self, slots: Vec<Arc<Slot>>) {
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        for slot in slots {
            let (stop, stopped) = watch::channel(*self.stop.borrow());
            let task = tokio::spawn(deliver(
                self.inner.store.clone(),
                slot.clone(),
                self.inner.options.clone(),
                stopped,
            ));
            workers.insert(slot.output.id.clone(), Worker { slot, stop, task });
        }
    }

    /// Starts the writer, following the bus after `seq`, when an output is configured and it
    /// does not run yet.
    fn ensure_writer(&self, seq: u64) {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if writer.is_some() || self.inner.plan().slots.is_empty() || *self.stop.borrow() {
            return;
        }
        let subscription = self.inner.bus.subscribe_after(seq);
        *writer = Some(tokio::spawn(write(
            self.inner.clone(),
            subscription,
            self.inner.bus.epoch(),
            self.stop.subscribe(),
        )));
    }

    /// Whether no output is configured.
    pub fn is_empty(&self) -> bool {
        self.inner.plan().slots.is_empty()
    }

    /// Every output's status, in catalog order, with its outbox depth and lag read from the store.
    pub async fn status(&self) -> Vec<OutputStatus> {
        let depths = self.inner.store.outbox_depths().await.unwrap_or_default();
        let now = now();
        self.inner
            .plan()
            .slots
            .iter()
            .map(|slot| {
                let depth = depths.iter().find(|d| d.output == slot.output.id);
                let counters = &slot.shared.counters;
                let last = counters.last_published_at.load(Ordering::Relaxed);
                OutputStatus {
                    id: slot.output.id.clone(),
                    kind: slot.output.kind,
                    url: iza_catalog::redact::redact_url(&slot.output.url).into_owned(),
                    depth: depth.map_or(0, |d| d.depth),
                    lag_ms: depth
                        .and_then(|d| d.oldest_at)
                        .map_or(0, |at| u64::try_from(now - at).unwrap_or(0)),
                    published: counters.published.load(Ordering::Relaxed),
                    dropped: counters.dropped.load(Ordering::Relaxed),
                    failures: counters.failures.load(Ordering::Relaxed),
                    healthy: counters.healthy.load(Ordering::Relaxed),
                    last_error: slot
                        .shared
                        .last_error
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone(),
                    last_published_at: (last > 0).then(|| i64::try_from(last).unwrap_or(0)),
                }
            })
            .collect()
    }

    /// Stops the writer and the workers; what is in the outbox stays there for the next start.
    /// Waits until the writer has written the events the bus already published (the bus should
    /// be closed first), at most `deadline`.
    pub async fn shutdown(&self, deadline: Duration) {
        let _ = self.stop.send(true);
        let mut tasks: Vec<JoinHandle<()>> = self
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .map(|(_, worker)| {
                let _ = worker.stop.send(true);
                worker.task
            })
            .collect();
        tasks.extend(
            self.writer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let all = futures_util::future::join_all(tasks);
        if tokio::time::timeout(deadline, all).await.is_err() {
            for abort in aborts {
                abort.abort();
            }
        }
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(writer) = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            writer.abort();
        }
        for (_, worker) in self
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            worker.task.abort();
        }
    }
}

/// The writer: bus → outbox.
async fn write(
    inner: Arc<Inner>,
    mut subscription: iza_runtime::Subscription,
    epoch: u64,
    stopped: watch::Receiver<bool>,
) {
    let mut events: Vec<Arc<Event>> = Vec::new();
    loop {
        // Ends when the bus closes (after the last event is written), not on `stop`: what the
        // bus published before it closed still reaches the outbox.
        let Some(first) = subscription.recv().await else {
            return;
        };
        // The outputs as of this batch: a reload applies from the next one.
        let plan = inner.plan();
        events.clear();
        let take = |update: Update, events: &mut Vec<Arc<Event>>| match update {
            Update::Event(event) => events.push(event),
            Update::Resynced { missed, .. } => {
                tracing::warn!(
                    "event outputs fell {missed} events behind the bus; those are not delivered"
                );
                for slot in &plan.slots {
                    slot.shared
                        .counters
                        .dropped
                        .fetch_add(missed, Ordering::Relaxed);
                }
            }
            Update::Snapshot(_) => {}
        };
        take(first, &mut events);
        while events.len() < 2_000 {
            match subscription.recv().now_or_never() {
                Some(Some(update)) => take(update, &mut events),
                _ => break,
            }
        }
        if events.is_empty() || plan.slots.is_empty() {
            continue;
        }
        // Each event's envelope is the same for every output: encoded once, when the first
        // output takes it.
        let mut payloads: Vec<Option<Arc<str>>> = vec![None; events.len()];
        for slot in &plan.slots {
            let output = &slot.output;
            let entries: Vec<OutboxEntry> = events
                .iter()
                .enumerate()
                // Another node's event (relayed to this bus) is delivered by that node.
                .filter(|(_, event)| !event.is_relayed())
                .filter(|(_, event)| {
                    output
                        .filter
                        .accepts(event.name(), event.service(), envelope::severity(event))
                })
                .map(|(index, event)| {
                    let payload = payloads[index].get_or_insert_with(|| {
                        envelope::cloudevent(event, &plan.ecosystem, epoch)
                            .to_string()
                            .into()
                    });
                    entry(output, &plan.ecosystem, epoch, event, payload)
                })
                .collect();
            if entries.is_empty() {
                continue;
            }
            let mut wait = Duration::from_millis(50);
            loop {
                match inner.store.outbox_push(&entries, output.max_pending).await {
                    Ok((written, dropped)) => {
                        // On a shared store other nodes write to this outbox too: there the
                        // worker always reads the store, and nothing is handed over.
                        if inner.options.shared.is_none() {
                            let mut live = slot.shared.live();
                            if dropped > 0 || live.entries.len() + written.len() > LIVE_CAPACITY {
                                live.entries.clear();
                                live.generation += 1;
                            } else {
                                live.entries.extend(written);
                            }
                        }
                        if dropped > 0 {
                            slot.shared
                                .counters
                                .dropped
                                .fetch_add(dropped, Ordering::Relaxed);
                            tracing::warn!(
                                "the outbox of output `{}` is full ({}): dropped its {dropped} oldest events",
                                output.id,
                                output.max_pending
                            );
                        }
                        break;
                    }
                    Err(error) => {
                        tracing::warn!("cannot write to the outbox of `{}`: {error}", output.id);
                        if *stopped.borrow() {
                            return;
                        }
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(5));
                    }
                }
            }
            slot.shared.wake.notify_one();
        }
    }
}

fn entry(
    output: &Output,
    ecosystem: &str,
    epoch: u64,
    event: &Event,
    payload: &str,
) -> OutboxEntry {
    OutboxEntry {
        id: 0,
        output: output.id.clone(),
        event_id: envelope::event_id(epoch, event.seq),
        key: envelope::key(&output.prefix, ecosystem, event),
        service: event.service().map(str::to_owned),
        at: event.at,
        payload: payload.to_owned(),
        retain: envelope::is_status(event.name()),
    }
}

/// One output's worker: outbox → broker. It takes the entries after the last one sent from the
/// writer's hand-off when that is known to hold them all, else reads them from the store;
/// sends them while earlier batches' acknowledgements are awaited, and passes the acknowledged
/// ids to its remover, which deletes them from the store while the next batches go out. After
/// a failure it reads again from the first entry not acknowledged. When it stops, it waits for
/// its remover, so that a successor (a reload) does not publish again what was acknowledged.
async fn deliver(
    store: Arc<dyn Store>,
    slot: Arc<Slot>,
    options: OutputsOptions,
    mut stopped: watch::Receiver<bool>,
) {
    let (acks, pending) = tokio::sync::mpsc::unbounded_channel::<Vec<i64>>();
    let remover = tokio::spawn(remove(store.clone(), slot.output.id.clone(), pending));
    publish_loop(&store, &slot, &options, &mut stopped, &acks).await;
    drop(acks);
    let _ = remover.await;
}

/// Deletes acknowledged entries off the publishing path: what is acknowledged within
/// [`REMOVE_WINDOW`] of the first (at most [`REMOVE_BATCH`]) in one transaction, so that deletions
/// take the store's one writer a few times a second instead of once per published batch, and
/// the writer's inserts seldom wait behind them. Everything gathered is deleted before it ends
/// (when the worker stops). An entry acknowledged but not yet deleted when `iza` is killed goes
/// out again at the next start: at least once, as documented.
async fn remove(
    store: Arc<dyn Store>,
    output: String,
    mut pending: tokio::sync::mpsc::UnboundedReceiver<Vec<i64>>,
) {
    while let Some(mut ids) = pending.recv().await {
        let until = tokio::time::Instant::now() + REMOVE_WINDOW;
        while ids.len() < REMOVE_BATCH {
            match tokio::time::timeout_at(until, pending.recv()).await {
                Ok(Some(more)) => ids.extend(more),
                Ok(None) | Err(_) => break,
            }
        }
        if let Err(e) = store.outbox_ack(&output, &ids).await {
            // They stay and go out again after a restart: at least once.
            tracing::warn!("cannot remove delivered events of `{output}`: {e}");
        }
    }
}

/// A batch sent and not yet acknowledged.
struct InFlight {
    /// Its entries' ids, in order.
    ids: Vec<i64>,
    /// Its acknowledgement.
    acks: publish::Acks,
    /// When it was sent: its acknowledgement is due within the output's `timeout`.
    sent: tokio::time::Instant,
}

async fn publish_loop(
    store: &Arc<dyn Store>,
    slot: &Slot,
    options: &OutputsOptions,
    stopped: &mut watch::Receiver<bool>,
    acks: &tokio::sync::mpsc::UnboundedSender<Vec<i64>>,
) {
    let output = &slot.output;
    let shared = &slot.shared;
    let mut publisher: Box<dyn Publisher> =
        publish::publisher(output, crate::resolve_env(&output.url));
    let mut failures: u32 = 0;
    // The id of the last entry the broker acknowledged (with every entry sent before it).
    let mut acked: i64 = 0;
    // The id of the last entry sent: acknowledged, or in flight.
    let mut sent: i64 = 0;
    // The batches sent and not yet acknowledged, oldest first, and how many entries they hold.
    let mut in_flight: std::collections::VecDeque<InFlight> = std::collections::VecDeque::new();
    let mut in_flight_entries: usize = 0;
    // A send failed: nothing more is sent until that failure reaches the front and resets the
    // connection (a batch sent after it, on a new connection, would overtake it).
    let mut broken = false;
    // While the writer's hand-off is known to hold every entry after `sent`: its generation
    // then. Not on a shared store (other nodes write to the outbox), nor after a failure (the
    // entries not acknowledged are read again from the store).
    let mut live: Option<u64> = None;
    let mut lease = options
        .shared
        .as_ref()
        .map(|shared| DeliveryLease::new(shared, &output.id));
    // On a shared store other nodes write to this outbox, and an entry can commit after one
    // with a higher id (its transaction took the id first and committed later): reading after
    // the last entry sent would skip it. There every read starts at the oldest entry, and what
    // the broker acknowledged is deleted before the next read, so whatever is left was not
    // delivered; for that, one batch at a time is in flight.
    let shared_store = options.shared.is_some();
    let window = options.window.max(1);
    loop {
        if *stopped.borrow() {
            return;
        }
        if let Some(lease) = &mut lease
            && !lease.hold(store.as_ref()).await
        {
            // Another node delivers this output now; what was in flight here stays in the
            // outbox (at least once).
            if !in_flight.is_empty() {
                in_flight.clear();
                in_flight_entries = 0;
                broken = false;
                publisher.reset().await;
            }
            tokio::select! {
                () = tokio::time::sleep(lease.wait()) => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            continue;
        }
        // Send what waits, as far as the window has room: the next batch goes out while the
        // acknowledgements of those before it are awaited.
        let room = if broken {
            0
        } else if shared_store {
            if in_flight.is_empty() {
                options.batch
            } else {
                0
            }
        } else if in_flight.is_empty() || in_flight_entries + options.batch <= window {
            // A whole batch's room (not the window's remainder: a worker that is behind would
            // then read and send many small batches).
            options.batch
        } else {
            0
        };
        let mut idle = true;
        if room > 0 {
            let mut batch = Vec::new();
            let mut from_store = true;
            if let Some(generation) = live {
                let mut handed = shared.live();
                if handed.generation == generation {
                    // The writer's hand-off holds every entry after `sent`: take them from
                    // there (after entries already read from the store before it was trusted).
                    from_store = false;
                    while handed.entries.front().is_some_and(|e| e.id <= sent) {
                        handed.entries.pop_front();
                    }
                    let take = handed.entries.len().min(room);
                    batch = handed.entries.drain(..take).collect();
                } else {
                    // Entries were committed and not handed over: back to the store.
                    live = None;
                }
            }
            if from_store {
                // The hand-off's count before the read: when the read reaches the end of the
                // outbox and the count has not changed by then, every entry committed after
                // the read's snapshot is in the hand-off.
                let generation = shared.live().generation;
                let after = if shared_store { 0 } else { sent };
                match store.outbox_peek(&output.id, after, room).await {
                    Ok(read) => {
                        if read.len() < room && !shared_store {
                            live = Some(generation);
                        }
                        batch = read;
                    }
                    Err(error) => {
                        tracing::warn!("cannot read the outbox of `{}`: {error}", output.id);
                    }
                }
            }
            if let Some(last) = batch.last() {
                idle = false;
                let last = last.id;
                let outcome = tokio::select! {
                    outcome = publisher.send(&batch) => outcome,
                    _ = stopped.wait_for(|s| *s) => return,
                };
                match outcome {
                    Ok(acks) => {
                        sent = last;
                        in_flight_entries += batch.len();
                        in_flight.push_back(InFlight {
                            ids: batch.iter().map(|e| e.id).collect(),
                            acks,
                            sent: tokio::time::Instant::now(),
                        });
                    }
                    Err(error) => {
                        // Nothing of it counts as sent: its failure comes after the
                        // acknowledgements of the batches before it.
                        broken = true;
                        in_flight.push_back(InFlight {
                            ids: batch.iter().map(|e| e.id).collect(),
                            acks: publish::acked(Err(publish::Failed { acked: 0, error })),
                            sent: tokio::time::Instant::now(),
                        });
                        in_flight_entries += batch.len();
                    }
                }
            }
        }
        // The oldest batch's acknowledgement: taken if it is in after a send (then more may
        // wait to be sent), else awaited with new entries, its deadline and the stop.
        let Some(front) = in_flight.front_mut() else {
            // (A hand-off that went stale meanwhile: read the store at once.)
            if idle && live.is_none_or(|generation| shared.live().generation == generation) {
                tokio::select! {
                    () = shared.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
            }
            continue;
        };
        let outcome = if idle {
            let due = front.sent + output.timeout;
            tokio::select! {
                outcome = &mut front.acks => outcome,
                () = shared.wake.notified(), if room > 0 => continue,
                () = tokio::time::sleep_until(due) => {
                    Err(publish::Failed { acked: 0, error: publish::PublishError::Timeout(output.timeout) })
                }
                _ = stopped.wait_for(|s| *s) => return,
            }
        } else {
            match (&mut front.acks).now_or_never() {
                Some(outcome) => outcome,
                None => continue,
            }
        };
        let front = in_flight.pop_front().expect("the front batch");
        in_flight_entries -= front.ids.len();
        let (count, error) = match outcome {
            Ok(()) => (front.ids.len(), None),
            Err(failed) => (failed.acked.min(front.ids.len()), Some(failed.error)),
        };
        if count > 0 {
            let mut ids = front.ids;
            ids.truncate(count);
            acked = ids[count - 1];
            let counters = &shared.counters;
            counters
                .published
                .fetch_add(count as u64, Ordering::Relaxed);
            counters
                .last_published_at
                .store(u64::try_from(now()).unwrap_or(0), Ordering::Relaxed);
            if !shared_store {
                let _ = acks.send(ids);
            } else if let Err(error) = store.outbox_ack(&output.id, &ids).await {
                // They would be read and published again at once: wait as after a failure.
                tracing::warn!("cannot remove delivered events of `{}`: {error}", output.id);
                tokio::select! {
                    () = tokio::time::sleep(options.backoff_max.min(Duration::from_secs(1))) => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
            }
        }
        match error {
            None => {
                failures = 0;
                if !shared.counters.healthy.swap(true, Ordering::Relaxed) {
                    *shared
                        .last_error
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = None;
                }
            }
            Some(error) => {
                // The connection and what is in flight on it are dropped: everything after the
                // last acknowledged entry goes out again, read from the store, in order.
                publisher.reset().await;
                in_flight.clear();
                in_flight_entries = 0;
                broken = false;
                sent = acked;
                live = None;
                failures = failures.saturating_add(1);
                shared.counters.failures.fetch_add(1, Ordering::Relaxed);
                shared.counters.healthy.store(false, Ordering::Relaxed);
                let message = iza_catalog::redact::redact_text(&error.to_string()).into_owned();
                if failures == 1 {
                    tracing::warn!("output `{}` failed: {message}; retrying", output.id);
                }
                *shared
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(message);
                let wait = options
                    .backoff_min
                    .saturating_mul(1 << failures.saturating_sub(1).min(16))
                    .min(options.backoff_max);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
            }
        }
    }
}
