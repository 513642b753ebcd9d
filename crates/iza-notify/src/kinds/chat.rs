//! Chat webhooks, which take the rendered text in their own envelope: `slack` (incoming
//! webhook `{"text": ...}`, also read by Mattermost and Rocket.Chat), `discord`
//! (`{"content": ...}`, at most 2,000 characters) and `teams` (a workflow webhook taking an
//! Adaptive Card message).

use iza_catalog::model::Notifier;
use serde_json::json;

use super::{Kind, Request, cut, url};
use crate::{Message, NotifyError};

pub(crate) struct Slack;
pub(crate) struct Discord;
pub(crate) struct Teams;

fn post(n: &Notifier, body: serde_json::Value) -> Result<Vec<Request>, NotifyError> {
    Ok(vec![Request {
        url: url(n)?,
        headers: Vec::new(),
        content_type: "application/json",
        body: super::json(&body),
    }])
}

impl Kind for Slack {
    fn requests(&self, n: &Notifier, _: &Message, text: &str) -> Result<Vec<Request>, NotifyError> {
        post(n, json!({ "text": text }))
    }
}

impl Kind for Discord {
    fn requests(&self, n: &Notifier, _: &Message, text: &str) -> Result<Vec<Request>, NotifyError> {
        post(n, json!({ "content": cut(text, 2000) }))
    }
}

impl Kind for Teams {
    fn requests(&self, n: &Notifier, _: &Message, text: &str) -> Result<Vec<Request>, NotifyError> {
        post(
            n,
            json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [{ "type": "TextBlock", "text": text, "wrap": true }]
                    }
                }]
            }),
        )
    }
}
