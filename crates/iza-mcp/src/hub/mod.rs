//! The MCP hub: the ecosystem's own MCP servers (the manifest's `[services.X.mcp]`), federated
//! behind IZA's endpoint. Each upstream is held by one task (`upstream.rs`) that connects to it
//! (streamable HTTP, or a child process over stdio started through `iza-launch` so that it
//! dies with IZA), detects its protocol generation (`server/discover`, falling back to
//! `initialize`: rmcp's `ClientLifecycleMode::Auto`), lists its tools and prompts, follows
//! its `notifications/tools/list_changed` (a session upstream's notification, or a
//! 2026-07-28 upstream's `subscriptions/listen` stream), and reconnects with backoff when it
//! goes away. The hub lists their tools as `server__tool` (`names.rs`) and their resources
//! (and resource templates) as `iza-hub://server/<uri>` ([`resource_uri`]), forwards calls and reads with
//! the upstream's timeout, and tells every connected downstream client when the federated
//! listing changes, in the client's own generation: `notifications/tools/list_changed` to a
//! session client, the same notification on a 2026-07-28 client's subscription.
//!
//! It reads no manifest: the host builds the [`UpstreamSpec`]s (`iza-server`'s `hub.rs`).

mod names;
mod upstream;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iza_launch::Launcher;
use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, Prompt, ReadResourceResult, Resource, ResourceContents,
    ResourceTemplate, Tool,
};
use rmcp::service::{Peer, SubscriptionSink};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use names::{SEPARATOR, glob, namespaced};

use crate::scope::Scope;

/// How the hub reaches an upstream.
#[derive(Debug, Clone)]
pub enum UpstreamTransport {
    /// Streamable HTTP at this URL, with these request headers (credentials already resolved
    /// from the environment: they are never shown).
    Http {
        /// The endpoint (`http://127.0.0.1:8301/mcp`).
        url: String,
        /// Extra headers (`Authorization`).
        headers: Vec<(String, String)>,
    },
    /// A child process speaking MCP on its stdin and stdout.
    Stdio {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
        /// Its extra environment (resolved; never shown).
        env: Vec<(String, String)>,
        /// Its working directory.
        cwd: Option<PathBuf>,
    },
}

/// One upstream MCP server.
#[derive(Debug, Clone)]
pub struct UpstreamSpec {
    /// Its name, the namespace of its tools (the service id).
    pub name: String,
    /// How it is reached.
    pub transport: UpstreamTransport,
    /// How long a call (and a listing) may take.
    pub timeout: Duration,
    /// How often an HTTP upstream is asked whether it still answers (a `tools/list`).
    pub health_interval: Duration,
    /// Globs of the tools shown (empty: all).
    pub allow: Vec<String>,
    /// Globs of the tools hidden.
    pub deny: Vec<String>,
    /// Per-tool rate limits: a glob of the upstream's own tool names and its rate (the
    /// first matching rule counts; each tool has its own bucket).
    pub rate_limits: Vec<(String, crate::audit::ToolRate)>,
}

/// Where an upstream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamState {
    /// Not connected yet.
    Connecting,
    /// Connected; its tools are listed.
    Up,
    /// Unreachable or dead; its tools are withdrawn until it returns.
    Down,
}

/// An upstream as the API and the dashboard show it (no credentials, no environment).
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamStatus {
    /// Its name (the service id; the namespace of its tools).
    pub name: String,
    /// `http` or `stdio`.
    pub transport: &'static str,
    /// The URL, or the program.
    pub target: String,
    /// Where it stands.
    pub state: UpstreamState,
    /// The protocol revision spoken (`2026-07-28`, or the session revision `initialize`
    /// agreed).
    pub protocol: Option<String>,
    /// The server's name and version, as it said.
    pub server: Option<String>,
    /// Its tools, as the hub lists them (namespaced).
    pub tools: Vec<String>,
    /// How many tools are listed.
    pub tool_count: usize,
    /// Calls forwarded to it.
    pub calls: u64,
    /// Of those, calls that failed (a timeout, a lost connection, a JSON-RPC error).
    pub errors: u64,
    /// How many times it was (re)connected.
    pub connects: u64,
    /// Since when it is in its state (milliseconds since the Unix epoch).
    pub since_ms: u64,
    /// Why it is down.
    pub reason: Option<String>,
    /// Tool names it offers that another upstream's tool already took.
    pub collisions: Vec<String>,
}

