//! Maps one compose service to a `[services.<id>]` table: name, image and kind, published
//! ports, environment, dependencies, networks, labels and health check. Every other key,
//! and every value that does not fit, becomes a note naming the service and the key.

use std::collections::HashSet;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::{Notes, describe, healthcheck, image, ports};
use crate::manifest::raw::RawPort;

/// The `depends_on` conditions compose knows, and the manifest's name for each.
const CONDITIONS: &[(&str, &str)] = &[
    ("service_started", "started"),
    ("service_healthy", "healthy"),
    ("service_completed_successfully", "completed"),
];

/// What a service table needs to know about the rest of the file.
pub(super) struct Context<'a> {
    /// The id of the group every service joins.
    pub(super) group: &'a str,
    /// Ids of every service in the file, for `depends_on`.
    pub(super) services: &'a HashSet<&'a str>,
    /// Ids of the services that their profiles left out.
    pub(super) excluded: &'a HashSet<String>,
    /// Places (`web.image`) that referenced a variable without a value.
    pub(super) unset_places: &'a HashSet<String>,
}

/// The grouped note of `environment` entries without a value.
const FROM_SHELL: &str =
    "`environment` entries without a value take it from the shell in compose; not mapped";
/// The grouped note of `command`s and `entrypoint`s.
const CONTAINER_COMMAND: &str = "`command` and `entrypoint` are what the container runs, not a command `iza up` supervises; not mapped";
/// The grouped note of optional dependencies.
const OPTIONAL_DEPENDENCIES: &str = "optional dependencies (`depends_on` with `required: false`) are not dependencies in the manifest; they are kept in `metadata.optional_depends_on`";
/// The grouped note of dependencies on services their profiles left out.
const EXCLUDED_DEPENDENCIES: &str = "dependencies on services their profiles left out were dropped (compose skips an optional one and refuses a required one)";

/// The manifest table for the compose service `id`.
pub(super) fn service(
    id: &str,
    definition: &Value,
    cx: &Context<'_>,
    notes: &mut Notes,
) -> toml::Table {
    let empty = Map::new();
    let definition = match definition {
        Value::Object(map) => map,
        Value::Null => &empty,
        other => {
            notes.add(format!(
                "service `{id}` is {}, not a mapping; only its name is mapped",
                describe(other)
            ));
            &empty
        }
    };
    let mut table = toml::Table::new();
    if let Some(name) = text_of(id, "container_name", definition, notes) {
        table.insert("name".to_owned(), toml::Value::String(name));
    }
    table.insert("group".to_owned(), toml::Value::String(cx.group.to_owned()));
    let image = image_of(id, definition, cx, notes);
    if let Some(kind) = image.as_deref().and_then(image::kind_for_image) {
        table.insert("kind".to_owned(), toml::Value::String(kind.to_owned()));
    }
    note_build(id, definition, definition.contains_key("image"), notes);
    if let Some(image) = image {
        table.insert("docker".to_owned(), toml::Value::String(image));
    }
    if let Some(value) = definition.get("ports") {
        let published = ports::published(id, value, notes);
        if !published.is_empty() {
            table.insert(
                "ports".to_owned(),
                toml::Value::Array(published.into_iter().map(port_value).collect()),
            );
        }
    }
    if let Some(value) = definition.get("environment") {
        let env = environment(id, value, notes);
        if !env.is_empty() {
            let env = env
                .into_iter()
                .map(|(k, v)| (k, toml::Value::String(v)))
                .collect();
            table.insert("env".to_owned(), toml::Value::Table(env));
        }
    }
    let mut metadata = toml::Table::new();
    let mut optional = Vec::new();
    let (mut dependencies, conditions) = match definition.get("depends_on") {
        Some(value) => depends_on(id, value, cx, &mut optional, notes),
        None => (Vec::new(), IndexMap::new()),
    };
    if !optional.is_empty() {
        metadata.insert(
            "optional_depends_on".to_owned(),
            toml::Value::Array(optional.into_iter().map(toml::Value::String).collect()),
        );
    }
    if let Some(value) = definition.get("links") {
        for name in links(id, value, cx, notes) {
            if !dependencies.contains(&name) {
                dependencies.push(name);
            }
        }
    }
    if !dependencies.is_empty() {
        // A dependency with a compose condition becomes `{ service, condition }`.
        let entries = dependencies
            .into_iter()
            .map(|name| match conditions.get(&name) {
                Some(condition) => {
                    let mut entry = toml::Table::new();
                    entry.insert("service".to_owned(), toml::Value::String(name));
                    entry.insert(
                        "condition".to_owned(),
                        toml::Value::String((*condition).to_owned()),
                    );
                    toml::Value::Table(entry)
                }
                None => toml::Value::String(name),
            })
            .collect();
        table.insert("depends_on".to_owned(), toml::Value::Array(entries));
    }
    if let Some(value) = definition.get("networks") {
        let networks = networks(id, value, notes);
        if !networks.is_empty() {
            table.insert(
                "tags".to_owned(),
                toml::Value::Array(
                    networks
                        .iter()
                        .map(|n| toml::Value::String(format!("network:{n}")))
                        .collect(),
                ),
            );
            metadata.insert(
                "networks".to_owned(),
                toml::Value::Array(networks.into_iter().map(toml::Value::String).collect()),
            );
        }
    }
    if let Some(value) = definition.get("labels") {
        let labels = labels(id, value, notes);
        if !labels.is_empty() {
            metadata.insert("labels".to_owned(), toml::Value::Table(labels));
        }
    }
    if !metadata.is_empty() {
        table.insert("metadata".to_owned(), toml::Value::Table(metadata));
    }
    if let Some(check) = definition
        .get("healthcheck")
        .and_then(|h| healthcheck::check(id, h, notes))
    {
        table.insert("check".to_owned(), toml::Value::Table(check));
    }
    note_unmapped_keys(id, definition, notes);
    table
}

