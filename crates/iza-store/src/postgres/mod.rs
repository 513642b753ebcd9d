//! [`PostgresStore`]: the shared [`Store`](crate::Store) on one PostgreSQL database, which several
//! `iza` nodes may use at once.
//!
//! Same semantics as the SQLite store (the one conformance suite checks both); what SQLite gets
//! from its single writer, PostgreSQL gets from locks, so that it holds across nodes too:
//! a fold holds the `fold_state` rows `FOR UPDATE` and an append `FOR SHARE`; appends of events
//! serialize on an advisory lock (ids commit in order); claims serialize on an advisory lock per
//! queue (exact priority order and concurrency caps) and take their rows `FOR UPDATE SKIP
//! LOCKED`; enqueues with schedule ticks serialize on an advisory lock (a tick is enqueued once
//! across nodes); each maintenance step holds the maintenance lock. Every call commits before it
//! returns, so an acknowledged write is committed (PostgreSQL's own durability then applies).
//!
//! Submodules: `migrate` (versioned schema), `write` (results and events), `maintain` (folding,
//! retention), `read` (results, rollups, uptime, events), `queue` (runs and incidents), `alerts`
//! (alerts, silences, deliveries), `nodes` (the registry of nodes sharing the database), `listen`
//! (`LISTEN` for the events other nodes append).
//! It owns no connection string parsing beyond handing the URL to sqlx (see
//! [`crate::location`]).

mod alerts;
mod audit;
mod figures;
mod leases;
mod listen;
mod maintain;
mod migrate;
mod nodes;
mod outbox;
mod queue;
mod read;
mod workflows;
mod write;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use crate::alerts::{Alert, AlertQuery, Delivery, DeliveryUpdate, NewSilence, Silence};
use crate::location::redact_url;
use crate::queue::{
    ClaimRequest, EscalationStep, Incident, IncidentQuery, NewIncident, NewRun, QueueDepth, Run,
    RunFinish, RunId, RunQuery, StepOutcome, TaskStats,
};
use crate::{
    EventQuery, EventRecord, Millis, Resolution, ResultRecord, Retention, Rollup, Store,
    StoreError, Uptime,
};

/// Advisory lock keys (`pg_advisory_xact_lock`), all transaction-scoped.
mod locks {
    /// Applying migrations.
    pub(super) const MIGRATE: i64 = 0x495A_4100_0000_0001;
    /// Appending events (ids commit in order).
    pub(super) const EVENTS: i64 = 0x495A_4100_0000_0002;
    /// A maintenance step (folding, retention of runs): one node at a time.
    pub(super) const MAINTAIN: i64 = 0x495A_4100_0000_0003;
    /// Merging late results into folded rollups (read-modify-write of a rollup row).
    pub(super) const LATE: i64 = 0x495A_4100_0000_0004;
    /// Enqueueing runs with schedule ticks (reading and advancing the marks).
    pub(super) const TICKS: i64 = 0x495A_4100_0000_0005;
    /// Claiming internal runs; external claims use `CLAIM + 1`.
    pub(super) const CLAIM: i64 = 0x495A_4100_0000_0010;
}

/// How [`PostgresStore::connect_with`] connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostgresOptions {
    /// Connections in the pool (at least 1).
    pub max_connections: u32,
    /// How long a call waits for a free connection (or to connect) before failing.
    pub acquire_timeout: Duration,
    /// Whether to apply pending migrations on connect (`iza store migrate` does it alone).
    pub migrate: bool,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            migrate: true,
        }
    }
}

/// The store in one PostgreSQL database.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    /// Service name to id, for ids known to be committed (ids never change once assigned).
    service_ids: Mutex<HashMap<String, i64>>,
    /// The claim function could not be made (a role without the right to make temporary
    /// objects): claims go in steps (`queue::claim_runs`).
    claim_in_steps: std::sync::atomic::AtomicBool,
}

