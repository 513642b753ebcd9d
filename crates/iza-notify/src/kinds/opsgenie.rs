//! `opsgenie`: the Alert API v2. A firing, updated, reminder or escalated alert is a create
//! (`POST <url>/v2/alerts`) with `alias = "iza-alert-<id>"`, so Opsgenie deduplicates every
//! notification of one alert into one of its alerts; a resolved one closes it
//! (`POST <url>/v2/alerts/iza-alert-<id>/close?identifierType=alias`). `token` is the API
//! integration's key, sent as `Authorization: GenieKey <token>`; `url` defaults to
//! `https://api.opsgenie.com` (`https://api.eu.opsgenie.com` for the EU instance).

use iza_catalog::model::Notifier;
use serde_json::json;

use super::{Kind, Request};
use crate::{Message, NotifyError, Transition};

/// Opsgenie's API address.
pub(crate) const API_URL: &str = "https://api.opsgenie.com";

pub(crate) struct Opsgenie;

/// Opsgenie's priority of a severity.
fn priority(severity: &str) -> &'static str {
    match severity {
        "critical" => "P1",
        "warning" => "P3",
        _ => "P5",
    }
}

impl Kind for Opsgenie {
    fn requests(
        &self,
        n: &Notifier,
        message: &Message,
        _: &str,
    ) -> Result<Vec<Request>, NotifyError> {
        let key = n.token.clone().ok_or_else(|| {
            NotifyError::Config(format!("opsgenie notifier `{}` has no `token`", n.id))
        })?;
        let base = n.url.clone().unwrap_or_else(|| API_URL.to_owned());
        let base = base.trim_end_matches('/');
        let mut headers = vec![("authorization".to_owned(), format!("GenieKey {key}"))];
        headers.extend(n.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(message
            .alerts
            .iter()
            .map(|a| {
                let alias = format!("iza-alert-{}", a.id);
                let (url, body) = if a.transition == Transition::Resolved {
                    (
                        format!("{base}/v2/alerts/{alias}/close?identifierType=alias"),
                        json!({
                            "source": "iza",
                            "note": format!("{} recovered (rule `{}`)", a.service_name, a.rule),
                        }),
                    )
                } else {
                    let summary = format!("{} is {}", a.service_name, a.status);
                    let mut description = summary.clone();
                    if !a.impacted.is_empty() {
                        description.push_str(&format!("; impacted: {}", a.impacted.join(", ")));
                    }
                    if let Some(reason) = &a.reason {
                        description.push_str(&format!(" ({reason})"));
                    }
                    if let Some(link) = &a.ack_url {
                        description.push_str(&format!("\nAcknowledge: {link}"));
                    }
                    (
                        format!("{base}/v2/alerts"),
                        json!({
                            "message": super::cut(&summary, 130),
                            "alias": alias,
                            "description": super::cut(&description, 15_000),
                            "priority": priority(&a.severity),
                            "source": "iza",
                            "entity": a.service,
                            "tags": [a.severity, a.status, a.rule],
                            "details": {
                                "alert": a.id.to_string(),
                                "ecosystem": message.ecosystem,
                                "service": a.service,
                                "status": a.status,
                                "transition": a.transition.as_str(),
                                "impacted": a.impacted.join(", "),
                            },
                        }),
                    )
                };
                Request {
                    url,
                    headers: headers.clone(),
                    content_type: "application/json",
                    body: super::json(&body),
                }
            })
            .collect())
    }
}
