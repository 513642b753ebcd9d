//! The validated business figures of a service (`metrics` in the manifest): where each is read,
//! how it is shown and how it aggregates. Built by `validate/figures.rs`; scraped by the
//! runtime (`iza-runtime/src/figures/`), stored as time series and shown by the interfaces
//! (docs/metrics.md).

use std::time::Duration;

use serde::Serialize;

use crate::condition::PathStep;

/// One named figure of a service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// Name, unique within the service and shared by the same figure of other services
    /// (`arr`); aggregates combine figures of one name.
    pub name: String,
    /// Display name.
    pub label: String,
    /// Where it is read.
    pub source: FigureSource,
    /// Unit, free text (`USD`, `customers`).
    pub unit: Option<String>,
    /// How it is shown.
    pub format: Format,
    /// How values combine across a group and the ecosystem.
    pub aggregate: Aggregate,
    /// Scrape interval.
    #[serde(serialize_with = "duration_text")]
    pub every: Duration,
    /// Scrape timeout.
    #[serde(serialize_with = "duration_text")]
    pub timeout: Duration,
}

fn duration_text<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

/// Where a figure is read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum FigureSource {
    /// A Prometheus text exposition; the sum of the samples the selector matches.
    Prometheus {
        /// URL of the exposition.
        url: String,
        /// Which series.
        selector: Selector,
    },
    /// A JSON document and the path of the number in it.
    Json {
        /// URL of the document.
        url: String,
        /// The path as written (`$.arr`).
        path_text: String,
        /// The path, parsed.
        path: Vec<PathStep>,
    },
}

impl FigureSource {
    /// The URL scraped.
    pub fn url(&self) -> &str {
        match self {
            FigureSource::Prometheus { url, .. } | FigureSource::Json { url, .. } => url,
        }
    }
}

/// A series selector: a metric name and label matchers that must all hold (`name{a="b"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selector {
    /// Metric name.
    pub name: String,
    /// Label matchers, in order.
    pub labels: Vec<LabelMatcher>,
}

/// One label matcher of a selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelMatcher {
    /// Label name.
    pub name: String,
    /// `=` (true) or `!=` (false).
    pub equal: bool,
    /// Value compared with.
    pub value: String,
}

impl Selector {
    /// Whether a sample's labels satisfy every matcher (a missing label reads as empty, as
    /// in PromQL).
    pub fn matches<'a>(&self, labels: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.labels.iter().all(|m| {
            let value = labels(&m.name).unwrap_or("");
            (value == m.value) == m.equal
        })
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if !self.labels.is_empty() {
            f.write_str("{")?;
            for (i, m) in self.labels.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                let op = if m.equal { "=" } else { "!=" };
                write!(f, "{}{op}{:?}", m.name, m.value)?;
            }
            f.write_str("}")?;
        }
        Ok(())
    }
}

/// How a figure is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Money: `$1.4B` for USD, `1.4B EUR` for other units.
    Currency,
    /// A percentage: `97.5%`.
    Percent,
    /// A whole count: `382`.
    Count,
    /// A plain number (the default).
    #[default]
    Number,
}

impl Format {
    /// Every format with its manifest name.
    pub const NAMES: &'static [(&'static str, Format)] = &[
        ("currency", Format::Currency),
        ("percent", Format::Percent),
        ("count", Format::Count),
        ("number", Format::Number),
    ];

    /// The manifest name.
    pub fn as_str(self) -> &'static str {
        Format::NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("number", |(n, _)| n)
    }

    /// The value for people: `$1.40B`, `97.5%`, `382`, `1,234.5`.
    pub fn display(self, value: f64, unit: Option<&str>) -> String {
        if !value.is_finite() {
            return value.to_string();
        }
        match self {
            Format::Currency => {
                let symbol = match unit.map(str::to_ascii_uppercase).as_deref() {
                    None | Some("USD") | Some("$") => Some("$"),
                    Some("EUR") | Some("€") => Some("€"),
                    Some("GBP") | Some("£") => Some("£"),
                    _ => None,
                };
                let short = short(value);
                match (symbol, unit) {
                    (Some(symbol), _) => {
                        let sign = if value < 0.0 { "-" } else { "" };
                        format!("{sign}{symbol}{}", short.trim_start_matches('-'))
                    }
                    (None, Some(unit)) => format!("{short} {unit}"),
                    (None, None) => short,
                }
            }
            Format::Percent => format!("{}%", trim(format!("{value:.1}"))),
            Format::Count => with_unit(group_thousands(value.round()), unit),
            Format::Number => with_unit(
                if value.fract() == 0.0 {
                    group_thousands(value)
                } else {
                    trim(format!("{value:.2}"))
                },
                unit,
            ),
        }
    }
}

