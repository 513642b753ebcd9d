//! Alerting: status changes become alerts, alerts become notifications (`docs/alerts.md`).
//! One [`Alerts`] per process, started by `iza serve` and `iza up` beside the monitor and the
//! agents engine.
//!
//! ```text
//! bus (statuses: roots down, dependents impacted) ──▶ engine.rs ──▶ Store (alerts, deliveries)
//!  silences, maintenance (suppress.rs) ────────────────┘   │ one run per notifier batch,
//!                                                          ▼ dedup key (alert, transition, notifier)
//!                                             Store queue `@notify/<id>` ──▶ delivery.rs ──▶ iza-notify
//! ```
//!
//! - `engine.rs`: rules, grouping by root cause, `for`, `repeat`, `group_wait`, resolve hold,
//!   acknowledgement, escalation up `reports_to` after `ack_within`;
//! - `figures.rs`: rules with `when = "[METRIC].<figure> ..."`, evaluated at each step against
//!   the latest figures (the scraper's [`iza_probe::FigureBoard`]), one alert per service;
//! - `suppress.rs`: silences and maintenance windows (inherited down the dependency graph);
//! - `delivery.rs`: claims the delivery runs (a reserved task namespace, `@notify/`, of
//!   external runs with no agent, which neither the agents' worker nor an external agent's
//!   claim ever takes), sends them through `iza-notify`, retries with backoff.
//!
//! Time comes from the agents' [`Clock`], so tests move it by hand. The engine never
//! renders; interfaces read alerts, silences and deliveries from the store.

pub mod delivery;
pub mod engine;
pub mod figures;
pub mod links;
pub mod suppress;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use iza_catalog::Catalog;
use iza_notify::{Env, Sender};
use iza_store::{
    Alert, AlertQuery, AlertState, MAX_ALERTS_PAGE, Millis, NewSilence, Silence, Store, StoreError,
};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use crate::agents::clock::{Clock, SystemClock};
use crate::bus::Update;
use crate::event::{Event, EventKind};
use crate::monitor::Monitor;
pub use engine::{TASK_PREFIX, task_key, transition_key};
pub use links::{ACK_LINK_PREFIX, LinkError, LinkKey};

/// How alerting behaves.
#[derive(Clone)]
pub struct AlertsOptions {
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
    /// Where `${ENV}` references of notifiers are read.
    pub env: Env,
    /// This process's delivery worker id.
    pub worker: String,
    /// First retry delay of a failed delivery (1 s), doubled each time.
    pub backoff: Duration,
    /// Longest retry delay (1 min).
    pub backoff_max: Duration,
    /// How often the engine looks at silences and maintenance windows, and the delivery
    /// worker at the queue, when nothing woke them (1 s).
    pub tick: Duration,
    /// The server's address as users reach it, for acknowledgement links.
    pub public_url: Option<String>,
    /// Signs the acknowledgement links of notifications (`links.rs`); without it (or without
    /// `public_url`) `ack_url` is the API's `POST /api/v1/alerts/{id}/ack`.
    pub link_key: Option<links::LinkKey>,
    /// How `exec` notifiers are started: under `iza serve`/`up` the guarded launcher, so
    /// that they die with `iza`.
    pub launcher: iza_launch::Launcher,
    /// The latest business figures (shared with the figures scraper), read by rules with
    /// `when` at each evaluation (at least every `tick`).
    pub figures: iza_probe::FigureBoard,
}

impl std::fmt::Debug for AlertsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertsOptions")
            .field("worker", &self.worker)
            .field("backoff", &self.backoff)
            .field("backoff_max", &self.backoff_max)
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

impl Default for AlertsOptions {
    fn default() -> Self {
        AlertsOptions {
            clock: Arc::new(SystemClock),
            env: Env::process(),
            worker: format!("notify-{}-{}", std::process::id(), crate::now_millis()),
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            tick: Duration::from_secs(1),
            public_url: None,
            link_key: None,
            launcher: iza_launch::Launcher::direct(),
            figures: iza_probe::FigureBoard::default(),
        }
    }
}

/// Why an alerting operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Bad input (a silence that matches nothing, ends before it starts).
    #[error("{0}")]
    Invalid(String),
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertMetrics {
    /// Firing alerts by severity (suppressed ones included).
    pub firing: BTreeMap<String, u64>,
    /// Delivery attempts by (notifier, outcome: `sent`, `failed`, `retried`).
    pub deliveries: BTreeMap<(String, String), u64>,
}

enum Command {
    /// Done by the engine, so that its own copy of the alert and the store's agree: `reply`
    /// answers the alert afterwards and whether this call acknowledged it.
    Acknowledge {
        id: i64,
        by: String,
        reply: tokio::sync::oneshot::Sender<Result<Option<(Alert, bool)>, StoreError>>,
    },
    Silences(tokio::sync::oneshot::Sender<()>),
    Reload(Arc<Catalog>),
}

