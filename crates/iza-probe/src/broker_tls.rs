//! The rustls client configuration of a connection to a broker over TLS (MQTT `mqtts://`, NATS
//! `tls://`) for round-trip checks, event outputs and inputs: the certificates of `ca_file` as
//! the only trusted roots when it is given (a private CA), the system's roots otherwise, and a
//! client certificate when `cert_file` and `key_file` are. The `ring` provider, as every TLS
//! client of IZA. The files are read when a connection is made, so a renewed certificate is
//! used from the next reconnection on.

use std::path::Path;
use std::sync::Arc;

use iza_catalog::model::BrokerTls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// The client configuration for `tls`; the error names the file and what is wrong with it.
pub fn client_config(tls: &BrokerTls) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            let certs = certificates(path, "ca_file")?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "`ca_file` `{}` holds no usable CA certificate",
                    path.display()
                ));
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS is unavailable: {e}"))?
        .with_root_certificates(roots);
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "cert_file")?;
            let bytes = read(key, "key_file")?;
            let key_der = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
                format!(
                    "`key_file` `{}` holds no PEM private key: {e}",
                    key.display()
                )
            })?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                format!(
                    "the client certificate `{}` and key `{}` cannot be used: {e}",
                    cert.display(),
                    key.display()
                )
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// `error` (a failed connection's message) with a hint when the broker's certificate was not
/// trusted.
pub fn explain(error: &str, tls: &BrokerTls) -> String {
    let untrusted = error.contains("UnknownIssuer") || error.contains("unknown issuer");
    if !untrusted {
        return error.to_owned();
    }
    match &tls.ca_file {
        Some(ca) => format!(
            "{error} (the broker's certificate is not signed by the CA in `ca_file` `{}`)",
            ca.display()
        ),
        None => format!(
            "{error} (the broker's certificate is not signed by a CA this system trusts; give its CA as `ca_file`)"
        ),
    }
}

fn read(path: &Path, key: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read `{key}` `{}`: {e}", path.display()))
}

fn certificates(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(path, key)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("`{key}` `{}` is not PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "`{key}` `{}` holds no PEM certificate",
            path.display()
        ));
    }
    Ok(certs)
}
