//! `iza serve`: loads and checks the manifest, opens the store (SQLite, or PostgreSQL with
//! `--store postgres://...` or the manifest's `[store] url`), starts the prober, the
//! monitor and the agents engine (the tasks' runs, `docs/agents.md`), and serves the HTTP API (`iza-server`) until Ctrl-C or SIGTERM. `iza up` is the
//! same machinery with the supervisor added (`cmd/up.rs`). Reloads the manifest
//! on SIGHUP and when the file changes (polled every second), and maintains the store once a
//! minute. Logs go to stderr (`IZA_LOG`, default `info`).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use iza_catalog::export::ports::PortMap;
use iza_catalog::{Catalog, SourceFile};
use iza_probe::{Prober, ProberOptions};
use iza_runtime::agents::{Agents, AgentsOptions, worker_id};
use iza_runtime::alerts::{Alerts, AlertsOptions, LinkKey};
use iza_runtime::cluster::leases::{LeaseKeeper, LeaseOptions, Owned};
use iza_runtime::cluster::relay::{Relay, RelayOptions};
use iza_runtime::cluster::{Cluster, NodeOptions};
use iza_runtime::inputs::Inputs;
use iza_runtime::{
    DockerOptions, DockerWatch, Launch, Launcher, Monitor, MonitorOptions, Supervisor,
};
use iza_server::{AppState, Auth, CatalogView, HostPolicy, Limits, TokenFile};
use iza_store::{PostgresStore, Retention, SqliteStore, Store, StoreLocation};
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::up::Up;
use crate::cli::ServeArgs;
use crate::{instance, manifest_input};

/// How long running probes get to finish on shutdown.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);
/// How often the manifest file is looked at.
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// How often the store folds rollups and applies retention.
const MAINTAIN_EVERY: Duration = Duration::from_secs(60);

/// The catalog `iza up` supervises on this node: a service whose `node` names another node is
/// watched here but not run (its `process` is dropped).
fn for_this_node(catalog: &Catalog, node_name: &str) -> Catalog {
    let mut local = catalog.clone();
    for service in local.services.values_mut() {
        if service
            .node
            .as_deref()
            .is_some_and(|node| node != node_name)
        {
            service.process = None;
        }
    }
    local
}

/// The machine's host name, as the nodes registry shows it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

pub(crate) fn run(args: &ServeArgs) -> Result<ExitCode> {
    let setup = Setup::load("serve", args)?;
    block_on(serve(setup, None))
}

/// What `iza serve` and `iza up` read before they start: the manifest, its catalog, the
/// database path and the address.
pub(crate) struct Setup {
    pub(crate) manifest: PathBuf,
    pub(crate) source_text: String,
    pub(crate) catalog: Catalog,
    pub(crate) ports: PortMap,
    /// The local state directory's anchor: the SQLite file, or where it would be (the token,
    /// the children records and the logs live beside it whatever the store).
    pub(crate) db: PathBuf,
    /// Where results, events and the run queue are kept.
    pub(crate) store: StoreLocation,
    pub(crate) listen: SocketAddr,
    /// The HTTP server's timeouts and connection cap.
    pub(crate) limits: Limits,
    /// Who may call what: the token of `.iza/token` beside the database.
    pub(crate) auth: Auth,
    /// Names answered for besides the listen address and loopback (`--allow-host`).
    pub(crate) allow_hosts: Vec<String>,
    /// The per-client rate limit of `/mcp` (`--mcp-rate-limit`).
    pub(crate) mcp_rate: Option<iza_server::ratelimit::Rate>,
    /// The per-tool rate limits of `/mcp` (`--mcp-tool-rate-limit`).
    pub(crate) mcp_tool_rates: Vec<(String, iza_server::ratelimit::Rate)>,
    /// How every child process starts: guarded (it dies with `iza`), long-lived ones recorded
    /// in `children/` beside the database.
    pub(crate) launcher: Launcher,
    /// This node's name (`--node`, else the host name), matched by a service's `node`.
    pub(crate) node_name: String,
    /// On a shared store: this node's region (`--region`).
    pub(crate) region: Option<String>,
    /// On a shared store: the lease period (`--lease`, 10 s).
    pub(crate) lease: Duration,
    /// The agents' worker slots (`--agent-workers`, 8).
    pub(crate) agent_workers: usize,
}

