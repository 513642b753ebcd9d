//! Conformance cases of the run queue and incidents. Every case passes `now` explicitly.

use std::collections::HashSet;
use std::sync::Arc;

use iza_store::{
    ClaimRequest, EscalationStep, IncidentQuery, IncidentState, MAX_RUNS_PAGE, Millis, NewIncident,
    NewRun, QueueDepth, Retention, Run, RunFinish, RunOutcome, RunPriority, RunQuery, RunState,
    StepOutcome, Store, StoreError,
};

use super::{BASE, DAY, HOUR, StoreUnderTest};

const SECOND: Millis = 1_000;

pub(crate) fn new_run(task: &str, priority: RunPriority, at: Millis) -> NewRun {
    NewRun {
        task: task.to_owned(),
        agent: Some("ops".to_owned()),
        priority,
        dedupe: None,
        tick: None,
        run_at: at,
        max_attempts: 1,
        concurrency: 1_000,
        external: false,
        trigger: serde_json::json!({"kind": "manual"}),
        enqueued_at: at,
    }
}

pub(crate) fn claim_request(worker: &str, now: Millis, limit: usize) -> ClaimRequest {
    ClaimRequest {
        worker: worker.to_owned(),
        now,
        lease: 30 * SECOND,
        limit,
        external: false,
        agent: None,
        tasks: None,
        aging: 60 * SECOND,
    }
}

fn finish(run: &Run, at: Millis, outcome: RunOutcome) -> RunFinish {
    RunFinish {
        id: run.id,
        worker: run.worker.clone().unwrap_or_default(),
        at,
        outcome,
        output: Some(format!("output of {}", run.id)),
        error: None,
    }
}

async fn enqueue_one(store: &dyn Store, run: NewRun) -> i64 {
    store.enqueue_runs(&[run]).await.unwrap()[0].expect("enqueued")
}

async fn state_of(store: &dyn Store, id: i64) -> Run {
    store.run(id).await.unwrap().expect("the run exists")
}

