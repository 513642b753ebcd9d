//! The worker: claims runs from the store's queue (highest priority first, then oldest, with
//! aging; at most `workers` at once; a task's `concurrency` enforced by the claim), holds
//! their leases with a heartbeat every third of the lease, runs each action within its task's
//! `timeout`, and finishes the run.
//!
//! A failed attempt is retried after an exponential backoff with jitter: the `n`-th failure
//! waits `backoff × 2^(n-1)`, capped at `backoff_max`, less up to a fifth at random (so a
//! herd of runs that failed together spreads out, and the cap is never exceeded). When the
//! attempts are exhausted the run fails for good and `escalation.rs` takes over.
//!
//! Crash semantics: a run is `Running` in the store only while a worker holds its lease. At
//! its start the worker releases the runs a previous process of this database left running
//! (their worker is dead), and any worker releases runs whose lease expired; each goes back to
//! the queue while it has attempts left. A run whose lease this worker lost (its heartbeat
//! came too late and another took it) is stopped here, so it never runs twice at once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use iza_catalog::model::{Action, Task};
use iza_store::{
    ClaimRequest, Millis, Run, RunFinish, RunId, RunOutcome, RunQuery, RunState, StoreError,
};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinSet};

use super::actions::{self, ActionError};
use super::placeholders::Placeholders;
use super::{Shared, escalation, millis};
use crate::event::EventKind;

/// The delay before the retry that follows the `failures`-th failed attempt (1 for the
/// first); `random` in `[0, 1)` takes off up to a fifth.
pub fn backoff(base: Duration, max: Duration, failures: u32, random: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(32);
    let full = base
        .checked_mul(1u32 << exponent.min(31))
        .unwrap_or(max)
        .min(max);
    full.mul_f64(1.0 - 0.2 * random.clamp(0.0, 1.0))
}

/// When a run another node stated in `kind` can be claimed here: a run it queued, at its
/// `run_at`; a failed attempt it put back on the queue, at its retry. `None` for the rest (the
/// poll finds what else comes claimable, such as a slot of a task's concurrency freed there).
pub(crate) fn claimable_at(kind: &EventKind) -> Option<Millis> {
    match kind {
        EventKind::RunQueued { run_at, .. } => Some(*run_at),
        EventKind::RunFailed { retry_at, .. } => *retry_at,
        _ => None,
    }
}

/// Claims up to `limit` runs for `worker` and announces them.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn claim(
    shared: &Shared,
    worker: &str,
    lease: Duration,
    limit: usize,
    external: bool,
    agent: Option<&str>,
    tasks: Option<Vec<String>>,
    now: Millis,
) -> Result<Vec<Run>, StoreError> {
    let runs = shared
        .store
        .claim_runs(&ClaimRequest {
            worker: worker.to_owned(),
            now,
            lease: millis(lease),
            limit,
            external,
            agent: agent.map(str::to_owned),
            tasks,
            aging: millis(shared.options.aging).max(1),
        })
        .await?;
    shared.announce(
        runs.iter()
            .map(|run| EventKind::RunStarted {
                run: run.id,
                task: run.task.clone(),
                agent: run.agent.clone(),
                attempt: run.attempt,
                worker: worker.to_owned(),
            })
            .collect(),
    );
    Ok(runs)
}

/// Releases the runs a previous process of this database left running (internal runs held by
/// another worker that is not a live node of the registry: on the embedded store, any other
/// worker) and the runs whose lease expired.
pub(crate) async fn recover(shared: &Shared) -> Result<(), StoreError> {
    let running = shared
        .store
        .runs(&RunQuery {
            task: None,
            agent: None,
            states: vec![RunState::Running],
            before: None,
            limit: iza_store::MAX_RUNS_PAGE,
        })
        .await?;
    // On a shared store, the workers of live nodes are not dead: only the runs of workers no
    // longer registered alive are released (the rest when their leases end).
    let dead = crate::cluster::dead_workers(
        shared.store.as_ref(),
        &shared.options.worker,
        running
            .iter()
            .filter(|r| !r.external)
            .filter_map(|r| r.worker.clone()),
    )
    .await;
    release(shared, &dead).await
}

