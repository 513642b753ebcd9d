//! The offline copy of a SQLite store into a PostgreSQL store (`iza store copy`): every table
//! (services, raw results, rollups and fold marks, events, runs, schedule marks, run rollups and
//! run retention, incidents, alerts, silences, deliveries, business figures, workflow engines'
//! tables, the event outbox), read in pages of [`PAGE`] rows by key and written with one
//! multi-row statement per page, all in **one PostgreSQL transaction**: a copy that fails
//! leaves the target as it was. Event, run and incident ids are kept (runs are referenced by
//! incidents and escalation steps, events by clients paging), and the target's id sequences
//! move past the source's highest id ever used. Service ids are the target's own, mapped by
//! name. It owns nothing else: stop `iza serve` on the source first.

mod plain;

use std::collections::HashMap;

use sqlx::Row as _;
use sqlx::postgres::PgConnection;

use crate::{PostgresStore, SqliteStore, StoreError};

/// Rows per page read and per statement written.
const PAGE: i64 = 5_000;

/// What the copy found in the target or met on the way.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The target holds data and `force` was not given.
    #[error("the target store already holds data ({rows} rows in `{table}`)")]
    NotEmpty {
        /// The first table found with rows.
        table: &'static str,
        /// How many.
        rows: i64,
    },
    /// A read or a write failed; nothing was committed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Rows copied per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// Services (by name).
    pub services: u64,
    /// Raw results.
    pub results: u64,
    /// Minute and hour rollups.
    pub rollups: u64,
    /// Events.
    pub events: u64,
    /// Runs.
    pub runs: u64,
    /// Schedule marks.
    pub schedule_marks: u64,
    /// Hourly run rollups.
    pub run_rollups: u64,
    /// Incidents.
    pub incidents: u64,
    /// Alerts, silences and deliveries (alerting's tables).
    pub alerting: u64,
    /// Business figures' samples and hourly rollups.
    pub figures: u64,
    /// Workflow engines' workflows, executions, hourly rollups and cursors.
    pub workflows: u64,
    /// Event outbox entries not yet delivered.
    pub outbox: u64,
}

/// The tables whose rows make a store non-empty, in the order they are looked at.
const DATA_TABLES: &[&str] = &[
    "services",
    "results",
    "rollups",
    "events",
    "runs",
    "schedule_marks",
    "run_rollups",
    "incidents",
    "alerts",
    "silences",
    "deliveries",
    "figure_samples",
    "figure_hours",
    "workflows",
    "workflow_executions",
    "workflow_rollups",
    "workflow_cursors",
    "outbox",
];

fn read_error(table: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |error| StoreError::Query(format!("reading `{table}` of the source: {error}"))
}

fn write_error(table: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |error| StoreError::Query(format!("writing `{table}` into the target: {error}"))
}

