//! Defines the manifest's wire model: what an `iza.toml` (or `iza.yaml`) may say, key by key,
//! with the position of every value a diagnostic may need to point at.
//!
//! These types only describe shape; every rule that relates two values (ports, references,
//! cycles, schedules) lives in `validate`. Their doc comments are the descriptions in
//! `iza schema`.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::spanned::Spanned;

mod alerts;
pub use alerts::{RawAlertRule, RawMaintenance, RawNotifier, RawSeverity};
mod figures;
pub use figures::{RawFigure, RawJsonFigure};
mod outputs;
pub use outputs::RawOutput;
mod workflows;
pub use workflows::{RawWorkflowRules, RawWorkflows};

/// Map from ids to definitions, in file order.
pub type IdMap<T> = IndexMap<Spanned<String>, Spanned<T>>;

/// An IZA OS manifest: one ecosystem of services, agents and their tasks.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "IZA OS manifest")]
pub struct RawManifest {
    /// Manifest format version; `1` is the only one so far.
    pub version: Option<Spanned<u32>>,
    /// The ecosystem as a whole: its name, port policy and the figures it claims.
    pub ecosystem: Option<Spanned<RawEcosystem>>,
    /// Groups of services, shown as sections of the report and clusters of the graph.
    #[serde(default)]
    pub groups: IdMap<RawGroup>,
    /// Every service, keyed by id.
    #[serde(default)]
    pub services: IdMap<RawService>,
    /// Agents, keyed by id, with the tasks they own.
    #[serde(default)]
    pub agents: IdMap<RawAgent>,
    /// Tasks that belong to the ecosystem as a whole, optionally assigned to an agent.
    #[serde(default)]
    pub tasks: Vec<Spanned<RawTask>>,
    /// Ordered data-flow paths through services or groups, keyed by id.
    #[serde(default)]
    pub flows: IdMap<RawFlow>,
    /// Cross-service communication channels (API gateway, message queue, ...), keyed by id.
    #[serde(default)]
    pub channels: IdMap<RawChannel>,
    /// Where notifications go, keyed by id (docs/alerts.md).
    #[serde(default)]
    pub notifiers: IdMap<RawNotifier>,
    /// Alert rules: which status changes are worth a notification.
    #[serde(default)]
    pub alerts: Vec<Spanned<RawAlertRule>>,
    /// Maintenance windows: alerts of the services they cover are suppressed.
    #[serde(default)]
    pub maintenance: Vec<Spanned<RawMaintenance>>,
    /// Where `iza serve` and `iza up` keep their state (SQLite beside the manifest when absent).
    #[serde(default)]
    pub store: Option<Spanned<RawStore>>,
    /// Where IZA publishes its events (NATS, RabbitMQ, MQTT, webhook), keyed by id
    /// (docs/events.md).
    #[serde(default)]
    pub outputs: IdMap<RawOutput>,
    /// Where pushed results come from besides HTTP: a NATS subject, an AMQP queue or an MQTT
    /// topic IZA subscribes to (`docs/inputs.md`).
    #[serde(default)]
    pub inputs: IdMap<RawInput>,
}

/// Where the state is kept: `[store] url = "${IZA_DATABASE_URL}"`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// `postgres://user:password@host:port/database` (shared by several nodes) or `sqlite:PATH`;
    /// `${NAME}` is replaced by the environment variable `NAME` when `iza` starts, so that the
    /// password stays out of the manifest.
    pub url: Option<Spanned<String>>,
}

/// The ecosystem as a whole.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEcosystem {
    /// Display name, such as `IZA OS`.
    pub name: Option<String>,
    /// One paragraph about the ecosystem.
    pub description: Option<String>,
    /// Policy: every port must fall in this inclusive range, written `START-END` (`3000-9999`).
    pub port_range: Option<Spanned<String>>,
    /// Figures the ecosystem claims about itself, kept apart from what is mapped.
    #[serde(default)]
    pub claims: Vec<Spanned<RawClaim>>,
}

