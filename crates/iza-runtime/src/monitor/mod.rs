//! Defines the [`Monitor`]: every checked service of a catalog probed at its interval, each
//! result through the status board's one door, every fact on the [`Bus`], results and events
//! in the [`Store`].
//!
//! Three tasks, each owning its state, connected by channels:
//!
//! ```text
//! scheduler ──spawns──▶ probe tasks ──finished probes──▶ processor ──records──▶ recorder ──▶ Store
//! (schedule.rs:          (semaphore,                      (board.rs:     │        (recorder.rs:
//!  due times, jitter,     timeout +                        status, impact) │         batches)
//!  skip if running)       hard deadline)                                  └──▶ Bus (snapshot + events)
//! ```
//!
//! [`Monitor::start`] resumes statuses from the store's latest results, schedules every check
//! and starts the tasks; [`Monitor::reload`] (in `reload.rs`) reconciles a new catalog;
//! [`Monitor::shutdown`] stops scheduling, waits for running probes up to a deadline and flushes
//! the recorder. Dropping the monitor without a shutdown stops it too (running probes are
//! abandoned, the recorder still writes what it holds).

pub mod board;
mod counters;
mod processor;
pub mod push;
pub mod recorder;
mod schedule;
pub mod status;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use iza_catalog::Catalog;
use iza_probe::Prober;
use iza_store::{Store, StoreError};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use crate::bus::{Bus, Change, Snapshot, Subscription};
use crate::event::{Event, EventKind};
pub use counters::CounterSnapshot;
use counters::Counters;
use processor::{Processor, ProcessorCommand};
use recorder::{Recorder, RecorderOptions, RecorderReport};
use schedule::{Jitter, Schedule, Scheduler, SchedulerCommand, SchedulerSettings};

/// How a [`Monitor`] behaves; [`Default`] suits `iza serve`.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
    /// Probes running at once, at most (256).
    pub concurrency: usize,
    /// The start window: every service's first probe comes within this (2 s) after the start
    /// or the reload that scheduled it, widened for a large batch so that first probes start at
    /// no more than `first_probe_rate` a second; later probes follow the spread schedule.
    /// `None`: the first probe comes at a random moment of the first interval.
    pub first_probe_within: Option<Duration>,
    /// The most first probes started a second in the start window (500).
    pub first_probe_rate: u32,
    /// Intervals shorter than this are probed at this interval (100 ms).
    pub min_interval: Duration,
    /// The hard deadline of a probe is its check's timeout plus this (2 s); past it the probe
    /// is abandoned and reported down with reason `timeout`.
    pub deadline_grace: Duration,
    /// A probe that waited longer than this (or than half its interval, when shorter) for a
    /// concurrency slot counts as late (1 s).
    pub late_after: Duration,
    /// How results and events are batched to the store.
    pub recorder: RecorderOptions,
    /// Events a subscriber may fall behind before it is resynced (4,096).
    pub bus_capacity: usize,
    /// Stored results older than this are not resumed on start (1 h): the service starts
    /// `unknown` instead.
    pub resume_max_age: Duration,
    /// Longest a failing service waits for the services it depends on to be probed again
    /// before it is announced as a root cause anyway (60 s); see `docs/monitor.md`.
    pub confirm_within: Duration,
    /// Seed of the start jitter (random when `None`); for reproducible tests.
    pub seed: Option<u64>,
    /// Where the screenshots and console lines of failed browser checks are kept (none: not
    /// kept; `iza serve` keeps them in `.iza/artifacts/`).
    pub artifacts: Option<Arc<crate::artifacts::Artifacts>>,
    /// On a shared store, the checks this node probes (kept by the cluster's lease keeper); the
    /// others are scheduled but not probed. `None` (the embedded store): every check. With it,
    /// checks with `regions` are judged region by region with their quorum.
    pub owned: Option<Arc<crate::cluster::leases::Owned>>,
    /// This node's id: recorded with every result it probes ("probed by") and with every
    /// event it records (`node`), so that on a shared store the other nodes relay those events
    /// to their buses and it does not (`cluster::relay`).
    pub node: Option<String>,
    /// This node's region (`--region`), recorded with its results.
    pub region: Option<String>,
}

