//! Defines the [`Catalog`]: the validated, immutable ecosystem that every other part of
//! IZA OS reads. It is only ever built by [`crate::validate::compile`], so holding one means its
//! references resolve, its ports do not clash and its dependencies have no cycle.

use std::ops::Range;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

pub use crate::manifest::raw::{ChannelKind, Metric, Priority, RawPort as PortSpec, ServiceKind};

/// The whole ecosystem, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    /// The ecosystem itself.
    pub ecosystem: Ecosystem,
    /// Groups by id, in file order.
    pub groups: IndexMap<String, Group>,
    /// Services by id, in file order.
    pub services: IndexMap<String, Service>,
    /// Agents by id, in file order.
    pub agents: IndexMap<String, Agent>,
    /// Every task: those under agents first, in file order, then the top-level ones.
    pub tasks: Vec<Task>,
    /// Data flows by id.
    pub flows: IndexMap<String, Flow>,
    /// Communication channels by id.
    pub channels: IndexMap<String, Channel>,
}

/// The ecosystem's own facts.
#[derive(Debug, Clone, Serialize)]
pub struct Ecosystem {
    /// Display name.
    pub name: String,
    /// One paragraph.
    pub description: Option<String>,
    /// The port policy, inclusive.
    pub port_range: Option<(u16, u16)>,
    /// Figures the ecosystem claims.
    pub claims: Vec<Claim>,
}

/// A claimed figure.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// What is counted.
    pub label: String,
    /// The figure as written.
    pub value: String,
    /// The mapped figure to compare it with.
    pub counts: Option<Metric>,
}

/// A group of services.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
}

/// A service.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Group id.
    pub group: Option<String>,
    /// What it is.
    pub kind: ServiceKind,
    /// What it does.
    pub description: Option<String>,
    /// What it offers.
    pub features: Vec<String>,
    /// Ports and owned ranges; `port` first when both were given.
    pub ports: Vec<PortSpec>,
    /// The hub whose range it lives in.
    pub parent: Option<String>,
    /// Host.
    pub host: String,
    /// Docker reference.
    pub docker: Option<String>,
    /// Command for supervision.
    pub command: Option<Vec<String>>,
    /// Working directory for the command and an `exec` check, as written (relative to the
    /// manifest's directory).
    pub workdir: Option<String>,
    /// Environment for the command.
    pub env: IndexMap<String, String>,
    /// Service ids it depends on.
    pub depends_on: Vec<String>,
    /// The same `depends_on` entries, each with its condition resolved (`healthy` when the
    /// dependency has a check, else `started`, unless written). Only entries naming a
    /// supervised service (one with a `command`) gate a start under `iza up`.
    pub dependencies: Vec<Dependency>,
    /// How `iza up` supervises it; present exactly when it has a `command`.
    pub process: Option<ProcessSpec>,
    /// Data-flow edges.
    pub connects: Vec<Connection>,
    /// Labels.
    pub tags: Vec<String>,
    /// Free-form facts.
    pub metadata: IndexMap<String, serde_json::Value>,
    /// Health check.
    pub check: Option<Check>,
    /// Where the service is defined in the manifest (byte span of its id).
    #[serde(skip)]
    pub span: Range<usize>,
}

impl Service {
    /// The single ports it listens on (ranges excluded).
    pub fn single_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.ports.iter().filter_map(|p| match p {
            PortSpec::Single(p) => Some(*p),
            PortSpec::Range(_) => None,
        })
    }

    /// The ranges it owns for children.
    pub fn owned_ranges(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        self.ports.iter().filter_map(|p| match p {
            PortSpec::Range(r) => Some(*r),
            PortSpec::Single(_) => None,
        })
    }
}

/// How `iza up` runs, restarts and stops a service that has a `command`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessSpec {
    /// Program and arguments (never empty).
    pub command: Vec<String>,
    /// What happens when it exits.
    pub restart: RestartSpec,
    /// How it is stopped.
    pub stop: StopSpec,
}

/// One `depends_on` entry with its condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    /// The service depended on.
    pub service: String,
    /// What to wait for.
    pub condition: ReadyCondition,
}

/// What a dependent waits for before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadyCondition {
    /// Its process has been spawned.
    Started,
    /// Its check passes (the monitor reports it up).
    Healthy,
    /// It exited with status 0.
    Completed,
}

impl ReadyCondition {
    /// Every condition with its manifest name.
    pub const NAMES: &'static [(&'static str, ReadyCondition)] = &[
        ("started", ReadyCondition::Started),
        ("healthy", ReadyCondition::Healthy),
        ("completed", ReadyCondition::Completed),
    ];

    /// The manifest name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadyCondition::Started => "started",
            ReadyCondition::Healthy => "healthy",
            ReadyCondition::Completed => "completed",
        }
    }
}

