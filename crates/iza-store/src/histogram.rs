//! The latency histogram every rollup keeps: a fixed set of log-scale buckets, mergeable by
//! addition (an hour is the sum of its minutes), from which p50/p95/p99 are estimated.
//!
//! Buckets: `[0, 0.1 ms)`, then [`BUCKETS_PER_DOUBLING`] buckets for every doubling from 0.1 ms
//! to about 62 s (bucket `i` is `[0.1 * 2^((i-1)/8), 0.1 * 2^(i/8))` ms), then one overflow
//! bucket. A percentile is interpolated inside the bucket that holds its rank and clamped to the
//! bucket's observed minimum and maximum, so it lies in the same bucket as the exact value:
//! the relative error is below `2^(1/8) - 1` ([`RELATIVE_ERROR`], 9.05 %) for latencies from
//! 0.1 ms to 62 s, below 0.1 ms absolute under that, and within `[62 s, max]` above it.
//!
//! The encoding (a BLOB in SQLite, `bytea` in PostgreSQL) is sparse: a version byte, then for
//! every non-empty bucket its index and count as LEB128 varints.

/// Buckets for every doubling of latency (the precision knob).
pub const BUCKETS_PER_DOUBLING: u32 = 8;
/// The upper edge of the first bucket and the lower edge of the log-scale range, in ms.
pub const LOWEST_MS: f64 = 0.1;
/// Log-scale buckets: enough doublings to reach 60 s from 0.1 ms (2^19.25 * 0.1 ms = 62.3 s).
const LOG_BUCKETS: usize = 154;
/// All buckets: the one under [`LOWEST_MS`], the log-scale ones, the overflow one.
pub const BUCKET_COUNT: usize = LOG_BUCKETS + 2;
/// The worst relative error of a percentile between [`LOWEST_MS`] and [`highest_ms`].
pub const RELATIVE_ERROR: f64 = 0.090_507_732_665_257_66; // 2^(1/8) - 1

/// The first byte of an encoded histogram.
const ENCODING_VERSION: u8 = 1;

/// The lower edge of the overflow bucket, in ms (about 62.3 s).
pub fn highest_ms() -> f64 {
    lower_edge(BUCKET_COUNT - 1)
}

/// The index of the bucket a latency (ms) falls in; NaN and negatives count as 0.
pub fn bucket_of(latency_ms: f64) -> usize {
    if latency_ms.is_nan() || latency_ms < LOWEST_MS {
        return 0;
    }
    let position = (latency_ms / LOWEST_MS).log2() * f64::from(BUCKETS_PER_DOUBLING);
    // `position` is finite and >= 0 here (or +inf, which saturates); the cast saturates.
    let index = (position.floor() as usize).saturating_add(1);
    index.min(BUCKET_COUNT - 1)
}

/// The lower edge of bucket `index`, in ms.
pub fn lower_edge(index: usize) -> f64 {
    if index == 0 {
        return 0.0;
    }
    let steps = (index - 1) as f64 / f64::from(BUCKETS_PER_DOUBLING);
    LOWEST_MS * steps.exp2()
}

/// The upper edge of bucket `index`, in ms (`+inf` for the overflow bucket).
pub fn upper_edge(index: usize) -> f64 {
    if index >= BUCKET_COUNT - 1 {
        f64::INFINITY
    } else {
        lower_edge(index + 1)
    }
}

/// Why an encoded histogram could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramDecodeError {
    /// The version byte is missing or unknown.
    #[error("unknown latency histogram encoding (version byte {0:?})")]
    Version(Option<u8>),
    /// The bytes end inside a number, or a number is too large.
    #[error("truncated or malformed latency histogram")]
    Malformed,
    /// A bucket index is out of range.
    #[error("latency histogram bucket {0} is out of range")]
    Bucket(u64),
}

/// Counts of latencies per bucket.
#[derive(Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: Box<[u64; BUCKET_COUNT]>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: Box::new([0; BUCKET_COUNT]),
        }
    }
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let non_empty = self
            .counts
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0);
        f.debug_map().entries(non_empty).finish()
    }
}

impl LatencyHistogram {
    /// Counts one latency.
    pub fn record(&mut self, latency_ms: f64) {
        self.add_to_bucket(bucket_of(latency_ms), 1);
    }

    /// Adds `count` latencies to bucket `index` (ignored when out of range).
    pub fn add_to_bucket(&mut self, index: usize, count: u64) {
        if let Some(slot) = self.counts.get_mut(index) {
            *slot = slot.saturating_add(count);
        }
    }

    /// Takes `count` latencies out of bucket `index` (saturating at 0; ignored when out of
    /// range): a rollup that is kept up to date as its rows change (workflow executions).
    pub fn remove_from_bucket(&mut self, index: usize, count: u64) {
        if let Some(slot) = self.counts.get_mut(index) {
            *slot = slot.saturating_sub(count);
        }
    }

