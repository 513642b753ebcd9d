//! Reads of the SQLite store, on the reader pool. A read that combines rollups with the raw
//! results not yet folded runs in one transaction, so it sees one snapshot of both and of the
//! fold marks between them.

use std::collections::BTreeMap;

use sqlx::sqlite::SqliteConnection;

use super::write::aggregate_from_row;
use super::{FoldMarks, HOUR, MINUTE, SqliteStore, fold_marks, group_numbers, query_error};
use crate::aggregate::{BucketAggregate, ceil_to, floor_to};
use crate::{
    EventQuery, EventRecord, MAX_EVENTS_PAGE, MAX_RESULTS_PAGE, Millis, Resolution, ResultRecord,
    Rollup, StoreError, Uptime,
};

/// The id of a service, `None` when the store has never seen it.
async fn service_id(store: &SqliteStore, name: &str) -> Result<Option<i64>, StoreError> {
    if let Some(id) = store.cached_service_id(name) {
        return Ok(Some(id));
    }
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM services WHERE name = ?1")
        .bind(name)
        .fetch_optional(&store.readers)
        .await
        .map_err(query_error("looking up a service"))?;
    if let Some(id) = id {
        store.cache_service_ids([(name.to_owned(), id)].into());
    }
    Ok(id)
}

type ResultRow = (
    i64,
    bool,
    f64,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn result_record(
    service: String,
    (at, up, latency_ms, message, node, region): ResultRow,
) -> ResultRecord {
    ResultRecord {
        service,
        at,
        up,
        latency_ms,
        message,
        node,
        region,
    }
}

pub(super) async fn recent_results(
    store: &SqliteStore,
    service: &str,
    limit: usize,
) -> Result<Vec<ResultRecord>, StoreError> {
    let limit = limit.min(MAX_RESULTS_PAGE);
    let Some(id) = service_id(store, service).await? else {
        return Ok(Vec::new());
    };
    if limit == 0 {
        return Ok(Vec::new());
    }
    let rows: Vec<ResultRow> = sqlx::query_as(
        "SELECT at, up, latency_ms, message, node, region FROM results WHERE service_id = ?1 \
         ORDER BY at DESC, id DESC LIMIT ?2",
    )
    .bind(id)
    .bind(limit as i64)
    .fetch_all(&store.readers)
    .await
    .map_err(query_error("reading recent results"))?;
    Ok(rows
        .into_iter()
        .map(|row| result_record(service.to_owned(), row))
        .collect())
}

type LatestRow = (
    String,
    i64,
    bool,
    f64,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn latest_record((service, at, up, latency_ms, message, node, region): LatestRow) -> ResultRecord {
    result_record(service, (at, up, latency_ms, message, node, region))
}

pub(super) async fn latest_results(store: &SqliteStore) -> Result<Vec<ResultRecord>, StoreError> {
    // One index probe per service: the last entry of `results_by_service_time` for it.
    let rows: Vec<LatestRow> = sqlx::query_as(
        "SELECT s.name, r.at, r.up, r.latency_ms, r.message, r.node, r.region \
         FROM services AS s \
         JOIN results AS r ON r.id = (SELECT id FROM results WHERE service_id = s.id \
         ORDER BY at DESC, id DESC LIMIT 1) \
         ORDER BY s.name",
    )
    .fetch_all(&store.readers)
    .await
    .map_err(query_error("reading the latest results"))?;
    Ok(rows.into_iter().map(latest_record).collect())
}

pub(super) async fn latest_region_results(
    store: &SqliteStore,
    keys: &[(String, String)],
) -> Result<Vec<ResultRecord>, StoreError> {
    let mut keys = keys.to_vec();
    keys.sort();
    keys.dedup();
    let mut records = Vec::with_capacity(keys.len());
    // One index probe per pair (`results_by_service_region_time`); the pairs are few (the
    // regions of the checks probed from several).
    for (service, region) in keys {
        let Some(id) = service_id(store, &service).await? else {
            continue;
        };
        let row: Option<ResultRow> = sqlx::query_as(
            "SELECT at, up, latency_ms, message, node, region FROM results \
             WHERE service_id = ?1 AND region = ?2 ORDER BY at DESC, id DESC LIMIT 1",
        )
        .bind(id)
        .bind(&region)
        .fetch_optional(&store.readers)
        .await
        .map_err(query_error("reading the latest regional results"))?;
        records.extend(row.map(|row| result_record(service.clone(), row)));
    }
    Ok(records)
}

pub(super) async fn rollups(
    store: &SqliteStore,
    service: &str,
    resolution: Resolution,
    since: Millis,
) -> Result<Vec<Rollup>, StoreError> {
    let Some(id) = service_id(store, service).await? else {
        return Ok(Vec::new());
    };
    let error = query_error("reading rollups");
    let width = resolution.millis();
    let since = floor_to(since, width);
    let mut transaction = store.readers.begin().await.map_err(&error)?;
    let marks = fold_marks(&mut transaction).await.map_err(&error)?;
    // Folded buckets of this width, then what is not folded into this width yet.
    let mut buckets = stored_rollups(&mut transaction, id, width, since, Millis::MAX).await?;
    let raw_from = since.max(marks.minutes);
    if resolution == Resolution::Hour {
        let minutes = stored_rollups(
            &mut transaction,
            id,
            MINUTE,
            since.max(marks.hours),
            marks.minutes,
        )
        .await?;
        for (start, minute) in minutes {
            buckets
                .entry(floor_to(start, HOUR))
                .or_default()
                .merge(&minute);
        }
    }
    for (start, aggregate) in raw_groups(&mut transaction, id, width, raw_from).await? {
        buckets.entry(start).or_default().merge(&aggregate);
    }
    transaction.commit().await.map_err(&error)?;
    Ok(buckets
        .into_iter()
        .filter(|(_, aggregate)| aggregate.count > 0)
        .map(|(start, aggregate)| aggregate.to_rollup(service, resolution, start))
        .collect())
}

/// Stored rollups of one width with `from <= start < until`, by start.
async fn stored_rollups(
    connection: &mut SqliteConnection,
    service_id: i64,
    width: Millis,
    from: Millis,
    until: Millis,
) -> Result<BTreeMap<Millis, BucketAggregate>, StoreError> {
    let mut buckets = BTreeMap::new();
    if from >= until {
        return Ok(buckets);
    }
    let rows: Vec<(i64, i64, i64, f64, f64, Vec<u8>)> = sqlx::query_as(
        "SELECT start, count, failures, min_ms, max_ms, histogram FROM rollups \
         WHERE service_id = ?1 AND width = ?2 AND start >= ?3 AND start < ?4 ORDER BY start",
    )
    .bind(service_id)
    .bind(width)
    .bind(from)
    .bind(until)
    .fetch_all(connection)
    .await
    .map_err(query_error("reading rollups"))?;
    for (start, count, failures, min_ms, max_ms, histogram) in rows {
        buckets.insert(
            start,
            aggregate_from_row(count, failures, min_ms, max_ms, &histogram)?,
        );
    }
    Ok(buckets)
}

/// Raw results from `from` on, aggregated into buckets of `width`, by start.
async fn raw_groups(
    connection: &mut SqliteConnection,
    service_id: i64,
    width: Millis,
    from: Millis,
) -> Result<BTreeMap<Millis, BucketAggregate>, StoreError> {
    let groups: Vec<(i64, i64, i64, i64, f64, f64)> = sqlx::query_as(
        "SELECT at - (((at % ?1) + ?1) % ?1) AS start, bucket, COUNT(*), SUM(1 - up), \
         MIN(latency_ms), MAX(latency_ms) FROM results WHERE service_id = ?2 AND at >= ?3 \
         GROUP BY start, bucket",
    )
    .bind(width)
    .bind(service_id)
    .bind(from)
    .fetch_all(connection)
    .await
    .map_err(query_error("reading recent results"))?;
    let mut buckets: BTreeMap<Millis, BucketAggregate> = BTreeMap::new();
    for (start, bucket, count, failures, min_ms, max_ms) in groups {
        let (bucket, count, failures) = group_numbers(bucket, count, failures)?;
        buckets
            .entry(start)
            .or_default()
            .add_group(bucket, count, failures, min_ms, max_ms);
    }
    Ok(buckets)
}

/// The uptime windows, longest last.
const WINDOWS: [Millis; 4] = [HOUR, 24 * HOUR, 7 * 24 * HOUR, 30 * 24 * HOUR];

pub(super) async fn uptime(
    store: &SqliteStore,
    service: &str,
    now: Millis,
) -> Result<Uptime, StoreError> {
    let Some(id) = service_id(store, service).await? else {
        return Ok(Uptime::default());
    };
    let error = query_error("computing uptime");
    let mut transaction = store.readers.begin().await.map_err(&error)?;
    let marks = fold_marks(&mut transaction).await.map_err(&error)?;
    let mut shares = [None; 4];
    for (share, window) in shares.iter_mut().zip(WINDOWS) {
        let cut = ceil_to(now.saturating_sub(window), MINUTE);
        let (count, failures) = window_counts(&mut transaction, id, marks, cut, now).await?;
        *share = (count > 0).then(|| (count - failures.min(count)) as f64 / count as f64);
    }
    transaction.commit().await.map_err(&error)?;
    let [hour, day, week, month] = shares;
    Ok(Uptime {
        hour,
        day,
        week,
        month,
    })
}

/// Results and failures from `cut` (minute-aligned) to `now`: whole hours from hour rollups,
/// the minutes around them from minute rollups, the rest from raw results not folded yet.
async fn window_counts(
    connection: &mut SqliteConnection,
    service_id: i64,
    marks: FoldMarks,
    cut: Millis,
    now: Millis,
) -> Result<(u64, u64), StoreError> {
    let first_whole_hour = ceil_to(cut, HOUR);
    let not_after_now = now.saturating_add(1);
    let parts = [
        (HOUR, first_whole_hour, marks.hours),
        (MINUTE, cut, first_whole_hour.min(marks.hours)),
        (MINUTE, cut.max(marks.hours), marks.minutes),
    ];
    let (mut count, mut failures) = (0u64, 0u64);
    for (width, from, until) in parts {
        let until = until.min(not_after_now);
        if from >= until {
            continue;
        }
        let (part_count, part_failures): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(count), 0), COALESCE(SUM(failures), 0) FROM rollups \
             WHERE service_id = ?1 AND width = ?2 AND start >= ?3 AND start < ?4",
        )
        .bind(service_id)
        .bind(width)
        .bind(from)
        .bind(until)
        .fetch_one(&mut *connection)
        .await
        .map_err(query_error("computing uptime"))?;
        count = count.saturating_add(non_negative(part_count));
        failures = failures.saturating_add(non_negative(part_failures));
    }
    let (raw_count, raw_failures): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(1 - up), 0) FROM results \
         WHERE service_id = ?1 AND at >= ?2 AND at <= ?3",
    )
    .bind(service_id)
    .bind(cut.max(marks.minutes))
    .bind(now)
    .fetch_one(&mut *connection)
    .await
    .map_err(query_error("computing uptime"))?;
    Ok((
        count.saturating_add(non_negative(raw_count)),
        failures.saturating_add(non_negative(raw_failures)),
    ))
}

