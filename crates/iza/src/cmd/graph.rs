//! `iza graph`: the ecosystem graph as DOT, Mermaid or JSON; of a manifest with errors, the
//! graph of what could be read (its partial catalog), unless `--strict`.

use std::process::ExitCode;

use anyhow::Result;
use iza_catalog::export::graph::{GraphFormat, render};

use crate::cli::{GraphArgs, GraphFormatArg};
use crate::manifest_input;

pub(crate) fn run(args: &GraphArgs) -> Result<ExitCode> {
    let (_, catalog, _) = manifest_input::catalog_to_render(&args.manifest, args.strict)?;
    let format = match args.format {
        GraphFormatArg::Dot => GraphFormat::Dot,
        GraphFormatArg::Mermaid => GraphFormat::Mermaid,
        GraphFormatArg::Json => GraphFormat::Json,
    };
    super::print(&render(&catalog, format))?;
    Ok(ExitCode::SUCCESS)
}
