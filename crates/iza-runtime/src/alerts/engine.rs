//! The alert engine's state and its one evaluation step: from the statuses the monitor
//! decided (root causes `down`, dependents `impacted` by them) to alerts, and from alert
//! transitions to notifications folded per notifier.
//!
//! Grouping by root cause: a rule fires one alert per **root** service. A `down` service is
//! its own root; an `impacted` service (when the rule asks for `impacted`) counts toward the
//! alert of its root; the alert lists every service impacted by that root. As more turn
//! impacted the alert is updated (an event, the store) and not re-sent. A dependent failing
//! while its root is up is `down` itself: its own alert.
//!
//! Damping: an alert resolves only once its condition has been absent for its rule's
//! `group_wait` (at least one second); a root that recovers and fails again within that time
//! neither resolves nor fires again. (The monitor's thresholds damp flapping before that.)
//!
//! Every transition (firing, reminder, escalated, resolved) gets the next number of the
//! alert (`seq`), saved before its notification is queued; the notification's dedup key
//! names `(alert, seq-transition, notifier)`, so a crash and a restart re-queue the same key
//! and the queue keeps one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use iza_catalog::Catalog;
use iza_catalog::model::{AlertOn, AlertRule, Severity};
use iza_notify::{AlertView, Message, Transition};
use iza_store::{
    Alert, AlertState, Delivery, DeliveryState, Millis, NewRun, RunPriority, Silence, Store,
    StoreError,
};
use serde_json::json;

use super::suppress;
use crate::Status;
use crate::event::EventKind;

/// The reserved task namespace of delivery runs: `@notify/<notifier id>`.
pub const TASK_PREFIX: &str = "@notify/";

/// The task key of a notifier's deliveries.
pub fn task_key(notifier: &str) -> String {
    format!("{TASK_PREFIX}{notifier}")
}

fn millis(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// A service's status as the engine last saw it.
#[derive(Debug, Clone)]
pub(crate) struct Observed {
    pub(crate) status: Status,
    pub(crate) since: Millis,
    pub(crate) reason: Option<String>,
}

/// One transition waiting in a notifier's batch.
#[derive(Debug, Clone)]
struct Item {
    alert: i64,
    seq: u32,
    transition: Transition,
    agent: Option<String>,
}

#[derive(Debug, Default)]
struct Batch {
    due: Millis,
    items: Vec<Item>,
}

/// An alert the statuses or figures call for: status word, impacted services, and the reason
/// of a figure rule.
type Wanted = (String, Vec<String>, Option<String>);

/// What one evaluation wants said on the bus.
pub(crate) type Announce = Vec<EventKind>;

/// The engine's state.
pub(crate) struct Engine {
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) statuses: HashMap<String, Observed>,
    pub(crate) silences: Vec<Silence>,
    /// Open alerts, and resolved ones still waiting in a batch, by id.
    alerts: HashMap<i64, Alert>,
    /// Open alerts by (rule, service).
    by_key: HashMap<(String, String), i64>,
    /// When each open alert's condition was last seen absent (the resolve hold).
    clear_since: HashMap<i64, Millis>,
    /// When each open alert's `impacted` list first changed without being saved: a growing
    /// list is saved and announced at most once per `group_wait` (an outage of a root with
    /// 1,000 dependents is 1,000 updates), or with the next change of state.
    impacted_since: HashMap<i64, Millis>,
    /// When each pending alert's condition began, by the engine's clock.
    pending_since: HashMap<i64, Millis>,
    outbox: BTreeMap<String, Batch>,
    /// The latest business figures, for rules with `when`.
    pub(crate) figures: iza_probe::FigureBoard,
    /// For `ack_url`.
    pub(crate) public_url: Option<String>,
    /// Signs `ack_url` when set (`links.rs`).
    pub(crate) link_key: Option<super::links::LinkKey>,
    /// Whether a batch was queued since the last [`Engine::take_flushed`].
    flushed: bool,
}

impl Engine {
    pub(crate) fn new(
        catalog: Arc<Catalog>,
        store: Arc<dyn Store>,
        public_url: Option<String>,
    ) -> Engine {
        Engine {
            catalog,
            store,
            statuses: HashMap::new(),
            silences: Vec::new(),
            alerts: HashMap::new(),
            by_key: HashMap::new(),
            clear_since: HashMap::new(),
            impacted_since: HashMap::new(),
            pending_since: HashMap::new(),
            outbox: BTreeMap::new(),
            figures: iza_probe::FigureBoard::default(),
            public_url,
            link_key: None,
            flushed: false,
        }
    }