/// A figure the ecosystem claims, such as "71+ services".
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawClaim {
    /// What is counted, as the source says it (`Total Services Mapped`).
    pub label: String,
    /// The claimed figure, as written (`71+ services`).
    pub value: String,
    /// The mapped figure to show beside it, when there is one.
    pub counts: Option<Metric>,
    /// The name of a business figure (`metrics`) whose ecosystem aggregate is shown beside
    /// the claim as what is measured (docs/metrics.md).
    pub figure: Option<Spanned<String>>,
}

/// A figure IZA can count from the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Number of services.
    Services,
    /// Number of services with a Docker reference.
    DockerServices,
    /// Number of services of kind `mcp-server`.
    McpServers,
    /// Number of services of kind `workflow-engine`.
    WorkflowEngines,
    /// Number of agents.
    Agents,
    /// Number of tasks.
    Tasks,
    /// Number of ports in use (single ports, not ranges).
    Ports,
    /// The policy port range.
    PortRange,
}

/// A group of services.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    /// Display name (`Core Dashboard Services`).
    pub name: Option<String>,
    /// What the group is for.
    pub description: Option<String>,
}

/// What a service is, for counting and display.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, JsonSchema, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceKind {
    /// An application service (the default).
    #[default]
    Service,
    /// A dashboard or other user interface.
    Dashboard,
    /// A Model Context Protocol server.
    McpServer,
    /// A hub that owns a port range for child services.
    Hub,
    /// A workflow engine such as n8n or Activepieces.
    WorkflowEngine,
    /// A database.
    Database,
    /// A cache such as Redis.
    Cache,
    /// A message queue or broker.
    MessageQueue,
    /// A reverse proxy or load balancer.
    LoadBalancer,
    /// Monitoring: metrics, dashboards, alerting.
    Monitoring,
}

