//! Writes a [`Document`] as a manifest table (keys as in `manifest/raw.rs`), resolving what
//! could only be resolved once everything was read: the services agents watch, the agents
//! they report to, flow steps, and the service a channel runs over.

use toml::{Table, Value};

use super::document::{Agent, Document, Scope, Service};
use super::infer;
use super::inline::{plain, quote, words};
use crate::manifest::raw::{ChannelKind, RawPort, ServiceKind, parse_port_spec};

/// The manifest for `doc`; notes on what could not be resolved are added to `notes`.
pub(super) fn manifest(doc: &Document, notes: &mut Vec<String>) -> Table {
    let mut manifest = Table::new();
    manifest.insert("version".to_owned(), Value::Integer(1));
    if let Some(ecosystem) = ecosystem(doc) {
        manifest.insert("ecosystem".to_owned(), Value::Table(ecosystem));
    }
    insert_map(&mut manifest, "groups", groups(doc));
    insert_map(&mut manifest, "services", services(doc));
    insert_map(&mut manifest, "agents", agents(doc, notes));
    let tasks = tasks(doc);
    if !tasks.is_empty() {
        manifest.insert("tasks".to_owned(), Value::Array(tasks));
    }
    insert_map(&mut manifest, "flows", flows(doc, notes));
    insert_map(&mut manifest, "channels", channels(doc));
    manifest
}

fn insert_map(manifest: &mut Table, key: &str, map: Table) {
    if !map.is_empty() {
        manifest.insert(key.to_owned(), Value::Table(map));
    }
}

fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| string(s)).collect())
}

/// A serde-serializable enum value (kinds, metrics, priorities) as TOML.
fn enum_value<T: serde::Serialize>(value: T) -> Option<Value> {
    Value::try_from(value).ok()
}

fn ecosystem(doc: &Document) -> Option<Table> {
    let mut table = Table::new();
    if let Some(title) = &doc.title {
        table.insert(
            "name".to_owned(),
            Value::String(infer::ecosystem_name(title)),
        );
    }
    let description: Vec<&str> = doc
        .description
        .iter()
        .map(String::as_str)
        .filter(|d| !d.is_empty())
        .collect();
    if !description.is_empty() {
        table.insert(
            "description".to_owned(),
            Value::String(description.join(" ")),
        );
    }
    if let Some(range) = &doc.port_range {
        table.insert("port_range".to_owned(), string(range));
    }
    if !doc.claims.is_empty() {
        let claims = doc
            .claims
            .iter()
            .map(|c| {
                let mut claim = Table::new();
                claim.insert("label".to_owned(), string(&c.label));
                claim.insert("value".to_owned(), string(&c.value));
                if let Some(metric) = c.counts.and_then(enum_value) {
                    claim.insert("counts".to_owned(), metric);
                }
                Value::Table(claim)
            })
            .collect();
        table.insert("claims".to_owned(), Value::Array(claims));
    }
    (!table.is_empty()).then_some(table)
}

fn groups(doc: &Document) -> Table {
    doc.groups
        .iter()
        .map(|g| {
            let mut group = Table::new();
            group.insert("name".to_owned(), string(&g.name));
            if let Some(description) = &g.description {
                group.insert("description".to_owned(), string(description));
            }
            (g.id.clone(), Value::Table(group))
        })
        .collect()
}

fn port_value(port: &RawPort) -> Value {
    match port {
        RawPort::Single(p) => Value::Integer(i64::from(*p)),
        RawPort::Range((a, b)) => Value::String(format!("{a}-{b}")),
    }
}

fn services(doc: &Document) -> Table {
    doc.services
        .iter()
        .map(|s| (s.id.clone(), Value::Table(service(s))))
        .collect()
}

fn service(s: &Service) -> Table {
    let mut t = Table::new();
    t.insert("name".to_owned(), string(&s.name));
    if let Some(group) = &s.group {
        t.insert("group".to_owned(), string(group));
    }
    if let Some(kind) = s.kind.and_then(enum_value) {
        t.insert("kind".to_owned(), kind);
    }
    if let Some(description) = &s.description {
        t.insert("description".to_owned(), string(description));
    }
    if !s.features.is_empty() {
        t.insert("features".to_owned(), strings(&s.features));
    }
    match s.ports.as_slice() {
        [] => {}
        [RawPort::Single(p)] => {
            t.insert("port".to_owned(), Value::Integer(i64::from(*p)));
        }
        ports => {
            t.insert(
                "ports".to_owned(),
                Value::Array(ports.iter().map(port_value).collect()),
            );
        }
    }
    if let Some(parent) = &s.parent {
        t.insert("parent".to_owned(), string(parent));
    }
    if let Some(host) = &s.host {
        t.insert("host".to_owned(), string(host));
    }
    if let Some(docker) = &s.docker {
        t.insert("docker".to_owned(), string(docker));
    }
    if !s.metadata.is_empty() {
        let metadata = s
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        t.insert("metadata".to_owned(), Value::Table(metadata));
    }
    t
}

