//! Turns an [`Event`] into what an output sends: a CloudEvents 1.0 JSON envelope, its
//! severity (for filters), and the dotted key it is published under (the NATS subject and AMQP
//! routing key; MQTT's topic is the same with `/`). docs/events.md is the catalogue.

use iza_catalog::model::Severity;
use iza_runtime::{Event, EventKind, Status};
use serde_json::{Value, json};

/// The CloudEvents `type` of an event kind: `os.iza.` and the kind with dots
/// (`status-changed` → `os.iza.status.changed`).
pub fn cloudevent_type(kind: &str) -> String {
    format!("os.iza.{}", kind.replace('-', "."))
}

/// The stable id of an event: its bus epoch and sequence number. The same event keeps it
/// through every redelivery, so consumers de-duplicate on it.
pub fn event_id(epoch: u64, seq: u64) -> String {
    format!("{epoch}-{seq}")
}

/// The ecosystem's name as one token of a subject or topic (`IZA OS` → `iza-os`).
pub fn ecosystem_token(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "iza".to_owned()
    } else {
        out
    }
}

/// An id as one token: characters a subject, routing key or topic treats specially (`.`, `*`,
/// `>`, `#`, `+`, `/`, spaces) become `_`.
pub fn token(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// How severe an event is, for an output's `severity` filter.
pub fn severity(event: &Event) -> Severity {
    match &event.kind {
        EventKind::StatusChanged { to, .. } => match to {
            Status::Down => Severity::Critical,
            Status::Degraded | Status::Impacted { .. } => Severity::Warning,
            Status::Up | Status::Unknown => Severity::Info,
        },
        EventKind::AlertFiring { severity, .. } => match severity.as_str() {
            "critical" => Severity::Critical,
            "warning" => Severity::Warning,
            _ => Severity::Info,
        },
        EventKind::ProcessFailed { .. }
        | EventKind::IncidentOpened { .. }
        | EventKind::IncidentEscalated { .. }
        | EventKind::AlertEscalated { .. }
        | EventKind::StoreFailed { .. } => Severity::Critical,
        EventKind::ServiceImpacted { .. }
        | EventKind::ProcessExited { .. }
        | EventKind::ProcessRestarting { .. }
        | EventKind::RunFailed { .. }
        | EventKind::NotificationFailed { .. } => Severity::Warning,
        _ => Severity::Info,
    }
}

/// Whether the event states a service's status (MQTT retains the last one).
pub fn is_status(kind: &str) -> bool {
    matches!(
        kind,
        "status-changed" | "service-impacted" | "service-recovered"
    )
}

/// The dotted key after `<prefix>.<ecosystem>.`: `service.<id>.status` (status-changed,
/// service-impacted, service-recovered), `service.<id>.probe`, `service.<id>.process`
/// (process-*), `service.<id>.alert` (alert-firing, -updated, -resolved); every other kind is
/// its two words (`run.failed`, `incident.opened`, `manifest.reloaded`, `alert.acknowledged`).
pub fn key_suffix(event: &Event) -> String {
    let kind = event.name();
    if let Some(service) = event.service() {
        let family = if is_status(kind) {
            "status"
        } else if kind == "probe-completed" {
            "probe"
        } else if kind.starts_with("process-") {
            "process"
        } else {
            "alert"
        };
        return format!("service.{}.{family}", token(service));
    }
    kind.replacen('-', ".", 1)
}

/// The full dotted key: `<prefix>.<ecosystem>.<suffix>`.
pub fn key(prefix: &str, ecosystem: &str, event: &Event) -> String {
    format!("{prefix}.{ecosystem}.{}", key_suffix(event))
}

/// The MQTT topic of a dotted key (`iza.eco.service.db.status` → `iza/eco/service/db/status`).
pub fn mqtt_topic(key: &str) -> String {
    key.replace('.', "/")
}

/// The CloudEvents 1.0 envelope (JSON format) of an event of the bus `epoch` of the
/// ecosystem `ecosystem` (a token). Extension attributes: `izaseverity`, `izaseq`.
pub fn cloudevent(event: &Event, ecosystem: &str, epoch: u64) -> Value {
    let mut envelope = json!({
        "specversion": "1.0",
        "id": event_id(epoch, event.seq),
        "source": format!("/iza/{ecosystem}"),
        "type": cloudevent_type(event.name()),
        "time": rfc3339(event.at),
        "datacontenttype": "application/json",
        "izaseverity": severity_word(severity(event)),
        "izaseq": event.seq,
    });
    if let Some(service) = event.service() {
        envelope["subject"] = Value::from(service);
    }
    envelope["data"] = serde_json::to_value(event).unwrap_or(Value::Null);
    envelope
}

/// A severity as written.
pub fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// Unix milliseconds as an RFC 3339 UTC time with milliseconds (`2026-12-07T04:05:06.789Z`).
pub fn rfc3339(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_749_996_000_123), "2025-06-15T14:00:00.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn names_become_tokens() {
        assert_eq!(ecosystem_token("IZA OS"), "iza-os");
        assert_eq!(ecosystem_token("  "), "iza");
        assert_eq!(token("a.b*c>d/e f"), "a_b_c_d_e_f");
        assert_eq!(cloudevent_type("status-changed"), "os.iza.status.changed");
        assert_eq!(
            mqtt_topic("iza.eco.service.db.status"),
            "iza/eco/service/db/status"
        );
    }

    #[test]
    fn an_envelope_carries_the_cloudevents_attributes() {
        let mut event = Event::new(
            1_749_996_000_000,
            EventKind::StatusChanged {
                service: "db".into(),
                from: Status::Up,
                to: Status::Down,
                cause: Some("db".into()),
                reason: None,
            },
        );
        event.seq = 7;
        let ce = cloudevent(&event, "eco", 42);
        assert_eq!(ce["specversion"], "1.0");
        assert_eq!(ce["id"], "42-7");
        assert_eq!(ce["source"], "/iza/eco");
        assert_eq!(ce["type"], "os.iza.status.changed");
        assert_eq!(ce["subject"], "db");
        assert_eq!(ce["time"], "2025-06-15T14:00:00.000Z");
        assert_eq!(ce["izaseverity"], "critical");
        assert_eq!(ce["data"]["kind"], "status-changed");
        assert_eq!(key("iza", "eco", &event), "iza.eco.service.db.status");
        let reload = Event::new(
            0,
            EventKind::ManifestReloaded {
                added: vec![],
                removed: vec![],
                changed: vec![],
            },
        );
        assert_eq!(key("iza", "eco", &reload), "iza.eco.manifest.reloaded");
        assert!(cloudevent(&reload, "eco", 1).get("subject").is_none());
    }
}
