//! The Markdown importer end to end: the seed imports into a manifest whose only problems
//! are the seed's own, names everything the seed names, other documents of the same style
//! import too, and no input makes it panic or print TOML that does not parse.

mod common {
    pub mod seed_facts;
}

use std::collections::{BTreeMap, BTreeSet};

use common::seed_facts::{SeedFacts, seed_facts};
use iza_catalog::import::markdown::import;
use iza_catalog::{Checked, Code, SourceFile, Syntax, check, parse_raw};
use proptest::prelude::*;

const SEED: &str = include_str!("../../../fixtures/markdown/seed.md");
const ORBIT: &str = include_str!("../../../fixtures/markdown/orbit-labs.md");
const HARBOR: &str = include_str!("../../../fixtures/markdown/harbor-ops.md");
const TINY: &str = include_str!("../../../fixtures/markdown/tiny.md");
const SEED_IMPORT: &str = include_str!("../../../examples/iza-os/seed-import.toml");

fn source(toml: String) -> SourceFile {
    SourceFile::new("import.toml", toml, Syntax::Toml)
}

fn checked(markdown: &str) -> Checked {
    check(&source(import(markdown).to_toml_string()))
}

/// `(code, message)` of every error.
fn errors(checked: &Checked) -> Vec<(Code, String)> {
    checked
        .errors()
        .map(|d| (d.code, d.message.clone()))
        .collect()
}

fn table<'a>(
    value: &'a toml::Table,
    key: &str,
) -> impl Iterator<Item = (&'a String, &'a toml::Table)> {
    value
        .get(key)
        .and_then(toml::Value::as_table)
        .into_iter()
        .flatten()
        .filter_map(|(id, v)| v.as_table().map(|t| (id, t)))
}

fn str_of<'a>(t: &'a toml::Table, key: &str) -> Option<&'a str> {
    t.get(key).and_then(toml::Value::as_str)
}

