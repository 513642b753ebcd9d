//! Maintenance of the PostgreSQL store: folding finished minutes of raw results into minute
//! rollups and finished hours of minute rollups into hour rollups, then deleting what the
//! retention no longer keeps. Every step is its own short transaction of a bounded size, so a
//! writer waits for at most one step. A folding step holds the maintenance lock (one node folds
//! at a time) and the fold marks `FOR UPDATE` (appends wait for the step, see `write`).

use std::collections::HashMap;

use sqlx::postgres::PgConnection;

use super::write::{merge_into_stored_range, write_rollups};
use super::{
    FoldMarks, HOUR, MINUTE, MarkLock, PostgresStore, advisory_lock, fold_marks, group_numbers,
    locks, query_error,
};
use crate::aggregate::{BucketAggregate, aggregate_from_row, floor_to};
use crate::{Millis, Retention, StoreError};

/// About how many raw results one folding step reads (a step spans whole minutes, at least one).
const FOLD_STEP_RESULTS: i64 = 10_000;
/// How many rows one deletion step removes.
const DELETE_STEP_ROWS: i64 = 10_000;

/// Folds raw results of every finished minute before `now` into minute rollups.
pub(super) async fn fold_minutes(store: &PostgresStore, now: Millis) -> Result<(), StoreError> {
    let error = query_error("folding results into minute rollups");
    let target = floor_to(now, MINUTE);
    loop {
        let mut transaction = store.pool.begin().await.map_err(&error)?;
        let from = lock_marks(&mut transaction).await.map_err(&error)?.minutes;
        if from >= target {
            return Ok(());
        }
        let first: Option<i64> =
            sqlx::query_scalar("SELECT MIN(at) FROM results WHERE at >= $1 AND at < $2")
                .bind(from)
                .bind(target)
                .fetch_one(&mut *transaction)
                .await
                .map_err(&error)?;
        let until = match first {
            None => target,
            Some(first) => {
                let start = floor_to(first, MINUTE);
                let step_end: Option<i64> = sqlx::query_scalar(
                    "SELECT at FROM results WHERE at >= $1 AND at < $2 ORDER BY at LIMIT 1 OFFSET $3",
                )
                .bind(start)
                .bind(target)
                .bind(FOLD_STEP_RESULTS)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(&error)?;
                step_end.map_or(target, |at| floor_to(at, MINUTE).max(start + MINUTE))
            }
        };
        let groups: Vec<(i64, i64, i64, i64, i64, f64, f64)> = sqlx::query_as(
            "SELECT service_id, at - (((at % $1) + $1) % $1) AS start, bucket, \
             COUNT(*), SUM(CASE WHEN up THEN 0 ELSE 1 END), MIN(latency_ms), MAX(latency_ms) \
             FROM results WHERE at >= $2 AND at < $3 GROUP BY service_id, start, bucket",
        )
        .bind(MINUTE)
        .bind(from)
        .bind(until)
        .fetch_all(&mut *transaction)
        .await
        .map_err(&error)?;
        let mut minutes: HashMap<(i64, Millis), BucketAggregate> = HashMap::new();
        for (service_id, start, bucket, count, failures, min_ms, max_ms) in groups {
            let (bucket, count, failures) = group_numbers(bucket, count, failures)?;
            minutes
                .entry((service_id, start))
                .or_default()
                .add_group(bucket, count, failures, min_ms, max_ms);
        }
        let merged =
            merge_into_stored_range(&mut transaction, MINUTE, from, until, minutes).await?;
        write_rollups(&mut transaction, &merged).await?;
        set_mark(&mut transaction, MINUTE, until)
            .await
            .map_err(&error)?;
        transaction.commit().await.map_err(&error)?;
        if until >= target {
            return Ok(());
        }
    }
}

