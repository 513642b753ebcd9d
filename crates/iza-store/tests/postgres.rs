//! `PostgresStore`: the conformance suite on a fresh database per case, plus what only the
//! shared store has: migrations applied once (and refused when newer), several stores (nodes)
//! on one database enqueueing the same schedule ticks and claiming the same queue, and a URL's
//! password never shown in an error.

#[macro_use]
mod conformance;
#[path = "common/test_database.rs"]
mod test_database;

use std::collections::HashSet;
use std::sync::Arc;

use conformance::StoreUnderTest;
use iza_store::{
    ClaimRequest, EventListener, EventRecord, ExecutionRecord, Heard, Millis, NewRun,
    PostgresOptions, PostgresStore, ResultRecord, RunPriority, SqliteStore, Store, StoreError,
    WorkflowSync,
};
use test_database::TestDatabase;

async fn postgres_store() -> StoreUnderTest {
    let database = TestDatabase::create().await;
    let store = PostgresStore::connect(&database.url()).await.unwrap();
    StoreUnderTest::new(Arc::new(store), database)
}

mod conformance_cases {
    use super::postgres_store;
    store_conformance_suite!(postgres_store);
}

const BASE: Millis = 1_749_996_000_000;

#[tokio::test]
async fn migrations_apply_once_and_a_newer_database_is_refused() {
    let database = TestDatabase::create().await;
    let store = PostgresStore::connect(&database.url()).await.unwrap();
    assert_eq!(
        store.schema_version().await.unwrap(),
        PostgresStore::latest_schema_version()
    );
    assert_eq!(store.migrate().await.unwrap(), Vec::<i64>::new());
    store
        .append_results(&[ResultRecord {
            service: "api".to_owned(),
            at: BASE,
            up: true,
            latency_ms: 3.0,
            message: None,
            ..Default::default()
        }])
        .await
        .unwrap();
    store.close().await.unwrap();
    // A second node connecting later sees the same history and migrates nothing.
    let again = PostgresStore::connect(&database.url()).await.unwrap();
    assert_eq!(again.recent_results("api", 10).await.unwrap().len(), 1);
    sqlx::query("INSERT INTO iza_schema (version) VALUES (999)")
        .execute(again.pool())
        .await
        .unwrap();
    again.close().await.unwrap();
    let error = PostgresStore::connect(&database.url()).await.unwrap_err();
    assert!(
        error.to_string().contains("newer than this build"),
        "{error}"
    );
}

/// A database that recorded executions before migration 15 gets them rolled up by it (the
/// migration runs again here after its table and its row are removed).
#[tokio::test]
async fn migration_15_rolls_up_the_executions_recorded_before_it() {
    let database = TestDatabase::create().await;
    let store = PostgresStore::connect(&database.url()).await.unwrap();
    let executions: Vec<ExecutionRecord> = (0..500i64)
        .map(|i| ExecutionRecord {
            id: i.to_string(),
            workflow_id: format!("wf-{}", i % 3),
            status: if i % 9 == 0 { "error" } else { "success" }.to_owned(),
            mode: None,
            started_at: BASE + i * 60_000,
            stopped_at: Some(BASE + i * 60_000 + 20 + i),
            retry_of: None,
        })
        .collect();
    let round = WorkflowSync {
        executions,
        ..WorkflowSync::default()
    };
    store.apply_workflow_sync("n8n", &round).await.unwrap();
    let before = store.workflow_stats("n8n", 0).await.unwrap();
    sqlx::raw_sql("DROP TABLE workflow_rollups; DELETE FROM iza_schema WHERE version = 15")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(store.migrate().await.unwrap(), vec![15]);
    assert_eq!(store.workflow_stats("n8n", 0).await.unwrap(), before);
    store.prune_executions(BASE + 1_000 * 60_000).await.unwrap();
    let after = store.workflow_stats("n8n", 0).await.unwrap();
    assert_eq!(after, before);
    let runs: u64 = after.iter().map(|s| s.runs.values().sum::<u64>()).sum();
    assert_eq!(runs, 500);
    store.close().await.unwrap();
}