fn with_unit(text: String, unit: Option<&str>) -> String {
    match unit {
        Some(unit) if !unit.is_empty() => format!("{text} {unit}"),
        _ => text,
    }
}

/// `1400000000` → `1.4B`, `200000000` → `200M`, `950` → `950`.
fn short(value: f64) -> String {
    let abs = value.abs();
    let (scaled, suffix) = if abs >= 1e12 {
        (value / 1e12, "T")
    } else if abs >= 1e9 {
        (value / 1e9, "B")
    } else if abs >= 1e6 {
        (value / 1e6, "M")
    } else if abs >= 1e3 {
        (value / 1e3, "K")
    } else {
        (value, "")
    };
    format!("{}{suffix}", trim(format!("{scaled:.2}")))
}

fn trim(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

fn group_thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 { format!("-{out}") } else { out }
}

/// How values of one figure combine across services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregate {
    /// The total (the default).
    #[default]
    Sum,
    /// The mean.
    Avg,
    /// The smallest.
    Min,
    /// The largest.
    Max,
    /// The most recently scraped.
    Last,
}

impl Aggregate {
    /// Every aggregate with its manifest name.
    pub const NAMES: &'static [(&'static str, Aggregate)] = &[
        ("sum", Aggregate::Sum),
        ("avg", Aggregate::Avg),
        ("min", Aggregate::Min),
        ("max", Aggregate::Max),
        ("last", Aggregate::Last),
    ];

    /// The manifest name.
    pub fn as_str(self) -> &'static str {
        Aggregate::NAMES
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("sum", |(n, _)| n)
    }

    /// Combines values given with the time each was read (any order); `None` when empty.
    pub fn apply(self, values: impl IntoIterator<Item = (f64, i64)>) -> Option<f64> {
        let mut count = 0usize;
        let mut acc: Option<f64> = None;
        let mut last: Option<(i64, f64)> = None;
        for (value, at) in values {
            count += 1;
            acc = Some(match (self, acc) {
                (_, None) => value,
                (Aggregate::Sum | Aggregate::Avg, Some(a)) => a + value,
                (Aggregate::Min, Some(a)) => a.min(value),
                (Aggregate::Max, Some(a)) => a.max(value),
                (Aggregate::Last, Some(a)) => a,
            });
            if last.is_none_or(|(t, _)| at >= t) {
                last = Some((at, value));
            }
        }
        match self {
            Aggregate::Avg => acc.map(|a| a / count as f64),
            Aggregate::Last => last.map(|(_, v)| v),
            _ => acc,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_for_people() {
        assert_eq!(Format::Currency.display(1.4e9, Some("USD")), "$1.4B");
        assert_eq!(Format::Currency.display(200_000_000.0, None), "$200M");
        assert_eq!(Format::Currency.display(1234.0, Some("CHF")), "1.23K CHF");
        assert_eq!(Format::Percent.display(97.456, None), "97.5%");
        assert_eq!(
            Format::Count.display(1_234_567.0, Some("customers")),
            "1,234,567 customers"
        );
        assert_eq!(Format::Number.display(-1000.0, None), "-1,000");
        assert_eq!(Format::Number.display(0.126, None), "0.13");
    }

    #[test]
    fn aggregates() {
        let values = [(3.0, 10), (1.0, 30), (2.0, 20)];
        assert_eq!(Aggregate::Sum.apply(values), Some(6.0));
        assert_eq!(Aggregate::Avg.apply(values), Some(2.0));
        assert_eq!(Aggregate::Min.apply(values), Some(1.0));
        assert_eq!(Aggregate::Max.apply(values), Some(3.0));
        assert_eq!(Aggregate::Last.apply(values), Some(1.0));
        assert_eq!(Aggregate::Sum.apply([]), None);
    }
}
