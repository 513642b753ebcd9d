-- Schema version 4: alerts, silences and the delivery log (docs/alerts.md).
-- Never edit a released migration: add the next file.

-- One row per alert. `state`: 0 pending, 1 firing, 2 resolved. The indexed columns are
-- copies of fields of `data` (the whole alert as JSON, without its id).
CREATE TABLE alerts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    rule       TEXT NOT NULL,
    service    TEXT NOT NULL,
    state      INTEGER NOT NULL CHECK (state BETWEEN 0 AND 2),
    started_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    data       TEXT NOT NULL
);
-- One open alert per rule and service.
CREATE UNIQUE INDEX alerts_open ON alerts (rule, service) WHERE state < 2;
CREATE INDEX alerts_by_service ON alerts (service, id);
CREATE INDEX alerts_resolved ON alerts (updated_at) WHERE state = 2;

CREATE TABLE silences (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    data       TEXT NOT NULL                  -- matchers, created_by, comment (JSON)
);
CREATE INDEX silences_by_end ON silences (ends_at);

-- The delivery log: at most one row per (alert, transition, notifier).
-- `state`: 0 queued, 1 sent, 2 failed, 3 suppressed.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    alert       INTEGER NOT NULL,
    transition  TEXT NOT NULL,
    notifier    TEXT NOT NULL,
    run         INTEGER,
    state       INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),
    at          INTEGER NOT NULL,
    finished_at INTEGER,
    attempts    INTEGER NOT NULL DEFAULT 0,
    latency_ms  REAL,
    error       TEXT
);
CREATE UNIQUE INDEX deliveries_once ON deliveries (alert, transition, notifier);
