//! `ntfy`: the text as the body of a POST to the topic URL, with `Title`, `Priority`
//! (critical 5, warning 4, info 3, resolved 3) and `Tags` headers; `token` becomes a bearer
//! `Authorization`.

use iza_catalog::model::Notifier;

use super::{Kind, Request, url};
use crate::{Message, NotifyError};

pub(crate) struct Ntfy;

impl Kind for Ntfy {
    fn requests(
        &self,
        n: &Notifier,
        message: &Message,
        text: &str,
    ) -> Result<Vec<Request>, NotifyError> {
        let resolved = message.status == "resolved";
        let top = message
            .alerts
            .iter()
            .map(|a| match a.severity.as_str() {
                "critical" => 5,
                "warning" => 4,
                _ => 3,
            })
            .max()
            .unwrap_or(3);
        let mut headers = vec![
            (
                "Title".to_owned(),
                format!(
                    "{}: {} alert{} {}",
                    message.ecosystem,
                    message.alerts.len(),
                    if message.alerts.len() == 1 { "" } else { "s" },
                    message.status
                ),
            ),
            (
                "Priority".to_owned(),
                if resolved { 3 } else { top }.to_string(),
            ),
            (
                "Tags".to_owned(),
                if resolved {
                    "white_check_mark"
                } else {
                    "rotating_light"
                }
                .to_owned(),
            ),
        ];
        if let Some(token) = &n.token {
            headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
        }
        headers.extend(n.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(vec![Request {
            url: url(n)?,
            headers,
            content_type: "text/plain",
            body: text.to_owned(),
        }])
    }
}
