-- `GET /api/v1/events?kind=`: the newest events of some kinds without a scan of the others.
CREATE INDEX events_by_kind ON events (kind, id);
