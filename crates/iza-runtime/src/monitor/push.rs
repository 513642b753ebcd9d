//! Results pushed in instead of probed, and the dead man's switch of `push` checks.
//!
//! A [`Pushed`] result (from `POST /api/v1/services/{id}/results` or a broker input) goes
//! to the processor, which passes it through the status board's one door like a finished
//! probe: stored, in the history, transitions and bus events alike. Any checked service takes
//! pushes; a service whose check is `push = true` takes nothing else.
//!
//! The [`Watch`] holds each push check's deadline: `expect_every` plus `grace` after the last
//! push (or after the start, or the reload that added the check). When a deadline passes, the
//! processor applies a down result ("no push within 5m") and the next one is due
//! `expect_every` later, so `failure_threshold` counts missed periods; a push moves the
//! deadline again. Time is Tokio's, so tests may pause and advance it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use iza_catalog::Catalog;
use iza_catalog::model::{CheckTarget, PushTarget};
use iza_probe::{Facts, Failure, Outcome, ProbeResult, Reason};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::event::ProbeSummary;
use crate::reload::CatalogDiff;

/// A result a service (or a script, a cron job) reports about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pushed {
    /// Up (`true`) or down.
    pub up: bool,
    /// Failing but reported as degraded rather than down (see `docs/checks.md`).
    #[serde(default)]
    pub degraded: bool,
    /// What the service says.
    #[serde(default)]
    pub message: Option<String>,
    /// How long the work took, by the service's own measure (`[RESPONSE_TIME]`).
    #[serde(default)]
    pub latency: Duration,
}

impl Pushed {
    /// The result as the status board takes it. A down (or degraded) result without a
    /// message says it was pushed so.
    pub fn to_result(&self) -> ProbeResult {
        let failed = !self.up || self.degraded;
        let failure = failed.then(|| {
            let said = self
                .message
                .clone()
                .unwrap_or_else(|| "reported down by a push".to_owned());
            let message = if self.degraded && self.up {
                format!("degraded: {said}")
            } else {
                said
            };
            Failure::new(Reason::Condition, message)
        });
        let facts = Facts {
            body: self.message.clone(),
            connected: true,
            ..Facts::default()
        };
        ProbeResult {
            outcome: if failed { Outcome::Down } else { Outcome::Up },
            duration: self.latency,
            facts,
            failure,
        }
    }
}

/// What became of a pushed result.
#[derive(Debug, Clone, PartialEq)]
pub enum PushOutcome {
    /// Applied and recorded, as summarized.
    Recorded(ProbeSummary),
    /// No service has this id.
    UnknownService,
    /// The service has no check: nothing to report against.
    NotChecked,
}

/// The deadline of every push check; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    deadlines: HashMap<Arc<str>, (Instant, PushTarget)>,
}

fn push_target(catalog: &Catalog, service: &str) -> Option<PushTarget> {
    match catalog.services.get(service)?.check.as_ref()?.target {
        CheckTarget::Push(target) => Some(target),
        _ => None,
    }
}

impl Watch {
    /// Every push check of a catalog, due from `now`.
    pub(crate) fn new(catalog: &Catalog, now: Instant) -> Watch {
        let mut watch = Watch::default();
        for id in catalog.services.keys() {
            if let Some(target) = push_target(catalog, id) {
                watch
                    .deadlines
                    .insert(Arc::from(id.as_str()), (now + target.deadline(), target));
            }
        }
        watch
    }

    /// Follows a reload: removed and changed services lose their deadline, added and
    /// changed push checks are due from `now`; the others keep theirs.
    pub(crate) fn reload(&mut self, catalog: &Catalog, diff: &CatalogDiff, now: Instant) {
        for id in diff.removed.iter().chain(&diff.changed) {
            self.deadlines.remove(id.as_str());
        }
        for id in diff.added.iter().chain(&diff.changed) {
            if let Some(target) = push_target(catalog, id) {
                self.deadlines
                    .insert(Arc::from(id.as_str()), (now + target.deadline(), target));
            }
        }
    }

