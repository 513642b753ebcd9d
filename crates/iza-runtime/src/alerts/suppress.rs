//! What keeps an alert from being sent: a silence whose matchers all match it, or a
//! maintenance window open now over its service or over anything its service depends on
//! (directly or through others: maintenance of a database covers what it impacts).
//! Answers `silence:<id>` or `maintenance:<name>`; owns no state.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{TimeZone, Utc};
use iza_catalog::Catalog;
use iza_catalog::model::{Maintenance, MaintenanceWindow};
use iza_store::{Millis, Silence};

/// Whether a maintenance window is open at `now`.
pub fn window_open(m: &Maintenance, now: Millis) -> bool {
    match &m.window {
        MaintenanceWindow::Fixed { start, end } => *start <= now && now < *end,
        MaintenanceWindow::Cron {
            expression,
            timezone,
            duration,
        } => {
            let Ok(cron) = croner::Cron::from_str(expression) else {
                return false;
            };
            let tz = timezone
                .as_deref()
                .and_then(|t| chrono_tz::Tz::from_str(t).ok())
                .unwrap_or(chrono_tz::UTC);
            let length = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
            // Open when an occurrence `o` has `now - length < o <= now`: the first occurrence
            // after `now - length` (inclusive of `now`).
            let Some(from) = Utc
                .timestamp_millis_opt(now.saturating_sub(length))
                .single()
            else {
                return false;
            };
            match cron.find_next_occurrence(&from.with_timezone(&tz), false) {
                Ok(next) => next.timestamp_millis() <= now,
                Err(_) => false,
            }
        }
    }
}

/// `service` and everything it depends on, transitively.
fn upstream<'a>(catalog: &'a Catalog, service: &'a str) -> Vec<&'a str> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack = vec![service];
    let mut out = Vec::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        out.push(id);
        if let Some(s) = catalog.services.get(id) {
            stack.extend(s.depends_on.iter().map(String::as_str));
        }
    }
    out
}

/// Why an alert of `rule` on `service` is not sent now, if it is not.
pub fn suppressed_by(
    catalog: &Catalog,
    silences: &[Silence],
    rule: &str,
    service: &str,
    now: Millis,
) -> Option<String> {
    let svc = catalog.services.get(service);
    for s in silences.iter().filter(|s| s.active(now)) {
        let m = &s.matchers;
        if m.is_empty() {
            continue;
        }
        let ok = m.service.as_deref().is_none_or(|x| x == service)
            && m.rule.as_deref().is_none_or(|x| x == rule)
            && m.group
                .as_deref()
                .is_none_or(|g| svc.is_some_and(|s| s.group.as_deref() == Some(g)))
            && m.tag
                .as_deref()
                .is_none_or(|t| svc.is_some_and(|s| s.tags.iter().any(|x| x == t)));
        if ok {
            return Some(format!("silence:{}", s.id));
        }
    }
    let open: Vec<&Maintenance> = catalog
        .maintenance
        .iter()
        .filter(|m| window_open(m, now))
        .collect();
    if open.is_empty() {
        return None;
    }
    for id in upstream(catalog, service) {
        let Some(s) = catalog.services.get(id) else {
            continue;
        };
        if let Some(m) = open.iter().find(|m| m.covers(s)) {
            return Some(format!("maintenance:{}", m.name));
        }
    }
    None
}
