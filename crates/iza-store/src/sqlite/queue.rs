//! The run queue and incidents of the SQLite store (tables of migration 3).
//!
//! Every write is one `BEGIN IMMEDIATE` transaction on the writer connection, and every batch
//! call is a few statements whatever its size: multi-row `INSERT`s for enqueue, one ordered
//! `SELECT` and one `UPDATE ... RETURNING` for a claim, one `UPDATE ... FROM json_each(...)`
//! for a batch of finishes. Lists of ids or names travel as one JSON parameter read by
//! `json_each`, so statements stay the same whatever the batch size (and stay cached).
//! Retention of runs and incidents is here too (`maintain` calls [`apply_retention`]); reads
//! go to the reader pool.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use sqlx::Row as _;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqliteRow};

use super::write::aggregate_from_row;
use super::{HOUR, SqliteStore, query_error};
use crate::aggregate::{BucketAggregate, floor_to, sanitize_latency};
use crate::histogram::bucket_of;
use crate::queue::{
    ClaimRequest, EscalationStep, Incident, IncidentQuery, IncidentState, MAX_INCIDENTS_PAGE,
    MAX_RUNS_PAGE, NewIncident, NewRun, QueueDepth, Run, RunFinish, RunId, RunOutcome, RunPriority,
    RunQuery, RunState, StepOutcome, TaskStats,
};
use crate::{Millis, Retention, StoreError};

/// The columns of a run, in the order [`run_from_row`] reads them.
const RUN_COLUMNS: &str = "id, task, agent, priority, state, attempt, max_attempts, external, \
     dedupe, trigger, enqueued_at, run_at, started_at, finished_at, worker, lease_until, output, \
     error";

/// The columns of an incident, in the order [`incident_from_row`] reads them.
const INCIDENT_COLUMNS: &str = "id, task, agent, run, reason, state, opened_at, failures, \
     resolved_at, resolution, chain";

/// Rows per enqueue `INSERT` (13 parameters each, far below SQLite's limit of 32,766).
const RUNS_PER_INSERT: usize = 500;

/// Claims of up to this many runs return them from the `UPDATE` itself; larger ones read them
/// back as one JSON row (sqlx hands each returned row over between threads on its own).
const RETURNING_CLAIMS: usize = 16;

/// How many rows one retention step touches.
const RETENTION_STEP_ROWS: i64 = 5_000;

fn malformed(what: impl std::fmt::Display) -> StoreError {
    StoreError::Query(format!("a stored run is malformed: {what}"))
}

fn to_u32(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| malformed(format!("{what} {value}")))
}

fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|error| StoreError::Query(format!("encoding JSON for the store: {error}")))
}

fn run_from_row(row: &SqliteRow) -> Result<Run, StoreError> {
    let get = |error: sqlx::Error| malformed(error);
    let priority: i64 = row.try_get(3).map_err(get)?;
    let state: i64 = row.try_get(4).map_err(get)?;
    let trigger: String = row.try_get(9).map_err(get)?;
    Ok(Run {
        id: row.try_get(0).map_err(get)?,
        task: row.try_get(1).map_err(get)?,
        agent: row.try_get(2).map_err(get)?,
        priority: RunPriority::from_rank(priority)
            .ok_or_else(|| malformed(format!("priority {priority}")))?,
        state: RunState::from_code(state).ok_or_else(|| malformed(format!("state {state}")))?,
        attempt: to_u32(row.try_get(5).map_err(get)?, "attempt")?,
        max_attempts: to_u32(row.try_get(6).map_err(get)?, "max_attempts")?,
        external: row.try_get(7).map_err(get)?,
        dedupe: row.try_get(8).map_err(get)?,
        trigger: serde_json::from_str(&trigger).map_err(malformed)?,
        enqueued_at: row.try_get(10).map_err(get)?,
        run_at: row.try_get(11).map_err(get)?,
        started_at: row.try_get(12).map_err(get)?,
        finished_at: row.try_get(13).map_err(get)?,
        worker: row.try_get(14).map_err(get)?,
        lease_until: row.try_get(15).map_err(get)?,
        output: row.try_get(16).map_err(get)?,
        error: row.try_get(17).map_err(get)?,
    })
}

fn runs_from_rows(rows: &[SqliteRow]) -> Result<Vec<Run>, StoreError> {
    rows.iter().map(run_from_row).collect()
}

/// Reads an incident row.
fn incident_from_row(row: &SqliteRow) -> Result<Incident, StoreError> {
    let bad = |what: String| StoreError::Query(format!("a stored incident is malformed: {what}"));
    let get = |error: sqlx::Error| bad(error.to_string());
    let state: i64 = row.try_get(5).map_err(get)?;
    let failures: i64 = row.try_get(7).map_err(get)?;
    let chain: String = row.try_get(10).map_err(get)?;
    Ok(Incident {
        id: row.try_get(0).map_err(get)?,
        task: row.try_get(1).map_err(get)?,
        agent: row.try_get(2).map_err(get)?,
        run: row.try_get(3).map_err(get)?,
        reason: row.try_get(4).map_err(get)?,
        state: match state {
            0 => IncidentState::Open,
            1 => IncidentState::Resolved,
            other => return Err(bad(format!("state {other}"))),
        },
        opened_at: row.try_get(6).map_err(get)?,
        failures: u32::try_from(failures).map_err(|_| bad(format!("failures {failures}")))?,
        resolved_at: row.try_get(8).map_err(get)?,
        resolution: row.try_get(9).map_err(get)?,
        chain: serde_json::from_str(&chain).map_err(|error| bad(error.to_string()))?,
    })
}

// ---------------------------------------------------------------- enqueue

/// `INSERT INTO runs ... VALUES (...), ...` for `rows` rows; when `keyed` (some have a dedupe
/// key), with `ON CONFLICT DO NOTHING` (the only uniqueness besides the id is `(task, dedupe)`).
fn insert_runs_statement(rows: usize, keyed: bool) -> String {
    let mut statement = String::from(
        "INSERT INTO runs (task, agent, priority, state, max_attempts, concurrency, external, \
         dedupe, trigger, enqueued_at, run_at) VALUES ",
    );
    for row in 0..rows {
        statement.push_str(if row == 0 { "" } else { ", " });
        statement.push_str("(?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)");
    }
    if keyed {
        statement.push_str(" ON CONFLICT DO NOTHING");
    }
    statement
}

pub(super) async fn enqueue_runs(
    store: &SqliteStore,
    runs: &[NewRun],
) -> Result<Vec<Option<RunId>>, StoreError> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let error = query_error("enqueueing runs");
    // No schedule tick, no dedupe key, one statement's worth (`run_now`, an escalation): one
    // `INSERT`, atomic on its own, without `BEGIN` and `COMMIT` (two round trips to the
    // connection's thread fewer on the idle dispatch's path).
    if runs.len() <= RUNS_PER_INSERT
        && runs
            .iter()
            .all(|run| run.tick.is_none() && run.dedupe.is_none())
    {
        return enqueue_unkeyed(store, runs).await;
    }
    let mut transaction = store
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(&error)?;
    let ids = enqueue_in(&mut transaction, runs).await?;
    transaction.commit().await.map_err(&error)?;
    Ok(ids)
}

