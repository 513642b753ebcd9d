//! THE one door for a service's own verdict: [`ServiceHealth::apply`] takes one probe result
//! and returns the [`HealthChange`] it causes, if any. Every status the runtime shows starts
//! here; the dependency layer ([`super::board`]) only decides whether a failing service is
//! shown as the root cause or as *impacted by* one.
//!
//! Defines the two vocabularies:
//! - [`Health`]: what a service's own check says, through its thresholds:
//!   `unknown` (no result yet), `up`, `degraded`, `down`;
//! - [`Status`]: what the runtime shows: a health, or `impacted` by a root cause.
//!
//! The rules (also in `docs/monitor.md`), with `failure_threshold = F`, `success_threshold = S`:
//! - `F` consecutive failures make the service `down`;
//! - `S` consecutive passes make it `up`;
//! - fewer failures than `F` make an `up` (or `unknown`) service `degraded`: it is failing, not yet
//!   down; a `down` service stays `down`;
//! - fewer passes than `S` keep a `degraded` service `degraded` and a `down` service `down`: a
//!   recovery counts only once confirmed; an `unknown` service's first pass makes it `up`
//!   (there is nothing to recover from).
//!
//! So a flapping service (pass, fail, pass, fail...) with `F > 1` turns `degraded` once and stays
//! there, instead of alerting on every flip; with `F = 1` (the default) every failure is `down`.

use std::fmt;

use iza_catalog::model::Check;
use iza_probe::ProbeResult;
use iza_store::Millis;
use serde::{Deserialize, Serialize};

/// What a service's own check says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// No result yet (or the service has no check).
    #[default]
    Unknown,
    /// Passing.
    Up,
    /// Failing, but fewer times in a row than the failure threshold; or recovering from that
    /// and not yet passing the success threshold.
    Degraded,
    /// Failed the failure threshold's number of times in a row, and has not yet passed the
    /// success threshold's number of times in a row since.
    Down,
}

impl Health {
    /// `unknown`, `up`, `degraded` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Degraded => "degraded",
            Health::Down => "down",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the runtime shows for a service: its own [`Health`], or `impacted` when something it
/// depends on (transitively) is down. Serialized as `{"status": "up"}` or
/// `{"status": "impacted", "by": "db"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    /// No verdict yet: no result, no check, or failing while a dependency is not known yet.
    #[default]
    Unknown,
    /// Passing.
    Up,
    /// Failing, not yet down (see [`Health::Degraded`]).
    Degraded,
    /// Down, and the root cause: nothing it depends on is down.
    Down,
    /// A service it depends on, directly or through others, is down: `by` is that root cause.
    Impacted {
        /// The root cause's service id.
        by: String,
    },
}

impl Status {
    /// The status a health is shown as when no dependency interferes.
    pub fn of_health(health: Health) -> Status {
        match health {
            Health::Unknown => Status::Unknown,
            Health::Up => Status::Up,
            Health::Degraded => Status::Degraded,
            Health::Down => Status::Down,
        }
    }

    /// `unknown`, `up`, `degraded`, `down` or `impacted`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Up => "up",
            Status::Degraded => "degraded",
            Status::Down => "down",
            Status::Impacted { .. } => "impacted",
        }
    }

    /// The root cause, when impacted.
    pub fn impacted_by(&self) -> Option<&str> {
        match self {
            Status::Impacted { by } => Some(by),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Impacted { by } => write!(f, "impacted by `{by}`"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// How many results in a row change a verdict; both at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Consecutive failures before `down`.
    pub failure: u32,
    /// Consecutive passes before `up` again.
    pub success: u32,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            failure: 1,
            success: 1,
        }
    }
}

impl Thresholds {
    /// The thresholds a check states (a zero, which a validated check never has, reads as 1).
    pub fn of(check: &Check) -> Thresholds {
        Thresholds {
            failure: check.failure_threshold.max(1),
            success: check.success_threshold.max(1),
        }
    }
}

/// A change of a service's own health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    /// Before.
    pub from: Health,
    /// After.
    pub to: Health,
    /// Why, for a person: the failure message, or how many passes confirmed the recovery.
    pub reason: String,
}