/// The bucket widths, as stored in `rollups.width` and `fold_state.width`.
const MINUTE: Millis = 60_000;
const HOUR: Millis = 3_600_000;

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and migrates it.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects to `url` with these options.
    pub async fn connect_with(
        url: &str,
        options: PostgresOptions,
    ) -> Result<PostgresStore, StoreError> {
        let open_error = |message: String| StoreError::Open {
            location: redact_url(url),
            // sqlx's messages do not repeat the URL; redact anyway, in case one ever does.
            message: message.replace(url, &redact_url(url)),
        };
        let connect = PgConnectOptions::from_str(url)
            .map_err(|error| open_error(error.to_string()))?
            .application_name("iza");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|error| open_error(error.to_string()))?;
        let store = PostgresStore {
            pool,
            service_ids: Mutex::new(HashMap::new()),
            claim_in_steps: std::sync::atomic::AtomicBool::new(false),
        };
        if options.migrate {
            store.migrate().await.map_err(|error| match error {
                StoreError::Query(message) => open_error(message),
                other => other,
            })?;
        } else {
            let version = store.schema_version().await?;
            if version != migrate::latest_version() {
                return Err(open_error(format!(
                    "the database has schema version {version}, this build of iza needs {}; \
                     run `iza store migrate`",
                    migrate::latest_version()
                )));
            }
        }
        Ok(store)
    }

    /// Applies pending migrations; returns the versions applied now (empty when up to date).
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        migrate::migrate(&self.pool)
            .await
            .map_err(StoreError::Query)
    }

    /// The schema version of the database (0 for an empty database).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let error = query_error("reading the schema version");
        let mut connection = self.pool.acquire().await.map_err(&error)?;
        migrate::current_version(&mut connection)
            .await
            .map_err(&error)
    }

    /// The newest schema version this build knows.
    pub fn latest_schema_version() -> i64 {
        migrate::latest_version()
    }

    /// The connection pool, for what the `Store` trait does not say (the copy, the nodes
    /// registry).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn cached_service_id(&self, name: &str) -> Option<i64> {
        let ids = self
            .service_ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        ids.get(name).copied()
    }

    fn cache_service_ids(&self, new_ids: HashMap<String, i64>) {
        if new_ids.is_empty() {
            return;
        }
        let mut ids = self
            .service_ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        ids.extend(new_ids);
    }
}

/// Maps a database error to a [`StoreError::Query`] that says what was being done.
fn query_error(doing: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |error| StoreError::Query(format!("{doing}: {error}"))
}

/// Free text as PostgreSQL can keep it: `text` refuses NUL, which a probe message or a run's
/// output may hold (SQLite keeps it); it becomes U+FFFD.
fn pg_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        std::borrow::Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Takes a transaction-scoped advisory lock.
async fn advisory_lock(connection: &mut PgConnection, key: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(connection)
        .await
        .map(|_| ())
}

/// How far results are folded into minute and hour rollups (see `fold_state` in the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FoldMarks {
    /// Every result before this is counted in minute rollups, none at or after it.
    minutes: Millis,
    /// Every result before this is counted in hour rollups, none at or after it.
    hours: Millis,
}

/// How [`fold_marks`] reads the marks: as a plain read, or locking them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MarkLock {
    None,
    /// An append: folds wait until it commits.
    Share,
    /// A fold: appends wait until it commits.
    Update,
}

async fn fold_marks(
    connection: &mut PgConnection,
    lock: MarkLock,
) -> Result<FoldMarks, sqlx::Error> {
    let statement = match lock {
        MarkLock::None => "SELECT width, folded_until FROM fold_state",
        MarkLock::Share => "SELECT width, folded_until FROM fold_state ORDER BY width FOR SHARE",
        MarkLock::Update => "SELECT width, folded_until FROM fold_state ORDER BY width FOR UPDATE",
    };
    let rows: Vec<(i64, i64)> = sqlx::query_as(statement).fetch_all(connection).await?;
    let mark = |width| {
        rows.iter()
            .find(|(row_width, _)| *row_width == width)
            .map(|(_, until)| *until)
            .ok_or_else(|| {
                sqlx::Error::Protocol(format!("fold_state has no row for width {width}"))
            })
    };
    Ok(FoldMarks {
        minutes: mark(MINUTE)?,
        hours: mark(HOUR)?,
    })
}

