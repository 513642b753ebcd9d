//! IZA's side of `bench/queue-peer.sh`: the run queue of the SQLite store measured the way
//! `queue-graphile.sh` measures graphile-worker, on a fresh database file in a temporary
//! directory (WAL, `synchronous=NORMAL`: durable against process crashes).
//!
//! 1. bulk enqueue: `N_BULK` (100,000) no-op runs through `enqueue_runs`, batches of `BULK_BATCH`
//!    (10,000), each batch one transaction;
//! 2. single enqueue: `N_SINGLE` (5,000) runs, one call (one commit) each;
//! 3. drain: every queued run claimed (`claim_runs`, `DRAIN_BATCH` = 500 per claim) and finished
//!    (`finish_runs`, the same batch) by `WORKERS` (1) worker loops, until the queue is empty;
//! 4. idle dispatch: a worker waits on a wake-up (a `tokio::sync::Notify`, as the runtime's
//!    channel will be); `LAT_N` (2,000) runs are enqueued one at a time at `LAT_RATE` (200)/s;
//!    latency = the claim returning the run - the moment before the enqueue call;
//! 5. idle dispatch at once (`run_now` of a local run with a free slot): the same `LAT_N` runs at
//!    `LAT_RATE`, each enqueued and claimed in one call (`enqueue_and_claim_runs`, one
//!    transaction, a claim of up to 10 as the worker's); latency = the call returning the run -
//!    the moment before it (the worker's wake-up is not needed: the caller hands the run over);
//! 6. the floor of any store call: `LAT_N` round trips of `SELECT 1` on the writer connection at
//!    `LAT_RATE` (a pool acquire and a hop to the connection's thread and back), so that the
//!    dispatch's figures can be read as so many round trips.
//!
//! Run with `cargo run --release -p iza-store --example queue_bench`; prints one line
//! `key=value ...` per measurement (for the script) after a human-readable table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iza_store::{
    ClaimRequest, Millis, NewRun, RunFinish, RunOutcome, RunPriority, SqliteStore, Store,
};

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

fn noop(index: usize, at: Millis) -> NewRun {
    NewRun {
        task: format!("bench/noop-{}", index % 10),
        agent: Some("bench".to_owned()),
        priority: RunPriority::ALL[index % 3],
        dedupe: None,
        tick: None,
        run_at: at,
        max_attempts: 1,
        concurrency: 1_000_000,
        external: false,
        trigger: serde_json::json!({"i": index}),
        enqueued_at: at,
    }
}

fn claim(worker: &str, limit: usize) -> ClaimRequest {
    ClaimRequest {
        worker: worker.to_owned(),
        now: now_millis(),
        lease: 60_000,
        limit,
        external: false,
        agent: None,
        tasks: None,
        aging: 60_000,
    }
}

/// CPU seconds (user + system) this process has used so far, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
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