/// Why a federated call failed before the upstream answered.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// No tool of that name, and no upstream of that namespace.
    #[error("no tool `{0}`")]
    UnknownTool(String),
    /// The upstream exists and is down.
    #[error("the MCP server `{upstream}` is down ({reason}); its tools come back when it does")]
    Down {
        /// The upstream.
        upstream: String,
        /// Why.
        reason: String,
    },
    /// The upstream did not answer in time.
    #[error("the MCP server `{upstream}` did not answer `{tool}` within {timeout:?}")]
    Timeout {
        /// The upstream.
        upstream: String,
        /// The upstream's own tool name.
        tool: String,
        /// The limit.
        timeout: Duration,
    },
    /// The upstream answered with a JSON-RPC error, or the connection broke.
    #[error("the MCP server `{upstream}` failed `{tool}`: {reason}")]
    Failed {
        /// The upstream.
        upstream: String,
        /// The upstream's own tool name.
        tool: String,
        /// Why.
        reason: String,
    },
}

/// One federated tool: its namespaced listing, where it goes, the scope it needs.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) tool: Tool,
    pub(crate) upstream: usize,
    pub(crate) original: String,
    pub(crate) scope: Scope,
}

/// The connected downstream clients to tell about a change of the listing.
#[derive(Default)]
struct Listeners {
    /// Session clients (2025-11-25 and before).
    peers: Mutex<Vec<Peer<RoleServer>>>,
    /// 2026-07-28 clients' `subscriptions/listen` streams.
    sinks: Mutex<Vec<SubscriptionSink>>,
}

pub(crate) struct Inner {
    upstreams: Vec<Arc<upstream::Upstream>>,
    /// The federated tools, rebuilt at each change.
    routes: RwLock<Arc<Vec<Route>>>,
    prompts: RwLock<Arc<Vec<(Prompt, usize, String)>>>,
    /// The federated resources and resource templates (namespaced), rebuilt at each change.
    resources: RwLock<Arc<(Vec<Resource>, Vec<ResourceTemplate>)>>,
    listeners: Listeners,
    shutdown: CancellationToken,
    /// Bumped at each change of the listing (tests and the dashboard follow it).
    generation: AtomicU64,
    /// The upstreams' tasks.
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// The hub. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("upstreams", &self.inner.upstreams.len())
            .finish()
    }
}