fn port_text(value: &toml::Value) -> String {
    match value {
        toml::Value::Integer(p) => p.to_string(),
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The same facts, read from an imported manifest.
fn manifest_facts(manifest: &toml::Table) -> SeedFacts {
    let mut facts = SeedFacts::default();
    for (_, service) in table(manifest, "services") {
        let name = str_of(service, "name").unwrap_or_default().to_owned();
        if str_of(service, "kind") == Some("mcp-server") {
            facts.mcp_servers.insert(name.clone());
        }
        facts.service_names.insert(name);
        if let Some(port) = service.get("port") {
            facts.ports.insert(port_text(port));
        }
        for port in service
            .get("ports")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
        {
            facts.ports.insert(port_text(port));
        }
        if let Some(docker) = str_of(service, "docker") {
            facts.docker_refs.insert(docker.to_owned());
        }
    }
    for (_, agent) in table(manifest, "agents") {
        facts
            .agent_names
            .insert(str_of(agent, "name").unwrap_or_default().to_owned());
    }
    for task in manifest
        .get("tasks")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = task.as_table().and_then(|t| str_of(t, "name")) {
            facts.task_names.insert(name.to_owned());
        }
    }
    facts
}

#[test]
fn the_seed_fixture_is_the_seed() {
    // The fixture is a byte-identical copy of `shared/seed/ecosystem-analysis.md`: the seed's
    // mojibake, its unclosed last heading and its missing content are the point.
    assert!(SEED.contains("üåê"));
    assert!(SEED.trim_end().ends_with("### **Low-Priority Tasks"));
}

#[test]
fn the_seed_checks_with_exactly_its_own_problems() {
    let checked = checked(SEED);
    assert!(!checked.syntax_error);
    let mut found = errors(&checked);
    found.sort();
    let mut expected = vec![
        (
            Code::PortConflict,
            "port 3000 is claimed by both `iza-os-main-dashboard` and `grafana`".to_owned(),
        ),
        (
            Code::PortOutOfRange,
            "port 80 of `nginx` is outside the policy range 3000-9999".to_owned(),
        ),
        (
            Code::PortOutOfRange,
            "port 443 of `nginx` is outside the policy range 3000-9999".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(found, expected);
    let warnings: Vec<String> = checked.warnings().map(|d| d.message.clone()).collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
}

#[test]
fn the_seed_import_names_everything_the_seed_names() {
    let expected = seed_facts(SEED);
    let imported = manifest_facts(&import(SEED).manifest);
    // Guard against an extractor that silently finds nothing.
    assert!(
        expected.service_names.len() >= 30,
        "{:?}",
        expected.service_names
    );
    assert!(
        expected.agent_names.len() >= 60,
        "{:?}",
        expected.agent_names
    );
    let pairs = [
        ("services", &expected.service_names, &imported.service_names),
        ("ports", &expected.ports, &imported.ports),
        (
            "docker references",
            &expected.docker_refs,
            &imported.docker_refs,
        ),
        ("MCP servers", &expected.mcp_servers, &imported.mcp_servers),
        ("agents", &expected.agent_names, &imported.agent_names),
        ("tasks", &expected.task_names, &imported.task_names),
    ];
    for (what, seed, manifest) in pairs {
        let missing: Vec<_> = seed.difference(manifest).collect();
        let invented: Vec<_> = manifest.difference(seed).collect();
        assert!(
            missing.is_empty() && invented.is_empty(),
            "{what}: missing from the import {missing:?}, not in the seed {invented:?}"
        );
    }
}

#[test]
fn the_seed_maps_its_structure() {
    let manifest = import(SEED).manifest;
    let raw = parse_raw(&source(toml::to_string(&manifest).unwrap_or_default()))
        .unwrap_or_else(|e| panic!("{:?}", e.diagnostics));
    let eco = raw.ecosystem.as_ref().map(|e| e.get()).expect("ecosystem");
    assert_eq!(eco.name.as_deref(), Some("IZA OS"));
    assert_eq!(
        eco.port_range.as_ref().map(|r| r.get().as_str()),
        Some("3000-9999")
    );
    let counts: Vec<(String, Option<String>)> = eco
        .claims
        .iter()
        .map(|c| {
            let c = c.get();
            let counts = c.counts.and_then(|m| serde_json::to_value(m).ok());
            (
                c.label.clone(),
                counts.and_then(|v| v.as_str().map(str::to_owned)),
            )
        })
        .collect();
    let expected = [
        ("Total Services Mapped", Some("services")),
        ("Port Range", Some("port-range")),
        ("Docker Services", Some("docker-services")),
        ("MCP Servers", Some("mcp-servers")),
        ("N8N Workflows", None),
        ("Activepieces Flows", None),
        ("Agent Tasks", Some("tasks")),
    ]
    .map(|(label, counts)| (label.to_owned(), counts.map(str::to_owned)));
    assert_eq!(counts, expected);

    let service = |id: &str| {
        manifest["services"]
            .get(id)
            .and_then(toml::Value::as_table)
            .unwrap_or_else(|| panic!("service `{id}`"))
    };
    let field = |id: &str, key: &str| service(id).get(key).map(ToString::to_string);
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "iza-os-main-dashboard",
            "group",
            Some("\"core-dashboard-services\""),
        ),
        ("iza-os-main-dashboard", "kind", Some("\"dashboard\"")),
        ("mcp-server-hub", "kind", Some("\"hub\"")),
        ("mcp-server-hub", "ports", Some("[\"8300-8399\"]")),
        (
            "business-monetizer-mcp",
            "parent",
            Some("\"mcp-server-hub\""),
        ),
        ("business-monetizer-mcp", "kind", Some("\"mcp-server\"")),
        ("business-monetizer-mcp", "port", Some("8301")),
        ("database-cluster", "ports", Some("[\"5432-5439\"]")),
        ("postgresql", "parent", Some("\"database-cluster\"")),
        ("postgresql", "kind", Some("\"database\"")),
        ("mongodb", "kind", Some("\"database\"")),
        ("redis", "kind", Some("\"cache\"")),
        ("redis", "port", None),
        ("rabbitmq", "port", Some("5672")),
        ("rabbitmq", "kind", Some("\"message-queue\"")),
        ("nginx", "ports", Some("[80, 443]")),
        ("nginx", "kind", Some("\"load-balancer\"")),
        ("grafana", "port", Some("3000")),
        ("prometheus", "port", Some("9090")),
        ("alertmanager", "port", Some("9093")),
        ("alertmanager", "kind", Some("\"monitoring\"")),
        ("n8n-workflow-engine", "kind", Some("\"workflow-engine\"")),
        (
            "activepieces-automation",
            "kind",
            Some("\"workflow-engine\""),
        ),
        (
            "execution-dashboard",
            "docker",
            Some("\"execution-monitor:8001\""),
        ),
        (
            "ace-genix-bank-lite",
            "metadata",
            Some("{ revenue_model = \"SaaS Subscriptions ($799/month/client)\" }"),
        ),
        ("traycer-frontend", "kind", None),
        ("traycer-frontend", "host", None),
    ];
    for (id, key, value) in cases {
        assert_eq!(field(id, key).as_deref(), *value, "{id}.{key}");
    }
    let features = service("iza-os-main-dashboard")["features"].to_string();
    assert_eq!(
        features,
        "[\"Repository status\", \"MCP servers\", \"AI frameworks\", \"system health\"]"
    );
    let categories = &service("n8n-workflow-engine")["metadata"]["workflow_categories"];
    assert_eq!(categories.as_array().map(Vec::len), Some(4));
    assert_eq!(categories[0]["name"].as_str(), Some("AI/ML Workflows"));
    assert_eq!(categories[0]["count"].as_integer(), Some(31));

    let agents = raw
        .agents
        .iter()
        .map(|(id, a)| (id.get().as_str(), a.get()))
        .collect::<BTreeMap<_, _>>();
    let watching = |id: &str| -> Vec<&str> {
        agents[id]
            .services
            .iter()
            .map(|s| s.get().as_str())
            .collect()
    };
    let tasks = |id: &str| -> Vec<&str> {
        agents[id]
            .tasks
            .iter()
            .map(|t| t.get().name.get().as_str())
            .collect()
    };
    assert_eq!(*agents["dashboard-manager"].tier.get(), 3);
    assert_eq!(
        tasks("dashboard-manager"),
        ["Monitor system health", "Update metrics", "Manage alerts"]
    );
    assert_eq!(watching("dashboard-manager"), ["iza-os-main-dashboard"]);
    assert_eq!(
        tasks("workflow-orchestrator"),
        ["Manage 2,056+ workflow executions"]
    );
    assert!(agents.contains_key("business-portfolio-manager"));
    assert_eq!(
        watching("mcp-orchestrator").len(),
        6,
        "the hub and its five servers"
    );
    assert!(watching("database-administrator").contains(&"redis"));
    assert!(watching("backup-manager").contains(&"nginx"));
    for (id, tier) in [
        ("master-orchestrator", 1),
        ("dashboard-managers", 2),
        ("monitoring", 3),
    ] {
        assert_eq!(*agents[id].tier.get(), tier, "{id}");
        assert!(
            agents[id].tasks.is_empty(),
            "role definitions have no tasks: {id}"
        );
        assert!(agents[id].role.is_some(), "{id}");
    }
    assert!(agents.values().all(|a| a.reports_to.is_none()));

    let flow = &raw.flows["primary-data-flow"];
    let steps: Vec<&str> = flow.get().steps.iter().map(|s| s.get().as_str()).collect();
    assert_eq!(
        steps,
        [
            "iza-os-main-dashboard",
            "unified-iza-os-ecosystem-dashboard",
            "business-venture-services",
            "mcp-server-hub",
            "n8n-workflow-engine",
            "web-automation-services",
        ]
    );
    let channels: Vec<(&str, Option<&str>)> = raw
        .channels
        .iter()
        .map(|(id, c)| {
            (
                id.get().as_str(),
                c.get().via.as_ref().map(|v| v.get().as_str()),
            )
        })
        .collect();
    assert_eq!(
        channels,
        [
            ("api-gateway", None),
            ("message-queue", Some("rabbitmq")),
            ("shared-database", None),
            ("event-bus", None),
        ]
    );
    let priorities: Vec<String> = raw
        .tasks
        .iter()
        .map(|t| format!("{:?}", t.get().priority))
        .collect();
    assert_eq!(priorities.iter().filter(|p| *p == "Some(High)").count(), 5);
    assert_eq!(
        priorities.iter().filter(|p| *p == "Some(Medium)").count(),
        5
    );
}

#[test]
fn the_seed_notes_are_few_and_say_what_was_not_mapped() {
    insta::assert_snapshot!(import(SEED).notes.join("\n"));
}

#[test]
fn the_committed_seed_import_is_what_the_importer_prints() {
    let body: String = SEED_IMPORT
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .skip_while(|l| l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        body == import(SEED).to_toml_string(),
        "examples/iza-os/seed-import.toml is stale: regenerate it as its header says"
    );
}

/// One fixture other than the seed and what its import must hold.
struct Fixture {
    name: &'static str,
    text: &'static str,
    /// Service id and its ports as written (`""` for none).
    services: &'static [(&'static str, &'static str)],
    /// Agent id and tier.
    agents: &'static [(&'static str, i64)],
    /// Codes of the diagnostics `iza check` must report (errors and warnings).
    diagnostics: &'static [Code],
    /// Fragments the notes must contain, one note each.
    notes: &'static [&'static str],
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "orbit-labs (clean emoji, ends mid-list)",
        text: ORBIT,
        services: &[
            ("orbit-console", "4000"),
            ("plugin-gateway", "6100-6199"),
            ("search-plugin-mcp", "6101"),
            ("calendar-plugin-mcp", "6102"),
            ("billing-plugin-mcp", "6103"),
            ("storage-cluster", "5400-5409"),
            ("mysql", ""),
            ("valkey", ""),
            ("kafka", "5500"),
            ("traefik", "4080"),
            ("caddy", "4443"),
            ("grafana", "4300"),
            ("prometheus", "4390"),
        ],
        agents: &[
            ("console-keeper", 3),
            ("plugin-supervisor", 3),
            ("storage-steward", 3),
            ("queue-warden", 3),
            ("edge-watch", 3),
            ("mission-director", 1),
            ("plugin-lead", 2),
        ],
        diagnostics: &[],
        notes: &[
            "\"MySQL\" and \"Valkey\" have no port of their own",
            "line 97: \"**Cost Rev\" has no closing `**`",
            "no tier for 5 agents",
        ],
    },
    Fixture {
        name: "harbor-ops (CRLF, mojibake, ends mid-section)",
        text: HARBOR,
        services: &[
            ("berth-scheduler", "7000"),
            ("relay", "7001"),
            ("relay-2", "7002"),
            ("crane-control", ""),
            ("harbor-mcp-hub", "7300-7309"),
            ("tide-mcp", "7301"),
            ("manifest-mcp", "7302"),
            ("storage", "7500 7501"),
            ("postgresql", ""),
            ("redis", ""),
            ("minio", ""),
            ("nats", "7600"),
        ],
        agents: &[
            ("compliance", 3),
            ("compliance-agent", 3),
            ("relay-watcher", 3),
            ("tool-steward", 3),
            ("yard-keeper", 3),
            ("harbor-master", 1),
        ],
        diagnostics: &[Code::UnwatchedService],
        notes: &[
            "line 26: agent \"Compliance Agent\" has id `compliance-agent`",
            "line 28: service \"Relay\" has id `relay-2`",
            "line 31: agent `relay-watcher` lists \"Ping relays\" twice",
            "line 33: `localhost:70000`: `70000` is not a port number",
            "its 2 ports cannot be paired with its 3 services",
            "line 64: flow step \"Lighthouse\" names no service or group",
            "line 69: \"This section is prose only.\" was not mapped",
            "line 77: \"Tier 3: Deckhands\" has nothing under it (the document ends there)",
            "no tier for 5 agents",
            "no reporting lines",
        ],
    },
    Fixture {
        name: "tiny (no sections)",
        text: TINY,
        services: &[("solo-app", "8080")],
        agents: &[("solo", 3)],
        diagnostics: &[],
        notes: &[
            "no tier for 1 agent (`solo`); it is imported as tier 3",
            "no reporting lines",
        ],
    },
];