/// Releases expired runs (and those of `dead` workers), and handles what it released.
async fn release(shared: &Shared, dead: &[String]) -> Result<(), StoreError> {
    let released = shared
        .store
        .release_expired_runs(shared.now(), dead)
        .await?;
    for run in released {
        let error = run
            .error
            .clone()
            .unwrap_or_else(|| "lease expired: its worker stopped".to_owned());
        match run.state {
            RunState::Queued => {
                shared.announce(vec![EventKind::RunFailed {
                    run: run.id,
                    task: run.task.clone(),
                    agent: run.agent.clone(),
                    attempt: run.attempt,
                    duration_ms: 0,
                    error,
                    retry_at: Some(run.run_at),
                }]);
                shared.due_at(run.run_at);
            }
            RunState::Failed => {
                shared.announce(vec![EventKind::RunFailed {
                    run: run.id,
                    task: run.task.clone(),
                    agent: run.agent.clone(),
                    attempt: run.attempt,
                    duration_ms: 0,
                    error: error.clone(),
                    retry_at: None,
                }]);
                escalation::exhausted(shared, &run, &error).await;
                shared.finished.notify_waiters();
            }
            _ => {}
        }
    }
    Ok(())
}

/// The worker loop; see the module documentation.
pub(crate) async fn run(shared: Arc<Shared>) {
    let workers = shared.options.workers.max(1);
    let lease = shared.options.lease;
    let beat_every = millis(lease / 3).max(1);
    let poll = millis(shared.options.poll).max(1);
    let mut stopping = shared.stopping.subscribe();
    let mut running: JoinSet<RunId> = JoinSet::new();
    let mut handles: HashMap<RunId, AbortHandle> = HashMap::new();
    let mut next_beat = shared.now() + beat_every;
    let mut next_release = shared.now() + millis(lease / 2).max(1);
    // Runs claimed by `run_now`'s dispatch at once (`dispatch.rs`), their slots reserved.
    let mut handed = shared
        .handed
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    // Whether this round claims: not after a wake-up that only brought handed runs (their
    // claim took every free slot's run that was claimable then).
    let mut claim_now = true;
    loop {
        if *stopping.borrow() {
            break;
        }
        // One reading of the clock per round: the claim and the due times agree on it.
        let now = shared.now();
        shared.slots.hold(handles.len(), 0);
        let free = if claim_now {
            shared.slots.reserve(workers)
        } else {
            0
        };
        claim_now = true;
        if free > 0 {
            let worker = shared.options.worker.clone();
            match claim(&shared, &worker, lease, free, false, None, None, now).await {
                Ok(runs) => {
                    for run in runs {
                        let id = run.id;
                        let cancel = CancelSignal::register(&shared, id);
                        let handle = running.spawn(execute(shared.clone(), run, cancel));
                        handles.insert(id, handle);
                    }
                }
                Err(err) => tracing::error!("agents: claiming runs failed: {err}"),
            }
            shared.slots.hold(handles.len(), free);
        }
        if now >= next_beat {
            next_beat = now + beat_every;
            if !handles.is_empty() {
                let ids: Vec<RunId> = handles.keys().copied().collect();
                match shared
                    .store
                    .heartbeat_runs(&shared.options.worker, &ids, now + millis(lease))
                    .await
                {
                    Ok(held) => {
                        let settling = shared
                            .settling
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .clone();
                        for id in lost_leases(&ids, &held, &settling) {
                            tracing::warn!("agents: run #{id} lost its lease; stopping it");
                            if let Some(handle) = handles.remove(&id) {
                                handle.abort();
                            }
                        }
                    }
                    Err(err) => tracing::error!("agents: heartbeat failed: {err}"),
                }
            }
        }
        if now >= next_release {
            next_release = now + millis(lease / 2).max(1);
            if let Err(err) = release(&shared, &[]).await {
                tracing::error!("agents: releasing expired runs failed: {err}");
            }
        }
        let mut wake_at = (now + poll).min(next_beat).min(next_release);
        if let Some(due) = shared.next_due(now) {
            wake_at = wake_at.min(due);
        }
        let clock = shared.options.clock.clone();
        tokio::select! {
            Some(runs) = async {
                match handed.as_mut() {
                    Some(handed) => handed.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                let count = runs.len();
                for run in runs {
                    let id = run.id;
                    let cancel = CancelSignal::register(&shared, id);
                    let handle = running.spawn(execute(shared.clone(), run, cancel));
                    handles.insert(id, handle);
                }
                shared.slots.hold(handles.len(), count);
                claim_now = false;
            }
            () = shared.wake.notified() => {}
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(id) = done {
                    handles.remove(&id);
                }
                // Every other run that ended meanwhile too: their slots are claimed together.
                while let Some(done) = running.try_join_next() {
                    if let Ok(id) = done {
                        handles.remove(&id);
                    }
                }
                handles.retain(|_, h| !h.is_finished());
            }
            () = clock.sleep_until(wake_at) => {}
            _ = stopping.wait_for(|s| *s) => {}
        }
    }
    // Runs handed over and not received yet go back to the queue with those left running; a
    // hand-over from now on fails, and its sender puts its runs back itself.
    let mut unstarted: Vec<RunId> = Vec::new();
    if let Some(handed) = handed.as_mut() {
        handed.close();
        while let Ok(runs) = handed.try_recv() {
            unstarted.extend(runs.iter().map(|run| run.id));
        }
    }
    // The shutdown: running runs get until the deadline, the rest go back to the queue.
    let deadline = *shared
        .shutdown_deadline
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let _ = tokio::time::timeout(deadline, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    let left: Vec<RunId> = handles
        .iter()
        .filter(|(_, h)| !h.is_finished())
        .map(|(id, _)| *id)
        .chain(unstarted)
        .collect();
    running.shutdown().await;
    if !left.is_empty() {
        let at = shared.now();
        let finishes: Vec<RunFinish> = left
            .iter()
            .map(|id| RunFinish {
                id: *id,
                worker: shared.options.worker.clone(),
                at,
                outcome: RunOutcome::Failed { retry_at: Some(at) },
                output: None,
                error: Some("interrupted by the shutdown of `iza`".to_owned()),
            })
            .collect();
        if let Err(err) = shared.store.finish_runs(&finishes).await {
            tracing::error!("agents: putting interrupted runs back on the queue failed: {err}");
        }
    }
}

/// The cancel signal of a run this process executes: registered when the run is claimed,
/// removed when its execution ends (or is aborted), so that [`super::Agents::cancel`] finds
/// only runs still in hand.
pub(crate) struct CancelSignal {
    shared: Arc<Shared>,
    run: RunId,
    signal: Arc<Notify>,
}

impl CancelSignal {
    pub(crate) fn register(shared: &Arc<Shared>, run: RunId) -> CancelSignal {
        let signal = Arc::new(Notify::new());
        shared
            .cancels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(run, signal.clone());
        CancelSignal {
            shared: shared.clone(),
            run,
            signal,
        }
    }
}

impl Drop for CancelSignal {
    fn drop(&mut self) {
        self.shared
            .cancels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.run);
        self.shared
            .cancel_reasons
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.run);
    }
}