fn latencies_of(part: &[f64; 4]) -> f64 {
    part.iter().sum()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n_bulk = env_number("N_BULK", 100_000);
    let bulk_batch = env_number("BULK_BATCH", 10_000).max(1);
    let n_single = env_number("N_SINGLE", 5_000);
    let drain_batch = env_number("DRAIN_BATCH", 500).max(1);
    let workers = env_number("WORKERS", 1).max(1);
    let lat_n = env_number("LAT_N", 2_000);
    let lat_rate = env_number("LAT_RATE", 200).max(1);

    let directory = tempfile::tempdir()?;
    let sqlite = SqliteStore::open(directory.path().join("queue.db")).await?;
    // An experiment's knob: the writer's own automatic checkpoint (SQLite's default 1,000 pages).
    if let Ok(pages) = std::env::var("WAL_AUTOCHECKPOINT") {
        let pages: i64 = pages.parse()?;
        sqlx::query(&format!("PRAGMA wal_autocheckpoint = {pages}"))
            .execute(sqlite.pool())
            .await?;
    }
    let writer = sqlite.pool().clone();
    let store: Arc<dyn Store> = Arc::new(sqlite);
    let mut lines = Vec::new();

    // 1. bulk enqueue
    let at = now_millis();
    store.enqueue_runs(&[noop(0, at)]).await?; // warm-up
    let runs: Vec<NewRun> = (1..=n_bulk).map(|index| noop(index, at)).collect();
    let cpu = cpu_seconds();
    let started = Instant::now();
    for batch in runs.chunks(bulk_batch) {
        store.enqueue_runs(batch).await?;
    }
    let bulk = started.elapsed().as_secs_f64();
    lines.push(format!(
        "bulk_enqueue runs={n_bulk} batch={bulk_batch} seconds={bulk:.4} per_s={:.0} cpu_s={:.2}",
        n_bulk as f64 / bulk,
        cpu_seconds() - cpu
    ));

    // 2. single enqueue
    let mut per_call = Vec::with_capacity(n_single);
    let started = Instant::now();
    for index in 0..n_single {
        let call = Instant::now();
        store.enqueue_runs(&[noop(index, now_millis())]).await?;
        per_call.push(call.elapsed().as_secs_f64() * 1e3);
    }
    let single = started.elapsed().as_secs_f64();
    per_call.sort_by(f64::total_cmp);
    if !per_call.is_empty() {
        lines.push(format!(
            "single_enqueue runs={n_single} seconds={single:.4} per_s={:.0} p50_ms={:.3} p99_ms={:.3}",
            n_single as f64 / single,
            percentile(&per_call, 50.0),
            percentile(&per_call, 99.0)
        ));
    }

    // 3. drain
    let total = 1 + n_bulk + n_single;
    let cpu = cpu_seconds();
    let started = Instant::now();
    let mut loops = Vec::new();
    for worker in 0..workers {
        let store = store.clone();
        loops.push(tokio::spawn(async move {
            let name = format!("bench-{worker}");
            let mut done = 0usize;
            let (mut claiming, mut finishing) = (Duration::ZERO, Duration::ZERO);
            loop {
                let call = Instant::now();
                let claimed = store.claim_runs(&claim(&name, drain_batch)).await?;
                claiming += call.elapsed();
                if claimed.is_empty() {
                    return Ok::<_, iza_store::StoreError>((done, claiming, finishing));
                }
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
    let (mut drained, mut claiming, mut finishing) = (0, 0.0, 0.0);
    for worker in loops {
        let (done, claim_time, finish_time) = worker.await??;
        drained += done;
        claiming += claim_time.as_secs_f64();
        finishing += finish_time.as_secs_f64();
    }
    let drain = started.elapsed().as_secs_f64();
    let depth = store.queue_depth(now_millis()).await?;
    if drained != total || depth.ready.iter().sum::<u64>() + depth.running != 0 {
        return Err(format!("drained {drained} of {total}; left {depth:?}").into());
    }
    lines.push(format!(
        "drain runs={total} batch={drain_batch} workers={workers} seconds={drain:.4} per_s={:.0} \
         cpu_s={:.2} claim_seconds={claiming:.4} finish_seconds={finishing:.4}",
        total as f64 / drain,
        cpu_seconds() - cpu
    ));

    // 4. idle dispatch
    if lat_n > 0 {
        let wake = Arc::new(tokio::sync::Notify::new());
        // Per run: when the worker woke, when its claim call began and when it returned.
        let (sender, mut receiver) =
            tokio::sync::mpsc::unbounded_channel::<(Instant, Instant, Instant)>();
        let worker = {
            let store = store.clone();
            let wake = wake.clone();
            tokio::spawn(async move {
                let mut seen = 0;
                while seen < lat_n {
                    wake.notified().await;
                    let woke = Instant::now();
                    loop {
                        let called = Instant::now();
                        let claimed = store.claim_runs(&claim("lat", 10)).await?;
                        if claimed.is_empty() {
                            break;
                        }
                        let at = Instant::now();
                        let finishes: Vec<RunFinish> = claimed
                            .iter()
                            .map(|run| RunFinish {
                                id: run.id,
                                worker: "lat".to_owned(),
                                at: now_millis(),
                                outcome: RunOutcome::Succeeded,
                                output: None,
                                error: None,
                            })
                            .collect();
                        for _ in &claimed {
                            let _ = sender.send((woke, called, at));
                        }
                        seen += claimed.len();
                        store.finish_runs(&finishes).await?;
                    }
                }
                Ok::<(), iza_store::StoreError>(())
            })
        };
        let interval = Duration::from_secs_f64(1.0 / lat_rate as f64);
        let base = Instant::now();
        let mut latencies = Vec::with_capacity(lat_n);
        // The parts of each dispatch: enqueue call, notify to the worker awake, awake to the
        // claim call, the claim call.
        let mut parts: Vec<[f64; 4]> = Vec::with_capacity(lat_n);
        let ms =
            |from: Instant, to: Instant| to.saturating_duration_since(from).as_secs_f64() * 1e3;
        for index in 0..lat_n {
            let due = base + interval * index as u32;
            tokio::time::sleep_until(due.into()).await;
            let before = Instant::now();
            store.enqueue_runs(&[noop(index, now_millis())]).await?;
            let enqueued = Instant::now();
            wake.notify_one();
            let (woke, called, started) = receiver.recv().await.ok_or("the worker stopped")?;
            latencies.push(ms(before, started));
            // A claim that began before this enqueue returned (the worker looping) counts
            // from the enqueue's return.
            let woke = woke.max(enqueued);
            let called = called.max(woke);
            parts.push([
                ms(before, enqueued),
                ms(enqueued, woke),
                ms(woke, called),
                ms(called, started),
            ]);
        }
        if std::env::var_os("PARTS").is_some() {
            let names = ["enqueue", "wake", "to_claim", "claim"];
            for (column, name) in names.iter().enumerate() {
                let mut values: Vec<f64> = parts.iter().map(|part| part[column]).collect();
                values.sort_by(f64::total_cmp);
                eprintln!(
                    "part {name:<8} p50 {:.3} p99 {:.3} max {:.3} ms",
                    percentile(&values, 50.0),
                    percentile(&values, 99.0),
                    values[values.len() - 1]
                );
            }
            // The slowest 1 %: which part was the largest.
            let mut order: Vec<usize> = (0..parts.len()).collect();
            order.sort_by(|a, b| latencies_of(&parts[*b]).total_cmp(&latencies_of(&parts[*a])));
            let mut blame = [0usize; 4];
            for index in order.iter().take((parts.len() / 100).max(1)) {
                let part = parts[*index];
                let worst = (0..4)
                    .max_by(|a, b| part[*a].total_cmp(&part[*b]))
                    .unwrap_or(0);
                blame[worst] += 1;
            }
            eprintln!(
                "slowest 1 %, largest part: {:?}",
                names.iter().zip(blame).collect::<Vec<_>>()
            );
        }
        worker.await??;
        latencies.sort_by(f64::total_cmp);
        lines.push(format!(
            "dispatch runs={lat_n} rate={lat_rate} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3}",
            percentile(&latencies, 50.0),
            percentile(&latencies, 90.0),
            percentile(&latencies, 99.0),
            latencies[latencies.len() - 1]
        ));
    }

    // 5. idle dispatch at once
    if lat_n > 0 {
        let interval = Duration::from_secs_f64(1.0 / lat_rate as f64);
        let base = Instant::now();
        let mut latencies = Vec::with_capacity(lat_n);
        for index in 0..lat_n {
            let due = base + interval * index as u32;
            tokio::time::sleep_until(due.into()).await;
            let before = Instant::now();
            let (ids, claimed) = store
                .enqueue_and_claim_runs(&[noop(index, now_millis())], &claim("lat", 10))
                .await?;
            let started = Instant::now();
            if claimed.len() != 1 || Some(claimed[0].id) != ids[0] {
                return Err(format!("run {index}: claimed {claimed:?} for {ids:?}").into());
            }
            latencies.push(started.duration_since(before).as_secs_f64() * 1e3);
            let finishes: Vec<RunFinish> = claimed
                .iter()
                .map(|run| RunFinish {
                    id: run.id,
                    worker: "lat".to_owned(),
                    at: now_millis(),
                    outcome: RunOutcome::Succeeded,
                    output: None,
                    error: None,
                })
                .collect();
            store.finish_runs(&finishes).await?;
        }
        latencies.sort_by(f64::total_cmp);
        lines.push(format!(
            "dispatch_at_once runs={lat_n} rate={lat_rate} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3}",
            percentile(&latencies, 50.0),
            percentile(&latencies, 90.0),
            percentile(&latencies, 99.0),
            latencies[latencies.len() - 1]
        ));
    }

    // 6. one round trip to the writer
    if lat_n > 0 {
        let interval = Duration::from_secs_f64(1.0 / lat_rate as f64);
        let base = Instant::now();
        let mut latencies = Vec::with_capacity(lat_n);
        for index in 0..lat_n {
            tokio::time::sleep_until((base + interval * index as u32).into()).await;
            let before = Instant::now();
            sqlx::query("SELECT 1").execute(&writer).await?;
            latencies.push(before.elapsed().as_secs_f64() * 1e3);
        }
        latencies.sort_by(f64::total_cmp);
        lines.push(format!(
            "writer_round_trip runs={lat_n} rate={lat_rate} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3}",
            percentile(&latencies, 50.0),
            percentile(&latencies, 90.0),
            percentile(&latencies, 99.0),
            latencies[latencies.len() - 1]
        ));
    }

    store.close().await?;
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
