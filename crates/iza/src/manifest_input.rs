//! Defines how a command gets its manifest: from a path, a directory or standard input,
//! and how it turns a manifest with errors into a message that says what to do next.

use std::io::Read;

use anyhow::{Context, Result, bail};
use iza_catalog::{Catalog, SourceFile, Syntax};

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
    let checked = iza_catalog::check(&source);
    match checked.catalog {
        Some(catalog) => Ok((source, catalog)),
        None => {
            let errors = checked.errors().count();
            for d in checked.errors() {
                eprint!("{}", d.render(&source));
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