/// The enqueue of [`enqueue_runs`] inside a transaction the caller holds (and commits).
async fn enqueue_in(
    transaction: &mut SqliteConnection,
    runs: &[NewRun],
) -> Result<Vec<Option<RunId>>, StoreError> {
    let error = query_error("enqueueing runs");
    // Schedule ticks at or before their task's mark are skipped; the others advance it.
    let ticked: HashSet<&str> = runs
        .iter()
        .filter(|run| run.tick.is_some())
        .map(|run| run.task.as_str())
        .collect();
    let mut marks: HashMap<String, Millis> = HashMap::new();
    if !ticked.is_empty() {
        // One JSON row, not a row per task: sqlx hands each row over between threads on its
        // own, and a ticker of 10,000 tasks read 10,000 marks a second.
        let tasks = json_text(&ticked)?;
        let rows: String = sqlx::query_scalar(
            "SELECT json_group_object(task, tick) FROM schedule_marks \
             WHERE task IN (SELECT value FROM json_each(?1))",
        )
        .bind(tasks)
        .fetch_one(&mut *transaction)
        .await
        .map_err(&error)?;
        marks = serde_json::from_str(&rows).map_err(malformed)?;
    }
    let mut advanced: BTreeMap<&str, Millis> = BTreeMap::new();
    let mut accepted: Vec<usize> = Vec::with_capacity(runs.len());
    for (index, run) in runs.iter().enumerate() {
        if let Some(tick) = run.tick {
            let mark = advanced
                .get(run.task.as_str())
                .copied()
                .or_else(|| marks.get(&run.task).copied());
            if mark.is_some_and(|mark| tick <= mark) {
                continue;
            }
            advanced.insert(&run.task, tick);
        }
        accepted.push(index);
    }

    // Inserted rows come back with increasing ids in insertion order; a row skipped by the
    // unique (task, dedupe) index is absent, so matching in order finds which were skipped.
    let mut ids: Vec<Option<RunId>> = vec![None; runs.len()];
    let mut triggers = Vec::with_capacity(accepted.len());
    for index in &accepted {
        triggers.push(json_text(&runs[*index].trigger)?);
    }
    for (chunk, chunk_triggers) in accepted
        .chunks(RUNS_PER_INSERT)
        .zip(triggers.chunks(RUNS_PER_INSERT))
    {
        // Without dedupe keys nothing can conflict.
        let keyed = chunk.iter().any(|index| runs[*index].dedupe.is_some());
        let statement = insert_runs_statement(chunk.len(), keyed);
        let mut query = sqlx::query(&statement);
        for (index, trigger) in chunk.iter().zip(chunk_triggers) {
            let run = &runs[*index];
            query = query
                .bind(&run.task)
                .bind(run.agent.as_deref())
                .bind(i64::from(run.priority.rank()))
                .bind(i64::from(run.max_attempts))
                .bind(i64::from(run.concurrency))
                .bind(run.external)
                .bind(run.dedupe.as_deref())
                .bind(trigger.as_str())
                .bind(run.enqueued_at)
                .bind(run.run_at);
        }
        // No `RETURNING`: sqlx hands each returned row over between threads on its own, which
        // cost more than the insert. The rows inserted by one statement have the highest ids
        // of the table (AUTOINCREMENT, one writer), the last one `last_insert_rowid`.
        let outcome = query.execute(&mut *transaction).await.map_err(&error)?;
        let inserted = usize::try_from(outcome.rows_affected()).unwrap_or(usize::MAX);
        let last = outcome.last_insert_rowid();
        if inserted == chunk.len() {
            // Nothing skipped: the ids are consecutive, in insertion order.
            let first = last - i64::try_from(inserted).unwrap_or(i64::MAX) + 1;
            for (offset, index) in chunk.iter().enumerate() {
                ids[*index] = Some(first + offset as i64);
            }
            continue;
        }
        if !keyed {
            return Err(StoreError::Query(format!(
                "enqueueing runs: {inserted} of {} rows inserted",
                chunk.len()
            )));
        }
        if inserted == 0 {
            continue;
        }
        // Some were duplicates: read back which (a skipped row may still use up an id).
        let rows: String = sqlx::query_scalar(
            "SELECT json_group_array(json_array(id, task, dedupe)) FROM \
             (SELECT id, task, dedupe FROM runs WHERE id <= ?1 ORDER BY id DESC LIMIT ?2)",
        )
        .bind(last)
        .bind(i64::try_from(inserted).unwrap_or(i64::MAX))
        .fetch_one(&mut *transaction)
        .await
        .map_err(&error)?;
        let mut inserted: Vec<(i64, String, Option<String>)> = json_rows(&rows)?;
        inserted.sort_unstable_by_key(|(id, _, _)| *id);
        let mut next = inserted.into_iter().peekable();
        for index in chunk {
            let run = &runs[*index];
            if let Some((id, _, _)) = next.next_if(|(_, task, dedupe)| {
                *task == run.task && dedupe.as_deref() == run.dedupe.as_deref()
            }) {
                ids[*index] = Some(id);
            }
        }
    }

    if !advanced.is_empty() {
        sqlx::query(
            "INSERT INTO schedule_marks (task, tick) \
             SELECT key, value FROM json_each(?1) WHERE true \
             ON CONFLICT (task) DO UPDATE SET tick = max(tick, excluded.tick)",
        )
        .bind(json_text(&advanced)?)
        .execute(&mut *transaction)
        .await
        .map_err(&error)?;
    }
    Ok(ids)
}

/// Enqueues up to [`RUNS_PER_INSERT`] runs without tick or dedupe key in one statement (its own
/// transaction): nothing can conflict, so every row is inserted, with consecutive ids.
async fn enqueue_unkeyed(
    store: &SqliteStore,
    runs: &[NewRun],
) -> Result<Vec<Option<RunId>>, StoreError> {
    let error = query_error("enqueueing runs");
    let mut triggers = Vec::with_capacity(runs.len());
    for run in runs {
        triggers.push(json_text(&run.trigger)?);
    }
    let statement = insert_runs_statement(runs.len(), false);
    let mut query = sqlx::query(&statement);
    for (run, trigger) in runs.iter().zip(&triggers) {
        query = query
            .bind(&run.task)
            .bind(run.agent.as_deref())
            .bind(i64::from(run.priority.rank()))
            .bind(i64::from(run.max_attempts))
            .bind(i64::from(run.concurrency))
            .bind(run.external)
            .bind(None::<&str>)
            .bind(trigger.as_str())
            .bind(run.enqueued_at)
            .bind(run.run_at);
    }
    let outcome = query.execute(&store.writer).await.map_err(&error)?;
    let inserted = usize::try_from(outcome.rows_affected()).unwrap_or(usize::MAX);
    if inserted != runs.len() {
        return Err(StoreError::Query(format!(
            "enqueueing runs: {inserted} of {} rows inserted",
            runs.len()
        )));
    }
    let first = outcome.last_insert_rowid() - i64::try_from(inserted).unwrap_or(i64::MAX) + 1;
    Ok((0..runs.len())
        .map(|offset| Some(first + offset as i64))
        .collect())
}

// ---------------------------------------------------------------- claim

/// A claim candidate: id, task, concurrency, priority rank, enqueued_at, run_at.
type Candidate = (i64, String, i64, i64, Millis, Millis);

/// The candidate lists of a claim in one statement (one round trip to the connection's
/// thread), its parameters numbered from `offset + 1`: +1 external, +2 now, +3 agent, +4 tasks
/// (JSON), +5 tasks at their concurrency (JSON), +6 runs picked already (JSON), +7 now - aging,
/// +8 limit. Two columns: the runs due for less than one aging step (effective rank = rank, so
/// in (priority, id) order) and those due for longer (a backlog, by their aged rank), each a
/// JSON array of [`Candidate`]s. When `counted`, each candidate also carries the number of its
/// task's running runs ([`CountedCandidate`]): the concurrency check then needs no statement
/// of its own (for small claims only: it is one index probe per candidate).
///
/// Each list states its own one bound on `run_at` (`<= now` or `<= now - aging`): given two
/// upper bounds on the same column, SQLite ranges its index scan on the first one written, so
/// a redundant `run_at <= now` before `run_at <= now - aging` made the aged query walk every
/// queued run.
fn claim_candidates_sql(offset: usize, counted: bool) -> String {
    let p = |k: usize| format!("?{}", offset + k);
    let (external, now, agent, tasks, full, picked, old_before, limit) =
        (p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(8));
    let filters = format!(
        "state = 0 AND external = {external} \
         AND ({agent} IS NULL OR agent = {agent}) \
         AND ({tasks} IS NULL OR task IN (SELECT value FROM json_each({tasks}))) \
         AND task NOT IN (SELECT value FROM json_each({full})) \
         AND id NOT IN (SELECT value FROM json_each({picked}))"
    );
    let count = if counted {
        ", (SELECT COUNT(*) FROM runs AS r INDEXED BY runs_running_by_task \
         WHERE r.state = 1 AND r.task = c.task)"
    } else {
        ""
    };
    format!(
        "SELECT (SELECT json_group_array(json_array(id, task, concurrency, priority, \
         enqueued_at, run_at{count})) FROM (SELECT * FROM runs INDEXED BY runs_ready WHERE \
         {filters} AND run_at <= {now} AND max(enqueued_at, run_at) > {old_before} \
         ORDER BY priority, id LIMIT {limit}) AS c), \
         (SELECT json_group_array(json_array(id, task, concurrency, priority, enqueued_at, \
         run_at{count})) FROM (SELECT * FROM runs INDEXED BY runs_queued_by_time WHERE \
         {filters} AND run_at <= {old_before} AND enqueued_at <= {old_before} \
         ORDER BY priority - ({now} - max(enqueued_at, run_at)) / ({now} - {old_before}), id \
         LIMIT {limit}) AS c)"
    )
}

