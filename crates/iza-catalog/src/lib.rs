//! The IZA OS catalog: the manifest parsed with precise diagnostics, validated into an
//! immutable [`Catalog`], and the views, importers and exporters built on it.
//!
//! The catalog is pure: apart from reading the manifest file in [`load`], nothing here
//! does I/O, spawns, or waits. The pipeline is
//! `text --manifest::parse--> RawManifest --validate::compile--> Catalog`.

pub mod condition;
pub mod diagnostic;
pub mod export;
pub mod graph;
pub mod import;
pub mod manifest;
pub mod model;
pub mod placeholder;
pub mod ports;
pub mod redact;
pub mod source;
pub mod store;
pub mod validate;

use std::path::{Path, PathBuf};

pub use diagnostic::{Code, Diagnostic, Severity};
pub use model::Catalog;
pub use source::{SourceFile, Syntax};

/// File names looked for when a directory is given, in order.
pub const MANIFEST_NAMES: &[&str] = &["iza.toml", "iza.yaml", "iza.yml"];

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Reading the file failed.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A directory without a manifest in it.
    #[error("`{dir}` holds no manifest (looked for {names})", names = MANIFEST_NAMES.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))]
    NoManifest {
        /// The directory.
        dir: PathBuf,
    },
    /// The file is not UTF-8.
    #[error("`{path}` is not UTF-8 text")]
    NotUtf8 {
        /// The path.
        path: PathBuf,
    },
}

/// Finds the manifest a path names: the file itself, or `iza.toml`/`iza.yaml`/`iza.yml` in a directory.
pub fn resolve(path: &Path) -> Result<PathBuf, LoadError> {
    if path.is_dir() {
        MANIFEST_NAMES
            .iter()
            .map(|n| path.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| LoadError::NoManifest {
                dir: path.to_owned(),
            })
    } else {
        Ok(path.to_owned())
    }
}

/// Reads a manifest from a file or a directory holding one.
pub fn load(path: &Path) -> Result<SourceFile, LoadError> {
    let file = resolve(path)?;
    let bytes = std::fs::read(&file).map_err(|source| LoadError::Read {
        path: file.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8 { path: file.clone() })?;
    let syntax = Syntax::for_path(&file);
    Ok(SourceFile::new(file, text, syntax))
}

/// The outcome of checking one manifest.
#[derive(Debug)]
pub struct Checked {
    /// From [`check`]: the catalog, when there were no errors. From [`check_lenient`]: the
    /// catalog whenever the text parsed, partial when there were errors.
    pub catalog: Option<Catalog>,
    /// Every diagnostic, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// True when the text could not be parsed at all.
    pub syntax_error: bool,
}

impl Checked {
    /// Errors among the diagnostics.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// Warnings among the diagnostics.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

/// Parses and validates a manifest: the whole pipeline, pure. Relative paths of task
/// actions (`report`, `cwd`) are resolved against the manifest's directory.
pub fn check(source: &SourceFile) -> Checked {
    match manifest::parse::parse(source) {
        Err(failure) => Checked {
            catalog: None,
            diagnostics: failure.diagnostics,
            syntax_error: failure.syntax,
        },
        Ok(raw) => match validate::compile(&raw) {
            Ok((mut catalog, warnings)) => {
                if let Some(dir) = source.path.parent() {
                    catalog.resolve_paths(dir);
                }
                Checked {
                    catalog: Some(catalog),
                    diagnostics: warnings,
                    syntax_error: false,
                }
            }
            Err(diagnostics) => Checked {
                catalog: None,
                diagnostics,
                syntax_error: false,
            },
        },
    }
}

/// Parses and validates a manifest like [`check`], but keeps a best-effort catalog when
/// there are errors: a *partial* catalog of whatever parsed, without the references that do
/// not resolve and the links that close a cycle ([`validate::compile_lenient`]), for views
/// that render broken manifests (`iza report`, `iza graph`). `catalog` is `None` only when
/// the text could not be parsed. Never run a partial catalog.
pub fn check_lenient(source: &SourceFile) -> Checked {
    match manifest::parse::parse(source) {
        Err(failure) => Checked {
            catalog: None,
            diagnostics: failure.diagnostics,
            syntax_error: failure.syntax,
        },
        Ok(raw) => {
            let (catalog, diagnostics) = validate::compile_lenient(&raw);
            Checked {
                catalog: Some(catalog),
                diagnostics,
                syntax_error: false,
            }
        }
    }
}

/// Parses a manifest into the wire model without validating it, for views that must work
/// on manifests with errors (such as the port map, which shows conflicts).
pub fn parse_raw(
    source: &SourceFile,
) -> Result<manifest::raw::RawManifest, manifest::parse::ParseFailure> {
    manifest::parse::parse(source)
}

/// The JSON Schema of the manifest, for editors.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(manifest::raw::RawManifest)).unwrap_or_default()
}
