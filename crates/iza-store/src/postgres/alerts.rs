//! Alerts, silences and the delivery log of the PostgreSQL store (tables of migration 3), with
//! the SQLite store's semantics: an alert and a silence are kept as JSON text beside the
//! columns their queries need; the one open alert per rule and service is a unique index, the
//! one delivery per `(alert, transition, notifier)` another, so nodes sharing the database
//! cannot record either twice.

use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::{PostgresStore, pg_text, query_error};
use crate::alerts::{
    Alert, AlertQuery, AlertState, Delivery, DeliveryState, DeliveryUpdate, MAX_ALERTS_PAGE,
    Matchers, NewSilence, Silence,
};
use crate::{Millis, StoreError};

fn malformed(what: impl std::fmt::Display) -> StoreError {
    StoreError::Query(format!("a stored alert record is malformed: {what}"))
}

fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|error| StoreError::Query(format!("encoding JSON for the store: {error}")))
}

fn alert_from_row(row: &PgRow) -> Result<Alert, StoreError> {
    let id: i64 = row.try_get(0).map_err(malformed)?;
    let data: String = row.try_get(1).map_err(malformed)?;
    let mut alert: Alert = serde_json::from_str(&data).map_err(malformed)?;
    alert.id = id;
    Ok(alert)
}

pub(super) async fn save_alert(store: &PostgresStore, alert: &Alert) -> Result<Alert, StoreError> {
    let error = query_error("saving an alert");
    let data = json_text(alert)?;
    if alert.id == 0 {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO alerts (rule, service, state, started_at, updated_at, data) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&alert.rule)
        .bind(&alert.service)
        .bind(alert.state.code())
        .bind(alert.started_at)
        .bind(alert.updated_at)
        .bind(&data)
        .fetch_one(&store.pool)
        .await
        .map_err(&error)?;
        return Ok(Alert {
            id,
            ..alert.clone()
        });
    }
    let updated = sqlx::query(
        "UPDATE alerts SET rule = $2, service = $3, state = $4, started_at = $5, \
         updated_at = $6, data = $7 WHERE id = $1",
    )
    .bind(alert.id)
    .bind(&alert.rule)
    .bind(&alert.service)
    .bind(alert.state.code())
    .bind(alert.started_at)
    .bind(alert.updated_at)
    .bind(&data)
    .execute(&store.pool)
    .await
    .map_err(&error)?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("alert {}", alert.id)));
    }
    Ok(alert.clone())
}