#[tokio::test]
async fn an_unmigrated_database_is_refused_without_migrate() {
    let database = TestDatabase::create().await;
    let options = PostgresOptions {
        migrate: false,
        ..PostgresOptions::default()
    };
    let error = PostgresStore::connect_with(&database.url(), options)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("iza store migrate"), "{error}");
}

#[tokio::test]
async fn a_bad_url_is_an_open_error_without_the_password() {
    let options = PostgresOptions {
        acquire_timeout: std::time::Duration::from_secs(3),
        ..PostgresOptions::default()
    };
    // A port where nothing listens, and a wrong password on the real server.
    for url in [
        "postgres://iza:s3cret@127.0.0.1:9/iza",
        "postgres://nobody:s3cret@127.0.0.1:5432/no_such_database",
    ] {
        let error = PostgresStore::connect_with(url, options).await.unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, StoreError::Open { .. }), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains(":***@"), "{text}");
    }
}

fn event(at: Millis) -> EventRecord {
    EventRecord {
        id: 0,
        at,
        kind: "run-queued".to_owned(),
        service: None,
        payload: serde_json::json!({"kind": "run-queued", "at": at}),
    }
}

/// What a listener hears next, within a deadline.
async fn heard(listener: &mut EventListener) -> Heard {
    tokio::time::timeout(std::time::Duration::from_secs(20), listener.next())
        .await
        .expect("the listener heard nothing within 20 s")
        .expect("the listener stopped")
}

/// `LISTEN`/`NOTIFY`: a listener says it listens, then hears the greatest id of every append of
/// events by any store on the database (its own store's included); after its connection is cut
/// (`pg_terminate_backend`) it connects again and says it listens again (its reader catches
/// up), and hears the appends after that. The embedded store has no listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_hears_every_append_and_says_when_it_listens_again() {
    let database = TestDatabase::create().await;
    let a = PostgresStore::connect(&database.url()).await.unwrap();
    let b = PostgresStore::connect(&database.url()).await.unwrap();
    let mut listener = a.listen_events("test-a").await.unwrap();
    assert_eq!(heard(&mut listener).await, Heard::Listening);
    let appended = b
        .append_events(vec![event(BASE), event(BASE + 1)])
        .await
        .unwrap();
    assert_eq!(heard(&mut listener).await, Heard::Appended(appended[1].id));
    let own = a.append_events(vec![event(BASE + 2)]).await.unwrap();
    assert_eq!(heard(&mut listener).await, Heard::Appended(own[0].id));

    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'iza listen test-a'",
    )
    .fetch_all(b.pool())
    .await
    .unwrap();
    assert_eq!(cut, vec![true], "one listening connection, cut");
    assert_eq!(heard(&mut listener).await, Heard::Listening);
    let later = b.append_events(vec![event(BASE + 3)]).await.unwrap();
    assert_eq!(heard(&mut listener).await, Heard::Appended(later[0].id));
    // Nothing else was heard: one word per append.
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(200), listener.next())
            .await
            .is_err()
    );

    let directory = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(directory.path().join("state.db"))
        .await
        .unwrap();
    assert!(matches!(
        sqlite.listen_events("test").await,
        Err(StoreError::Unsupported("listen_events"))
    ));
}

fn ticked(task: &str, tick: Millis) -> NewRun {
    NewRun {
        task: task.to_owned(),
        agent: Some("ops".to_owned()),
        priority: RunPriority::Medium,
        dedupe: None,
        tick: Some(tick),
        run_at: tick,
        max_attempts: 1,
        concurrency: 1_000,
        external: false,
        trigger: serde_json::json!({"kind": "schedule"}),
        enqueued_at: tick,
    }
}

