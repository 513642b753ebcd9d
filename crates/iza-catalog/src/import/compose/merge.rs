//! Compose's merge rules, shared by several files (`-f a.yml -f b.yml`) and by `extends`
//! (the extending service is merged over its base), as the Compose specification's "Merge
//! and override" states them and compose-go applies them:
//!
//! - a mapping is merged key by key, recursively; a scalar of the later file replaces the
//!   earlier one, and so does any value of another shape;
//! - a sequence is appended to (entries equal to one already there are not repeated, which
//!   is the uniqueness rule of `ports`, `volumes`, ... for entries written alike);
//! - `command`, `entrypoint` and `healthcheck.test` are replaced, not appended;
//! - `environment`, `labels`, `annotations`, `sysctls`, `depends_on` and `networks` are
//!   merged as mappings whichever form (list or mapping) each side is written in.
//!
//! The YAML tags `!reset` and `!override` are not visible to the importer (the YAML reader
//! drops tags); a file that uses them is noted by the loader.

use serde_json::{Map, Value};

/// Keys whose later value replaces the earlier one whatever its shape.
const REPLACED: &[&str] = &["command", "entrypoint"];
/// Keys written as `KEY=VALUE` lists or mappings, merged as mappings.
const KEY_VALUE: &[&str] = &["environment", "labels", "annotations", "sysctls"];
/// Keys written as lists of names or mappings of names to settings, merged as mappings.
const NAMED: &[&str] = &["depends_on", "networks"];

/// Merges the top level of a later file over an earlier one: services by service, the
/// rest by the generic rules.
pub(crate) fn merge_top(base: &mut Map<String, Value>, over: Map<String, Value>) {
    for (key, value) in over {
        match (key.as_str(), base.get_mut(&key)) {
            ("services", Some(Value::Object(services))) => {
                if let Value::Object(over_services) = value {
                    for (id, definition) in over_services {
                        match services.get_mut(&id) {
                            Some(existing) => merge_service(existing, definition),
                            None => {
                                services.insert(id, definition);
                            }
                        }
                    }
                }
            }
            (_, Some(existing)) => merge_value(existing, value),
            (_, None) => {
                base.insert(key, value);
            }
        }
    }
}

/// Merges a later service definition over an earlier one.
pub(crate) fn merge_service(base: &mut Value, over: Value) {
    let over = match over {
        Value::Object(over) => over,
        Value::Null => return,
        other => {
            *base = other;
            return;
        }
    };
    if !base.is_object() {
        *base = Value::Object(over);
        return;
    }
    let Value::Object(base) = base else {
        return;
    };
    for (key, value) in over {
        let Some(existing) = base.get_mut(&key) else {
            base.insert(key, value);
            continue;
        };
        match key.as_str() {
            k if REPLACED.contains(&k) || k.starts_with("x-") => *existing = value,
            k if KEY_VALUE.contains(&k) => {
                let mut merged = key_value_map(existing);
                for (k, v) in key_value_map(&value) {
                    merged.insert(k, v);
                }
                *existing = Value::Object(merged);
            }
            k if NAMED.contains(&k) => {
                let mut merged = named_map(existing);
                for (name, settings) in named_map(&value) {
                    match merged.get_mut(&name) {
                        Some(_) if settings.is_null() => {}
                        Some(current) => merge_value(current, settings),
                        None => {
                            merged.insert(name, settings);
                        }
                    }
                }
                *existing = Value::Object(merged);
            }
            "healthcheck" => match (&mut *existing, value) {
                (Value::Object(current), Value::Object(later)) => {
                    for (k, v) in later {
                        current.insert(k, v);
                    }
                }
                (_, later) => *existing = later,
            },
            _ => merge_value(existing, value),
        }
    }
}

/// The generic rules: mappings merged, sequences appended, anything else replaced.
pub(crate) fn merge_value(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(current), Value::Object(later)) => {
            for (key, value) in later {
                match current.get_mut(&key) {
                    Some(existing) if !key.starts_with("x-") => merge_value(existing, value),
                    _ => {
                        current.insert(key, value);
                    }
                }
            }
        }
        (Value::Array(current), Value::Array(later)) => {
            for item in later {
                if !current.contains(&item) {
                    current.push(item);
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// `KEY=VALUE` list or mapping as a mapping (`KEY` alone maps to null).
fn key_value_map(value: &Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(text) => Some(match text.split_once('=') {
                    Some((k, v)) => (k.trim().to_owned(), Value::String(v.to_owned())),
                    None => (text.trim().to_owned(), Value::Null),
                }),
                _ => None,
            })
            .collect(),
        _ => Map::new(),
    }
}

/// A list of names or a mapping of names to settings as a mapping (a bare name maps to null).
fn named_map(value: &Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| item.as_str().map(|n| (n.to_owned(), Value::Null)))
            .collect(),
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{merge_service, merge_top};

    #[test]
    fn services_merge_by_the_compose_rules() {
        let mut base = json!({
            "image": "app:1",
            "command": ["run", "a"],
            "ports": ["8080:80"],
            "environment": ["A=1", "B=2"],
            "depends_on": ["db"],
            "healthcheck": {"test": ["CMD", "a"], "interval": "5s"},
            "networks": ["front"],
        });
        let over = json!({
            "image": "app:2",
            "command": ["run", "b"],
            "ports": ["8080:80", "9090:90"],
            "environment": {"B": "3", "C": "4"},
            "depends_on": {"cache": {"condition": "service_healthy"}},
            "healthcheck": {"test": ["CMD", "b"]},
            "networks": {"back": {"aliases": ["x"]}},
        });
        merge_service(&mut base, over);
        assert_eq!(
            base,
            json!({
                "image": "app:2",
                "command": ["run", "b"],
                "ports": ["8080:80", "9090:90"],
                "environment": {"A": "1", "B": "3", "C": "4"},
                "depends_on": {"db": null, "cache": {"condition": "service_healthy"}},
                "healthcheck": {"test": ["CMD", "b"], "interval": "5s"},
                "networks": {"front": null, "back": {"aliases": ["x"]}},
            })
        );
    }

    #[test]
    fn later_files_add_and_override_services() {
        let mut base = json!({"name": "a", "services": {"web": {"image": "x"}}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let over =
            json!({"name": "b", "services": {"web": {"ports": ["1:1"]}, "db": {"image": "pg"}}})
                .as_object()
                .cloned()
                .unwrap_or_default();
        merge_top(&mut base, over);
        assert_eq!(
            serde_json::Value::Object(base),
            json!({"name": "b", "services": {"web": {"image": "x", "ports": ["1:1"]}, "db": {"image": "pg"}}})
        );
    }
}