/// One port, or an inclusive range written `START-END` that the service owns for its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(untagged)]
pub enum RawPort {
    /// A single port.
    Single(u16),
    /// An inclusive range, as a string `START-END`.
    Range(#[schemars(with = "String", regex(pattern = r"^\d+-\d+$"))] (u16, u16)),
}

impl<'de> Deserialize<'de> for RawPort {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawPort;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a port number or a range `START-END`")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawPort, E> {
                u16::try_from(v)
                    .map(RawPort::Single)
                    .map_err(|_| E::custom(format!("port {v} is not in 0-65535")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawPort, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("port {v} is not in 0-65535")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawPort, E> {
                parse_port_spec(v).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl serde::Serialize for RawPort {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RawPort::Single(p) => s.serialize_u16(*p),
            RawPort::Range((a, b)) => s.collect_str(&format_args!("{a}-{b}")),
        }
    }
}

/// Parses `8080` or `8300-8399`.
pub fn parse_port_spec(text: &str) -> Result<RawPort, String> {
    let port = |s: &str| {
        s.trim()
            .parse::<u16>()
            .map_err(|_| format!("`{}` is not a port number (0-65535)", s.trim()))
    };
    match text.split_once('-') {
        None => port(text).map(RawPort::Single),
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            if a > b {
                return Err(format!("port range `{text}` ends before it starts"));
            }
            Ok(RawPort::Range((a, b)))
        }
    }
}

/// A service of the ecosystem.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// Display name; defaults to the id.
    pub name: Option<String>,
    /// The id of the group it belongs to.
    pub group: Option<Spanned<String>>,
    /// What the service is; `service` by default.
    pub kind: Option<ServiceKind>,
    /// One sentence on what it does.
    pub description: Option<String>,
    /// What it offers, as a list (the seed's "Services" line).
    #[serde(default)]
    pub features: Vec<String>,
    /// The port it listens on.
    pub port: Option<Spanned<u16>>,
    /// Several ports, or ranges `START-END` it owns for child services.
    #[serde(default)]
    pub ports: Vec<Spanned<RawPort>>,
    /// The hub service whose port range this service lives in.
    pub parent: Option<Spanned<String>>,
    /// Host it runs on; `localhost` by default.
    pub host: Option<String>,
    /// Container reference (`image:port`) when it runs in Docker.
    pub docker: Option<String>,
    /// Command line (program and arguments, no shell) that `iza up` runs to supervise it;
    /// a first argument `iza` means the running `iza` binary itself.
    pub command: Option<Spanned<Vec<String>>>,
    /// Working directory for `command` (and an `exec` check), relative to the manifest's
    /// directory; the manifest's directory by default. `cwd` is accepted as an old spelling.
    #[serde(alias = "cwd")]
    pub workdir: Option<String>,
    /// On several nodes sharing a PostgreSQL store: the node (its `--node` name, by default its
    /// host name) whose `iza up` runs `command`; the others only watch it. Any node by default.
    pub node: Option<String>,
    /// Environment variables for `command`, added to the inherited environment.
    #[serde(default)]
    pub env: IndexMap<String, String>,
    /// When `iza up` restarts `command` after it exits: a policy (`always`, `on-failure`,
    /// `never`) or a table with limits and backoff.
    pub restart: Option<Spanned<RawRestart>>,
    /// How `iza up` stops `command`: the signal first, then SIGKILL to its process group
    /// after the grace period.
    pub stop: Option<Spanned<RawStop>>,
    /// Services that must be up before this one: start order, and "impacted" status. Each
    /// entry is a service id, or `{ service, condition }` where the condition is `started`,
    /// `healthy` or `completed`.
    #[serde(default)]
    pub depends_on: Vec<Spanned<RawDependency>>,
    /// Data-flow edges to other services, with the protocol they speak.
    #[serde(default)]
    pub connects: Vec<Spanned<RawConnection>>,
    /// Free labels.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Free-form facts, such as a revenue model.
    #[serde(default)]
    pub metadata: IndexMap<String, serde_json::Value>,
    /// How to tell whether it is healthy.
    pub check: Option<Spanned<RawCheck>>,
    /// Business figures read from the service, keyed by name (docs/metrics.md).
    #[serde(default)]
    pub metrics: IdMap<RawFigure>,
    /// It is an MCP server that IZA's hub federates behind `/mcp`.
    pub mcp: Option<Spanned<RawMcp>>,
    /// The workflow engine IZA follows on a `workflow-engine` service (docs/workflows.md).
    pub workflows: Option<Spanned<RawWorkflows>>,
}

/// `[services.X.mcp]`: how the hub reaches an MCP server and what it shows of it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMcp {
    /// Its streamable-HTTP endpoint (`http://127.0.0.1:8301/mcp`).
    pub url: Option<Spanned<String>>,
    /// Or the command that runs it over stdio, supervised by IZA.
    pub command: Option<Spanned<Vec<String>>>,
    /// Environment of the command; a value may be an `${NAME}` reference.
    #[serde(default)]
    pub env: IndexMap<String, String>,
    /// Headers of HTTP requests (`Authorization`); a value may contain `${NAME}` references.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// How long a call may take (default `30s`).
    pub timeout: Option<Spanned<String>>,
    /// How often an HTTP server is asked whether it still answers (default `5s`).
    pub health_interval: Option<Spanned<String>>,
    /// Globs of the tools shown (default: all).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Globs of the tools hidden.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Per-tool rate limits: a glob of the server's own tool names and a rate (`10/m`; units
    /// `s`, `m`, `h`), shared by every client.
    pub rate_limits: Option<Spanned<IndexMap<String, String>>>,
}

/// A `depends_on` entry: a service id, or a table naming the service and the condition
/// `iza up` waits for before it starts the dependent.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(untagged)]
pub enum RawDependency {
    /// A service id; the condition is `healthy` when that service has a check, else `started`.
    Service(String),
    /// A service and the condition to wait for.
    Table(RawDependencyTable),
}

impl RawDependency {
    /// The service id it names.
    pub fn id(&self) -> &str {
        match self {
            RawDependency::Service(id) => id,
            RawDependency::Table(t) => t.service.get(),
        }
    }
}

impl Spanned<RawDependency> {
    /// The service id it names, with the span of the id itself.
    pub fn id_spanned(&self) -> (&str, std::ops::Range<usize>) {
        match self.get() {
            RawDependency::Service(id) => (id, self.span()),
            RawDependency::Table(t) => (t.service.get(), t.service.span()),
        }
    }
}

