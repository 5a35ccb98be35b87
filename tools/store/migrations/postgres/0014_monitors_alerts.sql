-- Monitor runs: one row per model and slot (the start of one scheduled period, unix ms). The
-- primary key is the claim: a replica that inserts the row runs the slot, and another replica's
-- insert of the same slot does nothing. `outcome` is NULL while the run is going.
CREATE TABLE monitor_runs (
    model       TEXT NOT NULL REFERENCES models(name),
    slot_ms     BIGINT NOT NULL,
    replica     TEXT NOT NULL,
    claimed_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT,
    report_id   TEXT,
    detail      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (model, slot_ms)
);

-- Alerts: a drift verdict that asks for action, until a later check, a retraining job or a
-- promotion settles it. At most one unresolved alert per model, kept by the database.
CREATE TABLE alerts (
    id               TEXT PRIMARY KEY NOT NULL,
    model            TEXT NOT NULL REFERENCES models(name),
    state            TEXT NOT NULL,
    level            TEXT NOT NULL,
    opened_at        TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    resolved_at      TEXT,
    raised_by_report TEXT NOT NULL,
    latest_report    TEXT NOT NULL,
    opened_by        TEXT NOT NULL,
    note             TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX alerts_one_unresolved_per_model ON alerts(model) WHERE state <> 'resolved';
CREATE INDEX alerts_updated ON alerts(updated_at);

-- Both are shown by list_models: they move the overview's generation (migration 0011).
CREATE CONSTRAINT TRIGGER monitor_runs_generation AFTER INSERT OR UPDATE ON monitor_runs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_store_generation();
CREATE CONSTRAINT TRIGGER alerts_generation AFTER INSERT OR UPDATE ON alerts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_store_generation();
