//! `iza ports`: the port map, which works on manifests with conflicts and other errors too
//! (a warning on standard error says so), unless `--strict`.

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
    let (_, diagnostics) = iza_catalog::validate::compile_lenient(&raw);
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    if args.strict && errors > 0 {
        for d in diagnostics.iter().filter(|d| d.is_error()) {
            eprint!("{}", d.render(&source));
        }
        bail!(
            "`{}` has {errors} error{}; run `iza check {}` to see them all",
            source.name(),
            if errors == 1 { "" } else { "s" },
            source.name()
        );
    }
    manifest_input::warn_partial(&source, errors);
    let map = PortMap::from_manifest(&raw);
    match args.format {
        TextOrJson::Text => super::print(&map.render_text())?,
        TextOrJson::Json => super::print(&(serde_json::to_string_pretty(&map)? + "\n"))?,
    }
    Ok(ExitCode::SUCCESS)
}