    /// A result was pushed for `service`: its next one is due a deadline from `now`.
    pub(crate) fn pushed(&mut self, service: &str, now: Instant) {
        if let Some((due, target)) = self.deadlines.get_mut(service) {
            *due = now + target.deadline();
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.values().map(|(due, _)| *due).min()
    }

    /// The services whose deadline has passed, with the result that says so; each is due
    /// again `expect_every` later.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<(Arc<str>, ProbeResult)> {
        let mut missed = Vec::new();
        for (id, (due, target)) in &mut self.deadlines {
            if *due <= now {
                let waited = humantime::format_duration(target.deadline());
                missed.push((
                    id.clone(),
                    ProbeResult {
                        outcome: Outcome::Down,
                        duration: Duration::ZERO,
                        facts: Facts::default(),
                        failure: Some(Failure::new(
                            Reason::Timeout,
                            format!("no push within {waited}"),
                        )),
                    },
                ));
                *due = now + target.expect_every;
            }
        }
        missed.sort_by(|(a, _), (b, _)| a.cmp(b));
        missed
    }
}

/// A pushed result's JSON as sent (HTTP body or broker message).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    service: Option<String>,
    up: Option<bool>,
    status: Option<String>,
    degraded: Option<bool>,
    message: Option<String>,
    latency_ms: Option<f64>,
}

/// The longest `message` taken, in bytes.
pub const MAX_MESSAGE: usize = 4096;
/// The largest `latency_ms` taken: one day.
const MAX_LATENCY_MS: f64 = 86_400_000.0;

/// Reads a pushed result, and the service it names if it does, from its JSON
/// (`{"up": true, "message": "...", "latency_ms": 12}`, see `docs/inputs.md`); the error says
/// what is wrong, for a 400 or a log line.
pub fn parse_message(body: &[u8]) -> Result<(Option<String>, Pushed), String> {
    let body: Message = serde_json::from_slice(body).map_err(|e| {
        format!("the body is not a result: {e}; send for example {{\"up\": true, \"message\": \"...\", \"latency_ms\": 12}}")
    })?;
    let from_status = match body.status.as_deref() {
        None => None,
        Some("up") => Some((true, false)),
        Some("down") => Some((false, false)),
        Some("degraded") => Some((true, true)),
        Some(other) => {
            return Err(format!(
                "`status` is `{other}`; it is one of `up`, `down`, `degraded`"
            ));
        }
    };
    let (up, degraded) = match (body.up, from_status) {
        (None, None) => return Err("the result says neither `up` nor `status`".to_owned()),
        (Some(up), None) => (up, false),
        (None, Some(found)) => found,
        (Some(up), Some((status_up, degraded))) if up == status_up => (up, degraded),
        (Some(up), Some(_)) => {
            return Err(format!(
                "`up` is {up} but `status` is `{}`",
                body.status.unwrap_or_default()
            ));
        }
    };
    let degraded = degraded || body.degraded.unwrap_or(false);
    if degraded && !up {
        return Err("a result is down or degraded, not both".to_owned());
    }
    if let Some(message) = &body.message
        && message.len() > MAX_MESSAGE
    {
        return Err(format!(
            "`message` has {} bytes; at most {MAX_MESSAGE} are taken",
            message.len()
        ));
    }
    let latency = match body.latency_ms {
        None => Duration::ZERO,
        Some(ms) if ms.is_finite() && (0.0..=MAX_LATENCY_MS).contains(&ms) => {
            Duration::from_secs_f64(ms / 1000.0)
        }
        Some(ms) => {
            return Err(format!(
                "`latency_ms` is {ms}; it is a number of milliseconds from 0 to {MAX_LATENCY_MS}"
            ));
        }
    };
    Ok((
        body.service,
        Pushed {
            up,
            degraded,
            message: body.message,
            latency,
        },
    ))
}
