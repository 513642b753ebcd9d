//! Defines the table: the state of every supervised service, shared by its runner, the health
//! task and the [`Supervisor`](super::Supervisor) handle, with one door for changes
//! ([`Shared::update`]): it wakes every waiter and announces `process-ready` when a change made
//! a service ready. The health task ([`watch_health`]) feeds it the monitor's verdicts.
//!
//! It holds state only; the runner decides what happens to a process.

use std::sync::{Arc, Mutex, PoisonError};

use indexmap::IndexMap;
use iza_store::Millis;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::logs::LogBook;
use super::runner::{Control, RunSpec};
use super::{ExitInfo, ProcessInfo, ProcessState, SupervisorOptions};
use crate::bus::Update;
use crate::event::{Event, EventKind};
use crate::monitor::Monitor;
use crate::monitor::status::Health;

/// The phase a runner is in; [`ProcessState`] adds `ready` on top of `running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Pending,
    Starting,
    Running,
    Exited,
    Backoff,
    Failed,
    Stopped,
}

/// The state of one supervised service, shared by its runner, the health task and the handle.
pub(crate) struct Entry {
    pub(crate) phase: Phase,
    pub(crate) checked: bool,
    pub(crate) healthy: bool,
    pub(crate) pid: Option<u32>,
    pub(crate) restarts: u32,
    pub(crate) started_at: Option<Millis>,
    pub(crate) spawned: Option<Instant>,
    pub(crate) last_exit: Option<ExitInfo>,
    pub(crate) reason: Option<String>,
    pub(crate) logs: Arc<LogBook>,
    pub(super) control: mpsc::UnboundedSender<Control>,
    pub(super) spec: RunSpec,
    pub(super) runner: Option<JoinHandle<()>>,
}

impl Entry {
    pub(crate) fn is_ready(&self) -> bool {
        self.phase == Phase::Running && (!self.checked || self.healthy)
    }

    pub(super) fn state(&self) -> ProcessState {
        match self.phase {
            Phase::Running if self.is_ready() => ProcessState::Ready,
            Phase::Running => ProcessState::Running,
            Phase::Pending => ProcessState::Pending,
            Phase::Starting => ProcessState::Starting,
            Phase::Exited => ProcessState::Exited,
            Phase::Backoff => ProcessState::Backoff,
            Phase::Failed => ProcessState::Failed,
            Phase::Stopped => ProcessState::Stopped,
        }
    }

    pub(super) fn info(&self, id: &str) -> ProcessInfo {
        ProcessInfo {
            id: id.to_owned(),
            state: self.state(),
            pid: self.pid,
            restarts: self.restarts,
            started_at: self.started_at,
            last_exit: self.last_exit.clone(),
            reason: self.reason.clone(),
        }
    }

    #[cfg(test)]
    pub(crate) fn for_test(checked: bool) -> Entry {
        let (control, _) = mpsc::unbounded_channel();
        Entry {
            phase: Phase::Pending,
            checked,
            healthy: false,
            pid: None,
            restarts: 0,
            started_at: None,
            spawned: None,
            last_exit: None,
            reason: None,
            logs: Arc::new(LogBook::new("t", &super::LogOptions::default()).0),
            control,
            spec: RunSpec::for_test(),
            runner: None,
        }
    }
}

/// What the runners, the health task and the handle share.
pub(crate) struct Shared {
    pub(super) table: Mutex<IndexMap<String, Entry>>,
    pub(super) changed: watch::Sender<u64>,
    pub(super) monitor: Arc<Monitor>,
    pub(super) options: SupervisorOptions,
}

impl Shared {
    /// Changes one entry; announces `process-ready` when it became ready, then `events`, and
    /// wakes every waiter. Returns `None` when the entry is gone (removed by a reload).
    pub(crate) fn update<T>(
        &self,
        id: &str,
        events: Vec<EventKind>,
        change: impl FnOnce(&mut Entry) -> T,
    ) -> Option<T> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = table.get_mut(id)?;
        let was_ready = entry.is_ready();
        let result = change(entry);
        let mut events = events;
        if !was_ready && entry.is_ready() {
            let after_ms = entry.spawned.map_or(0, |t| {
                u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
            });
            events.push(EventKind::ProcessReady {
                service: id.to_owned(),
                after_ms,
            });
        }
        // Announced under the lock, so events of one service keep their order.
        self.announce(events);
        drop(table);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        Some(result)
    }

    pub(crate) fn announce(&self, events: Vec<EventKind>) {
        if events.is_empty() {
            return;
        }
        let now = crate::now_millis();
        self.monitor
            .announce(events.into_iter().map(|k| Event::new(now, k)).collect());
    }

    /// Reads the table.
    pub(crate) fn with_table<T>(&self, read: impl FnOnce(&IndexMap<String, Entry>) -> T) -> T {
        read(&self.table.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub(crate) fn options(&self) -> &SupervisorOptions {
        &self.options
    }

    pub(crate) fn monitor(&self) -> &Monitor {
        &self.monitor
    }
}

/// Keeps `healthy` of every entry in step with the monitor's verdicts.
pub(super) async fn watch_health(shared: Arc<Shared>, monitor: Arc<Monitor>) {
    let mut subscription = monitor.subscribe();
    while let Some(update) = subscription.recv().await {
        let verdicts: Vec<(String, bool)> = match update {
            Update::Snapshot(snapshot) | Update::Resynced { snapshot, .. } => snapshot
                .services
                .iter()
                .map(|s| (s.service.clone(), s.own == Health::Up))
                .collect(),
            Update::Event(event) => match &event.kind {
                EventKind::ProbeCompleted { service, own, .. } => {
                    vec![(service.clone(), *own == Health::Up)]
                }
                _ => continue,
            },
        };
        for (id, healthy) in verdicts {
            let differs = shared.with_table(|t| t.get(&id).is_some_and(|e| e.healthy != healthy));
            if differs {
                shared.update(&id, Vec::new(), |e| e.healthy = healthy);
            }
        }
    }
}
