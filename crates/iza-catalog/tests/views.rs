//! The views of a manifest: the ecosystem graph (`iza graph`) and the port map (`iza ports`).
//!
//! `fixtures/views/ecosystem.toml` is a small valid ecosystem with every edge kind, a hub
//! with children, flows through groups (one of them empty) and a name that needs escaping;
//! `fixtures/views/port-conflicts.toml` clashes in every way the port map names. Generated
//! manifests check the properties that must hold for any input.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use iza_catalog::export::graph::{GraphFormat, render};
use iza_catalog::export::ports::{ConflictKind, PortMap};
use iza_catalog::graph::{EcosystemGraph, EdgeKind, GraphError, Heading, NodeKind};
use iza_catalog::manifest::raw::RawManifest;
use iza_catalog::{Catalog, SourceFile, Syntax};
use proptest::prelude::*;

fn fixture(name: &str) -> SourceFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/views")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    SourceFile::new(
        format!("fixtures/views/{name}"),
        text,
        Syntax::for_path(&path),
    )
}

fn compile(source: &SourceFile) -> Catalog {
    let checked = iza_catalog::check(source);
    let errors: Vec<String> = checked.errors().map(|d| d.message.clone()).collect();
    checked
        .catalog
        .unwrap_or_else(|| panic!("{} should compile: {errors:?}", source.path.display()))
}

fn raw(source: &SourceFile) -> RawManifest {
    iza_catalog::parse_raw(source).expect("fixture parses")
}

fn ecosystem() -> Catalog {
    compile(&fixture("ecosystem.toml"))
}

/// A manifest of services with only `depends_on`, in the order given.
fn dependencies_manifest(services: &[(&str, &[&str])]) -> SourceFile {
    let mut text = String::from("version = 1\n");
    for (id, deps) in services {
        let deps: Vec<String> = deps.iter().map(|d| format!("{d:?}")).collect();
        text.push_str(&format!(
            "[services.{id}]\ndepends_on = [{}]\n",
            deps.join(", ")
        ));
    }
    SourceFile::new("deps.toml", text, Syntax::Toml)
}

// ---------------------------------------------------------------------------------------
// The graph

#[test]
fn graph_has_a_node_per_service_and_group_and_an_edge_per_relation() {
    let catalog = ecosystem();
    let graph = EcosystemGraph::build(&catalog);
    assert_eq!(graph.service_count(), 12);
    assert_eq!(graph.node_count(), 12 + 6);
    assert_eq!(graph.node_kind("mcp-hub"), Some(NodeKind::Service));
    assert_eq!(graph.node_kind("partners"), Some(NodeKind::Group));
    assert_eq!(graph.node_kind("nope"), None);

    let mut by_kind: HashMap<EdgeKind, usize> = HashMap::new();
    for edge in graph.edges() {
        *by_kind.entry(edge.kind).or_default() += 1;
    }
    let expected = [
        (EdgeKind::Depends, 11),
        (EdgeKind::Connects, 7),
        (EdgeKind::Owns, 2),
        (EdgeKind::Flow, 6),
    ];
    for (kind, count) in expected {
        assert_eq!(by_kind.get(&kind).copied().unwrap_or(0), count, "{kind:?}");
    }
    assert_eq!(graph.edge_count(), 26);
}

#[test]
fn edges_carry_their_protocol_flow_and_direction() {
    let catalog = ecosystem();
    let graph = EcosystemGraph::build(&catalog);
    let find = |from: &str, to: &str, kind: EdgeKind| {
        graph
            .edges()
            .find(|e| e.from == from && e.to == to && e.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} edge {from} -> {to}"))
    };
    assert_eq!(
        find("iza-os-dashboard", "rabbitmq", EdgeKind::Connects).via,
        Some("amqp")
    );
    assert_eq!(find("n8n", "rabbitmq", EdgeKind::Connects).via, None);
    assert_eq!(
        find("business", "mcp", EdgeKind::Flow).flow,
        Some("primary")
    );
    assert_eq!(find("mcp-hub", "github-mcp", EdgeKind::Owns).via, None);
    assert_eq!(
        find("monetizer-mcp", "mcp-hub", EdgeKind::Depends).flow,
        None
    );
}