/// [`claim_candidates_sql`] from parameter 1, plain and counted (made once).
fn claim_candidates(counted: bool) -> &'static str {
    static PLAIN: OnceLock<String> = OnceLock::new();
    static COUNTED: OnceLock<String> = OnceLock::new();
    let cell = if counted { &COUNTED } else { &PLAIN };
    cell.get_or_init(|| claim_candidates_sql(0, counted))
}

/// The runs whose ids are the JSON array ?1, as one JSON array of objects ([`RunJson`]).
const CLAIMED_RUNS: &str = "SELECT json_group_array(json_object('id', id, 'task', task, \
     'agent', agent, 'priority', priority, 'state', state, 'attempt', attempt, \
     'max_attempts', max_attempts, 'external', external, 'dedupe', dedupe, 'trigger', trigger, \
     'enqueued_at', enqueued_at, 'run_at', run_at, 'started_at', started_at, \
     'finished_at', finished_at, 'worker', worker, 'lease_until', lease_until, \
     'output', output, 'error', error)) FROM runs WHERE id IN (SELECT value FROM json_each(?1))";

/// A run as [`CLAIMED_RUNS`] gives it.
#[derive(serde::Deserialize)]
struct RunJson {
    id: RunId,
    task: String,
    agent: Option<String>,
    priority: i64,
    state: i64,
    attempt: i64,
    max_attempts: i64,
    external: i64,
    dedupe: Option<String>,
    trigger: String,
    enqueued_at: Millis,
    run_at: Millis,
    started_at: Option<Millis>,
    finished_at: Option<Millis>,
    worker: Option<String>,
    lease_until: Option<Millis>,
    output: Option<String>,
    error: Option<String>,
}

impl RunJson {
    fn into_run(self) -> Result<Run, StoreError> {
        Ok(Run {
            id: self.id,
            task: self.task,
            agent: self.agent,
            priority: RunPriority::from_rank(self.priority)
                .ok_or_else(|| malformed(format!("priority {}", self.priority)))?,
            state: RunState::from_code(self.state)
                .ok_or_else(|| malformed(format!("state {}", self.state)))?,
            attempt: to_u32(self.attempt, "attempt")?,
            max_attempts: to_u32(self.max_attempts, "max_attempts")?,
            external: self.external != 0,
            dedupe: self.dedupe,
            trigger: serde_json::from_str(&self.trigger).map_err(malformed)?,
            enqueued_at: self.enqueued_at,
            run_at: self.run_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            worker: self.worker,
            lease_until: self.lease_until,
            output: self.output,
            error: self.error,
        })
    }
}

/// Parses a JSON array that SQLite built (`json_group_array`).
fn json_rows<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>, StoreError> {
    serde_json::from_str(text).map_err(malformed)
}

/// `rank - (now - max(enqueued_at, run_at)) / aging`; a run enqueued after `now` (a clock that
/// went back) counts as just due.
fn effective_rank(candidate: &Candidate, now: Millis, aging: Millis) -> i64 {
    let (_, _, _, priority, enqueued_at, run_at) = candidate;
    let waited = now.saturating_sub((*enqueued_at).max(*run_at)).max(0);
    priority - waited / aging
}

/// A candidate of a counted list: a [`Candidate`] and its task's running runs.
type CountedCandidate = (i64, String, i64, i64, Millis, Millis, i64);

/// The two candidate lists of a claim's first round as a counted [`claim_candidates_sql`] gave
/// them (JSON), read in the statement that also enqueued (see [`enqueue_and_claim_runs`]).
struct FirstRound {
    young: String,
    old: String,
}

/// Claims of up to this many runs read their candidates with their tasks' running counts
/// ([`claim_candidates_sql`], `counted`): one statement fewer.
const COUNTED_CLAIMS: usize = RETURNING_CLAIMS;

/// Chooses the runs a claim takes (the ids, in claim order), inside a transaction the caller
/// holds; see [`claim_runs`] for the rules. `first`: the first round's candidates, read by the
/// caller already (counted).
async fn pick_runs(
    transaction: &mut SqliteConnection,
    request: &ClaimRequest,
    mut first: Option<FirstRound>,
) -> Result<Vec<RunId>, StoreError> {
    let error = query_error("claiming runs");
    let aging = request.aging.max(1);
    let tasks = request.tasks.as_ref().map(json_text).transpose()?;
    let mut picked: Vec<RunId> = Vec::new();
    // Running runs per task (read once per task) and the tasks found at their concurrency.
    let mut running: HashMap<String, i64> = HashMap::new();
    let mut full: Vec<String> = Vec::new();
    let old_before = request.now.saturating_sub(aging);
    let mut round = 0usize;
    loop {
        let want = request.limit - picked.len();
        let fetch = want.saturating_add(want.min(64));
        let fetch_sql = i64::try_from(fetch).unwrap_or(i64::MAX);
        // The first round of a small claim reads the running counts with the candidates.
        let counted = round == 0 && request.limit <= COUNTED_CLAIMS;
        round += 1;
        let (young, old): (String, String) = match first.take() {
            Some(first) => (first.young, first.old),
            None => {
                let (full_json, picked_json) = (json_text(&full)?, json_text(&picked)?);
                sqlx::query_as(claim_candidates(counted))
                    .bind(request.external)
                    .bind(request.now)
                    .bind(request.agent.as_deref())
                    .bind(tasks.as_deref())
                    .bind(full_json)
                    .bind(picked_json)
                    .bind(old_before)
                    .bind(fetch_sql)
                    .fetch_one(&mut *transaction)
                    .await
                    .map_err(&error)?
            }
        };
        let (young, old): (Vec<Candidate>, Vec<Candidate>) = if counted {
            let mut strip = |list: Vec<CountedCandidate>| {
                list.into_iter()
                    .map(
                        |(id, task, concurrency, priority, enqueued_at, run_at, count)| {
                            running.entry(task.clone()).or_insert(count);
                            (id, task, concurrency, priority, enqueued_at, run_at)
                        },
                    )
                    .collect::<Vec<Candidate>>()
            };
            let young = strip(json_rows(&young)?);
            let old = strip(json_rows(&old)?);
            (young, old)
        } else {
            (json_rows(&young)?, json_rows(&old)?)
        };
        let key =
            |candidate: &Candidate| (effective_rank(candidate, request.now, aging), candidate.0);
        // Rows beyond a list that was cut at `fetch` could come before the later rows of the
        // other list: only what sorts at or before the last row of each cut list is decided.
        let boundary = [&young, &old]
            .into_iter()
            .filter(|list| list.len() == fetch)
            .filter_map(|list| list.iter().map(key).max())
            .min();
        let exhausted = boundary.is_none();
        let mut merged: Vec<Candidate> = young.into_iter().chain(old).collect();
        merged.sort_by_key(key);
        if let Some(boundary) = boundary {
            merged.retain(|candidate| key(candidate) <= boundary);
        }

        let unknown: HashSet<&str> = merged
            .iter()
            .map(|candidate| candidate.1.as_str())
            .filter(|task| !running.contains_key(*task))
            .collect();
        if !unknown.is_empty() {
            let counts: Vec<(String, i64)> = sqlx::query_as(
                "SELECT task, COUNT(*) FROM runs INDEXED BY runs_running_by_task WHERE state = 1 \
                 AND task IN (SELECT value FROM json_each(?1)) GROUP BY task",
            )
            .bind(json_text(&unknown)?)
            .fetch_all(&mut *transaction)
            .await
            .map_err(&error)?;
            for task in unknown {
                running.insert(task.to_owned(), 0);
            }
            running.extend(counts);
        }

        for (id, task, concurrency, ..) in merged {
            if picked.len() == request.limit {
                break;
            }
            let count = running.entry(task.clone()).or_insert(0);
            if *count < concurrency.max(1) {
                *count += 1;
                picked.push(id);
            } else if !full.contains(&task) {
                full.push(task);
            }
        }
        if exhausted || picked.len() == request.limit {
            break;
        }
    }
    Ok(picked)
}

