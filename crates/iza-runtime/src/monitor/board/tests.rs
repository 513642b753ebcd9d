//! Tests of the status board: dependency chains, roots, settling, waiting, reloads and scale,
//! driven by synthetic probe results (the monitor's tests drive it with real servers).

use std::fmt::Write as _;
use std::time::Duration;

use iza_catalog::{SourceFile, Syntax};
use iza_probe::{Facts, Failure, Outcome, Reason};

use super::*;
use crate::reload::diff;

fn catalog(services: &str) -> Catalog {
    let text = format!("version = 1\n[ecosystem]\nname = \"t\"\n{services}");
    let checked = iza_catalog::check(&SourceFile::new("t.toml", text, Syntax::Toml));
    checked
        .catalog
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics))
}

/// `db ← api ← web ← edge`, each depending on the previous, thresholds 1.
fn chain() -> Catalog {
    catalog(
        r#"
[services.db]
check = { tcp = "127.0.0.1:1" }
[services.api]
depends_on = ["db"]
check = { tcp = "127.0.0.1:2" }
[services.web]
depends_on = ["api"]
check = { tcp = "127.0.0.1:3" }
[services.edge]
depends_on = ["web"]
check = { tcp = "127.0.0.1:4" }
"#,
    )
}

fn result(passed: bool) -> ProbeResult {
    ProbeResult {
        outcome: if passed { Outcome::Up } else { Outcome::Down },
        duration: Duration::from_millis(2),
        facts: Facts::default(),
        failure: (!passed).then(|| Failure::new(Reason::Connect, "connection refused")),
    }
}

/// One line per event a transition becomes.
fn render(transition: Transition) -> String {
    match transition.into_event_kind() {
        EventKind::StatusChanged {
            service,
            from,
            to,
            cause,
            ..
        } => {
            let cause = cause.map(|c| format!(" (cause {c})")).unwrap_or_default();
            format!("{service}: {from} -> {to}{cause}")
        }
        EventKind::ServiceImpacted {
            service, by, own, ..
        } => format!("{service}: impacted by {by} (own {own})"),
        EventKind::ServiceRecovered { service, by, to } => {
            format!("{service}: recovered from {by} -> {to}")
        }
        other => panic!("not a status event: {other:?}"),
    }
}

/// A board and a clock; `probe` applies a result and renders what it caused.
struct Harness {
    board: StatusBoard,
    now: Millis,
}

impl Harness {
    fn new(catalog: &Catalog) -> Harness {
        Harness {
            board: StatusBoard::new(catalog, 1),
            now: 1_000,
        }
    }

    /// A probe of `service` that started now and finished 1 ms later.
    fn probe(&mut self, service: &str, passed: bool) -> Vec<String> {
        let started = self.now;
        self.probe_started_at(service, passed, started)
    }

    fn probe_started_at(&mut self, service: &str, passed: bool, started: Millis) -> Vec<String> {
        self.now += 1;
        let summary = ProbeSummary::of(&result(passed), started, self.now);
        let applied = self
            .board
            .apply(service, 1, &result(passed), summary, self.now)
            .unwrap_or_else(|| panic!("`{service}` not applied"));
        applied.transitions.into_iter().map(render).collect()
    }

    /// Probes several services in turn and gathers what they caused.
    fn round(&mut self, probes: &[(&str, bool)]) -> Vec<String> {
        probes
            .iter()
            .flat_map(|(service, passed)| self.probe(service, *passed))
            .collect()
    }

    fn status(&self, service: &str) -> String {
        self.board
            .status(service)
            .map(ToString::to_string)
            .unwrap_or_default()
    }
}

const ALL_UP: [(&str, bool); 4] = [("db", true), ("api", true), ("web", true), ("edge", true)];

