//! Imports a docker-compose project (the Compose specification, and the older `version: "2"`
//! and `"3"` files) as a manifest: one group for the project, one service per compose
//! service that `docker compose up` would run, and one tier-2 agent, `compose-operator`,
//! watching the group.
//!
//! `load` reads the project as compose does: each file's YAML (`yaml`: anchors, aliases and
//! merge keys expanded under safety budgets), interpolated from the environment files
//! (`env`, `interpolate`), `extends` resolved, several files merged by compose's rules
//! (`merge`) and `include` resolved. `profiles` keeps the services the active profiles run.
//! Each service is then mapped by `service`, its ports by `ports`, its health check by
//! `healthcheck` and its kind from its image by `image`. Everything seen but not mapped
//! becomes a note (`notes` groups them), so nothing is dropped silently.
//! `docs/import-compose.md` is the user's guide to the mapping.

mod env;
mod healthcheck;
mod image;
mod interpolate;
mod load;
mod merge;
mod notes;
mod ports;
mod profiles;
mod service;
mod yaml;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use self::env::Environment;
use self::load::Source;
pub(crate) use self::notes::Notes;
use super::{ImportError, Imported, slug};

/// The ecosystem and group name when the file has no top-level `name`.
const DEFAULT_NAME: &str = "compose";
/// The id of the agent that watches the imported group.
const OPERATOR_ID: &str = "compose-operator";
/// Values longer than this are shortened in notes.
const NOTE_VALUE_CHARS: usize = 60;
/// The environment file compose reads beside the (first) compose file.
const DEFAULT_ENV_FILE: &str = ".env";

/// How a compose project is imported: as `docker compose up` would run it.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The active profiles (`--profile`, repeatable, or the shell's `COMPOSE_PROFILES`);
    /// each may be a comma-separated list, and `*` activates every profile. `None`: the
    /// `COMPOSE_PROFILES` of the environment files, if they set it, else none.
    pub profiles: Option<Vec<String>>,
    /// Environment files, read in order (a later value wins), as `--env-file`. Empty: the
    /// `.env` beside the first compose file, when there is one.
    pub env_files: Vec<PathBuf>,
}

/// Imports one compose file given as text, with no other file read (no `.env`, no
/// `include`, no `extends.file`) and no profile active. Fails only when the text is not a
/// compose file at all: not YAML, refused by a safety budget, not a mapping, or without
/// `services`.
pub fn import(text: &str) -> Result<Imported, ImportError> {
    let source = Source {
        text: text.to_owned(),
        label: None,
        dir: None,
    };
    import_sources(vec![source], None, &Options::default())
}

/// Imports compose text read from somewhere other than a file (standard input): relative
/// paths (`.env`, `include`, `extends.file`) start from `dir`.
pub fn import_text(text: &str, dir: &Path, options: &Options) -> Result<Imported, ImportError> {
    let source = Source {
        text: text.to_owned(),
        label: None,
        dir: Some(dir.to_path_buf()),
    };
    import_sources(vec![source], Some(dir), options)
}

/// Imports a compose project of one or more files, merged in order by compose's rules
/// (`docker compose -f a.yml -f b.yml`), with the environment files and profiles of
/// `options`.
pub fn import_files(files: &[PathBuf], options: &Options) -> Result<Imported, ImportError> {
    let several = files.len() > 1;
    let mut sources = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            ImportError::Unreadable(format!("cannot read `{}`: {e}", file.display()))
        })?;
        let dir = file
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."))
            .to_path_buf();
        sources.push(Source {
            text,
            label: several.then(|| file.display().to_string()),
            dir: Some(dir),
        });
    }
    let project_dir = sources.first().and_then(|s| s.dir.clone());
    import_sources(sources, project_dir.as_deref(), options)
}