/// The `UPDATE` that makes picked runs running, returning them (`RUN_COLUMNS`, ?1 worker,
/// ?2 now, ?3 lease's end, ?4 the ids as JSON); `then` follows it in the same statement string.
fn claim_update_sql(then: &str) -> String {
    format!(
        "UPDATE runs SET state = 1, attempt = attempt + 1, worker = ?1, started_at = ?2, \
         lease_until = ?3 WHERE id IN (SELECT value FROM json_each(?4)) \
         RETURNING {RUN_COLUMNS}{then}"
    )
}

/// Orders claimed runs as they were picked.
fn in_claim_order(mut claimed: Vec<Run>, picked: &[RunId]) -> Vec<Run> {
    let order: HashMap<RunId, usize> = picked
        .iter()
        .enumerate()
        .map(|(position, id)| (*id, position))
        .collect();
    claimed.sort_by_key(|run| order.get(&run.id).copied().unwrap_or(usize::MAX));
    claimed
}

/// Makes the picked runs running (leased to the claim's worker) inside the caller's
/// transaction; returns them in claim order.
async fn claim_picked(
    transaction: &mut SqliteConnection,
    request: &ClaimRequest,
    picked: &[RunId],
) -> Result<Vec<Run>, StoreError> {
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let error = query_error("claiming runs");
    let picked_json = json_text(picked)?;
    if picked.len() <= RETURNING_CLAIMS {
        // A few runs (a worker's claim): the update returns them, one statement fewer.
        static UPDATE: OnceLock<String> = OnceLock::new();
        let rows = sqlx::query(UPDATE.get_or_init(|| claim_update_sql("")))
            .bind(&request.worker)
            .bind(request.now)
            .bind(request.now.saturating_add(request.lease))
            .bind(&picked_json)
            .fetch_all(&mut *transaction)
            .await
            .map_err(&error)?;
        return Ok(in_claim_order(runs_from_rows(&rows)?, picked));
    }
    sqlx::query(
        "UPDATE runs SET state = 1, attempt = attempt + 1, worker = ?1, started_at = ?2, \
         lease_until = ?3 WHERE id IN (SELECT value FROM json_each(?4))",
    )
    .bind(&request.worker)
    .bind(request.now)
    .bind(request.now.saturating_add(request.lease))
    .bind(&picked_json)
    .execute(&mut *transaction)
    .await
    .map_err(&error)?;
    // One row holding every claimed run as JSON: far cheaper than a row per run.
    let rows: String = sqlx::query_scalar(CLAIMED_RUNS)
        .bind(&picked_json)
        .fetch_one(&mut *transaction)
        .await
        .map_err(&error)?;
    let claimed = json_rows::<RunJson>(&rows)?
        .into_iter()
        .map(RunJson::into_run)
        .collect::<Result<Vec<Run>, StoreError>>()?;
    Ok(in_claim_order(claimed, picked))
}

pub(super) async fn claim_runs(
    store: &SqliteStore,
    request: &ClaimRequest,
) -> Result<Vec<Run>, StoreError> {
    if request.limit == 0 {
        return Ok(Vec::new());
    }
    let error = query_error("claiming runs");
    let mut transaction = store
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(&error)?;
    let picked = pick_runs(&mut transaction, request, None).await?;
    let claimed = claim_picked(&mut transaction, request, &picked).await?;
    transaction.commit().await.map_err(&error)?;
    Ok(claimed)
}

/// The writer inside a transaction that our own statements began (`BEGIN IMMEDIATE` sent with
/// the first statement, `COMMIT` with the last, instead of sqlx's `Transaction` and its round
/// trips of their own): dropped before [`ManualTransaction::done`] (an error, a caller that
/// stopped waiting), it rolls the transaction back before the connection serves anyone else.
struct ManualTransaction {
    connection: Option<PoolConnection<Sqlite>>,
}

impl ManualTransaction {
    fn connection(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        self.connection
            .as_deref_mut()
            .ok_or_else(|| StoreError::Query("the writer was handed back already".to_owned()))
    }

    /// The transaction ended (committed): nothing to roll back.
    fn done(mut self) {
        self.connection = None;
    }
}

impl Drop for ManualTransaction {
    fn drop(&mut self) {
        let Some(mut connection) = self.connection.take() else {
            return;
        };
        // The connection goes back to the pool only once the `ROLLBACK` ran (an error of it,
        // when the failure came before the `BEGIN` or after the `COMMIT`, says only that no
        // transaction was open). Without a runtime, the connection is closed instead, which
        // rolls back too.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
                });
            }
            Err(_) => connection.close_on_drop(),
        }
    }
}

/// The statement of the common case of [`enqueue_and_claim_runs`], for `rows` runs without
/// tick nor dedupe key: `BEGIN IMMEDIATE`, the insert (parameters 1 to 10 × `rows`), and the
/// claim's first round of candidates, counted (parameters from 10 × `rows` + 1), read with
/// the insert's last id and row count. One round trip to the writer's thread.
fn enqueue_and_claim_sql(rows: usize) -> String {
    let mut insert = String::from(
        "INSERT INTO runs (task, agent, priority, state, max_attempts, concurrency, external, \
         dedupe, trigger, enqueued_at, run_at) VALUES ",
    );
    for row in 0..rows {
        let p = |k: usize| row * 10 + k;
        insert.push_str(if row == 0 { "" } else { ", " });
        insert.push_str(&format!(
            "(?{}, ?{}, ?{}, 0, ?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?{})",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9),
            p(10)
        ));
    }
    let candidates = claim_candidates_sql(rows * 10, true);
    let candidates = candidates
        .strip_prefix("SELECT ")
        .unwrap_or(&candidates)
        .to_owned();
    format!("BEGIN IMMEDIATE; {insert}; SELECT last_insert_rowid(), changes(), {candidates}")
}

/// Runs per [`enqueue_and_claim_runs`] done in its common case's one statement.
const ENQUEUE_AND_CLAIM_ROWS: usize = 8;

