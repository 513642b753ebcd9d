//! The wire model of alerting: `[notifiers.<id>]` (where a notification goes), `[[alerts]]`
//! (which status changes are worth one) and `[[maintenance]]` (when they are not). Shape only;
//! `validate/alerts.rs` checks what the values mean.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::RawWords;
use crate::manifest::spanned::Spanned;

/// A notifier: one destination of notifications. `kind` says which keys it reads; secrets are
/// written as environment references (`${SLACK_WEBHOOK}`), resolved when a notification is sent.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNotifier {
    /// `webhook`, `slack`, `discord`, `teams`, `ntfy`, `telegram`, `pagerduty`, `opsgenie`,
    /// `email`, `alertmanager` or `exec`.
    pub kind: Spanned<String>,
    /// Where to send: the webhook URL (webhook, slack, discord, teams), the topic URL (ntfy),
    /// Alertmanager's base URL (alertmanager), the Events API URL (pagerduty, optional).
    pub url: Option<Spanned<String>>,
    /// webhook: key of the HMAC-SHA256 signature sent in `X-Iza-Signature`.
    pub secret: Option<Spanned<String>>,
    /// webhook, ntfy, alertmanager: extra HTTP headers (values may be `${ENV}` references).
    pub headers: Option<Spanned<IndexMap<String, String>>>,
    /// The message, as a minijinja template (see docs/alerts.md for its variables); each
    /// kind has a default.
    pub template: Option<Spanned<String>>,
    /// pagerduty: the integration's routing key; ntfy: an access token.
    pub token: Option<Spanned<String>>,
    /// How long one delivery attempt may take; `10s` by default.
    pub timeout: Option<Spanned<String>>,
    /// How many times a failed delivery is retried; 5 by default.
    pub retries: Option<u32>,
    /// telegram: the chat (`-100123…` or `@channel`) the bot posts to.
    pub chat_id: Option<Spanned<String>>,
    /// email: the sender address (`IZA <iza@example.com>`).
    pub from: Option<Spanned<String>>,
    /// email: the recipients.
    pub to: Option<Spanned<Vec<String>>>,
    /// email: how SMTP is protected: `starttls` (required, the default), `tls` (implicit TLS,
    /// port 465), `none` (plain text: a local relay only).
    pub tls: Option<Spanned<String>>,
    /// email: the SMTP user.
    pub username: Option<Spanned<String>>,
    /// email: the SMTP password (an `${ENV}` reference).
    pub password: Option<Spanned<String>>,
    /// exec: the program and its arguments; it reads the message as JSON on standard input.
    pub command: Option<Spanned<Vec<String>>>,
    /// exec: extra environment variables (values may be `${ENV}` references).
    pub env: Option<Spanned<IndexMap<String, String>>>,
    /// Another notifier that gets the notification when this one's deliveries fail past
    /// their retries.
    pub fallback: Option<Spanned<String>>,
}

/// Severity of an alert rule.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Deserialize,
    JsonSchema,
    serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum RawSeverity {
    /// Someone must act now; escalates when not acknowledged.
    Critical,
    /// Someone should look (the default).
    #[default]
    Warning,
    /// For the record.
    Info,
}

/// An alert rule: which services, in which statuses, for how long, and who is told.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlertRule {
    /// The rule's name, unique among the rules.
    pub name: Spanned<String>,
    /// Only these services (with `groups`, `tags`, `kinds`: any of them matches; none: all).
    #[serde(default)]
    pub services: Vec<Spanned<String>>,
    /// Only services in these groups.
    #[serde(default)]
    pub groups: Vec<Spanned<String>>,
    /// Only services with one of these tags.
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
    /// Only services of these kinds (`database`, `cache`, ...).
    #[serde(default)]
    pub kinds: Vec<Spanned<String>>,
    /// The statuses that fire it: `down` (the default), `degraded`, `impacted`.
    pub statuses: Option<Spanned<RawWords>>,
    /// How long the status must hold before the alert fires; at once by default.
    #[serde(rename = "for")]
    pub for_: Option<Spanned<String>>,
    /// Reminder interval while it holds and is not acknowledged; no reminder by default.
    pub repeat: Option<Spanned<String>>,
    /// Send a resolved notification when it ends; `true` by default.
    pub send_resolved: Option<bool>,
    /// `critical`, `warning` (default) or `info`.
    pub severity: Option<RawSeverity>,
    /// Notifier ids to send to.
    #[serde(default)]
    pub notify: Vec<Spanned<String>>,
    /// Also send to the notifiers of the agents that watch the service (`notify` of the
    /// agent), escalating up `reports_to` when not acknowledged within `ack_within`.
    pub to_agent: Option<Spanned<bool>>,
    /// How long to wait for other alerts to fold into one message per notifier; `2s` by default.
    pub group_wait: Option<Spanned<String>>,
    /// A condition on business figures (`[METRIC].arr < 1000000`): the rule fires for each
    /// selected service that declares the figure while the condition holds on its latest value,
    /// instead of on `statuses` (docs/metrics.md).
    pub when: Option<Spanned<String>>,
}

/// A maintenance window: alerts of the services it covers (and of those that depend on them)
/// are recorded as suppressed, not sent. Either `cron` + `duration`, or `start` + `end`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    /// What it is for.
    pub name: Spanned<String>,
    /// Services it covers (with `groups` and `tags`: any matches; none: every service).
    #[serde(default)]
    pub services: Vec<Spanned<String>>,
    /// Services in these groups.
    #[serde(default)]
    pub groups: Vec<Spanned<String>>,
    /// Services with one of these tags.
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
    /// When each window starts (cron expression, seconds optional).
    pub cron: Option<Spanned<String>>,
    /// The IANA time zone `cron` is read in; UTC by default.
    pub timezone: Option<Spanned<String>>,
    /// With `cron`: how long each window lasts.
    pub duration: Option<Spanned<String>>,
    /// A fixed window's start (RFC 3339: `2026-12-24T22:00:00Z`).
    pub start: Option<Spanned<String>>,
    /// A fixed window's end (RFC 3339).
    pub end: Option<Spanned<String>>,
}
