//! The `report` action: the live analysis report (`iza report`, with each service's current
//! status from the monitor and its uptime over the last 24 hours from the store) written to a
//! file, through a temporary file and a rename so a reader never sees half of it.

use std::collections::HashMap;
use std::path::Path;

use iza_catalog::Catalog;
use iza_catalog::export::report::{LiveStatus, ReportOptions, ServiceFacts, render_with};
use iza_store::Store;

use super::ActionError;
use crate::monitor::Monitor;
use crate::monitor::status::Status;

/// Writes the report to `path`.
pub async fn run(
    catalog: &Catalog,
    monitor: &Monitor,
    store: &dyn Store,
    now: iza_store::Millis,
    path: &Path,
) -> Result<Option<String>, ActionError> {
    let snapshot = monitor.snapshot();
    let mut facts = HashMap::new();
    for state in &snapshot.services {
        let status = match &state.status {
            Status::Up => LiveStatus::Up,
            Status::Degraded => LiveStatus::Degraded,
            Status::Down => LiveStatus::Down,
            Status::Impacted { by } => LiveStatus::Impacted { by: by.clone() },
            Status::Unknown => LiveStatus::Unknown,
        };
        let uptime = store
            .uptime(&state.service, now)
            .await
            .ok()
            .and_then(|u| u.day);
        facts.insert(state.service.clone(), ServiceFacts { status, uptime });
    }
    let text = render_with(catalog, &ReportOptions { live: Some(&facts) });
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| ActionError::new(format!("cannot create `{}`: {e}", dir.display())))?;
    }
    let temporary = path.with_extension("tmp-iza");
    tokio::fs::write(&temporary, text.as_bytes())
        .await
        .map_err(|e| ActionError::new(format!("cannot write `{}`: {e}", temporary.display())))?;
    tokio::fs::rename(&temporary, path)
        .await
        .map_err(|e| ActionError::new(format!("cannot write `{}`: {e}", path.display())))?;
    Ok(Some(format!(
        "wrote {} bytes to `{}`",
        text.len(),
        path.display()
    )))
}