/// Enqueues runs and claims in the same transaction (see `Store::enqueue_and_claim_runs`).
///
/// The common case, a few runs without tick nor dedupe key (`run_now`) claimed by a worker's
/// few free slots, is two round trips to the writer's thread: `BEGIN IMMEDIATE`, the insert
/// and the claim's first candidates in one statement string, then the claim's `UPDATE` and
/// the `COMMIT` in another (where an enqueue, then a claim, took six: the insert, then `BEGIN`,
/// the candidates, the running counts, the update and `COMMIT`). The choice is the ordinary
/// claim's ([`pick_runs`]), which reads more in the same transaction when the first round does
/// not decide. Anything else is one transaction of the ordinary statements.
pub(super) async fn enqueue_and_claim_runs(
    store: &SqliteStore,
    runs: &[NewRun],
    request: &ClaimRequest,
) -> Result<(Vec<Option<RunId>>, Vec<Run>), StoreError> {
    if runs.is_empty() {
        return Ok((Vec::new(), claim_runs(store, request).await?));
    }
    if request.limit == 0 {
        return Ok((enqueue_runs(store, runs).await?, Vec::new()));
    }
    let error = query_error("enqueueing and claiming runs");
    let common = runs.len() <= ENQUEUE_AND_CLAIM_ROWS
        && request.limit <= COUNTED_CLAIMS
        && runs
            .iter()
            .all(|run| run.tick.is_none() && run.dedupe.is_none());
    if !common {
        let mut transaction = store
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(&error)?;
        let ids = enqueue_in(&mut transaction, runs).await?;
        let picked = pick_runs(&mut transaction, request, None).await?;
        let claimed = claim_picked(&mut transaction, request, &picked).await?;
        transaction.commit().await.map_err(&error)?;
        return Ok((ids, claimed));
    }

    static STATEMENTS: OnceLock<Vec<String>> = OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| {
        (1..=ENQUEUE_AND_CLAIM_ROWS)
            .map(enqueue_and_claim_sql)
            .collect()
    });
    let statement = statements
        .get(runs.len() - 1)
        .ok_or_else(|| StoreError::Query("enqueue and claim: too many runs".to_owned()))?;
    let mut triggers = Vec::with_capacity(runs.len());
    for run in runs {
        triggers.push(json_text(&run.trigger)?);
    }
    let mut query = sqlx::query_as::<_, (i64, i64, String, String)>(statement);
    for (run, trigger) in runs.iter().zip(&triggers) {
        query = query
            .bind(&run.task)
            .bind(run.agent.as_deref())
            .bind(i64::from(run.priority.rank()))
            .bind(i64::from(run.max_attempts))
            .bind(i64::from(run.concurrency))
            .bind(run.external)
            .bind(None::<&str>)
            .bind(trigger.as_str())
            .bind(run.enqueued_at)
            .bind(run.run_at);
    }
    let aging = request.aging.max(1);
    let fetch = request.limit.saturating_add(request.limit.min(64));
    let query = query
        .bind(request.external)
        .bind(request.now)
        .bind(request.agent.as_deref())
        .bind(request.tasks.as_ref().map(json_text).transpose()?)
        .bind("[]")
        .bind("[]")
        .bind(request.now.saturating_sub(aging))
        .bind(i64::try_from(fetch).unwrap_or(i64::MAX));

    let connection = store.writer.acquire().await.map_err(&error)?;
    let mut transaction = ManualTransaction {
        connection: Some(connection),
    };
    // `fetch_all`, not `fetch_one`: every statement of the string runs.
    let rows = query
        .fetch_all(transaction.connection()?)
        .await
        .map_err(&error)?;
    let Some((last, inserted, young, old)) = rows.into_iter().next() else {
        return Err(StoreError::Query(
            "enqueueing and claiming runs: no answer".to_owned(),
        ));
    };
    if usize::try_from(inserted).ok() != Some(runs.len()) {
        return Err(StoreError::Query(format!(
            "enqueueing runs: {inserted} of {} rows inserted",
            runs.len()
        )));
    }
    let first = last - i64::try_from(runs.len()).unwrap_or(i64::MAX) + 1;
    let ids = (0..runs.len())
        .map(|offset| Some(first + offset as i64))
        .collect();
    let picked = pick_runs(
        transaction.connection()?,
        request,
        Some(FirstRound { young, old }),
    )
    .await?;
    if picked.is_empty() {
        sqlx::query("COMMIT")
            .execute(transaction.connection()?)
            .await
            .map_err(&error)?;
        transaction.done();
        return Ok((ids, Vec::new()));
    }
    static UPDATE_AND_COMMIT: OnceLock<String> = OnceLock::new();
    let rows = sqlx::query(UPDATE_AND_COMMIT.get_or_init(|| claim_update_sql("; COMMIT")))
        .bind(&request.worker)
        .bind(request.now)
        .bind(request.now.saturating_add(request.lease))
        .bind(json_text(&picked)?)
        .fetch_all(transaction.connection()?)
        .await
        .map_err(&error)?;
    transaction.done();
    Ok((ids, in_claim_order(runs_from_rows(&rows)?, &picked)))
}

pub(super) async fn claim_run(
    store: &SqliteStore,
    id: RunId,
    worker: &str,
    now: Millis,
    lease: Millis,
) -> Result<Option<Run>, StoreError> {
    let statement = format!(
        "UPDATE runs SET state = 1, attempt = attempt + 1, worker = ?1, started_at = ?2, \
         lease_until = ?3 WHERE id = ?4 AND state = 0 AND run_at <= ?2 RETURNING {RUN_COLUMNS}"
    );
    let row = sqlx::query(&statement)
        .bind(worker)
        .bind(now)
        .bind(now.saturating_add(lease))
        .bind(id)
        .fetch_optional(&store.writer)
        .await
        .map_err(query_error("claiming a run"))?;
    row.as_ref().map(run_from_row).transpose()
}

// ---------------------------------------------------------------- heartbeat, finish, release

pub(super) async fn heartbeat_runs(
    store: &SqliteStore,
    worker: &str,
    ids: &[RunId],
    lease_until: Millis,
) -> Result<Vec<RunId>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let error = query_error("renewing leases");
    let held: Vec<RunId> = sqlx::query_scalar(
        "UPDATE runs SET lease_until = ?1 \
         WHERE id IN (SELECT value FROM json_each(?2)) AND state = 1 AND worker = ?3 \
         RETURNING id",
    )
    .bind(lease_until)
    .bind(json_text(ids)?)
    .bind(worker)
    .fetch_all(&store.writer)
    .await
    .map_err(&error)?;
    Ok(in_given_order(ids, held))
}

/// The ids of `given` that are in `found`, in the order given (each once).
fn in_given_order(given: &[RunId], found: Vec<RunId>) -> Vec<RunId> {
    let mut found: HashSet<RunId> = found.into_iter().collect();
    given
        .iter()
        .filter(|id| found.remove(id))
        .copied()
        .collect()
}

/// One finish as the batch `UPDATE` reads it from JSON.
#[derive(serde::Serialize)]
struct FinishRow<'a> {
    id: RunId,
    worker: &'a str,
    state: i64,
    at: Millis,
    retry_at: Option<Millis>,
    output: Option<&'a str>,
    error: Option<&'a str>,
}

impl FinishRow<'_> {
    /// Whether two finishes write the same values (to different runs).
    fn same_but_id(&self, other: &FinishRow<'_>) -> bool {
        (
            self.worker,
            self.state,
            self.at,
            self.retry_at,
            self.output,
            self.error,
        ) == (
            other.worker,
            other.state,
            other.at,
            other.retry_at,
            other.output,
            other.error,
        )
    }
}

/// Up to this many groups of alike finishes, a batch is written group by group.
const FINISH_GROUPS: usize = 4;

