//! The analysis report in the seed's shape, as Markdown. (Scaffold: being written.)

use crate::model::Catalog;

/// Renders the report.
pub fn render(_catalog: &Catalog) -> String {
    String::new()
}