/// Three stores on one database stand for three nodes: each enqueues every schedule tick of
/// the same tasks at once, then all claim until the queue is empty. Each tick is enqueued once
/// and each run claimed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_enqueue_each_tick_once_and_claim_each_run_once() {
    let database = TestDatabase::create().await;
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Arc::new(
            PostgresStore::connect(&database.url()).await.unwrap(),
        ));
    }
    let mut enqueuers = Vec::new();
    for node in &nodes {
        let node = node.clone();
        enqueuers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for tick in 0..50 {
                let batch: Vec<NewRun> = (0..4)
                    .map(|task| ticked(&format!("agent/task-{task}"), BASE + tick * 1_000))
                    .collect();
                ids.extend(
                    node.enqueue_runs(&batch)
                        .await
                        .unwrap()
                        .into_iter()
                        .flatten(),
                );
            }
            ids
        }));
    }
    let mut enqueued = Vec::new();
    for enqueuer in enqueuers {
        enqueued.extend(enqueuer.await.unwrap());
    }
    assert_eq!(
        enqueued.len(),
        200,
        "each of 4 tasks x 50 ticks enqueued once"
    );
    let mut claimers = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let node = node.clone();
        claimers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let runs = node
                    .claim_runs(&ClaimRequest {
                        worker: format!("node-{index}"),
                        now: BASE + 100_000,
                        lease: 30_000,
                        limit: 7,
                        external: false,
                        agent: None,
                        tasks: None,
                        aging: 60_000,
                    })
                    .await
                    .unwrap();
                if runs.is_empty() {
                    return claimed;
                }
                claimed.extend(runs.into_iter().map(|run| run.id));
            }
        }));
    }
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<i64> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), 200, "every run claimed");
    assert_eq!(distinct.len(), 200, "no run claimed twice");
    let marks = nodes[0].schedule_marks().await.unwrap();
    assert_eq!(marks.len(), 4);
    assert!(marks.iter().all(|(_, tick)| *tick == BASE + 49_000));
    for node in nodes {
        node.close().await.unwrap();
    }
}

/// Three nodes claim and finish side by side from tasks with small concurrency caps: the caps
/// hold at every moment (what is committed is read between claims; a claim that counted the
/// running runs without its queue's lock exceeds them here), every run succeeds once, and no
/// run is held by two claims at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_claiming_side_by_side_never_exceed_a_tasks_concurrency() {
    let database = TestDatabase::create().await;
    let caps: [(&str, u32); 3] = [("agent/one", 1), ("agent/two", 2), ("agent/many", 1_000)];
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Arc::new(
            PostgresStore::connect(&database.url()).await.unwrap(),
        ));
    }
    let runs: Vec<NewRun> = (0..300)
        .map(|index| {
            let (task, cap) = caps[index % caps.len()];
            NewRun {
                concurrency: cap,
                priority: RunPriority::ALL[index % 3],
                ..ticked(task, BASE + index as Millis)
            }
        })
        .map(|run| NewRun { tick: None, ..run })
        .collect();
    assert_eq!(nodes[0].enqueue_runs(&runs).await.unwrap().len(), 300);
    let over = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut claimers = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let (node, over) = (node.clone(), over.clone());
        claimers.push(tokio::spawn(async move {
            let worker = format!("node-{index}");
            let mut finished = Vec::new();
            let mut empty_in_a_row = 0;
            while empty_in_a_row < 20 {
                let claimed = node
                    .claim_runs(&ClaimRequest {
                        worker: worker.clone(),
                        now: BASE + 100_000,
                        lease: 30_000,
                        limit: 5,
                        external: false,
                        agent: None,
                        tasks: None,
                        aging: 60_000,
                    })
                    .await
                    .unwrap();
                let running: Vec<(String, i64)> =
                    sqlx::query_as("SELECT task, COUNT(*) FROM runs WHERE state = 1 GROUP BY task")
                        .fetch_all(node.pool())
                        .await
                        .unwrap();
                for (task, count) in running {
                    let cap = caps.iter().find(|(name, _)| *name == task).unwrap().1;
                    if count > i64::from(cap) {
                        over.lock().unwrap().push((task, count));
                    }
                }
                if claimed.is_empty() {
                    empty_in_a_row += 1;
                    tokio::task::yield_now().await;
                    continue;
                }
                empty_in_a_row = 0;
                for run in &claimed {
                    assert_eq!(run.worker.as_deref(), Some(worker.as_str()));
                    assert_eq!(run.state, iza_store::RunState::Running);
                }
                let finishes: Vec<iza_store::RunFinish> = claimed
                    .iter()
                    .map(|run| iza_store::RunFinish {
                        id: run.id,
                        worker: worker.clone(),
                        at: BASE + 100_001,
                        outcome: iza_store::RunOutcome::Succeeded,
                        output: None,
                        error: None,
                    })
                    .collect();
                let done = node.finish_runs(&finishes).await.unwrap();
                assert_eq!(done.len(), claimed.len(), "every claimed run was held");
                finished.extend(done);
            }
            finished
        }));
    }
    let mut finished = Vec::new();
    for claimer in claimers {
        finished.extend(claimer.await.unwrap());
    }
    assert_eq!(over.lock().unwrap().as_slice(), &[], "a task over its cap");
    let distinct: HashSet<i64> = finished.iter().copied().collect();
    assert_eq!(finished.len(), 300, "every run finished once");
    assert_eq!(distinct.len(), 300);
    let attempts: Vec<(i64, i64)> =
        sqlx::query_as("SELECT attempt, COUNT(*) FROM runs GROUP BY attempt")
            .fetch_all(nodes[0].pool())
            .await
            .unwrap();
    assert_eq!(
        attempts,
        [(1, 300)],
        "a run put back keeps its attempt count"
    );
    for node in nodes {
        node.close().await.unwrap();
    }
}

