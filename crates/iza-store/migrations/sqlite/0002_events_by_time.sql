-- Retention deletes the events older than a moment: find them by time.
CREATE INDEX events_by_at ON events (at);
