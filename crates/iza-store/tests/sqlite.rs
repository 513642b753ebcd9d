//! `SqliteStore`: the conformance suite on a file in WAL mode and in memory, plus what only
//! SQLite has: migrations on reopen, schedule marks across a reopen, and acknowledged results,
//! enqueues and finishes surviving `kill -9`.

#[macro_use]
mod conformance;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use conformance::StoreUnderTest;
use iza_store::{
    Durability, ExecutionRecord, Millis, NewRun, Resolution, ResultRecord, Retention, RunFinish,
    RunOutcome, RunPriority, RunState, SqliteOptions, SqliteStore, Store, StoreError, WorkflowSync,
};
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

async fn file_store() -> StoreUnderTest {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path().join("state/iza.db"))
        .await
        .unwrap();
    StoreUnderTest::new(Arc::new(store), directory)
}

async fn in_memory_store() -> StoreUnderTest {
    StoreUnderTest::new(Arc::new(SqliteStore::open_in_memory().await.unwrap()), ())
}

mod on_file {
    use super::file_store;
    store_conformance_suite!(file_store);
}

mod in_memory {
    use super::in_memory_store;
    store_conformance_suite!(in_memory_store);
}

const BASE: Millis = 1_749_996_000_000;

fn probe(service: &str, at: Millis) -> ResultRecord {
    ResultRecord {
        service: service.to_owned(),
        at,
        up: at % 3 != 0,
        latency_ms: (at % 500) as f64 + 0.5,
        message: None,
        ..Default::default()
    }
}

/// A raw connection to the database file, for what the `Store` trait does not say.
async fn raw_connection(path: &Path) -> sqlx::SqliteConnection {
    SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn reopening_keeps_history_and_migrates_once() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("iza.db");
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.schema_version().await.unwrap(),
        SqliteStore::latest_schema_version()
    );
    store
        .append_results(&[probe("api", BASE), probe("api", BASE + 1)])
        .await
        .unwrap();
    let events = store
        .append_events(vec![iza_store::EventRecord {
            id: 0,
            at: BASE,
            kind: "status-changed".to_owned(),
            service: Some("api".to_owned()),
            payload: serde_json::json!({"to": "up"}),
        }])
        .await
        .unwrap();
    // The database and its write-ahead log (there while it is open) are their owner's alone.
    for file in ["iza.db", "iza.db-wal"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(directory.path().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}: mode {mode:o}");
    }
    store.close().await.unwrap();

    let reopened = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        reopened.schema_version().await.unwrap(),
        SqliteStore::latest_schema_version()
    );
    assert_eq!(reopened.recent_results("api", 10).await.unwrap().len(), 2);
    let more = reopened
        .append_events(vec![iza_store::EventRecord {
            id: 0,
            ..events[0].clone()
        }])
        .await
        .unwrap();
    assert!(
        more[0].id > events[0].id,
        "event ids keep increasing across a reopen"
    );

    let mut connection = raw_connection(&path).await;
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
}

#[tokio::test]
async fn power_loss_durability_and_one_reader_work_alike() {
    let directory = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        durability: Durability::PowerLoss,
        readers: 1,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(directory.path().join("iza.db"), options)
        .await
        .unwrap();
    let written = [probe("api", BASE), probe("api", BASE + 1)];
    store.append_results(&written).await.unwrap();
    let read = store.recent_results("api", 10).await.unwrap();
    assert_eq!(read, written.iter().rev().cloned().collect::<Vec<_>>());
}

/// A store that recorded executions before migration 12 gets them rolled up by it: the figures
/// read afterwards (from the rollups) are those the raw rows give.
#[tokio::test]
async fn migration_12_rolls_up_the_executions_recorded_before_it() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("iza.db");
    let store = SqliteStore::open(&path).await.unwrap();
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
    store.close().await.unwrap();
    // Back to schema 11: no rollups table.
    let mut connection = raw_connection(&path).await;
    sqlx::raw_sql("DROP TABLE workflow_rollups; PRAGMA user_version = 11")
        .execute(&mut connection)
        .await
        .unwrap();
    drop(connection);

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.schema_version().await.unwrap(),
        SqliteStore::latest_schema_version()
    );
    assert_eq!(store.workflow_stats("n8n", 0).await.unwrap(), before);
    // The raw rows gone, the whole hours still count every execution.
    store.prune_executions(BASE + 1_000 * 60_000).await.unwrap();
    let after = store.workflow_stats("n8n", 0).await.unwrap();
    assert_eq!(after, before);
    let runs: u64 = after.iter().map(|s| s.runs.values().sum::<u64>()).sum();
    assert_eq!(runs, 500);
    store.close().await.unwrap();
}

