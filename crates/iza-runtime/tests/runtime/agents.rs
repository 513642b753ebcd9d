//! The agents engine against the real SQLite store, with time on a manual clock: schedules,
//! backoff, leases and timeouts move only when a test moves the clock. Every wait polls the
//! store or the bus with a deadline.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use iza_catalog::Catalog;
use iza_probe::Prober;
use iza_runtime::agents::{Agents, AgentsOptions, Clock, ManualClock};
use iza_runtime::{EventKind, Launch, Launcher, Monitor, Status};
use iza_store::{
    Incident, IncidentQuery, IncidentState, Run, RunQuery, RunState, SqliteStore, StepOutcome,
    Store,
};
use serde_json::json;

use crate::support::*;

/// A Tuesday, 2026-01-13 10:00:03 UTC: not on any round tick.
const T0: i64 = 1_768_298_403_000;

struct Engine {
    store: Arc<dyn Store>,
    monitor: Arc<Monitor>,
    agents: Agents,
    clock: Arc<ManualClock>,
    events: Collector,
}

async fn open(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.join("state.db")).await.unwrap())
}

async fn engine(
    catalog: Arc<Catalog>,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    dir: &Path,
    workers: usize,
) -> Engine {
    let monitor = Arc::new(
        Monitor::start(
            catalog.clone(),
            Arc::new(Prober::default()),
            store.clone(),
            options(),
        )
        .await
        .unwrap(),
    );
    let events = Collector::new(&monitor);
    let mut options = AgentsOptions::new(
        format!("test-{}", clock.now()),
        Launch {
            base_dir: dir.to_owned(),
            self_exe: None,
            launcher: Launcher::direct(),
        },
    );
    options.clock = clock.clone();
    options.workers = workers;
    options.seed = Some(7);
    options.aging = Duration::from_secs(600);
    let agents = Agents::start(catalog, store.clone(), monitor.clone(), None, options);
    Engine {
        store,
        monitor,
        agents,
        clock,
        events,
    }
}

async fn runs_of(store: &dyn Store, task: &str) -> Vec<Run> {
    store
        .runs(&RunQuery {
            task: Some(task.to_owned()),
            agent: None,
            states: vec![],
            before: None,
            limit: 1000,
        })
        .await
        .unwrap()
}

