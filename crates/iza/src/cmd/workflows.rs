//! `iza workflows [PATH]`: the workflow engines of a manifest as IZA has followed them: per
//! engine its verdict by the manifest's rules, then its workflows, failing first, with runs,
//! success rate and p95 duration over 1h, 24h and 7d, and the last error with its node and a
//! link. It asks the running server (`GET /api/v1/workflows`) when there is one, as
//! `iza status` does, and otherwise builds the same document from the store (so it works
//! after `iza serve`/`iza up` stopped).
//! `iza workflows retry <service>/<execution id> [PATH]` retries one failed execution through
//! the engine's API (n8n `POST /api/v1/executions/{id}/retry`, Activepieces' flow-run retry)
//! and prints the new execution.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use iza_server::workflows::{WorkflowsQuery, workflows_document};
use serde_json::{Value, json};

use crate::cli::{ManifestArg, RemoteArgs, TextOrJson};
use crate::manifest_input;

/// Arguments of `iza workflows`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct WorkflowsArgs {
    #[command(subcommand)]
    pub(crate) action: Option<WorkflowsAction>,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
    /// Show only failing workflows.
    #[arg(long)]
    pub(crate) failing: bool,
    /// Only this engine: its service id, or `n8n` / `activepieces`.
    #[arg(long, value_name = "ENGINE")]
    pub(crate) engine: Option<String>,
}

/// What `iza workflows` can do besides showing.
#[derive(Debug, Subcommand)]
pub(crate) enum WorkflowsAction {
    /// Retry a failed execution through the engine's API and print the new execution (n8n:
    /// mode `retry`). Exits 1 when the engine refuses (n8n answers 409 for an execution that
    /// succeeded).
    Retry(RetryArgs),
}

/// Arguments of `iza workflows retry`.
#[derive(Debug, Args)]
pub(crate) struct RetryArgs {
    /// The execution: `<service>/<execution id>` (the service of kind `workflow-engine`).
    #[arg(value_name = "SERVICE/EXECUTION")]
    pub(crate) execution: String,
    #[command(flatten)]
    pub(crate) manifest: ManifestArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
}

/// The query string of `GET /api/v1/workflows` for these arguments.
fn query_string(args: &WorkflowsArgs) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if args.failing {
        query.append_pair("failing", "true");
    }
    if let Some(engine) = &args.engine {
        query.append_pair("engine", engine);
    }
    let query = query.finish();
    if query.is_empty() {
        "/api/v1/workflows".to_owned()
    } else {
        format!("/api/v1/workflows?{query}")
    }
}

/// The document from the store, as the server would build it (no follower's round).
fn from_store(args: &WorkflowsArgs) -> Result<Value> {
    let manifest = &args.remote.manifest;
    let path = iza_catalog::resolve(&manifest.path)?;
    let (_, catalog) = manifest_input::catalog(manifest)?;
    let location = super::serve::store_location(None, None, &catalog, &path)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let query = WorkflowsQuery {
        engine: args.engine.clone(),
        failing: args.failing,
    };
    let document = runtime.block_on(async {
        let store = super::serve::open_store(&location).await?;
        let now = iza_runtime::now_millis();
        anyhow::Ok(workflows_document(&catalog, store.as_ref(), &[], &query, now).await?)
    })?;
    match document {
        Some(mut document) => {
            iza_catalog::redact::Secrets::of(&catalog).scrub_json(&mut document);
            Ok(document)
        }
        None => bail!(
            "no workflow engine of this manifest is `{}`\n\
             hint: name a service with `workflows`, or `n8n` or `activepieces`",
            args.engine.as_deref().unwrap_or_default()
        ),
    }
}

