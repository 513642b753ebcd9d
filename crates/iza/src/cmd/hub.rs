//! Starts the MCP hub of `iza serve` / `iza up`: the manifest's `[services.X.mcp]` servers,
//! stdio ones through the server's guarded launcher (they die with `iza`), HTTP ones with the
//! same verifying TLS settings as the probes.

use std::path::Path;

use anyhow::{Result, anyhow};
use iza_catalog::model::Catalog;
use iza_mcp::hub::{Hub, HubOptions};
use iza_runtime::Launcher;

/// The hub of `catalog`, whose manifest is `manifest`; an empty hub when no service is an
/// MCP server the hub federates.
pub(crate) fn start(catalog: &Catalog, manifest: &Path, launcher: &Launcher) -> Result<Hub> {
    let base = if manifest.is_dir() {
        manifest.to_path_buf()
    } else {
        manifest.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let specs = iza_server::hub::upstream_specs(catalog, &base);
    if specs.is_empty() {
        return Ok(Hub::empty());
    }
    let tls = iza_probe::verifying_tls_config()
        .map_err(|reason| anyhow!("cannot set up TLS for the MCP hub: {reason}"))?;
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(std::time::Duration::from_secs(5))
        .user_agent(concat!("iza-hub/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| anyhow!("cannot build the MCP hub's HTTP client: {err}"))?;
    tracing::info!("MCP hub: federating {} upstream MCP servers", specs.len());
    Ok(Hub::start(
        specs,
        HubOptions {
            launcher: launcher.clone(),
            http,
        },
    ))
}
