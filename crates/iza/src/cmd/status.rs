//! `iza status`: probes every service once and prints what the monitor would show: up,
//! degraded, down, or impacted by the service that is down, each with its latest result.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use iza_catalog::Catalog;
use iza_probe::{ProbeContext, ProbeResult, Prober, ProberOptions};
use iza_runtime::{ServiceState, Status, StatusBoard, now_millis};
use serde::Serialize;

use crate::cli::{StatusArgs, TextOrJson};
use crate::manifest_input;

pub(crate) fn run(args: &StatusArgs) -> Result<ExitCode> {
    let (source, catalog) = manifest_input::catalog(&args.manifest)?;
    let base_dir = source
        .path
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let catalog = Arc::new(catalog);
    let started = now_millis();
    let results = runtime.block_on(probe_all(
        Arc::clone(&catalog),
        ProberOptions {
            base_dir,
            ..ProberOptions::default()
        },
        args.concurrency.max(1),
    ));
    let mut board = StatusBoard::new(&catalog, 0);
    let round: Vec<(&str, &ProbeResult)> = results.iter().map(|(id, r)| (id.as_str(), r)).collect();
    board.apply_round(&round, started, now_millis());
    let states: Vec<ServiceState> = catalog
        .services
        .keys()
        .filter_map(|id| board.state(id))
        .collect();

    match args.format {
        TextOrJson::Json => {
            let report = StatusReport {
                ecosystem: &catalog.ecosystem.name,
                services: &states,
            };
            super::print(&(serde_json::to_string_pretty(&report)? + "\n"))?;
        }
        TextOrJson::Text => super::print(&table(&catalog, &states))?,
    }
    let any_down = states.iter().any(|s| matches!(s.status, Status::Down));
    Ok(if any_down {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Serialize)]
struct StatusReport<'a> {
    ecosystem: &'a str,
    services: &'a [ServiceState],
}

/// Probes every service that has a check, at most `concurrency` at a time.
async fn probe_all(
    catalog: Arc<Catalog>,
    options: ProberOptions,
    concurrency: usize,
) -> Vec<(String, ProbeResult)> {
    let prober = Arc::new(Prober::new(options));
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for service in catalog.services.values() {
        let Some(check) = service.check.clone() else {
            continue;
        };
        let (prober, permits) = (Arc::clone(&prober), Arc::clone(&permits));
        let context = ProbeContext::of_service(service);
        let id = service.id.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (id, prober.probe_in(&check, &context).await)
        });
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(result) = done {
            results.push(result);
        }
    }
    results
}

fn table(catalog: &Catalog, states: &[ServiceState]) -> String {
    let rows: Vec<[String; 4]> = states
        .iter()
        .map(|s| {
            let status = match &s.status {
                Status::Impacted { by } => format!("impacted by {by}"),
                other => other.as_str().to_owned(),
            };
            let latency = s
                .last
                .as_ref()
                .map_or_else(String::new, |l| format!("{:.0} ms", l.duration_ms));
            let detail = match (&s.last, s.checked) {
                (_, false) => "no check".to_owned(),
                (Some(last), true) => last.message.clone().unwrap_or_default(),
                (None, true) => String::new(),
            };
            [s.service.clone(), status, latency, detail]
        })
        .collect();
    let header = ["SERVICE", "STATUS", "LATENCY", "DETAIL"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    let mut out = String::new();
    let mut line = |cells: [&str; 4]| {
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {:>w2$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    };
    line(header);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3]]);
    }
    let count = |f: &dyn Fn(&Status) -> bool| states.iter().filter(|s| f(&s.status)).count();
    let _ = writeln!(
        out,
        "\n{}: {} up, {} degraded, {} down, {} impacted, {} unknown",
        catalog.ecosystem.name,
        count(&|s| matches!(s, Status::Up)),
        count(&|s| matches!(s, Status::Degraded)),
        count(&|s| matches!(s, Status::Down)),
        count(&|s| matches!(s, Status::Impacted { .. })),
        count(&|s| matches!(s, Status::Unknown)),
    );
    out.trim_end().to_owned() + "\n"
}
