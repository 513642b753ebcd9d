//! Matches the events of the bus against the tasks' `on` triggers.
//!
//! A trigger fires once per transition, never per probe: only the events that state a change
//! are read (`status-changed`, `service-impacted`, `service-recovered` for statuses; the
//! `process-*` lifecycle events for process states), never `probe-completed`. A service that
//! stays down through a hundred failing probes fires `on = { status = "down" }` once; it fires
//! again only after it has been something else in between. A change of root cause while a
//! service stays impacted is not a new transition.
//!
//! It owns the matching and the values a triggered run carries (service, old and new status,
//! reason); the engine enqueues (`mod.rs`), deduplicated by [`Transition::dedupe`].
//!
//! `on = { workflow = "failed" }` is matched against the failed executions a workflow
//! follower newly saw ([`WorkflowFailure`], handed over by `crate::workflows` before it stores
//! the round), deduplicated by engine and execution: one run per failed execution.

use iza_catalog::Catalog;
use iza_catalog::model::{Task, TriggerKind};
use serde::Serialize;
use serde_json::{Value, json};

use crate::event::{Event, EventKind};

/// A transition an `on` trigger can match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// What kind of state changed.
    pub kind: Kind,
    /// The service.
    pub service: String,
    /// The state before, as a word, when known.
    pub from: Option<String>,
    /// The state after, as a word (`down`, `failed`...).
    pub to: String,
    /// Why, for a person.
    pub reason: Option<String>,
}

/// Status or process state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The service's status (`up`, `down`, `degraded`, `impacted`, `unknown`).
    Status,
    /// The supervised process's state.
    Process,
}

impl Transition {
    /// The transition an event states, if it states one.
    pub fn of(event: &Event) -> Option<Transition> {
        let status = |service: &str, from: Option<&str>, to: &str, reason: Option<String>| {
            Some(Transition {
                kind: Kind::Status,
                service: service.to_owned(),
                from: from.map(str::to_owned),
                to: to.to_owned(),
                reason,
            })
        };
        let process = |service: &str, to: &str, reason: Option<String>| {
            Some(Transition {
                kind: Kind::Process,
                service: service.to_owned(),
                from: None,
                to: to.to_owned(),
                reason,
            })
        };
        match &event.kind {
            EventKind::StatusChanged {
                service,
                from,
                to,
                reason,
                ..
            } if from.as_str() != to.as_str() => {
                status(service, Some(from.as_str()), to.as_str(), reason.clone())
            }
            EventKind::ServiceImpacted {
                service, by, from, ..
            } if from.as_str() != "impacted" => status(
                service,
                Some(from.as_str()),
                "impacted",
                Some(format!("`{by}` is down")),
            ),
            EventKind::ServiceRecovered { service, by, to } if to.as_str() != "impacted" => status(
                service,
                Some("impacted"),
                to.as_str(),
                Some(format!("`{by}` recovered")),
            ),
            EventKind::ProcessStarting { service, .. } => process(service, "starting", None),
            EventKind::ProcessRunning { service, .. } => process(service, "running", None),
            EventKind::ProcessReady { service, .. } => process(service, "ready", None),
            EventKind::ProcessExited {
                service,
                code,
                signal,
                message,
                ..
            } => process(
                service,
                "exited",
                Some(message.clone().unwrap_or_else(|| match (code, signal) {
                    (Some(code), _) => format!("exited with code {code}"),
                    (None, Some(signal)) => format!("killed by signal {signal}"),
                    _ => "exited".to_owned(),
                })),
            ),
            EventKind::ProcessRestarting { service, .. } => process(service, "backoff", None),
            EventKind::ProcessFailed {
                service, reason, ..
            } => process(service, "failed", Some(reason.clone())),
            EventKind::ProcessStopped { service, .. } => process(service, "stopped", None),
            _ => None,
        }
    }

    /// The queue's de-duplication key of the runs it triggers. A status change's is made of
    /// what every node sharing a store reads alike in the recorded event (the service, the
    /// change and the time it was stated: `status:db:up>down@1765...`), so that each node
    /// reading the record queues the same runs once between them. A process state's is the
    /// event's place on this node's bus (a process is one node's own).
    pub fn dedupe(&self, event: &Event, epoch: u64) -> String {
        match self.kind {
            Kind::Status => format!(
                "status:{}:{}>{}@{}",
                self.service,
                self.from.as_deref().unwrap_or(""),
                self.to,
                event.at
            ),
            Kind::Process => format!("event:{epoch}:{}", event.seq),
        }
    }

