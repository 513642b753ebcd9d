//! Defines [`IzaMcp`], the `rmcp` server handler: it lists the tools and resources the caller's
//! [`Scope`] allows, refuses a call above it, and answers each call through the [`Backend`].
//! `rmcp` speaks the protocol (both generations, `initialize` and `server/discover`, sessions
//! and the stateless revision); this module decides only what IZA offers.

use std::sync::Arc;

use rmcp::ErrorData as McpError;
// Logging is deprecated by 2026-07-28 (SEP-2577) but part of the session revisions IZA serves.
#[allow(deprecated)]
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ErrorCode, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    Prompt, PromptArgument, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, Role, ServerCapabilities, ServerConfig,
    SetLevelRequestParams, SubscriptionFilter, Tool, ToolAnnotations,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{RoleServer, ServerHandler};
use serde_json::{Value, json};
use std::time::Instant;

use crate::audit::{AuditSink, CallOutcome, CallRecord, ToolLimits};
use crate::backend::{Backend, Verb};
use crate::hub::{self, Hub};
use crate::scope::{Caller, ClientName, Scope};
use crate::tools::{self, TOOLS, ToolFailure, ToolSpec};

/// One resource.
#[derive(Debug, Clone, Copy)]
pub struct ResourceSpec {
    /// Its URI.
    pub uri: &'static str,
    /// Its name.
    pub name: &'static str,
    /// What it holds.
    pub description: &'static str,
    /// Its MIME type.
    pub mime: &'static str,
    /// The API path that answers it.
    pub path: &'static str,
}

/// One prompt.
#[derive(Debug, Clone, Copy)]
pub struct PromptSpec {
    /// Its name.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// The argument it takes, if any: name and description.
    pub argument: Option<(&'static str, &'static str)>,
    /// Its text; `{service}` stands for the argument.
    pub text: &'static str,
}

/// The resources.
pub static RESOURCES: &[ResourceSpec] = &[
    ResourceSpec {
        uri: "iza://manifest",
        name: "manifest",
        description: "The validated manifest (catalog) as JSON, secrets masked: ecosystem, groups, services, agents, tasks.",
        mime: "application/json",
        path: "/api/v1/manifest",
    },
    ResourceSpec {
        uri: "iza://report",
        name: "report",
        description: "The live analysis report (Markdown): the ecosystem regenerated from the manifest with each service's status and uptime.",
        mime: "text/markdown",
        path: "/api/v1/report",
    },
    ResourceSpec {
        uri: "iza://ports",
        name: "ports",
        description: "The port map as JSON: every port and range, its holder, conflicts, and the free ranges.",
        mime: "application/json",
        path: "/api/v1/ports",
    },
];

/// The prompts.
pub static PROMPTS: &[PromptSpec] = &[
    PromptSpec {
        name: "diagnose_service",
        description: "Find out why a service is down, degraded or impacted, and what to do about it.",
        argument: Some(("service", "The service's id, as `list_services` shows it")),
        text: "Use IZA OS's tools to diagnose the service `{service}`. Call `service_status` for \
               `{service}`: read its status, its last check results and its uptime. If it is \
               impacted, follow `by` to the service that is really down and diagnose that one \
               instead. Call `recent_events` for the service to see what changed and when, and \
               `impact_analysis` to see what else is affected. Then say what is wrong, since \
               when, what it breaks, and the next step (for a supervised service, \
               `restart_service` needs the operate scope; ask before acting).",
    },
    PromptSpec {
        name: "ecosystem_briefing",
        description: "A short briefing on the whole ecosystem: what is broken, what it breaks, open incidents.",
        argument: None,
        text: "Use IZA OS's tools to brief me on the ecosystem. Call `ecosystem_summary`, then \
               `list_services` with status `down` and with status `degraded`; for each service \
               that is down call `impact_analysis`. Call `list_incidents` with `open_only` \
               true. Answer in a few lines: what is down (root causes first), what it impacts, \
               open incidents and who owns them.",
    },
];

const INSTRUCTIONS: &str = "IZA OS is the control plane of this ecosystem of services and \
agents. Start with `ecosystem_summary`, then `list_services` (status=down for what is \
broken; an impacted service names its root cause in `by`), `service_status` and \
`impact_analysis` for one service. Acting (run_task, resolve_incident, start/stop/restart, \
the claim_run/heartbeat_run/complete_run cycle of an external agent) needs a token with the \
`operate` scope.";

