-- Hourly rollups of workflow executions (docs/workflows.md, docs/store.md), as SQLite's
-- migration 12: one row per engine service, hour of start and workflow, kept up to date by
-- each sync round in its transaction; the migration's runner rolls up the executions already
-- recorded.
CREATE TABLE workflow_rollups (
    service     TEXT NOT NULL,
    hour        BIGINT NOT NULL,
    workflow_id TEXT NOT NULL,
    executions  BIGINT NOT NULL,
    successes   BIGINT NOT NULL,
    failures    BIGINT NOT NULL,
    runs        TEXT NOT NULL,
    min_ms      DOUBLE PRECISION NOT NULL,
    max_ms      DOUBLE PRECISION NOT NULL,
    histogram   BYTEA NOT NULL,
    PRIMARY KEY (service, hour, workflow_id)
);
CREATE INDEX workflow_rollups_by_hour ON workflow_rollups (hour);