fn port_value(port: RawPort) -> toml::Value {
    match port {
        RawPort::Single(p) => toml::Value::Integer(i64::from(p)),
        RawPort::Range((a, b)) => toml::Value::String(format!("{a}-{b}")),
    }
}

/// A key whose value must be a non-empty string.
fn text_of(
    id: &str,
    key: &str,
    definition: &Map<String, Value>,
    notes: &mut Notes,
) -> Option<String> {
    match definition.get(key)? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Null => None,
        other => {
            notes.service(
                id,
                format!("`{key}` is {}, not a name; not mapped", describe(other)),
            );
            None
        }
    }
}

/// `image`, when it is a reference docker accepts; an image emptied or broken by an unset
/// variable is noted, never written.
fn image_of(
    id: &str,
    definition: &Map<String, Value>,
    cx: &Context<'_>,
    notes: &mut Notes,
) -> Option<String> {
    let unset = cx.unset_places.contains(&format!("{id}.image"));
    match definition.get("image")? {
        Value::String(text) if text.trim().is_empty() => {
            notes.service(
                id,
                if unset {
                    "`image` is empty once its unset variables are read as empty; no `docker` image is recorded".to_owned()
                } else {
                    "`image` is empty; no `docker` image is recorded".to_owned()
                },
            );
            None
        }
        Value::String(text) if !image::is_valid_reference(text.trim()) => {
            notes.service(
                id,
                format!(
                    "`image` {} is not a reference docker accepts{}; no `docker` image is recorded",
                    describe(&Value::String(text.trim().to_owned())),
                    if unset {
                        " (a variable in it is unset)"
                    } else {
                        ""
                    }
                ),
            );
            None
        }
        Value::String(text) => Some(text.trim().to_owned()),
        Value::Null => None,
        other => {
            notes.service(
                id,
                format!("`image` is {}, not a name; not mapped", describe(other)),
            );
            None
        }
    }
}

fn note_build(id: &str, definition: &Map<String, Value>, has_image: bool, notes: &mut Notes) {
    let context = match definition.get("build") {
        None => {
            if !has_image {
                notes.service(
                    id,
                    "neither `image` nor `build` is given; no `docker` image is recorded"
                        .to_owned(),
                );
            }
            return;
        }
        Some(Value::String(context)) => context.as_str(),
        Some(Value::Object(build)) => build.get("context").and_then(Value::as_str).unwrap_or("."),
        Some(_) => ".",
    };
    if has_image {
        notes.add(format!(
            "service `{id}` is built from `{context}` and tagged with its `image`; the build is not mapped"
        ));
    } else {
        notes.add(format!(
            "service `{id}` is built from `{context}` and has no `image`; no `docker` image is recorded"
        ));
    }
}

