//! Writes of the SQLite store: results (one `BEGIN IMMEDIATE` transaction per batch, one
//! cached prepared statement per row) and events, plus the merge of one aggregate into a stored
//! rollup that both late results and `maintain` use.

use std::collections::HashMap;

use sqlx::sqlite::SqliteConnection;

use super::{FoldMarks, HOUR, MINUTE, SqliteStore, fold_marks, query_error};
pub(super) use crate::aggregate::aggregate_from_row;
use crate::aggregate::{BucketAggregate, floor_to, sanitize_latency};
use crate::histogram::bucket_of;
use crate::{EventRecord, Millis, ResultRecord, StoreError};

/// Appends a batch of results atomically. A result older than a fold mark (a late or replayed
/// result) is also merged into the rollups already folded, so rollups never miss it.
pub(super) async fn append_results(
    store: &SqliteStore,
    results: &[ResultRecord],
) -> Result<(), StoreError> {
    if results.is_empty() {
        return Ok(());
    }
    let error = query_error("appending results");
    let mut transaction = store
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(&error)?;
    let marks = fold_marks(&mut transaction).await.map_err(&error)?;
    let mut new_ids = HashMap::new();
    let mut late = LateResults::default();
    let mut rows = Vec::with_capacity(results.len());
    for result in results {
        let service_id = resolve_service_id(store, &mut transaction, &mut new_ids, &result.service)
            .await
            .map_err(&error)?;
        let latency_ms = sanitize_latency(result.latency_ms);
        let bucket = bucket_of(latency_ms);
        late.note(marks, service_id, result, bucket, latency_ms);
        rows.push((service_id, result, latency_ms, bucket));
    }
    // A few rows per statement: one round trip to the connection's thread per chunk.
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let statement = insert_results_statement(chunk.len());
        let mut query = sqlx::query(&statement);
        for (service_id, result, latency_ms, bucket) in chunk {
            query = query
                .bind(*service_id)
                .bind(result.at)
                .bind(result.up)
                .bind(*latency_ms)
                .bind(*bucket as i64)
                .bind(result.message.as_deref())
                .bind(result.node.as_deref())
                .bind(result.region.as_deref());
        }
        query.execute(&mut *transaction).await.map_err(&error)?;
    }
    if !late.buckets.is_empty() {
        let merged = merge_into_stored(&mut transaction, late.buckets).await?;
        write_rollups(&mut transaction, &merged).await?;
    }
    transaction.commit().await.map_err(&error)?;
    store.cache_service_ids(new_ids);
    Ok(())
}

/// Rows per `INSERT` statement (8 parameters each, far below SQLite's limit of 32,766).
const ROWS_PER_INSERT: usize = 50;

/// Events per `INSERT` statement (4 parameters each).
const EVENTS_PER_INSERT: usize = 50;

/// `INSERT INTO events ... VALUES (...), (...)` for `rows` rows (1..=EVENTS_PER_INSERT, each
/// size prepared once and cached).
fn insert_events_statement(rows: usize) -> String {
    let mut statement = String::from("INSERT INTO events (at, kind, service, payload) VALUES ");
    for row in 0..rows {
        if row > 0 {
            statement.push_str(", ");
        }
        statement.push_str("(?, ?, ?, ?)");
    }
    statement
}

/// `INSERT INTO results ... VALUES (...), (...)` for `rows` rows; prepared once per size and
/// kept in the connection's statement cache (sizes are 1..=ROWS_PER_INSERT).
fn insert_results_statement(rows: usize) -> String {
    let mut statement = String::from(
        "INSERT INTO results (service_id, at, up, latency_ms, bucket, message, node, region) \
         VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            statement.push_str(", ");
        }
        statement.push_str("(?, ?, ?, ?, ?, ?, ?, ?)");
    }
    statement
}

/// Aggregates of results that arrive behind a fold mark, by (service id, width, start).
#[derive(Default)]
struct LateResults {
    buckets: HashMap<(i64, Millis, Millis), BucketAggregate>,
}

