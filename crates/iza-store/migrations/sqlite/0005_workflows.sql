-- Workflow engines followed by IZA (docs/workflows.md): per engine service, its workflows
-- with their last success and failure, one summary row per execution, and the sync cursor.
CREATE TABLE workflows (
    service TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    last_success_at INTEGER,
    last_run_at INTEGER,
    failure TEXT,
    failure_at INTEGER,
    PRIMARY KEY (service, id)
) WITHOUT ROWID;

CREATE TABLE workflow_executions (
    service TEXT NOT NULL,
    id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    status TEXT NOT NULL,
    mode TEXT,
    started_at INTEGER NOT NULL,
    stopped_at INTEGER,
    retry_of TEXT,
    PRIMARY KEY (service, id)
) WITHOUT ROWID;

CREATE INDEX workflow_executions_by_start ON workflow_executions (service, started_at);
CREATE INDEX workflow_executions_running ON workflow_executions (service, status)
    WHERE status IN ('running', 'waiting', 'new');

CREATE TABLE workflow_cursors (
    service TEXT PRIMARY KEY,
    cursor TEXT NOT NULL
) WITHOUT ROWID;
