//! The `workflow` and `retry_failed` actions: a workflow of a workflow engine started through
//! its webhook (`iza_workflows::trigger`), or its failed executions retried, bounded and none
//! twice (`iza_workflows::retry_failed`). The engine is the service's `workflows` table; its
//! credential is read from the environment when the run starts. `{service}` and `{workflow}`
//! in the target are filled from the run's trigger (a failed execution) beforehand.

use iza_catalog::Catalog;
use iza_workflows::client::{self, Client};
use serde_json::Value;

use super::ActionError;

/// The client of `service`'s engine.
fn engine(catalog: &Catalog, service: &str) -> Result<Client, ActionError> {
    let source = catalog
        .services
        .get(service)
        .and_then(|s| s.workflows.as_ref())
        .ok_or_else(|| {
            ActionError::new(format!(
                "service `{service}` follows no workflow engine (it has no `workflows` table)"
            ))
        })?;
    client::http_client()
        .and_then(|http| Client::new(http, source, |name| std::env::var(name).ok()))
        .map_err(|e| ActionError::new(format!("`{service}`: {e}")))
}

/// Starts `workflow` (an id or a name) of `service` with `data`; succeeds when the engine
/// accepts the call.
pub async fn trigger(
    catalog: &Catalog,
    service: &str,
    workflow: &str,
    data: &Value,
) -> Result<Option<String>, ActionError> {
    let client = engine(catalog, service)?;
    match iza_workflows::trigger(&client, workflow, data).await {
        Ok(triggered) => Ok(Some(triggered.text())),
        Err(e) => Err(ActionError::new(format!(
            "cannot trigger workflow `{workflow}` of `{service}`: {e}"
        ))),
    }
}

/// Retries at most `limit` failed executions of `workflow` (an id or a name) of `service`;
/// succeeds when the engine refused none of the retries (nothing to retry is a success). The
/// output lists each retry and the count skipped.
pub async fn retry_failed(
    catalog: &Catalog,
    service: &str,
    workflow: &str,
    limit: u32,
) -> Result<Option<String>, ActionError> {
    let client = engine(catalog, service)?;
    let found = client.workflow(workflow).await.map_err(|e| {
        ActionError::new(format!(
            "cannot find workflow `{workflow}` of `{service}`: {e}"
        ))
    })?;
    let report = iza_workflows::retry_failed(&client, &found.id, limit)
        .await
        .map_err(|e| {
            ActionError::new(format!(
                "cannot list the failed executions of workflow `{}` of `{service}`: {e}",
                found.name
            ))
        })?;
    let text = format!("`{}` of `{service}`: {}", found.name, report.text());
    match report.refused() {
        0 => Ok(Some(text)),
        refused => Err(ActionError {
            error: format!(
                "{refused} of {} retries of workflow `{}` of `{service}` were refused",
                report.retried.len(),
                found.name
            ),
            output: Some(text),
        }),
    }
}