/// The counters a verdict is computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streak {
    /// The verdict.
    pub health: Health,
    /// Failures in a row up to the latest result.
    pub failures: u32,
    /// Passes in a row up to the latest result.
    pub successes: u32,
}

/// The pure rule: the verdict after one more result. See the module documentation.
pub fn step(streak: Streak, passed: bool, thresholds: Thresholds) -> Streak {
    let (failures, successes) = if passed {
        (0, streak.successes.saturating_add(1))
    } else {
        (streak.failures.saturating_add(1), 0)
    };
    let health = match (passed, streak.health) {
        (false, _) if failures >= thresholds.failure => Health::Down,
        (true, _) if successes >= thresholds.success => Health::Up,
        (true, Health::Unknown | Health::Up) => Health::Up,
        (true, Health::Degraded) => Health::Degraded,
        (true, Health::Down) | (false, Health::Down) => Health::Down,
        (false, Health::Unknown | Health::Up | Health::Degraded) => Health::Degraded,
    };
    Streak {
        health,
        failures,
        successes,
    }
}

/// One service's own verdict, fed one probe result at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceHealth {
    streak: Streak,
    thresholds: Thresholds,
    since: Option<Millis>,
}

impl ServiceHealth {
    /// A service with no result yet.
    pub fn new(thresholds: Thresholds) -> ServiceHealth {
        ServiceHealth {
            streak: Streak::default(),
            thresholds,
            since: None,
        }
    }

    /// THE one door: applies one probe result received at `now` and returns the change of
    /// health it causes, if any.
    pub fn apply(&mut self, result: &ProbeResult, now: Millis) -> Option<HealthChange> {
        let before = self.streak.health;
        // A check that cannot run here (no Chromium) says nothing of the service: `unknown`.
        if let Some(failure) = result
            .failure
            .as_ref()
            .filter(|f| f.reason == iza_probe::Reason::Unavailable)
        {
            self.streak = Streak::default();
            if before == Health::Unknown {
                return None;
            }
            self.since = Some(now);
            return Some(HealthChange {
                from: before,
                to: Health::Unknown,
                reason: failure.message.clone(),
            });
        }
        self.streak = step(self.streak, result.is_up(), self.thresholds);
        let after = self.streak.health;
        if before == after {
            return None;
        }
        self.since = Some(now);
        let reason = match &result.failure {
            Some(failure) if !result.is_up() => match self.streak.failures {
                1 => failure.message.clone(),
                n => format!("failed {n} times in a row: {}", failure.message),
            },
            _ => match self.streak.successes {
                1 => "the check passed".to_owned(),
                n => format!("the check passed {n} times in a row"),
            },
        };
        Some(HealthChange {
            from: before,
            to: after,
            reason,
        })
    }

    /// Sets the verdict from the last stored result when the runtime starts again: a pass
    /// resumes `up`, a failure `down`, both as settled (thresholds already met), so that a
    /// restart does not announce every service again.
    pub fn resume(&mut self, passed: bool, at: Millis) {
        self.streak = if passed {
            Streak {
                health: Health::Up,
                failures: 0,
                successes: self.thresholds.success,
            }
        } else {
            Streak {
                health: Health::Down,
                failures: self.thresholds.failure,
                successes: 0,
            }
        };
        self.since = Some(at);
    }

    /// Forgets the verdict: the next result decides as on the first probe. Used when a root
    /// cause has recovered, so that failures seen while it was down do not count against a
    /// dependent.
    pub fn restart(&mut self) {
        self.streak = Streak::default();
    }

    /// Changes the thresholds (a reload); the counters stay.
    pub fn set_thresholds(&mut self, thresholds: Thresholds) {
        self.thresholds = thresholds;
    }

    /// The verdict.
    pub fn health(&self) -> Health {
        self.streak.health
    }

    /// The counters behind it.
    pub fn streak(&self) -> Streak {
        self.streak
    }

    /// The thresholds in force.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// When the verdict last changed.
    pub fn since(&self) -> Option<Millis> {
        self.since
    }
}

