-- Schema version 3 of the PostgreSQL store: alerts, silences and the delivery log
-- (docs/alerts.md), the same tables as SQLite's version 4. Never edit a released migration:
-- add the next file.

-- One row per alert. `state`: 0 pending, 1 firing, 2 resolved. The indexed columns are
-- copies of fields of `data` (the whole alert as JSON text, without its id).
CREATE TABLE alerts (
    id         BIGSERIAL PRIMARY KEY,
    rule       TEXT NOT NULL,
    service    TEXT NOT NULL,
    state      BIGINT NOT NULL CHECK (state BETWEEN 0 AND 2),
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    data       TEXT NOT NULL
);
-- One open alert per rule and service.
CREATE UNIQUE INDEX alerts_open ON alerts (rule, service) WHERE state < 2;
CREATE INDEX alerts_by_service ON alerts (service, id);
CREATE INDEX alerts_resolved ON alerts (updated_at) WHERE state = 2;

CREATE TABLE silences (
    id         BIGSERIAL PRIMARY KEY,
    starts_at  BIGINT NOT NULL,
    ends_at    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    data       TEXT NOT NULL                  -- matchers, created_by, comment (JSON)
);
CREATE INDEX silences_by_end ON silences (ends_at);

-- The delivery log: at most one row per (alert, transition, notifier).
-- `state`: 0 queued, 1 sent, 2 failed, 3 suppressed.
CREATE TABLE deliveries (
    id          BIGSERIAL PRIMARY KEY,
    alert       BIGINT NOT NULL,
    transition  TEXT NOT NULL,
    notifier    TEXT NOT NULL,
    run         BIGINT,
    state       BIGINT NOT NULL CHECK (state BETWEEN 0 AND 3),
    at          BIGINT NOT NULL,
    finished_at BIGINT,
    attempts    BIGINT NOT NULL DEFAULT 0,
    latency_ms  DOUBLE PRECISION,
    error       TEXT
);
CREATE UNIQUE INDEX deliveries_once ON deliveries (alert, transition, notifier);
