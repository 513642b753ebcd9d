//! The wire model of a workflow engine's `workflows` table on a service of kind
//! `workflow-engine`: which engine (n8n or Activepieces), where its API is, its credentials as
//! `${ENV}` references, how often IZA follows it, and the rules that turn its executions into a
//! status. Shape only; `validate/workflows.rs` checks what the values mean.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::manifest::spanned::Spanned;

/// `workflows = { engine = "n8n", url = "http://localhost:5678", api_key = "${N8N_API_KEY}" }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWorkflows {
    /// `n8n` or `activepieces`.
    pub engine: Spanned<String>,
    /// The engine's base URL (its public API is under `/api/v1`).
    pub url: Spanned<String>,
    /// n8n: the API key sent as `X-N8N-API-KEY`, as an `${ENV}` reference.
    pub api_key: Option<Spanned<String>>,
    /// Activepieces: the bearer token (a user token from `POST /api/v1/authentication/sign-in`,
    /// or a platform API key), as an `${ENV}` reference.
    pub token: Option<Spanned<String>>,
    /// Activepieces: the project whose flows are followed.
    pub project_id: Option<Spanned<String>>,
    /// The engine's own UI, for links to an execution; `url` by default.
    pub ui_url: Option<Spanned<String>>,
    /// How often the engine is polled for new executions; `10s` by default.
    pub every: Option<Spanned<String>>,
    /// Pages read per round while catching up with a long history (each page up to 250
    /// executions); 40 by default, so a first sync is bounded per round and resumes.
    pub pages_per_round: Option<Spanned<u32>>,
    /// How long one request may take; `10s` by default.
    pub timeout: Option<Spanned<String>>,
    /// The rules that make a workflow (and so the engine) degraded.
    #[serde(default)]
    pub rules: RawWorkflowRules,
}

/// When a workflow counts as failing.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWorkflowRules {
    /// Failing when the share of successful runs over `window` is below this (0 to 1);
    /// 0.9 by default.
    pub min_success_rate: Option<Spanned<f64>>,
    /// The window of `min_success_rate`; `1h` by default.
    pub window: Option<Spanned<String>>,
    /// Runs needed in the window before `min_success_rate` judges; 1 by default.
    pub min_runs: Option<u32>,
    /// Failing when an expected workflow had no successful run for this long (off unless set).
    pub no_success_for: Option<Spanned<String>>,
    /// The workflows (ids or names) expected to run, for `no_success_for`; every active
    /// (published) workflow when absent.
    pub expected: Option<Vec<String>>,
    /// Failing when an execution has been running for longer than this; `1h` by default.
    pub stuck_after: Option<Spanned<String>>,
}
