//! Defines the command line: every verb, flag and argument of `iza`, and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// IZA OS: map, run, watch and show an ecosystem of services and agents.
#[derive(Debug, Parser)]
#[command(name = "iza", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate a manifest and print every problem with file, line and column.
    ///
    /// Exits 0 when the manifest is valid (warnings allowed), 1 when it has errors, and 2 when
    /// it cannot be read or parsed.
    Check(CheckArgs),
    /// Print the manifest's JSON Schema, for editors to validate and complete `iza.toml`.
    Schema,
    /// Turn another description of an ecosystem into a manifest on stdout.
    ///
    /// Everything the importer could not map is written to stderr, never dropped.
    Import(ImportArgs),
    /// Print the ecosystem graph: services grouped, dependency and data-flow edges.
    Graph(GraphArgs),
    /// Print the port map: owners of ports and ranges, conflicts, free ranges.
    Ports(PortsArgs),
    /// Print the analysis report, regenerated from the manifest, as Markdown.
    Report(ReportArgs),
    /// Print every service's status, dependency-aware: from the running server, or by probing
    /// every service once when none runs.
    ///
    /// Exits 0 when no service is down, 1 when one is (its dependents show as impacted).
    Status(StatusArgs),
    /// Watch the ecosystem and serve its live state over HTTP (JSON API, events, metrics).
    ///
    /// Probes every service's check, records results and events in a SQLite database, and
    /// reloads the manifest when it changes or on SIGHUP. Stops cleanly on Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Start every service that has a `command`, in dependency order, and watch and serve the
    /// ecosystem as `iza serve` does, in the same process.
    ///
    /// Independent services start in parallel; a service starts once what it depends on is
    /// ready (started, healthy by its check, or completed, as its `depends_on` says). Exited
    /// services restart by their `restart` policy with backoff. Output goes to `.iza/logs/`
    /// beside the manifest. On Ctrl-C or SIGTERM everything stops in reverse order. Exits 0
    /// after a clean stop, 1 when a supervised service had failed.
    Up(UpArgs),
    /// Show the processes the running `iza up` supervises: state, pid, restarts, uptime.
    Ps(PsArgs),
    /// Print a supervised service's output (stdout and stderr), from the running `iza up`.
    Logs(LogsArgs),
    /// Start a supervised service's process in the running `iza up`.
    Start(ActArgs),
    /// Stop a supervised service's process in the running `iza up` (it stays stopped).
    Stop(ActArgs),
    /// Restart a supervised service's process in the running `iza up`.
    Restart(ActArgs),
    /// Print the API's bearer token (creating it on first use), or replace it.
    ///
    /// Calls that change anything need `Authorization: Bearer <token>`. The token lives in
    /// `.iza/token` beside the manifest (mode 0600). The token goes to stdout, its file to
    /// stderr, so `TOKEN=$(iza token)` works.
    Token(TokenArgs),
    /// Show the agent tree: tiers, reporting lines, services, tasks and open incidents.
    Agents(AgentsArgs),
    /// List every task: agent, priority, trigger, next run, last result, success rate.
    Tasks(AgentsArgs),
    /// Run a task now through the queue and wait for its result (exit code follows the run).
    Run(RunArgs),
    /// Show the run history, newest first.
    Runs(RunsArgs),
    /// Show open incidents (or all) with their escalation chains.
    Incidents(IncidentsArgs),
    /// Resolve an incident by hand.
    Resolve(ResolveArgs),
    /// Serve IZA as an MCP server over stdio, for AI clients (Claude Desktop, Cursor, VS Code,
    /// any MCP SDK) that start it as a command.
    ///
    /// Talks to the running `iza serve` or `iza up` of the manifest when there is one (all
    /// tools); otherwise answers from the manifest and its state database, read-only (the
    /// tools that need live state or act say they need a server). See docs/mcp.md.
    Mcp(McpArgs),
    /// Cancel a run: a queued one never runs, a running one is stopped.
    Cancel(CancelArgs),
    /// Show open alerts (or all) with their root cause, impacted services and deliveries.
    Alerts(AlertsArgs),
    /// Show the audit log: MCP tool calls (IZA's and the hub's) and mutating API calls, who
    /// made them, with what (secrets masked), how they ended; newest first (docs/mcp.md).
    Audit(AuditArgs),
    /// Show the business figures (revenue, ARR, customers, ...) per service, group and
    /// ecosystem, with the claims beside what is measured (docs/metrics.md).
    #[command(name = "metrics", alias = "figures")]
    Figures(FiguresArgs),
    /// Show the event outputs (NATS, RabbitMQ, MQTT, webhook): outbox depth and lag,
    /// published, dropped, failures (docs/events.md).
    Outputs(OutputsArgs),
    /// Silence alerts for a while (`iza silence --service db --for 2h --comment ...`), list
    /// silences (`--list`), or end one (`--expire ID`).
    Silence(SilenceArgs),
    /// Acknowledge an alert: no more reminders or escalation.
    Ack(AckArgs),
    /// Run a small demo workload: `/healthz`, `/stats`, an MCP `initialize` answer, with
    /// failure and latency injection. What `examples/iza-os` and the benchmarks supervise.
    ///
    /// Prints `... listening on http://ADDR` as its first line; exits 0 on SIGTERM or Ctrl-C.
    DemoService(DemoServiceArgs),
    /// Manage the store: apply its migrations, or copy a SQLite store into PostgreSQL.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Show the nodes sharing the running server's PostgreSQL store: host, region, version,
    /// whether alive, and how many checks each probes (docs/scale-out.md).
    Nodes(PsArgs),
    /// Show the workflow engines IZA follows: each engine's verdict, its workflows (failing
    /// first) with runs, success rate and p95 duration over 1h/24h/7d, the last error; or
    /// retry a failed execution (`iza workflows retry <service>/<execution id>`).
    Workflows(crate::cmd::workflows::WorkflowsArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum StoreCommand {
    /// Create or upgrade the store's schema (PostgreSQL or SQLite) and print its version.
    Migrate(StoreMigrateArgs),
    /// Copy everything of one store into another (offline: stop `iza serve` first): results,
    /// rollups, events, runs, schedule marks and incidents.
    ///
    /// Refuses a target that already holds data unless `--force` is given.
    Copy(StoreCopyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct StoreMigrateArgs {
    /// The store: `postgres://user:password@host:port/database` or `sqlite:PATH`
    /// [default: `[store] url` of the manifest in the current directory, else `.iza/state.db`].
    #[arg(long, value_name = "URL")]
    pub(crate) store: Option<String>,
    #[command(flatten)]
    pub(crate) manifest: ManifestArg,
}

#[derive(Debug, Args)]
pub(crate) struct StoreCopyArgs {
    /// The store to copy from (`sqlite:PATH`, or `postgres://...`).
    #[arg(long, value_name = "URL")]
    pub(crate) from: String,
    /// The store to copy into (`postgres://...`, or `sqlite:PATH`); migrated first.
    #[arg(long, value_name = "URL")]
    pub(crate) to: String,
    /// Copy even when the target already holds data (rows of the same ids are kept, not
    /// overwritten).
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct McpArgs {
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// What the MCP client may do: `read` hides and refuses the tools that act.
    #[arg(long, value_enum, default_value_t = McpScope::Admin)]
    pub(crate) scope: McpScope,
}

/// The scope of an `iza mcp` client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum McpScope {
    /// Read only.
    Read,
    /// Read and act (run tasks, resolve incidents, start/stop/restart, external claims).
    Operate,
    /// Everything.
    Admin,
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    #[command(flatten)]
    pub(crate) server: ServeArgs,
}

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// Manifest file or directory holding `iza.toml`; the token is `.iza/token` beside it.
    #[arg(default_value = ".", conflicts_with = "file")]
    pub(crate) path: PathBuf,
    /// The token file itself, instead of the one beside a manifest.
    #[arg(long)]
    pub(crate) file: Option<PathBuf>,
    /// Replace the token with a new one (the old one is refused from then on, also by a
    /// running `iza serve`).
    #[arg(long)]
    pub(crate) rotate: bool,
    /// The read-only token instead (`.iza/read-token`): it reads (also when reads are
    /// protected) but changes nothing and never sees raw definitions. Same as `--scope read`.
    #[arg(long, conflicts_with = "scope")]
    pub(crate) read_only: bool,
    /// Which token: `admin` (`.iza/token`, everything; the default), `operate`
    /// (`.iza/operate-token`: reads and actions, no raw definitions; MCP's acting tools),
    /// `read` (`.iza/read-token`) or `push:<service>` (`.iza/push-tokens/<service>`: pushes
    /// that service's results, `POST /api/v1/services/<service>/results`, and nothing else).
    #[arg(long, value_parser = TokenScope::parse)]
    pub(crate) scope: Option<TokenScope>,
}

/// The scope of `iza token --scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenScope {
    /// One of the three API scopes.
    Api(McpScope),
    /// Pushing one service's results.
    Push(String),
}

impl TokenScope {
    fn parse(text: &str) -> Result<TokenScope, String> {
        match text {
            "read" => Ok(TokenScope::Api(McpScope::Read)),
            "operate" => Ok(TokenScope::Api(McpScope::Operate)),
            "admin" => Ok(TokenScope::Api(McpScope::Admin)),
            _ => match text.strip_prefix("push:") {
                Some(service) if !service.is_empty() => Ok(TokenScope::Push(service.to_owned())),
                _ => Err(format!(
                    "`{text}` is not a scope: use `admin`, `operate`, `read` or `push:<service>`"
                )),
            },
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct DemoServiceArgs {
    /// Port to listen on (0 picks a free one; the first line of stdout names it).
    #[arg(long)]
    pub(crate) port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) listen_host: std::net::IpAddr,
    /// The name shown in answers (e.g. the service's id).
    #[arg(long, default_value = "demo-service")]
    pub(crate) name: String,
    /// Fraction of `/healthz` requests answered 503, from 0 to 1.
    #[arg(long, default_value_t = 0.0, value_parser = crate::cmd::parse_rate)]
    pub(crate) fail_rate: f64,
    /// Delay added to every answer (e.g. `50ms`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) latency: Option<std::time::Duration>,
    /// Answer every `/healthz` with 503 once this long has passed since the start (e.g. `30s`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) fail_after: Option<std::time::Duration>,
    /// Exit with status 1 once this long has passed since the start, as a crash would.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) exit_after: Option<std::time::Duration>,
    /// Play a business with this annual recurring revenue (dollars) at the start: serves
    /// simulated figures at `/metrics` (Prometheus text) and `/figures.json` (docs/metrics.md).
    #[arg(long, value_parser = parse_amount)]
    pub(crate) arr: Option<f64>,
    /// With `--arr`: paying customers at the start [default: ARR / 12,000].
    #[arg(long, value_parser = parse_amount)]
    pub(crate) customers: Option<f64>,
    /// With `--arr`: growth of ARR and customers per hour (0.02 is 2% an hour).
    #[arg(long, default_value_t = 0.02, value_parser = parse_amount)]
    pub(crate) growth: f64,
    /// Also receive notifications: `POST /webhook` is counted and printed, `GET /webhooks`
    /// lists the last ones (a receiver for the `webhook` notifier, docs/alerts.md).
    #[arg(long)]
    pub(crate) receive_webhooks: bool,
    /// With `--receive-webhooks`: the notifier's `secret`, to verify `X-Iza-Signature`.
    #[arg(long, env = "IZA_WEBHOOK_SECRET", requires = "receive_webhooks")]
    pub(crate) webhook_secret: Option<String>,
    /// Serve a real MCP server at `/mcp` (demo tools `echo`, `add`, `service_info`,
    /// `toggle_extra`; both protocol generations) instead of the bare `initialize` answer.
    #[arg(long)]
    pub(crate) mcp: bool,
    /// Serve the demo MCP server over stdin and stdout instead of HTTP (`--port` is ignored).
    #[arg(long, conflicts_with = "mcp")]
    pub(crate) mcp_stdio: bool,
    /// Play a workflow engine instead: a stand-in with the API shapes of `n8n` (2.x) or
    /// `activepieces` over generated workflows and executions (docs/workflows.md).
    #[command(flatten)]
    pub(crate) engine: crate::cmd::demo_engine::EngineArgs,
    /// Serve a small demo web site at `/site/` for browser checks and comparisons.
    #[arg(long)]
    pub(crate) web: bool,
    /// With `--web`: serve a flawed replica of the site (`heading`: another heading,
    /// `missing-link`: no contact link); repeat or separate with commas for both.
    #[arg(long, value_enum, value_delimiter = ',', requires = "web")]
    pub(crate) web_defect: Vec<crate::cmd::demo_web::Defect>,
}

/// A finite, non-negative number (`200000000`, `2e8`).
fn parse_amount(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{text}` is not a non-negative number")),
    }
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub(crate) manifest: ManifestArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
    /// How many probes run at once (when probing).
    #[arg(long, default_value_t = 64)]
    pub(crate) concurrency: usize,
    /// Ask the server at this URL (e.g. `http://127.0.0.1:3000`) instead of probing; without
    /// it, the server `iza serve` runs for this manifest is asked when there is one.
    #[arg(long, env = "IZA_URL", value_name = "URL")]
    pub(crate) url: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) manifest: ManifestArg,
    /// Address to listen on (port 0 picks a free port; the address is logged).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub(crate) listen: std::net::SocketAddr,
    /// SQLite database for results and events [default: `.iza/state.db` beside the manifest].
    #[arg(long, conflicts_with = "store")]
    pub(crate) db: Option<PathBuf>,
    /// The store: `postgres://user:password@host:port/database` (shared by several nodes) or
    /// `sqlite:PATH` [default: the manifest's `[store] url`, else `--db`'s SQLite file].
    #[arg(long, value_name = "URL")]
    pub(crate) store: Option<String>,
    /// Make reads need the bearer token too (all but `/healthz`); calls that change anything
    /// always need it. Use it when the server listens beyond loopback.
    #[arg(long)]
    pub(crate) protect_reads: bool,
    /// Close a connection that has not sent a complete request head this long after it was
    /// opened or began its next request (slow or stalled clients).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s", value_name = "DURATION")]
    pub(crate) header_timeout: std::time::Duration,
    /// Close a connection that has had no request in progress for this long (event and log
    /// streams are in progress as long as they run).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "60s", value_name = "DURATION")]
    pub(crate) idle_timeout: std::time::Duration,
    /// Serve at most this many connections at once (streams included); further connections
    /// wait in the system's accept queue until one closes.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    pub(crate) max_connections: u32,
    /// Also answer requests whose `Host` is NAME (repeatable). By default only the listen
    /// address, `localhost` and loopback addresses are answered (and, on a wildcard listen
    /// address, the machine's addresses and host name); any other `Host` gets 421, against
    /// DNS rebinding. Use it for the name a proxy or other machines reach the server by.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub(crate) allow_host: Vec<String>,
    /// This node's name: under `iza up`, a service whose `node` names another node is not run
    /// here, only watched [default: the host name].
    #[arg(long = "node", value_name = "NAME")]
    pub(crate) node_name: Option<String>,
    /// On a shared (PostgreSQL) store: the region this node probes from, as the nodes
    /// registry shows it (`docs/scale-out.md`).
    #[arg(long, value_name = "NAME")]
    pub(crate) region: Option<String>,
    /// On a shared (PostgreSQL) store: the lease period. A node that stops heartbeating is
    /// seen as gone, and its checks are taken over by the others, within it.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s", value_name = "DURATION")]
    pub(crate) lease: std::time::Duration,
    /// Runs of the agents' tasks this node executes at once (its worker slots); a task's own
    /// `concurrency` still caps its runs. Raise it when many runs wait on the network.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=4096), value_name = "N")]
    pub(crate) agent_workers: u32,
    /// Limit each client of `/mcp` (each bearer token; clients without one count as one) to
    /// this many MCP requests, e.g. `50/s` or `600/m`; beyond it they get 429 with
    /// `Retry-After` [default: no limit].
    #[arg(long, value_name = "RATE", value_parser = iza_server::ratelimit::Rate::parse)]
    pub(crate) mcp_rate_limit: Option<iza_server::ratelimit::Rate>,
    /// Limit the calls of one MCP tool, shared by every client: `TOOL=RATE`, the tool as
    /// `tools/list` names it (a glob: `github__*=5/s`), e.g. `run_task=10/m`; over it a call
    /// is refused with a JSON-RPC error and when to retry. Repeatable; the first match counts;
    /// before an upstream's own `rate_limits`.
    #[arg(long, value_name = "TOOL=RATE", value_parser = iza_server::ratelimit::parse_tool_rate)]
    pub(crate) mcp_tool_rate_limit: Vec<(String, iza_server::ratelimit::Rate)>,
}

/// Which running instance to talk to, and with which token.
#[derive(Debug, Args)]
pub(crate) struct RemoteArgs {
    #[command(flatten)]
    pub(crate) manifest: ManifestArg,
    /// The server's URL (e.g. `http://127.0.0.1:3000`) [default: the one running for the
    /// manifest, announced in `.iza/server.json`].
    #[arg(long, env = "IZA_URL", value_name = "URL")]
    pub(crate) url: Option<String>,
    /// The bearer token for calls that change something [default: `.iza/token` beside the
    /// manifest].
    #[arg(long, env = "IZA_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PsArgs {
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The service.
    pub(crate) service: String,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Keep printing new lines as they come (until Ctrl-C or the server stops).
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// How many of the last lines to print first.
    #[arg(short = 'n', long, default_value_t = 100)]
    pub(crate) tail: usize,
}

#[derive(Debug, Args)]
pub(crate) struct ActArgs {
    /// The service.
    pub(crate) service: String,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
}

/// Arguments of `iza agents` and `iza tasks`.
#[derive(Debug, Args)]
pub(crate) struct AgentsArgs {
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
}

/// Arguments of `iza run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The task, as `AGENT/TASK` (its key, or its agent and name).
    pub(crate) task: String,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// How long to wait for the run to finish.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub(crate) timeout: std::time::Duration,
    /// Queue the run and return at once.
    #[arg(long)]
    pub(crate) no_wait: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
}

/// Arguments of `iza runs`.
#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Only the runs of this task (`AGENT/TASK` key).
    #[arg(long)]
    pub(crate) task: Option<String>,
    /// Only the runs that failed for good.
    #[arg(long)]
    pub(crate) failed: bool,
    /// At most this many runs.
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
}

