//! The analysis report (`iza report`) rendered from `fixtures/report/small.toml`: its whole
//! text as a snapshot, every service, port, Docker reference, agent and task of the catalog
//! present in it, its headings in the seed's order, and live facts when given. The checks
//! that are computed from the catalog also run on the curated seed, `examples/iza-os`.

use std::collections::HashMap;
use std::path::Path;

use iza_catalog::export::report::{LiveStatus, ReportOptions, ServiceFacts, render, render_with};
use iza_catalog::model::{PortSpec, Priority};
use iza_catalog::{Catalog, SourceFile, Syntax};

fn compile(name: &str, text: &str) -> Catalog {
    let source = SourceFile::new(name, text.to_owned(), Syntax::Toml);
    let checked = iza_catalog::check(&source);
    let errors: Vec<_> = checked.errors().map(|d| d.message.clone()).collect();
    checked
        .catalog
        .unwrap_or_else(|| panic!("{name} should compile, got {errors:?}"))
}

fn load(relative: &str) -> Catalog {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{relative} should be readable: {e}"));
    compile(relative, &text)
}

fn small() -> Catalog {
    load("fixtures/report/small.toml")
}

/// Every manifest the catalog-computed checks run on, with its rendered report.
fn manifests() -> Vec<(&'static str, Catalog, String)> {
    ["fixtures/report/small.toml", "examples/iza-os/iza.toml"]
        .into_iter()
        .map(|name| {
            let catalog = load(name);
            let report = render(&catalog);
            (name, catalog, report)
        })
        .collect()
}

fn port_text(port: PortSpec) -> String {
    match port {
        PortSpec::Single(p) => p.to_string(),
        PortSpec::Range((a, b)) => format!("{a}-{b}"),
    }
}

/// The text of one section: from its heading to the next heading of the same or a higher level.
fn section<'r>(report: &'r str, heading: &str) -> &'r str {
    let level = heading.chars().take_while(|c| *c == '#').count();
    let start = report
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no heading `{heading}`"));
    let body = &report[start + 1..];
    let end = body
        .lines()
        .skip(1)
        .scan(
            body.lines().next().map_or(0, |l| l.len() + 1),
            |offset, line| {
                let at = *offset;
                *offset += line.len() + 1;
                Some((at, line))
            },
        )
        .find(|(_, line)| {
            let hashes = line.chars().take_while(|c| *c == '#').count();
            hashes > 0 && hashes <= level && line[hashes..].starts_with(' ')
        })
        .map_or(body.len(), |(at, _)| at);
    &body[..end]
}

#[test]
fn small_report_snapshot() {
    insta::assert_snapshot!("small", render(&small()));
}

#[test]
fn report_is_deterministic() {
    let catalog = small();
    assert_eq!(render(&catalog), render(&catalog));
    assert_eq!(render(&catalog), render(&small()));
}

#[test]
fn every_fact_of_the_catalog_appears() {
    for (name, catalog, report) in manifests() {
        let mut expected: Vec<(String, String)> = Vec::new();
        for service in catalog.services.values() {
            expected.push((
                format!("service `{}`", service.id),
                format!("**{}**", service.name),
            ));
            for port in &service.ports {
                let port = port_text(*port);
                expected.push((format!("port {port} of `{}`", service.id), port));
            }
            if let Some(docker) = &service.docker {
                expected.push((format!("docker of `{}`", service.id), format!("`{docker}`")));
            }
        }
        for agent in catalog.agents.values() {
            expected.push((
                format!("agent `{}`", agent.id),
                format!("**{}**", agent.name),
            ));
        }
        for task in &catalog.tasks {
            expected.push((
                format!("task `{}`", task.name),
                format!("**{}**", task.name),
            ));
        }
        for (what, needle) in &expected {
            // Ports are checked in the forms the report writes them: `3000`, host:3000, (3000).
            let found = if what.starts_with("port ") {
                [
                    format!("`{needle}`"),
                    format!(":{needle}`"),
                    format!("({needle})"),
                ]
                .iter()
                .any(|form| report.contains(form.as_str()))
            } else if what.starts_with("service ") {
                // Top-level services are headings, children are list items under their hub.
                report.contains(&format!("### {}", &needle[2..needle.len() - 2]))
                    || report.contains(&format!("- {needle}"))
            } else {
                report.contains(needle.as_str())
            };
            assert!(
                found,
                "{name}: {what}: `{needle}` is missing from the report"
            );
        }
        assert!(expected.len() > 30, "{name} should exercise the report");
    }
}

