//! Renders the ecosystem graph as DOT, Mermaid or JSON. (Scaffold: being written.)

use crate::model::Catalog;

/// Output format of `iza graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
    /// JSON nodes and edges.
    Json,
}

/// Renders the catalog's graph.
pub fn render(_catalog: &Catalog, _format: GraphFormat) -> String {
    String::new()
}