pub(super) async fn alert(store: &PostgresStore, id: i64) -> Result<Option<Alert>, StoreError> {
    let row = sqlx::query("SELECT id, data FROM alerts WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await
        .map_err(query_error("reading an alert"))?;
    row.as_ref().map(alert_from_row).transpose()
}

pub(super) async fn alerts(
    store: &PostgresStore,
    query: &AlertQuery,
) -> Result<Vec<Alert>, StoreError> {
    let limit = query.limit.min(MAX_ALERTS_PAGE);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut statement = String::from(
        "SELECT id, data FROM alerts WHERE ($1::TEXT IS NULL OR service = $1) \
         AND ($2::BIGINT IS NULL OR id < $2)",
    );
    if query.open_only {
        statement.push_str(" AND state < 2");
    }
    statement.push_str(" ORDER BY id DESC LIMIT $3");
    let rows = sqlx::query(&statement)
        .bind(query.service.as_deref())
        .bind(query.before)
        .bind(limit as i64)
        .fetch_all(&store.pool)
        .await
        .map_err(query_error("reading alerts"))?;
    rows.iter().map(alert_from_row).collect()
}

pub(super) async fn acknowledge_alert(
    store: &PostgresStore,
    id: i64,
    by: &str,
    at: Millis,
) -> Result<Option<Alert>, StoreError> {
    let error = query_error("acknowledging an alert");
    let mut transaction = store.pool.begin().await.map_err(&error)?;
    let row = sqlx::query("SELECT id, data FROM alerts WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(&error)?;
    let Some(mut alert) = row.as_ref().map(alert_from_row).transpose()? else {
        return Ok(None);
    };
    if alert.state != AlertState::Resolved && alert.acknowledged_at.is_none() {
        alert.acknowledged_at = Some(at);
        alert.acknowledged_by = Some(by.to_owned());
        alert.updated_at = alert.updated_at.max(at);
        sqlx::query("UPDATE alerts SET updated_at = $2, data = $3 WHERE id = $1")
            .bind(id)
            .bind(alert.updated_at)
            .bind(json_text(&alert)?)
            .execute(&mut *transaction)
            .await
            .map_err(&error)?;
    }
    transaction.commit().await.map_err(&error)?;
    Ok(Some(alert))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SilenceData {
    matchers: Matchers,
    created_by: String,
    comment: String,
}

fn silence_from_row(row: &PgRow) -> Result<Silence, StoreError> {
    let data: String = row.try_get(4).map_err(malformed)?;
    let data: SilenceData = serde_json::from_str(&data).map_err(malformed)?;
    Ok(Silence {
        id: row.try_get(0).map_err(malformed)?,
        starts_at: row.try_get(1).map_err(malformed)?,
        ends_at: row.try_get(2).map_err(malformed)?,
        created_at: row.try_get(3).map_err(malformed)?,
        matchers: data.matchers,
        created_by: data.created_by,
        comment: data.comment,
    })
}

pub(super) async fn create_silence(
    store: &PostgresStore,
    new: &NewSilence,
) -> Result<Silence, StoreError> {
    let data = json_text(&SilenceData {
        matchers: new.matchers.clone(),
        created_by: new.created_by.clone(),
        comment: new.comment.clone(),
    })?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO silences (starts_at, ends_at, created_at, data) VALUES ($1, $2, $3, $4) \
         RETURNING id",
    )
    .bind(new.starts_at)
    .bind(new.ends_at)
    .bind(new.created_at)
    .bind(pg_text(&data))
    .fetch_one(&store.pool)
    .await
    .map_err(query_error("creating a silence"))?;
    Ok(Silence {
        id,
        matchers: new.matchers.clone(),
        starts_at: new.starts_at,
        ends_at: new.ends_at,
        created_by: new.created_by.clone(),
        comment: new.comment.clone(),
        created_at: new.created_at,
    })
}

pub(super) async fn silences(
    store: &PostgresStore,
    active_at: Option<Millis>,
) -> Result<Vec<Silence>, StoreError> {
    let statement = if active_at.is_some() {
        "SELECT id, starts_at, ends_at, created_at, data FROM silences \
         WHERE starts_at <= $1 AND ends_at > $1 ORDER BY id DESC"
    } else {
        "SELECT id, starts_at, ends_at, created_at, data FROM silences ORDER BY id DESC"
    };
    let mut query = sqlx::query(statement);
    if let Some(at) = active_at {
        query = query.bind(at);
    }
    let rows = query
        .fetch_all(&store.pool)
        .await
        .map_err(query_error("reading silences"))?;
    rows.iter().map(silence_from_row).collect()
}

pub(super) async fn expire_silence(
    store: &PostgresStore,
    id: i64,
    at: Millis,
) -> Result<Option<Silence>, StoreError> {
    let row = sqlx::query(
        "UPDATE silences SET ends_at = LEAST(ends_at, GREATEST($2, starts_at)) WHERE id = $1 \
         RETURNING id, starts_at, ends_at, created_at, data",
    )
    .bind(id)
    .bind(at)
    .fetch_optional(&store.pool)
    .await
    .map_err(query_error("expiring a silence"))?;
    row.as_ref().map(silence_from_row).transpose()
}

pub(super) async fn record_deliveries(
    store: &PostgresStore,
    deliveries: &[Delivery],
) -> Result<Vec<bool>, StoreError> {
    let error = query_error("recording deliveries");
    let mut transaction = store.pool.begin().await.map_err(&error)?;
    let mut inserted = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let done = sqlx::query(
            "INSERT INTO deliveries (alert, transition, notifier, run, state, at, finished_at, \
             attempts, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (alert, transition, notifier) DO NOTHING",
        )
        .bind(d.alert)
        .bind(&d.transition)
        .bind(&d.notifier)
        .bind(d.run)
        .bind(d.state.code())
        .bind(d.at)
        .bind(d.finished_at)
        .bind(i64::from(d.attempts))
        .bind(d.latency_ms)
        .bind(d.error.as_deref().map(pg_text))
        .execute(&mut *transaction)
        .await
        .map_err(&error)?;
        inserted.push(done.rows_affected() == 1);
    }
    transaction.commit().await.map_err(&error)?;
    Ok(inserted)
}

pub(super) async fn update_deliveries(
    store: &PostgresStore,
    update: &DeliveryUpdate,
) -> Result<(), StoreError> {
    let finished = (update.state != DeliveryState::Queued).then_some(update.at);
    let keys = json_text(&update.keys)?;
    sqlx::query(
        "UPDATE deliveries SET run = $2, state = $3, finished_at = $4, attempts = $5, \
         latency_ms = $6, error = $7 WHERE notifier = $1 AND state = 0 AND EXISTS ( \
         SELECT 1 FROM jsonb_array_elements($8::TEXT::JSONB) AS k \
         WHERE (k.value->>0)::BIGINT = deliveries.alert AND k.value->>1 = deliveries.transition)",
    )
    .bind(&update.notifier)
    .bind(update.run)
    .bind(update.state.code())
    .bind(finished)
    .bind(i64::from(update.attempts))
    .bind(update.latency_ms)
    .bind(update.error.as_deref().map(pg_text))
    .bind(keys)
    .execute(&store.pool)
    .await
    .map_err(query_error("updating deliveries"))?;
    Ok(())
}

pub(super) async fn deliveries(
    store: &PostgresStore,
    alert: i64,
) -> Result<Vec<Delivery>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, alert, transition, notifier, run, state, at, finished_at, attempts, \
         latency_ms, error FROM deliveries WHERE alert = $1 ORDER BY id",
    )
    .bind(alert)
    .fetch_all(&store.pool)
    .await
    .map_err(query_error("reading deliveries"))?;
    rows.iter()
        .map(|row| {
            let state: i64 = row.try_get(5).map_err(malformed)?;
            let attempts: i64 = row.try_get(8).map_err(malformed)?;
            Ok(Delivery {
                id: row.try_get(0).map_err(malformed)?,
                alert: row.try_get(1).map_err(malformed)?,
                transition: row.try_get(2).map_err(malformed)?,
                notifier: row.try_get(3).map_err(malformed)?,
                run: row.try_get(4).map_err(malformed)?,
                state: DeliveryState::from_code(state)
                    .ok_or_else(|| malformed(format!("delivery state {state}")))?,
                at: row.try_get(6).map_err(malformed)?,
                finished_at: row.try_get(7).map_err(malformed)?,
                attempts: u32::try_from(attempts).map_err(malformed)?,
                latency_ms: row.try_get(9).map_err(malformed)?,
                error: row.try_get(10).map_err(malformed)?,
            })
        })
        .collect()
}