impl<'de> Deserialize<'de> for RawDependency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawDependency;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a service id or a table `{ service, condition }`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawDependency, E> {
                Ok(RawDependency::Service(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RawDependency, A::Error> {
                RawDependencyTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawDependency::Table)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A `depends_on` entry written as a table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDependencyTable {
    /// The service id.
    pub service: Spanned<String>,
    /// What `iza up` waits for: `started` (its process runs), `healthy` (its check passes) or
    /// `completed` (it exited 0). Only gates services `iza up` supervises.
    pub condition: Option<Spanned<String>>,
}

/// `restart`: a policy name, or a table.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(untagged)]
pub enum RawRestart {
    /// `always`, `on-failure` or `never`, with the default limits.
    Policy(String),
    /// A policy with limits.
    Table(RawRestartTable),
}

impl<'de> Deserialize<'de> for RawRestart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawRestart;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a restart policy (`always`, `on-failure`, `never`) or a table")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawRestart, E> {
                Ok(RawRestart::Policy(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RawRestart, A::Error> {
                RawRestartTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawRestart::Table)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `restart` written as a table.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRestartTable {
    /// `always`, `on-failure` (the default: restart after a non-zero exit or a signal) or
    /// `never`.
    pub policy: Option<Spanned<String>>,
    /// Restarts in a row (without staying up `reset_after`) before the service is marked
    /// failed; 5 by default.
    pub max_restarts: Option<Spanned<u32>>,
    /// Delay before the first restart, doubled at each further one; `500ms` by default.
    pub backoff: Option<Spanned<String>>,
    /// The longest delay between two restarts; `30s` by default.
    pub max_backoff: Option<Spanned<String>>,
    /// A run that lasts this long resets the restart count and the delay; `60s` by default.
    pub reset_after: Option<Spanned<String>>,
}

/// `stop`: how a supervised service is stopped.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStop {
    /// The signal sent first to the service's process group (`SIGTERM` by default; `SIGINT`,
    /// `SIGQUIT`, `SIGHUP`, `SIGUSR1`, `SIGUSR2`, `SIGKILL`; the `SIG` prefix is optional).
    pub signal: Option<Spanned<String>>,
    /// How long to wait after the signal before SIGKILL goes to the whole group; `10s` by
    /// default.
    pub grace: Option<Spanned<String>>,
}

/// A data-flow edge.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConnection {
    /// The service data flows to.
    pub to: Spanned<String>,
    /// Protocol or medium (`http`, `amqp`, `sql`, `mcp`, ...).
    pub via: Option<String>,
    /// What travels on it.
    pub description: Option<String>,
}

/// A health check: exactly one of the kind keys (`http`, `tcp`, ...) says what to probe.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    /// HTTP(S) URL to request.
    pub http: Option<Spanned<String>>,
    /// `host:port` to open a TCP connection to.
    pub tcp: Option<Spanned<String>>,
    /// `host:port` to complete a TLS handshake with (certificate expiry).
    pub tls: Option<Spanned<String>>,
    /// Name to resolve.
    pub dns: Option<Spanned<String>>,
    /// Program and arguments to run; healthy when it exits 0 (and the conditions hold).
    pub exec: Option<Spanned<Vec<String>>>,
    /// PostgreSQL URL (`postgres://user@host:5432/db`): startup handshake and a query.
    pub postgres: Option<Spanned<String>>,
    /// Redis URL (`redis://host:6379`): PING.
    pub redis: Option<Spanned<String>>,
    /// AMQP URL (`amqp://guest:guest@host:5672`): protocol handshake.
    pub amqp: Option<Spanned<String>>,
    /// MCP endpoint URL: `server/discover` (2026-07-28) or the `initialize` handshake, then
    /// `tools/list`.
    pub mcp: Option<Spanned<String>>,
    /// URL to load in a real headless Chromium (`http`/`https`): a browser check.
    pub browser: Option<Spanned<String>>,
    /// Two pages rendered in a real headless Chromium at the same viewport and compared
    /// (`[PIXEL_DIFF]`, `[TEXT_SIMILARITY]`, `[MISSING_LINKS]`): a replica check.
    pub compare: Option<Spanned<RawCompare>>,
    /// NATS URL (`nats://127.0.0.1:4222`): a round trip, a probe message published to
    /// `subject` and received back; `[ROUND_TRIP]` is how long it took.
    pub nats: Option<Spanned<String>>,
    /// MQTT URL (`mqtt://127.0.0.1:1883`, `mqtts://host:8883` over TLS): a round trip through
    /// `topic` (QoS 1).
    pub mqtt: Option<Spanned<String>>,
    /// `amqp`: publish a probe message and receive it back (through `exchange`, `routing_key`
    /// and `queue` when given) instead of the handshake only. `nats` and `mqtt` always do.
    pub round_trip: Option<Spanned<bool>>,
    /// `nats`: the subject the probe message goes through (`iza.probe.<random>` by default).
    pub subject: Option<Spanned<String>>,
    /// `mqtt`: the topic the probe message goes through (`iza/probe/<random>` by default).
    pub topic: Option<Spanned<String>>,
    /// `amqp` round trip: the exchange the probe message is published to (the default
    /// exchange when absent).
    pub exchange: Option<Spanned<String>>,
    /// `amqp` round trip: the routing key (the queue's name by default).
    pub routing_key: Option<Spanned<String>>,
    /// `amqp` round trip: the queue the message must arrive on; it must exist and be bound
    /// (a temporary queue bound to `exchange` when absent).
    pub queue: Option<Spanned<String>>,
    /// `nats`, `mqtt`: PEM certificates to trust instead of the system's roots (a private CA); with
    /// `mqtts://` (MQTT) or `tls://` (NATS). A relative path is read from the manifest's
    /// directory.
    pub ca_file: Option<Spanned<String>>,
    /// `nats`, `mqtt`: PEM client certificate (chain) presented to the broker; with `key_file`.
    pub cert_file: Option<Spanned<String>>,
    /// `nats`, `mqtt`: PEM private key of `cert_file`.
    pub key_file: Option<Spanned<String>>,
    /// A push check (`push = true`): nothing is probed, results are pushed to IZA (HTTP or a
    /// broker input); the service is down when none arrives within `expect_every`.
    pub push: Option<Spanned<bool>>,
    /// `push`: the longest time between two pushes (`5m`).
    pub expect_every: Option<Spanned<String>>,
    /// `push`: extra time allowed after `expect_every` before the service is down (0 by
    /// default).
    pub grace: Option<Spanned<String>>,
    /// Browser and compare checks: what must appear after the load event, a CSS selector
    /// (`#app .ready`) or `text=...` (text the page shows).
    pub wait_for: Option<Spanned<String>>,
    /// Browser checks: a journey, steps run in order after the page has loaded; each is one of
    /// `goto`, `click`, `fill` (with `value`), `press`, `wait_for`, `expect_text`, `screenshot`.
    #[serde(default)]
    pub steps: Vec<Spanned<RawStep>>,
    /// HTTP method; `GET` by default.
    pub method: Option<Spanned<String>>,
    /// HTTP request headers.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// HTTP request body.
    pub body: Option<String>,
    /// Follow HTTP redirects (`true` by default).
    pub follow_redirects: Option<bool>,
    /// Verify TLS certificates (`true` by default).
    pub verify_tls: Option<bool>,
    /// DNS record type to query (`A` by default).
    pub record: Option<String>,
    /// Run `exec` through `sh -c` (the single argument is the script).
    pub shell: Option<bool>,
    /// How often to probe (`15s`, `1m`); `30s` by default.
    pub every: Option<Spanned<String>>,
    /// How long one probe may take; `10s` by default.
    pub timeout: Option<Spanned<String>>,
    /// Conditions in Gatus's syntax (`[STATUS] == 200`); all must hold.
    #[serde(default)]
    pub conditions: Vec<Spanned<String>>,
    /// Consecutive failures before the status turns down; 1 by default.
    pub failure_threshold: Option<u32>,
    /// Consecutive successes before the status turns up again; 1 by default.
    pub success_threshold: Option<u32>,
    /// Probe from each of these regions (nodes started with `--region`), one node per region,
    /// on a store shared by several nodes (`docs/scale-out.md`); non-empty, no repeats.
    pub regions: Option<Spanned<Vec<Spanned<String>>>>,
    /// With `regions`: how many regions must see the service down for it to be `down`
    /// (fewer is a regional problem, shown `degraded`); 1 to the number of regions, a
    /// majority by default.
    pub quorum: Option<Spanned<u32>>,
}

/// The two pages of a comparison.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCompare {
    /// The page as it should be (`http`/`https` URL).
    pub original: Option<Spanned<String>>,
    /// The page that should look and read the same (`http`/`https` URL).
    pub replica: Option<Spanned<String>>,
}

/// One step of a browser journey: exactly one of the action keys.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Load this URL (`http`/`https`) and wait for its load event.
    pub goto: Option<Spanned<String>>,
    /// Click the element this CSS selector finds.
    pub click: Option<Spanned<String>>,
    /// Type `value` into the form field this CSS selector finds.
    pub fill: Option<Spanned<String>>,
    /// With `fill`: the text to type; `${NAME}` references are read from the service's `env`
    /// or the environment when the step runs and never appear in results.
    pub value: Option<Spanned<String>>,
    /// Press a key in the focused element (`Enter`, `Tab`, `Escape`, a character).
    pub press: Option<Spanned<String>>,
    /// Wait until this CSS selector finds an element, or `text=...` is shown.
    pub wait_for: Option<Spanned<String>>,
    /// Fail unless the page shows this text.
    pub expect_text: Option<Spanned<String>>,
    /// Take a screenshot under this name (kept with the result when the check fails).
    pub screenshot: Option<Spanned<String>>,
}