/// Polls the store until `condition` holds for a run.
async fn until_run(
    store: &dyn Store,
    id: i64,
    what: &str,
    condition: impl Fn(&Run) -> bool,
) -> Run {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        let run = store.run(id).await.unwrap().expect("the run exists");
        if condition(&run) {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "timed out waiting until {what}: {run:#?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls the store until the open incident of `task` satisfies `condition`.
async fn until_incident(
    store: &dyn Store,
    task: &str,
    what: &str,
    condition: impl Fn(&Incident) -> bool,
) -> Incident {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        let open = store
            .incidents(&IncidentQuery {
                open_only: true,
                task: Some(task.to_owned()),
                before: None,
                limit: 10,
            })
            .await
            .unwrap();
        if let Some(incident) = open.iter().find(|i| condition(i)) {
            assert_eq!(open.len(), 1, "one open incident per task: {open:#?}");
            return incident.clone();
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "timed out waiting for {what}: {open:#?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn count(events: &Collector, pick: impl Fn(&EventKind) -> bool) -> usize {
    events.events().iter().filter(|e| pick(&e.kind)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_trigger_fires_once_per_transition_not_per_probe() {
    let dir = tempfile::tempdir().unwrap();
    let up = Switch::on();
    let server = serve(Behaviour::when({
        let up = up.clone();
        move || up.get()
    }))
    .await;
    let catalog = catalog(&format!(
        r#"
[services.web]
check = {{ http = "{}", every = "50ms", timeout = "1s", conditions = ["[STATUS] == 200"] }}
[agents.ops]
tier = 1
tasks = [ {{ name = "on-down", on = {{ status = "down", services = ["web"] }}, run = {{ exec = ["true"] }} }} ]
"#,
        server.url("/")
    ));
    let e = engine(
        catalog,
        open(dir.path()).await,
        ManualClock::new(T0),
        dir.path(),
        2,
    )
    .await;
    wait_until("web is up", || status(&e.monitor, "web") == Status::Up).await;
    let probes = |events: &Collector| {
        count(
            events,
            |k| matches!(k, EventKind::ProbeCompleted { service, .. } if service == "web"),
        )
    };

    up.set(false);
    wait_until("web is down", || status(&e.monitor, "web") == Status::Down).await;
    let seen = probes(&e.events);
    wait_until("ten more failing probes", || probes(&e.events) >= seen + 10).await;
    let runs = runs_of(e.store.as_ref(), "ops/on-down").await;
    assert_eq!(runs.len(), 1, "one run for one transition: {runs:#?}");
    assert_eq!(runs[0].trigger["service"], "web");
    assert_eq!(runs[0].trigger["status"], "down");
    until_run(e.store.as_ref(), runs[0].id, "the run succeeded", |r| {
        r.state == RunState::Succeeded
    })
    .await;

    up.set(true);
    wait_until("web is up again", || {
        status(&e.monitor, "web") == Status::Up
    })
    .await;
    up.set(false);
    wait_until("web is down again", || {
        status(&e.monitor, "web") == Status::Down
    })
    .await;
    let seen = probes(&e.events);
    wait_until("ten more failing probes", || probes(&e.events) >= seen + 10).await;
    assert_eq!(runs_of(e.store.as_ref(), "ops/on-down").await.len(), 2);
    e.agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_is_retried_with_exponential_backoff_then_escalated() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(
        r#"
[agents.boss]
tier = 1
[agents.w]
tier = 2
reports_to = "boss"
tasks = [
  { name = "job", run = { exec = ["false"] }, retries = 2, backoff = "10s", backoff_max = "15s" },
  { name = "probe", run = { exec = ["true"] } },
]
"#,
    );
    let e = engine(
        catalog,
        open(dir.path()).await,
        ManualClock::new(T0),
        dir.path(),
        2,
    )
    .await;
    let id = e.agents.run_now("w/job", json!(null)).await.unwrap();

    let first = until_run(e.store.as_ref(), id, "the first attempt failed", |r| {
        r.state == RunState::Queued && r.attempt == 1
    })
    .await;
    let wait = first.run_at - T0;
    assert!((8_000..=10_000).contains(&wait), "first backoff {wait} ms");
    assert!(
        first
            .error
            .as_deref()
            .unwrap()
            .contains("exited with code 1")
    );

    // One millisecond early: not claimed, even by a claim that takes another run.
    e.clock.set(first.run_at - 1);
    let probe = e.agents.run_now("w/probe", json!(null)).await.unwrap();
    e.agents.wait(probe, DEADLINE).await.unwrap();
    let again = e.store.run(id).await.unwrap().unwrap();
    assert_eq!((again.state, again.attempt), (RunState::Queued, 1));

    e.clock.set(first.run_at);
    let second = until_run(e.store.as_ref(), id, "the second attempt failed", |r| {
        r.state == RunState::Queued && r.attempt == 2
    })
    .await;
    let wait = second.run_at - first.run_at;
    assert!(
        (12_000..=15_000).contains(&wait),
        "second backoff {wait} ms (20 s capped at 15 s)"
    );

    e.clock.set(second.run_at);
    let last = until_run(e.store.as_ref(), id, "the run failed for good", |r| {
        r.state == RunState::Failed
    })
    .await;
    assert_eq!(last.attempt, 3);
    // The escalation follows the final failure.
    let incident = until_incident(e.store.as_ref(), "w/job", "one step", |i| {
        i.chain.len() == 1
    })
    .await;
    let incidents = [incident];
    assert_eq!(incidents[0].chain[0].agent, "boss");
    assert_eq!(incidents[0].chain[0].outcome, StepOutcome::NoHandler);
    e.agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_climbs_to_tier_one_and_a_later_success_resolves_it() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(
        r#"
[agents.top]
tier = 1
tasks = [ { name = "take over", on = { escalation = true }, run = { exec = ["sh", "-c", "echo handled $INCIDENT: $REASON"], env = { INCIDENT = "{incident}", REASON = "{reason}" } } } ]
[agents.mid]
tier = 2
reports_to = "top"
tasks = [ { name = "try fix", on = { escalation = true }, run = { exec = ["false"] } } ]
[agents.w]
tier = 3
reports_to = "mid"
tasks = [ { name = "job", run = { exec = ["test", "-f", "flag"] } } ]
"#,
    );
    let e = engine(
        catalog,
        open(dir.path()).await,
        ManualClock::new(T0),
        dir.path(),
        2,
    )
    .await;
    let id = e.agents.run_now("w/job", json!(null)).await.unwrap();
    let failed = e.agents.wait(id, DEADLINE).await.unwrap();
    assert_eq!(failed.state, RunState::Failed);

    let incident = until_incident(e.store.as_ref(), "w/job", "a handled chain", |i| {
        i.chain.len() == 2 && i.chain[1].outcome == StepOutcome::Handled
    })
    .await;
    assert_eq!(incident.chain[0].agent, "mid");
    assert_eq!(incident.chain[0].outcome, StepOutcome::Failed);
    assert_eq!(incident.chain[1].agent, "top");
    let handler = e
        .store
        .run(incident.chain[1].run.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        handler
            .output
            .as_deref()
            .unwrap()
            .starts_with(&format!("handled {}: ", incident.id)),
        "{handler:#?}"
    );
    wait_until("two escalation events on the bus", || {
        count(&e.events, |k| {
            matches!(k, EventKind::IncidentEscalated { .. })
        }) == 2
    })
    .await;

    std::fs::write(dir.path().join("flag"), "").unwrap();
    let id = e.agents.run_now("w/job", json!(null)).await.unwrap();
    assert_eq!(
        e.agents.wait(id, DEADLINE).await.unwrap().state,
        RunState::Succeeded
    );
    // The resolution follows the success.
    let give_up = tokio::time::Instant::now() + DEADLINE;
    let resolved = loop {
        let now = e.store.incident(incident.id).await.unwrap().unwrap();
        if now.state == IncidentState::Resolved {
            break now;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "not resolved: {now:#?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(
        resolved.resolution.as_deref(),
        Some(format!("run #{id} succeeded").as_str())
    );
    e.agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_program_a_closed_port_and_a_timeout_each_fail_the_run_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let catalog = catalog(&format!(
        r#"
[agents.w]
tier = 1
tasks = [
  {{ name = "missing", run = {{ exec = ["./no-such-program"] }} }},
  {{ name = "closed", run = {{ http = "POST http://127.0.0.1:{closed}/hook", body = "{{service}}" }} }},
  {{ name = "slow", timeout = "5s", run = {{ exec = ["sleep", "60"] }} }},
]
"#
    ));
    let e = engine(
        catalog,
        open(dir.path()).await,
        ManualClock::new(T0),
        dir.path(),
        4,
    )
    .await;

    let missing = e.agents.run_now("w/missing", json!(null)).await.unwrap();
    let run = e.agents.wait(missing, DEADLINE).await.unwrap();
    assert_eq!(run.state, RunState::Failed);
    let error = run.error.unwrap();
    assert!(
        error.contains("cannot start") && error.contains("no-such-program"),
        "{error}"
    );

    let closed_run = e.agents.run_now("w/closed", json!(null)).await.unwrap();
    let run = e.agents.wait(closed_run, DEADLINE).await.unwrap();
    assert_eq!(run.state, RunState::Failed);
    let error = run.error.unwrap();
    assert!(error.contains(&format!("127.0.0.1:{closed}")), "{error}");

    let slow = e.agents.run_now("w/slow", json!(null)).await.unwrap();
    until_run(e.store.as_ref(), slow, "the slow run started", |r| {
        r.state == RunState::Running
    })
    .await;
    e.clock.advance(Duration::from_secs(5));
    let run = e.agents.wait(slow, DEADLINE).await.unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(
        run.error.as_deref(),
        Some("timed out after 5s (the task's `timeout`)")
    );
    e.agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tick_is_enqueued_exactly_once_across_a_reload_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = |extra: &str| {
        catalog(&format!(
            r#"
[agents.w]
tier = 1
tasks = [ {{ name = "tick", every = "10s", run = {{ exec = ["true"] }} }}{extra} ]
"#
        ))
    };
    let clock = ManualClock::new(T0);
    let store = open(dir.path()).await;
    let e = engine(manifest(""), store.clone(), clock.clone(), dir.path(), 2).await;
    let ticks = |runs: &[Run]| {
        let mut ticks: Vec<i64> = runs
            .iter()
            .map(|r| r.trigger["tick"].as_i64().unwrap())
            .collect();
        ticks.sort_unstable();
        ticks
    };
    let first = (T0 / 10_000 + 1) * 10_000;
    // Waits for the ticker to have computed its next tick before moving the clock.
    wait_until("the task is scheduled", || {
        e.agents.tasks().iter().any(|t| t.next_run == Some(first))
    })
    .await;
    clock.set(first);
    wait_until_async("the tick is enqueued", || async {
        !runs_of(store.as_ref(), "w/tick").await.is_empty()
    })
    .await;

    // A reload with another task, then the same catalog again: the tick stays one run.
    e.agents
        .reload(manifest(
            r#", { name = "other", run = { exec = ["true"] } }"#,
        ))
        .await;
    e.agents.reload(manifest("")).await;
    wait_until("the reloaded task is scheduled", || {
        e.agents
            .tasks()
            .iter()
            .any(|t| t.next_run == Some(first + 10_000))
    })
    .await;
    assert_eq!(ticks(&runs_of(store.as_ref(), "w/tick").await), vec![first]);

    // A restart within the same tick: nothing enqueued twice.
    e.agents.shutdown(Duration::from_secs(5)).await;
    e.monitor.shutdown(Duration::from_secs(5)).await;
    drop(e);
    let e = engine(manifest(""), store.clone(), clock.clone(), dir.path(), 2).await;
    wait_until("the restarted task is scheduled", || {
        e.agents
            .tasks()
            .iter()
            .any(|t| t.next_run == Some(first + 10_000))
    })
    .await;
    assert_eq!(ticks(&runs_of(store.as_ref(), "w/tick").await), vec![first]);
    clock.set(first + 10_000);
    wait_until_async("the second tick is enqueued", || async {
        runs_of(store.as_ref(), "w/tick").await.len() >= 2
    })
    .await;
    assert_eq!(
        ticks(&runs_of(store.as_ref(), "w/tick").await),
        vec![first, first + 10_000]
    );
    e.agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_ticks_are_caught_up_as_the_task_asks() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = |catch_up: &str| {
        catalog(&format!(
            r#"
[agents.w]
tier = 1
tasks = [ {{ name = "tick", every = "10s", run = {{ exec = ["true"] }}, {catch_up} }} ]
"#
        ))
    };
    let clock = ManualClock::new(T0);
    let store = open(dir.path()).await;
    let first = (T0 / 10_000 + 1) * 10_000;
    let e = engine(
        manifest(r#"catch_up = "all""#),
        store.clone(),
        clock.clone(),
        dir.path(),
        2,
    )
    .await;
    wait_until("the task is scheduled", || {
        e.agents.tasks().iter().any(|t| t.next_run == Some(first))
    })
    .await;
    clock.set(first);
    wait_until_async("the tick is enqueued", || async {
        !runs_of(store.as_ref(), "w/tick").await.is_empty()
    })
    .await;
    e.agents.shutdown(Duration::from_secs(5)).await;
    e.monitor.shutdown(Duration::from_secs(5)).await;
    drop(e);

    // Down for three ticks and a half.
    clock.set(first + 35_000);
    let e = engine(
        manifest(r#"catch_up = "all""#),
        store.clone(),
        clock.clone(),
        dir.path(),
        2,
    )
    .await;
    wait_until_async("the missed ticks are enqueued", || async {
        runs_of(store.as_ref(), "w/tick").await.len() >= 4
    })
    .await;
    let mut ticks: Vec<i64> = runs_of(store.as_ref(), "w/tick")
        .await
        .iter()
        .map(|r| r.trigger["tick"].as_i64().unwrap())
        .collect();
    ticks.sort_unstable();
    assert_eq!(
        ticks,
        vec![first, first + 10_000, first + 20_000, first + 30_000]
    );
    e.agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_worker_takes_the_highest_priority_first() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(
        r#"
[agents.w]
tier = 1
tasks = [
  { name = "blocker", timeout = "5s", run = { exec = ["sleep", "60"] } },
  { name = "low", priority = "low", run = { exec = ["true"] } },
  { name = "medium", priority = "medium", run = { exec = ["true"] } },
  { name = "high", priority = "high", run = { exec = ["true"] } },
]
"#,
    );
    let e = engine(
        catalog,
        open(dir.path()).await,
        ManualClock::new(T0),
        dir.path(),
        1,
    )
    .await;
    let blocker = e.agents.run_now("w/blocker", json!(null)).await.unwrap();
    until_run(e.store.as_ref(), blocker, "the blocker runs", |r| {
        r.state == RunState::Running
    })
    .await;
    let low = e.agents.run_now("w/low", json!(null)).await.unwrap();
    let medium = e.agents.run_now("w/medium", json!(null)).await.unwrap();
    let high = e.agents.run_now("w/high", json!(null)).await.unwrap();
    e.clock.advance(Duration::from_secs(5));
    e.agents.wait(low, DEADLINE).await.unwrap();
    let started: Vec<i64> = e
        .events
        .events()
        .iter()
        .filter_map(|ev| match &ev.kind {
            EventKind::RunStarted { run, .. } => Some(*run),
            _ => None,
        })
        .collect();
    assert_eq!(started, vec![blocker, high, medium, low]);
    e.agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_with_a_free_slot_claims_what_the_worker_would_claim() {
    // One free slot; a medium run queued by another writer comes due while the worker sleeps
    // (the clock moves 1 ms, its poll is 1 s away). `run_now` of a low run enqueues it and
    // claims for the free slot in one transaction: the claim takes the medium run, as the
    // worker's own claim would, and the low run waits for the slot.
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let elsewhere = store
        .enqueue_runs(&[queued_elsewhere(T0 + 1)])
        .await
        .unwrap()[0]
        .unwrap();
    let catalog = catalog(&format!(
        "{QUICK}\n[agents.v]\ntier = 1\ntasks = [ {{ name = \"low\", priority = \"low\", run = {{ exec = [\"true\"] }} }} ]\n"
    ));
    let e = engine(catalog, store, ManualClock::new(T0), dir.path(), 1).await;
    e.clock.advance(Duration::from_millis(1));
    let low = e.agents.run_now("v/low", json!(null)).await.unwrap();
    e.agents.wait(low, DEADLINE).await.unwrap();
    let started: Vec<i64> = e
        .events
        .events()
        .iter()
        .filter_map(|ev| match &ev.kind {
            EventKind::RunStarted { run, .. } => Some(*run),
            _ => None,
        })
        .collect();
    assert_eq!(started, vec![elsewhere, low]);
    // Leased to this worker like any claim, and finished by it.
    for id in [elsewhere, low] {
        let run = e.store.run(id).await.unwrap().unwrap();
        assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
        assert_eq!(run.worker.as_deref(), Some(e.agents.worker()), "{run:#?}");
        assert_eq!(run.attempt, 1, "{run:#?}");
    }
    e.agents.shutdown(Duration::from_secs(5)).await;
}

/// A run of `w/quick` as another writer of the store (another node) would queue it: nothing
/// in this process is told.
fn queued_elsewhere(run_at: i64) -> iza_store::NewRun {
    iza_store::NewRun {
        task: "w/quick".to_owned(),
        agent: Some("w".to_owned()),
        priority: iza_store::RunPriority::Medium,
        dedupe: None,
        tick: None,
        run_at,
        max_attempts: 1,
        concurrency: 8,
        external: false,
        trigger: json!({ "kind": "manual" }),
        enqueued_at: T0,
    }
}

const QUICK: &str = r#"
[agents.w]
tier = 1
tasks = [ { name = "quick", concurrency = 8, run = { exec = ["true"] } } ]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_runs_slot_is_claimed_again_without_waiting_for_a_poll() {
    // One slot, four runs queued by another writer, and a clock that never moves: the poll
    // (1 s) never comes, so each next run is claimed only because the slot of the one before
    // was freed. A worker that waited for its poll after a finish would run one run here.
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let ids = store
        .enqueue_runs(&vec![queued_elsewhere(T0); 4])
        .await
        .unwrap();
    let e = engine(catalog(QUICK), store, ManualClock::new(T0), dir.path(), 1).await;
    for id in ids {
        let id = id.expect("queued");
        let run = until_run(e.store.as_ref(), id, "the run succeeds", |r| {
            r.state.is_finished()
        })
        .await;
        assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    }
    assert_eq!(e.clock.now(), T0, "the clock never moved");
    e.agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_another_node_queued_is_claimed_when_its_event_is_relayed_not_at_the_next_poll() {
    // The run comes due half a poll interval after the start; the clock moves only that far,
    // so the worker's poll never comes: the relayed `run-queued` is what makes it look. A
    // first run, queued before the start, is claimed by the worker's first round and its
    // end makes one more: both read the clock before it moves, so neither can take the
    // second run.
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let first = store.enqueue_runs(&[queued_elsewhere(T0)]).await.unwrap()[0].expect("queued");
    let e = engine(catalog(QUICK), store, ManualClock::new(T0), dir.path(), 1).await;
    until_run(e.store.as_ref(), first, "the first run succeeds", |r| {
        r.state == RunState::Succeeded
    })
    .await;
    let due = T0 + 500;
    let id = e
        .store
        .enqueue_runs(&[queued_elsewhere(due)])
        .await
        .unwrap()[0]
        .expect("queued");
    let mut relayed = iza_runtime::Event::new(
        T0,
        EventKind::RunQueued {
            run: id,
            task: "w/quick".to_owned(),
            agent: Some("w".to_owned()),
            priority: "medium".to_owned(),
            trigger: "manual".to_owned(),
            run_at: due,
        },
    );
    relayed.node = Some("node-elsewhere".to_owned());
    e.monitor.bus().publish(iza_runtime::Change {
        events: vec![relayed],
        ..iza_runtime::Change::default()
    });
    e.clock.advance(Duration::from_millis(500));
    let run = until_run(e.store.as_ref(), id, "the run succeeds", |r| {
        r.state.is_finished()
    })
    .await;
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    assert_eq!(
        e.clock.now(),
        due,
        "the clock moved to the run's due time only"
    );
    e.agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_claim_expires_without_heartbeats_and_completes_under_another_worker() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(
        r#"
[agents.human]
tier = 1
tasks = [ { name = "approve", retries = 1, run = { external = true } } ]
"#,
    );
    let e = engine(
        catalog,
        open(dir.path()).await,
        ManualClock::new(T0),
        dir.path(),
        2,
    )
    .await;
    let id = e
        .agents
        .run_now("human/approve", json!({"by": "test"}))
        .await
        .unwrap();
    let lease = Duration::from_secs(10);
    let claimed = e
        .agents
        .claim_external("human", None, "alice", lease)
        .await
        .unwrap()
        .expect("the external run is claimable");
    assert_eq!((claimed.id, claimed.attempt), (id, 1));
    assert!(
        e.agents
            .heartbeat_external(id, "alice", lease)
            .await
            .unwrap()
    );
    assert!(
        !e.agents
            .heartbeat_external(id, "mallory", lease)
            .await
            .unwrap()
    );

    // No heartbeat for longer than the lease: the engine puts the run back on the queue.
    e.clock.advance(Duration::from_secs(40));
    until_run(
        e.store.as_ref(),
        id,
        "the expired claim was released",
        |r| r.state == RunState::Queued,
    )
    .await;
    assert!(
        !e.agents
            .heartbeat_external(id, "alice", lease)
            .await
            .unwrap()
    );
    assert!(matches!(
        e.agents.complete_external(id, "alice", true, None).await,
        Err(iza_runtime::agents::AgentsError::NotHeld { .. })
    ));

    let again = e
        .agents
        .claim_external("human", Some(vec!["human/approve".into()]), "bob", lease)
        .await
        .unwrap()
        .expect("claimable again");
    assert_eq!((again.id, again.attempt), (id, 2));
    let done = e
        .agents
        .complete_external(id, "bob", true, Some("approved".into()))
        .await
        .unwrap();
    assert_eq!(done.state, RunState::Succeeded);
    assert_eq!(done.output.as_deref(), Some("approved"));
    e.agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_http_and_restart_actions_report_what_they_found() {
    let dir = tempfile::tempdir().unwrap();
    let up = Switch::on();
    let server = serve(Behaviour::when({
        let up = up.clone();
        move || up.get()
    }))
    .await;
    let catalog = catalog(&format!(
        r#"
[services.web]
command = ["sleep", "600"]
check = {{ http = "{url}", every = "1h", timeout = "1s", conditions = ["[STATUS] == 200"] }}
[agents.w]
tier = 1
tasks = [
  {{ name = "check web", run = {{ check = "web" }} }},
  {{ name = "call web", run = {{ http = "{url}", conditions = ["[STATUS] == 200"] }} }},
  {{ name = "restart web", run = {{ restart = "web" }} }},
]
"#,
        url = server.url("/")
    ));
    let e = engine(
        catalog,
        open(dir.path()).await,
        ManualClock::new(T0),
        dir.path(),
        2,
    )
    .await;
    let probes = |events: &Collector| {
        count(
            events,
            |k| matches!(k, EventKind::ProbeCompleted { service, .. } if service == "web"),
        )
    };
    wait_until("the first probe of web", || probes(&e.events) >= 1).await;
    let before = probes(&e.events);

    let id = e.agents.run_now("w/check-web", json!(null)).await.unwrap();
    let run = e.agents.wait(id, DEADLINE).await.unwrap();
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    assert!(run.output.as_deref().unwrap().starts_with("`web` is up"));
    // Recorded like any probe (its interval is an hour: no scheduled probe came meanwhile).
    wait_until("the check's probe on the bus", || {
        probes(&e.events) > before
    })
    .await;

    let id = e.agents.run_now("w/call-web", json!(null)).await.unwrap();
    assert_eq!(
        e.agents.wait(id, DEADLINE).await.unwrap().state,
        RunState::Succeeded
    );

    up.set(false);
    let id = e.agents.run_now("w/check-web", json!(null)).await.unwrap();
    let run = e.agents.wait(id, DEADLINE).await.unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert!(
        run.error.as_deref().unwrap().starts_with("`web` is down"),
        "{run:#?}"
    );
    let id = e.agents.run_now("w/call-web", json!(null)).await.unwrap();
    let run = e.agents.wait(id, DEADLINE).await.unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert!(
        run.error
            .as_deref()
            .unwrap()
            .contains("[STATUS] (503) == 200"),
        "{run:#?}"
    );

    // No supervisor (as under `iza serve`): a clear run error.
    let id = e
        .agents
        .run_now("w/restart-web", json!(null))
        .await
        .unwrap();
    let run = e.agents.wait(id, DEADLINE).await.unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert!(
        run.error
            .as_deref()
            .unwrap()
            .contains("nothing is supervised under `iza serve`")
    );
    e.agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_run_is_cancelled_before_it_runs_and_a_running_exec_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(
        r#"
[agents.w]
tier = 1
tasks = [
  { name = "approve", run = { external = true } },
  { name = "slow", timeout = "10m", run = { exec = ["sh", "-c", "echo $$ > slow.pid; exec sleep 600"] } },
]
"#,
    );
    let e = engine(
        catalog,
        open(dir.path()).await,
        ManualClock::new(T0),
        dir.path(),
        2,
    )
    .await;

    // Queued (external: the engine never takes it): cancelled, never claimable.
    let queued = e.agents.run_now("w/approve", json!(null)).await.unwrap();
    let run = e.agents.cancel(queued, "the tester").await.unwrap();
    assert_eq!(run.state, RunState::Cancelled);
    assert!(
        e.agents
            .claim_external("w", None, "alice", Duration::from_secs(10))
            .await
            .unwrap()
            .is_none()
    );

    // Running: the action is dropped, its process group killed, the run ends cancelled.
    let slow = e.agents.run_now("w/slow", json!(null)).await.unwrap();
    until_run(e.store.as_ref(), slow, "the slow run started", |r| {
        r.state == RunState::Running
    })
    .await;
    let pid_file = dir.path().join("slow.pid");
    wait_until("the slow run wrote its pid", || {
        std::fs::read_to_string(&pid_file).is_ok_and(|t| t.ends_with('\n'))
    })
    .await;
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    let run = e.agents.cancel(slow, "the tester").await.unwrap();
    assert_eq!(run.state, RunState::Cancelled, "{run:#?}");
    assert_eq!(run.error.as_deref(), Some("cancelled by the tester"));
    assert!(run.finished_at.is_some());
    // The child is killed with its group (a zombie reaped by its parent counts as gone).
    wait_until("the cancelled run's process is gone", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |stat| stat.contains(") Z "))
    })
    .await;
    // The events reach the collector through the bus: wait for both, then check their order.
    let cancelled = || -> Vec<i64> {
        e.events
            .events()
            .iter()
            .filter_map(|ev| match &ev.kind {
                EventKind::RunCancelled { run, .. } => Some(*run),
                _ => None,
            })
            .collect()
    };
    wait_until("both cancellations are announced", || {
        cancelled().len() >= 2
    })
    .await;
    assert_eq!(cancelled(), vec![queued, slow]);

    // A run that has ended cannot be cancelled again; an unknown one is unknown.
    assert!(matches!(
        e.agents.cancel(slow, "the tester").await,
        Err(iza_runtime::agents::AgentsError::NotCancellable {
            state: "cancelled",
            ..
        })
    ));
    assert!(matches!(
        e.agents.cancel(9_999, "the tester").await,
        Err(iza_runtime::agents::AgentsError::UnknownRun(9_999))
    ));
    e.agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_external_claim_is_no_longer_held() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(
        r#"
[agents.human]
tier = 1
tasks = [ { name = "approve", run = { external = true } } ]
"#,
    );
    let e = engine(
        catalog,
        open(dir.path()).await,
        ManualClock::new(T0),
        dir.path(),
        2,
    )
    .await;
    let id = e
        .agents
        .run_now("human/approve", json!(null))
        .await
        .unwrap();
    let lease = Duration::from_secs(60);
    e.agents
        .claim_external("human", None, "alice", lease)
        .await
        .unwrap()
        .expect("claimable");
    let run = e.agents.cancel(id, "the tester").await.unwrap();
    assert_eq!(run.state, RunState::Cancelled);
    assert!(
        !e.agents
            .heartbeat_external(id, "alice", lease)
            .await
            .unwrap()
    );
    assert!(matches!(
        e.agents.complete_external(id, "alice", true, None).await,
        Err(iza_runtime::agents::AgentsError::NotHeld { .. })
    ));
    e.agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_polled_claim_is_woken_by_the_run_queued_while_it_waits() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(
        r#"
[agents.human]
tier = 1
tasks = [ { name = "approve", run = { external = true } } ]
"#,
    );
    let e = engine(
        catalog,
        open(dir.path()).await,
        ManualClock::new(T0),
        dir.path(),
        2,
    )
    .await;
    let lease = Duration::from_secs(60);
    // Nothing queued: a short wait ends empty-handed.
    assert!(
        e.agents
            .claim_external_wait("human", None, "alice", lease, Duration::from_millis(50))
            .await
            .unwrap()
            .is_none()
    );
    // A long wait is answered by the run queued while it waits.
    let agents = Arc::new(e.agents);
    let waiting = tokio::spawn({
        let agents = agents.clone();
        async move {
            agents
                .claim_external_wait("human", None, "alice", lease, Duration::from_secs(60))
                .await
        }
    });
    // Whether the claim looked before or after this run was queued, it must get it: listening
    // starts before each look, so a run queued in between wakes the wait.
    tokio::task::yield_now().await;
    let id = agents.run_now("human/approve", json!(null)).await.unwrap();
    let claimed = tokio::time::timeout(DEADLINE, waiting)
        .await
        .expect("the waiting claim was woken")
        .unwrap()
        .unwrap()
        .expect("it claimed the run");
    assert_eq!((claimed.id, claimed.worker.as_deref()), (id, Some("alice")));
    agents.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_run_goes_through_the_queue_and_retries_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(
        r#"
[agents.w]
tier = 1
tasks = [
  { name = "hello", run = { exec = ["echo", "hello from {task}"] } },
  { name = "flaky", retries = 1, backoff = "1s", run = { exec = ["sh", "-c", "if [ -e once ]; then echo second; else touch once; echo first >&2; exit 3; fi"] } },
  { name = "approve", run = { external = true } },
]
"#,
    );
    let store = open(dir.path()).await;
    let monitor = Arc::new(
        Monitor::start(
            catalog.clone(),
            Arc::new(Prober::default()),
            store.clone(),
            options(),
        )
        .await
        .unwrap(),
    );
    let events = Collector::new(&monitor);
    let clock = ManualClock::new(T0);
    let local = |key: &'static str| {
        let (catalog, store, monitor) = (catalog.clone(), store.clone(), monitor.clone());
        let dir = dir.path().to_owned();
        let clock = clock.clone();
        async move {
            let mut options = AgentsOptions::new(
                "local-1",
                Launch {
                    base_dir: dir,
                    self_exe: None,
                    launcher: Launcher::direct(),
                },
            );
            options.clock = clock;
            options.seed = Some(7);
            iza_runtime::agents::run_local(
                catalog,
                store,
                monitor,
                options,
                key,
                json!({"kind": "manual", "local": true}),
            )
            .await
        }
    };
    let run = local("w/hello").await.unwrap();
    assert_eq!(run.state, RunState::Succeeded);
    assert!(
        run.output
            .as_deref()
            .unwrap_or_default()
            .contains("hello from w/hello"),
        "{run:#?}"
    );
    assert_eq!(run.worker.as_deref(), Some("local-1"));
    assert_eq!(runs_of(store.as_ref(), "w/hello").await.len(), 1);

    // The first attempt fails and waits for its backoff on the clock; the retry succeeds.
    let flaky = tokio::spawn(local("w/flaky"));
    wait_until_async("the first attempt failed and waits for its retry", || {
        let store = store.clone();
        async move {
            runs_of(store.as_ref(), "w/flaky")
                .await
                .first()
                .is_some_and(|r| r.state == RunState::Queued && r.attempt == 1)
        }
    })
    .await;
    assert!(!flaky.is_finished());
    clock.advance(Duration::from_secs(1));
    let run = tokio::time::timeout(DEADLINE, flaky)
        .await
        .expect("the retry ran")
        .unwrap()
        .unwrap();
    assert_eq!(
        (run.state, run.attempt),
        (RunState::Succeeded, 2),
        "{run:#?}"
    );
    assert!(
        run.output.as_deref().unwrap_or_default().contains("second"),
        "{run:#?}"
    );
    wait_until(
        "the failed first attempt was announced with its retry",
        || {
            count(&events, |k| {
                matches!(
                    k,
                    EventKind::RunFailed {
                        retry_at: Some(_),
                        ..
                    }
                )
            }) == 1
        },
    )
    .await;

    assert!(matches!(
        local("w/approve").await,
        Err(iza_runtime::agents::AgentsError::ExternalOnly(_))
    ));
    assert!(matches!(
        local("w/nothing").await,
        Err(iza_runtime::agents::AgentsError::UnknownTask(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compare_task_passes_an_identical_replica_and_names_what_a_broken_one_lacks() {
    const PAGE: &str = "<!doctype html><title>Shop</title><h1>Fresh fruit every day</h1>\
        <nav><a href=\"/about\">About</a> <a href=\"/contact\">Contact us</a></nav>";
    let dir = tempfile::tempdir().unwrap();
    let (addr, _) = serve_bodies(|path| match path {
        "/" | "/copy" => (200, PAGE.to_owned()),
        "/broken" => (
            200,
            PAGE.replace("Fresh fruit every day", "Old vegetables sometimes")
                .replace("<a href=\"/contact\">Contact us</a>", ""),
        ),
        _ => (404, String::new()),
    })
    .await;
    let catalog = catalog(&format!(
        r#"
[agents.qa]
tier = 1
tasks = [
  {{ name = "same", run = {{ compare = {{ original = "http://{addr}/", replica = "http://{addr}/copy" }} }} }},
  {{ name = "broken", run = {{ compare = {{ original = "http://{addr}/", replica = "http://{addr}/broken" }} }} }},
  {{ name = "tolerant", run = {{ compare = {{ original = "http://{addr}/", replica = "http://{addr}/broken" }}, conditions = ["[MISSING_LINKS] <= 1", "[PIXEL_DIFF] < 50"] }} }},
]
"#
    ));
    let e = engine(
        catalog,
        open(dir.path()).await,
        ManualClock::new(T0),
        dir.path(),
        1,
    )
    .await;
    let id = e.agents.run_now("qa/same", json!(null)).await.unwrap();
    let run = e.agents.wait(id, Duration::from_secs(60)).await.unwrap();
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    assert_eq!(
        run.output.as_deref(),
        Some("pixel diff 0.00 %, text similarity 100.0 %, missing links 0")
    );

    let id = e.agents.run_now("qa/broken", json!(null)).await.unwrap();
    let run = e.agents.wait(id, Duration::from_secs(60)).await.unwrap();
    assert_eq!(run.state, RunState::Failed, "{run:#?}");
    let error = run.error.as_deref().unwrap();
    assert!(error.contains("[MISSING_LINKS] (1) == 0"), "{error}");
    let output = run.output.as_deref().unwrap();
    assert!(output.contains("missing links 1"), "{output}");
    assert!(output.contains("missing links: /contact"), "{output}");

    let id = e.agents.run_now("qa/tolerant", json!(null)).await.unwrap();
    let run = e.agents.wait(id, Duration::from_secs(60)).await.unwrap();
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    e.agents.shutdown(Duration::from_secs(5)).await;
}
