//! Defines the processor: the one task that owns the [`StatusBoard`]. It takes finished
//! probes in the order they finish, passes each through the board's one door, turns every
//! transition into one event, publishes the events with the changed service rows on the
//! [`Bus`], and hands the result and the events to the recorder. Reloads go through it too,
//! so a status is never changed from two places.

use std::sync::Arc;

use iza_catalog::Catalog;
use iza_probe::ProbeResult;
use iza_store::Millis;
use tokio::sync::{mpsc, oneshot};

use crate::bus::{Bus, Change};
use crate::event::{Event, EventKind, ProbeSummary};
use crate::monitor::board::StatusBoard;
use crate::monitor::counters::Counters;
use crate::monitor::recorder::Record;
use crate::reload::CatalogDiff;

/// A finished probe, from a probe task.
#[derive(Debug)]
pub(crate) struct Completed {
    pub(crate) service: Arc<str>,
    pub(crate) generation: u64,
    pub(crate) result: ProbeResult,
    pub(crate) started_at: Millis,
    pub(crate) finished_at: Millis,
}

/// What the processor is told.
#[derive(Debug)]
pub(crate) enum ProcessorCommand {
    Reload {
        catalog: Arc<Catalog>,
        diff: Arc<CatalogDiff>,
        generation: u64,
        ack: oneshot::Sender<()>,
    },
    /// Publish events stated elsewhere in the runtime (the supervisor) and record them.
    Announce(Vec<Event>),
    /// Results another node probed and recorded: shown here, not recorded again.
    Follow(Vec<iza_store::ResultRecord>),
    /// The listed regions with no live node (nobody probes from there).
    Unprobed(std::collections::HashSet<String>),
    /// Apply a result pushed in (see `push.rs`).
    Push {
        service: String,
        pushed: crate::monitor::push::Pushed,
        ack: oneshot::Sender<crate::monitor::push::PushOutcome>,
    },
    /// An advisory on a service (a workflow engine's verdict; `board.rs`).
    Advise {
        service: String,
        advisory: Option<String>,
    },
    /// Process every finished probe already queued, announce the stop, and end.
    Stop {
        abandoned: usize,
        ack: oneshot::Sender<()>,
    },
}

pub(crate) struct Processor {
    pub(crate) board: StatusBoard,
    pub(crate) bus: Bus,
    pub(crate) recorder: mpsc::UnboundedSender<Record>,
    pub(crate) counters: Arc<Counters>,
    /// Where failed browser checks' screenshots and console lines are kept, if anywhere.
    pub(crate) artifacts: Option<Arc<crate::artifacts::Artifacts>>,
    /// The deadlines of the push checks.
    pub(crate) watch: crate::monitor::push::Watch,
    /// Who probes here ("probed by"): this node's id and region, stamped on every result.
    pub(crate) node: Option<String>,
    pub(crate) region: Option<String>,
}

impl Processor {
    pub(crate) async fn run(
        mut self,
        mut results: mpsc::UnboundedReceiver<Completed>,
        mut commands: mpsc::UnboundedReceiver<ProcessorCommand>,
    ) {
        loop {
            tokio::select! {
                biased;
                Some(command) = commands.recv() => match command {
                    ProcessorCommand::Reload { catalog, diff, generation, ack } => {
                        self.reload(&catalog, &diff, generation);
                        let _ = ack.send(());
                    }
                    ProcessorCommand::Announce(events) => self.publish(Change {
                        events,
                        ..Change::default()
                    }),
                    ProcessorCommand::Follow(records) => self.follow(&records),
                    ProcessorCommand::Unprobed(regions) => self.unprobed(&regions),
                    ProcessorCommand::Advise { service, advisory } => {
                        self.advise(&service, advisory);
                    }
                    ProcessorCommand::Push { service, pushed, ack } => {
                        let _ = ack.send(self.pushed(&service, &pushed));
                    }
                    ProcessorCommand::Stop { abandoned, ack } => {
                        while let Ok(done) = results.try_recv() {
                            self.completed(done);
                        }
                        self.publish(Change {
                            events: vec![Event::new(
                                crate::now_millis(),
                                EventKind::MonitorStopped { abandoned },
                            )],
                            ..Change::default()
                        });
                        let _ = ack.send(());
                        return;
                    }
                },
                Some(done) = results.recv() => self.completed(done),
                () = sleep_until(self.watch.next()) => self.missed_pushes(),
                else => return,
            }
        }
    }

