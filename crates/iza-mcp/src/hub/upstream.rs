//! One upstream MCP server, held by one task ([`run`]): connect (HTTP, or a child process
//! over stdio), detect the generation, list tools, prompts, resources and resource templates,
//! follow `list_changed`, watch
//! for death (the child's exit, a lost stream, a failed health listing), withdraw the tools
//! and reconnect with backoff (0.5 s doubling to 10 s).

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig,
    GetPromptRequestParams, GetPromptResult, Implementation, Prompt, ProtocolVersion,
    ReadResourceRequestParams, ReadResourceResult, Resource, ResourceTemplate, SubscriptionFilter,
    Tool,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt as _, NotificationContext, Peer, RunningService,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient};
use serde_json::Value;
use tokio::io::AsyncBufReadExt as _;
use tokio::process::Child;
use tokio::sync::mpsc;

use super::{
    HubError, HubOptions, Inner, UpstreamSpec, UpstreamState, UpstreamStatus, UpstreamTransport,
    now_ms,
};

/// The first pause before a reconnection; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Calls (and listings) in flight at once to one HTTP upstream, each on its own keep-alive
/// connection; beyond, a call waits for one to end. rmcp's default (16) made the seventeenth
/// concurrent client wait; this is `iza serve`'s default connection cap (`--max-connections`),
/// so the hub is not the narrower door.
const MAX_IN_FLIGHT: usize = 512;

/// What an upstream offers: its tools, prompts, resources and resource templates, under its
/// own names.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Listing {
    pub(crate) tools: Vec<Tool>,
    pub(crate) prompts: Vec<Prompt>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) templates: Vec<ResourceTemplate>,
}

/// What is known of a connected (or lost) upstream.
struct Live {
    state: UpstreamState,
    protocol: Option<String>,
    server: Option<String>,
    listing: Listing,
    peer: Option<Peer<RoleClient>>,
    since_ms: u64,
    reason: Option<String>,
    collisions: Vec<String>,
}

pub(crate) struct Upstream {
    pub(crate) spec: UpstreamSpec,
    live: Mutex<Live>,
    calls: AtomicU64,
    errors: AtomicU64,
    connects: AtomicU64,
}

