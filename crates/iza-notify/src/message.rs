//! The message a notifier sends: what the alert engine decided to say, as plain data. It is
//! also the JSON body of the `webhook` notifier (documented in docs/alerts.md) and the payload
//! a delivery run carries on the queue, so it is serialized exactly as it is sent.

use serde::{Deserialize, Serialize};

/// Why an alert is in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transition {
    /// It fired.
    Firing,
    /// More services turned impacted (sent only when the alert was not yet notified).
    Updated,
    /// It still holds and is not acknowledged (`repeat`).
    Reminder,
    /// Not acknowledged within `ack_within`: sent to the agent it reports to.
    Escalated,
    /// It ended.
    Resolved,
}

impl Transition {
    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Firing => "firing",
            Transition::Updated => "updated",
            Transition::Reminder => "reminder",
            Transition::Escalated => "escalated",
            Transition::Resolved => "resolved",
        }
    }
}

/// One alert in a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    /// The alert's id (`iza ack <id>`).
    pub id: i64,
    /// The rule's name.
    pub rule: String,
    /// The service: the root cause of a `down` alert.
    pub service: String,
    /// Its display name.
    pub service_name: String,
    /// `critical`, `warning` or `info`.
    pub severity: String,
    /// The status that fired it: `down`, `degraded` or `impacted`.
    pub status: String,
    /// Why this alert is in this message.
    pub transition: Transition,
    /// The services impacted by this root cause.
    pub impacted: Vec<String>,
    /// Why, for a person (the failed condition).
    pub reason: Option<String>,
    /// When the status began (Unix ms).
    pub started_at: i64,
    /// When it ended (Unix ms), for `resolved`.
    pub resolved_at: Option<i64>,
    /// The agent an escalation goes to.
    pub agent: Option<String>,
    /// Where to acknowledge it, when the server's address is known.
    pub ack_url: Option<String>,
}

/// One notification: one or more alerts, to one notifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Format version of this JSON; 1.
    pub version: u32,
    /// The ecosystem's name.
    pub ecosystem: String,
    /// The notifier it goes to.
    pub notifier: String,
    /// `resolved` when every alert in it is resolved, else `firing`.
    pub status: String,
    /// When it was decided (Unix ms).
    pub at: i64,
    /// The alerts.
    pub alerts: Vec<AlertView>,
}

impl Message {
    /// A message of these alerts; its `status` follows them.
    pub fn new(ecosystem: &str, notifier: &str, at: i64, alerts: Vec<AlertView>) -> Message {
        let resolved = alerts.iter().all(|a| a.transition == Transition::Resolved);
        Message {
            version: 1,
            ecosystem: ecosystem.to_owned(),
            notifier: notifier.to_owned(),
            status: if resolved { "resolved" } else { "firing" }.to_owned(),
            at,
            alerts,
        }
    }
}
