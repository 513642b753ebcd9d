//! Imports a docker-compose file. (Scaffold: being written.)

use super::{ImportError, Imported};

/// Imports a docker-compose file.
pub fn import(_text: &str) -> Result<Imported, ImportError> {
    Err(ImportError::Unreadable(
        "the compose importer is not written yet".to_owned(),
    ))
}
