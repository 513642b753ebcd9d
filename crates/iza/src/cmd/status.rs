//! `iza status`: one table of every service's status, dependency-aware (up, degraded, down,
//! or impacted by the service that is down), each with its latest result. It asks the running
//! server when there is one (`--url`, or the server `iza serve` announced for this manifest)
//! and otherwise probes every service once itself.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use iza_catalog::Catalog;
use iza_probe::{ProbeContext, ProbeResult, Prober, ProberOptions};
use iza_runtime::{
    Health, ProbeSummary, RegionalState, ServiceState, Status, StatusBoard, now_millis,
};
use serde::{Deserialize, Serialize};

use crate::cli::{StatusArgs, TextOrJson};
use crate::client::ApiClient;
use crate::table::{self, Align};
use crate::{instance, manifest_input};

/// What `iza status` shows, from either source.
#[derive(Debug, Serialize)]
struct Shown {
    ecosystem: String,
    /// `server` (with its `url`) or `probe`.
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    services: Vec<Line>,
}

/// One service's line: the server's row of `GET /api/v1/services` reads into it as well.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    #[serde(alias = "id")]
    service: String,
    #[serde(flatten)]
    status: Status,
    own: Health,
    checked: bool,
    since: Option<i64>,
    last: Option<ProbeSummary>,
    /// A check probed from several regions (on a shared store): each region's verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    regional: Option<RegionalState>,
    /// Why it is degraded although its check passes (a workflow engine's failing workflows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    degraded_by: Option<String>,
}

impl From<ServiceState> for Line {
    fn from(state: ServiceState) -> Line {
        Line {
            service: state.service,
            status: state.status,
            own: state.own,
            checked: state.checked,
            since: state.since,
            last: state.last,
            regional: state.regional,
            degraded_by: state.degraded_by,
        }
    }
}

pub(crate) fn run(args: &StatusArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let shown = match &args.url {
        Some(url) => runtime.block_on(ask(url))?,
        None => match announced(args) {
            Some(url) => match runtime.block_on(ask(&url)) {
                Ok(shown) => shown,
                Err(err) => {
                    eprintln!("warning: {err:#}; probing once instead");
                    probe_once(args, &runtime)?
                }
            },
            None => probe_once(args, &runtime)?,
        },
    };
    match args.format {
        TextOrJson::Json => {
            super::print(&(serde_json::to_string_pretty(&shown)? + "\n"))?;
        }
        TextOrJson::Text => super::print(&table(&shown))?,
    }
    let any_down = shown
        .services
        .iter()
        .any(|s| matches!(s.status, Status::Down));
    Ok(if any_down {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The URL of the server `iza serve` announced for this manifest, if it still runs.
fn announced(args: &StatusArgs) -> Option<String> {
    if args.manifest.path.as_os_str() == "-" {
        return None;
    }
    let manifest = iza_catalog::resolve(&args.manifest.path).ok()?;
    instance::find(&manifest).map(|found| found.url)
}

/// Asks the server at `url` for the ecosystem's name and every service's status.
async fn ask(url: &str) -> Result<Shown> {
    #[derive(Deserialize)]
    struct Summary {
        ecosystem: String,
    }
    #[derive(Deserialize)]
    struct Listing {
        services: Vec<Line>,
    }
    let client = ApiClient::new(url)?;
    let summary: Summary = client.get("/api/v1/summary").await?;
    let listing: Listing = client.get("/api/v1/services").await?;
    Ok(Shown {
        ecosystem: summary.ecosystem,
        source: "server",
        url: Some(client.base().to_owned()),
        services: listing.services,
    })
}

/// Probes every service once and applies the monitor's rules to the results.
fn probe_once(args: &StatusArgs, runtime: &tokio::runtime::Runtime) -> Result<Shown> {
    let (source, catalog) = manifest_input::catalog(&args.manifest)?;
    let base_dir = source
        .path
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    let catalog = Arc::new(catalog);
    let started = now_millis();
    let results = runtime.block_on(probe_all(
        Arc::clone(&catalog),
        ProberOptions {
            base_dir,
            // An `exec` check's program dies with this command, too.
            launcher: super::serve::guarded_launcher(),
            ..ProberOptions::default()
        },
        args.concurrency.max(1),
    ));
    let mut board = StatusBoard::new(&catalog, 0);
    let round: Vec<(&str, &ProbeResult)> = results.iter().map(|(id, r)| (id.as_str(), r)).collect();
    board.apply_round(&round, started, now_millis());
    let services = catalog
        .services
        .keys()
        .filter_map(|id| board.state(id))
        .map(Line::from)
        .collect();
    Ok(Shown {
        ecosystem: catalog.ecosystem.name.clone(),
        source: "probe",
        url: None,
        services,
    })
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

fn table(shown: &Shown) -> String {
    let states = &shown.services;
    let rows: Vec<Vec<String>> = states
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
            let problem = s.regional.as_ref().and_then(|r| r.problem.clone());
            let detail = match (&s.last, s.checked) {
                // Degraded by its workflows while the check passes: they are the news.
                _ if matches!(s.status, Status::Degraded) && s.degraded_by.is_some() => {
                    s.degraded_by.clone().unwrap_or_default()
                }
                (_, false) => "no check".to_owned(),
                (_, true) if problem.is_some() => problem.unwrap_or_default(),
                (Some(last), true) => last.message.clone().unwrap_or_default(),
                (None, true) => String::new(),
            };
            vec![s.service.clone(), status, latency, detail]
        })
        .collect();
    let columns = [
        ("SERVICE", Align::Left),
        ("STATUS", Align::Left),
        ("LATENCY", Align::Right),
        ("DETAIL", Align::Left),
    ];
    let mut out = table::render(&columns, &rows);
    let count = |f: &dyn Fn(&Status) -> bool| states.iter().filter(|s| f(&s.status)).count();
    let _ = writeln!(
        out,
        "\n{}: {} up, {} degraded, {} down, {} impacted, {} unknown ({})",
        shown.ecosystem,
        count(&|s| matches!(s, Status::Up)),
        count(&|s| matches!(s, Status::Degraded)),
        count(&|s| matches!(s, Status::Down)),
        count(&|s| matches!(s, Status::Impacted { .. })),
        count(&|s| matches!(s, Status::Unknown)),
        match &shown.url {
            Some(url) => format!("from the server at {url}"),
            None => "probed once".to_owned(),
        },
    );
    out.trim_end().to_owned() + "\n"
}
