-- Schema version 6: business figures (docs/metrics.md), as SQLite's migration 7.
-- Never edit a released migration: add the next file.

CREATE TABLE figure_samples (
    service TEXT NOT NULL,
    figure  TEXT NOT NULL,
    at      BIGINT NOT NULL,
    value   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (service, figure, at)
);
CREATE INDEX figure_samples_by_time ON figure_samples (at);

CREATE TABLE figure_hours (
    service TEXT NOT NULL,
    figure  TEXT NOT NULL,
    hour    BIGINT NOT NULL,
    count   BIGINT NOT NULL,
    sum     DOUBLE PRECISION NOT NULL,
    min     DOUBLE PRECISION NOT NULL,
    max     DOUBLE PRECISION NOT NULL,
    last    DOUBLE PRECISION NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (service, figure, hour)
);