/// When a supervised service is restarted after it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// After every exit.
    Always,
    /// After a non-zero exit or a death by signal.
    OnFailure,
    /// Never.
    Never,
}

impl RestartPolicy {
    /// Every policy with its manifest name.
    pub const NAMES: &'static [(&'static str, RestartPolicy)] = &[
        ("always", RestartPolicy::Always),
        ("on-failure", RestartPolicy::OnFailure),
        ("never", RestartPolicy::Never),
    ];
}

/// The restart policy and its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RestartSpec {
    /// When to restart.
    pub policy: RestartPolicy,
    /// Restarts in a row before the service is marked failed.
    pub max_restarts: u32,
    /// Delay before the first restart; doubled at each next one.
    #[serde(with = "crate::model::duration_text")]
    pub backoff: Duration,
    /// The longest delay.
    #[serde(with = "crate::model::duration_text")]
    pub max_backoff: Duration,
    /// A run at least this long resets the count and the delay.
    #[serde(with = "crate::model::duration_text")]
    pub reset_after: Duration,
}

impl Default for RestartSpec {
    fn default() -> RestartSpec {
        RestartSpec {
            policy: RestartPolicy::OnFailure,
            max_restarts: 5,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

/// A signal `stop` may name; the runtime maps it to the platform's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StopSignal {
    /// SIGTERM.
    Sigterm,
    /// SIGINT.
    Sigint,
    /// SIGQUIT.
    Sigquit,
    /// SIGHUP.
    Sighup,
    /// SIGUSR1.
    Sigusr1,
    /// SIGUSR2.
    Sigusr2,
    /// SIGKILL.
    Sigkill,
}

impl StopSignal {
    /// Every signal with its name.
    pub const NAMES: &'static [(&'static str, StopSignal)] = &[
        ("SIGTERM", StopSignal::Sigterm),
        ("SIGINT", StopSignal::Sigint),
        ("SIGQUIT", StopSignal::Sigquit),
        ("SIGHUP", StopSignal::Sighup),
        ("SIGUSR1", StopSignal::Sigusr1),
        ("SIGUSR2", StopSignal::Sigusr2),
        ("SIGKILL", StopSignal::Sigkill),
    ];

    /// Reads `SIGTERM`, `TERM` or `sigterm`.
    pub fn parse(name: &str) -> Option<StopSignal> {
        let upper = name.trim().to_ascii_uppercase();
        let full = if upper.starts_with("SIG") {
            upper
        } else {
            format!("SIG{upper}")
        };
        StopSignal::NAMES
            .iter()
            .find(|(n, _)| *n == full)
            .map(|(_, s)| *s)
    }

    /// The name, `SIGTERM`.
    pub fn as_str(self) -> &'static str {
        StopSignal::NAMES
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("SIGTERM", |(n, _)| n)
    }
}

/// How a supervised service is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StopSpec {
    /// Sent first to the process group.
    pub signal: StopSignal,
    /// Then, after this, SIGKILL to the group.
    #[serde(with = "crate::model::duration_text")]
    pub grace: Duration,
}

impl Default for StopSpec {
    fn default() -> StopSpec {
        StopSpec {
            signal: StopSignal::Sigterm,
            grace: Duration::from_secs(10),
        }
    }
}

/// A data-flow edge.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    /// Target service id.
    pub to: String,
    /// Protocol.
    pub via: Option<String>,
    /// What travels.
    pub description: Option<String>,
}

/// What a check probes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "target")]
pub enum CheckTarget {
    /// An HTTP(S) URL.
    Http(String),
    /// `host:port`.
    Tcp(String),
    /// `host:port`, TLS handshake.
    Tls(String),
    /// A name to resolve.
    Dns(String),
    /// Program and arguments.
    Exec(Vec<String>),
    /// A PostgreSQL URL.
    Postgres(String),
    /// A Redis URL.
    Redis(String),
    /// An AMQP URL.
    Amqp(String),
    /// An MCP endpoint URL.
    Mcp(String),
}