#[test]
fn other_documents_of_the_same_style_import() {
    for fixture in FIXTURES {
        let imported = import(fixture.text);
        let text = imported.to_toml_string();
        let name = fixture.name;
        parse_raw(&source(text.clone())).unwrap_or_else(|e| panic!("{name}: {:?}", e.diagnostics));
        let manifest = &imported.manifest;

        let services: BTreeMap<String, String> = table(manifest, "services")
            .map(|(id, s)| {
                let ports: Vec<String> = s
                    .get("port")
                    .into_iter()
                    .chain(
                        s.get("ports")
                            .and_then(toml::Value::as_array)
                            .into_iter()
                            .flatten(),
                    )
                    .map(port_text)
                    .collect();
                (id.clone(), ports.join(" "))
            })
            .collect();
        let expected: BTreeMap<String, String> = fixture
            .services
            .iter()
            .map(|(id, ports)| ((*id).to_owned(), (*ports).to_owned()))
            .collect();
        assert_eq!(services, expected, "{name}: services");

        let agents: BTreeMap<String, i64> = table(manifest, "agents")
            .map(|(id, a)| {
                (
                    id.clone(),
                    a.get("tier").and_then(toml::Value::as_integer).unwrap_or(0),
                )
            })
            .collect();
        let expected: BTreeMap<String, i64> = fixture
            .agents
            .iter()
            .map(|(id, t)| ((*id).to_owned(), *t))
            .collect();
        assert_eq!(agents, expected, "{name}: agents");

        let checked = check(&source(text));
        let codes: BTreeSet<Code> = checked.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            fixture.diagnostics.iter().copied().collect(),
            "{name}: {:#?}",
            checked.diagnostics
        );

        for fragment in fixture.notes {
            assert!(
                imported.notes.iter().any(|n| n.contains(fragment)),
                "{name}: no note contains {fragment:?} in {:#?}",
                imported.notes
            );
        }
        assert_eq!(
            imported.notes.len(),
            fixture.notes.len(),
            "{name}: {:#?}",
            imported.notes
        );
    }
}

