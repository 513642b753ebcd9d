//! Walks a seed-style document line by line and builds a [`Document`]: the H1 and the
//! summary become the ecosystem, H2 sections groups, H3 `**Name** - `localhost:PORT``
//! headings services with their bullets, infrastructure lines services, agent bullets
//! agents, priority lists tasks, arrow code blocks flows and communication bullets
//! channels. Every line it cannot place becomes a note.

use super::document::{
    Agent, Channel, Claim, Document, Flow, Group, Scope, Section, Service, Task,
};
use super::ids::Namespace;
use super::infer;
use super::inline::{
    Lead, backticked, backticked_ports, bold_lead, clean_title, endpoint, leading_name, plain,
    port_list, quote, sentence_case, snake_key, split_list, words,
};
use super::lines::{Line, LineKind, lines};
use crate::manifest::raw::{Metric, Priority, RawPort, ServiceKind, parse_port_spec};

/// Reads `text` into a document and the notes on what could not be mapped.
pub(super) fn read(text: &str) -> (Document, Vec<String>) {
    let mut reader = Reader::new();
    for line in lines(text) {
        reader.line(&line);
    }
    reader.finish();
    (reader.doc, reader.notes)
}

/// Where in the document the reader is, at H2 level.
#[derive(Debug, Clone)]
enum Place {
    /// Before the first H2.
    Preamble,
    /// Inside an H2 section.
    Section {
        index: usize,
        title: String,
        kind: SectionKind,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SectionKind {
    /// `Executive Summary`: its bold-labelled lines are claims.
    Summary,
    /// `Agent Role Definitions`: its subsections list agents.
    AgentRoles,
    /// Anything else.
    Plain,
}

/// What the current H3 (or deeper) heading opened.
#[derive(Debug, Clone)]
enum Sub {
    /// No subsection yet in this section.
    None,
    /// A service heading; `list` is the bullet whose nested items are being read.
    Service { index: usize, list: List },
    /// A list of agents (`Agent Tasks for Infrastructure`, `Tier 1: ...`); `duties` is
    /// true when their duties are tasks (agent task lists), false for role definitions.
    Agents {
        scope: Scope,
        tier: Option<u8>,
        duties: bool,
    },
    /// A prioritised task list.
    Tasks { priority: Option<Priority> },
    /// Communication channels.
    Channels,
    /// Any other subsection: infrastructure lines are read, the rest noted.
    Other { title: String },
}

/// The bullet of a service whose nested items are being read.
#[derive(Debug, Clone)]
enum List {
    None,
    /// `**Agent Tasks**:`: nested items are agents.
    Agents {
        indent: usize,
    },
    /// `**Services**:` without a value: nested items are features.
    Features {
        indent: usize,
    },
    /// Any other label without a value: nested items are child services (when they carry
    /// ports) or metadata entries.
    Nested {
        indent: usize,
        label: String,
        key: String,
    },
}

/// A heading whose content is being counted, to note one that has nothing under it.
#[derive(Debug)]
struct OpenHeading {
    line: usize,
    title: String,
    content: usize,
    /// False for headings that are facts themselves (a service heading).
    expects_content: bool,
}

/// An open code block.
#[derive(Debug)]
struct Fence {
    line: usize,
    lines: Vec<(usize, String)>,
}

struct Reader {
    doc: Document,
    notes: Vec<String>,
    services_and_groups: Namespace,
    agent_ids: Namespace,
    flow_ids: Namespace,
    channel_ids: Namespace,
    place: Place,
    sub: Sub,
    section_heading: Option<OpenHeading>,
    sub_heading: Option<OpenHeading>,
    /// Plain text of the current section before its first subsection.
    intro: Vec<(usize, String)>,
    fence: Option<Fence>,
}

impl Reader {
    fn new() -> Reader {
        Reader {
            doc: Document::default(),
            notes: Vec::new(),
            services_and_groups: Namespace::new("service"),
            agent_ids: Namespace::new("agent"),
            flow_ids: Namespace::new("flow"),
            channel_ids: Namespace::new("channel"),
            place: Place::Preamble,
            sub: Sub::None,
            section_heading: None,
            sub_heading: None,
            intro: Vec::new(),
            fence: None,
        }
    }

    fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    fn not_mapped(&mut self, number: usize, text: &str) {
        self.note(format!("line {number}: \"{}\" was not mapped", quote(text)));
    }

    fn line(&mut self, line: &Line<'_>) {
        if let Some(fence) = &mut self.fence {
            if line.kind == LineKind::Fence {
                if let Some(fence) = self.fence.take() {
                    self.code_block(fence, true);
                }
            } else {
                fence.lines.push((line.number, line.raw.to_owned()));
            }
            return;
        }
        match line.kind {
            LineKind::Blank | LineKind::Rule => {}
            LineKind::Fence => {
                self.touch();
                self.fence = Some(Fence {
                    line: line.number,
                    lines: Vec::new(),
                });
            }
            LineKind::Heading { level, text } => self.heading(level, text, line.number),
            LineKind::Item { indent, text } => {
                self.touch();
                self.content(indent, text, true, line.number);
            }
            LineKind::Text(text) => {
                self.touch();
                self.content(0, text, false, line.number);
            }
        }
    }

    fn finish(&mut self) {
        if let Some(fence) = self.fence.take() {
            self.note(format!(
                "line {}: the code block opened here is never closed; it is read to the end of the document",
                fence.line
            ));
            self.code_block(fence, false);
        }
        self.finish_sub(true);
        self.finish_section(true);
    }

    /// Counts a line of content under the innermost open heading.
    fn touch(&mut self) {
        if let Some(h) = &mut self.sub_heading {
            h.content += 1;
        } else if let Some(h) = &mut self.section_heading {
            h.content += 1;
        }
    }

    fn heading(&mut self, level: usize, text: &str, number: usize) {
        let title = clean_title(text);
        match level {
            1 => {
                if self.doc.title.is_none()
                    && matches!(self.place, Place::Preamble)
                    && !title.is_empty()
                {
                    self.doc.title = Some(title);
                } else {
                    self.not_mapped(number, text);
                }
            }
            2 => {
                self.finish_sub(false);
                self.finish_section(false);
                let lower = title.to_lowercase();
                let kind = if lower.contains("summary") {
                    SectionKind::Summary
                } else if lower.contains("agent")
                    && (lower.contains("role") || lower.contains("tier"))
                {
                    SectionKind::AgentRoles
                } else {
                    SectionKind::Plain
                };
                self.doc.sections.push(Section { group: None });
                self.place = Place::Section {
                    index: self.doc.sections.len() - 1,
                    title: title.clone(),
                    kind,
                };
                self.section_heading = Some(OpenHeading {
                    line: number,
                    title,
                    content: 0,
                    expects_content: true,
                });
            }
            _ => {
                self.finish_sub(false);
                if let Some(h) = &mut self.section_heading {
                    h.content += 1;
                }
                self.sub = self.subsection(text, &title, number);
                self.sub_heading = Some(OpenHeading {
                    line: number,
                    title,
                    content: 0,
                    expects_content: !matches!(self.sub, Sub::Service { .. }),
                });
            }
        }
    }

    /// What an H3 (or deeper) heading opens.
    fn subsection(&mut self, text: &str, title: &str, number: usize) -> Sub {
        if let Some(found) = endpoint(text) {
            let port = match found.port {
                Ok(port) => vec![port],
                Err(problem) => {
                    self.note(format!(
                        "line {number}: `{}`: {problem}; the service has no port",
                        found.written
                    ));
                    Vec::new()
                }
            };
            let name = if found.name.is_empty() {
                found.written.clone()
            } else {
                found.name
            };
            let group = self.current_group(number);
            let kind = infer::service_kind(&name, "", &port);
            let index = self.add_service(
                Service {
                    name,
                    group,
                    kind,
                    ports: port,
                    host: (found.host != "localhost").then_some(found.host),
                    ..Service::default()
                },
                number,
            );
            return Sub::Service {
                index,
                list: List::None,
            };
        }
        let lower = title.to_lowercase();
        let section = match &self.place {
            Place::Section { index, kind, .. } => Some((*index, *kind)),
            Place::Preamble => None,
        };
        if let Some(number_text) = infer::tier_number(title) {
            let tier = self.tier(&number_text, number);
            return Sub::Agents {
                scope: Scope::Nothing,
                tier,
                duties: false,
            };
        }
        if lower.contains("priority") {
            return Sub::Tasks {
                priority: infer::priority(title),
            };
        }
        if matches!(section, Some((_, SectionKind::AgentRoles))) {
            return Sub::Agents {
                scope: Scope::Nothing,
                tier: None,
                duties: false,
            };
        }
        if lower.contains("agent") {
            let scope = section.map_or(Scope::Nothing, |(index, _)| Scope::Section(index));
            return Sub::Agents {
                scope,
                tier: None,
                duties: true,
            };
        }
        if lower.contains("communication") || lower.contains("channel") {
            return Sub::Channels;
        }
        Sub::Other {
            title: title.to_owned(),
        }
    }

    fn tier(&mut self, text: &str, number: usize) -> Option<u8> {
        match text.parse::<u8>() {
            Ok(tier) => Some(tier),
            Err(_) => {
                self.note(format!(
                    "line {number}: tier `{text}` is not a number from 1 to 3; it is ignored"
                ));
                None
            }
        }
    }

    fn finish_sub(&mut self, at_end: bool) {
        if let Some(h) = self.sub_heading.take()
            && h.expects_content
            && h.content == 0
        {
            let end = if at_end {
                " (the document ends there)"
            } else {
                ""
            };
            self.note(format!(
                "line {}: \"{}\" has nothing under it{end}",
                h.line, h.title
            ));
        }
        self.sub = Sub::None;
    }

    fn finish_section(&mut self, at_end: bool) {
        self.flush_intro();
        if let Some(h) = self.section_heading.take()
            && h.content == 0
        {
            let end = if at_end {
                " (the document ends there)"
            } else {
                ""
            };
            self.note(format!(
                "line {}: \"{}\" has nothing under it{end}",
                h.line, h.title
            ));
        }
    }

    /// The text before a section's first subsection describes its group, or is noted.
    fn flush_intro(&mut self) {
        let intro = std::mem::take(&mut self.intro);
        if intro.is_empty() {
            return;
        }
        let group = match &self.place {
            Place::Section { index, .. } => {
                self.doc.sections.get(*index).and_then(|s| s.group.clone())
            }
            Place::Preamble => None,
        };
        let group = group.and_then(|id| self.doc.groups.iter_mut().find(|g| g.id == id));
        match group {
            Some(group) if group.description.is_none() => {
                let text: Vec<String> = intro.iter().map(|(_, t)| plain(t)).collect();
                group.description = Some(text.join(" "));
            }
            _ => {
                for (number, text) in intro {
                    self.not_mapped(number, &text);
                }
            }
        }
    }

    /// The group of the current section, made when its first service is found.
    fn current_group(&mut self, number: usize) -> Option<String> {
        let Place::Section { index, title, .. } = &self.place else {
            return None;
        };
        let (index, title) = (*index, title.clone());
        if let Some(id) = self.doc.sections.get(index).and_then(|s| s.group.clone()) {
            return Some(id);
        }
        let (id, renamed) = self.services_and_groups.claim(&title);
        if renamed {
            self.note(format!(
                "line {number}: group \"{title}\" has id `{id}`: `{}` is taken",
                super::super::slug(&title)
            ));
        }
        self.doc.groups.push(Group {
            id: id.clone(),
            name: title,
            description: None,
        });
        if let Some(section) = self.doc.sections.get_mut(index) {
            section.group = Some(id.clone());
        }
        Some(id)
    }

    /// Adds a service with an id made from its name; returns its index.
    fn add_service(&mut self, mut service: Service, number: usize) -> usize {
        let (id, renamed) = self.services_and_groups.claim(&service.name);
        if renamed {
            self.note(format!(
                "line {number}: service \"{}\" has id `{id}`: `{}` is taken",
                service.name,
                super::super::slug(&service.name)
            ));
        }
        service.id = id;
        self.doc.services.push(service);
        self.doc.services.len() - 1
    }

    /// A list item (`is_item`) or a paragraph line.
    fn content(&mut self, indent: usize, text: &str, is_item: bool, number: usize) {
        let lead = bold_lead(text);
        if let Some(lead) = lead.as_ref().filter(|l| l.unclosed) {
            self.note(format!(
                "line {number}: \"{}\" has no closing `**` (is the document cut off?); read as \"{}\"",
                quote(text),
                lead.label
            ));
        }
        match self.sub.clone() {
            Sub::Service { index, list } => {
                self.service_line(index, list, indent, text, is_item, number)
            }
            Sub::Agents {
                scope,
                tier,
                duties,
            } => match lead {
                Some(lead) => self.agent(&lead, scope, tier, duties, number),
                None => self.not_mapped(number, text),
            },
            Sub::Tasks { priority } => match lead {
                Some(lead) => self.doc.tasks.push(Task {
                    name: lead.label,
                    priority,
                    description: lead.value.as_deref().map(plain),
                }),
                None if is_item && !plain(text).is_empty() => self.doc.tasks.push(Task {
                    name: plain(text),
                    priority,
                    description: None,
                }),
                None => self.not_mapped(number, text),
            },
            Sub::Channels => match lead {
                Some(lead) => self.channel(lead, number),
                None => self.not_mapped(number, text),
            },
            Sub::Other { title } => self.infrastructure_or_note(lead, Some(&title), text, number),
            Sub::None => match self.place.clone() {
                Place::Preamble => match lead {
                    Some(Lead {
                        label,
                        value: Some(value),
                        ..
                    }) => self.claim(label, &value, number),
                    _ => self.doc.description.push(plain(text)),
                },
                Place::Section {
                    kind: SectionKind::Summary,
                    ..
                } => match lead {
                    Some(Lead {
                        label,
                        value: Some(value),
                        ..
                    }) => self.claim(label, &value, number),
                    _ => self.not_mapped(number, text),
                },
                Place::Section { .. } => {
                    if !is_item && lead.is_none() {
                        self.intro.push((number, text.to_owned()));
                    } else {
                        self.infrastructure_or_note(lead, None, text, number);
                    }
                }
            },
        }
    }

    fn claim(&mut self, label: String, value: &str, number: usize) {
        let value = plain(value);
        let counts = infer::claim_metric(&label);
        if counts == Some(Metric::PortRange) {
            let range = value
                .split(|c: char| c.is_whitespace() || c == ',')
                .find(|w| matches!(parse_port_spec(w), Ok(RawPort::Range(_))));
            match range {
                Some(range) if self.doc.port_range.is_none() => self.doc.port_range = Some(range.to_owned()),
                Some(_) => {}
                None => self.note(format!("line {number}: \"{label}\" gives no range `START-END`; the ecosystem has no port policy")),
            }
        }
        self.doc.claims.push(Claim {
            label,
            value,
            counts,
        });
    }

    fn set_list(&mut self, list: List) {
        if let Sub::Service { list: current, .. } = &mut self.sub {
            *current = list;
        }
    }

    fn service_line(
        &mut self,
        index: usize,
        list: List,
        indent: usize,
        text: &str,
        is_item: bool,
        number: usize,
    ) {
        let Some(id) = self.doc.services.get(index).map(|s| s.id.clone()) else {
            return;
        };
        match list {
            List::Agents { indent: at } if is_item && indent > at => {
                return match bold_lead(text) {
                    Some(lead) => self.agent(&lead, Scope::Service(id), None, true, number),
                    None => self.not_mapped(number, text),
                };
            }
            List::Features { indent: at } if is_item && indent > at => {
                if let Some(service) = self.doc.services.get_mut(index) {
                    service.features.push(plain(text));
                }
                return;
            }
            List::Nested {
                indent: at,
                label,
                key,
            } if is_item && indent > at => {
                return self.nested_entry(index, &label, &key, text, number);
            }
            _ => {}
        }
        self.set_list(List::None);
        let Some(lead) = bold_lead(text) else {
            let has_description = self
                .doc
                .services
                .get(index)
                .is_some_and(|s| s.description.is_some());
            if !is_item && !has_description {
                if let Some(service) = self.doc.services.get_mut(index) {
                    service.description = Some(plain(text));
                }
            } else {
                self.not_mapped(number, text);
            }
            return;
        };
        let label = lead.label.to_lowercase();
        let value = lead.value.clone();
        match label.as_str() {
            "description" | "summary" | "about" => match value {
                Some(value) => self.with_service(index, |s| s.description = Some(plain(&value))),
                None => self.not_mapped(number, text),
            },
            "services" | "features" | "capabilities" => match value {
                Some(value) => self.with_service(index, |s| s.features.extend(split_list(&value))),
                None => self.set_list(List::Features { indent }),
            },
            "docker" | "container" | "image" | "docker image" => match value {
                Some(value) => {
                    let reference = backticked(&value)
                        .first()
                        .map_or_else(|| plain(&value), |r| r.trim().to_owned());
                    self.with_service(index, |s| s.docker = Some(reference));
                }
                None => self.not_mapped(number, text),
            },
            "port" | "ports" => {
                let ports = value
                    .as_deref()
                    .map(|v| backticked_ports(v).unwrap_or_else(|| port_list(&plain(v))));
                match ports {
                    Some(Ok(ports)) => self.with_service(index, |s| s.ports.extend(ports)),
                    Some(Err(problem)) => self.note(format!(
                        "line {number}: {problem}; the ports of this line are left out"
                    )),
                    None => self.not_mapped(number, text),
                }
            }
            _ if label.starts_with("agent") => {
                self.set_list(List::Agents { indent });
                if value.is_some() {
                    self.not_mapped(number, text);
                }
            }
            _ => {
                let key = snake_key(&lead.label);
                let written = match (&value, &lead.paren) {
                    (Some(v), Some(p)) => Some(format!("{} ({})", plain(v), plain(p))),
                    (Some(v), None) => Some(plain(v)),
                    (None, Some(p)) => Some(plain(p)),
                    (None, None) => None,
                };
                match written {
                    Some(written) => {
                        self.with_service(index, |s| {
                            let key = free_key(&s.metadata, &key);
                            s.metadata.insert(key, toml::Value::String(written));
                        });
                    }
                    None => self.set_list(List::Nested {
                        indent,
                        label: lead.label.clone(),
                        key,
                    }),
                }
            }
        }
    }

    fn with_service(&mut self, index: usize, change: impl FnOnce(&mut Service)) {
        if let Some(service) = self.doc.services.get_mut(index) {
            change(service);
        }
    }

    /// A nested item under a service's bullet: a child service when it carries ports in
    /// backticks (`**Business Monetizer MCP** (`8301`): ...`), else a metadata entry.
    fn nested_entry(&mut self, index: usize, label: &str, key: &str, text: &str, number: usize) {
        let entry = match bold_lead(text) {
            Some(lead) => {
                if let Some(ports) = lead.paren.as_deref().and_then(backticked_ports) {
                    let ports = ports.unwrap_or_else(|problem| {
                        self.note(format!(
                            "line {number}: {problem}; \"{}\" has no port",
                            lead.label
                        ));
                        Vec::new()
                    });
                    self.child_service(index, label, &lead, ports, number);
                    return;
                }
                let mut entry = toml::Table::new();
                entry.insert("name".to_owned(), toml::Value::String(lead.label.clone()));
                if let Some(paren) = &lead.paren {
                    let digits: String = paren.chars().filter(|c| *c != ',').collect();
                    match digits.parse::<i64>() {
                        Ok(count) => entry.insert("count".to_owned(), toml::Value::Integer(count)),
                        Err(_) => {
                            entry.insert("detail".to_owned(), toml::Value::String(plain(paren)))
                        }
                    };
                }
                if let Some(value) = &lead.value {
                    entry.insert("description".to_owned(), toml::Value::String(plain(value)));
                }
                toml::Value::Table(entry)
            }
            None => toml::Value::String(plain(text)),
        };
        self.with_service(index, |s| {
            let key = match s.metadata.get(key) {
                None | Some(toml::Value::Array(_)) => key.to_owned(),
                Some(_) => free_key(&s.metadata, key),
            };
            if let toml::Value::Array(entries) = s
                .metadata
                .entry(key)
                .or_insert_with(|| toml::Value::Array(Vec::new()))
            {
                entries.push(entry);
            }
        });
    }

    fn child_service(
        &mut self,
        parent: usize,
        label: &str,
        lead: &Lead,
        ports: Vec<RawPort>,
        number: usize,
    ) {
        let Some(hub) = self.doc.services.get(parent) else {
            return;
        };
        let (parent_id, group, host) = (hub.id.clone(), hub.group.clone(), hub.host.clone());
        let mcp = words(label)
            .iter()
            .chain(&words(&lead.label))
            .any(|w| w == "mcp");
        let kind = if mcp {
            Some(ServiceKind::McpServer)
        } else {
            infer::service_kind(&lead.label, label, &ports)
        };
        self.add_service(
            Service {
                name: lead.label.clone(),
                group,
                kind,
                description: lead.value.as_deref().map(plain),
                ports,
                parent: Some(parent_id),
                host,
                ..Service::default()
            },
            number,
        );
    }

    /// A line of an infrastructure list (`**Label** (`ports`): A, B, C`) becomes services;
    /// anything else is noted.
    fn infrastructure_or_note(
        &mut self,
        lead: Option<Lead>,
        listed_under: Option<&str>,
        text: &str,
        number: usize,
    ) {
        let ports = lead
            .as_ref()
            .and_then(|l| l.paren.as_deref())
            .and_then(backticked_ports);
        match (lead, ports) {
            (Some(lead), Some(ports)) => self.infrastructure(&lead, ports, listed_under, number),
            _ => self.not_mapped(number, text),
        }
    }

    fn infrastructure(
        &mut self,
        lead: &Lead,
        ports: Result<Vec<RawPort>, String>,
        listed_under: Option<&str>,
        number: usize,
    ) {
        let ports = ports.unwrap_or_else(|problem| {
            self.note(format!(
                "line {number}: {problem}; \"{}\" gets no port",
                lead.label
            ));
            Vec::new()
        });
        let items = lead.value.as_deref().map(split_list).unwrap_or_default();
        let group = self.current_group(number);
        let label = lead.label.as_str();
        let base_metadata = |stack: Option<&str>| {
            let mut metadata = indexmap::IndexMap::new();
            if let Some(stack) = stack {
                metadata.insert("stack".to_owned(), toml::Value::String(stack.to_owned()));
            }
            if let Some(under) = listed_under {
                metadata.insert(
                    "listed_under".to_owned(),
                    toml::Value::String(under.to_owned()),
                );
            }
            metadata
        };
        let product = |item: &String| {
            let (name, rest) = leading_name(item);
            let description = (!rest.is_empty()).then(|| item.clone());
            (name, description)
        };
        let all_single = ports.iter().all(|p| matches!(p, RawPort::Single(_)));
        if items.len() <= 1 {
            let (name, description) = items.first().map_or((label.to_owned(), None), product);
            let stack = (name != label).then_some(label);
            let kind = infer::service_kind(&name, label, &ports);
            self.add_service(
                Service {
                    name,
                    group,
                    kind,
                    description,
                    ports,
                    metadata: base_metadata(stack),
                    ..Service::default()
                },
                number,
            );
        } else if all_single && ports.len() == items.len() {
            for (item, port) in items.iter().zip(ports) {
                let (name, description) = product(item);
                let kind = infer::service_kind(&name, label, &[port]);
                self.add_service(
                    Service {
                        name,
                        group: group.clone(),
                        kind,
                        description,
                        ports: vec![port],
                        metadata: base_metadata(Some(label)),
                        ..Service::default()
                    },
                    number,
                );
            }
        } else {
            let hub = self.add_service(
                Service {
                    name: label.to_owned(),
                    group: group.clone(),
                    kind: Some(ServiceKind::Hub),
                    ports: ports.clone(),
                    metadata: base_metadata(None),
                    ..Service::default()
                },
                number,
            );
            let hub_id = self.doc.services.get(hub).map(|s| s.id.clone());
            let mut names = Vec::new();
            for item in &items {
                let (name, description) = product(item);
                names.push(format!("\"{name}\""));
                let kind = infer::service_kind(&name, label, &[]);
                self.add_service(
                    Service {
                        name,
                        group: group.clone(),
                        kind,
                        description,
                        parent: hub_id.clone(),
                        ..Service::default()
                    },
                    number,
                );
            }
            if !ports.is_empty() {
                let written: Vec<String> = ports.iter().map(port_text).collect();
                let why = if all_single {
                    format!(
                        "its {} ports cannot be paired with its {} services",
                        ports.len(),
                        items.len()
                    )
                } else {
                    "they share its range".to_owned()
                };
                self.note(format!(
                    "line {number}: {} have no port of their own: \"{label}\" owns {} and {why}",
                    join_names(&names),
                    written.join(", "),
                ));
            }
        }
    }

    /// An agent bullet (`**X Agent**: a, b, c`, optionally `(tier 2, reports to Y)` after
    /// the name); with `duties`, each comma-separated duty becomes a task.
    fn agent(&mut self, lead: &Lead, scope: Scope, tier: Option<u8>, duties: bool, number: usize) {
        let mut tier = tier;
        let mut reports_to = None;
        if let Some(paren) = &lead.paren {
            for part in paren.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                const REPORTS_TO: &str = "reports to ";
                let boss = part
                    .get(..REPORTS_TO.len())
                    .filter(|p| p.eq_ignore_ascii_case(REPORTS_TO))
                    .and_then(|_| part.get(REPORTS_TO.len()..));
                if let Some(boss) = boss {
                    reports_to = Some(clean_title(boss));
                } else if part.to_lowercase().starts_with("tier")
                    && let Some(n) = infer::tier_number(part)
                {
                    tier = self.tier(&n, number).or(tier);
                } else {
                    self.note(format!(
                        "line {number}: \"({part})\" of agent \"{}\" was not mapped",
                        lead.label
                    ));
                }
            }
        }
        let id = self.agent_id(&lead.label, number);
        let role = lead.value.clone().or_else(|| {
            let tail = lead.tail.trim_start_matches(['-', '–', '—', ' ']).trim();
            (!tail.is_empty()).then(|| tail.to_owned())
        });
        let mut tasks: Vec<String> = Vec::new();
        let listed = if duties {
            role.as_deref().map(split_list).unwrap_or_default()
        } else {
            Vec::new()
        };
        for duty in listed {
            let name = sentence_case(&duty);
            if tasks.contains(&name) {
                self.note(format!("line {number}: agent `{id}` lists \"{name}\" twice; it has one task of that name"));
            } else {
                tasks.push(name);
            }
        }
        self.doc.agents.push(Agent {
            id,
            name: lead.label.clone(),
            tier,
            role: role.as_deref().map(plain),
            scope,
            reports_to,
            tasks,
            line: number,
        });
    }

    /// The id of an agent: its name's slug without a trailing `-agent`; a name in the plural
    /// (`Dashboard Manager Agents`) that collides takes the plural (`dashboard-managers`).
    fn agent_id(&mut self, name: &str, number: usize) -> String {
        let full = super::super::slug(name);
        let (base, plural) = if let Some(base) = full.strip_suffix("-agents") {
            (base.to_owned(), true)
        } else if let Some(base) = full.strip_suffix("-agent") {
            (base.to_owned(), false)
        } else {
            (full.clone(), false)
        };
        if base.is_empty() || self.agent_ids.is_free(&base) {
            return self.agent_ids.claim_id(&base).0;
        }
        let mut candidates = Vec::new();
        if plural && !base.ends_with('s') {
            candidates.push(format!("{base}s"));
        }
        candidates.push(if plural {
            format!("{base}-agents")
        } else {
            format!("{base}-agent")
        });
        let id = match candidates.iter().find(|c| self.agent_ids.is_free(c)) {
            Some(free) => self.agent_ids.take(free),
            None => self.agent_ids.claim_id(&base).0,
        };
        self.note(format!(
            "line {number}: agent \"{name}\" has id `{id}`: `{base}` is taken"
        ));
        id
    }

    fn channel(&mut self, lead: Lead, number: usize) {
        let (id, renamed) = self.channel_ids.claim(&lead.label);
        if renamed {
            self.note(format!(
                "line {number}: channel \"{}\" has id `{id}`",
                lead.label
            ));
        }
        let description = lead
            .value
            .as_deref()
            .map(plain)
            .or_else(|| (!lead.tail.is_empty()).then(|| plain(&lead.tail)));
        self.doc.channels.push(Channel {
            id,
            kind: infer::channel_kind(&lead.label),
            name: lead.label,
            description,
        });
    }

    /// A code block: a flow when it holds arrows or stands under a heading about a flow.
    fn code_block(&mut self, fence: Fence, closed: bool) {
        let title = self
            .sub_heading
            .as_ref()
            .or(self.section_heading.as_ref())
            .map_or_else(|| "Flow".to_owned(), |h| h.title.clone());
        let mut steps = Vec::new();
        let mut arrows = 0;
        for (number, raw) in &fence.lines {
            let (pieces, inline_arrows) = split_arrows(raw);
            arrows += inline_arrows;
            for piece in pieces {
                let piece = piece.trim();
                if piece.is_empty() {
                    continue;
                }
                if piece.chars().any(|c| c.is_ascii_alphanumeric()) && !matches!(piece, "v" | "V") {
                    steps.push((*number, plain(piece)));
                } else {
                    arrows += 1;
                }
            }
        }
        let about_flow = words(&title).iter().any(|w| w == "flow" || w == "flows");
        if (arrows == 0 && !about_flow) || steps.is_empty() {
            let size = fence.lines.len();
            let end = if closed { "" } else { ", unclosed" };
            self.note(format!(
                "line {}: a code block ({size} lines{end}) was not mapped",
                fence.line
            ));
            return;
        }
        let (id, _) = self.flow_ids.claim(&title);
        self.doc.flows.push(Flow {
            id,
            name: title,
            steps,
        });
    }
}

/// Splits a line at inline arrows (`A -> B`, `A → B`, `↓`, and arrows read as Mac Roman);
/// returns the pieces and how many arrows there were.
fn split_arrows(line: &str) -> (Vec<&str>, usize) {
    const ARROWS: &[&str] = &["->", "=>", "→", "⟶", "↓", "‚Üí", "‚Üì"];
    let mut pieces = Vec::new();
    let mut arrows = 0;
    let mut rest = line;
    loop {
        let next = ARROWS
            .iter()
            .filter_map(|arrow| rest.find(arrow).map(|at| (at, arrow.len())))
            .min();
        match next {
            Some((at, len)) => {
                pieces.push(rest.get(..at).unwrap_or(""));
                rest = rest.get(at + len..).unwrap_or("");
                arrows += 1;
            }
            None => {
                pieces.push(rest);
                return (pieces, arrows);
            }
        }
    }
}

fn port_text(port: &RawPort) -> String {
    match port {
        RawPort::Single(p) => p.to_string(),
        RawPort::Range((a, b)) => format!("{a}-{b}"),
    }
}

/// `"A"`, `"A" and "B"`, `"A", "B" and "C"`.
fn join_names(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `key`, or `key_2`, `key_3`, ... when taken.
fn free_key(metadata: &indexmap::IndexMap<String, toml::Value>, key: &str) -> String {
    if !metadata.contains_key(key) {
        return key.to_owned();
    }
    (2..)
        .map(|n| format!("{key}_{n}"))
        .find(|k| !metadata.contains_key(k))
        .unwrap_or_else(|| key.to_owned())
}
