//! Benchmarks of the run queue of the SQLite store: enqueueing a batch of 1,000 runs (one
//! transaction), claiming and finishing 1,000 queued runs (one claim, one finish: the drain's
//! hot path), and one run enqueued then claimed and finished on an idle queue (the store's share
//! of dispatch latency). Run with `cargo bench -p iza-store --bench queue`; the side-by-side
//! comparison with graphile-worker is `bench/queue-peer.sh`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iza_store::{
    ClaimRequest, Millis, NewRun, RunFinish, RunOutcome, RunPriority, SqliteStore, Store,
};

const BASE: Millis = 1_749_996_000_000;
const BATCH: usize = 1_000;

fn noop(index: usize) -> NewRun {
    NewRun {
        task: format!("bench/noop-{}", index % 10),
        agent: Some("bench".to_owned()),
        priority: RunPriority::ALL[index % 3],
        dedupe: None,
        tick: None,
        run_at: BASE,
        max_attempts: 1,
        concurrency: 1_000_000,
        external: false,
        trigger: serde_json::json!({"i": index}),
        enqueued_at: BASE,
    }
}

fn claim(limit: usize) -> ClaimRequest {
    ClaimRequest {
        worker: "bench".to_owned(),
        now: BASE + 1,
        lease: 60_000,
        limit,
        external: false,
        agent: None,
        tasks: None,
        aging: 60_000,
    }
}

async fn claim_and_finish(store: &SqliteStore, limit: usize) -> usize {
    let claimed = store.claim_runs(&claim(limit)).await.expect("claim");
    let finishes: Vec<RunFinish> = claimed
        .iter()
        .map(|run| RunFinish {
            id: run.id,
            worker: "bench".to_owned(),
            at: BASE + 2,
            outcome: RunOutcome::Succeeded,
            output: None,
            error: None,
        })
        .collect();
    store.finish_runs(&finishes).await.expect("finish").len()
}

fn benchmarks(criterion: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let directory = tempfile::tempdir().expect("a temporary directory");
    let store = runtime
        .block_on(SqliteStore::open(directory.path().join("bench.db")))
        .expect("the store opens");
    let batch: Vec<NewRun> = (0..BATCH).map(noop).collect();

    let mut group = criterion.benchmark_group("queue");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("enqueue_1000", |bencher| {
        bencher.iter_custom(|iterations| {
            let mut spent = Duration::ZERO;
            for _ in 0..iterations {
                let started = Instant::now();
                runtime
                    .block_on(store.enqueue_runs(black_box(&batch)))
                    .expect("enqueue");
                spent += started.elapsed();
                // Keep the queue from growing without bound: drain what was just added.
                runtime.block_on(claim_and_finish(&store, BATCH));
            }
            spent
        });
    });
    group.bench_function("claim_and_finish_1000", |bencher| {
        bencher.iter_custom(|iterations| {
            let mut spent = Duration::ZERO;
            for _ in 0..iterations {
                runtime
                    .block_on(store.enqueue_runs(&batch))
                    .expect("enqueue");
                let started = Instant::now();
                let done = runtime.block_on(claim_and_finish(&store, BATCH));
                spent += started.elapsed();
                assert_eq!(done, BATCH);
            }
            spent
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("enqueue_claim_finish_one_idle", |bencher| {
        bencher.iter(|| {
            runtime.block_on(async {
                store.enqueue_runs(&batch[..1]).await.expect("enqueue");
                assert_eq!(claim_and_finish(&store, 1).await, 1);
            })
        });
    });
    group.finish();
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
