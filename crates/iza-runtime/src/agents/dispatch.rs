//! Dispatch at once: `run_now` of a run this process can start while the worker has free
//! slots enqueues it and, in the same store transaction, runs the worker's ordinary claim for
//! those slots (`Store::enqueue_and_claim_runs`), then hands what it claimed straight to the
//! worker loop. The claim is the ordinary one (priority order with aging, the tasks'
//! concurrency, leases): when a run of higher rank is queued, that one is claimed and the new
//! run waits like any other. What it saves is the second commit, the worker's wake-up and its
//! claim's round trips to the store, all on the idle dispatch's path (`docs/performance.md`).
//!
//! Slots: the worker's free slots are counted in [`Slots`], which the worker loop and this
//! path both reserve from before they claim, so that together they never hold more runs than
//! `workers`.

use std::sync::{Arc, Mutex, PoisonError};

use iza_store::{ClaimRequest, NewRun, Run, RunFinish, RunId, RunOutcome, StoreError};
use serde_json::Value;

use super::{Shared, millis, priority_word};
use crate::event::EventKind;

/// The worker's slots: the runs it holds (`in_hand`, as the worker loop last counted them) and
/// those reserved by claims under way.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    in_hand: usize,
    reserved: usize,
}

impl Slots {
    /// Reserves every free slot of `workers` (none when all are held or reserved).
    pub(crate) fn reserve(&self, workers: usize) -> usize {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let free = workers.saturating_sub(state.in_hand + state.reserved);
        state.reserved += free;
        free
    }

    /// Gives back `count` reserved slots that claimed nothing.
    pub(crate) fn unreserve(&self, count: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.reserved = state.reserved.saturating_sub(count);
    }

    /// The worker loop holds `in_hand` runs; `reserved` of its reservation became runs in hand
    /// (or are given back). One step, so the free count never looks larger than it is.
    pub(crate) fn hold(&self, in_hand: usize, reserved: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.in_hand = in_hand;
        state.reserved = state.reserved.saturating_sub(reserved);
    }
}

/// Reserved slots, given back when dropped unless handed over (a claim that failed, a panic).
struct Reservation<'a> {
    slots: &'a Slots,
    count: usize,
}

impl Reservation<'_> {
    /// Keeps `used` slots reserved (their runs go to the worker loop, which takes the
    /// reservation over) and gives back the rest now.
    fn keep(mut self, used: usize) {
        let unused = self.count.saturating_sub(used);
        self.slots.unreserve(unused);
        self.count = 0;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.count > 0 {
            self.slots.unreserve(self.count);
        }
    }
}

/// Runs handed from [`enqueue_at_once`] to the worker loop, which holds their slots from then
/// on (the reservation of each is the loop's).
pub(crate) type Handoff = tokio::sync::mpsc::UnboundedSender<Vec<Run>>;

/// Enqueues `run` and claims for the worker's free slots in one transaction when it can run
/// here at once (an internal run, due now, a worker with a free slot, not stopping, dispatch at
/// once enabled); `Err(run)` when it cannot, for the ordinary enqueue. Runs in a task of its
/// own, so a caller that stops waiting cannot leave runs claimed and not handed over.
pub(crate) async fn enqueue_at_once(
    shared: &Arc<Shared>,
    run: NewRun,
) -> Result<Result<RunId, StoreError>, NewRun> {
    if !shared.options.dispatch_at_once
        || run.external
        || run.run_at > shared.now()
        || *shared.stopping.borrow()
    {
        return Err(run);
    }
    let shared = shared.clone();
    let task = tokio::spawn(async move { claim_with(&shared, run).await });
    match task.await {
        Ok(answer) => answer,
        Err(panicked) => Ok(Err(StoreError::Query(format!(
            "enqueueing a run: the dispatch task failed: {panicked}"
        )))),
    }
}

