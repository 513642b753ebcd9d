//! Defines [`Event`]: every fact the runtime states, typed. An event is one JSON object,
//! tagged by `kind` in kebab-case, with its bus sequence number and its time in Unix
//! milliseconds:
//!
//! ```json
//! {"seq": 42, "at": 1767225600000, "kind": "status-changed", "service": "db",
//!  "from": {"status": "up"}, "to": {"status": "down"}, "cause": "db", "reason": "[STATUS] (503) == 200"}
//! ```
//!
//! The status events follow one rule, so that one outage raises one alert: a root cause is
//! named once, by a [`EventKind::StatusChanged`] to `down` whose `cause` is the service
//! itself; each service it takes with it gets a [`EventKind::ServiceImpacted`] pointing at it,
//! never a `down` of its own, and a [`EventKind::ServiceRecovered`] when the impact ends.

use iza_probe::{Outcome, ProbeResult, Reason};
use iza_store::{EventRecord, Millis, ResultRecord};
use serde::{Deserialize, Serialize};

use crate::monitor::status::{Health, Status};

/// One fact the runtime stated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position on the bus, from 1, increasing by one per event of one runtime (0 before the
    /// bus numbered it). Not the store's event id.
    pub seq: u64,
    /// When it happened, Unix milliseconds.
    pub at: Millis,
    /// On a shared store, the node that stated it: in the store, on every event a node
    /// recorded; on a bus, only on the events relayed from another node (`cluster::relay`)
    /// and on the status changes derived here from another node's results (the prober's id):
    /// an event without it is this node's own. Whoever acts on events (task triggers, outputs)
    /// acts on its own only; the node that stated an event acts on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EventKind {
    /// The monitor started watching.
    MonitorStarted {
        /// Services in the catalog.
        services: usize,
        /// Services with a check (probed).
        checks: usize,
        /// Services whose status was resumed from the store's latest results.
        resumed: usize,
    },
    /// The monitor stopped (graceful shutdown).
    MonitorStopped {
        /// Probes still running at the shutdown deadline, abandoned.
        abandoned: usize,
    },
    /// One probe of one service finished. Stored as a result, not as an event.
    ProbeCompleted {
        /// Service id.
        service: String,
        /// What the probe found.
        result: ProbeSummary,
        /// The service's own health after it.
        own: Health,
    },
    /// A service's status changed, outside of any dependency impact. When `to` is `down`,
    /// the service is a root cause and `cause` names it: this is the one alert of an outage.
    StatusChanged {
        /// Service id.
        service: String,
        /// Before.
        from: Status,
        /// After.
        to: Status,
        /// The root cause: the service itself when it went down, none otherwise.
        cause: Option<String>,
        /// Why, for a person.
        reason: Option<String>,
    },
    /// A service became impacted by a root cause (or its root cause changed).
    ServiceImpacted {
        /// Service id.
        service: String,
        /// The root cause, a service it depends on.
        by: String,
        /// Its status before.
        from: Status,
        /// Its own check's verdict (it keeps being probed).
        own: Health,
    },
    /// A service is no longer impacted: its root cause recovered.
    ServiceRecovered {
        /// Service id.
        service: String,
        /// The root cause it was impacted by.
        by: String,
        /// Its status now, from its own check.
        to: Status,
    },
    /// A new manifest was applied.
    ManifestReloaded {
        /// Services added (probing starts).
        added: Vec<String>,
        /// Services removed (probing stops; their history stays in the store).
        removed: Vec<String>,
        /// Services whose check changed (probing restarts with the new check).
        changed: Vec<String>,
    },
    /// The supervisor is starting a service's process (`attempt` 0 is the first start).
    ProcessStarting {
        /// Service id.
        service: String,
        /// Restarts before this start (0 for the first).
        attempt: u32,
    },
    /// A service's process was spawned.
    ProcessRunning {
        /// Service id.
        service: String,
        /// Its process id, which is also its process group id.
        pid: u32,
    },
    /// A supervised service became ready: running, and healthy by its check when it has one.
    ProcessReady {
        /// Service id.
        service: String,
        /// Milliseconds from its spawn to ready.
        after_ms: u64,
    },
    /// A service's process exited (or could not be spawned: no pid, no code).
    ProcessExited {
        /// Service id.
        service: String,
        /// Its process id, when it was spawned.
        pid: Option<u32>,
        /// Exit code, when it exited.
        code: Option<i32>,
        /// The signal that ended it, when one did.
        signal: Option<i32>,
        /// How long it ran, in milliseconds.
        uptime_ms: u64,
        /// What went wrong, for a person (a spawn error), when known.
        message: Option<String>,
    },
    /// The restart policy will start the service again after a delay.
    ProcessRestarting {
        /// Service id.
        service: String,
        /// Milliseconds until the restart.
        in_ms: u64,
        /// The restart's number in the current series (1 for the first).
        attempt: u32,
    },
    /// The service kept exiting: `restarts` restarts did not keep it up, or a dependency it
    /// waited for failed. It is not restarted any more.
    ProcessFailed {
        /// Service id.
        service: String,
        /// Restarts in the series that failed.
        restarts: u32,
        /// Why, for a person.
        reason: String,
    },
    /// A service was stopped (by hand, by a reload or by the shutdown).
    ProcessStopped {
        /// Service id.
        service: String,
        /// Whether SIGKILL was needed after the grace period.
        killed: bool,
    },
    /// A task's run was put on the queue (agents, `docs/agents.md`).
    RunQueued {
        /// Run id.
        run: i64,
        /// Task key (`agent/task`).
        task: String,
        /// The task's agent.
        agent: Option<String>,
        /// `high`, `medium` or `low`.
        priority: String,
        /// Why: `tick`, `event`, `manual` or `escalation`.
        trigger: String,
        /// Not claimable before, Unix milliseconds.
        run_at: Millis,
    },
    /// A worker claimed a run and its action started.
    RunStarted {
        /// Run id.
        run: i64,
        /// Task key.
        task: String,
        /// The task's agent.
        agent: Option<String>,
        /// Claims so far, this one included (1 for the first attempt).
        attempt: u32,
        /// The worker that holds it.
        worker: String,
    },
    /// A run's action succeeded.
    RunSucceeded {
        /// Run id.
        run: i64,
        /// Task key.
        task: String,
        /// The task's agent.
        agent: Option<String>,
        /// Attempt that succeeded.
        attempt: u32,
        /// How long the attempt took.
        duration_ms: u64,
    },
    /// A run's attempt failed; `retry_at` says when it runs again, none when this was its last
    /// attempt.
    RunFailed {
        /// Run id.
        run: i64,
        /// Task key.
        task: String,
        /// The task's agent.
        agent: Option<String>,
        /// Attempt that failed.
        attempt: u32,
        /// How long the attempt took.
        duration_ms: u64,
        /// Why, for a person.
        error: String,
        /// When it is retried (Unix milliseconds), if it is.
        retry_at: Option<Millis>,
    },
    /// A run was cancelled (queued, or stopped while running).
    RunCancelled {
        /// Run id.
        run: i64,
        /// Task key.
        task: String,
    },
    /// A task exhausted its retries and an incident was opened for it.
    IncidentOpened {
        /// Incident id.
        incident: i64,
        /// Task key.
        task: String,
        /// The task's agent.
        agent: Option<String>,
        /// The run that failed last.
        run: i64,
        /// Why, for a person.
        reason: String,
    },
    /// An incident climbed to an agent up the `reports_to` chain.
    IncidentEscalated {
        /// Incident id.
        incident: i64,
        /// Task key.
        task: String,
        /// The agent it reached.
        to: String,
        /// Its tier.
        tier: u8,
        /// The runs of that agent's `on = { escalation = true }` tasks (empty: none, it climbs
        /// on).
        runs: Vec<i64>,
    },
    /// An incident was resolved.
    IncidentResolved {
        /// Incident id.
        incident: i64,
        /// Task key.
        task: String,
        /// How: a later successful run of the task, or a person.
        resolution: String,
    },
    /// An alert fired (`suppressed_by` set: recorded, not sent). See docs/alerts.md.
    AlertFiring {
        /// Alert id.
        alert: i64,
        /// The rule.
        rule: String,
        /// The service: the root cause of a `down` alert.
        service: String,
        /// `critical`, `warning`, `info`.
        severity: String,
        /// The status that fired it.
        status: String,
        /// The services it impacts.
        impacted: Vec<String>,
        /// `silence:<id>` or `maintenance:<name>` when it is not sent.
        suppressed_by: Option<String>,
    },
    /// More (or fewer) services are impacted by a firing alert's root cause; not re-sent.
    AlertUpdated {
        /// Alert id.
        alert: i64,
        /// The service.
        service: String,
        /// The services it impacts now.
        impacted: Vec<String>,
    },
    /// An alert ended.
    AlertResolved {
        /// Alert id.
        alert: i64,
        /// The rule.
        rule: String,
        /// The service.
        service: String,
    },
    /// Someone acknowledged an alert: no reminder, no escalation.
    AlertAcknowledged {
        /// Alert id.
        alert: i64,
        /// Who.
        by: String,
    },
    /// An unacknowledged critical alert was escalated to an agent up `reports_to`.
    AlertEscalated {
        /// Alert id.
        alert: i64,
        /// The agent.
        to: String,
    },
    /// A notification was delivered.
    NotificationSent {
        /// The notifier.
        notifier: String,
        /// The alerts it carried.
        alerts: Vec<i64>,
        /// Its run on the queue.
        run: i64,
        /// Attempt number, from 1.
        attempt: u32,
        /// Time to the receiver's answer.
        latency_ms: u64,
    },
    /// A delivery attempt failed.
    NotificationFailed {
        /// The notifier.
        notifier: String,
        /// The alerts it carried.
        alerts: Vec<i64>,
        /// Its run on the queue.
        run: i64,
        /// Attempt number, from 1.
        attempt: u32,
        /// Why (secrets scrubbed).
        error: String,
        /// When it is retried; none: it failed for good.
        retry_at: Option<Millis>,
    },
    /// A silence was created.
    SilenceCreated {
        /// Silence id.
        silence: i64,
        /// Until when.
        ends_at: Millis,
    },
    /// A silence was ended early.
    SilenceExpired {
        /// Silence id.
        silence: i64,
    },
    /// Writing to the store failed; the records are kept and retried.
    StoreFailed {
        /// What the store said.
        message: String,
        /// Records waiting to be written.
        pending: usize,
    },
}