/// Checks the numbers of one `GROUP BY` row of results.
fn group_numbers(bucket: i64, count: i64, failures: i64) -> Result<(usize, u64, u64), StoreError> {
    let invalid = || {
        StoreError::Query(format!(
            "stored results are malformed: bucket {bucket}, count {count}, failures {failures}"
        ))
    };
    Ok((
        usize::try_from(bucket).map_err(|_| invalid())?,
        u64::try_from(count).map_err(|_| invalid())?,
        u64::try_from(failures).map_err(|_| invalid())?,
    ))
}

#[async_trait]
impl Store for PostgresStore {
    async fn append_results(&self, results: &[ResultRecord]) -> Result<(), StoreError> {
        write::append_results(self, results).await
    }

    async fn append_events(
        &self,
        events: Vec<EventRecord>,
    ) -> Result<Vec<EventRecord>, StoreError> {
        write::append_events(self, events).await
    }

    async fn recent_results(
        &self,
        service: &str,
        limit: usize,
    ) -> Result<Vec<ResultRecord>, StoreError> {
        read::recent_results(self, service, limit).await
    }

    async fn latest_results(&self) -> Result<Vec<ResultRecord>, StoreError> {
        read::latest_results(self).await
    }

    async fn latest_region_results(
        &self,
        keys: &[(String, String)],
    ) -> Result<Vec<ResultRecord>, StoreError> {
        read::latest_region_results(self, keys).await
    }

    async fn rollups(
        &self,
        service: &str,
        resolution: Resolution,
        since: Millis,
    ) -> Result<Vec<Rollup>, StoreError> {
        read::rollups(self, service, resolution, since).await
    }

    async fn uptime(&self, service: &str, now: Millis) -> Result<Uptime, StoreError> {
        read::uptime(self, service, now).await
    }

    async fn events(&self, query: &EventQuery) -> Result<Vec<EventRecord>, StoreError> {
        read::events(self, query).await
    }

    async fn maintain(&self, now: Millis, retention: Retention) -> Result<(), StoreError> {
        maintain::fold_minutes(self, now).await?;
        maintain::fold_hours(self, now).await?;
        maintain::delete_expired(self, now, retention).await?;
        figures::apply_retention(self, now, retention).await?;
        audit::apply_retention(self, now, retention).await?;
        queue::apply_retention(self, now, retention).await
    }

    async fn enqueue_runs(&self, runs: &[NewRun]) -> Result<Vec<Option<RunId>>, StoreError> {
        queue::enqueue_runs(self, runs).await
    }

    async fn claim_runs(&self, request: &ClaimRequest) -> Result<Vec<Run>, StoreError> {
        queue::claim_runs(self, request).await
    }

    async fn enqueue_and_claim_runs(
        &self,
        runs: &[NewRun],
        claim: &ClaimRequest,
    ) -> Result<(Vec<Option<RunId>>, Vec<Run>), StoreError> {
        queue::enqueue_and_claim_runs(self, runs, claim).await
    }

    async fn heartbeat_runs(
        &self,
        worker: &str,
        ids: &[RunId],
        lease_until: Millis,
    ) -> Result<Vec<RunId>, StoreError> {
        queue::heartbeat_runs(self, worker, ids, lease_until).await
    }

    async fn finish_runs(&self, finishes: &[RunFinish]) -> Result<Vec<RunId>, StoreError> {
        queue::finish_runs(self, finishes).await
    }

    async fn release_expired_runs(
        &self,
        now: Millis,
        dead_workers: &[String],
    ) -> Result<Vec<Run>, StoreError> {
        queue::release_expired_runs(self, now, dead_workers).await
    }

