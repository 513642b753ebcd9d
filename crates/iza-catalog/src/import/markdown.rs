//! Imports an ecosystem analysis written in Markdown, in the shape of the seed document.
//! (Scaffold: being written.)

use super::Imported;

/// Imports a Markdown ecosystem analysis.
pub fn import(_text: &str) -> Imported {
    Imported {
        notes: vec!["the Markdown importer is not written yet".to_owned()],
        ..Imported::default()
    }
}