pub(crate) async fn runs_round_trip_and_page(store: StoreUnderTest) {
    let mut first = new_run("ops/backup", RunPriority::Low, BASE);
    first.trigger = serde_json::json!({"kind": "tick", "service": "n8n 'quoted' ☃"});
    first.dedupe = Some("tick-1".to_owned());
    let mut second = new_run("ops/check", RunPriority::High, BASE + 1);
    second.agent = None;
    second.external = true;
    let ids = store.enqueue_runs(&[first.clone(), second]).await.unwrap();
    let (a, b) = (ids[0].unwrap(), ids[1].unwrap());
    assert!(b > a, "ids increase in enqueue order");

    let run = state_of(&*store, a).await;
    assert_eq!(run.task, "ops/backup");
    assert_eq!(run.agent.as_deref(), Some("ops"));
    assert_eq!(run.priority, RunPriority::Low);
    assert_eq!(run.state, RunState::Queued);
    assert_eq!((run.attempt, run.max_attempts), (0, 1));
    assert_eq!(run.dedupe.as_deref(), Some("tick-1"));
    assert_eq!(run.trigger, first.trigger);
    assert_eq!((run.enqueued_at, run.run_at), (BASE, BASE));
    assert_eq!(
        (run.started_at, run.finished_at, run.worker),
        (None, None, None)
    );
    assert!(!run.external);
    assert!(state_of(&*store, b).await.external);
    assert!(store.run(b + 100).await.unwrap().is_none());

    let all = store
        .runs(&RunQuery {
            limit: 10,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), vec![b, a]);
    let by_task = store
        .runs(&RunQuery {
            task: Some("ops/check".to_owned()),
            limit: 10,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_task.len(), 1);
    assert_eq!(by_task[0].id, b);
    let by_agent = store
        .runs(&RunQuery {
            agent: Some("ops".to_owned()),
            limit: 10,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_agent.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a]);
    let before = store
        .runs(&RunQuery {
            before: Some(b),
            limit: 10,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(before.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a]);
    let running = store
        .runs(&RunQuery {
            states: vec![RunState::Running, RunState::Failed],
            limit: 10,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert!(running.is_empty());

    // Pages are capped.
    let many: Vec<NewRun> = (0..MAX_RUNS_PAGE as i64 + 5)
        .map(|i| new_run("ops/many", RunPriority::Medium, BASE + i))
        .collect();
    let many_ids: Vec<i64> = store
        .enqueue_runs(&many)
        .await
        .unwrap()
        .into_iter()
        .map(|id| id.expect("no dedupe key: enqueued"))
        .collect();
    let page = store
        .runs(&RunQuery {
            limit: MAX_RUNS_PAGE + 100,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len(), MAX_RUNS_PAGE);
    // The ids returned are the runs' own, in the order given (checked over several statements).
    let newest: Vec<i64> = many_ids.iter().rev().take(MAX_RUNS_PAGE).copied().collect();
    assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), newest);
    for (id, run) in many_ids.iter().zip(&many).step_by(97) {
        assert_eq!(state_of(&*store, *id).await.enqueued_at, run.enqueued_at);
    }
    assert!(page.windows(2).all(|pair| pair[0].id > pair[1].id));
}

pub(crate) async fn enqueue_is_exactly_once(store: StoreUnderTest) {
    let keyed = |task: &str, key: &str| NewRun {
        dedupe: Some(key.to_owned()),
        ..new_run(task, RunPriority::Medium, BASE)
    };
    let ids = store
        .enqueue_runs(&[
            keyed("a", "k1"),
            keyed("a", "k1"),
            new_run("a", RunPriority::Medium, BASE),
            keyed("b", "k1"),
            keyed("a", "k2"),
        ])
        .await
        .unwrap();
    assert!(ids[0].is_some());
    assert_eq!(ids[1], None, "the same (task, dedupe) in one batch");
    assert!(ids[2].is_some(), "no dedupe key: never deduplicated");
    assert!(ids[3].is_some(), "dedupe keys are per task");
    assert!(ids[4].is_some());
    let again = store
        .enqueue_runs(&[keyed("a", "k2"), keyed("a", "k3"), keyed("a", "k1")])
        .await
        .unwrap();
    assert_eq!(again[0], None);
    assert!(again[1].is_some());
    assert_eq!(again[2], None);
    let distinct: HashSet<i64> = ids.iter().chain(&again).flatten().copied().collect();
    assert_eq!(distinct.len(), 5);

    // Schedule ticks: a tick at or before the task's mark is skipped, whatever its dedupe key.
    let tick = |task: &str, at: Millis| NewRun {
        tick: Some(at),
        dedupe: Some(format!("tick-{at}-{}", at % 7)),
        ..new_run(task, RunPriority::Medium, at)
    };
    let ids = store
        .enqueue_runs(&[tick("s", BASE), tick("s", BASE + SECOND), tick("t", BASE)])
        .await
        .unwrap();
    assert!(ids.iter().all(Option::is_some), "{ids:?}");
    let ids = store
        .enqueue_runs(&[
            NewRun {
                dedupe: None,
                ..tick("s", BASE + SECOND)
            },
            tick("s", BASE),
            tick("s", BASE + 2 * SECOND),
            tick("t", BASE + SECOND),
        ])
        .await
        .unwrap();
    assert_eq!(ids[0], None, "the latest tick again");
    assert_eq!(ids[1], None, "an older tick");
    assert!(ids[2].is_some() && ids[3].is_some());
    assert_eq!(
        store.schedule_marks().await.unwrap(),
        vec![
            ("s".to_owned(), BASE + 2 * SECOND),
            ("t".to_owned(), BASE + SECOND)
        ]
    );
}

pub(crate) async fn claims_take_priority_then_oldest(store: StoreUnderTest) {
    let mut batch = Vec::new();
    for i in 0..4 {
        for priority in [RunPriority::Low, RunPriority::Medium, RunPriority::High] {
            batch.push(new_run(&format!("t{i}"), priority, BASE + i));
        }
    }
    let ids: Vec<i64> = store
        .enqueue_runs(&batch)
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    // Not due yet: nothing to claim.
    let early = store
        .claim_runs(&claim_request("w", BASE - 1, 10))
        .await
        .unwrap();
    assert!(early.is_empty());

    let now = BASE + 10;
    let first = store.claim_runs(&claim_request("w", now, 5)).await.unwrap();
    let ranks: Vec<(RunPriority, i64)> = first.iter().map(|r| (r.priority, r.id)).collect();
    let high: Vec<i64> = ids.iter().skip(2).step_by(3).copied().collect();
    let medium: Vec<i64> = ids.iter().skip(1).step_by(3).copied().collect();
    assert_eq!(
        ranks,
        vec![
            (RunPriority::High, high[0]),
            (RunPriority::High, high[1]),
            (RunPriority::High, high[2]),
            (RunPriority::High, high[3]),
            (RunPriority::Medium, medium[0]),
        ]
    );
    for run in &first {
        assert_eq!(run.state, RunState::Running);
        assert_eq!(run.attempt, 1);
        assert_eq!(run.worker.as_deref(), Some("w"));
        assert_eq!(run.started_at, Some(now));
        assert_eq!(run.lease_until, Some(now + 30 * SECOND));
        assert_eq!(state_of(&*store, run.id).await, *run);
    }
    let rest = store
        .claim_runs(&claim_request("w", now, 100))
        .await
        .unwrap();
    assert_eq!(rest.len(), 7);
    assert!(
        rest.windows(2)
            .all(|pair| (pair[0].priority, pair[0].id) < (pair[1].priority, pair[1].id))
    );
    assert!(
        store
            .claim_runs(&claim_request("w", now, 100))
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn priority_holds_under_contention(store: StoreUnderTest) {
    let store: Arc<dyn Store> = store.shared();
    let mut batch = Vec::new();
    for i in 0..120 {
        let priority = [RunPriority::Low, RunPriority::High, RunPriority::Medium][i % 3];
        batch.push(new_run(&format!("task-{}", i % 7), priority, BASE));
    }
    store.enqueue_runs(&batch).await.unwrap();
    let mut workers = Vec::new();
    for worker in 0..4 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let name = format!("worker-{worker}");
            let mut claimed = Vec::new();
            loop {
                let runs = store
                    .claim_runs(&claim_request(&name, BASE + 1, 3))
                    .await
                    .unwrap();
                if runs.is_empty() {
                    return claimed;
                }
                assert!(runs.windows(2).all(|p| p[0].priority <= p[1].priority));
                let worst = runs.iter().map(|r| r.priority).max().unwrap();
                // This claim took a run of rank `worst`: no better run was left queued.
                let left = store
                    .runs(&RunQuery {
                        states: vec![RunState::Queued],
                        limit: 1_000,
                        ..RunQuery::default()
                    })
                    .await
                    .unwrap();
                assert!(
                    left.iter().all(|run| run.priority >= worst),
                    "{name} claimed a {worst:?} run while a better one was queued"
                );
                claimed.extend(runs.into_iter().map(|run| run.id));
            }
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 120, "every run claimed");
    assert_eq!(distinct.len(), 120, "no run claimed twice");
}

pub(crate) async fn aging_bounds_starvation(store: StoreUnderTest) {
    const AGING: Millis = 10 * SECOND;
    const STEP: Millis = 500;
    let low = enqueue_one(&*store, new_run("slow/report", RunPriority::Low, BASE)).await;
    // A sustained flood: every step 4 fresh high runs, and a worker claiming 4 per step.
    let mut claimed_at = None;
    let mut now = BASE;
    let mut high_claimed = 0;
    while now <= BASE + 4 * AGING {
        let flood: Vec<NewRun> = (0..4)
            .map(|i| new_run(&format!("hot/{i}"), RunPriority::High, now))
            .collect();
        store.enqueue_runs(&flood).await.unwrap();
        let mut request = claim_request("w", now, 4);
        request.aging = AGING;
        let runs = store.claim_runs(&request).await.unwrap();
        assert_eq!(runs.len(), 4);
        if runs.iter().any(|run| run.id == low) {
            claimed_at = Some(now);
            break;
        }
        high_claimed += runs.len();
        now += STEP;
    }
    let claimed_at = claimed_at.expect("the low run was claimed");
    let waited = claimed_at - BASE;
    assert!(
        waited <= 2 * AGING + STEP,
        "the low run waited {waited} ms, beyond 2 * aging + one claim"
    );
    assert!(
        waited >= 2 * AGING - STEP,
        "the low run jumped the flood after {waited} ms"
    );
    assert!(high_claimed > 0);
}

pub(crate) async fn concurrency_is_per_task(store: StoreUnderTest) {
    let limited = |i: i64| NewRun {
        concurrency: 2,
        ..new_run("one/limited", RunPriority::High, BASE + i)
    };
    let mut batch: Vec<NewRun> = (0..5).map(limited).collect();
    batch.extend((0..3).map(|i| new_run("two/free", RunPriority::Low, BASE + i)));
    store.enqueue_runs(&batch).await.unwrap();
    let now = BASE + 10;
    let first = store
        .claim_runs(&claim_request("w", now, 10))
        .await
        .unwrap();
    let limited_running: Vec<&Run> = first.iter().filter(|r| r.task == "one/limited").collect();
    assert_eq!(limited_running.len(), 2, "{first:?}");
    assert_eq!(
        first.len(),
        5,
        "the other task's runs are claimed past the limited one"
    );
    assert!(
        store
            .claim_runs(&claim_request("w2", now, 10))
            .await
            .unwrap()
            .is_empty(),
        "the limited task is at its concurrency"
    );
    let done = store
        .finish_runs(&[finish(limited_running[0], now + 1, RunOutcome::Succeeded)])
        .await
        .unwrap();
    assert_eq!(done, vec![limited_running[0].id]);
    let next = store
        .claim_runs(&claim_request("w2", now + 2, 10))
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].task, "one/limited");

    // A claim of one looks at two candidates: both are the limited task's (high), now at its
    // concurrency again, so the claim looks past them for the other task's (low) run.
    enqueue_one(&*store, new_run("two/free", RunPriority::Low, now + 3)).await;
    let past = store
        .claim_runs(&claim_request("w3", now + 4, 1))
        .await
        .unwrap();
    assert_eq!(past.len(), 1, "{past:?}");
    assert_eq!(past[0].task, "two/free");
}

pub(crate) async fn claims_filter_external_agent_and_tasks(store: StoreUnderTest) {
    let external = NewRun {
        external: true,
        ..new_run("ops/review", RunPriority::High, BASE)
    };
    let mut other_agent = new_run("dev/build", RunPriority::High, BASE);
    other_agent.agent = Some("dev".to_owned());
    let ids: Vec<i64> = store
        .enqueue_runs(&[
            external,
            other_agent,
            new_run("ops/check", RunPriority::Low, BASE),
        ])
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    let now = BASE + 1;
    let mut request = claim_request("w", now, 10);
    request.agent = Some("ops".to_owned());
    let internal = store.claim_runs(&request).await.unwrap();
    assert_eq!(
        internal.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[2]]
    );
    request.external = true;
    request.tasks = Some(vec!["ops/other".to_owned()]);
    assert!(store.claim_runs(&request).await.unwrap().is_empty());
    request.tasks = Some(vec!["ops/review".to_owned()]);
    let outside = store.claim_runs(&request).await.unwrap();
    assert_eq!(
        outside.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[0]]
    );
    let rest = store
        .claim_runs(&claim_request("w", now, 10))
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ids[1]]);
}