#[test]
fn a_root_cause_is_named_once_and_its_dependents_are_impacted_by_it() {
    let mut h = Harness::new(&chain());
    assert_eq!(
        h.round(&ALL_UP),
        [
            "db: unknown -> up",
            "api: unknown -> up",
            "web: unknown -> up",
            "edge: unknown -> up"
        ]
    );
    // `db` goes down: one root cause, three impacted.
    assert_eq!(
        h.probe("db", false),
        [
            "db: up -> down (cause db)",
            "api: impacted by db (own up)",
            "web: impacted by db (own up)",
            "edge: impacted by db (own up)",
        ]
    );
    // The dependents fail too, because of `db`: no alert of their own.
    let during: Vec<String> = h.round(&[
        ("api", false),
        ("web", false),
        ("edge", false),
        ("db", false),
    ]);
    assert!(during.is_empty(), "{during:?}");
    assert_eq!(h.status("edge"), "impacted by `db`");
    let edge = h.board.state("edge").unwrap();
    assert_eq!((edge.own, edge.consecutive_failures), (Health::Down, 1));
    // `db` recovers: the dependents settle from their next results.
    assert_eq!(h.probe("db", true), ["db: down -> up"]);
    assert_eq!(h.status("api"), "impacted by `db`");
    assert_eq!(h.probe("api", true), ["api: recovered from db -> up"]);
    // `edge`'s result comes before `web` settled: it updates its own health only.
    assert!(h.probe("edge", true).is_empty());
    assert_eq!(
        h.probe("web", true),
        [
            "web: recovered from db -> up",
            "edge: recovered from db -> up"
        ]
    );
    for service in ["db", "api", "web", "edge"] {
        assert_eq!(h.status(service), "up", "{service}");
    }
}

#[test]
fn a_result_from_a_probe_started_before_the_recovery_does_not_settle_a_dependent() {
    let mut h = Harness::new(&chain());
    h.round(&ALL_UP);
    h.round(&[
        ("db", false),
        ("api", false),
        ("web", false),
        ("edge", false),
    ]);
    let before_recovery = h.now;
    h.probe("db", true);
    // This probe of `api` started while `db` was still down: it failed, and proves nothing.
    assert!(h.probe_started_at("api", false, before_recovery).is_empty());
    assert_eq!(h.status("api"), "impacted by `db`");
    // A probe started after the recovery that still fails: `api` confirms with `db`'s next
    // result, then it is down on its own and the root cause of what depends on it.
    assert!(h.probe("api", false).is_empty());
    assert_eq!(h.status("api"), "impacted by `db`");
    assert_eq!(
        h.probe("db", true),
        [
            "api: impacted by `db` -> down (cause api)",
            "web: impacted by api (own down)",
            "edge: impacted by api (own down)",
        ]
    );
}

#[test]
fn a_dependent_that_fails_before_its_dependency_is_probed_waits_for_that_probe() {
    let mut h = Harness::new(&chain());
    h.round(&ALL_UP);
    // `db` broke; `api`, `web` and `edge` happen to be probed first.
    assert!(
        h.round(&[("api", false), ("edge", false), ("web", false)])
            .is_empty()
    );
    for service in ["api", "web", "edge"] {
        assert_eq!(
            h.status(service),
            "up",
            "{service} is kept while confirming"
        );
        assert_eq!(h.board.state(service).unwrap().own, Health::Down);
    }
    assert_eq!(
        h.probe("db", false),
        [
            "db: up -> down (cause db)",
            "api: impacted by db (own down)",
            "web: impacted by db (own down)",
            "edge: impacted by db (own down)",
        ]
    );

    // Had `db` passed, `api` would have been the root cause.
    let mut h = Harness::new(&chain());
    h.round(&ALL_UP);
    assert!(
        h.round(&[("web", false), ("api", false), ("edge", false)])
            .is_empty()
    );
    assert_eq!(
        h.probe("db", true),
        [
            "api: up -> down (cause api)",
            "web: impacted by api (own down)",
            "edge: impacted by api (own down)",
        ]
    );
    // A dependency's result from a probe started before the failure confirms nothing.
    let mut h = Harness::new(&chain());
    h.round(&ALL_UP);
    let before = h.now;
    assert!(h.probe("api", false).is_empty());
    assert!(h.probe_started_at("db", true, before - 1).is_empty());
    assert_eq!(h.status("api"), "up");
}

