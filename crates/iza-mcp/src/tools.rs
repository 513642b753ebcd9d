//! The tool table ([`TOOLS`]: names, descriptions written for an AI, JSON Schemas of the
//! arguments, the [`Scope`] each needs) and [`call`], which turns one tool call into one call
//! of the REST API and its answer into the tool's result. Names match `^[A-Za-z0-9_-]{1,64}$`
//! (what Claude Desktop and others accept).

use std::collections::HashSet;
use std::sync::Arc;

use rmcp::model::{CallToolResult, JsonObject};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::backend::{Answer, Backend, BackendError, Verb};
use crate::scope::Scope;

/// One tool: what a client lists.
#[derive(Debug, Clone, Copy)]
pub struct ToolSpec {
    /// The tool's name.
    pub name: &'static str,
    /// A human title.
    pub title: &'static str,
    /// What it does, when to use it, and what it answers.
    pub description: &'static str,
    /// The least scope that may list and call it.
    pub scope: Scope,
    /// Whether it only reads.
    pub read_only: bool,
    /// The JSON Schema of its arguments.
    schema: fn() -> Value,
}

impl ToolSpec {
    /// The JSON Schema of the tool's arguments (an object schema).
    pub fn input_schema(&self) -> Arc<JsonObject> {
        match (self.schema)() {
            Value::Object(map) => Arc::new(map),
            _ => Arc::new(JsonObject::new()),
        }
    }
}

fn schema<T: JsonSchema>() -> Value {
    let mut value = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut value {
        // The `$schema` and `title` keys say nothing a client needs.
        map.remove("$schema");
        map.remove("title");
        map.entry("type").or_insert_with(|| json!("object"));
        map.entry("properties").or_insert_with(|| json!({}));
    }
    value
}

/// No arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoArgs {}

/// Arguments of `list_services`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListServicesArgs {
    /// Only services of this group (its id, as in the manifest's `[groups.<id>]`).
    group: Option<String>,
    /// Only services in this status.
    status: Option<StatusFilter>,
    /// Only services carrying this tag.
    tag: Option<String>,
    /// Only services of this kind (the manifest's `kind`: `service`, `dashboard`,
    /// `mcp-server`, `hub`, `workflow-engine`, `database`, `cache`, `message-queue`,
    /// `load-balancer`, `monitoring`).
    kind: Option<String>,
}

/// A service status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum StatusFilter {
    Up,
    Degraded,
    Down,
    Impacted,
    Unknown,
}

impl StatusFilter {
    fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Up => "up",
            StatusFilter::Degraded => "degraded",
            StatusFilter::Down => "down",
            StatusFilter::Impacted => "impacted",
            StatusFilter::Unknown => "unknown",
        }
    }
}

/// One service.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceArgs {
    /// The service's id (the key of `[services.<id>]`; `list_services` lists them).
    service: String,
}

/// Arguments of `recent_events`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsArgs {
    /// Only events about this service.
    service: Option<String>,
    /// How many, newest first (1 to 1000; default 50).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// Only events numbered below this one (to page back: the smallest `seq` seen).
    before: Option<i64>,
}

/// Arguments of `list_runs`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunsArgs {
    /// Only runs of this task (`agent/task-name`, or its name when unique).
    task: Option<String>,
    /// Only runs of this agent's tasks.
    agent: Option<String>,
    /// Only runs in these states, comma-separated: `queued`, `running`, `succeeded`,
    /// `failed`, `cancelled`.
    state: Option<String>,
    /// How many, newest first (default 50).
    #[schemars(range(min = 1, max = 500))]
    limit: Option<u32>,
}

/// Arguments of `list_incidents`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IncidentsArgs {
    /// Only incidents still open (default: all, newest first).
    open_only: Option<bool>,
    /// Only incidents of this task.
    task: Option<String>,
    /// How many, newest first (default 50).
    #[schemars(range(min = 1, max = 500))]
    limit: Option<u32>,
}

