//! `iza ports`: the port map, which works on manifests with conflicts too.

use std::process::ExitCode;

use anyhow::{Result, bail};
use iza_catalog::export::ports::PortMap;

use crate::cli::{PortsArgs, TextOrJson};
use crate::manifest_input;

pub(crate) fn run(args: &PortsArgs) -> Result<ExitCode> {
    let source = manifest_input::read(&args.manifest)?;
    let raw = match iza_catalog::parse_raw(&source) {
        Ok(raw) => raw,
        Err(failure) => {
            for d in &failure.diagnostics {
                eprint!("{}", d.render(&source));
            }
            bail!(
                "`{}` cannot be parsed; run `iza check {}`",
                source.name(),
                source.name()
            );
        }
    };
    let map = PortMap::from_manifest(&raw);
    match args.format {
        TextOrJson::Text => super::print(&map.render_text())?,
        TextOrJson::Json => super::print(&(serde_json::to_string_pretty(&map)? + "\n"))?,
    }
    Ok(ExitCode::SUCCESS)
}