/// The services an agent watches: the one it is listed under and that service's children,
/// or every service of its section.
fn watched(doc: &Document, scope: &Scope) -> Vec<String> {
    match scope {
        Scope::Nothing => Vec::new(),
        Scope::Service(id) => std::iter::once(id.clone())
            .chain(
                doc.services
                    .iter()
                    .filter(|s| s.parent.as_deref() == Some(id))
                    .map(|s| s.id.clone()),
            )
            .collect(),
        Scope::Section(index) => {
            let group = doc.sections.get(*index).and_then(|s| s.group.as_deref());
            match group {
                Some(group) => doc
                    .services
                    .iter()
                    .filter(|s| s.group.as_deref() == Some(group))
                    .map(|s| s.id.clone())
                    .collect(),
                None => Vec::new(),
            }
        }
    }
}

/// The id of the agent a `reports to` names: by name, with or without `Agent`, or by id.
fn find_agent<'a>(doc: &'a Document, name: &str) -> Option<&'a Agent> {
    let wanted = name.to_lowercase();
    let slug = crate::import::slug(name);
    doc.agents.iter().find(|a| {
        let own = a.name.to_lowercase();
        own == wanted || own == format!("{wanted} agent") || a.id == slug
    })
}

fn agents(doc: &Document, notes: &mut Vec<String>) -> Table {
    let mut table = Table::new();
    let mut tierless = Vec::new();
    for agent in &doc.agents {
        let mut t = Table::new();
        t.insert("name".to_owned(), string(&agent.name));
        let tier = agent.tier.unwrap_or_else(|| {
            tierless.push(agent.id.as_str());
            3
        });
        t.insert("tier".to_owned(), Value::Integer(i64::from(tier)));
        if let Some(boss) = &agent.reports_to {
            match find_agent(doc, boss) {
                Some(found) if found.id != agent.id => {
                    t.insert("reports_to".to_owned(), string(&found.id));
                }
                _ => notes.push(format!(
                    "line {}: agent `{}` reports to \"{boss}\", which is no other agent of the document; `reports_to` is left out",
                    agent.line, agent.id
                )),
            }
        }
        if let Some(role) = &agent.role {
            t.insert("role".to_owned(), string(role));
        }
        let services = watched(doc, &agent.scope);
        if !services.is_empty() {
            t.insert("services".to_owned(), strings(&services));
        }
        if !agent.tasks.is_empty() {
            let tasks = agent
                .tasks
                .iter()
                .map(|name| {
                    let mut task = Table::new();
                    task.insert("name".to_owned(), string(name));
                    Value::Table(task)
                })
                .collect();
            t.insert("tasks".to_owned(), Value::Array(tasks));
        }
        table.insert(agent.id.clone(), Value::Table(t));
    }
    if !tierless.is_empty() {
        notes.push(format!(
            "the document gives no tier for {} agent{} (`{}`{}); {} imported as tier 3 (workers)",
            tierless.len(),
            if tierless.len() == 1 { "" } else { "s" },
            tierless.first().copied().unwrap_or_default(),
            if tierless.len() > 1 { ", ..." } else { "" },
            if tierless.len() == 1 {
                "it is"
            } else {
                "they are"
            },
        ));
    }
    let escalating = doc.agents.iter().any(|a| a.tier.unwrap_or(3) > 1);
    if escalating && doc.agents.iter().all(|a| a.reports_to.is_none()) {
        notes
            .push("the document names no reporting lines, so no agent has `reports_to`".to_owned());
    }
    table
}

fn tasks(doc: &Document) -> Vec<Value> {
    doc.tasks
        .iter()
        .map(|task| {
            let mut t = Table::new();
            t.insert("name".to_owned(), string(&task.name));
            if let Some(description) = &task.description {
                t.insert("description".to_owned(), string(description));
            }
            if let Some(priority) = task.priority.and_then(enum_value) {
                t.insert("priority".to_owned(), priority);
            }
            Value::Table(t)
        })
        .collect()
}

/// A service or group a flow step may name.
struct Candidate<'a> {
    id: &'a str,
    name: &'a str,
}

/// How many of `step`'s words the candidate's name holds.
fn overlap(step: &[String], name: &str) -> usize {
    let name = words(name);
    step.iter().filter(|w| name.contains(w)).count()
}

/// The best candidates by name overlap, ties kept in document order.
fn best<'a>(step: &[String], candidates: Vec<Candidate<'a>>) -> Vec<Candidate<'a>> {
    let top = candidates
        .iter()
        .map(|c| overlap(step, c.name))
        .max()
        .unwrap_or(0);
    candidates
        .into_iter()
        .filter(|c| overlap(step, c.name) == top)
        .collect()
}