pub(super) async fn finish_runs(
    store: &SqliteStore,
    finishes: &[RunFinish],
) -> Result<Vec<RunId>, StoreError> {
    if finishes.is_empty() {
        return Ok(Vec::new());
    }
    let error = query_error("finishing runs");
    // The first finish of a run counts; a second one in the same batch is ignored.
    let mut seen = HashSet::with_capacity(finishes.len());
    let rows: Vec<FinishRow<'_>> = finishes
        .iter()
        .filter(|finish| seen.insert(finish.id))
        .map(|finish| {
            let (state, retry_at) = match finish.outcome {
                RunOutcome::Succeeded => (RunState::Succeeded, None),
                RunOutcome::Failed { retry_at: Some(at) } => (RunState::Queued, Some(at)),
                RunOutcome::Failed { retry_at: None } => (RunState::Failed, None),
                RunOutcome::Cancelled => (RunState::Cancelled, None),
            };
            FinishRow {
                id: finish.id,
                worker: &finish.worker,
                state: state.code(),
                at: finish.at,
                retry_at,
                output: finish.output.as_deref(),
                error: finish.error.as_deref(),
            }
        })
        .collect();
    // Finishes alike but for their ids (a batch of successes without output, one run) are
    // each one `UPDATE ... WHERE id IN (...)`: far cheaper per row than the general
    // `UPDATE ... FROM json_each(...)`, which SQLite materializes before it writes.
    let mut groups: Vec<(&FinishRow<'_>, Vec<RunId>)> = Vec::new();
    for row in &rows {
        match groups.iter_mut().find(|(first, _)| first.same_but_id(row)) {
            Some((_, ids)) => ids.push(row.id),
            None => groups.push((row, vec![row.id])),
        }
        if groups.len() > FINISH_GROUPS {
            break;
        }
    }
    if groups.len() <= FINISH_GROUPS {
        let mut transaction = store
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(&error)?;
        let mut finished: Vec<RunId> = Vec::with_capacity(rows.len());
        for (finish, ids) in &groups {
            let update = |returning: &'static str| {
                format!(
                    "UPDATE runs SET state = ?1, finished_at = ?2, \
                     run_at = CASE WHEN ?1 = 0 THEN ?3 ELSE run_at END, lease_until = NULL, \
                     output = ?4, error = ?5 \
                     WHERE id IN (SELECT value FROM json_each(?6)) AND state = 1 AND worker = ?7\
                     {returning}"
                )
            };
            let finished_at = (finish.state != RunState::Queued.code()).then_some(finish.at);
            if let [id] = ids.as_slice() {
                // One run: the update says itself whether it held the run.
                let held: Option<RunId> = sqlx::query_scalar(&update(" RETURNING id"))
                    .bind(finish.state)
                    .bind(finished_at)
                    .bind(finish.retry_at)
                    .bind(finish.output)
                    .bind(finish.error)
                    .bind(json_text(&[*id])?)
                    .bind(finish.worker)
                    .fetch_optional(&mut *transaction)
                    .await
                    .map_err(&error)?;
                finished.extend(held);
                continue;
            }
            let ids = json_text(ids)?;
            let held: String = sqlx::query_scalar(
                "SELECT json_group_array(id) FROM runs \
                 WHERE id IN (SELECT value FROM json_each(?1)) AND state = 1 AND worker = ?2",
            )
            .bind(&ids)
            .bind(finish.worker)
            .fetch_one(&mut *transaction)
            .await
            .map_err(&error)?;
            finished.extend(json_rows::<RunId>(&held)?);
            sqlx::query(&update(""))
                .bind(finish.state)
                .bind(finished_at)
                .bind(finish.retry_at)
                .bind(finish.output)
                .bind(finish.error)
                .bind(&ids)
                .bind(finish.worker)
                .execute(&mut *transaction)
                .await
                .map_err(&error)?;
        }
        transaction.commit().await.map_err(&error)?;
        let given: Vec<RunId> = finishes.iter().map(|finish| finish.id).collect();
        return Ok(in_given_order(&given, finished));
    }
    let rows = json_text(&rows)?;
    let mut transaction = store
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(&error)?;
    let held: String = sqlx::query_scalar(
        "SELECT json_group_array(runs.id) FROM runs \
         JOIN (SELECT value ->> 'id' AS id, value ->> 'worker' AS worker FROM json_each(?1)) AS f \
         ON runs.id = f.id WHERE runs.state = 1 AND runs.worker = f.worker",
    )
    .bind(&rows)
    .fetch_one(&mut *transaction)
    .await
    .map_err(&error)?;
    let finished: Vec<RunId> = json_rows(&held)?;
    sqlx::query(
        "UPDATE runs SET state = f.state, \
         finished_at = CASE WHEN f.state = 0 THEN NULL ELSE f.at END, \
         run_at = CASE WHEN f.state = 0 THEN f.retry_at ELSE runs.run_at END, \
         lease_until = NULL, output = f.output, error = f.error \
         FROM (SELECT value ->> 'id' AS id, value ->> 'worker' AS worker, \
               value ->> 'state' AS state, value ->> 'at' AS at, \
               value ->> 'retry_at' AS retry_at, value ->> 'output' AS output, \
               value ->> 'error' AS error FROM json_each(?1)) AS f \
         WHERE runs.id = f.id AND runs.state = 1 AND runs.worker = f.worker",
    )
    .bind(&rows)
    .execute(&mut *transaction)
    .await
    .map_err(&error)?;
    transaction.commit().await.map_err(&error)?;
    let given: Vec<RunId> = finishes.iter().map(|finish| finish.id).collect();
    Ok(in_given_order(&given, finished))
}

pub(super) async fn release_expired_runs(
    store: &SqliteStore,
    now: Millis,
    dead_workers: &[String],
) -> Result<Vec<Run>, StoreError> {
    let error = query_error("releasing expired runs");
    let statement = format!(
        "UPDATE runs SET \
         state = CASE WHEN attempt < max_attempts THEN 0 ELSE 3 END, \
         run_at = CASE WHEN attempt < max_attempts THEN ?1 ELSE run_at END, \
         finished_at = CASE WHEN attempt < max_attempts THEN NULL ELSE ?1 END, \
         error = printf('lease expired: worker `%s` %s (attempt %d of %d)', worker, \
                 CASE WHEN worker IN (SELECT value FROM json_each(?2)) THEN 'is gone' \
                 ELSE 'stopped renewing its lease' END, attempt, max_attempts), \
         lease_until = NULL \
         WHERE state = 1 AND (lease_until < ?1 OR worker IN (SELECT value FROM json_each(?2))) \
         RETURNING {RUN_COLUMNS}"
    );
    let rows = sqlx::query(&statement)
        .bind(now)
        .bind(json_text(dead_workers)?)
        .fetch_all(&store.writer)
        .await
        .map_err(&error)?;
    let mut released = runs_from_rows(&rows)?;
    released.sort_by_key(|run| run.id);
    Ok(released)
}

pub(super) async fn cancel_runs(
    store: &SqliteStore,
    ids: &[RunId],
    at: Millis,
) -> Result<Vec<RunId>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let cancelled: Vec<RunId> = sqlx::query_scalar(
        "UPDATE runs SET state = 4, finished_at = ?1, lease_until = NULL \
         WHERE id IN (SELECT value FROM json_each(?2)) AND state = 0 RETURNING id",
    )
    .bind(at)
    .bind(json_text(ids)?)
    .fetch_all(&store.writer)
    .await
    .map_err(query_error("cancelling runs"))?;
    Ok(in_given_order(ids, cancelled))
}

// ---------------------------------------------------------------- reads

pub(super) async fn run(store: &SqliteStore, id: RunId) -> Result<Option<Run>, StoreError> {
    let statement = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
    let row = sqlx::query(&statement)
        .bind(id)
        .fetch_optional(&store.readers)
        .await
        .map_err(query_error("reading a run"))?;
    row.as_ref().map(run_from_row).transpose()
}

pub(super) async fn runs(store: &SqliteStore, query: &RunQuery) -> Result<Vec<Run>, StoreError> {
    let limit = query.limit.min(MAX_RUNS_PAGE);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut statement = format!("SELECT {RUN_COLUMNS} FROM runs WHERE true");
    if query.task.is_some() {
        statement.push_str(" AND task = ?1");
    }
    if query.agent.is_some() {
        statement.push_str(" AND agent = ?2");
    }
    if query.before.is_some() {
        statement.push_str(" AND id < ?3");
    }
    if !query.states.is_empty() {
        statement.push_str(" AND state IN (SELECT value FROM json_each(?4))");
    }
    statement.push_str(" ORDER BY id DESC LIMIT ?5");
    let states: Vec<i64> = query.states.iter().map(|state| state.code()).collect();
    let rows = sqlx::query(&statement)
        .bind(query.task.as_deref())
        .bind(query.agent.as_deref())
        .bind(query.before)
        .bind(json_text(&states)?)
        .bind(limit as i64)
        .fetch_all(&store.readers)
        .await
        .map_err(query_error("reading runs"))?;
    runs_from_rows(&rows)
}

pub(super) async fn queue_depth(
    store: &SqliteStore,
    now: Millis,
) -> Result<QueueDepth, StoreError> {
    let error = query_error("reading the queue depth");
    let mut transaction = store.readers.begin().await.map_err(&error)?;
    let queued: Vec<(i64, bool, i64)> = sqlx::query_as(
        "SELECT priority, run_at <= ?1 AS due, COUNT(*) FROM runs WHERE state = 0 \
         GROUP BY priority, due",
    )
    .bind(now)
    .fetch_all(&mut *transaction)
    .await
    .map_err(&error)?;
    let running: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE state = 1")
        .fetch_one(&mut *transaction)
        .await
        .map_err(&error)?;
    transaction.commit().await.map_err(&error)?;
    let mut depth = QueueDepth {
        running: u64::try_from(running).unwrap_or(0),
        ..QueueDepth::default()
    };
    for (priority, due, count) in queued {
        let count = u64::try_from(count).unwrap_or(0);
        if !due {
            depth.scheduled += count;
        } else if let Some(rank) = RunPriority::from_rank(priority) {
            depth.ready[usize::from(rank.rank())] += count;
        }
    }
    Ok(depth)
}

