//! `iza report`: the analysis document regenerated from the manifest, with live facts (status
//! and uptime of each service) when a state database exists. A manifest with errors is
//! reported as far as it could be read, its diagnostics under "Problems found" (exit 0),
//! unless `--strict`; a text that cannot be parsed is refused.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use iza_catalog::Catalog;
use iza_catalog::export::report::{ReportOptions, ServiceFacts, render_with};
use iza_catalog::redact::Redact as _;
use iza_runtime::{StatusBoard, now_millis};
use iza_store::{SqliteStore, Store};

use crate::cli::ReportArgs;
use crate::manifest_input;

/// Results older than this say nothing about the present: their services are `unknown`.
const FRESH_FOR: i64 = 3_600_000;

pub(crate) fn run(args: &ReportArgs) -> Result<ExitCode> {
    let (source, catalog, diagnostics) =
        manifest_input::catalog_to_render(&args.manifest, args.strict)?;
    let problems: Vec<_> = diagnostics.iter().map(|d| d.to_record(&source)).collect();
    let db = match &args.db {
        Some(db) => Some(db.clone()),
        None => Some(manifest_input::state_db(&source.path)).filter(|p| p.is_file()),
    };
    let live = match db {
        Some(db) => Some(live_facts(&catalog, &db)?),
        None => None,
    };
    let options = ReportOptions {
        live: live.as_ref().map(|facts| facts as _),
        problems: &problems,
    };
    // The report never shows secrets (URL passwords, `env` values...): see docs/security.md.
    super::print(&render_with(&catalog.redacted(), &options))?;
    Ok(ExitCode::SUCCESS)
}

/// Each service's status (dependency-aware, from the latest stored results) and its uptime
/// over the last 24 hours.
fn live_facts(catalog: &Catalog, db: &Path) -> Result<HashMap<String, ServiceFacts>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(db)
                .await
                .with_context(|| format!("cannot read the state database `{}`", db.display()))?,
        );
        let facts = facts_from_store(catalog, store.as_ref()).await?;
        store.close().await?;
        Ok(facts)
    })
}

/// Each service's status (dependency-aware, from the latest stored results) and its uptime
/// over the last 24 hours, from `store` (also `iza mcp`'s report when no server runs).
pub(crate) async fn facts_from_store(
    catalog: &Catalog,
    store: &dyn Store,
) -> Result<HashMap<String, ServiceFacts>, iza_store::StoreError> {
    let now = now_millis();
    let mut board = StatusBoard::new(catalog, 0);
    board.resume(&store.latest_results().await?, now, FRESH_FOR);
    let mut facts = HashMap::new();
    for id in catalog.services.keys() {
        let Some(state) = board.state(id) else {
            continue;
        };
        let status = iza_server::analysis::live_status(&state.status);
        let uptime = store.uptime(id, now).await?.day;
        facts.insert(id.clone(), ServiceFacts { status, uptime });
    }
    Ok(facts)
}
