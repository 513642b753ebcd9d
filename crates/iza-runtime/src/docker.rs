//! Reads, from a Docker engine, the state of the containers the manifest names
//! (`docker = "name:port"` on a service), so that the interfaces can show it beside the checks.
//! When no engine is reachable (none runs, or the socket is not ours to read), the services
//! are external: only probed, and [`DockerView::engine`] says why.
//!
//! [`DockerWatch`] polls the engine (`GET /containers/json?all=1`) every few seconds and keeps
//! the latest [`DockerView`]; readers take it without waiting. This module owns reading
//! container state; it never starts or stops a container and never decides a status (the
//! checks do).

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use bollard::Docker;
use bollard::models::ContainerSummary;
use bollard::query_parameters::ListContainersOptions;
use iza_catalog::Catalog;
use iza_store::Millis;
use serde::Serialize;

/// Where and how often to ask.
#[derive(Debug, Clone)]
pub struct DockerOptions {
    /// The engine's socket: `unix:///path` or a path. `None`: `DOCKER_HOST` when it names a
    /// unix socket, else `/var/run/docker.sock`.
    pub host: Option<String>,
    /// Time between two readings (5 s).
    pub every: Duration,
    /// How long one request may take (5 s).
    pub timeout: Duration,
}

impl Default for DockerOptions {
    fn default() -> DockerOptions {
        DockerOptions {
            host: None,
            every: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Whether a Docker engine answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Engine {
    /// Not asked yet, or no service names a container (then no engine is ever asked).
    Unused,
    /// It answered: its version.
    Connected {
        /// The engine's version, e.g. `28.2.2`.
        version: String,
    },
    /// It did not: services with a Docker reference are external, only probed.
    Unreachable {
        /// Why, for a person.
        reason: String,
    },
}

/// The state of one service's container, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerState {
    /// The container's name (without Docker's leading `/`).
    pub name: String,
    /// `running`, `exited`, `restarting`, `paused`, `created`, `dead`...
    pub state: String,
    /// Docker's own words, e.g. `Up 3 hours (healthy)`.
    pub status: Option<String>,
    /// The image it runs.
    pub image: Option<String>,
    /// The container's own health check verdict, when it has one: `healthy`, `unhealthy`,
    /// `starting`.
    pub health: Option<String>,
}

/// What is known about the containers of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DockerView {
    /// The engine.
    pub engine: Engine,
    /// When it was last asked (Unix milliseconds; 0 before).
    pub at: Millis,
    /// Per service with a Docker reference: its container, or `None` when the engine has no
    /// container by that reference.
    pub containers: BTreeMap<String, Option<ContainerState>>,
}

impl DockerView {
    fn unused() -> DockerView {
        DockerView {
            engine: Engine::Unused,
            at: 0,
            containers: BTreeMap::new(),
        }
    }

    /// The container of a service, when the engine answered and has it.
    pub fn container(&self, service: &str) -> Option<&ContainerState> {
        self.containers.get(service).and_then(Option::as_ref)
    }
}

/// Polls the engine in a task of its own; dropping it stops the task.
#[derive(Debug)]
pub struct DockerWatch {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    view: RwLock<Arc<DockerView>>,
    /// Service id → Docker reference, replaced on reload.
    references: RwLock<BTreeMap<String, String>>,
}

impl DockerWatch {
    /// Starts watching the containers the catalog names. Needs a Tokio runtime.
    pub fn start(catalog: &Catalog, options: DockerOptions) -> DockerWatch {
        let shared = Arc::new(Shared {
            view: RwLock::new(Arc::new(DockerView::unused())),
            references: RwLock::new(references(catalog)),
        });
        let task = tokio::spawn(watch(shared.clone(), options));
        DockerWatch { shared, task }
    }