/// The handler. Cheap to clone; one per session (or per stateless request).
#[derive(Clone)]
pub struct IzaMcp {
    backend: Arc<dyn Backend>,
    default_scope: Scope,
    hub: Hub,
    audit: Option<Arc<dyn AuditSink>>,
    limits: ToolLimits,
}

impl IzaMcp {
    /// A handler over `backend`; a request that carries no [`Caller`] (stdio) gets
    /// `default_scope`.
    pub fn new(backend: Arc<dyn Backend>, default_scope: Scope) -> IzaMcp {
        IzaMcp {
            backend,
            default_scope,
            hub: Hub::empty(),
            audit: None,
            limits: ToolLimits::default(),
        }
    }

    /// Sends a record of every tool call to `sink`.
    pub fn with_audit(mut self, sink: Option<Arc<dyn AuditSink>>) -> IzaMcp {
        self.audit = sink;
        self
    }

    /// Limits the calls of the tools these rules match (on top of an upstream's own
    /// `rate_limits`).
    pub fn with_tool_limits(mut self, limits: ToolLimits) -> IzaMcp {
        self.limits = limits;
        self
    }

    /// Federates the hub's upstream MCP servers behind this handler.
    pub fn with_hub(mut self, hub: Hub) -> IzaMcp {
        self.hub = hub;
        self
    }

    /// The scope of the request's caller.
    fn scope(&self, context: &RequestContext<RoleServer>) -> Scope {
        self.caller(context).1
    }

    /// The name and scope of the request's caller: what the host attached, or the local
    /// user of stdio.
    fn caller(&self, context: &RequestContext<RoleServer>) -> (String, Scope) {
        let parts = context.extensions.get::<http::request::Parts>();
        let caller = parts
            .and_then(|parts| parts.extensions.get::<Caller>())
            .or_else(|| context.extensions.get::<Caller>());
        let name = parts
            .and_then(|parts| parts.extensions.get::<ClientName>())
            .or_else(|| context.extensions.get::<ClientName>());
        match caller {
            Some(caller) => (
                name.map_or_else(|| caller.0.as_str().to_owned(), |n| n.0.to_owned()),
                caller.0,
            ),
            None => ("stdio".to_owned(), self.default_scope),
        }
    }

    /// The tools `scope` may see.
    pub fn tools_for(scope: Scope) -> impl Iterator<Item = &'static ToolSpec> {
        TOOLS.iter().filter(move |tool| tool.scope <= scope)
    }
}

fn tool(spec: &ToolSpec) -> Tool {
    let mut annotations = ToolAnnotations::with_title(spec.title).read_only(spec.read_only);
    if !spec.read_only {
        annotations = annotations
            .destructive(matches!(spec.name, "stop_service" | "restart_service"))
            .idempotent(false);
    }
    Tool::new(spec.name, spec.description, spec.input_schema())
        .with_title(spec.title)
        .with_annotations(annotations.open_world(false))
}

