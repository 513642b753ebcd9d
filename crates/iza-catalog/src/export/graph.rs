//! Renders the [`EcosystemGraph`] of a catalog for people and tools (`iza graph`):
//! Graphviz DOT, a Mermaid flowchart, or JSON nodes, groups and edges.
//!
//! Every format says the same things the same way: a group is a cluster (DOT) or a
//! subgraph (Mermaid); `depends_on` edges are plain arrows, `connects` edges are dashed and
//! labelled with their protocol, `flows` are bold (one colour per flow in DOT, its name on
//! its first step), and a hub's ownership of its children is an edge of its own (a diamond
//! at the hub in DOT, a circle end in Mermaid). A flow step that names a group leads to or
//! from the group's cluster. Output is deterministic: nodes, groups and edges in file order.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write};

use serde::Serialize;

use crate::graph::{EcosystemGraph, Edge, EdgeKind, NodeKind};
use crate::model::{Catalog, PortSpec, Service, ServiceKind};

/// Output format of `iza graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
    /// JSON nodes and edges.
    Json,
}

/// Renders the catalog's graph.
pub fn render(catalog: &Catalog, format: GraphFormat) -> String {
    let graph = EcosystemGraph::build(catalog);
    let mut out = String::new();
    let written = match format {
        GraphFormat::Dot => write_dot(&mut out, catalog, &graph),
        GraphFormat::Mermaid => write_mermaid(&mut out, catalog, &graph),
        GraphFormat::Json => {
            // Serializing plain strings and numbers cannot fail; an empty object is the fallback.
            out = serde_json::to_string_pretty(&json_graph(catalog, &graph))
                .unwrap_or_else(|_| "{}".to_owned());
            out.push('\n');
            Ok(())
        }
    };
    // Writing into a `String` never fails.
    debug_assert!(written.is_ok());
    out
}

