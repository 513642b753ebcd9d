//! The workflow engines' tables of the SQLite store (migrations 5, 10 and 12): one sync round
//! is one `BEGIN IMMEDIATE` transaction on the writer, which also folds what it changes into
//! the hourly rollups (`workflow_rollups`, [`crate::workflow_rollups`]); the figures are read
//! on the readers, rollups and a window's first partial hour of raw rows in one transaction,
//! and summarized by [`crate::workflows::summarize`].

use std::collections::BTreeMap;

use sqlx::Row as _;
use sqlx::sqlite::SqliteConnection;

use super::{SqliteStore, query_error};
use crate::workflow_rollups::{Deltas, HourFigures, rollups_from};
use crate::workflows::{
    ExecutionRecord, MAX_EXECUTIONS_PAGE, MAX_RUNNING_PAGE, WorkflowFailure, WorkflowRecord,
    WorkflowRow, WorkflowStats, WorkflowSync, summarize,
};
use crate::{Millis, StoreError};

fn malformed(what: impl std::fmt::Display) -> StoreError {
    StoreError::Query(format!("a stored workflow record is malformed: {what}"))
}

/// Per workflow touched by a round: its last start and last successful stop in the round.
fn marks(executions: &[ExecutionRecord]) -> BTreeMap<&str, (Millis, Option<Millis>)> {
    let mut marks: BTreeMap<&str, (Millis, Option<Millis>)> = BTreeMap::new();
    for e in executions {
        let entry = marks
            .entry(e.workflow_id.as_str())
            .or_insert((e.started_at, None));
        entry.0 = entry.0.max(e.started_at);
        if e.status == "success" {
            let at = e.stopped_at.unwrap_or(e.started_at);
            entry.1 = Some(entry.1.map_or(at, |old| old.max(at)));
        }
    }
    marks
}

pub(super) async fn apply(
    store: &SqliteStore,
    service: &str,
    sync: &WorkflowSync,
) -> Result<usize, StoreError> {
    let error = query_error("writing a workflow sync round");
    let mut tx = store
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(&error)?;
    for w in sync.workflows.iter().flatten() {
        let tags = serde_json::to_string(&w.tags).map_err(malformed)?;
        sqlx::query(
            "INSERT INTO workflows (service, id, name, active, tags) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (service, id) DO UPDATE SET name = excluded.name, \
             active = excluded.active, tags = excluded.tags",
        )
        .bind(service)
        .bind(&w.id)
        .bind(&w.name)
        .bind(w.active)
        .bind(&tags)
        .execute(&mut *tx)
        .await
        .map_err(&error)?;
    }
    let mut new = 0;
    let mut deltas = Deltas::default();
    for e in &sync.executions {
        let inserted = sqlx::query(
            "INSERT INTO workflow_executions \
             (service, id, workflow_id, status, mode, started_at, stopped_at, retry_of) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (service, id) DO NOTHING",
        )
        .bind(service)
        .bind(&e.id)
        .bind(&e.workflow_id)
        .bind(&e.status)
        .bind(&e.mode)
        .bind(e.started_at)
        .bind(e.stopped_at)
        .bind(&e.retry_of)
        .execute(&mut *tx)
        .await
        .map_err(&error)?;
        if inserted.rows_affected() == 1 {
            new += 1;
            deltas.record(&e.workflow_id, &e.status, e.started_at, e.stopped_at, 1);
            continue;
        }
        // Known: when its status or stop changed, it moves in its hour's rollup.
        let (workflow, status, started, stopped): (String, String, Millis, Option<Millis>) =
            sqlx::query_as(
                "SELECT workflow_id, status, started_at, stopped_at FROM workflow_executions \
                 WHERE service = ?1 AND id = ?2",
            )
            .bind(service)
            .bind(&e.id)
            .fetch_one(&mut *tx)
            .await
            .map_err(&error)?;
        if status == e.status && stopped == e.stopped_at {
            continue;
        }
        sqlx::query(
            "UPDATE workflow_executions SET status = ?3, stopped_at = ?4 \
             WHERE service = ?1 AND id = ?2",
        )
        .bind(service)
        .bind(&e.id)
        .bind(&e.status)
        .bind(e.stopped_at)
        .execute(&mut *tx)
        .await
        .map_err(&error)?;
        deltas.record(&workflow, &status, started, stopped, -1);
        deltas.record(&workflow, &e.status, started, e.stopped_at, 1);
    }
    write_rollups(&mut tx, service, &deltas).await?;
    for (workflow, (last_run, last_success)) in marks(&sync.executions) {
        sqlx::query(
            "INSERT INTO workflows (service, id, name, last_run_at, last_success_at) \
             VALUES (?1, ?2, ?2, ?3, ?4) ON CONFLICT (service, id) DO UPDATE SET \
             last_run_at = MAX(COALESCE(workflows.last_run_at, ?3), ?3), \
             last_success_at = CASE WHEN ?4 IS NULL THEN workflows.last_success_at \
             ELSE MAX(COALESCE(workflows.last_success_at, ?4), ?4) END",
        )
        .bind(service)
        .bind(workflow)
        .bind(last_run)
        .bind(last_success)
        .execute(&mut *tx)
        .await
        .map_err(&error)?;
    }
    for f in &sync.failures {
        let failure = serde_json::to_string(f).map_err(malformed)?;
        sqlx::query(
            "INSERT INTO workflows (service, id, name, failure, failure_at) \
             VALUES (?1, ?2, ?2, ?3, ?4) ON CONFLICT (service, id) DO UPDATE SET \
             failure = excluded.failure, failure_at = excluded.failure_at \
             WHERE workflows.failure_at IS NULL OR workflows.failure_at <= excluded.failure_at",
        )
        .bind(service)
        .bind(&f.workflow_id)
        .bind(&failure)
        .bind(f.at)
        .execute(&mut *tx)
        .await
        .map_err(&error)?;
    }
    sqlx::query(
        "INSERT INTO workflow_cursors (service, cursor) VALUES (?1, ?2) \
         ON CONFLICT (service) DO UPDATE SET cursor = excluded.cursor",
    )
    .bind(service)
    .bind(&sync.cursor)
    .execute(&mut *tx)
    .await
    .map_err(&error)?;
    tx.commit().await.map_err(&error)?;
    Ok(new)
}