impl Event {
    /// An event at `at`, not yet numbered by the bus.
    pub fn new(at: Millis, kind: EventKind) -> Event {
        Event {
            seq: 0,
            at,
            node: None,
            kind,
        }
    }

    /// Whether it was relayed from another node (see [`Event::node`]).
    pub fn is_relayed(&self) -> bool {
        self.node.is_some()
    }

    /// The kind as a kebab-case word (`status-changed`), as in the JSON `kind` field.
    pub fn name(&self) -> &'static str {
        match self.kind {
            EventKind::MonitorStarted { .. } => "monitor-started",
            EventKind::MonitorStopped { .. } => "monitor-stopped",
            EventKind::ProbeCompleted { .. } => "probe-completed",
            EventKind::StatusChanged { .. } => "status-changed",
            EventKind::ServiceImpacted { .. } => "service-impacted",
            EventKind::ServiceRecovered { .. } => "service-recovered",
            EventKind::ManifestReloaded { .. } => "manifest-reloaded",
            EventKind::ProcessStarting { .. } => "process-starting",
            EventKind::ProcessRunning { .. } => "process-running",
            EventKind::ProcessReady { .. } => "process-ready",
            EventKind::ProcessExited { .. } => "process-exited",
            EventKind::ProcessRestarting { .. } => "process-restarting",
            EventKind::ProcessFailed { .. } => "process-failed",
            EventKind::ProcessStopped { .. } => "process-stopped",
            EventKind::RunQueued { .. } => "run-queued",
            EventKind::RunStarted { .. } => "run-started",
            EventKind::RunSucceeded { .. } => "run-succeeded",
            EventKind::RunFailed { .. } => "run-failed",
            EventKind::RunCancelled { .. } => "run-cancelled",
            EventKind::IncidentOpened { .. } => "incident-opened",
            EventKind::IncidentEscalated { .. } => "incident-escalated",
            EventKind::IncidentResolved { .. } => "incident-resolved",
            EventKind::AlertFiring { .. } => "alert-firing",
            EventKind::AlertUpdated { .. } => "alert-updated",
            EventKind::AlertResolved { .. } => "alert-resolved",
            EventKind::AlertAcknowledged { .. } => "alert-acknowledged",
            EventKind::AlertEscalated { .. } => "alert-escalated",
            EventKind::NotificationSent { .. } => "notification-sent",
            EventKind::NotificationFailed { .. } => "notification-failed",
            EventKind::SilenceCreated { .. } => "silence-created",
            EventKind::SilenceExpired { .. } => "silence-expired",
            EventKind::StoreFailed { .. } => "store-failed",
        }
    }

    /// The service the event is about, when it is about one.
    pub fn service(&self) -> Option<&str> {
        match &self.kind {
            EventKind::ProbeCompleted { service, .. }
            | EventKind::StatusChanged { service, .. }
            | EventKind::ServiceImpacted { service, .. }
            | EventKind::ServiceRecovered { service, .. }
            | EventKind::ProcessStarting { service, .. }
            | EventKind::ProcessRunning { service, .. }
            | EventKind::ProcessReady { service, .. }
            | EventKind::ProcessExited { service, .. }
            | EventKind::ProcessRestarting { service, .. }
            | EventKind::ProcessFailed { service, .. }
            | EventKind::ProcessStopped { service, .. }
            | EventKind::AlertFiring { service, .. }
            | EventKind::AlertUpdated { service, .. }
            | EventKind::AlertResolved { service, .. } => Some(service),
            _ => None,
        }
    }

    /// Whether this is the alert of a root cause: a service went down on its own.
    pub fn is_root_cause_down(&self) -> bool {
        matches!(
            &self.kind,
            EventKind::StatusChanged {
                to: Status::Down,
                ..
            }
        )
    }

    /// The event as the store keeps it (id 0 until the store assigns one).
    pub fn to_record(&self) -> EventRecord {
        EventRecord {
            id: 0,
            at: self.at,
            kind: self.name().to_owned(),
            service: self.service().map(str::to_owned),
            payload: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// What one probe found, as events and snapshots carry it (the full facts stay with the
/// prober's [`ProbeResult`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSummary {
    /// When the probe started, Unix milliseconds.
    pub started_at: Millis,
    /// When it finished.
    pub at: Millis,
    /// Up or down.
    pub outcome: Outcome,
    /// `[RESPONSE_TIME]`, in milliseconds.
    pub duration_ms: f64,
    /// The kind of failure, when down.
    pub reason: Option<Reason>,
    /// Why it failed, when down: the failed conditions with the values seen, or the error.
    pub message: Option<String>,
    /// The HTTP status, when there was one.
    pub http_status: Option<u16>,
    /// The node that probed ("probed by"), when known (`docs/scale-out.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// That node's region, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl ProbeSummary {
    /// Summarizes a result of a probe that ran from `started_at` to `at`.
    pub fn of(result: &ProbeResult, started_at: Millis, at: Millis) -> ProbeSummary {
        ProbeSummary {
            started_at,
            at,
            outcome: result.outcome,
            duration_ms: result.duration.as_secs_f64() * 1000.0,
            reason: result.failure.as_ref().map(|f| f.reason),
            message: result.failure.as_ref().map(|f| f.message.clone()),
            http_status: result.facts.status,
            node: None,
            region: None,
        }
    }

    /// The summary of a stored result (another node's, or one resumed after a restart).
    pub fn of_record(record: &ResultRecord) -> ProbeSummary {
        ProbeSummary {
            started_at: record.at - record.latency_ms as Millis,
            at: record.at,
            outcome: if record.up {
                Outcome::Up
            } else {
                Outcome::Down
            },
            duration_ms: record.latency_ms,
            reason: None,
            message: record.message.clone(),
            http_status: None,
            node: record.node.clone(),
            region: record.region.clone(),
        }
    }

    /// Whether the check passed.
    pub fn is_up(&self) -> bool {
        self.outcome == Outcome::Up
    }

    /// The result as the store keeps it.
    pub fn to_record(&self, service: &str) -> ResultRecord {
        ResultRecord {
            service: service.to_owned(),
            at: self.at,
            up: self.is_up(),
            latency_ms: self.duration_ms,
            message: self.message.clone(),
            node: self.node.clone(),
            region: self.region.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_kebab_case_objects_that_round_trip() {
        let events = [
            Event::new(
                5,
                EventKind::StatusChanged {
                    service: "db".into(),
                    from: Status::Up,
                    to: Status::Down,
                    cause: Some("db".into()),
                    reason: Some("[STATUS] (503) == 200".into()),
                },
            ),
            Event::new(
                6,
                EventKind::ServiceImpacted {
                    service: "api".into(),
                    by: "db".into(),
                    from: Status::Up,
                    own: Health::Down,
                },
            ),
            Event::new(
                7,
                EventKind::ManifestReloaded {
                    added: vec!["cache".into()],
                    removed: vec![],
                    changed: vec!["api".into()],
                },
            ),
        ];
        let json: Vec<_> = events
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        assert_eq!(json[0]["kind"], "status-changed");
        assert_eq!(json[0]["to"]["status"], "down");
        assert_eq!(json[0]["cause"], "db");
        assert_eq!(json[1]["kind"], "service-impacted");
        assert_eq!(json[1]["by"], "db");
        assert_eq!(json[1]["own"], "down");
        assert_eq!(json[2]["kind"], "manifest-reloaded");
        assert_eq!(json[2]["at"], 7);
        for (event, value) in events.iter().zip(json) {
            assert_eq!(value["kind"], event.name());
            let back: Event = serde_json::from_value(value).unwrap();
            assert_eq!(&back, event);
        }
        assert!(events[0].is_root_cause_down());
        assert!(!events[1].is_root_cause_down());
        let record = events[1].to_record();
        assert_eq!(record.kind, "service-impacted");
        assert_eq!(record.service.as_deref(), Some("api"));
        assert_eq!(record.payload["by"], "db");
    }

    #[test]
    fn run_and_incident_events_are_kebab_case_and_round_trip() {
        let events = [
            Event::new(
                1,
                EventKind::RunFailed {
                    run: 7,
                    task: "ops/backup".into(),
                    agent: Some("ops".into()),
                    attempt: 1,
                    duration_ms: 12,
                    error: "`false` exited with code 1".into(),
                    retry_at: Some(5_001),
                },
            ),
            Event::new(
                2,
                EventKind::IncidentEscalated {
                    incident: 3,
                    task: "ops/backup".into(),
                    to: "lead".into(),
                    tier: 2,
                    runs: vec![8],
                },
            ),
        ];
        let json: Vec<_> = events
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        assert_eq!(json[0]["kind"], "run-failed");
        assert_eq!(json[0]["retry_at"], 5_001);
        assert_eq!(json[1]["kind"], "incident-escalated");
        assert_eq!(json[1]["runs"][0], 8);
        for (event, value) in events.iter().zip(json) {
            assert_eq!(value["kind"], event.name());
            let back: Event = serde_json::from_value(value).unwrap();
            assert_eq!(&back, event);
            assert_eq!(event.service(), None);
        }
    }
}