/// The ports of a service as one line (`:3000, :8300-8399`), empty when it has none.
fn ports_line(service: &Service) -> String {
    service
        .ports
        .iter()
        .map(|p| match p {
            PortSpec::Single(p) => format!(":{p}"),
            PortSpec::Range((a, b)) => format!(":{a}-{b}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Services of each group, in file order; services naming an unknown group are left out.
fn members(catalog: &Catalog) -> HashMap<&str, Vec<&Service>> {
    let mut members: HashMap<&str, Vec<&Service>> = HashMap::new();
    for service in catalog.services.values() {
        if let Some(group) = service.group.as_deref()
            && catalog.groups.contains_key(group)
        {
            members.entry(group).or_default().push(service);
        }
    }
    members
}

/// Text with its line breaks and other control characters turned into spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

// ---------------------------------------------------------------------------------------
// DOT

/// Label of the stand-in node that shows an empty group (and that its flows attach to).
const EMPTY_GROUP_LABEL: &str = "no services";

/// Colours of flows, in turn.
const FLOW_COLOURS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// A DOT double-quoted string: backslashes and quotes escaped, line breaks as `\n`.
fn dot_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            c if c.is_control() => quoted.push(' '),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn dot_shape(kind: ServiceKind) -> Option<&'static str> {
    match kind {
        ServiceKind::Database | ServiceKind::Cache => Some("cylinder"),
        ServiceKind::MessageQueue => Some("cds"),
        ServiceKind::Hub => Some("component"),
        ServiceKind::LoadBalancer => Some("trapezium"),
        _ => None,
    }
}

/// Where a DOT edge attaches for a node: services are nodes; a group attaches to a node
/// inside its cluster and is clipped at the cluster's border (`lhead`/`ltail`).
struct DotEnd {
    node: String,
    cluster: Option<String>,
}

fn write_dot(out: &mut String, catalog: &Catalog, graph: &EcosystemGraph) -> fmt::Result {
    let members = members(catalog);
    let title = &catalog.ecosystem.name;
    writeln!(
        out,
        "// The ecosystem graph of {}, written by `iza graph`.",
        one_line(title)
    )?;
    writeln!(out, "// Render it with: iza graph | dot -Tsvg > graph.svg")?;
    writeln!(out, "digraph {} {{", dot_quote(title))?;
    writeln!(
        out,
        "  graph [rankdir=LR, compound=true, fontname=\"Helvetica\", labelloc=t, label={}];",
        dot_quote(title)
    )?;
    writeln!(
        out,
        "  node [shape=box, style=rounded, fontname=\"Helvetica\"];"
    )?;
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=10];")?;

    let service_node = |out: &mut String, service: &Service, indent: &str| -> fmt::Result {
        let ports = ports_line(service);
        let label = if ports.is_empty() {
            service.name.clone()
        } else {
            format!("{}\n{ports}", service.name)
        };
        write!(
            out,
            "{indent}{} [label={}",
            dot_quote(&service.id),
            dot_quote(&label)
        )?;
        if let Some(shape) = dot_shape(service.kind) {
            write!(out, ", shape={shape}")?;
        }
        writeln!(out, "];")
    };

    // Ids taken by services, so that the stand-in node of an empty group is unique.
    let mut taken: HashSet<&str> = catalog.services.keys().map(String::as_str).collect();
    let mut stand_ins: Vec<String> = Vec::new();
    let mut ends: HashMap<&str, DotEnd> = HashMap::new();
    for group in catalog.groups.values() {
        let cluster = format!("cluster_{}", group.id);
        writeln!(out)?;
        writeln!(out, "  subgraph {} {{", dot_quote(&cluster))?;
        writeln!(out, "    label={};", dot_quote(&group.name))?;
        writeln!(out, "    style=rounded;")?;
        let services = members
            .get(group.id.as_str())
            .map_or(&[][..], Vec::as_slice);
        let anchor = match services.first() {
            Some(first) => first.id.clone(),
            None => {
                // An empty group still shows, as a folder, so a flow can lead to it.
                let mut id = format!("{}/group", group.id);
                while taken.contains(id.as_str()) {
                    id.push('_');
                }
                writeln!(
                    out,
                    "    {} [label={}, shape=folder, style=dashed];",
                    dot_quote(&id),
                    dot_quote(EMPTY_GROUP_LABEL)
                )?;
                stand_ins.push(id.clone());
                id
            }
        };
        for service in services {
            service_node(out, service, "    ")?;
        }
        writeln!(out, "  }}")?;
        ends.insert(
            &group.id,
            DotEnd {
                node: anchor,
                cluster: Some(cluster),
            },
        );
    }
    for id in &stand_ins {
        taken.insert(id);
    }
    let loose: Vec<&Service> = catalog
        .services
        .values()
        .filter(|s| {
            !s.group
                .as_deref()
                .is_some_and(|g| catalog.groups.contains_key(g))
        })
        .collect();
    if !loose.is_empty() {
        writeln!(out)?;
        for service in loose {
            service_node(out, service, "  ")?;
        }
    }

    let end = |id: &str| -> DotEnd {
        match (graph.node_kind(id), ends.get(id)) {
            (Some(NodeKind::Group), Some(end)) => DotEnd {
                node: end.node.clone(),
                cluster: end.cluster.clone(),
            },
            _ => DotEnd {
                node: id.to_owned(),
                cluster: None,
            },
        }
    };
    let flow_colour: HashMap<&str, &str> = catalog
        .flows
        .keys()
        .zip(FLOW_COLOURS.iter().cycle())
        .map(|(id, colour)| (id.as_str(), *colour))
        .collect();
    let mut labelled_flows: HashSet<&str> = HashSet::new();

    let sections: [(EdgeKind, &str); 4] = [
        (
            EdgeKind::Depends,
            "depends_on: solid, from a service to what it needs",
        ),
        (
            EdgeKind::Connects,
            "connects: dashed, data flow labelled with its protocol",
        ),
        (
            EdgeKind::Owns,
            "parent: a hub owns its children (diamond at the hub)",
        ),
        (
            EdgeKind::Flow,
            "flows: bold, one colour per flow, named at its first step",
        ),
    ];
    for (kind, comment) in sections {
        let edges: Vec<Edge<'_>> = graph.edges().filter(|e| e.kind == kind).collect();
        if edges.is_empty() {
            continue;
        }
        writeln!(out)?;
        writeln!(out, "  // {comment}")?;
        for edge in edges {
            let (from, to) = (end(edge.from), end(edge.to));
            let mut attributes: Vec<String> = Vec::new();
            match kind {
                EdgeKind::Depends => {}
                EdgeKind::Connects => {
                    attributes.push("style=dashed".to_owned());
                    if let Some(via) = edge.via {
                        attributes.push(format!("label={}", dot_quote(via)));
                    }
                }
                EdgeKind::Owns => attributes.extend(
                    [
                        "dir=both",
                        "arrowtail=diamond",
                        "arrowhead=none",
                        "color=gray50",
                    ]
                    .map(str::to_owned),
                ),
                EdgeKind::Flow => {
                    attributes.push("style=bold".to_owned());
                    if let Some(flow) = edge.flow {
                        let colour = flow_colour.get(flow).copied().unwrap_or("black");
                        attributes.push(format!("color={}", dot_quote(colour)));
                        attributes.push(format!("fontcolor={}", dot_quote(colour)));
                        if labelled_flows.insert(flow) {
                            let name = catalog.flows.get(flow).map_or(flow, |f| f.name.as_str());
                            attributes.push(format!("label={}", dot_quote(name)));
                        }
                    }
                }
            }
            if let Some(cluster) = &from.cluster {
                attributes.push(format!("ltail={}", dot_quote(cluster)));
            }
            if let Some(cluster) = &to.cluster {
                attributes.push(format!("lhead={}", dot_quote(cluster)));
            }
            write!(
                out,
                "  {} -> {}",
                dot_quote(&from.node),
                dot_quote(&to.node)
            )?;
            if !attributes.is_empty() {
                write!(out, " [{}]", attributes.join(", "))?;
            }
            writeln!(out, ";")?;
        }
    }
    writeln!(out, "}}")
}

// ---------------------------------------------------------------------------------------
// Mermaid

/// Mermaid text inside double quotes: characters Mermaid would read as syntax become its
/// entity codes, line breaks become spaces.
fn mermaid_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => escaped.push_str("#quot;"),
            '#' => escaped.push_str("#35;"),
            '<' => escaped.push_str("#lt;"),
            '>' => escaped.push_str("#gt;"),
            '&' => escaped.push_str("#amp;"),
            '|' => escaped.push_str("#124;"),
            '`' => escaped.push_str("#96;"),
            c if c.is_control() => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Mermaid ids for every node: `s_` (service) or `g_` (group) and the id with every
/// character but ASCII letters and digits turned into `_`, numbered when two collide.
/// The prefix keeps ids off Mermaid's keywords (`end`, `graph`) and edge syntax (`o`, `x`).
/// Empty groups also get an id for the stand-in node that keeps their subgraph visible.
struct MermaidIds<'a> {
    nodes: HashMap<&'a str, String>,
    stand_ins: HashMap<&'a str, String>,
}

impl<'a> MermaidIds<'a> {
    fn new(catalog: &'a Catalog, members: &HashMap<&str, Vec<&Service>>) -> MermaidIds<'a> {
        let mut taken: HashSet<String> = HashSet::new();
        let mut unique = |base: String| {
            let mut candidate = base.clone();
            let mut n = 2;
            while taken.contains(&candidate) {
                candidate = format!("{base}_{n}");
                n += 1;
            }
            taken.insert(candidate.clone());
            candidate
        };
        let sanitise = |prefix: &str, id: &str| -> String {
            prefix
                .chars()
                .chain(
                    id.chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
                )
                .collect()
        };
        let mut nodes = HashMap::new();
        let all = catalog
            .services
            .keys()
            .map(|id| (id, "s_"))
            .chain(catalog.groups.keys().map(|id| (id, "g_")));
        for (id, prefix) in all {
            let mermaid = unique(sanitise(prefix, id));
            nodes.entry(id.as_str()).or_insert(mermaid);
        }
        let mut stand_ins = HashMap::new();
        for id in catalog.groups.keys() {
            if !members.contains_key(id.as_str()) {
                let mermaid = unique(sanitise("e_", id));
                stand_ins.insert(id.as_str(), mermaid);
            }
        }
        MermaidIds { nodes, stand_ins }
    }

    fn of(&self, id: &str) -> &str {
        self.nodes.get(id).map_or("unknown", String::as_str)
    }
}

fn write_mermaid(out: &mut String, catalog: &Catalog, graph: &EcosystemGraph) -> fmt::Result {
    let members = members(catalog);
    let ids = MermaidIds::new(catalog, &members);
    let id_of = |id: &str| ids.of(id).to_owned();
    // A JSON string is a valid YAML double-quoted scalar.
    let title = serde_json::to_string(&one_line(&catalog.ecosystem.name))
        .unwrap_or_else(|_| "\"\"".to_owned());
    writeln!(out, "---")?;
    writeln!(out, "title: {title}")?;
    writeln!(out, "---")?;
    writeln!(out, "flowchart LR")?;

    let service_node = |out: &mut String, service: &Service, indent: &str| -> fmt::Result {
        let ports = ports_line(service);
        let mut label = mermaid_text(&service.name);
        if !ports.is_empty() {
            label = format!("{label}<br/>{}", mermaid_text(&ports));
        }
        let (open, close) = match service.kind {
            ServiceKind::Database | ServiceKind::Cache => ("[(", ")]"),
            ServiceKind::Hub => ("[[", "]]"),
            _ => ("[", "]"),
        };
        writeln!(
            out,
            "{indent}{}{open}\"{label}\"{close}",
            id_of(&service.id)
        )
    };

    for group in catalog.groups.values() {
        writeln!(
            out,
            "  subgraph {}[\"{}\"]",
            id_of(&group.id),
            mermaid_text(&group.name)
        )?;
        for service in members.get(group.id.as_str()).into_iter().flatten() {
            service_node(out, service, "    ")?;
        }
        if let Some(stand_in) = ids.stand_ins.get(group.id.as_str()) {
            writeln!(out, "    {stand_in}[/\"{EMPTY_GROUP_LABEL}\"/]")?;
        }
        writeln!(out, "  end")?;
    }
    for service in catalog.services.values().filter(|s| {
        !s.group
            .as_deref()
            .is_some_and(|g| catalog.groups.contains_key(g))
    }) {
        service_node(out, service, "  ")?;
    }

    let mut labelled_flows: HashSet<&str> = HashSet::new();
    let sections = [
        (EdgeKind::Depends, "depends_on"),
        (EdgeKind::Connects, "connects (data flow)"),
        (EdgeKind::Owns, "parent (hub ownership)"),
        (EdgeKind::Flow, "flows"),
    ];
    for (kind, comment) in sections {
        let edges: Vec<Edge<'_>> = graph.edges().filter(|e| e.kind == kind).collect();
        if edges.is_empty() {
            continue;
        }
        writeln!(out, "  %% {comment}")?;
        for edge in edges {
            let (from, to) = (id_of(edge.from), id_of(edge.to));
            let arrow = match kind {
                EdgeKind::Depends => "-->".to_owned(),
                EdgeKind::Connects => match edge.via {
                    Some(via) => format!("-.->|\"{}\"|", mermaid_text(via)),
                    None => "-.->".to_owned(),
                },
                EdgeKind::Owns => "--o".to_owned(),
                EdgeKind::Flow => match edge.flow {
                    Some(flow) if labelled_flows.insert(flow) => {
                        let name = catalog.flows.get(flow).map_or(flow, |f| f.name.as_str());
                        format!("==>|\"{}\"|", mermaid_text(name))
                    }
                    _ => "==>".to_owned(),
                },
            };
            writeln!(out, "  {from} {arrow} {to}")?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// JSON

#[derive(Serialize)]
struct JsonGraph<'a> {
    nodes: Vec<JsonNode<'a>>,
    groups: Vec<JsonGroup<'a>>,
    edges: Vec<JsonEdge<'a>>,
}

#[derive(Serialize)]
struct JsonNode<'a> {
    id: &'a str,
    name: &'a str,
    group: Option<&'a str>,
    kind: ServiceKind,
    ports: &'a [PortSpec],
}

#[derive(Serialize)]
struct JsonGroup<'a> {
    id: &'a str,
    name: &'a str,
    services: Vec<&'a str>,
}

#[derive(Serialize)]
struct JsonEdge<'a> {
    from: &'a str,
    to: &'a str,
    kind: EdgeKind,
    via: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow: Option<&'a str>,
}

fn json_graph<'a>(catalog: &'a Catalog, graph: &'a EcosystemGraph) -> JsonGraph<'a> {
    let members = members(catalog);
    JsonGraph {
        nodes: catalog
            .services
            .values()
            .map(|s| JsonNode {
                id: &s.id,
                name: &s.name,
                group: s.group.as_deref(),
                kind: s.kind,
                ports: &s.ports,
            })
            .collect(),
        groups: catalog
            .groups
            .values()
            .map(|g| JsonGroup {
                id: &g.id,
                name: &g.name,
                services: members
                    .get(g.id.as_str())
                    .into_iter()
                    .flatten()
                    .map(|s| s.id.as_str())
                    .collect(),
            })
            .collect(),
        edges: graph
            .edges()
            .map(|e| JsonEdge {
                from: e.from,
                to: e.to,
                kind: e.kind,
                via: e.via,
                flow: e.flow,
            })
            .collect(),
    }
}
