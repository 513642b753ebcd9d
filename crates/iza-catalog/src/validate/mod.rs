//! Defines [`compile`]: the wire model becomes a [`Catalog`], or every diagnostic at once.
//!
//! Compilation is pure (no I/O) and runs every named check even after one fails, as
//! vector's config compiler does, so a user fixes all problems in one round:
//! `ids` (duplicates), `refs` (unknown references), `ports` (conflicts and policy),
//! `deps` (dependency cycles), `agents` (tiers, reporting lines, coverage) and
//! `fields` (durations, checks) with `process` (what `iza up` needs: restart, stop,
//! dependency conditions) and `tasks` (schedules, triggers, actions, run policy).
//! [`compile_lenient`] runs the same checks and returns a partial catalog even when they fail
//! (`partial`), for views of broken manifests.

mod agents;
mod alerts;
mod broker_tls;
mod browser;
mod compare_action;
mod deps;
mod fields;
mod figure_conditions;
mod figures;
mod flow;
mod ids;
mod mcp;
mod outputs;
mod partial;
mod ports;
mod process;
mod refs;
mod store;
mod tasks;
mod workflows;

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{self, Code, Diagnostic};
use crate::manifest::raw::RawManifest;
use crate::model::Catalog;

pub use alerts::is_env_reference;

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
    let (catalog, diagnostics) = run(raw);
    if diagnostics.iter().any(Diagnostic::is_error) {
        Err(diagnostics)
    } else {
        Ok((catalog, diagnostics))
    }
}

/// Compiles the wire model leniently, for views that render whatever parsed: every
/// diagnostic (errors and warnings, sorted by position) and a catalog that is complete when
/// there are no errors and otherwise *partial*: the parts that would break a walk over it
/// (unresolved references, links that close a cycle) are dropped, while port conflicts and
/// other errors stay as written (see `validate/partial.rs`). A partial catalog is for
/// rendering; never run one.
pub fn compile_lenient(raw: &RawManifest) -> (Catalog, Vec<Diagnostic>) {
    let (mut catalog, diagnostics) = run(raw);
    if diagnostics.iter().any(Diagnostic::is_error) {
        partial::prune(&mut catalog);
    }
    (catalog, diagnostics)
}

/// Every check, then the catalog as built, whatever the checks found.
fn run(raw: &RawManifest) -> (Catalog, Vec<Diagnostic>) {
    let mut ctx = Ctx::new(raw);
    ids::check(&mut ctx);
    refs::check(&mut ctx);
    ports::check(&mut ctx);
    deps::check(&mut ctx);
    agents::check(&mut ctx);
    figures::ecosystem(&mut ctx);
    let catalog = fields::build(&mut ctx);
    // An empty manifest passes every check; say so, unless real errors already speak.
    if raw.services.is_empty() && !ctx.diagnostics.iter().any(Diagnostic::is_error) {
        ctx.push(
            Diagnostic::warning(Code::NoServices, "the manifest defines no services")
                .at(0..0)
                .hint("add `[services.<id>]` tables; an empty file is what `iza import ... > file` leaves when the import failed, so read its error"),
        );
    }
    let mut diagnostics = ctx.diagnostics;
    diagnostic::sort(&mut diagnostics);
    (catalog, diagnostics)
}