/// What the hub needs from its host.
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// Starts stdio upstreams (guarded: they die with IZA).
    pub launcher: Launcher,
    /// The HTTP client of HTTP upstreams (its TLS settings are the host's).
    pub http: reqwest::Client,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Hub {
    /// A hub of no upstream (IZA without MCP servers in its manifest).
    pub fn empty() -> Hub {
        Hub {
            inner: Arc::new(Inner {
                upstreams: Vec::new(),
                routes: RwLock::default(),
                prompts: RwLock::default(),
                resources: RwLock::default(),
                listeners: Listeners::default(),
                shutdown: CancellationToken::new(),
                generation: AtomicU64::new(0),
                tasks: Mutex::default(),
            }),
        }
    }

    /// Starts one task per upstream (within a Tokio runtime).
    pub fn start(specs: Vec<UpstreamSpec>, options: HubOptions) -> Hub {
        let shutdown = CancellationToken::new();
        let upstreams = specs
            .into_iter()
            .map(|spec| Arc::new(upstream::Upstream::new(spec)))
            .collect();
        let inner = Arc::new(Inner {
            upstreams,
            routes: RwLock::default(),
            prompts: RwLock::default(),
            resources: RwLock::default(),
            listeners: Listeners::default(),
            shutdown: shutdown.clone(),
            generation: AtomicU64::new(0),
            tasks: Mutex::default(),
        });
        let tasks = (0..inner.upstreams.len())
            .map(|index| {
                tokio::spawn(upstream::run(
                    inner.clone(),
                    index,
                    options.clone(),
                    shutdown.clone(),
                ))
            })
            .collect();
        if let Ok(mut slot) = inner.tasks.lock() {
            *slot = tasks;
        }
        Hub { inner }
    }

    /// Closes every upstream connection and stops every stdio upstream (its whole process
    /// group), waiting at most 5 s.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        let tasks: Vec<_> = self
            .inner
            .tasks
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::future::join_all(tasks),
        )
        .await;
    }

    /// Whether the hub federates nothing.
    pub fn is_empty(&self) -> bool {
        self.inner.upstreams.is_empty()
    }

    /// The upstreams, in the manifest's order.
    pub fn status(&self) -> Vec<UpstreamStatus> {
        let routes = self.routes();
        self.inner
            .upstreams
            .iter()
            .enumerate()
            .map(|(index, up)| {
                let tools: Vec<String> = routes
                    .iter()
                    .filter(|r| r.upstream == index)
                    .map(|r| r.tool.name.to_string())
                    .collect();
                up.status(tools)
            })
            .collect()
    }

    /// A counter bumped at each change of the federated listing.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    pub(crate) fn routes(&self) -> Arc<Vec<Route>> {
        self.inner
            .routes
            .read()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub(crate) fn prompts(&self) -> Arc<Vec<(Prompt, usize, String)>> {
        self.inner
            .prompts
            .read()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// The federated resources and resource templates, namespaced ([`resource_uri`]).
    pub(crate) fn resources(&self) -> Arc<(Vec<Resource>, Vec<ResourceTemplate>)> {
        self.inner
            .resources
            .read()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Reads a federated resource: `uri` is namespaced (`iza-hub://SERVER/ORIGINAL`); the
    /// answer's URIs are namespaced too. `None` when `uri` is not in the hub's namespace.
    pub(crate) async fn read_resource(
        &self,
        uri: &str,
    ) -> Option<Result<ReadResourceResult, HubError>> {
        let (server, original) = uri.strip_prefix(RESOURCE_SCHEME)?.split_once('/')?;
        let up = self
            .inner
            .upstreams
            .iter()
            .find(|u| names::clean(&u.spec.name) == server)?;
        Some(up.read_resource(original).await.map(|mut result| {
            for contents in &mut result.contents {
                match contents {
                    ResourceContents::TextResourceContents { uri, .. }
                    | ResourceContents::BlobResourceContents { uri, .. } => {
                        *uri = resource_uri(&up.spec.name, uri);
                    }
                    // A kind of contents this rmcp does not know: left as it is.
                    _ => {}
                }
            }
            result
        }))
    }

    /// The federated tool `name`, if listed.
    pub(crate) fn route(&self, name: &str) -> Option<Route> {
        self.routes().iter().find(|r| r.tool.name == name).cloned()
    }

    /// The upstream whose namespace `name` is in (listed or not).
    pub(crate) fn upstream_name(&self, name: &str) -> Option<String> {
        self.upstream_of(name).map(|up| up.spec.name.clone())
    }

    /// The rate limit of the federated tool `name`, from its upstream's `rate_limits`.
    pub(crate) fn rate_of(&self, name: &str) -> Option<crate::audit::ToolRate> {
        let route = self.route(name)?;
        self.inner.upstreams[route.upstream]
            .spec
            .rate_limits
            .iter()
            .find(|(pattern, _)| glob(pattern, &route.original))
            .map(|(_, rate)| *rate)
    }

    /// Whether `name` is in the namespace of an upstream (listed or not).
    fn upstream_of(&self, name: &str) -> Option<&Arc<upstream::Upstream>> {
        let (server, _) = name.split_once(SEPARATOR)?;
        self.inner
            .upstreams
            .iter()
            .find(|u| names::clean(&u.spec.name) == server)
    }

    /// Forwards a call of the federated tool `name`.
    pub async fn call(
        &self,
        name: &str,
        arguments: Option<serde_json::Map<String, Value>>,
    ) -> Result<CallToolResult, HubError> {
        let Some(route) = self.route(name) else {
            return Err(match self.upstream_of(name) {
                Some(up) if up.state() != UpstreamState::Up => HubError::Down {
                    upstream: up.spec.name.clone(),
                    reason: up
                        .reason()
                        .unwrap_or_else(|| "not connected yet".to_owned()),
                },
                _ => HubError::UnknownTool(name.to_owned()),
            });
        };
        let up = &self.inner.upstreams[route.upstream];
        let mut params = CallToolRequestParams::new(route.original.clone());
        if let Some(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        up.call(params).await
    }

    /// Gets the federated prompt `name`.
    pub(crate) async fn get_prompt(
        &self,
        name: &str,
        arguments: Option<serde_json::Map<String, Value>>,
    ) -> Option<Result<rmcp::model::GetPromptResult, HubError>> {
        let prompts = self.prompts();
        let (_, index, original) = prompts.iter().find(|(p, _, _)| p.name == name)?;
        Some(
            self.inner.upstreams[*index]
                .get_prompt(original, arguments)
                .await,
        )
    }

    /// Remembers a session client, to tell it when the listing changes.
    pub(crate) fn add_peer(&self, peer: Peer<RoleServer>) {
        if let Ok(mut peers) = self.inner.listeners.peers.lock() {
            peers.retain(|p| !p.is_transport_closed());
            peers.push(peer);
        }
    }

    /// Follows a 2026-07-28 client's subscription until it ends.
    pub(crate) fn add_sink(&self, sink: SubscriptionSink) {
        if let Ok(mut sinks) = self.inner.listeners.sinks.lock() {
            sinks.push(sink);
        }
    }

    pub(crate) fn remove_sink(&self, sink: &SubscriptionSink) {
        if let Ok(mut sinks) = self.inner.listeners.sinks.lock() {
            sinks.retain(|s| s.id() != sink.id());
        }
    }
}

/// The scheme of federated resource URIs: `iza-hub://SERVER/ORIGINAL` is the resource (or
/// template) `ORIGINAL` of the upstream `SERVER`.
pub const RESOURCE_SCHEME: &str = "iza-hub://";

/// The namespaced URI (or URI template) of an upstream's resource.
pub fn resource_uri(server: &str, original: &str) -> String {
    format!("{RESOURCE_SCHEME}{}/{original}", names::clean(server))
}

impl Inner {
    /// Rebuilds the federated listing from every upstream's tools, prompts and resources, then
    /// tells every connected client.
    pub(crate) fn changed(self: &Arc<Self>) {
        let mut taken = HashSet::new();
        let mut routes = Vec::new();
        let mut prompts = Vec::new();
        let (mut resources, mut templates) = (Vec::new(), Vec::new());
        for (index, up) in self.upstreams.iter().enumerate() {
            let listing = up.listing();
            let (tools, upstream_prompts) = (listing.tools, listing.prompts);
            for mut resource in listing.resources {
                resource.uri = resource_uri(&up.spec.name, &resource.uri);
                resource.name = namespaced(&up.spec.name, &resource.name);
                resources.push(resource);
            }
            for mut template in listing.templates {
                template.uri_template = resource_uri(&up.spec.name, &template.uri_template);
                template.name = namespaced(&up.spec.name, &template.name);
                templates.push(template);
            }
            let mut collisions = Vec::new();
            for tool in tools {
                if !names::visible(&up.spec.allow, &up.spec.deny, &tool.name) {
                    continue;
                }
                let name = namespaced(&up.spec.name, &tool.name);
                if !taken.insert(name.clone()) {
                    tracing::warn!(
                        "MCP hub: the tool `{}` of `{}` is listed as `{name}`, which another upstream's tool already took; it is left out",
                        tool.name,
                        up.spec.name
                    );
                    collisions.push(name);
                    continue;
                }
                let read_only = tool
                    .annotations
                    .as_ref()
                    .and_then(|a| a.read_only_hint)
                    .unwrap_or(false);
                let original = tool.name.to_string();
                let mut listed = tool;
                listed.name = name.into();
                listed.title = Some(listed.title.clone().unwrap_or_else(|| original.clone()));
                listed.description = Some(
                    format!(
                        "[{} via the IZA hub] {}",
                        up.spec.name,
                        listed.description.as_deref().unwrap_or_default()
                    )
                    .into(),
                );
                routes.push(Route {
                    tool: listed,
                    upstream: index,
                    original,
                    scope: if read_only {
                        Scope::Read
                    } else {
                        Scope::Operate
                    },
                });
            }
            for prompt in upstream_prompts {
                let name = namespaced(&up.spec.name, &prompt.name);
                if taken.insert(name.clone()) {
                    let original = prompt.name.clone();
                    let mut listed = prompt;
                    listed.name = name;
                    prompts.push((listed, index, original));
                }
            }
            up.set_collisions(collisions);
        }
        if let Ok(mut slot) = self.routes.write() {
            *slot = Arc::new(routes);
        }
        if let Ok(mut slot) = self.prompts.write() {
            *slot = Arc::new(prompts);
        }
        if let Ok(mut slot) = self.resources.write() {
            *slot = Arc::new((resources, templates));
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.notify();
    }

    /// Tells every connected client that the tool listing changed, in its generation.
    fn notify(&self) {
        let peers: Vec<Peer<RoleServer>> = match self.listeners.peers.lock() {
            Ok(mut peers) => {
                peers.retain(|p| !p.is_transport_closed());
                peers.clone()
            }
            Err(_) => Vec::new(),
        };
        let sinks: Vec<SubscriptionSink> = self
            .listeners
            .sinks
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        if peers.is_empty() && sinks.is_empty() {
            return;
        }
        tokio::spawn(async move {
            for peer in peers {
                let _ = peer.notify_tool_list_changed().await;
                let _ = peer.notify_prompt_list_changed().await;
                let _ = peer.notify_resource_list_changed().await;
            }
            for sink in sinks {
                let _ = sink.notify_tool_list_changed().await;
                let _ = sink.notify_resource_list_changed().await;
            }
        });
    }
}

/// The structured error of a failed federated call, as a tool result.
pub(crate) fn error_result(err: &HubError) -> CallToolResult {
    let (upstream, kind) = match err {
        HubError::UnknownTool(_) => (None, "unknown_tool"),
        HubError::Down { upstream, .. } => (Some(upstream), "upstream_down"),
        HubError::Timeout { upstream, .. } => (Some(upstream), "upstream_timeout"),
        HubError::Failed { upstream, .. } => (Some(upstream), "upstream_failed"),
    };
    CallToolResult::structured_error(json!({
        "error": err.to_string(),
        "kind": kind,
        "upstream": upstream,
    }))
}