    async fn claim_run(
        &self,
        id: RunId,
        worker: &str,
        now: Millis,
        lease: Millis,
    ) -> Result<Option<Run>, StoreError> {
        queue::claim_run(self, id, worker, now, lease).await
    }

    async fn cancel_runs(&self, ids: &[RunId], at: Millis) -> Result<Vec<RunId>, StoreError> {
        queue::cancel_runs(self, ids, at).await
    }

    async fn run(&self, id: RunId) -> Result<Option<Run>, StoreError> {
        queue::run(self, id).await
    }

    async fn runs(&self, query: &RunQuery) -> Result<Vec<Run>, StoreError> {
        queue::runs(self, query).await
    }

    async fn queue_depth(&self, now: Millis) -> Result<QueueDepth, StoreError> {
        queue::queue_depth(self, now).await
    }

    async fn task_stats(&self, since: Millis) -> Result<Vec<TaskStats>, StoreError> {
        queue::task_stats(self, since).await
    }

    async fn schedule_marks(&self) -> Result<Vec<(String, Millis)>, StoreError> {
        queue::schedule_marks(self).await
    }

    async fn open_incident(&self, new: &NewIncident) -> Result<(Incident, bool), StoreError> {
        queue::open_incident(self, new).await
    }

    async fn add_escalation_step(
        &self,
        incident: i64,
        step: &EscalationStep,
    ) -> Result<Incident, StoreError> {
        queue::add_escalation_step(self, incident, step).await
    }

    async fn update_escalation_step(
        &self,
        incident: i64,
        index: usize,
        outcome: StepOutcome,
        run: Option<RunId>,
    ) -> Result<Incident, StoreError> {
        queue::update_escalation_step(self, incident, index, outcome, run).await
    }

    async fn resolve_incidents(
        &self,
        ids: &[i64],
        task: Option<&str>,
        at: Millis,
        resolution: &str,
    ) -> Result<Vec<Incident>, StoreError> {
        queue::resolve_incidents(self, ids, task, at, resolution).await
    }

    async fn incident(&self, id: i64) -> Result<Option<Incident>, StoreError> {
        queue::incident(self, id).await
    }

    async fn incidents(&self, query: &IncidentQuery) -> Result<Vec<Incident>, StoreError> {
        queue::incidents(self, query).await
    }

    async fn append_audit(
        &self,
        records: &[crate::audit::AuditRecord],
    ) -> Result<Vec<i64>, StoreError> {
        audit::append(self, records).await
    }

    async fn audit(
        &self,
        query: &crate::audit::AuditQuery,
    ) -> Result<Vec<crate::audit::AuditRecord>, StoreError> {
        audit::read(self, query).await
    }

    async fn append_figures(
        &self,
        samples: &[crate::figures::FigureSample],
    ) -> Result<(), StoreError> {
        figures::append(self, samples).await
    }

    async fn latest_figures(&self) -> Result<Vec<crate::figures::FigureSample>, StoreError> {
        figures::latest(self).await
    }

    async fn figure_series(
        &self,
        query: &crate::figures::FigureQuery,
    ) -> Result<Vec<crate::figures::FigurePoint>, StoreError> {
        figures::series(self, query).await
    }

    async fn save_alert(&self, alert: &Alert) -> Result<Alert, StoreError> {
        alerts::save_alert(self, alert).await
    }

    async fn alert(&self, id: i64) -> Result<Option<Alert>, StoreError> {
        alerts::alert(self, id).await
    }