pub(crate) fn run(args: &WorkflowsArgs) -> Result<ExitCode> {
    if let Some(WorkflowsAction::Retry(retry_args)) = &args.action {
        return retry(retry_args);
    }
    let document = match super::agents::server_if_any(&args.remote)? {
        Some(client) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(client.get::<Value>(&query_string(args)))?
        }
        None => from_store(args)?,
    };
    let out: Vec<Value> = document["engines"].as_array().cloned().unwrap_or_default();
    if args.format == TextOrJson::Json {
        super::agents::print_json(&document)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    if out.is_empty() {
        writeln!(
            text,
            "no service of this manifest has `workflows` (docs/workflows.md)"
        )?;
    }
    let pct = |v: &Value| {
        v.as_f64()
            .map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
    };
    let ms = |v: &Value| {
        v.as_i64()
            .map_or_else(|| "-".to_owned(), |m| format!("{m}ms"))
    };
    for engine in &out {
        writeln!(
            text,
            "{} ({}, {}): {} — {}",
            engine["service"].as_str().unwrap_or_default(),
            engine["engine"].as_str().unwrap_or_default(),
            engine["url"].as_str().unwrap_or_default(),
            engine["status"].as_str().unwrap_or_default(),
            engine["message"].as_str().unwrap_or_default()
        )?;
        writeln!(
            text,
            "  {:<40} {:>7} {:>8} {:>8} {:>8} {:>8}  LAST ERROR",
            "WORKFLOW", "RUNS 1h", "OK 1h", "P95 1h", "RUNS 24h", "RUNS 7d"
        )?;
        for w in engine["workflows"].as_array().into_iter().flatten() {
            let windows = &w["windows"];
            let error = w["last_failure"]
                .as_object()
                .map(|f| {
                    format!(
                        "{} [{}] {}",
                        f.get("message").and_then(Value::as_str).unwrap_or_default(),
                        f.get("node").and_then(Value::as_str).unwrap_or("-"),
                        w["last_failure_url"].as_str().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            let mark = if w["failing"] == true { "!" } else { " " };
            let name: String = w["name"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(38)
                .collect();
            writeln!(
                text,
                "{mark} {name:<40} {:>7} {:>8} {:>8} {:>8} {:>8}  {error}",
                windows["1h"]["runs"].as_u64().unwrap_or(0),
                pct(&windows["1h"]["success_rate"]),
                ms(&windows["1h"]["p95_ms"]),
                windows["24h"]["runs"].as_u64().unwrap_or(0),
                windows["7d"]["runs"].as_u64().unwrap_or(0),
            )?;
        }
    }
    super::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `iza workflows retry <service>/<execution id>`: one retry through the engine's client, with
/// the credential from the environment as the manifest names it.
fn retry(args: &RetryArgs) -> Result<ExitCode> {
    let Some((service_id, execution)) = args
        .execution
        .split_once('/')
        .filter(|(s, e)| !s.is_empty() && !e.is_empty())
    else {
        bail!(
            "`{}` is not `<service>/<execution id>` (e.g. `n8n/1234`)",
            args.execution
        );
    };
    let (_, catalog) = manifest_input::catalog(&args.manifest)?;
    let Some(service) = catalog.services.get(service_id) else {
        bail!("the manifest has no service `{service_id}`");
    };
    let Some(source) = &service.workflows else {
        bail!("the service `{service_id}` has no `workflows` (docs/workflows.md)");
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let _guard = runtime.enter();
    let client = iza_workflows::client::http_client()
        .and_then(|http| iza_workflows::Client::new(http, source, |name| std::env::var(name).ok()))
        .with_context(|| format!("cannot talk to the engine of `{service_id}`"))?;
    let new = match runtime.block_on(client.retry(execution)) {
        Ok(new) => new,
        Err(error) => {
            eprintln!(
                "error: the engine of `{service_id}` did not retry execution {execution}: {error}"
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let record = &new.record;
    let url = client.execution_url(&record.workflow_id, &record.id);
    if args.format == TextOrJson::Json {
        super::agents::print_json(&json!({
                "service": service_id,
                "engine": source.engine.as_str(),
                "retried": execution,
                "execution": record,
                "url": url,
        }))?;
    } else {
        super::print(&format!(
            "{service_id}: retried execution {execution}: new execution {} of workflow {} (mode {}, status {}) {url}\n",
            record.id,
            record.workflow_id,
            record.mode.as_deref().unwrap_or("-"),
            record.status,
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
