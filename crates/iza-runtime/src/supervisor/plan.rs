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
        // Layers by counting each service's gates not placed yet (Kahn's algorithm): linear in
        // services and gates, so a chain of any length plans in one pass, without recursion.
        let index: std::collections::HashMap<&str, usize> = supervised
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect();
        let mut pending = vec![0usize; supervised.len()];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); supervised.len()];
        for (i, p) in supervised.iter().enumerate() {
            for gate in &p.gates {
                if let Some(&j) = index.get(gate.service.as_str()) {
                    pending[i] += 1;
                    dependents[j].push(i);
                }
            }
        }
        let mut placed = vec![false; supervised.len()];
        let mut wave: Vec<usize> = (0..supervised.len()).filter(|&i| pending[i] == 0).collect();
        let mut waves: Vec<Vec<Planned>> = Vec::new();
        while !wave.is_empty() {
            let mut next = Vec::new();
            for &i in &wave {
                placed[i] = true;
                for &d in &dependents[i] {
                    pending[d] -= 1;
                    if pending[d] == 0 {
                        next.push(d);
                    }
                }
            }
            next.sort_unstable();
            waves.push(wave.iter().map(|&i| supervised[i].clone()).collect());
            wave = next;
        }
        // Unreachable for a validated catalog (no cycle); start the rest together rather than
        // never.
        let blocked: Vec<Planned> = (0..supervised.len())
            .filter(|&i| !placed[i])
            .map(|i| supervised[i].clone())
            .collect();
        if !blocked.is_empty() {
            waves.push(blocked);
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

    /// Planning was quadratic in the length of a dependency chain (one pass over every
    /// remaining service per wave: 1.25 billion steps for a chain of 50,000); it is linear.
    #[test]
    fn a_long_chain_of_supervised_services_is_planned_in_linear_time() {
        use std::fmt::Write as _;
        const LENGTH: usize = 50_000;
        let mut text = String::new();
        for i in 0..LENGTH {
            let _ = writeln!(text, "[services.s{i}]\ncommand = [\"run\"]");
            if i + 1 < LENGTH {
                let _ = writeln!(text, "depends_on = [\"s{}\"]", i + 1);
            }
        }
        let catalog = catalog(&text);
        let started = std::time::Instant::now();
        let plan = Plan::of(&catalog);
        let took = started.elapsed();
        assert_eq!(plan.waves.len(), LENGTH);
        assert_eq!(plan.waves[0][0].id, format!("s{}", LENGTH - 1));
        assert_eq!(plan.waves[LENGTH - 1][0].id, "s0");
        assert!(
            took < std::time::Duration::from_secs(10),
            "planning took {took:?}"
        );
    }
}