    /// Adds another histogram to this one.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
    }

    /// The number of latencies counted.
    pub fn total(&self) -> u64 {
        self.counts
            .iter()
            .fold(0u64, |sum, count| sum.saturating_add(*count))
    }

    /// The count of bucket `index` (0 when out of range).
    pub fn bucket_count(&self, index: usize) -> u64 {
        self.counts.get(index).copied().unwrap_or(0)
    }

    /// Estimates the `quantile` (0..=1) by nearest rank: the latency at rank `ceil(q * n)`,
    /// interpolated inside its bucket, clamped to `[min_ms, max_ms]` (the observed extremes).
    /// `None` when the histogram is empty.
    pub fn quantile(&self, quantile: f64, min_ms: f64, max_ms: f64) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let quantile = if quantile.is_nan() {
            0.5
        } else {
            quantile.clamp(0.0, 1.0)
        };
        // Nearest rank, 1-based: ceil(q * n), at least 1. `total` is far below 2^53 in practice.
        let rank = ((quantile * total as f64).ceil() as u64).clamp(1, total);
        let mut below = 0u64;
        for (index, count) in self.counts.iter().enumerate() {
            let count = *count;
            if count == 0 {
                continue;
            }
            if below + count >= rank {
                let lower = lower_edge(index).max(min_ms.min(max_ms));
                let upper = upper_edge(index).min(max_ms).max(lower);
                // The k-th of `count` values in the bucket sits at the middle of its share.
                let within = (rank - below) as f64 - 0.5;
                let estimate = lower + (upper - lower) * within / count as f64;
                return Some(estimate.clamp(lower, upper));
            }
            below += count;
        }
        None
    }

    /// The sparse binary encoding (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = vec![ENCODING_VERSION];
        for (index, count) in self.counts.iter().enumerate() {
            if *count > 0 {
                write_varint(&mut bytes, index as u64);
                write_varint(&mut bytes, *count);
            }
        }
        bytes
    }

    /// Reads [`encode`](Self::encode)'s output.
    pub fn decode(bytes: &[u8]) -> Result<LatencyHistogram, HistogramDecodeError> {
        let mut histogram = LatencyHistogram::default();
        histogram.merge_encoded(bytes)?;
        Ok(histogram)
    }

    /// Adds [`encode`](Self::encode)'s output to this histogram without decoding it into one
    /// of its own (a read that sums many stored rollups); on an error, part of it may have been
    /// added.
    pub fn merge_encoded(&mut self, bytes: &[u8]) -> Result<(), HistogramDecodeError> {
        let (version, mut rest) = match bytes.split_first() {
            Some((version, rest)) => (*version, rest),
            None => return Err(HistogramDecodeError::Version(None)),
        };
        if version != ENCODING_VERSION {
            return Err(HistogramDecodeError::Version(Some(version)));
        }
        while !rest.is_empty() {
            let index = read_varint(&mut rest)?;
            let count = read_varint(&mut rest)?;
            let slot = usize::try_from(index)
                .ok()
                .and_then(|index| self.counts.get_mut(index))
                .ok_or(HistogramDecodeError::Bucket(index))?;
            *slot = slot.saturating_add(count);
        }
        Ok(())
    }
}

fn write_varint(bytes: &mut Vec<u8>, mut value: u64) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(low);
            return;
        }
        bytes.push(low | 0x80);
    }
}

