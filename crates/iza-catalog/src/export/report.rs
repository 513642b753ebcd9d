//! The analysis report: the catalog rendered as Markdown in the shape of the seed document
//! (`seed/ecosystem-analysis.md`), so that document can be regenerated from the manifest.
//!
//! Sections, in order: title and tagline, Executive Summary (claimed figures beside mapped
//! ones), Problems found (only when the caller passes diagnostics: the report of a manifest
//! with errors is rendered from its partial catalog), one section per group (then Other Services), Service Interconnections (flows and
//! channels), Agent Role Definitions (by tier) and Agent Task Assignments (by priority).
//! Everything is emitted in file order, so the same catalog always gives the same text.
//!
//! Live facts (status, uptime) are not known to the catalog; a caller that has them passes a
//! [`LiveFacts`] in [`ReportOptions`] and the report shows them beside each service.

use std::collections::HashMap;

use crate::diagnostic::{DiagnosticRecord, Severity};
use crate::model::{
    Agent, Catalog, Metric, PortSpec, Priority, Schedule, Service, Task, Trigger, TriggerKind,
};

/// How to render the report.
#[derive(Default, Clone, Copy)]
pub struct ReportOptions<'a> {
    /// Live facts about services (from the runtime); `None` renders the manifest alone.
    pub live: Option<&'a dyn LiveFacts>,
    /// Diagnostics of the manifest, listed under "Problems found" (none: no such section).
    pub problems: &'a [DiagnosticRecord],
}

/// Facts about running services that the catalog cannot know, looked up by service id.
pub trait LiveFacts {
    /// The facts known about one service, if any.
    fn service(&self, id: &str) -> Option<ServiceFacts>;
}

impl LiveFacts for HashMap<String, ServiceFacts> {
    fn service(&self, id: &str) -> Option<ServiceFacts> {
        self.get(id).cloned()
    }
}

/// What is known about one running service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceFacts {
    /// Its current status.
    pub status: LiveStatus,
    /// Share of successful probes over the reporting window, from 0.0 to 1.0.
    pub uptime: Option<f64>,
}

/// The status of a service as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveStatus {
    /// Its check passes.
    Up,
    /// Its check fails, fewer times in a row than its failure threshold (or it is recovering).
    Degraded,
    /// Its check fails.
    Down,
    /// It is not down itself, but a service it depends on (the root cause, by id) is.
    Impacted {
        /// Id of the service that is down.
        by: String,
    },
    /// Not probed yet.
    Unknown,
}

/// Renders the report from the manifest alone.
pub fn render(catalog: &Catalog) -> String {
    render_with(catalog, &ReportOptions::default())
}

/// Renders the report, with live facts when the options carry them.
pub fn render_with(catalog: &Catalog, options: &ReportOptions<'_>) -> String {
    let report = Report::new(catalog, options);
    let mut doc = Doc::default();
    report.title(&mut doc);
    report.executive_summary(&mut doc);
    problems(&mut doc, options.problems);
    report.groups(&mut doc);
    report.interconnections(&mut doc);
    report.agent_roles(&mut doc);
    report.task_assignments(&mut doc);
    doc.finish()
}

/// The tagline shown when the ecosystem has no description.
const DEFAULT_TAGLINE: &str =
    "Complete mapping of all services, ports, connections, and agent tasks across the ecosystem";

/// Figures the Executive Summary always shows, with their labels, unless a claim counts them.
const STANDARD_FIGURES: &[(Metric, &str)] = &[
    (Metric::Services, "Services Mapped"),
    (Metric::PortRange, "Port Range"),
    (Metric::Ports, "Ports in Use"),
    (Metric::DockerServices, "Docker Services"),
    (Metric::McpServers, "MCP Servers"),
    (Metric::Agents, "Agents"),
    (Metric::Tasks, "Agent Tasks"),
];

/// Tier numbers and their headings.
const TIERS: &[(u8, &str)] = &[
    (1, "Tier 1: System Orchestrators"),
    (2, "Tier 2: Service Managers"),
    (3, "Tier 3: Specialized Workers"),
];

/// Priorities and their headings.
const PRIORITIES: &[(Priority, &str)] = &[
    (Priority::High, "High-Priority Tasks"),
    (Priority::Medium, "Medium-Priority Tasks"),
    (Priority::Low, "Low-Priority Tasks"),
];

/// What a cell or a sentence shows when there is nothing to show.
const NONE: &str = "—";

/// How many levels of hubs a service is shown under before it gets a section of its own
/// again: a chain of `parent` links of any length renders in bounded depth and linear size.
const MAX_NESTING: usize = 3;

