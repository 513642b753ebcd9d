//! The agents engine under a schedule of `TASKS` (10,000) tasks on `every = EVERY` ("1s"),
//! run for `RUN_SECONDS` (60) on the real engine (schedule, queue on a fresh SQLite file, worker,
//! monitor and recorder), against the target: p99 schedule lag under 50 ms and peak
//! RSS under 150 MB. `bench/engine-schedule.sh` builds and runs it.
//!
//! Each task's action is `ACTION`:
//! - `http` (default): a `GET` to a small HTTP/1.1 server in this process that answers
//!   `200 OK` at once (keep-alive), so the run's cost is the engine's and not the action's;
//! - `external`: the runs are only queued (no worker takes them), which measures the
//!   scheduler alone.
//!
//! Lag is measured per run from the store once the period is over: the schedule lag is the
//! enqueue time less the tick (the scheduler keeping time), the start lag is the claim time
//! (`started_at`) less the tick (the worker keeping up); runs still queued at the end count as
//! not started. Peak RSS is the process's `VmHWM`. Prints one `key=value` line per figure and
//! `met`/`missed` per target.
//!
//! `cargo run --release -p iza-runtime --example engine_bench`

use std::sync::Arc;
use std::time::{Duration, Instant};

use iza_catalog::{SourceFile, Syntax};
use iza_probe::Prober;
use iza_runtime::agents::{Agents, AgentsOptions};
use iza_runtime::{Launch, Launcher, Monitor, MonitorOptions};
use iza_store::{Millis, RunQuery, RunState, SqliteStore, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A kibibyte figure of `/proc/self/status` (`VmHWM`, `VmRSS`).
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// An HTTP/1.1 server that answers every request `200 OK` with an empty body, keeping the
/// connection open, and tells `arrivals` when each request arrived; returns its port.
async fn answering_server(arrivals: Option<tokio::sync::mpsc::UnboundedSender<Instant>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 8192];
                let mut pending = Vec::new();
                loop {
                    let Ok(read) = socket.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    let arrived = Instant::now();
                    pending.extend_from_slice(&buffer[..read]);
                    // A GET has no body: every blank line ends one request.
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        if let Some(arrivals) = &arrivals {
                            let _ = arrivals.send(arrived);
                        }
                        if socket
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            });
        }
    });
    port
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var("MODE").as_deref() == Ok("dispatch") {
        return dispatch().await;
    }
    let tasks = env_number("TASKS", 10_000);
    let seconds = env_number("RUN_SECONDS", 60) as u64;
    let every = std::env::var("EVERY").unwrap_or_else(|_| "1s".to_owned());
    let action = std::env::var("ACTION").unwrap_or_else(|_| "http".to_owned());
    let workers = env_number("WORKERS", 8);

    let port = answering_server(None).await;
    let run = match action.as_str() {
        "external" => "{ external = true }".to_owned(),
        "http" => format!("{{ http = \"GET http://127.0.0.1:{port}/\" }}"),
        other => return Err(format!("ACTION must be `http` or `external`, not `{other}`").into()),
    };
    let mut manifest = String::from("version = 1\n[ecosystem]\nname = \"bench\"\n");
    manifest.push_str("[agents.bench]\ntier = 1\ntasks = [\n");
    for index in 0..tasks {
        manifest.push_str(&format!(
            "  {{ name = \"t{index}\", every = \"{every}\", run = {run} }},\n"
        ));
    }
    manifest.push_str("]\n");
    let checked = iza_catalog::check(&SourceFile::new("bench.toml", manifest, Syntax::Toml));
    let catalog = Arc::new(
        checked
            .catalog
            .ok_or_else(|| format!("the manifest does not check: {:?}", checked.diagnostics))?,
    );

    let directory = tempfile::tempdir()?;
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(directory.path().join("state.db")).await?);
    let monitor = Arc::new(
        Monitor::start(
            catalog.clone(),
            Arc::new(Prober::default()),
            store.clone(),
            MonitorOptions::default(),
        )
        .await?,
    );
    let mut options = AgentsOptions::new(
        "bench",
        Launch {
            base_dir: directory.path().to_owned(),
            self_exe: None,
            launcher: Launcher::direct(),
        },
    );
    options.workers = workers;
    let started = iza_runtime::now_millis();
    let clock = Instant::now();
    let agents = Agents::start(catalog, store.clone(), monitor.clone(), None, options);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let ended = iza_runtime::now_millis();
    let phase = Instant::now();
    agents.shutdown(Duration::from_secs(5)).await;
    let agents_stop = phase.elapsed();
    let peak_kib = status_kib("VmHWM");
    let phase = Instant::now();
    let report = monitor.shutdown(Duration::from_secs(10)).await;
    let monitor_stop = phase.elapsed();
    if report.unwritten_events > 0 {
        eprintln!(
            "the shutdown left {} events unwritten (the recorder's backlog)",
            report.unwritten_events
        );
    }
    eprintln!(
        "ran {tasks} tasks on every = \"{every}\" ({action}) for {:.1} s (engine shutdown {:.2} s, \
         monitor shutdown {:.2} s); reading the runs",
        clock.elapsed().as_secs_f64(),
        agents_stop.as_secs_f64(),
        monitor_stop.as_secs_f64()
    );
    let phase = Instant::now();

    // Every run of the period, from the store, newest first, page by page.
    let (mut enqueue_lags, mut start_lags) = (Vec::new(), Vec::new());
    let (mut runs, mut not_started) = (0usize, 0usize);
    let mut before = None;
    loop {
        let page = store
            .runs(&RunQuery {
                task: None,
                agent: None,
                states: vec![],
                before,
                limit: iza_store::MAX_RUNS_PAGE,
            })
            .await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        for run in &page {
            let Some(tick) = run.trigger.get("tick").and_then(serde_json::Value::as_i64) else {
                continue;
            };
            // Only ticks of the measured period, not those the shutdown cut short.
            if tick < started || tick > ended - 1_000 {
                continue;
            }
            runs += 1;
            enqueue_lags.push(run.enqueued_at - tick);
            match run.started_at {
                Some(at) if run.state != RunState::Queued || run.attempt > 0 => {
                    start_lags.push(at - tick)
                }
                _ => {
                    not_started += 1;
                    start_lags.push(ended - tick);
                }
            }
        }
    }
    eprintln!("read the runs in {:.2} s", phase.elapsed().as_secs_f64());
    enqueue_lags.sort_unstable();
    start_lags.sort_unstable();
    let expected = {
        let period: Millis = humantime::parse_duration(&every)?.as_millis() as Millis;
        (ended - 1_000 - started) / period * tasks as i64
    };
    println!(
        "runs measured={runs} expected_about={expected} not_started={not_started} peak_rss_mb={:.1}",
        peak_kib as f64 / 1024.0
    );
    println!(
        "schedule_lag_ms p50={} p90={} p99={} max={}",
        percentile(&enqueue_lags, 50.0),
        percentile(&enqueue_lags, 90.0),
        percentile(&enqueue_lags, 99.0),
        enqueue_lags.last().copied().unwrap_or(0)
    );
    if action != "external" {
        println!(
            "start_lag_ms p50={} p90={} p99={} max={}",
            percentile(&start_lags, 50.0),
            percentile(&start_lags, 90.0),
            percentile(&start_lags, 99.0),
            start_lags.last().copied().unwrap_or(0)
        );
    }
    let verdict = |met: bool| if met { "met" } else { "missed" };
    let p99 = percentile(&enqueue_lags, 99.0);
    println!(
        "target schedule_lag_p99<50ms {} ({p99} ms)",
        verdict(p99 < 50 && runs > 0)
    );
    if action != "external" {
        let p99 = percentile(&start_lags, 99.0);
        println!(
            "target start_lag_p99<50ms {} ({p99} ms)",
            verdict(p99 < 50 && runs > 0)
        );
    }
    println!(
        "target peak_rss<150MB {} ({:.1} MB)",
        verdict(peak_kib < 150 * 1024),
        peak_kib as f64 / 1024.0
    );
    Ok(())
}