fn import_sources(
    sources: Vec<Source>,
    project_dir: Option<&Path>,
    options: &Options,
) -> Result<Imported, ImportError> {
    let mut notes = Notes::default();
    let env = environment(project_dir, options, &mut notes)?;
    let project = load::load(sources, &env, &mut notes)?;
    if !project.has_services {
        return Err(ImportError::Unreadable(
            "the file has no `services`, so it is not a compose file".to_owned(),
        ));
    }
    let active = match &options.profiles {
        Some(names) => profiles::Active::new(names.iter().map(String::as_str)),
        None => profiles::Active::new([env.get("COMPOSE_PROFILES").unwrap_or_default()]),
    };
    let mut services = project.services;
    let excluded = profiles::select(&mut services, &active, &mut notes);
    let manifest = manifest(
        &project.top,
        services,
        &excluded,
        &project.unset_places,
        &mut notes,
    );
    Ok(Imported {
        manifest,
        notes: notes.into_vec(),
    })
}

/// The variables of the environment files: `options.env_files`, or the `.env` beside the
/// project, when there is one.
fn environment(
    project_dir: Option<&Path>,
    options: &Options,
    notes: &mut Notes,
) -> Result<Environment, ImportError> {
    let mut env = Environment::default();
    let mut read = |path: &Path, text: &str, notes: &mut Notes| {
        for problem in env.read(text) {
            notes.add(format!(
                "environment file `{}`: {problem}; skipped",
                path.display()
            ));
        }
    };
    if options.env_files.is_empty() {
        if let Some(dir) = project_dir {
            let path = dir.join(DEFAULT_ENV_FILE);
            if let Ok(text) = std::fs::read_to_string(&path) {
                read(&path, &text, notes);
            }
        }
    } else {
        for path in &options.env_files {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ImportError::Unreadable(format!(
                    "cannot read the environment file `{}`: {e}",
                    path.display()
                ))
            })?;
            read(path, &text, notes);
        }
    }
    Ok(env)
}

/// The manifest of the loaded project's services.
fn manifest(
    top: &Map<String, Value>,
    services: Map<String, Value>,
    excluded: &HashSet<String>,
    unset_places: &HashSet<String>,
    notes: &mut Notes,
) -> toml::Table {
    let name = project_name(top, notes);
    note_top_level(top, notes);
    let services: Vec<(String, Value)> = services.into_iter().collect();
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
            excluded,
            unset_places,
        };
        let mut tables = toml::Table::new();
        let mut checked = Vec::new();
        for (id, definition) in &services {
            let table = service::service(id, definition, &cx, notes);
            if table.contains_key("check") {
                checked.push(format!("`{id}`"));
            }
            tables.insert(id.clone(), toml::Value::Table(table));
        }
        if !checked.is_empty() {
            let shown = if checked.len() > 12 {
                format!(
                    "{} and {} more",
                    checked[..12].join(", "),
                    checked.len() - 12
                )
            } else {
                checked.join(", ")
            };
            notes.add(format!(
                "the healthchecks of {shown} became `exec` checks, which `iza` runs on this machine while compose runs them inside the container; rewrite those whose program the host lacks (as `http`, `tcp`, `postgres`, ... checks)"
            ));
        }
        manifest.insert("services".to_owned(), toml::Value::Table(tables));
        manifest.insert("agents".to_owned(), operator(&group));
    }
    manifest
}

/// The top-level `name`, interpolated, or the default.
fn project_name(top: &Map<String, Value>, notes: &mut Notes) -> String {
    match top.get("name") {
        Some(Value::String(text)) => {
            let name = text.trim();
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
            "volumes" | "secrets" | "configs" | "models" => {
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

/// A value as a note shows it: scalars in backticks (shortened), collections by shape.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "empty".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
        Value::String(text) => {
            let text = notes::one_line(text);
            let mut shown: String = text.chars().take(NOTE_VALUE_CHARS).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            format!("`{shown}`")
        }
        other => format!("`{other}`"),
    }
}