/// `environment` as a list of `KEY=VALUE` or a mapping.
fn environment(id: &str, value: &Value, notes: &mut Notes) -> IndexMap<String, String> {
    let mut env = IndexMap::new();
    let from_shell = |key: &str, notes: &mut Notes| notes.item(FROM_SHELL, id, key);
    match value {
        Value::Array(entries) => {
            for entry in entries {
                match entry {
                    Value::String(text) => match text.split_once('=') {
                        Some((key, value)) if !key.trim().is_empty() => {
                            env.insert(key.trim().to_owned(), value.to_owned());
                        }
                        Some(_) => notes.service(
                            id,
                            format!("`environment` entry `{text}` has no name; not mapped"),
                        ),
                        None if text.trim().is_empty() => {}
                        None => from_shell(text.trim(), notes),
                    },
                    other => notes.service(
                        id,
                        format!(
                            "`environment` entry {} is not `KEY=VALUE`; not mapped",
                            describe(other)
                        ),
                    ),
                }
            }
        }
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(text) => {
                        env.insert(key.clone(), text.clone());
                    }
                    Value::Number(n) => {
                        env.insert(key.clone(), n.to_string());
                    }
                    Value::Bool(b) => {
                        env.insert(key.clone(), b.to_string());
                    }
                    Value::Null => from_shell(key, notes),
                    other => notes.service(
                        id,
                        format!(
                            "`environment` `{key}` is {}, not a value; not mapped",
                            describe(other)
                        ),
                    ),
                }
            }
        }
        Value::Null => {}
        other => notes.service(
            id,
            format!(
                "`environment` is {}, not a list or mapping; not mapped",
                describe(other)
            ),
        ),
    }
    env
}

/// `depends_on` as a list of services or a mapping of services to `{condition, required,
/// restart}`: the services that exist, and the conditions given in the mapping form, by
/// service, in the manifest's words (`started`, `healthy`, `completed`).
fn depends_on(
    id: &str,
    value: &Value,
    cx: &Context<'_>,
    optional: &mut Vec<String>,
    notes: &mut Notes,
) -> (Vec<String>, IndexMap<String, &'static str>) {
    let services = cx.services;
    let mut names = Vec::new();
    let mut conditions = IndexMap::new();
    let mut add = |name: &str, notes: &mut Notes| {
        if cx.excluded.contains(name) {
            notes.item(EXCLUDED_DEPENDENCIES, id, name);
            false
        } else if !services.contains(name) {
            notes.service(
                id,
                format!(
                    "`depends_on` names `{name}`, which is not a service of this file; dropped"
                ),
            );
            false
        } else {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
            true
        }
    };
    match value {
        Value::Array(entries) => {
            for entry in entries {
                match entry.as_str() {
                    Some(name) => {
                        add(name, notes);
                    }
                    None => notes.service(
                        id,
                        format!(
                            "`depends_on` entry {} is not a service name; dropped",
                            describe(entry)
                        ),
                    ),
                }
            }
        }
        Value::Object(map) => {
            for (name, options) in map {
                let required = !matches!(options.get("required"), Some(Value::Bool(false)))
                    && !options
                        .get("required")
                        .and_then(Value::as_str)
                        .is_some_and(|r| r.trim().eq_ignore_ascii_case("false"));
                if !required && !cx.excluded.contains(name.as_str()) {
                    if services.contains(name.as_str()) {
                        notes.item(OPTIONAL_DEPENDENCIES, id, name);
                        if !optional.contains(name) {
                            optional.push(name.clone());
                        }
                    }
                    continue;
                }
                if !add(name, notes) {
                    continue;
                }
                let Value::Object(options) = options else {
                    if !options.is_null() {
                        notes.service(id, format!("`depends_on` `{name}` is {}, not a mapping; its options are not mapped",
                            describe(options)
                        ));
                    }
                    continue;
                };
                for (key, option) in options {
                    match (key.as_str(), option) {
                        ("condition", Value::String(condition))
                            if CONDITIONS.iter().any(|(c, _)| c == condition) =>
                        {
                            let mapped = CONDITIONS
                                .iter()
                                .find(|(c, _)| c == condition)
                                .map_or("started", |(_, m)| *m);
                            conditions.insert(name.clone(), mapped);
                        }
                        ("condition", other) => notes.service(id, format!("`depends_on` `{name}` has condition {}, which compose does not know; not mapped",
                            describe(other)
                        )),
                        ("required", _) => {}
                        ("restart", Value::Bool(false)) => {}
                        ("restart", _) => notes.service(id, format!("`depends_on` `{name}` restarts `{id}` when it is updated (`restart: true`); not mapped"
                        )),
                        (key, _) => notes.service(id, format!("`depends_on` `{name}` key `{key}` is not mapped"
                        )),
                    }
                }
            }
        }
        Value::Null => {}
        other => notes.service(
            id,
            format!(
                "`depends_on` is {}, not a list or mapping; not mapped",
                describe(other)
            ),
        ),
    }
    (names, conditions)
}