pub(crate) async fn leases_heartbeats_and_expiry(store: StoreUnderTest) {
    let id = enqueue_one(
        &*store,
        NewRun {
            max_attempts: 2,
            ..new_run("ops/long", RunPriority::Medium, BASE)
        },
    )
    .await;
    let mut request = claim_request("w1", BASE, 1);
    request.lease = 1_000;
    let claimed = store.claim_runs(&request).await.unwrap();
    assert_eq!(claimed[0].lease_until, Some(BASE + 1_000));

    assert!(
        store
            .heartbeat_runs("intruder", &[id], BASE + 9_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .heartbeat_runs("w1", &[id, id + 50], BASE + 3_000)
            .await
            .unwrap(),
        vec![id]
    );
    assert_eq!(state_of(&*store, id).await.lease_until, Some(BASE + 3_000));
    assert!(
        store
            .release_expired_runs(BASE + 2_000, &[])
            .await
            .unwrap()
            .is_empty(),
        "the lease was renewed"
    );
    assert!(
        store
            .release_expired_runs(BASE + 3_000, &[])
            .await
            .unwrap()
            .is_empty(),
        "a lease ending now is still held"
    );
    let released = store.release_expired_runs(BASE + 3_001, &[]).await.unwrap();
    assert_eq!(released.len(), 1);
    let run = &released[0];
    assert_eq!(run.state, RunState::Queued, "one attempt left");
    assert_eq!((run.attempt, run.run_at), (1, BASE + 3_001));
    assert_eq!(run.lease_until, None);
    let error = run.error.as_deref().unwrap();
    assert!(error.starts_with("lease expired: worker `w1`"), "{error}");
    assert_eq!(state_of(&*store, id).await, *run);
    // The late finish of the old holder is refused.
    assert!(
        store
            .finish_runs(&[finish(&claimed[0], BASE + 3_002, RunOutcome::Succeeded)])
            .await
            .unwrap()
            .is_empty()
    );

    let mut request = claim_request("w2", BASE + 3_002, 1);
    request.lease = 60_000;
    let again = store.claim_runs(&request).await.unwrap();
    assert_eq!(again[0].attempt, 2);
    // A dead worker's runs are released before their lease ends; attempts exhausted: failed.
    assert!(
        store
            .release_expired_runs(BASE + 4_000, &["w1".to_owned()])
            .await
            .unwrap()
            .is_empty()
    );
    let released = store
        .release_expired_runs(BASE + 4_000, &["w2".to_owned()])
        .await
        .unwrap();
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].state, RunState::Failed);
    assert_eq!(released[0].finished_at, Some(BASE + 4_000));
    let error = released[0].error.as_deref().unwrap();
    assert!(error.contains("`w2` is gone"), "{error}");
    assert!(error.contains("attempt 2 of 2"), "{error}");
}

