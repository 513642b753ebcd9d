//! The audit log of the PostgreSQL store (table of migration 12): appends are one transaction,
//! reads newest first.

use super::{PostgresStore, pg_text, query_error};
use crate::audit::{AuditOutcome, AuditQuery, AuditRecord, MAX_AUDIT_PAGE};
use crate::{Millis, Retention, StoreError};

pub(super) async fn append(
    store: &PostgresStore,
    records: &[AuditRecord],
) -> Result<Vec<i64>, StoreError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let error = query_error("writing the audit log");
    let mut transaction = store.pool.begin().await.map_err(&error)?;
    let mut ids = Vec::with_capacity(records.len());
    for r in records {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit (at, surface, client, scope, tool, upstream, arguments, \
             arguments_sha256, outcome, duration_ms, message) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(r.at)
        .bind(&r.surface)
        .bind(&r.client)
        .bind(&r.scope)
        .bind(&r.tool)
        .bind(r.upstream.as_deref())
        .bind(pg_text(&r.arguments.to_string()).into_owned())
        .bind(&r.arguments_sha256)
        .bind(r.outcome.as_str())
        .bind(r.duration_ms)
        .bind(r.message.as_deref().map(|m| pg_text(m).into_owned()))
        .fetch_one(&mut *transaction)
        .await
        .map_err(&error)?;
        ids.push(id);
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
    store: &PostgresStore,
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
        .fetch_all(&store.pool)
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
    store: &PostgresStore,
    now: Millis,
    retention: Retention,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM audit WHERE at < $1")
        .bind(now.saturating_sub(retention.events))
        .execute(&store.pool)
        .await
        .map_err(query_error("deleting old audit records"))?;
    Ok(())
}