/// Arguments of `run_task`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunTaskArgs {
    /// The task: `agent/task-name` as `list_tasks` shows it (its `key`), or its name when
    /// unique.
    task: String,
}

/// Arguments of `resolve_incident`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolveArgs {
    /// The incident's id (`list_incidents`).
    incident: i64,
    /// Who resolves it, kept as its resolution ("resolved by ..."); default: "an AI agent,
    /// through MCP".
    by: Option<String>,
}

/// Arguments of `claim_run`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimArgs {
    /// The agent whose queued work to take (an agent id from `list_agents`).
    agent: String,
    /// A name for the worker doing it (kept on the run; heartbeats and completion must give
    /// the same).
    worker: String,
    /// Only these tasks of the agent (names or `agent/task` keys); default: any.
    tasks: Option<Vec<String>>,
    /// How long the claim holds without a heartbeat, in seconds (default 60).
    lease_seconds: Option<f64>,
}

/// Arguments of `heartbeat_run`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeartbeatArgs {
    /// The run's id (from `claim_run`).
    run: i64,
    /// The worker that claimed it.
    worker: String,
    /// The new lease, in seconds from now (default 60).
    lease_seconds: Option<f64>,
}

/// Arguments of `complete_run`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompleteArgs {
    /// The run's id (from `claim_run`).
    run: i64,
    /// The worker that claimed it.
    worker: String,
    /// Whether the work succeeded (a failure is retried or escalated by the task's policy).
    success: bool,
    /// What to keep as the run's output (a summary; secrets are masked).
    output: Option<String>,
}

macro_rules! tool {
    ($name:literal, $title:literal, $scope:ident, $ro:literal, $args:ty, $desc:expr) => {
        ToolSpec {
            name: $name,
            title: $title,
            description: $desc,
            scope: Scope::$scope,
            read_only: $ro,
            schema: schema::<$args>,
        }
    };
}