/// Resolves a flow step (`Business Services (4000-7999)`) to the ids that fit it, best
/// first: services on its port, or owning its range; groups whose services all live in
/// its range; else services and groups by name.
fn resolve_step<'a>(doc: &'a Document, step: &str) -> Vec<Candidate<'a>> {
    let (name, port) = match step.split_once('(') {
        Some((name, rest)) => {
            let inner = rest.split(')').next().unwrap_or("").trim();
            (name.trim(), parse_port_spec(inner).ok())
        }
        None => (step.trim(), None),
    };
    let step_words = words(name);
    let service = |s: &'a Service| Candidate {
        id: &s.id,
        name: &s.name,
    };
    if let Some(port) = port {
        let on_port: Vec<Candidate<'a>> = doc
            .services
            .iter()
            .filter(|s| s.ports.contains(&port))
            .map(service)
            .collect();
        if !on_port.is_empty() {
            return best(&step_words, on_port);
        }
        if let RawPort::Range((a, b)) = port {
            let inside = |p: &RawPort| match p {
                RawPort::Single(p) => (a..=b).contains(p),
                RawPort::Range((x, y)) => a <= *x && *y <= b,
            };
            let groups: Vec<Candidate<'a>> = doc
                .groups
                .iter()
                .filter(|g| {
                    let mut ports = doc
                        .services
                        .iter()
                        .filter(|s| s.group.as_deref() == Some(&g.id))
                        .flat_map(|s| &s.ports)
                        .peekable();
                    ports.peek().is_some() && ports.all(inside)
                })
                .map(|g| Candidate {
                    id: &g.id,
                    name: &g.name,
                })
                .collect();
            if !groups.is_empty() {
                return best(&step_words, groups);
            }
        }
    }
    let slug = crate::import::slug(name);
    let all = doc
        .groups
        .iter()
        .map(|g| Candidate {
            id: &g.id,
            name: &g.name,
        })
        .chain(doc.services.iter().map(service));
    let mut exact: Vec<Candidate<'a>> = Vec::new();
    let mut others = Vec::new();
    for c in all {
        if c.id == slug {
            exact.push(c);
        } else {
            others.push(c);
        }
    }
    if !exact.is_empty() {
        return exact;
    }
    let found = best(&step_words, others);
    let enough = found
        .first()
        .is_some_and(|c| overlap(&step_words, c.name) * 2 >= step_words.len().max(1));
    if enough { found } else { Vec::new() }
}

fn flows(doc: &Document, notes: &mut Vec<String>) -> Table {
    let mut table = Table::new();
    for flow in &doc.flows {
        let mut steps = Vec::new();
        for (line, step) in &flow.steps {
            let found = resolve_step(doc, step);
            match found.split_first() {
                Some((chosen, others)) => {
                    if !others.is_empty() {
                        let others: Vec<String> =
                            others.iter().map(|c| format!("`{}`", c.id)).collect();
                        notes.push(format!(
                            "line {line}: flow step \"{}\" is taken as `{}`; {} would fit as well",
                            quote(step),
                            chosen.id,
                            others.join(", ")
                        ));
                    }
                    steps.push(string(chosen.id));
                }
                None => notes.push(format!(
                    "line {line}: flow step \"{}\" names no service or group; it is left out of flow `{}`",
                    quote(step),
                    flow.id
                )),
            }
        }
        let mut t = Table::new();
        t.insert("name".to_owned(), string(&flow.name));
        t.insert("steps".to_owned(), Value::Array(steps));
        table.insert(flow.id.clone(), Value::Table(t));
    }
    table
}

/// The service a channel runs over: one its description names (`via RabbitMQ`), else the
/// only message queue for a message-queue channel.
fn carrier<'a>(doc: &'a Document, kind: ChannelKind, description: &str) -> Option<&'a str> {
    let text = words(&plain(description));
    let named = doc.services.iter().find(|s| {
        let name = words(&s.name);
        !name.is_empty() && text.windows(name.len()).any(|w| w == name.as_slice())
    });
    if let Some(service) = named {
        return Some(&service.id);
    }
    if kind == ChannelKind::MessageQueue {
        let mut queues = doc
            .services
            .iter()
            .filter(|s| s.kind == Some(ServiceKind::MessageQueue));
        if let (Some(only), None) = (queues.next(), queues.next()) {
            return Some(&only.id);
        }
    }
    None
}

fn channels(doc: &Document) -> Table {
    doc.channels
        .iter()
        .map(|c| {
            let mut t = Table::new();
            t.insert("name".to_owned(), string(&c.name));
            if let Some(kind) = enum_value(c.kind) {
                t.insert("kind".to_owned(), kind);
            }
            if let Some(description) = &c.description {
                t.insert("description".to_owned(), string(description));
            }
            if let Some(via) = carrier(doc, c.kind, c.description.as_deref().unwrap_or("")) {
                t.insert("via".to_owned(), string(via));
            }
            (c.id.clone(), Value::Table(t))
        })
        .collect()
}