impl Setup {
    /// Loads and checks the manifest, prepares the database directory, and stops the children
    /// an earlier run on the same directory left running when it died.
    pub(crate) fn load(verb: &str, args: &ServeArgs) -> Result<Setup> {
        let manifest = &args.manifest;
        if manifest.path.as_os_str() == "-" {
            bail!("`iza {verb}` watches a manifest file and cannot read it from standard input");
        }
        let path = iza_catalog::resolve(&manifest.path)?;
        let (source, catalog) = manifest_input::catalog(manifest)?;
        let ports = port_map(&source);
        let store = store_location(args.store.as_deref(), args.db.as_deref(), &catalog, &path)?;
        let db = match (&args.db, &store) {
            (Some(db), _) => db.clone(),
            (None, StoreLocation::Sqlite(file)) => file.clone(),
            (None, StoreLocation::Postgres(_)) => manifest_input::state_db(&path),
        };
        let store = match store {
            StoreLocation::Sqlite(_) => StoreLocation::Sqlite(db.clone()),
            postgres => postgres,
        };
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Only its owner may read it: the database holds check targets, which may carry
            // credentials (`amqp://user:password@...`), and the token lives beside it.
            use std::os::unix::fs::DirBuilderExt as _;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create the directory `{}`", dir.display()))?;
        }
        let auth = access(&db, args.protect_reads)?;
        let launcher = launcher_beside(&db);
        Ok(Setup {
            manifest: path,
            source_text: source.text.clone(),
            catalog,
            ports,
            db,
            store,
            listen: args.listen,
            limits: Limits {
                header_timeout: args.header_timeout,
                idle_timeout: args.idle_timeout,
                max_connections: args.max_connections,
            },
            auth,
            allow_hosts: args.allow_host.clone(),
            mcp_rate: args.mcp_rate_limit,
            mcp_tool_rates: args.mcp_tool_rate_limit.clone(),
            launcher,
            region: args.region.clone(),
            node_name: args.node_name.clone().unwrap_or_else(host_name),
            lease: args.lease.max(Duration::from_millis(500)),
            agent_workers: usize::try_from(args.agent_workers).unwrap_or(8).max(1),
        })
    }

    /// The manifest's directory: relative paths of the manifest resolve against it.
    pub(crate) fn base_dir(&self) -> PathBuf {
        self.manifest
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

/// Where the store is: `--store`, else `--db`, else the manifest's `[store] url` (its `${NAME}`
/// references read from the environment; a relative `sqlite:` path is the manifest's), else
/// `.iza/state.db` beside the manifest.
pub(crate) fn store_location(
    store: Option<&str>,
    db: Option<&Path>,
    catalog: &Catalog,
    manifest: &Path,
) -> Result<StoreLocation> {
    if let Some(url) = store {
        return StoreLocation::parse(url).context("bad `--store`");
    }
    if let Some(db) = db {
        return Ok(StoreLocation::Sqlite(db.to_path_buf()));
    }
    let Some(config) = &catalog.store else {
        return Ok(StoreLocation::Sqlite(manifest_input::state_db(manifest)));
    };
    let url = config
        .resolve(|name| std::env::var(name).ok())
        .context("cannot read `[store] url`")?;
    match StoreLocation::parse(&url).context("bad `[store] url`")? {
        StoreLocation::Sqlite(file) if file.is_relative() => Ok(StoreLocation::Sqlite(
            manifest.parent().unwrap_or(Path::new("")).join(file),
        )),
        location => Ok(location),
    }
}

/// Opens (and migrates) the store at `location`.
pub(crate) async fn open_store(location: &StoreLocation) -> Result<Arc<dyn Store>> {
    Ok(match location {
        StoreLocation::Sqlite(file) => Arc::new(
            SqliteStore::open(file)
                .await
                .with_context(|| format!("cannot open the database `{}`", file.display()))?,
        ),
        StoreLocation::Postgres(url) => Arc::new(
            PostgresStore::connect(url)
                .await
                .with_context(|| format!("cannot open the store `{location}`"))?,
        ),
    })
}

/// The access policy: the token file beside the database, created (and shown, this once) on
/// the first start; an exposed or malformed file stops the start with its hint.
fn access(db: &Path, protect_reads: bool) -> Result<Auth> {
    let file = TokenFile::beside(db);
    let (token, created) = file.load_or_create()?;
    if created {
        eprintln!(
            "created the API token in `{}` (mode 0600); calls that change anything need it \
             (`iza token` prints it again):\n{}",
            file.path().display(),
            token.as_str()
        );
    }
    hash_client_tokens(db);
    Ok(Auth::from_file(file)?
        .read_tokens_from(TokenFile::read_only_beside(db))
        .operate_tokens_from(TokenFile::operate_beside(db))
        .push_tokens_from(
            db.parent()
                .unwrap_or_else(|| Path::new("."))
                .join(iza_server::auth::PUSH_TOKEN_DIR_NAME),
        )
        .protect_reads(protect_reads))
}

/// Rewrites the client tokens (read, operate, push) that an older version stored in clear to
/// hold their hashes only: the same tokens keep working, the disk no longer shows them. A file
/// that cannot be rewritten is left as it is (and still works); the cause is logged.
fn hash_client_tokens(db: &Path) {
    let dir = db.parent().unwrap_or_else(|| Path::new("."));
    let push_dir = dir.join(iza_server::auth::PUSH_TOKEN_DIR_NAME);
    let pushes = std::fs::read_dir(&push_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .map(|entry| TokenFile::new(entry.path()));
    for file in [
        TokenFile::read_only_beside(db),
        TokenFile::operate_beside(db),
    ]
    .into_iter()
    .chain(pushes)
    {
        match file.hash_in_place() {
            Ok(true) => eprintln!(
                "stored the token of `{}` hashed (it was in clear); it keeps working",
                file.path().display()
            ),
            Ok(false) => {}
            Err(err) => tracing::warn!("{err}; the file is left as it is"),
        }
    }
}

/// Starts logging and a runtime, and runs `future` on it.
pub(crate) fn block_on(
    future: impl std::future::Future<Output = Result<ExitCode>>,
) -> Result<ExitCode> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(future)
}

/// The log filter of `IZA_LOG` (`info` when unset): rmcp, which logs three `info` lines for
/// every stateless MCP request it serves (each with the client's whole `peer_info`), is kept
/// at `warn` unless the filter names it (`IZA_LOG=info,rmcp=info`).
fn log_filter(spec: Option<&str>) -> String {
    let spec = spec
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("info");
    if spec.contains("rmcp") {
        spec.to_owned()
    } else {
        format!("{spec},rmcp=warn")
    }
}

fn init_logging() {
    let spec = std::env::var("IZA_LOG").ok();
    let filter = tracing_subscriber::EnvFilter::try_new(log_filter(spec.as_deref()))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_filter(None)));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn port_map(source: &SourceFile) -> PortMap {
    match iza_catalog::parse_raw(source) {
        Ok(raw) => PortMap::from_manifest(&raw),
        // A manifest that checked cannot fail to parse; an empty map is the fallback.
        Err(_) => PortMap::default(),
    }
}

