//! The run queue and incidents of the PostgreSQL store (tables of migration 1).
//!
//! Every call is one transaction of a few statements whatever its size; lists travel as one
//! array or JSON parameter. Across nodes: a claim serializes with the other claims of its queue
//! (internal or external) on an advisory lock, so that the priority order and the concurrency
//! caps are exact, and takes its candidate rows `FOR UPDATE SKIP LOCKED`, so that it never waits
//! for a row another statement holds (a cancel, a release); an enqueue with schedule ticks holds
//! the tick lock while it reads and advances the marks, so a tick is enqueued once across nodes;
//! a dedupe key is unique by index. Retention of runs and incidents is here too (`maintain`
//! calls [`apply_retention`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;

use sqlx::Row as _;
use sqlx::postgres::{PgConnection, PgRow};

use super::{HOUR, PostgresStore, advisory_lock, locks, pg_text, query_error};
use crate::aggregate::{BucketAggregate, aggregate_from_row, floor_to, sanitize_latency};
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

fn run_from_row(row: &PgRow) -> Result<Run, StoreError> {
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

fn runs_from_rows(rows: &[PgRow]) -> Result<Vec<Run>, StoreError> {
    rows.iter().map(run_from_row).collect()
}

/// Reads an incident row.
fn incident_from_row(row: &PgRow) -> Result<Incident, StoreError> {
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

/// The columns of runs to insert, one array each.
#[derive(Default)]
struct NewRunColumns {
    task: Vec<String>,
    agent: Vec<Option<String>>,
    priority: Vec<i64>,
    max_attempts: Vec<i64>,
    concurrency: Vec<i64>,
    external: Vec<bool>,
    dedupe: Vec<Option<String>>,
    trigger: Vec<String>,
    enqueued_at: Vec<Millis>,
    run_at: Vec<Millis>,
}

pub(super) async fn enqueue_runs(
    store: &PostgresStore,
    runs: &[NewRun],
) -> Result<Vec<Option<RunId>>, StoreError> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let error = query_error("enqueueing runs");
    let mut transaction = store.pool.begin().await.map_err(&error)?;
    let ids = enqueue_in(&mut transaction, runs).await?;
    transaction.commit().await.map_err(&error)?;
    Ok(ids)
}

/// The enqueue of [`enqueue_runs`] inside a transaction the caller holds (and commits).
async fn enqueue_in(
    transaction: &mut PgConnection,
    runs: &[NewRun],
) -> Result<Vec<Option<RunId>>, StoreError> {
    let error = query_error("enqueueing runs");
    // Schedule ticks at or before their task's mark are skipped; the others advance it. The
    // tick lock makes reading and advancing the marks one step across nodes.
    let ticked: HashSet<&str> = runs
        .iter()
        .filter(|run| run.tick.is_some())
        .map(|run| run.task.as_str())
        .collect();
    let mut marks: HashMap<String, Millis> = HashMap::new();
    if !ticked.is_empty() {
        advisory_lock(&mut *transaction, locks::TICKS)
            .await
            .map_err(&error)?;
        let tasks: Vec<&str> = ticked.into_iter().collect();
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT task, tick FROM schedule_marks WHERE task = ANY($1::text[])")
                .bind(&tasks)
                .fetch_all(&mut *transaction)
                .await
                .map_err(&error)?;
        marks.extend(rows);
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

    let mut columns = NewRunColumns::default();
    for index in &accepted {
        let run = &runs[*index];
        columns.task.push(run.task.clone());
        columns.agent.push(run.agent.clone());
        columns.priority.push(i64::from(run.priority.rank()));
        columns.max_attempts.push(i64::from(run.max_attempts));
        columns.concurrency.push(i64::from(run.concurrency));
        columns.external.push(run.external);
        columns.dedupe.push(run.dedupe.clone());
        columns.trigger.push(json_text(&run.trigger)?);
        columns.enqueued_at.push(run.enqueued_at);
        columns.run_at.push(run.run_at);
    }
    // Rows are inserted in the order given (ids increase along it); a row skipped by the unique
    // (task, dedupe) index is absent, so matching in id order finds which were skipped.
    let mut inserted: Vec<(i64, String, Option<String>)> = sqlx::query_as(
        "INSERT INTO runs (task, agent, priority, state, max_attempts, concurrency, external, \
         dedupe, trigger, enqueued_at, run_at) \
         SELECT task, agent, priority, 0, max_attempts, concurrency, external, dedupe, trigger, \
         enqueued_at, run_at FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], \
         $5::bigint[], $6::boolean[], $7::text[], $8::text[], $9::bigint[], $10::bigint[]) \
         WITH ORDINALITY AS r(task, agent, priority, max_attempts, concurrency, external, \
         dedupe, trigger, enqueued_at, run_at, n) ORDER BY n \
         ON CONFLICT DO NOTHING RETURNING id, task, dedupe",
    )
    .bind(columns.task)
    .bind(columns.agent)
    .bind(columns.priority)
    .bind(columns.max_attempts)
    .bind(columns.concurrency)
    .bind(columns.external)
    .bind(columns.dedupe)
    .bind(columns.trigger)
    .bind(columns.enqueued_at)
    .bind(columns.run_at)
    .fetch_all(&mut *transaction)
    .await
    .map_err(&error)?;
    inserted.sort_unstable_by_key(|(id, _, _)| *id);
    let mut ids: Vec<Option<RunId>> = vec![None; runs.len()];
    let mut next = inserted.into_iter().peekable();
    for index in &accepted {
        let run = &runs[*index];
        if let Some((id, _, _)) = next.next_if(|(_, task, dedupe)| {
            *task == run.task && dedupe.as_deref() == run.dedupe.as_deref()
        }) {
            ids[*index] = Some(id);
        }
    }

    if !advanced.is_empty() {
        let (tasks, ticks): (Vec<&str>, Vec<Millis>) = advanced.into_iter().unzip();
        sqlx::query(
            "INSERT INTO schedule_marks (task, tick) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[]) \
             ON CONFLICT (task) DO UPDATE SET tick = GREATEST(schedule_marks.tick, excluded.tick)",
        )
        .bind(tasks)
        .bind(ticks)
        .execute(&mut *transaction)
        .await
        .map_err(&error)?;
    }
    Ok(ids)
}

// ---------------------------------------------------------------- claim

/// A claim candidate: id, task, concurrency, priority rank, enqueued_at, run_at.
type Candidate = (i64, String, i64, i64, Millis, Millis);

/// The filters shared by both candidate queries: $1 external, $2 now, $3 agent, $4 tasks,
/// $5 tasks at their concurrency, $6 runs picked already, $7 now - aging, $8 limit.
macro_rules! claim_filters {
    () => {
        "state = 0 AND external = $1 AND run_at <= $2 \
         AND ($3::text IS NULL OR agent = $3) \
         AND ($4::text[] IS NULL OR task = ANY($4)) \
         AND NOT (task = ANY($5::text[])) \
         AND NOT (id = ANY($6::bigint[]))"
    };
}

/// Runs due for less than one aging step, in (priority, id) order.
const CLAIM_YOUNG: &str = concat!(
    "SELECT id, task, concurrency, priority, enqueued_at, run_at FROM runs WHERE ",
    claim_filters!(),
    " AND GREATEST(enqueued_at, run_at) > $7 ORDER BY priority, id LIMIT $8 \
     FOR UPDATE SKIP LOCKED"
);

/// Runs due for one aging step or longer, by effective rank.
const CLAIM_OLD: &str = concat!(
    "SELECT id, task, concurrency, priority, enqueued_at, run_at FROM runs WHERE ",
    claim_filters!(),
    " AND run_at <= $7 AND enqueued_at <= $7 \
     ORDER BY priority - ($2 - GREATEST(enqueued_at, run_at)) / ($2 - $7), id LIMIT $8 \
     FOR UPDATE SKIP LOCKED"
);

/// `rank - (now - max(enqueued_at, run_at)) / aging`; a run enqueued after `now` (a clock that
/// went back) counts as just due.
fn effective_rank(candidate: &Candidate, now: Millis, aging: Millis) -> i64 {
    let (_, _, _, priority, enqueued_at, run_at) = candidate;
    let waited = now.saturating_sub((*enqueued_at).max(*run_at)).max(0);
    priority - waited / aging
}

/// The claim as one function of the session, so that a claim is one statement: one round trip,
/// and its queue's lock held only while the server runs it and commits, never while it waits
/// for the client. The claims of all nodes take turns on that lock, so what a claim holds it for
/// bounds the drain rate of the cluster (with a statement per step, the lock was held across
/// four round trips to a client, and a node busy with its runs answered them late).
///
/// It does what [`claim_runs_in_steps`] does, in the same order: the runs due for less than one
/// aging step in (priority, id) order (the `runs_ready` index) and those due for longer by
/// effective rank, each list locked `FOR UPDATE SKIP LOCKED` and cut at `fetch`; only what
/// sorts at or before the last row of each cut list is decided; each task's concurrency counted
/// from its running runs plus the runs picked; again without the tasks found full and the runs
/// picked while a list was cut and runs are still wanted. It is made in `pg_temp` (per
/// connection, gone with it: no migration) the first time a connection claims.
const CLAIM_FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION pg_temp.iza_claim_runs(
    p_worker text, p_now bigint, p_lease bigint, p_limit bigint, p_external boolean,
    p_agent text, p_tasks text[], p_aging bigint, p_lock bigint)
RETURNS TABLE (r_id bigint, r_task text, r_agent text, r_priority bigint, r_state bigint,
    r_attempt bigint, r_max_attempts bigint, r_external boolean, r_dedupe text,
    r_trigger text, r_enqueued_at bigint, r_run_at bigint, r_started_at bigint,
    r_finished_at bigint, r_worker text, r_lease_until bigint, r_output text, r_error text)
LANGUAGE plpgsql AS $claim$
DECLARE
    v_picked bigint[] := '{}';
    v_full text[] := '{}';
    v_tasks text[] := '{}';
    v_counts bigint[] := '{}';
    v_old_before bigint := p_now - p_aging;
    v_fetch bigint;
    v_cut boolean;
    v_at integer;
    c record;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    LOOP
        v_fetch := (p_limit - cardinality(v_picked)) + LEAST(p_limit - cardinality(v_picked), 64);
        v_cut := false;
        FOR c IN
            WITH young AS (
                SELECT r.id, r.task, r.concurrency, r.priority AS rank FROM runs r
                WHERE r.state = 0 AND r.external = p_external AND r.run_at <= p_now
                  AND (p_agent IS NULL OR r.agent = p_agent)
                  AND (p_tasks IS NULL OR r.task = ANY(p_tasks))
                  AND NOT (r.task = ANY(v_full)) AND NOT (r.id = ANY(v_picked))
                  AND GREATEST(r.enqueued_at, r.run_at) > v_old_before
                ORDER BY r.priority, r.id LIMIT v_fetch FOR UPDATE SKIP LOCKED),
            old AS (
                SELECT r.id, r.task, r.concurrency,
                       r.priority - (p_now - GREATEST(r.enqueued_at, r.run_at)) / p_aging AS rank
                FROM runs r
                WHERE r.state = 0 AND r.external = p_external AND r.run_at <= p_now
                  AND (p_agent IS NULL OR r.agent = p_agent)
                  AND (p_tasks IS NULL OR r.task = ANY(p_tasks))
                  AND NOT (r.task = ANY(v_full)) AND NOT (r.id = ANY(v_picked))
                  AND r.run_at <= v_old_before AND r.enqueued_at <= v_old_before
                ORDER BY r.priority - (p_now - GREATEST(r.enqueued_at, r.run_at)) / p_aging, r.id
                LIMIT v_fetch FOR UPDATE SKIP LOCKED),
            lists AS (
                SELECT false AS aged, * FROM young UNION ALL SELECT true, * FROM old),
            bound AS (
                SELECT e.rank, e.id
                FROM (SELECT l.aged FROM lists l GROUP BY l.aged HAVING count(*) = v_fetch) g
                CROSS JOIN LATERAL (SELECT l.rank, l.id FROM lists l WHERE l.aged = g.aged
                                    ORDER BY l.rank DESC, l.id DESC LIMIT 1) e
                ORDER BY e.rank, e.id LIMIT 1)
            SELECT l.id, l.task, l.concurrency, EXISTS (SELECT 1 FROM bound) AS cut
            FROM lists l
            WHERE NOT EXISTS (SELECT 1 FROM bound b WHERE (l.rank, l.id) > (b.rank, b.id))
            ORDER BY l.rank, l.id
        LOOP
            v_cut := c.cut;
            EXIT WHEN cardinality(v_picked) >= p_limit;
            v_at := array_position(v_tasks, c.task);
            IF v_at IS NULL THEN
                v_tasks := v_tasks || c.task;
                v_counts := v_counts
                    || (SELECT count(*) FROM runs r WHERE r.state = 1 AND r.task = c.task);
                v_at := cardinality(v_tasks);
            END IF;
            IF v_counts[v_at] < GREATEST(c.concurrency, 1) THEN
                v_counts[v_at] := v_counts[v_at] + 1;
                v_picked := v_picked || c.id;
            ELSIF NOT (c.task = ANY(v_full)) THEN
                v_full := v_full || c.task;
            END IF;
        END LOOP;
        EXIT WHEN NOT v_cut OR cardinality(v_picked) >= p_limit;
    END LOOP;
    RETURN QUERY
        WITH claimed AS (
            UPDATE runs r SET state = 1, attempt = r.attempt + 1, worker = p_worker,
                started_at = p_now, lease_until = p_now + p_lease
            WHERE r.id = ANY(v_picked) AND r.state = 0
            RETURNING r.id, r.task, r.agent, r.priority, r.state, r.attempt, r.max_attempts,
                r.external, r.dedupe, r.trigger, r.enqueued_at, r.run_at, r.started_at,
                r.finished_at, r.worker, r.lease_until, r.output, r.error)
        SELECT * FROM claimed ORDER BY array_position(v_picked, claimed.id);
END
$claim$
"#;

/// Whether `error` says the claim function is not made on this connection yet.
fn is_missing_function(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|error| error.code())
        .is_some_and(|code| code == "42883" || code == "3F000")
}

pub(super) async fn claim_runs(
    store: &PostgresStore,
    request: &ClaimRequest,
) -> Result<Vec<Run>, StoreError> {
    if request.limit == 0 {
        return Ok(Vec::new());
    }
    if store.claim_in_steps.load(Ordering::Relaxed) {
        return claim_runs_in_steps(store, request).await;
    }
    let error = query_error("claiming runs");
    let tasks: Option<Vec<String>> = request.tasks.as_ref().map(|tasks| {
        let mut tasks: Vec<String> = tasks.to_vec();
        tasks.sort();
        tasks
    });
    let mut connection = store.pool.acquire().await.map_err(&error)?;
    let call = format!(
        "SELECT {RUN_COLUMNS} FROM pg_temp.iza_claim_runs($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         AS c(id, task, agent, priority, state, attempt, max_attempts, external, dedupe, \
         trigger, enqueued_at, run_at, started_at, finished_at, worker, lease_until, output, \
         error)"
    );
    let mut made = false;
    loop {
        let answer = sqlx::query(&call)
            .bind(&request.worker)
            .bind(request.now)
            .bind(request.lease)
            .bind(i64::try_from(request.limit).unwrap_or(i64::MAX))
            .bind(request.external)
            .bind(request.agent.as_deref())
            .bind(tasks.clone())
            .bind(request.aging.max(1))
            .bind(locks::CLAIM + i64::from(request.external))
            .fetch_all(&mut *connection)
            .await;
        match answer {
            Ok(rows) => return runs_from_rows(&rows),
            Err(missing) if !made && is_missing_function(&missing) => {
                made = true;
                if let Err(refused) =
                    sqlx::Executor::execute(&mut *connection, CLAIM_FUNCTION).await
                {
                    // A role without the right to make temporary objects claims in steps.
                    tracing::warn!(
                        "claiming runs in steps (slower with several nodes): the claim \
                         function cannot be made: {refused}"
                    );
                    store.claim_in_steps.store(true, Ordering::Relaxed);
                    drop(connection);
                    return claim_runs_in_steps(store, request).await;
                }
            }
            Err(failed) => return Err(error(failed)),
        }
    }
}

/// The claim as one transaction of several statements (see [`claim_runs`]): where the claim
/// function cannot be made.
async fn claim_runs_in_steps(
    store: &PostgresStore,
    request: &ClaimRequest,
) -> Result<Vec<Run>, StoreError> {
    if request.limit == 0 {
        return Ok(Vec::new());
    }
    let error = query_error("claiming runs");
    let mut transaction = store.pool.begin().await.map_err(&error)?;
    let claimed = claim_steps_in(&mut transaction, request).await?;
    transaction.commit().await.map_err(&error)?;
    Ok(claimed)
}

/// Enqueues runs and claims in the same transaction (see `Store::enqueue_and_claim_runs`): the
/// enqueue's statements, then the claim's in steps ([`claim_steps_in`], the same choice as the
/// claim function, under the same queue lock, held until the commit), one commit.
pub(super) async fn enqueue_and_claim_runs(
    store: &PostgresStore,
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
    let mut transaction = store.pool.begin().await.map_err(&error)?;
    let ids = enqueue_in(&mut transaction, runs).await?;
    let claimed = claim_steps_in(&mut transaction, request).await?;
    transaction.commit().await.map_err(&error)?;
    Ok((ids, claimed))
}

/// The claim of [`claim_runs_in_steps`] inside a transaction the caller holds (and commits):
/// the queue's lock is held until then.
async fn claim_steps_in(
    transaction: &mut PgConnection,
    request: &ClaimRequest,
) -> Result<Vec<Run>, StoreError> {
    let error = query_error("claiming runs");
    let aging = request.aging.max(1);
    let tasks: Option<Vec<String>> = request.tasks.as_ref().map(|tasks| {
        let mut tasks: Vec<String> = tasks.to_vec();
        tasks.sort();
        tasks
    });
    let queue_lock = locks::CLAIM + i64::from(request.external);
    advisory_lock(&mut *transaction, queue_lock)
        .await
        .map_err(&error)?;

    let mut picked: Vec<RunId> = Vec::new();
    // Running runs per task (read once per task) and the tasks found at their concurrency.
    let mut running: HashMap<String, i64> = HashMap::new();
    let mut full: Vec<String> = Vec::new();
    let old_before = request.now.saturating_sub(aging);
    loop {
        let want = request.limit - picked.len();
        let fetch = want.saturating_add(want.min(64));
        let fetch_sql = i64::try_from(fetch).unwrap_or(i64::MAX);
        let candidates = |statement: &'static str| {
            sqlx::query_as::<_, Candidate>(statement)
                .bind(request.external)
                .bind(request.now)
                .bind(request.agent.as_deref())
                .bind(tasks.clone())
                .bind(full.clone())
                .bind(picked.clone())
                .bind(old_before)
                .bind(fetch_sql)
        };
        // Due for less than one aging step: effective rank = rank, so (priority, id) order.
        let young: Vec<Candidate> = candidates(CLAIM_YOUNG)
            .fetch_all(&mut *transaction)
            .await
            .map_err(&error)?;
        // Due for longer (a backlog): sorted by their aged rank.
        let old: Vec<Candidate> = candidates(CLAIM_OLD)
            .fetch_all(&mut *transaction)
            .await
            .map_err(&error)?;
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

        let unknown: Vec<&str> = merged
            .iter()
            .map(|candidate| candidate.1.as_str())
            .filter(|task| !running.contains_key(*task))
            .collect::<HashSet<&str>>()
            .into_iter()
            .collect();
        if !unknown.is_empty() {
            let counts: Vec<(String, i64)> = sqlx::query_as(
                "SELECT task, COUNT(*) FROM runs WHERE state = 1 AND task = ANY($1::text[]) \
                 GROUP BY task",
            )
            .bind(&unknown)
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
    if picked.is_empty() {
        return Ok(Vec::new());
    }

    let statement = format!(
        "UPDATE runs SET state = 1, attempt = attempt + 1, worker = $1, started_at = $2, \
         lease_until = $3 WHERE id = ANY($4::bigint[]) AND state = 0 RETURNING {RUN_COLUMNS}"
    );
    let rows = sqlx::query(&statement)
        .bind(&request.worker)
        .bind(request.now)
        .bind(request.now.saturating_add(request.lease))
        .bind(&picked)
        .fetch_all(&mut *transaction)
        .await
        .map_err(&error)?;
    let order: HashMap<RunId, usize> = picked
        .iter()
        .enumerate()
        .map(|(position, id)| (*id, position))
        .collect();
    let mut claimed = runs_from_rows(&rows)?;
    claimed.sort_by_key(|run| order.get(&run.id).copied().unwrap_or(usize::MAX));
    Ok(claimed)
}

/// Claims run `id` whatever its rank and its task's concurrency (`iza run` without a server),
/// when it is queued and due: one statement, which waits for a row lock another statement
/// holds (a claim's `FOR UPDATE`) and then finds the run claimed, so a run is never claimed
/// twice.
pub(super) async fn claim_run(
    store: &PostgresStore,
    id: RunId,
    worker: &str,
    now: Millis,
    lease: Millis,
) -> Result<Option<Run>, StoreError> {
    let statement = format!(
        "UPDATE runs SET state = 1, attempt = attempt + 1, worker = $1, started_at = $2, \
         lease_until = $3 WHERE id = $4 AND state = 0 AND run_at <= $2 RETURNING {RUN_COLUMNS}"
    );
    let row = sqlx::query(&statement)
        .bind(worker)
        .bind(now)
        .bind(now.saturating_add(lease))
        .bind(id)
        .fetch_optional(&store.pool)
        .await
        .map_err(query_error("claiming a run"))?;
    row.as_ref().map(run_from_row).transpose()
}

// ---------------------------------------------------------------- heartbeat, finish, release

pub(super) async fn heartbeat_runs(
    store: &PostgresStore,
    worker: &str,
    ids: &[RunId],
    lease_until: Millis,
) -> Result<Vec<RunId>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let held: Vec<RunId> = sqlx::query_scalar(
        "UPDATE runs SET lease_until = $1 \
         WHERE id = ANY($2::bigint[]) AND state = 1 AND worker = $3 RETURNING id",
    )
    .bind(lease_until)
    .bind(ids)
    .bind(worker)
    .fetch_all(&store.pool)
    .await
    .map_err(query_error("renewing leases"))?;
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
    output: Option<Cow<'a, str>>,
    error: Option<Cow<'a, str>>,
}

pub(super) async fn finish_runs(
    store: &PostgresStore,
    finishes: &[RunFinish],
) -> Result<Vec<RunId>, StoreError> {
    if finishes.is_empty() {
        return Ok(Vec::new());
    }
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
                output: finish.output.as_deref().map(pg_text),
                error: finish.error.as_deref().map(pg_text),
            }
        })
        .collect();
    // One statement: only runs still running and held by their finisher change.
    let finished: Vec<RunId> = sqlx::query_scalar(
        "UPDATE runs SET state = f.state, \
         finished_at = CASE WHEN f.state = 0 THEN NULL ELSE f.at END, \
         run_at = CASE WHEN f.state = 0 THEN f.retry_at ELSE runs.run_at END, \
         lease_until = NULL, output = f.output, error = f.error \
         FROM jsonb_to_recordset($1::text::jsonb) AS f(id bigint, worker text, state bigint, \
         at bigint, retry_at bigint, output text, error text) \
         WHERE runs.id = f.id AND runs.state = 1 AND runs.worker = f.worker RETURNING runs.id",
    )
    .bind(json_text(&rows)?)
    .fetch_all(&store.pool)
    .await
    .map_err(query_error("finishing runs"))?;
    let given: Vec<RunId> = finishes.iter().map(|finish| finish.id).collect();
    Ok(in_given_order(&given, finished))
}

