//! Benchmarks of the SQLite store's hot paths: appending a batch of results (one transaction),
//! folding a minute of 1,000 services, and the reads behind one service's page (rollups and
//! uptime). Run with `cargo bench -p iza-store`.

use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use iza_store::{Resolution, ResultRecord, Retention, SqliteStore, Store};

const BASE: i64 = 1_749_996_000_000;
const SERVICES: i64 = 1_000;

fn batch(second: i64, size: i64) -> Vec<ResultRecord> {
    (0..size)
        .map(|index| ResultRecord {
            service: format!("service-{:04}", index % SERVICES),
            at: BASE + second * 1_000 + index % 1_000,
            up: index % 17 != 0,
            latency_ms: (index % 250) as f64 + 0.5,
            message: None,
            ..Default::default()
        })
        .collect()
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
    let second = AtomicI64::new(0);

    let mut group = criterion.benchmark_group("append_results");
    for size in [100i64, 1_000] {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |bencher, size| {
            bencher.iter(|| {
                let records = batch(second.fetch_add(1, Ordering::Relaxed), *size);
                runtime
                    .block_on(store.append_results(black_box(&records)))
                    .expect("append");
            });
        });
    }
    group.finish();

    // Fold everything written so far, then measure folding one fresh minute of 1,000 services.
    let now = Cell::new(BASE + (second.load(Ordering::Relaxed) + 120) * 1_000);
    runtime
        .block_on(store.maintain(now.get(), Retention::default()))
        .expect("maintain");
    criterion.bench_function("maintain_one_minute_of_1000_services", |bencher| {
        bencher.iter_batched(
            || {
                let second = (now.get() - BASE) / 1_000;
                runtime
                    .block_on(store.append_results(&batch(second, SERVICES)))
                    .expect("append");
                now.set(now.get() + 60_000);
            },
            |()| {
                runtime
                    .block_on(store.maintain(now.get(), Retention::default()))
                    .expect("maintain")
            },
            criterion::BatchSize::PerIteration,
        );
    });

    criterion.bench_function("rollups_and_uptime_of_one_service", |bencher| {
        bencher.iter(|| {
            runtime.block_on(async {
                let minutes = store
                    .rollups("service-0042", Resolution::Minute, now.get() - 3_600_000)
                    .await;
                let uptime = store.uptime("service-0042", now.get()).await;
                black_box((minutes.expect("rollups"), uptime.expect("uptime")))
            })
        });
    });
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
