//! The event outbox of the PostgreSQL store (table of migration 5), with the SQLite store's
//! semantics: one transaction writes the entries and applies the bound. Several nodes may share
//! the table; each output is delivered by the node that runs it.

use sqlx::Row as _;

use super::{PostgresStore, pg_text, query_error};
use crate::StoreError;
use crate::outbox::{MAX_OUTBOX_PAGE, OutboxDepth, OutboxEntry};

pub(super) async fn push(
    store: &PostgresStore,
    entries: &[OutboxEntry],
    max_pending: u64,
) -> Result<(Vec<OutboxEntry>, u64), StoreError> {
    if entries.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let error = query_error("writing to the outbox");
    let mut transaction = store.pool.begin().await.map_err(&error)?;
    let mut written = Vec::with_capacity(entries.len());
    let mut outputs: Vec<&str> = Vec::new();
    for entry in entries {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (output, event_id, key, service, at, retain, payload) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&entry.output)
        .bind(&entry.event_id)
        .bind(&entry.key)
        .bind(entry.service.as_deref().map(pg_text))
        .bind(entry.at)
        .bind(entry.retain)
        .bind(pg_text(&entry.payload))
        .fetch_one(&mut *transaction)
        .await
        .map_err(&error)?;
        written.push(OutboxEntry {
            id,
            ..entry.clone()
        });
        if !outputs.contains(&entry.output.as_str()) {
            outputs.push(&entry.output);
        }
    }
    let keep = i64::try_from(max_pending).unwrap_or(i64::MAX);
    let mut dropped = 0;
    for output in outputs {
        // Ids are unique: when the output's ids span at most `keep`, it holds at most `keep`
        // entries and nothing is dropped (two index seeks instead of the OFFSET's walk).
        let span: Option<(i64, i64)> = sqlx::query_as::<_, (Option<i64>, Option<i64>)>(
            "SELECT (SELECT id FROM outbox WHERE output = $1 ORDER BY id LIMIT 1), \
                    (SELECT id FROM outbox WHERE output = $1 ORDER BY id DESC LIMIT 1)",
        )
        .bind(output)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(&error)?
        .and_then(|(oldest, newest)| oldest.zip(newest));
        if span.is_none_or(|(oldest, newest)| newest.saturating_sub(oldest) < keep) {
            continue;
        }
        let outcome = sqlx::query(
            "DELETE FROM outbox WHERE output = $1 AND id <= \
             (SELECT id FROM outbox WHERE output = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
        )
        .bind(output)
        .bind(keep)
        .execute(&mut *transaction)
        .await
        .map_err(&error)?;
        dropped += outcome.rows_affected();
    }
    transaction.commit().await.map_err(&error)?;
    Ok((written, dropped))
}

pub(super) async fn peek(
    store: &PostgresStore,
    output: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let limit = i64::try_from(limit.min(MAX_OUTBOX_PAGE)).unwrap_or(0);
    let rows = sqlx::query(
        "SELECT id, output, event_id, key, service, at, retain, payload FROM outbox \
         WHERE output = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(output)
    .bind(after)
    .bind(limit)
    .fetch_all(&store.pool)
    .await
    .map_err(query_error("reading the outbox"))?;
    rows.iter()
        .map(|row| {
            Ok(OutboxEntry {
                id: row.try_get(0)?,
                output: row.try_get(1)?,
                event_id: row.try_get(2)?,
                key: row.try_get(3)?,
                service: row.try_get(4)?,
                at: row.try_get(5)?,
                retain: row.try_get(6)?,
                payload: row.try_get(7)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(query_error("reading the outbox"))
}

pub(super) async fn ack(
    store: &PostgresStore,
    output: &str,
    ids: &[i64],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM outbox WHERE output = $1 AND id = ANY($2)")
        .bind(output)
        .bind(ids)
        .execute(&store.pool)
        .await
        .map_err(query_error("removing acknowledged outbox entries"))?;
    Ok(())
}

pub(super) async fn depths(store: &PostgresStore) -> Result<Vec<OutboxDepth>, StoreError> {
    let rows =
        sqlx::query("SELECT output, COUNT(*), MIN(at) FROM outbox GROUP BY output ORDER BY output")
            .fetch_all(&store.pool)
            .await
            .map_err(query_error("reading the outbox depth"))?;
    rows.iter()
        .map(|row| {
            let depth: i64 = row.try_get(1)?;
            Ok(OutboxDepth {
                output: row.try_get(0)?,
                depth: u64::try_from(depth).unwrap_or(0),
                oldest_at: row.try_get(2)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(query_error("reading the outbox depth"))
}