/// The long-window read of the workflow figures searches the rollups' primary key by service
/// and hour and never touches the raw executions (SQLite's plan of the statement the store
/// runs, `crates/iza-store/src/sqlite/workflows.rs`).
#[tokio::test]
async fn the_long_window_read_searches_the_rollups_by_service_and_hour() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("iza.db");
    SqliteStore::open(&path)
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    let mut connection = raw_connection(&path).await;
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT workflow_id, runs, min_ms, max_ms, histogram \
         FROM workflow_rollups WHERE service = ?1 AND hour >= ?2",
    )
    .bind("n8n")
    .bind(BASE)
    .fetch_all(&mut connection)
    .await
    .unwrap();
    let details: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
    assert_eq!(details.len(), 1, "{details:?}");
    assert!(
        details[0].starts_with("SEARCH workflow_rollups USING PRIMARY KEY (service=? AND hour>?)"),
        "{details:?}"
    );
}

#[tokio::test]
async fn a_database_from_a_newer_build_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("iza.db");
    SqliteStore::open(&path)
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    let newer = SqliteStore::latest_schema_version() + 1;
    let mut connection = raw_connection(&path).await;
    sqlx::raw_sql(&format!("PRAGMA user_version = {newer}"))
        .execute(&mut connection)
        .await
        .unwrap();
    drop(connection);

    match SqliteStore::open(&path).await {
        Err(StoreError::Open { location, message }) => {
            assert_eq!(location, path.display().to_string());
            assert!(
                message.contains(&format!("schema version {newer}")),
                "{message}"
            );
        }
        other => panic!("expected an open error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unusable_path_is_an_open_error() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let error = SqliteStore::open(file.join("iza.db")).await.unwrap_err();
    assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with("cannot open the store at `"),
        "{error}"
    );
}

/// Where the durability child writes; set only in the child process.
const CHILD_DATABASE: &str = "IZA_STORE_DURABILITY_DATABASE";
/// The first batch number the child writes.
const CHILD_FIRST_BATCH: &str = "IZA_STORE_DURABILITY_FIRST_BATCH";
const DURABILITY_BATCH: i64 = 200;
const DURABILITY_ACKS_PER_ROUND: usize = 40;

/// Batch `batch` of the durability test: results at consecutive milliseconds.
fn durability_batch(batch: i64) -> Vec<ResultRecord> {
    (0..DURABILITY_BATCH)
        .map(|index| {
            probe(
                &format!("svc-{}", index % 5),
                BASE + batch * DURABILITY_BATCH + index,
            )
        })
        .collect()
}

/// The child side of `acknowledged_results_survive_kill_9`: does nothing unless that test
/// started this executable with the database in the environment. Then it writes batches
/// (folding now and then, so the kill may land in maintenance too) and prints each batch
/// number once `append_results` has returned, until it is killed.
#[tokio::test]
async fn durability_writer_child() {
    let Ok(path) = std::env::var(CHILD_DATABASE) else {
        return;
    };
    let first: i64 = std::env::var(CHILD_FIRST_BATCH).unwrap().parse().unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    // Bounded, in case the parent vanishes without killing (stdout closing ends it sooner).
    for batch in first..first + 100_000 {
        store
            .append_results(&durability_batch(batch))
            .await
            .unwrap();
        println!("acknowledged {batch}");
        if batch % 7 == 6 {
            let now = BASE + (batch + 1) * DURABILITY_BATCH;
            store.maintain(now, Retention::default()).await.unwrap();
        }
    }
}