/// How an attempt ended, before it is written.
enum Attempt {
    Done(Result<Option<String>, ActionError>),
    Cancelled,
}

/// Runs one claimed run's action within its timeout and settles it; a cancel drops the action
/// (an `exec` child is killed with its group, an `http` request abandoned) and ends the run
/// `cancelled`.
pub(crate) async fn execute(shared: Arc<Shared>, run: Run, cancel: CancelSignal) -> RunId {
    let catalog = shared.catalog();
    let task = shared.task(&catalog, &run.task).cloned();
    let attempt = match &task {
        None => Attempt::Done(Err(ActionError::new(format!(
            "task `{}` is no longer in the manifest",
            run.task
        )))),
        Some(task) => {
            let started = shared.now();
            let timeout = millis(task.timeout).max(1);
            let clock = shared.options.clock.clone();
            tokio::select! {
                result = perform(&shared, task, &run) => Attempt::Done(result),
                () = clock.sleep_until(started + timeout) => Attempt::Done(Err(ActionError::new(format!(
                    "timed out after {} (the task's `timeout`)",
                    humantime::format_duration(task.timeout)
                )))),
                () = cancel.signal.notified() => Attempt::Cancelled,
            }
        }
    };
    // From here the run is being settled: its finish ends its lease, which the heartbeat must
    // not take for a lost one (it would abort the escalation of a final failure).
    shared
        .settling
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(run.id);
    let settled = match attempt {
        Attempt::Done(result) => settle(&shared, &run, result).await,
        Attempt::Cancelled => {
            let reason = shared
                .cancel_reasons
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&run.id)
                .cloned()
                .unwrap_or_else(|| "cancelled".to_owned());
            settle_cancelled(&shared, &run, reason).await
        }
    };
    if let Err(err) = settled {
        tracing::error!("agents: finishing run #{} failed: {err}", run.id);
    }
    shared
        .settling
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&run.id);
    drop(cancel);
    run.id
}