/// PostgreSQL's `text` refuses NUL, which SQLite keeps: a message or output holding one is
/// stored with U+FFFD in its place rather than failing the whole batch.
#[tokio::test]
async fn nul_in_free_text_does_not_fail_a_batch() {
    let database = TestDatabase::create().await;
    let store = PostgresStore::connect(&database.url()).await.unwrap();
    store
        .append_results(&[ResultRecord {
            service: "api".to_owned(),
            at: BASE,
            up: false,
            latency_ms: 1.0,
            message: Some("body was \0\0binary".to_owned()),
            ..Default::default()
        }])
        .await
        .unwrap();
    let stored = store.recent_results("api", 1).await.unwrap();
    assert_eq!(
        stored[0].message.as_deref(),
        Some("body was \u{FFFD}\u{FFFD}binary")
    );
    let mut run = ticked("agent/nul", BASE);
    run.tick = None;
    let id = store.enqueue_runs(&[run]).await.unwrap()[0].unwrap();
    let claimed = store
        .claim_runs(&ClaimRequest {
            worker: "w".to_owned(),
            now: BASE,
            lease: 1_000,
            limit: 1,
            external: false,
            agent: None,
            tasks: None,
            aging: 60_000,
        })
        .await
        .unwrap();
    assert_eq!(claimed[0].id, id);
    let finished = store
        .finish_runs(&[iza_store::RunFinish {
            id,
            worker: "w".to_owned(),
            at: BASE + 1,
            outcome: iza_store::RunOutcome::Succeeded,
            output: Some("out\0put".to_owned()),
            error: None,
        }])
        .await
        .unwrap();
    assert_eq!(finished, vec![id]);
    let run = store.run(id).await.unwrap().unwrap();
    assert_eq!(run.output.as_deref(), Some("out\u{FFFD}put"));
    store.close().await.unwrap();
}