/// Kills the child if the test fails before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn acknowledged_results_survive_kill_9() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("iza.db");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut first_batch = 0;
    for round in 0..3 {
        let mut child = KillOnDrop(
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "durability_writer_child",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env(CHILD_DATABASE, &path)
                .env(CHILD_FIRST_BATCH, first_batch.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
        );
        let stdout = BufReader::new(child.0.stdout.take().unwrap());
        let mut acknowledged = Vec::new();
        for line in stdout.lines() {
            // libtest prints `test durability_writer_child ... ` without a line end first.
            if let Some((_, batch)) = line.unwrap().split_once("acknowledged ") {
                acknowledged.push(batch.parse::<i64>().unwrap());
                if acknowledged.len() == DURABILITY_ACKS_PER_ROUND {
                    break;
                }
            }
        }
        // SIGKILL in the middle of the writes that follow the last acknowledgement we read.
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        assert_eq!(
            acknowledged.len(),
            DURABILITY_ACKS_PER_ROUND,
            "round {round}: the child stopped early"
        );
        let last = *acknowledged.last().unwrap();
        assert_eq!(acknowledged, (first_batch..=last).collect::<Vec<_>>());

        first_batch = runtime.block_on(async {
            let mut connection = raw_connection(&path).await;
            let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(&mut connection)
                .await
                .unwrap();
            assert_eq!(integrity, "ok", "round {round}");
            let bound = BASE + (last + 1) * DURABILITY_BATCH;
            let (kept, distinct): (i64, i64) =
                sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT at) FROM results WHERE at < ?1")
                    .bind(bound)
                    .fetch_one(&mut connection)
                    .await
                    .unwrap();
            assert_eq!(
                (kept, distinct),
                ((last + 1) * DURABILITY_BATCH, kept),
                "round {round}"
            );
            drop(connection);

            // The store reopens after the kill; its rollups still account for every result.
            let store = SqliteStore::open(&path).await.unwrap();
            let latest = store.latest_results().await.unwrap();
            let newest = latest.iter().map(|result| result.at).max().unwrap();
            let mut counted = 0;
            for service in 0..5 {
                let rollups = store
                    .rollups(&format!("svc-{service}"), Resolution::Minute, BASE)
                    .await
                    .unwrap();
                counted += rollups.iter().map(|rollup| rollup.count).sum::<u64>();
            }
            assert_eq!(
                counted,
                (newest - BASE + 1) as u64,
                "round {round}: rollups and results disagree"
            );
            store.close().await.unwrap();
            (newest - BASE) / DURABILITY_BATCH + 1
        });
    }
}

#[tokio::test]
async fn schedule_marks_and_dedupe_keys_survive_a_reopen() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("iza.db");
    let tick = |at: Millis| NewRun {
        tick: Some(at),
        dedupe: Some(format!("tick:{at}")),
        ..conformance::new_run("ops/backup", RunPriority::Medium, at)
    };
    let store = SqliteStore::open(&path).await.unwrap();
    let ids = store
        .enqueue_runs(&[tick(BASE), tick(BASE + 1_000)])
        .await
        .unwrap();
    assert!(ids.iter().all(Option::is_some));
    store.close().await.unwrap();

    let reopened = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        reopened.schedule_marks().await.unwrap(),
        vec![("ops/backup".to_owned(), BASE + 1_000)]
    );
    let again = reopened
        .enqueue_runs(&[
            tick(BASE),
            tick(BASE + 1_000),
            NewRun {
                tick: None,
                ..tick(BASE + 1_000)
            },
            tick(BASE + 2_000),
        ])
        .await
        .unwrap();
    assert_eq!(&again[..3], &[None, None, None]);
    assert!(again[3].is_some());
}

/// The writer no longer checkpoints the log itself every 1,000 pages (that commit fsynced
/// twice, the idle dispatch's p99): its automatic checkpoint is only a backstop, and a task of
/// the store copies the log into the database file shortly after writes.
#[tokio::test]
async fn the_log_is_checkpointed_off_the_writer() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("iza.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let backstop: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(
        backstop > 10_000,
        "the writer checkpoints every {backstop} pages"
    );
    let empty = std::fs::metadata(&path).unwrap().len();
    // About 2,000 pages of log: past SQLite's default automatic checkpoint, below the backstop.
    for batch in 0..20 {
        let runs: Vec<NewRun> = (0..500)
            .map(|index| NewRun {
                trigger: serde_json::json!({"pad": "x".repeat(400), "index": index}),
                ..conformance::new_run("ops/fill", RunPriority::Low, BASE + batch)
            })
            .collect();
        store.enqueue_runs(&runs).await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let size = std::fs::metadata(&path).unwrap().len();
        if size > empty + 4_000_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the database file is still {size} bytes ({empty} empty): nothing checkpointed it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    store.close().await.unwrap();
}

