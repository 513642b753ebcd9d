//! When a scheduled task's ticks fall, and which missed ticks a start catches up.
//!
//! A tick is a point in time, in Unix milliseconds, that depends only on the schedule, never on
//! when `iza` started, so that two processes (a restart, a reload) compute the same ticks and
//! the store's unique key of task and tick enqueues each one exactly once:
//! - `every = "5m"`: the multiples of the interval since the Unix epoch (…, 12:00, 12:05, …);
//! - `cron = "0 2 * * *"`: the expression's matches, in `timezone` (an IANA name) or UTC.
//!
//! At a start (or when a task first appears in a reload) the ticks missed since the task's
//! schedule mark (the latest tick the store enqueued for it) are handled by `catch_up`:
//! `skip` enqueues none of them, `one` the latest, `all` the latest `limit` of them. A task
//! never enqueued before has missed nothing. It owns the tick arithmetic; the engine owns
//! the enqueuing (`mod.rs`).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, PoisonError};

use chrono::{DateTime, TimeZone, Utc};
use iza_catalog::model::{CatchUp, Schedule, Task};
use iza_store::{Millis, NewRun};
use serde_json::json;

use super::Shared;

/// A schedule ready to compute ticks.
#[derive(Debug, Clone)]
pub enum Ticks {
    /// Every `period` milliseconds from the epoch.
    Every(Millis),
    /// A cron expression in a time zone.
    Cron(Box<croner::Cron>, chrono_tz::Tz),
}

impl Ticks {
    /// The ticks of a schedule; an error when its cron expression or time zone is invalid
    /// (the catalog validates both, so this is only a safeguard).
    pub fn of(schedule: &Schedule) -> Result<Ticks, String> {
        match schedule {
            Schedule::Every(every) => Ok(Ticks::Every(
                i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1),
            )),
            Schedule::Cron {
                expression,
                timezone,
            } => {
                let cron = croner::Cron::from_str(expression)
                    .map_err(|e| format!("`{expression}` is not a cron expression: {e}"))?;
                let tz = match timezone {
                    Some(name) => chrono_tz::Tz::from_str(name)
                        .map_err(|_| format!("`{name}` is not an IANA time zone"))?,
                    None => chrono_tz::UTC,
                };
                Ok(Ticks::Cron(Box::new(cron), tz))
            }
        }
    }

    /// The first tick strictly after `after`.
    pub fn next_after(&self, after: Millis) -> Option<Millis> {
        match self {
            Ticks::Every(period) => after
                .div_euclid(*period)
                .checked_add(1)?
                .checked_mul(*period),
            Ticks::Cron(cron, tz) => {
                let start: DateTime<Utc> = Utc.timestamp_millis_opt(after).single()?;
                let start = start.with_timezone(tz);
                let next = cron.find_next_occurrence(&start, false).ok()?;
                Some(next.timestamp_millis())
            }
        }
    }

    /// The ticks in `(mark, now]` that `catch_up` asks for, oldest first, and never more
    /// than `limit` of them computed (the latest ones are kept).
    pub fn missed(&self, mark: Millis, now: Millis, catch_up: &CatchUp) -> Vec<Millis> {
        let keep = match catch_up {
            CatchUp::Skip => return Vec::new(),
            CatchUp::One => 1,
            CatchUp::All { limit } => (*limit).max(1) as usize,
        };
        let mut ticks = std::collections::VecDeque::with_capacity(keep.min(1024));
        let mut at = mark;
        // For `every`, jump close to the end instead of walking years of ticks.
        if let Ticks::Every(period) = self {
            let skip_to = now - period.saturating_mul(keep as i64 + 1);
            if skip_to > at {
                at = skip_to;
            }
        }
        let mut steps = 0usize;
        while let Some(next) = self.next_after(at) {
            if next > now {
                break;
            }
            if ticks.len() == keep {
                ticks.pop_front();
            }
            ticks.push_back(next);
            at = next;
            steps += 1;
            // A cron of every second over a long downtime: stop walking, keep what we have.
            if steps > 1_000_000 {
                break;
            }
        }
        ticks.into()
    }
}

/// One scheduled task's state in the ticker.
struct Entry {
    schedule: Schedule,
    ticks: Ticks,
    next: Millis,
}

/// The ticker: enqueues every due tick of every enabled scheduled task, and the missed ones
/// at a start and for tasks a reload adds or changes.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut entries: HashMap<String, Entry> = HashMap::new();
    let mut reloaded = shared.reloaded.subscribe();
    let mut stopping = shared.stopping.subscribe();
    let mut dirty = true;
    loop {
        if *stopping.borrow() {
            return;
        }
        if dirty {
            dirty = false;
            reconcile(&shared, &mut entries).await;
        }
        let now = shared.now();
        let mut due = Vec::new();
        for (key, entry) in &mut entries {
            if entry.next > now {
                continue;
            }
            // Woken late (a suspended machine): only the latest tick due now.
            let mut tick = entry.next;
            let mut guard = 0;
            while let Some(next) = entry.ticks.next_after(tick) {
                if next > now || guard > 100_000 {
                    break;
                }
                tick = next;
                guard += 1;
            }
            entry.next = entry.ticks.next_after(tick).unwrap_or(Millis::MAX);
            due.push((key.clone(), tick));
        }
        if !due.is_empty() {
            enqueue_ticks(&shared, &due).await;
        }
        publish_next(&shared, &entries);
        let wake_at = entries
            .values()
            .map(|e| e.next)
            .min()
            .unwrap_or(Millis::MAX);
        let clock = shared.options.clock.clone();
        tokio::select! {
            () = clock.sleep_until(wake_at) => {}
            changed = reloaded.changed() => {
                if changed.is_err() {
                    return;
                }
                dirty = true;
            }
            _ = stopping.wait_for(|s| *s) => return,
        }
    }
}

