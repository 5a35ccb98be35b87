-- The champion's metrics re-measured by the trainer on a candidate's own holdout, kept with the
-- candidate, so validation compares like with like.
ALTER TABLE model_versions ADD COLUMN baseline_version TEXT;
ALTER TABLE model_versions ADD COLUMN baseline_metrics TEXT;

-- Validations of a candidate against the champion (the whole validation as JSON in `body`).
CREATE TABLE validations (
    id                TEXT PRIMARY KEY NOT NULL,
    model             TEXT NOT NULL REFERENCES models(name),
    candidate_version TEXT NOT NULL,
    champion_version  TEXT,
    job_id            TEXT,
    verdict           TEXT NOT NULL CHECK (verdict IN ('passed', 'failed')),
    report_digest     TEXT NOT NULL,
    body              TEXT NOT NULL,
    created_at        TEXT NOT NULL
);
CREATE INDEX validations_candidate ON validations(model, candidate_version, created_at);
CREATE INDEX validations_job ON validations(job_id);

-- Promotion requests. At most one undecided (or promoting) request per model, enforced here.
-- `expires_us` is the expiry in microseconds since the epoch, so SQL can compare it.
CREATE TABLE promotions (
    id                  TEXT PRIMARY KEY NOT NULL,
    model               TEXT NOT NULL REFERENCES models(name),
    candidate_version   TEXT NOT NULL,
    validation_id       TEXT NOT NULL REFERENCES validations(id),
    justification       TEXT NOT NULL,
    requested_by        TEXT NOT NULL,
    requested_at        TEXT NOT NULL,
    expires_us          INTEGER NOT NULL,
    candidate_digest    TEXT NOT NULL,
    validation_digest   TEXT NOT NULL,
    champion_at_request TEXT,
    state               TEXT NOT NULL CHECK (state IN
                        ('pending_approval', 'denied', 'expired', 'promoting', 'promoted', 'failed')),
    decided_by          TEXT,
    decided_at          TEXT,
    decision_note       TEXT,
    failure_reason      TEXT,
    finished_at         TEXT,
    trace_id            TEXT
);
CREATE UNIQUE INDEX promotions_one_open_per_model ON promotions(model)
    WHERE state IN ('pending_approval', 'promoting');
CREATE INDEX promotions_state ON promotions(state, requested_at);