async fn claim_with(
    shared: &Arc<Shared>,
    run: NewRun,
) -> Result<Result<RunId, StoreError>, NewRun> {
    let workers = shared.options.workers.max(1);
    let free = shared.slots.reserve(workers);
    if free == 0 {
        return Err(run);
    }
    let reservation = Reservation {
        slots: &shared.slots,
        count: free,
    };
    let worker = shared.options.worker.clone();
    let request = ClaimRequest {
        worker: worker.clone(),
        now: shared.now(),
        lease: millis(shared.options.lease),
        limit: free,
        external: false,
        agent: None,
        tasks: None,
        aging: millis(shared.options.aging).max(1),
    };
    let (ids, claimed) = match shared
        .store
        .enqueue_and_claim_runs(std::slice::from_ref(&run), &request)
        .await
    {
        Ok(answer) => answer,
        Err(error) => return Ok(Err(error)),
    };
    let Some(id) = ids.into_iter().flatten().next() else {
        return Ok(Err(StoreError::Query(
            "enqueueing a run: the store returned no id".to_owned(),
        )));
    };
    reservation.keep(claimed.len());
    let mut events = vec![EventKind::RunQueued {
        run: id,
        task: run.task.clone(),
        agent: run.agent.clone(),
        priority: priority_word(run.priority).to_owned(),
        trigger: run
            .trigger
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("manual")
            .to_owned(),
        run_at: run.run_at,
    }];
    events.extend(claimed.iter().map(|run| EventKind::RunStarted {
        run: run.id,
        task: run.task.clone(),
        agent: run.agent.clone(),
        attempt: run.attempt,
        worker: worker.clone(),
    }));
    let new_run_waits = !claimed.iter().any(|claimed| claimed.id == id);
    // Announced before the hand-over, so that no event of a run's action comes before them.
    shared.announce(events);
    if !claimed.is_empty() {
        let count = claimed.len();
        let sent = shared.handoff.send(claimed).map_err(|returned| returned.0);
        if let Err(claimed) = sent {
            // The worker loop has stopped: the runs go back to the queue, as the shutdown does
            // with those it held.
            shared.slots.unreserve(count);
            put_back(shared, &claimed).await;
        }
    }
    if new_run_waits {
        shared.wake.notify_one();
        shared.queued.notify_waiters();
    }
    Ok(Ok(id))
}

/// Puts claimed runs the worker will not run back on the queue (retried at once).
async fn put_back(shared: &Shared, runs: &[Run]) {
    let at = shared.now();
    let finishes: Vec<RunFinish> = runs
        .iter()
        .map(|run| RunFinish {
            id: run.id,
            worker: shared.options.worker.clone(),
            at,
            outcome: RunOutcome::Failed { retry_at: Some(at) },
            output: None,
            error: Some("interrupted by the shutdown of `iza`".to_owned()),
        })
        .collect();
    match shared.store.finish_runs(&finishes).await {
        Ok(done) => shared.announce(
            runs.iter()
                .filter(|run| done.contains(&run.id))
                .map(|run| EventKind::RunFailed {
                    run: run.id,
                    task: run.task.clone(),
                    agent: run.agent.clone(),
                    attempt: run.attempt,
                    duration_ms: 0,
                    error: "interrupted by the shutdown of `iza`".to_owned(),
                    retry_at: Some(at),
                })
                .collect(),
        ),
        Err(err) => tracing::error!("agents: putting runs back on the queue failed: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_never_reserved_beyond_the_workers() {
        let slots = Slots::default();
        assert_eq!(slots.reserve(4), 4);
        assert_eq!(slots.reserve(4), 0, "all reserved");
        slots.unreserve(1);
        assert_eq!(slots.reserve(4), 1);
        // The loop now holds 3 runs, of which 3 came from the reservation; 1 stays reserved.
        slots.hold(3, 3);
        assert_eq!(slots.reserve(4), 0);
        slots.unreserve(1);
        assert_eq!(slots.reserve(4), 1);
        slots.unreserve(1);
        // Runs end: the loop holds 1.
        slots.hold(1, 0);
        assert_eq!(slots.reserve(4), 3);
        {
            let reservation = Reservation {
                slots: &slots,
                count: 3,
            };
            drop(reservation);
        }
        assert_eq!(slots.reserve(4), 3, "a dropped reservation is given back");
        let reservation = Reservation {
            slots: &slots,
            count: 3,
        };
        reservation.keep(2);
        assert_eq!(slots.reserve(4), 1, "two stay reserved for the handed runs");
    }
}
