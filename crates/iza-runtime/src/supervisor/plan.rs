//! Defines [`Plan`]: the order in which the supervised services of a catalog start and stop.
//!
//! A service is supervised when it has a `command`. Its *gates* are the `depends_on` entries
//! that name another supervised service, with their conditions; dependencies without a
//! command (PostgreSQL run elsewhere, say) never gate. Waves group services whose gates all
//! lie in earlier waves: wave 0 has no gate, and services of one wave start in parallel. Stop
//! runs the waves backwards, so a service stops before what it depends on.
//!
//! It computes order only; waiting for conditions is `readiness.rs`'s job.

use iza_catalog::Catalog;
use iza_catalog::model::{Dependency, ProcessSpec};

/// One supervised service as the plan sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// Service id.
    pub id: String,
    /// How it runs.
    pub process: ProcessSpec,
    /// Whether it has a check (then `ready` means healthy).
    pub checked: bool,
    /// The dependencies it waits for: supervised ones only.
    pub gates: Vec<Dependency>,
}

/// The supervised services in start waves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Waves in start order; each wave in catalog order.
    pub waves: Vec<Vec<Planned>>,
}

impl Plan {
    /// The plan of a catalog. The catalog has no dependency cycle (it was validated), so every
    /// supervised service lands in a wave.
    pub fn of(catalog: &Catalog) -> Plan {
        let supervised: Vec<Planned> = catalog
            .services
            .values()
            .filter_map(|s| {
                let process = s.process.clone()?;
                let gates = s
                    .dependencies
                    .iter()
                    .filter(|d| {
                        catalog
                            .services
                            .get(&d.service)
                            .is_some_and(|dep| dep.process.is_some())
                    })
                    .cloned()
                    .collect();
                Some(Planned {
                    id: s.id.clone(),
                    process,
                    checked: s.check.is_some(),
                    gates,
                })
            })
            .collect();
        let mut wave_of: indexmap::IndexMap<&str, usize> = indexmap::IndexMap::new();
        let mut remaining: Vec<&Planned> = supervised.iter().collect();
        let mut waves: Vec<Vec<Planned>> = Vec::new();
        while !remaining.is_empty() {
            let (ready, blocked): (Vec<&Planned>, Vec<&Planned>) =
                remaining.into_iter().partition(|p| {
                    p.gates
                        .iter()
                        .all(|g| wave_of.contains_key(g.service.as_str()))
                });
            if ready.is_empty() {
                // Unreachable for a validated catalog; start the rest together rather than
                // never.
                waves.push(blocked.into_iter().cloned().collect());
                break;
            }
            let wave = waves.len();
            for p in &ready {
                wave_of.insert(&p.id, wave);
            }
            waves.push(ready.into_iter().cloned().collect());
            remaining = blocked;
        }
        Plan { waves }
    }

    /// Every supervised id, in start order.
    pub fn start_order(&self) -> impl Iterator<Item = &Planned> {
        self.waves.iter().flatten()
    }

    /// The waves in stop order (dependents first).
    pub fn stop_waves(&self) -> impl Iterator<Item = &Vec<Planned>> {
        self.waves.iter().rev()
    }

    /// The planned service with this id.
    pub fn get(&self, id: &str) -> Option<&Planned> {
        self.start_order().find(|p| p.id == id)
    }

    /// Number of supervised services.
    pub fn len(&self) -> usize {
        self.waves.iter().map(Vec::len).sum()
    }

    /// Whether nothing is supervised.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(services: &str) -> Catalog {
        let text = format!("version = 1\n{services}");
        let checked = iza_catalog::check(&iza_catalog::SourceFile::new(
            "t.toml",
            text,
            iza_catalog::Syntax::Toml,
        ));
        checked
            .catalog
            .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics))
    }

    fn ids(waves: &[Vec<Planned>]) -> Vec<Vec<&str>> {
        waves
            .iter()
            .map(|w| w.iter().map(|p| p.id.as_str()).collect())
            .collect()
    }

    #[test]
    fn waves_follow_supervised_dependencies_only() {
        let plan = Plan::of(&catalog(
            r#"
[services.web]
command = ["web"]
depends_on = ["api", "cdn"]
[services.api]
command = ["api"]
depends_on = ["db", "cache", "migrate"]
[services.migrate]
command = ["migrate"]
depends_on = ["db"]
[services.cache]
command = ["cache"]
[services.db]
port = 5432
[services.cdn]
port = 8080
"#,
        ));
        assert_eq!(
            ids(&plan.waves),
            [vec!["migrate", "cache"], vec!["api"], vec!["web"]]
        );
        let api = plan.get("api").unwrap();
        let gates: Vec<&str> = api.gates.iter().map(|g| g.service.as_str()).collect();
        assert_eq!(gates, ["cache", "migrate"], "`db` has no command: no gate");
        let stop: Vec<Vec<&str>> = plan
            .stop_waves()
            .map(|w| w.iter().map(|p| p.id.as_str()).collect())
            .collect();
        assert_eq!(stop, [vec!["web"], vec!["api"], vec!["migrate", "cache"]]);
        assert_eq!(plan.len(), 4);
    }

    #[test]
    fn nothing_supervised_is_an_empty_plan() {
        let plan = Plan::of(&catalog("[services.db]\nport = 5432\n"));
        assert!(plan.is_empty());
    }
}
