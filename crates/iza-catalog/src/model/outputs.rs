//! The validated event outputs of a catalog (`[outputs.<id>]`): where IZA publishes its events
//! as CloudEvents, and which of them. Built by `validate/outputs.rs`; read by `iza-outputs`.
//! The URL stays as written (`${ENV}` references are resolved when `iza` starts).

use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use crate::model::{BrokerTls, Severity};

/// The event kinds IZA states, as written in an output's `events` (and in the `kind` of every
/// event). Kept here so the manifest is checked without the runtime; a runtime test checks
/// that it matches the runtime's events.
pub const EVENT_KINDS: [&str; 32] = [
    "monitor-started",
    "monitor-stopped",
    "probe-completed",
    "status-changed",
    "service-impacted",
    "service-recovered",
    "manifest-reloaded",
    "process-starting",
    "process-running",
    "process-ready",
    "process-exited",
    "process-restarting",
    "process-failed",
    "process-stopped",
    "run-queued",
    "run-started",
    "run-succeeded",
    "run-failed",
    "run-cancelled",
    "incident-opened",
    "incident-escalated",
    "incident-resolved",
    "alert-firing",
    "alert-updated",
    "alert-resolved",
    "alert-acknowledged",
    "alert-escalated",
    "notification-sent",
    "notification-failed",
    "silence-created",
    "silence-expired",
    "store-failed",
];

/// The output kinds, as written in `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    /// NATS (JetStream when a stream covers the subject).
    Nats,
    /// AMQP 0-9-1 (RabbitMQ): a topic exchange, with publisher confirms.
    Amqp,
    /// MQTT 3.1.1 (Mosquitto), the last status retained.
    Mqtt,
    /// A JSON POST to any URL.
    Webhook,
}

impl OutputKind {
    /// Every kind, in documentation order.
    pub const ALL: [OutputKind; 4] = [
        OutputKind::Nats,
        OutputKind::Amqp,
        OutputKind::Mqtt,
        OutputKind::Webhook,
    ];

    /// The kind as written.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Nats => "nats",
            OutputKind::Amqp => "amqp",
            OutputKind::Mqtt => "mqtt",
            OutputKind::Webhook => "webhook",
        }
    }

    /// The kind written `word`.
    pub fn parse(word: &str) -> Option<OutputKind> {
        OutputKind::ALL.into_iter().find(|k| k.as_str() == word)
    }

    /// The URL schemes this kind accepts.
    pub fn schemes(self) -> &'static [&'static str] {
        match self {
            OutputKind::Nats => &["nats", "tls"],
            // `amqps` is refused with its reason (validate/broker_tls.rs).
            OutputKind::Amqp => &["amqp"],
            OutputKind::Mqtt => &["mqtt", "mqtts", "tcp"],
            OutputKind::Webhook => &["http", "https"],
        }
    }

    /// The kind-specific keys this kind reads.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            OutputKind::Nats => &["prefix", "jetstream", "ca_file", "cert_file", "key_file"],
            OutputKind::Amqp => &["prefix", "exchange"],
            OutputKind::Mqtt => &[
                "prefix",
                "retain",
                "qos",
                "ca_file",
                "cert_file",
                "key_file",
            ],
            OutputKind::Webhook => &["headers"],
        }
    }
}

/// Which events an output receives. An event passes when its kind is listed (or, with no list,
/// is not `probe-completed` unless `probes`), its service matches (when any are named) and it is
/// at least as severe as `severity`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputFilter {
    /// Event kinds or prefixes ending in `*` (`process-*`); empty: every kind.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Whether `probe-completed` passes when `events` does not list it.
    pub probes: bool,
    /// Services named, with the services of the named groups resolved; empty: every event.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// The groups as written (their services are in `services`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The least severity that passes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

impl OutputFilter {
    /// Whether an event of `kind` about `service` (if any) at `severity` passes.
    pub fn accepts(&self, kind: &str, service: Option<&str>, severity: Severity) -> bool {
        let kind_ok = if self.events.is_empty() {
            self.probes || kind != "probe-completed"
        } else {
            self.events
                .iter()
                .any(|pattern| match pattern.strip_suffix('*') {
                    Some(prefix) => kind.starts_with(prefix),
                    None => pattern == kind,
                })
        };
        let service_ok = (self.services.is_empty() && self.groups.is_empty())
            || service.is_some_and(|s| self.services.iter().any(|x| x == s));
        // Severity orders critical < warning < info.
        let severity_ok = self.severity.is_none_or(|least| severity <= least);
        kind_ok && service_ok && severity_ok
    }
}

/// Where IZA publishes events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: OutputKind,
    /// URL as written (may hold `${ENV}` references and credentials).
    pub url: String,
    /// Which events.
    pub filter: OutputFilter,
    /// First token of subjects, routing keys and topics.
    pub prefix: String,
    /// amqp: the topic exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
    /// nats: JetStream when a stream covers the subject.
    pub jetstream: bool,
    /// mqtt: retain the last status of each service.
    pub retain: bool,
    /// mqtt: quality of service.
    pub qos: u8,
    /// webhook: extra headers as written.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// Time one publish may take.
    #[serde(with = "crate::model::duration_text")]
    pub timeout: Duration,
    /// The most events its outbox holds; the oldest are dropped beyond.
    pub max_pending: u64,
    /// nats, mqtt: TLS files (`mqtts://`, `tls://`).
    #[serde(skip_serializing_if = "BrokerTls::is_empty")]
    pub tls: BrokerTls,
}
