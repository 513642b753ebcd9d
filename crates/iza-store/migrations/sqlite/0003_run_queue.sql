-- Schema version 3: the durable run queue, schedule marks, run rollups and incidents.
-- See docs/store.md, "The run queue". Never edit a released migration: add the next file.

-- Every run of a task. `state`: 0 queued, 1 running, 2 succeeded, 3 failed, 4 cancelled;
-- `priority`: 0 high, 1 medium, 2 low. AUTOINCREMENT so that an id is never reused.
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    task         TEXT NOT NULL,
    agent        TEXT,
    priority     INTEGER NOT NULL CHECK (priority IN (0, 1, 2)),
    state        INTEGER NOT NULL CHECK (state BETWEEN 0 AND 4),
    attempt      INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    concurrency  INTEGER NOT NULL,
    external     INTEGER NOT NULL CHECK (external IN (0, 1)),
    dedupe       TEXT,
    trigger      TEXT NOT NULL,               -- JSON
    enqueued_at  INTEGER NOT NULL,
    run_at       INTEGER NOT NULL,            -- not claimable before
    started_at   INTEGER,
    finished_at  INTEGER,
    worker       TEXT,
    lease_until  INTEGER,
    output       TEXT,
    error        TEXT
);
-- Exactly-once enqueue: one run per (task, dedupe) over every run kept.
CREATE UNIQUE INDEX runs_by_dedupe ON runs (task, dedupe) WHERE dedupe IS NOT NULL;
-- The claim: queued runs that are due, with what their order needs (a covering index).
CREATE INDEX runs_queued ON runs (external, run_at, priority, enqueued_at, task, concurrency)
    WHERE state = 0;
-- Concurrency per task and lease expiry: the running runs.
CREATE INDEX runs_running_by_task ON runs (task) WHERE state = 1;
CREATE INDEX runs_running_by_lease ON runs (lease_until) WHERE state = 1;
-- History of a task or an agent, newest first.
CREATE INDEX runs_by_task ON runs (task, id);
CREATE INDEX runs_by_agent ON runs (agent, id);
-- Statistics and retention: finished runs by when they finished.
CREATE INDEX runs_finished ON runs (finished_at) WHERE state >= 2;

-- The latest schedule tick enqueued per task: a tick at or before it is never enqueued again,
-- even once its run is deleted by retention.
CREATE TABLE schedule_marks (
    task TEXT PRIMARY KEY,
    tick INTEGER NOT NULL
) WITHOUT ROWID;

-- Finished runs deleted by retention, counted per task and hour of their end.
-- `count` runs that ended succeeded or failed, `failures` of them failed; durations in ms.
CREATE TABLE run_rollups (
    task      TEXT NOT NULL,
    start     INTEGER NOT NULL,               -- Unix ms, a multiple of 3600000
    count     INTEGER NOT NULL,
    failures  INTEGER NOT NULL,
    min_ms    REAL NOT NULL,
    max_ms    REAL NOT NULL,
    histogram BLOB NOT NULL,                  -- duration histogram, as the latency rollups
    PRIMARY KEY (task, start)
) WITHOUT ROWID;
CREATE INDEX run_rollups_by_time ON run_rollups (start);

-- How far retention has pruned the outputs of finished runs: every run finished before
-- `outputs_pruned_until` has no output or error left (so each pass looks only at newer ones).
CREATE TABLE run_retention (
    id                   INTEGER PRIMARY KEY CHECK (id = 1),
    outputs_pruned_until INTEGER NOT NULL
);
INSERT INTO run_retention (id, outputs_pruned_until) VALUES (1, 0);

-- Incidents: `state` 0 open, 1 resolved; `chain` is the JSON array of escalation steps.
CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task        TEXT NOT NULL,
    agent       TEXT,
    run         INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    state       INTEGER NOT NULL CHECK (state IN (0, 1)),
    opened_at   INTEGER NOT NULL,
    failures    INTEGER NOT NULL,
    resolved_at INTEGER,
    resolution  TEXT,
    chain       TEXT NOT NULL DEFAULT '[]'
);
-- One open incident per task.
CREATE UNIQUE INDEX incidents_open_by_task ON incidents (task) WHERE state = 0;
CREATE INDEX incidents_by_task ON incidents (task, id);
CREATE INDEX incidents_resolved ON incidents (resolved_at) WHERE state = 1;