/// Where the queue child works; set only in the child process.
const QUEUE_CHILD_DATABASE: &str = "IZA_STORE_QUEUE_DATABASE";
const QUEUE_CHILD_FIRST_BATCH: &str = "IZA_STORE_QUEUE_FIRST_BATCH";
const QUEUE_CHILD_WORKER: &str = "IZA_STORE_QUEUE_WORKER";
const QUEUE_BATCH: i64 = 40;
const QUEUE_ACKS_PER_ROUND: usize = 30;

/// Batch `batch` of the queue durability test: runs with dedupe keys `batch/index`.
fn queue_batch(batch: i64) -> Vec<NewRun> {
    (0..QUEUE_BATCH)
        .map(|index| NewRun {
            dedupe: Some(format!("{batch}/{index}")),
            max_attempts: 100,
            ..conformance::new_run(
                &format!("task-{}", index % 3),
                RunPriority::Medium,
                BASE + batch,
            )
        })
        .collect()
}

/// The child side of `acknowledged_runs_survive_kill_9`: enqueues a batch (printing
/// `enqueued B` once acknowledged), claims up to a batch, finishes the first half of what it
/// claimed (printing `finished ID ...` once acknowledged), and so on until killed.
#[tokio::test]
async fn queue_worker_child() {
    let Ok(path) = std::env::var(QUEUE_CHILD_DATABASE) else {
        return;
    };
    let first: i64 = std::env::var(QUEUE_CHILD_FIRST_BATCH)
        .unwrap()
        .parse()
        .unwrap();
    let worker = std::env::var(QUEUE_CHILD_WORKER).unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    for batch in first..first + 100_000 {
        store.enqueue_runs(&queue_batch(batch)).await.unwrap();
        println!("enqueued {batch}");
        let mut request = conformance::claim_request(&worker, BASE + batch, QUEUE_BATCH as usize);
        request.lease = 3_600_000;
        let claimed = store.claim_runs(&request).await.unwrap();
        let finishes: Vec<RunFinish> = claimed
            .iter()
            .take(claimed.len() / 2)
            .map(|run| RunFinish {
                id: run.id,
                worker: worker.clone(),
                at: BASE + batch,
                outcome: RunOutcome::Succeeded,
                output: None,
                error: None,
            })
            .collect();
        let finished = store.finish_runs(&finishes).await.unwrap();
        let ids: Vec<String> = finished.iter().map(ToString::to_string).collect();
        println!("finished {}", ids.join(" "));
    }
}

