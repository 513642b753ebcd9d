//! Hourly rollups of workflow executions, shared by every store: per engine service, workflow
//! and hour of start, the executions by status and a histogram of the finished ones' durations.
//! A sync round folds what it changes into them in its own transaction ([`Deltas`]: an
//! execution new to the store adds itself to its hour; one whose status or stop changed takes
//! its old figures out and puts its new ones in), so a rollup always counts every execution
//! the store has recorded, also after the raw rows are pruned. A window's figures are the
//! rollups of its whole hours plus the raw rows of its first, partial hour ([`WindowFigures`]).
//!
//! Durations use the checks' latency histogram ([`crate::histogram`]) in units of
//! [`DURATION_UNIT_MS`]: its log-scale range (0.1 to 62.3 thousand units) then covers 10 ms to
//! 1 h 43 min, where a percentile is within [`RELATIVE_ERROR`](crate::histogram::RELATIVE_ERROR)
//! (9.05 %) of the exact nearest-rank value; under 10 ms it is within 10 ms; above 1 h 43 min it
//! lies between 1 h 43 min and the longest duration of the window's hours.

use std::collections::BTreeMap;

use crate::histogram::{LatencyHistogram, bucket_of};
use crate::{Millis, StoreError};

/// An hour, in ms.
pub const HOUR: Millis = 3_600_000;
/// The unit the duration histogram counts in, in ms (see the module docs).
pub const DURATION_UNIT_MS: f64 = 100.0;

fn malformed(what: impl std::fmt::Display) -> StoreError {
    StoreError::Query(format!("a stored workflow rollup is malformed: {what}"))
}

/// The hour (its start) of a time.
pub(crate) fn hour_of(at: Millis) -> Millis {
    at - at.rem_euclid(HOUR)
}

/// The first hour start at or after `at`.
pub(crate) fn hour_at_or_after(at: Millis) -> Millis {
    let floor = hour_of(at);
    if floor == at {
        at
    } else {
        floor.saturating_add(HOUR)
    }
}

/// The duration an execution counts with: finished (not running) and stopped.
fn duration_of(status: &str, started_at: Millis, stopped_at: Option<Millis>) -> Option<i64> {
    match stopped_at {
        Some(stopped) if status != "running" => Some((stopped - started_at).max(0)),
        _ => None,
    }
}

fn duration_bucket(duration_ms: i64) -> usize {
    bucket_of(duration_ms as f64 / DURATION_UNIT_MS)
}

/// What a round changes in one workflow's hour: counts by status and by duration bucket (a
/// removed execution counts -1), and the extremes of the durations it adds.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HourDelta {
    runs: BTreeMap<String, i64>,
    buckets: BTreeMap<usize, i64>,
    extremes: Option<(f64, f64)>,
}

/// What a round changes, per `(workflow, hour)`, in a stable order (the PostgreSQL store locks
/// the rollup rows in it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Deltas(pub(crate) BTreeMap<(String, Millis), HourDelta>);

impl Deltas {
    /// Counts an execution in (`sign` 1) or out (`sign` -1) of its hour.
    pub(crate) fn record(
        &mut self,
        workflow_id: &str,
        status: &str,
        started_at: Millis,
        stopped_at: Option<Millis>,
        sign: i64,
    ) {
        let delta = self
            .0
            .entry((workflow_id.to_owned(), hour_of(started_at)))
            .or_default();
        *delta.runs.entry(status.to_owned()).or_default() += sign;
        if let Some(duration) = duration_of(status, started_at, stopped_at) {
            *delta.buckets.entry(duration_bucket(duration)).or_default() += sign;
            if sign > 0 {
                let ms = duration as f64;
                delta.extremes = Some(match delta.extremes {
                    None => (ms, ms),
                    Some((min, max)) => (min.min(ms), max.max(ms)),
                });
            }
        }
    }
}