/// A validated health check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What to probe.
    pub target: CheckTarget,
    /// HTTP method.
    pub method: String,
    /// HTTP headers.
    pub headers: IndexMap<String, String>,
    /// HTTP body.
    pub body: Option<String>,
    /// Follow redirects.
    pub follow_redirects: bool,
    /// Verify TLS.
    pub verify_tls: bool,
    /// DNS record type.
    pub record: String,
    /// Run `exec` through a shell.
    pub shell: bool,
    /// Interval.
    #[serde(with = "crate::model::duration_text")]
    pub every: Duration,
    /// Per-probe timeout.
    #[serde(with = "crate::model::duration_text")]
    pub timeout: Duration,
    /// Conditions, parsed; all must hold.
    pub conditions: Vec<crate::condition::Condition>,
    /// Failures before down.
    pub failure_threshold: u32,
    /// Successes before up.
    pub success_threshold: u32,
}

/// An agent.
#[derive(Debug, Clone, Serialize)]
pub struct Agent {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// 1, 2 or 3.
    pub tier: u8,
    /// Agent it escalates to.
    pub reports_to: Option<String>,
    /// What it is for.
    pub role: Option<String>,
    /// Services it watches directly.
    pub services: Vec<String>,
    /// Groups it watches.
    pub groups: Vec<String>,
}

/// When a task runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// At a fixed interval.
    Every(#[serde(with = "crate::model::duration_text")] Duration),
    /// On a cron expression (validated).
    Cron(String),
}

/// What running a task does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Run a service's check.
    Check(String),
    /// Send an HTTP request.
    Http {
        /// Method.
        method: String,
        /// URL.
        url: String,
    },
    /// Run a program.
    Exec(Vec<String>),
    /// Restart a supervised service.
    Restart(String),
}

/// A task.
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    /// Owning agent, if any.
    pub agent: Option<String>,
    /// Name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Priority.
    pub priority: Priority,
    /// Schedule; none for a task run on demand or a documented responsibility.
    pub schedule: Option<Schedule>,
    /// Action; none for a documented responsibility.
    pub action: Option<Action>,
    /// Per-run timeout.
    #[serde(with = "crate::model::duration_text")]
    pub timeout: Duration,
    /// Retries before escalation.
    pub retries: u32,
}

/// A step of a data flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "id")]
pub enum FlowStep {
    /// A service.
    Service(String),
    /// A group.
    Group(String),
}

impl FlowStep {
    /// The id the step names.
    pub fn id(&self) -> &str {
        match self {
            FlowStep::Service(id) | FlowStep::Group(id) => id,
        }
    }
}

/// A data flow.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What flows.
    pub description: Option<String>,
    /// Steps in order.
    pub steps: Vec<FlowStep>,
}

/// A communication channel.
#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: ChannelKind,
    /// What it does.
    pub description: Option<String>,
    /// Carrying service.
    pub via: Option<String>,
    /// Services using it.
    pub services: Vec<String>,
}

impl Catalog {
    /// The mapped figure for a metric, as text (`30`, `3000-9999`).
    pub fn metric(&self, metric: Metric) -> String {
        let count = |n: usize| n.to_string();
        match metric {
            Metric::Services => count(self.services.len()),
            Metric::DockerServices => count(
                self.services
                    .values()
                    .filter(|s| s.docker.is_some())
                    .count(),
            ),
            Metric::McpServers => count(self.services_of_kind(ServiceKind::McpServer).count()),
            Metric::WorkflowEngines => {
                count(self.services_of_kind(ServiceKind::WorkflowEngine).count())
            }
            Metric::Agents => count(self.agents.len()),
            Metric::Tasks => count(self.tasks.len()),
            Metric::Ports => count(
                self.services
                    .values()
                    .map(|s| s.single_ports().count())
                    .sum(),
            ),
            Metric::PortRange => self
                .ecosystem
                .port_range
                .map_or_else(|| "none".to_owned(), |(a, b)| format!("{a}-{b}")),
        }
    }

    /// Services of one kind.
    pub fn services_of_kind(&self, kind: ServiceKind) -> impl Iterator<Item = &Service> {
        self.services.values().filter(move |s| s.kind == kind)
    }

    /// The agents that watch a service, directly or through its group.
    pub fn watchers<'a>(&'a self, service: &'a Service) -> impl Iterator<Item = &'a Agent> + 'a {
        self.agents.values().filter(move |a| {
            a.services.contains(&service.id)
                || service.group.as_ref().is_some_and(|g| a.groups.contains(g))
        })
    }

    /// Tasks owned by an agent.
    pub fn tasks_of<'a>(&'a self, agent: &'a str) -> impl Iterator<Item = &'a Task> + 'a {
        self.tasks
            .iter()
            .filter(move |t| t.agent.as_deref() == Some(agent))
    }
}

/// Serializes durations as humantime text (`15s`).
pub(crate) mod duration_text {
    use std::time::Duration;

    pub(crate) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}