#[test]
fn acknowledged_runs_survive_kill_9() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("iza.db");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut first_batch = 0;
    let mut all_finished: Vec<i64> = Vec::new();
    for round in 0..3 {
        let worker = format!("child-{round}");
        let mut child = KillOnDrop(
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "queue_worker_child",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env(QUEUE_CHILD_DATABASE, &path)
                .env(QUEUE_CHILD_FIRST_BATCH, first_batch.to_string())
                .env(QUEUE_CHILD_WORKER, &worker)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
        );
        let stdout = BufReader::new(child.0.stdout.take().unwrap());
        let mut enqueued = Vec::new();
        for line in stdout.lines() {
            let line = line.unwrap();
            if let Some((_, batch)) = line.split_once("enqueued ") {
                enqueued.push(batch.parse::<i64>().unwrap());
                if enqueued.len() == QUEUE_ACKS_PER_ROUND {
                    break;
                }
            } else if let Some((_, ids)) = line.split_once("finished ") {
                all_finished.extend(ids.split_whitespace().map(|id| id.parse::<i64>().unwrap()));
            }
        }
        // SIGKILL in the middle of the claims and finishes that follow.
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        assert_eq!(enqueued.len(), QUEUE_ACKS_PER_ROUND, "round {round}");
        let last = *enqueued.last().unwrap();

        first_batch = runtime.block_on(async {
            let mut connection = raw_connection(&path).await;
            let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(&mut connection)
                .await
                .unwrap();
            assert_eq!(integrity, "ok", "round {round}");
            drop(connection);
            let store = SqliteStore::open(&path).await.unwrap();
            // Every acknowledged enqueue is there, once.
            let runs = store
                .runs(&iza_store::RunQuery {
                    limit: 1_000,
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut all_runs = runs;
            while let Some(oldest) = all_runs.last().map(|run| run.id) {
                let page = store
                    .runs(&iza_store::RunQuery {
                        before: Some(oldest),
                        limit: 1_000,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                if page.is_empty() {
                    break;
                }
                all_runs.extend(page);
            }
            let keys: std::collections::HashSet<&str> = all_runs
                .iter()
                .filter_map(|run| run.dedupe.as_deref())
                .collect();
            assert_eq!(keys.len(), all_runs.len(), "round {round}: a key twice");
            for batch in 0..=last {
                for index in 0..QUEUE_BATCH {
                    let key = format!("{batch}/{index}");
                    assert!(keys.contains(key.as_str()), "round {round}: run {key} lost");
                }
            }
            // Every acknowledged finish is there.
            let by_id: std::collections::HashMap<i64, &iza_store::Run> =
                all_runs.iter().map(|run| (run.id, run)).collect();
            for id in &all_finished {
                assert_eq!(
                    by_id[id].state,
                    RunState::Succeeded,
                    "round {round}: finish of run {id} lost"
                );
            }
            // The dead child's runs go back to the queue, none is left running.
            let released = store
                .release_expired_runs(BASE, std::slice::from_ref(&worker))
                .await
                .unwrap();
            assert!(released.iter().all(|run| run.state == RunState::Queued));
            assert_eq!(store.queue_depth(BASE).await.unwrap().running, 0);
            store.close().await.unwrap();
            // The next child re-enqueues the batch that may have been cut: deduplicated.
            last + 1
        });
    }
}

/// Finishes run `id` as a success of worker `w`, asserting that `w` held it.
async fn finish_held(store: &SqliteStore, id: i64, at: Millis) {
    let finished = store
        .finish_runs(&[RunFinish {
            id,
            worker: "w".to_owned(),
            at,
            outcome: RunOutcome::Succeeded,
            output: None,
            error: None,
        }])
        .await
        .unwrap();
    assert_eq!(finished, vec![id]);
}

/// An `enqueue_and_claim_runs` whose caller stops waiting in the middle (its future dropped
/// after one poll, which takes the writer and sends `BEGIN IMMEDIATE`, the insert and the
/// candidates) leaves no transaction open on the writer: its insert is rolled back before the
/// writer serves anyone else, and the next calls go through. A call that the writer's thread
/// answered within that one poll ended whole: its run is there, claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueue_and_claim_cut_short_leaves_the_writer_usable() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path().join("iza.db"))
        .await
        .unwrap();
    let rounds = 40;
    let mut completed = Vec::new();
    for round in 0..rounds {
        let at = BASE + round;
        let run = [conformance::new_run("ops/cut", RunPriority::High, at)];
        let request = conformance::claim_request("w", at, 1);
        let mut call = Box::pin(store.enqueue_and_claim_runs(&run, &request));
        let polled = std::future::Future::poll(
            call.as_mut(),
            &mut std::task::Context::from_waker(std::task::Waker::noop()),
        );
        drop(call);
        if let std::task::Poll::Ready(answer) = polled {
            let (ids, claimed) = answer.unwrap();
            let id = ids[0].expect("enqueued");
            assert_eq!(claimed.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id]);
            completed.push(id);
            finish_held(&store, id, at).await;
        }
        let (ids, claimed) = store
            .enqueue_and_claim_runs(
                &[conformance::new_run("ops/next", RunPriority::Low, at)],
                &conformance::claim_request("w", at, 1),
            )
            .await
            .unwrap();
        let next = ids[0].expect("enqueued");
        assert_eq!(
            claimed.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![next],
            "round {round}: a cut run (high) was rolled back, not left queued"
        );
        finish_held(&store, next, at).await;
    }
    let cut = store
        .runs(&iza_store::RunQuery {
            task: Some("ops/cut".to_owned()),
            limit: 100,
            ..iza_store::RunQuery::default()
        })
        .await
        .unwrap();
    let mut kept: Vec<i64> = cut.iter().map(|run| run.id).collect();
    kept.sort_unstable();
    assert_eq!(kept, completed, "only the calls that ended left a run");
    assert!(
        completed.len() < rounds as usize,
        "no call was cut short: nothing was tested"
    );
}
