-- Servers sharing the store (replicas): each records a heartbeat; a running job belongs to the
-- replica that started or took it over (`jobs.owner`), and another replica takes it over when
-- its owner stops beating (or, on the same host, its process is gone).
CREATE TABLE replicas (
    id           TEXT PRIMARY KEY NOT NULL,
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_us BIGINT NOT NULL
);
ALTER TABLE jobs ADD COLUMN owner TEXT;
