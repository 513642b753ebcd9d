-- Schema version 1 of the IZA OS PostgreSQL store: the same tables as SQLite's versions 1 to 3
-- (results, rollups, fold marks, events, the run queue, schedule marks, run rollups, incidents).
-- See docs/store.md. Applied once, in one transaction, by crates/iza-store/src/postgres/migrate.rs,
-- which records it in `iza_schema`. Never edit a released migration: add the next file.
-- Integers are BIGINT (Rust i64), times Unix milliseconds.

CREATE TABLE services (
    id   BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE results (
    id         BIGSERIAL PRIMARY KEY,
    service_id BIGINT NOT NULL REFERENCES services (id),
    at         BIGINT NOT NULL,
    up         BOOLEAN NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    bucket     BIGINT NOT NULL,
    message    TEXT
);
CREATE INDEX results_by_service_time ON results (service_id, at);
CREATE INDEX results_by_time ON results (at);

CREATE TABLE rollups (
    service_id BIGINT NOT NULL REFERENCES services (id),
    width      BIGINT NOT NULL CHECK (width IN (60000, 3600000)),
    start      BIGINT NOT NULL,
    count      BIGINT NOT NULL,
    failures   BIGINT NOT NULL,
    min_ms     DOUBLE PRECISION NOT NULL,
    max_ms     DOUBLE PRECISION NOT NULL,
    histogram  BYTEA NOT NULL,
    PRIMARY KEY (service_id, width, start)
);
CREATE INDEX rollups_by_time ON rollups (width, start);

-- Also the lock between folding and appending: a fold holds these rows FOR UPDATE, an append
-- FOR SHARE, so an append never slips a result behind a mark that moves under it.
CREATE TABLE fold_state (
    width        BIGINT PRIMARY KEY CHECK (width IN (60000, 3600000)),
    folded_until BIGINT NOT NULL
);
INSERT INTO fold_state (width, folded_until) VALUES (60000, 0), (3600000, 0);

-- BIGSERIAL never hands out an id twice; appends take an advisory lock so that ids also
-- commit in order (a reader catching up `after` an id misses nothing).
CREATE TABLE events (
    id      BIGSERIAL PRIMARY KEY,
    at      BIGINT NOT NULL,
    kind    TEXT NOT NULL,
    service TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX events_by_service ON events (service, id);
CREATE INDEX events_by_at ON events (at);

-- The run queue. `state`: 0 queued, 1 running, 2 succeeded, 3 failed, 4 cancelled;
-- `priority`: 0 high, 1 medium, 2 low.
CREATE TABLE runs (
    id           BIGSERIAL PRIMARY KEY,
    task         TEXT NOT NULL,
    agent        TEXT,
    priority     BIGINT NOT NULL CHECK (priority IN (0, 1, 2)),
    state        BIGINT NOT NULL CHECK (state BETWEEN 0 AND 4),
    attempt      BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    concurrency  BIGINT NOT NULL,
    external     BOOLEAN NOT NULL,
    dedupe       TEXT,
    trigger      TEXT NOT NULL,
    enqueued_at  BIGINT NOT NULL,
    run_at       BIGINT NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT,
    worker       TEXT,
    lease_until  BIGINT,
    output       TEXT,
    error        TEXT
);
CREATE UNIQUE INDEX runs_by_dedupe ON runs (task, dedupe) WHERE dedupe IS NOT NULL;
CREATE INDEX runs_ready ON runs (external, priority, id) WHERE state = 0;
CREATE INDEX runs_queued_by_time ON runs (external, run_at) WHERE state = 0;
CREATE INDEX runs_running_by_task ON runs (task) WHERE state = 1;
CREATE INDEX runs_by_task ON runs (task, id);
CREATE INDEX runs_by_agent ON runs (agent, id);
CREATE INDEX runs_finished ON runs (finished_at) WHERE state >= 2;

CREATE TABLE schedule_marks (
    task TEXT PRIMARY KEY,
    tick BIGINT NOT NULL
);

CREATE TABLE run_rollups (
    task      TEXT NOT NULL,
    start     BIGINT NOT NULL,
    count     BIGINT NOT NULL,
    failures  BIGINT NOT NULL,
    min_ms    DOUBLE PRECISION NOT NULL,
    max_ms    DOUBLE PRECISION NOT NULL,
    histogram BYTEA NOT NULL,
    PRIMARY KEY (task, start)
);
CREATE INDEX run_rollups_by_time ON run_rollups (start);

CREATE TABLE run_retention (
    id                   BIGINT PRIMARY KEY CHECK (id = 1),
    outputs_pruned_until BIGINT NOT NULL
);
INSERT INTO run_retention (id, outputs_pruned_until) VALUES (1, 0);

CREATE TABLE incidents (
    id          BIGSERIAL PRIMARY KEY,
    task        TEXT NOT NULL,
    agent       TEXT,
    run         BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    state       BIGINT NOT NULL CHECK (state IN (0, 1)),
    opened_at   BIGINT NOT NULL,
    failures    BIGINT NOT NULL,
    resolved_at BIGINT,
    resolution  TEXT,
    chain       TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX incidents_open_by_task ON incidents (task) WHERE state = 0;
CREATE INDEX incidents_by_task ON incidents (task, id);
CREATE INDEX incidents_resolved ON incidents (resolved_at) WHERE state = 1;