/// `copy::sqlite_to_postgres` carries every table: the PostgreSQL store then answers every
/// read as the SQLite store did (results, rollups, uptime, events, runs, task statistics,
/// schedule marks, incidents), new ids continue past the copied ones, and a second copy into
/// the now non-empty target is refused without `force`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_store_copies_into_postgres_whole() {
    use iza_store::copy::{CopyError, sqlite_to_postgres};
    use iza_store::{
        EventQuery, EventRecord, IncidentQuery, NewIncident, Resolution, Retention, RunFinish,
        RunOutcome, RunQuery, SqliteStore,
    };
    let directory = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(directory.path().join("state.db"))
        .await
        .unwrap();
    let hour = 3_600_000;
    let mut results = Vec::new();
    for minute in 0..180 {
        for service in ["api", "db"] {
            results.push(ResultRecord {
                service: service.to_owned(),
                at: BASE + minute * 60_000,
                up: minute % 7 != 0,
                latency_ms: (minute % 50) as f64 + 0.25,
                message: (minute % 7 == 0).then(|| "down".to_owned()),
                ..Default::default()
            });
        }
    }
    sqlite.append_results(&results).await.unwrap();
    let now = BASE + 3 * hour;
    sqlite.maintain(now, Retention::default()).await.unwrap();
    let events: Vec<EventRecord> = (0..5)
        .map(|i| EventRecord {
            id: 0,
            at: BASE + i,
            kind: "status-changed".to_owned(),
            service: Some("api".to_owned()),
            payload: serde_json::json!({"i": i}),
        })
        .collect();
    sqlite.append_events(events).await.unwrap();
    let mut runs: Vec<NewRun> = (0..4).map(|i| ticked("ops/report", BASE + i)).collect();
    runs.push({
        let mut keyed = ticked("ops/once", BASE);
        keyed.tick = None;
        keyed.dedupe = Some("key".to_owned());
        keyed
    });
    sqlite.enqueue_runs(&runs).await.unwrap();
    let claimed = sqlite
        .claim_runs(&ClaimRequest {
            worker: "w".to_owned(),
            now: BASE + 10,
            lease: 60_000,
            limit: 2,
            external: false,
            agent: None,
            tasks: None,
            aging: 60_000,
        })
        .await
        .unwrap();
    let finishes: Vec<RunFinish> = claimed
        .iter()
        .map(|run| RunFinish {
            id: run.id,
            worker: "w".to_owned(),
            at: BASE + 500,
            outcome: RunOutcome::Failed { retry_at: None },
            output: Some("boom".to_owned()),
            error: Some("exit 1".to_owned()),
        })
        .collect();
    sqlite.finish_runs(&finishes).await.unwrap();
    let (incident, _) = sqlite
        .open_incident(&NewIncident {
            task: "ops/report".to_owned(),
            agent: Some("ops".to_owned()),
            run: claimed[0].id,
            reason: "exit 1".to_owned(),
            at: BASE + 600,
        })
        .await
        .unwrap();
    // Alerting: an alert, a silence and a delivery.
    let alert = sqlite
        .save_alert(&iza_store::Alert {
            id: 0,
            rule: "down".to_owned(),
            service: "db".to_owned(),
            severity: "critical".to_owned(),
            state: iza_store::AlertState::Firing,
            status: "down".to_owned(),
            impacted: vec!["api".to_owned()],
            reason: Some("refused".to_owned()),
            started_at: BASE,
            fired_at: Some(BASE),
            updated_at: BASE,
            resolved_at: None,
            acknowledged_at: None,
            acknowledged_by: None,
            suppressed_by: None,
            escalated_to: Vec::new(),
            seq: 1,
            notified_seq: 1,
            last_notified_at: Some(BASE),
        })
        .await
        .unwrap();
    sqlite
        .create_silence(&iza_store::NewSilence {
            matchers: iza_store::Matchers {
                service: Some("db".to_owned()),
                ..iza_store::Matchers::default()
            },
            starts_at: BASE,
            ends_at: BASE + 3_600_000,
            created_by: "ana".to_owned(),
            comment: "upgrade".to_owned(),
            created_at: BASE,
        })
        .await
        .unwrap();
    sqlite
        .record_deliveries(&[iza_store::Delivery {
            id: 0,
            alert: alert.id,
            transition: "1-firing".to_owned(),
            notifier: "ops".to_owned(),
            run: Some(claimed[0].id),
            state: iza_store::DeliveryState::Sent,
            at: BASE,
            finished_at: Some(BASE + 5),
            attempts: 1,
            latency_ms: Some(4.5),
            error: None,
        }])
        .await
        .unwrap();

    let database = TestDatabase::create().await;
    let postgres = PostgresStore::connect(&database.url()).await.unwrap();
    let report = sqlite_to_postgres(&sqlite, &postgres, false).await.unwrap();
    assert_eq!(report.alerting, 3);
    assert_eq!(report.services, 2);
    assert_eq!(report.events, 5);
    assert_eq!(report.runs, 5);
    assert_eq!(report.incidents, 1);
    assert_eq!(report.schedule_marks, 1);

    let stores: [&dyn Store; 2] = [&sqlite, &postgres];
    let [from, to] = stores;
    for service in ["api", "db"] {
        assert_eq!(
            from.recent_results(service, 10_000).await.unwrap(),
            to.recent_results(service, 10_000).await.unwrap()
        );
        for resolution in [Resolution::Minute, Resolution::Hour] {
            assert_eq!(
                from.rollups(service, resolution, BASE).await.unwrap(),
                to.rollups(service, resolution, BASE).await.unwrap(),
                "{service} {resolution:?}"
            );
        }
        assert_eq!(
            from.uptime(service, now).await.unwrap(),
            to.uptime(service, now).await.unwrap()
        );
    }
    assert_eq!(
        from.latest_results().await.unwrap(),
        to.latest_results().await.unwrap()
    );
    let all_events = EventQuery {
        limit: 100,
        ..EventQuery::default()
    };
    assert_eq!(
        from.events(&all_events).await.unwrap(),
        to.events(&all_events).await.unwrap()
    );
    let all_runs = RunQuery {
        limit: 100,
        ..RunQuery::default()
    };
    assert_eq!(
        from.runs(&all_runs).await.unwrap(),
        to.runs(&all_runs).await.unwrap()
    );
    assert_eq!(
        from.task_stats(BASE).await.unwrap(),
        to.task_stats(BASE).await.unwrap()
    );
    assert_eq!(
        from.schedule_marks().await.unwrap(),
        to.schedule_marks().await.unwrap()
    );
    assert_eq!(
        from.incident(incident.id).await.unwrap(),
        to.incident(incident.id).await.unwrap()
    );
    assert_eq!(
        from.alert(alert.id).await.unwrap(),
        to.alert(alert.id).await.unwrap()
    );
    assert_eq!(
        from.silences(None).await.unwrap(),
        to.silences(None).await.unwrap()
    );
    assert_eq!(
        from.deliveries(alert.id).await.unwrap(),
        to.deliveries(alert.id).await.unwrap()
    );
    assert_eq!(to.deliveries(alert.id).await.unwrap().len(), 1);
    let all_incidents = IncidentQuery {
        limit: 10,
        ..IncidentQuery::default()
    };
    assert_eq!(
        from.incidents(&all_incidents).await.unwrap(),
        to.incidents(&all_incidents).await.unwrap()
    );
    // A copied tick is not enqueued again; new ids continue past the copied ones.
    assert_eq!(
        to.enqueue_runs(&[ticked("ops/report", BASE + 3)])
            .await
            .unwrap(),
        vec![None]
    );
    let next = to
        .append_events(vec![EventRecord {
            id: 0,
            at: now,
            kind: "manifest-reloaded".to_owned(),
            service: None,
            payload: serde_json::json!({}),
        }])
        .await
        .unwrap();
    assert!(next[0].id > 5, "{}", next[0].id);

    let refused = sqlite_to_postgres(&sqlite, &postgres, false).await;
    assert!(
        matches!(
            refused,
            Err(CopyError::NotEmpty {
                table: "services",
                rows: 2
            })
        ),
        "{refused:?}"
    );
    sqlite.close().await.unwrap();
    postgres.close().await.unwrap();
}

