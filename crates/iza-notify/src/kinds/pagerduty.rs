//! `pagerduty`: Events API v2, one event per alert: `trigger` (or `resolve`) with
//! `dedup_key = "iza-alert-<id>"`, so PagerDuty groups every notification of one alert into
//! one incident and resolves it. `token` is the integration's routing key; `url` defaults to
//! `https://events.pagerduty.com/v2/enqueue`.

use iza_catalog::model::Notifier;
use serde_json::json;

use super::{Kind, Request, rfc3339};
use crate::{Message, NotifyError, Transition};

/// PagerDuty's Events API v2 endpoint.
pub(crate) const EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

pub(crate) struct PagerDuty;

impl Kind for PagerDuty {
    fn requests(
        &self,
        n: &Notifier,
        message: &Message,
        _: &str,
    ) -> Result<Vec<Request>, NotifyError> {
        let key = n.token.clone().ok_or_else(|| {
            NotifyError::Config(format!("pagerduty notifier `{}` has no `token`", n.id))
        })?;
        let url = n.url.clone().unwrap_or_else(|| EVENTS_URL.to_owned());
        Ok(message
            .alerts
            .iter()
            .map(|a| {
                let resolve = a.transition == Transition::Resolved;
                let mut event = json!({
                    "routing_key": key,
                    "event_action": if resolve { "resolve" } else { "trigger" },
                    "dedup_key": format!("iza-alert-{}", a.id),
                });
                if !resolve {
                    event["payload"] = json!({
                        "summary": format!("{} is {}{}", a.service_name, a.status,
                            if a.impacted.is_empty() { String::new() } else { format!("; impacted: {}", a.impacted.join(", ")) }),
                        "source": a.service,
                        "severity": match a.severity.as_str() { "critical" => "critical", "info" => "info", _ => "warning" },
                        "timestamp": rfc3339(a.started_at),
                        "component": a.service,
                        "group": message.ecosystem,
                        "class": a.rule,
                        "custom_details": {
                            "alert": a.id,
                            "status": a.status,
                            "impacted": a.impacted,
                            "reason": a.reason,
                            "transition": a.transition.as_str(),
                        }
                    });
                }
                Request {
                    url: url.clone(),
                    headers: Vec::new(),
                    content_type: "application/json",
                    body: super::json(&event),
                }
            })
            .collect())
    }
}