/// Every tool, in the order they are listed.
pub static TOOLS: &[ToolSpec] = &[
    tool!(
        "ecosystem_summary",
        "Ecosystem summary",
        Read,
        true,
        NoArgs,
        "How the whole ecosystem is doing right now: how many services are up, degraded, down, \
         impacted (down because something they depend on is) or unknown, and the figures the \
         manifest claims. Start here."
    ),
    tool!(
        "list_services",
        "List services",
        Read,
        true,
        ListServicesArgs,
        "List the ecosystem's services with their live status (up, degraded, down, impacted, \
         unknown), group, kind, ports and last check. Filter by group, status, tag or kind; \
         e.g. status=down lists what is broken. An impacted service names the one it is \
         impacted by (`by`): fix that one first."
    ),
    tool!(
        "service_status",
        "Service status",
        Read,
        true,
        ServiceArgs,
        "One service in detail: its live status, its definition (secrets masked), its recent \
         check results, per-minute and per-hour rollups, uptime over the last hour, day and \
         week, what it depends on, what depends on it, and the agents watching it."
    ),
    tool!(
        "impact_analysis",
        "Impact analysis",
        Read,
        true,
        ServiceArgs,
        "What breaks if a service goes down: every service that depends on it, directly or \
         through others (from the manifest's `depends_on` graph), the services that exchange \
         data with it (`connects`), and the agents and tasks that watch the affected services."
    ),
    tool!(
        "port_map",
        "Port map",
        Read,
        true,
        NoArgs,
        "Every port of the ecosystem: which service holds each port or range, conflicts, the \
         manifest's allowed port range and the free ranges left in it. Use it before choosing \
         a port for a new service."
    ),
    tool!(
        "recent_events",
        "Recent events",
        Read,
        true,
        EventsArgs,
        "The ecosystem's history, newest first: status changes, process starts and exits, task \
         runs, incidents, reloads. Optionally for one service; page back with `before`."
    ),
    tool!(
        "list_agents",
        "List agents",
        Read,
        true,
        NoArgs,
        "The agents in their tiers (1 orchestrators, 2 service managers, 3 workers): who \
         reports to whom, the services each watches, their tasks and open incidents."
    ),
    tool!(
        "list_tasks",
        "List tasks",
        Read,
        true,
        NoArgs,
        "Every agent task: its key (`agent/task`), priority, schedule or trigger, action, \
         next run, and figures (runs, success rate, p50/p95 duration, last run)."
    ),
    tool!(
        "list_runs",
        "List task runs",
        Read,
        true,
        RunsArgs,
        "Task runs, newest first: state (queued, running, succeeded, failed, cancelled), \
         attempts, who ran it, output. Filter by task, agent or state."
    ),
    tool!(
        "list_incidents",
        "List incidents",
        Read,
        true,
        IncidentsArgs,
        "Incidents: task failures that exhausted their retries and were escalated up the \
         `reports_to` chain, with the chain, the runs, and whether and how each was resolved."
    ),
    tool!(
        "run_task",
        "Run a task now",
        Operate,
        false,
        RunTaskArgs,
        "Queue a run of an agent task now, outside its schedule, and answer the queued run \
         (follow it with `list_runs`). Needs the `operate` scope."
    ),
    tool!(
        "resolve_incident",
        "Resolve an incident",
        Operate,
        false,
        ResolveArgs,
        "Close an open incident, recording who resolved it. Needs the `operate` scope."
    ),
    tool!(
        "start_service",
        "Start a service",
        Operate,
        false,
        ServiceArgs,
        "Start a service that `iza up` supervises (one with a `command`) and is stopped. \
         Answers its process state. Needs the `operate` scope."
    ),
    tool!(
        "stop_service",
        "Stop a service",
        Operate,
        false,
        ServiceArgs,
        "Stop a supervised service (SIGTERM, then SIGKILL after its grace period); it stays \
         stopped until started. Its dependents become impacted. Needs the `operate` scope."
    ),
    tool!(
        "restart_service",
        "Restart a service",
        Operate,
        false,
        ServiceArgs,
        "Restart a supervised service: stop it, then start it again once its dependencies are \
         ready. Needs the `operate` scope."
    ),
    tool!(
        "claim_run",
        "Claim a run (external agent)",
        Operate,
        false,
        ClaimArgs,
        "For an external agent doing an agent's work itself: take the highest-priority queued \
         run of that agent's tasks. Answers the run (keep its `id`), or `claimed: null` when \
         nothing waits. Then send `heartbeat_run` within the lease and finish with \
         `complete_run`. Needs the `operate` scope."
    ),
    tool!(
        "heartbeat_run",
        "Heartbeat a claimed run",
        Operate,
        false,
        HeartbeatArgs,
        "Extend the lease of a run you claimed with `claim_run`, so that it is not given to \
         another worker. Needs the `operate` scope."
    ),
    tool!(
        "complete_run",
        "Complete a claimed run",
        Operate,
        false,
        CompleteArgs,
        "Finish a run you claimed with `claim_run`: success or failure, and its output. A \
         failure is retried or escalated by the task's policy. Needs the `operate` scope."
    ),
];

/// The tool called `name`.
pub(crate) fn find(name: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|tool| tool.name == name)
}

