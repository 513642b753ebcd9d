-- Schema version 1 of the IZA OS SQLite store. See docs/store.md.
-- Applied once, in one transaction, by the migration runner (crates/iza-store/src/sqlite/migrate.rs),
-- which then sets `PRAGMA user_version = 1`. Never edit a released migration: add the next file.

-- Service ids, interned: results and rollups refer to them by a small integer.
CREATE TABLE services (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- Raw check results, kept for the results retention (2 days by default).
CREATE TABLE results (
    id         INTEGER PRIMARY KEY,
    service_id INTEGER NOT NULL REFERENCES services (id),
    at         INTEGER NOT NULL,              -- Unix ms, when the probe finished
    up         INTEGER NOT NULL CHECK (up IN (0, 1)),
    latency_ms REAL NOT NULL,
    bucket     INTEGER NOT NULL,              -- latency histogram bucket of latency_ms
    message    TEXT
);
CREATE INDEX results_by_service_time ON results (service_id, at);
CREATE INDEX results_by_time ON results (at);

-- Per-minute (width 60000) and per-hour (width 3600000) aggregates of the results.
CREATE TABLE rollups (
    service_id INTEGER NOT NULL REFERENCES services (id),
    width      INTEGER NOT NULL CHECK (width IN (60000, 3600000)),
    start      INTEGER NOT NULL,              -- Unix ms, a multiple of width
    count      INTEGER NOT NULL,
    failures   INTEGER NOT NULL,
    min_ms     REAL NOT NULL,
    max_ms     REAL NOT NULL,
    histogram  BLOB NOT NULL,                 -- sparse log-scale latency histogram
    PRIMARY KEY (service_id, width, start)
) WITHOUT ROWID;
CREATE INDEX rollups_by_time ON rollups (width, start);

-- How far each rollup width is folded: every result before `folded_until` is counted in the
-- rollups of that width, no result at or after it is.
CREATE TABLE fold_state (
    width        INTEGER PRIMARY KEY CHECK (width IN (60000, 3600000)),
    folded_until INTEGER NOT NULL
);
INSERT INTO fold_state (width, folded_until) VALUES (60000, 0), (3600000, 0);

-- Events, in the order they were stated; AUTOINCREMENT so that an id is never reused.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    service TEXT,
    payload TEXT NOT NULL                     -- JSON
);
CREATE INDEX events_by_service ON events (service, id);