pub(super) async fn cursor(
    store: &SqliteStore,
    service: &str,
) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar("SELECT cursor FROM workflow_cursors WHERE service = ?1")
        .bind(service)
        .fetch_optional(&store.readers)
        .await
        .map_err(query_error("reading a workflow cursor"))
}

pub(super) async fn running(
    store: &SqliteStore,
    service: &str,
) -> Result<Vec<ExecutionRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, workflow_id, status, mode, started_at, stopped_at, retry_of \
         FROM workflow_executions WHERE service = ?1 AND status IN ('running', 'waiting', 'new') \
         ORDER BY started_at, id LIMIT ?2",
    )
    .bind(service)
    .bind(MAX_RUNNING_PAGE as i64)
    .fetch_all(&store.readers)
    .await
    .map_err(query_error("reading running executions"))?;
    rows.iter()
        .map(|row| {
            Ok(ExecutionRecord {
                id: row.try_get(0).map_err(malformed)?,
                workflow_id: row.try_get(1).map_err(malformed)?,
                status: row.try_get(2).map_err(malformed)?,
                mode: row.try_get(3).map_err(malformed)?,
                started_at: row.try_get(4).map_err(malformed)?,
                stopped_at: row.try_get(5).map_err(malformed)?,
                retry_of: row.try_get(6).map_err(malformed)?,
            })
        })
        .collect()
}

pub(super) async fn executions(
    store: &SqliteStore,
    service: &str,
    workflow_id: &str,
    limit: usize,
) -> Result<Vec<ExecutionRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, workflow_id, status, mode, started_at, stopped_at, retry_of \
         FROM workflow_executions WHERE service = ?1 AND workflow_id = ?2 \
         ORDER BY started_at DESC, id DESC LIMIT ?3",
    )
    .bind(service)
    .bind(workflow_id)
    .bind(limit.min(MAX_EXECUTIONS_PAGE) as i64)
    .fetch_all(&store.readers)
    .await
    .map_err(query_error("reading a workflow's executions"))?;
    rows.iter()
        .map(|row| {
            Ok(ExecutionRecord {
                id: row.try_get(0).map_err(malformed)?,
                workflow_id: row.try_get(1).map_err(malformed)?,
                status: row.try_get(2).map_err(malformed)?,
                mode: row.try_get(3).map_err(malformed)?,
                started_at: row.try_get(4).map_err(malformed)?,
                stopped_at: row.try_get(5).map_err(malformed)?,
                retry_of: row.try_get(6).map_err(malformed)?,
            })
        })
        .collect()
}

