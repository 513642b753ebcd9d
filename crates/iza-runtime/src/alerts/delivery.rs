//! The delivery worker: claims the runs of the reserved `@notify/<notifier>` tasks from the
//! store's queue (external runs with no agent: the agents' worker claims only internal runs,
//! and an external agent's claim only its own agent's), sends each through `iza-notify`, and
//! finishes it: succeeded, or failed and queued again after a backoff (`n`-th failure waits
//! `backoff × 2^(n-1)`, capped), or failed for good after the notifier's `retries`. Every
//! attempt is written to the delivery log of the alerts it carries, announced
//! (`notification-sent`, `notification-failed`) and counted for `/metrics`.
//!
//! Fallback: a notifier with `fallback = "<id>"` whose delivery fails for good (its retries
//! spent) hands the same message to that notifier, as a new run (dedup key
//! `fallback-of-run-<run>`) recorded in the delivery log of the same alerts; a fallback's own
//! failure goes no further (no chains, no loops).
//!
//! Crash: a delivery is `Running` only while this worker holds its lease. At start, the
//! deliveries a previous process left running are released back to the queue, so a
//! notification decided before a `kill -9` is sent after the restart, once (its dedup key
//! kept it single).

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use iza_notify::Message;
use iza_store::{
    ClaimRequest, Delivery, DeliveryState, DeliveryUpdate, Millis, NewRun, Run, RunFinish,
    RunOutcome, RunPriority, RunQuery, RunState,
};
use serde_json::Value;
use tokio::task::JoinSet;

use super::engine::TASK_PREFIX;
use super::{Shared, task_key};
use crate::agents::worker::backoff;
use crate::event::EventKind;