/// Copies everything of `from` into `to` (migrated already). Refuses a target holding data
/// unless `force`: then rows whose key the target already has are kept as they are there.
pub async fn sqlite_to_postgres(
    from: &SqliteStore,
    to: &PostgresStore,
    force: bool,
) -> Result<CopyReport, CopyError> {
    let mut transaction = to
        .pool()
        .begin()
        .await
        .map_err(write_error("the transaction"))?;
    if !force {
        for table in DATA_TABLES {
            // The table names are constants of this module.
            let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&mut *transaction)
                .await
                .map_err(write_error(table))?;
            if rows > 0 {
                return Err(CopyError::NotEmpty { table, rows });
            }
        }
    }
    let source = from.pool();
    let mut report = CopyReport::default();

    // Services: the target's ids, mapped by name.
    let mut service_ids: HashMap<i64, i64> = HashMap::new();
    let mut last = i64::MIN;
    loop {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM services WHERE id > ?1 ORDER BY id LIMIT ?2")
                .bind(last)
                .bind(PAGE)
                .fetch_all(source)
                .await
                .map_err(read_error("services"))?;
        let Some((id, _)) = rows.last() else { break };
        last = *id;
        let names: Vec<&str> = rows.iter().map(|(_, name)| name.as_str()).collect();
        sqlx::query(
            "INSERT INTO services (name) SELECT * FROM UNNEST($1::text[]) ON CONFLICT DO NOTHING",
        )
        .bind(&names)
        .execute(&mut *transaction)
        .await
        .map_err(write_error("services"))?;
        let target: HashMap<String, i64> =
            sqlx::query_as("SELECT name, id FROM services WHERE name = ANY($1::text[])")
                .bind(&names)
                .fetch_all(&mut *transaction)
                .await
                .map_err(write_error("services"))?
                .into_iter()
                .collect();
        for (id, name) in &rows {
            if let Some(target_id) = target.get(name) {
                service_ids.insert(*id, *target_id);
            }
        }
        report.services += rows.len() as u64;
    }
    let service = |id: i64| {
        service_ids.get(&id).copied().ok_or_else(|| {
            StoreError::Query(format!(
                "the source refers to service id {id}, which it lacks"
            ))
        })
    };

    report.results = copy_results(source, &mut transaction, &service).await?;
    report.rollups = copy_rollups(source, &mut transaction, &service).await?;
    report.events = copy_events(source, &mut transaction).await?;
    report.runs = copy_runs(source, &mut transaction).await?;
    report.incidents = copy_incidents(source, &mut transaction).await?;
    report.schedule_marks = copy_small_tables(source, &mut transaction, &mut report).await?;
    report.alerting = copy_alerting(source, &mut transaction).await?;
    for table in plain::FIGURES {
        report.figures += plain::copy(table, source, &mut transaction).await?;
    }
    for table in plain::WORKFLOWS {
        report.workflows += plain::copy(table, source, &mut transaction).await?;
    }
    report.outbox = plain::copy(&plain::OUTBOX, source, &mut transaction).await?;

    // Ids never reused: each sequence moves past the highest id the source ever used.
    for table in [
        "events",
        "runs",
        "incidents",
        "alerts",
        "silences",
        "deliveries",
        "outbox",
    ] {
        let used: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = ?1")
                .bind(table)
                .fetch_optional(source)
                .await
                .map_err(read_error("sqlite_sequence"))?;
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             GREATEST($1, (SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"
        ))
        .bind(used.unwrap_or(0))
        .execute(&mut *transaction)
        .await
        .map_err(write_error(table))?;
    }
    transaction
        .commit()
        .await
        .map_err(write_error("the transaction"))?;
    Ok(report)
}

async fn copy_results(
    source: &sqlx::SqlitePool,
    target: &mut PgConnection,
    service: &impl Fn(i64) -> Result<i64, StoreError>,
) -> Result<u64, StoreError> {
    type Row = (
        i64,
        i64,
        i64,
        bool,
        f64,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let mut last = i64::MIN;
    let mut copied = 0;
    loop {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, service_id, at, up, latency_ms, bucket, message, node, region \
             FROM results WHERE id > ?1 ORDER BY id LIMIT ?2",
        )
        .bind(last)
        .bind(PAGE)
        .fetch_all(source)
        .await
        .map_err(read_error("results"))?;
        let Some(row) = rows.last() else { break };
        last = row.0;
        let mut columns = (vec![], vec![], vec![], vec![], vec![], vec![]);
        let (mut nodes, mut regions) = (vec![], vec![]);
        for (_, service_id, at, up, latency_ms, bucket, message, node, region) in &rows {
            nodes.push(node.as_deref().map(|text| text.replace('\0', "\u{FFFD}")));
            regions.push(region.as_deref().map(|text| text.replace('\0', "\u{FFFD}")));
            columns.0.push(service(*service_id)?);
            columns.1.push(*at);
            columns.2.push(*up);
            columns.3.push(*latency_ms);
            columns.4.push(*bucket);
            columns.5.push(
                message
                    .as_deref()
                    .map(|text| text.replace('\0', "\u{FFFD}")),
            );
        }
        sqlx::query(
            "INSERT INTO results (service_id, at, up, latency_ms, bucket, message, node, region) \
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::boolean[], \
             $4::double precision[], $5::bigint[], $6::text[], $7::text[], $8::text[])",
        )
        .bind(columns.0)
        .bind(columns.1)
        .bind(columns.2)
        .bind(columns.3)
        .bind(columns.4)
        .bind(columns.5)
        .bind(nodes)
        .bind(regions)
        .execute(&mut *target)
        .await
        .map_err(write_error("results"))?;
        copied += rows.len() as u64;
    }
    Ok(copied)
}

