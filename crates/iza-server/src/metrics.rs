//! Defines `GET /metrics`: Prometheus text gathered at scrape time from the monitor's snapshot
//! and counters, plus the probe latency histogram and result counts, which a task following
//! the bus keeps (the runtime itself is not instrumented).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use iza_runtime::{EventKind, Subscription, Update};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceGroupLabels {
    service: String,
    group: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ServiceLabels {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabels {
    service: String,
    outcome: String,
}

type HistogramFamily = Family<ServiceLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Probe latencies and result counts since the server started.
#[derive(Debug)]
pub(crate) struct ProbeMetrics {
    duration: HistogramFamily,
    results: Family<OutcomeLabels, Counter>,
}

impl Default for ProbeMetrics {
    fn default() -> Self {
        ProbeMetrics {
            duration: Family::new_with_constructor(latency_histogram),
            results: Family::default(),
        }
    }
}

/// Follows the bus until it closes, counting every completed probe.
pub(crate) fn follow(mut subscription: Subscription, metrics: Arc<ProbeMetrics>) {
    tokio::spawn(async move {
        while let Some(update) = subscription.recv().await {
            let Update::Event(event) = update else {
                continue;
            };
            if let EventKind::ProbeCompleted {
                service, result, ..
            } = &event.kind
            {
                metrics
                    .duration
                    .get_or_create(&ServiceLabels {
                        service: service.clone(),
                    })
                    .observe(result.duration_ms / 1000.0);
                metrics
                    .results
                    .get_or_create(&OutcomeLabels {
                        service: service.clone(),
                        outcome: result.outcome.as_str().to_owned(),
                    })
                    .inc();
            }
        }
    });
}

fn counter(value: u64) -> Counter {
    let counter = Counter::default();
    counter.inc_by(value);
    counter
}

fn float_gauge(value: f64) -> Gauge<f64, AtomicU64> {
    let gauge = Gauge::<f64, AtomicU64>::default();
    gauge.set(value);
    gauge
}

/// The Prometheus text exposition of everything above.
pub(crate) fn render(state: &AppState) -> String {
    let mut registry = Registry::default();
    let view = state.view();
    let snapshot = state.monitor.snapshot();

    let up = Family::<ServiceGroupLabels, Gauge>::default();
    for service in &snapshot.services {
        let group = view
            .catalog
            .services
            .get(&service.service)
            .and_then(|s| s.group.clone())
            .unwrap_or_default();
        let value = i64::from(matches!(service.status, iza_runtime::Status::Up));
        up.get_or_create(&ServiceGroupLabels {
            service: service.service.clone(),
            group,
        })
        .set(value);
    }
    registry.register(
        "iza_service_up",
        "1 when the service's status is up, 0 otherwise",
        up,
    );
    registry.register(
        "iza_probe_duration_seconds",
        "How long probes took",
        state.probes.duration.clone(),
    );
    registry.register(
        "iza_probe_results",
        "Probe results by outcome",
        state.probes.results.clone(),
    );

    let c = state.monitor.counters();
    let counters: [(&str, &str, u64); 12] = [
        ("iza_monitor_probes_due", "Probes that came due", c.due),
        ("iza_monitor_probes_started", "Probes started", c.started),
        (
            "iza_monitor_probes_completed",
            "Probes completed",
            c.completed,
        ),
        (
            "iza_monitor_probes_skipped",
            "Probes skipped (previous still running, or the monitor woke late)",
            c.skipped,
        ),
        (
            "iza_monitor_probes_late",
            "Probes that waited too long for a slot",
            c.late,
        ),
        (
            "iza_monitor_probes_deadline_exceeded",
            "Probes cut at the hard deadline",
            c.deadline_exceeded,
        ),
        (
            "iza_monitor_results_discarded",
            "Results of a check replaced or removed meanwhile",
            c.discarded,
        ),
        (
            "iza_monitor_results_recorded",
            "Results written to the store",
            c.results_recorded,
        ),
        (
            "iza_monitor_events_recorded",
            "Events written to the store",
            c.events_recorded,
        ),
        (
            "iza_monitor_store_errors",
            "Failed store writes",
            c.store_errors,
        ),
        (
            "iza_monitor_records_dropped",
            "Results dropped while the store was failing",
            c.records_dropped,
        ),
        (
            "iza_monitor_bus_seq",
            "Events published on the bus",
            snapshot.seq,
        ),
    ];
    for (name, help, value) in counters {
        registry.register(name, help, counter(value));
    }
    let in_flight = Gauge::<i64>::default();
    in_flight.set(i64::try_from(c.in_flight).unwrap_or(i64::MAX));
    registry.register(
        "iza_monitor_probes_in_flight",
        "Probes running now",
        in_flight,
    );
    registry.register(
        "iza_monitor_lag_seconds",
        "Total scheduling lag",
        float_gauge(c.lag_total_seconds),
    );
    registry.register(
        "iza_monitor_lag_max_seconds",
        "Largest scheduling lag",
        float_gauge(c.lag_max_seconds),
    );

    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}
