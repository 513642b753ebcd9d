-- Schema version 5: the event outbox (docs/events.md). Never edit a released migration.

-- One row per event bound for one output, removed when the broker acknowledges it. `id` is
-- the order of writing, the order of publishing.
CREATE TABLE outbox (
    id       BIGSERIAL PRIMARY KEY,
    output   TEXT NOT NULL,
    event_id TEXT NOT NULL,
    key      TEXT NOT NULL,
    service  TEXT,
    at       BIGINT NOT NULL,
    retain   BOOLEAN NOT NULL DEFAULT FALSE,
    payload  TEXT NOT NULL
);
CREATE INDEX outbox_by_output ON outbox (output, id);
