//! Loads a compose project as `docker compose` does before it runs anything: each file is
//! read (`yaml`), interpolated from the environment files (`env`, `interpolate`), its
//! `extends` resolved (from the same file or another), the files merged in order (`merge`),
//! and the files named by `include` loaded as projects of their own and their services
//! added. What comes out is one compose model (a JSON tree) that `service` maps.
//!
//! This module owns reading the files a project names; it never reads the process
//! environment, and without a directory (text given on its own) it reads no other file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use indexmap::{IndexMap, IndexSet};
use serde_json::{Map, Value};

use super::env::Environment;
use super::interpolate::{self, Unresolved};
use super::notes::Notes;
use super::{describe, merge, yaml};
use crate::import::ImportError;

/// `include` and `extends` chains deeper than this are refused as cycles.
const MAX_DEPTH: usize = 32;

/// One compose file to load.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// The file's text.
    pub(crate) text: String,
    /// How notes and errors name the file (`compose.yaml`), when it has a name.
    pub(crate) label: Option<String>,
    /// The directory its relative paths (`extends.file`, `include`) start from; `None` for
    /// text given on its own, which reads no other file.
    pub(crate) dir: Option<PathBuf>,
}

/// The loaded project: the merged top level (without `services`) and the services.
#[derive(Debug, Default)]
pub(crate) struct Project {
    pub(crate) top: Map<String, Value>,
    pub(crate) services: Map<String, Value>,
    /// Whether any file had `services` (or an `include`).
    pub(crate) has_services: bool,
    /// Places (`web.image`) that referenced a variable without a value.
    pub(crate) unset_places: HashSet<String>,
}

/// Loads the sources in order, merged.
pub(crate) fn load(
    sources: Vec<Source>,
    env: &Environment,
    notes: &mut Notes,
) -> Result<Project, ImportError> {
    let mut loader = Loader {
        env,
        variables: IndexMap::new(),
        unset_places: HashSet::new(),
        stack: Vec::new(),
    };
    let project = loader.project(sources, notes, 0)?;
    loader.note_variables(notes);
    Ok(Project {
        unset_places: loader.unset_places,
        ..project
    })
}

struct Loader<'a> {
    env: &'a Environment,
    /// Per file label: the variables found unresolved.
    variables: IndexMap<String, Variables>,
    unset_places: HashSet<String>,
    /// Files being included, to refuse an include cycle.
    stack: Vec<PathBuf>,
}

