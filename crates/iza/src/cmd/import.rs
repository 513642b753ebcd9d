//! `iza import`: another description of an ecosystem becomes a manifest on stdout; what could
//! not be mapped goes to stderr.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, Result};
use iza_catalog::import;

use crate::cli::{ImportArgs, ImportFrom};

pub(crate) fn run(args: &ImportArgs) -> Result<ExitCode> {
    let text = if args.file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        text
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("cannot read `{}`", args.file.display()))?
    };
    let imported = match args.from {
        ImportFrom::Markdown => import::markdown::import(&text),
        ImportFrom::Compose => import::compose::import(&text)
            .with_context(|| format!("cannot import `{}`", args.file.display()))?,
    };
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    super::print(&imported.to_toml_string())?;
    Ok(ExitCode::SUCCESS)
}