pub(crate) struct Shared {
    pub(crate) catalog: RwLock<Arc<Catalog>>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) monitor: Arc<Monitor>,
    pub(crate) options: AlertsOptions,
    pub(crate) sender: Sender,
    pub(crate) wake_delivery: Notify,
    pub(crate) stopping: watch::Sender<bool>,
    pub(crate) metrics: Mutex<AlertMetrics>,
}

impl Shared {
    pub(crate) fn now(&self) -> Millis {
        self.options.clock.now()
    }

    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn announce(&self, kinds: Vec<EventKind>) {
        if kinds.is_empty() {
            return;
        }
        let at = self.now();
        self.monitor
            .announce(kinds.into_iter().map(|k| Event::new(at, k)).collect());
    }
}

/// Alerting, running: the engine and the delivery worker.
pub struct Alerts {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts").finish_non_exhaustive()
    }
}

impl Alerts {
    /// Starts the engine (it resumes the open alerts of the store) and the delivery worker
    /// (it releases the deliveries a previous process left running).
    pub fn start(
        catalog: Arc<Catalog>,
        store: Arc<dyn Store>,
        monitor: Arc<Monitor>,
        options: AlertsOptions,
    ) -> Alerts {
        let client = iza_notify::client()
            .inspect_err(|e| tracing::warn!("alerts: {e}; notifications will fail"))
            .ok();
        let sender =
            Sender::new(client, options.env.clone()).with_launcher(options.launcher.clone());
        let (stopping, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            catalog: RwLock::new(catalog),
            store,
            monitor,
            options,
            sender,
            wake_delivery: Notify::new(),
            stopping,
            metrics: Mutex::new(AlertMetrics::default()),
        });
        let (commands, receiver) = mpsc::unbounded_channel();
        let engine = tokio::spawn(engine_loop(shared.clone(), receiver));
        let delivery = tokio::spawn(delivery::run(shared.clone()));
        Alerts {
            shared,
            commands,
            tasks: Mutex::new(vec![engine, delivery]),
        }
    }

    /// Checks an acknowledgement link (`links.rs`): `Ok` when its signature is this server's
    /// and it has not expired. No key: every link is refused as not valid.
    pub fn verify_ack_link(&self, alert: i64, expires: i64, sig: &str) -> Result<(), LinkError> {
        match &self.shared.options.link_key {
            Some(key) => key.verify(alert, expires, sig, self.shared.now()),
            None => Err(LinkError::BadSignature),
        }
    }

    /// Acknowledges an alert: no more reminders or escalation. `None`: no such alert.
    pub async fn acknowledge(&self, id: i64, by: &str) -> Result<Option<Alert>, AlertsError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let sent = self.commands.send(Command::Acknowledge {
            id,
            by: by.to_owned(),
            reply,
        });
        let outcome = match (sent, answer.await) {
            (Ok(()), Ok(outcome)) => outcome?,
            // The engine stopped: the store alone records it.
            _ => {
                let before = self.shared.store.alert(id).await?;
                let after = self
                    .shared
                    .store
                    .acknowledge_alert(id, by, self.shared.now())
                    .await?;
                after.map(|a| {
                    let new = before.is_some_and(|b| b.acknowledged_at.is_none())
                        && a.acknowledged_at.is_some();
                    (a, new)
                })
            }
        };
        let Some((alert, new)) = outcome else {
            return Ok(None);
        };
        if new {
            self.shared.announce(vec![EventKind::AlertAcknowledged {
                alert: id,
                by: by.to_owned(),
            }]);
        }
        Ok(Some(alert))
    }

    /// Creates a silence (it must match something and end after it starts).
    pub async fn create_silence(&self, new: NewSilence) -> Result<Silence, AlertsError> {
        if new.matchers.is_empty() {
            return Err(AlertsError::Invalid(
                "a silence needs at least one matcher: service, group, tag or rule".to_owned(),
            ));
        }
        if new.ends_at <= new.starts_at {
            return Err(AlertsError::Invalid(
                "a silence must end after it starts".to_owned(),
            ));
        }
        let silence = self.shared.store.create_silence(&new).await?;
        self.shared.announce(vec![EventKind::SilenceCreated {
            silence: silence.id,
            ends_at: silence.ends_at,
        }]);
        self.silences_changed().await;
        Ok(silence)
    }

    /// Has the engine read the silences again before returning.
    async fn silences_changed(&self) {
        let (done, applied) = tokio::sync::oneshot::channel();
        if self.commands.send(Command::Silences(done)).is_ok() {
            let _ = applied.await;
        }
    }

    /// Ends a silence now. `None`: no such silence.
    pub async fn expire_silence(&self, id: i64) -> Result<Option<Silence>, AlertsError> {
        let silence = self
            .shared
            .store
            .expire_silence(id, self.shared.now())
            .await?;
        if silence.is_some() {
            self.shared
                .announce(vec![EventKind::SilenceExpired { silence: id }]);
            self.silences_changed().await;
        }
        Ok(silence)
    }

    /// Applies a new catalog (rules, notifiers, maintenance).
    pub fn reload(&self, catalog: Arc<Catalog>) {
        *self
            .shared
            .catalog
            .write()
            .unwrap_or_else(PoisonError::into_inner) = catalog.clone();
        let _ = self.commands.send(Command::Reload(catalog));
    }

    /// The counters for `/metrics`.
    pub fn metrics(&self) -> AlertMetrics {
        self.shared
            .metrics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops the engine and the delivery worker (a delivery in flight finishes first; what
    /// is left stays queued for the next start).
    pub async fn shutdown(&self) {
        self.shared.stopping.send_replace(true);
        self.shared.wake_delivery.notify_one();
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            let _ = task.await;
        }
    }
}

