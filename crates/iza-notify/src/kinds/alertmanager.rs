//! `alertmanager`: POST `<url>/api/v2/alerts` with one entry per alert, labelled so that
//! Alertmanager can route and group on them: `alertname` (the rule), `service`, `severity`,
//! `status`, `ecosystem`, `iza_alert` (the alert id); annotations `summary`, `impacted`,
//! `reason`. A resolved alert is sent with `endsAt`; a firing one without, so Alertmanager
//! keeps it for its `resolve_timeout` (give the rule a `repeat` shorter than that to keep it
//! firing through a long outage).

use iza_catalog::model::Notifier;
use serde_json::json;

use super::{Kind, Request, rfc3339, url};
use crate::{Message, NotifyError, Transition};

pub(crate) struct Alertmanager;

impl Kind for Alertmanager {
    fn requests(
        &self,
        n: &Notifier,
        message: &Message,
        _: &str,
    ) -> Result<Vec<Request>, NotifyError> {
        let base = url(n)?;
        let alerts: Vec<serde_json::Value> = message
            .alerts
            .iter()
            .map(|a| {
                let mut entry = json!({
                    "labels": {
                        "alertname": a.rule,
                        "service": a.service,
                        "severity": a.severity,
                        "status": a.status,
                        "ecosystem": message.ecosystem,
                        "iza_alert": a.id.to_string(),
                    },
                    "annotations": {
                        "summary": format!("{} is {}", a.service_name, a.status),
                        "impacted": a.impacted.join(", "),
                        "reason": a.reason.clone().unwrap_or_default(),
                    },
                    "startsAt": rfc3339(a.started_at),
                });
                if a.transition == Transition::Resolved {
                    entry["endsAt"] = rfc3339(a.resolved_at.unwrap_or(message.at)).into();
                }
                if let Some(link) = &a.ack_url {
                    entry["generatorURL"] = link.clone().into();
                }
                entry
            })
            .collect();
        Ok(vec![Request {
            url: format!("{}/api/v2/alerts", base.trim_end_matches('/')),
            headers: n
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            content_type: "application/json",
            body: super::json(&serde_json::Value::Array(alerts)),
        }])
    }
}