pub(super) async fn release_expired_runs(
    store: &PostgresStore,
    now: Millis,
    dead_workers: &[String],
) -> Result<Vec<Run>, StoreError> {
    let statement = format!(
        "UPDATE runs SET \
         state = CASE WHEN attempt < max_attempts THEN 0 ELSE 3 END, \
         run_at = CASE WHEN attempt < max_attempts THEN $1 ELSE run_at END, \
         finished_at = CASE WHEN attempt < max_attempts THEN NULL ELSE $1 END, \
         error = format('lease expired: worker `%s` %s (attempt %s of %s)', worker, \
                 CASE WHEN worker = ANY($2::text[]) THEN 'is gone' \
                 ELSE 'stopped renewing its lease' END, attempt, max_attempts), \
         lease_until = NULL \
         WHERE state = 1 AND (lease_until < $1 OR worker = ANY($2::text[])) \
         RETURNING {RUN_COLUMNS}"
    );
    let rows = sqlx::query(&statement)
        .bind(now)
        .bind(dead_workers)
        .fetch_all(&store.pool)
        .await
        .map_err(query_error("releasing expired runs"))?;
    let mut released = runs_from_rows(&rows)?;
    released.sort_by_key(|run| run.id);
    Ok(released)
}

pub(super) async fn cancel_runs(
    store: &PostgresStore,
    ids: &[RunId],
    at: Millis,
) -> Result<Vec<RunId>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let cancelled: Vec<RunId> = sqlx::query_scalar(
        "UPDATE runs SET state = 4, finished_at = $1, lease_until = NULL \
         WHERE id = ANY($2::bigint[]) AND state = 0 RETURNING id",
    )
    .bind(at)
    .bind(ids)
    .fetch_all(&store.pool)
    .await
    .map_err(query_error("cancelling runs"))?;
    Ok(in_given_order(ids, cancelled))
}