    /// Whether a batch was queued since the last call.
    pub(crate) fn take_flushed(&mut self) -> bool {
        std::mem::take(&mut self.flushed)
    }

    /// Firing alerts by severity.
    pub(crate) fn firing_by_severity(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for alert in self
            .alerts
            .values()
            .filter(|a| a.state == AlertState::Firing)
        {
            *out.entry(alert.severity.clone()).or_insert(0) += 1;
        }
        out
    }

    /// Takes the open alerts of a previous run of this database.
    pub(crate) fn resume(&mut self, open: Vec<Alert>, now: Millis) {
        for alert in open {
            if alert.state == AlertState::Pending {
                self.pending_since.insert(alert.id, now);
            }
            self.by_key
                .insert((alert.rule.clone(), alert.service.clone()), alert.id);
            self.alerts.insert(alert.id, alert);
        }
    }

    /// An acknowledgement made through the store.
    pub(crate) fn acknowledged(&mut self, alert: &Alert) {
        if let Some(mine) = self.alerts.get_mut(&alert.id) {
            mine.acknowledged_at = alert.acknowledged_at;
            mine.acknowledged_by = alert.acknowledged_by.clone();
        }
    }

    fn rule(&self, name: &str) -> Option<&AlertRule> {
        self.catalog.alerts.iter().find(|r| r.name == name)
    }

    /// The agents that watch `service`: listed in their `services`, or its group in `groups`.
    fn watchers(&self, service: &str) -> Vec<&iza_catalog::model::Agent> {
        let group = self
            .catalog
            .services
            .get(service)
            .and_then(|s| s.group.as_deref());
        self.catalog
            .agents
            .values()
            .filter(|a| {
                a.services.iter().any(|s| s == service)
                    || group.is_some_and(|g| a.groups.iter().any(|x| x == g))
            })
            .collect()
    }

    /// Where a rule's notifications of an alert on `service` go.
    fn recipients(&self, rule: &AlertRule, service: &str) -> Vec<String> {
        let mut out: Vec<String> = rule.notify.clone();
        if rule.to_agent {
            for agent in self.watchers(service) {
                out.extend(agent.notify.iter().cloned());
            }
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|n| seen.insert(n.clone()) && self.catalog.notifiers.contains_key(n));
        out
    }

    /// The escalation chain above the watchers of `service`: `(agent, its notify, delay)`.
    fn escalation_chain(&self, service: &str) -> Vec<(String, Vec<String>, Duration)> {
        let Some(first) = self
            .watchers(service)
            .into_iter()
            .find(|a| a.ack_within.is_some())
        else {
            return Vec::new();
        };
        let mut chain = Vec::new();
        let mut delay = first.ack_within.unwrap_or_default();
        let mut at = first;
        let mut guard = 0;
        while let Some(boss) = at
            .reports_to
            .as_deref()
            .and_then(|b| self.catalog.agents.get(b))
        {
            chain.push((boss.id.clone(), boss.notify.clone(), delay));
            delay = boss.ack_within.unwrap_or(delay);
            at = boss;
            guard += 1;
            if guard > 16 {
                break;
            }
        }
        chain
    }