fn millis(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Deliveries sent at once, at most.
const PARALLEL: usize = 8;

/// Releases the deliveries a previous process of this database left running.
async fn recover(shared: &Shared) {
    let running = match shared
        .store
        .runs(&RunQuery {
            task: None,
            agent: None,
            states: vec![RunState::Running],
            before: None,
            limit: iza_store::MAX_RUNS_PAGE,
        })
        .await
    {
        Ok(runs) => runs,
        Err(e) => {
            tracing::error!("alerts: reading running deliveries failed: {e}");
            return;
        }
    };
    // Only the deliveries of workers that are not live nodes (on the embedded store: any other).
    let dead = crate::cluster::dead_workers(
        shared.store.as_ref(),
        &shared.options.worker,
        running
            .iter()
            .filter(|r| r.task.starts_with(TASK_PREFIX))
            .filter_map(|r| r.worker.clone()),
    )
    .await;
    if dead.is_empty() {
        return;
    }
    if let Err(e) = shared.store.release_expired_runs(shared.now(), &dead).await {
        tracing::error!("alerts: releasing the deliveries of a previous run failed: {e}");
    }
}

/// The worker loop.
pub(crate) async fn run(shared: Arc<Shared>) {
    recover(&shared).await;
    let mut stopping = shared.stopping.subscribe();
    let mut running: JoinSet<()> = JoinSet::new();
    let poll = millis(shared.options.tick).max(1);
    loop {
        if *stopping.borrow() {
            break;
        }
        while running.try_join_next().is_some() {}
        let catalog = shared.catalog();
        let now = shared.now();
        let free = PARALLEL.saturating_sub(running.len());
        if free > 0 && !catalog.notifiers.is_empty() {
            let longest = catalog
                .notifiers
                .values()
                .map(|n| n.timeout)
                .max()
                .unwrap_or(Duration::from_secs(10));
            let request = ClaimRequest {
                worker: shared.options.worker.clone(),
                now,
                lease: millis(longest * 2 + Duration::from_secs(5)),
                limit: free,
                external: true,
                agent: None,
                tasks: Some(catalog.notifiers.keys().map(|n| task_key(n)).collect()),
                aging: 10_000,
            };
            match shared.store.claim_runs(&request).await {
                Ok(runs) => {
                    for run in runs {
                        running.spawn(deliver(shared.clone(), run));
                    }
                }
                Err(e) => tracing::error!("alerts: claiming deliveries failed: {e}"),
            }
        }
        tokio::select! {
            _ = shared.wake_delivery.notified() => {}
            _ = shared.options.clock.sleep_until(now + poll) => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
            _ = stopping.changed() => {}
        }
    }
    while running.join_next().await.is_some() {}
}

/// The `(alert, transition)` pairs a delivery run carries.
fn keys(trigger: &Value) -> Vec<(i64, String)> {
    trigger
        .get("deliveries")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| Some((i.get(0)?.as_i64()?, i.get(1)?.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

async fn deliver(shared: Arc<Shared>, run: Run) {
    let notifier_id = run
        .task
        .strip_prefix(TASK_PREFIX)
        .unwrap_or(&run.task)
        .to_owned();
    let keys = keys(&run.trigger);
    let alert_ids: Vec<i64> = keys.iter().map(|(a, _)| *a).collect();
    let catalog = shared.catalog();
    let started = Instant::now();
    let outcome: Result<(), String> = match (
        catalog.notifiers.get(&notifier_id),
        run.trigger
            .get("message")
            .cloned()
            .map(serde_json::from_value::<Message>),
    ) {
        (None, _) => Err(format!(
            "notifier `{notifier_id}` is no longer in the manifest"
        )),
        (_, None | Some(Err(_))) => Err("the delivery carries no readable message".to_owned()),
        (Some(notifier), Some(Ok(message))) => shared
            .sender
            .send(notifier, &message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
    };
    let latency = started.elapsed();
    let now = shared.now();
    let retry_at = match &outcome {
        Ok(()) => None,
        Err(_)
            if run.attempt < run.max_attempts && catalog.notifiers.contains_key(&notifier_id) =>
        {
            let random = (now.rem_euclid(1_000) as f64) / 1_000.0;
            let wait = backoff(
                shared.options.backoff,
                shared.options.backoff_max,
                run.attempt,
                random,
            );
            Some(now + millis(wait))
        }
        Err(_) => None,
    };
    let (state, run_outcome, error) = match &outcome {
        Ok(()) => (DeliveryState::Sent, RunOutcome::Succeeded, None),
        Err(e) => (
            if retry_at.is_some() {
                DeliveryState::Queued
            } else {
                DeliveryState::Failed
            },
            RunOutcome::Failed { retry_at },
            Some(e.clone()),
        ),
    };
    if outcome.is_err() && retry_at.is_none() {
        // Queued before the run is finished, so that a crash in between loses nothing (its
        // dedup key keeps a second attempt single).
        fallback(&shared, &run, &notifier_id, &keys, error.as_deref(), now).await;
    }
    let finished = shared
        .store
        .finish_runs(&[RunFinish {
            id: run.id,
            worker: shared.options.worker.clone(),
            at: now,
            outcome: run_outcome,
            output: outcome.as_ref().ok().map(|()| "sent".to_owned()),
            error: error.clone(),
        }])
        .await;
    if let Err(e) = &finished {
        tracing::error!("alerts: finishing delivery run #{} failed: {e}", run.id);
    }
    let update = DeliveryUpdate {
        keys,
        notifier: notifier_id.clone(),
        run: run.id,
        state,
        at: now,
        attempts: run.attempt,
        latency_ms: latency.as_secs_f64() * 1_000.0,
        error: error.clone(),
    };
    if let Err(e) = shared.store.update_deliveries(&update).await {
        tracing::error!("alerts: writing the delivery log failed: {e}");
    }
    let word = match (&outcome, retry_at) {
        (Ok(()), _) => "sent",
        (Err(_), Some(_)) => "retried",
        (Err(_), None) => "failed",
    };
    *shared
        .metrics
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .deliveries
        .entry((notifier_id.clone(), word.to_owned()))
        .or_insert(0) += 1;
    shared.announce(vec![match outcome {
        Ok(()) => EventKind::NotificationSent {
            notifier: notifier_id,
            alerts: alert_ids,
            run: run.id,
            attempt: run.attempt,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        },
        Err(error) => {
            tracing::warn!("alerts: {error}");
            EventKind::NotificationFailed {
                notifier: notifier_id,
                alerts: alert_ids,
                run: run.id,
                attempt: run.attempt,
                error,
                retry_at,
            }
        }
    }]);
    if retry_at.is_some() {
        // Come back when the retry is due.
        let shared = shared.clone();
        let at = retry_at.unwrap_or(now);
        tokio::spawn(async move {
            shared.options.clock.sleep_until(at).await;
            shared.wake_delivery.notify_one();
        });
    }
}

/// Queues what `run` failed to deliver to the fallback of its notifier, if it has one and
/// `run` is not itself a fallback.
async fn fallback(
    shared: &Shared,
    run: &Run,
    notifier_id: &str,
    keys: &[(i64, String)],
    error: Option<&str>,
    now: Millis,
) {
    let catalog = shared.catalog();
    let Some(to) = catalog
        .notifiers
        .get(notifier_id)
        .and_then(|n| n.fallback.clone())
    else {
        return;
    };
    if run.trigger.get("fallback_of").is_some() {
        return;
    }
    let Some(target) = catalog.notifiers.get(&to) else {
        return;
    };
    let Some(mut message) = run
        .trigger
        .get("message")
        .cloned()
        .and_then(|m| serde_json::from_value::<Message>(m).ok())
    else {
        return;
    };
    message.notifier = to.clone();
    let new = NewRun {
        task: task_key(&to),
        agent: None,
        priority: RunPriority::High,
        dedupe: Some(format!("fallback-of-run-{}", run.id)),
        tick: None,
        run_at: now,
        max_attempts: target.retries.saturating_add(1),
        concurrency: 1,
        external: true,
        trigger: serde_json::json!({
            "notify": to,
            "deliveries": run.trigger.get("deliveries").cloned().unwrap_or(Value::Null),
            "message": message,
            "fallback_of": notifier_id,
            "failed_run": run.id,
            "error": error,
        }),
        enqueued_at: now,
    };
    let id = match shared.store.enqueue_runs(std::slice::from_ref(&new)).await {
        Ok(ids) => ids.first().copied().flatten(),
        Err(e) => {
            tracing::error!("alerts: queueing the fallback `{to}` of `{notifier_id}` failed: {e}");
            return;
        }
    };
    let records: Vec<Delivery> = keys
        .iter()
        .map(|(alert, transition)| Delivery {
            id: 0,
            alert: *alert,
            transition: transition.clone(),
            notifier: to.clone(),
            run: id,
            state: DeliveryState::Queued,
            at: now,
            finished_at: None,
            attempts: 0,
            latency_ms: None,
            error: Some(format!("fallback of `{notifier_id}`")),
        })
        .collect();
    if let Err(e) = shared.store.record_deliveries(&records).await {
        tracing::error!("alerts: recording the fallback deliveries failed: {e}");
    }
    tracing::warn!(
        "alerts: notifier `{notifier_id}` failed for good; the notification goes to its fallback `{to}`"
    );
    *shared
        .metrics
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .deliveries
        .entry((notifier_id.to_owned(), "fallback".to_owned()))
        .or_insert(0) += 1;
    shared.wake_delivery.notify_one();
}
