//! The types of business figures as every [`Store`](crate::Store) implementation keeps them
//! (docs/metrics.md): one sample per scrape of one figure of one service, and hourly rollups
//! (count, sum, min, max, last) folded in the same transaction as the samples, so a history of
//! months stays small once raw samples are pruned.

use serde::{Deserialize, Serialize};

use crate::Millis;

/// One hour, the width of a figure rollup.
pub const FIGURE_HOUR: Millis = 3_600_000;

/// The most points one [`Store::figure_series`](crate::Store::figure_series) call returns.
pub const MAX_FIGURE_POINTS: usize = 10_000;

/// One scraped value of one figure of one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureSample {
    /// Service id.
    pub service: String,
    /// Figure name.
    pub figure: String,
    /// When it was read.
    pub at: Millis,
    /// The value.
    pub value: f64,
}

/// Which points a series query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FigureResolution {
    /// Every stored sample (pruned after the raw retention).
    Raw,
    /// One point per hour.
    Hour,
}

/// A query for one figure's history.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureQuery {
    /// Service id.
    pub service: String,
    /// Figure name.
    pub figure: String,
    /// Points at or after this time (for hours: hours that end after it).
    pub since: Millis,
    /// Raw samples or hourly rollups.
    pub resolution: FigureResolution,
    /// At most this many points, the newest ones (capped at [`MAX_FIGURE_POINTS`]).
    pub limit: usize,
}

/// One point of a figure's history, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigurePoint {
    /// The sample's time, or the hour's start.
    pub at: Millis,
    /// Samples in the point (1 for raw).
    pub count: i64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean.
    pub avg: f64,
    /// The newest value.
    pub last: f64,
}