/// An agent: it owns services and tasks, and reports to an agent of a lower tier number.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    /// Display name; defaults to the id.
    pub name: Option<String>,
    /// 1 orchestrators, 2 service managers, 3 workers.
    pub tier: Spanned<u8>,
    /// The agent it escalates to; must have a lower tier number.
    pub reports_to: Option<Spanned<String>>,
    /// What the agent is for.
    pub role: Option<String>,
    /// Services it watches.
    #[serde(default)]
    pub services: Vec<Spanned<String>>,
    /// Groups it watches (every service in them).
    #[serde(default)]
    pub groups: Vec<Spanned<String>>,
    /// Tasks it owns.
    #[serde(default)]
    pub tasks: Vec<Spanned<RawTask>>,
    /// Notifier ids that alerts of rules with `to_agent = true` go to for its services.
    #[serde(default)]
    pub notify: Vec<Spanned<String>>,
    /// An unacknowledged critical alert escalates to `reports_to` after this long.
    pub ack_within: Option<Spanned<String>>,
}

/// How urgent a task is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Deserialize,
    JsonSchema,
    serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Priority {
    /// Run first.
    High,
    /// The default.
    #[default]
    Medium,
    /// Run when nothing else waits.
    Low,
}

/// A task: something an agent does, on a schedule, on an event, or on demand.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    /// Short name (`Monitor system health`); its slug makes the task's key
    /// (`<agent>/monitor-system-health`), unique in the manifest.
    pub name: Spanned<String>,
    /// What it is for.
    pub description: Option<String>,
    /// For a task under `[[tasks]]`: the agent that owns it.
    pub agent: Option<Spanned<String>>,
    /// `high`, `medium` (default) or `low`.
    pub priority: Option<Priority>,
    /// Run at this interval (`30s`, `5m`, `1h`).
    pub every: Option<Spanned<String>>,
    /// Run on this cron schedule (`0 0 2 * * *`: seconds first, or the five-field form).
    pub cron: Option<Spanned<String>>,
    /// The IANA time zone `cron` is read in (`Europe/Berlin`); UTC by default.
    pub timezone: Option<Spanned<String>>,
    /// Run on an event of the ecosystem: one of `status`, `process`, `escalation`, narrowed
    /// by `services` and `groups`. May be combined with `every` or `cron`.
    pub on: Option<Spanned<RawTrigger>>,
    /// What running it does: exactly one action key and that action's modifiers; a task
    /// without one is a responsibility, documented but not run.
    pub run: Option<Spanned<RawAction>>,
    /// How long one run may take; `5m` by default.
    pub timeout: Option<Spanned<String>>,
    /// How many times a failed run is retried before escalation; 0 by default.
    pub retries: Option<u32>,
    /// Delay before the first retry, doubled at each next one with jitter; `5s` by default.
    pub backoff: Option<Spanned<String>>,
    /// The longest delay between two attempts; `5m` by default.
    pub backoff_max: Option<Spanned<String>>,
    /// How many runs of this task may run at once; 1 by default (it never overlaps itself).
    pub concurrency: Option<Spanned<u32>>,
    /// `false` keeps the task but never queues it by schedule or event; `true` by default.
    pub enabled: Option<bool>,
    /// What to do with schedule ticks missed while `iza` was down: `skip` (default), `one`
    /// (run once), `all` (run each, up to `catch_up_limit`).
    pub catch_up: Option<Spanned<RawCatchUp>>,
    /// With `catch_up = "all"`: the most missed ticks that are run; 100 by default.
    pub catch_up_limit: Option<Spanned<u32>>,
}

