//! Defines the [`Catalog`]: the validated, immutable ecosystem that every other part of
//! IZA OS reads. It is only ever built by [`crate::validate::compile`], so holding one means its
//! references resolve, its ports do not clash and its dependencies have no cycle.

use std::ops::Range;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

pub use crate::manifest::raw::{ChannelKind, Metric, Priority, RawPort as PortSpec, ServiceKind};

mod alerts;
mod broker_tls;
pub use broker_tls::BrokerTls;
mod outputs;
pub use alerts::{
    AlertOn, AlertRule, Maintenance, MaintenanceWindow, Notifier, NotifierKind, Severity, SmtpTls,
};
mod figures;
pub use figures::{Aggregate, Figure, FigureSource, Format, LabelMatcher, Selector};
pub use outputs::{EVENT_KINDS, Output, OutputFilter, OutputKind};
mod workflows;
pub use workflows::{Engine, WorkflowRules, WorkflowSource};

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
    /// Where the state is kept, when the manifest says (`[store]`).
    pub store: Option<crate::store::StoreConfig>,
    /// Notifiers by id (`docs/alerts.md`).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub notifiers: IndexMap<String, Notifier>,
    /// Alert rules, in file order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertRule>,
    /// Maintenance windows, in file order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub maintenance: Vec<Maintenance>,
    /// Event outputs by id (`docs/events.md`).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub outputs: IndexMap<String, Output>,
    /// Brokers pushed results come from (`[inputs.*]`, `docs/inputs.md`).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, Input>,
}

/// A broker IZA subscribes to for pushed results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Input {
    /// Id.
    pub id: String,
    /// Which broker.
    pub kind: InputKind,
    /// Its URL.
    pub url: String,
    /// The NATS subject, AMQP queue or MQTT topic filter.
    pub from: String,
    /// TLS files (`mqtts://`, NATS `tls://`).
    #[serde(skip_serializing_if = "BrokerTls::is_empty")]
    pub tls: BrokerTls,
}

/// The broker of an [`Input`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// NATS.
    Nats,
    /// AMQP 0-9-1 (RabbitMQ).
    Amqp,
    /// MQTT.
    Mqtt,
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
    /// The business figure (a `metrics` name) whose ecosystem aggregate is what is measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figure: Option<String>,
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
    /// The node whose `iza up` runs the command (its `--node` name); any node when `None`.
    pub node: Option<String>,
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
    /// Business figures read from the service, in file order (docs/metrics.md).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub figures: Vec<Figure>,
    /// The MCP server the hub federates, when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp: Option<McpUpstream>,
    /// The workflow engine it is, followed by IZA (kind `workflow-engine`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflows: Option<WorkflowSource>,
    /// Where the service is defined in the manifest (byte span of its id).
    #[serde(skip)]
    pub span: Range<usize>,
}

/// How the hub reaches an MCP server (`[services.X.mcp]`). Its environment and headers may
/// hold credentials: they are never serialized.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct McpUpstream {
    /// Its streamable-HTTP endpoint.
    pub url: Option<String>,
    /// Or the command that runs it over stdio.
    pub command: Option<Vec<String>>,
    /// Environment of the command, as written (`${NAME}` references resolved when started).
    #[serde(skip)]
    pub env: IndexMap<String, String>,
    /// Headers of HTTP requests, as written.
    #[serde(skip)]
    pub headers: IndexMap<String, String>,
    /// How long a call may take.
    pub timeout: Duration,
    /// How often an HTTP server is asked whether it still answers.
    pub health_interval: Duration,
    /// Globs of the tools shown (empty: all).
    pub allow: Vec<String>,
    /// Globs of the tools hidden.
    pub deny: Vec<String>,
    /// Per-tool rate limits, in the manifest's order (the first matching rule counts).
    pub rate_limits: Vec<McpRateLimit>,
}