async fn copy_rollups(
    source: &sqlx::SqlitePool,
    target: &mut PgConnection,
    service: &impl Fn(i64) -> Result<i64, StoreError>,
) -> Result<u64, StoreError> {
    type Row = (i64, i64, i64, i64, i64, f64, f64, Vec<u8>);
    let mut last = (i64::MIN, i64::MIN, i64::MIN);
    let mut copied = 0;
    loop {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT service_id, width, start, count, failures, min_ms, max_ms, histogram \
             FROM rollups WHERE (service_id, width, start) > (?1, ?2, ?3) \
             ORDER BY service_id, width, start LIMIT ?4",
        )
        .bind(last.0)
        .bind(last.1)
        .bind(last.2)
        .bind(PAGE)
        .fetch_all(source)
        .await
        .map_err(read_error("rollups"))?;
        let Some(row) = rows.last() else { break };
        last = (row.0, row.1, row.2);
        let mut keys = (vec![], vec![], vec![], vec![], vec![]);
        let mut values = (vec![], vec![], vec![]);
        for (service_id, width, start, count, failures, min_ms, max_ms, histogram) in rows.iter() {
            keys.0.push(service(*service_id)?);
            keys.1.push(*width);
            keys.2.push(*start);
            keys.3.push(*count);
            keys.4.push(*failures);
            values.0.push(*min_ms);
            values.1.push(*max_ms);
            values.2.push(histogram.clone());
        }
        sqlx::query(
            "INSERT INTO rollups (service_id, width, start, count, failures, min_ms, max_ms, \
             histogram) SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], \
             $4::bigint[], $5::bigint[], $6::double precision[], $7::double precision[], \
             $8::bytea[]) ON CONFLICT DO NOTHING",
        )
        .bind(keys.0)
        .bind(keys.1)
        .bind(keys.2)
        .bind(keys.3)
        .bind(keys.4)
        .bind(values.0)
        .bind(values.1)
        .bind(values.2)
        .execute(&mut *target)
        .await
        .map_err(write_error("rollups"))?;
        copied += rows.len() as u64;
    }
    Ok(copied)
}

async fn copy_events(
    source: &sqlx::SqlitePool,
    target: &mut PgConnection,
) -> Result<u64, StoreError> {
    type Row = (i64, i64, String, Option<String>, String);
    let mut last = i64::MIN;
    let mut copied = 0;
    loop {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, at, kind, service, payload FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
        )
        .bind(last)
        .bind(PAGE)
        .fetch_all(source)
        .await
        .map_err(read_error("events"))?;
        let Some(row) = rows.last() else { break };
        last = row.0;
        let mut columns = (vec![], vec![], vec![], vec![], vec![]);
        for (id, at, kind, service, payload) in rows.iter().cloned() {
            columns.0.push(id);
            columns.1.push(at);
            columns.2.push(kind);
            columns.3.push(service);
            columns.4.push(payload);
        }
        sqlx::query(
            "INSERT INTO events (id, at, kind, service, payload) SELECT * FROM \
             UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[]) \
             ON CONFLICT DO NOTHING",
        )
        .bind(columns.0)
        .bind(columns.1)
        .bind(columns.2)
        .bind(columns.3)
        .bind(columns.4)
        .execute(&mut *target)
        .await
        .map_err(write_error("events"))?;
        copied += rows.len() as u64;
    }
    Ok(copied)
}

/// The columns of `runs`, in the same order in both stores.
const RUN_COLUMNS: &str = "id, task, agent, priority, state, attempt, max_attempts, concurrency, \
     external, dedupe, trigger, enqueued_at, run_at, started_at, finished_at, worker, \
     lease_until, output, error";