/// What the runtime knows of one service: the row of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    /// Service id.
    pub service: String,
    /// What is shown: `status` (and `by` when impacted) at the top level of the JSON.
    #[serde(flatten)]
    pub status: Status,
    /// Its own check's verdict.
    pub own: Health,
    /// Whether it has a check (a service without one stays `unknown` unless impacted).
    pub checked: bool,
    /// When the shown status last changed (for a resumed status: its last result).
    pub since: Option<Millis>,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Passes in a row.
    pub consecutive_successes: u32,
    /// The latest probe.
    pub last: Option<crate::event::ProbeSummary>,
    /// For a check probed from several regions (`regions = [...]` on a shared store): each
    /// region's verdict and the quorum (`docs/scale-out.md`). `own` is then the verdict of the
    /// regions together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regional: Option<RegionalState>,
    /// Why the service is lowered to `degraded` although its own check passes: its workflow
    /// engine's failing workflows (`docs/workflows.md`). Kept while they fail, whatever the
    /// check says; it lowers only an `up`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_by: Option<String>,
}

/// How a check probed from several regions stands, region by region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionalState {
    /// How many regions must see the service down for it to be `down`.
    pub quorum: u32,
    /// Each listed region, in the manifest's order.
    pub regions: Vec<RegionState>,
    /// The regions that see it down now.
    pub down: Vec<String>,
    /// A regional problem, for a person: regions that see it down (or failing) while fewer
    /// than the quorum do, and regions nobody probes from.
    pub problem: Option<String>,
}

/// One region's view of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionState {
    /// The region.
    pub region: String,
    /// Its own verdict, through the check's thresholds.
    pub own: Health,
    /// Its latest result (with the node that probed it).
    pub last: Option<crate::event::ProbeSummary>,
    /// No live node of this region: nobody probes the check from there.
    #[serde(default)]
    pub unprobed: bool,
}

