//! Business figures in the manifest (docs/metrics.md): `metrics` of a service read from a
//! Prometheus exposition or a JSON path, with format and aggregate; every key with its default,
//! each mistake reported with its code at its value with a hint, the JSON Schema in agreement
//! with the parser, claims that name a figure, and URLs redacted.

use std::time::Duration;

use iza_catalog::model::{Aggregate, FigureSource, Format};
use iza_catalog::redact::Redact as _;
use iza_catalog::{Catalog, SourceFile, Syntax};

const BASE: &str = r#"
version = 1
[ecosystem]
name = "e"
claims = [{ label = "Ecosystem value", value = "$1.4B+", figure = "arr" }]
[groups.biz]
[services.aiboss]
group = "biz"
[services.aiboss.metrics.arr]
label = "ARR"
prometheus = "http://127.0.0.1:8100/metrics"
series = 'business_arr_dollars{plan!="free"}'
labels = { service = "aiboss" }
unit = "USD"
format = "currency"
aggregate = "sum"
every = "10s"
timeout = "2s"
[services.aiboss.metrics.customers]
json = { url = "http://127.0.0.1:8100/figures.json", path = "$.customers[0].count" }
format = "count"
"#;

fn check(text: &str) -> iza_catalog::Checked {
    iza_catalog::check(&SourceFile::new("x.toml", text.to_owned(), Syntax::Toml))
}