/// One per-tool rate limit of an MCP server (`rate_limits = { "create_*" = "10/m" }`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct McpRateLimit {
    /// A glob of the server's own tool names.
    pub tool: String,
    /// Calls allowed per period (also the burst).
    pub count: u32,
    /// The period.
    pub per: Duration,
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
    /// A page loaded in a real browser, and the journey run on it.
    Browser(BrowserTarget),
    /// Two pages rendered in a real browser and compared: a replica against its original.
    Compare(CompareTarget),
    /// A NATS round trip: a probe message published and received back.
    Nats(RoundTrip),
    /// An MQTT round trip.
    Mqtt(RoundTrip),
    /// An AMQP round trip (`amqp` with `round_trip = true`, or `exchange`/`queue`).
    AmqpRoundTrip(RoundTrip),
    /// Nothing probed: results are pushed, and missing pushes turn the service down.
    Push(PushTarget),
}

/// What a comparison loads: the original and its replica, rendered at the same viewport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompareTarget {
    /// The page as it should be (`http`/`https`).
    pub original: String,
    /// The page that should look and read the same (`http`/`https`).
    pub replica: String,
    /// What must appear on both pages after their load events before they are compared.
    pub wait_for: Option<WaitFor>,
}

/// Where a round-trip check sends its probe message and where it expects it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoundTrip {
    /// The broker's URL.
    pub url: String,
    /// The NATS subject, MQTT topic or AMQP routing key; `None`: a fresh one per probe.
    pub address: Option<String>,
    /// AMQP: the exchange (the default exchange when `None`).
    pub exchange: Option<String>,
    /// AMQP: the queue the message must arrive on (a temporary bound queue when `None`).
    pub queue: Option<String>,
    /// TLS files (`mqtts://`, NATS `tls://`).
    #[serde(skip_serializing_if = "BrokerTls::is_empty")]
    pub tls: BrokerTls,
}

/// A push check: a dead man's switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PushTarget {
    /// The longest time between two pushes.
    #[serde(with = "crate::model::duration_text")]
    pub expect_every: Duration,
    /// Extra time before a missing push counts.
    #[serde(with = "crate::model::duration_text")]
    pub grace: Duration,
}

impl PushTarget {
    /// How long after a push (or the start) the next one must arrive.
    pub fn deadline(&self) -> Duration {
        self.expect_every + self.grace
    }
}

/// What a browser check loads, waits for and does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrowserTarget {
    /// The URL loaded first (`http`/`https`).
    pub url: String,
    /// What must appear after the load event.
    pub wait_for: Option<WaitFor>,
    /// The journey: steps run in order after the first load.
    pub steps: Vec<Step>,
}

/// Something a browser waits for: an element, or text on the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum WaitFor {
    /// A CSS selector that must find an element.
    Selector(String),
    /// Text the page must show (written `text=...`).
    Text(String),
}

impl WaitFor {
    /// Reads `text=...` as text and anything else as a CSS selector.
    pub fn parse(written: &str) -> WaitFor {
        match written.strip_prefix("text=") {
            Some(text) => WaitFor::Text(text.to_owned()),
            None => WaitFor::Selector(written.trim().to_owned()),
        }
    }
}

impl std::fmt::Display for WaitFor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitFor::Selector(s) => write!(f, "`{s}`"),
            WaitFor::Text(t) => write!(f, "text `{t}`"),
        }
    }
}

/// One step of a browser journey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum Step {
    /// Load a URL and wait for its load event.
    Goto {
        /// The URL.
        url: String,
    },
    /// Click the element a CSS selector finds.
    Click {
        /// The selector.
        selector: String,
    },
    /// Type text into a form field.
    Fill {
        /// The field's selector.
        selector: String,
        /// The text as written; `${NAME}` references are resolved when the step runs.
        value: String,
    },
    /// Press a key in the focused element.
    Press {
        /// The key (`Enter`, `Tab`, a character).
        key: String,
    },
    /// Wait for an element or text.
    WaitFor {
        /// What to wait for.
        target: WaitFor,
    },
    /// Fail unless the page shows this text.
    ExpectText {
        /// The text.
        text: String,
    },
    /// Take a screenshot.
    Screenshot {
        /// Its name.
        name: String,
    },
}

