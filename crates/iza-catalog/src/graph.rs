//! Defines the [`EcosystemGraph`]: the catalog's services and groups as the nodes of a
//! directed graph, with one edge per relation the manifest states, each of its own
//! [`EdgeKind`]:
//!
//! - `Depends`: a service → each service in its `depends_on` (start order, impact);
//! - `Connects`: a service → each target of its `connects`, with the `via` protocol;
//! - `Flow`: each step of a `flows` entry → the next step;
//! - `Owns`: a hub → each child that names it as `parent`.
//!
//! Groups are nodes of their own: a flow step may name a group (the seed's "Business
//! Services (4000-7999)" stage), and a flow edge then leads to or from the group node, not
//! to every service in it, which would multiply the edges and say more than the manifest
//! does. Only `Flow` edges touch group nodes; which services a group holds is each
//! service's `group`. The runtime's questions (what does a service need, what is impacted
//! when it is down, in which order to start everything) follow `Depends` edges only.
//!
//! Node ids are looked up through a hash map and every walk is linear in the edges it
//! visits, so a graph of 100,000 services and 300,000 edges builds in milliseconds.

use std::collections::{HashMap, VecDeque};

use petgraph::Direction;
use petgraph::graph::{DiGraph, EdgeReference, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::Serialize;

use crate::model::Catalog;

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeKind {
    /// A service.
    Service,
    /// A group of services (a flow may pass through it).
    Group,
}

/// What an edge says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// `from` needs `to` running first (`depends_on`).
    Depends,
    /// Data goes from `from` to `to` (`connects`).
    Connects,
    /// `to` is the next step after `from` in a flow (`flows`).
    Flow,
    /// `from` is the hub `to` lives under (`parent`).
    Owns,
}

/// A node's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    id: String,
    kind: NodeKind,
}

/// An edge's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EdgeData {
    kind: EdgeKind,
    /// The protocol of a `Connects` edge.
    via: Option<String>,
    /// The flow a `Flow` edge belongs to.
    flow: Option<String>,
}

/// One edge, as the exporters and callers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Edge<'g> {
    /// Source node id.
    pub from: &'g str,
    /// Target node id.
    pub to: &'g str,
    /// What the edge says.
    pub kind: EdgeKind,
    /// Protocol of a `Connects` edge, when the manifest names one.
    pub via: Option<&'g str>,
    /// Flow id of a `Flow` edge.
    pub flow: Option<&'g str>,
}

/// Which way an edge points, seen from the node asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Heading {
    /// The edge leaves the node (`node → neighbour`).
    Outgoing,
    /// The edge arrives at the node (`neighbour → node`).
    Incoming,
}

/// A node next to another, and the edge between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Neighbour<'g> {
    /// The neighbour's id.
    pub id: &'g str,
    /// Whether the neighbour is a service or a group.
    pub node: NodeKind,
    /// Which way the edge points.
    pub heading: Heading,
    /// The edge.
    pub edge: Edge<'g>,
}

/// Why the start order cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// `depends_on` edges form a cycle (a validated catalog never has one).
    #[error("cannot order {}: a dependency cycle blocks them", .services.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "))]
    DependencyCycle {
        /// The services that could not be ordered (on a cycle or waiting on one), in file order.
        services: Vec<String>,
    },
}

/// The ecosystem as a graph; see the module documentation for its nodes and edges.
#[derive(Debug, Clone, Default)]
pub struct EcosystemGraph {
    graph: DiGraph<Node, EdgeData>,
    /// Node of each service and group id. Services come first, in file order, then groups.
    index: HashMap<String, NodeIndex>,
    service_count: usize,
}

impl EcosystemGraph {
    /// Builds the graph of a catalog. References that do not resolve (impossible in a
    /// validated catalog) are skipped, never a panic.
    pub fn build(catalog: &Catalog) -> EcosystemGraph {
        let nodes = catalog.services.len() + catalog.groups.len();
        let edges = catalog
            .services
            .values()
            .map(|s| s.depends_on.len() + s.connects.len() + usize::from(s.parent.is_some()))
            .sum::<usize>()
            + catalog.flows.values().map(|f| f.steps.len()).sum::<usize>();
        let mut graph = DiGraph::with_capacity(nodes, edges);
        let mut index = HashMap::with_capacity(nodes);
        let nodes = catalog
            .services
            .keys()
            .map(|id| (id, NodeKind::Service))
            .chain(catalog.groups.keys().map(|id| (id, NodeKind::Group)));
        for (id, kind) in nodes {
            // A service and a group never share an id in a validated catalog; keep the first.
            if !index.contains_key(id) {
                let node = graph.add_node(Node {
                    id: id.clone(),
                    kind,
                });
                index.insert(id.clone(), node);
            }
        }
        let mut built = EcosystemGraph {
            graph,
            index,
            service_count: catalog.services.len(),
        };
        for service in catalog.services.values() {
            for dependency in &service.depends_on {
                built.link(&service.id, dependency, EdgeKind::Depends, None, None);
            }
        }
        for service in catalog.services.values() {
            for connection in &service.connects {
                let via = connection.via.clone();
                built.link(&service.id, &connection.to, EdgeKind::Connects, via, None);
            }
        }
        for service in catalog.services.values() {
            if let Some(parent) = &service.parent {
                built.link(parent, &service.id, EdgeKind::Owns, None, None);
            }
        }
        for flow in catalog.flows.values() {
            for pair in flow.steps.windows(2) {
                if let [from, to] = pair {
                    let flow_id = Some(flow.id.clone());
                    built.link(from.id(), to.id(), EdgeKind::Flow, None, flow_id);
                }
            }
        }
        built
    }

