//! Escalation: what happens when a task's run fails for good (its retries exhausted).
//!
//! An incident is opened for the task (one open incident per task: further failures while it
//! is open are counted on it). It climbs the owner's `reports_to` chain: the next agent up runs
//! its `on = { escalation = true }` tasks, each carrying the incident (`{incident}`,
//! `{reason}`, and the `{service}`/`{status}` of the run that failed). If that agent has no
//! such task, or its handler fails for good too, the incident climbs again, up to the agent
//! that reports to nobody (tier 1). Each step is kept on the incident: the agent, when, and
//! its outcome (`pending`, `handled`, `failed`, `no-handler`).
//!
//! An incident is resolved by a later successful run of the same task, or by a person
//! (`Agents::resolve_incident`). A handler's own failures climb the incident they handle;
//! they never open an incident of their own.

use iza_catalog::model::{Task, TriggerKind};
use iza_store::{EscalationStep, Incident, IncidentQuery, NewIncident, Run, StepOutcome};
use serde_json::{Value, json};

use super::Shared;
use super::worker::trigger_kind;
use crate::event::EventKind;

/// Whether a task handles escalations of its agent.
fn handles_escalations(task: &Task) -> bool {
    task.enabled
        && task.action.is_some()
        && task
            .on
            .as_ref()
            .is_some_and(|on| matches!(on.kind, TriggerKind::Escalation))
}

/// A run failed for good: open (or count on) its task's incident and escalate it; or, for an
/// escalation handler's run, mark its step failed and climb on.
pub(crate) async fn exhausted(shared: &Shared, run: &Run, reason: &str) {
    let result = if trigger_kind(&run.trigger) == "escalation" {
        handler_failed(shared, run).await
    } else {
        open(shared, run, reason).await
    };
    if let Err(err) = result {
        tracing::error!(
            "agents: escalating the failure of run #{} failed: {err}",
            run.id
        );
    }
}

async fn open(shared: &Shared, run: &Run, reason: &str) -> Result<(), iza_store::StoreError> {
    let (incident, new) = shared
        .store
        .open_incident(&NewIncident {
            task: run.task.clone(),
            agent: run.agent.clone(),
            run: run.id,
            reason: reason.to_owned(),
            at: shared.now(),
        })
        .await?;
    if !new {
        return Ok(());
    }
    shared.announce(vec![EventKind::IncidentOpened {
        incident: incident.id,
        task: incident.task.clone(),
        agent: incident.agent.clone(),
        run: run.id,
        reason: reason.to_owned(),
    }]);
    climb(shared, incident, run.agent.clone(), &run.trigger).await
}

async fn handler_failed(shared: &Shared, run: &Run) -> Result<(), iza_store::StoreError> {
    let (Some(id), Some(step)) = (
        run.trigger.get("incident").and_then(Value::as_i64),
        run.trigger.get("step").and_then(Value::as_u64),
    ) else {
        return Ok(());
    };
    let Some(incident) = shared.store.incident(id).await? else {
        return Ok(());
    };
    let step = usize::try_from(step).unwrap_or(usize::MAX);
    let pending = incident
        .chain
        .get(step)
        .is_some_and(|s| s.outcome == StepOutcome::Pending);
    if incident.state != iza_store::IncidentState::Open || !pending {
        return Ok(());
    }
    let incident = shared
        .store
        .update_escalation_step(id, step, StepOutcome::Failed, Some(run.id))
        .await?;
    let origin = run.trigger.get("origin").cloned().unwrap_or(Value::Null);
    climb(shared, incident, run.agent.clone(), &origin).await
}