fn read_varint(bytes: &mut &[u8]) -> Result<u64, HistogramDecodeError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (byte, rest) = bytes.split_first().ok_or(HistogramDecodeError::Malformed)?;
        *bytes = rest;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return Err(HistogramDecodeError::Malformed);
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(HistogramDecodeError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact nearest-rank quantile of sorted values.
    fn exact_quantile(sorted: &[f64], quantile: f64) -> f64 {
        let rank = ((quantile * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    fn histogram_of(values: &[f64]) -> LatencyHistogram {
        let mut histogram = LatencyHistogram::default();
        for value in values {
            histogram.record(*value);
        }
        histogram
    }

    #[test]
    fn edges_are_contiguous_and_cover_the_promised_range() {
        assert_eq!(lower_edge(0), 0.0);
        assert_eq!(lower_edge(1), LOWEST_MS);
        for index in 0..BUCKET_COUNT - 1 {
            assert_eq!(upper_edge(index), lower_edge(index + 1));
        }
        assert!(
            highest_ms() >= 60_000.0,
            "overflow starts at {}",
            highest_ms()
        );
        assert!(upper_edge(BUCKET_COUNT - 1).is_infinite());
        let ratio = upper_edge(10) / lower_edge(10);
        assert!((ratio - 1.0 - RELATIVE_ERROR).abs() < 1e-12);
    }

    #[test]
    fn every_latency_falls_in_the_bucket_whose_edges_hold_it() {
        let cases = [
            0.0, 0.05, 0.1, 0.1001, 1.0, 2.5, 999.9, 1000.0, 59_999.0, 62_000.0, 1e9,
        ];
        for latency in cases {
            let index = bucket_of(latency);
            let (lower, upper) = (lower_edge(index), upper_edge(index));
            // One ulp of slack for the float log at an exact edge.
            assert!(
                lower <= latency * (1.0 + 1e-12),
                "{latency} below bucket {index} [{lower}, {upper})"
            );
            assert!(
                latency < upper * (1.0 + 1e-12),
                "{latency} above bucket {index} [{lower}, {upper})"
            );
        }
    }

    #[test]
    fn hostile_latencies_do_not_panic() {
        for latency in [
            f64::NAN,
            f64::NEG_INFINITY,
            -5.0,
            f64::INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            let index = bucket_of(latency);
            assert!(index < BUCKET_COUNT);
        }
        let mut histogram = LatencyHistogram::default();
        histogram.record(f64::INFINITY);
        assert_eq!(histogram.bucket_count(BUCKET_COUNT - 1), 1);
        assert!(histogram.quantile(0.5, 0.0, f64::MAX).is_some());
    }

    #[test]
    fn quantiles_stay_within_the_stated_bound() {
        let data_sets: Vec<(&str, Vec<f64>)> = vec![
            ("1..=1000 ms", (1..=1000).map(f64::from).collect()),
            (
                "sub-millisecond",
                (1..=500).map(|i| f64::from(i) * 0.003).collect(),
            ),
            (
                "two clusters",
                (0..300)
                    .map(|i| {
                        if i % 3 == 0 {
                            2.0 + f64::from(i) * 0.001
                        } else {
                            450.0
                        }
                    })
                    .collect(),
            ),
            ("one value", vec![37.5]),
            ("wide", (0..200).map(|i| 0.2 * 1.07f64.powi(i)).collect()),
        ];
        for (name, mut values) in data_sets {
            values.sort_by(f64::total_cmp);
            let histogram = histogram_of(&values);
            let (min, max) = (values[0], values[values.len() - 1]);
            for quantile in [0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 1.0] {
                let exact = exact_quantile(&values, quantile);
                let estimate = histogram.quantile(quantile, min, max).unwrap_or(f64::NAN);
                let bound = if exact < LOWEST_MS {
                    LOWEST_MS
                } else {
                    exact * RELATIVE_ERROR
                };
                assert!(
                    (estimate - exact).abs() <= bound + 1e-9,
                    "{name}: q{quantile} estimated {estimate}, exact {exact}"
                );
            }
        }
    }

    #[test]
    fn merged_histograms_equal_the_histogram_of_all_values() {
        let first: Vec<f64> = (1..=100).map(f64::from).collect();
        let second: Vec<f64> = (50..=900).map(|i| f64::from(i) * 0.7).collect();
        let mut merged = histogram_of(&first);
        merged.merge(&histogram_of(&second));
        let all: Vec<f64> = first.iter().chain(&second).copied().collect();
        assert_eq!(merged, histogram_of(&all));
        assert_eq!(merged.total(), all.len() as u64);
    }

    #[test]
    fn merging_an_encoding_equals_merging_the_decoded_histogram() {
        let mut merged = histogram_of(&[1.0, 2.0, 300.0]);
        let mut by_bytes = merged.clone();
        let other = histogram_of(&[2.0, 5_000.0, 1e9]);
        merged.merge(&other);
        by_bytes.merge_encoded(&other.encode()).unwrap();
        assert_eq!(by_bytes, merged);
        assert!(by_bytes.merge_encoded(&[1, 200, 1]).is_err());
    }

    #[test]
    fn encoding_round_trips_and_is_sparse() {
        let histogram = histogram_of(&[0.01, 5.0, 5.0, 5.1, 1e7, 300.0]);
        let bytes = histogram.encode();
        assert!(bytes.len() < 16, "{} bytes", bytes.len());
        assert_eq!(LatencyHistogram::decode(&bytes), Ok(histogram));
        let mut big = LatencyHistogram::default();
        big.add_to_bucket(BUCKET_COUNT - 1, u64::MAX);
        assert_eq!(LatencyHistogram::decode(&big.encode()), Ok(big));
    }

    #[test]
    fn malformed_encodings_are_errors() {
        let cases: [(&[u8], HistogramDecodeError); 5] = [
            (&[], HistogramDecodeError::Version(None)),
            (&[9, 1, 1], HistogramDecodeError::Version(Some(9))),
            (&[1, 1], HistogramDecodeError::Malformed),
            (&[1, 0x80], HistogramDecodeError::Malformed),
            (&[1, 200, 1, 1], HistogramDecodeError::Bucket(200)),
        ];
        for (bytes, expected) in cases {
            assert_eq!(LatencyHistogram::decode(bytes), Err(expected), "{bytes:?}");
        }
    }
}
