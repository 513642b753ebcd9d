//! `iza graph`: the ecosystem graph as DOT, Mermaid or JSON.

use std::process::ExitCode;

use anyhow::Result;
use iza_catalog::export::graph::{GraphFormat, render};

use crate::cli::{GraphArgs, GraphFormatArg};
use crate::manifest_input;

pub(crate) fn run(args: &GraphArgs) -> Result<ExitCode> {
    let (_, catalog) = manifest_input::catalog(&args.manifest)?;
    let format = match args.format {
        GraphFormatArg::Dot => GraphFormat::Dot,
        GraphFormatArg::Mermaid => GraphFormat::Mermaid,
        GraphFormatArg::Json => GraphFormat::Json,
    };
    super::print(&render(&catalog, format))?;
    Ok(ExitCode::SUCCESS)
}
