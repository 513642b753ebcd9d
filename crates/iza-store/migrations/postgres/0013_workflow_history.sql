-- One workflow's recent executions (GET /api/v1/workflows/{service}/{workflow}) without
-- scanning the whole engine's window (docs/workflows.md).
CREATE INDEX workflow_executions_by_workflow
    ON workflow_executions (service, workflow_id, started_at);