impl LateResults {
    fn note(
        &mut self,
        marks: FoldMarks,
        service_id: i64,
        result: &ResultRecord,
        bucket: usize,
        latency_ms: f64,
    ) {
        for (width, mark) in [(MINUTE, marks.minutes), (HOUR, marks.hours)] {
            if result.at < mark {
                let key = (service_id, width, floor_to(result.at, width));
                let failures = u64::from(!result.up);
                self.buckets
                    .entry(key)
                    .or_default()
                    .add_group(bucket, 1, failures, latency_ms, latency_ms);
            }
        }
    }
}

/// The id of a service, assigning one if it has none. Ids assigned in this transaction go to
/// `new_ids`, and into the store's cache only once the transaction commits.
async fn resolve_service_id(
    store: &SqliteStore,
    connection: &mut SqliteConnection,
    new_ids: &mut HashMap<String, i64>,
    name: &str,
) -> Result<i64, sqlx::Error> {
    if let Some(id) = store
        .cached_service_id(name)
        .or_else(|| new_ids.get(name).copied())
    {
        return Ok(id);
    }
    sqlx::query("INSERT INTO services (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .execute(&mut *connection)
        .await?;
    let id: i64 = sqlx::query_scalar("SELECT id FROM services WHERE name = ?1")
        .bind(name)
        .fetch_one(&mut *connection)
        .await?;
    new_ids.insert(name.to_owned(), id);
    Ok(id)
}

/// A rollup row to write: (service id, width, start) and its aggregate.
pub(super) type RollupRow = ((i64, Millis, Millis), BucketAggregate);

/// Adds each aggregate to its stored rollup, if any: one look-up per rollup (for the few
/// rollups that late results touch).
pub(super) async fn merge_into_stored(
    connection: &mut SqliteConnection,
    aggregates: HashMap<(i64, Millis, Millis), BucketAggregate>,
) -> Result<Vec<RollupRow>, StoreError> {
    let mut merged = Vec::with_capacity(aggregates.len());
    for ((service_id, width, start), aggregate) in aggregates {
        let stored: Option<(i64, i64, f64, f64, Vec<u8>)> = sqlx::query_as(
            "SELECT count, failures, min_ms, max_ms, histogram FROM rollups \
             WHERE service_id = ?1 AND width = ?2 AND start = ?3",
        )
        .bind(service_id)
        .bind(width)
        .bind(start)
        .fetch_optional(&mut *connection)
        .await
        .map_err(query_error("reading a rollup"))?;
        let aggregate = match stored {
            Some((count, failures, min_ms, max_ms, histogram)) => {
                let mut sum = aggregate_from_row(count, failures, min_ms, max_ms, &histogram)?;
                sum.merge(&aggregate);
                sum
            }
            None => aggregate,
        };
        merged.push(((service_id, width, start), aggregate));
    }
    Ok(merged)
}

/// A stored rollup as read: service id, start, count, failures, min, max, histogram.
type KeyedRollupColumns = (i64, i64, i64, i64, f64, f64, Vec<u8>);

/// Adds each aggregate (all of width `width`, starting in `from..until`) to its stored rollup,
/// if any: one range read for all of them (for folding, where there is normally none).
pub(super) async fn merge_into_stored_range(
    connection: &mut SqliteConnection,
    width: Millis,
    from: Millis,
    until: Millis,
    mut aggregates: HashMap<(i64, Millis), BucketAggregate>,
) -> Result<Vec<RollupRow>, StoreError> {
    let stored: Vec<KeyedRollupColumns> = sqlx::query_as(
        "SELECT service_id, start, count, failures, min_ms, max_ms, histogram FROM rollups \
         WHERE width = ?1 AND start >= ?2 AND start < ?3",
    )
    .bind(width)
    .bind(from)
    .bind(until)
    .fetch_all(&mut *connection)
    .await
    .map_err(query_error("reading rollups"))?;
    for (service_id, start, count, failures, min_ms, max_ms, histogram) in stored {
        if let Some(aggregate) = aggregates.get_mut(&(service_id, start)) {
            let mut sum = aggregate_from_row(count, failures, min_ms, max_ms, &histogram)?;
            sum.merge(aggregate);
            *aggregate = sum;
        }
    }
    Ok(aggregates
        .into_iter()
        .map(|((service_id, start), aggregate)| ((service_id, width, start), aggregate))
        .collect())
}

/// Rollup rows per `INSERT` statement (8 parameters each).
const ROLLUPS_PER_INSERT: usize = 50;

/// Writes rollups, replacing the stored ones with the same key.
pub(super) async fn write_rollups(
    connection: &mut SqliteConnection,
    rows: &[RollupRow],
) -> Result<(), StoreError> {
    let rows: Vec<&RollupRow> = rows
        .iter()
        .filter(|(_, aggregate)| aggregate.count > 0)
        .collect();
    for chunk in rows.chunks(ROLLUPS_PER_INSERT) {
        let mut statement = String::from(
            "INSERT INTO rollups \
             (service_id, width, start, count, failures, min_ms, max_ms, histogram) VALUES ",
        );
        for row in 0..chunk.len() {
            statement.push_str(if row == 0 { "" } else { ", " });
            statement.push_str("(?, ?, ?, ?, ?, ?, ?, ?)");
        }
        statement.push_str(
            " ON CONFLICT (service_id, width, start) DO UPDATE SET count = excluded.count, \
             failures = excluded.failures, min_ms = excluded.min_ms, max_ms = excluded.max_ms, \
             histogram = excluded.histogram",
        );
        let mut query = sqlx::query(&statement);
        for ((service_id, width, start), aggregate) in chunk.iter().copied() {
            query = query
                .bind(*service_id)
                .bind(*width)
                .bind(*start)
                .bind(i64::try_from(aggregate.count).unwrap_or(i64::MAX))
                .bind(i64::try_from(aggregate.failures).unwrap_or(i64::MAX))
                .bind(aggregate.min_ms)
                .bind(aggregate.max_ms)
                .bind(aggregate.histogram.encode());
        }
        query
            .execute(&mut *connection)
            .await
            .map_err(query_error("writing rollups"))?;
    }
    Ok(())
}

/// Appends events in one transaction and returns them with their ids.
pub(super) async fn append_events(
    store: &SqliteStore,
    mut events: Vec<EventRecord>,
) -> Result<Vec<EventRecord>, StoreError> {
    if events.is_empty() {
        return Ok(events);
    }
    let error = query_error("appending events");
    let mut transaction = store
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(&error)?;
    // A few rows per statement (one round trip to the connection's thread per chunk, not per
    // event); the rows of one statement get consecutive ids (AUTOINCREMENT, nothing can
    // conflict, one writer), the last one `last_insert_rowid`.
    let mut payloads = Vec::with_capacity(events.len());
    for event in &events {
        payloads.push(
            serde_json::to_string(&event.payload)
                .map_err(|json| StoreError::Query(format!("appending events: {json}")))?,
        );
    }
    for (chunk, payloads) in events
        .chunks_mut(EVENTS_PER_INSERT)
        .zip(payloads.chunks(EVENTS_PER_INSERT))
    {
        let statement = insert_events_statement(chunk.len());
        let mut query = sqlx::query(&statement);
        for (event, payload) in chunk.iter().zip(payloads) {
            query = query
                .bind(event.at)
                .bind(&event.kind)
                .bind(event.service.as_deref())
                .bind(payload.as_str());
        }
        let outcome = query.execute(&mut *transaction).await.map_err(&error)?;
        if outcome.rows_affected() != chunk.len() as u64 {
            return Err(StoreError::Query(format!(
                "appending events: {} of {} rows inserted",
                outcome.rows_affected(),
                chunk.len()
            )));
        }
        let first = outcome.last_insert_rowid() - chunk.len() as i64 + 1;
        for (offset, event) in chunk.iter_mut().enumerate() {
            event.id = first + offset as i64;
        }
    }
    transaction.commit().await.map_err(&error)?;
    Ok(events)
}
