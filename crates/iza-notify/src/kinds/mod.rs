//! One module per notifier kind, each a [`Kind`]: the HTTP requests that deliver a message,
//! built purely from the resolved notifier, the message and its rendered text (so every
//! payload shape is tested without a network).

mod alertmanager;
mod chat;
pub(crate) mod email;
pub(crate) mod exec;
mod ntfy;
mod opsgenie;
mod pagerduty;
mod telegram;
mod webhook;

pub use webhook::{SIGNATURE_HEADER, signature};

use iza_catalog::model::{Notifier, NotifierKind};

use crate::{Message, NotifyError};

/// One HTTP POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Where.
    pub url: String,
    /// Headers besides `content-type`.
    pub headers: Vec<(String, String)>,
    /// `application/json` or `text/plain`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

/// A notifier kind.
pub trait Kind: Send + Sync {
    /// The template used when the notifier has none.
    fn default_template(&self) -> &'static str {
        crate::DEFAULT_TEMPLATE
    }

    /// The requests that deliver `message`, whose rendered text is `text`.
    fn requests(
        &self,
        notifier: &Notifier,
        message: &Message,
        text: &str,
    ) -> Result<Vec<Request>, NotifyError>;
}

/// The implementation of a kind.
pub fn kind_of(kind: NotifierKind) -> &'static dyn Kind {
    match kind {
        NotifierKind::Webhook => &webhook::Webhook,
        NotifierKind::Slack => &chat::Slack,
        NotifierKind::Discord => &chat::Discord,
        NotifierKind::Teams => &chat::Teams,
        NotifierKind::Ntfy => &ntfy::Ntfy,
        NotifierKind::Pagerduty => &pagerduty::PagerDuty,
        NotifierKind::Alertmanager => &alertmanager::Alertmanager,
        NotifierKind::Telegram => &telegram::Telegram,
        NotifierKind::Opsgenie => &opsgenie::Opsgenie,
        NotifierKind::Email => &email::Email,
        NotifierKind::Exec => &exec::Exec,
    }
}

/// The notifier's URL (validation makes it present for the kinds that need it).
pub(crate) fn url(notifier: &Notifier) -> Result<String, NotifyError> {
    notifier
        .url
        .clone()
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| NotifyError::Config(format!("notifier `{}` has no `url`", notifier.id)))
}

pub(crate) fn json(value: &serde_json::Value) -> String {
    value.to_string()
}

/// RFC 3339 of Unix milliseconds.
pub(crate) fn rfc3339(millis: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis.max(0).unsigned_abs());
    humantime::format_rfc3339_millis(at).to_string()
}

/// `text` cut to `max` characters, the last one `…` when it was longer.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