impl Default for MonitorOptions {
    fn default() -> MonitorOptions {
        MonitorOptions {
            concurrency: 256,
            first_probe_within: Some(Duration::from_secs(2)),
            first_probe_rate: 500,
            min_interval: Duration::from_millis(100),
            deadline_grace: Duration::from_secs(2),
            late_after: Duration::from_secs(1),
            recorder: RecorderOptions::default(),
            bus_capacity: 4096,
            resume_max_age: Duration::from_secs(3600),
            confirm_within: Duration::from_secs(60),
            seed: None,
            artifacts: None,
            owned: None,
            node: None,
            region: None,
        }
    }
}

/// Why the monitor could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The latest results could not be read to resume statuses.
    #[error("cannot resume statuses from the store: {0}")]
    Resume(#[source] StoreError),
    /// The monitor has been shut down.
    #[error("the monitor has stopped")]
    Stopped,
}

/// Every (service, region) pair of the checks probed from several regions, sorted.
pub fn regional_keys(catalog: &Catalog) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = catalog
        .services
        .values()
        .filter_map(|service| Some((service, service.check.as_ref()?)))
        .flat_map(|(service, check)| {
            check
                .regions
                .iter()
                .map(|region| (service.id.clone(), region.clone()))
        })
        .collect();
    keys.sort();
    keys
}

/// What a shutdown did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Probes still running at the deadline, abandoned (their results are not recorded).
    pub abandoned: usize,
    /// Results the store did not take, even after retries.
    pub unwritten_results: usize,
    /// Events the store did not take.
    pub unwritten_events: usize,
}

struct Tasks {
    scheduler: JoinHandle<()>,
    processor: JoinHandle<()>,
    recorder: JoinHandle<RecorderReport>,
}

/// The current catalog and the generation of its checks.
pub(crate) struct Current {
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) generation: u64,
}

/// A running monitor; see the module documentation. Share it behind an `Arc`.
pub struct Monitor {
    bus: Bus,
    counters: Arc<Counters>,
    scheduler: mpsc::UnboundedSender<SchedulerCommand>,
    processor: mpsc::UnboundedSender<ProcessorCommand>,
    pub(crate) current: tokio::sync::Mutex<Current>,
    tasks: Mutex<Option<Tasks>>,
    /// When the shutdown wants the recorder done.
    recorder_stop_by: recorder::StopBy,
    artifacts: Option<Arc<crate::artifacts::Artifacts>>,
    prober: Arc<Prober>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("bus", &self.bus)
            .field("counters", &self.counters.snapshot())
            .finish_non_exhaustive()
    }
}

