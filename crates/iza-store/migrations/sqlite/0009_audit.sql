-- Schema version 9: the audit log of MCP tool calls and mutating API calls (docs/mcp.md).
-- Never edit a released migration: add the next file.

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    surface     TEXT NOT NULL,
    client      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    tool        TEXT NOT NULL,
    upstream    TEXT,
    arguments   TEXT NOT NULL,
    arguments_sha256 TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    message     TEXT
);
CREATE INDEX audit_by_time ON audit (at);
CREATE INDEX audit_by_tool ON audit (tool, id);
CREATE INDEX audit_by_client ON audit (client, id);
