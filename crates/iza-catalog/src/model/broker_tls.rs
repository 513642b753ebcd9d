//! The TLS settings of a connection to a broker (MQTT over `mqtts://`, NATS over `tls://`) for
//! event outputs, inputs and round-trip checks: a private CA to trust instead of the system's
//! roots, and a client certificate. Built by `validate/broker_tls.rs`; the files are read when
//! the connection is made (`iza_probe::broker_tls`), never by the catalog.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// Files of a broker connection's TLS, relative ones resolved against the manifest's
/// directory when the manifest is loaded from a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct BrokerTls {
    /// PEM certificates to trust instead of the system's roots (a private CA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain (with `key_file`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
}

impl BrokerTls {
    /// Whether nothing is set (the system's roots, no client certificate).
    pub fn is_empty(&self) -> bool {
        self.ca_file.is_none() && self.cert_file.is_none() && self.key_file.is_none()
    }

    /// Makes the relative files absolute under `base_dir`.
    pub(crate) fn resolve(&mut self, base_dir: &Path) {
        for file in [&mut self.ca_file, &mut self.cert_file, &mut self.key_file]
            .into_iter()
            .flatten()
        {
            if file.is_relative() {
                *file = base_dir.join(&*file);
            }
        }
    }
}
