//! `iza schema`: prints the manifest's JSON Schema.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

pub(crate) fn run() -> Result<ExitCode> {
    let mut text = serde_json::to_vec_pretty(&iza_catalog::schema())?;
    text.push(b'\n');
    std::io::stdout().lock().write_all(&text)?;
    Ok(ExitCode::SUCCESS)
}