/// The figures of one workflow over some hours (one stored rollup, or a window's sum).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HourFigures {
    /// Executions by normalized status.
    pub runs: BTreeMap<String, u64>,
    durations: LatencyHistogram,
    /// Shortest and longest duration counted (an upper bound of the range after an execution
    /// was taken out: extremes only widen). Meaningful when a duration was counted.
    min_ms: f64,
    max_ms: f64,
}

impl HourFigures {
    /// Reads a stored row (`runs` as JSON, the extremes, the encoded histogram).
    pub(crate) fn from_row(
        runs: &str,
        min_ms: f64,
        max_ms: f64,
        histogram: &[u8],
    ) -> Result<HourFigures, StoreError> {
        Ok(HourFigures {
            runs: serde_json::from_str(runs).map_err(malformed)?,
            durations: LatencyHistogram::decode(histogram).map_err(malformed)?,
            min_ms,
            max_ms,
        })
    }

    /// Adds a stored row (as [`from_row`](Self::from_row) reads it) without building figures
    /// of its own first: a window's read sums many rows.
    pub(crate) fn merge_row(
        &mut self,
        runs: &str,
        min_ms: f64,
        max_ms: f64,
        histogram: &[u8],
    ) -> Result<(), StoreError> {
        let runs: BTreeMap<String, u64> = serde_json::from_str(runs).map_err(malformed)?;
        for (status, count) in runs {
            match self.runs.get_mut(&status) {
                Some(mine) => *mine = mine.saturating_add(count),
                None => {
                    self.runs.insert(status, count);
                }
            }
        }
        let before = self.durations.total();
        self.durations.merge_encoded(histogram).map_err(malformed)?;
        if self.durations.total() > before {
            if before == 0 {
                (self.min_ms, self.max_ms) = (min_ms, max_ms);
            } else {
                self.min_ms = self.min_ms.min(min_ms);
                self.max_ms = self.max_ms.max(max_ms);
            }
        }
        Ok(())
    }

    /// Applies a round's change.
    pub(crate) fn apply(&mut self, delta: &HourDelta) {
        for (status, change) in &delta.runs {
            let count = self.runs.entry(status.clone()).or_default();
            *count = count.saturating_add_signed(*change);
            if *count == 0 {
                self.runs.remove(status);
            }
        }
        if let Some((min, max)) = delta.extremes {
            self.widen(min, max);
        }
        for (bucket, change) in &delta.buckets {
            if *change >= 0 {
                self.durations.add_to_bucket(*bucket, change.unsigned_abs());
            } else {
                self.durations
                    .remove_from_bucket(*bucket, change.unsigned_abs());
            }
        }
    }

    fn widen(&mut self, min: f64, max: f64) {
        if self.durations.total() == 0 {
            (self.min_ms, self.max_ms) = (min, max);
        } else {
            self.min_ms = self.min_ms.min(min);
            self.max_ms = self.max_ms.max(max);
        }
    }

    /// Adds other figures (another hour of the same workflow).
    pub fn merge(&mut self, other: &HourFigures) {
        for (status, count) in &other.runs {
            let mine = self.runs.entry(status.clone()).or_default();
            *mine = mine.saturating_add(*count);
        }
        if other.durations.total() > 0 {
            self.widen(other.min_ms, other.max_ms);
            self.durations.merge(&other.durations);
        }
    }

    /// Counts one raw execution row.
    pub(crate) fn add_execution(
        &mut self,
        status: &str,
        started_at: Millis,
        stopped_at: Option<Millis>,
    ) {
        let mut deltas = Deltas::default();
        deltas.record("", status, started_at, stopped_at, 1);
        if let Some(delta) = deltas.0.values().next() {
            self.apply(delta);
        }
    }

    /// All executions counted.
    pub fn executions(&self) -> u64 {
        self.runs.values().sum()
    }

    /// Successful executions.
    pub fn successes(&self) -> u64 {
        self.runs.get("success").copied().unwrap_or(0)
    }

    /// Failed executions (`error` and `crashed`).
    pub fn failures(&self) -> u64 {
        self.runs
            .iter()
            .filter(|(status, _)| crate::workflows::is_failure(status))
            .map(|(_, count)| count)
            .sum()
    }

