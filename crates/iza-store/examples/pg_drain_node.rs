//! One node of the queue's drain on PostgreSQL, for `bench/scale-out.sh` (`PHASES=drain`): the
//! store's share of the drain measured the way `queue_bench` measures it on SQLite and the way
//! graphile-worker's batched preset drains no-op jobs, but with several nodes (processes, each
//! with its own connection pool) claiming from one database.
//!
//! It connects to `STORE_URL` (migrating it), prints `ready`, waits for a line on standard
//! input (the driver inserts the runs, then starts every node at once), then claims up to
//! `DRAIN_BATCH` (500) runs at a time (`claim_runs`) and finishes them as succeeded
//! (`finish_runs`, the same batch), with `WORKERS` (1) such loops, until a claim comes back
//! empty. It prints one line: `node runs=N seconds=S cpu_s=C claims=K claim_seconds=...
//! finish_seconds=...`.
//!
//! `cargo build --release -p iza-store --example pg_drain_node`

use std::io::BufRead as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iza_store::{ClaimRequest, Millis, PostgresStore, RunFinish, RunOutcome, Store};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as Millis)
}

/// CPU seconds (user + system) this process has used so far, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map_or(Vec::new(), |(_, rest)| rest.split(' ').collect());
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|field| field.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("STORE_URL").map_err(|_| "set STORE_URL=postgres://...")?;
    let batch = env_number("DRAIN_BATCH", 500).max(1);
    let workers = env_number("WORKERS", 1).max(1);
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).await?);
    let node = format!("node-{}", std::process::id());
    println!("ready");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;

    let cpu = cpu_seconds();
    let started = Instant::now();
    let mut loops = Vec::new();
    for worker in 0..workers {
        let (store, name) = (store.clone(), format!("{node}-{worker}"));
        loops.push(tokio::spawn(async move {
            let (mut done, mut claims) = (0usize, 0usize);
            let (mut claiming, mut finishing) = (Duration::ZERO, Duration::ZERO);
            loop {
                let call = Instant::now();
                let claimed = store
                    .claim_runs(&ClaimRequest {
                        worker: name.clone(),
                        now: now_millis(),
                        lease: 60_000,
                        limit: batch,
                        external: false,
                        agent: None,
                        tasks: None,
                        aging: 60_000,
                    })
                    .await?;
                claiming += call.elapsed();
                if claimed.is_empty() {
                    return Ok::<_, iza_store::StoreError>((done, claims, claiming, finishing));
                }
                claims += 1;
                let at = now_millis();
                let finishes: Vec<RunFinish> = claimed
                    .iter()
                    .map(|run| RunFinish {
                        id: run.id,
                        worker: name.clone(),
                        at,
                        outcome: RunOutcome::Succeeded,
                        output: None,
                        error: None,
                    })
                    .collect();
                let call = Instant::now();
                done += store.finish_runs(&finishes).await?.len();
                finishing += call.elapsed();
            }
        }));
    }
    let (mut runs, mut claims, mut claiming, mut finishing) = (0, 0, 0.0, 0.0);
    for worker in loops {
        let (done, count, claim_time, finish_time) = worker.await??;
        runs += done;
        claims += count;
        claiming += claim_time.as_secs_f64();
        finishing += finish_time.as_secs_f64();
    }
    println!(
        "node runs={runs} seconds={:.4} cpu_s={:.2} claims={claims} claim_seconds={claiming:.4} \
         finish_seconds={finishing:.4}",
        started.elapsed().as_secs_f64(),
        cpu_seconds() - cpu
    );
    store.close().await?;
    Ok(())
}