    /// The alerts the statuses and the figures call for now: (rule index, root) → (status
    /// word, impacted, reason of a figure rule).
    fn desired(&self) -> BTreeMap<(usize, String), Wanted> {
        let mut impacted_by: HashMap<&str, Vec<String>> = HashMap::new();
        for id in self.catalog.services.keys() {
            if let Some(Observed {
                status: Status::Impacted { by },
                ..
            }) = self.statuses.get(id)
            {
                impacted_by.entry(by.as_str()).or_default().push(id.clone());
            }
        }
        let mut out = BTreeMap::new();
        for (index, rule) in self.catalog.alerts.iter().enumerate() {
            if let Some(when) = &rule.when {
                for service in self.catalog.services.values() {
                    if rule.selects(service)
                        && let Some(reason) = super::figures::holds(when, service, &self.figures)
                    {
                        out.insert(
                            (index, service.id.clone()),
                            (super::figures::STATUS.to_owned(), Vec::new(), Some(reason)),
                        );
                    }
                }
                continue;
            }
            for service in self.catalog.services.values() {
                let Some(observed) = self.statuses.get(&service.id) else {
                    continue;
                };
                let (root, word) = match &observed.status {
                    Status::Down if rule.statuses.contains(&AlertOn::Down) => {
                        (service.id.as_str(), "down")
                    }
                    Status::Degraded if rule.statuses.contains(&AlertOn::Degraded) => {
                        (service.id.as_str(), "degraded")
                    }
                    Status::Impacted { by } if rule.statuses.contains(&AlertOn::Impacted) => {
                        (by.as_str(), "down")
                    }
                    _ => continue,
                };
                if !rule.selects(service) {
                    continue;
                }
                let impacted = if word == "down" {
                    impacted_by.get(root).cloned().unwrap_or_default()
                } else {
                    Vec::new()
                };
                out.entry((index, root.to_owned()))
                    .or_insert_with(|| (word.to_owned(), impacted, None));
            }
        }
        out
    }