pub(crate) async fn finish_by_holder_and_retry(store: StoreUnderTest) {
    let ids: Vec<i64> = store
        .enqueue_runs(&[
            NewRun {
                max_attempts: 3,
                ..new_run("ops/flaky", RunPriority::Medium, BASE)
            },
            new_run("ops/fails", RunPriority::Medium, BASE),
            new_run("ops/stopped", RunPriority::Medium, BASE),
        ])
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    let claimed = store
        .claim_runs(&claim_request("w", BASE, 10))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let mut intruder = finish(&claimed[0], BASE + 5, RunOutcome::Succeeded);
    intruder.worker = "intruder".to_owned();
    assert!(store.finish_runs(&[intruder]).await.unwrap().is_empty());
    assert_eq!(state_of(&*store, ids[0]).await.state, RunState::Running);

    let retry_at = BASE + 5 * SECOND;
    let finishes = vec![
        RunFinish {
            error: Some("exit status 1".to_owned()),
            ..finish(
                &claimed[0],
                BASE + 100,
                RunOutcome::Failed {
                    retry_at: Some(retry_at),
                },
            )
        },
        RunFinish {
            error: Some("connection refused".to_owned()),
            ..finish(
                &claimed[1],
                BASE + 100,
                RunOutcome::Failed { retry_at: None },
            )
        },
        finish(&claimed[2], BASE + 100, RunOutcome::Cancelled),
    ];
    assert_eq!(store.finish_runs(&finishes).await.unwrap(), ids);
    let retried = state_of(&*store, ids[0]).await;
    assert_eq!(retried.state, RunState::Queued);
    assert_eq!((retried.run_at, retried.attempt), (retry_at, 1));
    assert_eq!(retried.error.as_deref(), Some("exit status 1"));
    assert_eq!(retried.output, Some(format!("output of {}", ids[0])));
    assert_eq!((retried.finished_at, retried.lease_until), (None, None));
    let failed = state_of(&*store, ids[1]).await;
    assert_eq!(failed.state, RunState::Failed);
    assert_eq!(failed.finished_at, Some(BASE + 100));
    assert_eq!(failed.error.as_deref(), Some("connection refused"));
    assert_eq!(state_of(&*store, ids[2]).await.state, RunState::Cancelled);
    // A second finish of a finished run is refused.
    assert!(store.finish_runs(&finishes[1..2]).await.unwrap().is_empty());

    assert!(
        store
            .claim_runs(&claim_request("w", retry_at - 1, 10))
            .await
            .unwrap()
            .is_empty(),
        "not before retry_at"
    );
    let second = store
        .claim_runs(&claim_request("w", retry_at, 10))
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].attempt, 2);
    let done = RunFinish {
        output: Some("ok".to_owned()),
        ..finish(&second[0], retry_at + 250, RunOutcome::Succeeded)
    };
    assert_eq!(store.finish_runs(&[done]).await.unwrap(), vec![ids[0]]);
    let succeeded = state_of(&*store, ids[0]).await;
    assert_eq!(succeeded.state, RunState::Succeeded);
    assert_eq!(succeeded.started_at, Some(retry_at));
    assert_eq!(succeeded.finished_at, Some(retry_at + 250));
    assert_eq!(
        (succeeded.output.as_deref(), succeeded.error),
        (Some("ok"), None)
    );
}

