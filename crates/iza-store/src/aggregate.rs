//! What every store implementation shares between its raw results and its rollups: bucket
//! arithmetic on Unix milliseconds and the mergeable aggregate of one bucket (count, failures,
//! observed extremes, latency histogram) that becomes a [`Rollup`].

use crate::histogram::LatencyHistogram;
use crate::{Millis, Resolution, Rollup, StoreError};

/// The start of the bucket of width `width` that holds `at` (floor, also for negative times).
pub(crate) fn floor_to(at: Millis, width: Millis) -> Millis {
    at - at.rem_euclid(width)
}

/// The start of the first bucket of width `width` that starts at or after `at`.
pub(crate) fn ceil_to(at: Millis, width: Millis) -> Millis {
    let floor = floor_to(at, width);
    if floor == at {
        at
    } else {
        floor.saturating_add(width)
    }
}

/// A latency as stored: NaN and negatives become 0, infinity the largest finite value.
pub(crate) fn sanitize_latency(latency_ms: f64) -> f64 {
    if latency_ms.is_nan() || latency_ms <= 0.0 {
        0.0
    } else if latency_ms.is_infinite() {
        f64::MAX
    } else {
        latency_ms
    }
}

/// The aggregate of the results of one service in one bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BucketAggregate {
    pub(crate) count: u64,
    pub(crate) failures: u64,
    /// Observed extremes, meaningful only when `count > 0`.
    pub(crate) min_ms: f64,
    pub(crate) max_ms: f64,
    pub(crate) histogram: LatencyHistogram,
}

impl BucketAggregate {
    /// Adds a group of results that share a histogram bucket.
    pub(crate) fn add_group(
        &mut self,
        histogram_bucket: usize,
        count: u64,
        failures: u64,
        min_ms: f64,
        max_ms: f64,
    ) {
        if count == 0 {
            return;
        }
        self.widen(min_ms, max_ms);
        self.count = self.count.saturating_add(count);
        self.failures = self.failures.saturating_add(failures);
        self.histogram.add_to_bucket(histogram_bucket, count);
    }

    /// Adds another aggregate of the same service and bucket (or of a bucket inside this one).
    pub(crate) fn merge(&mut self, other: &BucketAggregate) {
        if other.count == 0 {
            return;
        }
        self.widen(other.min_ms, other.max_ms);
        self.count = self.count.saturating_add(other.count);
        self.failures = self.failures.saturating_add(other.failures);
        self.histogram.merge(&other.histogram);
    }

    fn widen(&mut self, min_ms: f64, max_ms: f64) {
        if self.count == 0 {
            self.min_ms = min_ms;
            self.max_ms = max_ms;
        } else {
            self.min_ms = self.min_ms.min(min_ms);
            self.max_ms = self.max_ms.max(max_ms);
        }
    }

    /// The rollup this aggregate stands for.
    pub(crate) fn to_rollup(&self, service: &str, resolution: Resolution, start: Millis) -> Rollup {
        let quantile = |q| {
            self.histogram
                .quantile(q, self.min_ms, self.max_ms)
                .unwrap_or(0.0)
        };
        Rollup {
            service: service.to_owned(),
            resolution,
            start,
            count: self.count,
            failures: self.failures,
            p50_ms: quantile(0.50),
            p95_ms: quantile(0.95),
            p99_ms: quantile(0.99),
        }
    }
}

/// Reads a stored rollup row into an aggregate.
pub(crate) fn aggregate_from_row(
    count: i64,
    failures: i64,
    min_ms: f64,
    max_ms: f64,
    histogram: &[u8],
) -> Result<BucketAggregate, StoreError> {
    let malformed =
        |what: String| StoreError::Query(format!("a stored rollup is malformed: {what}"));
    let histogram =
        LatencyHistogram::decode(histogram).map_err(|error| malformed(error.to_string()))?;
    let count = u64::try_from(count).map_err(|_| malformed(format!("count {count}")))?;
    let failures =
        u64::try_from(failures).map_err(|_| malformed(format!("failures {failures}")))?;
    Ok(BucketAggregate {
        count,
        failures,
        min_ms,
        max_ms,
        histogram,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_arithmetic_floors_and_ceils() {
        let cases = [
            // (at, width, floor, ceil)
            (0, 60_000, 0, 0),
            (1, 60_000, 0, 60_000),
            (59_999, 60_000, 0, 60_000),
            (60_000, 60_000, 60_000, 60_000),
            (-1, 60_000, -60_000, 0),
            (3_600_001, 3_600_000, 3_600_000, 7_200_000),
        ];
        for (at, width, floor, ceil) in cases {
            assert_eq!(floor_to(at, width), floor, "floor {at}");
            assert_eq!(ceil_to(at, width), ceil, "ceil {at}");
        }
    }

    #[test]
    fn latencies_are_sanitized() {
        let cases = [
            (f64::NAN, 0.0),
            (-3.0, 0.0),
            (f64::INFINITY, f64::MAX),
            (12.5, 12.5),
        ];
        for (given, stored) in cases {
            assert_eq!(sanitize_latency(given), stored, "{given}");
        }
    }

    #[test]
    fn merging_keeps_extremes_and_sums() {
        let mut first = BucketAggregate::default();
        first.add_group(10, 3, 1, 2.0, 4.0);
        let mut second = BucketAggregate::default();
        second.add_group(40, 2, 2, 100.0, 300.0);
        first.merge(&second);
        first.merge(&BucketAggregate::default());
        assert_eq!((first.count, first.failures), (5, 3));
        assert_eq!((first.min_ms, first.max_ms), (2.0, 300.0));
        assert_eq!(first.histogram.total(), 5);
        let rollup = first.to_rollup("api", Resolution::Minute, 0);
        assert!(rollup.p50_ms >= 2.0 && rollup.p99_ms <= 300.0);
    }
}