/// What to do with schedule ticks missed while `iza` was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RawCatchUp {
    /// Forget them (the default).
    Skip,
    /// Run once for all of them.
    One,
    /// Run each of them, up to `catch_up_limit`.
    All,
}

/// `on`: the event that runs a task. Exactly one of `status`, `process`, `escalation`,
/// `workflow`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTrigger {
    /// A service's status became this (or one of these): `up`, `down`, `degraded`,
    /// `impacted`, `unknown`.
    pub status: Option<Spanned<RawWords>>,
    /// A supervised process entered this state (or one of these): `pending`, `starting`,
    /// `running`, `ready`, `exited`, `backoff`, `failed`, `stopped`.
    pub process: Option<Spanned<RawWords>>,
    /// `true`: the task's agent received an escalation.
    pub escalation: Option<Spanned<bool>>,
    /// `failed`: a workflow engine's follower saw a new failed execution (docs/workflows.md).
    pub workflow: Option<Spanned<RawWords>>,
    /// With `workflow`: only executions of these workflows (ids or names).
    #[serde(default)]
    pub workflows: Vec<Spanned<String>>,
    /// Only events of these services.
    #[serde(default)]
    pub services: Vec<Spanned<String>>,
    /// Only events of services in these groups.
    #[serde(default)]
    pub groups: Vec<Spanned<String>>,
}

