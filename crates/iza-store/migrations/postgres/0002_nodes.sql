-- Schema version 2 of the PostgreSQL store: the nodes registry (docs/scale-out.md).
-- Each `iza` process on this database registers here and renews `heartbeat_at`; the others
-- read the table to know who is alive. Never edit a released migration: add the next file.
CREATE TABLE nodes (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    region       TEXT,
    version      TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
