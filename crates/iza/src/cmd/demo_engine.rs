//! `iza demo-service --engine n8n|activepieces`: the demo service plays a workflow engine. It
//! serves `iza-workflows`' stand-in: the public API shapes of n8n 2.x or Activepieces over
//! generated workflows and executions, honestly labelled (the second line of stdout, and an
//! `x-iza-standin` header on every answer). Not the engines themselves.

use std::time::Duration;

use axum::Router;
use clap::Args;
use iza_catalog::model::Engine;
use iza_workflows::standin::{Standin, StandinConfig};

/// The flags of the engine stand-in.
#[derive(Debug, Args)]
pub(crate) struct EngineArgs {
    /// Play a workflow engine: `n8n` (2.x API shapes) or `activepieces`.
    #[arg(long, value_parser = ["n8n", "activepieces"])]
    pub(crate) engine: Option<String>,
    /// Workflows (flows) it has [default: 2056 for n8n, 12 for activepieces].
    #[arg(long, requires = "engine")]
    pub(crate) workflows: Option<usize>,
    /// Executions generated per second, at a steady rate.
    #[arg(long, default_value_t = 1.0, requires = "engine")]
    pub(crate) executions_per_second: f64,
    /// Share of executions that fail, from 0 to 1.
    #[arg(long, default_value_t = 0.05, value_parser = crate::cmd::parse_rate, requires = "engine")]
    pub(crate) failure_rate: f64,
    /// Only the first N workflows fail (0: any may).
    #[arg(long, default_value_t = 0, requires = "engine")]
    pub(crate) failing_workflows: usize,
    /// Executions already in its history at the start (spread over the hour before).
    #[arg(long, default_value_t = 0, requires = "engine")]
    pub(crate) history: usize,
    /// The n8n API key (`X-N8N-API-KEY`) or Activepieces bearer token it accepts.
    #[arg(
        long,
        env = "IZA_STANDIN_KEY",
        default_value = "standin-key",
        hide_env_values = true
    )]
    pub(crate) api_key: String,
    /// Activepieces: the project id it answers for.
    #[arg(long, default_value = "standin-project")]
    pub(crate) project_id: String,
    /// n8n: `/healthz/readiness` answers 503 until this long after the start.
    #[arg(long, value_parser = humantime::parse_duration, requires = "engine")]
    pub(crate) ready_after: Option<Duration>,
}

/// The stand-in's router and the line that says what it is, when `--engine` is given.
pub(crate) fn router(args: &EngineArgs) -> Option<(Router, String)> {
    let engine = Engine::parse(args.engine.as_deref()?)?;
    let workflows = args.workflows.unwrap_or(match engine {
        Engine::N8n => 2_056,
        Engine::Activepieces => 12,
    });
    let standin = Standin::new(StandinConfig {
        engine,
        workflows,
        rate: args.executions_per_second.max(0.0),
        failure_rate: args.failure_rate,
        failing_workflows: args.failing_workflows,
        history: args.history,
        secret: args.api_key.clone(),
        project_id: args.project_id.clone(),
        ready_after: args.ready_after.unwrap_or_default(),
        ..StandinConfig::default()
    });
    let label = format!(
        "stand-in for {} (its API shapes over generated data, not the engine): {workflows} workflows, {} executions/s, failure rate {}",
        match engine {
            Engine::N8n => "n8n 2.x",
            Engine::Activepieces => "Activepieces",
        },
        args.executions_per_second,
        args.failure_rate
    );
    Some((standin.router(), label))
}