    /// Publishes a change and records its events (probe results are recorded as results).
    pub(crate) fn publish(&self, change: Change) {
        for event in self.bus.publish(change) {
            if !matches!(event.kind, EventKind::ProbeCompleted { .. }) {
                let _ = self.recorder.send(Record::Event(event));
            }
        }
    }

    fn completed(&mut self, done: Completed) {
        let now = done.finished_at;
        let mut summary = ProbeSummary::of(&done.result, done.started_at, done.finished_at);
        summary.node.clone_from(&self.node);
        summary.region.clone_from(&self.region);
        let Some(applied) = self.board.apply(
            &done.service,
            done.generation,
            &done.result,
            summary.clone(),
            now,
        ) else {
            Counters::add(&self.counters.discarded, 1);
            return;
        };
        let _ = self
            .recorder
            .send(Record::Result(summary.to_record(&done.service)));
        let mut events = Vec::with_capacity(1 + applied.transitions.len());
        events.push(Event::new(
            now,
            EventKind::ProbeCompleted {
                service: done.service.to_string(),
                result: summary,
                own: applied.own,
            },
        ));
        let mut upsert = Vec::with_capacity(1 + applied.transitions.len());
        upsert.extend(self.board.state(&done.service));
        for transition in applied.transitions {
            if *transition.service != *done.service {
                upsert.extend(self.board.state(&transition.service));
            }
            events.push(Event::new(now, transition.into_event_kind()));
        }
        self.publish(Change {
            events,
            upsert,
            ..Change::default()
        });
        if let Some(artifacts) = &self.artifacts
            && !done.result.is_up()
            && done.result.facts.browser.is_some()
        {
            let artifacts = artifacts.clone();
            let service = done.service.to_string();
            let result = done.result;
            tokio::task::spawn_blocking(move || {
                if let Err(err) = artifacts.record(&service, now, &result) {
                    tracing::warn!(
                        "cannot keep the screenshots of `{service}` in `{}`: {err}",
                        artifacts.dir().display()
                    );
                }
            });
        }
    }

    /// Another node's results: the statuses they change reach this node's bus (its SSE,
    /// `/metrics`, dashboard), with the rows; the events are not recorded (their node did),
    /// and each is marked with the node that probed the result behind it ([`followed_by`]):
    /// shown here, acted on (task triggers, outputs) by that node only.
    fn follow(&mut self, records: &[iza_store::ResultRecord]) {
        let now = crate::now_millis();
        let transitions = self.board.follow(records, now);
        let mut upsert = Vec::new();
        for record in records {
            upsert.extend(self.board.state(&record.service));
        }
        for transition in &transitions {
            upsert.extend(self.board.state(&transition.service));
        }
        if upsert.is_empty() && transitions.is_empty() {
            return;
        }
        let events = transitions
            .into_iter()
            .map(|t| {
                let mut event = Event::new(now, t.into_event_kind());
                event.node = Some(followed_by(records, &event.kind));
                event
            })
            .collect();
        let _ = self.bus.publish(Change {
            events,
            upsert,
            ..Change::default()
        });
    }

    /// The regions nobody probes from changed: the rows of the checks probed from them.
    fn unprobed(&mut self, regions: &std::collections::HashSet<String>) {
        let now = crate::now_millis();
        let (changed, transitions) = self.board.set_unprobed(regions, now);
        let mut upsert: Vec<_> = changed.iter().filter_map(|s| self.board.state(s)).collect();
        for transition in &transitions {
            upsert.extend(self.board.state(&transition.service));
        }
        if upsert.is_empty() {
            return;
        }
        let events = transitions
            .into_iter()
            .map(|t| Event::new(now, t.into_event_kind()))
            .collect();
        self.publish(Change {
            events,
            upsert,
            ..Change::default()
        });
    }

