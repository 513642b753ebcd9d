//! The audit log of the SQLite store (table of migration 9): appends are one `BEGIN IMMEDIATE`
//! transaction on the writer (multi-row inserts), reads go to the readers, newest first.

use super::{SqliteStore, query_error};
use crate::audit::{AuditOutcome, AuditQuery, AuditRecord, MAX_AUDIT_PAGE};
use crate::{Millis, Retention, StoreError};

/// Records per `INSERT` (11 parameters each, far below SQLite's limit of 32,766).
const ROWS_PER_INSERT: usize = 256;

pub(super) async fn append(
    store: &SqliteStore,
    records: &[AuditRecord],
) -> Result<Vec<i64>, StoreError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let error = query_error("writing the audit log");
    let mut transaction = store
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(&error)?;
    // One multi-row statement per chunk: a statement is a round trip to the connection's
    // thread, and a busy hub queues thousands of records a second.
    let mut ids = Vec::with_capacity(records.len());
    for chunk in records.chunks(ROWS_PER_INSERT) {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO audit (at, surface, client, scope, tool, upstream, arguments, \
             arguments_sha256, outcome, duration_ms, message) ",
        );
        insert.push_values(chunk, |mut row, r| {
            row.push_bind(r.at)
                .push_bind(r.surface.as_str())
                .push_bind(r.client.as_str())
                .push_bind(r.scope.as_str())
                .push_bind(r.tool.as_str())
                .push_bind(r.upstream.as_deref())
                .push_bind(r.arguments.to_string())
                .push_bind(r.arguments_sha256.as_str())
                .push_bind(r.outcome.as_str())
                .push_bind(r.duration_ms)
                .push_bind(r.message.as_deref());
        });
        insert.push(" RETURNING id");
        let mut chunk_ids: Vec<i64> = insert
            .build_query_scalar()
            .fetch_all(&mut *transaction)
            .await
            .map_err(&error)?;
        // The rows are numbered in the order of the VALUES (one writer, AUTOINCREMENT);
        // RETURNING's order is not promised, so the ids are put back in that order.
        chunk_ids.sort_unstable();
        ids.extend(chunk_ids);
    }
    transaction.commit().await.map_err(&error)?;
    Ok(ids)
}

type Row = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    f64,
    Option<String>,
);

pub(super) async fn read(
    store: &SqliteStore,
    query: &AuditQuery,
) -> Result<Vec<AuditRecord>, StoreError> {
    let limit = query.limit.min(MAX_AUDIT_PAGE);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut builder = sqlx::QueryBuilder::new(
        "SELECT id, at, surface, client, scope, tool, upstream, arguments, arguments_sha256, \
         outcome, duration_ms, message FROM audit WHERE 1 = 1",
    );
    if let Some(before) = query.before {
        builder.push(" AND id < ").push_bind(before);
    }
    if let Some(tool) = &query.tool {
        builder.push(" AND tool = ").push_bind(tool.as_str());
    }
    if let Some(client) = &query.client {
        builder.push(" AND client = ").push_bind(client.as_str());
    }
    if let Some(outcome) = query.outcome {
        builder.push(" AND outcome = ").push_bind(outcome.as_str());
    }
    if let Some(since) = query.since {
        builder.push(" AND at >= ").push_bind(since);
    }
    builder
        .push(" ORDER BY id DESC LIMIT ")
        .push_bind(limit as i64);
    let rows: Vec<Row> = builder
        .build_query_as()
        .fetch_all(&store.readers)
        .await
        .map_err(query_error("reading the audit log"))?;
    rows.into_iter().map(record).collect()
}

pub(super) fn record(row: Row) -> Result<AuditRecord, StoreError> {
    let (
        id,
        at,
        surface,
        client,
        scope,
        tool,
        upstream,
        arguments,
        sha,
        outcome,
        duration,
        message,
    ) = row;
    let arguments = serde_json::from_str(&arguments).map_err(|error| {
        StoreError::Query(format!(
            "audit record {id} has malformed arguments: {error}"
        ))
    })?;
    let outcome = AuditOutcome::parse(&outcome).ok_or_else(|| {
        StoreError::Query(format!(
            "audit record {id} has an unknown outcome `{outcome}`"
        ))
    })?;
    Ok(AuditRecord {
        id,
        at,
        surface,
        client,
        scope,
        tool,
        upstream,
        arguments,
        arguments_sha256: sha,
        outcome,
        duration_ms: duration,
        message,
    })
}

pub(super) async fn apply_retention(
    store: &SqliteStore,
    now: Millis,
    retention: Retention,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM audit WHERE at < ?1")
        .bind(now.saturating_sub(retention.events))
        .execute(&store.writer)
        .await
        .map_err(query_error("deleting old audit records"))?;
    Ok(())
}