impl Loader<'_> {
    fn project(
        &mut self,
        sources: Vec<Source>,
        notes: &mut Notes,
        depth: usize,
    ) -> Result<Project, ImportError> {
        let mut merged: Option<Map<String, Value>> = None;
        let mut has_services = false;
        let mut project_dir = None;
        for source in sources {
            if project_dir.is_none() {
                project_dir = source.dir.clone();
            }
            let mut top = self.file(&source, notes)?;
            has_services |= top.contains_key("services") || top.contains_key("include");
            if let Some(Value::Object(services)) = top.get_mut("services") {
                self.extends(services, &source, notes, depth);
            }
            match &mut merged {
                None => merged = Some(top),
                Some(base) => merge::merge_top(base, top),
            }
        }
        let mut top = merged.unwrap_or_default();
        let mut services = match top.shift_remove("services") {
            Some(Value::Object(services)) => services,
            _ => Map::new(),
        };
        if let Some(include) = top.shift_remove("include") {
            self.include(
                &include,
                project_dir.as_deref(),
                &mut services,
                notes,
                depth,
            )?;
        }
        Ok(Project {
            top,
            services,
            has_services,
            unset_places: HashSet::new(),
        })
    }

    /// Reads and interpolates one file: its top-level mapping.
    fn file(
        &mut self,
        source: &Source,
        notes: &mut Notes,
    ) -> Result<Map<String, Value>, ImportError> {
        let named = |message: String| match &source.label {
            Some(label) => format!("`{label}`: {message}"),
            None => message,
        };
        let document = yaml::read(&source.text).map_err(|e| {
            ImportError::Unreadable(named(match e {
                yaml::YamlError::Syntax(m) | yaml::YamlError::Budget(m) => m,
            }))
        })?;
        let Value::Object(mut top) = document else {
            return Err(ImportError::Unreadable(named(format!(
                "the file is {}, not a mapping with `services`, so it is not a compose file",
                describe(&document)
            ))));
        };
        match top.get("services") {
            None | Some(Value::Object(_)) => {}
            Some(Value::Null) => {
                top.insert("services".to_owned(), Value::Object(Map::new()));
            }
            Some(other) => {
                return Err(ImportError::Unreadable(named(format!(
                    "`services` is {}, not a mapping of service names to definitions",
                    describe(other)
                ))));
            }
        }
        if ["!reset", "!override"]
            .iter()
            .any(|t| source.text.contains(t))
        {
            notes.add(named(
                "the YAML tags `!reset` and `!override` are not honoured: values were merged by the default rules".to_owned(),
            ));
        }
        let label = source.label.clone().unwrap_or_default();
        for key in ["name", "include"] {
            if let Some(value) = top.get_mut(key) {
                self.interpolate_tree(&label, value, key);
            }
        }
        if let Some(Value::Object(services)) = top.get_mut("services") {
            for (id, definition) in services.iter_mut() {
                match definition {
                    Value::Object(map) => {
                        for (key, value) in map.iter_mut() {
                            self.interpolate_tree(&label, value, &format!("{id}.{key}"));
                        }
                    }
                    other => self.interpolate_tree(&label, other, id),
                }
            }
        }
        Ok(top)
    }

    fn interpolate_tree(&mut self, file: &str, value: &mut Value, place: &str) {
        match value {
            Value::String(text) => {
                if text.contains('$') {
                    *text = self.interpolate(file, text, place);
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.interpolate_tree(file, item, place);
                }
            }
            Value::Object(map) => {
                for item in map.values_mut() {
                    self.interpolate_tree(file, item, place);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn interpolate(&mut self, file: &str, text: &str, place: &str) -> String {
        let env = self.env;
        let lookup = |name: &str| env.get(name);
        let mut found = Vec::new();
        let out = interpolate::interpolate(text, &lookup, &mut found);
        if found.is_empty() {
            return out;
        }
        let variables = self.variables.entry(file.to_owned()).or_default();
        for unresolved in found {
            let (variable, required) = match unresolved {
                Unresolved::NoDefault { variable } | Unresolved::Alternative { variable } => {
                    (variable, None)
                }
                Unresolved::Required { variable, message } => (variable, Some(message)),
                Unresolved::Invalid => {
                    variables.invalid.insert(place.to_owned());
                    continue;
                }
            };
            self.unset_places.insert(place.to_owned());
            let entry = variables.unresolved.entry(variable).or_default();
            entry.places.insert(place.to_owned());
            if entry.required.is_none() {
                entry.required = required;
            }
        }
        out
    }

    /// Resolves `extends` in one file's services, in place.
    fn extends(
        &mut self,
        services: &mut Map<String, Value>,
        source: &Source,
        notes: &mut Notes,
        depth: usize,
    ) {
        let ids: Vec<String> = services.keys().cloned().collect();
        for id in ids {
            let mut chain = Vec::new();
            if let Some(resolved) =
                self.resolve_extends(&id, services, source, notes, &mut chain, depth)
            {
                services.insert(id, resolved);
            }
        }
    }

    /// The definition of `id` with its `extends` applied, or `None` when it has none.
    fn resolve_extends(
        &mut self,
        id: &str,
        services: &Map<String, Value>,
        source: &Source,
        notes: &mut Notes,
        chain: &mut Vec<String>,
        depth: usize,
    ) -> Option<Value> {
        let definition = services.get(id)?;
        let extends = definition.get("extends")?.clone();
        let mut definition = definition.clone();
        if let Value::Object(map) = &mut definition {
            map.shift_remove("extends");
        }
        let (base_id, file) = match &extends {
            Value::String(base) => (base.clone(), None),
            Value::Object(map) => match map.get("service").and_then(Value::as_str) {
                Some(base) => (
                    base.to_owned(),
                    map.get("file").and_then(Value::as_str).map(str::to_owned),
                ),
                None => {
                    notes.service(id, "`extends` names no `service`; not resolved".to_owned());
                    return Some(definition);
                }
            },
            other => {
                notes.service(
                    id,
                    format!(
                        "`extends` is {}, not a service; not resolved",
                        describe(other)
                    ),
                );
                return Some(definition);
            }
        };
        let key = format!("{}#{base_id}", file.as_deref().unwrap_or(""));
        if chain.contains(&key) || chain.len() + depth > MAX_DEPTH {
            notes.service(
                id,
                format!("`extends` of `{base_id}` forms a cycle; not resolved"),
            );
            return Some(definition);
        }
        chain.push(key);
        let base = match file {
            None => match services.get(&base_id) {
                Some(_) => self
                    .resolve_extends(&base_id, services, source, notes, chain, depth)
                    .or_else(|| services.get(&base_id).cloned()),
                None => {
                    notes.service(
                        id,
                        format!("`extends` names `{base_id}`, which is not a service of this file; not resolved"),
                    );
                    None
                }
            },
            Some(file) => self.extends_from_file(id, &base_id, &file, source, notes, chain, depth),
        };
        chain.pop();
        let Some(mut base) = base else {
            return Some(definition);
        };
        if let Value::Object(map) = &mut base {
            map.shift_remove("extends");
        }
        merge::merge_service(&mut base, definition);
        Some(base)
    }

    /// The base service `base_id` of the file `file` (relative to `source`), resolved.
    #[allow(clippy::too_many_arguments)]
    fn extends_from_file(
        &mut self,
        id: &str,
        base_id: &str,
        file: &str,
        source: &Source,
        notes: &mut Notes,
        chain: &mut Vec<String>,
        depth: usize,
    ) -> Option<Value> {
        let Some(dir) = &source.dir else {
            notes.service(
                id,
                format!("`extends` names the file `{file}`, which is not read when the compose file comes on standard input or as text; not resolved"),
            );
            return None;
        };
        let path = dir.join(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                notes.service(
                    id,
                    format!("`extends` names the file `{file}`, which cannot be read ({e}); not resolved"),
                );
                return None;
            }
        };
        let other = Source {
            text,
            label: Some(file.to_owned()),
            dir: path.parent().map(Path::to_path_buf),
        };
        let top = match self.file(&other, notes) {
            Ok(top) => top,
            Err(e) => {
                notes.service(id, format!("`extends` file: {e}; not resolved"));
                return None;
            }
        };
        let Some(Value::Object(services)) = top.get("services") else {
            notes.service(
                id,
                format!("`extends` file `{file}` has no `services`; not resolved"),
            );
            return None;
        };
        if !services.contains_key(base_id) {
            notes.service(
                id,
                format!(
                    "`extends` names `{base_id}`, which is not a service of `{file}`; not resolved"
                ),
            );
            return None;
        }
        self.resolve_extends(base_id, services, &other, notes, chain, depth)
            .or_else(|| services.get(base_id).cloned())
    }

    /// Loads each entry of `include` as a project of its own and adds its services.
    fn include(
        &mut self,
        include: &Value,
        project_dir: Option<&Path>,
        services: &mut Map<String, Value>,
        notes: &mut Notes,
        depth: usize,
    ) -> Result<(), ImportError> {
        let entries: Vec<&Value> = match include {
            Value::Array(entries) => entries.iter().collect(),
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let mut names = Vec::new();
        for entry in &entries {
            let (paths, env_files, dir) = match entry {
                Value::String(path) => (vec![path.clone()], Vec::new(), None),
                Value::Object(map) => (
                    strings(map.get("path")),
                    strings(map.get("env_file")),
                    map.get("project_directory").and_then(Value::as_str),
                ),
                other => {
                    notes.add(format!(
                        "top-level `include` entry {} is not a path; not read",
                        describe(other)
                    ));
                    continue;
                }
            };
            if paths.is_empty() {
                notes.add("top-level `include` entry has no `path`; not read".to_owned());
                continue;
            }
            names.push(paths.join(" + "));
            let Some(project_dir) = project_dir else {
                continue;
            };
            self.include_one(&paths, &env_files, dir, project_dir, services, notes, depth)?;
        }
        if project_dir.is_none() && !names.is_empty() {
            notes.add(format!(
                "top-level `include` ({}) is not read when the compose file comes on standard input or as text; their services are missing",
                names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn include_one(
        &mut self,
        paths: &[String],
        env_files: &[String],
        project_directory: Option<&str>,
        project_dir: &Path,
        services: &mut Map<String, Value>,
        notes: &mut Notes,
        depth: usize,
    ) -> Result<(), ImportError> {
        let shown = paths.join(" + ");
        let mut sources = Vec::new();
        for path in paths {
            let full = project_dir.join(path);
            let canonical = full.canonicalize().unwrap_or_else(|_| full.clone());
            if self.stack.contains(&canonical) || depth >= MAX_DEPTH {
                return Err(ImportError::Unreadable(format!(
                    "`include` of `{path}` forms a cycle"
                )));
            }
            let text = std::fs::read_to_string(&full).map_err(|e| {
                ImportError::Unreadable(format!("cannot read `{path}`, named by `include`: {e}"))
            })?;
            sources.push(Source {
                text,
                label: Some(path.clone()),
                dir: full.parent().map(Path::to_path_buf),
            });
        }
        // Its variables: its own `.env` (or `env_file`), overridden by the including project's.
        let first_dir = sources
            .first()
            .and_then(|s| s.dir.clone())
            .unwrap_or_else(|| project_dir.to_path_buf());
        let base_dir = project_directory.map_or(first_dir, |d| project_dir.join(d));
        let mut env = Environment::default();
        let env_paths: Vec<PathBuf> = if env_files.is_empty() {
            vec![base_dir.join(".env")]
        } else {
            env_files.iter().map(|f| project_dir.join(f)).collect()
        };
        for path in env_paths {
            if let Ok(text) = std::fs::read_to_string(&path) {
                env.read(&text);
            }
        }
        for (name, value) in self.env.iter() {
            env.set(name.to_owned(), value.to_owned());
        }
        let mut sub = Loader {
            env: &env,
            variables: IndexMap::new(),
            unset_places: HashSet::new(),
            stack: self.stack.clone(),
        };
        for path in paths {
            let full = project_dir.join(path);
            sub.stack.push(full.canonicalize().unwrap_or(full));
        }
        let project = sub.project(sources, notes, depth + 1)?;
        for (file, variables) in sub.variables {
            self.variables.insert(file, variables);
        }
        self.unset_places.extend(sub.unset_places);
        let mut added = 0;
        let mut clashes = Vec::new();
        for (id, definition) in project.services {
            if services.contains_key(&id) {
                clashes.push(format!("`{id}`"));
            } else {
                services.insert(id, definition);
                added += 1;
            }
        }
        notes.add(format!(
            "`include` of `{shown}` added {added} service{}",
            if added == 1 { "" } else { "s" }
        ));
        if !clashes.is_empty() {
            notes.add(format!(
                "`include` of `{shown}` defines {} again; compose refuses such a conflict, the importer kept the including file's definitions",
                clashes.join(", ")
            ));
        }
        Ok(())
    }

    /// One note per file and kind: variables without a value, required ones, bad syntax.
    fn note_variables(&mut self, notes: &mut Notes) {
        for (file, variables) in std::mem::take(&mut self.variables) {
            let in_file = if file.is_empty() {
                String::new()
            } else {
                format!(" in `{file}`")
            };
            let unset = format!(
                "variables{in_file} set by no environment file and without a default were read as empty, as compose reads an unset variable (the importer does not read the shell)"
            );
            let required = format!(
                "variables{in_file} that compose requires (`${{VAR:?message}}`) are unset, so compose would refuse to start"
            );
            for (variable, usage) in variables.unresolved {
                for place in &usage.places {
                    notes.item(&unset, &variable, place);
                }
                if let Some(message) = usage.required {
                    notes.item(&required, &variable, message.trim());
                }
            }
            let invalid = format!(
                "values{in_file} with a `$` that starts no variable reference (or an unclosed `${{`) were kept as written (write `$$` for a literal `$`)"
            );
            for place in variables.invalid {
                notes.item(&invalid, &place, "");
            }
        }
    }
}

/// A string or a list of strings.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Variables of one file found without a value.
#[derive(Debug, Default)]
struct Variables {
    unresolved: IndexMap<String, VariableUse>,
    invalid: IndexSet<String>,
}

#[derive(Debug, Default)]
struct VariableUse {
    places: IndexSet<String>,
    required: Option<String>,
}