/// Why a tool call did not produce a result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ToolFailure {
    /// The arguments do not match the schema.
    #[error("invalid arguments for `{tool}`: {reason}")]
    Arguments { tool: &'static str, reason: String },
    /// The API could not be asked.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

fn args<T: DeserializeOwned>(tool: &'static ToolSpec, raw: JsonObject) -> Result<T, ToolFailure> {
    serde_json::from_value(Value::Object(raw)).map_err(|err| ToolFailure::Arguments {
        tool: tool.name,
        reason: err.to_string(),
    })
}

/// Percent-encodes one path segment or query value.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `path?k=v&...` with the present values encoded.
fn with_query(path: &str, pairs: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}={}", encode(v))))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Calls tool `tool` with `raw` arguments through `backend`.
pub(crate) async fn call(
    backend: &dyn Backend,
    tool: &'static ToolSpec,
    raw: JsonObject,
) -> Result<CallToolResult, ToolFailure> {
    let api = "/api/v1";
    let (verb, path, body) = match tool.name {
        "ecosystem_summary" => {
            args::<NoArgs>(tool, raw)?;
            (Verb::Get, format!("{api}/summary"), None)
        }
        "list_services" => {
            let a: ListServicesArgs = args(tool, raw)?;
            return list_services(backend, a).await;
        }
        "service_status" => {
            let a: ServiceArgs = args(tool, raw)?;
            (
                Verb::Get,
                format!("{api}/services/{}", encode(&a.service)),
                None,
            )
        }
        "impact_analysis" => {
            let a: ServiceArgs = args(tool, raw)?;
            (
                Verb::Get,
                format!("{api}/services/{}/impact", encode(&a.service)),
                None,
            )
        }
        "port_map" => {
            args::<NoArgs>(tool, raw)?;
            (Verb::Get, format!("{api}/ports"), None)
        }
        "recent_events" => {
            let a: EventsArgs = args(tool, raw)?;
            let path = with_query(
                &format!("{api}/events"),
                &[
                    ("service", a.service),
                    ("limit", Some(a.limit.unwrap_or(50).to_string())),
                    ("before", a.before.map(|b| b.to_string())),
                ],
            );
            (Verb::Get, path, None)
        }
        "list_agents" => {
            args::<NoArgs>(tool, raw)?;
            (Verb::Get, format!("{api}/agents"), None)
        }
        "list_tasks" => {
            args::<NoArgs>(tool, raw)?;
            (Verb::Get, format!("{api}/tasks"), None)
        }
        "list_runs" => {
            let a: RunsArgs = args(tool, raw)?;
            let path = with_query(
                &format!("{api}/runs"),
                &[
                    ("task", a.task),
                    ("agent", a.agent),
                    ("state", a.state),
                    ("limit", a.limit.map(|l| l.to_string())),
                ],
            );
            (Verb::Get, path, None)
        }
        "list_incidents" => {
            let a: IncidentsArgs = args(tool, raw)?;
            let path = with_query(
                &format!("{api}/incidents"),
                &[
                    ("open", a.open_only.map(|o| o.to_string())),
                    ("task", a.task),
                    ("limit", a.limit.map(|l| l.to_string())),
                ],
            );
            (Verb::Get, path, None)
        }
        "run_task" => {
            let a: RunTaskArgs = args(tool, raw)?;
            (
                Verb::Post,
                format!("{api}/runs"),
                Some(json!({ "task": a.task })),
            )
        }
        "resolve_incident" => {
            let a: ResolveArgs = args(tool, raw)?;
            let by =
                a.by.unwrap_or_else(|| "an AI agent, through MCP".to_owned());
            (
                Verb::Post,
                format!("{api}/incidents/{}/resolve", a.incident),
                Some(json!({ "by": by })),
            )
        }
        "start_service" | "stop_service" | "restart_service" => {
            let a: ServiceArgs = args(tool, raw)?;
            let verb = tool.name.trim_end_matches("_service");
            (
                Verb::Post,
                format!("{api}/services/{}/{verb}", encode(&a.service)),
                None,
            )
        }
        "claim_run" => {
            let a: ClaimArgs = args(tool, raw)?;
            let mut body = json!({ "worker": a.worker });
            if let Some(tasks) = a.tasks {
                body["tasks"] = json!(tasks);
            }
            if let Some(lease) = a.lease_seconds {
                body["lease"] = json!(lease);
            }
            (
                Verb::Post,
                format!("{api}/agents/{}/claim", encode(&a.agent)),
                Some(body),
            )
        }
        "heartbeat_run" => {
            let a: HeartbeatArgs = args(tool, raw)?;
            let mut body = json!({ "worker": a.worker });
            if let Some(lease) = a.lease_seconds {
                body["lease"] = json!(lease);
            }
            (
                Verb::Post,
                format!("{api}/runs/{}/heartbeat", a.run),
                Some(body),
            )
        }
        "complete_run" => {
            let a: CompleteArgs = args(tool, raw)?;
            let mut body = json!({ "worker": a.worker, "success": a.success });
            if let Some(output) = a.output {
                body["output"] = json!(output);
            }
            (
                Verb::Post,
                format!("{api}/runs/{}/complete", a.run),
                Some(body),
            )
        }
        other => {
            return Err(ToolFailure::Arguments {
                tool: tool.name,
                reason: format!("no implementation for `{other}`"),
            });
        }
    };
    let answer = backend.call(verb, path, body).await?;
    Ok(result(tool, answer))
}

/// The tool result of an API answer: its document as structured content (and as JSON text
/// for clients that read only text); an API error as a tool error with the API's reason.
fn result(tool: &ToolSpec, answer: Answer) -> CallToolResult {
    if answer.ok() {
        let body = match answer.body {
            Value::Object(_) => answer.body,
            // 204 of `claim_run`: nothing waits.
            Value::Null if tool.name == "claim_run" => json!({ "claimed": null }),
            other => json!({ "result": other }),
        };
        CallToolResult::structured(body)
    } else {
        let reason = answer
            .body
            .get("error")
            .and_then(|e| e.get("message").or(Some(e)))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| answer.body.to_string());
        CallToolResult::structured_error(json!({
            "status": answer.status,
            "error": reason,
            "answer": answer.body,
        }))
    }
}

