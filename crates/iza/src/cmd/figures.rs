//! `iza metrics [PATH]`: the ecosystem's business figures (docs/metrics.md), asked over the API
//! of the running `iza serve` or `iza up` (`GET /api/v1/figures`), or read from the state
//! database when none runs: each figure over the ecosystem, per group and per service, then
//! the claims beside what is measured.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::Value;

use super::agents::{history, print_json};
use crate::cli::{FiguresArgs, TextOrJson};
use crate::table::{Align, render};

pub(crate) fn figures(args: &FiguresArgs) -> Result<ExitCode> {
    let manifest = &args.remote.manifest;
    let doc = history(&args.remote, "/api/v1/figures", |store| async move {
        use iza_store::Store as _;
        let latest = store.latest_figures().await?;
        let catalog = crate::manifest_input::catalog(manifest)
            .map_err(|e| iza_store::StoreError::Query(format!("{e:#}")))?
            .1;
        let summary = iza_runtime::figures::Summary::build(
            &catalog,
            &latest,
            &std::collections::HashMap::new(),
        );
        serde_json::to_value(&summary).map_err(|e| iza_store::StoreError::Query(e.to_string()))
    })?;
    if let TextOrJson::Json = args.format {
        print_json(&doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    super::print(&text(&doc))?;
    Ok(ExitCode::SUCCESS)
}

fn cell(value: &Value) -> String {
    value["display"]
        .as_str()
        .map_or_else(|| "-".to_owned(), str::to_owned)
}

/// The figures as tables for people.
pub(crate) fn text(doc: &Value) -> String {
    let figures = doc["figures"].as_array().cloned().unwrap_or_default();
    if figures.is_empty() {
        return "no service declares business figures (`metrics`; see docs/metrics.md)\n"
            .to_owned();
    }
    let mut rows = Vec::new();
    for figure in &figures {
        let name = figure["name"].as_str().unwrap_or("?").to_owned();
        let aggregate = figure["aggregate"].as_str().unwrap_or("sum");
        rows.push(vec![
            name.clone(),
            "ecosystem".to_owned(),
            aggregate.to_owned(),
            cell(figure),
            String::new(),
        ]);
        for group in figure["groups"].as_array().into_iter().flatten() {
            rows.push(vec![
                name.clone(),
                format!("group {}", group["id"].as_str().unwrap_or("?")),
                aggregate.to_owned(),
                cell(group),
                String::new(),
            ]);
        }
        for service in figure["services"].as_array().into_iter().flatten() {
            rows.push(vec![
                name.clone(),
                service["id"].as_str().unwrap_or("?").to_owned(),
                String::new(),
                cell(service),
                service["error"].as_str().unwrap_or("").to_owned(),
            ]);
        }
    }
    let mut out = render(
        &[
            ("FIGURE", Align::Left),
            ("SCOPE", Align::Left),
            ("AGG", Align::Left),
            ("VALUE", Align::Right),
            ("ERROR", Align::Left),
        ],
        &rows,
    );
    let claims = doc["claims"].as_array().cloned().unwrap_or_default();
    if !claims.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = claims
            .iter()
            .map(|c| {
                vec![
                    c["label"].as_str().unwrap_or("?").to_owned(),
                    c["claimed"].as_str().unwrap_or("?").to_owned(),
                    cell(c),
                ]
            })
            .collect();
        let _ = write!(
            out,
            "{}",
            render(
                &[
                    ("CLAIM", Align::Left),
                    ("CLAIMED", Align::Left),
                    ("MEASURED", Align::Right),
                ],
                &rows,
            )
        );
    }
    out
}