fn publish_next(shared: &Shared, entries: &HashMap<String, Entry>) {
    let mut next = shared
        .next_ticks
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    next.clear();
    next.extend(entries.iter().map(|(k, e)| (k.clone(), e.next)));
}

/// Brings the entries in line with the catalog: removed or disabled tasks dropped, kept ones
/// unchanged, new or changed ones computed from their schedule marks (with catch-up).
async fn reconcile(shared: &Shared, entries: &mut HashMap<String, Entry>) {
    let catalog = shared.catalog();
    let scheduled: HashMap<&str, &Task> = catalog
        .tasks
        .iter()
        .filter(|t| t.enabled && t.action.is_some() && t.schedule.is_some())
        .map(|t| (t.key.as_str(), t))
        .collect();
    entries.retain(|key, entry| {
        scheduled
            .get(key.as_str())
            .is_some_and(|t| t.schedule.as_ref() == Some(&entry.schedule))
    });
    let fresh: Vec<&Task> = scheduled
        .values()
        .filter(|t| !entries.contains_key(&t.key))
        .copied()
        .collect();
    if fresh.is_empty() {
        return;
    }
    let marks: HashMap<String, Millis> = match shared.store.schedule_marks().await {
        Ok(marks) => marks.into_iter().collect(),
        Err(err) => {
            tracing::error!("agents: reading the schedule marks failed: {err}");
            HashMap::new()
        }
    };
    let now = shared.now();
    let mut missed = Vec::new();
    for task in fresh {
        let Some(schedule) = &task.schedule else {
            continue;
        };
        let ticks = match Ticks::of(schedule) {
            Ok(ticks) => ticks,
            Err(err) => {
                tracing::error!("agents: task `{}`: {err}", task.key);
                continue;
            }
        };
        let mark = marks.get(&task.key).copied();
        if let Some(mark) = mark {
            for tick in ticks.missed(mark, now, &task.catch_up) {
                missed.push((task.key.clone(), tick));
            }
        }
        // The next tick after now, and never one at or before the mark.
        let from = mark.map_or(now, |m| m.max(now));
        let next = ticks.next_after(from).unwrap_or(Millis::MAX);
        entries.insert(
            task.key.clone(),
            Entry {
                schedule: schedule.clone(),
                ticks,
                next,
            },
        );
    }
    if !missed.is_empty() {
        enqueue_ticks(shared, &missed).await;
    }
}

/// Enqueues schedule ticks: one run per (task, tick), deduplicated by the store.
async fn enqueue_ticks(shared: &Shared, due: &[(String, Millis)]) {
    let catalog = shared.catalog();
    let runs: Vec<NewRun> = due
        .iter()
        .filter_map(|(key, tick)| {
            let task = shared.task(&catalog, key)?;
            let mut run = shared.new_run(
                task,
                json!({"kind": "tick", "tick": tick}),
                Some(format!("tick:{tick}")),
            );
            run.tick = Some(*tick);
            Some(run)
        })
        .collect();
    if let Err(err) = shared.enqueue(runs).await {
        tracing::error!("agents: enqueuing schedule ticks failed: {err}");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_ticks_are_multiples_of_the_period() {
        let ticks = Ticks::of(&Schedule::Every(Duration::from_secs(5))).unwrap();
        assert_eq!(ticks.next_after(12_000), Some(15_000));
        assert_eq!(ticks.next_after(15_000), Some(20_000));
        assert!(ticks.missed(15_000, 40_000, &CatchUp::Skip).is_empty());
        assert_eq!(ticks.missed(15_000, 40_000, &CatchUp::One), vec![40_000]);
        assert_eq!(
            ticks.missed(15_000, 41_000, &CatchUp::All { limit: 3 }),
            vec![30_000, 35_000, 40_000]
        );
        assert_eq!(
            ticks.missed(15_000, 26_000, &CatchUp::All { limit: 100 }),
            vec![20_000, 25_000]
        );
    }

    #[test]
    fn cron_ticks_follow_the_time_zone() {
        let ticks = Ticks::of(&Schedule::Cron {
            expression: "0 2 * * *".into(),
            timezone: Some("Europe/Paris".into()),
        })
        .unwrap();
        // 2026-01-15 00:00 UTC: the next 02:00 in Paris (UTC+1) is 01:00 UTC.
        let midnight = Utc
            .with_ymd_and_hms(2026, 1, 15, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(ticks.next_after(midnight), Some(midnight + 3_600_000));
        let utc = Ticks::of(&Schedule::Cron {
            expression: "0 2 * * *".into(),
            timezone: None,
        })
        .unwrap();
        assert_eq!(utc.next_after(midnight), Some(midnight + 2 * 3_600_000));
        assert!(
            Ticks::of(&Schedule::Cron {
                expression: "0 2 * * *".into(),
                timezone: Some("Mars/Olympus".into()),
            })
            .is_err()
        );
    }
}
