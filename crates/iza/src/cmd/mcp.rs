//! `iza mcp [PATH]`: IZA as an MCP server over stdio (the tools and resources are
//! `iza-mcp`'s). Each tool is an API call ([`iza_mcp::Backend`]); this module answers them:
//! over HTTP from the running `iza serve`/`iza up` of the manifest when there is one
//! ([`Remote`], every tool), otherwise from the manifest and its state database, read-only
//! ([`Offline`]: the same document builders the server uses; what needs live state or acts
//! says it needs a server). Nothing but the protocol goes to stdout.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures_util::future::BoxFuture;
use iza_catalog::Catalog;
use iza_catalog::export::ports::PortMap;
use iza_catalog::graph::EcosystemGraph;
use iza_mcp::{Answer, Backend, BackendError, Scope, Verb};
use iza_store::{EventQuery, IncidentQuery, RunQuery, RunState, SqliteStore, Store};
use serde_json::{Value, json};

use crate::cli::{McpArgs, McpScope};
use crate::client::ApiClient;
use crate::remote::{self, NoServer};

/// The API of the running server, over HTTP with the manifest's token.
struct Remote {
    client: Arc<ApiClient>,
}

impl Backend for Remote {
    fn call(
        &self,
        verb: Verb,
        path: String,
        body: Option<Value>,
    ) -> BoxFuture<'static, Result<Answer, BackendError>> {
        let client = self.client.clone();
        Box::pin(async move {
            let method = match verb {
                Verb::Get => reqwest::Method::GET,
                Verb::Post => reqwest::Method::POST,
            };
            let (status, content_type, bytes) = client
                .raw(method, &path, body.as_ref())
                .await
                .map_err(|err| BackendError::Unreachable(err.to_string()))?;
            let body = if bytes.is_empty() {
                Value::Null
            } else if content_type.starts_with("application/json") {
                serde_json::from_slice(&bytes)
                    .map_err(|err| BackendError::Unreachable(err.to_string()))?
            } else {
                Value::String(String::from_utf8_lossy(&bytes).into_owned())
            };
            Ok(Answer { status, body })
        })
    }
}

/// The manifest and, when it exists, the state database: what can be answered without a
/// server.
struct Offline {
    catalog: Arc<Catalog>,
    graph: Arc<EcosystemGraph>,
    ports: Arc<PortMap>,
    store: Option<Arc<dyn Store>>,
}