/// The rule of a check probed from several regions: `down` when at least `quorum` regions see
/// it down; `degraded` (a regional problem) when fewer do, or when a region is failing below
/// its failure threshold; `up` when a region passes and none fails; `unknown` before any
/// region has a verdict. Regions nobody probes from count for nothing. Returns the verdict,
/// the regions that see it down, and the problem to show (`None` when nothing is amiss).
pub fn regional_verdict(
    regions: &[(&str, Health, bool)],
    quorum: usize,
) -> (Health, Vec<String>, Option<String>) {
    let of = |wanted: Health| -> Vec<String> {
        regions
            .iter()
            .filter(|(_, health, _)| *health == wanted)
            .map(|(region, _, _)| (*region).to_owned())
            .collect()
    };
    let down = of(Health::Down);
    let failing = of(Health::Degraded);
    let unprobed: Vec<String> = regions
        .iter()
        .filter(|(_, _, unprobed)| *unprobed)
        .map(|(region, _, _)| (*region).to_owned())
        .collect();
    let quoted = |list: &[String]| {
        list.iter()
            .map(|region| format!("`{region}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let total = regions.len();
    let health = if !down.is_empty() && down.len() >= quorum {
        Health::Down
    } else if !down.is_empty() || !failing.is_empty() {
        Health::Degraded
    } else if regions.iter().any(|(_, health, _)| *health == Health::Up) {
        Health::Up
    } else {
        Health::Unknown
    };
    let mut problems = Vec::new();
    if health == Health::Down {
        problems.push(format!(
            "down from {} ({} of {total} regions, quorum {quorum})",
            quoted(&down),
            down.len()
        ));
    } else if !down.is_empty() {
        problems.push(format!(
            "a regional problem: down from {} only ({} of {total} regions, quorum {quorum})",
            quoted(&down),
            down.len()
        ));
    }
    if !failing.is_empty() {
        problems.push(format!("failing from {}", quoted(&failing)));
    }
    if !unprobed.is_empty() {
        problems.push(format!("no live node in {}", quoted(&unprobed)));
    }
    let problem = (!problems.is_empty()).then(|| problems.join("; "));
    (health, down, problem)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use iza_probe::{Facts, Failure, Outcome, Reason};

    use super::*;

    fn result(passed: bool) -> ProbeResult {
        ProbeResult {
            outcome: if passed { Outcome::Up } else { Outcome::Down },
            duration: Duration::from_millis(3),
            facts: Facts::default(),
            failure: (!passed).then(|| Failure::new(Reason::Condition, "[STATUS] (503) == 200")),
        }
    }

    /// Feeds `results` (`+` pass, `-` fail) and returns the health after each, one letter
    /// each: `?` unknown, `U` up, `D` degraded, `X` down.
    fn run(thresholds: (u32, u32), results: &str) -> String {
        let mut health = ServiceHealth::new(Thresholds {
            failure: thresholds.0,
            success: thresholds.1,
        });
        results
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let before = health.health();
                let change = health.apply(&result(c == '+'), i as Millis);
                let after = health.health();
                // A change is reported exactly when the health changed.
                assert_eq!(
                    change.is_some(),
                    before != after,
                    "at result {i} of {results}"
                );
                match after {
                    Health::Unknown => '?',
                    Health::Up => 'U',
                    Health::Degraded => 'D',
                    Health::Down => 'X',
                }
            })
            .collect()
    }

    #[test]
    fn thresholds_decide_the_verdict() {
        let cases = [
            // (failure, success), results, verdicts, what it shows
            ((1, 1), "+-+", "UXU", "defaults: every result decides"),
            ((1, 1), "-", "X", "a first failure with threshold 1 is down"),
            (
                (3, 1),
                "---",
                "DDX",
                "three failures to go down, degraded before",
            ),
            ((3, 1), "--+", "DDU", "a pass before the threshold recovers"),
            ((3, 2), "+---+", "UDDXX", "down needs two passes to recover"),
            ((3, 2), "+---++", "UDDXXU", "two passes recover"),
            ((3, 2), "+--+", "UDDD", "degraded needs two passes too"),
            ((3, 2), "+--++", "UDDDU", "and recovers with them"),
            ((1, 3), "-+++", "XXXU", "down stays down until three passes"),
            ((1, 3), "-++-++", "XXXXXX", "a failure resets the passes"),
            ((2, 1), "+", "U", "an unknown service's first pass is up"),
            ((2, 5), "+", "U", "even with a success threshold above 1"),
            (
                (2, 1),
                "-",
                "D",
                "an unknown service's first failure below the threshold is degraded",
            ),
        ];
        for ((f, s), results, expected, what) in cases {
            assert_eq!(
                run((f, s), results),
                expected,
                "{what}: ({f}, {s}) {results}"
            );
        }
    }

    #[test]
    fn a_check_that_cannot_run_here_makes_the_service_unknown() {
        let mut health = ServiceHealth::new(Thresholds::default());
        health.apply(&result(true), 1);
        assert_eq!(health.health(), Health::Up);
        let mut unavailable = result(false);
        unavailable.failure = Some(Failure::new(
            Reason::Unavailable,
            "Chromium is not installed",
        ));
        let change = health.apply(&unavailable, 2).expect("a change");
        assert_eq!((change.from, change.to), (Health::Up, Health::Unknown));
        assert_eq!(change.reason, "Chromium is not installed");
        assert_eq!(health.apply(&unavailable, 3), None, "announced once");
        assert_eq!(
            health.apply(&result(true), 4).map(|c| c.to),
            Some(Health::Up)
        );
    }

    #[test]
    fn flapping_turns_degraded_once_and_stays_there() {
        let cases = [
            ((3, 2), "+-+-+-+-+-", "UDDDDDDDDD"),
            ((2, 2), "+-+-+-+-", "UDDDDDDD"),
            ((2, 2), "+-+-++", "UDDDDU"),
            // With a failure threshold of 1, flapping is real down/up.
            ((1, 1), "+-+-", "UXUX"),
            // Down while flapping below the success threshold stays down.
            ((1, 2), "-+-+-+", "XXXXXX"),
        ];
        for ((f, s), results, expected) in cases {
            assert_eq!(run((f, s), results), expected, "({f}, {s}) {results}");
        }
    }

    #[test]
    fn a_change_says_why() {
        let mut health = ServiceHealth::new(Thresholds {
            failure: 2,
            success: 2,
        });
        assert_eq!(
            health.apply(&result(true), 1).map(|c| c.reason),
            Some("the check passed".to_owned())
        );
        let degraded = health.apply(&result(false), 2).unwrap();
        assert_eq!((degraded.from, degraded.to), (Health::Up, Health::Degraded));
        assert_eq!(degraded.reason, "[STATUS] (503) == 200");
        let down = health.apply(&result(false), 3).unwrap();
        assert_eq!(
            down.reason,
            "failed 2 times in a row: [STATUS] (503) == 200"
        );
        assert_eq!(health.since(), Some(3));
        assert!(health.apply(&result(true), 4).is_none());
        let up = health.apply(&result(true), 5).unwrap();
        assert_eq!(up.reason, "the check passed 2 times in a row");
    }

    #[test]
    fn resume_settles_the_thresholds() {
        let thresholds = Thresholds {
            failure: 3,
            success: 2,
        };
        let mut health = ServiceHealth::new(thresholds);
        health.resume(true, 10);
        // One failure after a resumed up is degraded, not down, and a pass restores up.
        assert_eq!(
            health.apply(&result(false), 11).map(|c| c.to),
            Some(Health::Degraded)
        );
        let mut health = ServiceHealth::new(thresholds);
        health.resume(false, 10);
        // A resumed down stays down on failures without a new change.
        assert!(health.apply(&result(false), 11).is_none());
        assert_eq!(health.health(), Health::Down);
        health.restart();
        assert_eq!(health.health(), Health::Unknown);
        assert_eq!(
            health.apply(&result(true), 12).map(|c| c.to),
            Some(Health::Up)
        );
    }

    #[test]
    fn regions_make_it_down_only_at_the_quorum() {
        use Health::{Degraded, Down, Unknown, Up};
        /// (each region: name, verdict, unprobed), quorum, the verdict, the problem shown.
        type Case<'a> = (&'a [(&'a str, Health, bool)], usize, Health, &'a str);
        let cases: [Case; 7] = [
            (&[("eu", Up, false), ("us", Up, false)], 2, Up, ""),
            (
                &[("eu", Down, false), ("us", Up, false)],
                2,
                Degraded,
                "a regional problem: down from `eu` only (1 of 2 regions, quorum 2)",
            ),
            (
                &[("eu", Down, false), ("us", Down, false)],
                2,
                Down,
                "down from `eu`, `us` (2 of 2 regions, quorum 2)",
            ),
            (
                &[("eu", Down, false), ("us", Up, false)],
                1,
                Down,
                "down from `eu` (1 of 2 regions, quorum 1)",
            ),
            (
                &[("eu", Degraded, false), ("us", Up, false)],
                2,
                Degraded,
                "failing from `eu`",
            ),
            (
                &[("eu", Up, false), ("us", Unknown, true)],
                2,
                Up,
                "no live node in `us`",
            ),
            (
                &[("eu", Unknown, false), ("us", Unknown, false)],
                1,
                Unknown,
                "",
            ),
        ];
        for (regions, quorum, health, problem) in cases {
            let (got, down, shown) = regional_verdict(regions, quorum);
            assert_eq!(got, health, "{regions:?} quorum {quorum}");
            assert_eq!(shown.unwrap_or_default(), problem, "{regions:?}");
            assert_eq!(down.len(), regions.iter().filter(|r| r.1 == Down).count());
        }
    }

    #[test]
    fn statuses_serialize_as_tagged_objects() {
        let cases = [
            (Status::Up, r#"{"status":"up"}"#),
            (Status::Unknown, r#"{"status":"unknown"}"#),
            (
                Status::Impacted { by: "db".into() },
                r#"{"status":"impacted","by":"db"}"#,
            ),
        ];
        for (status, json) in cases {
            assert_eq!(serde_json::to_string(&status).unwrap(), json);
            assert_eq!(serde_json::from_str::<Status>(json).unwrap(), status);
        }
        assert_eq!(
            Status::Impacted { by: "db".into() }.to_string(),
            "impacted by `db`"
        );
    }
}
