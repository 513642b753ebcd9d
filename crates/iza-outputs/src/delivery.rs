//! Defines [`Outputs`]: the delivery of events to every output of a catalog. One writer task
//! follows the bus: each event an output's filter accepts is written to that output's outbox
//! (batched, one transaction per output and batch) before anything is published. One worker per
//! output reads its outbox oldest first, publishes a batch, removes what the broker
//! acknowledged, and on failure keeps the rest and retries with exponential backoff (from
//! `backoff_min` to `backoff_max`): head-of-line, so an output's events go out in the order they
//! were written, per service and overall. Events that were in the outbox when `iza` stopped (or
//! was killed) are delivered when it starts again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt as _;
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
    /// The first wait after a failure.
    pub backoff_min: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
}

impl Default for OutputsOptions {
    fn default() -> Self {
        OutputsOptions {
            batch: 500,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
        }
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

struct Slot {
    output: Output,
    counters: Counters,
    last_error: Mutex<Option<String>>,
    wake: Notify,
}

struct Inner {
    store: Arc<dyn Store>,
    slots: Vec<Arc<Slot>>,
}

/// The outputs of one catalog, delivering until [`Outputs::shutdown`].
pub struct Outputs {
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outputs")
            .field("outputs", &self.inner.slots.len())
            .finish_non_exhaustive()
    }
}

fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Outputs {
    /// Starts delivering the events of `bus` to the outputs of `catalog` (none: nothing runs).
    /// Subscribes to the bus before it returns, so no event published after is missed (nor
    /// those before, while the bus still holds every one since its start).
    pub fn start(
        catalog: &Catalog,
        store: Arc<dyn Store>,
        bus: &Bus,
        options: OutputsOptions,
    ) -> Outputs {
        let slots: Vec<Arc<Slot>> = catalog
            .outputs
            .values()
            .map(|output| {
                Arc::new(Slot {
                    output: output.clone(),
                    counters: Counters {
                        healthy: AtomicBool::new(true),
                        ..Counters::default()
                    },
                    last_error: Mutex::new(None),
                    wake: Notify::new(),
                })
            })
            .collect();
        let inner = Arc::new(Inner { store, slots });
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        if !inner.slots.is_empty() {
            let ecosystem = envelope::ecosystem_token(&catalog.ecosystem.name);
            // From the bus's first event when it still holds them all (the monitor's start
            // comes before the outputs'), else from now.
            let subscription = bus.subscribe_after(0);
            tasks.push(tokio::spawn(write(
                inner.clone(),
                subscription,
                ecosystem,
                bus.epoch(),
                stopped.clone(),
            )));
            for slot in &inner.slots {
                tasks.push(tokio::spawn(deliver(
                    inner.store.clone(),
                    slot.clone(),
                    options.clone(),
                    stopped.clone(),
                )));
            }
        }
        Outputs {
            inner,
            stop,
            tasks: Mutex::new(tasks),
        }
    }

    /// Whether any output is configured.
    pub fn is_empty(&self) -> bool {
        self.inner.slots.is_empty()
    }

    /// Every output's status, in catalog order, with its outbox depth and lag read from the store.
    pub async fn status(&self) -> Vec<OutputStatus> {
        let depths = self.inner.store.outbox_depths().await.unwrap_or_default();
        let now = now();
        self.inner
            .slots
            .iter()
            .map(|slot| {
                let depth = depths.iter().find(|d| d.output == slot.output.id);
                let counters = &slot.counters;
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
        let tasks: Vec<_> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        let _ = self.stop.send(true);
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
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            task.abort();
        }
    }
}

/// The writer: bus → outbox.
async fn write(
    inner: Arc<Inner>,
    mut subscription: iza_runtime::Subscription,
    ecosystem: String,
    epoch: u64,
    stopped: watch::Receiver<bool>,
) {
    loop {
        // Ends when the bus closes (after the last event is written), not on `stop`: what the
        // bus published before it closed still reaches the outbox.
        let Some(first) = subscription.recv().await else {
            return;
        };
        let mut events: Vec<Arc<Event>> = Vec::new();
        let take = |update: Update, events: &mut Vec<Arc<Event>>| match update {
            Update::Event(event) => events.push(event),
            Update::Resynced { missed, .. } => {
                tracing::warn!(
                    "event outputs fell {missed} events behind the bus; those are not delivered"
                );
                for slot in &inner.slots {
                    slot.counters.dropped.fetch_add(missed, Ordering::Relaxed);
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
        if events.is_empty() {
            continue;
        }
        for slot in &inner.slots {
            let output = &slot.output;
            let entries: Vec<OutboxEntry> = events
                .iter()
                // Another node's event (relayed to this bus) is delivered by that node.
                .filter(|event| !event.is_relayed())
                .filter(|event| {
                    output
                        .filter
                        .accepts(event.name(), event.service(), envelope::severity(event))
                })
                .map(|event| entry(output, &ecosystem, epoch, event))
                .collect();
            if entries.is_empty() {
                continue;
            }
            let mut wait = Duration::from_millis(50);
            loop {
                match inner.store.outbox_push(&entries, output.max_pending).await {
                    Ok((_, dropped)) => {
                        if dropped > 0 {
                            slot.counters.dropped.fetch_add(dropped, Ordering::Relaxed);
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
            slot.wake.notify_one();
        }
    }
}

fn entry(output: &Output, ecosystem: &str, epoch: u64, event: &Event) -> OutboxEntry {
    let payload = envelope::cloudevent(event, ecosystem, epoch);
    OutboxEntry {
        id: 0,
        output: output.id.clone(),
        event_id: envelope::event_id(epoch, event.seq),
        key: envelope::key(&output.prefix, ecosystem, event),
        service: event.service().map(str::to_owned),
        at: event.at,
        payload: payload.to_string(),
        retain: envelope::is_status(event.name()),
    }
}

/// One output's worker: outbox → broker.
async fn deliver(
    store: Arc<dyn Store>,
    slot: Arc<Slot>,
    options: OutputsOptions,
    mut stopped: watch::Receiver<bool>,
) {
    let output = &slot.output;
    let mut publisher: Box<dyn Publisher> =
        publish::publisher(output, crate::resolve_env(&output.url));
    let mut failures: u32 = 0;
    loop {
        if *stopped.borrow() {
            return;
        }
        let batch = match store.outbox_peek(&output.id, 0, options.batch).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!("cannot read the outbox of `{}`: {error}", output.id);
                Vec::new()
            }
        };
        if batch.is_empty() {
            tokio::select! {
                () = slot.wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            continue;
        }
        let outcome = tokio::select! {
            outcome = publisher.publish(&batch) => outcome,
            _ = stopped.wait_for(|s| *s) => return,
        };
        let (acked, error) = match outcome {
            Ok(()) => (batch.len(), None),
            Err(failed) => (failed.acked, Some(failed.error)),
        };
        if acked > 0 {
            let ids: Vec<i64> = batch[..acked].iter().map(|e| e.id).collect();
            if let Err(e) = store.outbox_ack(&output.id, &ids).await {
                // They stay and go out again: at least once.
                tracing::warn!("cannot remove delivered events of `{}`: {e}", output.id);
            }
            let counters = &slot.counters;
            counters
                .published
                .fetch_add(acked as u64, Ordering::Relaxed);
            counters
                .last_published_at
                .store(u64::try_from(now()).unwrap_or(0), Ordering::Relaxed);
        }
        match error {
            None => {
                failures = 0;
                slot.counters.healthy.store(true, Ordering::Relaxed);
                *slot
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
            }
            Some(error) => {
                failures = failures.saturating_add(1);
                slot.counters.failures.fetch_add(1, Ordering::Relaxed);
                slot.counters.healthy.store(false, Ordering::Relaxed);
                let message = iza_catalog::redact::redact_text(&error.to_string()).into_owned();
                if failures == 1 {
                    tracing::warn!("output `{}` failed: {message}; retrying", output.id);
                }
                *slot
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
