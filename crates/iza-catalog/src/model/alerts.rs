//! The validated alerting part of a catalog: notifiers, alert rules, maintenance windows.
//! Built by `validate/alerts.rs`; read by the runtime's alert engine (`iza-runtime/src/alerts/`)
//! and the notifiers (`iza-notify`). Secrets stay as written (`${ENV}` references are resolved
//! only when a notification is sent); `redact.rs` masks literal ones.

use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

pub use crate::manifest::raw::RawSeverity as Severity;
use crate::manifest::raw::ServiceKind;
use crate::model::Service;

/// The notifier kinds, as written in `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifierKind {
    /// A JSON POST to any URL, optionally signed (HMAC-SHA256).
    Webhook,
    /// A Slack incoming webhook (Mattermost and Rocket.Chat accept it).
    Slack,
    /// A Discord webhook.
    Discord,
    /// A Microsoft Teams workflow webhook.
    Teams,
    /// An ntfy topic.
    Ntfy,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// Prometheus Alertmanager's `/api/v2/alerts`.
    Alertmanager,
    /// A Telegram bot's `sendMessage`.
    Telegram,
    /// Opsgenie's Alert API v2.
    Opsgenie,
    /// Mail over SMTP (STARTTLS, TLS or, for a local relay, plain).
    Email,
    /// A local program, given the message as JSON on standard input.
    Exec,
}

impl NotifierKind {
    /// Every kind, in documentation order.
    pub const ALL: [NotifierKind; 11] = [
        NotifierKind::Webhook,
        NotifierKind::Slack,
        NotifierKind::Discord,
        NotifierKind::Teams,
        NotifierKind::Ntfy,
        NotifierKind::Pagerduty,
        NotifierKind::Alertmanager,
        NotifierKind::Telegram,
        NotifierKind::Opsgenie,
        NotifierKind::Email,
        NotifierKind::Exec,
    ];

    /// The kind as written.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifierKind::Webhook => "webhook",
            NotifierKind::Slack => "slack",
            NotifierKind::Discord => "discord",
            NotifierKind::Teams => "teams",
            NotifierKind::Ntfy => "ntfy",
            NotifierKind::Pagerduty => "pagerduty",
            NotifierKind::Alertmanager => "alertmanager",
            NotifierKind::Telegram => "telegram",
            NotifierKind::Opsgenie => "opsgenie",
            NotifierKind::Email => "email",
            NotifierKind::Exec => "exec",
        }
    }

    /// The kind written `word`.
    pub fn parse(word: &str) -> Option<NotifierKind> {
        NotifierKind::ALL.into_iter().find(|k| k.as_str() == word)
    }

    /// The optional keys this kind reads besides `kind`, `template`, `timeout`, `retries`.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            NotifierKind::Webhook => &["url", "secret", "headers"],
            NotifierKind::Slack | NotifierKind::Discord | NotifierKind::Teams => &["url"],
            NotifierKind::Ntfy => &["url", "token", "headers"],
            NotifierKind::Pagerduty => &["url", "token"],
            NotifierKind::Alertmanager => &["url", "headers"],
            NotifierKind::Telegram => &["url", "token", "chat_id"],
            NotifierKind::Opsgenie => &["url", "token", "headers"],
            NotifierKind::Email => &["url", "tls", "username", "password", "from", "to"],
            NotifierKind::Exec => &["command", "env"],
        }
    }

    /// The keys this kind cannot do without.
    pub fn required(self) -> &'static [&'static str] {
        match self {
            NotifierKind::Pagerduty | NotifierKind::Opsgenie => &["token"],
            NotifierKind::Telegram => &["token", "chat_id"],
            NotifierKind::Email => &["url", "from", "to"],
            NotifierKind::Exec => &["command"],
            _ => &["url"],
        }
    }
}

