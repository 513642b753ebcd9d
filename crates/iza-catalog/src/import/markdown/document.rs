//! Defines [`Document`]: what the reader understood of a seed-style document, before
//! references (agents' services, flow steps, channels' carriers) are resolved and the
//! manifest is written.

use indexmap::IndexMap;

use crate::manifest::raw::{ChannelKind, Metric, Priority, RawPort, ServiceKind};

/// Everything read from the document, in document order.
#[derive(Debug, Default)]
pub(super) struct Document {
    /// The H1, cleaned.
    pub(super) title: Option<String>,
    /// Paragraphs between the H1 and the first H2.
    pub(super) description: Vec<String>,
    /// `**Label**: value` lines of the summary section.
    pub(super) claims: Vec<Claim>,
    /// The policy range, from a `Port Range` claim.
    pub(super) port_range: Option<String>,
    /// The H2 sections, in order.
    pub(super) sections: Vec<Section>,
    /// Groups: H2 sections that hold services.
    pub(super) groups: Vec<Group>,
    /// Services, including hubs' children and infrastructure products.
    pub(super) services: Vec<Service>,
    /// Agents, wherever they are listed.
    pub(super) agents: Vec<Agent>,
    /// Prioritised tasks of the ecosystem (`High-Priority Tasks` lists).
    pub(super) tasks: Vec<Task>,
    /// Data flows (code blocks of arrows).
    pub(super) flows: Vec<Flow>,
    /// Communication channels.
    pub(super) channels: Vec<Channel>,
}

/// A claimed figure.
#[derive(Debug)]
pub(super) struct Claim {
    pub(super) label: String,
    pub(super) value: String,
    pub(super) counts: Option<Metric>,
}

/// An H2 section.
#[derive(Debug)]
pub(super) struct Section {
    /// Its group, once a service was found in it.
    pub(super) group: Option<String>,
}

/// A group of services.
#[derive(Debug)]
pub(super) struct Group {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: Option<String>,
}

/// A service.
#[derive(Debug, Default)]
pub(super) struct Service {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) group: Option<String>,
    pub(super) kind: Option<ServiceKind>,
    pub(super) description: Option<String>,
    pub(super) features: Vec<String>,
    pub(super) ports: Vec<RawPort>,
    pub(super) parent: Option<String>,
    pub(super) host: Option<String>,
    pub(super) docker: Option<String>,
    pub(super) metadata: IndexMap<String, toml::Value>,
}

/// What an agent watches, resolved once the whole document is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Scope {
    /// Nothing (agents of the role definitions).
    Nothing,
    /// The service it is listed under, and that service's children.
    Service(String),
    /// Every service of the H2 section (by index into [`Document::sections`]).
    Section(usize),
}

/// An agent.
#[derive(Debug)]
pub(super) struct Agent {
    pub(super) id: String,
    pub(super) name: String,
    /// The tier the document gives, if any.
    pub(super) tier: Option<u8>,
    pub(super) role: Option<String>,
    pub(super) scope: Scope,
    /// The name of the agent it reports to, as written.
    pub(super) reports_to: Option<String>,
    /// Duties, one task each.
    pub(super) tasks: Vec<String>,
    pub(super) line: usize,
}

/// A prioritised ecosystem task.
#[derive(Debug)]
pub(super) struct Task {
    pub(super) name: String,
    pub(super) priority: Option<Priority>,
    pub(super) description: Option<String>,
}

/// A data flow, its steps as written.
#[derive(Debug)]
pub(super) struct Flow {
    pub(super) id: String,
    pub(super) name: String,
    /// Step texts with their line numbers (`Business Services (4000-7999)`).
    pub(super) steps: Vec<(usize, String)>,
}

/// A communication channel.
#[derive(Debug)]
pub(super) struct Channel {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) kind: ChannelKind,
    pub(super) description: Option<String>,
}