pub(super) async fn stats(
    store: &SqliteStore,
    service: &str,
    since: Millis,
) -> Result<Vec<WorkflowStats>, StoreError> {
    let error = query_error("reading workflow figures");
    let mut reader = store.readers.begin().await.map_err(&error)?;
    let rows = sqlx::query(
        "SELECT id, name, active, tags, last_success_at, last_run_at, failure \
         FROM workflows WHERE service = ?1",
    )
    .bind(service)
    .fetch_all(&mut *reader)
    .await
    .map_err(&error)?;
    let mut workflows = Vec::with_capacity(rows.len());
    for row in &rows {
        let tags: String = row.try_get(3).map_err(malformed)?;
        let failure: Option<String> = row.try_get(6).map_err(malformed)?;
        workflows.push(WorkflowRow {
            record: WorkflowRecord {
                id: row.try_get(0).map_err(malformed)?,
                name: row.try_get(1).map_err(malformed)?,
                active: row.try_get(2).map_err(malformed)?,
                tags: serde_json::from_str(&tags).map_err(malformed)?,
            },
            last_success_at: row.try_get(4).map_err(malformed)?,
            last_run_at: row.try_get(5).map_err(malformed)?,
            last_failure: failure
                .map(|f| serde_json::from_str::<WorkflowFailure>(&f))
                .transpose()
                .map_err(malformed)?,
        });
    }
    // Whole hours from the rollups, the first partial hour (if any) from the raw rows.
    let hours_from = rollups_from(since);
    let mut window: BTreeMap<String, HourFigures> = BTreeMap::new();
    let hours: Vec<(String, String, f64, f64, Vec<u8>)> = sqlx::query_as(
        "SELECT workflow_id, runs, min_ms, max_ms, histogram FROM workflow_rollups \
         WHERE service = ?1 AND hour >= ?2",
    )
    .bind(service)
    .bind(hours_from)
    .fetch_all(&mut *reader)
    .await
    .map_err(&error)?;
    for (workflow, runs, min_ms, max_ms, histogram) in hours {
        window
            .entry(workflow)
            .or_default()
            .merge_row(&runs, min_ms, max_ms, &histogram)?;
    }
    if since < hours_from {
        let head: Vec<(String, String, Millis, Option<Millis>)> = sqlx::query_as(
            "SELECT workflow_id, status, started_at, stopped_at FROM workflow_executions \
             WHERE service = ?1 AND started_at >= ?2 AND started_at < ?3",
        )
        .bind(service)
        .bind(since)
        .bind(hours_from)
        .fetch_all(&mut *reader)
        .await
        .map_err(&error)?;
        for (workflow, status, started, stopped) in head {
            window
                .entry(workflow)
                .or_default()
                .add_execution(&status, started, stopped);
        }
    }
    let running: Vec<(String, Millis)> = sqlx::query_as(
        "SELECT workflow_id, started_at FROM workflow_executions \
         WHERE service = ?1 AND status IN ('running', 'waiting', 'new')",
    )
    .bind(service)
    .fetch_all(&mut *reader)
    .await
    .map_err(&error)?;
    reader.commit().await.map_err(&error)?;
    Ok(summarize(workflows, window, &running))
}

pub(super) async fn prune(store: &SqliteStore, before: Millis) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM workflow_executions WHERE started_at < ?1 \
         AND status NOT IN ('running', 'waiting', 'new')",
    )
    .bind(before)
    .execute(&store.writer)
    .await
    .map_err(query_error("pruning executions"))?;
    Ok(done.rows_affected())
}

/// Folds a round's changes into the stored hourly rollups of `service`.
async fn write_rollups(
    connection: &mut SqliteConnection,
    service: &str,
    deltas: &Deltas,
) -> Result<(), StoreError> {
    let error = query_error("writing workflow rollups");
    for ((workflow, hour), delta) in &deltas.0 {
        let stored: Option<(String, f64, f64, Vec<u8>)> = sqlx::query_as(
            "SELECT runs, min_ms, max_ms, histogram FROM workflow_rollups \
             WHERE service = ?1 AND hour = ?2 AND workflow_id = ?3",
        )
        .bind(service)
        .bind(hour)
        .bind(workflow)
        .fetch_optional(&mut *connection)
        .await
        .map_err(&error)?;
        let mut figures = match stored {
            Some((runs, min_ms, max_ms, histogram)) => {
                HourFigures::from_row(&runs, min_ms, max_ms, &histogram)?
            }
            None => HourFigures::default(),
        };
        figures.apply(delta);
        let (min_ms, max_ms) = figures.extremes();
        sqlx::query(
            "INSERT INTO workflow_rollups (service, hour, workflow_id, executions, successes, \
             failures, runs, min_ms, max_ms, histogram) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (service, hour, workflow_id) DO UPDATE SET \
             executions = excluded.executions, successes = excluded.successes, \
             failures = excluded.failures, runs = excluded.runs, min_ms = excluded.min_ms, \
             max_ms = excluded.max_ms, histogram = excluded.histogram",
        )
        .bind(service)
        .bind(hour)
        .bind(workflow)
        .bind(i64::try_from(figures.executions()).unwrap_or(i64::MAX))
        .bind(i64::try_from(figures.successes()).unwrap_or(i64::MAX))
        .bind(i64::try_from(figures.failures()).unwrap_or(i64::MAX))
        .bind(figures.runs_json())
        .bind(min_ms)
        .bind(max_ms)
        .bind(figures.encoded_durations())
        .execute(&mut *connection)
        .await
        .map_err(&error)?;
    }
    Ok(())
}

/// Rolls up every execution already recorded (migration 12 runs it, in its transaction, on a
/// store that recorded executions before the rollups existed).
pub(super) async fn backfill_rollups(connection: &mut SqliteConnection) -> Result<(), StoreError> {
    let error = query_error("rolling up recorded executions");
    let rows: Vec<(String, String, String, Millis, Option<Millis>)> = sqlx::query_as(
        "SELECT service, workflow_id, status, started_at, stopped_at FROM workflow_executions \
         ORDER BY service",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(&error)?;
    let mut by_service: BTreeMap<String, Deltas> = BTreeMap::new();
    for (service, workflow, status, started, stopped) in rows {
        by_service
            .entry(service)
            .or_default()
            .record(&workflow, &status, started, stopped, 1);
    }
    for (service, deltas) in &by_service {
        write_rollups(connection, service, deltas).await?;
    }
    Ok(())
}
