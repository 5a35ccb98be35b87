-- Retraining jobs. At most one active (pending or running) job per model and one job per
-- (model, idempotency key) are enforced here, by unique partial indexes, not in process memory.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY NOT NULL,
    model            TEXT NOT NULL REFERENCES models(name),
    backend          TEXT NOT NULL,
    state            TEXT NOT NULL
                     CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    raw_state        TEXT,
    reason           TEXT NOT NULL,
    drift_report_id  TEXT,
    idempotency_key  TEXT,
    requested_by     TEXT NOT NULL,
    params           TEXT NOT NULL DEFAULT '{}',
    external_id      TEXT,
    external_url     TEXT,
    progress         REAL,
    message          TEXT,
    produced_version TEXT,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    updated_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX jobs_one_active_per_model ON jobs(model) WHERE state IN ('pending', 'running');
CREATE UNIQUE INDEX jobs_idempotency ON jobs(model, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_model_created ON jobs(model, created_at);
