//! Acknowledgement links: a URL a notification can carry (`ack_url`) that acknowledges its
//! alert when a person opens it, with no token: `<public url>/ack/<id>?exp=<unix s>&sig=<hex>`,
//! where `sig` is HMAC-SHA256 of `ack\n<id>\n<exp>` under the server's link key (derived from
//! the admin token, so rotating the token and restarting voids every link given before). A link
//! lasts [`LinkKey::lifetime`] (7 days by default) from the notification that carries it.
//!
//! Opening the link (GET) shows the alert and one button; the button (a POST of the same
//! signed URL) acknowledges. The GET changes nothing on purpose: chat clients and mail
//! scanners fetch links to preview them, and must not acknowledge alerts nobody has read.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The path prefix of acknowledgement links.
pub const ACK_LINK_PREFIX: &str = "/ack/";

/// The key that signs acknowledgement links, and how long a link lasts.
#[derive(Clone)]
pub struct LinkKey {
    key: Arc<[u8]>,
    /// How long a link is valid from the notification that carries it.
    pub lifetime: Duration,
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkKey")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// Why a link is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Its signature is not ours (edited, or signed under a rotated token).
    #[error(
        "this acknowledgement link is not valid (edited, or made before the token was rotated)"
    )]
    BadSignature,
    /// Its time is up.
    #[error(
        "this acknowledgement link expired; acknowledge the alert on the dashboard or with `iza ack`"
    )]
    Expired,
}

impl LinkKey {
    /// The link key derived from `secret` (the admin token): HMAC-SHA256(secret, purpose).
    pub fn derive(secret: &[u8]) -> LinkKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"iza acknowledgement links v1");
        LinkKey {
            key: mac.finalize().into_bytes().to_vec().into(),
            lifetime: Duration::from_secs(7 * 24 * 3600),
        }
    }

    /// The same key, with links lasting `lifetime`.
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Duration) -> LinkKey {
        self.lifetime = lifetime;
        self
    }

    fn mac(&self, alert: i64, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("ack\n{alert}\n{expires}").as_bytes());
        mac
    }

    /// The signature of a link to `alert` expiring at `expires` (Unix seconds), in hex.
    pub fn sign(&self, alert: i64, expires: i64) -> String {
        hex::encode(self.mac(alert, expires).finalize().into_bytes())
    }

    /// The path and query of a link to `alert` made at `now_ms` (Unix milliseconds).
    pub fn path(&self, alert: i64, now_ms: i64) -> String {
        let expires = now_ms.div_euclid(1000)
            + i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX / 2);
        format!(
            "{ACK_LINK_PREFIX}{alert}?exp={expires}&sig={}",
            self.sign(alert, expires)
        )
    }

    /// Checks a link at `now_ms`: its signature (in constant time), then its expiry.
    pub fn verify(
        &self,
        alert: i64,
        expires: i64,
        sig: &str,
        now_ms: i64,
    ) -> Result<(), LinkError> {
        let given = hex::decode(sig.trim()).map_err(|_| LinkError::BadSignature)?;
        self.mac(alert, expires)
            .verify_slice(&given)
            .map_err(|_| LinkError::BadSignature)?;
        if now_ms.div_euclid(1000) > expires {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_verifies_until_it_expires_and_not_once_edited() {
        let key = LinkKey::derive(b"0123456789abcdef0123").with_lifetime(Duration::from_secs(60));
        let path = key.path(7, 1_000_000);
        assert!(path.starts_with("/ack/7?exp=1060&sig="), "{path}");
        let sig = path.rsplit_once("sig=").unwrap().1;
        assert_eq!(key.verify(7, 1060, sig, 1_000_000), Ok(()));
        assert_eq!(key.verify(7, 1060, sig, 1_060_999), Ok(()));
        assert_eq!(key.verify(7, 1060, sig, 1_061_000), Err(LinkError::Expired));
        assert_eq!(
            key.verify(8, 1060, sig, 1_000_000),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            key.verify(7, 9999, sig, 1_000_000),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            key.verify(7, 1060, "zz", 1_000_000),
            Err(LinkError::BadSignature)
        );
        let other = LinkKey::derive(b"another token, rotated");
        assert_eq!(
            other.verify(7, 1060, sig, 1_000_000),
            Err(LinkError::BadSignature)
        );
    }
}
