//! The `check` action: the service's check probed now, outside its schedule, through the
//! monitor ([`crate::Monitor::check_now`]), so the result goes through the status board and is
//! recorded like any probe's. The run succeeds when the check passes.

use super::ActionError;
use crate::monitor::Monitor;

/// Probes `service` now; its verdict.
pub async fn run(monitor: &Monitor, service: &str) -> Result<Option<String>, ActionError> {
    match monitor.check_now(service).await {
        Err(err) => Err(ActionError::new(format!("cannot check `{service}`: {err}"))),
        Ok(None) => Err(ActionError::new(format!(
            "service `{service}` has no check (or is not in the manifest)"
        ))),
        Ok(Some(summary)) if summary.is_up() => Ok(Some(format!(
            "`{service}` is up ({:.0} ms)",
            summary.duration_ms
        ))),
        Ok(Some(summary)) => Err(ActionError::new(format!(
            "`{service}` is down: {}",
            summary.message.as_deref().unwrap_or("its check failed")
        ))),
    }
}