/// The plain tables copy too: business figures (samples and hourly rollups), the workflow
/// engines' workflows, executions, hourly rollups, failures and cursors, and the outbox's
/// waiting entries with their ids (new entries continue past them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_workflows_and_the_outbox_copy_into_postgres() {
    use iza_store::copy::sqlite_to_postgres;
    use iza_store::{
        ExecutionRecord, FigureQuery, FigureResolution, FigureSample, OutboxEntry, SqliteStore,
        WorkflowFailure, WorkflowRecord, WorkflowSync,
    };
    let directory = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(directory.path().join("state.db"))
        .await
        .unwrap();
    let samples: Vec<FigureSample> = (0..12_000)
        .map(|i| FigureSample {
            service: if i % 2 == 0 { "shop" } else { "ads" }.to_owned(),
            figure: "arr".to_owned(),
            at: BASE + i * 1_000,
            value: i as f64 * 1.5,
        })
        .collect();
    sqlite.append_figures(&samples).await.unwrap();
    let executions: Vec<ExecutionRecord> = (0..6_000)
        .map(|i| ExecutionRecord {
            id: format!("e{i}"),
            workflow_id: format!("w{}", i % 3),
            status: if i % 10 == 0 { "error" } else { "success" }.to_owned(),
            mode: Some("webhook".to_owned()),
            started_at: BASE + i * 100,
            stopped_at: Some(BASE + i * 100 + 40),
            retry_of: None,
        })
        .collect();
    let sync = WorkflowSync {
        workflows: Some(
            (0..3)
                .map(|i| WorkflowRecord {
                    id: format!("w{i}"),
                    name: format!("Flow \0 {i}"),
                    active: i != 1,
                    tags: vec!["ops".to_owned()],
                })
                .collect(),
        ),
        executions,
        failures: vec![WorkflowFailure {
            workflow_id: "w0".to_owned(),
            execution_id: "e5990".to_owned(),
            at: BASE + 599_040,
            message: "duplicate key".to_owned(),
            node: Some("Postgres".to_owned()),
        }],
        cursor: "opaque-cursor".to_owned(),
    };
    sqlite.apply_workflow_sync("n8n", &sync).await.unwrap();
    let entry = |i: i64| OutboxEntry {
        id: 0,
        output: "bus".to_owned(),
        event_id: format!("ev{i}"),
        key: "iza.test.service.api.status".to_owned(),
        service: Some("api".to_owned()),
        at: BASE + i,
        payload: format!("{{\"i\":{i}}}"),
        retain: i % 2 == 0,
    };
    let (pushed, _) = sqlite
        .outbox_push(&(0..7).map(entry).collect::<Vec<_>>(), 1_000)
        .await
        .unwrap();
    sqlite
        .outbox_ack("bus", &[pushed[0].id, pushed[1].id])
        .await
        .unwrap();

    let database = TestDatabase::create().await;
    let postgres = PostgresStore::connect(&database.url()).await.unwrap();
    let report = sqlite_to_postgres(&sqlite, &postgres, false).await.unwrap();
    // Workflows, executions, hourly rollups (three workflows, one hour), the cursor.
    assert_eq!(report.workflows, 3 + 6_000 + 3 + 1);
    assert_eq!(report.outbox, 5);
    assert!(report.figures > 12_000, "{report:?}");

    let stores: [&dyn Store; 2] = [&sqlite, &postgres];
    let [from, to] = stores;
    assert_eq!(
        from.latest_figures().await.unwrap(),
        to.latest_figures().await.unwrap()
    );
    for resolution in [FigureResolution::Raw, FigureResolution::Hour] {
        let query = FigureQuery {
            service: "shop".to_owned(),
            figure: "arr".to_owned(),
            since: 0,
            resolution,
            limit: 10_000,
        };
        assert_eq!(
            from.figure_series(&query).await.unwrap(),
            to.figure_series(&query).await.unwrap(),
            "{resolution:?}"
        );
    }
    assert_eq!(
        to.workflow_cursor("n8n").await.unwrap().as_deref(),
        Some("opaque-cursor")
    );
    // The same figures; a NUL, which PostgreSQL's text refuses, arrives as U+FFFD.
    let mut expected = from.workflow_stats("n8n", 0).await.unwrap();
    for workflow in &mut expected {
        workflow.name = workflow.name.replace('\0', "\u{FFFD}");
    }
    assert_eq!(expected, to.workflow_stats("n8n", 0).await.unwrap());
    assert_eq!(
        from.outbox_peek("bus", 0, 100).await.unwrap(),
        to.outbox_peek("bus", 0, 100).await.unwrap()
    );
    let (next, _) = to.outbox_push(&[entry(7)], 1_000).await.unwrap();
    assert!(next[0].id > pushed[6].id, "{next:?}");
    sqlite.close().await.unwrap();
    postgres.close().await.unwrap();
}