    /// The trigger value a run it starts carries (its placeholders read `service`, `status`,
    /// `reason`).
    pub fn to_trigger(&self, event: &Event, epoch: u64) -> Value {
        json!({
            "kind": "event",
            "event": event.name(),
            "seq": event.seq,
            "epoch": epoch,
            "at": event.at,
            "service": self.service,
            "from": self.from,
            "status": self.to,
            "reason": self.reason,
        })
    }
}

/// Whether a task's `on` trigger matches a transition.
pub fn matches(catalog: &Catalog, task: &Task, transition: &Transition) -> bool {
    let Some(on) = &task.on else {
        return false;
    };
    let words = match (&on.kind, transition.kind) {
        (TriggerKind::Status(words), Kind::Status) => words,
        (TriggerKind::Process(words), Kind::Process) => words,
        _ => return false,
    };
    if !words.iter().any(|w| w.eq_ignore_ascii_case(&transition.to)) {
        return false;
    }
    let group = catalog
        .services
        .get(&transition.service)
        .and_then(|s| s.group.as_deref());
    on.matches_service(&transition.service, group)
}

/// A failed workflow execution a follower newly saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkflowFailure {
    /// The engine's service.
    pub service: String,
    /// The workflow's id.
    pub workflow: String,
    /// The workflow's name, when the store knows it.
    pub workflow_name: Option<String>,
    /// The execution's id.
    pub execution: String,
    /// Its status (`error`, `crashed`).
    pub status: String,
    /// Its error message, when read.
    pub error: Option<String>,
    /// Its failing node (n8n) or step (Activepieces), when known.
    pub node: Option<String>,
    /// When it ended (or started), Unix milliseconds.
    pub at: i64,
}

impl WorkflowFailure {
    /// The trigger value a run it starts carries (placeholders `{service}`, `{status}`,
    /// `{reason}`, `{workflow}`, `{execution}`, `{error}`, `{node}`).
    pub fn to_trigger(&self) -> Value {
        let name = self.workflow_name.as_deref().unwrap_or(&self.workflow);
        let mut reason = format!("execution {} of workflow `{name}` failed", self.execution);
        if let Some(node) = &self.node {
            reason.push_str(&format!(" at `{node}`"));
        }
        if let Some(error) = &self.error {
            reason.push_str(&format!(": {error}"));
        }
        json!({
            "kind": "workflow",
            "at": self.at,
            "service": self.service,
            "status": self.status,
            "reason": reason,
            "workflow": self.workflow,
            "workflow_name": self.workflow_name,
            "execution": self.execution,
            "error": self.error,
            "node": self.node,
        })
    }

    /// The queue's key: one run per task and failed execution, whoever reports it again.
    pub fn dedupe(&self) -> String {
        format!("workflow:{}:{}", self.service, self.execution)
    }
}

/// Whether a task's `on = { workflow = ... }` trigger matches a failed execution: its
/// `services`/`groups` filter, and its `workflows` (ids or names; empty: any).
pub fn matches_workflow(catalog: &Catalog, task: &Task, failure: &WorkflowFailure) -> bool {
    let Some(on) = &task.on else {
        return false;
    };
    let TriggerKind::Workflow(words) = &on.kind else {
        return false;
    };
    if !words.iter().any(|w| w == "failed") {
        return false;
    }
    let group = catalog
        .services
        .get(&failure.service)
        .and_then(|s| s.group.as_deref());
    on.matches_service(&failure.service, group)
        && (on.workflows.is_empty()
            || on.workflows.iter().any(|w| {
                *w == failure.workflow || failure.workflow_name.as_deref() == Some(w.as_str())
            }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    fn down(at: i64, seq: u64, node: Option<&str>) -> Event {
        let mut event = Event::new(
            at,
            EventKind::StatusChanged {
                service: "db".into(),
                from: Status::Up,
                to: Status::Down,
                cause: Some("db".into()),
                reason: None,
            },
        );
        event.seq = seq;
        event.node = node.map(str::to_owned);
        event
    }

    #[test]
    fn a_status_changes_key_is_the_same_on_every_node_and_a_process_states_is_the_bus_place() {
        // The prober's bus event and another node's read of the record: other seq, epoch, node.
        let own = down(1_765_080_306_789, 42, None);
        let read = down(1_765_080_306_789, 7, Some("node-1-2"));
        let key = |event: &Event, epoch| Transition::of(event).unwrap().dedupe(event, epoch);
        assert_eq!(key(&own, 1), "status:db:up>down@1765080306789");
        assert_eq!(key(&own, 1), key(&read, 2));
        // Another change of the same service: another key.
        assert_ne!(key(&own, 1), key(&down(1_765_080_306_790, 42, None), 1));
        let mut exited = Event::new(
            5,
            EventKind::ProcessStopped {
                service: "db".into(),
                killed: false,
            },
        );
        exited.seq = 9;
        assert_eq!(key(&exited, 3), "event:3:9");
    }
}