    fn link(
        &mut self,
        from: &str,
        to: &str,
        kind: EdgeKind,
        via: Option<String>,
        flow: Option<String>,
    ) {
        if let (Some(&a), Some(&b)) = (self.index.get(from), self.index.get(to)) {
            self.graph.add_edge(a, b, EdgeData { kind, via, flow });
        }
    }

    /// Number of service nodes.
    pub fn service_count(&self) -> usize {
        self.service_count
    }

    /// Number of nodes, services and groups.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of edges of every kind.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Whether a service or group of that id is in the graph.
    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// Whether the id names a service or a group, when it names either.
    pub fn node_kind(&self, id: &str) -> Option<NodeKind> {
        self.index.get(id).map(|&n| self.graph[n].kind)
    }

    /// Every edge, in the order it was added: dependencies, connections, ownership, flows,
    /// each in file order.
    pub fn edges(&self) -> impl Iterator<Item = Edge<'_>> + '_ {
        self.graph.edge_references().map(|e| self.edge(e))
    }

    fn edge<'g>(&'g self, e: EdgeReference<'g, EdgeData>) -> Edge<'g> {
        let data = e.weight();
        Edge {
            from: &self.graph[e.source()].id,
            to: &self.graph[e.target()].id,
            kind: data.kind,
            via: data.via.as_deref(),
            flow: data.flow.as_deref(),
        }
    }

    /// The nodes next to `id` by any edge, both ways, in the order the edges were added;
    /// empty for an unknown id.
    pub fn neighbours(&self, id: &str) -> Vec<Neighbour<'_>> {
        let Some(&node) = self.index.get(id) else {
            return Vec::new();
        };
        let mut found: Vec<(usize, Neighbour<'_>)> = Vec::new();
        for (direction, heading) in [
            (Direction::Outgoing, Heading::Outgoing),
            (Direction::Incoming, Heading::Incoming),
        ] {
            for e in self.graph.edges_directed(node, direction) {
                let other = if heading == Heading::Outgoing {
                    e.target()
                } else {
                    e.source()
                };
                // A self-loop shows once, as outgoing.
                if heading == Heading::Incoming && other == node {
                    continue;
                }
                let other = &self.graph[other];
                found.push((
                    e.id().index(),
                    Neighbour {
                        id: &other.id,
                        node: other.kind,
                        heading,
                        edge: self.edge(e),
                    },
                ));
            }
        }
        found.sort_by_key(|(order, _)| *order);
        found.into_iter().map(|(_, n)| n).collect()
    }

    /// Services `id` needs, directly or through others (`depends_on`, transitively), in
    /// file order; empty for an unknown id.
    pub fn dependencies_of(&self, id: &str) -> Vec<&str> {
        self.reach(id, Direction::Outgoing)
    }

    /// Services impacted when `id` is down: those that depend on it, directly or through
    /// others, in file order; empty for an unknown id.
    pub fn dependents_of(&self, id: &str) -> Vec<&str> {
        self.reach(id, Direction::Incoming)
    }

    /// Breadth-first walk over `Depends` edges; the start node is not part of the answer
    /// (even on a cycle back to it).
    fn reach(&self, id: &str, direction: Direction) -> Vec<&str> {
        let Some(&start) = self.index.get(id) else {
            return Vec::new();
        };
        let mut seen = vec![false; self.graph.node_count()];
        seen[start.index()] = true;
        let mut queue = VecDeque::from([start]);
        let mut reached = Vec::new();
        while let Some(node) = queue.pop_front() {
            for e in self.graph.edges_directed(node, direction) {
                if e.weight().kind != EdgeKind::Depends {
                    continue;
                }
                let next = if direction == Direction::Outgoing {
                    e.target()
                } else {
                    e.source()
                };
                if !seen[next.index()] {
                    seen[next.index()] = true;
                    reached.push(next);
                    queue.push_back(next);
                }
            }
        }
        reached.sort_unstable();
        reached
            .into_iter()
            .map(|n| self.graph[n].id.as_str())
            .collect()
    }

    /// The order to start services in: layers, dependencies first. Every service of a
    /// layer depends only on services of earlier layers, so a supervisor may start a
    /// layer's services in parallel once the layers before it are up. Each layer is in
    /// file order; the first holds the services that depend on nothing.
    pub fn start_order(&self) -> Result<Vec<Vec<String>>, GraphError> {
        let count = self.graph.node_count();
        // For each service: how many of its dependencies are not started yet.
        let mut waiting_on = vec![0usize; count];
        for e in self.graph.edge_references() {
            if e.weight().kind == EdgeKind::Depends {
                waiting_on[e.source().index()] += 1;
            }
        }
        let is_service = |n: NodeIndex| self.graph[n].kind == NodeKind::Service;
        let mut layer: Vec<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|&n| is_service(n) && waiting_on[n.index()] == 0)
            .collect();
        let mut layers = Vec::new();
        let mut placed = 0;
        while !layer.is_empty() {
            placed += layer.len();
            let mut next = Vec::new();
            for &node in &layer {
                for e in self.graph.edges_directed(node, Direction::Incoming) {
                    if e.weight().kind != EdgeKind::Depends {
                        continue;
                    }
                    let dependent = e.source().index();
                    waiting_on[dependent] -= 1;
                    if waiting_on[dependent] == 0 {
                        next.push(e.source());
                    }
                }
            }
            next.sort_unstable();
            layers.push(
                layer
                    .iter()
                    .map(|&n| self.graph[n].id.clone())
                    .collect::<Vec<_>>(),
            );
            layer = next;
        }
        if placed < self.service_count {
            let services = self
                .graph
                .node_indices()
                .filter(|&n| is_service(n) && waiting_on[n.index()] > 0)
                .map(|n| self.graph[n].id.clone())
                .collect();
            return Err(GraphError::DependencyCycle { services });
        }
        Ok(layers)
    }
}