/// Where notifications go.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notifier {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: NotifierKind,
    /// URL as written (may hold `${ENV}` references).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// webhook: HMAC key as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Extra headers as written.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// The message template; the kind's default when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// pagerduty routing key, ntfy token, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Time one attempt may take.
    #[serde(with = "crate::model::duration_text")]
    pub timeout: Duration,
    /// Retries of a failed delivery.
    pub retries: u32,
    /// telegram: the chat id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<String>,
    /// email: the sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// email: the recipients.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// email: SMTP protection.
    pub tls: SmtpTls,
    /// email: the SMTP user, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// email: the SMTP password, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// exec: program and arguments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// exec: extra environment, values as written.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, String>,
    /// The notifier that gets what this one failed to deliver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// How an `email` notifier protects its SMTP connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or network.
    None,
}

impl SmtpTls {
    /// The word as written.
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::Starttls => "starttls",
            SmtpTls::Tls => "tls",
            SmtpTls::None => "none",
        }
    }
}

/// A status that fires an alert rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertOn {
    /// The service is a root cause.
    Down,
    /// The service's check is failing below its threshold.
    Degraded,
    /// Something the service depends on is down.
    Impacted,
}

impl AlertOn {
    /// The word as written.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertOn::Down => "down",
            AlertOn::Degraded => "degraded",
            AlertOn::Impacted => "impacted",
        }
    }
}

/// An alert rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRule {
    /// Its name.
    pub name: String,
    /// Selected services (any of the four selectors; all empty: every service).
    pub services: Vec<String>,
    /// Selected groups.
    pub groups: Vec<String>,
    /// Selected tags.
    pub tags: Vec<String>,
    /// Selected kinds.
    pub kinds: Vec<ServiceKind>,
    /// The statuses that fire it (`down` by default).
    pub statuses: Vec<AlertOn>,
    /// How long the status must hold before firing.
    #[serde(with = "crate::model::duration_text")]
    pub r#for: Duration,
    /// Reminder interval.
    #[serde(with = "crate::model::duration_text::option")]
    pub repeat: Option<Duration>,
    /// Whether the end is notified.
    pub send_resolved: bool,
    /// Severity.
    pub severity: Severity,
    /// Notifier ids.
    pub notify: Vec<String>,
    /// Also the agents' notifiers, with escalation.
    pub to_agent: bool,
    /// The grouping window.
    #[serde(with = "crate::model::duration_text")]
    pub group_wait: Duration,
    /// A condition on business figures (`[METRIC].arr < 1000000`): when set, the rule fires on
    /// it for each selected service that declares every figure it reads, not on `statuses`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<crate::condition::Condition>,
}

impl AlertRule {
    /// Whether the rule selects `service`.
    pub fn selects(&self, service: &Service) -> bool {
        let all = self.services.is_empty()
            && self.groups.is_empty()
            && self.tags.is_empty()
            && self.kinds.is_empty();
        all || self.services.contains(&service.id)
            || service
                .group
                .as_ref()
                .is_some_and(|g| self.groups.contains(g))
            || service.tags.iter().any(|t| self.tags.contains(t))
            || self.kinds.contains(&service.kind)
    }
}

/// When a maintenance window is open.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaintenanceWindow {
    /// Open for `duration` from each occurrence of a cron expression.
    Cron {
        /// The expression, validated.
        expression: String,
        /// Its IANA time zone; UTC when none.
        timezone: Option<String>,
        /// How long each window lasts.
        #[serde(with = "crate::model::duration_text")]
        duration: Duration,
    },
    /// Open from `start` (inclusive) to `end` (exclusive), Unix milliseconds.
    Fixed {
        /// Start.
        start: i64,
        /// End.
        end: i64,
    },
}

/// A maintenance window over some services.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Maintenance {
    /// What it is for.
    pub name: String,
    /// Covered services (with groups and tags; all empty: every service).
    pub services: Vec<String>,
    /// Covered groups.
    pub groups: Vec<String>,
    /// Covered tags.
    pub tags: Vec<String>,
    /// When.
    pub window: MaintenanceWindow,
}

impl Maintenance {
    /// Whether the window covers `service` directly (not through its dependencies).
    pub fn covers(&self, service: &Service) -> bool {
        let all = self.services.is_empty() && self.groups.is_empty() && self.tags.is_empty();
        all || self.services.contains(&service.id)
            || service
                .group
                .as_ref()
                .is_some_and(|g| self.groups.contains(g))
            || service.tags.iter().any(|t| self.tags.contains(t))
    }
}