#[test]
fn neighbours_are_listed_both_ways_in_edge_order() {
    let catalog = ecosystem();
    let graph = EcosystemGraph::build(&catalog);
    type Expected = (&'static str, NodeKind, Heading, EdgeKind);
    let cases: &[(&str, &[Expected])] = &[
        (
            "mcp",
            &[
                (
                    "business",
                    NodeKind::Group,
                    Heading::Incoming,
                    EdgeKind::Flow,
                ),
                ("n8n", NodeKind::Service, Heading::Outgoing, EdgeKind::Flow),
            ],
        ),
        (
            "github-mcp",
            &[
                (
                    "mcp-hub",
                    NodeKind::Service,
                    Heading::Outgoing,
                    EdgeKind::Depends,
                ),
                (
                    "n8n",
                    NodeKind::Service,
                    Heading::Incoming,
                    EdgeKind::Connects,
                ),
                (
                    "mcp-hub",
                    NodeKind::Service,
                    Heading::Incoming,
                    EdgeKind::Owns,
                ),
            ],
        ),
        (
            "partners",
            &[("n8n", NodeKind::Service, Heading::Incoming, EdgeKind::Flow)],
        ),
        ("nope", &[]),
    ];
    for (id, expected) in cases {
        let found: Vec<(String, NodeKind, Heading, EdgeKind)> = graph
            .neighbours(id)
            .iter()
            .map(|n| (n.id.to_owned(), n.node, n.heading, n.edge.kind))
            .collect();
        let expected: Vec<(String, NodeKind, Heading, EdgeKind)> = expected
            .iter()
            .map(|&(id, node, heading, kind)| (id.to_owned(), node, heading, kind))
            .collect();
        assert_eq!(found, expected, "neighbours of `{id}`");
    }
}

#[test]
fn dependents_and_dependencies_follow_depends_on_transitively() {
    let catalog = ecosystem();
    let graph = EcosystemGraph::build(&catalog);
    // (service, impacted when it is down, what it needs), both in file order.
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "postgres",
            &[
                "iza-os-dashboard",
                "unified-dashboard",
                "ace-portfolio",
                "revenue-tracker",
                "monetizer-mcp",
                "n8n",
            ],
            &[],
        ),
        (
            "redis",
            &[
                "iza-os-dashboard",
                "unified-dashboard",
                "mcp-hub",
                "monetizer-mcp",
                "github-mcp",
            ],
            &[],
        ),
        (
            "monetizer-mcp",
            &[],
            &["postgres", "redis", "rabbitmq", "ace-portfolio", "mcp-hub"],
        ),
        (
            "unified-dashboard",
            &[],
            &["postgres", "redis", "iza-os-dashboard"],
        ),
        ("mcp-hub", &["monetizer-mcp", "github-mcp"], &["redis"]),
        // Data flow and ownership do not make a service impacted.
        ("grafana", &[], &[]),
        ("github-mcp", &[], &["redis", "mcp-hub"]),
        // Groups and unknown ids have no dependencies.
        ("business", &[], &[]),
        ("nope", &[], &[]),
    ];
    for (id, dependents, dependencies) in cases {
        assert_eq!(graph.dependents_of(id), *dependents, "dependents of `{id}`");
        assert_eq!(
            graph.dependencies_of(id),
            *dependencies,
            "dependencies of `{id}`"
        );
    }
}

#[test]
fn start_order_puts_dependencies_first_in_parallel_layers() {
    let graph = EcosystemGraph::build(&ecosystem());
    assert_eq!(
        graph.start_order(),
        Ok(vec![
            vec!["postgres", "redis", "rabbitmq", "grafana"],
            vec!["iza-os-dashboard", "ace-portfolio", "mcp-hub", "n8n"],
            vec![
                "unified-dashboard",
                "revenue-tracker",
                "monetizer-mcp",
                "github-mcp"
            ],
        ]
        .into_iter()
        .map(|layer| layer.into_iter().map(String::from).collect::<Vec<_>>())
        .collect::<Vec<_>>())
    );

    type Case = (
        &'static str,
        &'static [(&'static str, &'static [&'static str])],
        &'static [&'static [&'static str]],
    );
    let cases: &[Case] = &[
        ("nothing", &[], &[]),
        (
            "independent services, one layer in file order",
            &[("z", &[]), ("a", &[]), ("m", &[])],
            &[&["z", "a", "m"]],
        ),
        (
            "a chain",
            &[("a", &["b"]), ("b", &["c"]), ("c", &[])],
            &[&["c"], &["b"], &["a"]],
        ),
        (
            "a diamond",
            &[("d", &["b", "c"]), ("b", &["a"]), ("c", &["a"]), ("a", &[])],
            &[&["a"], &["b", "c"], &["d"]],
        ),
        (
            "a long and a short path: the layer is set by the longest",
            &[("top", &["mid", "low"]), ("mid", &["low"]), ("low", &[])],
            &[&["low"], &["mid"], &["top"]],
        ),
        (
            "a repeated dependency counts once",
            &[("a", &["b", "b"]), ("b", &[])],
            &[&["b"], &["a"]],
        ),
    ];
    for (what, services, expected) in cases {
        let graph = EcosystemGraph::build(&compile(&dependencies_manifest(services)));
        let expected: Vec<Vec<String>> = expected
            .iter()
            .map(|layer| layer.iter().map(|s| (*s).to_owned()).collect())
            .collect();
        assert_eq!(graph.start_order(), Ok(expected), "{what}");
    }
}