#[test]
fn every_service_is_described_once_and_children_under_their_hub() {
    for (name, catalog, report) in manifests() {
        for service in catalog.services.values() {
            let heading = format!("### {} - `", service.name);
            let child = format!("- **{}** (", service.name);
            let places = report.matches(&heading).count() + report.matches(&child).count();
            assert_eq!(
                places, 1,
                "{name}: `{}` is described {places} times",
                service.id
            );
            if let Some(parent) = &service.parent {
                let hub = &catalog.services[parent];
                let range = hub
                    .owned_ranges()
                    .next()
                    .map(|(a, b)| format!("{a}-{b}"))
                    .expect("hubs with children own a range");
                let hub_section = section(
                    &report,
                    &format!("### {} - `{}:{range}`", hub.name, hub.host),
                );
                assert!(
                    hub_section.contains(&child),
                    "{name}: `{}` should be listed under its hub `{parent}`",
                    service.id
                );
            }
        }
    }
}

#[test]
fn tasks_are_listed_under_their_priority() {
    for (name, catalog, report) in manifests() {
        let headings = [
            (Priority::High, "### High-Priority Tasks"),
            (Priority::Medium, "### Medium-Priority Tasks"),
            (Priority::Low, "### Low-Priority Tasks"),
        ];
        for (priority, heading) in headings {
            let body = section(&report, heading);
            let tasks: Vec<_> = catalog
                .tasks
                .iter()
                .filter(|t| t.priority == priority)
                .collect();
            assert!(
                name != "fixtures/report/small.toml" || !tasks.is_empty(),
                "the fixture should have {priority:?} tasks"
            );
            for (i, task) in tasks.iter().enumerate() {
                let item = format!("{}. **{}**", i + 1, task.name);
                assert!(body.contains(&item), "{name}: {heading}: missing `{item}`");
                if let Some(agent) = &task.agent {
                    let owner = &catalog.agents[agent].name;
                    let line = body
                        .lines()
                        .find(|l| l.starts_with(&item))
                        .unwrap_or_default();
                    assert!(
                        line.contains(owner.as_str()),
                        "`{item}` should name its agent `{owner}`"
                    );
                }
            }
            let items = body.lines().filter(|l| l.contains(". **")).count();
            assert_eq!(
                items,
                tasks.len(),
                "{name}: {heading} lists exactly its tasks"
            );
        }
    }
}

#[test]
fn agents_are_listed_under_their_tier() {
    for (name, catalog, report) in manifests() {
        let tiers = [
            (1, "### Tier 1: System Orchestrators"),
            (2, "### Tier 2: Service Managers"),
            (3, "### Tier 3: Specialized Workers"),
        ];
        for (tier, heading) in tiers {
            let body = section(&report, heading);
            for agent in catalog.agents.values() {
                let item = format!("- **{}**", agent.name);
                assert_eq!(
                    body.contains(&item),
                    agent.tier == tier,
                    "{name}: {heading}: `{}` (tier {})",
                    agent.id,
                    agent.tier
                );
            }
        }
    }
}

#[test]
fn watching_agents_are_listed_with_their_tasks() {
    for (name, catalog, report) in manifests() {
        let mut checked = 0;
        for service in catalog.services.values().filter(|s| s.parent.is_none()) {
            let heading = format!("### {} - `", service.name);
            let heading = report
                .lines()
                .find(|l| l.starts_with(&heading))
                .expect("top-level services have a heading");
            let own = section(&report, heading);
            for agent in catalog.watchers(service) {
                // Agents naming the service are listed in its section, agents watching its group
                // once in the group's `Agent Tasks for` section.
                let body = if agent.services.contains(&service.id) {
                    own
                } else {
                    let group =
                        &catalog.groups[service.group.as_deref().expect("watched via group")];
                    section(&report, &format!("### Agent Tasks for {}", group.name))
                };
                let line = body
                    .lines()
                    .find(|l| l.trim_start().starts_with(&format!("- **{}**", agent.name)))
                    .unwrap_or_else(|| {
                        panic!("`{}` watches `{}` but is not listed", agent.id, service.id)
                    });
                for task in catalog.tasks_of(&agent.id) {
                    assert!(
                        line.contains(&task.name),
                        "`{}` line lacks task `{}`",
                        agent.id,
                        task.name
                    );
                }
                checked += 1;
            }
        }
        assert!(checked >= 8, "{name} should have watchers of both kinds");
    }
}

