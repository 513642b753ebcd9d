//! Imports a docker-compose file (the Compose specification, and the older `version: "2"`
//! and `"3"` files) as a manifest: one group for the file, one service per compose service,
//! and one tier-2 agent, `compose-operator`, watching the group.
//!
//! The YAML is read with anchors, aliases and merge keys (`<<: *default`) expanded; string
//! values of `name` and `services` are interpolated from the file alone (`interpolate`);
//! each service is mapped by `service`, its ports by `ports`, its health check by
//! `healthcheck` and its kind from its image by `image`. Everything seen but not
//! mapped becomes one note, so nothing is dropped silently. `docs/import-compose.md` is the
//! user's guide to the mapping.

mod healthcheck;
mod image;
mod interpolate;
mod ports;
mod service;

use std::collections::HashSet;

use indexmap::{IndexMap, IndexSet};
use serde_json::{Map, Value};

use self::interpolate::Unresolved;
use super::{ImportError, Imported, slug};

/// The ecosystem and group name when the file has no top-level `name`.
const DEFAULT_NAME: &str = "compose";
/// The id of the agent that watches the imported group.
const OPERATOR_ID: &str = "compose-operator";
/// Values longer than this are shortened in notes.
const NOTE_VALUE_CHARS: usize = 60;

/// Imports a docker-compose file. Fails only when the text is not a compose file at all:
/// not YAML, not a mapping, or without `services`.
pub fn import(text: &str) -> Result<Imported, ImportError> {
    let document = read_yaml(text)?;
    let Value::Object(mut top) = document else {
        return Err(ImportError::Unreadable(format!(
            "the file is {}, not a mapping with `services`, so it is not a compose file",
            describe(&document)
        )));
    };
    let services = match top.shift_remove("services") {
        Some(Value::Object(services)) => services,
        Some(Value::Null) => Map::new(),
        Some(other) => {
            return Err(ImportError::Unreadable(format!(
                "`services` is {}, not a mapping of service names to definitions",
                describe(&other)
            )));
        }
        None => {
            return Err(ImportError::Unreadable(
                "the file has no `services`, so it is not a compose file".to_owned(),
            ));
        }
    };

    let mut notes = Notes::default();
    let mut variables = Variables::default();
    let name = project_name(&top, &mut variables, &mut notes);
    note_top_level(&top, &mut notes);

    let services: Vec<(String, Value)> = services
        .into_iter()
        .map(|(id, mut definition)| {
            variables.interpolate_service(&id, &mut definition);
            (id, definition)
        })
        .collect();
    let ids: HashSet<&str> = services.iter().map(|(id, _)| id.as_str()).collect();

    let mut manifest = toml::Table::new();
    manifest.insert("version".to_owned(), toml::Value::Integer(1));
    let mut ecosystem = toml::Table::new();
    ecosystem.insert("name".to_owned(), toml::Value::String(name.clone()));
    manifest.insert("ecosystem".to_owned(), toml::Value::Table(ecosystem));

    if !services.is_empty() {
        let group = group_id(&name, &ids);
        let mut group_table = toml::Table::new();
        group_table.insert("name".to_owned(), toml::Value::String(name.clone()));
        group_table.insert(
            "description".to_owned(),
            toml::Value::String("Every service of the compose file.".to_owned()),
        );
        manifest.insert(
            "groups".to_owned(),
            toml::Value::Table(toml::Table::from_iter([(
                group.clone(),
                toml::Value::Table(group_table),
            )])),
        );

        let cx = service::Context {
            group: &group,
            services: &ids,
        };
        let mut tables = toml::Table::new();
        let mut checked = Vec::new();
        for (id, definition) in &services {
            let table = service::service(id, definition, &cx, &mut notes);
            if table.contains_key("check") {
                checked.push(format!("`{id}`"));
            }
            tables.insert(id.clone(), toml::Value::Table(table));
        }
        if !checked.is_empty() {
            notes.add(format!(
                "the healthchecks of {} became `exec` checks, which `iza` runs on this machine while compose runs them inside the container; rewrite those whose program the host lacks (as `http`, `tcp`, `postgres`, ... checks)",
                checked.join(", ")
            ));
        }
        manifest.insert("services".to_owned(), toml::Value::Table(tables));
        manifest.insert("agents".to_owned(), operator(&group));
    }

    variables.note(&mut notes);
    Ok(Imported {
        manifest,
        notes: notes.into_vec(),
    })
}