/// Serves the API over the monitor until Ctrl-C or SIGTERM; with `up`, supervises the
/// services that have a `command` too (`iza up`), and stops them first on the way out.
pub(crate) async fn serve(setup: Setup, up: Option<Up>) -> Result<ExitCode> {
    let store = open_store(&setup.store).await?;
    let listener = match tokio::net::TcpListener::bind(setup.listen).await {
        Ok(listener) => listener,
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => {
            eprintln!(
                "error: cannot listen on `{}`: the address is in use",
                setup.listen
            );
            eprintln!(
                "\nhint: stop what holds it, or pass another address with `--listen 127.0.0.1:PORT`"
            );
            return Ok(ExitCode::from(2));
        }
        Err(err) => return Err(err).context(format!("cannot listen on `{}`", setup.listen)),
    };
    let address = listener.local_addr()?;
    let base_dir = setup.base_dir();
    let catalog = Arc::new(setup.catalog);
    // The latest business figures: written by the figures scraper, read by `[METRIC]`
    // conditions of checks and by alert rules with `when` (docs/metrics.md).
    let figure_board = iza_probe::FigureBoard::default();
    let prober = Arc::new(Prober::new(ProberOptions {
        base_dir: base_dir.clone(),
        launcher: setup.launcher.clone(),
        figures: figure_board.clone(),
        ..ProberOptions::default()
    }));
    let mut options = match &up {
        Some(up) => up.monitor_options(),
        None => MonitorOptions::default(),
    };
    // What failed browser checks saw goes beside the database (`.iza/artifacts`).
    options.artifacts = Some(Arc::new(iza_runtime::Artifacts::new(
        setup
            .db
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
            .join("artifacts"),
        iza_runtime::artifacts::DEFAULT_KEEP,
    )));
    // On a shared store the checks are shared by lease: the monitor probes those this node
    // owns (`docs/scale-out.md`).
    let shared = matches!(setup.store, StoreLocation::Postgres(_));
    let owned = shared.then(|| Arc::new(Owned::default()));
    options.owned = owned.clone();
    // One worker id per process, which is also its node id: recorded with every result it
    // probes, and with the events it records, so that the other nodes of a shared store relay
    // them and it does not.
    let worker = worker_id();
    options.node = Some(worker.clone());
    options.region = setup.region.clone();
    warn_regions(&catalog, shared, setup.region.as_deref());
    // The relay (below) reads the events from the newest before the monitor starts, so that
    // this node's first status changes reach the status triggers too.
    let relay_after = if shared {
        newest_event(store.as_ref()).await
    } else {
        None
    };
    let monitor = Arc::new(
        Monitor::start(catalog.clone(), prober, store.clone(), options)
            .await
            .context("cannot start the monitor")?,
    );
    // Results pushed from brokers (`[inputs.*]`); a reload applies the new ones, and they stop
    // when the last handle is dropped.
    let inputs = Arc::new(Inputs::start(&catalog, monitor.clone()));
    let docker = DockerWatch::start(&catalog, DockerOptions::default());
    let state = AppState::new(
        monitor.clone(),
        store.clone(),
        CatalogView::new(catalog.clone(), &setup.ports),
    )
    .with_docker(Arc::new(docker))
    .with_auth(setup.auth.clone())
    .with_hosts(HostPolicy::new(address, &setup.allow_hosts))
    .with_hub(crate::cmd::hub::start(
        &catalog,
        &setup.manifest,
        &setup.launcher,
    )?)
    .with_mcp_rate_limit(setup.mcp_rate)
    .with_mcp_tool_limits(setup.mcp_tool_rates.clone());
    let app = iza_server::router(state.clone());
    tracing::info!(
        "watching `{}` ({} services), store `{}`",
        setup.manifest.display(),
        monitor.snapshot().services.len(),
        setup.store
    );
    // Signals are handled from here on, before the address is announced and before any
    // supervised service starts: a Ctrl-C, SIGTERM or SIGHUP that follows never meets the
    // default action (termination, which would leave supervised services behind).
    let interrupt = signal(SignalKind::interrupt())
        .map_err(|err| tracing::warn!("cannot listen for SIGINT: {err}"))
        .ok();
    let terminate = signal(SignalKind::terminate())
        .map_err(|err| tracing::warn!("cannot listen for SIGTERM: {err}"))
        .ok();
    let hangup = signal(SignalKind::hangup())
        .map_err(|err| tracing::warn!("cannot listen for SIGHUP: {err}"))
        .ok();
    // Logs go beside the database (`.iza/logs` by default).
    let state_dir = setup.db.parent().map(Path::to_path_buf).unwrap_or_default();
    // The tasks' runs: one worker id per process; the runs a previous process of this
    // database left running are released (and retried) before anything is claimed. Started
    // before the supervisor, so that `on = { process = ... }` sees the first starts. Their
    // `exec` children go through the same guarded launcher: they die with `iza`.
    let node_id = worker.clone();
    // On a shared store this process registers as a node, under its worker id, and renews its
    // heartbeat (`docs/scale-out.md`); the embedded store has one node and no registry.
    let cluster = match &setup.store {
        StoreLocation::Postgres(_) => Some(
            Cluster::join(
                store.clone(),
                NodeOptions {
                    id: worker.clone(),
                    host: host_name(),
                    region: setup.region.clone(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    // Five heartbeats a lease: the check leases count a node alive for three
                    // fifths of it (iza_runtime::cluster::leases).
                    heartbeat_every: setup.lease / 5,
                    lease: setup.lease,
                },
            )
            .await
            .context("cannot register this node in the store")?,
        ),
        StoreLocation::Sqlite(_) => None,
    };
    if shared {
        state.set_cluster(iza_server::ClusterInfo {
            node: node_id.clone(),
            lease: setup.lease,
        });
    }
    let leases = owned.map(|owned| {
        LeaseKeeper::start(
            store.clone(),
            monitor.clone(),
            owned,
            LeaseOptions {
                node: node_id.clone(),
                region: setup.region.clone(),
                lease: setup.lease,
            },
        )
    });
    let mut agents_options = AgentsOptions::new(
        worker,
        Launch {
            self_exe: std::env::current_exe().ok(),
            base_dir: base_dir.clone(),
            launcher: setup.launcher.clone(),
        },
    );
    agents_options.workers = setup.agent_workers;
    if shared {
        // A run of a dead node goes back to the queue within the node lease (and a half).
        agents_options.lease = setup.lease;
        // One reaction per status change across the nodes: status triggers read the changes
        // as recorded (handed over by the relay), under a key every node makes alike.
        agents_options.statuses_recorded = true;
    }
    let agents = Arc::new(Agents::start(
        catalog.clone(),
        store.clone(),
        monitor.clone(),
        None,
        agents_options,
    ));
    // One live view: the events the other nodes record reach this node's bus (LISTEN/NOTIFY,
    // with a catch-up read every lease round; `docs/scale-out.md`); every node's recorded
    // status changes reach the status triggers.
    let relay = shared.then(|| {
        Relay::start(
            store.clone(),
            monitor.bus().clone(),
            leases.as_ref().map(LeaseKeeper::follow_now),
            RelayOptions {
                node: node_id.clone(),
                catch_up_every: setup.lease / 5,
                after: relay_after,
                statuses: agents.recorded_statuses(),
            },
        )
    });
    state.set_agents(agents.clone());
    // Alerting: rules read the statuses on the bus; notifications are runs of the same queue
    // (`@notify/<notifier>`), so a crash loses none (docs/alerts.md).
    let alerting = Arc::new(Alerts::start(
        catalog.clone(),
        store.clone(),
        monitor.clone(),
        AlertsOptions {
            public_url: Some(local_url(address)),
            // Acknowledgement links are signed with a key derived from the admin token, so a
            // rotation (and a restart) voids the links given before.
            link_key: TokenFile::beside(&setup.db)
                .load_or_create()
                .ok()
                .map(|(token, _)| LinkKey::derive(token.as_str().as_bytes())),
            launcher: setup.launcher.clone(),
            // Under the node's id, so that another node's start-up sees it alive.
            worker: format!("{node_id}/notify"),
            figures: figure_board.clone(),
            ..AlertsOptions::default()
        },
    ));
    state.set_alerts(alerting.clone());
    // Business figures: scraped at their own intervals into the store (docs/metrics.md).
    let figures = Arc::new(iza_runtime::figures::Figures::start(
        catalog.clone(),
        store.clone(),
        iza_runtime::figures::FiguresOptions {
            board: figure_board.clone(),
            ..iza_runtime::figures::FiguresOptions::default()
        },
    ));
    state.set_figures(figures.clone());
    // Event outputs (docs/events.md): the bus's events, through the store's outbox, to NATS,
    // RabbitMQ, MQTT and webhooks; what a previous process left in the outbox goes out first.
    let outputs = Arc::new(iza_outputs::Outputs::start(
        &catalog,
        store.clone(),
        monitor.bus(),
        iza_outputs::OutputsOptions {
            // On a shared store one node at a time delivers each output (its lease).
            shared: shared.then(|| iza_outputs::SharedDelivery {
                node: node_id.clone(),
                lease: setup.lease,
            }),
            ..iza_outputs::OutputsOptions::default()
        },
    ));
    state.set_outputs(outputs.clone());
    // Workflow engines (docs/workflows.md): one follower per `workflows` table, until the end.
    // Their verdicts reach the status board (a failing workflow makes the engine `degraded`),
    // and the failures they newly see queue the `on = { workflow = "failed" }` tasks.
    let workflows = Arc::new(iza_runtime::workflows::Workflows::start(
        &catalog,
        store.clone(),
        Some(monitor.clone()),
        Some(agents.clone()),
    ));
    state.set_workflows(workflows.clone());
    let supervised = up.map(|up| {
        up.start(
            &for_this_node(&catalog, &setup.node_name),
            monitor.clone(),
            base_dir,
            &state_dir,
            setup.launcher.clone(),
        )
    });
    let supervisor = supervised.as_ref().map(|s| s.supervisor.clone());
    if let Some(supervisor) = &supervisor {
        state.set_supervisor(supervisor.clone());
        agents.set_supervisor(supervisor.clone());
    }
    let reloader = tokio::spawn(watch_manifest(
        setup.manifest.clone(),
        setup.source_text,
        Reloaded {
            node_name: setup.node_name.clone(),
            state: state.clone(),
            supervisor: supervisor.clone(),
            agents: agents.clone(),
            inputs: inputs.clone(),
        },
        hangup,
    ));
    let maintainer = tokio::spawn(maintain(store.clone()));

    // On Ctrl-C or SIGTERM: `/healthz` turns 503 and the server stops accepting at once; the
    // supervised services stop in reverse dependency order; the monitor finishes its running
    // probes and writes what it holds; closing the bus ends every event stream, so the open
    // connections drain.
    let stopping = Arc::new(tokio::sync::Notify::new());
    let stopper = tokio::spawn({
        let (state, stopping, supervisor) = (state.clone(), stopping.clone(), supervisor.clone());
        let agents = agents.clone();
        async move {
            wait_for_stop(interrupt, terminate).await;
            state.mark_stopping();
            stopping.notify_one();
            // Runs first: they may use the supervised services; those still running at the
            // deadline go back to the queue for the next start.
            agents.shutdown(SHUTDOWN_DEADLINE).await;
            // The hub's stdio upstreams stop with their process groups.
            state.hub().shutdown().await;
            if let Some(alerts) = state.alerts() {
                alerts.shutdown().await;
            }
            if let Some(figures) = state.figures() {
                figures.shutdown().await;
            }
            if let Some(supervisor) = &supervisor {
                // A second Ctrl-C or SIGTERM cuts the grace periods short. The listeners are
                // in place before the line that invites it is printed.
                let interrupt = signal(SignalKind::interrupt()).ok();
                let terminate = signal(SignalKind::terminate()).ok();
                let impatient = tokio::spawn({
                    let supervisor = supervisor.clone();
                    async move {
                        wait_for_stop(interrupt, terminate).await;
                        tracing::warn!("killing the supervised services");
                        supervisor.kill_all();
                    }
                });
                super::say("stopping (Ctrl-C again kills at once)");
                let report = supervisor.shutdown().await;
                impatient.abort();
                tracing::info!(
                    stopped = report.stopped.len(),
                    killed = report.killed.len(),
                    "supervised services stopped"
                );
            }
            tracing::info!("stopping: finishing running probes and writing results");
            let report = state.monitor().shutdown(SHUTDOWN_DEADLINE).await;
            tracing::info!(
                abandoned = report.abandoned,
                unwritten_results = report.unwritten_results,
                unwritten_events = report.unwritten_events,
                "monitor stopped"
            );
        }
    });
    tracing::info!("listening on http://{address}");
    // Tells `iza status` (and other commands run on this manifest) where to ask; removed on
    // the way out.
    let _announcement = instance::announce(
        &setup.manifest,
        &instance::Instance {
            url: local_url(address),
            pid: std::process::id(),
        },
    )
    .map_err(|err| tracing::warn!("cannot announce the server: {err:#}"))
    .ok();
    let served = iza_server::serve(listener, app, setup.limits, async move {
        stopping.notified().await;
    })
    .await;
    reloader.abort();
    maintainer.abort();
    if served.is_ok() {
        // The stop signal came: wait for the supervisor's and the monitor's reports.
        let _ = stopper.await;
    } else {
        stopper.abort();
        agents.shutdown(SHUTDOWN_DEADLINE).await;
        if let Some(supervisor) = &supervisor {
            supervisor.shutdown().await;
        }
        monitor.shutdown(SHUTDOWN_DEADLINE).await;
    }
    let code = match supervised {
        Some(supervised) => supervised.finish().await,
        None => ExitCode::SUCCESS,
    };
    served.context("the HTTP server failed")?;
    if let Some(relay) = relay {
        relay.stop().await;
    }
    if let Some(leases) = leases {
        leases.stop().await;
    }
    if let Some(cluster) = cluster
        && let Err(err) = cluster.leave().await
    {
        tracing::warn!("leaving the cluster: {err}");
    }
    // The bus is closed: the outputs write what it published, then stop; what is not
    // acknowledged stays in the outbox for the next start.
    outputs.shutdown(SHUTDOWN_DEADLINE).await;
    // The last audit records still queued reach the store before it closes.
    state.flush_audit().await;
    if let Err(err) = store.close().await {
        tracing::warn!("closing the database: {err}");
    }
    tracing::info!("stopped");
    Ok(code)
}

/// The launcher of every child `iza` starts: guarded (it dies with `iza`) through this very
/// binary, or direct when the binary cannot be found.
pub(crate) fn guarded_launcher() -> Launcher {
    match std::env::current_exe() {
        Ok(exe) => Launcher::guarded(exe),
        Err(err) => {
            eprintln!(
                "warning: cannot find the running `iza` ({err}); its child processes will not die with it"
            );
            Launcher::direct()
        }
    }
}

/// The guarded launcher of a server whose database is `db`, recording its long-lived children
/// in `children/` beside it (`.iza/children/`), after stopping what an earlier run that died
/// recorded there (`crates/iza-launch`).
fn launcher_beside(db: &Path) -> Launcher {
    let children = db
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("children");
    match iza_launch::sweep(&children) {
        Ok(swept) => {
            for group in swept {
                eprintln!(
                    "warning: stopped `{}` (process group {}), left running by an earlier `iza` that did not stop",
                    group.label, group.pgid
                );
            }
        }
        Err(err) => eprintln!(
            "warning: cannot look for processes left by an earlier `iza` in `{}`: {err}",
            children.display()
        ),
    }
    let launcher = guarded_launcher();
    match iza_launch::Records::create(&children) {
        Ok(records) => launcher.with_records(Arc::new(records)),
        Err(err) => {
            eprintln!(
                "warning: cannot record the child processes in `{}`: {err}",
                children.display()
            );
            launcher
        }
    }
}

/// The URL a command on this machine reaches the server at: a wildcard listen address is
/// reached over loopback.
fn local_url(address: SocketAddr) -> String {
    let ip = match address.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, address.port()))
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, whichever comes first; a missing listener never
/// fires.
async fn wait_for_stop(interrupt: Option<Signal>, terminate: Option<Signal>) {
    async fn next(signal: Option<Signal>) {
        match signal {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    tokio::select! {
        () = next(interrupt) => {}
        () = next(terminate) => {}
    }
}

/// What a reload of the manifest reaches: this node's name (for its `command`s), the server's
/// state (monitor, view, alerts, figures, outputs), the supervisor, the agents and the inputs.
struct Reloaded {
    node_name: String,
    state: AppState,
    supervisor: Option<Arc<Supervisor>>,
    agents: Arc<Agents>,
    inputs: Arc<Inputs>,
}

/// Reloads on SIGHUP and whenever the file's contents change.
async fn watch_manifest(
    path: PathBuf,
    mut current: String,
    reloaded: Reloaded,
    mut hangup: Option<Signal>,
) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let forced = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => None } } => true,
        };
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(text) => text,
            Err(err) => {
                if forced {
                    tracing::warn!(
                        "cannot read `{}`: {err}; keeping the running catalog",
                        path.display()
                    );
                }
                continue;
            }
        };
        if !forced && text == current {
            continue;
        }
        current = text.clone();
        reload(
            &path,
            text,
            &reloaded.node_name,
            &reloaded.state,
            reloaded.supervisor.as_deref(),
            &reloaded.agents,
            &reloaded.inputs,
        )
        .await;
    }
}