#[test]
fn headings_follow_the_seed_order() {
    for (name, catalog, report) in manifests() {
        let mut expected = vec![format!(
            "# {} Ecosystem Services & Connections Analysis",
            catalog.ecosystem.name
        )];
        expected.push("## Executive Summary".to_owned());
        for group in catalog.groups.values() {
            expected.push(format!("## {}", group.name));
            if catalog
                .agents
                .values()
                .any(|a| a.groups.contains(&group.id))
            {
                expected.push(format!("### Agent Tasks for {}", group.name));
            }
        }
        if catalog
            .services
            .values()
            .any(|s| s.group.is_none() && s.parent.is_none())
        {
            expected.push("## Other Services".to_owned());
        }
        expected.push("## Service Interconnections".to_owned());
        expected.extend(catalog.flows.values().map(|f| format!("### {}", f.name)));
        for heading in [
            "### Cross-Service Communication",
            "## Agent Role Definitions",
            "### Tier 1: System Orchestrators",
            "### Tier 2: Service Managers",
            "### Tier 3: Specialized Workers",
            "## Agent Task Assignments",
            "### High-Priority Tasks",
            "### Medium-Priority Tasks",
            "### Low-Priority Tasks",
        ] {
            expected.push(heading.to_owned());
        }
        // Service headings (`### name - `host:port``) sit inside the group sections; leave them out.
        let headings: Vec<&str> = report
            .lines()
            .filter(|l| l.starts_with('#') && !l.contains(" - `"))
            .collect();
        assert_eq!(headings, expected, "{name}");
        for line in report.lines().filter(|l| l.starts_with('#')) {
            assert!(!line.contains("**"), "headings are plain, not bold: {line}");
        }
    }
}

#[test]
fn claims_stand_beside_mapped_figures() {
    let catalog = small();
    let report = render(&catalog);
    let summary = section(&report, "## Executive Summary");
    let rows = [
        (
            "| Total Services Mapped | 40+ services |",
            catalog.services.len().to_string(),
        ),
        ("| Docker Services | 10+ containers |", "6".to_owned()),
        (
            "| N8N Workflows | 500+ automated processes |",
            "not counted".to_owned(),
        ),
        (r"| Uptime \| SLA | 99.9% |", "not counted".to_owned()),
        ("| Agents | — |", catalog.agents.len().to_string()),
        ("| Agent Tasks | — |", catalog.tasks.len().to_string()),
        ("| Port Range | — |", "3000-9999".to_owned()),
        ("| MCP Servers | — |", "2".to_owned()),
    ];
    for (start, mapped) in rows {
        let row = format!("{start} {mapped} |");
        assert!(summary.contains(&row), "missing summary row `{row}`");
    }
    assert!(
        !summary.contains("| Services Mapped |"),
        "a figure a claim already counts is not repeated"
    );
}

#[test]
fn flows_show_services_and_group_spans() {
    let report = render(&small());
    let flow = section(&report, "### Primary Data Flow");
    let expected = "```text\nAcme Main Dashboard (3000)\n    ↓\nBusiness Venture Services (4000-5443)\n    ↓\nMCP Server Hub (8300-8399)\n    ↓\nN8N Workflow Engine (5678)\n```";
    assert!(flow.contains(expected), "flow block:\n{flow}");
}

#[test]
fn live_facts_show_status_and_uptime() {
    let catalog = small();
    let facts: HashMap<String, ServiceFacts> = [
        ("postgres", LiveStatus::Down, None),
        (
            "main-dashboard",
            LiveStatus::Impacted {
                by: "postgres".to_owned(),
            },
            Some(0.5),
        ),
        ("billing", LiveStatus::Up, Some(0.99954)),
        ("notes-mcp", LiveStatus::Up, None),
    ]
    .into_iter()
    .map(|(id, status, uptime)| (id.to_owned(), ServiceFacts { status, uptime }))
    .collect();
    let report = render_with(
        &catalog,
        &ReportOptions {
            live: Some(&facts),
            ..Default::default()
        },
    );
    let cases = [
        ("### PostgreSQL - `localhost:5432`", "- **Status**: down"),
        (
            "### Acme Main Dashboard - `localhost:3000`",
            "- **Status**: impacted (**PostgreSQL** is down), 50.00% uptime",
        ),
        (
            "### Billing Portal - `localhost:4000`",
            "- **Status**: up, 99.95% uptime",
        ),
        (
            "### MCP Server Hub - `localhost:8300-8399`",
            "    - **Status**: up",
        ),
    ];
    for (heading, line) in cases {
        assert!(
            section(&report, heading).contains(line),
            "{heading}: missing `{line}`"
        );
    }
    assert!(
        !section(&report, "### RabbitMQ - `localhost:5672`").contains("**Status**"),
        "no facts, no status line"
    );
    let total = catalog.services.len();
    assert!(report.contains(&format!("| Services Up | — | 2 of {total} |")));
    assert!(
        !render(&catalog).contains("**Status**"),
        "no live facts without options"
    );
}