/// Parses the text as one YAML document, merge keys expanded; `yes`/`on` stay strings and
/// leading zeros are kept, as compose reads them.
fn read_yaml(text: &str) -> Result<Value, ImportError> {
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    serde_saphyr::from_str_with_options::<Value>(text, options)
        .map_err(|e| ImportError::Unreadable(format!("the file is not YAML: {e}")))
}

/// The top-level `name`, interpolated, or the default.
fn project_name(top: &Map<String, Value>, variables: &mut Variables, notes: &mut Notes) -> String {
    match top.get("name") {
        Some(Value::String(text)) => {
            let name = variables.interpolate(text, "name");
            let name = name.trim();
            if name.is_empty() {
                DEFAULT_NAME.to_owned()
            } else {
                name.to_owned()
            }
        }
        None | Some(Value::Null) => DEFAULT_NAME.to_owned(),
        Some(other) => {
            notes.add(format!(
                "top-level `name` is {}, not a name; the ecosystem is named `{DEFAULT_NAME}`",
                describe(other)
            ));
            DEFAULT_NAME.to_owned()
        }
    }
}

/// Notes for the top-level keys other than `name` and `services`; `x-` extension fields
/// are the usual holders of anchors and are left without a note.
fn note_top_level(top: &Map<String, Value>, notes: &mut Notes) {
    for (key, value) in top {
        match key.as_str() {
            "name" => {}
            "version" => notes.add(format!(
                "top-level `version` ({}) is obsolete in the Compose specification; not mapped",
                describe(value)
            )),
            "networks" => note_networks(value, notes),
            key if key.starts_with("x-") => {}
            "volumes" | "secrets" | "configs" | "include" | "models" => {
                let names = match value {
                    Value::Object(map) if map.is_empty() => continue,
                    Value::Object(map) => format!(
                        " ({})",
                        map.keys()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Value::Null => continue,
                    _ => String::new(),
                };
                notes.add(format!("top-level `{key}`{names} is not mapped"));
            }
            key => notes.add(format!(
                "top-level `{key}` is not part of the Compose specification; not mapped"
            )),
        }
    }
}

/// Top-level `networks`: their names become the services' tags; their settings are noted.
fn note_networks(value: &Value, notes: &mut Notes) {
    match value {
        Value::Object(networks) => {
            for (name, settings) in networks {
                match settings {
                    Value::Object(settings) if !settings.is_empty() => notes.add(format!(
                        "network `{name}`: {} not mapped; services on it are tagged `network:{name}`",
                        settings
                            .keys()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                            + if settings.len() == 1 { " is" } else { " are" }
                    )),
                    Value::Object(_) | Value::Null => {}
                    other => notes.add(format!(
                        "network `{name}` is {}, not a mapping; not mapped",
                        describe(other)
                    )),
                }
            }
        }
        Value::Null => {}
        other => notes.add(format!(
            "top-level `networks` is {}, not a mapping; not mapped",
            describe(other)
        )),
    }
}

/// The group id: the slug of the name, made distinct from every service id (services and
/// groups share one namespace).
fn group_id(name: &str, services: &HashSet<&str>) -> String {
    let base = match slug(name) {
        s if s.is_empty() => DEFAULT_NAME.to_owned(),
        s => s,
    };
    std::iter::once(base.clone())
        .chain(std::iter::once(format!("{base}-stack")))
        .chain((2..).map(|n| format!("{base}-stack-{n}")))
        .find(|id| !services.contains(id.as_str()))
        .unwrap_or(base)
}

/// `[agents.compose-operator]`: a tier-2 agent watching the group, so no service is unwatched.
fn operator(group: &str) -> toml::Value {
    let mut agent = toml::Table::new();
    agent.insert(
        "name".to_owned(),
        toml::Value::String("Compose operator".to_owned()),
    );
    agent.insert("tier".to_owned(), toml::Value::Integer(2));
    agent.insert(
        "role".to_owned(),
        toml::Value::String("Watches every service imported from the compose file.".to_owned()),
    );
    agent.insert(
        "groups".to_owned(),
        toml::Value::Array(vec![toml::Value::String(group.to_owned())]),
    );
    toml::Value::Table(toml::Table::from_iter([(
        OPERATOR_ID.to_owned(),
        toml::Value::Table(agent),
    )]))
}

/// Notes in the order they were first added, each once.
#[derive(Debug, Default)]
pub(crate) struct Notes(IndexSet<String>);

impl Notes {
    /// Adds a note unless the same one is already there.
    pub(crate) fn add(&mut self, note: String) {
        self.0.insert(note);
    }

    /// How many notes there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    fn into_vec(self) -> Vec<String> {
        self.0.into_iter().collect()
    }
}

