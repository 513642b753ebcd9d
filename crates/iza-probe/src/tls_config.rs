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
                Err(_) => Arc::new(RejectAll(provider.clone())),
            };
        Ok(TlsConfigs {
            verified: Arc::new(config(provider.clone(), verifier)?),
            unverified: Arc::new(config(provider.clone(), Arc::new(AcceptAny(provider)))?),
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

/// Accepts any certificate but still verifies the handshake signatures with the provider.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Used when no trusted root could be loaded: every chain is of an unknown issuer.
#[derive(Debug)]
struct RejectAll(Arc<CryptoProvider>);

impl ServerCertVerifier for RejectAll {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        AcceptAny(self.0.clone()).verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        AcceptAny(self.0.clone()).verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
