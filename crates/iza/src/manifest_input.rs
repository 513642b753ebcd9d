//! Defines how a command gets its manifest: from a path, a directory or standard input,
//! and how it turns a manifest with errors into a message that says what to do next.

use std::io::Read;

use anyhow::{Context, Result, bail};
use iza_catalog::{Catalog, Checked, Diagnostic, SourceFile, Syntax};

use crate::cli::{InputSyntax, ManifestArg};

/// Reads the manifest the argument names.
pub(crate) fn read(arg: &ManifestArg) -> Result<SourceFile> {
    if arg.path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the manifest from standard input")?;
        let syntax = match arg.syntax {
            InputSyntax::Toml => Syntax::Toml,
            InputSyntax::Yaml => Syntax::Yaml,
        };
        return Ok(SourceFile::new("<stdin>", text, syntax));
    }
    Ok(iza_catalog::load(&arg.path)?)
}

/// The state directory of a manifest: `.iza` beside it.
pub(crate) fn state_dir(manifest: &std::path::Path) -> std::path::PathBuf {
    manifest
        .parent()
        .unwrap_or_else(|| std::path::Path::new("."))
        .join(".iza")
}

/// The state database of a manifest: `.iza/state.db` beside it, where `iza serve` records
/// results and events and `iza report` reads them.
pub(crate) fn state_db(manifest: &std::path::Path) -> std::path::PathBuf {
    state_dir(manifest).join("state.db")
}

/// Reads and validates the manifest, printing its warnings; fails when it has errors.
pub(crate) fn catalog(arg: &ManifestArg) -> Result<(SourceFile, Catalog)> {
    let source = read(arg)?;
    let (catalog, _) = valid(&source, iza_catalog::check(&source))?;
    Ok((source, catalog))
}

/// The catalog a view renders (`iza report`, `iza graph`) and every diagnostic of the
/// manifest. Under `strict` a manifest with errors is refused as [`catalog`] refuses it;
/// otherwise its partial catalog is rendered (what parsed, without broken references and
/// cycles) after a warning on standard error. A text that cannot be parsed is always refused.
pub(crate) fn catalog_to_render(
    arg: &ManifestArg,
    strict: bool,
) -> Result<(SourceFile, Catalog, Vec<Diagnostic>)> {
    let source = read(arg)?;
    if strict {
        let (catalog, diagnostics) = valid(&source, iza_catalog::check(&source))?;
        return Ok((source, catalog, diagnostics));
    }
    let checked = iza_catalog::check_lenient(&source);
    if checked.catalog.is_some() {
        warn_partial(&source, checked.errors().count());
    }
    let (catalog, diagnostics) = valid(&source, checked)?;
    Ok((source, catalog, diagnostics))
}

/// Says on standard error that a view shows a manifest with errors as far as it could be read.
pub(crate) fn warn_partial(source: &SourceFile, errors: usize) {
    if errors == 0 {
        return;
    }
    let name = source.name();
    eprintln!(
        "warning: `{name}` has {errors} error{}; showing what could be read\n\
         hint: run `iza check {name}` to see them, or pass `--strict` to refuse such a manifest",
        if errors == 1 { "" } else { "s" }
    );
}

/// The catalog and diagnostics of a check, or an error that renders the check's errors.
fn valid(source: &SourceFile, checked: Checked) -> Result<(Catalog, Vec<Diagnostic>)> {
    match checked.catalog {
        Some(catalog) => Ok((catalog, checked.diagnostics)),
        None => {
            let errors = checked.errors().count();
            for d in checked.errors() {
                eprint!("{}", d.render(source));
            }
            bail!(
                "`{}` has {errors} error{}; run `iza check {}` to see them all",
                source.name(),
                if errors == 1 { "" } else { "s" },
                source.name()
            )
        }
    }
}