#[test]
fn orbit_labs_resolves_flows_channels_and_reporting_lines() {
    let manifest = import(ORBIT).manifest;
    let eco = &manifest["ecosystem"];
    assert_eq!(eco["name"].as_str(), Some("Orbit Labs Platform"));
    assert_eq!(eco["port_range"].as_str(), Some("4000-6999"));
    assert_eq!(
        manifest["flows"]["primary-data-flow"]["steps"].to_string(),
        "[\"orbit-console\", \"plugin-gateway\", \"data-layer\"]"
    );
    assert_eq!(
        manifest["channels"]["event-stream"]["via"].as_str(),
        Some("kafka")
    );
    assert_eq!(
        manifest["channels"]["event-stream"]["kind"].as_str(),
        Some("event-bus")
    );
    assert_eq!(
        manifest["channels"]["api-gateway"]["via"].as_str(),
        Some("traefik")
    );
    assert_eq!(
        manifest["agents"]["plugin-lead"]["reports_to"].as_str(),
        Some("mission-director")
    );
    assert_eq!(
        manifest["groups"]["edge-observability"]["description"].as_str(),
        Some("Everything a request meets first, and what watches it.")
    );
    assert_eq!(
        manifest["services"]["search-plugin-mcp"]["kind"].as_str(),
        Some("mcp-server")
    );
    let tasks: Vec<String> = manifest["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "{}:{}",
                t["name"].as_str().unwrap_or(""),
                t["priority"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        tasks,
        [
            "Uptime:high",
            "Plugin Health:high",
            "Docs Refresh:low",
            "Cost Rev:low"
        ]
    );
}

#[test]
fn crlf_and_lf_import_alike() {
    let lf = HARBOR.replace("\r\n", "\n");
    assert_ne!(lf, HARBOR, "the fixture must use CRLF");
    assert_eq!(
        import(&lf).to_toml_string(),
        import(HARBOR).to_toml_string()
    );
}

fn seed_lines() -> Vec<&'static str> {
    SEED.lines()
        .chain(ORBIT.lines())
        .chain(HARBOR.lines())
        .collect()
}

