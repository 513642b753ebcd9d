//! Builds the two rustls client configurations every TLS-speaking probe shares: one that
//! verifies the server (the system's roots plus any extra roots the prober was given) and one
//! that accepts any certificate (`verify_tls = false`). Both use the `ring` provider, are
//! built once per [`crate::Prober`], and are shared by `https`, `tls`, `rediss` and `amqps`.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The shared client configurations.
#[derive(Debug, Clone)]
pub(crate) struct TlsConfigs {
    /// Verifies the chain and the name against the trusted roots.
    pub(crate) verified: Arc<ClientConfig>,
    /// Accepts any certificate (signatures on the handshake are still checked).
    pub(crate) unverified: Arc<ClientConfig>,
}

impl TlsConfigs {
    /// Loads the system's roots (once) and builds both configurations; the error says why TLS
    /// cannot be used at all.
    pub(crate) fn new(extra_roots: &[CertificateDer<'static>]) -> Result<TlsConfigs, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(extra_roots.iter().cloned());
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let verifier: Arc<dyn ServerCertVerifier> =
            match WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
            {
                Ok(verifier) => verifier,
                // No roots at all: every certificate is then of an unknown issuer.
                Err(_) => Arc::new(FixedVerdict::reject_all(provider.clone())),
            };
        Ok(TlsConfigs {
            verified: Arc::new(config(provider.clone(), verifier)?),
            unverified: Arc::new(config(
                provider.clone(),
                Arc::new(FixedVerdict::accept_any(provider)),
            )?),
        })
    }

    /// The configuration for a check's `verify_tls`.
    pub(crate) fn for_verify(&self, verify: bool) -> &Arc<ClientConfig> {
        if verify {
            &self.verified
        } else {
            &self.unverified
        }
    }
}

fn config(
    provider: Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<ClientConfig, String> {
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS is unavailable: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// A verifier whose verdict on every certificate chain is fixed, while the handshake
/// signatures are still verified with the provider: `accept` for `verify_tls = false`, reject
/// (an unknown issuer) when no trusted root could be loaded.
#[derive(Debug)]
struct FixedVerdict {
    provider: Arc<CryptoProvider>,
    accept: bool,
}

impl FixedVerdict {
    fn accept_any(provider: Arc<CryptoProvider>) -> FixedVerdict {
        FixedVerdict {
            provider,
            accept: true,
        }
    }

    fn reject_all(provider: Arc<CryptoProvider>) -> FixedVerdict {
        FixedVerdict {
            provider,
            accept: false,
        }
    }
}

impl ServerCertVerifier for FixedVerdict {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.accept {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
