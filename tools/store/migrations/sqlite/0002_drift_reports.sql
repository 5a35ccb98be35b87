-- Drift reports produced by check_drift (the full report as JSON, key facts as columns).
CREATE TABLE drift_reports (
    id                 TEXT PRIMARY KEY NOT NULL,
    model              TEXT NOT NULL REFERENCES models(name),
    created_at         TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    dataset_drift      INTEGER NOT NULL,
    drifted_share      REAL NOT NULL,
    recommended_action TEXT NOT NULL,
    report             TEXT NOT NULL
);
CREATE INDEX drift_reports_model ON drift_reports(model, created_at);