/// Arguments of `iza incidents`.
#[derive(Debug, Args)]
pub(crate) struct IncidentsArgs {
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Resolved incidents too.
    #[arg(long)]
    pub(crate) all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
}

/// Arguments of `iza metrics`.
#[derive(Debug, Args)]
pub(crate) struct FiguresArgs {
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
}

/// Arguments of `iza alerts`.
#[derive(Debug, Args)]
pub(crate) struct AlertsArgs {
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Resolved alerts too.
    #[arg(long)]
    pub(crate) all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
}

/// Arguments of `iza audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Only calls of this tool (`run_task`, `github__create_issue`, `POST /api/v1/runs`).
    #[arg(long)]
    pub(crate) tool: Option<String>,
    /// Only calls of this client (`admin`, `operate`, `read`, `anonymous`, `stdio`).
    #[arg(long)]
    pub(crate) client: Option<String>,
    /// Only calls that ended so: `ok`, `error`, `denied`, `rate-limited`.
    #[arg(long)]
    pub(crate) outcome: Option<String>,
    /// At most this many records (1 to 1000).
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
}

/// Arguments of `iza outputs`.
#[derive(Debug, Args)]
pub(crate) struct OutputsArgs {
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
}

/// Arguments of `iza silence`.
#[derive(Debug, Args)]
pub(crate) struct SilenceArgs {
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Silence the alerts of this service.
    #[arg(long)]
    pub(crate) service: Option<String>,
    /// ... of services in this group.
    #[arg(long)]
    pub(crate) group: Option<String>,
    /// ... of services with this tag.
    #[arg(long)]
    pub(crate) tag: Option<String>,
    /// ... of this alert rule.
    #[arg(long)]
    pub(crate) rule: Option<String>,
    /// For how long (`2h`, `30m`).
    #[arg(long = "for", value_name = "DURATION", default_value = "1h")]
    pub(crate) duration: String,
    /// Why (required to create one).
    #[arg(long)]
    pub(crate) comment: Option<String>,
    /// Who silences [default: the user name].
    #[arg(long)]
    pub(crate) by: Option<String>,
    /// List the silences instead.
    #[arg(long, conflicts_with_all = ["service", "group", "tag", "rule", "expire"])]
    pub(crate) list: bool,
    /// End this silence now instead.
    #[arg(long, value_name = "ID", conflicts_with_all = ["service", "group", "tag", "rule"])]
    pub(crate) expire: Option<i64>,
}

