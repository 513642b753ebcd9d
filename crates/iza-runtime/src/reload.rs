//! Applying a new catalog to a running monitor: [`diff`] says which services were added,
//! removed, or had their check changed, and [`Monitor::reload`] reconciles:
//!
//! - added services start (first probe within the start window, `monitor/schedule.rs`);
//! - removed services stop; their history stays in the store, a probe of theirs still running
//!   is discarded;
//! - services whose check changed (target, conditions, interval, thresholds, or the `cwd`/`env`
//!   an `exec` check runs with) restart with the new check: a new schedule (first probe within
//!   the start window), and results of the
//!   old check still running are discarded; their status and counters carry over and the new
//!   check's results continue from them (no flap through `unknown`);
//! - unchanged services keep their schedule and status;
//! - dependencies are re-read for everyone, so an edited `depends_on` changes impacts at once.
//!
//! The reload is announced with one `manifest-reloaded` event, followed by the status changes
//! it caused.

use std::sync::Arc;

use iza_catalog::Catalog;
use iza_catalog::model::Service;
use serde::Serialize;

use crate::monitor::{Monitor, MonitorError};

/// What changed between two catalogs, by service id, each list in the order of the catalog
/// the ids come from (the new one, or the old one for removals).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CatalogDiff {
    /// In the new catalog only.
    pub added: Vec<String>,
    /// In the old catalog only.
    pub removed: Vec<String>,
    /// In both, with a different check (or a check gained or lost).
    pub changed: Vec<String>,
}

impl CatalogDiff {
    /// Whether nothing that the monitor probes changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Compares two catalogs; see [`CatalogDiff`].
pub fn diff(old: &Catalog, new: &Catalog) -> CatalogDiff {
    let mut result = CatalogDiff::default();
    for (id, service) in &new.services {
        match old.services.get(id) {
            None => result.added.push(id.clone()),
            Some(before) if probe_differs(before, service) => result.changed.push(id.clone()),
            Some(_) => {}
        }
    }
    result.removed = old
        .services
        .keys()
        .filter(|id| !new.services.contains_key(*id))
        .cloned()
        .collect();
    result
}

/// Whether probing the two services differs: the check, or what an `exec` check runs with.
fn probe_differs(a: &Service, b: &Service) -> bool {
    // `Check` is plain data with a faithful serialization; comparing that avoids requiring
    // `PartialEq` of every catalog type.
    let check = |s: &Service| s.check.as_ref().map(serde_json::to_value);
    // Environments compare as maps: the order variables are written in does not matter.
    let context = |s: &Service| (s.workdir.clone(), s.env.clone());
    match (check(a), check(b)) {
        (None, None) => false,
        (Some(Ok(x)), Some(Ok(y))) => x != y || context(a) != context(b),
        _ => true,
    }
}

impl Monitor {
    /// Applies a new catalog while running (see the module documentation) and returns what
    /// changed. Reloads are applied one at a time, in the order they are asked for.
    pub async fn reload(&self, catalog: Arc<Catalog>) -> Result<CatalogDiff, MonitorError> {
        let mut current = self.current.lock().await;
        let diff = Arc::new(diff(&current.catalog, &catalog));
        let generation = current.generation + 1;
        self.send_reload(&catalog, &diff, generation).await?;
        current.catalog = catalog;
        current.generation = generation;
        Ok(Arc::unwrap_or_clone(diff))
    }
}

#[cfg(test)]
mod tests {
    use iza_catalog::{SourceFile, Syntax};

    use super::*;

    fn catalog(text: &str) -> Catalog {
        let checked = iza_catalog::check(&SourceFile::new("t.toml", text.to_owned(), Syntax::Toml));
        checked
            .catalog
            .unwrap_or_else(|| panic!("{:?}", checked.diagnostics))
    }

    #[test]
    fn the_diff_names_added_removed_and_changed_checks() {
        let old = catalog(
            r#"
version = 1
[ecosystem]
name = "t"
[services.keep]
check = { tcp = "127.0.0.1:1", every = "1s" }
[services.edit]
check = { tcp = "127.0.0.1:2", every = "1s" }
[services.interval]
check = { tcp = "127.0.0.1:3", every = "1s" }
[services.env]
check = { exec = ["true"] }
env = { A = "1" }
[services.lose]
check = { tcp = "127.0.0.1:4" }
[services.gone]
check = { tcp = "127.0.0.1:5" }
[services.plain]
"#,
        );
        let new = catalog(
            r#"
version = 1
[ecosystem]
name = "t"
[services.keep]
check = { tcp = "127.0.0.1:1", every = "1s" }
description = "descriptions do not restart a check"
[services.edit]
check = { tcp = "127.0.0.1:20", every = "1s" }
[services.interval]
check = { tcp = "127.0.0.1:3", every = "2s" }
[services.env]
check = { exec = ["true"] }
env = { A = "2" }
[services.lose]
[services.plain]
check = { tcp = "127.0.0.1:6" }
[services.new]
check = { tcp = "127.0.0.1:7" }
"#,
        );
        let diff = diff(&old, &new);
        assert_eq!(diff.added, ["new"]);
        assert_eq!(diff.removed, ["gone"]);
        assert_eq!(diff.changed, ["edit", "interval", "env", "lose", "plain"]);
        assert!(super::diff(&new, &new).is_empty());
    }
}