/// One word, or a list of words.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(untagged)]
pub enum RawWords {
    /// One word.
    One(String),
    /// Several words.
    Many(Vec<Spanned<String>>),
}

impl Spanned<RawWords> {
    /// Each word with its span (a single word has the span of the value).
    pub fn words(&self) -> Vec<(&str, std::ops::Range<usize>)> {
        match self.get() {
            RawWords::One(word) => vec![(word.as_str(), self.span())],
            RawWords::Many(words) => words.iter().map(|w| (w.get().as_str(), w.span())).collect(),
        }
    }
}

impl<'de> Deserialize<'de> for RawWords {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawWords;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a word or a list of words")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawWords, E> {
                Ok(RawWords::One(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<RawWords, A::Error> {
                Vec::<Spanned<String>>::deserialize(serde::de::value::SeqAccessDeserializer::new(
                    seq,
                ))
                .map(RawWords::Many)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// What a task does: exactly one action key (`check`, `http`, `exec`, `report`, `restart`,
/// `start`, `stop`, `external`, `compare`), plus the modifiers of that action.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAction {
    /// Run the health check of this service now, recorded like any probe.
    pub check: Option<Spanned<String>>,
    /// Send an HTTP request: `METHOD URL` or just `URL` (GET). Placeholders such as
    /// `{service}` are substituted.
    pub http: Option<Spanned<String>>,
    /// Run a program with arguments (no shell unless `shell = true`). Placeholders such as
    /// `{service}` are substituted in the arguments.
    pub exec: Option<Spanned<Vec<String>>>,
    /// Write the live analysis report (Markdown) to this file, relative to the manifest's
    /// directory.
    pub report: Option<Spanned<String>>,
    /// Restart this supervised service (it must have a `command`).
    pub restart: Option<Spanned<String>>,
    /// Start this supervised service (it must have a `command`).
    pub start: Option<Spanned<String>>,
    /// Stop this supervised service (it must have a `command`).
    pub stop: Option<Spanned<String>>,
    /// `true`: the run is queued for external agents (API) and never run by `iza` itself.
    pub external: Option<Spanned<bool>>,
    /// Render a replica and its original in the shared headless Chromium and compare them
    /// (`[PIXEL_DIFF]`, `[TEXT_SIMILARITY]`, `[MISSING_LINKS]`), like a `compare` check.
    /// Placeholders are substituted in both URLs.
    pub compare: Option<Spanned<RawCompare>>,
    /// Trigger a workflow of a workflow engine: `"<service>/<workflow id or name>"`, through
    /// its webhook (n8n's Webhook node, Activepieces' `/api/v1/webhooks/{flowId}`).
    pub workflow: Option<Spanned<String>>,
    /// Retry the failed executions of a workflow: `"<service>/<workflow id or name>"`,
    /// newest first, those not retried yet, at most `limit`.
    pub retry_failed: Option<Spanned<String>>,
    /// With `workflow`: the JSON object sent to the workflow (string values may hold
    /// placeholders).
    pub data: Option<Spanned<IndexMap<String, serde_json::Value>>>,
    /// With `retry_failed`: the most executions retried by one run; 10 by default.
    pub limit: Option<Spanned<u32>>,
    /// With `http`: request headers (values may hold placeholders).
    pub headers: Option<Spanned<IndexMap<String, String>>>,
    /// With `http`: request body (may hold placeholders).
    pub body: Option<Spanned<String>>,
    /// With `http`: conditions on the answer in Gatus's syntax (`[STATUS] == 200`); all
    /// must hold. Without them any 2xx status succeeds. With `compare`: conditions on the
    /// comparison (`[PIXEL_DIFF] < 2`); without them, the defaults of a `compare` check.
    pub conditions: Option<Spanned<Vec<Spanned<String>>>>,
    /// With `exec`: environment variables added to the inherited ones (values may hold
    /// placeholders).
    pub env: Option<Spanned<IndexMap<String, String>>>,
    /// With `exec`: working directory, relative to the manifest's directory.
    pub cwd: Option<Spanned<String>>,
    /// With `exec`: run the single string of `exec` through `sh -c`; `false` by default.
    pub shell: Option<Spanned<bool>>,
}

/// An ordered data-flow path.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    /// Display name (`Primary Data Flow`).
    pub name: Option<String>,
    /// What flows.
    pub description: Option<String>,
    /// Service or group ids, in the order data passes through them.
    pub steps: Vec<Spanned<String>>,
}

/// What kind of channel services talk over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelKind {
    /// Synchronous requests routed between services.
    ApiGateway,
    /// Asynchronous messages through a broker.
    MessageQueue,
    /// A data store several services share.
    SharedDatabase,
    /// Real-time event propagation.
    EventBus,
    /// Anything else.
    Other,
}

/// A communication channel.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    /// Display name (`Message Queue`).
    pub name: Option<String>,
    /// What kind of channel.
    pub kind: Option<ChannelKind>,
    /// What it does.
    pub description: Option<String>,
    /// The service that carries it, when one does (`rabbitmq`).
    pub via: Option<Spanned<String>>,
    /// Services that use it.
    #[serde(default)]
    pub services: Vec<Spanned<String>>,
}