#[tokio::test]
async fn a_check_lease_has_one_holder_until_it_expires_or_is_released() {
    let database = TestDatabase::create().await;
    let a = PostgresStore::connect(&database.url()).await.unwrap();
    let b = PostgresStore::connect(&database.url()).await.unwrap();
    let keys = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();

    let got = a
        .acquire_check_leases("a", &keys(&["api", "db"]), BASE, BASE + 1_000)
        .await
        .unwrap();
    assert_eq!(got, keys(&["api", "db"]));
    // b cannot take what a holds, only what is free.
    let got = b
        .acquire_check_leases("b", &keys(&["db", "web"]), BASE + 10, BASE + 1_010)
        .await
        .unwrap();
    assert_eq!(got, keys(&["web"]));
    // a renews its own, keeping when it took them.
    let got = a
        .acquire_check_leases("a", &keys(&["api", "db"]), BASE + 500, BASE + 1_500)
        .await
        .unwrap();
    assert_eq!(got, keys(&["api", "db"]));
    let leases = a.check_leases().await.unwrap();
    let api = leases.iter().find(|l| l.key == "api").unwrap();
    assert_eq!(
        (api.node.as_str(), api.lease_until, api.acquired_at),
        ("a", BASE + 1_500, BASE)
    );
    // Expired: b takes it.
    let got = b
        .acquire_check_leases("b", &keys(&["db"]), BASE + 1_500, BASE + 2_500)
        .await
        .unwrap();
    assert_eq!(got, keys(&["db"]));
    // Released: b takes it at once.
    a.release_check_leases("a", Some(&keys(&["api"])))
        .await
        .unwrap();
    let got = b
        .acquire_check_leases("b", &keys(&["api"]), BASE + 1_000, BASE + 2_000)
        .await
        .unwrap();
    assert_eq!(got, keys(&["api"]));
    b.release_check_leases("b", None).await.unwrap();
    assert!(a.check_leases().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_racing_for_the_same_leases_never_share_one() {
    let database = TestDatabase::create().await;
    let keys: Vec<String> = (0..200).map(|i| format!("svc-{i:03}")).collect();
    let mut racers = Vec::new();
    for node in ["a", "b", "c"] {
        let store = PostgresStore::connect(&database.url()).await.unwrap();
        let mut keys = keys.clone();
        if node == "b" {
            keys.reverse();
        }
        racers.push(tokio::spawn(async move {
            store
                .acquire_check_leases(node, &keys, BASE, BASE + 10_000)
                .await
                .unwrap()
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for racer in racers {
        for key in racer.await.unwrap() {
            total += 1;
            assert!(seen.insert(key.clone()), "{key} held twice");
        }
    }
    assert_eq!(total, keys.len());
}

#[tokio::test]
async fn a_role_that_may_not_make_temporary_objects_claims_in_steps() {
    let database = TestDatabase::create().await;
    let url = database.url();
    let owner = PostgresStore::connect(&url).await.unwrap();
    let name = url.rsplit('/').next().unwrap().to_owned();
    let role = format!("{name}_notemp");
    for statement in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("REVOKE TEMPORARY ON DATABASE {name} FROM PUBLIC"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}"),
    ] {
        sqlx::raw_sql(&statement)
            .execute(owner.pool())
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
    let options = PostgresOptions {
        migrate: false,
        ..PostgresOptions::default()
    };
    let limited_url = url.replacen("://postgres@", &format!("://{role}@"), 1);
    let store = PostgresStore::connect_with(&limited_url, options)
        .await
        .unwrap();
    let refused =
        sqlx::raw_sql("CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'")
            .execute(store.pool())
            .await;
    assert!(refused.is_err(), "the role may not make temporary objects");
    let runs: Vec<NewRun> = (0..3)
        .map(|i| NewRun {
            task: "a/t".to_owned(),
            agent: Some("a".to_owned()),
            priority: RunPriority::Medium,
            dedupe: None,
            tick: None,
            run_at: BASE + i,
            max_attempts: 1,
            concurrency: 2,
            external: false,
            trigger: serde_json::json!({"kind": "manual"}),
            enqueued_at: BASE + i,
        })
        .collect();
    store.enqueue_runs(&runs).await.unwrap();
    let claim = |worker: &str| ClaimRequest {
        worker: worker.to_owned(),
        now: BASE + 10,
        lease: 30_000,
        limit: 5,
        external: false,
        agent: None,
        tasks: None,
        aging: 60_000,
    };
    let first = store.claim_runs(&claim("w1")).await.unwrap();
    assert_eq!(first.len(), 2, "the task's concurrency: {first:?}");
    assert!(store.claim_runs(&claim("w2")).await.unwrap().is_empty());
    store.close().await.unwrap();
    for statement in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        sqlx::raw_sql(&statement)
            .execute(owner.pool())
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
}