/// Arguments of `iza ack`.
#[derive(Debug, Args)]
pub(crate) struct AckArgs {
    /// The alert's id.
    pub(crate) alert: i64,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Who acknowledges [default: the user name].
    #[arg(long)]
    pub(crate) by: Option<String>,
}

/// Arguments of `iza resolve`.
#[derive(Debug, Args)]
pub(crate) struct ResolveArgs {
    /// The incident's id.
    pub(crate) incident: i64,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Who resolves it (the resolution reads "resolved by ...").
    #[arg(long)]
    pub(crate) by: Option<String>,
}

/// Arguments of `iza cancel`.
#[derive(Debug, Args)]
pub(crate) struct CancelArgs {
    /// The run's id.
    pub(crate) run: i64,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Who cancels it (the run's error reads "cancelled by ...").
    #[arg(long)]
    pub(crate) by: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// What kind of document to import.
    #[arg(value_enum)]
    pub(crate) from: ImportFrom,
    /// The document (`-` for standard input). Compose: several files are merged in order,
    /// as `docker compose -f a.yml -f b.yml` merges them.
    #[arg(required = true, num_args = 1..)]
    pub(crate) files: Vec<PathBuf>,
    /// Compose: activate a profile (repeatable; `*` for all). Without it, the shell's
    /// `COMPOSE_PROFILES`, then the environment files' one.
    #[arg(long = "profile", value_name = "NAME")]
    pub(crate) profiles: Vec<String>,
    /// Compose: read the variables from this file instead of the `.env` beside the first
    /// compose file (repeatable; a later file wins).
    #[arg(long = "env-file", value_name = "FILE")]
    pub(crate) env_files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ImportFrom {
    /// An ecosystem analysis in Markdown, shaped like the seed document.
    Markdown,
    /// A docker-compose file.
    Compose,
}

#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    #[command(flatten)]
    pub(crate) manifest: ManifestArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormatArg::Dot)]
    pub(crate) format: GraphFormatArg,
    /// Refuse a manifest with errors instead of showing what could be read from it.
    #[arg(long)]
    pub(crate) strict: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum GraphFormatArg {
    /// Graphviz DOT (`iza graph | dot -Tsvg`).
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// JSON nodes and edges.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct PortsArgs {
    #[command(flatten)]
    pub(crate) manifest: ManifestArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
    /// Refuse a manifest with errors instead of showing what could be read from it.
    #[arg(long)]
    pub(crate) strict: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TextOrJson {
    /// For people.
    Text,
    /// For tools.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) manifest: ManifestArg,
    /// The state database whose latest results and uptime the report shows (by default
    /// `.iza/state.db` beside the manifest, when it exists; `iza serve` writes it).
    #[arg(long)]
    pub(crate) db: Option<PathBuf>,
    /// Refuse a manifest with errors instead of showing what could be read from it.
    #[arg(long)]
    pub(crate) strict: bool,
}

/// Where a manifest comes from.
#[derive(Debug, Args)]
pub(crate) struct ManifestArg {
    /// Manifest file, directory holding `iza.toml`, or `-` for standard input.
    #[arg(default_value = ".")]
    pub(crate) path: PathBuf,
    /// Syntax of the manifest on standard input (files are read by extension).
    #[arg(long, value_enum, default_value_t = InputSyntax::Toml)]
    pub(crate) syntax: InputSyntax,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum InputSyntax {
    Toml,
    Yaml,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub(crate) manifest: ManifestArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub(crate) format: CheckFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CheckFormat {
    /// Diagnostics with source snippets, for people.
    Text,
    /// `{"errors":[...],"warnings":[...]}`, for tools.
    Json,
}