pub(crate) async fn cancel_and_queue_depth(store: StoreUnderTest) {
    let mut later = new_run("ops/later", RunPriority::Low, BASE);
    later.run_at = BASE + HOUR;
    let ids: Vec<i64> = store
        .enqueue_runs(&[
            new_run("a", RunPriority::High, BASE),
            new_run("b", RunPriority::High, BASE),
            new_run("c", RunPriority::Medium, BASE),
            new_run("d", RunPriority::Low, BASE),
            later,
        ])
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(
        store.queue_depth(BASE).await.unwrap(),
        QueueDepth {
            ready: [2, 1, 1],
            scheduled: 1,
            running: 0
        }
    );
    let claimed = store
        .claim_runs(&claim_request("w", BASE, 1))
        .await
        .unwrap();
    assert_eq!(claimed[0].id, ids[0]);
    assert_eq!(
        store
            .cancel_runs(&[ids[0], ids[1], ids[4]], BASE + 7)
            .await
            .unwrap(),
        vec![ids[1], ids[4]],
        "only queued runs are cancelled"
    );
    let cancelled = state_of(&*store, ids[1]).await;
    assert_eq!(cancelled.state, RunState::Cancelled);
    assert_eq!(cancelled.finished_at, Some(BASE + 7));
    assert_eq!(
        store.queue_depth(BASE + HOUR).await.unwrap(),
        QueueDepth {
            ready: [0, 1, 1],
            scheduled: 0,
            running: 1
        }
    );
}

/// Enqueues, claims and finishes one run of `task` that takes `duration` ms, ending at `end`.
async fn finished_run(
    store: &dyn Store,
    task: &str,
    end: Millis,
    duration: Millis,
    outcome: RunOutcome,
    tick: Option<Millis>,
) -> i64 {
    let start = end - duration;
    let id = enqueue_one(
        store,
        NewRun {
            tick,
            ..new_run(task, RunPriority::Medium, start)
        },
    )
    .await;
    let mut request = claim_request("w", start, 1);
    request.tasks = Some(vec![task.to_owned()]);
    let claimed = store.claim_runs(&request).await.unwrap();
    assert_eq!(claimed[0].id, id);
    let finished = store
        .finish_runs(&[RunFinish {
            error: Some("why".to_owned()),
            ..finish(&claimed[0], end, outcome)
        }])
        .await
        .unwrap();
    assert_eq!(finished, vec![id]);
    id
}

pub(crate) async fn task_stats_count_and_time_runs(store: StoreUnderTest) {
    let failed = RunOutcome::Failed { retry_at: None };
    let now = BASE + DAY;
    for (i, duration) in [100, 200, 300, 400, 1_000].into_iter().enumerate() {
        let outcome = if i == 4 {
            failed.clone()
        } else {
            RunOutcome::Succeeded
        };
        finished_run(
            &*store,
            "ops/a",
            now - 10 * SECOND + i as i64,
            duration,
            outcome,
            None,
        )
        .await;
    }
    let last_b = finished_run(
        &*store,
        "ops/b",
        now - 5 * SECOND,
        50,
        RunOutcome::Succeeded,
        None,
    )
    .await;
    finished_run(
        &*store,
        "ops/c",
        now - 2 * DAY,
        50,
        RunOutcome::Succeeded,
        None,
    )
    .await;
    finished_run(
        &*store,
        "ops/b",
        now - 6 * SECOND,
        50,
        RunOutcome::Cancelled,
        None,
    )
    .await;

    let stats = store.task_stats(now - HOUR).await.unwrap();
    assert_eq!(
        stats.iter().map(|s| s.task.as_str()).collect::<Vec<_>>(),
        vec!["ops/a", "ops/b"]
    );
    let a = &stats[0];
    assert_eq!((a.runs, a.succeeded, a.failed), (5, 4, 1));
    let p50 = a.p50_ms.unwrap();
    assert!((270.0..=330.0).contains(&p50), "p50 {p50}");
    let p95 = a.p95_ms.unwrap();
    assert!((900.0..=1_000.0).contains(&p95), "p95 {p95}");
    assert_eq!(a.last.as_ref().unwrap().state, RunState::Failed);
    let b = &stats[1];
    assert_eq!(
        (b.runs, b.succeeded, b.failed),
        (1, 1, 0),
        "cancelled runs do not count"
    );
    assert_eq!(b.last.as_ref().unwrap().id, last_b);
    assert!(store.task_stats(now).await.unwrap().is_empty());
}