/// The runs a heartbeat found without their lease (another worker may hold them now) and that
/// are still in their action, so they must be stopped: those being settled lost the lease to
/// their own finish.
fn lost_leases(beaten: &[RunId], held: &[RunId], settling: &HashSet<RunId>) -> Vec<RunId> {
    beaten
        .iter()
        .filter(|id| !held.contains(id) && !settling.contains(id))
        .copied()
        .collect()
}

/// Ends a run this worker holds as `cancelled`.
async fn settle_cancelled(shared: &Shared, run: &Run, reason: String) -> Result<(), StoreError> {
    let done = shared
        .finish(RunFinish {
            id: run.id,
            worker: run.worker.clone().unwrap_or_default(),
            at: shared.now(),
            outcome: RunOutcome::Cancelled,
            output: None,
            error: Some(reason),
        })
        .await?;
    if done {
        shared.cancelled(run);
    } else {
        shared.finished.notify_waiters();
    }
    Ok(())
}

/// Performs a task's action for a run.
async fn perform(shared: &Shared, task: &Task, run: &Run) -> Result<Option<String>, ActionError> {
    let values = Placeholders::of_run(&run.trigger, &task.key, task.agent.as_deref());
    match &task.action {
        None => Err(ActionError::new(format!(
            "task `{}` has no `run`",
            task.key
        ))),
        Some(Action::External) => Err(ActionError::new(
            "an external task is run by external agents, not by `iza`",
        )),
        Some(action) => actions::perform(shared, action, &values).await,
    }
}

/// Finishes a run with the result of its attempt: success, a retry after a backoff, or a
/// final failure (then escalation); announces it and wakes those who wait.
pub(crate) async fn settle(
    shared: &Shared,
    run: &Run,
    result: Result<Option<String>, ActionError>,
) -> Result<(), StoreError> {
    let at = shared.now();
    let duration_ms = run
        .started_at
        .map_or(0, |s| u64::try_from(at.saturating_sub(s)).unwrap_or(0));
    let worker = run.worker.clone().unwrap_or_default();
    let catalog = shared.catalog();
    let task = shared.task(&catalog, &run.task).cloned();
    match result {
        Ok(output) => {
            let done = shared
                .finish(RunFinish {
                    id: run.id,
                    worker,
                    at,
                    outcome: RunOutcome::Succeeded,
                    output,
                    error: None,
                })
                .await?;
            if done {
                shared.announce(vec![EventKind::RunSucceeded {
                    run: run.id,
                    task: run.task.clone(),
                    agent: run.agent.clone(),
                    attempt: run.attempt,
                    duration_ms,
                }]);
                escalation::succeeded(shared, run).await;
            }
        }
        Err(failure) => {
            let retry_at = (run.attempt < run.max_attempts).then(|| {
                let (base, max) = task
                    .as_ref()
                    .map_or((Duration::from_secs(5), Duration::from_secs(300)), |t| {
                        (t.backoff, t.backoff_max)
                    });
                at + millis(backoff(base, max, run.attempt, shared.random()))
            });
            let done = shared
                .finish(RunFinish {
                    id: run.id,
                    worker,
                    at,
                    outcome: RunOutcome::Failed { retry_at },
                    output: failure.output.clone(),
                    error: Some(failure.error.clone()),
                })
                .await?;
            if done {
                shared.announce(vec![EventKind::RunFailed {
                    run: run.id,
                    task: run.task.clone(),
                    agent: run.agent.clone(),
                    attempt: run.attempt,
                    duration_ms,
                    error: failure.error.clone(),
                    retry_at,
                }]);
                match retry_at {
                    Some(at) => shared.due_at(at),
                    None => escalation::exhausted(shared, run, &failure.error).await,
                }
            }
        }
    }
    shared.finished.notify_waiters();
    shared.wake.notify_one();
    Ok(())
}

