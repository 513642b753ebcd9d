-- Schema version 6: the event outbox (docs/events.md). Never edit a released migration.

-- One row per event bound for one output, removed when the broker acknowledges it. `id` is
-- the order of writing, the order of publishing.
CREATE TABLE outbox (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    output   TEXT NOT NULL,
    event_id TEXT NOT NULL,
    key      TEXT NOT NULL,
    service  TEXT,
    at       INTEGER NOT NULL,
    retain   INTEGER NOT NULL DEFAULT 0,
    payload  TEXT NOT NULL
);
CREATE INDEX outbox_by_output ON outbox (output, id);