/// Folds minute rollups of every finished hour (before `now` and fully folded into minutes)
/// into hour rollups, one hour per step.
pub(super) async fn fold_hours(store: &PostgresStore, now: Millis) -> Result<(), StoreError> {
    let error = query_error("folding minute rollups into hour rollups");
    loop {
        let mut transaction = store.pool.begin().await.map_err(&error)?;
        let marks = lock_marks(&mut transaction).await.map_err(&error)?;
        let target = floor_to(now, HOUR).min(floor_to(marks.minutes, HOUR));
        if marks.hours >= target {
            return Ok(());
        }
        let first: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(start) FROM rollups WHERE width = $1 AND start >= $2 AND start < $3",
        )
        .bind(MINUTE)
        .bind(marks.hours)
        .bind(target)
        .fetch_one(&mut *transaction)
        .await
        .map_err(&error)?;
        let Some(first) = first else {
            set_mark(&mut transaction, HOUR, target)
                .await
                .map_err(&error)?;
            transaction.commit().await.map_err(&error)?;
            return Ok(());
        };
        let hour = floor_to(first, HOUR);
        let until = hour + HOUR;
        let minutes: Vec<(i64, i64, i64, f64, f64, Vec<u8>)> = sqlx::query_as(
            "SELECT service_id, count, failures, min_ms, max_ms, histogram FROM rollups \
             WHERE width = $1 AND start >= $2 AND start < $3",
        )
        .bind(MINUTE)
        .bind(hour)
        .bind(until)
        .fetch_all(&mut *transaction)
        .await
        .map_err(&error)?;
        let mut hours: HashMap<i64, BucketAggregate> = HashMap::new();
        for (service_id, count, failures, min_ms, max_ms, histogram) in minutes {
            let minute = aggregate_from_row(count, failures, min_ms, max_ms, &histogram)?;
            hours.entry(service_id).or_default().merge(&minute);
        }
        let hours = hours
            .into_iter()
            .map(|(service_id, aggregate)| ((service_id, hour), aggregate))
            .collect();
        let merged = merge_into_stored_range(&mut transaction, HOUR, hour, until, hours).await?;
        write_rollups(&mut transaction, &merged).await?;
        set_mark(&mut transaction, HOUR, until)
            .await
            .map_err(&error)?;
        transaction.commit().await.map_err(&error)?;
    }
}

/// Deletes raw results, minute rollups and hour rollups older than their retention, never
/// anything not yet folded into the next coarser level.
pub(super) async fn delete_expired(
    store: &PostgresStore,
    now: Millis,
    retention: Retention,
) -> Result<(), StoreError> {
    let error = query_error("deleting expired history");
    let marks = {
        let mut connection = store.pool.acquire().await.map_err(&error)?;
        fold_marks(&mut connection, MarkLock::None)
            .await
            .map_err(&error)?
    };
    let results_before = now.saturating_sub(retention.results).min(marks.minutes);
    let minutes_before = now.saturating_sub(retention.minutes).min(marks.hours);
    let hours_before = now.saturating_sub(retention.hours);
    let events_before = now.saturating_sub(retention.events);
    let steps = [
        (
            "DELETE FROM results WHERE id IN \
             (SELECT id FROM results WHERE at < $1 ORDER BY at LIMIT $2)",
            None,
            results_before,
        ),
        (
            "DELETE FROM rollups WHERE (service_id, width, start) IN \
             (SELECT service_id, width, start FROM rollups WHERE width = $3 AND start < $1 \
             ORDER BY start LIMIT $2)",
            Some(MINUTE),
            minutes_before,
        ),
        (
            "DELETE FROM rollups WHERE (service_id, width, start) IN \
             (SELECT service_id, width, start FROM rollups WHERE width = $3 AND start < $1 \
             ORDER BY start LIMIT $2)",
            Some(HOUR),
            hours_before,
        ),
        (
            "DELETE FROM events WHERE id IN \
             (SELECT id FROM events WHERE at < $1 ORDER BY at LIMIT $2)",
            None,
            events_before,
        ),
        (
            "DELETE FROM workflow_rollups WHERE (service, hour, workflow_id) IN \
             (SELECT service, hour, workflow_id FROM workflow_rollups WHERE hour < $1 \
             ORDER BY hour LIMIT $2)",
            None,
            hours_before,
        ),
    ];
    for (statement, width, before) in steps {
        loop {
            let mut query = sqlx::query(statement).bind(before).bind(DELETE_STEP_ROWS);
            if let Some(width) = width {
                query = query.bind(width);
            }
            let deleted = query
                .execute(&store.pool)
                .await
                .map_err(&error)?
                .rows_affected();
            if deleted < DELETE_STEP_ROWS as u64 {
                break;
            }
        }
    }
    Ok(())
}

/// Takes the maintenance lock, then the fold marks `FOR UPDATE`, in this order everywhere.
async fn lock_marks(connection: &mut PgConnection) -> Result<FoldMarks, sqlx::Error> {
    advisory_lock(&mut *connection, locks::MAINTAIN).await?;
    fold_marks(connection, MarkLock::Update).await
}

async fn set_mark(
    connection: &mut PgConnection,
    width: Millis,
    until: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE fold_state SET folded_until = $1 WHERE width = $2")
        .bind(until)
        .bind(width)
        .execute(connection)
        .await
        .map(|_| ())
}
