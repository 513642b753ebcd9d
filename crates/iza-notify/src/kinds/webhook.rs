//! `webhook`: the [`Message`] as JSON with its rendered `text`, POSTed to `url` with the
//! notifier's `headers`; with a `secret`, signed: `X-Iza-Signature: sha256=<hex>` is the
//! HMAC-SHA256 of the exact body under the secret (docs/alerts.md shows how to verify it).

use hmac::{Hmac, Mac};
use iza_catalog::model::Notifier;
use sha2::Sha256;

use super::{Kind, Request, url};
use crate::{Message, NotifyError};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Iza-Signature";

pub(crate) struct Webhook;

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &str, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Kind for Webhook {
    fn requests(
        &self,
        n: &Notifier,
        message: &Message,
        text: &str,
    ) -> Result<Vec<Request>, NotifyError> {
        let mut value = serde_json::to_value(message)
            .map_err(|e| NotifyError::Config(format!("encoding the message: {e}")))?;
        if let Some(map) = value.as_object_mut() {
            map.insert("text".to_owned(), text.into());
        }
        let body = super::json(&value);
        let mut headers: Vec<(String, String)> = n
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(secret) = &n.secret {
            headers.push((SIGNATURE_HEADER.to_owned(), signature(secret, &body)));
        }
        Ok(vec![Request {
            url: url(n)?,
            headers,
            content_type: "application/json",
            body,
        }])
    }
}
