//! `iza report`: the analysis document regenerated from the manifest.

use std::process::ExitCode;

use anyhow::Result;
use iza_catalog::export::report::render;

use crate::cli::ReportArgs;
use crate::manifest_input;

pub(crate) fn run(args: &ReportArgs) -> Result<ExitCode> {
    let (_, catalog) = manifest_input::catalog(&args.manifest)?;
    super::print(&render(&catalog))?;
    Ok(ExitCode::SUCCESS)
}