/// The catalog with what the sections share: which services sit under a hub, and the live facts.
struct Report<'a> {
    catalog: &'a Catalog,
    live: Option<&'a dyn LiveFacts>,
    /// Services shown under each hub, in file order (the others have a section of their own).
    children: HashMap<&'a str, Vec<&'a Service>>,
    /// Services of each group, in file order.
    members: HashMap<&'a str, Vec<&'a Service>>,
    /// Agents that name each service in their `services`, in file order.
    watchers: HashMap<&'a str, Vec<&'a Agent>>,
    /// Ids of services shown under their parent rather than on their own.
    nested: std::collections::HashSet<&'a str>,
}

impl<'a> Report<'a> {
    fn new(catalog: &'a Catalog, options: &ReportOptions<'a>) -> Report<'a> {
        let levels = nesting_levels(catalog);
        let mut children: HashMap<&str, Vec<&Service>> = HashMap::new();
        let mut members: HashMap<&str, Vec<&Service>> = HashMap::new();
        let mut nested = std::collections::HashSet::new();
        for (i, service) in catalog.services.values().enumerate() {
            if let Some(group) = service.group.as_deref() {
                members.entry(group).or_default().push(service);
            }
            if let Some(parent) = service.parent.as_deref()
                && catalog.services.contains_key(parent)
                && !levels[i].is_multiple_of(MAX_NESTING + 1)
            {
                children.entry(parent).or_default().push(service);
                nested.insert(service.id.as_str());
            }
        }
        let mut watchers: HashMap<&str, Vec<&Agent>> = HashMap::new();
        for agent in catalog.agents.values() {
            for service in &agent.services {
                let list = watchers.entry(service.as_str()).or_default();
                if !list.iter().any(|a| a.id == agent.id) {
                    list.push(agent);
                }
            }
        }
        Report {
            catalog,
            live: options.live,
            children,
            members,
            watchers,
            nested,
        }
    }

    fn is_nested(&self, service: &Service) -> bool {
        self.nested.contains(service.id.as_str())
    }

    /// Agents that watch the service by name (not through its group), in file order.
    fn direct_watchers(&self, service: &Service) -> impl Iterator<Item = &'a Agent> + '_ {
        self.watchers
            .get(service.id.as_str())
            .into_iter()
            .flatten()
            .copied()
    }

    /// Services shown under `parent`, in file order.
    fn children_of(&self, parent: &'a Service) -> impl Iterator<Item = &'a Service> + '_ {
        self.children
            .get(parent.id.as_str())
            .into_iter()
            .flatten()
            .copied()
    }

    fn service_name(&self, id: &str) -> String {
        self.catalog
            .services
            .get(id)
            .map_or_else(|| text(id), |s| text(&s.name))
    }

    fn agent_name(&self, id: &str) -> String {
        self.catalog
            .agents
            .get(id)
            .map_or_else(|| text(id), |a| text(&a.name))
    }

    fn facts(&self, service: &Service) -> Option<ServiceFacts> {
        self.live.and_then(|live| live.service(&service.id))
    }

    // ----- sections --------------------------------------------------------------------------

    fn title(&self, doc: &mut Doc) {
        let name = self.catalog.ecosystem.name.trim();
        let subject = if name.to_lowercase().ends_with("ecosystem") {
            text(name)
        } else {
            format!("{} Ecosystem", text(name))
        };
        doc.heading(1, &format!("{subject} Services & Connections Analysis"));
        let tagline = self
            .catalog
            .ecosystem
            .description
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or(DEFAULT_TAGLINE);
        doc.block(format!("**{}**", text(tagline)));
    }

    fn executive_summary(&self, doc: &mut Doc) {
        let catalog = self.catalog;
        doc.heading(2, "Executive Summary");
        let mut rows = vec![
            "| Figure | Claimed | Mapped |".to_owned(),
            "|---|---|---|".to_owned(),
        ];
        for claim in &catalog.ecosystem.claims {
            let mapped = claim
                .counts
                .map_or_else(|| "not counted".to_owned(), |m| catalog.metric(m));
            rows.push(table_row(&[&claim.label, &claim.value, &mapped]));
        }
        let claimed: Vec<Metric> = catalog
            .ecosystem
            .claims
            .iter()
            .filter_map(|c| c.counts)
            .collect();
        for (metric, label) in STANDARD_FIGURES {
            if claimed.contains(metric) {
                continue;
            }
            let mut mapped = catalog.metric(*metric);
            if *metric == Metric::Ports
                && let Some((lo, hi)) = port_span(catalog.services.values())
            {
                mapped = format!("{mapped} ({})", span_text(lo, hi));
            }
            rows.push(table_row(&[label, NONE, &mapped]));
        }
        if self.live.is_some() {
            // Counts by status: up, degraded, down, impacted.
            let mut counts = [0usize; 4];
            for service in catalog.services.values() {
                let slot = match self.facts(service).map(|f| f.status) {
                    Some(LiveStatus::Up) => 0,
                    Some(LiveStatus::Degraded) => 1,
                    Some(LiveStatus::Down) => 2,
                    Some(LiveStatus::Impacted { .. }) => 3,
                    Some(LiveStatus::Unknown) | None => continue,
                };
                counts[slot] += 1;
            }
            let total = catalog.services.len();
            let labels = [
                "Services Up",
                "Services Degraded",
                "Services Down",
                "Services Impacted",
            ];
            for (label, count) in labels.into_iter().zip(counts) {
                rows.push(table_row(&[label, NONE, &format!("{count} of {total}")]));
            }
        }
        doc.block(rows.join("\n"));
        doc.block(
            "*Claimed* figures are quoted from the manifest's `ecosystem.claims`; \
             *Mapped* figures are counted from the manifest itself."
                .to_owned(),
        );
    }

    fn groups(&self, doc: &mut Doc) {
        let catalog = self.catalog;
        for group in catalog.groups.values() {
            doc.rule();
            doc.heading(2, &text(&group.name));
            if let Some(description) = non_empty(group.description.as_deref()) {
                doc.block(paragraph(description));
            }
            let members: &[&Service] = self
                .members
                .get(group.id.as_str())
                .map_or(&[], Vec::as_slice);
            let own: Vec<&Service> = members
                .iter()
                .copied()
                .filter(|s| !self.is_nested(s))
                .collect();
            // Members shown under a hub of another group would otherwise vanish from here.
            let elsewhere: Vec<String> = members
                .iter()
                .filter(|s| self.is_nested(s))
                .filter_map(|s| {
                    let parent = catalog.services.get(s.parent.as_deref()?)?;
                    (parent.group != s.group).then(|| {
                        format!("**{}** (under **{}**)", text(&s.name), text(&parent.name))
                    })
                })
                .collect();
            if own.is_empty() && elsewhere.is_empty() {
                doc.block("No services are mapped in this group.".to_owned());
            }
            for service in own {
                self.service_section(doc, service);
            }
            if !elsewhere.is_empty() {
                doc.block(format!(
                    "Also in this group, listed under their hub: {}.",
                    elsewhere.join(", ")
                ));
            }
            // Agents that watch the whole group are listed once, as the seed does for its
            // infrastructure, rather than under each of its services.
            let group_watchers: Vec<&Agent> = catalog
                .agents
                .values()
                .filter(|a| a.groups.contains(&group.id))
                .collect();
            if !group_watchers.is_empty() {
                doc.heading(3, &format!("Agent Tasks for {}", text(&group.name)));
                let lines: Vec<String> = group_watchers
                    .into_iter()
                    .map(|a| bullet(0, &self.agent_tasks_line(a)))
                    .collect();
                doc.block(lines.join("\n"));
            }
        }
        let ungrouped: Vec<&Service> = catalog
            .services
            .values()
            .filter(|s| s.group.is_none() && !self.is_nested(s))
            .collect();
        if !ungrouped.is_empty() {
            doc.rule();
            doc.heading(2, "Other Services");
            for service in ungrouped {
                self.service_section(doc, service);
            }
        }
    }

    fn service_section(&self, doc: &mut Doc, service: &'a Service) {
        let location = match headline_port(service) {
            Some(port) => format!("{}:{}", service.host, port_text(port)),
            None => service.host.clone(),
        };
        doc.heading(3, &format!("{} - {}", text(&service.name), code(&location)));
        let mut lines = Vec::new();
        if let Some(description) = non_empty(service.description.as_deref()) {
            lines.push(bullet(
                0,
                &format!("**Description**: {}", text(description)),
            ));
        }
        self.service_bullets(service, 0, &[], &mut lines);
        if !lines.is_empty() {
            doc.block(lines.join("\n"));
        }
    }

    /// The bullets describing a service (all but its description), at `depth`; agents in
    /// `shown_watchers` were already listed for its hub and are left out.
    fn service_bullets(
        &self,
        service: &'a Service,
        depth: usize,
        shown_watchers: &[&str],
        lines: &mut Vec<String>,
    ) {
        if let Some(facts) = self.facts(service) {
            lines.push(bullet(
                depth,
                &format!("**Status**: {}", self.status_text(&facts)),
            ));
        }
        if !service.features.is_empty() {
            let features: Vec<String> = service.features.iter().map(|f| text(f)).collect();
            lines.push(bullet(
                depth,
                &format!("**Services**: {}", features.join(", ")),
            ));
        }
        if let Some(docker) = &service.docker {
            lines.push(bullet(depth, &format!("**Docker**: {}", code(docker))));
        }
        if service.ports.len() > 1 {
            let ports: Vec<String> = service.ports.iter().map(|p| code(&port_text(*p))).collect();
            lines.push(bullet(depth, &format!("**Ports**: {}", ports.join(", "))));
        }
        if !service.depends_on.is_empty() {
            let deps: Vec<String> = service
                .depends_on
                .iter()
                .map(|d| self.service_name(d))
                .collect();
            lines.push(bullet(
                depth,
                &format!("**Depends on**: {}", deps.join(", ")),
            ));
        }
        if !service.connects.is_empty() {
            let edges: Vec<String> = service
                .connects
                .iter()
                .map(|c| {
                    let mut edge = self.service_name(&c.to);
                    let details: Vec<String> = [c.via.as_deref(), c.description.as_deref()]
                        .into_iter()
                        .filter_map(non_empty)
                        .map(text)
                        .collect();
                    if !details.is_empty() {
                        edge.push_str(&format!(" ({})", details.join(": ")));
                    }
                    edge
                })
                .collect();
            lines.push(bullet(
                depth,
                &format!("**Connects to**: {}", edges.join(", ")),
            ));
        }
        let children: Vec<&Service> = self.children_of(service).collect();
        let watchers: Vec<&Agent> = self
            .direct_watchers(service)
            .filter(|a| !shown_watchers.contains(&a.id.as_str()))
            .collect();
        if !children.is_empty() {
            let label = if children
                .iter()
                .all(|c| c.kind == crate::model::ServiceKind::McpServer)
            {
                "MCP Servers"
            } else {
                "Child Services"
            };
            lines.push(bullet(depth, &format!("**{label}**:")));
            let mut hidden: Vec<&str> = shown_watchers.to_vec();
            hidden.extend(self.direct_watchers(service).map(|a| a.id.as_str()));
            for child in children {
                let mut line = format!("**{}**", text(&child.name));
                if !child.ports.is_empty() {
                    let ports: Vec<String> =
                        child.ports.iter().map(|p| code(&port_text(*p))).collect();
                    line.push_str(&format!(" ({})", ports.join(", ")));
                }
                if let Some(description) = non_empty(child.description.as_deref()) {
                    line.push_str(&format!(": {}", text(description)));
                }
                lines.push(bullet(depth + 1, &line));
                self.service_bullets(child, depth + 2, &hidden, lines);
            }
        }
        for (key, value) in &service.metadata {
            metadata_bullets(depth, &label_of(key), value, lines);
        }
        if !watchers.is_empty() {
            lines.push(bullet(depth, "**Agent Tasks**:"));
            for agent in watchers {
                lines.push(bullet(depth + 1, &self.agent_tasks_line(agent)));
            }
        }
    }

    /// `**Agent name**: task, task`, or its role in italics when it owns no task.
    fn agent_tasks_line(&self, agent: &Agent) -> String {
        let tasks: Vec<String> = self
            .catalog
            .tasks_of(&agent.id)
            .map(|t| text(&t.name))
            .collect();
        if !tasks.is_empty() {
            format!("**{}**: {}", text(&agent.name), tasks.join(", "))
        } else if let Some(role) = non_empty(agent.role.as_deref()) {
            format!("**{}**: *{}*", text(&agent.name), text(role))
        } else {
            format!("**{}**", text(&agent.name))
        }
    }

    fn status_text(&self, facts: &ServiceFacts) -> String {
        let mut status = match &facts.status {
            LiveStatus::Up => "up".to_owned(),
            LiveStatus::Degraded => "degraded".to_owned(),
            LiveStatus::Down => "down".to_owned(),
            LiveStatus::Impacted { by } => {
                format!("impacted (**{}** is down)", self.service_name(by))
            }
            LiveStatus::Unknown => "unknown".to_owned(),
        };
        if let Some(uptime) = facts.uptime.filter(|u| u.is_finite()) {
            status.push_str(&format!(", {:.2}% uptime", uptime.clamp(0.0, 1.0) * 100.0));
        }
        status
    }

    fn interconnections(&self, doc: &mut Doc) {
        let catalog = self.catalog;
        doc.rule();
        doc.heading(2, "Service Interconnections");
        if catalog.flows.is_empty() {
            doc.block("No data flows are mapped.".to_owned());
        }
        for flow in catalog.flows.values() {
            doc.heading(3, &text(&flow.name));
            if let Some(description) = non_empty(flow.description.as_deref()) {
                doc.block(paragraph(description));
            }
            let steps: Vec<String> = flow.steps.iter().map(|s| self.step_text(s)).collect();
            doc.block(fenced("text", &steps.join("\n    ↓\n")));
        }
        doc.heading(3, "Cross-Service Communication");
        if catalog.channels.is_empty() {
            doc.block("No communication channels are mapped.".to_owned());
            return;
        }
        let lines: Vec<String> = catalog
            .channels
            .values()
            .map(|channel| {
                let mut line = format!("**{}**", text(&channel.name));
                if let Some(description) = non_empty(channel.description.as_deref()) {
                    line.push_str(&format!(": {}", text(description)));
                }
                let mut details = Vec::new();
                if let Some(via) = &channel.via {
                    details.push(format!("via **{}**", self.service_name(via)));
                }
                if !channel.services.is_empty() {
                    let users: Vec<String> = channel
                        .services
                        .iter()
                        .map(|s| self.service_name(s))
                        .collect();
                    details.push(format!("used by {}", users.join(", ")));
                }
                if !details.is_empty() {
                    line.push_str(&format!(" ({})", details.join("; ")));
                }
                bullet(0, &line)
            })
            .collect();
        doc.block(lines.join("\n"));
    }

    /// A flow step as the seed writes it: `IZA OS Dashboard (3000)`, `Business Services (4000-7000)`.
    fn step_text(&self, step: &crate::model::FlowStep) -> String {
        use crate::model::FlowStep;
        let catalog = self.catalog;
        let (name, ports) = match step {
            FlowStep::Service(id) => match catalog.services.get(id) {
                Some(s) => (s.name.as_str(), headline_port(s).map(port_text)),
                None => (id.as_str(), None),
            },
            FlowStep::Group(id) => {
                let members = catalog
                    .services
                    .values()
                    .filter(|s| s.group.as_deref() == Some(id.as_str()));
                let span = port_span(members).map(|(lo, hi)| span_text(lo, hi));
                match catalog.groups.get(id) {
                    Some(g) => (g.name.as_str(), span),
                    None => (id.as_str(), span),
                }
            }
        };
        let name = one_line(name);
        match ports {
            Some(ports) => format!("{name} ({ports})"),
            None => name,
        }
    }

    fn agent_roles(&self, doc: &mut Doc) {
        doc.rule();
        doc.heading(2, "Agent Role Definitions");
        for (tier, heading) in TIERS {
            doc.heading(3, heading);
            let lines: Vec<String> = self
                .catalog
                .agents
                .values()
                .filter(|a| a.tier == *tier)
                .map(|agent| {
                    let mut line = format!("**{}**", text(&agent.name));
                    if let Some(role) = non_empty(agent.role.as_deref()) {
                        line.push_str(&format!(": {}", text(role)));
                    }
                    if let Some(boss) = &agent.reports_to {
                        line.push_str(&format!(" (reports to **{}**)", self.agent_name(boss)));
                    }
                    bullet(0, &line)
                })
                .collect();
            if lines.is_empty() {
                doc.block(format!("No tier-{tier} agents are mapped."));
            } else {
                doc.block(lines.join("\n"));
            }
        }
    }

    fn task_assignments(&self, doc: &mut Doc) {
        doc.rule();
        doc.heading(2, "Agent Task Assignments");
        for (priority, heading) in PRIORITIES {
            doc.heading(3, heading);
            let tasks: Vec<&Task> = self
                .catalog
                .tasks
                .iter()
                .filter(|t| t.priority == *priority)
                .collect();
            if tasks.is_empty() {
                doc.block(format!("No {} tasks are mapped.", priority_word(*priority)));
                continue;
            }
            let lines: Vec<String> = tasks
                .iter()
                .enumerate()
                .map(|(i, task)| format!("{}. {}", i + 1, self.task_line(task)))
                .collect();
            doc.block(lines.join("\n"));
        }
    }

    fn task_line(&self, task: &Task) -> String {
        let mut line = format!("**{}**", text(&task.name));
        if let Some(description) = non_empty(task.description.as_deref()) {
            line.push_str(&format!(": {}", text(description)));
        }
        let mut details = Vec::new();
        if let Some(agent) = &task.agent {
            details.push(self.agent_name(agent));
        }
        match &task.schedule {
            Some(Schedule::Every(every)) => {
                details.push(format!("every {}", humantime::format_duration(*every)));
            }
            Some(Schedule::Cron {
                expression,
                timezone,
            }) => match timezone {
                Some(tz) => details.push(format!("cron {} ({tz})", code(expression))),
                None => details.push(format!("cron {}", code(expression))),
            },
            None => {}
        }
        if let Some(on) = &task.on {
            details.push(trigger_text(on));
        }
        if !details.is_empty() {
            line.push_str(&format!(" ({})", details.join("; ")));
        }
        line
    }
}

