//! Exporters: views of a catalog for people and other tools (graph formats, the port map,
//! the analysis report). They render; they never validate or probe.

pub mod graph;
pub mod ports;
pub mod report;
