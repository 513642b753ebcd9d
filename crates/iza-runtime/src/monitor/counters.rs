//! Defines the monitor's counters: how many probes were due, started, completed, skipped
//! (the previous probe of the service was still running, or the scheduler itself fell a whole
//! interval behind), late (waited for a concurrency slot), cut by the hard deadline, and what
//! the recorder wrote or could not write. They only grow (except `in_flight`), so `/metrics`
//! can expose them as Prometheus counters; [`Counters::snapshot`] reads them all.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Live counters, shared by the monitor's tasks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) due: AtomicU64,
    pub(crate) started: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) late: AtomicU64,
    pub(crate) deadline_exceeded: AtomicU64,
    pub(crate) discarded: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) lag_total_micros: AtomicU64,
    pub(crate) lag_max_micros: AtomicU64,
    pub(crate) results_recorded: AtomicU64,
    pub(crate) events_recorded: AtomicU64,
    pub(crate) store_errors: AtomicU64,
    pub(crate) records_dropped: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn record_lag(&self, micros: u64) {
        self.lag_total_micros.fetch_add(micros, Ordering::Relaxed);
        self.lag_max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    /// Reads every counter.
    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterSnapshot {
            due: read(&self.due),
            started: read(&self.started),
            completed: read(&self.completed),
            skipped: read(&self.skipped),
            late: read(&self.late),
            deadline_exceeded: read(&self.deadline_exceeded),
            discarded: read(&self.discarded),
            in_flight: read(&self.in_flight),
            lag_total_seconds: read(&self.lag_total_micros) as f64 / 1e6,
            lag_max_seconds: read(&self.lag_max_micros) as f64 / 1e6,
            results_recorded: read(&self.results_recorded),
            events_recorded: read(&self.events_recorded),
            store_errors: read(&self.store_errors),
            records_dropped: read(&self.records_dropped),
        }
    }
}

/// The monitor's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CounterSnapshot {
    /// Probes that came due (including those skipped).
    pub due: u64,
    /// Probes started.
    pub started: u64,
    /// Probes finished (passed, failed or cut by the hard deadline).
    pub completed: u64,
    /// Probes not started because the previous probe of the service was still running when
    /// the next was due, or because the scheduler woke up more than an interval late.
    pub skipped: u64,
    /// Probes that started late: they waited for a concurrency slot longer than the
    /// lateness threshold (`late_after`, or half the interval when shorter).
    pub late: u64,
    /// Probes cut by the hard deadline (the check's timeout plus the grace).
    pub deadline_exceeded: u64,
    /// Results dropped because the service was removed or its check replaced meanwhile.
    pub discarded: u64,
    /// Probes running or waiting for a slot now.
    pub in_flight: u64,
    /// Sum of the delays between a probe's due time and its start, in seconds.
    pub lag_total_seconds: f64,
    /// The longest such delay, in seconds.
    pub lag_max_seconds: f64,
    /// Results the store acknowledged.
    pub results_recorded: u64,
    /// Events the store acknowledged.
    pub events_recorded: u64,
    /// Failed writes to the store (each retried).
    pub store_errors: u64,
    /// Results dropped because too many were waiting for a failing store.
    pub records_dropped: u64,
}
