//! The ecosystem's figures at one moment: each figure name with its value per service, its
//! aggregate per group and over the ecosystem (as the manifest's `aggregate` says), and the
//! claims that name a figure beside what is measured. Pure: built from the catalog and the
//! latest samples, by the API, `/metrics` and `iza metrics` alike.

use std::collections::HashMap;

use iza_catalog::Catalog;
use iza_catalog::model::{Aggregate, Format};
use iza_store::{FigureSample, Millis};
use serde::Serialize;

/// Every figure of the ecosystem, and the claims that name one.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// One entry per figure name, in the order first declared.
    pub figures: Vec<FigureSummary>,
    /// Claims with a `figure`: claimed beside measured.
    pub claims: Vec<ClaimSummary>,
}

/// One figure name across the ecosystem.
#[derive(Debug, Clone, Serialize)]
pub struct FigureSummary {
    /// Figure name (`arr`).
    pub name: String,
    /// Display name (the first service's `label`).
    pub label: String,
    /// Unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Display format.
    pub format: Format,
    /// How values combine.
    pub aggregate: Aggregate,
    /// The ecosystem's aggregate, when any service has a value.
    pub value: Option<f64>,
    /// The value for people.
    pub display: Option<String>,
    /// Per group with a value (services without a group are only in the ecosystem's).
    pub groups: Vec<Value>,
    /// Per service that declares it, with or without a value yet.
    pub services: Vec<Value>,
}

/// A value of a figure for one service or group.
#[derive(Debug, Clone, Serialize)]
pub struct Value {
    /// Service or group id.
    pub id: String,
    /// The value (`None`: not read yet).
    pub value: Option<f64>,
    /// The value for people.
    pub display: Option<String>,
    /// When it was read (for a group: the newest of its services).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Millis>,
    /// Why the last scrape failed, when it did (services only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A claim beside what is measured.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimSummary {
    /// The claim's label.
    pub label: String,
    /// The figure as claimed (`$1.4B+`).
    pub claimed: String,
    /// The figure's name.
    pub figure: String,
    /// The ecosystem's aggregate of it.
    pub measured: Option<f64>,
    /// The measured value for people.
    pub display: Option<String>,
}

impl Summary {
    /// The summary of the catalog's figures given the newest samples and the last scrape
    /// errors (by service and figure).
    pub fn build(
        catalog: &Catalog,
        latest: &[FigureSample],
        errors: &HashMap<(String, String), String>,
    ) -> Summary {
        let values: HashMap<(&str, &str), (f64, Millis)> = latest
            .iter()
            .map(|s| ((s.service.as_str(), s.figure.as_str()), (s.value, s.at)))
            .collect();
        let mut figures: Vec<FigureSummary> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for service in catalog.services.values() {
            for figure in &service.figures {
                let i = *index.entry(figure.name.as_str()).or_insert_with(|| {
                    figures.push(FigureSummary {
                        name: figure.name.clone(),
                        label: figure.label.clone(),
                        unit: figure.unit.clone(),
                        format: figure.format,
                        aggregate: figure.aggregate,
                        value: None,
                        display: None,
                        groups: Vec::new(),
                        services: Vec::new(),
                    });
                    figures.len() - 1
                });
                let read = values.get(&(service.id.as_str(), figure.name.as_str()));
                let (format, unit) = (figures[i].format, figures[i].unit.clone());
                figures[i].services.push(Value {
                    id: service.id.clone(),
                    value: read.map(|r| r.0),
                    display: read.map(|r| format.display(r.0, unit.as_deref())),
                    at: read.map(|r| r.1),
                    error: errors
                        .get(&(service.id.clone(), figure.name.clone()))
                        .cloned(),
                });
            }
        }
        for figure in &mut figures {
            let read = || {
                figure
                    .services
                    .iter()
                    .filter_map(|v| Some((v.value?, v.at?)))
            };
            figure.value = figure.aggregate.apply(read());
            figure.display = figure
                .value
                .map(|v| figure.format.display(v, figure.unit.as_deref()));
            for group in catalog.groups.keys() {
                let members: Vec<(f64, Millis)> = figure
                    .services
                    .iter()
                    .filter(|v| {
                        catalog.services.get(&v.id).and_then(|s| s.group.as_deref())
                            == Some(group.as_str())
                    })
                    .filter_map(|v| Some((v.value?, v.at?)))
                    .collect();
                if let Some(value) = figure.aggregate.apply(members.iter().copied()) {
                    figure.groups.push(Value {
                        id: group.clone(),
                        value: Some(value),
                        display: Some(figure.format.display(value, figure.unit.as_deref())),
                        at: members.iter().map(|m| m.1).max(),
                        error: None,
                    });
                }
            }
        }
        let claims = catalog
            .ecosystem
            .claims
            .iter()
            .filter_map(|claim| {
                let name = claim.figure.as_ref()?;
                let figure = figures.iter().find(|f| &f.name == name);
                Some(ClaimSummary {
                    label: claim.label.clone(),
                    claimed: claim.value.clone(),
                    figure: name.clone(),
                    measured: figure.and_then(|f| f.value),
                    display: figure.and_then(|f| f.display.clone()),
                })
            })
            .collect();
        Summary { figures, claims }
    }

    /// One figure by name.
    pub fn figure(&self, name: &str) -> Option<&FigureSummary> {
        self.figures.iter().find(|f| f.name == name)
    }
}