#[test]
fn start_order_names_the_services_a_cycle_blocks() {
    // A validated catalog has no cycle; one built by hand may.
    let mut catalog = ecosystem();
    if let Some(postgres) = catalog.services.get_mut("postgres") {
        postgres.depends_on.push("n8n".to_owned());
    }
    let graph = EcosystemGraph::build(&catalog);
    let Err(GraphError::DependencyCycle { services }) = graph.start_order() else {
        panic!("a cycle must be reported");
    };
    for blocked in ["postgres", "n8n", "ace-portfolio", "unified-dashboard"] {
        assert!(
            services.iter().any(|s| s == blocked),
            "{blocked} is blocked"
        );
    }
    for free in ["redis", "rabbitmq", "grafana", "mcp-hub", "github-mcp"] {
        assert!(!services.iter().any(|s| s == free), "{free} is not blocked");
    }
    // Walks stop at the start even on a cycle.
    assert!(!graph.dependents_of("postgres").contains(&"postgres"));
}

// ---------------------------------------------------------------------------------------
// Rendering

#[test]
fn graph_renders_as_dot_mermaid_and_json() {
    let catalog = ecosystem();
    insta::assert_snapshot!("graph_dot", render(&catalog, GraphFormat::Dot));
    insta::assert_snapshot!("graph_mermaid", render(&catalog, GraphFormat::Mermaid));
    insta::assert_snapshot!("graph_json", render(&catalog, GraphFormat::Json));
}

#[test]
fn rendering_is_deterministic() {
    let catalog = ecosystem();
    for format in [GraphFormat::Dot, GraphFormat::Mermaid, GraphFormat::Json] {
        assert_eq!(render(&catalog, format), render(&catalog, format));
    }
}

