//! The `compare` action: a replica rendered beside its original in the monitor's shared
//! Chromium ([`crate::Monitor::probe_adhoc`]) and compared, like a `compare` check run once.
//! The run succeeds when the conditions (or, without any, a `compare` check's defaults) hold;
//! its output (or its error's output) names the three figures and the links the replica lacks.
//! The result belongs to no service: it is not recorded as a probe.

use std::time::Duration;

use iza_catalog::model::{Check, CheckTarget, CompareTarget};
use iza_probe::ProbeResult;

use super::ActionError;
use crate::monitor::Monitor;

/// How long one comparison may take (both pages); the task's `timeout` bounds the run too.
pub const COMPARE_TIMEOUT: Duration = Duration::from_secs(60);

/// What to compare, placeholders already substituted.
#[derive(Debug, Clone)]
pub struct CompareSpec {
    /// The page as it should be.
    pub original: String,
    /// The page that should look and read the same.
    pub replica: String,
    /// Conditions on the comparison; none: the `compare` check's defaults.
    pub conditions: Vec<iza_catalog::condition::Condition>,
}

/// The ad-hoc check a comparison runs as.
pub fn check_of(spec: &CompareSpec) -> Check {
    Check {
        target: CheckTarget::Compare(CompareTarget {
            original: spec.original.clone(),
            replica: spec.replica.clone(),
            wait_for: None,
        }),
        method: "GET".to_owned(),
        headers: Default::default(),
        body: None,
        follow_redirects: true,
        verify_tls: true,
        record: "A".to_owned(),
        shell: false,
        every: COMPARE_TIMEOUT,
        timeout: COMPARE_TIMEOUT,
        conditions: spec.conditions.clone(),
        failure_threshold: 1,
        success_threshold: 1,
        regions: Vec::new(),
        quorum: 0,
    }
}

/// Compares the replica with the original; the figures, or why it failed.
pub async fn run(monitor: &Monitor, spec: &CompareSpec) -> Result<Option<String>, ActionError> {
    let result = monitor.probe_adhoc(&check_of(spec)).await;
    let figures = figures(&result);
    match result.failure {
        None => Ok(Some(
            figures.unwrap_or_else(|| "the replica matches".to_owned()),
        )),
        Some(failure) => Err(ActionError {
            error: format!(
                "`{}` does not match `{}`: {}",
                spec.replica, spec.original, failure.message
            ),
            output: figures,
        }),
    }
}

/// `pixel diff 0.00 %, text similarity 100.0 %, missing links 0` and, when some are missing,
/// a line listing them; none when the comparison did not get that far.
pub fn figures(result: &ProbeResult) -> Option<String> {
    let comparison = result.facts.browser.as_ref()?.comparison.as_ref()?;
    let mut out = format!(
        "pixel diff {:.2} %, text similarity {:.1} %, missing links {}",
        comparison.pixel_diff, comparison.text_similarity, comparison.missing_link_count
    );
    if !comparison.missing_links.is_empty() {
        out.push_str("\nmissing links: ");
        out.push_str(&comparison.missing_links.join(", "));
    }
    Some(out)
}
