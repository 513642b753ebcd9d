//! IZA's side of `bench/workflow-rollups.sh`: the workflow figures a follower judges and the
//! API shows, read from a SQLite store holding `IZA_BENCH_EXECUTIONS` executions (30,000 by
//! default) of `IZA_BENCH_WORKFLOWS` workflows (2,056, the seed's n8n) spread evenly over the
//! last `IZA_BENCH_SPAN_HOURS` hours (168: seven days; 1 gives the density of an engine running
//! 30,000 executions an hour, as `bench/workflows.sh`'s), 5 % failing, 50 ms to 5 s long. The history is written as a follower writes
//! it (`apply_workflow_sync`, rounds of 250), then each window is read `IZA_BENCH_REPEAT` times
//! (5) and the median wall time and the mean CPU time of the process are printed: the 7-day
//! window (starting on the hour, as the API reads it),
//! the 24-hour one and the 1-hour one (exact, as the verdict reads the default window).
//!
//! It uses only the `Store` trait, so the same file measures a build before the hourly
//! rollups (the script copies it into a checkout of the older commit).
//!
//! `cargo run -p iza-store --example workflow_stats_bench` prints one line `key=value ...`.

use std::time::Instant;

use iza_store::{ExecutionRecord, Millis, SqliteStore, Store, WorkflowRecord, WorkflowSync};

const HOUR: Millis = 3_600_000;

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

/// CPU time of this process so far (all threads, user and system), in ms, from
/// `/proc/self/stat` (clock ticks of 10 ms); 0 where there is none. On a shared, loaded machine
/// it varies far less than the wall clock.
fn cpu_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) * 10.0
}

/// The median wall time of `repeat` reads, their mean CPU time, and how many workflows came.
async fn median_ms(store: &dyn Store, since: Millis, repeat: usize) -> (f64, f64, usize) {
    let mut times = Vec::with_capacity(repeat);
    let mut workflows = 0;
    let cpu_before = cpu_ms();
    for _ in 0..repeat {
        let started = Instant::now();
        let stats = store
            .workflow_stats("n8n", since)
            .await
            .expect("workflow figures");
        times.push(started.elapsed().as_secs_f64() * 1_000.0);
        workflows = stats.len();
    }
    let cpu = (cpu_ms() - cpu_before) / repeat as f64;
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], cpu, workflows)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let executions = env_number("IZA_BENCH_EXECUTIONS", 30_000);
    let workflows = env_number("IZA_BENCH_WORKFLOWS", 2_056).max(1);
    let repeat = env_number("IZA_BENCH_REPEAT", 5).max(1);
    let directory = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(directory.path().join("iza.db"))
        .await
        .expect("a store");
    let span_hours = env_number("IZA_BENCH_SPAN_HOURS", 168).max(1);
    let now = now_millis();
    let week = 7 * 24 * HOUR;
    let span = span_hours as Millis * HOUR;
    let step = span / executions.max(1) as Millis;
    let list: Vec<WorkflowRecord> = (0..workflows)
        .map(|w| WorkflowRecord {
            id: format!("wf{w:05}"),
            name: format!("Workflow #{w:05}"),
            active: true,
            tags: Vec::new(),
        })
        .collect();
    let history: Vec<ExecutionRecord> = (0..executions)
        .map(|i| {
            let started_at = now - span + i as Millis * step;
            ExecutionRecord {
                id: i.to_string(),
                workflow_id: format!("wf{:05}", i % workflows),
                status: if i % 20 == 0 { "error" } else { "success" }.to_owned(),
                mode: Some("trigger".to_owned()),
                started_at,
                stopped_at: Some(started_at + 50 + (i as Millis * 7_919) % 4_950),
                retry_of: None,
            }
        })
        .collect();
    let filling = Instant::now();
    let mut first = Some(list);
    for page in history.chunks(250) {
        let round = WorkflowSync {
            workflows: first.take(),
            executions: page.to_vec(),
            failures: Vec::new(),
            cursor: String::new(),
        };
        store
            .apply_workflow_sync("n8n", &round)
            .await
            .expect("a round");
    }
    let fill_s = filling.elapsed().as_secs_f64();
    let since_7d = (now - week) - (now - week).rem_euclid(HOUR);
    let since_24h = (now - 24 * HOUR) - (now - 24 * HOUR).rem_euclid(HOUR);
    let since_1h = now - HOUR;
    let (ms_7d, cpu_7d, listed) = median_ms(&store, since_7d, repeat).await;
    let (ms_24h, cpu_24h, _) = median_ms(&store, since_24h, repeat).await;
    let (ms_1h, cpu_1h, _) = median_ms(&store, since_1h, repeat).await;
    println!(
        "executions={executions} span_hours={span_hours} workflows={listed} \
         write_per_execution_us={:.1} \
         stats_7d_ms={ms_7d:.1} stats_24h_ms={ms_24h:.1} stats_1h_ms={ms_1h:.1} \
         cpu_7d_ms={cpu_7d:.0} cpu_24h_ms={cpu_24h:.0} cpu_1h_ms={cpu_1h:.0}",
        fill_s * 1e6 / executions.max(1) as f64
    );
    store.close().await.expect("closed");
}