/// Duration of a finished run in milliseconds (0 when it never started).
fn duration_ms(started_at: Option<Millis>, finished_at: Millis) -> f64 {
    started_at.map_or(0.0, |started| {
        sanitize_latency((finished_at - started) as f64)
    })
}

pub(super) async fn task_stats(
    store: &SqliteStore,
    since: Millis,
) -> Result<Vec<TaskStats>, StoreError> {
    let error = query_error("reading task statistics");
    let mut transaction = store.readers.begin().await.map_err(&error)?;
    // Finished (succeeded or failed) runs still kept, with their durations.
    let rows: Vec<(i64, String, i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT id, task, state, started_at, finished_at FROM runs \
         WHERE state >= 2 AND finished_at >= ?1 AND state <= 3",
    )
    .bind(since)
    .fetch_all(&mut *transaction)
    .await
    .map_err(&error)?;
    let mut aggregates: BTreeMap<String, BucketAggregate> = BTreeMap::new();
    let mut last: HashMap<String, (Millis, RunId)> = HashMap::new();
    for (id, task, state, started_at, finished_at) in rows {
        let duration = duration_ms(started_at, finished_at);
        let failed = u64::from(state == RunState::Failed.code());
        let newest = last.entry(task.clone()).or_insert((finished_at, id));
        if (finished_at, id) > *newest {
            *newest = (finished_at, id);
        }
        aggregates.entry(task).or_default().add_group(
            bucket_of(duration),
            1,
            failed,
            duration,
            duration,
        );
    }
    // Runs already deleted by retention, from their hourly rollups.
    type RollupColumns = (String, i64, i64, f64, f64, Vec<u8>);
    let rollups: Vec<RollupColumns> = sqlx::query_as(
        "SELECT task, count, failures, min_ms, max_ms, histogram FROM run_rollups \
         WHERE start >= ?1",
    )
    .bind(floor_to(since, HOUR))
    .fetch_all(&mut *transaction)
    .await
    .map_err(&error)?;
    for (task, count, failures, min_ms, max_ms, histogram) in rollups {
        let rollup = aggregate_from_row(count, failures, min_ms, max_ms, &histogram)?;
        aggregates.entry(task).or_default().merge(&rollup);
    }
    let last_ids: Vec<RunId> = last.values().map(|(_, id)| *id).collect();
    let statement =
        format!("SELECT {RUN_COLUMNS} FROM runs WHERE id IN (SELECT value FROM json_each(?1))");
    let last_rows = sqlx::query(&statement)
        .bind(json_text(&last_ids)?)
        .fetch_all(&mut *transaction)
        .await
        .map_err(&error)?;
    transaction.commit().await.map_err(&error)?;
    let mut last_runs: HashMap<String, Run> = HashMap::new();
    for run in runs_from_rows(&last_rows)? {
        last_runs.insert(run.task.clone(), run);
    }
    Ok(aggregates
        .into_iter()
        .map(|(task, aggregate)| {
            let quantile = |q| {
                aggregate
                    .histogram
                    .quantile(q, aggregate.min_ms, aggregate.max_ms)
            };
            TaskStats {
                last: last_runs.remove(&task),
                runs: aggregate.count,
                succeeded: aggregate.count - aggregate.failures,
                failed: aggregate.failures,
                p50_ms: quantile(0.5),
                p95_ms: quantile(0.95),
                task,
            }
        })
        .collect())
}

pub(super) async fn schedule_marks(
    store: &SqliteStore,
) -> Result<Vec<(String, Millis)>, StoreError> {
    sqlx::query_as("SELECT task, tick FROM schedule_marks ORDER BY task")
        .fetch_all(&store.readers)
        .await
        .map_err(query_error("reading schedule marks"))
}

// ---------------------------------------------------------------- incidents

/// Reads an incident that must exist, in a write transaction.
async fn existing_incident(
    connection: &mut SqliteConnection,
    id: i64,
    doing: &'static str,
) -> Result<Incident, StoreError> {
    let statement = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1");
    let row = sqlx::query(&statement)
        .bind(id)
        .fetch_optional(connection)
        .await
        .map_err(query_error(doing))?;
    match row {
        Some(row) => incident_from_row(&row),
        None => Err(StoreError::NotFound(format!("incident {id}"))),
    }
}

pub(super) async fn open_incident(
    store: &SqliteStore,
    new: &NewIncident,
) -> Result<(Incident, bool), StoreError> {
    let error = query_error("opening an incident");
    let mut transaction = store
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(&error)?;
    let open: Option<i64> =
        sqlx::query_scalar("SELECT id FROM incidents WHERE task = ?1 AND state = 0")
            .bind(&new.task)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(&error)?;
    let (id, opened) = match open {
        Some(id) => {
            sqlx::query("UPDATE incidents SET failures = failures + 1 WHERE id = ?1")
                .bind(id)
                .execute(&mut *transaction)
                .await
                .map_err(&error)?;
            (id, false)
        }
        None => {
            let id = sqlx::query(
                "INSERT INTO incidents (task, agent, run, reason, state, opened_at, failures) \
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, 1)",
            )
            .bind(&new.task)
            .bind(new.agent.as_deref())
            .bind(new.run)
            .bind(&new.reason)
            .bind(new.at)
            .execute(&mut *transaction)
            .await
            .map_err(&error)?
            .last_insert_rowid();
            (id, true)
        }
    };
    let incident = existing_incident(&mut transaction, id, "opening an incident").await?;
    transaction.commit().await.map_err(&error)?;
    Ok((incident, opened))
}

/// Changes an incident's escalation chain in one transaction and returns the incident.
async fn edit_chain(
    store: &SqliteStore,
    incident: i64,
    edit: impl FnOnce(&mut Vec<EscalationStep>) -> Result<(), StoreError>,
) -> Result<Incident, StoreError> {
    let doing = "changing an escalation chain";
    let error = query_error(doing);
    let mut transaction = store
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(&error)?;
    let mut current = existing_incident(&mut transaction, incident, doing).await?;
    edit(&mut current.chain)?;
    sqlx::query("UPDATE incidents SET chain = ?1 WHERE id = ?2")
        .bind(json_text(&current.chain)?)
        .bind(incident)
        .execute(&mut *transaction)
        .await
        .map_err(&error)?;
    transaction.commit().await.map_err(&error)?;
    Ok(current)
}

pub(super) async fn add_escalation_step(
    store: &SqliteStore,
    incident: i64,
    step: &EscalationStep,
) -> Result<Incident, StoreError> {
    edit_chain(store, incident, |chain| {
        chain.push(step.clone());
        Ok(())
    })
    .await
}

pub(super) async fn update_escalation_step(
    store: &SqliteStore,
    incident: i64,
    index: usize,
    outcome: StepOutcome,
    run: Option<RunId>,
) -> Result<Incident, StoreError> {
    edit_chain(store, incident, |chain| {
        let step = chain.get_mut(index).ok_or_else(|| {
            StoreError::NotFound(format!("step {index} of the chain of incident {incident}"))
        })?;
        step.outcome = outcome;
        if run.is_some() {
            step.run = run;
        }
        Ok(())
    })
    .await
}

pub(super) async fn resolve_incidents(
    store: &SqliteStore,
    ids: &[i64],
    task: Option<&str>,
    at: Millis,
    resolution: &str,
) -> Result<Vec<Incident>, StoreError> {
    if ids.is_empty() && task.is_none() {
        return Ok(Vec::new());
    }
    let statement = format!(
        "UPDATE incidents SET state = 1, resolved_at = ?1, resolution = ?2 \
         WHERE state = 0 AND (id IN (SELECT value FROM json_each(?3)) OR task = ?4) \
         RETURNING {INCIDENT_COLUMNS}"
    );
    let rows = sqlx::query(&statement)
        .bind(at)
        .bind(resolution)
        .bind(json_text(ids)?)
        .bind(task)
        .fetch_all(&store.writer)
        .await
        .map_err(query_error("resolving incidents"))?;
    let mut resolved: Vec<Incident> = rows
        .iter()
        .map(incident_from_row)
        .collect::<Result<_, _>>()?;
    resolved.sort_by_key(|incident| incident.id);
    Ok(resolved)
}

