//! The IZA OS runtime: it turns a catalog into live work and states everything it learns as
//! typed events.
//!
//! - [`Monitor`] (`monitor/`): probes every checked service at its interval (jitter, bounded
//!   concurrency, hard deadlines, skipped-not-queued late probes), passes each result through
//!   the status board's one door (`monitor/status.rs` for a service's own verdict,
//!   `monitor/board.rs` for dependency awareness: one root cause, its dependents *impacted*),
//!   and records results and events in the store in batches (`monitor/recorder.rs`);
//! - [`Bus`] (`bus.rs`): the live stream; a subscriber gets a snapshot of every service first,
//!   then the changes, and is resynced rather than allowed to block when it falls behind;
//! - [`Event`] (`event.rs`): every fact, typed and serializable;
//! - reload (`reload.rs`): a new catalog reconciled into the running monitor;
//! - [`DockerWatch`] (`docker.rs`): the state of the manifest's containers, read from a Docker
//!   engine when one is reachable;
//! - [`Supervisor`] (`supervisor/`): the services with a `command` run as child processes, in
//!   dependency order, restarted by policy, their output kept, stopped in reverse order
//!   (`docs/supervisor.md`).
//!
//! - figures (`figures/`): business figures scraped from the services (Prometheus text or a
//!   JSON path), stored as time series, aggregated per group and ecosystem (`docs/metrics.md`).
//! - alerts (`alerts/`): rules, grouping by root cause, silences, maintenance, durable
//!   delivery of notifications through the run queue (`docs/alerts.md`).
//!
//! The runtime never renders and never reads the manifest itself; interfaces (the HTTP server,
//! the CLI) read the bus, the snapshot and the store. See `docs/monitor.md`.

pub mod agents;
pub mod alerts;
pub mod artifacts;
pub mod bus;
pub mod cluster;
pub mod docker;
pub mod event;
pub mod figures;
pub mod inputs;
pub mod monitor;
pub mod reload;
pub mod supervisor;
pub mod workflows;

pub use artifacts::{ArtifactRun, Artifacts};
pub use bus::{Bus, Change, Snapshot, Subscription, Update};
pub use docker::{ContainerState, DockerOptions, DockerView, DockerWatch, Engine};
pub use event::{Event, EventKind, ProbeSummary};
pub use iza_launch::Launcher;
pub use iza_store::Millis;
pub use monitor::board::{StatusBoard, Transition};
pub use monitor::push::{PushOutcome, Pushed};
pub use monitor::recorder::RecorderOptions;
pub use monitor::status::{
    Health, RegionState, RegionalState, ServiceHealth, ServiceState, Status, Thresholds,
};
pub use monitor::{CounterSnapshot, Monitor, MonitorError, MonitorOptions, ShutdownReport};
pub use reload::{CatalogDiff, diff};
pub use supervisor::{
    ExitInfo, Launch, LogLine, LogOptions, ProcessInfo, ProcessState, Stream, Supervisor,
    SupervisorError, SupervisorOptions, SupervisorReload, SupervisorShutdown,
};

/// The time now, in Unix milliseconds (0 if the clock is before 1970).
pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
