//! Defines the recorder: the task that hands results and events to the [`Store`] in batches,
//! so that a thousand probes a second cost a few transactions a second, not a thousand.
//!
//! A batch is written when it holds `batch_size` records or when its oldest record has
//! waited `flush_every`, whichever comes first; results first, then events, each batch in one
//! call. A failed write keeps the batch and retries it at the next flush (announcing
//! [`EventKind::StoreFailed`] on the bus); if the store stays down, results beyond
//! `max_pending` are dropped oldest first and counted, events never. When its input closes
//! (shutdown), the recorder writes everything it holds, retrying a few times, and reports what
//! it could not write. On a shared store each event recorded names this node (`node`), so
//! that the other nodes' relays know it is not theirs (`cluster::relay`). A shutdown bounds the
//! writing: past the time it sets ([`StopBy`]), the recorder writes nothing more and counts
//! what is left (held or still queued to it) as unwritten, so a backlog (an overloaded store)
//! cannot hold the shutdown for minutes.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use iza_store::{EventRecord, ResultRecord, Store};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::bus::{Bus, Change};
use crate::event::{Event, EventKind};
use crate::monitor::counters::Counters;

/// How the recorder batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecorderOptions {
    /// Longest a record waits before it is written (250 ms).
    pub flush_every: Duration,
    /// Records that trigger a write at once (500).
    pub batch_size: usize,
    /// Results kept for a failing store before the oldest are dropped (100,000).
    pub max_pending: usize,
}

impl Default for RecorderOptions {
    fn default() -> RecorderOptions {
        RecorderOptions {
            flush_every: Duration::from_millis(250),
            batch_size: 500,
            max_pending: 100_000,
        }
    }
}

/// When a shutdown wants the recorder done: set once, by the shutdown.
pub(crate) type StopBy = Arc<OnceLock<Instant>>;

/// What the recorder is given.
#[derive(Debug, Clone)]
pub(crate) enum Record {
    Result(ResultRecord),
    Event(Arc<Event>),
}

/// What the recorder wrote and could not write, when it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RecorderReport {
    pub(crate) unwritten_results: usize,
    pub(crate) unwritten_events: usize,
}

pub(crate) struct Recorder {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) options: RecorderOptions,
    pub(crate) counters: Arc<Counters>,
    pub(crate) bus: Bus,
    /// This node's id on a shared store, written into every event recorded (`node`).
    node: Option<String>,
    stop_by: StopBy,
    results: VecDeque<ResultRecord>,
    events: Vec<EventRecord>,
    oldest: Option<Instant>,
}

impl Recorder {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        options: RecorderOptions,
        counters: Arc<Counters>,
        bus: Bus,
        node: Option<String>,
        stop_by: StopBy,
    ) -> Recorder {
        Recorder {
            store,
            options,
            counters,
            bus,
            node,
            stop_by,
            results: VecDeque::new(),
            events: Vec::new(),
            oldest: None,
        }
    }

    fn pending(&self) -> usize {
        self.results.len() + self.events.len()
    }

    /// The shutdown's time is up.
    fn overdue(&self) -> bool {
        self.stop_by.get().is_some_and(|at| Instant::now() >= *at)
    }

    /// Past the shutdown's time: counts what is held and what is still queued, unwritten.
    async fn abandon(self, mut input: mpsc::UnboundedReceiver<Record>) -> RecorderReport {
        let mut report = RecorderReport {
            unwritten_results: self.results.len(),
            unwritten_events: self.events.len(),
        };
        while let Some(record) = input.recv().await {
            match record {
                Record::Result(_) => report.unwritten_results += 1,
                Record::Event(_) => report.unwritten_events += 1,
            }
        }
        tracing::warn!(
            "the recorder ran out of time at the shutdown: {} results and {} events not written",
            report.unwritten_results,
            report.unwritten_events
        );
        report
    }

    /// Runs until its input closes, then writes what is left.
    pub(crate) async fn run(
        mut self,
        mut input: mpsc::UnboundedReceiver<Record>,
    ) -> RecorderReport {
        loop {
            let deadline = self.oldest.map(|t| t + self.options.flush_every);
            tokio::select! {
                record = input.recv() => match record {
                    Some(record) => {
                        self.push(record);
                        // Take whatever else is already queued before deciding to write.
                        while self.pending() < self.options.batch_size {
                            match input.try_recv() {
                                Ok(record) => self.push(record),
                                Err(_) => break,
                            }
                        }
                        if self.pending() >= self.options.batch_size {
                            self.flush().await;
                        }
                    }
                    None => break,
                },
                () = sleep_until(deadline) => {
                    self.flush().await;
                }
            }
            if self.overdue() {
                return self.abandon(input).await;
            }
        }
        for attempt in 0..3 {
            if self.pending() == 0 || (attempt > 0 && self.overdue()) || self.flush().await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
        RecorderReport {
            unwritten_results: self.results.len(),
            unwritten_events: self.events.len(),
        }
    }

    fn push(&mut self, record: Record) {
        if self.oldest.is_none() {
            self.oldest = Some(Instant::now());
        }
        match record {
            Record::Result(result) => {
                self.results.push_back(result);
                if self.results.len() > self.options.max_pending {
                    self.results.pop_front();
                    Counters::add(&self.counters.records_dropped, 1);
                }
            }
            Record::Event(event) => {
                let mut record = event.to_record();
                if let (Some(node), serde_json::Value::Object(payload)) =
                    (&self.node, &mut record.payload)
                {
                    payload
                        .entry("node")
                        .or_insert_with(|| serde_json::Value::String(node.clone()));
                }
                self.events.push(record);
            }
        }
    }

    /// Writes everything held; `true` when the store took it all.
    async fn flush(&mut self) -> bool {
        if !self.results.is_empty() {
            let batch: &[ResultRecord] = self.results.make_contiguous();
            match self.store.append_results(batch).await {
                Ok(()) => {
                    Counters::add(&self.counters.results_recorded, batch.len() as u64);
                    self.results.clear();
                }
                Err(error) => return self.failed(&error),
            }
        }
        if !self.events.is_empty() {
            let batch = std::mem::take(&mut self.events);
            let count = batch.len() as u64;
            match self.store.append_events(batch.clone()).await {
                Ok(_) => Counters::add(&self.counters.events_recorded, count),
                Err(error) => {
                    self.events = batch;
                    return self.failed(&error);
                }
            }
        }
        self.oldest = None;
        true
    }

    fn failed(&mut self, error: &iza_store::StoreError) -> bool {
        Counters::add(&self.counters.store_errors, 1);
        // Retry after another `flush_every`.
        self.oldest = Some(Instant::now());
        self.bus.publish(Change {
            events: vec![Event::new(
                crate::now_millis(),
                EventKind::StoreFailed {
                    message: error.to_string(),
                    pending: self.pending(),
                },
            )],
            ..Change::default()
        });
        false
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