async fn reload(
    path: &Path,
    text: String,
    node_name: &str,
    state: &AppState,
    supervisor: Option<&Supervisor>,
    agents: &Agents,
    inputs: &Inputs,
) {
    let syntax = iza_catalog::Syntax::for_path(path);
    let source = SourceFile::new(path, text, syntax);
    let checked = iza_catalog::check(&source);
    let Some(catalog) = checked.catalog else {
        let rendered: String = checked.errors().map(|d| d.render(&source)).collect();
        tracing::error!(
            "`{}` has errors; keeping the running catalog\n{rendered}",
            path.display()
        );
        return;
    };
    let catalog = Arc::new(catalog);
    match state.monitor().reload(catalog.clone()).await {
        Ok(diff) => {
            if let Some(docker) = state.docker_watch() {
                docker.set_catalog(&catalog);
            }
            state.set_view(CatalogView::new(catalog.clone(), &port_map(&source)));
            tracing::info!(
                added = diff.added.len(),
                removed = diff.removed.len(),
                changed = diff.changed.len(),
                "reloaded `{}`",
                path.display()
            );
        }
        Err(err) => {
            tracing::error!("reloading `{}` failed: {err}", path.display());
            return;
        }
    }
    if let Some(supervisor) = supervisor {
        let changed = supervisor.reload(&for_this_node(&catalog, node_name)).await;
        tracing::info!(
            started = changed.started.len(),
            stopped = changed.stopped.len(),
            restarted = changed.restarted.len(),
            "supervised services reconciled"
        );
    }
    if let Some(alerts) = state.alerts() {
        alerts.reload(catalog.clone());
    }
    if let Some(figures) = state.figures() {
        figures.reload(catalog.clone());
    }
    // Event outputs and inputs (docs/events.md, docs/inputs.md): added ones start, removed ones
    // stop, changed ones restart with their new settings (an output keeps its outbox).
    if let Some(outputs) = state.outputs() {
        let changed = outputs.reload(&catalog).await;
        if !changed.is_empty() {
            tracing::info!(
                added = ?changed.added,
                removed = ?changed.removed,
                changed = ?changed.changed,
                "event outputs reconciled"
            );
        }
    }
    let changed = inputs.reload(&catalog).await;
    if !changed.is_empty() {
        tracing::info!(
            added = ?changed.added,
            removed = ?changed.removed,
            changed = ?changed.changed,
            "inputs reconciled"
        );
    }
    agents.reload(catalog).await;
}