#[test]
fn a_dependent_waits_for_confirmation_no_longer_than_confirm_within() {
    let mut h = Harness::new(&chain());
    h.board.set_confirm_within(100);
    h.round(&ALL_UP);
    assert!(h.probe("api", false).is_empty());
    h.now += 50;
    assert!(h.probe("api", false).is_empty());
    // `db` is never probed again (say its interval is an hour): past 100 ms, at its own next
    // result, `api` is the root cause.
    h.now += 60;
    assert_eq!(
        h.probe("api", false),
        [
            "api: up -> down (cause api)",
            "web: impacted by api (own up)",
            "edge: impacted by api (own up)"
        ]
    );
}

#[test]
fn a_round_of_results_taken_together_names_one_root_in_any_order() {
    let failing = result(false);
    let passing = result(true);
    let rounds: [&[(&str, &ProbeResult)]; 3] = [
        &[
            ("edge", &failing),
            ("web", &failing),
            ("api", &failing),
            ("db", &failing),
        ],
        &[
            ("db", &failing),
            ("api", &failing),
            ("web", &failing),
            ("edge", &failing),
        ],
        &[
            ("web", &failing),
            ("db", &failing),
            ("edge", &failing),
            ("api", &failing),
        ],
    ];
    for round in rounds {
        let mut board = StatusBoard::new(&chain(), 1);
        // Own healths at the moment of each event depend on the order; the verdicts do not.
        let mut lines: Vec<String> = board
            .apply_round(round, 100, 200)
            .into_iter()
            .map(|t| {
                render(t)
                    .split(" (own")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        lines.sort();
        assert_eq!(
            lines,
            [
                "api: impacted by db",
                "db: unknown -> down (cause db)",
                "edge: impacted by db",
                "web: impacted by db",
            ],
            "{:?}",
            round.iter().map(|(s, _)| s).collect::<Vec<_>>()
        );
    }
    // `db` passing, `api` failing: `api` is the root, whatever the order.
    let mut board = StatusBoard::new(&chain(), 1);
    let lines: Vec<String> = board
        .apply_round(
            &[
                ("web", &passing),
                ("api", &failing),
                ("edge", &passing),
                ("db", &passing),
            ],
            100,
            200,
        )
        .into_iter()
        .map(render)
        .collect();
    assert!(
        lines.contains(&"api: unknown -> down (cause api)".to_owned()),
        "{lines:?}"
    );
    assert_eq!(
        board.status("edge"),
        Some(&Status::Impacted { by: "api".into() })
    );
}

#[test]
fn a_passing_dependent_of_a_down_service_is_impacted_and_recovers_with_it() {
    let mut h = Harness::new(&chain());
    h.round(&ALL_UP);
    h.probe("db", false);
    assert!(
        h.round(&[("api", true), ("web", true), ("edge", true)])
            .is_empty()
    );
    assert_eq!(h.board.state("api").unwrap().own, Health::Up);
    assert_eq!(
        h.probe("db", true),
        [
            "db: down -> up",
            "api: recovered from db -> up",
            "web: recovered from db -> up",
            "edge: recovered from db -> up",
        ]
    );
}

#[test]
fn a_failing_service_waits_for_its_dependencies_first_verdict() {
    let mut h = Harness::new(&chain());
    // `edge` is probed first and fails: nothing above it has a verdict yet.
    assert!(h.probe("edge", false).is_empty());
    assert_eq!(h.status("edge"), "unknown");
    assert!(h.probe("web", false).is_empty());
    // `db` is down: the root, and everything above it impacted, probed or not.
    assert_eq!(
        h.probe("db", false),
        [
            "db: unknown -> down (cause db)",
            "api: impacted by db (own unknown)",
            "web: impacted by db (own down)",
            "edge: impacted by db (own down)",
        ]
    );
    // Had `db` been up, the waiting service would have been down on its own.
    let mut h = Harness::new(&chain());
    h.probe("web", false);
    h.probe("db", true);
    assert_eq!(
        h.probe("api", true),
        [
            "api: unknown -> up",
            "web: unknown -> down (cause web)",
            "edge: impacted by web (own unknown)"
        ]
    );
}

#[test]
fn with_two_roots_the_first_dependency_is_named_then_the_other() {
    let mut h = Harness::new(&catalog(
        r#"
[services.cache]
check = { tcp = "127.0.0.1:1" }
[services.db]
check = { tcp = "127.0.0.1:2" }
[services.app]
depends_on = ["cache", "db"]
check = { tcp = "127.0.0.1:3" }
"#,
    ));
    h.round(&[("cache", true), ("db", true), ("app", true)]);
    assert_eq!(
        h.probe("db", false),
        ["db: up -> down (cause db)", "app: impacted by db (own up)"]
    );
    assert_eq!(
        h.probe("cache", false),
        [
            "cache: up -> down (cause cache)",
            "app: impacted by cache (own up)"
        ]
    );
    assert_eq!(
        h.probe("cache", true),
        ["cache: down -> up", "app: impacted by db (own up)"]
    );
    assert_eq!(
        h.probe("db", true),
        ["db: down -> up", "app: recovered from db -> up"]
    );
}

#[test]
fn impact_passes_through_a_service_without_a_check() {
    let mut h = Harness::new(&catalog(
        r#"
[services.db]
check = { tcp = "127.0.0.1:1" }
[services.app]
depends_on = ["db"]
[services.web]
depends_on = ["app"]
check = { tcp = "127.0.0.1:3" }
"#,
    ));
    // `web` fails before `db` has a verdict: it waits, through `app`.
    assert!(h.probe("web", false).is_empty());
    assert_eq!(
        h.probe("db", false),
        [
            "db: unknown -> down (cause db)",
            "app: impacted by db (own unknown)",
            "web: impacted by db (own down)",
        ]
    );
    assert!(!h.board.state("app").unwrap().checked);
    assert_eq!(
        h.probe("db", true),
        ["db: down -> up", "app: recovered from db -> unknown"]
    );
    assert_eq!(h.probe("web", true), ["web: recovered from db -> up"]);
}

#[test]
fn thresholds_apply_to_the_root_and_settling_dependents_start_afresh() {
    let mut h = Harness::new(&catalog(
        r#"
[services.db]
check = { tcp = "127.0.0.1:1", failure_threshold = 2, success_threshold = 2 }
[services.api]
depends_on = ["db"]
check = { tcp = "127.0.0.1:2", failure_threshold = 3, success_threshold = 2 }
"#,
    ));
    h.round(&[("db", true), ("api", true)]);
    assert_eq!(h.probe("db", false), ["db: up -> degraded"]);
    // `api` fails after `db`'s latest probe: it waits for `db`'s next result.
    assert!(h.probe("api", false).is_empty());
    assert_eq!(
        h.probe("db", false),
        [
            "db: degraded -> down (cause db)",
            "api: impacted by db (own degraded)"
        ]
    );
    assert!(
        h.round(&[("api", false), ("api", false), ("db", true)])
            .is_empty()
    );
    assert_eq!(h.board.state("api").unwrap().own, Health::Down);
    assert_eq!(h.probe("db", true), ["db: down -> up"]);
    // `api` was down with a success threshold of 2; it starts afresh, so one pass is up.
    assert_eq!(h.probe("api", true), ["api: recovered from db -> up"]);
}

#[test]
fn a_stale_generation_or_an_unknown_service_changes_nothing() {
    let mut board = StatusBoard::new(&chain(), 3);
    let summary = ProbeSummary::of(&result(false), 1, 2);
    assert!(
        board
            .apply("db", 2, &result(false), summary.clone(), 2)
            .is_none()
    );
    assert!(
        board
            .apply("nope", 3, &result(false), summary.clone(), 2)
            .is_none()
    );
    assert_eq!(board.status("db"), Some(&Status::Unknown));
    assert!(board.apply("db", 3, &result(false), summary, 2).is_some());
    assert_eq!(board.status("db"), Some(&Status::Down));
}

#[test]
fn resumed_results_set_statuses_without_transitions() {
    let mut board = StatusBoard::new(&chain(), 1);
    let record = |service: &str, up: bool, at: Millis| ResultRecord {
        service: service.to_owned(),
        at,
        up,
        latency_ms: 1.0,
        message: None,
        ..Default::default()
    };
    let latest = [
        record("db", false, 9_000),
        record("api", false, 9_500),
        record("web", true, 9_000),
        // Too old: `edge` starts unknown.
        record("edge", true, 1_000),
        record("removed-since", true, 9_000),
    ];
    assert_eq!(board.resume(&latest, 10_000, 5_000), 3);
    let states = board.states();
    let shown: Vec<(String, String)> = states
        .iter()
        .map(|s| (s.service.clone(), s.status.to_string()))
        .collect();
    assert_eq!(
        shown,
        [
            ("db".to_owned(), "down".to_owned()),
            ("api".to_owned(), "impacted by `db`".to_owned()),
            ("web".to_owned(), "impacted by `db`".to_owned()),
            ("edge".to_owned(), "impacted by `db`".to_owned()),
        ]
    );
    assert_eq!(states[0].since, Some(9_000));
    // A pass of the resumed-down root recovers it; `api`, resumed down, settles from its next
    // result, and what depends on it waits behind it.
    let summary = ProbeSummary::of(&result(true), 10_001, 10_002);
    let applied = board
        .apply("db", 1, &result(true), summary, 10_002)
        .unwrap();
    let rendered: Vec<String> = applied.transitions.into_iter().map(render).collect();
    assert_eq!(rendered, ["db: down -> up"]);
}

#[test]
fn a_reload_re_reads_dependencies_and_keeps_statuses() {
    let old = chain();
    let mut h = Harness::new(&old);
    h.round(&ALL_UP);
    h.probe("db", false);
    // `web` no longer depends on `api`; `db` is removed; `cache` is added under `edge`.
    let new = catalog(
        r#"
[services.api]
check = { tcp = "127.0.0.1:2" }
[services.web]
check = { tcp = "127.0.0.1:3" }
[services.cache]
check = { tcp = "127.0.0.1:5" }
[services.edge]
depends_on = ["web", "cache"]
check = { tcp = "127.0.0.1:4" }
"#,
    );
    let changes = diff(&old, &new);
    assert_eq!(changes.removed, ["db"]);
    assert_eq!(changes.added, ["cache"]);
    assert!(changes.changed.is_empty());
    let transitions: Vec<String> = h
        .board
        .reload(&new, &changes, 2, h.now)
        .into_iter()
        .map(render)
        .collect();
    // Their own checks passed all along: they recover at once.
    assert_eq!(
        transitions,
        [
            "api: recovered from db -> up",
            "web: recovered from db -> up",
            "edge: recovered from db -> up"
        ]
    );
    let ids: Vec<String> = h.board.states().into_iter().map(|s| s.service).collect();
    assert_eq!(ids, ["api", "web", "cache", "edge"]);
    assert_eq!(h.status("cache"), "unknown");
    // Kept services keep generation 1; the added one has the reload's.
    assert_eq!(h.board.generation("api"), Some(1));
    assert_eq!(h.board.generation("cache"), Some(2));
}

#[test]
fn a_reload_that_removes_a_check_makes_the_service_unknown() {
    let old = chain();
    let mut h = Harness::new(&old);
    h.round(&ALL_UP);
    let new = catalog(
        r#"
[services.db]
[services.api]
depends_on = ["db"]
check = { tcp = "127.0.0.1:2" }
[services.web]
depends_on = ["api"]
check = { tcp = "127.0.0.1:3" }
[services.edge]
depends_on = ["web"]
check = { tcp = "127.0.0.1:4" }
"#,
    );
    let changes = diff(&old, &new);
    assert_eq!(changes.changed, ["db"]);
    let transitions: Vec<String> = h
        .board
        .reload(&new, &changes, 2, h.now)
        .into_iter()
        .map(render)
        .collect();
    assert_eq!(transitions, ["db: up -> unknown"]);
    assert!(!h.board.state("db").unwrap().checked);
}

/// Builds `n` services: `root`, then layers where each service depends on one or two of the
/// previous layer's.
fn wide_catalog(n: usize) -> Catalog {
    let mut text = String::from("[services.s0]\ncheck = { tcp = \"127.0.0.1:1\" }\n");
    for i in 1..n {
        let a = (i - 1) / 3;
        let b = i.saturating_sub(2) / 3;
        let depends_on = if a == b {
            format!("\"s{a}\"")
        } else {
            format!("\"s{a}\", \"s{b}\"")
        };
        let _ = writeln!(
            text,
            "[services.s{i}]\ndepends_on = [{depends_on}]\ncheck = {{ tcp = \"127.0.0.1:1\" }}"
        );
    }
    catalog(&text)
}

#[test]
fn ten_thousand_services_are_impacted_and_recover_in_one_pass_each() {
    let n = 10_000;
    let mut h = Harness::new(&wide_catalog(n));
    for i in 0..n {
        h.probe(&format!("s{i}"), true);
    }
    let down = h.probe("s0", false);
    assert_eq!(down.len(), n);
    assert_eq!(down[0], "s0: up -> down (cause s0)");
    assert!(
        down[1..]
            .iter()
            .all(|l| l.ends_with("impacted by s0 (own up)"))
    );
    // A repeated failure changes nothing and touches nothing.
    assert!(h.probe("s0", false).is_empty());
    // A leaf failing while impacted changes nothing either.
    assert!(h.probe(&format!("s{}", n - 1), false).is_empty());
    let up = h.probe("s0", true);
    // Everyone recovers except the failing leaf, which settles from its next result.
    assert_eq!(up.len(), n - 1);
    assert_eq!(h.status(&format!("s{}", n - 1)), "impacted by `s0`");
    assert_eq!(
        h.probe(&format!("s{}", n - 1), true),
        [format!("s{}: recovered from s0 -> up", n - 1)]
    );
}

#[test]
fn a_long_chain_propagates_to_its_end() {
    let n = 2_000;
    let mut text = String::from("[services.c0]\ncheck = { tcp = \"127.0.0.1:1\" }\n");
    for i in 1..n {
        let _ = writeln!(
            text,
            "[services.c{i}]\ndepends_on = [\"c{}\"]\ncheck = {{ tcp = \"127.0.0.1:1\" }}",
            i - 1
        );
    }
    let mut h = Harness::new(&catalog(&text));
    for i in 0..n {
        h.probe(&format!("c{i}"), true);
    }
    assert_eq!(h.probe("c0", false).len(), n);
    assert_eq!(h.status(&format!("c{}", n - 1)), "impacted by `c0`");
    assert_eq!(h.probe("c0", true).len(), n);
}

/// `web` probed from `eu` and `us`, quorum 2, with `api` depending on it.
fn regional() -> Catalog {
    catalog(
        r#"
[services.web]
check = { tcp = "127.0.0.1:1", regions = ["eu", "us"], quorum = 2 }
[services.api]
depends_on = ["web"]
check = { tcp = "127.0.0.1:2" }
"#,
    )
}

/// A probe of `service` from `region`, started now.
fn probe_from(h: &mut Harness, service: &str, region: &str, passed: bool) -> Vec<String> {
    let started = h.now;
    h.now += 1;
    let mut summary = ProbeSummary::of(&result(passed), started, h.now);
    summary.node = Some(format!("node-{region}"));
    summary.region = Some(region.to_owned());
    let applied = h
        .board
        .apply(service, 1, &result(passed), summary, h.now)
        .unwrap();
    applied.transitions.into_iter().map(render).collect()
}

#[test]
fn a_check_probed_from_regions_is_down_only_at_its_quorum() {
    let catalog = regional();
    let mut h = Harness::new(&catalog);
    h.board.set_regional(&catalog);
    h.probe("api", true);
    assert_eq!(
        probe_from(&mut h, "web", "eu", true),
        ["web: unknown -> up"]
    );
    assert!(probe_from(&mut h, "web", "us", true).is_empty());
    // Down from one region of two: a regional problem, `degraded`; the dependent is not
    // impacted (only `down` is).
    assert_eq!(
        probe_from(&mut h, "web", "eu", false),
        ["web: up -> degraded"]
    );
    let state = h.board.state("web").unwrap();
    let regional = state.regional.clone().unwrap();
    assert_eq!(regional.down, ["eu"]);
    assert_eq!(
        regional.problem.as_deref(),
        Some("a regional problem: down from `eu` only (1 of 2 regions, quorum 2)")
    );
    assert_eq!(
        regional.regions[0].last.as_ref().unwrap().node.as_deref(),
        Some("node-eu")
    );
    assert_eq!(h.status("api"), "up");
    // From both: down, and the dependent is impacted.
    assert_eq!(
        probe_from(&mut h, "web", "us", false),
        [
            "web: degraded -> down (cause web)",
            "api: impacted by web (own up)"
        ]
    );
    // Another node's result of one region (followed from the store) counts the same.
    let record = ResultRecord {
        service: "web".to_owned(),
        at: h.now + 1,
        up: true,
        latency_ms: 1.0,
        node: Some("node-us-2".to_owned()),
        region: Some("us".to_owned()),
        ..Default::default()
    };
    let rendered: Vec<String> = h
        .board
        .follow(&[record], h.now + 2)
        .into_iter()
        .map(render)
        .collect();
    assert_eq!(
        rendered,
        ["web: down -> degraded", "api: recovered from web -> up"]
    );
    // A region nobody probes from is shown, and counts for nothing.
    let (changed, _) = h
        .board
        .set_unprobed(&["us".to_owned()].into_iter().collect(), h.now + 3);
    assert_eq!(changed, ["web"]);
    let regional = h.board.state("web").unwrap().regional.unwrap();
    assert!(regional.regions[1].unprobed);
    assert!(regional.problem.unwrap().contains("no live node in `us`"),);
}

#[test]
fn without_the_regional_mode_a_check_with_regions_is_judged_as_any_check() {
    let catalog = regional();
    let mut h = Harness::new(&catalog);
    h.probe("api", true);
    assert_eq!(
        probe_from(&mut h, "web", "eu", false),
        [
            "web: unknown -> down (cause web)",
            "api: impacted by web (own up)"
        ]
    );
    assert!(h.board.state("web").unwrap().regional.is_none());
}

#[test]
fn an_advisory_lowers_up_to_degraded_and_never_decides_up_or_down() {
    let mut h = Harness::new(&chain());
    h.round(&ALL_UP);
    let failing = "1 workflow failing: `Orders` (success rate 10.0% under 90.0%)".to_owned();
    // Lowered, with the advisory as the reason; the dependents are not impacted.
    h.now += 1;
    let transitions = h.board.advise("db", Some(failing.clone()), h.now).unwrap();
    assert_eq!(transitions.len(), 1, "{transitions:?}");
    assert_eq!(transitions[0].reason.as_deref(), Some(failing.as_str()));
    assert_eq!(render(transitions[0].clone()), "db: up -> degraded");
    assert_eq!(h.status("api"), "up");
    assert_eq!(
        h.board.state("db").unwrap().degraded_by.as_deref(),
        Some(failing.as_str())
    );
    // New words, same verdict: nothing announced; a passing probe keeps it degraded.
    let again = h
        .board
        .advise("db", Some("2 workflows failing".into()), h.now);
    assert_eq!(again, Some(Vec::new()));
    assert!(h.probe("db", true).is_empty());
    assert_eq!(h.status("db"), "degraded");
    // The check still decides down (and impact), and up again under the advisory is degraded.
    assert_eq!(
        h.probe("db", false),
        [
            "db: degraded -> down (cause db)",
            "api: impacted by db (own up)",
            "web: impacted by db (own up)",
            "edge: impacted by db (own up)",
        ]
    );
    let back = h.probe("db", true);
    assert_eq!(back[0], "db: down -> degraded", "{back:?}");
    // Lifted: up again, with a reason.
    h.now += 1;
    let lifted = h.board.advise("db", None, h.now).unwrap();
    assert_eq!(render(lifted[0].clone()), "db: degraded -> up");
    assert_eq!(lifted[0].reason.as_deref(), Some("its workflows recovered"));
    assert_eq!(h.board.state("db").unwrap().degraded_by, None);
    // A service whose check has no verdict yet stays unknown; an unknown id is `None`.
    let mut fresh = Harness::new(&chain());
    assert!(
        fresh
            .board
            .advise("db", Some("x".into()), 5)
            .unwrap()
            .is_empty()
    );
    assert_eq!(fresh.status("db"), "unknown");
    assert!(fresh.board.advise("nope", None, 5).is_none());
    let _ = fresh.probe("db", true);
    assert_eq!(fresh.status("db"), "degraded");
}