impl Step {
    /// The step's action word, as written in the manifest (`fill`, `expect_text`).
    pub fn action(&self) -> &'static str {
        match self {
            Step::Goto { .. } => "goto",
            Step::Click { .. } => "click",
            Step::Fill { .. } => "fill",
            Step::Press { .. } => "press",
            Step::WaitFor { .. } => "wait_for",
            Step::ExpectText { .. } => "expect_text",
            Step::Screenshot { .. } => "screenshot",
        }
    }
}

/// A step for a person, never with a `fill` value (`fill` and the selector only).
impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Goto { url } => write!(f, "goto `{url}`"),
            Step::Click { selector } => write!(f, "click `{selector}`"),
            Step::Fill { selector, .. } => write!(f, "fill `{selector}`"),
            Step::Press { key } => write!(f, "press `{key}`"),
            Step::WaitFor { target } => write!(f, "wait_for {target}"),
            Step::ExpectText { text } => write!(f, "expect_text `{text}`"),
            Step::Screenshot { name } => write!(f, "screenshot `{name}`"),
        }
    }
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
    /// The regions it is probed from, one node each (`docs/scale-out.md`); empty: from
    /// anywhere, once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// With `regions`: how many regions must see it down for it to be `down` (1 to the number
    /// of regions; a majority unless written); 0 without regions.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub quorum: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
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
    /// Notifiers of alerts routed to it (`to_agent`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
    /// Escalation of its unacknowledged critical alerts after this long.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::model::duration_text::option"
    )]
    pub ack_within: Option<Duration>,
}

/// When a task runs on a clock.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// At a fixed interval.
    Every(#[serde(with = "crate::model::duration_text")] Duration),
    /// On a cron expression (validated).
    Cron {
        /// The expression as written, trimmed: five fields, or six with seconds first.
        expression: String,
        /// The IANA time zone it is read in (validated); none means UTC.
        timezone: Option<String>,
    },
}

/// What becomes of schedule ticks missed while `iza` was not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum CatchUp {
    /// Forget them; the next tick runs as usual (the default).
    #[default]
    Skip,
    /// Run once for all of them.
    One,
    /// Run once per missed tick, at most `limit` of them (the latest).
    All {
        /// The most missed ticks that are run.
        limit: u32,
    },
}

/// The status words an `on = { status = ... }` trigger may name.
pub const STATUS_WORDS: &[&str] = &["up", "down", "degraded", "impacted", "unknown"];

/// The process states an `on = { process = ... }` trigger may name.
pub const PROCESS_STATES: &[&str] = &[
    "pending", "starting", "running", "ready", "exited", "backoff", "failed", "stopped",
];

/// The placeholders the runtime substitutes in `http` URLs, headers and bodies and in `exec`
/// arguments and environment values, written `{service}` (see [`crate::placeholder`]).
pub const PLACEHOLDERS: &[&str] = crate::placeholder::NAMES;

/// An event of the ecosystem that runs a task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trigger {
    /// What kind of event.
    pub kind: TriggerKind,
    /// Only events of these services (empty: any, unless `groups` narrows it).
    pub services: Vec<String>,
    /// Only events of services in these groups (empty: any, unless `services` narrows it).
    pub groups: Vec<String>,
    /// `workflow` triggers only: executions of these workflows (ids or names; empty: any).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub workflows: Vec<String>,
}

impl Trigger {
    /// True when an event of `service` (in `group`) passes the `services`/`groups` filter:
    /// both empty, or the service is listed, or its group is.
    pub fn matches_service(&self, service: &str, group: Option<&str>) -> bool {
        (self.services.is_empty() && self.groups.is_empty())
            || self.services.iter().any(|s| s == service)
            || group.is_some_and(|g| self.groups.iter().any(|x| x == g))
    }
}

/// The kind of event a [`Trigger`] waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerKind {
    /// A service's status became one of these (lower-case words of [`STATUS_WORDS`]).
    Status(Vec<String>),
    /// A supervised process entered one of these states (words of [`PROCESS_STATES`]).
    Process(Vec<String>),
    /// The task's agent received an escalation.
    Escalation,
    /// A workflow engine's follower saw a new execution in one of these states (words of
    /// [`WORKFLOW_EVENTS`]).
    Workflow(Vec<String>),
}