/// Folds rollups and applies retention once a minute.
async fn maintain(store: Arc<dyn Store>) {
    let mut tick = tokio::time::interval(MAINTAIN_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        if let Err(err) = store
            .maintain(iza_runtime::now_millis(), Retention::default())
            .await
        {
            tracing::error!("store maintenance failed: {err}");
        }
    }
}

/// Says at start-up what becomes of the checks with `regions` here: on the embedded store (one
/// node) each is probed once, locally, and its quorum does not apply; on a shared store, a node
/// without `--region` probes none of them (the nodes of the listed regions do).
fn warn_regions(catalog: &iza_catalog::Catalog, shared: bool, region: Option<&str>) {
    let regional: Vec<&str> = catalog
        .services
        .values()
        .filter(|service| {
            service
                .check
                .as_ref()
                .is_some_and(|c| !c.regions.is_empty())
        })
        .map(|service| service.id.as_str())
        .collect();
    if regional.is_empty() {
        return;
    }
    let count = regional.len();
    if !shared {
        tracing::warn!(
            "{count} check(s) list `regions` ({}), but the store is the embedded SQLite one: \
             each is probed once, from this node, and its quorum does not apply (run several \
             nodes on PostgreSQL with `--region`, docs/scale-out.md)",
            regional.join(", ")
        );
    } else if region.is_none() {
        tracing::warn!(
            "{count} check(s) list `regions`; this node has no `--region`, so it probes none \
             of them (the nodes of the listed regions do)"
        );
    }
}

/// The id of the newest event in the store (0 when there is none); `None` when it cannot be
/// read (the relay then starts after the newest at its first read).
async fn newest_event(store: &dyn iza_store::Store) -> Option<i64> {
    let newest = iza_store::EventQuery {
        limit: 1,
        ..iza_store::EventQuery::default()
    };
    match store.events(&newest).await {
        Ok(events) => Some(events.first().map_or(0, |event| event.id)),
        Err(error) => {
            tracing::warn!("cannot read the newest event: {error}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn rmcp_is_kept_at_warn_unless_the_filter_names_it() {
        let cases = [
            (None, "info,rmcp=warn"),
            (Some(""), "info,rmcp=warn"),
            (Some("info"), "info,rmcp=warn"),
            (Some("debug,iza_mcp=trace"), "debug,iza_mcp=trace,rmcp=warn"),
            (Some("info,rmcp=info"), "info,rmcp=info"),
            (Some("rmcp::service=debug"), "rmcp::service=debug"),
        ];
        for (spec, expected) in cases {
            assert_eq!(log_filter(spec), expected, "{spec:?}");
        }
    }
}