pub(crate) async fn retention_prunes_outputs_then_rolls_up_runs(store: StoreUnderTest) {
    let now = BASE + 10 * DAY;
    let failed = RunOutcome::Failed { retry_at: None };
    let old_tick = now - 5 * DAY - 100;
    let old = finished_run(
        &*store,
        "ops/a",
        now - 5 * DAY,
        100,
        RunOutcome::Succeeded,
        Some(old_tick),
    )
    .await;
    let old_failed = finished_run(&*store, "ops/a", now - 5 * DAY + 1, 300, failed, None).await;
    let middle = finished_run(
        &*store,
        "ops/a",
        now - 2 * DAY,
        200,
        RunOutcome::Succeeded,
        None,
    )
    .await;
    let fresh = finished_run(
        &*store,
        "ops/a",
        now - HOUR,
        200,
        RunOutcome::Succeeded,
        None,
    )
    .await;
    let queued = enqueue_one(&*store, new_run("ops/a", RunPriority::Low, now - 6 * DAY)).await;

    // Incidents: one resolved long ago, one resolved recently, one open.
    let open = |task: &str, at: Millis| NewIncident {
        task: task.to_owned(),
        agent: None,
        run: old,
        reason: "failed".to_owned(),
        at,
    };
    let (gone, _) = store
        .open_incident(&open("x", now - 9 * DAY))
        .await
        .unwrap();
    let (kept, _) = store
        .open_incident(&open("y", now - 9 * DAY))
        .await
        .unwrap();
    let (still_open, _) = store
        .open_incident(&open("z", now - 9 * DAY))
        .await
        .unwrap();
    store
        .resolve_incidents(&[gone.id], None, now - 8 * DAY, "fixed")
        .await
        .unwrap();
    store
        .resolve_incidents(&[kept.id], None, now - DAY, "fixed")
        .await
        .unwrap();

    let before = store.task_stats(now - 7 * DAY).await.unwrap();
    let retention = Retention {
        run_outputs: DAY,
        runs: 3 * DAY,
        events: 7 * DAY,
        ..Retention::default()
    };
    store.maintain(now, retention).await.unwrap();
    store.maintain(now + 1, retention).await.unwrap();

    assert!(store.run(old).await.unwrap().is_none());
    assert!(store.run(old_failed).await.unwrap().is_none());
    let middle = state_of(&*store, middle).await;
    assert_eq!(
        (middle.output, middle.error),
        (None, None),
        "outputs pruned first"
    );
    assert_eq!(middle.state, RunState::Succeeded);
    let fresh = state_of(&*store, fresh).await;
    assert!(fresh.output.is_some() && fresh.error.is_some());
    assert_eq!(
        state_of(&*store, queued).await.state,
        RunState::Queued,
        "unfinished runs stay"
    );

    let after = store.task_stats(now - 7 * DAY).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(
        (after[0].runs, after[0].succeeded, after[0].failed),
        (before[0].runs, before[0].succeeded, before[0].failed)
    );
    assert_eq!((after[0].runs, after[0].failed), (4, 1));
    assert!(after[0].p50_ms.is_some());

    // The deleted run's tick is still never enqueued again.
    let again = store
        .enqueue_runs(&[NewRun {
            tick: Some(old_tick),
            ..new_run("ops/a", RunPriority::Medium, now)
        }])
        .await
        .unwrap();
    assert_eq!(again, vec![None]);

    assert!(store.incident(gone.id).await.unwrap().is_none());
    assert!(store.incident(kept.id).await.unwrap().is_some());
    assert!(store.incident(still_open.id).await.unwrap().is_some());
}