/// Idle dispatch through the engine: `LAT_N` (2,000) runs of one `http` task queued by
/// `run_now` at `LAT_RATE` (200) a second to an idle engine; latency from before `run_now` to
/// (a) the `run-started` event (the claim) as a bus subscriber receives it and (b) the
/// action's request arriving at the server (the action has started and sent its request);
/// (c) `run_now`'s own call, and from its return to the request's arrival. `AT_ONCE=0` turns
/// off the dispatch at once (`AgentsOptions::dispatch_at_once`: then an enqueue, the worker's
/// wake-up and its claim), to compare.
async fn dispatch() -> Result<(), Box<dyn std::error::Error>> {
    let lat_n = env_number("LAT_N", 2_000);
    let lat_rate = env_number("LAT_RATE", 200).max(1);
    let (arrivals_tx, mut arrivals) = tokio::sync::mpsc::unbounded_channel();
    let port = answering_server(Some(arrivals_tx)).await;
    let manifest = format!(
        "version = 1\n[ecosystem]\nname = \"bench\"\n[agents.bench]\ntier = 1\ntasks = [\n  \
         {{ name = \"d\", concurrency = 16, run = {{ http = \"GET http://127.0.0.1:{port}/\" }} }},\n]\n"
    );
    let checked = iza_catalog::check(&SourceFile::new("bench.toml", manifest, Syntax::Toml));
    let catalog = Arc::new(
        checked
            .catalog
            .ok_or_else(|| format!("the manifest does not check: {:?}", checked.diagnostics))?,
    );
    let directory = tempfile::tempdir()?;
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(directory.path().join("state.db")).await?);
    let monitor = Arc::new(
        Monitor::start(
            catalog.clone(),
            Arc::new(Prober::default()),
            store.clone(),
            MonitorOptions::default(),
        )
        .await?,
    );
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let mut subscription = monitor.subscribe();
    tokio::spawn(async move {
        while let Some(update) = subscription.recv().await {
            if let iza_runtime::Update::Event(event) = update
                && let iza_runtime::EventKind::RunStarted { .. } = event.kind
            {
                let _ = started_tx.send(Instant::now());
            }
        }
    });
    let mut options = AgentsOptions::new(
        "bench",
        Launch {
            base_dir: directory.path().to_owned(),
            self_exe: None,
            launcher: Launcher::direct(),
        },
    );
    options.dispatch_at_once = std::env::var("AT_ONCE").as_deref() != Ok("0");
    eprintln!("dispatch at once: {}", options.dispatch_at_once);
    let agents = Agents::start(catalog, store.clone(), monitor.clone(), None, options);
    // Warm up: the HTTP client's connection, the statements' cache.
    for _ in 0..20 {
        agents.run_now("bench/d", serde_json::Value::Null).await?;
        started.recv().await.ok_or("the engine stopped")?;
        arrivals.recv().await.ok_or("the server stopped")?;
    }
    let interval = Duration::from_secs_f64(1.0 / lat_rate as f64);
    let base = Instant::now();
    let (mut to_claim, mut to_action) = (Vec::with_capacity(lat_n), Vec::with_capacity(lat_n));
    let (mut calls, mut after_call) = (Vec::with_capacity(lat_n), Vec::with_capacity(lat_n));
    let ms = |from: Instant, to: Instant| to.saturating_duration_since(from).as_secs_f64() * 1e3;
    for index in 0..lat_n {
        tokio::time::sleep_until((base + interval * index as u32).into()).await;
        let before = Instant::now();
        agents.run_now("bench/d", serde_json::Value::Null).await?;
        let returned = Instant::now();
        let claimed = started.recv().await.ok_or("the engine stopped")?;
        let arrived = arrivals.recv().await.ok_or("the server stopped")?;
        to_claim.push(ms(before, claimed));
        to_action.push(ms(before, arrived));
        calls.push(ms(before, returned));
        after_call.push(ms(returned, arrived));
    }
    agents.shutdown(Duration::from_secs(5)).await;
    monitor.shutdown(Duration::from_secs(5)).await;
    for (name, mut list) in [
        ("engine_dispatch_claim", to_claim),
        ("engine_dispatch", to_action),
        ("engine_dispatch_run_now_call", calls),
        ("engine_dispatch_call_to_action", after_call),
    ] {
        list.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            let rank = ((p / 100.0) * list.len() as f64).ceil() as usize;
            list[rank.clamp(1, list.len()) - 1]
        };
        println!(
            "{name} runs={lat_n} rate={lat_rate} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3}",
            pct(50.0),
            pct(90.0),
            pct(99.0),
            list[list.len() - 1]
        );
    }
    Ok(())
}