/// A trigger as a phrase: "on status `down` of `n8n`", "on escalation".
fn trigger_text(on: &Trigger) -> String {
    let words = |words: &[String]| {
        words
            .iter()
            .map(|w| code(w))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let mut text = match &on.kind {
        TriggerKind::Status(w) => format!("on status {}", words(w)),
        TriggerKind::Process(w) => format!("on process {}", words(w)),
        TriggerKind::Escalation => return "on escalation".to_owned(),
        TriggerKind::Workflow(w) => format!("on workflow {}", words(w)),
    };
    let of: Vec<String> = on
        .services
        .iter()
        .chain(&on.groups)
        .chain(&on.workflows)
        .map(|id| code(id))
        .collect();
    if !of.is_empty() {
        text.push_str(&format!(" of {}", of.join(", ")));
    }
    text
}

/// The agents that name a service in their `services`; those that watch it through its
/// group are listed with the group.
/// "Problems found": every diagnostic with its severity, code and position, in file order.
fn problems(doc: &mut Doc, problems: &[DiagnosticRecord]) {
    if problems.is_empty() {
        return;
    }
    doc.heading(2, "Problems found");
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    let count = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let lead = if errors > 0 {
        format!(
            "The manifest has {} and {}; this report shows what could be read, without the \
             references that do not resolve and the links that close a cycle.",
            count(errors, "error"),
            count(warnings, "warning")
        )
    } else {
        format!("The manifest has {}.", count(warnings, "warning"))
    };
    doc.block(lead);
    let items: Vec<String> = problems
        .iter()
        .map(|p| {
            let severity = match p.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            bullet(
                0,
                &format!(
                    "**{severity}** `{}` at {}:{}:{}: {}",
                    p.code,
                    text(&p.file),
                    p.line,
                    p.column,
                    text(&p.message)
                ),
            )
        })
        .collect();
    doc.block(items.join("\n"));
}

/// How many `parent` links lead up from each service (by index) to one without a parent,
/// walked without recursion and each service once; a link to an unknown service ends the
/// walk, and a cycle (impossible in a catalog, even a partial one) is cut where it closes.
fn nesting_levels(catalog: &Catalog) -> Vec<usize> {
    const UNKNOWN: usize = usize::MAX;
    const ON_PATH: usize = usize::MAX - 1;
    let mut levels = vec![UNKNOWN; catalog.services.len()];
    let parent_of = |i: usize| {
        catalog.services[i]
            .parent
            .as_deref()
            .and_then(|p| catalog.services.get_index_of(p))
    };
    let mut path = Vec::new();
    for start in 0..levels.len() {
        let mut at = Some(start);
        let mut base = 0;
        while let Some(i) = at {
            match levels[i] {
                ON_PATH => break,
                UNKNOWN => {
                    levels[i] = ON_PATH;
                    path.push(i);
                    at = parent_of(i);
                }
                known => {
                    base = known + 1;
                    break;
                }
            }
        }
        for (depth, &i) in path.iter().rev().enumerate() {
            levels[i] = base + depth;
        }
        path.clear();
    }
    levels
}

/// The port a service is known by: the range it owns when it owns one (a hub), else its
/// first port.
fn headline_port(service: &Service) -> Option<PortSpec> {
    service
        .ports
        .iter()
        .find(|p| matches!(p, PortSpec::Range(_)))
        .or_else(|| service.ports.first())
        .copied()
}

/// The lowest and highest port any of `services` claims, ranges included.
fn port_span<'s>(services: impl Iterator<Item = &'s Service>) -> Option<(u16, u16)> {
    services
        .flat_map(|s| s.ports.iter())
        .map(|p| match *p {
            PortSpec::Single(p) => (p, p),
            PortSpec::Range(r) => r,
        })
        .reduce(|(lo, hi), (a, b)| (lo.min(a), hi.max(b)))
}

