//! Importers: documents that describe an ecosystem in another shape become an IZA manifest.
//!
//! Each importer returns an [`Imported`]: the manifest as a TOML table, ready to print,
//! and a note for everything it saw but could not map, so nothing is dropped silently.

pub mod compose;
pub mod markdown;

/// What an importer produced.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    /// The manifest, as a TOML table in the order it should be printed.
    pub manifest: toml::Table,
    /// Everything the importer could not map, one sentence each, for stderr.
    pub notes: Vec<String>,
}

impl Imported {
    /// The manifest as TOML text.
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(&self.manifest).unwrap_or_default()
    }
}

/// Why an importer could not read its input at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input is not what the importer reads (for example, not YAML).
    #[error("{0}")]
    Unreadable(String),
}

/// Turns a display name into an id: lowercase ASCII letters and digits joined by `-`
/// (`IZA OS Main Dashboard` becomes `iza-os-main-dashboard`).
pub fn slug(text: &str) -> String {
    let mut id = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    while id.ends_with('-') {
        id.pop();
    }
    id
}

#[cfg(test)]
mod tests {
    #[test]
    fn slug_keeps_letters_and_digits() {
        let cases = [
            ("IZA OS Main Dashboard", "iza-os-main-dashboard"),
            ("  N8N  Workflow-Engine!! ", "n8n-workflow-engine"),
            ("AI/ML Workflows", "ai-ml-workflows"),
            ("üåê", ""),
        ];
        for (text, id) in cases {
            assert_eq!(super::slug(text), id, "{text}");
        }
    }
}
