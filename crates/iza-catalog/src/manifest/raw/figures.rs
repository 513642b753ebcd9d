//! The wire model of business figures: `[services.<id>.metrics.<name>]`, a named number read
//! from the service itself (a Prometheus exposition endpoint or a JSON endpoint), with its unit,
//! display format and how it aggregates across a group and the ecosystem. Shape only;
//! `validate/figures.rs` checks what the values mean (docs/metrics.md).

use schemars::JsonSchema;
use serde::Deserialize;

use crate::manifest::spanned::Spanned;

/// One business figure of a service: exactly one of `prometheus` or `json` says where it is read.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFigure {
    /// Display name (`Annual recurring revenue`); the figure's name by default.
    pub label: Option<String>,
    /// URL of a Prometheus text exposition (`http://127.0.0.1:8100/metrics`).
    pub prometheus: Option<Spanned<String>>,
    /// With `prometheus`: the series to read, a metric name with optional label matchers
    /// (`business_arr_dollars{plan="pro"}`); the figure's name by default. When several series
    /// match, their values are added.
    pub series: Option<Spanned<String>>,
    /// With `prometheus`: more label matchers (`{ service = "aiboss" }`), ANDed with `series`.
    pub labels: Option<Spanned<indexmap::IndexMap<String, String>>>,
    /// A JSON endpoint and the path of the number in it: `{ url = "...", path = "$.arr" }`.
    pub json: Option<Spanned<RawJsonFigure>>,
    /// Unit of the value (`USD`, `EUR`, `customers`, `%`); free text, shown after the value
    /// (currencies before it).
    pub unit: Option<String>,
    /// How the value is shown: `currency`, `percent`, `count` or `number` (the default).
    pub format: Option<Spanned<String>>,
    /// How values of this figure combine across a group and the ecosystem: `sum` (the
    /// default), `avg`, `min`, `max` or `last`.
    pub aggregate: Option<Spanned<String>>,
    /// How often it is scraped (`30s` by default; at least `1s`).
    pub every: Option<Spanned<String>>,
    /// How long one scrape may take (`5s` by default).
    pub timeout: Option<Spanned<String>>,
}

/// Where a figure is in a JSON document.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJsonFigure {
    /// URL answering with JSON (`http://127.0.0.1:8100/figures.json`).
    pub url: Spanned<String>,
    /// Path of the number: `$` then `.key` and `[index]` steps (`$.arr`, `$.plans[0].mrr`). A
    /// string holding a number is read as that number.
    pub path: Spanned<String>,
}