#[test]
fn json_graph_lists_nodes_groups_and_edges() {
    let catalog = ecosystem();
    let json: serde_json::Value =
        serde_json::from_str(&render(&catalog, GraphFormat::Json)).expect("valid JSON");
    let nodes = json["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), catalog.services.len());
    assert_eq!(nodes[7]["id"], "mcp-hub");
    assert_eq!(nodes[7]["kind"], "hub");
    assert_eq!(nodes[7]["ports"], serde_json::json!(["8300-8399"]));
    let groups = json["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), catalog.groups.len());
    assert_eq!(
        groups[5],
        serde_json::json!({"id": "partners", "name": "Partner Integrations", "services": []})
    );
    let edges = json["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 26);
    assert!(edges.contains(&serde_json::json!(
        {"from": "iza-os-dashboard", "to": "rabbitmq", "kind": "connects", "via": "amqp"}
    )));
    assert!(edges.contains(&serde_json::json!(
        {"from": "business", "to": "mcp", "kind": "flow", "via": null, "flow": "primary"}
    )));
}

// ---------------------------------------------------------------------------------------
// The port map

#[test]
fn port_map_lists_claims_by_port_and_free_ranges() {
    let map = PortMap::from_manifest(&raw(&fixture("ecosystem.toml")));
    assert_eq!(map.policy.as_deref(), Some("3000-9999"));
    assert!(map.conflicts.is_empty());
    let order: Vec<(String, &str)> = map
        .ports
        .iter()
        .map(|e| (serde_json::to_string(&e.port).unwrap(), e.service.as_str()))
        .collect();
    let hub = order
        .iter()
        .position(|(p, _)| p == "\"8300-8399\"")
        .expect("range");
    assert_eq!(order[hub + 1].1, "monetizer-mcp");
    assert_eq!(order[hub + 2].1, "github-mcp");
    let child = &map.ports[hub + 1];
    assert_eq!(child.parent.as_deref(), Some("mcp-hub"));
    assert_eq!(child.note.as_deref(), Some("child of `mcp-hub`"));
    assert_eq!(
        map.free,
        [
            "3003-3999",
            "4001-4099",
            "4101-5431",
            "5433-5671",
            "5673-5677",
            "5679-6378",
            "6380-8299",
            "8400-9999"
        ]
    );
    assert_eq!(map.free_ports, 7000 - 9 - 100);
    insta::assert_snapshot!("ports_ecosystem_text", map.render_text());
}

#[test]
fn port_map_names_every_kind_of_conflict() {
    let map = PortMap::from_manifest(&raw(&fixture("port-conflicts.toml")));
    let conflicts: Vec<(ConflictKind, Vec<&str>)> = map
        .conflicts
        .iter()
        .map(|c| (c.kind, c.services.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        conflicts,
        [
            (ConflictKind::SamePort, vec!["grafana", "iza-os-dashboard"]),
            (ConflictKind::RangeOverlap, vec!["other-hub", "mcp-hub"]),
            (ConflictKind::InsideRange, vec!["stray", "mcp-hub"]),
            (ConflictKind::OutsidePolicy, vec!["legacy"]),
        ]
    );
    let flagged: HashSet<&str> = map
        .ports
        .iter()
        .filter(|e| e.conflict)
        .map(|e| e.service.as_str())
        .collect();
    let expected: HashSet<&str> = [
        "iza-os-dashboard",
        "grafana",
        "stray",
        "mcp-hub",
        "other-hub",
        "legacy",
    ]
    .into();
    assert_eq!(flagged, expected);
    // Grafana's second port is not in conflict; the wandering child is only a note.
    let grafana_9090 = map
        .ports
        .iter()
        .find(|e| e.service == "grafana" && serde_json::to_string(&e.port).unwrap() == "9090")
        .expect("9090");
    assert!(!grafana_9090.conflict);
    let wanderer = map
        .ports
        .iter()
        .find(|e| e.service == "wanderer")
        .expect("wanderer");
    assert!(!wanderer.conflict);
    assert_eq!(
        wanderer.note.as_deref(),
        Some("child of `mcp-hub`, outside its range")
    );
    insta::assert_snapshot!("ports_conflicts_text", map.render_text());
    insta::assert_json_snapshot!("ports_conflicts_json", map);
}

#[test]
fn port_map_without_or_with_a_broken_policy() {
    let cases: &[(&str, Option<&str>, bool, &str)] = &[
        (
            "[services.a]\nport = 80\n",
            None,
            false,
            "free: unknown without a policy range",
        ),
        (
            "[ecosystem]\nport_range = \"abc\"\n[services.a]\nport = 80\n",
            None,
            true,
            "policy: invalid `ecosystem.port_range`",
        ),
        (
            "[ecosystem]\nport_range = \"80-81\"\n[services.a]\nports = [\"80-81\"]\n",
            Some("80-81"),
            false,
            "free: none, every port of 80-81 is claimed",
        ),
        ("", None, false, "no service claims a port"),
    ];
    for (text, policy, policy_error, shown) in cases {
        let source = SourceFile::new("inline.toml", (*text).to_owned(), Syntax::Toml);
        let map = PortMap::from_manifest(&iza_catalog::parse_raw(&source).expect("parses"));
        assert_eq!(map.policy.as_deref(), *policy, "{text}");
        assert_eq!(map.policy_error.is_some(), *policy_error, "{text}");
        assert!(map.free.is_empty(), "{text}");
        let rendered = map.render_text();
        assert!(rendered.contains(shown), "{text}: {rendered}");
    }
}

/// The messages of the port diagnostics `iza check` reports, sorted.
fn port_diagnostics(source: &SourceFile) -> Vec<String> {
    let mut messages: Vec<String> = iza_catalog::check(source)
        .diagnostics
        .into_iter()
        .filter(|d| matches!(d.code.as_str(), "port-conflict" | "port-out-of-range"))
        .map(|d| d.message)
        .collect();
    messages.sort();
    messages
}

fn port_map_messages(raw: &RawManifest) -> Vec<String> {
    let mut messages: Vec<String> = PortMap::from_manifest(raw)
        .conflicts
        .into_iter()
        .map(|c| c.message)
        .collect();
    messages.sort();
    messages
}

#[test]
fn port_map_and_check_agree_on_every_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in ["fixtures/views", "fixtures/bad", "examples/iza-os"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        files.extend(entries.filter_map(Result::ok).map(|e| e.path()));
    }
    files.sort();
    let mut compared = 0;
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let source = SourceFile::new(&path, text, Syntax::for_path(&path));
        let Ok(raw) = iza_catalog::parse_raw(&source) else {
            continue;
        };
        assert_eq!(
            port_map_messages(&raw),
            port_diagnostics(&source),
            "{}",
            path.display()
        );
        compared += 1;
    }
    assert!(compared >= 3, "only {compared} manifests compared");
}

// ---------------------------------------------------------------------------------------
// Generated manifests

/// An ecosystem to write as TOML: ids may hold any character DOT or Mermaid treat specially.
#[derive(Debug, Clone)]
struct Generated {
    name: String,
    groups: Vec<String>,
    services: Vec<GeneratedService>,
    flows: Vec<Vec<usize>>,
}

#[derive(Debug, Clone)]
struct GeneratedService {
    id: String,
    name: String,
    group: Option<usize>,
    kind: &'static str,
    ports: Vec<String>,
    parent: Option<usize>,
    depends_on: Vec<usize>,
    connects: Vec<(usize, Option<String>)>,
}

const KINDS: &[&str] = &[
    "service",
    "dashboard",
    "mcp-server",
    "hub",
    "workflow-engine",
    "database",
    "cache",
    "message-queue",
    "load-balancer",
    "monitoring",
];

/// Text with the characters renderers must escape.
fn awkward_text() -> impl Strategy<Value = String> {
    "[a-c_\\- \"'{}<>|#&\\\\`;\\[\\]()%\n]{1,6}"
}

fn generated() -> impl Strategy<Value = Generated> {
    (
        awkward_text(),
        prop::collection::vec(awkward_text(), 1..24),
        0usize..5,
    )
        .prop_flat_map(|(name, ids, group_count)| {
            // Unique ids; the last `group_count` of them (if there are that many) are groups.
            let mut seen = HashSet::new();
            let ids: Vec<String> = ids
                .into_iter()
                .filter(|id| seen.insert(id.clone()))
                .collect();
            let groups = group_count.min(ids.len().saturating_sub(1));
            let services = ids.len() - groups;
            let service = (
                awkward_text(),
                prop::option::of(0..groups.max(1)),
                0..KINDS.len(),
                prop::collection::vec((1u16..6, any::<bool>()), 0..3),
                prop::option::of(any::<prop::sample::Index>()),
                prop::collection::vec(any::<prop::sample::Index>(), 0..3),
                prop::collection::vec((0..services, prop::option::of(awkward_text())), 0..3),
            );
            let flows = prop::collection::vec(prop::collection::vec(0..ids.len(), 0..5), 0..3);
            (
                Just(name),
                Just(ids),
                Just(groups),
                prop::collection::vec(service, services),
                flows,
            )
        })
        .prop_map(|(name, ids, group_count, services, flows)| {
            let service_count = services.len();
            let (service_ids, group_ids) = ids.split_at(service_count);
            let mut next_port = 3000u16;
            let services = services
                .into_iter()
                .enumerate()
                .map(|(i, (name, group, kind, ports, parent, deps, connects))| {
                    // Unique ports, so the manifest compiles; ranges are kept apart too.
                    let ports = ports
                        .into_iter()
                        .map(|(width, range)| {
                            let start = next_port;
                            next_port += width;
                            if range {
                                format!("{start}-{}", start + width - 1)
                            } else {
                                start.to_string()
                            }
                        })
                        .collect();
                    GeneratedService {
                        id: service_ids[i].clone(),
                        name,
                        group: group.filter(|_| group_count > 0),
                        kind: KINDS[kind],
                        ports,
                        // Parents and dependencies point backwards: no cycle.
                        parent: parent.filter(|_| i > 0).map(|p| p.index(i)),
                        depends_on: if i == 0 {
                            Vec::new()
                        } else {
                            deps.into_iter().map(|d| d.index(i)).collect()
                        },
                        connects,
                    }
                })
                .collect();
            Generated {
                name,
                groups: group_ids.to_vec(),
                services,
                flows,
            }
        })
}

impl Generated {
    fn node_id(&self, index: usize) -> &str {
        match self.services.get(index) {
            Some(s) => &s.id,
            None => &self.groups[index - self.services.len()],
        }
    }

    fn to_toml(&self) -> String {
        use toml::{Table, Value};
        let string = |s: &str| Value::String(s.to_owned());
        let mut root = Table::new();
        root.insert("version".into(), Value::Integer(1));
        let mut ecosystem = Table::new();
        ecosystem.insert("name".into(), string(&self.name));
        ecosystem.insert("port_range".into(), string("3000-9999"));
        root.insert("ecosystem".into(), Value::Table(ecosystem));
        let mut groups = Table::new();
        for (i, id) in self.groups.iter().enumerate() {
            let mut group = Table::new();
            group.insert("name".into(), string(&format!("{id} group {i}")));
            groups.insert(id.clone(), Value::Table(group));
        }
        root.insert("groups".into(), Value::Table(groups));
        let mut services = Table::new();
        for s in &self.services {
            let mut service = Table::new();
            service.insert("name".into(), string(&s.name));
            service.insert("kind".into(), string(s.kind));
            if let Some(g) = s.group {
                service.insert("group".into(), string(&self.groups[g]));
            }
            let ports = s
                .ports
                .iter()
                .map(|p| match p.parse::<i64>() {
                    Ok(n) => Value::Integer(n),
                    Err(_) => string(p),
                })
                .collect();
            service.insert("ports".into(), Value::Array(ports));
            if let Some(p) = s.parent {
                service.insert("parent".into(), string(&self.services[p].id));
            }
            let deps = s
                .depends_on
                .iter()
                .map(|&d| string(&self.services[d].id))
                .collect();
            service.insert("depends_on".into(), Value::Array(deps));
            let connects = s
                .connects
                .iter()
                .map(|(to, via)| {
                    let mut c = Table::new();
                    c.insert("to".into(), string(&self.services[*to].id));
                    if let Some(via) = via {
                        c.insert("via".into(), string(via));
                    }
                    Value::Table(c)
                })
                .collect();
            service.insert("connects".into(), Value::Array(connects));
            services.insert(s.id.clone(), Value::Table(service));
        }
        root.insert("services".into(), Value::Table(services));
        let mut flows = Table::new();
        for (i, steps) in self.flows.iter().enumerate() {
            let mut flow = Table::new();
            let steps = steps.iter().map(|&s| string(self.node_id(s))).collect();
            flow.insert("steps".into(), Value::Array(steps));
            flows.insert(format!("flow-{i}"), Value::Table(flow));
        }
        root.insert("flows".into(), Value::Table(flows));
        toml::to_string(&root).expect("a table serializes")
    }
}

/// Checks that DOT text has closed strings and balanced braces outside strings and comments.
fn dot_is_balanced(dot: &str) -> Result<(), String> {
    let mut depth = 0i64;
    for (n, line) in dot.lines().enumerate() {
        let mut in_string = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (in_string, c) {
                (true, '\\') => {
                    chars.next();
                }
                (_, '"') => in_string = !in_string,
                (false, '/') if chars.peek() == Some(&'/') => break,
                (false, '{') => depth += 1,
                (false, '}') => {
                    depth -= 1;
                    if depth < 0 {
                        return Err(format!("line {}: `}}` without `{{`", n + 1));
                    }
                }
                _ => {}
            }
        }
        if in_string {
            return Err(format!("line {}: string not closed: {line}", n + 1));
        }
    }
    if depth == 0 {
        Ok(())
    } else {
        Err(format!("{depth} `{{` not closed"))
    }
}

/// Ids declared, and edges as (from, to).
type MermaidShape = (HashSet<String>, Vec<(String, String)>);

/// The Mermaid ids a flowchart declares (nodes and subgraphs) and the edges between them;
/// fails on a line it cannot read.
fn mermaid_shape(text: &str) -> Result<MermaidShape, String> {
    let is_id = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let body = text
        .split_once("\nflowchart LR\n")
        .ok_or("no `flowchart LR` line")?
        .1;
    let mut declared = HashSet::new();
    let mut edges = Vec::new();
    for line in body.lines() {
        let line = line.trim();
        if line == "end" || line.starts_with("%%") {
            continue;
        }
        let head = line.strip_prefix("subgraph ").unwrap_or(line);
        let id_end = head
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(head.len());
        let (id, rest) = head.split_at(id_end);
        if !is_id(id) {
            return Err(format!("no id at the start of `{line}`"));
        }
        if let Some(rest) = rest.strip_prefix(' ') {
            let arrow = ["-->", "-.->", "--o", "==>"]
                .into_iter()
                .find(|a| rest.starts_with(a))
                .ok_or_else(|| format!("unknown edge in `{line}`"))?;
            let target = rest[arrow.len()..].rsplit(' ').next().unwrap_or("");
            if !is_id(target) {
                return Err(format!("bad target in `{line}`"));
            }
            edges.push((id.to_owned(), target.to_owned()));
        } else {
            if !rest.starts_with('[') || rest.matches('"').count() != 2 {
                return Err(format!("bad node in `{line}`"));
            }
            if !declared.insert(id.to_owned()) {
                return Err(format!("`{id}` declared twice"));
            }
        }
    }
    Ok((declared, edges))
}

/// Edge statements of a DOT text: lines with `->` outside quoted strings (ids and labels
/// may themselves contain ` -> `) and outside comments (which quote the ecosystem's name).
fn dot_edge_count(dot: &str) -> usize {
    dot.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .filter(|line| {
            let mut outside = String::new();
            let mut quoted = false;
            let mut escaped = false;
            for c in line.chars() {
                match (quoted, escaped, c) {
                    (true, true, _) => escaped = false,
                    (true, false, '\\') => escaped = true,
                    (_, _, '"') => quoted = !quoted,
                    (false, _, c) => outside.push(c),
                    (true, false, _) => {}
                }
            }
            outside.contains("->")
        })
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn generated_manifests_render_and_order(generated in generated()) {
        let source = SourceFile::new("generated.toml", generated.to_toml(), Syntax::Toml);
        let checked = iza_catalog::check(&source);
        let errors: Vec<String> = checked.errors().map(|d| d.message.clone()).collect();
        let catalog = checked.catalog.ok_or_else(|| {
            TestCaseError::fail(format!("{errors:?}\n{}", source.text))
        })?;
        let graph = EcosystemGraph::build(&catalog);

        let dot = render(&catalog, GraphFormat::Dot);
        prop_assert!(dot_is_balanced(&dot).is_ok(), "{:?}\n{dot}", dot_is_balanced(&dot));
        prop_assert_eq!(dot_edge_count(&dot), graph.edge_count());

        let mermaid = render(&catalog, GraphFormat::Mermaid);
        let shape = mermaid_shape(&mermaid);
        prop_assert!(shape.is_ok(), "{:?}\n{mermaid}", shape);
        let (declared, edges) = shape.unwrap_or_default();
        prop_assert_eq!(edges.len(), graph.edge_count());
        for (from, to) in &edges {
            prop_assert!(declared.contains(from) && declared.contains(to), "{from} -> {to}");
        }
        let nodes = catalog.services.len() + catalog.groups.len();
        prop_assert!(declared.len() >= nodes);

        let json: serde_json::Value = serde_json::from_str(&render(&catalog, GraphFormat::Json))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(json["nodes"].as_array().map(Vec::len), Some(catalog.services.len()));
        prop_assert_eq!(json["edges"].as_array().map(Vec::len), Some(graph.edge_count()));

        // Every service starts exactly once, after everything it depends on.
        let layers = graph.start_order().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut layer_of = HashMap::new();
        for (n, layer) in layers.iter().enumerate() {
            for id in layer {
                prop_assert!(layer_of.insert(id.clone(), n).is_none(), "{id} twice");
            }
        }
        prop_assert_eq!(layer_of.len(), catalog.services.len());
        for service in catalog.services.values() {
            for dependency in &service.depends_on {
                prop_assert!(layer_of[dependency] < layer_of[&service.id]);
            }
            // Impact and need are two views of one relation.
            for dependent in graph.dependents_of(&service.id) {
                prop_assert!(graph.dependencies_of(dependent).contains(&service.id.as_str()));
            }
        }
    }

    #[test]
    fn port_map_covers_the_policy_and_agrees_with_check(
        claims in prop::collection::vec(
            (prop::option::of(0usize..6), prop::collection::vec((2995u16..3012, 0u16..4), 1..3)),
            0..8,
        )
    ) {
        let mut text = String::from("[ecosystem]\nport_range = \"3000-3010\"\n");
        for (i, (parent, ports)) in claims.iter().enumerate() {
            text.push_str(&format!("[services.s{i}]\n"));
            if let Some(p) = parent.filter(|&p| p < claims.len() && p != i) {
                text.push_str(&format!("parent = \"s{p}\"\n"));
            }
            let ports: Vec<String> = ports
                .iter()
                .map(|&(start, width)| if width == 0 {
                    start.to_string()
                } else {
                    format!("\"{start}-{}\"", start + width)
                })
                .collect();
            text.push_str(&format!("ports = [{}]\n", ports.join(", ")));
        }
        let source = SourceFile::new("ports.toml", text, Syntax::Toml);
        let raw = iza_catalog::parse_raw(&source).map_err(|_| TestCaseError::fail("parses"))?;
        let map = PortMap::from_manifest(&raw);

        prop_assert_eq!(map.ports.len(), claims.iter().map(|(_, p)| p.len()).sum::<usize>());
        // Free and claimed ports split the policy range between them.
        let mut claimed = HashSet::new();
        for entry in &map.ports {
            let port = serde_json::to_value(entry.port).unwrap_or_default();
            let (a, b) = match (port.as_u64(), port.as_str()) {
                (Some(p), _) => (p, p),
                (None, Some(r)) => {
                    let (a, b) = r.split_once('-').unwrap_or_default();
                    (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
                }
                _ => (1, 0),
            };
            claimed.extend(a..=b);
        }
        let mut free = HashSet::new();
        for range in &map.free {
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            let (a, b): (u64, u64) = (a.parse().unwrap_or(0), b.parse().unwrap_or(0));
            prop_assert!(a <= b);
            for p in a..=b {
                prop_assert!(free.insert(p), "{p} free twice");
            }
        }
        prop_assert_eq!(free.len(), map.free_ports);
        for p in 3000u64..=3010 {
            prop_assert!(claimed.contains(&p) != free.contains(&p), "port {p}");
        }
        prop_assert!(free.iter().all(|p| (3000..=3010).contains(p)));

        prop_assert_eq!(port_map_messages(&raw), port_diagnostics(&source));
        let text = map.render_text();
        prop_assert!(text.contains("PORT") || map.ports.is_empty());
    }
}

// ---------------------------------------------------------------------------------------
// Scale

/// A catalog of `n` services with three dependencies each (on earlier services), in groups
/// of 100, built directly (compiling a manifest this size is not what is measured).
fn large_catalog(n: usize) -> Catalog {
    let source = SourceFile::new(
        "large.toml",
        "version = 1\n[groups.g]\n[services.template]\ngroup = \"g\"\nport = 3000\n".to_owned(),
        Syntax::Toml,
    );
    let mut catalog = compile(&source);
    let template = catalog.services.swap_remove("template").expect("template");
    catalog.groups.clear();
    for g in 0..n.div_ceil(100) {
        let mut group = template.clone();
        group.id = format!("g{g}");
        catalog.groups.insert(
            group.id.clone(),
            iza_catalog::model::Group {
                id: group.id.clone(),
                name: group.id,
                description: None,
            },
        );
    }
    for i in 0..n {
        let mut service = template.clone();
        service.id = format!("s{i}");
        service.group = Some(format!("g{}", i / 100));
        service.depends_on = if i < 3 {
            Vec::new()
        } else {
            // Three earlier services, spread out: a deep, wide graph.
            vec![
                format!("s{}", i / 2),
                format!("s{}", i - 1),
                format!("s{}", i * 7 / 10),
            ]
        };
        catalog.services.insert(service.id.clone(), service);
    }
    catalog
}

/// 100,000 services and 300,000 edges: every step is linear, so this finishes quickly even
/// in a debug build (about 0.2 s in release); a quadratic step would not finish at all.
#[test]
fn a_large_graph_builds_orders_and_walks() {
    let n = 100_000;
    let catalog = large_catalog(n);
    let started = std::time::Instant::now();
    let graph = EcosystemGraph::build(&catalog);
    let built = started.elapsed();
    assert_eq!(graph.service_count(), n);
    assert_eq!(graph.edge_count(), 3 * (n - 3));
    let layers = graph.start_order().expect("no cycle");
    assert_eq!(layers.iter().map(Vec::len).sum::<usize>(), n);
    assert_eq!(graph.dependents_of("s1").len(), n - 3);
    let walked = started.elapsed();
    // For a person running `cargo test --release -- --nocapture large`; never asserted.
    eprintln!("{n} services: built after {built:?}, ordered and walked after {walked:?}");
}

#[test]
fn dot_edges_are_counted_outside_quotes_and_comments() {
    let dot = "// The ecosystem graph of ->\", written by `iza graph`.\ndigraph \"->\\\"\" {\n  \"a -> b\" -> \"c\" [label=\"x -> y\"];\n}\n";
    assert_eq!(dot_edge_count(dot), 1);
}