pub(crate) async fn incidents_open_escalate_and_resolve(store: StoreUnderTest) {
    let new = |task: &str, run: i64, at: Millis| NewIncident {
        task: task.to_owned(),
        agent: Some("error-handler".to_owned()),
        run,
        reason: format!("run {run} failed"),
        at,
    };
    let (first, opened) = store.open_incident(&new("ops/a", 1, BASE)).await.unwrap();
    assert!(opened);
    assert_eq!(first.state, IncidentState::Open);
    assert_eq!((first.failures, first.run, first.opened_at), (1, 1, BASE));
    assert_eq!(first.reason, "run 1 failed");
    assert!(first.chain.is_empty());
    let (same, opened) = store
        .open_incident(&new("ops/a", 2, BASE + 1))
        .await
        .unwrap();
    assert!(!opened, "one open incident per task");
    assert_eq!((same.id, same.failures, same.run), (first.id, 2, 1));
    let (other, opened) = store
        .open_incident(&new("ops/b", 3, BASE + 2))
        .await
        .unwrap();
    assert!(opened);
    assert_ne!(other.id, first.id);

    let step = EscalationStep {
        agent: "orchestrator".to_owned(),
        at: BASE + 10,
        outcome: StepOutcome::Pending,
        run: None,
    };
    let escalated = store.add_escalation_step(first.id, &step).await.unwrap();
    assert_eq!(escalated.chain, vec![step.clone()]);
    let second_step = EscalationStep {
        agent: "master".to_owned(),
        outcome: StepOutcome::NoHandler,
        ..step.clone()
    };
    store
        .add_escalation_step(first.id, &second_step)
        .await
        .unwrap();
    let updated = store
        .update_escalation_step(first.id, 0, StepOutcome::Failed, Some(42))
        .await
        .unwrap();
    assert_eq!(updated.chain[0].outcome, StepOutcome::Failed);
    assert_eq!(updated.chain[0].run, Some(42));
    assert_eq!(updated.chain[1], second_step);
    assert_eq!(store.incident(first.id).await.unwrap().unwrap(), updated);
    assert!(matches!(
        store
            .update_escalation_step(first.id, 2, StepOutcome::Handled, None)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.add_escalation_step(first.id + 100, &step).await,
        Err(StoreError::NotFound(_))
    ));

    let open = store
        .incidents(&IncidentQuery {
            open_only: true,
            limit: 10,
            ..IncidentQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        open.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![other.id, first.id]
    );

    // Resolve by id, then by task.
    let resolved = store
        .resolve_incidents(&[first.id, first.id + 100], None, BASE + 60, "by alice")
        .await
        .unwrap();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].state, IncidentState::Resolved);
    assert_eq!(resolved[0].resolved_at, Some(BASE + 60));
    assert_eq!(resolved[0].resolution.as_deref(), Some("by alice"));
    assert!(
        store
            .resolve_incidents(&[first.id], None, BASE + 61, "again")
            .await
            .unwrap()
            .is_empty(),
        "a resolved incident stays as it was resolved"
    );
    let resolved = store
        .resolve_incidents(&[], Some("ops/b"), BASE + 70, "run 9 succeeded")
        .await
        .unwrap();
    assert_eq!(
        resolved.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![other.id]
    );

    // A new failure after resolution opens a new incident.
    let (third, opened) = store
        .open_incident(&new("ops/a", 5, BASE + 80))
        .await
        .unwrap();
    assert!(opened);
    assert!(third.id > other.id);
    let of_a = store
        .incidents(&IncidentQuery {
            task: Some("ops/a".to_owned()),
            limit: 10,
            ..IncidentQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        of_a.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![third.id, first.id]
    );
    let page = store
        .incidents(&IncidentQuery {
            before: Some(third.id),
            limit: 1,
            ..IncidentQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![other.id]
    );
}

pub(crate) async fn aged_and_fresh_runs_merge_in_order(store: StoreUnderTest) {
    const AGING: Millis = 1_000;
    let now = BASE + 10 * SECOND;
    // An old low run (due for 1.5 aging steps: effective rank 1), then fresh runs.
    let low = enqueue_one(&*store, new_run("x/low", RunPriority::Low, now - 1_500)).await;
    let fresh: Vec<NewRun> = (0..40)
        .map(|i| new_run("x/high", RunPriority::High, now - 10 + i % 5))
        .chain((0..3).map(|_| new_run("x/medium", RunPriority::Medium, now)))
        .collect();
    let ids: Vec<i64> = store
        .enqueue_runs(&fresh)
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    let mut order = Vec::new();
    loop {
        let mut request = claim_request("w", now, 7);
        request.aging = AGING;
        let claimed = store.claim_runs(&request).await.unwrap();
        if claimed.is_empty() {
            break;
        }
        order.extend(claimed.into_iter().map(|run| run.id));
    }
    // Highs (rank 0), then rank 1 by id: the old low run before the fresh medium ones.
    let mut expected: Vec<i64> = ids[..40].to_vec();
    expected.push(low);
    expected.extend(&ids[40..]);
    assert_eq!(order, expected);
}

/// `enqueue_and_claim_runs` enqueues like `enqueue_runs` and claims, in the same transaction,
/// exactly what `claim_runs` would claim right after: priority order with aging, the tasks'
/// concurrency caps, only due internal runs; what it claims is leased like any claim
/// (heartbeat, expiry, finish by the holder only).
pub(crate) async fn enqueue_and_claim_is_the_ordinary_claim(store: StoreUnderTest) {
    // Ordering: a high run queued before takes the one free slot, the new low run waits.
    let high = enqueue_one(&*store, new_run("ops/urgent", RunPriority::High, BASE)).await;
    let mut request = claim_request("w1", BASE + 10, 1);
    request.lease = 1_000;
    let (ids, claimed) = store
        .enqueue_and_claim_runs(
            &[new_run("ops/later", RunPriority::Low, BASE + 10)],
            &request,
        )
        .await
        .unwrap();
    let low = ids[0].expect("enqueued");
    assert!(low > high);
    assert_eq!(claimed.iter().map(|r| r.id).collect::<Vec<_>>(), vec![high]);
    assert_eq!(state_of(&*store, low).await.state, RunState::Queued);

    // Leased like any claim: running, attempt 1, held by the worker until now + lease.
    let run = &claimed[0];
    assert_eq!(
        (run.state, run.attempt, run.worker.as_deref()),
        (RunState::Running, 1, Some("w1"))
    );
    assert_eq!(
        (run.started_at, run.lease_until),
        (Some(BASE + 10), Some(BASE + 1_010))
    );
    assert_eq!(state_of(&*store, high).await, *run);

    // A free slot with nothing ahead: the new run itself, with the queued low one, in claim
    // order (medium before low); a run due later and an external one are not claimed.
    let later = NewRun {
        run_at: BASE + 60_000,
        ..new_run("ops/later", RunPriority::High, BASE + 20)
    };
    let external = NewRun {
        external: true,
        ..new_run("ops/review", RunPriority::High, BASE + 20)
    };
    let (ids, claimed) = store
        .enqueue_and_claim_runs(
            &[
                later,
                new_run("ops/now", RunPriority::Medium, BASE + 20),
                external,
            ],
            &claim_request("w2", BASE + 20, 5),
        )
        .await
        .unwrap();
    let ids: Vec<i64> = ids.into_iter().map(|id| id.expect("enqueued")).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    assert_eq!(
        claimed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[1], low]
    );
    assert!(claimed.iter().all(|r| r.worker.as_deref() == Some("w2")));
    for id in [ids[0], ids[2]] {
        assert_eq!(state_of(&*store, id).await.state, RunState::Queued);
    }

    // Caps: a task at its concurrency is passed over, for another task's run.
    let capped = |at: Millis| NewRun {
        concurrency: 1,
        ..new_run("ops/capped", RunPriority::High, at)
    };
    let (_, first) = store
        .enqueue_and_claim_runs(&[capped(BASE + 30)], &claim_request("w3", BASE + 30, 1))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].task, "ops/capped");
    let (ids, claimed) = store
        .enqueue_and_claim_runs(
            &[
                capped(BASE + 31),
                new_run("ops/free", RunPriority::Low, BASE + 31),
            ],
            &claim_request("w3", BASE + 31, 1),
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert_eq!(claimed[0].id, ids[1].unwrap(), "the capped task is full");
    assert_eq!(
        state_of(&*store, ids[0].unwrap()).await.state,
        RunState::Queued
    );

    // Dedupe keys as in `enqueue_runs`: a duplicate is skipped (None), the claim still runs.
    let keyed = NewRun {
        dedupe: Some("k".to_owned()),
        ..new_run("ops/keyed", RunPriority::Low, BASE + 40)
    };
    let (ids, _) = store
        .enqueue_and_claim_runs(
            std::slice::from_ref(&keyed),
            &claim_request("w4", BASE + 40, 1),
        )
        .await
        .unwrap();
    assert!(ids[0].is_some());
    let (ids, claimed) = store
        .enqueue_and_claim_runs(
            &[keyed, new_run("ops/extra", RunPriority::Low, BASE + 41)],
            &claim_request("w4", BASE + 41, 1),
        )
        .await
        .unwrap();
    assert_eq!(ids[0], None, "the same (task, dedupe)");
    let extra = ids[1].expect("enqueued");
    assert_eq!(
        claimed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![extra],
        "the other run of the batch"
    );
    // No slot: only the enqueue.
    let (ids, claimed) = store
        .enqueue_and_claim_runs(
            &[new_run("ops/none", RunPriority::High, BASE + 42)],
            &claim_request("w4", BASE + 42, 0),
        )
        .await
        .unwrap();
    let unclaimed = ids[0].expect("enqueued");
    assert!(claimed.is_empty());

    // The lease of a run claimed this way: renewed by its holder only, released at its end,
    // the old holder's finish refused afterwards.
    assert!(
        store
            .heartbeat_runs("intruder", &[high], BASE + 9_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .heartbeat_runs("w1", &[high], BASE + 2_000)
            .await
            .unwrap(),
        vec![high]
    );
    let released = store.release_expired_runs(BASE + 2_001, &[]).await.unwrap();
    assert!(
        released
            .iter()
            .any(|r| r.id == high && r.state == RunState::Failed),
        "one attempt, lease expired: {released:?}"
    );
    assert!(
        store
            .finish_runs(&[finish(run, BASE + 2_002, RunOutcome::Succeeded)])
            .await
            .unwrap()
            .is_empty()
    );

    // Nothing left open: an ordinary enqueue and claim work after all of the above.
    let next = enqueue_one(&*store, new_run("ops/after", RunPriority::High, BASE + 50)).await;
    let depth = store.queue_depth(BASE + 50).await.unwrap();
    assert!(depth.ready[0] >= 1, "{depth:?}");
    let claimed = store
        .claim_runs(&claim_request("w5", BASE + 50, 2))
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![unclaimed, next]
    );
}