    async fn alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
        alerts::alerts(self, query).await
    }

    async fn acknowledge_alert(
        &self,
        id: i64,
        by: &str,
        at: Millis,
    ) -> Result<Option<Alert>, StoreError> {
        alerts::acknowledge_alert(self, id, by, at).await
    }

    async fn create_silence(&self, new: &NewSilence) -> Result<Silence, StoreError> {
        alerts::create_silence(self, new).await
    }

    async fn silences(&self, active_at: Option<Millis>) -> Result<Vec<Silence>, StoreError> {
        alerts::silences(self, active_at).await
    }

    async fn expire_silence(&self, id: i64, at: Millis) -> Result<Option<Silence>, StoreError> {
        alerts::expire_silence(self, id, at).await
    }

    async fn record_deliveries(&self, deliveries: &[Delivery]) -> Result<Vec<bool>, StoreError> {
        alerts::record_deliveries(self, deliveries).await
    }

    async fn update_deliveries(&self, update: &DeliveryUpdate) -> Result<(), StoreError> {
        alerts::update_deliveries(self, update).await
    }

    async fn deliveries(&self, alert: i64) -> Result<Vec<Delivery>, StoreError> {
        alerts::deliveries(self, alert).await
    }

    async fn outbox_push(
        &self,
        entries: &[crate::OutboxEntry],
        max_pending: u64,
    ) -> Result<(Vec<crate::OutboxEntry>, u64), StoreError> {
        outbox::push(self, entries, max_pending).await
    }

    async fn outbox_peek(
        &self,
        output: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<crate::OutboxEntry>, StoreError> {
        outbox::peek(self, output, after, limit).await
    }

    async fn outbox_ack(&self, output: &str, ids: &[i64]) -> Result<(), StoreError> {
        outbox::ack(self, output, ids).await
    }

    async fn outbox_depths(&self) -> Result<Vec<crate::OutboxDepth>, StoreError> {
        outbox::depths(self).await
    }

    async fn apply_workflow_sync(
        &self,
        service: &str,
        sync: &crate::WorkflowSync,
    ) -> Result<usize, StoreError> {
        workflows::apply(self, service, sync).await
    }

    async fn workflow_cursor(&self, service: &str) -> Result<Option<String>, StoreError> {
        workflows::cursor(self, service).await
    }

    async fn running_executions(
        &self,
        service: &str,
    ) -> Result<Vec<crate::ExecutionRecord>, StoreError> {
        workflows::running(self, service).await
    }

    async fn workflow_stats(
        &self,
        service: &str,
        since: Millis,
    ) -> Result<Vec<crate::WorkflowStats>, StoreError> {
        workflows::stats(self, service, since).await
    }

    async fn workflow_executions(
        &self,
        service: &str,
        workflow_id: &str,
        limit: usize,
    ) -> Result<Vec<crate::ExecutionRecord>, StoreError> {
        workflows::executions(self, service, workflow_id, limit).await
    }

    async fn prune_executions(&self, before: Millis) -> Result<u64, StoreError> {
        workflows::prune(self, before).await
    }

    async fn register_node(&self, node: &crate::NodeRecord) -> Result<(), StoreError> {
        nodes::register(self, node).await
    }

    async fn heartbeat_node(&self, id: &str, at: Millis) -> Result<bool, StoreError> {
        nodes::heartbeat(self, id, at).await
    }

    async fn deregister_node(&self, id: &str) -> Result<(), StoreError> {
        nodes::deregister(self, id).await
    }

    async fn nodes(&self) -> Result<Vec<crate::NodeRecord>, StoreError> {
        nodes::list(self).await
    }

    async fn acquire_check_leases(
        &self,
        node: &str,
        keys: &[String],
        now: Millis,
        until: Millis,
    ) -> Result<Vec<String>, StoreError> {
        leases::acquire(self, node, keys, now, until).await
    }

    async fn release_check_leases(
        &self,
        node: &str,
        keys: Option<&[String]>,
    ) -> Result<(), StoreError> {
        leases::release(self, node, keys).await
    }

    async fn check_leases(&self) -> Result<Vec<crate::CheckLease>, StoreError> {
        leases::list(self).await
    }

    async fn listen_events(&self, label: &str) -> Result<crate::EventListener, StoreError> {
        listen::listen(self, label).await
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.pool.close().await;
        Ok(())
    }
}
