//! The `tls` kind: a TLS handshake with `host:port` (the port defaults to 443). Up when the
//! handshake completes (with `verify_tls`, only for a trusted certificate valid for the
//! host); facts `[CONNECTED]`, `[IP]` and `[CERTIFICATE_EXPIRATION]` from the peer's leaf
//! certificate.

use tokio::io::AsyncWriteExt;

use crate::Prober;
use crate::net;
use crate::result::{Facts, Failure};

/// Connects, completes the handshake, then sends `close_notify`.
pub(crate) async fn probe(
    prober: &Prober,
    target: &str,
    verify: bool,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let (host, port) = net::split_host_port(target, Some(443))?;
    let config = prober.tls()?.for_verify(verify);
    let stream = net::connect(&host, port, facts).await?;
    let mut tls = net::tls_handshake(config, &host, stream, facts).await?;
    // Best effort: the verdict is already known, and `shutdown` does not wait for the peer.
    let _ = tls.shutdown().await;
    Ok(())
}