#[test]
fn odd_manifests_render_every_service_once() {
    let cases = [
        ("empty", "version = 1\n"),
        (
            "parent chain",
            r#"
            [services.a]
            port = 3000
            [services.b]
            parent = "a"
            port = 3001
            [services.c]
            parent = "b"
            port = 3002
            "#,
        ),
        (
            "child in another group",
            r#"
            [groups.hubs]
            name = "Hubs"
            [groups.tools]
            name = "Tools"
            [services.hub]
            group = "hubs"
            ports = ["8000-8010"]
            [services.tool]
            group = "tools"
            parent = "hub"
            port = 8001
            docker = "we`ird:8001"
            "#,
        ),
    ];
    for (name, text) in cases {
        let catalog = compile(name, text);
        let report = render(&catalog);
        for service in catalog.services.values() {
            let places = report.matches(&format!("### {} - `", service.name)).count()
                + report.matches(&format!("- **{}**", service.name)).count();
            assert_eq!(
                places, 1,
                "{name}: `{}` described {places} times",
                service.id
            );
        }
        assert!(
            report.ends_with('\n') && !report.ends_with("\n\n"),
            "{name}: one final newline"
        );
        assert!(
            !report.contains("\n\n\n"),
            "{name}: blocks are separated by one blank line"
        );
    }
    let report = render(&compile("child in another group", cases[2].1));
    assert!(
        report.contains("Also in this group, listed under their hub: **tool** (under **hub**).")
    );
    assert!(
        report.contains("``we`ird:8001``"),
        "a backtick inside a code span is fenced"
    );
}

/// The seed, imported as it is, has a port conflict and two ports outside its range: the
/// report is rendered from its partial catalog, every diagnostic listed under "Problems
/// found" with its code and position, and every service still in it.
#[test]
fn a_manifest_with_errors_is_reported_with_its_problems() {
    let name = "examples/iza-os/seed-import.toml";
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name);
    let source = SourceFile::new(name, std::fs::read_to_string(path).unwrap(), Syntax::Toml);
    assert!(
        iza_catalog::check(&source).catalog.is_none(),
        "the seed has errors"
    );
    let checked = iza_catalog::check_lenient(&source);
    let catalog = checked.catalog.clone().expect("a partial catalog");
    let problems: Vec<_> = checked
        .diagnostics
        .iter()
        .map(|d| d.to_record(&source))
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.code == iza_catalog::Code::PortConflict)
    );
    let report = render_with(
        &catalog,
        &ReportOptions {
            problems: &problems,
            ..Default::default()
        },
    );
    assert!(report.contains("\n## Problems found\n"), "{report}");
    for p in &problems {
        let line = format!("`{}` at {}:{}:{}: ", p.code, name, p.line, p.column);
        assert!(report.contains(&line), "`{line}` missing from:\n{report}");
    }
    let errors = checked.errors().count();
    assert!(
        report.contains(&format!("The manifest has {errors} errors")),
        "{report}"
    );
    for service in catalog.services.values() {
        assert!(report.contains(&service.name), "`{}` missing", service.name);
    }
    // Without problems there is no such section.
    assert!(!render(&small()).contains("Problems found"));
}

/// A partial catalog drops what would break a walk: references to nothing and the link that
/// closes a cycle; the rest of the manifest stays, and its start order exists.
#[test]
fn a_partial_catalog_has_no_broken_references_and_no_cycle() {
    let text = "version = 1\n[ecosystem]\nname = \"broken\"\n\
                [services.a]\ndepends_on = [\"b\", \"ghost\"]\nconnects = [{ to = \"nowhere\" }]\n\
                [services.b]\ndepends_on = [\"c\"]\nparent = \"d\"\n\
                [services.c]\ndepends_on = [\"a\"]\n\
                [services.d]\nparent = \"b\"\ngroup = \"missing\"\n";
    let source = SourceFile::new("broken.toml", text.to_owned(), Syntax::Toml);
    let checked = iza_catalog::check_lenient(&source);
    let codes: Vec<&str> = checked.errors().map(|d| d.code.as_str()).collect();
    assert!(codes.contains(&"dependency-cycle"), "{codes:?}");
    assert!(codes.contains(&"unknown-reference"), "{codes:?}");
    let catalog = checked.catalog.clone().expect("a partial catalog");
    assert_eq!(catalog.services.len(), 4);
    let a = &catalog.services["a"];
    assert_eq!(a.depends_on, ["b"]);
    assert!(a.connects.is_empty());
    assert_eq!(catalog.services["d"].group, None);
    // `a -> b -> c -> a` loses the entry that closes it, found walking from `a`.
    assert_eq!(catalog.services["c"].depends_on, Vec::<String>::new());
    let parents = ["b", "d"].map(|id| catalog.services[id].parent.clone());
    assert_eq!(
        parents.iter().filter(|p| p.is_some()).count(),
        1,
        "{parents:?}"
    );
    let graph = iza_catalog::graph::EcosystemGraph::build(&catalog);
    let order = graph.start_order().expect("no cycle left");
    assert_eq!(order.concat(), ["c", "d", "b", "a"]);
}