/// A value as a note shows it: scalars in backticks (shortened), collections by shape.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "empty".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
        Value::String(text) => {
            let mut shown: String = text.chars().take(NOTE_VALUE_CHARS).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            format!("`{shown}`")
        }
        other => format!("`{other}`"),
    }
}

/// Variables referenced by the file and where, for one note each.
#[derive(Debug, Default)]
struct Variables {
    /// Each unresolved variable with the places (`web.ports`) it is used.
    unresolved: IndexMap<String, VariableUse>,
    /// Places holding text that is not valid interpolation syntax.
    invalid: IndexSet<String>,
}

#[derive(Debug, Default)]
struct VariableUse {
    places: IndexSet<String>,
    required: Option<String>,
}

impl Variables {
    /// Interpolates one string found at `place`.
    fn interpolate(&mut self, text: &str, place: &str) -> String {
        let mut found = Vec::new();
        let out = interpolate::interpolate(text, &mut found);
        for unresolved in found {
            let (variable, required) = match unresolved {
                Unresolved::NoDefault { variable } | Unresolved::Alternative { variable } => {
                    (variable, None)
                }
                Unresolved::Required { variable, message } => (variable, Some(message)),
                Unresolved::Invalid => {
                    self.invalid.insert(place.to_owned());
                    continue;
                }
            };
            let entry = self.unresolved.entry(variable).or_default();
            entry.places.insert(place.to_owned());
            if entry.required.is_none() {
                entry.required = required;
            }
        }
        out
    }

    /// Interpolates every string value of a service definition (not the keys), in place.
    fn interpolate_service(&mut self, id: &str, definition: &mut Value) {
        match definition {
            Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    self.interpolate_tree(value, &format!("{id}.{key}"));
                }
            }
            other => self.interpolate_tree(other, id),
        }
    }

    fn interpolate_tree(&mut self, value: &mut Value, place: &str) {
        match value {
            Value::String(text) => {
                if text.contains('$') {
                    *text = self.interpolate(text, place);
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.interpolate_tree(item, place);
                }
            }
            Value::Object(map) => {
                for item in map.values_mut() {
                    self.interpolate_tree(item, place);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// One note per unresolved variable and per place with invalid syntax.
    fn note(self, notes: &mut Notes) {
        for (variable, usage) in self.unresolved {
            let places = usage
                .places
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let required = usage
                .required
                .map(|m| {
                    if m.trim().is_empty() {
                        "; compose would refuse to start without it".to_owned()
                    } else {
                        format!("; compose would refuse to start without it (`{m}`)")
                    }
                })
                .unwrap_or_default();
            notes.add(format!(
                "variable `{variable}` (in {places}) has no default in the file; it was read as unset, so empty, since the importer does not read the environment{required}"
            ));
        }
        for place in self.invalid {
            notes.add(format!(
                "`{place}` has a `$` that starts no variable reference (or an unclosed `${{`); kept as written (write `$$` for a literal `$`)"
            ));
        }
    }
}
