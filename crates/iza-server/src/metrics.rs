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
struct ServiceStatusLabels {
    service: String,
    group: String,
    /// `unknown`, `up`, `degraded`, `down` or `impacted`.
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EngineLabels {
    service: String,
    engine: String,
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TaskLabels {
    task: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TaskOutcomeLabels {
    task: String,
    /// `succeeded`, `retried` (failed, runs again) or `failed` (for good).
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabels {
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotifierOutcomeLabels {
    notifier: String,
    /// `sent`, `retried` (failed, sent again later) or `failed` (for good).
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PriorityLabels {
    priority: String,
}

type TaskHistogramFamily = Family<TaskLabels, Histogram, fn() -> Histogram>;

fn run_histogram() -> Histogram {
    // 1 ms to about 9 hours... in powers of 4: 1 ms, 4 ms, ..., 4^14 ms.
    Histogram::new(exponential_buckets(0.001, 4.0, 15))
}

/// Probe latencies and result counts, and task run outcomes and durations, since the server
/// started (the name is historical: everything counted from the bus).
#[derive(Debug)]
pub(crate) struct ProbeMetrics {
    duration: HistogramFamily,
    results: Family<OutcomeLabels, Counter>,
    run_duration: TaskHistogramFamily,
    runs: Family<TaskOutcomeLabels, Counter>,
}

impl Default for ProbeMetrics {
    fn default() -> Self {
        ProbeMetrics {
            duration: Family::new_with_constructor(latency_histogram),
            results: Family::default(),
            run_duration: Family::new_with_constructor(run_histogram),
            runs: Family::default(),
        }
    }
}

/// Figures of the run queue read from the store at scrape time.
#[derive(Debug, Default)]
pub(crate) struct QueueFigures {
    /// Queued runs due now, by priority rank (high, medium, low).
    pub(crate) ready: [u64; 3],
    /// Queued runs due later (retries waiting out their backoff).
    pub(crate) scheduled: u64,
    /// Runs in flight.
    pub(crate) running: u64,
    /// Open incidents.
    pub(crate) open_incidents: u64,
}

/// Follows the bus until it closes, counting every completed probe.
pub(crate) fn follow(mut subscription: Subscription, metrics: Arc<ProbeMetrics>) {
    tokio::spawn(async move {
        while let Some(update) = subscription.recv().await {
            let Update::Event(event) = update else {
                continue;
            };
            let run = match &event.kind {
                EventKind::RunSucceeded {
                    task, duration_ms, ..
                } => Some((task, "succeeded", duration_ms)),
                EventKind::RunFailed {
                    task,
                    duration_ms,
                    retry_at,
                    ..
                } => Some((
                    task,
                    if retry_at.is_some() {
                        "retried"
                    } else {
                        "failed"
                    },
                    duration_ms,
                )),
                _ => None,
            };
            if let Some((task, outcome, duration_ms)) = run {
                metrics
                    .run_duration
                    .get_or_create(&TaskLabels { task: task.clone() })
                    .observe(*duration_ms as f64 / 1000.0);
                metrics
                    .runs
                    .get_or_create(&TaskOutcomeLabels {
                        task: task.clone(),
                        outcome: outcome.to_owned(),
                    })
                    .inc();
            }
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

/// The Prometheus text exposition of everything above; `queue` is `None` when the store
/// could not be read (its gauges are then left out rather than shown as zero).
pub(crate) fn render(
    state: &AppState,
    queue: Option<&QueueFigures>,
    figures: Option<&iza_runtime::figures::Summary>,
    outputs: &[iza_outputs::OutputStatus],
) -> String {
    let mut registry = Registry::default();
    let view = state.view();
    let snapshot = state.monitor.snapshot();

    let up = Family::<ServiceGroupLabels, Gauge>::default();
    let shown = Family::<ServiceStatusLabels, Gauge>::default();
    for service in &snapshot.services {
        let group = view
            .catalog
            .services
            .get(&service.service)
            .and_then(|s| s.group.clone())
            .unwrap_or_default();
        let value = i64::from(matches!(service.status, iza_runtime::Status::Up));
        shown
            .get_or_create(&ServiceStatusLabels {
                service: service.service.clone(),
                group: group.clone(),
                status: service.status.as_str().to_owned(),
            })
            .set(1);
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
        "iza_service_status",
        "1 for the service's shown status (unknown, up, degraded, down, impacted)",
        shown,
    );
    register_workflows(&mut registry, state);
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

    registry.register(
        "iza_task_runs",
        "Finished run attempts by task and outcome (succeeded, retried, failed for good)",
        state.probes.runs.clone(),
    );
    registry.register(
        "iza_task_run_duration_seconds",
        "How long run attempts took",
        state.probes.run_duration.clone(),
    );
    if let Some(queue) = queue {
        let ready = Family::<PriorityLabels, Gauge>::default();
        for (word, count) in ["high", "medium", "low"].iter().zip(queue.ready) {
            ready
                .get_or_create(&PriorityLabels {
                    priority: (*word).to_owned(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        registry.register("iza_queue_ready", "Queued runs due now, by priority", ready);
        for (name, help, value) in [
            (
                "iza_queue_scheduled",
                "Queued runs due later (retries in backoff)",
                queue.scheduled,
            ),
            ("iza_queue_running", "Runs in flight", queue.running),
            (
                "iza_incidents_open",
                "Open incidents (at most 1,000 are counted)",
                queue.open_incidents,
            ),
        ] {
            let gauge = Gauge::<i64>::default();
            gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
            registry.register(name, help, gauge);
        }
    }

    if let Some(alerts) = state.alerts() {
        let figures = alerts.metrics();
        let firing = Family::<SeverityLabels, Gauge>::default();
        for severity in ["critical", "warning", "info"] {
            let count = figures.firing.get(severity).copied().unwrap_or(0);
            firing
                .get_or_create(&SeverityLabels {
                    severity: severity.to_owned(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        registry.register("iza_alerts_firing", "Firing alerts, by severity", firing);
        let deliveries = Family::<NotifierOutcomeLabels, Counter>::default();
        for ((notifier, outcome), count) in &figures.deliveries {
            deliveries
                .get_or_create(&NotifierOutcomeLabels {
                    notifier: notifier.clone(),
                    outcome: outcome.clone(),
                })
                .inc_by(*count);
        }
        registry.register(
            "iza_notification_deliveries",
            "Notification delivery attempts, by notifier and outcome (sent, retried, failed)",
            deliveries,
        );
    }

    if let Some(summary) = figures {
        register_figures(&mut registry, summary, state);
    }
    crate::outputs::register(&mut registry, outputs);

    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}

/// The workflow engines' latest verdicts (`docs/workflows.md`), from the followers' memory.
fn register_workflows(registry: &mut Registry, state: &AppState) {
    let Some(workflows) = state.workflows() else {
        return;
    };
    let verdicts = workflows.verdicts();
    if verdicts.is_empty() {
        return;
    }
    let failing = Family::<EngineLabels, Gauge>::default();
    let known = Family::<EngineLabels, Gauge>::default();
    let sync_ok = Family::<EngineLabels, Gauge>::default();
    for verdict in &verdicts {
        let labels = EngineLabels {
            service: verdict.service.clone(),
            engine: verdict.engine.to_owned(),
        };
        if let Some(health) = &verdict.health {
            failing
                .get_or_create(&labels)
                .set(i64::try_from(health.failing).unwrap_or(i64::MAX));
            known
                .get_or_create(&labels)
                .set(i64::try_from(health.workflows).unwrap_or(i64::MAX));
        }
        sync_ok
            .get_or_create(&labels)
            .set(i64::from(verdict.error.is_none()));
    }
    registry.register(
        "iza_workflows_failing",
        "Workflows of an engine failing by the manifest's rules (its last judged round)",
        failing,
    );
    registry.register(
        "iza_workflows_known",
        "Workflows of an engine IZA knows",
        known,
    );
    registry.register(
        "iza_workflows_sync_ok",
        "1 when the last sync round of an engine succeeded",
        sync_ok,
    );
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FigureLabels {
    figure: String,
    service: String,
    group: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FigureAggregateLabels {
    figure: String,
    /// `ecosystem`, or the group's id.
    scope: String,
}

/// Business figures (`docs/metrics.md`): each service's newest value, and the aggregates.
fn register_figures(
    registry: &mut Registry,
    summary: &iza_runtime::figures::Summary,
    state: &AppState,
) {
    let view = state.view();
    let values = Family::<FigureLabels, Gauge<f64, AtomicU64>>::default();
    let aggregates = Family::<FigureAggregateLabels, Gauge<f64, AtomicU64>>::default();
    for figure in &summary.figures {
        for service in &figure.services {
            let Some(value) = service.value else { continue };
            let group = view
                .catalog
                .services
                .get(&service.id)
                .and_then(|s| s.group.clone())
                .unwrap_or_default();
            values
                .get_or_create(&FigureLabels {
                    figure: figure.name.clone(),
                    service: service.id.clone(),
                    group,
                })
                .set(value);
        }
        let scopes = figure
            .groups
            .iter()
            .filter_map(|g| Some((g.id.clone(), g.value?)))
            .chain(figure.value.map(|v| ("ecosystem".to_owned(), v)));
        for (scope, value) in scopes {
            aggregates
                .get_or_create(&FigureAggregateLabels {
                    figure: figure.name.clone(),
                    scope,
                })
                .set(value);
        }
    }
    registry.register(
        "iza_figure",
        "Business figures: each service's newest value",
        values,
    );
    registry.register(
        "iza_figure_aggregate",
        "Business figures aggregated per group and over the ecosystem (scope), as the manifest's aggregate says",
        aggregates,
    );
    if let Some(scraper) = state.figures() {
        let c = scraper.counters();
        for (name, help, value) in [
            (
                "iza_figure_scrapes",
                "Endpoint fetches of business figures",
                c.scrapes,
            ),
            (
                "iza_figure_failures",
                "Business-figure reads that failed",
                c.failures,
            ),
        ] {
            let counter = Counter::<u64>::default();
            counter.inc_by(value);
            registry.register(name, help, counter);
        }
    }
}