/// The workflow events an `on = { workflow = ... }` trigger may name.
pub const WORKFLOW_EVENTS: &[&str] = &["failed"];

/// What running a task does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Run a service's check now and record it like any probe.
    Check(String),
    /// Send an HTTP request.
    Http(HttpAction),
    /// Run a program.
    Exec(ExecAction),
    /// Write the live analysis report to this file (a relative path in the manifest is
    /// resolved against the manifest's directory by [`crate::check`]).
    Report(std::path::PathBuf),
    /// Restart a supervised service.
    Restart(String),
    /// Start a supervised service.
    Start(String),
    /// Stop a supervised service.
    Stop(String),
    /// Queued for external agents only; `iza` never runs it itself.
    External,
    /// Render a replica and its original in the shared Chromium and compare them.
    Compare(CompareAction),
    /// Trigger a workflow of a workflow engine through its webhook.
    Workflow(WorkflowAction),
    /// Retry the failed executions of a workflow, bounded.
    RetryFailed(RetryFailedAction),
}

impl Action {
    /// The action's key in the manifest (`http`, `exec`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Check(_) => "check",
            Action::Http(_) => "http",
            Action::Exec(_) => "exec",
            Action::Report(_) => "report",
            Action::Restart(_) => "restart",
            Action::Start(_) => "start",
            Action::Stop(_) => "stop",
            Action::External => "external",
            Action::Compare(_) => "compare",
            Action::Workflow(_) => "workflow",
            Action::RetryFailed(_) => "retry_failed",
        }
    }

    /// The supervised service it acts on (`restart`, `start`, `stop`), if any.
    pub fn process_target(&self) -> Option<&str> {
        match self {
            Action::Restart(s) | Action::Start(s) | Action::Stop(s) => Some(s),
            _ => None,
        }
    }
}

/// An `http` action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpAction {
    /// Method, upper case (`GET` when none was written).
    pub method: String,
    /// URL; may hold placeholders.
    pub url: String,
    /// Request headers; values may hold placeholders.
    pub headers: IndexMap<String, String>,
    /// Request body; may hold placeholders.
    pub body: Option<String>,
    /// Conditions on the answer, all of which must hold for the run to succeed (none: any
    /// 2xx status succeeds).
    pub conditions: Vec<crate::condition::Condition>,
}

/// A `workflow` action: `run = { workflow = "<service>/<workflow>", data = {...} }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowAction {
    /// The workflow engine's service (it has a `workflows` table).
    pub service: String,
    /// The workflow's id or name, as written.
    pub workflow: String,
    /// The JSON object sent; its string values may hold placeholders.
    pub data: IndexMap<String, serde_json::Value>,
}

/// A `retry_failed` action: `run = { retry_failed = "<service>/<workflow>", limit = N }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetryFailedAction {
    /// The workflow engine's service (it has a `workflows` table).
    pub service: String,
    /// The workflow's id or name, as written; may hold placeholders (`{workflow}`).
    pub workflow: String,
    /// The most executions one run retries.
    pub limit: u32,
}

/// A `compare` action: a replica against its original, like a `compare` check run once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareAction {
    /// The page as it should be (`http`/`https`); may hold placeholders.
    pub original: String,
    /// The page that should look and read the same; may hold placeholders.
    pub replica: String,
    /// Conditions on the comparison (`[PIXEL_DIFF] < 2`), all of which must hold for the run
    /// to succeed (none: the defaults of a `compare` check).
    pub conditions: Vec<crate::condition::Condition>,
}

/// An `exec` action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecAction {
    /// Program and arguments (never empty); with `shell`, exactly one script.
    pub argv: Vec<String>,
    /// Environment added to the inherited one; values may hold placeholders.
    pub env: IndexMap<String, String>,
    /// Working directory (a relative path in the manifest is resolved against the
    /// manifest's directory by [`crate::check`]); none: the manifest's directory.
    pub cwd: Option<std::path::PathBuf>,
    /// Run the single script through `sh -c`.
    pub shell: bool,
}