    /// An advisory through the board's door: its transitions become events (recorded), the
    /// service's row is published even when only the advisory's words changed.
    fn advise(&mut self, service: &str, advisory: Option<String>) {
        let now = crate::now_millis();
        let before = self.board.state(service).and_then(|s| s.degraded_by);
        if before == advisory {
            return;
        }
        let Some(transitions) = self.board.advise(service, advisory, now) else {
            return;
        };
        let mut upsert: Vec<_> = self.board.state(service).into_iter().collect();
        for transition in &transitions {
            if transition.service != service {
                upsert.extend(self.board.state(&transition.service));
            }
        }
        let events = transitions
            .into_iter()
            .map(|t| Event::new(now, t.into_event_kind()))
            .collect();
        self.publish(Change {
            events,
            upsert,
            ..Change::default()
        });
    }

    /// Applies a pushed result like a finished probe, and moves its push deadline.
    fn pushed(
        &mut self,
        service: &str,
        pushed: &crate::monitor::push::Pushed,
    ) -> crate::monitor::push::PushOutcome {
        use crate::monitor::push::PushOutcome;
        let (Some(generation), Some(checked)) = (
            self.board.generation(service),
            self.board.is_checked(service),
        ) else {
            return PushOutcome::UnknownService;
        };
        if !checked {
            return PushOutcome::NotChecked;
        }
        self.watch.pushed(service, tokio::time::Instant::now());
        let result = pushed.to_result();
        let finished_at = crate::now_millis();
        let started_at = finished_at - i64::try_from(result.duration.as_millis()).unwrap_or(0);
        let summary = ProbeSummary::of(&result, started_at, finished_at);
        self.completed(Completed {
            service: Arc::from(service),
            generation,
            result,
            started_at,
            finished_at,
        });
        PushOutcome::Recorded(summary)
    }

    /// Applies a down result to every push check whose deadline has passed.
    fn missed_pushes(&mut self) {
        for (service, result) in self.watch.expired(tokio::time::Instant::now()) {
            let Some(generation) = self.board.generation(&service) else {
                continue;
            };
            let now = crate::now_millis();
            self.completed(Completed {
                service,
                generation,
                result,
                started_at: now,
                finished_at: now,
            });
        }
    }

    fn reload(&mut self, catalog: &Catalog, diff: &CatalogDiff, generation: u64) {
        self.watch
            .reload(catalog, diff, tokio::time::Instant::now());
        let now = crate::now_millis();
        let transitions = self.board.reload(catalog, diff, generation, now);
        let mut events = vec![Event::new(
            now,
            EventKind::ManifestReloaded {
                added: diff.added.clone(),
                removed: diff.removed.clone(),
                changed: diff.changed.clone(),
            },
        )];
        events.extend(
            transitions
                .into_iter()
                .map(|t| Event::new(now, t.into_event_kind())),
        );
        // Every row again: catalog order may have changed, and the rows are cheap.
        self.publish(Change {
            events,
            replace_all: Some(self.board.states()),
            ..Change::default()
        });
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The node whose result is behind a status event derived from followed results: the prober
/// of the service's own result, or of its root cause's (an impact), or of any of the results
/// (a change they made together); `another node` when none says (results written before
/// "probed by" was recorded).
fn followed_by(records: &[iza_store::ResultRecord], kind: &EventKind) -> String {
    let node_of = |service: &str| {
        records
            .iter()
            .rev()
            .find(|r| r.service == service)
            .and_then(|r| r.node.clone())
    };
    let (service, root) = match kind {
        EventKind::StatusChanged { service, cause, .. } => (service.as_str(), cause.as_deref()),
        EventKind::ServiceImpacted { service, by, .. }
        | EventKind::ServiceRecovered { service, by, .. } => (service.as_str(), Some(by.as_str())),
        _ => ("", None),
    };
    node_of(service)
        .or_else(|| root.and_then(node_of))
        .or_else(|| records.iter().find_map(|r| r.node.clone()))
        .unwrap_or_else(|| "another node".to_owned())
}
