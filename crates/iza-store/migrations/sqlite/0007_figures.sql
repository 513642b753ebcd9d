-- Schema version 7: business figures (docs/metrics.md).
-- Never edit a released migration: add the next file.

-- One row per scrape of one figure of one service.
CREATE TABLE figure_samples (
    service TEXT NOT NULL,
    figure  TEXT NOT NULL,
    at      INTEGER NOT NULL,
    value   REAL NOT NULL,
    PRIMARY KEY (service, figure, at)
) WITHOUT ROWID;
CREATE INDEX figure_samples_by_time ON figure_samples (at);

-- Hourly rollups, folded when samples are written; `hour` is the hour's start.
CREATE TABLE figure_hours (
    service TEXT NOT NULL,
    figure  TEXT NOT NULL,
    hour    INTEGER NOT NULL,
    count   INTEGER NOT NULL,
    sum     REAL NOT NULL,
    min     REAL NOT NULL,
    max     REAL NOT NULL,
    last    REAL NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (service, figure, hour)
) WITHOUT ROWID;