// ---------------------------------------------------------------- reads

pub(super) async fn run(store: &PostgresStore, id: RunId) -> Result<Option<Run>, StoreError> {
    let statement = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
    let row = sqlx::query(&statement)
        .bind(id)
        .fetch_optional(&store.pool)
        .await
        .map_err(query_error("reading a run"))?;
    row.as_ref().map(run_from_row).transpose()
}

pub(super) async fn runs(store: &PostgresStore, query: &RunQuery) -> Result<Vec<Run>, StoreError> {
    let limit = query.limit.min(MAX_RUNS_PAGE);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let statement = format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE ($1::text IS NULL OR task = $1) \
         AND ($2::text IS NULL OR agent = $2) AND ($3::bigint IS NULL OR id < $3) \
         AND (cardinality($4::bigint[]) = 0 OR state = ANY($4)) ORDER BY id DESC LIMIT $5"
    );
    let states: Vec<i64> = query.states.iter().map(|state| state.code()).collect();
    let rows = sqlx::query(&statement)
        .bind(query.task.as_deref())
        .bind(query.agent.as_deref())
        .bind(query.before)
        .bind(states)
        .bind(limit as i64)
        .fetch_all(&store.pool)
        .await
        .map_err(query_error("reading runs"))?;
    runs_from_rows(&rows)
}