fn compile(text: &str) -> Catalog {
    let checked = check(text);
    let errors: Vec<_> = checked.errors().map(|d| d.message.clone()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    checked.catalog.expect("a catalog")
}

#[test]
fn every_key_is_read_with_its_default() {
    let catalog = compile(BASE);
    let figures = &catalog.services["aiboss"].figures;
    assert_eq!(figures.len(), 2);
    let arr = &figures[0];
    assert_eq!((arr.name.as_str(), arr.label.as_str()), ("arr", "ARR"));
    assert_eq!(arr.format, Format::Currency);
    assert_eq!(arr.aggregate, Aggregate::Sum);
    assert_eq!(arr.every, Duration::from_secs(10));
    assert_eq!(arr.timeout, Duration::from_secs(2));
    assert_eq!(arr.unit.as_deref(), Some("USD"));
    let FigureSource::Prometheus { url, selector } = &arr.source else {
        panic!("{:?}", arr.source)
    };
    assert_eq!(url, "http://127.0.0.1:8100/metrics");
    assert_eq!(
        selector.to_string(),
        r#"business_arr_dollars{plan!="free",service="aiboss"}"#
    );
    let customers = &figures[1];
    assert_eq!(customers.label, "customers");
    assert_eq!(customers.format, Format::Count);
    assert_eq!(customers.aggregate, Aggregate::Sum);
    assert_eq!(customers.every, Duration::from_secs(30));
    assert_eq!(customers.timeout, Duration::from_secs(5));
    let FigureSource::Json {
        path_text, path, ..
    } = &customers.source
    else {
        panic!("{:?}", customers.source)
    };
    assert_eq!(path_text, "$.customers[0].count");
    assert_eq!(path.len(), 3);
    assert_eq!(catalog.ecosystem.claims[0].figure.as_deref(), Some("arr"));
}

#[test]
fn a_prometheus_figure_reads_its_own_name_by_default() {
    let catalog = compile(
        "version = 1\n[services.a.metrics.revenue_total]\nprometheus = \"http://127.0.0.1:1/metrics\"\n",
    );
    let FigureSource::Prometheus { selector, .. } = &catalog.services["a"].figures[0].source else {
        panic!()
    };
    assert_eq!(selector.to_string(), "revenue_total");
}

#[test]
fn yaml_reads_the_same() {
    let yaml = r#"
version: 1
services:
  aiboss:
    metrics:
      arr:
        prometheus: http://127.0.0.1:8100/metrics
        format: currency
        aggregate: max
"#;
    let checked = iza_catalog::check(&SourceFile::new("x.yaml", yaml.to_owned(), Syntax::Yaml));
    let catalog = checked.catalog.expect("a catalog");
    let arr = &catalog.services["aiboss"].figures[0];
    assert_eq!(arr.aggregate, Aggregate::Max);
    assert_eq!(arr.format, Format::Currency);
}

#[test]
fn each_mistake_is_reported_with_its_code_at_its_value() {
    let head = "version = 1\n[services.a]\n";
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "no source",
            "[services.a.metrics.x]\nunit = \"USD\"\n",
            "invalid-figure",
            "[services.a.metrics.x]",
        ),
        (
            "both sources",
            "[services.a.metrics.x]\nprometheus = \"http://h/m\"\njson = { url = \"http://h/j\", path = \"$.x\" }\n",
            "invalid-figure",
            "{ url = \"http://h/j\", path = \"$.x\" }",
        ),
        (
            "not http",
            "[services.a.metrics.x]\nprometheus = \"ftp://h/m\"\n",
            "invalid-figure",
            "\"ftp://h/m\"",
        ),
        (
            "bad selector",
            "[services.a.metrics.x]\nprometheus = \"http://h/m\"\nseries = \"up{job=api}\"\n",
            "invalid-figure",
            "\"up{job=api}\"",
        ),
        (
            "bad path",
            "[services.a.metrics.x]\njson = { url = \"http://h/j\", path = \"arr\" }\n",
            "invalid-figure",
            "\"arr\"",
        ),
        (
            "series with json",
            "[services.a.metrics.x]\njson = { url = \"http://h/j\", path = \"$.a\" }\nseries = \"a\"\n",
            "invalid-figure",
            "{ url = \"http://h/j\", path = \"$.a\" }",
        ),
        (
            "bad format",
            "[services.a.metrics.x]\nprometheus = \"http://h/m\"\nformat = \"money\"\n",
            "invalid-figure",
            "\"money\"",
        ),
        (
            "bad aggregate",
            "[services.a.metrics.x]\nprometheus = \"http://h/m\"\naggregate = \"mean\"\n",
            "invalid-figure",
            "\"mean\"",
        ),
        (
            "every too short",
            "[services.a.metrics.x]\nprometheus = \"http://h/m\"\nevery = \"100ms\"\n",
            "invalid-figure",
            "\"100ms\"",
        ),
        (
            "bad figure name",
            "[services.a.metrics.\"a-b\"]\nprometheus = \"http://h/m\"\n",
            "invalid-figure",
            "\"a-b\"",
        ),
        (
            "two aggregates",
            "[services.a.metrics.x]\nprometheus = \"http://h/m\"\n[services.b.metrics.x]\nprometheus = \"http://h/m\"\naggregate = \"max\"\n",
            "invalid-figure",
            "\"max\"",
        ),
        (
            "claim of an unknown figure",
            "[services.a.metrics.arr]\nprometheus = \"http://h/m\"\n[ecosystem]\nclaims = [{ label = \"v\", value = \"1\", figure = \"ar\" }]\n",
            "unknown-reference",
            "\"ar\"",
        ),
    ];
    for (what, case, code, needle) in cases {
        let text = format!("{head}{case}");
        let checked = check(&text);
        let found = checked
            .diagnostics
            .iter()
            .find(|d| d.code.as_str() == *code)
            .unwrap_or_else(|| {
                panic!(
                    "{what}: no `{code}` in {:?}",
                    checked
                        .diagnostics
                        .iter()
                        .map(|d| (d.code.as_str(), d.message.as_str()))
                        .collect::<Vec<_>>()
                )
            });
        let span = found
            .span
            .clone()
            .unwrap_or_else(|| panic!("{what}: no position"));
        assert!(
            text[span.clone()].contains(needle.trim_end()),
            "{what}: points at {:?}: {}",
            &text[span],
            found.message
        );
        assert!(span.start >= head.len(), "{what}: points into the case");
        assert!(!found.hints.is_empty(), "{what}: a hint says what to do");
        assert!(checked.catalog.is_none(), "{what}");
    }
}

#[test]
fn the_schema_knows_every_figure_key() {
    let schema = iza_catalog::schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let cases = [
        (BASE.to_owned(), true),
        (
            "version = 1\n[services.a.metrics.x]\nprometheus = \"http://h/m\"\nscale = 2\n"
                .to_owned(),
            false,
        ),
        (
            "version = 1\n[services.a.metrics.x]\njson = { url = \"http://h/m\" }\n".to_owned(),
            false,
        ),
    ];
    for (text, valid) in cases {
        let json: serde_json::Value = toml::from_str(&text).unwrap();
        assert_eq!(validator.is_valid(&json), valid, "{text}");
        let parsed = iza_catalog::parse_raw(&SourceFile::new("x.toml", text.clone(), Syntax::Toml));
        assert_eq!(parsed.is_ok(), valid, "the parser agrees on {text}");
    }
}

#[test]
fn figure_urls_are_redacted() {
    let catalog = compile(
        "version = 1\n[services.a.metrics.x]\nprometheus = \"http://user:hunter2@127.0.0.1:1/metrics?token=hunter2\"\n",
    );
    let shown = serde_json::to_string(&catalog.redacted()).unwrap();
    assert!(!shown.contains("hunter2"), "{shown}");
}
