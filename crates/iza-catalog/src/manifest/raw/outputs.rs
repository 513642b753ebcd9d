//! The wire model of event outputs: `[outputs.<id>]`, where IZA publishes its events as
//! CloudEvents (NATS, RabbitMQ, MQTT, a webhook). Shape only; `validate/outputs.rs` checks what
//! the values mean.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{RawSeverity, RawWords};
use crate::manifest::spanned::Spanned;

/// An event output: one broker (or URL) that receives IZA's events, in order, at least once,
/// through a durable outbox (docs/events.md). `kind` says which keys it reads.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// `nats`, `amqp`, `mqtt` or `webhook`.
    pub kind: Spanned<String>,
    /// Where to publish: `nats://127.0.0.1:4222`, `amqp://guest:guest@127.0.0.1:5672/%2f`,
    /// `mqtt://127.0.0.1:1883`, `https://host/path`; `${ENV}` references are resolved when
    /// `iza` starts.
    pub url: Spanned<String>,
    /// Only these event kinds (`status-changed`, `process-*`, ...); every kind but
    /// `probe-completed` by default.
    pub events: Option<Spanned<RawWords>>,
    /// Also publish every probe result (`probe-completed`); `false` by default.
    pub probes: Option<bool>,
    /// Only events of these services (with `groups`: any matches; none: every event).
    #[serde(default)]
    pub services: Vec<Spanned<String>>,
    /// Only events of services in these groups.
    #[serde(default)]
    pub groups: Vec<Spanned<String>>,
    /// Only events at least this severe: `critical`, `warning` or `info` (every event).
    pub severity: Option<RawSeverity>,
    /// nats, amqp: the first token of subjects and routing keys; mqtt: of topics. `iza` by
    /// default.
    pub prefix: Option<Spanned<String>>,
    /// amqp: the topic exchange (declared durable when missing); `iza.events` by default.
    pub exchange: Option<Spanned<String>>,
    /// nats: publish through JetStream (acknowledged, de-duplicated by `Nats-Msg-Id`) when a
    /// stream covers the subject; `true` by default. `false`: core NATS, flushed.
    pub jetstream: Option<bool>,
    /// mqtt: retain the last status of each service, so a new subscriber sees it at once;
    /// `true` by default.
    pub retain: Option<bool>,
    /// mqtt: quality of service, 0, 1 (the default) or 2.
    pub qos: Option<Spanned<u8>>,
    /// webhook: extra HTTP headers (values may be `${ENV}` references).
    pub headers: Option<Spanned<IndexMap<String, String>>>,
    /// How long one publish may take before it counts as failed; `10s` by default.
    pub timeout: Option<Spanned<String>>,
    /// The most events its outbox holds while the output is unreachable; when full, the oldest
    /// are dropped (and counted). 100000 by default.
    pub max_pending: Option<Spanned<u64>>,
    /// nats, mqtt: PEM certificates to trust instead of the system's roots (a private CA); with
    /// `mqtts://` (MQTT) or `tls://` (NATS). A relative path is read from the manifest's
    /// directory.
    pub ca_file: Option<Spanned<String>>,
    /// nats, mqtt: PEM client certificate (chain) presented to the broker; with `key_file`.
    pub cert_file: Option<Spanned<String>>,
    /// nats, mqtt: PEM private key of `cert_file`.
    pub key_file: Option<Spanned<String>>,
}