    /// One evaluation at `now`: alerts opened, fired, updated, resolved, reminded, escalated;
    /// due batches queued. Returns the events to announce and the next time it wants to run.
    pub(crate) async fn evaluate(
        &mut self,
        now: Millis,
    ) -> Result<(Announce, Option<Millis>), StoreError> {
        let mut events = Vec::new();
        let mut wake: Option<Millis> = None;
        let want = |at: Millis, wake: &mut Option<Millis>| {
            *wake = Some(wake.map_or(at, |w: Millis| w.min(at)));
        };
        let desired = self.desired();
        let mut present = std::collections::HashSet::new();
        // Opened and updated.
        for ((index, root), (word, impacted, figure_reason)) in &desired {
            let rule = self.catalog.alerts[*index].clone();
            let key = (rule.name.clone(), root.clone());
            let observed = self.statuses.get(root);
            let id = match self.by_key.get(&key) {
                Some(id) => *id,
                None => {
                    let alert = Alert {
                        id: 0,
                        rule: rule.name.clone(),
                        service: root.clone(),
                        severity: severity_word(rule.severity).to_owned(),
                        state: AlertState::Pending,
                        status: word.clone(),
                        impacted: impacted.clone(),
                        reason: figure_reason
                            .clone()
                            .or_else(|| observed.and_then(|o| o.reason.clone())),
                        started_at: if figure_reason.is_some() {
                            now
                        } else {
                            observed.map_or(now, |o| o.since)
                        },
                        fired_at: None,
                        updated_at: now,
                        resolved_at: None,
                        acknowledged_at: None,
                        acknowledged_by: None,
                        suppressed_by: None,
                        escalated_to: Vec::new(),
                        seq: 0,
                        notified_seq: 0,
                        last_notified_at: None,
                    };
                    let alert = self.store.save_alert(&alert).await?;
                    self.pending_since.insert(alert.id, now);
                    self.by_key.insert(key.clone(), alert.id);
                    let id = alert.id;
                    self.alerts.insert(id, alert);
                    id
                }
            };
            present.insert(id);
            self.clear_since.remove(&id);
            let mut changed = false;
            let alert = self.alerts.get_mut(&id).expect("open alerts are kept");
            // A pending figure alert fires naming the value it last saw.
            if alert.state == AlertState::Pending
                && figure_reason.is_some()
                && alert.reason != *figure_reason
            {
                alert.reason = figure_reason.clone();
            }
            if alert.impacted != *impacted {
                alert.impacted = impacted.clone();
                alert.updated_at = now;
                self.impacted_since.entry(id).or_insert(now);
            }
            if let Some(since) = self.impacted_since.get(&id).copied() {
                let due = since.saturating_add(millis(rule.group_wait));
                if now >= due || alert.state == AlertState::Pending {
                    self.impacted_since.remove(&id);
                    changed = true;
                    if alert.state == AlertState::Firing {
                        events.push(EventKind::AlertUpdated {
                            alert: id,
                            service: alert.service.clone(),
                            impacted: alert.impacted.clone(),
                        });
                    }
                } else {
                    want(due, &mut wake);
                }
            }
            if alert.state == AlertState::Pending {
                let since = self.pending_since.get(&id).copied().unwrap_or(now);
                let due = since.saturating_add(millis(rule.r#for));
                if now >= due {
                    alert.state = AlertState::Firing;
                    alert.fired_at = Some(now);
                    alert.updated_at = now;
                    changed = true;
                    self.pending_since.remove(&id);
                    let suppressed = suppress::suppressed_by(
                        &self.catalog,
                        &self.silences,
                        &rule.name,
                        root,
                        now,
                    );
                    alert.suppressed_by = suppressed.clone();
                    events.push(EventKind::AlertFiring {
                        alert: id,
                        rule: rule.name.clone(),
                        service: root.clone(),
                        severity: alert.severity.clone(),
                        status: alert.status.clone(),
                        impacted: alert.impacted.clone(),
                        suppressed_by: suppressed,
                    });
                } else {
                    want(due, &mut wake);
                }
            }
            if changed {
                let snapshot = alert.clone();
                self.store.save_alert(&snapshot).await?;
            }
        }
        // Resolved.
        let open: Vec<i64> = self.by_key.values().copied().collect();
        for id in open {
            if present.contains(&id) {
                continue;
            }
            let Some(alert) = self.alerts.get(&id).cloned() else {
                continue;
            };
            let rule = self.rule(&alert.rule).cloned();
            let hold = rule
                .as_ref()
                .map_or(1_000, |r| millis(r.group_wait).max(1_000));
            let since = *self.clear_since.entry(id).or_insert(now);
            if alert.state == AlertState::Firing && now < since + hold && rule.is_some() {
                want(since + hold, &mut wake);
                continue;
            }
            self.clear_since.remove(&id);
            self.pending_since.remove(&id);
            self.impacted_since.remove(&id);
            self.by_key
                .remove(&(alert.rule.clone(), alert.service.clone()));
            let mut alert = alert;
            let was_firing = alert.state == AlertState::Firing;
            alert.state = AlertState::Resolved;
            alert.resolved_at = Some(now);
            alert.updated_at = now;
            let notify = was_firing
                && alert.last_notified_at.is_some()
                && rule.as_ref().is_some_and(|r| r.send_resolved);
            if notify {
                alert.seq += 1;
                let rule = rule.clone().expect("checked above");
                let item = Item {
                    alert: id,
                    seq: alert.seq,
                    transition: Transition::Resolved,
                    agent: None,
                };
                for n in self.recipients(&rule, &alert.service) {
                    self.push(&n, item.clone(), now + millis(rule.group_wait));
                }
            }
            // An unsent firing of it still waiting in a batch is dropped: nothing to say.
            for batch in self.outbox.values_mut() {
                batch
                    .items
                    .retain(|i| i.alert != id || i.transition == Transition::Resolved);
            }
            self.outbox.retain(|_, b| !b.items.is_empty());
            self.store.save_alert(&alert).await?;
            if was_firing {
                events.push(EventKind::AlertResolved {
                    alert: id,
                    rule: alert.rule.clone(),
                    service: alert.service.clone(),
                });
            }
            if notify {
                self.alerts.insert(id, alert);
            } else {
                self.alerts.remove(&id);
            }
        }
        // Firing alerts: suppression, the first notification, reminders, escalation.
        let firing: Vec<i64> = self
            .by_key
            .values()
            .copied()
            .filter(|id| {
                self.alerts
                    .get(id)
                    .is_some_and(|a| a.state == AlertState::Firing)
            })
            .collect();
        for id in firing {
            let Some(mut alert) = self.alerts.get(&id).cloned() else {
                continue;
            };
            let Some(rule) = self.rule(&alert.rule).cloned() else {
                continue;
            };
            let mut changed = false;
            let suppressed = suppress::suppressed_by(
                &self.catalog,
                &self.silences,
                &rule.name,
                &alert.service,
                now,
            );
            if suppressed != alert.suppressed_by {
                alert.suppressed_by = suppressed.clone();
                changed = true;
            }
            let queued = self
                .outbox
                .values()
                .any(|b| b.items.iter().any(|i| i.alert == id));
            let recipients = self.recipients(&rule, &alert.service);
            if alert.last_notified_at.is_none() && !queued {
                // A firing transition decided but neither recorded nor queued (a crash came
                // between): it keeps its number, so its dedup key is the same.
                let undelivered = alert.notified_seq < alert.seq;
                if let Some(why) = &suppressed {
                    if alert.seq == 0 || undelivered {
                        alert.seq = alert.seq.max(1);
                        let records: Vec<Delivery> = recipients
                            .iter()
                            .map(|n| {
                                delivery(
                                    id,
                                    alert.seq,
                                    Transition::Firing,
                                    n,
                                    DeliveryState::Suppressed,
                                    now,
                                    Some(why.clone()),
                                )
                            })
                            .collect();
                        if !records.is_empty() {
                            self.store.record_deliveries(&records).await?;
                        }
                        alert.notified_seq = alert.seq;
                        changed = true;
                    }
                } else {
                    if !undelivered {
                        alert.seq += 1;
                        changed = true;
                    }
                    if recipients.is_empty() {
                        // Nobody to tell (an agent without `notify`): recorded as notified.
                        alert.notified_seq = alert.seq;
                        alert.last_notified_at = Some(now);
                        changed = true;
                    } else {
                        let item = Item {
                            alert: id,
                            seq: alert.seq,
                            transition: Transition::Firing,
                            agent: None,
                        };
                        for n in &recipients {
                            self.push(n, item.clone(), now + millis(rule.group_wait));
                        }
                        // The batch is due later: come back then.
                        want(now + millis(rule.group_wait), &mut wake);
                    }
                }
            } else if alert.last_notified_at.is_some()
                && alert.acknowledged_at.is_none()
                && suppressed.is_none()
                && !queued
            {
                if let (Some(repeat), Some(last)) = (rule.repeat, alert.last_notified_at) {
                    let due = last + millis(repeat);
                    if now >= due {
                        alert.seq += 1;
                        alert.last_notified_at = Some(now);
                        changed = true;
                        let item = Item {
                            alert: id,
                            seq: alert.seq,
                            transition: Transition::Reminder,
                            agent: None,
                        };
                        for n in &recipients {
                            self.push(n, item.clone(), now);
                        }
                        want(now + millis(repeat), &mut wake);
                    } else {
                        want(due, &mut wake);
                    }
                }
                if rule.severity == Severity::Critical && rule.to_agent {
                    let chain = self.escalation_chain(&alert.service);
                    let level = alert.escalated_to.len();
                    if let Some((agent, notify, _)) = chain.get(level) {
                        let delay: i64 = chain[..=level].iter().map(|(_, _, d)| millis(*d)).sum();
                        let due = alert.fired_at.unwrap_or(now) + delay;
                        if now >= due {
                            alert.seq += 1;
                            alert.escalated_to.push(agent.clone());
                            changed = true;
                            events.push(EventKind::AlertEscalated {
                                alert: id,
                                to: agent.clone(),
                            });
                            let item = Item {
                                alert: id,
                                seq: alert.seq,
                                transition: Transition::Escalated,
                                agent: Some(agent.clone()),
                            };
                            let known: Vec<String> = notify
                                .iter()
                                .filter(|n| self.catalog.notifiers.contains_key(*n))
                                .cloned()
                                .collect();
                            for n in &known {
                                self.push(n, item.clone(), now);
                            }
                        } else {
                            want(due, &mut wake);
                        }
                    }
                }
            }
            if changed {
                alert.updated_at = now;
                self.store.save_alert(&alert).await?;
                self.alerts.insert(id, alert);
            }
        }
        // Due batches.
        let due: Vec<String> = self
            .outbox
            .iter()
            .filter(|(_, b)| b.due <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for notifier in due {
            if let Some(batch) = self.outbox.remove(&notifier) {
                self.flush(&notifier, batch, now).await?;
            }
        }
        for batch in self.outbox.values() {
            want(batch.due, &mut wake);
        }
        // Resolved alerts whose notifications all left are forgotten.
        let waiting: std::collections::HashSet<i64> = self
            .outbox
            .values()
            .flat_map(|b| b.items.iter().map(|i| i.alert))
            .collect();
        self.alerts
            .retain(|id, a| a.state != AlertState::Resolved || waiting.contains(id));
        Ok((events, wake))
    }

    fn push(&mut self, notifier: &str, item: Item, due: Millis) {
        let batch = self
            .outbox
            .entry(notifier.to_owned())
            .or_insert_with(|| Batch {
                due,
                items: Vec::new(),
            });
        batch.due = batch.due.min(due);
        batch
            .items
            .retain(|i| !(i.alert == item.alert && i.transition == item.transition));
        batch.items.push(item);
    }

    fn view(&self, alert: &Alert, item: &Item, now: Millis) -> AlertView {
        AlertView {
            id: alert.id,
            rule: alert.rule.clone(),
            service: alert.service.clone(),
            service_name: self
                .catalog
                .services
                .get(&alert.service)
                .map_or_else(|| alert.service.clone(), |s| s.name.clone()),
            severity: alert.severity.clone(),
            status: alert.status.clone(),
            transition: item.transition,
            impacted: alert.impacted.clone(),
            reason: alert.reason.clone(),
            started_at: alert.started_at,
            resolved_at: alert.resolved_at,
            agent: item.agent.clone(),
            ack_url: self.public_url.as_ref().map(|u| {
                let base = u.trim_end_matches('/');
                match &self.link_key {
                    Some(key) => format!("{base}{}", key.path(alert.id, now)),
                    None => format!("{base}/api/v1/alerts/{}/ack", alert.id),
                }
            }),
        }
    }

    /// Queues one notifier's batch as one run (dedup key: its transitions and the notifier)
    /// and records its deliveries.
    async fn flush(&mut self, notifier: &str, batch: Batch, now: Millis) -> Result<(), StoreError> {
        let Some(retries) = self.catalog.notifiers.get(notifier).map(|n| n.retries) else {
            return Ok(());
        };
        let items: Vec<(Item, Alert)> = batch
            .items
            .into_iter()
            .filter_map(|i| self.alerts.get(&i.alert).cloned().map(|a| (i, a)))
            .collect();
        if items.is_empty() {
            return Ok(());
        }
        let views: Vec<AlertView> = items.iter().map(|(i, a)| self.view(a, i, now)).collect();
        let message = Message::new(&self.catalog.ecosystem.name, notifier, now, views);
        let mut keys: Vec<String> = items
            .iter()
            .map(|(i, _)| format!("a{}-{}-{}", i.alert, i.seq, i.transition.as_str()))
            .collect();
        keys.sort();
        let critical = items.iter().any(|(_, a)| a.severity == "critical");
        let run = NewRun {
            task: task_key(notifier),
            agent: None,
            priority: if critical {
                RunPriority::High
            } else {
                RunPriority::Medium
            },
            dedupe: Some(keys.join(",")),
            tick: None,
            run_at: now,
            max_attempts: retries.saturating_add(1),
            concurrency: 1,
            external: true,
            trigger: json!({
                "notify": notifier,
                "deliveries": items.iter().map(|(i, _)| json!([i.alert, transition_key(i.seq, i.transition)])).collect::<Vec<_>>(),
                "message": message,
            }),
            enqueued_at: now,
        };
        let ids = self.store.enqueue_runs(std::slice::from_ref(&run)).await?;
        self.flushed = true;
        let run_id = ids.first().copied().flatten();
        let records: Vec<Delivery> = items
            .iter()
            .map(|(i, _)| {
                let mut d = delivery(
                    i.alert,
                    i.seq,
                    i.transition,
                    notifier,
                    DeliveryState::Queued,
                    now,
                    None,
                );
                d.run = run_id;
                d
            })
            .collect();
        self.store.record_deliveries(&records).await?;
        for (item, _) in &items {
            if let Some(alert) = self.alerts.get_mut(&item.alert) {
                let mut changed = false;
                if alert.notified_seq < item.seq {
                    alert.notified_seq = item.seq;
                    changed = true;
                }
                if item.transition == Transition::Firing && alert.last_notified_at.is_none() {
                    alert.last_notified_at = Some(now);
                    changed = true;
                }
                if changed {
                    let snapshot = alert.clone();
                    self.store.save_alert(&snapshot).await?;
                }
            }
        }
        Ok(())
    }
}

/// The transition's name in the delivery log: `<seq>-<transition>`.
pub fn transition_key(seq: u32, transition: Transition) -> String {
    format!("{seq}-{}", transition.as_str())
}

fn delivery(
    alert: i64,
    seq: u32,
    transition: Transition,
    notifier: &str,
    state: DeliveryState,
    at: Millis,
    error: Option<String>,
) -> Delivery {
    Delivery {
        id: 0,
        alert,
        transition: transition_key(seq, transition),
        notifier: notifier.to_owned(),
        run: None,
        state,
        at,
        finished_at: (state == DeliveryState::Suppressed).then_some(at),
        attempts: 0,
        latency_ms: None,
        error,
    }
}