fn non_negative(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

pub(super) async fn events(
    store: &SqliteStore,
    query: &EventQuery,
) -> Result<Vec<EventRecord>, StoreError> {
    let limit = query.limit.min(MAX_EVENTS_PAGE);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut builder =
        sqlx::QueryBuilder::new("SELECT id, at, kind, service, payload FROM events WHERE 1 = 1");
    if let Some(before) = query.before {
        builder.push(" AND id < ").push_bind(before);
    }
    if let Some(after) = query.after {
        builder.push(" AND id > ").push_bind(after);
    }
    if let Some(service) = &query.service {
        builder.push(" AND service = ").push_bind(service.as_str());
    }
    if !query.kinds.is_empty() {
        builder.push(" AND kind IN (");
        let mut kinds = builder.separated(", ");
        for kind in &query.kinds {
            kinds.push_bind(kind.as_str());
        }
        builder.push(")");
    }
    builder
        .push(" ORDER BY id DESC LIMIT ")
        .push_bind(limit as i64);
    let rows: Vec<(i64, i64, String, Option<String>, String)> = builder
        .build_query_as()
        .fetch_all(&store.readers)
        .await
        .map_err(query_error("reading events"))?;
    rows.into_iter()
        .map(|(id, at, kind, service, payload)| {
            let payload = serde_json::from_str(&payload).map_err(|error| {
                StoreError::Query(format!("event {id} has a malformed payload: {error}"))
            })?;
            Ok(EventRecord {
                id,
                at,
                kind,
                service,
                payload,
            })
        })
        .collect()
}
