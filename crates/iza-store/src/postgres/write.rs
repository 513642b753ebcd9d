//! Writes of the PostgreSQL store: results (one transaction per batch, one multi-row `INSERT`
//! from arrays per batch) and events, plus the merge of aggregates into stored rollups that late
//! results and `maintain` use.

use std::collections::{BTreeSet, HashMap};

use sqlx::postgres::PgConnection;

use super::{
    FoldMarks, HOUR, MINUTE, MarkLock, PostgresStore, advisory_lock, fold_marks, locks, pg_text,
    query_error,
};
use crate::aggregate::{BucketAggregate, aggregate_from_row, floor_to, sanitize_latency};
use crate::histogram::bucket_of;
use crate::{EventRecord, Millis, ResultRecord, StoreError};

/// Appends a batch of results atomically. A result older than a fold mark (a late or replayed
/// result) is also merged into the rollups already folded, so rollups never miss it.
pub(super) async fn append_results(
    store: &PostgresStore,
    results: &[ResultRecord],
) -> Result<(), StoreError> {
    if results.is_empty() {
        return Ok(());
    }
    let error = query_error("appending results");
    let mut transaction = store.pool.begin().await.map_err(&error)?;
    // FOR SHARE: a fold (FOR UPDATE) cannot move a mark until this batch is committed.
    let marks = fold_marks(&mut transaction, MarkLock::Share)
        .await
        .map_err(&error)?;
    let new_ids = resolve_service_ids(store, &mut transaction, results)
        .await
        .map_err(&error)?;
    let id_of = |name: &str| {
        store
            .cached_service_id(name)
            .or_else(|| new_ids.get(name).copied())
            .ok_or_else(|| StoreError::Query(format!("appending results: no id for `{name}`")))
    };
    let mut late: HashMap<(i64, Millis, Millis), BucketAggregate> = HashMap::new();
    let count = results.len();
    let mut nodes: Vec<Option<String>> = Vec::with_capacity(count);
    let mut regions: Vec<Option<String>> = Vec::with_capacity(count);
    let (mut service_ids, mut ats, mut ups, mut latencies, mut buckets, mut messages) = (
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
    );
    for result in results {
        let service_id = id_of(&result.service)?;
        let latency_ms = sanitize_latency(result.latency_ms);
        let bucket = bucket_of(latency_ms);
        note_late(&mut late, marks, service_id, result, bucket, latency_ms);
        service_ids.push(service_id);
        ats.push(result.at);
        ups.push(result.up);
        latencies.push(latency_ms);
        buckets.push(bucket as i64);
        messages.push(
            result
                .message
                .as_deref()
                .map(|message| pg_text(message).into_owned()),
        );
        nodes.push(
            result
                .node
                .as_deref()
                .map(|node| pg_text(node).into_owned()),
        );
        regions.push(
            result
                .region
                .as_deref()
                .map(|region| pg_text(region).into_owned()),
        );
    }
    sqlx::query(
        "INSERT INTO results (service_id, at, up, latency_ms, bucket, message, node, region) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::boolean[], \
         $4::double precision[], $5::bigint[], $6::text[], $7::text[], $8::text[])",
    )
    .bind(service_ids)
    .bind(ats)
    .bind(ups)
    .bind(latencies)
    .bind(buckets)
    .bind(messages)
    .bind(nodes)
    .bind(regions)
    .execute(&mut *transaction)
    .await
    .map_err(&error)?;
    if !late.is_empty() {
        // Two batches with late results for one rollup must not both read its old value.
        advisory_lock(&mut transaction, locks::LATE)
            .await
            .map_err(&error)?;
        let merged = merge_into_stored(&mut transaction, late).await?;
        write_rollups(&mut transaction, &merged).await?;
    }
    transaction.commit().await.map_err(&error)?;
    store.cache_service_ids(new_ids);
    Ok(())
}

fn note_late(
    late: &mut HashMap<(i64, Millis, Millis), BucketAggregate>,
    marks: FoldMarks,
    service_id: i64,
    result: &ResultRecord,
    bucket: usize,
    latency_ms: f64,
) {
    for (width, mark) in [(MINUTE, marks.minutes), (HOUR, marks.hours)] {
        if result.at < mark {
            let key = (service_id, width, floor_to(result.at, width));
            late.entry(key).or_default().add_group(
                bucket,
                1,
                u64::from(!result.up),
                latency_ms,
                latency_ms,
            );
        }
    }
}

/// Ids of the services of `results` not cached yet, assigning ids to new ones (in name order,
/// so that two nodes adding the same names never wait for each other in a cycle). They reach the
/// store's cache only once the transaction commits.
async fn resolve_service_ids(
    store: &PostgresStore,
    connection: &mut PgConnection,
    results: &[ResultRecord],
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let unknown: BTreeSet<&str> = results
        .iter()
        .map(|result| result.service.as_str())
        .filter(|name| store.cached_service_id(name).is_none())
        .collect();
    if unknown.is_empty() {
        return Ok(HashMap::new());
    }
    let names: Vec<&str> = unknown.into_iter().collect();
    sqlx::query(
        "INSERT INTO services (name) SELECT name FROM UNNEST($1::text[]) AS name \
         ORDER BY name ON CONFLICT (name) DO NOTHING",
    )
    .bind(&names)
    .execute(&mut *connection)
    .await?;
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, id FROM services WHERE name = ANY($1::text[])")
            .bind(&names)
            .fetch_all(&mut *connection)
            .await?;
    Ok(rows.into_iter().collect())
}

/// A rollup row to write: (service id, width, start) and its aggregate.
pub(super) type RollupRow = ((i64, Millis, Millis), BucketAggregate);