impl ServerHandler for IzaMcp {
    #[allow(deprecated)]
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_resources()
                .enable_resources_list_changed()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_logging()
                .build(),
        )
        .with_server_info(
            Implementation::new("iza", env!("CARGO_PKG_VERSION"))
                .with_title("IZA OS")
                .with_description("The control plane of an ecosystem of services and agents"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let scope = self.scope(&context);
        let mut listed: Vec<Tool> = IzaMcp::tools_for(scope).map(tool).collect();
        listed.extend(
            self.hub
                .routes()
                .iter()
                .filter(|route| route.scope <= scope)
                .map(|route| route.tool.clone()),
        );
        Ok(ListToolsResult::with_all_items(listed))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::find(name)
            .map(tool)
            .or_else(|| self.hub.route(name).map(|route| route.tool))
    }

    /// A session client: remembered, to tell it when the hub's listing changes.
    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.hub.add_peer(context.peer);
    }

    /// 2026-07-28 clients hear of listing changes on `subscriptions/listen`.
    fn accepted_subscription_filter(
        &self,
        _requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(
            SubscriptionFilter::builder()
                .tools_list_changed()
                .prompts_list_changed()
                .resources_list_changed()
                .build(),
        )
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let sink = context.sink().clone();
        self.hub.add_sink(sink.clone());
        context.cancelled().await;
        self.hub.remove_sink(&sink);
        Ok(())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let (client, scope) = self.caller(&context);
        let (at, started) = (std::time::SystemTime::now(), Instant::now());
        let audited = self.audit.as_ref().map(|_| {
            let upstream = tools::find(&request.name)
                .is_none()
                .then(|| self.hub.upstream_name(&request.name))
                .flatten();
            let arguments = request.arguments.clone().map_or(Value::Null, Value::Object);
            (request.name.to_string(), upstream, arguments)
        });
        let answer = self.dispatch(request, scope).await;
        if let (Some(sink), Some((tool, upstream, arguments))) = (&self.audit, audited) {
            let (outcome, message) = match &answer {
                Ok(result) if result.is_error == Some(true) => {
                    (CallOutcome::Error, Some(error_text(result)))
                }
                Ok(_) => (CallOutcome::Ok, None),
                Err((outcome, err)) => (*outcome, Some(err.message.to_string())),
            };
            sink.record(CallRecord {
                at,
                client,
                scope,
                tool,
                upstream,
                arguments,
                outcome,
                duration: started.elapsed(),
                message,
            });
        }
        answer.map(Into::into).map_err(|(_, err)| err)
    }

    /// Logging (session revisions only; 2026-07-28 dropped it): the level is accepted, and
    /// IZA sends no log notifications, so there is nothing to filter.
    #[allow(deprecated)]
    async fn set_level(
        &self,
        _request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let federated = self.hub.prompts();
        Ok(ListPromptsResult::with_all_items(
            PROMPTS
                .iter()
                .map(|prompt| {
                    let arguments = prompt.argument.map(|(arg, about)| {
                        vec![
                            PromptArgument::new(arg)
                                .with_description(about)
                                .with_required(true),
                        ]
                    });
                    Prompt::new(prompt.name, Some(prompt.description), arguments)
                })
                .chain(federated.iter().map(|(prompt, _, _)| prompt.clone()))
                .collect(),
        ))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let Some(prompt) = PROMPTS.iter().find(|p| p.name == request.name) else {
            if let Some(answer) = self
                .hub
                .get_prompt(&request.name, request.arguments.clone())
                .await
            {
                return answer
                    .map(Into::into)
                    .map_err(|err| McpError::internal_error(err.to_string(), None));
            }
            return Err(McpError::invalid_params(
                format!("no prompt `{}`", request.name),
                None,
            ));
        };
        let (name, mut text) = (prompt.name, prompt.text.to_owned());
        if let Some((arg, _)) = prompt.argument {
            let value = request
                .arguments
                .as_ref()
                .and_then(|a| a.get(arg))
                .and_then(|v| v.as_str())
                .ok_or_else(|| {
                    McpError::invalid_params(
                        format!("the prompt `{name}` needs the argument `{arg}`"),
                        None,
                    )
                })?;
            text = text.replace("{service}", value);
        }
        let mut result = GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]);
        result.description = Some(prompt.description.to_owned());
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let federated = self.hub.resources();
        Ok(ListResourcesResult::with_all_items(
            RESOURCES
                .iter()
                .map(|r| {
                    Resource::new(r.uri, r.name)
                        .with_description(r.description)
                        .with_mime_type(r.mime)
                })
                .chain(federated.0.iter().cloned())
                .collect(),
        ))
    }

    /// IZA's own resources are fixed; the templates are the hub's upstreams' (namespaced).
    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(
            self.hub.resources().1.clone(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        if let Some(answer) = self.hub.read_resource(&request.uri).await {
            return match answer {
                Ok(result) => Ok(result.into()),
                Err(err) => Err(McpError::internal_error(
                    err.to_string(),
                    Some(json!({ "uri": request.uri })),
                )),
            };
        }
        let Some(ResourceSpec {
            uri, mime, path, ..
        }) = RESOURCES.iter().find(|r| r.uri == request.uri)
        else {
            return Err(McpError::resource_not_found(
                format!("no resource `{}`", request.uri),
                Some(json!({ "uri": request.uri })),
            ));
        };
        let answer = self
            .backend
            .call(Verb::Get, (*path).to_owned(), None)
            .await
            .map_err(|err| McpError::internal_error(err.to_string(), None))?;
        if !answer.ok() {
            return Err(McpError::internal_error(
                format!("the API answered {} for `{path}`", answer.status),
                Some(answer.body),
            ));
        }
        let text = match answer.body {
            serde_json::Value::String(text) => text,
            other => serde_json::to_string_pretty(&other).unwrap_or_default(),
        };
        let contents = match ResourceContents::text(text, *uri) {
            ResourceContents::TextResourceContents {
                uri, text, meta, ..
            } => ResourceContents::TextResourceContents {
                uri,
                mime_type: Some((*mime).to_owned()),
                text,
                meta,
            },
            other => other,
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}

/// A refused call: how the audit counts it, and the JSON-RPC error the client gets.
type Refusal = (CallOutcome, McpError);

impl IzaMcp {
    /// Decides and makes a call: the scope, the tool's rate limit, then the tool itself (IZA's
    /// own, or a federated one).
    async fn dispatch(
        &self,
        request: CallToolRequestParams,
        scope: Scope,
    ) -> Result<CallToolResult, Refusal> {
        let own = tools::find(&request.name);
        let required = match own {
            Some(spec) => Some(spec.scope),
            None => self.hub.route(&request.name).map(|route| route.scope),
        };
        // A tool above the scope is hidden from the listing, and its call refused with the
        // scope it needs (not as unknown: the client can ask for a better token).
        if let Some(required) = required
            && required > scope
        {
            return Err((
                CallOutcome::Denied,
                McpError::new(
                    ErrorCode::INVALID_REQUEST,
                    format!(
                        "the tool `{}` needs the `{required}` scope; this client's token has `{scope}`",
                        request.name
                    ),
                    Some(json!({ "required_scope": required, "scope": scope })),
                ),
            ));
        }
        if required.is_some() {
            self.check_rate(&request.name)?;
        }
        let Some(spec) = own else {
            return match self.hub.call(&request.name, request.arguments).await {
                Ok(result) => Ok(result),
                Err(hub::HubError::UnknownTool(name)) => {
                    Err((CallOutcome::Denied, unknown_tool(&name, scope)))
                }
                Err(err) => Ok(hub::error_result(&err)),
            };
        };
        let arguments = request.arguments.unwrap_or_default();
        match tools::call(self.backend.as_ref(), spec, arguments).await {
            Ok(result) => Ok(result),
            Err(ToolFailure::Arguments { tool, reason }) => Err((
                CallOutcome::Denied,
                McpError::invalid_params(format!("invalid arguments for `{tool}`: {reason}"), None),
            )),
            Err(ToolFailure::Backend(err)) => Ok(CallToolResult::structured_error(
                json!({ "error": err.to_string() }),
            )),
        }
    }

    /// Takes one call of `tool` from its rate limit, if it has one (the host's rules first,
    /// then its upstream's `rate_limits`); over it, a JSON-RPC error (`-32000`) with the limit
    /// and when to retry.
    fn check_rate(&self, tool: &str) -> Result<(), Refusal> {
        let Some(rate) = self.limits.rate_of(tool).or_else(|| self.hub.rate_of(tool)) else {
            return Ok(());
        };
        self.limits
            .take(tool, rate, Instant::now())
            .map_err(|wait| {
                let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
                (
                    CallOutcome::RateLimited,
                    McpError::new(
                        ErrorCode(-32000),
                        format!(
                            "the tool `{tool}` is over its rate limit of {}; retry in {seconds} s",
                            rate.label()
                        ),
                        Some(json!({
                            "tool": tool,
                            "limit": rate.label(),
                            "retry_after_seconds": seconds,
                        })),
                    ),
                )
            })
    }
}

/// The reason of a tool result that is an error: its structured `error`, or its first text.
fn error_text(result: &CallToolResult) -> String {
    if let Some(error) = result
        .structured_content
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(Value::as_str)
    {
        return error.to_owned();
    }
    result
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_default()
}

fn unknown_tool(name: &str, scope: Scope) -> McpError {
    McpError::invalid_params(
        format!("no tool `{name}`"),
        Some(json!({ "tool": name, "scope": scope })),
    )
}
