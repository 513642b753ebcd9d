//! `iza check`: validates a manifest and prints its diagnostics as text or JSON.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use iza_catalog::diagnostic::DiagnosticRecord;
use iza_catalog::{Code, Diagnostic, SourceFile};
use serde_json::json;

use crate::cli::{CheckArgs, CheckFormat};
use crate::manifest_input;

pub(crate) fn run(args: &CheckArgs) -> Result<ExitCode> {
    let source = match manifest_input::read(&args.manifest) {
        Ok(source) => source,
        Err(err) if args.format == CheckFormat::Json => {
            let record = json!({
                "code": Code::ReadError.as_str(), "severity": "error", "message": format!("{err:#}"),
                "file": args.manifest.path.display().to_string(), "line": 1, "column": 1,
                "end_line": 1, "end_column": 1, "hints": [], "related": [],
            });
            print_json(&json!({ "errors": [record], "warnings": [] }))?;
            return Ok(ExitCode::from(2));
        }
        Err(err) => return Err(err),
    };
    let checked = iza_catalog::check(&source);
    let errors: Vec<&Diagnostic> = checked.errors().collect();
    let warnings: Vec<&Diagnostic> = checked.warnings().collect();
    match args.format {
        CheckFormat::Json => {
            let records = |ds: &[&Diagnostic]| -> Vec<DiagnosticRecord> {
                ds.iter().map(|d| d.to_record(&source)).collect()
            };
            print_json(&json!({ "errors": records(&errors), "warnings": records(&warnings) }))?;
        }
        CheckFormat::Text => {
            let mut err = std::io::stderr().lock();
            for d in &checked.diagnostics {
                write!(err, "{}", d.render(&source))?;
            }
            writeln!(
                err,
                "{}",
                summary(&source, &checked, errors.len(), warnings.len())
            )?;
        }
    }
    Ok(if checked.syntax_error {
        ExitCode::from(2)
    } else if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn summary(
    source: &SourceFile,
    checked: &iza_catalog::Checked,
    errors: usize,
    warnings: usize,
) -> String {
    let name = source.name();
    match &checked.catalog {
        Some(c) => {
            let warned = if warnings > 0 {
                format!(", {}", plural(warnings, "warning"))
            } else {
                String::new()
            };
            format!(
                "`{name}` is valid: {}, {}, {}, {}{warned}",
                plural(c.services.len(), "service"),
                plural(c.groups.len(), "group"),
                plural(c.agents.len(), "agent"),
                plural(c.tasks.len(), "task"),
            )
        }
        None if checked.syntax_error => {
            format!("`{name}` cannot be parsed: {}", plural(errors, "error"))
        }
        None => format!(
            "`{name}` has {}{}",
            plural(errors, "error"),
            if warnings > 0 {
                format!(" and {}", plural(warnings, "warning"))
            } else {
                String::new()
            }
        ),
    }
}

fn print_json(value: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    std::io::stdout().lock().write_all(&text)?;
    Ok(())
}
