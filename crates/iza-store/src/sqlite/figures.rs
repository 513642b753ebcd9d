//! Business figures of the SQLite store (tables of migration 7): samples and their hourly
//! rollups are written in one `BEGIN IMMEDIATE` transaction on the writer; reads go to the
//! readers. Retention: samples live as long as raw results, hours as long as hour rollups.

use sqlx::Row as _;

use super::{SqliteStore, query_error};
use crate::figures::{
    FIGURE_HOUR, FigurePoint, FigureQuery, FigureResolution, FigureSample, MAX_FIGURE_POINTS,
};
use crate::{Millis, Retention, StoreError};

pub(super) async fn append(
    store: &SqliteStore,
    samples: &[FigureSample],
) -> Result<(), StoreError> {
    if samples.is_empty() {
        return Ok(());
    }
    let error = query_error("writing figures");
    let mut tx = store
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(&error)?;
    for s in samples.iter().filter(|s| s.value.is_finite()) {
        let inserted = sqlx::query(
            "INSERT INTO figure_samples (service, figure, at, value) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&s.service)
        .bind(&s.figure)
        .bind(s.at)
        .bind(s.value)
        .execute(&mut *tx)
        .await
        .map_err(&error)?;
        if inserted.rows_affected() == 0 {
            continue; // the same sample twice counts once
        }
        sqlx::query(
            "INSERT INTO figure_hours (service, figure, hour, count, sum, min, max, last, last_at) \
             VALUES (?1, ?2, ?3, 1, ?4, ?4, ?4, ?4, ?5) \
             ON CONFLICT (service, figure, hour) DO UPDATE SET \
               count = count + 1, sum = sum + excluded.sum, \
               min = MIN(min, excluded.min), max = MAX(max, excluded.max), \
               last = CASE WHEN excluded.last_at >= last_at THEN excluded.last ELSE last END, \
               last_at = MAX(last_at, excluded.last_at)",
        )
        .bind(&s.service)
        .bind(&s.figure)
        .bind(s.at.div_euclid(FIGURE_HOUR) * FIGURE_HOUR)
        .bind(s.value)
        .bind(s.at)
        .execute(&mut *tx)
        .await
        .map_err(&error)?;
    }
    tx.commit().await.map_err(&error)
}

pub(super) async fn latest(store: &SqliteStore) -> Result<Vec<FigureSample>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.service, s.figure, s.at, s.value FROM figure_samples s \
         JOIN (SELECT service, figure, MAX(at) AS at FROM figure_samples GROUP BY service, figure) m \
           ON s.service = m.service AND s.figure = m.figure AND s.at = m.at \
         ORDER BY s.service, s.figure",
    )
    .fetch_all(&store.readers)
    .await
    .map_err(query_error("reading the latest figures"))?;
    rows.iter()
        .map(|row| {
            Ok(FigureSample {
                service: row.try_get(0)?,
                figure: row.try_get(1)?,
                at: row.try_get(2)?,
                value: row.try_get(3)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(query_error("reading the latest figures"))
}

pub(super) async fn series(
    store: &SqliteStore,
    query: &FigureQuery,
) -> Result<Vec<FigurePoint>, StoreError> {
    let limit = query.limit.min(MAX_FIGURE_POINTS) as i64;
    let error = query_error("reading a figure's history");
    let mut points = match query.resolution {
        FigureResolution::Raw => sqlx::query(
            "SELECT at, value FROM figure_samples WHERE service = ?1 AND figure = ?2 AND at >= ?3 \
             ORDER BY at DESC LIMIT ?4",
        )
        .bind(&query.service)
        .bind(&query.figure)
        .bind(query.since)
        .bind(limit)
        .fetch_all(&store.readers)
        .await
        .map_err(&error)?
        .iter()
        .map(|row| {
            let value: f64 = row.try_get(1)?;
            Ok(FigurePoint {
                at: row.try_get(0)?,
                count: 1,
                min: value,
                max: value,
                avg: value,
                last: value,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(&error)?,
        FigureResolution::Hour => sqlx::query(
            "SELECT hour, count, sum, min, max, last FROM figure_hours \
             WHERE service = ?1 AND figure = ?2 AND hour > ?3 - 3600000 \
             ORDER BY hour DESC LIMIT ?4",
        )
        .bind(&query.service)
        .bind(&query.figure)
        .bind(query.since)
        .bind(limit)
        .fetch_all(&store.readers)
        .await
        .map_err(&error)?
        .iter()
        .map(|row| {
            let count: i64 = row.try_get(1)?;
            let sum: f64 = row.try_get(2)?;
            Ok(FigurePoint {
                at: row.try_get(0)?,
                count,
                min: row.try_get(3)?,
                max: row.try_get(4)?,
                avg: sum / count.max(1) as f64,
                last: row.try_get(5)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(&error)?,
    };
    points.reverse();
    Ok(points)
}

pub(super) async fn apply_retention(
    store: &SqliteStore,
    now: Millis,
    retention: Retention,
) -> Result<(), StoreError> {
    let error = query_error("deleting old figures");
    sqlx::query("DELETE FROM figure_samples WHERE at < ?1")
        .bind(now - retention.results)
        .execute(&store.writer)
        .await
        .map_err(&error)?;
    sqlx::query("DELETE FROM figure_hours WHERE hour < ?1")
        .bind(now - retention.hours)
        .execute(&store.writer)
        .await
        .map_err(&error)?;
    Ok(())
}