/// A broker IZA subscribes to for pushed results (`[inputs.<id>]`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    /// `nats`, `amqp` or `mqtt`.
    pub kind: Spanned<String>,
    /// The broker's URL (`nats://127.0.0.1:4222`, `amqp://guest:guest@127.0.0.1:5672`,
    /// `mqtt://127.0.0.1:1883`).
    pub url: Spanned<String>,
    /// `nats`: the subject subscribed to, wildcards allowed (`iza.results.>`).
    pub subject: Option<Spanned<String>>,
    /// `amqp`: the queue consumed (declared durable when missing).
    pub queue: Option<Spanned<String>>,
    /// `mqtt`: the topic filter subscribed to, wildcards allowed (`iza/results/+`).
    pub topic: Option<Spanned<String>>,
    /// `nats`, `mqtt`: PEM certificates to trust instead of the system's roots (a private CA); with
    /// `mqtts://` (MQTT) or `tls://` (NATS). A relative path is read from the manifest's
    /// directory.
    pub ca_file: Option<Spanned<String>>,
    /// `nats`, `mqtt`: PEM client certificate (chain) presented to the broker; with `key_file`.
    pub cert_file: Option<Spanned<String>>,
    /// `nats`, `mqtt`: PEM private key of `cert_file`.
    pub key_file: Option<Spanned<String>>,
}