    /// The durations' `quantile` (0..=1), estimated from the histogram (see the module docs),
    /// in whole ms; `None` when no finished execution was counted.
    pub fn duration_quantile(&self, quantile: f64) -> Option<i64> {
        self.durations
            .quantile(
                quantile,
                self.min_ms / DURATION_UNIT_MS,
                self.max_ms / DURATION_UNIT_MS,
            )
            .map(|units| (units * DURATION_UNIT_MS).round() as i64)
    }

    /// `runs` as stored (JSON).
    pub(crate) fn runs_json(&self) -> String {
        serde_json::to_string(&self.runs).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The extremes as stored.
    pub(crate) fn extremes(&self) -> (f64, f64) {
        (self.min_ms, self.max_ms)
    }

    /// The histogram as stored.
    pub(crate) fn encoded_durations(&self) -> Vec<u8> {
        self.durations.encode()
    }
}

/// Where the rollups of a window starting at `since` begin: its first whole hour. The raw rows
/// in `[since, rollups_from(since))` make up the rest.
pub(crate) fn rollups_from(since: Millis) -> Millis {
    hour_at_or_after(since)
}

/// Windows at least this long start on an hour boundary ([`window_start`]).
pub const LONG_WINDOW_MS: Millis = 24 * HOUR;

/// The start of the window of `width` ending at `now` that the callers read: exact for
/// windows shorter than a day (their first partial hour is read from raw rows), on the hour
/// before `now - width` for a day or longer, so that such a window reads rollups only (it may
/// reach up to 59 minutes further back).
pub fn window_start(now: Millis, width: Millis) -> Millis {
    let start = now.saturating_sub(width);
    if width >= LONG_WINDOW_MS {
        hour_of(start)
    } else {
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_floor_and_ceil() {
        assert_eq!(hour_of(HOUR + 1), HOUR);
        assert_eq!(hour_of(-1), -HOUR);
        assert_eq!(hour_at_or_after(HOUR), HOUR);
        assert_eq!(hour_at_or_after(HOUR + 1), 2 * HOUR);
        assert_eq!(window_start(10 * HOUR + 5, HOUR), 9 * HOUR + 5);
        assert_eq!(window_start(100 * HOUR + 5, 24 * HOUR), 76 * HOUR);
    }

    #[test]
    fn a_change_of_status_moves_the_execution() {
        let mut deltas = Deltas::default();
        deltas.record("wf", "running", 1_000, None, 1);
        let mut hour = HourFigures::default();
        hour.apply(&deltas.0[&("wf".to_owned(), 0)]);
        assert_eq!(hour.runs.get("running"), Some(&1));
        assert_eq!(hour.duration_quantile(0.5), None);
        let mut finish = Deltas::default();
        finish.record("wf", "running", 1_000, None, -1);
        finish.record("wf", "error", 1_000, Some(3_500), 1);
        hour.apply(&finish.0[&("wf".to_owned(), 0)]);
        assert_eq!(hour.runs.get("running"), None);
        assert_eq!((hour.executions(), hour.failures()), (1, 1));
        assert_eq!(hour.duration_quantile(0.5), Some(2_500));
        let stored = HourFigures::from_row(
            &hour.runs_json(),
            hour.extremes().0,
            hour.extremes().1,
            &hour.encoded_durations(),
        )
        .unwrap();
        assert_eq!(stored, hour);
    }

    #[test]
    fn long_durations_keep_the_bound() {
        let mut figures = HourFigures::default();
        let durations: Vec<i64> = (1..=400).map(|i| i * 15_000).collect(); // 15 s .. 100 min
        for d in &durations {
            figures.add_execution("success", 0, Some(*d));
        }
        for (q, exact) in [(0.5, 200 * 15_000), (0.95, 380 * 15_000)] {
            let estimate = figures.duration_quantile(q).unwrap() as f64;
            let exact = f64::from(exact);
            assert!(
                (estimate - exact).abs() <= exact * crate::histogram::RELATIVE_ERROR + 1.0,
                "q{q}: {estimate} vs {exact}"
            );
        }
    }
}