impl Upstream {
    pub(crate) fn new(spec: UpstreamSpec) -> Upstream {
        Upstream {
            spec,
            live: Mutex::new(Live {
                state: UpstreamState::Connecting,
                protocol: None,
                server: None,
                listing: Listing::default(),
                peer: None,
                since_ms: now_ms(),
                reason: None,
                collisions: Vec::new(),
            }),
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            connects: AtomicU64::new(0),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Live) -> T) -> T {
        match self.live.lock() {
            Ok(mut live) => f(&mut live),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    pub(crate) fn state(&self) -> UpstreamState {
        self.with(|l| l.state)
    }

    pub(crate) fn reason(&self) -> Option<String> {
        self.with(|l| l.reason.clone())
    }

    pub(crate) fn listing(&self) -> Listing {
        self.with(|l| {
            if l.state == UpstreamState::Up {
                l.listing.clone()
            } else {
                Listing::default()
            }
        })
    }

    pub(crate) fn set_collisions(&self, collisions: Vec<String>) {
        self.with(|l| l.collisions = collisions);
    }

    pub(crate) fn status(&self, tools: Vec<String>) -> UpstreamStatus {
        let (transport, target) = match &self.spec.transport {
            UpstreamTransport::Http { url, .. } => ("http", shown_url(url)),
            UpstreamTransport::Stdio { program, .. } => ("stdio", program.clone()),
        };
        self.with(|l| UpstreamStatus {
            name: self.spec.name.clone(),
            transport,
            target,
            state: l.state,
            protocol: l.protocol.clone(),
            server: l.server.clone(),
            tool_count: tools.len(),
            tools,
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            connects: self.connects.load(Ordering::Relaxed),
            since_ms: l.since_ms,
            reason: l.reason.clone(),
            collisions: l.collisions.clone(),
        })
    }

    fn peer(&self) -> Result<Peer<RoleClient>, HubError> {
        self.with(|l| match (&l.peer, l.state) {
            (Some(peer), UpstreamState::Up) => Ok(peer.clone()),
            _ => Err(HubError::Down {
                upstream: self.spec.name.clone(),
                reason: l
                    .reason
                    .clone()
                    .unwrap_or_else(|| "not connected yet".to_owned()),
            }),
        })
    }

    /// Forwards one call under the upstream's timeout.
    pub(crate) async fn call(
        &self,
        params: CallToolRequestParams,
    ) -> Result<CallToolResult, HubError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let tool = params.name.to_string();
        let result = match self.peer() {
            Ok(peer) => match tokio::time::timeout(self.spec.timeout, peer.call_tool(params)).await
            {
                Ok(Ok(result)) => Ok(result),
                Ok(Err(err)) => Err(HubError::Failed {
                    upstream: self.spec.name.clone(),
                    tool,
                    reason: err.to_string(),
                }),
                Err(_) => Err(HubError::Timeout {
                    upstream: self.spec.name.clone(),
                    tool,
                    timeout: self.spec.timeout,
                }),
            },
            Err(err) => Err(err),
        };
        if result.is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    pub(crate) async fn get_prompt(
        &self,
        name: &str,
        arguments: Option<serde_json::Map<String, Value>>,
    ) -> Result<GetPromptResult, HubError> {
        let peer = self.peer()?;
        let mut params = GetPromptRequestParams::new(name.to_owned());
        if let Some(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        match tokio::time::timeout(self.spec.timeout, peer.get_prompt(params)).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(err)) => Err(HubError::Failed {
                upstream: self.spec.name.clone(),
                tool: name.to_owned(),
                reason: err.to_string(),
            }),
            Err(_) => Err(HubError::Timeout {
                upstream: self.spec.name.clone(),
                tool: name.to_owned(),
                timeout: self.spec.timeout,
            }),
        }
    }
}

impl Upstream {
    /// Reads the upstream's resource `uri` (its own URI) under its timeout.
    pub(crate) async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, HubError> {
        let peer = self.peer()?;
        let params = ReadResourceRequestParams::new(uri.to_owned());
        match tokio::time::timeout(self.spec.timeout, peer.read_resource(params)).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(err)) => Err(HubError::Failed {
                upstream: self.spec.name.clone(),
                tool: uri.to_owned(),
                reason: err.to_string(),
            }),
            Err(_) => Err(HubError::Timeout {
                upstream: self.spec.name.clone(),
                tool: uri.to_owned(),
                timeout: self.spec.timeout,
            }),
        }
    }
}

/// A URL as shown: without credentials (`user:password@`) and without its query.
fn shown_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// The hub's client side of one connection: it hears `list_changed` from a session upstream.
#[derive(Clone)]
struct HubClient {
    relist: mpsc::UnboundedSender<()>,
}

impl ClientHandler for HubClient {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.relist.send(());
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.relist.send(());
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.relist.send(());
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("iza-hub", env!("CARGO_PKG_VERSION")),
        )
    }
}

/// One live connection.
struct Connection {
    service: RunningService<RoleClient, HubClient>,
    child: Option<Child>,
}

impl Connection {
    async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.service.close()).await;
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child).await;
        }
    }
}

