//! `iza import`: another description of an ecosystem becomes a manifest on stdout; what could
//! not be mapped goes to stderr.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use iza_catalog::import::{self, compose};

use crate::cli::{ImportArgs, ImportFrom};

/// The shell variable compose reads the active profiles from.
const COMPOSE_PROFILES: &str = "COMPOSE_PROFILES";

pub(crate) fn run(args: &ImportArgs) -> Result<ExitCode> {
    let shown = args
        .files
        .iter()
        .map(|f| format!("`{}`", f.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let imported = match args.from {
        ImportFrom::Markdown => {
            if args.files.len() > 1 {
                bail!("`iza import markdown` reads one document, not {}", shown);
            }
            if !args.profiles.is_empty() || !args.env_files.is_empty() {
                bail!("`--profile` and `--env-file` apply to `iza import compose` only");
            }
            import::markdown::import(&read(&args.files[0])?)
        }
        ImportFrom::Compose => {
            let options = compose::Options {
                profiles: profiles(&args.profiles),
                env_files: args.env_files.clone(),
            };
            let stdin = args.files.iter().any(|f| f.as_os_str() == "-");
            let imported = if stdin {
                if args.files.len() > 1 {
                    bail!("standard input (`-`) cannot be merged with other compose files");
                }
                compose::import_text(&read(&args.files[0])?, Path::new("."), &options)
            } else {
                compose::import_files(&args.files, &options)
            };
            imported.with_context(|| format!("cannot import {shown}"))?
        }
    };
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    super::print(&imported.to_toml_string())?;
    Ok(ExitCode::SUCCESS)
}

/// The active profiles: `--profile` flags, else the shell's `COMPOSE_PROFILES`, else none
/// given (the environment files may still name some).
fn profiles(flags: &[String]) -> Option<Vec<String>> {
    if !flags.is_empty() {
        return Some(flags.to_vec());
    }
    std::env::var(COMPOSE_PROFILES).ok().map(|v| vec![v])
}

fn read(file: &PathBuf) -> Result<String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read `{}`", file.display()))
    }
}