/// `claim_run` takes one queued, due run by its id (what `iza run` without a server does),
/// whatever the priorities around it, and nothing else; finishes of alike runs in one batch
/// and of runs not held are told apart.
pub(crate) async fn a_run_is_claimed_by_its_id_and_batches_finish_only_what_is_held(
    store: StoreUnderTest,
) {
    let ids: Vec<i64> = store
        .enqueue_runs(&[
            new_run("ops/high", RunPriority::High, BASE),
            new_run("ops/low", RunPriority::Low, BASE),
            NewRun {
                run_at: BASE + 60_000,
                ..new_run("ops/later", RunPriority::Low, BASE)
            },
        ])
        .await
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let (high, low, later) = (ids[0], ids[1], ids[2]);
    let claimed = store
        .claim_run(low, "local", BASE + 1, 30_000)
        .await
        .unwrap()
        .expect("a queued, due run is claimable by id");
    assert_eq!(
        (
            claimed.id,
            claimed.state,
            claimed.attempt,
            claimed.worker.as_deref()
        ),
        (low, RunState::Running, 1, Some("local"))
    );
    assert_eq!(claimed.lease_until, Some(BASE + 30_001));
    // Not twice, not before it is due, not an unknown one; the others stay queued.
    assert!(
        store
            .claim_run(low, "other", BASE + 2, 30_000)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .claim_run(later, "local", BASE + 2, 30_000)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .claim_run(9_999, "local", BASE + 2, 30_000)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.run(high).await.unwrap().unwrap().state,
        RunState::Queued
    );

    // A batch of alike finishes: the held run finishes, the one held by nobody is left alone.
    let finish = |id: i64| RunFinish {
        id,
        worker: "local".to_owned(),
        at: BASE + 5,
        outcome: RunOutcome::Succeeded,
        output: None,
        error: None,
    };
    let done = store
        .finish_runs(&[finish(high), finish(low)])
        .await
        .unwrap();
    assert_eq!(done, vec![low]);
    let low_run = store.run(low).await.unwrap().unwrap();
    assert_eq!(
        (low_run.state, low_run.finished_at),
        (RunState::Succeeded, Some(BASE + 5))
    );
    assert_eq!(
        store.run(high).await.unwrap().unwrap().state,
        RunState::Queued
    );
    // One run, retried: back to the queue at its retry time, not finished.
    let again = store
        .claim_run(high, "local", BASE + 6, 30_000)
        .await
        .unwrap()
        .unwrap();
    let done = store
        .finish_runs(&[RunFinish {
            outcome: RunOutcome::Failed {
                retry_at: Some(BASE + 10_000),
            },
            error: Some("boom".to_owned()),
            ..finish(again.id)
        }])
        .await
        .unwrap();
    assert_eq!(done, vec![high]);
    let high_run = store.run(high).await.unwrap().unwrap();
    assert_eq!(
        (
            high_run.state,
            high_run.run_at,
            high_run.finished_at,
            high_run.error.as_deref()
        ),
        (RunState::Queued, BASE + 10_000, None, Some("boom"))
    );
}