/// Stops a stdio upstream: its whole process group, then the child itself.
async fn stop_child(child: &mut Child) {
    if let Some(pid) = child.id()
        && let Some(pid) = rustix::process::Pid::from_raw(pid.cast_signed())
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::TERM);
    }
    if tokio::time::timeout(Duration::from_secs(2), child.wait())
        .await
        .is_err()
    {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

async fn connect(
    spec: &UpstreamSpec,
    options: &HubOptions,
    relist: mpsc::UnboundedSender<()>,
) -> Result<Connection, String> {
    let handler = HubClient { relist };
    let lifecycle = ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    };
    match &spec.transport {
        UpstreamTransport::Http { url, headers } => {
            let mut custom = std::collections::HashMap::new();
            for (name, value) in headers {
                let name = http::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("the header name `{name}` is not valid"))?;
                let value = http::HeaderValue::from_str(value)
                    .map_err(|_| format!("the value of the header `{name}` is not valid"))?;
                custom.insert(name, value);
            }
            let config = StreamableHttpClientTransportConfig::with_uri(url.clone())
                .custom_headers(custom)
                .reinit_on_expired_session(true)
                .max_concurrent_requests(MAX_IN_FLIGHT);
            let transport =
                StreamableHttpClientTransport::with_client(options.http.clone(), config);
            let service = tokio::time::timeout(
                spec.timeout,
                handler.serve_with_lifecycle(transport, lifecycle),
            )
            .await
            .map_err(|_| format!("no answer from {url} within {:?}", spec.timeout))?
            .map_err(|err| format!("{url}: {err}"))?;
            Ok(Connection {
                service,
                child: None,
            })
        }
        UpstreamTransport::Stdio {
            program,
            args,
            env,
            cwd,
        } => {
            let mut command = options.launcher.command(program);
            command
                .args(args)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true);
            if let Some(cwd) = cwd {
                command.current_dir(cwd);
            }
            let mut child = options
                .launcher
                .spawn(command)
                .await
                .map_err(|err| format!("cannot start `{program}`: {err}"))?;
            let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
                return Err(format!("`{program}` has no standard streams"));
            };
            if let Some(stderr) = child.stderr.take() {
                let name = spec.name.clone();
                tokio::spawn(async move {
                    let mut lines = tokio::io::BufReader::new(stderr).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        tracing::info!(target: "iza::hub", "[{name}] {line}");
                    }
                });
            }
            match tokio::time::timeout(
                spec.timeout,
                handler.serve_with_lifecycle((stdout, stdin), lifecycle),
            )
            .await
            {
                Ok(Ok(service)) => Ok(Connection {
                    service,
                    child: Some(child),
                }),
                Ok(Err(err)) => {
                    stop_child(&mut child).await;
                    Err(format!("`{program}`: {err}"))
                }
                Err(_) => {
                    stop_child(&mut child).await;
                    Err(format!(
                        "`{program}` did not answer within {:?}",
                        spec.timeout
                    ))
                }
            }
        }
    }
}

