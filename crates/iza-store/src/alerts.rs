//! The types of alerting as every [`Store`](crate::Store) implementation keeps them: alerts
//! (one per rule and root cause while open), silences, and the delivery log (one row per
//! alert, transition and notifier, unique: a notification is recorded, and so sent, at most
//! once). The semantics are stated on the `Store` methods; the engine that decides when an
//! alert fires is `iza-runtime/src/alerts/`.

use serde::{Deserialize, Serialize};

use crate::Millis;
use crate::queue::RunId;

/// The most alerts one [`Store::alerts`](crate::Store::alerts) call returns.
pub const MAX_ALERTS_PAGE: usize = 1_000;

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertState {
    /// The status holds but not yet for the rule's `for`.
    Pending,
    /// Fired (notified, or suppressed by a silence or maintenance).
    Firing,
    /// Over.
    Resolved,
}

impl AlertState {
    /// The state's number as stored (0 pending, 1 firing, 2 resolved).
    pub fn code(self) -> i64 {
        match self {
            AlertState::Pending => 0,
            AlertState::Firing => 1,
            AlertState::Resolved => 2,
        }
    }
}

/// One alert: a rule's condition on one service, the root cause, and what it impacts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Assigned by the store; 0 before it is first saved.
    pub id: i64,
    /// The rule's name.
    pub rule: String,
    /// The service: the root cause for a `down` alert.
    pub service: String,
    /// `critical`, `warning` or `info`.
    pub severity: String,
    /// Where it is.
    pub state: AlertState,
    /// The status that fired it (`down`, `degraded`, `impacted`).
    pub status: String,
    /// The services impacted by this root cause, in the order they turned impacted.
    pub impacted: Vec<String>,
    /// Why, for a person (the failed condition).
    pub reason: Option<String>,
    /// When the status began.
    pub started_at: Millis,
    /// When it fired.
    pub fired_at: Option<Millis>,
    /// Last change.
    pub updated_at: Millis,
    /// When it ended.
    pub resolved_at: Option<Millis>,
    /// When someone acknowledged it.
    pub acknowledged_at: Option<Millis>,
    /// Who.
    pub acknowledged_by: Option<String>,
    /// Why it is not sent: `silence:<id>` or `maintenance:<name>`.
    pub suppressed_by: Option<String>,
    /// Agents it was escalated to, in order.
    pub escalated_to: Vec<String>,
    /// Number of its notifiable transitions so far (firing, updates, reminders, resolved).
    pub seq: u32,
    /// The transitions whose notifications are enqueued (or recorded as suppressed).
    pub notified_seq: u32,
    /// When the last reminder (or the firing notification) was sent.
    pub last_notified_at: Option<Millis>,
}

/// Which alerts to read: newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertQuery {
    /// Only pending and firing ones.
    pub open_only: bool,
    /// Only this service's.
    pub service: Option<String>,
    /// Only ids lower than this (paging).
    pub before: Option<i64>,
    /// At most this many (capped at [`MAX_ALERTS_PAGE`]).
    pub limit: usize,
}

/// What a silence matches: every given field must match (an empty silence matches nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matchers {
    /// This service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Services in this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Services with this tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Alerts of this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl Matchers {
    /// Whether no matcher is given.
    pub fn is_empty(&self) -> bool {
        self.service.is_none() && self.group.is_none() && self.tag.is_none() && self.rule.is_none()
    }
}

/// A silence to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSilence {
    /// What it matches.
    pub matchers: Matchers,
    /// From when (usually now).
    pub starts_at: Millis,
    /// Until when.
    pub ends_at: Millis,
    /// Who made it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// When it was made.
    pub created_at: Millis,
}

/// A silence as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Assigned by the store.
    pub id: i64,
    /// What it matches.
    pub matchers: Matchers,
    /// From when.
    pub starts_at: Millis,
    /// Until when (moved to the expiry time when expired early).
    pub ends_at: Millis,
    /// Who made it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// When it was made.
    pub created_at: Millis,
}

impl Silence {
    /// Whether it is in force at `now`.
    pub fn active(&self, now: Millis) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

/// How a delivery went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryState {
    /// Its run is queued or running.
    Queued,
    /// The receiver accepted it.
    Sent,
    /// Every attempt failed.
    Failed,
    /// Not sent: a silence or maintenance covered the alert.
    Suppressed,
}

impl DeliveryState {
    /// Every state.
    pub const ALL: [DeliveryState; 4] = [
        DeliveryState::Queued,
        DeliveryState::Sent,
        DeliveryState::Failed,
        DeliveryState::Suppressed,
    ];

    /// The state's number as stored.
    pub fn code(self) -> i64 {
        match self {
            DeliveryState::Queued => 0,
            DeliveryState::Sent => 1,
            DeliveryState::Failed => 2,
            DeliveryState::Suppressed => 3,
        }
    }

    /// The state of a stored number.
    pub fn from_code(code: i64) -> Option<DeliveryState> {
        DeliveryState::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// One notification of one alert transition to one notifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Assigned by the store; 0 before.
    pub id: i64,
    /// The alert.
    pub alert: i64,
    /// The transition (`1-firing`, `2-updated`, `3-reminder`, `4-resolved`, `5-escalated`).
    pub transition: String,
    /// The notifier id (`-` when no notifier was chosen, for a suppressed one).
    pub notifier: String,
    /// The run on the queue that sends it.
    pub run: Option<RunId>,
    /// How it went.
    pub state: DeliveryState,
    /// When it was recorded.
    pub at: Millis,
    /// When it was sent or failed for good.
    pub finished_at: Option<Millis>,
    /// Attempts so far.
    pub attempts: u32,
    /// How long the last attempt took.
    pub latency_ms: Option<f64>,
    /// The last error, or why it was suppressed.
    pub error: Option<String>,
}

/// The end (or a failed attempt) of a delivery run, for every delivery it carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryUpdate {
    /// Which deliveries: `(alert, transition)` pairs of `notifier`.
    pub keys: Vec<(i64, String)>,
    /// The notifier.
    pub notifier: String,
    /// The run.
    pub run: RunId,
    /// `Queued` while retries remain, else `Sent` or `Failed`.
    pub state: DeliveryState,
    /// When.
    pub at: Millis,
    /// Attempts so far.
    pub attempts: u32,
    /// How long the attempt took.
    pub latency_ms: f64,
    /// Its error.
    pub error: Option<String>,
}