/// `list_services`: the API's listing, filtered. The tag filter reads the tags from the
/// manifest document (the listing's rows carry no tags).
async fn list_services(
    backend: &dyn Backend,
    args: ListServicesArgs,
) -> Result<CallToolResult, ToolFailure> {
    let tool = find("list_services").unwrap_or(&TOOLS[1]);
    let answer = backend
        .call(Verb::Get, "/api/v1/services".to_owned(), None)
        .await?;
    if !answer.ok() {
        return Ok(result(tool, answer));
    }
    let tagged: Option<HashSet<String>> = match &args.tag {
        None => None,
        Some(tag) => {
            let manifest = backend
                .call(Verb::Get, "/api/v1/manifest".to_owned(), None)
                .await?;
            if !manifest.ok() {
                return Ok(result(tool, manifest));
            }
            let services = manifest.body["services"].as_object().cloned();
            Some(
                services
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(_, s)| {
                        s["tags"]
                            .as_array()
                            .is_some_and(|t| t.iter().any(|v| v.as_str() == Some(tag)))
                    })
                    .map(|(id, _)| id)
                    .collect(),
            )
        }
    };
    let rows = answer.body["services"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let wanted = |row: &Value| {
        let field = |key: &str| row.get(key).and_then(Value::as_str);
        args.group
            .as_deref()
            .is_none_or(|g| field("group") == Some(g))
            && args
                .kind
                .as_deref()
                .is_none_or(|k| field("kind") == Some(k))
            && args
                .status
                .is_none_or(|s| field("status") == Some(s.as_str()))
            && tagged
                .as_ref()
                .is_none_or(|set| field("id").is_some_and(|id| set.contains(id)))
    };
    let services: Vec<Value> = rows.into_iter().filter(wanted).collect();
    Ok(CallToolResult::structured(json!({
        "count": services.len(),
        "at": answer.body.get("at"),
        "services": services,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_name_is_one_clients_accept_and_unique() {
        let mut seen = HashSet::new();
        for tool in TOOLS {
            assert!(
                (1..=64).contains(&tool.name.len())
                    && tool
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                "{}",
                tool.name
            );
            assert!(seen.insert(tool.name), "duplicate {}", tool.name);
            let schema = tool.input_schema();
            assert_eq!(schema.get("type"), Some(&json!("object")), "{}", tool.name);
            assert!(!tool.description.is_empty());
        }
    }

    #[test]
    fn values_are_percent_encoded() {
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
        assert_eq!(
            with_query("/x", &[("a", Some("1&2".into())), ("b", None)]),
            "/x?a=1%262"
        );
    }
}
