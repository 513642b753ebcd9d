//! [`SqliteStore`]: the embedded [`Store`](crate::Store) on one SQLite file in WAL mode.
//!
//! Writes go through one connection (a pool of one), in `BEGIN IMMEDIATE` transactions; reads
//! go through a small pool of reader connections that see consistent snapshots and never wait
//! for the writer. Submodules: `migrate` (versioned schema), `write` (results and events),
//! `maintain` (folding rollups, retention), `read` (every query of results and events),
//! `queue` (the run queue and incidents, with their retention).

mod alerts;
mod audit;
mod checkpoint;
mod figures;
mod maintain;
mod migrate;
mod outbox;
mod queue;
mod read;
mod workflows;
mod write;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::ConnectOptions as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use tokio::sync::Notify;

use crate::alerts::{Alert, AlertQuery, Delivery, DeliveryUpdate, NewSilence, Silence};
use crate::queue::{
    ClaimRequest, EscalationStep, Incident, IncidentQuery, NewIncident, NewRun, QueueDepth, Run,
    RunFinish, RunId, RunQuery, StepOutcome, TaskStats,
};
use crate::{
    EventQuery, EventRecord, Millis, Resolution, ResultRecord, Retention, Rollup, Store,
    StoreError, Uptime,
};

/// How much an acknowledged write survives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL` in WAL mode: a commit is in the operating system's hands when it
    /// returns, so it survives a crash or `kill -9` of the process; a power loss or kernel
    /// crash may lose the last commits (never corrupting the database). Commits do not fsync.
    #[default]
    Process,
    /// `synchronous=FULL`: every commit fsyncs the WAL, so it survives a power loss too, at
    /// the cost of one fsync per batch.
    PowerLoss,
}

/// How [`SqliteStore::open_with`] opens the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// What an acknowledged write survives.
    pub durability: Durability,
    /// Reader connections (at least 1).
    pub readers: u32,
    /// How long a statement waits for another process's lock before failing.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            durability: Durability::Process,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The store in one SQLite database file (or in memory, for tests).
#[derive(Debug)]
pub struct SqliteStore {
    /// One connection: every write, and `maintain`.
    writer: SqlitePool,
    /// Snapshot reads; the same pool as `writer` for an in-memory database.
    readers: SqlitePool,
    /// Service name to id, for ids known to be committed (ids never change once assigned).
    service_ids: Mutex<HashMap<String, i64>>,
    /// The WAL checkpoint task of a database file (`checkpoint.rs`); stopped with the store.
    checkpointer: Option<tokio::task::AbortHandle>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.abort();
        }
    }
}

/// The bucket widths, as stored in `rollups.width` and `fold_state.width`.
const MINUTE: Millis = 60_000;
const HOUR: Millis = 3_600_000;

impl SqliteStore {
    /// Opens (creating it and its directory if needed) and migrates the database at `path`,
    /// with the default options: durable against process crashes, four readers.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, SqliteOptions::default()).await
    }

    /// Opens (creating it and its directory if needed) and migrates the database at `path`.
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        let location = path.display().to_string();
        let open_error = |message: String| StoreError::Open {
            location: location.clone(),
            message,
        };
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|error| {
                open_error(format!(
                    "cannot create the directory `{}`: {error}",
                    parent.display()
                ))
            })?;
        }
        // A new database is its owner's alone: check targets may carry credentials. SQLite
        // gives its `-wal` and `-shm` files the database file's mode.
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(open_error(format!("cannot create it: {error}"))),
            }
        }
        let synchronous = match options.durability {
            Durability::Process => SqliteSynchronous::Normal,
            Durability::PowerLoss => SqliteSynchronous::Full,
        };
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout)
            .synchronous(synchronous)
            // Multi-row inserts are prepared once per row count (results, events, runs): room
            // for them all beside the claim and finish statements, so none is re-prepared.
            .statement_cache_capacity(1_024);
        // The writer switches the file to WAL (persistent) and migrates before readers connect.
        // Its own automatic checkpoint is a backstop only: the checkpoint task does it, off the
        // commits' path (`checkpoint.rs`), told by each release of the writer that it wrote.
        let wrote = Arc::new(Notify::new());
        let writer = {
            let wrote = wrote.clone();
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .after_release(move |_, _| {
                    wrote.notify_one();
                    Box::pin(async { Ok(true) })
                })
                .connect_with(connect.clone().journal_mode(SqliteJournalMode::Wal).pragma(
                    "wal_autocheckpoint",
                    checkpoint::WRITER_BACKSTOP_PAGES.to_string(),
                ))
                .await
                .map_err(|error| open_error(error.to_string()))?
        };
        migrate::migrate(&writer).await.map_err(&open_error)?;
        let checkpointer = connect
            .connect()
            .await
            .map_err(|error| open_error(error.to_string()))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .connect_with(connect)
            .await
            .map_err(|error| open_error(error.to_string()))?;
        let mut store = SqliteStore::from_pools(writer, readers);
        store.checkpointer =
            Some(tokio::spawn(checkpoint::run(checkpointer, wrote)).abort_handle());
        Ok(store)
    }

    /// A fresh database in memory, gone when the store is dropped: for tests. One connection
    /// serves reads and writes, so it exercises the queries but not WAL snapshots.
    pub async fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let open_error = |message: String| StoreError::Open {
            location: ":memory:".to_owned(),
            message,
        };
        let connect = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|error| open_error(error.to_string()))?
            .foreign_keys(true);
        // The database lives as long as its one connection: never let the pool close it.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(connect)
            .await
            .map_err(|error| open_error(error.to_string()))?;
        migrate::migrate(&pool).await.map_err(open_error)?;
        Ok(SqliteStore::from_pools(pool.clone(), pool))
    }

    fn from_pools(writer: SqlitePool, readers: SqlitePool) -> SqliteStore {
        SqliteStore {
            writer,
            readers,
            service_ids: Mutex::new(HashMap::new()),
            checkpointer: None,
        }
    }

    /// The schema version of the database (`PRAGMA user_version`).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let mut connection = self
            .readers
            .acquire()
            .await
            .map_err(query_error("reading the schema version"))?;
        migrate::user_version(&mut connection)
            .await
            .map_err(query_error("reading the schema version"))
    }

    /// The newest schema version this build knows.
    pub fn latest_schema_version() -> i64 {
        migrate::latest_version()
    }

    /// The writer connection's pool, for what the `Store` trait does not say (the offline copy).
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
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

/// How far results are folded into minute and hour rollups (see `fold_state` in the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FoldMarks {
    /// Every result before this is counted in minute rollups, none at or after it.
    minutes: Millis,
    /// Every result before this is counted in hour rollups, none at or after it.
    hours: Millis,
}

async fn fold_marks(connection: &mut SqliteConnection) -> Result<FoldMarks, sqlx::Error> {
    let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT width, folded_until FROM fold_state")
        .fetch_all(connection)
        .await?;
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
impl Store for SqliteStore {
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

    async fn cancel_runs(&self, ids: &[RunId], at: Millis) -> Result<Vec<RunId>, StoreError> {
        queue::cancel_runs(self, ids, at).await
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

    async fn close(&self) -> Result<(), StoreError> {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.abort();
        }
        self.readers.close().await;
        self.writer.close().await;
        Ok(())
    }
}
