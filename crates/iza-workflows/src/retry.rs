//! Retries a workflow's failed executions, bounded: the one place that decides which failures
//! are retried (the agents' `run = { retry_failed = ... }` calls it; a retry button can too).
//!
//! It lists the workflow's failed executions newest first (n8n `status=error`, Activepieces
//! `FAILED`) and retries each with the engine's retry (n8n `POST /api/v1/executions/{id}/retry`,
//! Activepieces `POST /api/v1/flow-runs/{id}/retry {"strategy":"FROM_FAILED_STEP"}`), at most
//! `limit` of them. It skips an execution that was already retried: one with a
//! `retrySuccessId`, or one a listed execution names as its `retryOf`. It also skips an
//! execution that is itself a retry (`retryOf` set): a workflow that keeps failing gets one
//! retry per failure, never a loop of retries of retries. n8n answers 409 for an execution
//! that had succeeded in the meantime: counted as skipped, not as a failure.

use std::collections::HashSet;

use serde::Serialize;

use crate::client::{Client, MAX_PAGE, WorkflowError};

/// The pages of failed executions read at most, so a long history of old failures all
/// retried already is not read to its end.
pub const MAX_PAGES: u32 = 20;

/// One retried execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retried {
    /// The failed execution.
    pub execution: String,
    /// The retry the engine started (`None` when the retry was refused).
    pub retry: Option<String>,
    /// The retry's status as the engine answered it (`success`, `running`, `error`...).
    pub status: Option<String>,
    /// Why the retry was refused.
    pub error: Option<String>,
}

/// What [`retry_failed`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetryReport {
    /// The workflow's id.
    pub workflow: String,
    /// Each retry asked for, newest failure first.
    pub retried: Vec<Retried>,
    /// Failed executions left alone: retried already, retries themselves, or succeeded in the
    /// meantime (409).
    pub skipped: usize,
    /// Whether failures not retried may remain (the limit or the page bound was reached).
    pub more: bool,
}

impl RetryReport {
    /// The retries the engine refused.
    pub fn refused(&self) -> usize {
        self.retried.iter().filter(|r| r.retry.is_none()).count()
    }

    /// The report for a person: one line per retry, then a summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for r in &self.retried {
            match (&r.retry, &r.error) {
                (Some(retry), _) => out.push_str(&format!(
                    "retried execution {} as {retry} ({})\n",
                    r.execution,
                    r.status.as_deref().unwrap_or("started")
                )),
                (None, error) => out.push_str(&format!(
                    "retry of execution {} refused: {}\n",
                    r.execution,
                    error.as_deref().unwrap_or("no reason given")
                )),
            }
        }
        out.push_str(&format!(
            "workflow {}: {} retried, {} refused, {} skipped (retried already or retries themselves){}",
            self.workflow,
            self.retried.len() - self.refused(),
            self.refused(),
            self.skipped,
            if self.more {
                "; more failures remain beyond the limit"
            } else {
                ""
            }
        ));
        out
    }
}

/// Retries the failed executions of `workflow_id` (an id, not a name), newest first, at most
/// `limit`, skipping those retried already; see the module documentation. A refused retry is
/// reported in its [`Retried`] and the others go on; only a failure to list stops it.
pub async fn retry_failed(
    client: &Client,
    workflow_id: &str,
    limit: u32,
) -> Result<RetryReport, WorkflowError> {
    let mut report = RetryReport {
        workflow: workflow_id.to_owned(),
        ..RetryReport::default()
    };
    let limit = limit as usize;
    // Executions that a newer one names as its `retryOf`: retried already.
    let mut retried_already: HashSet<String> = HashSet::new();
    let mut next: Option<String> = None;
    for page_number in 0..MAX_PAGES {
        let page = client
            .executions_of(workflow_id, "error", next.as_deref(), MAX_PAGE)
            .await?;
        for e in page.items {
            if let Some(of) = &e.record.retry_of {
                retried_already.insert(of.clone());
                report.skipped += 1;
                continue;
            }
            if e.retry_success_id.is_some() || retried_already.contains(&e.record.id) {
                report.skipped += 1;
                continue;
            }
            if report.retried.len() == limit {
                report.more = true;
                return Ok(report);
            }
            match client.retry(&e.record.id).await {
                Ok(new) => report.retried.push(Retried {
                    execution: e.record.id,
                    retry: Some(new.record.id),
                    status: Some(new.record.status),
                    error: None,
                }),
                // It had succeeded meanwhile (n8n): nothing to retry.
                Err(WorkflowError::Conflict(_)) => report.skipped += 1,
                Err(error) => report.retried.push(Retried {
                    execution: e.record.id,
                    retry: None,
                    status: None,
                    error: Some(error.to_string()),
                }),
            }
        }
        next = page.next;
        if next.is_none() {
            return Ok(report);
        }
        if page_number + 1 == MAX_PAGES {
            report.more = true;
        }
    }
    Ok(report)
}