pub(super) async fn incident(store: &SqliteStore, id: i64) -> Result<Option<Incident>, StoreError> {
    let mut connection = store
        .readers
        .acquire()
        .await
        .map_err(query_error("reading an incident"))?;
    let statement = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1");
    let row = sqlx::query(&statement)
        .bind(id)
        .fetch_optional(&mut *connection)
        .await
        .map_err(query_error("reading an incident"))?;
    row.as_ref().map(incident_from_row).transpose()
}

pub(super) async fn incidents(
    store: &SqliteStore,
    query: &IncidentQuery,
) -> Result<Vec<Incident>, StoreError> {
    let limit = query.limit.min(MAX_INCIDENTS_PAGE);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut statement = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE true");
    if query.open_only {
        statement.push_str(" AND state = 0");
    }
    if query.task.is_some() {
        statement.push_str(" AND task = ?1");
    }
    if query.before.is_some() {
        statement.push_str(" AND id < ?2");
    }
    statement.push_str(" ORDER BY id DESC LIMIT ?3");
    let rows = sqlx::query(&statement)
        .bind(query.task.as_deref())
        .bind(query.before)
        .bind(limit as i64)
        .fetch_all(&store.readers)
        .await
        .map_err(query_error("reading incidents"))?;
    rows.iter().map(incident_from_row).collect()
}

// ---------------------------------------------------------------- retention

/// Prunes outputs of runs finished before `now - run_outputs`, folds runs finished before
/// `now - runs` into hourly per-task rollups and deletes them, and deletes incidents resolved
/// before `now - events`; each step its own short transaction.
pub(super) async fn apply_retention(
    store: &SqliteStore,
    now: Millis,
    retention: Retention,
) -> Result<(), StoreError> {
    prune_outputs(store, now.saturating_sub(retention.run_outputs)).await?;
    roll_up_runs(store, now.saturating_sub(retention.runs)).await?;
    let error = query_error("deleting resolved incidents");
    loop {
        let deleted = sqlx::query(
            "DELETE FROM incidents WHERE id IN (SELECT id FROM incidents \
             WHERE state = 1 AND resolved_at < ?1 LIMIT ?2)",
        )
        .bind(now.saturating_sub(retention.events))
        .bind(RETENTION_STEP_ROWS)
        .execute(&store.writer)
        .await
        .map_err(&error)?
        .rows_affected();
        if deleted < RETENTION_STEP_ROWS as u64 {
            return Ok(());
        }
    }
}

async fn prune_outputs(store: &SqliteStore, before: Millis) -> Result<(), StoreError> {
    let error = query_error("pruning run outputs");
    loop {
        let mut transaction = store
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(&error)?;
        let from: i64 =
            sqlx::query_scalar("SELECT outputs_pruned_until FROM run_retention WHERE id = 1")
                .fetch_one(&mut *transaction)
                .await
                .map_err(&error)?;
        if from >= before {
            return Ok(());
        }
        // One step: the next RETENTION_STEP_ROWS finished runs by end time (whole milliseconds).
        let step_end: Option<i64> = sqlx::query_scalar(
            "SELECT finished_at FROM runs WHERE state >= 2 AND finished_at >= ?1 \
             AND finished_at < ?2 ORDER BY finished_at LIMIT 1 OFFSET ?3",
        )
        .bind(from)
        .bind(before)
        .bind(RETENTION_STEP_ROWS)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(&error)?;
        let until = step_end.map_or(before, |end| end.max(from + 1));
        sqlx::query(
            "UPDATE runs SET output = NULL, error = NULL WHERE state >= 2 \
             AND finished_at >= ?1 AND finished_at < ?2 \
             AND (output IS NOT NULL OR error IS NOT NULL)",
        )
        .bind(from)
        .bind(until)
        .execute(&mut *transaction)
        .await
        .map_err(&error)?;
        sqlx::query("UPDATE run_retention SET outputs_pruned_until = ?1 WHERE id = 1")
            .bind(until)
            .execute(&mut *transaction)
            .await
            .map_err(&error)?;
        transaction.commit().await.map_err(&error)?;
        if until >= before {
            return Ok(());
        }
    }
}

async fn roll_up_runs(store: &SqliteStore, before: Millis) -> Result<(), StoreError> {
    let error = query_error("rolling up old runs");
    loop {
        let mut transaction = store
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(&error)?;
        let rows: Vec<(i64, String, i64, Option<i64>, i64)> = sqlx::query_as(
            "SELECT id, task, state, started_at, finished_at FROM runs \
             WHERE state >= 2 AND finished_at < ?1 ORDER BY finished_at LIMIT ?2",
        )
        .bind(before)
        .bind(RETENTION_STEP_ROWS)
        .fetch_all(&mut *transaction)
        .await
        .map_err(&error)?;
        if rows.is_empty() {
            return Ok(());
        }
        let step_full = rows.len() as i64 == RETENTION_STEP_ROWS;
        let mut hours: HashMap<(String, Millis), BucketAggregate> = HashMap::new();
        let mut ids = Vec::with_capacity(rows.len());
        for (id, task, state, started_at, finished_at) in rows {
            ids.push(id);
            if state == RunState::Cancelled.code() {
                continue;
            }
            let duration = duration_ms(started_at, finished_at);
            hours
                .entry((task, floor_to(finished_at, HOUR)))
                .or_default()
                .add_group(
                    bucket_of(duration),
                    1,
                    u64::from(state == RunState::Failed.code()),
                    duration,
                    duration,
                );
        }
        for ((task, start), mut aggregate) in hours {
            let stored: Option<(i64, i64, f64, f64, Vec<u8>)> = sqlx::query_as(
                "SELECT count, failures, min_ms, max_ms, histogram FROM run_rollups \
                 WHERE task = ?1 AND start = ?2",
            )
            .bind(&task)
            .bind(start)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(&error)?;
            if let Some((count, failures, min_ms, max_ms, histogram)) = stored {
                let mut sum = aggregate_from_row(count, failures, min_ms, max_ms, &histogram)?;
                sum.merge(&aggregate);
                aggregate = sum;
            }
            sqlx::query(
                "INSERT INTO run_rollups (task, start, count, failures, min_ms, max_ms, histogram) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (task, start) DO UPDATE SET \
                 count = excluded.count, failures = excluded.failures, min_ms = excluded.min_ms, \
                 max_ms = excluded.max_ms, histogram = excluded.histogram",
            )
            .bind(&task)
            .bind(start)
            .bind(i64::try_from(aggregate.count).unwrap_or(i64::MAX))
            .bind(i64::try_from(aggregate.failures).unwrap_or(i64::MAX))
            .bind(aggregate.min_ms)
            .bind(aggregate.max_ms)
            .bind(aggregate.histogram.encode())
            .execute(&mut *transaction)
            .await
            .map_err(&error)?;
        }
        sqlx::query("DELETE FROM runs WHERE id IN (SELECT value FROM json_each(?1))")
            .bind(json_text(&ids)?)
            .execute(&mut *transaction)
            .await
            .map_err(&error)?;
        transaction.commit().await.map_err(&error)?;
        if !step_full {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_insert_statement_has_a_row_per_run_and_returns_none() {
        let statement = insert_runs_statement(3, true);
        assert_eq!(statement.matches("(?, ?, ?, 0,").count(), 3);
        assert!(statement.ends_with("ON CONFLICT DO NOTHING"));
        assert!(!statement.contains("RETURNING"));
        let unkeyed = insert_runs_statement(2, false);
        assert!(!unkeyed.contains("RETURNING") && !unkeyed.contains("ON CONFLICT"));
    }

    #[test]
    fn given_order_is_kept_and_duplicates_dropped() {
        assert_eq!(in_given_order(&[3, 1, 2, 3], vec![2, 3]), vec![3, 2]);
    }
}
