//! The event outbox of the SQLite store (table of migration 6): writes are one `BEGIN
//! IMMEDIATE` transaction on the writer (the entries in one statement, then the bound), reads
//! go to the readers.

use sqlx::Row as _;

use super::{SqliteStore, query_error};
use crate::StoreError;
use crate::outbox::{MAX_OUTBOX_PAGE, OutboxDepth, OutboxEntry};

pub(super) async fn push(
    store: &SqliteStore,
    entries: &[OutboxEntry],
    max_pending: u64,
) -> Result<(Vec<OutboxEntry>, u64), StoreError> {
    if entries.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let error = query_error("writing to the outbox");
    let mut transaction = store
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(&error)?;
    // One statement for the whole batch, not one per entry (each statement is a round trip to
    // the connection's thread): the entries as one JSON array, inserted in its order, so the
    // ids (assigned one after another under the write lock) sorted are the entries' ids.
    let rows: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                &e.output,
                &e.event_id,
                &e.key,
                e.service.as_deref(),
                e.at,
                e.retain,
                &e.payload,
            )
        })
        .collect();
    let rows = serde_json::to_string(&rows)
        .map_err(|json| StoreError::Query(format!("outbox entries: {json}")))?;
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO outbox (output, event_id, key, service, at, retain, payload) \
         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
                json_extract(value, '$[2]'), json_extract(value, '$[3]'), \
                json_extract(value, '$[4]'), json_extract(value, '$[5]'), \
                json_extract(value, '$[6]') \
         FROM json_each(?1) ORDER BY key RETURNING id",
    )
    .bind(rows)
    .fetch_all(&mut *transaction)
    .await
    .map_err(&error)?;
    if ids.len() != entries.len() {
        return Err(StoreError::Query(format!(
            "writing to the outbox: {} of {} entries written",
            ids.len(),
            entries.len()
        )));
    }
    ids.sort_unstable();
    let mut outputs: Vec<&str> = Vec::new();
    let written: Vec<OutboxEntry> = entries
        .iter()
        .zip(ids)
        .map(|(entry, id)| {
            if !outputs.contains(&entry.output.as_str()) {
                outputs.push(&entry.output);
            }
            OutboxEntry {
                id,
                ..entry.clone()
            }
        })
        .collect();
    let keep = i64::try_from(max_pending).unwrap_or(i64::MAX);
    let mut dropped = 0;
    for output in outputs {
        // Ids are unique, so an output whose ids span at most `keep` holds at most `keep`
        // entries: then nothing is dropped, known from two index seeks (the newest id is this
        // batch's last of the output) instead of the walk over all its entries that the
        // OFFSET below costs, on every write, while an outbox is deep.
        let newest = written
            .iter()
            .rev()
            .find(|e| e.output == output)
            .map_or(0, |e| e.id);
        let oldest: Option<i64> =
            sqlx::query_scalar("SELECT id FROM outbox WHERE output = ?1 ORDER BY id LIMIT 1")
                .bind(output)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(&error)?;
        if oldest.is_none_or(|oldest| newest.saturating_sub(oldest) < keep) {
            continue;
        }
        let outcome = sqlx::query(
            "DELETE FROM outbox WHERE output = ?1 AND id <= \
             (SELECT id FROM outbox WHERE output = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
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
    store: &SqliteStore,
    output: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let limit = i64::try_from(limit.min(MAX_OUTBOX_PAGE)).unwrap_or(0);
    let rows = sqlx::query(
        "SELECT id, output, event_id, key, service, at, retain, payload FROM outbox \
         WHERE output = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
    )
    .bind(output)
    .bind(after)
    .bind(limit)
    .fetch_all(&store.readers)
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

pub(super) async fn ack(store: &SqliteStore, output: &str, ids: &[i64]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let error = query_error("removing acknowledged outbox entries");
    let mut transaction = store
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(&error)?;
    for chunk in ids.chunks(500) {
        let ids = serde_json::to_string(chunk)
            .map_err(|json| StoreError::Query(format!("outbox ids: {json}")))?;
        sqlx::query(
            "DELETE FROM outbox WHERE output = ?1 AND id IN (SELECT value FROM json_each(?2))",
        )
        .bind(output)
        .bind(ids)
        .execute(&mut *transaction)
        .await
        .map_err(&error)?;
    }
    transaction.commit().await.map_err(&error)
}

pub(super) async fn depths(store: &SqliteStore) -> Result<Vec<OutboxDepth>, StoreError> {
    let rows =
        sqlx::query("SELECT output, COUNT(*), MIN(at) FROM outbox GROUP BY output ORDER BY output")
            .fetch_all(&store.readers)
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
