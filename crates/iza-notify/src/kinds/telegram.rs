//! `telegram`: the Bot API's `sendMessage`, `POST <url>/bot<token>/sendMessage` with
//! `{"chat_id", "text", "disable_web_page_preview": true}` (plain text, no `parse_mode`, so
//! no character of a service name needs escaping; at most 4,096 characters). `url` defaults
//! to `https://api.telegram.org` (a local Bot API server can be named instead).

use iza_catalog::model::Notifier;
use serde_json::json;

use super::{Kind, Request};
use crate::{Message, NotifyError};

/// The Bot API's address.
pub(crate) const API_URL: &str = "https://api.telegram.org";

/// Telegram's limit on a message's text.
const MAX_TEXT: usize = 4096;

pub(crate) struct Telegram;

impl Kind for Telegram {
    fn requests(&self, n: &Notifier, _: &Message, text: &str) -> Result<Vec<Request>, NotifyError> {
        let missing =
            |key: &str| NotifyError::Config(format!("telegram notifier `{}` has no `{key}`", n.id));
        let token = n.token.clone().ok_or_else(|| missing("token"))?;
        let chat = n.chat_id.clone().ok_or_else(|| missing("chat_id"))?;
        let base = n.url.clone().unwrap_or_else(|| API_URL.to_owned());
        // A numeric id is sent as a number, as the Bot API documents it; `@channel` as text.
        let chat_id = chat
            .parse::<i64>()
            .map_or_else(|_| json!(chat), |id| json!(id));
        Ok(vec![Request {
            url: format!("{}/bot{token}/sendMessage", base.trim_end_matches('/')),
            headers: Vec::new(),
            content_type: "application/json",
            body: super::json(&json!({
                "chat_id": chat_id,
                "text": super::cut(text, MAX_TEXT),
                "disable_web_page_preview": true,
            })),
        }])
    }
}