impl Monitor {
    /// Starts watching a catalog: resumes each service's status from the store's latest
    /// result (see [`MonitorOptions::resume_max_age`]), announces `monitor-started`, and
    /// schedules every check. Must be called within a Tokio runtime, the one the prober
    /// belongs to.
    pub async fn start(
        catalog: Arc<Catalog>,
        prober: Arc<Prober>,
        store: Arc<dyn Store>,
        options: MonitorOptions,
    ) -> Result<Monitor, MonitorError> {
        let now = crate::now_millis();
        let generation = 1;
        let mut board = board::StatusBoard::new(&catalog, generation);
        board.set_confirm_within(
            i64::try_from(options.confirm_within.as_millis()).unwrap_or(i64::MAX),
        );
        let mut latest = store.latest_results().await.map_err(MonitorError::Resume)?;
        if options.owned.is_some() {
            board.set_regional(&catalog);
            let keys = regional_keys(&catalog);
            if !keys.is_empty() {
                latest.extend(
                    store
                        .latest_region_results(&keys)
                        .await
                        .map_err(MonitorError::Resume)?,
                );
            }
        }
        let max_age = i64::try_from(options.resume_max_age.as_millis()).unwrap_or(i64::MAX);
        let resumed = board.resume(&latest, now, max_age);

        let bus = Bus::new(options.bus_capacity);
        let counters = Arc::new(Counters::default());
        let (record_tx, record_rx) = mpsc::unbounded_channel();
        let (result_tx, result_rx) = mpsc::unbounded_channel();
        let (scheduler_tx, scheduler_rx) = mpsc::unbounded_channel();
        let (processor_tx, processor_rx) = mpsc::unbounded_channel();

        let checks = catalog
            .services
            .values()
            .filter(|s| s.check.is_some())
            .count();
        let processor = Processor {
            board,
            bus: bus.clone(),
            recorder: record_tx,
            counters: counters.clone(),
            artifacts: options.artifacts.clone(),
            watch: push::Watch::new(&catalog, tokio::time::Instant::now()),
            node: options.node.clone(),
            region: options.region.clone(),
        };
        let states = processor.board.states();
        processor.publish(Change {
            events: vec![Event::new(
                now,
                EventKind::MonitorStarted {
                    services: catalog.services.len(),
                    checks,
                    resumed,
                },
            )],
            replace_all: Some(states),
            ..Change::default()
        });

        let recorder_stop_by = recorder::StopBy::default();
        let recorder = Recorder::new(
            store,
            options.recorder,
            counters.clone(),
            bus.clone(),
            options.node.clone(),
            recorder_stop_by.clone(),
        );
        let mut scheduler = Scheduler {
            schedule: Schedule::default(),
            jitter: Jitter::new(options.seed),
            prober: prober.clone(),
            semaphore: Arc::new(Semaphore::new(options.concurrency.max(1))),
            results: result_tx,
            counters: counters.clone(),
            settings: SchedulerSettings {
                first_probe_within: options.first_probe_within,
                first_probe_rate: options.first_probe_rate,
                min_interval: options.min_interval,
                deadline_grace: options.deadline_grace,
                late_after: options.late_after,
            },
            probes: JoinSet::new(),
            owned: options.owned.clone(),
        };
        scheduler.schedule_all(&catalog, generation);
        let tasks = Tasks {
            recorder: tokio::spawn(recorder.run(record_rx)),
            processor: tokio::spawn(processor.run(result_rx, processor_rx)),
            scheduler: tokio::spawn(scheduler.run(scheduler_rx)),
        };
        Ok(Monitor {
            bus,
            counters,
            scheduler: scheduler_tx,
            processor: processor_tx,
            current: tokio::sync::Mutex::new(Current {
                catalog,
                generation,
            }),
            tasks: Mutex::new(Some(tasks)),
            recorder_stop_by,
            artifacts: options.artifacts,
            prober,
        })
    }

    /// Probes a check that belongs to no service (a task's `compare` action) once, with the
    /// monitor's prober and so its shared Chromium; the result is returned, not recorded.
    pub async fn probe_adhoc(&self, check: &iza_catalog::model::Check) -> iza_probe::ProbeResult {
        self.prober.probe(check).await
    }

    /// Where failed browser checks' screenshots and console lines are kept, if anywhere.
    pub fn artifacts(&self) -> Option<&Arc<crate::artifacts::Artifacts>> {
        self.artifacts.as_ref()
    }

    /// The event bus.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Subscribes to the bus: a snapshot first, then every change.
    pub fn subscribe(&self) -> Subscription {
        self.bus.subscribe()
    }

    /// Every service's current state.
    pub fn snapshot(&self) -> Snapshot {
        self.bus.snapshot()
    }

    /// The scheduling and recording counters.
    pub fn counters(&self) -> CounterSnapshot {
        self.counters.snapshot()
    }

    /// The catalog being watched.
    pub async fn catalog(&self) -> Arc<Catalog> {
        self.current.lock().await.catalog.clone()
    }

    pub(crate) async fn send_reload(
        &self,
        catalog: &Arc<Catalog>,
        diff: &Arc<crate::reload::CatalogDiff>,
        generation: u64,
    ) -> Result<(), MonitorError> {
        let (ack, done) = oneshot::channel();
        self.processor
            .send(ProcessorCommand::Reload {
                catalog: catalog.clone(),
                diff: diff.clone(),
                generation,
                ack,
            })
            .map_err(|_| MonitorError::Stopped)?;
        done.await.map_err(|_| MonitorError::Stopped)?;
        let (ack, done) = oneshot::channel();
        self.scheduler
            .send(SchedulerCommand::Reload {
                catalog: catalog.clone(),
                diff: diff.clone(),
                generation,
                ack,
            })
            .map_err(|_| MonitorError::Stopped)?;
        done.await.map_err(|_| MonitorError::Stopped)
    }

    /// Publishes events stated by another part of the runtime (the supervisor's process
    /// lifecycle) on the bus, in order with the monitor's own, and records them in the store.
    /// After the shutdown they are dropped; returns whether they were taken.
    pub fn announce(&self, events: Vec<Event>) -> bool {
        self.processor
            .send(ProcessorCommand::Announce(events))
            .is_ok()
    }