/// Legacy `links` (`service` or `service:alias`): compose starts linked services first, so
/// they are dependencies; aliases are noted.
fn links(id: &str, value: &Value, cx: &Context<'_>, notes: &mut Notes) -> Vec<String> {
    let services = cx.services;
    let Value::Array(entries) = value else {
        if !value.is_null() {
            notes.service(
                id,
                format!("`links` is {}, not a list; not mapped", describe(value)),
            );
        }
        return Vec::new();
    };
    let mut names = Vec::new();
    for entry in entries {
        let Some(link) = entry.as_str() else {
            notes.service(
                id,
                format!(
                    "`links` entry {} is not a service name; dropped",
                    describe(entry)
                ),
            );
            continue;
        };
        let (name, alias) = match link.split_once(':') {
            Some((name, alias)) => (name.trim(), Some(alias.trim())),
            None => (link.trim(), None),
        };
        if cx.excluded.contains(name) {
            notes.item(EXCLUDED_DEPENDENCIES, id, name);
            continue;
        }
        if !services.contains(name) {
            notes.service(
                id,
                format!("`links` names `{name}`, which is not a service of this file; dropped"),
            );
            continue;
        }
        if let Some(alias) = alias.filter(|a| *a != name) {
            notes.service(id, format!("link alias `{alias}` of `{name}` is not mapped; the link is mapped as a dependency"
            ));
        }
        names.push(name.to_owned());
    }
    names
}

/// `networks` as a list of names or a mapping of names to attachment settings.
fn networks(id: &str, value: &Value, notes: &mut Notes) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    match value {
        Value::Array(entries) => {
            for entry in entries {
                match entry.as_str() {
                    Some(name) if !name.trim().is_empty() => names.push(name.trim().to_owned()),
                    _ => notes.service(
                        id,
                        format!(
                            "`networks` entry {} is not a network name; not mapped",
                            describe(entry)
                        ),
                    ),
                }
            }
        }
        Value::Object(map) => {
            for (name, settings) in map {
                names.push(name.clone());
                let keys: Vec<String> = match settings {
                    Value::Object(settings) => settings.keys().map(|k| format!("`{k}`")).collect(),
                    Value::Null => Vec::new(),
                    other => vec![describe(other)],
                };
                if !keys.is_empty() {
                    notes.service(
                        id,
                        format!(
                            "settings of network `{name}` ({}) are not mapped",
                            keys.join(", ")
                        ),
                    );
                }
            }
        }
        Value::Null => {}
        other => notes.service(
            id,
            format!(
                "`networks` is {}, not a list or mapping; not mapped",
                describe(other)
            ),
        ),
    }
    let mut seen = HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// `labels` as a list of `key=value` or a mapping, kept as metadata.
fn labels(id: &str, value: &Value, notes: &mut Notes) -> toml::Table {
    let mut labels = toml::Table::new();
    let invalid = |what: String, notes: &mut Notes| {
        notes.service(id, format!("label {what} is not `key=value`; not mapped"));
    };
    match value {
        Value::Array(entries) => {
            for entry in entries {
                match entry.as_str() {
                    Some(text) => {
                        let (key, value) = text.split_once('=').unwrap_or((text, ""));
                        if key.trim().is_empty() {
                            invalid(describe(entry), notes);
                        } else {
                            labels.insert(
                                key.trim().to_owned(),
                                toml::Value::String(value.to_owned()),
                            );
                        }
                    }
                    None => invalid(describe(entry), notes),
                }
            }
        }
        Value::Object(map) => {
            for (key, value) in map {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => String::new(),
                    other => {
                        invalid(format!("`{key}` ({})", describe(other)), notes);
                        continue;
                    }
                };
                labels.insert(key.clone(), toml::Value::String(text));
            }
        }
        Value::Null => {}
        other => notes.service(
            id,
            format!(
                "`labels` is {}, not a list or mapping; not mapped",
                describe(other)
            ),
        ),
    }
    labels
}

/// A note for every key this importer does not map.
fn note_unmapped_keys(id: &str, definition: &Map<String, Value>, notes: &mut Notes) {
    for key in definition.keys() {
        match key.as_str() {
            "image" | "build" | "container_name" | "ports" | "environment" | "depends_on"
            | "links" | "networks" | "labels" | "healthcheck" => {}
            "command" | "entrypoint" => notes.item(CONTAINER_COMMAND, id, key),
            "env_file" => notes.service(id, "`env_file` is not read (it sets the container's environment, not the file's variables); not mapped".to_owned()),
            "expose" => notes.service(id, "`expose` ports are reachable from other containers only; not mapped".to_owned()),
            key if key.starts_with("x-") => notes.service(id, format!("extension field `{key}` is not mapped"
            )),
            key => notes.service(id, format!("`{key}` is not mapped")),
        }
    }
}
