-- Schema version 12: hourly rollups of workflow executions (docs/workflows.md, docs/store.md).
-- One row per engine service, hour of start and workflow: the executions by status (`runs`,
-- JSON), their sums, and the finished ones' durations (extremes in ms, the latency histogram of
-- the check rollups in units of 100 ms). Each sync round keeps them up to date in its own
-- transaction; the migration's runner rolls up the executions already recorded.
-- Never edit a released migration: add the next file.
CREATE TABLE workflow_rollups (
    service     TEXT NOT NULL,
    hour        INTEGER NOT NULL,             -- Unix ms, a multiple of 3600000
    workflow_id TEXT NOT NULL,
    executions  INTEGER NOT NULL,
    successes   INTEGER NOT NULL,
    failures    INTEGER NOT NULL,             -- error and crashed
    runs        TEXT NOT NULL,                -- {"status": count}
    min_ms      REAL NOT NULL,
    max_ms      REAL NOT NULL,
    histogram   BLOB NOT NULL,
    PRIMARY KEY (service, hour, workflow_id)
) WITHOUT ROWID;
-- Retention deletes the oldest hours first, across services.
CREATE INDEX workflow_rollups_by_hour ON workflow_rollups (hour);