    /// Shows results another node sharing the store probed (the lease keeper reads them):
    /// statuses and rows on this node's bus, not recorded again. Returns whether taken.
    pub fn follow(&self, records: Vec<iza_store::ResultRecord>) -> bool {
        self.processor
            .send(ProcessorCommand::Follow(records))
            .is_ok()
    }

    /// Marks the listed regions that have no live node (the lease keeper sees them): the
    /// checks probed from them show it. Returns whether taken.
    pub fn unprobed(&self, regions: std::collections::HashSet<String>) -> bool {
        self.processor
            .send(ProcessorCommand::Unprobed(regions))
            .is_ok()
    }

    /// Sets or lifts an advisory on a service: `Some(reason)` lowers it from `up` to
    /// `degraded` while its own check passes (a workflow engine's failing workflows,
    /// `docs/workflows.md`); `None` lifts it. Through the processor, so it is one more input of
    /// the status board's door: transitions are events on the bus and in the store. Returns
    /// whether it was taken.
    pub fn advise(&self, service: &str, advisory: Option<String>) -> bool {
        self.processor
            .send(ProcessorCommand::Advise {
                service: service.to_owned(),
                advisory,
            })
            .is_ok()
    }

    /// Applies a result pushed in for a service (HTTP or a broker input) like a finished
    /// probe: the status board, the store, the bus; for a `push` check it also moves the
    /// deadline of the next push. See `push.rs`.
    pub async fn push(
        &self,
        service: &str,
        pushed: push::Pushed,
    ) -> Result<push::PushOutcome, MonitorError> {
        let (ack, done) = oneshot::channel();
        self.processor
            .send(ProcessorCommand::Push {
                service: service.to_owned(),
                pushed,
                ack,
            })
            .map_err(|_| MonitorError::Stopped)?;
        done.await.map_err(|_| MonitorError::Stopped)
    }

    /// Brings the next probe of a service's check forward to now, unless one is running or due
    /// already; its interval continues from there. Does nothing for a service without a
    /// check. The supervisor uses it to see a freshly started service become healthy without
    /// waiting a whole interval.
    pub fn probe_soon(&self, service: &str) {
        let _ = self.scheduler.send(SchedulerCommand::ProbeSoon {
            service: service.to_owned(),
        });
    }

    /// Probes a service's check now, outside its schedule (even when a scheduled probe of it
    /// is running), and returns what it found; the result goes through the status board and
    /// is recorded like any probe's. `Ok(None)`: the service has no check. The agents'
    /// `check` action uses it.
    pub async fn check_now(
        &self,
        service: &str,
    ) -> Result<Option<crate::event::ProbeSummary>, MonitorError> {
        let (ack, done) = oneshot::channel();
        self.scheduler
            .send(SchedulerCommand::CheckNow {
                service: service.to_owned(),
                ack,
            })
            .map_err(|_| MonitorError::Stopped)?;
        done.await.map_err(|_| MonitorError::Stopped)
    }

    /// Stops gracefully: no new probe starts; running probes get until `deadline` to finish
    /// (their results are processed and recorded), the rest are abandoned; `monitor-stopped`
    /// is announced; the recorder writes everything it holds, for up to `deadline` more (what
    /// is left then, a backlog an overloaded store could not take, is counted in the report,
    /// not written); the bus closes. A second call returns at once with an empty report.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let Some(tasks) = self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return ShutdownReport::default();
        };
        let (ack, done) = oneshot::channel();
        let abandoned = match self
            .scheduler
            .send(SchedulerCommand::Stop { deadline, ack })
        {
            Ok(()) => done.await.unwrap_or(0),
            Err(_) => 0,
        };
        let _ = tasks.scheduler.await;
        // The recorder gets `deadline` more to write what it holds; the rest is reported.
        let _ = self
            .recorder_stop_by
            .set(tokio::time::Instant::now() + deadline);
        let (ack, done) = oneshot::channel();
        if self
            .processor
            .send(ProcessorCommand::Stop { abandoned, ack })
            .is_ok()
        {
            let _ = done.await;
        }
        let _ = tasks.processor.await;
        let recorded = tasks.recorder.await.unwrap_or_default();
        self.bus.close();
        ShutdownReport {
            abandoned,
            unwritten_results: recorded.unwritten_results,
            unwritten_events: recorded.unwritten_events,
        }
    }
}