/// Adds each aggregate to its stored rollup, if any: one look-up per rollup (for the few
/// rollups that late results touch).
async fn merge_into_stored(
    connection: &mut PgConnection,
    aggregates: HashMap<(i64, Millis, Millis), BucketAggregate>,
) -> Result<Vec<RollupRow>, StoreError> {
    let mut merged = Vec::with_capacity(aggregates.len());
    for ((service_id, width, start), aggregate) in aggregates {
        let stored: Option<(i64, i64, f64, f64, Vec<u8>)> = sqlx::query_as(
            "SELECT count, failures, min_ms, max_ms, histogram FROM rollups \
             WHERE service_id = $1 AND width = $2 AND start = $3",
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
/// if any: one range read for all of them.
pub(super) async fn merge_into_stored_range(
    connection: &mut PgConnection,
    width: Millis,
    from: Millis,
    until: Millis,
    mut aggregates: HashMap<(i64, Millis), BucketAggregate>,
) -> Result<Vec<RollupRow>, StoreError> {
    let stored: Vec<KeyedRollupColumns> = sqlx::query_as(
        "SELECT service_id, start, count, failures, min_ms, max_ms, histogram FROM rollups \
         WHERE width = $1 AND start >= $2 AND start < $3",
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

/// Writes rollups, replacing the stored ones with the same key: one statement of arrays.
pub(super) async fn write_rollups(
    connection: &mut PgConnection,
    rows: &[RollupRow],
) -> Result<(), StoreError> {
    let mut rows: Vec<&RollupRow> = rows
        .iter()
        .filter(|(_, aggregate)| aggregate.count > 0)
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    // In key order, so that concurrent writers lock rows in one order.
    rows.sort_by_key(|(key, _)| *key);
    let (mut service_ids, mut widths, mut starts) = (Vec::new(), Vec::new(), Vec::new());
    let (mut counts, mut failures) = (Vec::new(), Vec::new());
    let (mut mins, mut maxes, mut histograms) = (Vec::new(), Vec::new(), Vec::new());
    for ((service_id, width, start), aggregate) in rows {
        service_ids.push(*service_id);
        widths.push(*width);
        starts.push(*start);
        counts.push(i64::try_from(aggregate.count).unwrap_or(i64::MAX));
        failures.push(i64::try_from(aggregate.failures).unwrap_or(i64::MAX));
        mins.push(aggregate.min_ms);
        maxes.push(aggregate.max_ms);
        histograms.push(aggregate.histogram.encode());
    }
    sqlx::query(
        "INSERT INTO rollups (service_id, width, start, count, failures, min_ms, max_ms, histogram) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], \
         $5::bigint[], $6::double precision[], $7::double precision[], $8::bytea[]) \
         ON CONFLICT (service_id, width, start) DO UPDATE SET count = excluded.count, \
         failures = excluded.failures, min_ms = excluded.min_ms, max_ms = excluded.max_ms, \
         histogram = excluded.histogram",
    )
    .bind(service_ids)
    .bind(widths)
    .bind(starts)
    .bind(counts)
    .bind(failures)
    .bind(mins)
    .bind(maxes)
    .bind(histograms)
    .execute(&mut *connection)
    .await
    .map_err(query_error("writing rollups"))?;
    Ok(())
}

/// Appends events in one transaction and returns them with their ids. The advisory lock makes
/// ids commit in increasing order across connections and nodes; the transaction notifies
/// [`crate::EVENTS_CHANNEL`] with the greatest id, delivered to the listeners at its commit.
pub(super) async fn append_events(
    store: &PostgresStore,
    mut events: Vec<EventRecord>,
) -> Result<Vec<EventRecord>, StoreError> {
    if events.is_empty() {
        return Ok(events);
    }
    let error = query_error("appending events");
    let mut ats = Vec::with_capacity(events.len());
    let mut kinds = Vec::with_capacity(events.len());
    let mut services = Vec::with_capacity(events.len());
    let mut payloads = Vec::with_capacity(events.len());
    for event in &events {
        ats.push(event.at);
        kinds.push(event.kind.clone());
        services.push(event.service.clone());
        payloads.push(
            serde_json::to_string(&event.payload)
                .map_err(|json| StoreError::Query(format!("appending events: {json}")))?,
        );
    }
    let mut transaction = store.pool.begin().await.map_err(&error)?;
    advisory_lock(&mut transaction, locks::EVENTS)
        .await
        .map_err(&error)?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO events (at, kind, service, payload) \
         SELECT at, kind, service, payload FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[]) \
         WITH ORDINALITY AS e(at, kind, service, payload, n) ORDER BY n RETURNING id",
    )
    .bind(ats)
    .bind(kinds)
    .bind(services)
    .bind(payloads)
    .fetch_all(&mut *transaction)
    .await
    .map_err(&error)?;
    // Every listener (each node's, `listen.rs`) hears the greatest id once this commits.
    if let Some(last) = ids.iter().max() {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::EVENTS_CHANNEL)
            .bind(last.to_string())
            .execute(&mut *transaction)
            .await
            .map_err(&error)?;
    }
    transaction.commit().await.map_err(&error)?;
    let mut ids = ids;
    // Ids were drawn in insertion order; RETURNING's order is not promised, so sort.
    ids.sort_unstable();
    if ids.len() != events.len() {
        return Err(StoreError::Query(format!(
            "appending events: {} of {} stored",
            ids.len(),
            events.len()
        )));
    }
    for (event, id) in events.iter_mut().zip(ids) {
        event.id = id;
    }
    Ok(events)
}