async fn copy_runs(
    source: &sqlx::SqlitePool,
    target: &mut PgConnection,
) -> Result<u64, StoreError> {
    let mut last = i64::MIN;
    let mut copied = 0;
    let get = read_error("runs");
    loop {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id > ?1 ORDER BY id LIMIT ?2"
        ))
        .bind(last)
        .bind(PAGE)
        .fetch_all(source)
        .await
        .map_err(&get)?;
        let Some(row) = rows.last() else { break };
        last = row.try_get(0).map_err(&get)?;
        let mut ints: [Vec<i64>; 6] = Default::default(); // id priority state attempt max conc
        let mut texts: [Vec<Option<String>>; 4] = Default::default(); // agent dedupe worker output
        let (mut tasks, mut triggers, mut external, mut error) = (vec![], vec![], vec![], vec![]);
        let mut times: [Vec<Option<i64>>; 5] = Default::default(); // enq run started finished lease
        for row in &rows {
            for (slot, index) in [0usize, 3, 4, 5, 6, 7].into_iter().enumerate() {
                ints[slot].push(row.try_get(index).map_err(&get)?);
            }
            tasks.push(row.try_get::<String, _>(1).map_err(&get)?);
            texts[0].push(row.try_get(2).map_err(&get)?);
            external.push(row.try_get::<bool, _>(8).map_err(&get)?);
            texts[1].push(row.try_get(9).map_err(&get)?);
            triggers.push(row.try_get::<String, _>(10).map_err(&get)?);
            for (slot, index) in [11usize, 12, 13, 14, 16].into_iter().enumerate() {
                times[slot].push(row.try_get(index).map_err(&get)?);
            }
            texts[2].push(row.try_get(15).map_err(&get)?);
            let output: Option<String> = row.try_get(17).map_err(&get)?;
            texts[3].push(output.map(|text| text.replace('\0', "\u{FFFD}")));
            let failure: Option<String> = row.try_get(18).map_err(&get)?;
            error.push(failure.map(|text| text.replace('\0', "\u{FFFD}")));
        }
        let [ids, priorities, states, attempts, max_attempts, concurrency] = ints;
        let [agents, dedupes, workers, outputs] = texts;
        let [enqueued, run_at, started, finished, leases] = times;
        sqlx::query(&format!(
            "INSERT INTO runs ({RUN_COLUMNS}) SELECT * FROM UNNEST($1::bigint[], $2::text[], \
             $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], \
             $9::boolean[], $10::text[], $11::text[], $12::bigint[], $13::bigint[], \
             $14::bigint[], $15::bigint[], $16::text[], $17::bigint[], $18::text[], $19::text[]) \
             ON CONFLICT DO NOTHING"
        ))
        .bind(ids)
        .bind(tasks)
        .bind(agents)
        .bind(priorities)
        .bind(states)
        .bind(attempts)
        .bind(max_attempts)
        .bind(concurrency)
        .bind(external)
        .bind(dedupes)
        .bind(triggers)
        .bind(enqueued)
        .bind(run_at)
        .bind(started)
        .bind(finished)
        .bind(workers)
        .bind(leases)
        .bind(outputs)
        .bind(error)
        .execute(&mut *target)
        .await
        .map_err(write_error("runs"))?;
        copied += rows.len() as u64;
    }
    Ok(copied)
}

async fn copy_incidents(
    source: &sqlx::SqlitePool,
    target: &mut PgConnection,
) -> Result<u64, StoreError> {
    type Row = (
        i64,
        String,
        Option<String>,
        i64,
        String,
        i64,
        i64,
        i64,
        Option<i64>,
        Option<String>,
        String,
    );
    let mut last = i64::MIN;
    let mut copied = 0;
    loop {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, task, agent, run, reason, state, opened_at, failures, resolved_at, \
             resolution, chain FROM incidents WHERE id > ?1 ORDER BY id LIMIT ?2",
        )
        .bind(last)
        .bind(PAGE)
        .fetch_all(source)
        .await
        .map_err(read_error("incidents"))?;
        let Some(row) = rows.last() else { break };
        last = row.0;
        // One statement per incident: few rows, eleven columns.
        for row in &rows {
            sqlx::query(
                "INSERT INTO incidents (id, task, agent, run, reason, state, opened_at, \
                 failures, resolved_at, resolution, chain) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
            )
            .bind(row.0)
            .bind(&row.1)
            .bind(&row.2)
            .bind(row.3)
            .bind(row.4.replace('\0', "\u{FFFD}"))
            .bind(row.5)
            .bind(row.6)
            .bind(row.7)
            .bind(row.8)
            .bind(&row.9)
            .bind(&row.10)
            .execute(&mut *target)
            .await
            .map_err(write_error("incidents"))?;
        }
        copied += rows.len() as u64;
    }
    Ok(copied)
}