/// A task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    /// Stable, unique id: `<agent>/<slug of name>`, or the slug alone without an agent.
    pub key: String,
    /// Owning agent, if any.
    pub agent: Option<String>,
    /// Name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Priority.
    pub priority: Priority,
    /// Clock schedule; none for a task run on demand, by an event, or a documented
    /// responsibility.
    pub schedule: Option<Schedule>,
    /// Event trigger, alone or beside the schedule.
    pub on: Option<Trigger>,
    /// Action; none for a documented responsibility.
    pub action: Option<Action>,
    /// Per-run timeout.
    #[serde(with = "crate::model::duration_text")]
    pub timeout: Duration,
    /// Retries of a failed run before escalation.
    pub retries: u32,
    /// Delay before the first retry; doubled at each next one (with jitter).
    #[serde(with = "crate::model::duration_text")]
    pub backoff: Duration,
    /// The longest delay between two attempts.
    #[serde(with = "crate::model::duration_text")]
    pub backoff_max: Duration,
    /// Runs of this task that may be running at once.
    pub concurrency: u32,
    /// False: the task is kept and shown but never queued by a schedule or a trigger.
    pub enabled: bool,
    /// What becomes of missed schedule ticks.
    pub catch_up: CatchUp,
}

/// The slug of a task name, as used in its key: lower case, letters and digits kept, every
/// other run of characters one `-`, none at either end (`Monitor system health` becomes
/// `monitor-system-health`).
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

/// The key of a task: `<agent>/<slug(name)>`, or `<slug(name)>` without an agent.
pub fn task_key(agent: Option<&str>, name: &str) -> String {
    match agent {
        Some(agent) => format!("{agent}/{}", slug(name)),
        None => slug(name),
    }
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

    /// The task with this key.
    pub fn task(&self, key: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.key == key)
    }

    /// The task named `agent/name-or-slug` (or `name-or-slug` for a task without an agent):
    /// the agent id as written, the name compared by its slug, so case and punctuation do
    /// not matter (`ops/Rotate Logs`, `ops/rotate-logs`).
    pub fn find_task(&self, agent_slash_task: &str) -> Option<&Task> {
        if let Some(task) = self.task(agent_slash_task) {
            return Some(task);
        }
        let (agent, name) = match agent_slash_task.split_once('/') {
            Some((agent, name)) => (Some(agent.trim()), name),
            None => (None, agent_slash_task),
        };
        let wanted = slug(name);
        let same_agent = |t: &Task, exact: bool| match (agent, t.agent.as_deref()) {
            (None, None) => true,
            (Some(a), Some(b)) if exact => a == b,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        let pick = |exact: bool| {
            self.tasks
                .iter()
                .find(|t| same_agent(t, exact) && slug(&t.name) == wanted)
        };
        pick(true).or_else(|| pick(false))
    }

    /// Resolves the relative paths of task actions (`report`, `exec`'s `cwd`) and of broker
    /// TLS files (`ca_file`, `cert_file`, `key_file`) against the manifest's directory.
    pub(crate) fn resolve_paths(&mut self, base_dir: &std::path::Path) {
        if base_dir.as_os_str().is_empty() {
            return;
        }
        for task in &mut self.tasks {
            match &mut task.action {
                Some(Action::Report(path)) if path.is_relative() => {
                    *path = base_dir.join(&*path);
                }
                Some(Action::Exec(ExecAction { cwd: Some(cwd), .. })) if cwd.is_relative() => {
                    *cwd = base_dir.join(&*cwd);
                }
                _ => {}
            }
        }
        for output in self.outputs.values_mut() {
            output.tls.resolve(base_dir);
        }
        for input in self.inputs.values_mut() {
            input.tls.resolve(base_dir);
        }
        for service in self.services.values_mut() {
            if let Some(check) = &mut service.check
                && let CheckTarget::Nats(r) | CheckTarget::Mqtt(r) = &mut check.target
            {
                r.tls.resolve(base_dir);
            }
        }
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

    /// The same for an optional duration (`null` when none).
    pub(crate) mod option {
        use std::time::Duration;

        pub(crate) fn serialize<S: serde::Serializer>(
            d: &Option<Duration>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }
    }
}
