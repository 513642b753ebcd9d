//! Defines [`compile`]: the wire model becomes a [`Catalog`], or every diagnostic at once.
//!
//! Compilation is pure (no I/O) and runs every named check even after one fails, as
//! vector's config compiler does, so a user fixes all problems in one round:
//! `ids` (duplicates), `refs` (unknown references), `ports` (conflicts and policy),
//! `deps` (dependency cycles), `agents` (tiers, reporting lines, coverage) and
//! `fields` (durations, checks) with `process` (what `iza up` needs: restart, stop,
//! dependency conditions) and `tasks` (schedules, triggers, actions, run policy).

mod agents;
mod deps;
mod fields;
mod ids;
mod ports;
mod process;
mod refs;
mod tasks;

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{self, Diagnostic};
use crate::manifest::raw::RawManifest;
use crate::model::Catalog;

/// Diagnostics collected while compiling, plus lookups the checks share.
pub(crate) struct Ctx<'a> {
    pub(crate) raw: &'a RawManifest,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Index of each service id in `raw.services`.
    pub(crate) service_index: HashMap<&'a str, usize>,
    group_ids: HashSet<&'a str>,
    agent_ids: HashSet<&'a str>,
}

impl<'a> Ctx<'a> {
    fn new(raw: &'a RawManifest) -> Ctx<'a> {
        let service_index = raw
            .services
            .keys()
            .enumerate()
            .map(|(i, k)| (k.get().as_str(), i))
            .collect();
        Ctx {
            raw,
            diagnostics: Vec::new(),
            service_index,
            group_ids: raw.groups.keys().map(|k| k.get().as_str()).collect(),
            agent_ids: raw.agents.keys().map(|k| k.get().as_str()).collect(),
        }
    }

    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub(crate) fn is_service(&self, id: &str) -> bool {
        self.service_index.contains_key(id)
    }

    pub(crate) fn is_group(&self, id: &str) -> bool {
        self.group_ids.contains(id)
    }

    pub(crate) fn is_agent(&self, id: &str) -> bool {
        self.agent_ids.contains(id)
    }
}

/// Compiles the wire model into a catalog. On success it returns the catalog and the
/// warnings; on failure every diagnostic, errors and warnings, sorted by position.
pub fn compile(raw: &RawManifest) -> Result<(Catalog, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut ctx = Ctx::new(raw);
    ids::check(&mut ctx);
    refs::check(&mut ctx);
    ports::check(&mut ctx);
    deps::check(&mut ctx);
    agents::check(&mut ctx);
    let catalog = fields::build(&mut ctx);
    let mut diagnostics = ctx.diagnostics;
    diagnostic::sort(&mut diagnostics);
    if diagnostics.iter().any(Diagnostic::is_error) {
        Err(diagnostics)
    } else {
        Ok((catalog, diagnostics))
    }
}
