-- Schema version 8 of the IZA OS SQLite store: "probed by" (docs/store.md, docs/scale-out.md).
-- Each result records the node that probed it (or took it, when pushed) and that node's region
-- (NULL for older results and a node without a region). Regional results are read back per (service,
-- region) for the checks probed from several regions, hence the partial index.
-- Never edit a released migration: add the next file.
ALTER TABLE results ADD COLUMN node TEXT;
ALTER TABLE results ADD COLUMN region TEXT;
CREATE INDEX results_by_service_region_time ON results (service_id, region, at)
    WHERE region IS NOT NULL;