fn apply(engine: &mut engine::Engine, update: Update) {
    match update {
        Update::Snapshot(snapshot) | Update::Resynced { snapshot, .. } => {
            engine.statuses = snapshot
                .services
                .iter()
                .map(|s| {
                    (
                        s.service.clone(),
                        engine::Observed {
                            status: s.status.clone(),
                            since: s.since.unwrap_or(snapshot.at),
                            reason: s.last.as_ref().and_then(|l| l.message.clone()),
                        },
                    )
                })
                .collect();
        }
        Update::Event(event) => {
            let (service, status, reason) = match &event.kind {
                EventKind::StatusChanged {
                    service,
                    to,
                    reason,
                    ..
                } => (service, to.clone(), reason.clone()),
                EventKind::ServiceImpacted { service, by, .. } => {
                    (service, crate::Status::Impacted { by: by.clone() }, None)
                }
                EventKind::ServiceRecovered { service, to, .. } => (service, to.clone(), None),
                _ => return,
            };
            engine.statuses.insert(
                service.clone(),
                engine::Observed {
                    status,
                    since: event.at,
                    reason,
                },
            );
        }
    }
}

async fn acknowledge(
    shared: &Shared,
    engine: &mut engine::Engine,
    id: i64,
    by: &str,
) -> Result<Option<(Alert, bool)>, StoreError> {
    let before = shared.store.alert(id).await?;
    let Some(after) = shared.store.acknowledge_alert(id, by, shared.now()).await? else {
        return Ok(None);
    };
    engine.acknowledged(&after);
    let new =
        before.is_some_and(|b| b.acknowledged_at.is_none()) && after.acknowledged_at.is_some();
    Ok(Some((after, new)))
}

async fn load_silences(shared: &Shared, engine: &mut engine::Engine) -> Result<(), StoreError> {
    engine.silences = shared.store.silences(None).await?;
    Ok(())
}

async fn engine_loop(shared: Arc<Shared>, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut engine = engine::Engine::new(
        shared.catalog(),
        shared.store.clone(),
        shared.options.public_url.clone(),
    );
    engine.link_key = shared.options.link_key.clone();
    engine.figures = shared.options.figures.clone();
    let mut sub = shared.monitor.subscribe();
    match shared
        .store
        .alerts(&AlertQuery {
            open_only: true,
            service: None,
            before: None,
            limit: MAX_ALERTS_PAGE,
        })
        .await
    {
        Ok(open) => engine.resume(open, shared.now()),
        Err(e) => tracing::error!("alerts: reading the open alerts failed: {e}"),
    }
    if let Err(e) = load_silences(&shared, &mut engine).await {
        tracing::error!("alerts: reading silences failed: {e}");
    }
    let mut stopping = shared.stopping.subscribe();
    let tick = i64::try_from(shared.options.tick.as_millis())
        .unwrap_or(1_000)
        .max(1);
    let mut next: Option<Millis> = None;
    loop {
        let now = shared.now();
        let wake = next.map_or(now + tick, |n| n.min(now + tick));
        tokio::select! {
            update = sub.recv() => {
                let Some(update) = update else { break };
                apply(&mut engine, update);
                while let Some(update) = sub.try_recv() {
                    apply(&mut engine, update);
                }
            }
            command = commands.recv() => match command {
                None => break,
                Some(Command::Acknowledge { id, by, reply }) => {
                    let _ = reply.send(acknowledge(&shared, &mut engine, id, &by).await);
                }
                Some(Command::Silences(done)) => {
                    if let Err(e) = load_silences(&shared, &mut engine).await {
                        tracing::error!("alerts: reading silences failed: {e}");
                    }
                    let _ = done.send(());
                }
                Some(Command::Reload(catalog)) => engine.catalog = catalog,
            },
            _ = shared.options.clock.sleep_until(wake) => {}
            _ = stopping.changed() => break,
        }
        if *stopping.borrow() {
            break;
        }
        match engine.evaluate(shared.now()).await {
            Ok((events, wake)) => {
                shared.announce(events);
                next = wake;
                if engine.take_flushed() {
                    shared.wake_delivery.notify_one();
                }
            }
            Err(e) => {
                tracing::error!("alerts: evaluation failed: {e}");
                next = Some(shared.now() + tick);
            }
        }
        let firing = engine.firing_by_severity();
        shared
            .metrics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .firing = firing;
    }
}

/// Whether an alert is open (pending or firing).
pub fn is_open(alert: &Alert) -> bool {
    alert.state != AlertState::Resolved
}
