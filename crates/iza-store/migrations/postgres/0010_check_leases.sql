-- Schema version 10 of the PostgreSQL store: check leases (docs/scale-out.md).
-- Each check (its key: the service id, or `service@region` for a check probed from several
-- regions) is owned by at most one node at a time: the node named here, until `lease_until`.
-- An owner renews its leases; an expired lease may be taken by any node. Never edit a released
-- migration: add the next file.
CREATE TABLE check_leases (
    key         TEXT PRIMARY KEY,
    node        TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL
);
CREATE INDEX check_leases_by_node ON check_leases (node);