/// A run succeeded: it resolves its task's open incident, and a handler's run marks its
/// step handled.
pub(crate) async fn succeeded(shared: &Shared, run: &Run) {
    let result = async {
        if trigger_kind(&run.trigger) == "escalation"
            && let (Some(id), Some(step)) = (
                run.trigger.get("incident").and_then(Value::as_i64),
                run.trigger.get("step").and_then(Value::as_u64),
            )
        {
            let step = usize::try_from(step).unwrap_or(usize::MAX);
            shared
                .store
                .update_escalation_step(id, step, StepOutcome::Handled, Some(run.id))
                .await?;
        }
        // Most successes have no open incident to resolve: look on a reader first, so that
        // they cost the single writer nothing (an incident opened after this look is one the
        // success did not follow, and a later success resolves it).
        let open = shared
            .store
            .incidents(&IncidentQuery {
                open_only: true,
                task: Some(run.task.clone()),
                before: None,
                limit: 1,
            })
            .await?;
        if open.is_empty() {
            return Ok(());
        }
        let resolved = shared
            .store
            .resolve_incidents(
                &[],
                Some(&run.task),
                shared.now(),
                &format!("run #{} succeeded", run.id),
            )
            .await?;
        shared.announce(
            resolved
                .into_iter()
                .map(|i| EventKind::IncidentResolved {
                    incident: i.id,
                    task: i.task,
                    resolution: i.resolution.unwrap_or_default(),
                })
                .collect(),
        );
        Ok::<_, iza_store::StoreError>(())
    }
    .await;
    if let Err(err) = result {
        tracing::error!(
            "agents: settling the incidents of run #{} failed: {err}",
            run.id
        );
    }
}

/// Climbs from `from` to the first agent up the chain with escalation handlers, enqueuing
/// them; records a `no-handler` step for each agent passed without one.
async fn climb(
    shared: &Shared,
    mut incident: Incident,
    from: Option<String>,
    origin: &Value,
) -> Result<(), iza_store::StoreError> {
    let catalog = shared.catalog();
    let mut current = from;
    let mut seen = std::collections::HashSet::new();
    while let Some(agent) = current
        .as_deref()
        .and_then(|a| catalog.agents.get(a))
        .and_then(|a| a.reports_to.clone())
    {
        if !seen.insert(agent.clone()) {
            break; // a cycle (the catalog rejects them; a safeguard)
        }
        let tier = catalog.agents.get(&agent).map_or(0, |a| a.tier);
        let handlers: Vec<&Task> = catalog
            .tasks
            .iter()
            .filter(|t| t.agent.as_deref() == Some(agent.as_str()) && handles_escalations(t))
            .collect();
        let index = incident.chain.len();
        let outcome = if handlers.is_empty() {
            StepOutcome::NoHandler
        } else {
            StepOutcome::Pending
        };
        incident = shared
            .store
            .add_escalation_step(
                incident.id,
                &EscalationStep {
                    agent: agent.clone(),
                    at: shared.now(),
                    outcome,
                    run: None,
                },
            )
            .await?;
        let mut ids = Vec::new();
        if !handlers.is_empty() {
            let runs = handlers
                .iter()
                .map(|task| {
                    let trigger = json!({
                        "kind": "escalation",
                        "incident": incident.id,
                        "step": index,
                        "from_task": incident.task,
                        "service": origin.get("service"),
                        "status": origin.get("status"),
                        "reason": incident.reason,
                        "origin": origin,
                    });
                    shared.new_run(
                        task,
                        trigger,
                        Some(format!("escalation:{}:{index}", incident.id)),
                    )
                })
                .collect();
            ids = shared.enqueue(runs).await?.into_iter().flatten().collect();
            if let Some(first) = ids.first() {
                incident = shared
                    .store
                    .update_escalation_step(incident.id, index, StepOutcome::Pending, Some(*first))
                    .await?;
            }
        }
        shared.announce(vec![EventKind::IncidentEscalated {
            incident: incident.id,
            task: incident.task.clone(),
            to: agent.clone(),
            tier,
            runs: ids.clone(),
        }]);
        if !handlers.is_empty() {
            return Ok(());
        }
        current = Some(agent);
    }
    Ok(())
}