/// The trigger kind of a run (`tick`, `event`, `manual`, `escalation`).
pub(crate) fn trigger_kind(trigger: &Value) -> &str {
    trigger
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("manual")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_runs_still_in_their_action_are_stopped_for_a_lost_lease() {
        /// The runs a heartbeat renewed, those it found held, those being settled, and those
        /// to stop.
        type Case<'a> = (&'a [RunId], &'a [RunId], &'a [RunId], &'a [RunId]);
        let cases: [Case; 5] = [
            (&[1, 2, 3], &[1, 2, 3], &[], &[]),
            (&[1, 2, 3], &[1, 3], &[], &[2]),
            // Run 2's finish committed (its lease ended with it) while it is being escalated.
            (&[1, 2, 3], &[1, 3], &[2], &[]),
            (&[1, 2, 3], &[], &[2], &[1, 3]),
            (&[], &[], &[7], &[]),
        ];
        for (beaten, held, settling, stopped) in cases {
            let settling: HashSet<RunId> = settling.iter().copied().collect();
            assert_eq!(
                lost_leases(beaten, held, &settling),
                stopped,
                "{beaten:?} {held:?} {settling:?}"
            );
        }
    }

    #[test]
    fn another_nodes_queued_run_and_retry_are_claimable_here_when_due() {
        let queued = |run_at| EventKind::RunQueued {
            run: 1,
            task: "a/t".to_owned(),
            agent: Some("a".to_owned()),
            priority: "high".to_owned(),
            trigger: "manual".to_owned(),
            run_at,
        };
        let failed = |retry_at| EventKind::RunFailed {
            run: 1,
            task: "a/t".to_owned(),
            agent: None,
            attempt: 1,
            duration_ms: 5,
            error: "boom".to_owned(),
            retry_at,
        };
        let succeeded = EventKind::RunSucceeded {
            run: 1,
            task: "a/t".to_owned(),
            agent: None,
            attempt: 1,
            duration_ms: 5,
        };
        let cases = [
            (queued(1_000), Some(1_000)),
            (queued(9_000), Some(9_000)),
            (failed(Some(7_000)), Some(7_000)),
            (failed(None), None),
            (succeeded, None),
        ];
        for (kind, want) in cases {
            assert_eq!(claimable_at(&kind), want, "{kind:?}");
        }
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap_less_a_fifth_of_jitter() {
        let base = Duration::from_secs(5);
        let max = Duration::from_secs(60);
        assert_eq!(backoff(base, max, 1, 0.0), Duration::from_secs(5));
        assert_eq!(backoff(base, max, 2, 0.0), Duration::from_secs(10));
        assert_eq!(backoff(base, max, 3, 0.0), Duration::from_secs(20));
        assert_eq!(backoff(base, max, 5, 0.0), Duration::from_secs(60));
        assert_eq!(backoff(base, max, 40, 0.0), Duration::from_secs(60));
        assert_eq!(
            backoff(base, max, 1, 0.5),
            Duration::from_secs(4) + Duration::from_millis(500)
        );
        assert!(backoff(base, max, 9, 0.999) >= Duration::from_secs(48));
    }
}