pub(super) async fn queue_depth(
    store: &PostgresStore,
    now: Millis,
) -> Result<QueueDepth, StoreError> {
    let error = query_error("reading the queue depth");
    let mut transaction = store
        .pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(&error)?;
    let queued: Vec<(i64, bool, i64)> = sqlx::query_as(
        "SELECT priority, run_at <= $1 AS due, COUNT(*) FROM runs WHERE state = 0 \
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
    store: &PostgresStore,
    since: Millis,
) -> Result<Vec<TaskStats>, StoreError> {
    let error = query_error("reading task statistics");
    let mut transaction = store
        .pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(&error)?;
    // Finished (succeeded or failed) runs still kept, with their durations.
    let rows: Vec<(i64, String, i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT id, task, state, started_at, finished_at FROM runs \
         WHERE state >= 2 AND finished_at >= $1 AND state <= 3",
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
         WHERE start >= $1",
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
    let statement = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ANY($1::bigint[])");
    let last_rows = sqlx::query(&statement)
        .bind(&last_ids)
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
    store: &PostgresStore,
) -> Result<Vec<(String, Millis)>, StoreError> {
    sqlx::query_as("SELECT task, tick FROM schedule_marks ORDER BY task")
        .fetch_all(&store.pool)
        .await
        .map_err(query_error("reading schedule marks"))
}

// ---------------------------------------------------------------- incidents

/// Reads an incident that must exist, in a write transaction (locking it).
async fn existing_incident(
    connection: &mut PgConnection,
    id: i64,
    doing: &'static str,
) -> Result<Incident, StoreError> {
    let statement = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1 FOR UPDATE");
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
    store: &PostgresStore,
    new: &NewIncident,
) -> Result<(Incident, bool), StoreError> {
    // One statement: the unique index of open incidents decides, across nodes too.
    let statement = format!(
        "INSERT INTO incidents (task, agent, run, reason, state, opened_at, failures) \
         VALUES ($1, $2, $3, $4, 0, $5, 1) \
         ON CONFLICT (task) WHERE state = 0 DO UPDATE SET failures = incidents.failures + 1 \
         RETURNING {INCIDENT_COLUMNS}, (xmax = 0) AS inserted"
    );
    let row = sqlx::query(&statement)
        .bind(&new.task)
        .bind(new.agent.as_deref())
        .bind(new.run)
        .bind(pg_text(&new.reason))
        .bind(new.at)
        .fetch_one(&store.pool)
        .await
        .map_err(query_error("opening an incident"))?;
    let opened: bool = row
        .try_get("inserted")
        .map_err(query_error("opening an incident"))?;
    Ok((incident_from_row(&row)?, opened))
}

/// Changes an incident's escalation chain in one transaction and returns the incident.
async fn edit_chain(
    store: &PostgresStore,
    incident: i64,
    edit: impl FnOnce(&mut Vec<EscalationStep>) -> Result<(), StoreError>,
) -> Result<Incident, StoreError> {
    let doing = "changing an escalation chain";
    let error = query_error(doing);
    let mut transaction = store.pool.begin().await.map_err(&error)?;
    let mut current = existing_incident(&mut transaction, incident, doing).await?;
    edit(&mut current.chain)?;
    sqlx::query("UPDATE incidents SET chain = $1 WHERE id = $2")
        .bind(json_text(&current.chain)?)
        .bind(incident)
        .execute(&mut *transaction)
        .await
        .map_err(&error)?;
    transaction.commit().await.map_err(&error)?;
    Ok(current)
}
pub(super) async fn add_escalation_step(
    store: &PostgresStore,
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
    store: &PostgresStore,
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
    store: &PostgresStore,
    ids: &[i64],
    task: Option<&str>,
    at: Millis,
    resolution: &str,
) -> Result<Vec<Incident>, StoreError> {
    if ids.is_empty() && task.is_none() {
        return Ok(Vec::new());
    }
    let statement = format!(
        "UPDATE incidents SET state = 1, resolved_at = $1, resolution = $2 \
         WHERE state = 0 AND (id = ANY($3::bigint[]) OR task = $4) \
         RETURNING {INCIDENT_COLUMNS}"
    );
    let rows = sqlx::query(&statement)
        .bind(at)
        .bind(pg_text(resolution))
        .bind(ids)
        .bind(task)
        .fetch_all(&store.pool)
        .await
        .map_err(query_error("resolving incidents"))?;
    let mut resolved: Vec<Incident> = rows
        .iter()
        .map(incident_from_row)
        .collect::<Result<_, _>>()?;
    resolved.sort_by_key(|incident| incident.id);
    Ok(resolved)
}

pub(super) async fn incident(
    store: &PostgresStore,
    id: i64,
) -> Result<Option<Incident>, StoreError> {
    let statement = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
    let row = sqlx::query(&statement)
        .bind(id)
        .fetch_optional(&store.pool)
        .await
        .map_err(query_error("reading an incident"))?;
    row.as_ref().map(incident_from_row).transpose()
}

pub(super) async fn incidents(
    store: &PostgresStore,
    query: &IncidentQuery,
) -> Result<Vec<Incident>, StoreError> {
    let limit = query.limit.min(MAX_INCIDENTS_PAGE);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let statement = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE (NOT $1 OR state = 0) \
         AND ($2::text IS NULL OR task = $2) AND ($3::bigint IS NULL OR id < $3) \
         ORDER BY id DESC LIMIT $4"
    );
    let rows = sqlx::query(&statement)
        .bind(query.open_only)
        .bind(query.task.as_deref())
        .bind(query.before)
        .bind(limit as i64)
        .fetch_all(&store.pool)
        .await
        .map_err(query_error("reading incidents"))?;
    rows.iter().map(incident_from_row).collect()
}

// ---------------------------------------------------------------- retention

/// Prunes outputs of runs finished before `now - run_outputs`, folds runs finished before
/// `now - runs` into hourly per-task rollups and deletes them, and deletes incidents resolved
/// before `now - events`; each step its own short transaction.
pub(super) async fn apply_retention(
    store: &PostgresStore,
    now: Millis,
    retention: Retention,
) -> Result<(), StoreError> {
    prune_outputs(store, now.saturating_sub(retention.run_outputs)).await?;
    roll_up_runs(store, now.saturating_sub(retention.runs)).await?;
    let error = query_error("deleting resolved incidents");
    loop {
        let deleted = sqlx::query(
            "DELETE FROM incidents WHERE id IN (SELECT id FROM incidents \
             WHERE state = 1 AND resolved_at < $1 LIMIT $2)",
        )
        .bind(now.saturating_sub(retention.events))
        .bind(RETENTION_STEP_ROWS)
        .execute(&store.pool)
        .await
        .map_err(&error)?
        .rows_affected();
        if deleted < RETENTION_STEP_ROWS as u64 {
            return Ok(());
        }
    }
}

async fn prune_outputs(store: &PostgresStore, before: Millis) -> Result<(), StoreError> {
    let error = query_error("pruning run outputs");
    loop {
        let mut transaction = store.pool.begin().await.map_err(&error)?;
        advisory_lock(&mut transaction, locks::MAINTAIN)
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
            "SELECT finished_at FROM runs WHERE state >= 2 AND finished_at >= $1 \
             AND finished_at < $2 ORDER BY finished_at LIMIT 1 OFFSET $3",
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
             AND finished_at >= $1 AND finished_at < $2 \
             AND (output IS NOT NULL OR error IS NOT NULL)",
        )
        .bind(from)
        .bind(until)
        .execute(&mut *transaction)
        .await
        .map_err(&error)?;
        sqlx::query("UPDATE run_retention SET outputs_pruned_until = $1 WHERE id = 1")
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

async fn roll_up_runs(store: &PostgresStore, before: Millis) -> Result<(), StoreError> {
    let error = query_error("rolling up old runs");
    loop {
        let mut transaction = store.pool.begin().await.map_err(&error)?;
        advisory_lock(&mut transaction, locks::MAINTAIN)
            .await
            .map_err(&error)?;
        let rows: Vec<(i64, String, i64, Option<i64>, i64)> = sqlx::query_as(
            "SELECT id, task, state, started_at, finished_at FROM runs \
             WHERE state >= 2 AND finished_at < $1 ORDER BY finished_at LIMIT $2",
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
                 WHERE task = $1 AND start = $2",
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
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (task, start) DO UPDATE SET \
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
        sqlx::query("DELETE FROM runs WHERE id = ANY($1::bigint[])")
            .bind(&ids)
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
    fn given_order_is_kept_and_duplicates_dropped() {
        assert_eq!(in_given_order(&[3, 1, 2, 3], vec![2, 3]), vec![3, 2]);
    }
}