fn span_text(lo: u16, hi: u16) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    }
}

fn port_text(port: PortSpec) -> String {
    match port {
        PortSpec::Single(p) => p.to_string(),
        PortSpec::Range((a, b)) => format!("{a}-{b}"),
    }
}

fn priority_word(priority: Priority) -> &'static str {
    match priority {
        Priority::High => "high-priority",
        Priority::Medium => "medium-priority",
        Priority::Low => "low-priority",
    }
}

/// A metadata key as a label: `revenue_model` becomes `Revenue Model`.
fn label_of(key: &str) -> String {
    let words: Vec<String> = key
        .split(['_', '-', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect();
    if words.is_empty() {
        key.to_owned()
    } else {
        words.join(" ")
    }
}

/// Bullets for one metadata entry: a scalar or a list of scalars on one line; a list of
/// records one per line (`**AI/ML Workflows** (31): Content generation`); a record as
/// `key: value` lines.
fn metadata_bullets(depth: usize, label: &str, value: &serde_json::Value, lines: &mut Vec<String>) {
    use serde_json::Value;
    let label = text(label);
    match value {
        Value::Array(items) if items.iter().any(Value::is_object) => {
            lines.push(bullet(depth, &format!("**{label}**:")));
            for item in items {
                lines.push(bullet(depth + 1, &record_text(item)));
            }
        }
        Value::Object(fields) => {
            lines.push(bullet(depth, &format!("**{label}**:")));
            for (key, value) in fields {
                metadata_bullets(depth + 1, &label_of(key), value, lines);
            }
        }
        _ => lines.push(bullet(
            depth,
            &format!("**{label}**: {}", scalar_text(value)),
        )),
    }
}

/// A metadata record on one line: its `name` (or `title`) in bold, its other scalar fields in
/// parentheses, its `description` after a colon.
fn record_text(value: &serde_json::Value) -> String {
    let serde_json::Value::Object(fields) = value else {
        return scalar_text(value);
    };
    let name_key = ["name", "title"]
        .into_iter()
        .find(|k| fields.contains_key(*k));
    let mut line = name_key
        .and_then(|k| fields.get(k))
        .map(|n| format!("**{}**", scalar_text(n)))
        .unwrap_or_default();
    let others: Vec<String> = fields
        .iter()
        .filter(|(k, _)| Some(k.as_str()) != name_key && k.as_str() != "description")
        .map(|(k, v)| {
            if name_key.is_some() {
                scalar_text(v)
            } else {
                format!("{}: {}", text(&label_of(k)), scalar_text(v))
            }
        })
        .collect();
    if !others.is_empty() {
        if line.is_empty() {
            line = others.join("; ");
        } else {
            line.push_str(&format!(" ({})", others.join(", ")));
        }
    }
    if let Some(description) = fields.get("description") {
        if line.is_empty() {
            line = scalar_text(description);
        } else {
            line.push_str(&format!(": {}", scalar_text(description)));
        }
    }
    line
}

/// A JSON value as escaped text: strings as they are, lists joined with commas, records as
/// compact JSON in code.
fn scalar_text(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::String(s) => text(s),
        Value::Null => NONE.to_owned(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join(", "),
        Value::Object(_) => code(&value.to_string()),
    }
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.trim().is_empty())
}

// ----- Markdown --------------------------------------------------------------------------------

/// The document as blocks, which are separated by one blank line.
#[derive(Default)]
struct Doc {
    blocks: Vec<String>,
}

impl Doc {
    /// A heading; `title` is Markdown already (escaped text, code spans).
    fn heading(&mut self, level: usize, title: &str) {
        self.blocks.push(format!("{} {title}", "#".repeat(level)));
    }

    fn block(&mut self, block: String) {
        self.blocks.push(block);
    }

    fn rule(&mut self) {
        self.blocks.push("---".to_owned());
    }

    fn finish(self) -> String {
        let mut out = self.blocks.join("\n\n");
        out.push('\n');
        out
    }
}

/// Characters escaped in user text: they would start emphasis, code, links, HTML, table cells
/// or a heading's closing sequence.
const SPECIAL: &[char] = &['\\', '`', '*', '_', '[', ']', '<', '>', '|', '#'];

/// User text on one line, with every whitespace run (newlines too) made one space.
fn one_line(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// User text as inline Markdown: on one line, with Markdown's special characters escaped.
fn text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in one_line(raw).chars() {
        if SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// User text as a paragraph of its own: [`text`], and a leading marker that would make it a
/// list item or a rule is escaped.
fn paragraph(raw: &str) -> String {
    let line = text(raw);
    if line.starts_with(['-', '+', '=']) {
        return format!("\\{line}");
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    match line[digits..].chars().next() {
        Some(marker @ ('.' | ')')) if digits > 0 => {
            format!("{}\\{marker}{}", &line[..digits], &line[digits + 1..])
        }
        _ => line,
    }
}

/// User text as a code span, its fence longer than any run of backticks inside it.
fn code(raw: &str) -> String {
    let content = one_line(raw);
    if content.is_empty() {
        return "*(empty)*".to_owned();
    }
    let fence = "`".repeat(longest_run(&content, '`') + 1);
    if content.starts_with('`') || content.ends_with('`') {
        format!("{fence} {content} {fence}")
    } else {
        format!("{fence}{content}{fence}")
    }
}

/// A fenced code block whose fence no line of `body` can close.
fn fenced(info: &str, body: &str) -> String {
    let fence = "`".repeat(longest_run(body, '`').max(2) + 1);
    format!("{fence}{info}\n{body}\n{fence}")
}

fn longest_run(haystack: &str, needle: char) -> usize {
    let (mut longest, mut current) = (0, 0);
    for c in haystack.chars() {
        current = if c == needle { current + 1 } else { 0 };
        longest = longest.max(current);
    }
    longest
}

/// A list item at `depth` (two spaces of indent per level).
fn bullet(depth: usize, content: &str) -> String {
    format!("{}- {content}", "  ".repeat(depth))
}

/// A table row of user text, each cell escaped (`|` included).
fn table_row(cells: &[&str]) -> String {
    let cells: Vec<String> = cells.iter().map(|c| text(c)).collect();
    format!("| {} |", cells.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_what_would_break_the_layout() {
        let cases = [
            ("plain words", "plain words"),
            ("a | b", r"a \| b"),
            ("*bold* and _em_", r"\*bold\* and \_em\_"),
            ("`code`", r"\`code\`"),
            ("[link](x) <b>", r"\[link\](x) \<b\>"),
            ("C# \\ back", r"C\# \\ back"),
            ("two\nlines\t tabbed", "two lines tabbed"),
            ("$1.4B+ value & more", "$1.4B+ value & more"),
        ];
        for (raw, expected) in cases {
            assert_eq!(text(raw), expected, "text({raw:?})");
        }
    }

    #[test]
    fn paragraph_escapes_block_markers() {
        let cases = [
            ("- not a list", r"\- not a list"),
            ("+ not a list", r"\+ not a list"),
            ("===", r"\==="),
            ("1. not ordered", r"1\. not ordered"),
            ("12) not ordered", r"12\) not ordered"),
            ("2024 was good", "2024 was good"),
            ("# not a heading", r"\# not a heading"),
            ("fine - here", "fine - here"),
        ];
        for (raw, expected) in cases {
            assert_eq!(paragraph(raw), expected, "paragraph({raw:?})");
        }
    }

    #[test]
    fn code_spans_outlast_backticks_inside() {
        let cases = [
            ("img:3000", "`img:3000`"),
            ("a`b", "``a`b``"),
            ("`edge", "`` `edge ``"),
            ("a``b`", "``` a``b` ```"),
            ("", "*(empty)*"),
        ];
        for (raw, expected) in cases {
            assert_eq!(code(raw), expected, "code({raw:?})");
        }
    }

    #[test]
    fn fences_outlast_backticks_inside() {
        assert_eq!(fenced("text", "a"), "```text\na\n```");
        assert_eq!(fenced("text", "````x"), "`````text\n````x\n`````");
    }

    #[test]
    fn metadata_keys_become_labels() {
        let cases = [
            ("revenue_model", "Revenue Model"),
            ("production-ports", "Production Ports"),
            ("Revenue Model", "Revenue Model"),
            ("sla", "Sla"),
            ("_", "_"),
        ];
        for (key, expected) in cases {
            assert_eq!(label_of(key), expected, "label_of({key:?})");
        }
    }

    #[test]
    fn metadata_records_read_like_the_seed() {
        let cases = [
            (
                serde_json::json!({"name": "AI/ML Workflows", "count": 31, "description": "Content generation"}),
                "**AI/ML Workflows** (31): Content generation",
            ),
            (serde_json::json!({"name": "Only"}), "**Only**"),
            (
                serde_json::json!({"owner": "ops", "tier": 2}),
                "Owner: ops; Tier: 2",
            ),
            (serde_json::json!({"description": "Just this"}), "Just this"),
        ];
        for (value, expected) in cases {
            assert_eq!(record_text(&value), expected, "record_text({value})");
        }
    }
}