/// Alerts, silences and the delivery log, ids kept: few rows, one statement each.
async fn copy_alerting(
    source: &sqlx::SqlitePool,
    target: &mut PgConnection,
) -> Result<u64, StoreError> {
    type AlertRow = (i64, String, String, i64, i64, i64, String);
    let alerts: Vec<AlertRow> = sqlx::query_as(
        "SELECT id, rule, service, state, started_at, updated_at, data FROM alerts ORDER BY id",
    )
    .fetch_all(source)
    .await
    .map_err(read_error("alerts"))?;
    for row in &alerts {
        sqlx::query(
            "INSERT INTO alerts (id, rule, service, state, started_at, updated_at, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(row.0)
        .bind(&row.1)
        .bind(&row.2)
        .bind(row.3)
        .bind(row.4)
        .bind(row.5)
        .bind(&row.6)
        .execute(&mut *target)
        .await
        .map_err(write_error("alerts"))?;
    }
    type SilenceRow = (i64, i64, i64, i64, String);
    let silences: Vec<SilenceRow> =
        sqlx::query_as("SELECT id, starts_at, ends_at, created_at, data FROM silences ORDER BY id")
            .fetch_all(source)
            .await
            .map_err(read_error("silences"))?;
    for row in &silences {
        sqlx::query(
            "INSERT INTO silences (id, starts_at, ends_at, created_at, data) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(row.0)
        .bind(row.1)
        .bind(row.2)
        .bind(row.3)
        .bind(&row.4)
        .execute(&mut *target)
        .await
        .map_err(write_error("silences"))?;
    }
    type DeliveryRow = (
        i64,
        i64,
        String,
        String,
        Option<i64>,
        i64,
        i64,
        Option<i64>,
        i64,
        Option<f64>,
        Option<String>,
    );
    let deliveries: Vec<DeliveryRow> = sqlx::query_as(
        "SELECT id, alert, transition, notifier, run, state, at, finished_at, attempts, \
         latency_ms, error FROM deliveries ORDER BY id",
    )
    .fetch_all(source)
    .await
    .map_err(read_error("deliveries"))?;
    for row in &deliveries {
        sqlx::query(
            "INSERT INTO deliveries (id, alert, transition, notifier, run, state, at, \
             finished_at, attempts, latency_ms, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
        )
        .bind(row.0)
        .bind(row.1)
        .bind(&row.2)
        .bind(&row.3)
        .bind(row.4)
        .bind(row.5)
        .bind(row.6)
        .bind(row.7)
        .bind(row.8)
        .bind(row.9)
        .bind(row.10.as_deref().map(|e| e.replace('\0', "\u{FFFD}")))
        .execute(&mut *target)
        .await
        .map_err(write_error("deliveries"))?;
    }
    Ok((alerts.len() + silences.len() + deliveries.len()) as u64)
}

/// Schedule marks, run rollups, and the two one-row marks (fold state, run retention); returns
/// the schedule marks copied and counts the run rollups in `report`.
async fn copy_small_tables(
    source: &sqlx::SqlitePool,
    target: &mut PgConnection,
    report: &mut CopyReport,
) -> Result<u64, StoreError> {
    let marks: Vec<(String, i64)> = sqlx::query_as("SELECT task, tick FROM schedule_marks")
        .fetch_all(source)
        .await
        .map_err(read_error("schedule_marks"))?;
    let (tasks, ticks): (Vec<String>, Vec<i64>) = marks.iter().cloned().unzip();
    sqlx::query(
        "INSERT INTO schedule_marks (task, tick) SELECT * FROM UNNEST($1::text[], $2::bigint[]) \
         ON CONFLICT (task) DO UPDATE SET tick = GREATEST(schedule_marks.tick, excluded.tick)",
    )
    .bind(tasks)
    .bind(ticks)
    .execute(&mut *target)
    .await
    .map_err(write_error("schedule_marks"))?;

    type RunRollup = (String, i64, i64, i64, f64, f64, Vec<u8>);
    let rollups: Vec<RunRollup> = sqlx::query_as(
        "SELECT task, start, count, failures, min_ms, max_ms, histogram FROM run_rollups",
    )
    .fetch_all(source)
    .await
    .map_err(read_error("run_rollups"))?;
    for (task, start, count, failures, min_ms, max_ms, histogram) in &rollups {
        sqlx::query(
            "INSERT INTO run_rollups (task, start, count, failures, min_ms, max_ms, histogram) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(task)
        .bind(start)
        .bind(count)
        .bind(failures)
        .bind(min_ms)
        .bind(max_ms)
        .bind(histogram)
        .execute(&mut *target)
        .await
        .map_err(write_error("run_rollups"))?;
    }
    report.run_rollups = rollups.len() as u64;

    let folds: Vec<(i64, i64)> = sqlx::query_as("SELECT width, folded_until FROM fold_state")
        .fetch_all(source)
        .await
        .map_err(read_error("fold_state"))?;
    for (width, until) in folds {
        sqlx::query(
            "UPDATE fold_state SET folded_until = GREATEST(folded_until, $1) WHERE width = $2",
        )
        .bind(until)
        .bind(width)
        .execute(&mut *target)
        .await
        .map_err(write_error("fold_state"))?;
    }
    let pruned: Option<i64> =
        sqlx::query_scalar("SELECT outputs_pruned_until FROM run_retention WHERE id = 1")
            .fetch_optional(source)
            .await
            .map_err(read_error("run_retention"))?;
    sqlx::query(
        "UPDATE run_retention SET outputs_pruned_until = GREATEST(outputs_pruned_until, $1) \
         WHERE id = 1",
    )
    .bind(pruned.unwrap_or(0))
    .execute(&mut *target)
    .await
    .map_err(write_error("run_retention"))?;
    Ok(marks.len() as u64)
}
