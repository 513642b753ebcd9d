//! The port map: who owns which port or range, conflicts, free ranges. (Scaffold: being written.)

use serde::Serialize;

use crate::manifest::raw::RawManifest;

/// The port map of a manifest.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PortMap {}

impl PortMap {
    /// Builds the port map from the wire model, so that it works on manifests with conflicts.
    pub fn from_manifest(_raw: &RawManifest) -> PortMap {
        PortMap {}
    }

    /// The port map as a table for people.
    pub fn render_text(&self) -> String {
        String::new()
    }
}