/// Imports `text` and checks that the result prints TOML that parses and validates without panicking.
fn imports_cleanly(text: &str) -> Result<(), TestCaseError> {
    let imported = import(text);
    let toml = imported.to_toml_string();
    prop_assert!(!toml.is_empty());
    let parsed = parse_raw(&source(toml.clone()));
    prop_assert!(
        parsed.is_ok(),
        "{:?}\n{toml}",
        parsed.err().map(|e| e.diagnostics)
    );
    let _ = check(&source(toml));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_imports(text in any::<String>()) {
        imports_cleanly(&text)?;
    }

    #[test]
    fn markdown_like_text_imports(text in r"(#{1,4} |- |  - |1\. |\*\*|`|:|\(|\)|-|,|localhost:|[0-9]{1,6}|[A-Za-z ]{1,8}|\n|\r\n|‚Üì|üåê|```)*") {
        imports_cleanly(&text)?;
    }

    #[test]
    fn recombined_seed_lines_import(
        picks in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..150),
        crlf in any::<bool>(),
    ) {
        let lines = seed_lines();
        let text: Vec<String> = picks
            .iter()
            .map(|(line, cut)| {
                let line = line.get(&lines);
                let chars = line.chars().count();
                // Keep the whole line most of the time; sometimes cut it short.
                let keep = if cut.index(4) == 0 { cut.index(chars + 1) } else { chars };
                line.chars().take(keep).collect()
            })
            .collect();
        imports_cleanly(&text.join(if crlf { "\r\n" } else { "\n" }))?;
    }
}
