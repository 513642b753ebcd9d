//! The validated `workflows` table of a `workflow-engine` service: the engine IZA follows and
//! the rules that derive a status from its executions. Built by `validate/workflows.rs`; read
//! by the runtime's workflow follower (`iza-runtime/src/workflows/`) and the engine clients
//! (`iza-workflows`). Credentials stay as written (`${ENV}` references are resolved only when a
//! request is made); `redact.rs` masks literal ones.

use std::time::Duration;

use serde::Serialize;

/// The workflow engines IZA can follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// n8n 2.x (public API `/api/v1`, `X-N8N-API-KEY`).
    N8n,
    /// Activepieces (community edition, bearer token, one project).
    Activepieces,
}

impl Engine {
    /// The name as written in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::N8n => "n8n",
            Engine::Activepieces => "activepieces",
        }
    }

    /// Parses the manifest's name.
    pub fn parse(text: &str) -> Option<Engine> {
        match text {
            "n8n" => Some(Engine::N8n),
            "activepieces" => Some(Engine::Activepieces),
            _ => None,
        }
    }
}

/// A workflow engine to follow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowSource {
    /// Which engine.
    pub engine: Engine,
    /// Base URL, without a trailing slash.
    pub url: String,
    /// n8n's API key (usually an `${ENV}` reference).
    pub api_key: Option<String>,
    /// Activepieces' bearer token (usually an `${ENV}` reference).
    pub token: Option<String>,
    /// Activepieces' project.
    pub project_id: Option<String>,
    /// The engine's UI, for links; `url` unless set.
    pub ui_url: String,
    /// Poll interval.
    #[serde(with = "super::duration_text")]
    pub every: Duration,
    /// Pages read per round at most.
    pub pages_per_round: u32,
    /// Timeout of one request.
    #[serde(with = "super::duration_text")]
    pub timeout: Duration,
    /// The status rules.
    pub rules: WorkflowRules,
}

/// When a workflow is failing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowRules {
    /// Lowest acceptable share of successful runs over `window` (0 to 1).
    pub min_success_rate: f64,
    /// The window of the success rate.
    #[serde(with = "super::duration_text")]
    pub window: Duration,
    /// Runs needed in the window before the rate judges.
    pub min_runs: u32,
    /// No successful run for this long fails an expected workflow.
    #[serde(with = "super::duration_text::option")]
    pub no_success_for: Option<Duration>,
    /// The expected workflows (ids or names); every active one when `None`.
    pub expected: Option<Vec<String>>,
    /// An execution running longer than this is stuck.
    #[serde(with = "super::duration_text")]
    pub stuck_after: Duration,
}

impl Default for WorkflowRules {
    fn default() -> WorkflowRules {
        WorkflowRules {
            min_success_rate: 0.9,
            window: Duration::from_secs(3600),
            min_runs: 1,
            no_success_for: None,
            expected: None,
            stuck_after: Duration::from_secs(3600),
        }
    }
}