impl Backend for Offline {
    fn call(
        &self,
        verb: Verb,
        path: String,
        _body: Option<Value>,
    ) -> BoxFuture<'static, Result<Answer, BackendError>> {
        let (catalog, graph, ports, store) = (
            self.catalog.clone(),
            self.graph.clone(),
            self.ports.clone(),
            self.store.clone(),
        );
        Box::pin(async move {
            let (route, query) = path.split_once('?').unwrap_or((path.as_str(), ""));
            let query = parse_query(query);
            let needs_server = || BackendError::NeedsServer {
                what: format!("`{path}`"),
            };
            if verb == Verb::Post {
                return Err(needs_server());
            }
            let Some(route) = route.strip_prefix("/api/v1") else {
                return Err(needs_server());
            };
            let body = match route {
                "/manifest" => iza_server::analysis::manifest_document(&catalog),
                "/ports" => serde_json::to_value(&*ports).unwrap_or_default(),
                "/report" => {
                    let facts = match &store {
                        Some(store) => Some(
                            super::report::facts_from_store(&catalog, store.as_ref())
                                .await
                                .map_err(store_error)?,
                        ),
                        None => None,
                    };
                    Value::String(iza_server::analysis::report_text(&catalog, facts.as_ref()))
                }
                "/agents" => {
                    let open = match &store {
                        Some(store) => store
                            .incidents(&IncidentQuery {
                                open_only: true,
                                task: None,
                                before: None,
                                limit: 500,
                            })
                            .await
                            .map_err(store_error)?,
                        None => Vec::new(),
                    };
                    iza_server::agents::agents_document(&catalog, &open)
                }
                "/tasks" => {
                    let stats = match &store {
                        Some(store) => store
                            .task_stats(iza_runtime::now_millis() - 24 * 3_600_000)
                            .await
                            .map_err(store_error)?,
                        None => Vec::new(),
                    };
                    iza_server::agents::tasks_document(&catalog, &stats, None)
                }
                "/runs" => {
                    let Some(store) = &store else {
                        return Err(needs_server());
                    };
                    let states = query
                        .get("state")
                        .map(|list| {
                            list.split(',')
                                .filter_map(|w| {
                                    serde_json::from_value::<RunState>(json!(w.trim())).ok()
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let runs = store
                        .runs(&RunQuery {
                            task: query.get("task").cloned(),
                            agent: query.get("agent").cloned(),
                            states,
                            before: None,
                            limit: number(&query, "limit", 100),
                        })
                        .await
                        .map_err(store_error)?;
                    json!({ "runs": runs })
                }
                "/incidents" => {
                    let Some(store) = &store else {
                        return Err(needs_server());
                    };
                    let incidents = store
                        .incidents(&IncidentQuery {
                            open_only: query.get("open").is_some_and(|o| o == "true"),
                            task: query.get("task").cloned(),
                            before: None,
                            limit: number(&query, "limit", 100),
                        })
                        .await
                        .map_err(store_error)?;
                    json!({ "incidents": incidents })
                }
                "/events" => {
                    let Some(store) = &store else {
                        return Err(needs_server());
                    };
                    let events = store
                        .events(&EventQuery {
                            before: query.get("before").and_then(|b| b.parse().ok()),
                            after: None,
                            service: query.get("service").cloned(),
                            kinds: query
                                .get("kind")
                                .map(|k| k.split(',').map(str::to_owned).collect())
                                .unwrap_or_default(),
                            limit: number(&query, "limit", 100),
                        })
                        .await
                        .map_err(store_error)?;
                    json!({ "events": events })
                }
                other => match other
                    .strip_prefix("/services/")
                    .and_then(|rest| rest.strip_suffix("/impact"))
                {
                    Some(id) => {
                        let id = percent_decode(id);
                        let none = |_: &str| None;
                        match iza_server::analysis::impact_document(&catalog, &graph, &id, &none) {
                            Some(doc) => doc,
                            None => {
                                return Ok(Answer {
                                    status: 404,
                                    body: json!({ "error": {
                                        "code": "unknown-service",
                                        "message": format!("no service has the id `{id}`"),
                                    }}),
                                });
                            }
                        }
                    }
                    None => return Err(needs_server()),
                },
            };
            let mut body = body;
            iza_catalog::redact::Secrets::of(&catalog).scrub_json(&mut body);
            Ok(Answer { status: 200, body })
        })
    }
}

fn store_error(err: iza_store::StoreError) -> BackendError {
    BackendError::Unreachable(format!("the state database: {err}"))
}

fn number(query: &HashMap<String, String>, key: &str, default: usize) -> usize {
    query
        .get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .clamp(1, 1000)
}

fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn run(args: &McpArgs) -> Result<ExitCode> {
    let scope = match args.scope {
        McpScope::Read => Scope::Read,
        McpScope::Operate => Scope::Operate,
        McpScope::Admin => Scope::Admin,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let backend: Arc<dyn Backend> = match remote::connect(&args.remote) {
        Ok(client) => {
            eprintln!(
                "iza mcp: serving MCP on stdio for the server at `{}`",
                client.base()
            );
            Arc::new(Remote {
                client: Arc::new(client),
            })
        }
        Err(err) if err.is::<NoServer>() => {
            let (source, catalog) = crate::manifest_input::catalog(&args.remote.manifest)?;
            let raw = iza_catalog::parse_raw(&source)
                .map_err(|_| anyhow::anyhow!("`{}` cannot be parsed", source.name()))?;
            let ports = PortMap::from_manifest(&raw);
            let db = crate::manifest_input::state_db(&source.path);
            let store: Option<Arc<dyn Store>> = if db.is_file() {
                let store = runtime.block_on(SqliteStore::open(&db)).with_context(|| {
                    format!("cannot read the state database `{}`", db.display())
                })?;
                Some(Arc::new(store))
            } else {
                None
            };
            eprintln!(
                "iza mcp: no `iza up` or `iza serve` runs for this manifest: serving MCP on \
                 stdio from the manifest{} (read-only; live status and actions need a server)",
                if store.is_some() {
                    " and its state database"
                } else {
                    ""
                }
            );
            let graph = EcosystemGraph::build(&catalog);
            Arc::new(Offline {
                catalog: Arc::new(catalog),
                graph: Arc::new(graph),
                ports: Arc::new(ports),
                store,
            })
        }
        Err(err) => return Err(err),
    };
    runtime.block_on(iza_mcp::serve_stdio(backend, scope))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded() {
        let q = parse_query("task=a%2Fb&limit=5&x");
        assert_eq!(q.get("task").map(String::as_str), Some("a/b"));
        assert_eq!(number(&q, "limit", 100), 5);
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
