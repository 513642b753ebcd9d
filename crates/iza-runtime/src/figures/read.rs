//! One scrape of one endpoint: fetch it once (with the figure's timeout) and read every figure
//! it carries, a Prometheus series (the sum of the samples the selector matches) or a number at
//! a JSON path (a string holding a number counts).

use std::time::Duration;

use iza_catalog::condition::PathStep;
use iza_catalog::model::{FigureSource, Selector};

use super::exposition;

/// Why a figure could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The request failed or answered with an error status.
    #[error("{0}")]
    Http(String),
    /// The exposition does not parse.
    #[error("{0}")]
    Exposition(#[from] exposition::ExpositionError),
    /// The body is not JSON.
    #[error("the body is not JSON: {0}")]
    Json(String),
    /// No sample matches the selector.
    #[error("no series matches `{0}`")]
    NoSeries(String),
    /// The path leads nowhere or to something that is not a number.
    #[error("`{0}` is not a number in the document")]
    NotANumber(String),
}

/// What an endpoint answered, parsed once for every figure read from it.
pub enum Document {
    /// A Prometheus exposition.
    Exposition(Vec<exposition::Sample>),
    /// A JSON document.
    Json(serde_json::Value),
}

/// Fetches `url` and parses it as the source's kind says.
pub async fn fetch(
    client: &reqwest::Client,
    source: &FigureSource,
    timeout: Duration,
) -> Result<Document, ReadError> {
    let url = source.url();
    let accept = match source {
        FigureSource::Prometheus { .. } => "text/plain;version=0.0.4;q=0.9,*/*;q=0.1",
        FigureSource::Json { .. } => "application/json",
    };
    let response = client
        .get(url)
        .header(reqwest::header::ACCEPT, accept)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| ReadError::Http(http_error(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(ReadError::Http(format!("`{url}` answered {status}")));
    }
    let body = response
        .text()
        .await
        .map_err(|e| ReadError::Http(http_error(&e)))?;
    match source {
        FigureSource::Prometheus { .. } => Ok(Document::Exposition(exposition::parse(&body)?)),
        FigureSource::Json { .. } => serde_json::from_str(&body)
            .map(Document::Json)
            .map_err(|e| ReadError::Json(e.to_string())),
    }
}

fn http_error(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    text
}

/// The figure's value in a document fetched for its source.
pub fn value(document: &Document, source: &FigureSource) -> Result<f64, ReadError> {
    match (document, source) {
        (Document::Exposition(samples), FigureSource::Prometheus { selector, .. }) => {
            select(samples, selector)
        }
        (
            Document::Json(json),
            FigureSource::Json {
                path, path_text, ..
            },
        ) => at_path(json, path).ok_or_else(|| ReadError::NotANumber(path_text.clone())),
        _ => Err(ReadError::Json(
            "the document is of another kind".to_owned(),
        )),
    }
}

/// The sum of the samples the selector matches.
pub fn select(samples: &[exposition::Sample], selector: &Selector) -> Result<f64, ReadError> {
    let mut found = None;
    for sample in samples
        .iter()
        .filter(|s| s.name == selector.name && selector.matches(|l| s.label(l)))
    {
        *found.get_or_insert(0.0) += sample.value;
    }
    found.ok_or_else(|| ReadError::NoSeries(selector.to_string()))
}

/// The number at a path of a JSON document.
pub fn at_path(json: &serde_json::Value, path: &[PathStep]) -> Option<f64> {
    let mut here = json;
    for step in path {
        here = match step {
            PathStep::Key(key) => here.get(key)?,
            PathStep::Index(index) => here.get(*index)?,
        };
    }
    match here {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok().filter(|v: &f64| v.is_finite()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_and_sums_matching_series() {
        let samples = exposition::parse(
            "arr{service=\"a\",plan=\"pro\"} 10\narr{service=\"a\",plan=\"free\"} 1\narr{service=\"b\"} 100\n",
        )
        .unwrap();
        let selector = |labels: &[(&str, bool, &str)]| Selector {
            name: "arr".to_owned(),
            labels: labels
                .iter()
                .map(|(n, e, v)| iza_catalog::model::LabelMatcher {
                    name: (*n).to_owned(),
                    equal: *e,
                    value: (*v).to_owned(),
                })
                .collect(),
        };
        assert_eq!(select(&samples, &selector(&[])), Ok(111.0));
        assert_eq!(
            select(&samples, &selector(&[("service", true, "a")])),
            Ok(11.0)
        );
        assert_eq!(
            select(
                &samples,
                &selector(&[("service", true, "a"), ("plan", false, "free")])
            ),
            Ok(10.0)
        );
        assert_eq!(
            select(&samples, &selector(&[("plan", true, "")])),
            Ok(100.0)
        );
        assert!(matches!(
            select(&samples, &selector(&[("service", true, "c")])),
            Err(ReadError::NoSeries(_))
        ));
    }

    #[test]
    fn reads_numbers_at_paths() {
        let json = serde_json::json!({"arr": 2.5e8, "plans": [{"mrr": "1200.5"}], "name": "x"});
        let key = |k: &str| PathStep::Key(k.to_owned());
        assert_eq!(at_path(&json, &[key("arr")]), Some(2.5e8));
        assert_eq!(
            at_path(&json, &[key("plans"), PathStep::Index(0), key("mrr")]),
            Some(1200.5)
        );
        assert_eq!(at_path(&json, &[key("name")]), None);
        assert_eq!(at_path(&json, &[key("missing")]), None);
        assert_eq!(at_path(&json, &[]), None);
    }
}
