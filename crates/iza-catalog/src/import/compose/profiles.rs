//! Compose `profiles`: which services `docker compose up` would run. A service without
//! `profiles` always runs; one with `profiles` runs only when one of them is active. The
//! active profiles come from `--profile` (repeatable) or `COMPOSE_PROFILES` (comma-separated,
//! from the shell or an environment file); `*` activates every profile. The services left
//! out are named, with their profiles, in one note. As in compose, a `COMPOSE_PROFILES`
//! that is unset or empty activates the empty profile `""`, which some files list so that a
//! service runs by default and can be left out by naming other profiles.

use std::collections::HashSet;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::notes::Notes;

/// The active profiles.
#[derive(Debug, Clone, Default)]
pub(crate) struct Active {
    names: HashSet<String>,
    all: bool,
}

impl Active {
    /// From profile names, each possibly a comma-separated list as in `COMPOSE_PROFILES`.
    pub(crate) fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Active {
        let mut active = Active::default();
        for name in names.into_iter().flat_map(|n| n.split(',')) {
            let name = name.trim();
            if name == "*" {
                active.all = true;
            } else {
                active.names.insert(name.to_owned());
            }
        }
        active
    }

    fn enables(&self, profiles: &[String]) -> bool {
        profiles.is_empty() || self.all || profiles.iter().any(|p| self.names.contains(p))
    }
}

/// Removes the services no active profile enables; returns their ids. Each kept service
/// loses its `profiles` key, which is mapped by this selection.
pub(crate) fn select(
    services: &mut Map<String, Value>,
    active: &Active,
    notes: &mut Notes,
) -> HashSet<String> {
    // Left-out services grouped by their profiles, in file order.
    let mut left_out: IndexMap<Vec<String>, Vec<String>> = IndexMap::new();
    let mut removed = HashSet::new();
    services.retain(|id, definition| {
        let profiles = match definition
            .as_object_mut()
            .and_then(|d| d.shift_remove("profiles"))
        {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|p| p.as_str().map(|p| p.trim().to_owned()))
                .collect(),
            Some(Value::String(one)) => vec![one.trim().to_owned()],
            _ => Vec::new(),
        };
        if active.enables(&profiles) {
            true
        } else {
            left_out.entry(profiles).or_default().push(id.clone());
            removed.insert(id.clone());
            false
        }
    });
    if !left_out.is_empty() {
        let groups: Vec<String> = left_out
            .iter()
            .map(|(profiles, ids)| {
                let ids: Vec<String> = ids.iter().map(|i| format!("`{i}`")).collect();
                let profiles: Vec<String> = profiles.iter().map(|p| format!("`{p}`")).collect();
                format!("{} (profile {})", ids.join(", "), profiles.join(" or "))
            })
            .collect();
        notes.add(format!(
            "{} service{} left out, as `docker compose up` leaves {} out without {}: {}; enable a profile with `--profile NAME` (repeatable) or `COMPOSE_PROFILES`",
            removed.len(),
            if removed.len() == 1 { "" } else { "s" },
            if removed.len() == 1 { "it" } else { "them" },
            if left_out.len() == 1 && left_out.keys().all(|p| p.len() == 1) {
                "its profile"
            } else {
                "their profiles"
            },
            groups.join("; ")
        ));
    }
    removed
}