    /// The latest reading.
    pub fn view(&self) -> Arc<DockerView> {
        self.shared
            .view
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Follows a reloaded manifest (the next reading uses its references).
    pub fn set_catalog(&self, catalog: &Catalog) {
        *self
            .shared
            .references
            .write()
            .unwrap_or_else(PoisonError::into_inner) = references(catalog);
    }
}

impl Drop for DockerWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn references(catalog: &Catalog) -> BTreeMap<String, String> {
    catalog
        .services
        .values()
        .filter_map(|s| Some((s.id.clone(), s.docker.clone()?)))
        .collect()
}

async fn watch(shared: Arc<Shared>, options: DockerOptions) {
    let mut docker: Option<Docker> = None;
    let mut ticks = tokio::time::interval(options.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let references = shared
            .references
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let view = if references.is_empty() {
            DockerView::unused()
        } else {
            match read(&mut docker, &options, &references).await {
                Ok(view) => view,
                Err(reason) => {
                    // Connect afresh next time: the engine may have been restarted.
                    docker = None;
                    DockerView {
                        engine: Engine::Unreachable { reason },
                        at: crate::now_millis(),
                        containers: references.keys().map(|id| (id.clone(), None)).collect(),
                    }
                }
            }
        };
        let changed = {
            let current = shared.view.read().unwrap_or_else(PoisonError::into_inner);
            current.engine != view.engine || current.containers != view.containers
        };
        if changed {
            tracing::info!(engine = ?view.engine, "docker: containers read");
        }
        *shared.view.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(view);
    }
}

/// One reading: connects when needed, lists every container, matches the references.
async fn read(
    docker: &mut Option<Docker>,
    options: &DockerOptions,
    references: &BTreeMap<String, String>,
) -> Result<DockerView, String> {
    let client = match docker {
        Some(client) => client.clone(),
        None => {
            let client = connect(options)?;
            let client = tokio::time::timeout(options.timeout, client.negotiate_version())
                .await
                .map_err(|_| "the engine did not answer in time".to_owned())?
                .map_err(|err| reason(&err))?;
            docker.insert(client).clone()
        }
    };
    let version = tokio::time::timeout(options.timeout, client.version())
        .await
        .map_err(|_| "the engine did not answer in time".to_owned())?
        .map_err(|err| reason(&err))?
        .version
        .unwrap_or_default();
    let list = ListContainersOptions {
        all: true,
        ..ListContainersOptions::default()
    };
    let containers = tokio::time::timeout(options.timeout, client.list_containers(Some(list)))
        .await
        .map_err(|_| "the engine did not answer in time".to_owned())?
        .map_err(|err| reason(&err))?;
    Ok(DockerView {
        engine: Engine::Connected { version },
        at: crate::now_millis(),
        containers: references
            .iter()
            .map(|(id, reference)| (id.clone(), find(&containers, reference)))
            .collect(),
    })
}

fn connect(options: &DockerOptions) -> Result<Docker, String> {
    let timeout = options.timeout.as_secs().max(1);
    let result = match &options.host {
        Some(host) => Docker::connect_with_unix(host, timeout, bollard::API_DEFAULT_VERSION),
        None => Docker::connect_with_unix_defaults(),
    };
    result.map_err(|err| reason(&err))
}

/// The innermost cause: "No such file or directory (os error 2)" rather than bollard's
/// wrapping.
fn reason(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The container a reference names. A reference is `name[:port]`: it matches a container of
/// that name, or else of that Compose service; failing both, a container running that image
/// (`image:tag` is also how references are written).
fn find(containers: &[ContainerSummary], reference: &str) -> Option<ContainerState> {
    let name = reference.split(':').next().unwrap_or(reference);
    let by_name = |c: &&ContainerSummary| {
        c.names
            .iter()
            .flatten()
            .any(|n| n.trim_start_matches('/') == name)
    };
    let by_service = |c: &&ContainerSummary| {
        c.labels
            .as_ref()
            .and_then(|l| l.get("com.docker.compose.service"))
            .is_some_and(|s| s == name)
    };
    let by_image = |c: &&ContainerSummary| c.image.as_deref() == Some(reference);
    let found = containers
        .iter()
        .find(by_name)
        .or_else(|| containers.iter().find(by_service))
        .or_else(|| containers.iter().find(by_image))?;
    Some(ContainerState {
        name: found
            .names
            .iter()
            .flatten()
            .next()
            .map_or_else(|| name.to_owned(), |n| n.trim_start_matches('/').to_owned()),
        state: found
            .state
            .map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
        status: found.status.clone(),
        image: found.image.clone(),
        health: found
            .health
            .as_ref()
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty() && s != "none"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(name: &str, service: Option<&str>, image: &str, state: &str) -> ContainerSummary {
        serde_json::from_value(serde_json::json!({
            "Id": "0123",
            "Names": [format!("/{name}")],
            "Image": image,
            "State": state,
            "Status": "Up 3 minutes",
            "Labels": service.map(|s| serde_json::json!({ "com.docker.compose.service": s }))
                .unwrap_or(serde_json::json!({})),
        }))
        .unwrap()
    }

    #[test]
    fn a_reference_finds_its_container_by_name_then_compose_service_then_image() {
        let containers = [
            summary("stack-api-1", Some("api"), "api:1.2", "running"),
            summary("dashboard", None, "nginx:1.27", "exited"),
            summary("cache", None, "redis:7", "running"),
        ];
        let cases = [
            ("dashboard:3000", Some(("dashboard", "exited"))),
            ("api:8080", Some(("stack-api-1", "running"))),
            ("redis:7", Some(("cache", "running"))),
            ("ghost:1", None),
        ];
        for (reference, expected) in cases {
            let found = find(&containers, reference);
            assert_eq!(
                found.as_ref().map(|c| (c.name.as_str(), c.state.as_str())),
                expected,
                "{reference}"
            );
        }
    }
}