/// Lists the upstream's tools, and its prompts, resources and resource templates when it
/// offers them (a failure of those leaves them empty; a failed `tools/list` is a failure).
async fn list(peer: &Peer<RoleClient>, timeout: Duration) -> Result<Listing, String> {
    let capabilities = peer.peer_info().map(|info| info.capabilities.clone());
    let has_prompts = capabilities.as_ref().is_some_and(|c| c.prompts.is_some());
    let has_resources = capabilities.as_ref().is_some_and(|c| c.resources.is_some());
    let tools = tokio::time::timeout(timeout, peer.list_all_tools())
        .await
        .map_err(|_| format!("`tools/list` took more than {timeout:?}"))?
        .map_err(|err| format!("`tools/list` failed: {err}"))?;
    let prompts = if has_prompts {
        tokio::time::timeout(timeout, peer.list_all_prompts())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let (resources, templates) = if has_resources {
        let resources = tokio::time::timeout(timeout, peer.list_all_resources())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let templates = tokio::time::timeout(timeout, peer.list_all_resource_templates())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        (resources, templates)
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Listing {
        tools,
        prompts,
        resources,
        templates,
    })
}

/// Holds upstream `index` of `hub` until IZA stops.
pub(crate) async fn run(
    hub: Arc<Inner>,
    index: usize,
    options: HubOptions,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let up = hub.upstreams[index].clone();
    let mut backoff = FIRST_BACKOFF;
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let (relist_tx, mut relist) = mpsc::unbounded_channel();
        let reason = match connect(&up.spec, &options, relist_tx.clone()).await {
            Err(reason) => reason,
            Ok(mut connection) => {
                up.connects.fetch_add(1, Ordering::Relaxed);
                let peer = connection.service.peer().clone();
                let info = peer.peer_info();
                let protocol = info.as_ref().map(|i| i.protocol_version.to_string());
                let modern = protocol.as_deref() >= Some(ProtocolVersion::V_2026_07_28.as_str());
                let server = info
                    .as_ref()
                    .and_then(|i| i.server_info.as_ref())
                    .map(|s| format!("{} {}", s.name, s.version));
                match list(&peer, up.spec.timeout).await {
                    Err(reason) => {
                        connection.close().await;
                        reason
                    }
                    Ok(listing) => {
                        backoff = FIRST_BACKOFF;
                        tracing::info!(
                            "MCP hub: `{}` is up ({}, {} tools, {} resources)",
                            up.spec.name,
                            protocol.as_deref().unwrap_or("?"),
                            listing.tools.len(),
                            listing.resources.len() + listing.templates.len()
                        );
                        up.with(|l| {
                            l.state = UpstreamState::Up;
                            l.protocol = protocol.clone();
                            l.server = server;
                            l.listing = listing;
                            l.peer = Some(peer.clone());
                            l.since_ms = now_ms();
                            l.reason = None;
                        });
                        hub.changed();
                        // A 2026-07-28 upstream tells of changes on a subscription.
                        let listener = modern.then(|| {
                            let peer = peer.clone();
                            let relist = relist_tx.clone();
                            tokio::spawn(async move {
                                let filter = SubscriptionFilter::builder()
                                    .tools_list_changed()
                                    .resources_list_changed()
                                    .build();
                                let Ok(mut subscription) = peer.listen(filter).await else {
                                    return;
                                };
                                while let Ok(Some(_)) = subscription.next().await {
                                    let _ = relist.send(());
                                }
                            })
                        });
                        let reason =
                            hold(&up, &mut connection, &peer, &mut relist, &hub, &shutdown).await;
                        if let Some(listener) = listener {
                            listener.abort();
                        }
                        connection.close().await;
                        reason
                    }
                }
            }
        };
        if shutdown.is_cancelled() {
            break;
        }
        let was_up = up.with(|l| {
            let was_up = l.state == UpstreamState::Up;
            if l.state != UpstreamState::Down || l.reason.as_deref() != Some(&reason) {
                l.since_ms = now_ms();
            }
            l.state = UpstreamState::Down;
            l.peer = None;
            l.listing = Listing::default();
            l.reason = Some(reason.clone());
            was_up
        });
        if was_up {
            tracing::warn!("MCP hub: `{}` is down: {reason}", up.spec.name);
            hub.changed();
        } else {
            tracing::debug!("MCP hub: `{}` not reached: {reason}", up.spec.name);
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Keeps a connection until it dies or IZA stops; answers why it ended.
async fn hold(
    up: &Upstream,
    connection: &mut Connection,
    peer: &Peer<RoleClient>,
    relist: &mut mpsc::UnboundedReceiver<()>,
    hub: &Arc<Inner>,
    shutdown: &tokio_util::sync::CancellationToken,
) -> String {
    let mut health = tokio::time::interval(up.spec.health_interval);
    health.tick().await;
    loop {
        let exited = async {
            match connection.child.as_mut() {
                Some(child) => child.wait().await.ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return "IZA is stopping".to_owned(),
            status = exited => {
                return match status {
                    Some(status) => format!("the process exited ({status})"),
                    None => "the process exited".to_owned(),
                };
            }
            Some(()) = relist.recv() => {
                while relist.try_recv().is_ok() {}
                match list(peer, up.spec.timeout).await {
                    Ok(listing) => {
                        up.with(|l| l.listing = listing);
                        hub.changed();
                    }
                    Err(reason) => return reason,
                }
            }
            _ = health.tick() => {
                if peer.is_transport_closed() {
                    return "the connection closed".to_owned();
                }
                if connection.child.is_none() {
                    match list(peer, up.spec.timeout).await {
                        Ok(listing) => {
                            let changed = up.with(|l| {
                                let changed = l.listing != listing;
                                l.listing = listing;
                                changed
                            });
                            if changed {
                                hub.changed();
                            }
                        }
                        Err(reason) => return reason,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn shown_urls_carry_no_credentials() {
        assert_eq!(
            shown_url("http://127.0.0.1:8301/mcp"),
            "http://127.0.0.1:8301/mcp"
        );
        assert_eq!(
            shown_url("https://user:secret@mcp.example/mcp?key=abc"),
            "https://mcp.example/mcp"
        );
        assert_eq!(shown_url("http://h:1"), "http://h:1");
    }
}
